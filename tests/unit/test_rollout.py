"""Progressive delivery: the generated Rollout objects (strictly valid against the Argo
Rollouts CRDs), the strategy rules, `platformctl generate [--check]`, and the Application of a
blueGreen/canary app pointing at its generated folder."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infra.catalog import App, load_catalog
from infra.cli.app import app as cli
from infra.errors import ValidationError
from infra.settings import load_stack_file
from infra.specs import argocd_objects, expand
from infra.specs.rollout import (
    HEADER,
    generated_files,
    kustomization,
    rollout,
    rollout_objects,
)
from tests.signing import require_tool
from tests.support import REPO, ROLLOUTS_CHART, copy_example_catalog, schema_errors

runner = CliRunner()


def example(name: str) -> App:
    (app,) = [a for a in load_catalog(REPO).apps if a.name == name]
    return app


def by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        out.setdefault(obj["kind"], []).append(obj)
    return out


# --- the builders -------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("name", ["payments-api", "checkout-web"])
def test_generated_objects_validate_strictly_against_the_rollouts_crds(name: str, env: str) -> None:
    objects = rollout_objects(example(name), env)
    kinds = [o["kind"] for o in objects]
    assert kinds[-2:] == ["AnalysisTemplate", "Rollout"]
    errors = [
        e for o in objects if o["kind"] != "Service" for e in schema_errors(o, ROLLOUTS_CHART)
    ]
    assert errors == []


def test_strict_check_catches_a_broken_rollout() -> None:
    obj = copy.deepcopy(rollout(example("payments-api"), "prod"))
    obj["spec"]["strategy"]["blueGreen"]["previewServce"] = "typo"
    obj["spec"]["replicas"] = "three"
    errors = schema_errors(obj, ROLLOUTS_CHART)
    assert any("Additional properties are not allowed ('previewServce'" in e for e in errors)
    assert any("spec.replicas: 'three' is not of type 'integer'" in e for e in errors)
    template = copy.deepcopy(rollout_objects(example("checkout-web"), "dev")[-2])
    del template["spec"]["metrics"][0]["provider"]["web"]["url"]
    assert any("'url' is a required property" in e for e in schema_errors(template, ROLLOUTS_CHART))


def test_blue_green_rollout() -> None:
    app = example("payments-api")
    objects = by_kind(rollout_objects(app, "prod"))
    (ro,) = objects["Rollout"]
    assert ro["metadata"]["namespace"] == "payments"
    assert ro["spec"]["replicas"] == 3
    assert ro["spec"]["workloadRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "payments-api",
        "scaleDown": "progressively",
    }
    assert "template" not in ro["spec"] and "selector" not in ro["spec"]
    assert ro["spec"]["strategy"]["blueGreen"] == {
        "activeService": "payments-api",
        "previewService": "payments-api-preview",
        "autoPromotionEnabled": False,
        "scaleDownDelaySeconds": 60,
        "prePromotionAnalysis": {"templates": [{"templateName": "payments-api-checks"}]},
    }
    # Only the preview Service is generated: the active one is the app's own.
    (preview,) = objects["Service"]
    assert preview["metadata"]["name"] == "payments-api-preview"
    assert preview["spec"]["selector"] == {"app.kubernetes.io/name": "payments-api"}
    assert preview["spec"]["ports"][0]["port"] == preview["spec"]["ports"][0]["targetPort"] == 8000
    (template,) = objects["AnalysisTemplate"]
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    assert set(metrics) == {"http-1-get-healthz", "http-2-get-items", "smoke-job"}
    web = metrics["http-1-get-healthz"]
    # The controller makes the request from its own namespace: the cluster-wide name.
    assert web["provider"]["web"]["url"] == (
        "http://payments-api-preview.payments.svc.cluster.local:8000/healthz"
    )
    assert web["failureLimit"] == 0 and web["consecutiveErrorLimit"] == 2 and web["count"] == 3
    job = metrics["smoke-job"]["provider"]["job"]["spec"]
    assert job["backoffLimit"] == 0
    (container,) = job["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/example-org/payments-api-smoke:1.4.2"
    assert {"name": "BASE_URL", "value": web["provider"]["web"]["url"][: -len("/healthz")]} in (
        container["env"]
    )


def test_canary_rollout() -> None:
    objects = by_kind(rollout_objects(example("checkout-web"), "dev"))
    (ro,) = objects["Rollout"]
    canary = ro["spec"]["strategy"]["canary"]
    analysis = {"analysis": {"templates": [{"templateName": "checkout-web-checks"}]}}
    assert canary == {
        "canaryService": "checkout-web-canary",
        "stableService": "checkout-web-stable",
        "steps": [
            {"setWeight": 20},
            {"pause": {"duration": "30s"}},
            analysis,
            {"setWeight": 50},
            {"pause": {"duration": "2m"}},
            analysis,
            {"pause": {}},
        ],
    }
    assert ro["spec"]["replicas"] == 2
    assert [s["metadata"]["name"] for s in objects["Service"]] == [
        "checkout-web-canary",
        "checkout-web-stable",
    ]
    (template,) = objects["AnalysisTemplate"]
    urls = [m["provider"]["web"]["url"] for m in template["spec"]["metrics"]]
    assert urls == [
        "http://checkout-web-canary.payments.svc.cluster.local:8080/healthz",
        "http://checkout-web-canary.payments.svc.cluster.local:8080/cart",
    ]


def test_generated_files_are_deterministic_and_marked() -> None:
    app = example("payments-api")
    files = generated_files(app)
    assert sorted(files) == [
        "generated/dev/kustomization.yaml",
        "generated/dev/rollout.yaml",
        "generated/prod/kustomization.yaml",
        "generated/prod/rollout.yaml",
    ]
    assert files == generated_files(example("payments-api"))
    for text in files.values():
        assert text.splitlines()[0] == HEADER
    assert kustomization(app, "dev")["resources"] == ["../../overlays/dev", "rollout.yaml"]
    docs = list(yaml.safe_load_all(files["generated/prod/rollout.yaml"]))
    assert docs == rollout_objects(app, "prod")
    assert generated_files(example("hello-web")) == {}


def test_generated_kustomization_builds_with_kustomize(tmp_path: Path) -> None:
    kubectl = require_tool("kubectl")  # the toolchain builds kubectl with kustomize
    done = subprocess.run(
        [kubectl, "kustomize", str(REPO / "apps" / "payments-api" / "generated" / "prod")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(done.stdout)}
    assert names == {
        ("Deployment", "payments-api"),
        ("Service", "payments-api"),
        ("Service", "payments-api-preview"),
        ("AnalysisTemplate", "payments-api-checks"),
        ("Rollout", "payments-api"),
    }


# --- the Application ----------------------------------------------------------------------


def applications(stack: str) -> dict[str, dict[str, Any]]:
    objects = argocd_objects(load_catalog(REPO), load_stack_file(REPO, stack))
    apps = [a for o in objects if o["kind"] == "ApplicationSet" for a in expand(o)]
    return {a["metadata"]["name"]: a for a in apps}


def test_application_of_a_strategy_app_points_at_its_generated_folder() -> None:
    apps = applications("prod")
    spec = apps["payments-api"]["spec"]
    assert spec["source"]["path"] == "apps/payments-api/generated/prod"
    assert "kustomize" not in spec["source"]  # replicas are the Rollout's
    assert spec["ignoreDifferences"][0] == {
        "group": "apps",
        "kind": "Deployment",
        "name": "payments-api",
        "jsonPointers": ["/spec/replicas"],
    }
    services = {d["name"] for d in spec["ignoreDifferences"] if d["kind"] == "Service"}
    assert services == {"payments-api", "payments-api-preview"}
    assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]
    canary = apps["checkout-web"]["spec"]
    assert canary["source"]["path"] == "apps/checkout-web/generated/prod"
    rolling = apps["hello-web"]["spec"]
    assert "ignoreDifferences" not in rolling
    assert "RespectIgnoreDifferences=true" not in rolling["syncPolicy"]["syncOptions"]
    for application in apps.values():
        assert schema_errors(application) == []


def test_strategy_apps_need_rollouts_in_the_stack() -> None:
    settings = load_stack_file(REPO, "dev")
    off = settings.model_copy(
        update={"rollouts": settings.rollouts.model_copy(update={"enabled": False})}
    )
    with pytest.raises(ValidationError) as info:
        argocd_objects(load_catalog(REPO), off)
    assert [str(p) for p in info.value.problems] == [
        "apps/checkout-web/app.yaml: strategy.type: canary needs Argo Rollouts, which stack "
        "'dev' does not install (set gitops-platform:rollouts.enabled)",
        "apps/payments-api/app.yaml: strategy.type: blueGreen needs Argo Rollouts, which stack "
        "'dev' does not install (set gitops-platform:rollouts.enabled)",
    ]


# --- validation ---------------------------------------------------------------------------

BASE = """\
team: web
namespace: shop
image:
  repository: ghcr.io/example-org/shop
source:
  type: kustomize
environments:
  dev:
    replicas: 2
"""
CHECKS = """\
  checks:
    port: 8080
    http:
      - path: /healthz
"""


def load_problems(tmp_path: Path, strategy: str, extra: str = "", source: str = "") -> list[str]:
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")
    folder = tmp_path / "apps" / "shop"
    (folder / "overlays" / "dev").mkdir(parents=True)
    (folder / "overlays" / "dev" / "kustomization.yaml").write_text("resources: []\n")
    (folder / "values").mkdir()
    (folder / "values" / "dev.yaml").write_text("image: {tag: '1'}\n")
    text = BASE + strategy + extra
    if source:
        text = text.replace("  type: kustomize\n", source)
    (folder / "app.yaml").write_text(text)
    try:
        load_catalog(tmp_path)
    except ValidationError as exc:
        return [str(p) for p in exc.problems]
    return []


CANARY = "strategy:\n  type: canary\n  steps:\n"


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (
            CANARY + "    - setWeight: 50\n    - setWeight: 20\n",
            "strategy.steps[1].setWeight: weights must increase: 20 comes after 50 (line 14)",
        ),
        (
            CANARY + "    - setWeight: 20\n    - analysis: {}\n",
            "strategy.steps[1].analysis: needs strategy.checks with http checks or a smokeJob",
        ),
        (
            CANARY + "    - analysis: {}\n    - setWeight: 20\n" + CHECKS,
            "strategy.steps[0].analysis: comes before any setWeight: no canary pod exists yet",
        ),
        (
            CANARY + "    - setWeight: 20\n" + CHECKS,
            "strategy.checks: declared but never run: a canary runs its checks in `analysis: {}`",
        ),
        (
            CANARY + "    - setWeight: 20\n      pause: {}\n",
            "strategy.steps[0]: a step is exactly one of setWeight, pause, analysis",
        ),
        (CANARY + "    - setWeight: 0\n", "strategy.steps[0].setWeight: Input should be greater"),
        (CANARY + "    - setWeight: 101\n", "strategy.steps[0].setWeight: Input should be less"),
        (
            CANARY + "    - pause: {duration: 30}\n",
            "strategy.steps[0].pause.duration: Input should be a valid string",
        ),
        (
            CANARY + "    - pause: {duration: 30 seconds}\n",
            "strategy.steps[0].pause.duration: '30 seconds' is not valid here (expected a number "
            "and a unit: 30s, 5m, 1h)",
        ),
        (
            CANARY + "    - analysis: {templates: []}\n",
            "strategy.steps[0].analysis.templates: unknown field",
        ),
        (CANARY + "    - setHeaderRoute: {}\n", "strategy.steps[0].setHeaderRoute: unknown field"),
        ("strategy:\n  type: canary\n  steps: []\n", "strategy.steps: List should have at least 1"),
        (
            CANARY + "    - setWeight: 20\n  autoPromotionEnabled: true\n",
            "strategy.autoPromotionEnabled: only for type blueGreen, not canary",
        ),
        (
            "strategy:\n  type: blueGreen\n  steps:\n    - setWeight: 20\n",
            "strategy.steps: only for type canary, not blueGreen",
        ),
        (
            "strategy:\n  type: rolling\n" + CHECKS,
            "strategy.checks: only for types blueGreen and canary, not rolling",
        ),
        (
            "strategy:\n  type: blueGreen\n  previewService: shop-next\n",
            "strategy.previewService: needs strategy.checks.port",
        ),
        (
            "strategy:\n  type: blueGreen\n  activeService: shop\n  previewService: shop\n"
            + CHECKS,
            "strategy.previewService: must differ from activeService ('shop')",
        ),
        (
            "strategy:\n  type: blueGreen\n  previewService: 1-shop\n",
            "strategy.previewService: '1-shop' is not valid here (expected a Service name",
        ),
        (
            "strategy:\n  type: blueGreen\n" + CHECKS + "        expectedStatus: 404\n",
            "strategy.checks.http[0].expectedStatus: 404 cannot be checked: the web metric "
            "provider counts every non-2xx response as an error",
        ),
        (
            "strategy:\n  type: blueGreen\n" + CHECKS + "        expectedStatus: 700\n",
            "strategy.checks.http[0].expectedStatus: Input should be less than or equal to 599",
        ),
        (
            "strategy:\n  type: blueGreen\n" + CHECKS + "        method: DELETE\n",
            "strategy.checks.http[0].method: Input should be 'GET', 'POST' or 'PUT'",
        ),
        (
            "strategy:\n  type: blueGreen\n" + CHECKS.replace("/healthz", "healthz"),
            "strategy.checks.http[0].path: 'healthz' is not valid here (expected an absolute",
        ),
        (
            "strategy:\n  type: blueGreen\n" + CHECKS.replace("8080", "0"),
            "strategy.checks.port: Input should be greater than or equal to 1",
        ),
        (
            "strategy:\n  type: blueGreen\n  checks:\n    port: 80\n    smokeJob:\n"
            "      image: ghcr.io/example-org/smoke:latest\n",
            "strategy.checks.smokeJob.image: 'ghcr.io/example-org/smoke:latest': pin a version "
            "tag, not :latest",
        ),
        (
            "strategy:\n  type: blueGreen\n  checks:\n    port: 80\n    smokeJob:\n"
            "      image: ghcr.io/example-org/smoke\n",
            "strategy.checks.smokeJob.image: 'ghcr.io/example-org/smoke' is not valid here "
            "(expected <repository>:<tag>",
        ),
        (
            "strategy:\n  type: blueGreen\n  checks:\n    http: []\n",
            "strategy.checks.port: required field is missing",
        ),
        ("strategy:\n  type: linear\n", "strategy.type: Input should be 'rolling', 'blueGreen'"),
    ],
    ids=[
        "weights-decrease",
        "analysis-without-checks",
        "analysis-before-weight",
        "canary-checks-never-run",
        "two-keys-in-a-step",
        "weight-zero",
        "weight-over-100",
        "duration-not-a-string",
        "duration-format",
        "analysis-templates-are-generated",
        "unsupported-step",
        "no-steps",
        "blue-green-field-on-canary",
        "steps-on-blue-green",
        "checks-on-rolling",
        "preview-without-checks",
        "active-equals-preview",
        "service-name",
        "non-2xx-status",
        "status-range",
        "method",
        "relative-path",
        "port-range",
        "latest-tag",
        "untagged-image",
        "port-required",
        "unknown-type",
    ],
)
def test_bad_strategy_is_rejected(tmp_path: Path, strategy: str, expected: str) -> None:
    found = load_problems(tmp_path, strategy)
    assert any(p.startswith(f"apps/shop/app.yaml: {expected}") for p in found), found


def test_strategy_needs_a_kustomize_source(tmp_path: Path) -> None:
    helm = "  type: helm\n  repoURL: https://charts.example.com\n  chart: shop\n  version: 1.2.3\n"
    found = load_problems(tmp_path, "strategy:\n  type: blueGreen\n", source=helm)
    assert found == [
        "apps/shop/app.yaml: strategy.type: blueGreen needs a kustomize source (the generated "
        "kustomization wraps overlays/<env>); this app's source is helm (line 14)"
    ]


def test_too_long_app_name_for_generated_services(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")
    name = "a" * 60
    folder = tmp_path / "apps" / name
    (folder / "overlays" / "dev").mkdir(parents=True)
    (folder / "overlays" / "dev" / "kustomization.yaml").write_text("resources: []\n")
    (folder / "app.yaml").write_text(BASE + "strategy:\n  type: blueGreen\n" + CHECKS)
    with pytest.raises(ValidationError, match=r"generated Service name 'a{60}-preview' is not"):
        load_catalog(tmp_path)


@pytest.mark.parametrize(
    "strategy",
    [
        "strategy:\n  type: blueGreen\n",
        "strategy:\n  type: blueGreen\n  checks:\n    port: 8080\n",
        CANARY + "    - setWeight: 10\n    - pause: {}\n    - setWeight: 40\n",
        CANARY + "    - setWeight: 10\n    - analysis: {}\n    - pause: {duration: 1h}\n" + CHECKS,
        "strategy: {}\n",
    ],
    ids=["blue-green-no-checks", "blue-green-port-only", "canary-no-checks", "canary", "empty"],
)
def test_good_strategies_load(tmp_path: Path, strategy: str) -> None:
    assert load_problems(tmp_path, strategy) == []


def test_blue_green_without_checks_has_no_preview_and_no_analysis(tmp_path: Path) -> None:
    assert load_problems(tmp_path, "strategy:\n  type: blueGreen\n") == []
    (app,) = load_catalog(tmp_path).apps
    objects = rollout_objects(app, "dev")
    assert [o["kind"] for o in objects] == ["Rollout"]
    assert objects[0]["spec"]["strategy"]["blueGreen"] == {
        "activeService": "shop",
        "autoPromotionEnabled": False,
    }
    for obj in objects:
        assert schema_errors(obj, ROLLOUTS_CHART) == []


# --- platformctl generate -----------------------------------------------------------------


def invoke(monkeypatch: pytest.MonkeyPatch, cwd: Path, *args: str) -> Any:
    monkeypatch.chdir(cwd)
    return runner.invoke(cli, list(args))


def test_the_committed_generated_files_are_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke(monkeypatch, REPO, "generate", "--check")
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 8 generated files up to date\n"


def test_generate_check_detects_stale_missing_and_leftover_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_example_catalog(tmp_path)
    app_yaml = tmp_path / "apps" / "payments-api" / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace("replicas: 3", "replicas: 4"))
    (tmp_path / "apps" / "checkout-web" / "generated" / "dev" / "rollout.yaml").unlink()
    # hello-web is rolling: a generated file there is left over from an earlier strategy.
    leftover = tmp_path / "apps" / "hello-web" / "generated" / "dev" / "rollout.yaml"
    leftover.parent.mkdir(parents=True)
    leftover.write_text(HEADER + "\n---\n{}\n")

    result = invoke(monkeypatch, tmp_path, "generate", "--check")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "apps/checkout-web/generated/dev/rollout.yaml: (file): missing: run `platformctl generate`",
        "apps/hello-web/generated/dev/rollout.yaml: (file): no longer generated: run "
        "`platformctl generate` to remove it",
        "apps/payments-api/generated/prod/rollout.yaml: (file): stale (differs from what the "
        "app definition generates): run `platformctl generate`",
    ]
    # validate reports the same problems.
    result = invoke(monkeypatch, tmp_path, "validate")
    assert result.exit_code == 1 and "stale (differs" in result.stderr

    result = invoke(monkeypatch, tmp_path, "generate")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created apps/checkout-web/generated/dev/rollout.yaml",
        "updated apps/payments-api/generated/prod/rollout.yaml",
        "removed apps/hello-web/generated/dev/rollout.yaml",
        "ok: 3 changed, 6 up to date",
    ]
    assert not (tmp_path / "apps" / "hello-web" / "generated").exists()
    assert (
        "replicas: 4"
        in (tmp_path / "apps" / "payments-api" / "generated" / "prod" / "rollout.yaml").read_text()
    )
    result = invoke(monkeypatch, tmp_path, "generate", "--check")
    assert result.exit_code == 0, result.output


def test_generate_follows_disabled_environments_and_strategy_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_example_catalog(tmp_path)
    app_yaml = tmp_path / "apps" / "checkout-web" / "app.yaml"
    text = app_yaml.read_text()
    app_yaml.write_text(text.replace("  prod:\n    enabled: true", "  prod:\n    enabled: false"))
    assert invoke(monkeypatch, tmp_path, "generate").exit_code == 0
    generated = tmp_path / "apps" / "checkout-web" / "generated"
    assert sorted(p.name for p in generated.iterdir()) == ["dev"]
    # Back to rolling: the whole generated folder goes.
    start, end = text.index("strategy:"), text.index("environments:")
    app_yaml.write_text(text[:start] + text[end:])
    assert invoke(monkeypatch, tmp_path, "generate").exit_code == 0
    assert not generated.exists()


def test_generate_refuses_files_it_did_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_example_catalog(tmp_path)
    foreign = tmp_path / "apps" / "payments-api" / "generated" / "dev" / "extra.yaml"
    foreign.write_text("kind: ConfigMap\n")
    for args in (("generate", "--check"), ("generate",)):
        result = invoke(monkeypatch, tmp_path, *args)
        assert result.exit_code == 1
        assert result.stderr == (
            "apps/payments-api/generated/dev/extra.yaml: (file): not written by platformctl "
            "generate: generated/ holds generated files only; move or remove it\n"
        )
    assert foreign.exists()


def test_generate_reports_an_invalid_catalog_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_example_catalog(tmp_path)
    app_yaml = tmp_path / "apps" / "checkout-web" / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace("setWeight: 50", "setWeight: 10"))
    result = invoke(monkeypatch, tmp_path, "generate")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "apps/checkout-web/app.yaml: strategy.steps[3].setWeight: weights must increase: "
        "10 comes after 20"
    )
    assert "Traceback" not in result.output


# --- platformctl render --with-generated --------------------------------------------------


def test_render_with_generated_appends_the_rollout_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = invoke(monkeypatch, REPO, "render", "--stack", "prod")
    full = invoke(monkeypatch, REPO, "render", "--stack", "prod", "--with-generated")
    assert plain.exit_code == 0 and full.exit_code == 0, full.output
    assert full.stdout.startswith(plain.stdout)
    extra = list(yaml.safe_load_all(full.stdout[len(plain.stdout) :]))
    assert [(d["kind"], d["metadata"]["name"]) for d in extra if d["kind"] == "Rollout"] == [
        ("Rollout", "checkout-web"),
        ("Rollout", "payments-api"),
    ]
    on_disk = [
        d
        for name in ("checkout-web", "payments-api")
        for d in yaml.safe_load_all(
            (REPO / "apps" / name / "generated" / "prod" / "rollout.yaml").read_text()
        )
    ]
    assert extra == on_disk


@pytest.mark.parametrize(
    ("line", "field", "name", "owner"),
    [
        (
            "  activeService: checkout-web\n",
            "strategy.activeService",
            "checkout-web",
            "checkout-web",
        ),
        (
            "  previewService: checkout-web-canary\n",
            "strategy.previewService",
            "checkout-web-canary",
            "checkout-web",
        ),
    ],
)
def test_a_rollout_cannot_name_another_apps_service(
    tmp_path: Path, line: str, field: str, name: str, owner: str
) -> None:
    copy_example_catalog(tmp_path)
    app = tmp_path / "apps/payments-api/app.yaml"
    app.write_text(app.read_text().replace("  type: blueGreen\n", "  type: blueGreen\n" + line))
    with pytest.raises(ValidationError) as raised:
        load_catalog(tmp_path)
    assert [(p.file, p.field) for p in raised.value.problems] == [
        ("apps/payments-api/app.yaml", field)
    ]
    assert f"Service {name!r} is app {owner}'s in namespace 'payments'" in str(
        raised.value.problems[0]
    )


def test_a_rollout_may_name_a_service_no_other_app_claims(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    app = tmp_path / "apps/payments-api/app.yaml"
    # hello-web's Service is in namespace web: not payments-api's to steer, not in its way.
    text = app.read_text().replace(
        "  type: blueGreen\n", "  type: blueGreen\n  activeService: hello-web\n"
    )
    app.write_text(text)
    assert len(load_catalog(tmp_path).apps) == 5
