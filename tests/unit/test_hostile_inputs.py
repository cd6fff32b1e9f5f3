"""Hostile inputs (issue 9): every bad app definition or stack setting is one clear problem
naming the file and the field, nothing is half-applied, no credential is echoed, and nothing
blocks or follows a link. One section per class of input."""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from infra import constants
from infra.catalog import App, AppDefinition, Catalog, load_catalog
from infra.catalog.kube_names import DNS1123_LABEL
from infra.catalog.refname import branch_name_problem
from infra.catalog.schedule import cron_problem, go_duration_problem, time_zone_problem
from infra.errors import ValidationError, problems_from_pydantic
from infra.settings import StackSettings, load_stack_file, parse_settings
from infra.specs import argocd_objects
from infra.specs.catalog_objects import MAX_OBJECT_BYTES
from tests.support import REPO
from tests.unit.factories import settings_problems

INFRA = REPO / "infra"

APP: dict[str, Any] = {
    "team": "web",
    "namespace": "shop",
    "image": {"repository": "ghcr.io/example-org/shop"},
    "source": {"type": "kustomize"},
    "environments": {"dev": {"enabled": True}},
}
HELM = {
    **APP,
    "source": {
        "type": "helm",
        "repoURL": "https://charts.example.com/stable",
        "chart": "shop",
        "version": "1.2.3",
    },
}
CANARY = {
    **APP,
    "strategy": {
        "type": "canary",
        "steps": [{"setWeight": 20}, {"pause": {"duration": "30s"}}, {"analysis": {}}],
        "checks": {
            "port": 8080,
            "http": [{"path": "/healthz"}],
            "smokeJob": {"image": "ghcr.io/example-org/smoke:1.0", "args": ["--all"]},
        },
    },
}
STACK: dict[str, Any] = {
    "cluster": {"provider": "kwok"},
    "git": {"repoURL": "https://git.example.com/platform.git"},
}


def with_value(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``value`` at the dotted ``path`` (``a.b[0].c``)."""
    data = copy.deepcopy(base)
    parts = [int(p) if p.isdigit() else p for p in re.split(r"\.|\[|\]\.?", path) if p]
    node: Any = data
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return data


def get_value(base: dict[str, Any], path: str) -> Any:
    node: Any = base
    for p in re.split(r"\.|\[|\]\.?", path):
        if p:
            node = node[int(p)] if p.isdigit() else node[p]
    return node


def app_problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PydanticValidationError) as info:
        AppDefinition.model_validate(data)
    unions = {"source": ("kustomize", "directory", "helm")}
    return [str(p) for p in problems_from_pydantic("apps/shop/app.yaml", info.value, unions=unions)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")
    (tmp_path / "apps").mkdir()
    return tmp_path


def add_app(repo: Path, name: str = "shop", text: str | None = None) -> Path:
    folder = repo / "apps" / name
    (folder / "overlays" / "dev").mkdir(parents=True)
    (folder / "overlays" / "dev" / "kustomization.yaml").write_text("resources: []\n")
    (folder / "app.yaml").write_text(
        text
        or "team: web\nnamespace: shop\nimage: {repository: ghcr.io/example-org/shop}\n"
        "source: {type: kustomize}\nenvironments: {dev: {enabled: true}}\n"
    )
    return folder


def catalog_problems(repo: Path, apps_dir: Path | None = None) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_catalog(repo, apps_dir)
    return [str(p) for p in info.value.problems]


@pytest.fixture
def fast() -> Iterator[None]:
    """Fail (instead of hanging the suite) when something opens a FIFO."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("blocked: a FIFO was opened")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(5)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- 1. names and keys match whole ----------------------------------------------------------

APP_NAME_FIELDS = [
    (APP, "team", "web"),
    (APP, "namespace", "shop"),
    (APP, "image.repository", "ghcr.io/example-org/shop"),
    (HELM, "source.chart", "shop"),
    (HELM, "source.version", "1.2.3"),
    (HELM, "source.replicasKey", "replicaCount"),
    (HELM, "source.imageTagKey", "image.tag"),
    (HELM, "source.repoURL", "https://charts.example.com/stable"),
    (APP, "source.path", "."),
    (CANARY, "strategy.checks.http[0].path", "/healthz"),
    (CANARY, "strategy.checks.smokeJob.image", "ghcr.io/example-org/smoke:1.0"),
    (CANARY, "strategy.steps[1].pause.duration", "30s"),
]


@pytest.mark.parametrize("junk", ["{}\n", "{}\r\n", "{} ", " {}", "\n{}", "{}\t", "{}\x00"])
@pytest.mark.parametrize(("base", "field", "good"), APP_NAME_FIELDS)
def test_app_names_with_junk_around_are_refused(
    base: dict[str, Any], field: str, good: str, junk: str
) -> None:
    AppDefinition.model_validate(base)  # the good value loads
    found = app_problems(with_value(base, field, junk.format(good)))
    assert any(f"app.yaml: {field}:" in p for p in found), found


STACK_NAME_FIELDS = [
    ({"git": {"repoURL": "https://git.example.com/p.git", "branch": "dev"}}, "git.branch"),
    ({"git": {"repoURL": "https://git.example.com/p.git"}}, "git.repoURL"),
    ({"cluster": {"provider": "kwok", "name": "c1"}}, "cluster.name"),
    (
        {"cluster": {"provider": "kwok", "kubernetesVersion": "v1.34.3"}},
        "cluster.kubernetesVersion",
    ),
    ({"cluster": {"provider": "kind", "nodeImage": "kindest/node:v1.34.3"}}, "cluster.nodeImage"),
    ({"cluster": {"provider": "existing", "context": "prod-ctx"}}, "cluster.context"),
    ({"argocd": {"namespace": "argocd"}}, "argocd.namespace"),
    ({"argocd": {"chart": {"version": "10.1.1"}}}, "argocd.chart.version"),
    ({"catalog": {"appsDir": "apps"}}, "catalog.appsDir"),
    (
        {"sync": {"windows": [{"kind": "allow", "schedule": "0 22 * * *", "duration": "1h"}]}},
        "sync.windows[0].schedule",
    ),
    (
        {"sync": {"windows": [{"kind": "allow", "schedule": "@daily", "duration": "1h"}]}},
        "sync.windows[0].duration",
    ),
    (
        {
            "sync": {
                "windows": [
                    {"kind": "allow", "schedule": "@daily", "duration": "1h", "timeZone": "UTC"}
                ]
            }
        },
        "sync.windows[0].timeZone",
    ),
]


@pytest.mark.parametrize("junk", ["{}\n", "{} ", "\n{}", "{}\x7f"])
@pytest.mark.parametrize(("override", "field"), STACK_NAME_FIELDS)
def test_stack_names_with_junk_around_are_refused(
    override: dict[str, Any], field: str, junk: str
) -> None:
    values = {**STACK, **override}
    parse_settings("dev", values, "Pulumi.dev.yaml")  # the good value loads
    bad = with_value(values, field, junk.format(get_value(values, field)))
    found = settings_problems(bad)
    assert any(f"gitops-platform:{field}:" in p for p in found), found


def test_folder_name_with_a_trailing_newline_is_refused(repo: Path) -> None:
    add_app(repo, "shop\n")
    assert any("(folder name)" in p for p in catalog_problems(repo))
    assert DNS1123_LABEL.match("web\n") is None


def _patterns(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[tuple[str, str]]:
    if model in seen:
        return
    seen.add(model)
    assert model.model_config.get("regex_engine", "rust-regex") == "rust-regex", model
    for name, info in model.model_fields.items():
        for meta in info.metadata:
            pattern = getattr(meta, "pattern", None)
            if pattern:
                yield f"{model.__name__}.{name}", pattern
        for sub in _submodels(info.annotation):
            yield from _patterns(sub, seen)


def _submodels(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()):
        yield from _submodels(arg)
        for meta in getattr(arg, "__metadata__", ()):
            pattern = getattr(meta, "pattern", None)
            assert pattern is None or (pattern.startswith("^") and pattern.endswith("$")), pattern


@pytest.mark.parametrize("model", [AppDefinition, StackSettings])
def test_every_pattern_is_anchored_for_the_rust_engine(model: type[BaseModel]) -> None:
    # pydantic's Rust engine searches: an unanchored pattern accepts junk around the value;
    # with the Python engine `$` would accept a trailing newline.
    found = dict(_patterns(model, set()))
    assert found
    for where, pattern in found.items():
        assert pattern.startswith("^") and pattern.endswith("$"), where


def test_python_side_patterns_use_fullmatch() -> None:
    offenders = []
    for path in [
        *sorted((INFRA / "catalog").glob("*.py")),
        *sorted((INFRA / "settings").glob("*.py")),
        *sorted((INFRA / "specs").glob("*.py")),
    ]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"\.match\(", line) and "_DURATION_PART.match" not in line:
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


# -- 2. git branch names, as git checks them ------------------------------------------------

BRANCHES = [
    ("dev", True),
    ("prod", True),
    ("feature/x-1", True),
    ("a/HEAD", True),
    ("ä", True),
    ("a@b", True),
    ("v1.2", True),
    ("a..b", False),
    ("a@{b", False),
    ("a b", False),
    ("a~1", False),
    ("a^", False),
    ("a:b", False),
    ("a?", False),
    ("a*", False),
    ("a[b", False),
    ("a\\b", False),
    ("-x", False),
    ("x.", False),
    ("x/", False),
    ("/x", False),
    ("x.lock", False),
    ("x.lock/y", False),
    ("a//b", False),
    (".a", False),
    ("a/.b", False),
    ("@", False),
    ("HEAD", False),
    ("", False),
    ("a\tb", False),
    ("a\x7fb", False),
    ("dev\n", False),
]


def git_accepts(name: str) -> bool:
    if "\x00" in name:
        return False
    proc = subprocess.run(
        ["git", "check-ref-format", "--branch", name], capture_output=True, check=False, cwd="/"
    )
    return proc.returncode == 0


@pytest.mark.parametrize(("name", "valid"), BRANCHES)
def test_branch_names_table(name: str, valid: bool) -> None:
    assert (branch_name_problem(name) is None) is valid
    if name not in ("@", "HEAD"):  # refused on purpose: git reads both as the current commit
        assert git_accepts(name) is valid


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab/.-@{}~^:?*[\\ lockHEAD\t\x7fä")), min_size=0, max_size=12
    )
)
def test_branch_names_agree_with_git(name: str) -> None:
    if name in ("@", "HEAD"):
        assert branch_name_problem(name) is not None
        return
    assert (branch_name_problem(name) is None) == git_accepts(name), repr(name)


@pytest.mark.parametrize("branch", ["a..b", "-dev", "dev.lock", "dev/", "a@{1}", "@"])
def test_stack_branch_is_a_git_branch_name(branch: str) -> None:
    found = settings_problems(with_value(STACK, "git.branch", branch))
    assert any("gitops-platform:git.branch:" in p for p in found), found


# -- 3. cron schedules, durations, time zones ----------------------------------------------

GOOD_CRON = [
    "0 22 * * 1-5",
    "*/15 * * * *",
    "0 0 24 12 *",
    "0 9-17/2 * JAN-mar mon,WED,fri",
    "5 4 ? * SUN",
    "0 0 1 */3 *",
    "30 2 * * 0",
    "1,2,3 0 * * 6",
    "5/10 * * * *",
    "@daily",
    "@hourly",
    "@midnight",
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@every 1h30m",
]
BAD_CRON = [
    "60 * * * *",
    "* 24 * * *",
    "* * 0 * *",
    "* * 32 * *",
    "* * * 13 *",
    "* * * 0 *",
    "* * * * 7",
    "* * * * MONDAY",
    "* * * * *  *",
    "0 22 * *",
    "*/0 * * * *",
    "5-1 * * * *",
    "1-2-3 * * * *",
    "1/2/3 * * * *",
    "a * * * *",
    ", * * * *",
    "-1 * * * *",
    "@often",
    "@every",
    "@every 0s",
    "@daily ",
    " 0 22 * * *",
    "0 22 * * *\n",
    "CRON_TZ=UTC 0 22 * * *",
    "",
]


@pytest.mark.parametrize("schedule", GOOD_CRON)
def test_cron_accepted(schedule: str) -> None:
    assert cron_problem(schedule) is None


@pytest.mark.parametrize("schedule", BAD_CRON)
def test_cron_refused(schedule: str) -> None:
    assert cron_problem(schedule) is not None


@pytest.mark.parametrize(
    ("duration", "ok"),
    [
        ("1h", True),
        ("1h30m", True),
        ("90s", True),
        ("1.5h", True),
        ("500ms", True),
        ("2h45m30s", True),
        ("0", False),
        ("0s", False),
        ("1", False),
        ("1 h", False),
        ("h", False),
        ("-1h", False),
        ("1d", False),
        ("1h ", False),
        ("99999999999h", False),
    ],
)
def test_go_durations(duration: str, ok: bool) -> None:
    assert (go_duration_problem(duration) is None) is ok


@pytest.mark.parametrize(
    ("zone", "ok"),
    [
        ("UTC", True),
        ("Europe/Berlin", True),
        ("America/Argentina/Buenos_Aires", True),
        ("Etc/GMT+5", True),
        ("Local", False),
        ("localtime", False),
        ("Mars/Olympus_Mons", False),
        ("Europe/berlin", False),
        ("../../etc/passwd", False),
        ("", False),
    ],
)
def test_time_zones(zone: str, ok: bool) -> None:
    assert (time_zone_problem(zone) is None) is ok


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"schedule": "0 25 * * *"}, "schedule"),
        ({"schedule": "* * * * 7"}, "schedule"),
        ({"duration": "0s"}, "duration"),
        ({"duration": "1d"}, "duration"),
        ({"timeZone": "Local"}, "timeZone"),
        ({"timeZone": "Mars/Base"}, "timeZone"),
    ],
)
def test_sync_window_fields_in_the_stack_file(window: dict[str, str], field: str) -> None:
    entry = {"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", **window}
    found = settings_problems({**STACK, "sync": {"windows": [entry]}})
    assert any(f"gitops-platform:sync.windows[0].{field}:" in p for p in found), found


# -- 4. nothing a template engine would evaluate ---------------------------------------------

TEMPLATE_FIELDS = [
    (APP, "source.path", "{{ .name }}"),
    (HELM, "source.repoURL", "https://charts.example.com/{{.x}}"),
    (CANARY, "strategy.checks.http[0].path", "/healthz?x={{args.token}}"),
    (CANARY, "strategy.checks.smokeJob.args[0]", "{{args.secret}}"),
    (CANARY, "strategy.checks.smokeJob.args[0]", "--x=}}"),
    (APP, "description", "shop {{ template }}"),
    (
        APP,
        "ignoreDifferences",
        [{"kind": "Deployment", "jqPathExpressions": [".spec | {{ .x }}"]}],
    ),
    (
        APP,
        "ignoreDifferences",
        [{"kind": "Deployment", "jsonPointers": ["/spec/{{.x}}"]}],
    ),
]


@pytest.mark.parametrize(("base", "field", "value"), TEMPLATE_FIELDS)
def test_template_markers_in_app_fields_are_refused(
    base: dict[str, Any], field: str, value: Any
) -> None:
    found = app_problems(with_value(base, field, value))
    where = re.sub(r"\[\d+\]$", "", field)  # a list's items are reported on the list
    assert any(f"app.yaml: {where}" in p for p in found), found


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("git.repoURL", "https://git.example.com/{{.name}}.git"),
        ("git.branch", "a{{b"),
        ("git.branch", "a}}b"),
    ],
)
def test_template_markers_in_stack_fields_are_refused(field: str, value: str) -> None:
    found = settings_problems(with_value(STACK, field, value))
    assert any(f"gitops-platform:{field}:" in p and "{{" in p for p in found), found


def test_the_platform_still_writes_its_own_templates() -> None:
    # Only user values are refused: the ApplicationSets keep the platform's own actions.
    objects = argocd_objects(load_catalog(REPO), load_stack_file(REPO, "dev"))
    appset = next(o for o in objects if o["kind"] == "ApplicationSet")
    assert appset["spec"]["template"]["metadata"]["name"] == "{{ .name }}"


# -- 5. no credential in a URL, none echoed ----------------------------------------------------

SECRET = "s3cr3tValue"
CREDENTIAL_URLS = [
    f"https://user:{SECRET}@charts.example.com/stable",
    f"https://{SECRET}@charts.example.com/stable",
    f"https://charts.example.com/stable?access_token={SECRET}",
    f"https://charts.example.com/stable?x=1&private_token={SECRET}",
    f"https://charts.example.com/stable#token={SECRET}",
    f"oci://robot:{SECRET}@registry.example.com/charts",
]


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
def test_credentials_in_the_chart_url_are_refused_unechoed(repo: Path, url: str) -> None:
    folder = repo / "apps" / "shop"
    (folder / "values").mkdir(parents=True)
    (folder / "values" / "dev.yaml").write_text("image: {tag: '1'}\n")
    (folder / "app.yaml").write_text(
        "team: web\nnamespace: shop\nimage: {repository: ghcr.io/example-org/shop}\n"
        f"source: {{type: helm, repoURL: '{url}', chart: shop, version: 1.2.3}}\n"
        "environments: {dev: {enabled: true}}\n"
    )
    found = catalog_problems(repo)
    assert any(p.startswith("apps/shop/app.yaml: source.repoURL:") for p in found), found
    assert SECRET not in "\n".join(found)


@pytest.mark.parametrize(
    "field",
    ["git.repoURL", "argocd.chart.repository", "notifications.webhookURL"],
)
@pytest.mark.parametrize("url", [u.replace("oci://", "https://") for u in CREDENTIAL_URLS])
def test_credentials_in_stack_urls_are_refused_unechoed(field: str, url: str) -> None:
    with pytest.raises(ValidationError) as info:
        base = {**STACK, "argocd": {"chart": {}}, "notifications": {}}
        parse_settings("dev", with_value(base, field, url), "P.yaml")
    assert any(p.field == f"gitops-platform:{field}" for p in info.value.problems)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [f"ftp://user:{SECRET}@h/x", f"https://user:{SECRET}@h/ x", f"http://u:{SECRET}@h/x"],
)
def test_a_malformed_url_is_not_echoed_either(url: str) -> None:
    found = app_problems(with_value(HELM, "source.repoURL", url))
    assert any("source.repoURL" in p for p in found)
    assert SECRET not in "\n".join(found)
    stack = settings_problems(with_value(STACK, "git.repoURL", url))
    assert SECRET not in "\n".join(stack)


@pytest.mark.parametrize(
    "url",
    ["git@github.com:org/repo.git", "ssh://git@github.com/org/repo.git", "https://h/r.git?ref=x"],
)
def test_ssh_user_names_are_not_credentials(url: str) -> None:
    assert parse_settings("dev", with_value(STACK, "git.repoURL", url), "P.yaml").git.repoURL == url


# -- 6. links, FIFOs, paths out of the repository ----------------------------------------------


def test_symlinked_app_yaml_is_not_read(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.yaml"
    outside.write_text(f"team: {SECRET}\n")
    folder = add_app(repo)
    (folder / "app.yaml").unlink()
    os.symlink(outside, folder / "app.yaml")
    found = catalog_problems(repo)
    assert found == [
        "apps/shop/app.yaml: (file): is a symbolic link; links are not followed (commit the "
        "file itself)"
    ]


@pytest.mark.parametrize(
    "where",
    [
        "app.yaml",
        "overlays/dev/kustomization.yaml",
        "overlays/dev/deployment.yaml",
        "base/kustomization.yaml",
        "manifests/cm.yaml",
        "chart/templates/x.yaml",
        "values/dev.yaml",
    ],
)
def test_fifos_are_refused_without_being_opened(repo: Path, where: str, fast: None) -> None:
    folder = add_app(repo)
    target = folder / where
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    os.mkfifo(target)
    found = catalog_problems(repo)
    assert f"apps/shop/{where}: (file): is a FIFO; only regular files and folders are read" in found


@pytest.mark.parametrize(
    "where", ["overlays/dev", "overlays", "base", "chart", "manifests/extra.yaml", "values"]
)
def test_links_inside_an_app_folder_are_refused(
    repo: Path, where: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    folder = add_app(repo)
    link = folder / where
    if link.exists():
        import shutil

        shutil.rmtree(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, link)
    found = catalog_problems(repo)
    assert any(p.startswith(f"apps/shop/{where}: (file): is a symbolic link") for p in found)


def test_a_linked_app_folder_and_catalog_folder_are_refused(
    repo: Path, tmp_path_factory: pytest.TempPathFactory, fast: None
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    add_app(outside, "other")
    os.symlink(outside / "apps" / "other", repo / "apps" / "other")
    os.mkfifo(repo / "apps" / "README.md")
    found = catalog_problems(repo)
    assert (
        "apps/other: (file): is a symbolic link; links are not followed (commit the file "
        "itself)" in found
    )
    assert "apps/README.md: (file): is a FIFO; only regular files and folders are read" in found
    os.symlink(outside / "apps", repo / "linked")
    assert catalog_problems(repo, repo / "linked") == [
        "linked: (file): catalog folder: is a symbolic link; links are not followed (commit "
        "the file itself)"
    ]
    assert catalog_problems(repo, repo / "apps" / ".." / ".." / "x")[0].endswith(
        "catalog folder: leaves the repository"
    )


@pytest.mark.parametrize(
    "apps_dir", ["../apps", "apps/../..", ".", "..", "a\\b", "/srv/apps", "/tmp/x/apps"]
)
def test_apps_dir_setting_stays_inside_the_repository(apps_dir: str) -> None:
    found = settings_problems({**STACK, "catalog": {"appsDir": apps_dir}})
    assert any("gitops-platform:catalog.appsDir:" in p for p in found), found


# -- 7. names Argo CD owns ----------------------------------------------------------------------


@pytest.mark.parametrize("team", ["default", "argocd", "argocd-server", "argocd-secret"])
def test_reserved_team_names(team: str) -> None:
    found = app_problems(with_value(APP, "team", team))
    assert any(p.startswith("apps/shop/app.yaml: team:") and "reserved" in p for p in found)


# -- 8. generated objects fit the API server -----------------------------------------------------


def test_an_oversized_application_set_is_refused_naming_the_team() -> None:
    jq = [f".spec.template.spec.containers[{i}].{'x' * 450}" for i in range(20)]
    ignore = [{"kind": "Deployment", "jqPathExpressions": jq} for _ in range(50)]
    apps = tuple(
        App(
            name=f"app{i}",
            file=f"apps/app{i}/app.yaml",
            folder=f"apps/app{i}",
            definition=AppDefinition.model_validate({**APP, "ignoreDifferences": ignore}),
        )
        for i in range(3)
    )
    settings = parse_settings("dev", STACK, "Pulumi.dev.yaml")
    with pytest.raises(ValidationError) as info:
        argocd_objects(Catalog(apps=apps), settings)
    (problem,) = info.value.problems
    assert problem.field == "team web"
    assert "ApplicationSet 'web'" in problem.message and str(MAX_OBJECT_BYTES) in problem.message
    # one app less fits
    assert argocd_objects(Catalog(apps=apps[:1]), settings)


# -- 9. one formatter of pydantic errors -------------------------------------------------------


def test_pydantic_errors_are_formatted_in_one_place() -> None:
    users = [
        str(path.relative_to(REPO))
        for path in sorted(INFRA.rglob("*.py"))
        if ".errors(" in path.read_text() and path.name != "errors.py"
    ]
    assert users == []


def test_the_formatter_never_echoes_sensitive_fields() -> None:
    class Model(BaseModel):
        model_config = {"regex_engine": "rust-regex"}
        repoURL: str
        password: str
        name: str

    from pydantic import Field

    class Checked(Model):
        repoURL: str = Field(pattern=r"^https://[a-z.]+$")
        password: str = Field(pattern=r"^[a-z]+$")
        name: str = Field(pattern=r"^[a-z]+$")

    with pytest.raises(PydanticValidationError) as info:
        Checked.model_validate(
            {"repoURL": f"ftp://u:{SECRET}@h", "password": SECRET, "name": "Bad Name"}
        )
    found = [str(p) for p in problems_from_pydantic("f.yaml", info.value)]
    assert SECRET not in "\n".join(found)
    assert "f.yaml: name: 'Bad Name' is not valid here" in found[2]


# -- 10. derived paths are the model's -----------------------------------------------------------


def test_overlay_path_is_a_method_of_the_app() -> None:
    app = App(
        name="shop",
        file="apps/shop/app.yaml",
        folder="apps/shop",
        definition=AppDefinition.model_validate(with_value(APP, "source.path", "./deploy")),
    )
    assert app.overlay_path("dev") == "apps/shop/deploy/overlays/dev"
    assert app.values_path("prod") == "apps/shop/values/prod.yaml"


def test_overlay_path_is_derived_once() -> None:
    owned = [*(INFRA / "catalog").glob("*.py"), *(INFRA / "specs").glob("*.py")]
    derive = re.compile(r"OVERLAYS_DIR\s*,|/\s*constants\.OVERLAYS_DIR")
    offenders = [str(p.relative_to(REPO)) for p in sorted(owned) if derive.search(p.read_text())]
    assert offenders == ["infra/catalog/models.py"]
    assert constants.OVERLAYS_DIR == "overlays"
