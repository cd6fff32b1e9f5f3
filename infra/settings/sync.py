"""The ``sync`` section: how Argo CD syncs every generated Application (automation, pruning,
retries) and when it may (sync windows). Pure."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from infra.catalog.schedule import (
    cron_problem,
    go_duration_nanoseconds,
    go_duration_problem,
    time_zone_problem,
)
from infra.catalog.strict import checked
from infra.settings.base import SettingsModel

__all__ = ["SyncRetry", "SyncSettings", "SyncWindow"]

CronSchedule = Annotated[str, StringConstraints(max_length=100), checked(cron_problem)]
"""Five cron fields: minute hour day-of-month month day-of-week (``0 22 * * 1-5``), or a
descriptor (``@daily``); parsed as Argo CD's robfig/cron standard parser does."""
GoDuration = Annotated[str, StringConstraints(max_length=40), checked(go_duration_problem)]
"""A positive Go duration (``time.ParseDuration``): ``1h``, ``30m``, ``1h30m``."""
TimeZone = Annotated[str, StringConstraints(max_length=64), checked(time_zone_problem)]
"""A time zone of the IANA database (``UTC``, ``Europe/Berlin``); not ``Local``."""


class SyncWindow(SettingsModel):
    """An Argo CD sync window, applied to every Application of every AppProject of the stack."""

    kind: Literal["allow", "deny"]
    """``allow``: syncs only inside the window; ``deny``: no sync inside the window."""
    schedule: CronSchedule
    """When the window opens (cron, five fields)."""
    duration: GoDuration
    """How long it stays open: ``1h``, ``30m``, ``1h30m``."""
    manualSync: bool = False
    """Whether a human may still sync while the window blocks automated syncs."""
    timeZone: TimeZone = "UTC"
    """IANA time zone of the schedule."""


class SyncRetry(SettingsModel):
    """How Argo CD retries a failed sync (each Application's ``syncPolicy.retry``). Once the
    retries are spent the sync has failed (``on-sync-failed`` notifies) and an automated sync
    waits for the next commit."""

    limit: Annotated[int, Field(ge=0, le=20)] = 5
    """Retries after the first attempt (0: none). Never unlimited: a sync that cannot succeed
    would then never be reported as failed."""
    duration: GoDuration = "5s"
    """The wait before the first retry."""
    factor: Annotated[int, Field(ge=1, le=10)] = 2
    """Each wait is the one before times this."""
    maxDuration: Annotated[GoDuration, Field(validate_default=True)] = "3m"
    """The longest wait."""

    @field_validator("maxDuration")
    @classmethod
    def _not_shorter_than_the_first_wait(cls, value: str, info: ValidationInfo) -> str:
        first = info.data.get("duration")
        first_ns = go_duration_nanoseconds(first) if isinstance(first, str) else None
        longest_ns = go_duration_nanoseconds(value)
        if first_ns is not None and longest_ns is not None and longest_ns < first_ns:
            raise ValueError(
                f"{value} is shorter than the first wait (duration {first}): Argo CD would cut "
                "every wait to it; raise maxDuration or shorten duration"
            )
        return value

    def spec(self) -> dict[str, Any]:
        """Argo CD's ``RetryStrategy``."""
        return {
            "limit": self.limit,
            "backoff": {
                "duration": self.duration,
                "factor": self.factor,
                "maxDuration": self.maxDuration,
            },
        }


class SyncSettings(SettingsModel, BaseModel):
    automated: bool = False
    """Argo CD syncs on every change (continuous deployment) instead of on a human's click."""
    prune: bool = False
    """Automated sync deletes resources removed from git."""
    selfHeal: bool = False
    """Automated sync reverts changes made in the cluster (drift)."""
    applicationsSync: Literal["sync", "create-update", "create-only", "create-delete"] = (
        "create-update"
    )
    """What the ApplicationSet controller may do to generated Applications; the default never
    deletes an Application when an app disappears from the generator."""
    windows: Annotated[list[SyncWindow], Field(max_length=20)] = []
    """Maintenance windows (AppProject ``syncWindows``) of every team's AppProject."""
    retry: SyncRetry = SyncRetry()
    """How a failed sync is retried."""
