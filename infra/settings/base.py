"""What the models of every settings section share: the strict base and the field types more
than one section uses (pure)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, StringConstraints

from infra.catalog.strict import StrictModel, checked
from infra.catalog.urls import url_credential_problem

__all__ = ["HttpsURL", "SettingsModel"]


class SettingsModel(StrictModel, BaseModel):
    """The base of every settings model. ``BaseModel`` is named again here, and by a model of
    another module with a list default, only so linters see a pydantic model (whose defaults
    are copied per instance, not shared)."""


HttpsURL = Annotated[
    str,
    StringConstraints(pattern=r"^https://\S+$", max_length=512),
    checked(url_credential_problem),
]
"""An ``https://`` URL without credentials in it (a chart repository, an OIDC issuer)."""
