"""The checks across fields and sections of valid settings: what each section's model cannot
see alone (where the repository lives against where Argo CD runs, prod's admission, one owner
per namespace). Pure."""

from __future__ import annotations

from infra import constants
from infra.catalog.kube_names import MAX_LABEL_LENGTH
from infra.errors import Problem
from infra.settings.fleet import kwok_spoke_name
from infra.settings.stack import StackSettings

__all__ = ["stack_problems"]


def stack_problems(settings: StackSettings, file: str) -> list[Problem]:
    """Every cross-field problem of ``settings``, each naming ``file`` and the key."""
    return (
        _namespace_problems(settings, file)
        + _git_problems(settings, file)
        + _admission_problems(settings, file)
        + _fleet_problems(settings, file)
    )


def _git_problems(settings: StackSettings, file: str) -> list[Problem]:
    """Where the repository lives must fit where Argo CD runs."""
    key = f"{constants.PROJECT}:git"
    git = settings.git
    local = "a kwok cluster with `controllers: local` (Argo CD runs on this machine)"
    if git.mirror and git.repoURL is not None:
        return [Problem(file, f"{key}.repoURL", "must be unset with `mirror: true` (derived)")]
    if git.mirror and not settings.local_controllers:
        return [Problem(file, f"{key}.mirror", f"needs {local}")]
    if not git.mirror and git.repoURL is None:
        return [Problem(file, f"{key}.repoURL", "required key is missing")]
    is_file = git.repoURL is not None and git.repoURL.startswith("file://")
    if is_file and not settings.local_controllers:
        return [Problem(file, f"{key}.repoURL", f"a file:// URL needs {local}")]
    is_loopback = git.repoURL is not None and git.repoURL.startswith("http://")
    if is_loopback and not settings.local_controllers:
        return [Problem(file, f"{key}.repoURL", f"a plain http://127.0.0.1 URL needs {local}")]
    return []


def _admission_problems(settings: StackSettings, file: str) -> list[Problem]:
    """prod requires admission; enabled admission needs registries and a signer."""
    key = f"{constants.PROJECT}:admission"
    admission = settings.admission
    if not admission.enabled:
        if settings.environment == constants.PROD_ENVIRONMENT:
            return [
                Problem(
                    file,
                    f"{key}.enabled",
                    "must be true for a stack deploying prod: only signed images from trusted "
                    "registries reach prod (docs/admission.md)",
                )
            ]
        return []
    problems = []
    if admission.namespace in constants.SHARED_NAMESPACES:
        problems.append(
            Problem(
                file,
                f"{key}.namespace",
                f"{admission.namespace!r} is shared: Kyverno needs a namespace of its own "
                "(its webhooks skip it, and the stack creates it)",
            )
        )
    if not admission.trustedRegistries:
        problems.append(
            Problem(file, f"{key}.trustedRegistries", "required with `enabled: true`: at least one")
        )
    if admission.signer is None:
        problems.append(
            Problem(file, f"{key}.signer", "required with `enabled: true`: publicKey or keyless")
        )
    return problems


def _namespace_problems(settings: StackSettings, file: str) -> list[Problem]:
    """Each namespace the stack creates has exactly one owner: Argo CD's and an enabled
    add-on's must differ (the first `destroy` of one would delete the other's objects)."""
    owners: dict[str, str] = {}
    if settings.argocd.namespace not in constants.SHARED_NAMESPACES:
        owners[settings.argocd.namespace] = "argocd.namespace"
    problems = []
    addons = (
        ("rollouts", settings.rollouts),
        ("sealedSecrets", settings.sealedSecrets),
        ("admission", settings.admission),
    )
    for key, addon in addons:
        namespace = addon.namespace
        if not addon.enabled or namespace in constants.SHARED_NAMESPACES:
            continue
        if namespace in owners:
            problems.append(
                Problem(
                    file,
                    f"{constants.PROJECT}:{key}.namespace",
                    f"{namespace!r} is already the namespace of {owners[namespace]}; "
                    "give each its own",
                )
            )
        else:
            owners[namespace] = f"{key}.namespace"
    return problems


def _fleet_problems(settings: StackSettings, file: str) -> list[Problem]:
    """No spokes where admission control is required (yet); kwok spokes run beside the
    stack's own kwok cluster and its local controllers, as clusters named
    ``<cluster.name>-<spoke>``."""
    key = f"{constants.PROJECT}:fleet.clusters"
    problems = []
    if settings.fleet.enabled and settings.admission.enabled:
        # Kyverno and its policies run on the hub; apps on a spoke would escape them.
        problems.append(
            Problem(
                file,
                key,
                "spokes with admission.enabled are not supported yet: the admission policies "
                "run on the hub only, and the apps on the spokes would escape them (so no prod "
                "fleet yet; docs/fleet.md)",
            )
        )
    for index, spoke in enumerate(settings.fleet.clusters):
        if spoke.kwok is None:
            continue
        if not settings.local_controllers:
            problems.append(
                Problem(
                    file,
                    f"{key}[{index}].kwok",
                    "a kwok spoke needs cluster.provider: kwok with controllers: local (the "
                    "hub's controllers run on this machine and reach the spoke on loopback)",
                )
            )
            continue
        kwok_name = kwok_spoke_name(settings.cluster_name, spoke.name)
        if len(kwok_name) > MAX_LABEL_LENGTH:
            problems.append(
                Problem(
                    file,
                    f"{key}[{index}].name",
                    f"the spoke's kwok cluster {kwok_name} would be "
                    f"longer than {MAX_LABEL_LENGTH} characters: shorten cluster.name or the "
                    "spoke's name",
                )
            )
    return problems
