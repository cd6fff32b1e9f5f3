"""The Pulumi program under mocks: which resources, with which inputs, dependencies, secrets.

Each test runs the real program (infra.program.main) against Pulumi's mock monitor with the
real stack file's config, records every registered resource and the options it was given,
and compares the custom resources with what ``platformctl render`` prints.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import pytest
import yaml

from infra import constants
from infra.catalog import load_catalog
from infra.constants import stack_file
from infra.ops import crd_migration
from infra.settings import load_stack_file
from infra.specs import argocd_objects, chart_values
from infra.specs.crds import CrdSet, CrdSource, crd_digest
from tests.support import REPO
from tests.unit.factories import ec_pem, repo_settings

# How the engine protocol marks a secret value (pulumi.runtime.rpc._special_sig_key).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_MARK = "1b47061264138c4ac30d75fd1eb44270"


@dataclass
class Recorded:
    type_: str
    name: str
    inputs: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    parent: str | None = None
    retain_on_delete: bool = False
    protect: bool = False


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, Recorded] = {}
        self.objects: list[pulumi.Resource] = []

    def registered(self) -> pulumi.Output[Any]:
        """Resolves once every resource the program created has been registered."""
        return pulumi.Output.all(*[r.urn for r in self.objects])

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == "pulumi-python:dynamic:Resource":
            outputs.update(
                kubeconfig="apiVersion: v1\nkind: Config\n",
                value="generated-value",
                bcrypt_hash="$2b$10$abcdefghijklmnopqrstuv",
                created_at="2026-01-01T00:00:00Z",
            )
        self.resources.setdefault(args.name, Recorded(args.typ, args.name, args.inputs))
        self.resources[args.name].inputs = args.inputs
        return f"{args.name}-id", outputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _record_options(mocks: Mocks) -> None:
    def transformation(args: pulumi.ResourceTransformationArgs) -> None:
        mocks.objects.append(args.resource)
        rec = mocks.resources.setdefault(args.name, Recorded(args.type_, args.name, {}))
        depends_on = args.opts.depends_on or []
        assert isinstance(depends_on, Sequence), depends_on  # the program passes lists
        rec.depends_on = [getattr(d, "_name", "?") for d in depends_on]
        rec.parent = getattr(args.opts.parent, "_name", None) if args.opts.parent else None
        rec.retain_on_delete = bool(args.opts.retain_on_delete)
        rec.protect = bool(args.opts.protect)
        return None

    pulumi.runtime.register_stack_transformation(transformation)


def fake_crd_set(source: CrdSource) -> CrdSet:
    """One CRD per chart, its digest that of the source (no helm)."""
    return CrdSet(source, {f"{source.chart}.example.com": crd_digest(source.to_json())})


def run_program(
    stack: str,
    overrides: dict[str, Any] | None = None,
    mocks: Mocks | None = None,
    state: Callable[[str, str], dict[str, Any]] | None = None,
) -> tuple[Mocks, dict[str, Any]]:
    raw = yaml.safe_load((REPO / stack_file(stack)).read_text())["config"]
    for key, value in (overrides or {}).items():
        raw[f"gitops-platform:{key}"] = value
    mocks = mocks or Mocks()
    pulumi.runtime.set_mocks(mocks, project="gitops-platform", stack=stack, preview=False)
    pulumi.runtime.config.set_all_config(
        # As the engine hands them over: strings as they are, objects as JSON.
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()},
        [],
    )
    _record_options(mocks)
    exports: dict[str, Any] = {}

    import infra.program

    with pytest.MonkeyPatch.context() as patch:
        # Provider prerequisites (Docker for kind, ...) are tested in test_preflight.py; under
        # mocks nothing is created, so the program's preflight is not the subject here.
        patch.setattr(infra.program, "preflight", lambda settings, creating: None)
        # The charts' CRDs are rendered by helm (tests/unit/test_chart_crds.py); here a digest
        # of the source stands in, so a stack whose charts come from a repository needs no
        # network.
        patch.setattr(infra.program, "load_crd_set", fake_crd_set)
        # No engine here: the guard against deleting legacy CRD resources sees an empty state.
        patch.setattr(
            crd_migration, "export_state", state or (lambda stack, cwd: {"deployment": {}})
        )
        original_export = pulumi.export

        def capture(name: str, value: Any) -> None:
            exports[name] = value
            original_export(name, value)

        patch.setattr(pulumi, "export", capture)
        infra.program.main()
    return mocks, exports


async def resolved(output: Any) -> tuple[Any, bool]:
    """(value, is_secret) of an Output, awaited."""
    out = pulumi.Output.from_input(output)
    return await out.future(), await out.is_secret()


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "prod",
                "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
                "clusters": [{"name": "prod", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "prod", "user": {}}],
            }
        )
    )
    return str(path)


def by_type(mocks: Mocks, type_: str) -> dict[str, Recorded]:
    return {n: r for n, r in mocks.resources.items() if r.type_ == type_}


@pulumi.runtime.test
def test_dev_program_registers_the_platform() -> Any:
    mocks, exports = run_program("dev")

    async def check() -> None:
        types = {r.type_ for r in mocks.resources.values()}
        assert {
            "gitops-platform:index:Cluster",
            "gitops-platform:index:ArgoCD",
            "gitops-platform:index:AppCatalog",
            "pulumi:providers:kubernetes",
            "kubernetes:core/v1:Namespace",
            "kubernetes:core/v1:Secret",
            "kubernetes:helm.sh/v4:Chart",
            "pulumi-python:dynamic:Resource",
        } <= types

        provider = mocks.resources["cluster-k8s"].inputs
        assert provider["clusterIdentifier"] == "kind:gitops-dev"
        assert provider["enableSecretMutable"] == "true" or provider["enableSecretMutable"] is True

        kind = mocks.resources["cluster-kind"].inputs
        assert kind["name"] == "gitops-dev" and kind["nodeImage"] == "kindest/node:v1.34.3"

        chart = mocks.resources["argocd-chart"]
        assert chart.inputs["chart"] == "argo-cd" and chart.inputs["version"] == "10.1.1"
        assert chart.inputs["repositoryOpts"]["repo"] == "https://argoproj.github.io/argo-helm"
        assert chart.inputs["values"] == json.loads(
            json.dumps(chart_values(load_stack_file(REPO, "dev")))
        )
        assert set(chart.depends_on) >= {
            "argocd-namespace",
            "argocd-argocd-secret",
            "argocd-redis-secret",
            "argocd-crds",
        }
        # The chart installs no CRD: one resource owns them, with small inputs.
        assert chart.inputs["skipCrds"] is True
        assert chart.inputs["values"]["crds"] == {"install": False}
        crds = mocks.resources["argocd-crds"]
        assert crds.type_ == "pulumi-python:dynamic:Resource" and crds.retain_on_delete
        assert crds.parent == "argocd"
        assert (crds.inputs["chart"], crds.inputs["version"]) == ("argo-cd", "10.1.1")
        assert list(crds.inputs["crds"]) == ["argo-cd.example.com"]
        assert crds.inputs["source"]["repository"] == "https://argoproj.github.io/argo-helm"
        assert crds.inputs["source"]["values"] == {"crds": {"install": True, "keep": True}}

        secret = mocks.resources["argocd-argocd-secret"].inputs
        string_data = secret["stringData"]
        assert string_data.get(SECRET_SIG) == SECRET_MARK, "Secret data must be a secret input"
        assert string_data["value"]["admin.password"] == "$2b$10$abcdefghijklmnopqrstuv"
        assert string_data["value"]["admin.passwordMtime"] == "2026-01-01T00:00:00Z"
        # Every git host's webhook key is set (an empty one accepts unauthenticated calls):
        # none configured in Pulumi.dev.yaml, so each holds the generated lock.
        webhook = {k: v for k, v in string_data["value"].items() if k.startswith("webhook.")}
        assert set(webhook) == set(constants.ARGOCD_WEBHOOK_KEYS)
        assert set(webhook.values()) == {"generated-value"}
        assert mocks.resources["argocd-webhook-secret"].type_ == "pulumi-python:dynamic:Resource"
        assert secret["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"

        password, is_secret = await resolved(exports["adminPassword"])
        assert password == "generated-value" and is_secret
        _, kube_secret = await resolved(exports["kubeconfig"])
        assert kube_secret

    return mocks.registered().apply(lambda _: check())


def _assert_custom_resources_match_render(
    mocks: Mocks, stack: str, overrides: dict[str, Any]
) -> None:
    settings = load_stack_file(REPO, stack)
    if overrides:
        settings = settings.model_validate({**settings.model_dump(), **overrides})
    expected = argocd_objects(load_catalog(REPO), settings)
    custom = [r for r in mocks.resources.values() if r.type_.startswith("kubernetes:argoproj.io/")]
    assert len(custom) == len(expected)
    for obj in expected:
        name = f"catalog-{obj['kind'].lower()}-{obj['metadata']['name']}"
        rec = mocks.resources[name]
        assert rec.type_ == f"kubernetes:argoproj.io/v1alpha1:{obj['kind']}"
        assert rec.inputs["spec"] == json.loads(json.dumps(obj["spec"]))
        assert rec.inputs["metadata"]["namespace"] == "argocd"
        expected_installs = ["argocd-chart"] + (
            ["rollouts-chart"] if settings.rollouts.enabled else []
        )
        assert rec.depends_on == expected_installs, "must wait for the CRDs in the charts"
        assert rec.parent == "catalog"


@pulumi.runtime.test
def test_dev_custom_resources_are_what_render_prints() -> Any:
    mocks, _ = run_program("dev")
    return mocks.registered().apply(
        lambda _: _assert_custom_resources_match_render(mocks, "dev", {})
    )


@pulumi.runtime.test
def test_prod_program_adopts_an_existing_cluster_and_is_ha(kubeconfig: str) -> Any:
    cluster = {"provider": "existing", "kubeconfig": kubeconfig, "context": "prod"}
    mocks, _ = run_program("prod", {"cluster": cluster})

    async def check() -> None:
        assert "cluster-kind" not in mocks.resources
        provider = mocks.resources["cluster-k8s"].inputs
        assert provider["clusterIdentifier"] == "existing:prod"
        assert provider["context"] == "prod"
        values = mocks.resources["argocd-chart"].inputs["values"]
        assert values["redis-ha"]["enabled"] is True and values["server"]["replicas"] == 2
        _assert_custom_resources_match_render(mocks, "prod", {"cluster": cluster})

    return mocks.registered().apply(lambda _: check())


def test_invalid_config_fails_before_any_resource() -> None:
    mocks = Mocks()
    with pytest.raises(pulumi.RunError, match=r"gitops-platform:cluster: unknown provider 'eks'"):
        run_program("dev", {"cluster": {"provider": "eks"}}, mocks)
    assert mocks.objects == [], "validation must run before the first resource is registered"


def _project_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``root`` as the project the program runs in (its Pulumi.yaml; catalog.appsDir is
    relative to it)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    monkeypatch.chdir(root)


def test_invalid_app_fails_before_any_resource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mocks = Mocks()
    bad = tmp_path / "apps" / "broken"
    bad.mkdir(parents=True)
    (bad / "app.yaml").write_text("team: web\nnamespace: web\ncolour: blue\n")
    _project_root(tmp_path, monkeypatch)
    with pytest.raises(pulumi.RunError, match=r"broken/app.yaml: colour: unknown field"):
        run_program("dev", {"catalog": {"appsDir": "apps"}}, mocks)
    assert mocks.objects == []


def test_local_chart_path_is_resolved_against_the_project_root() -> None:
    from infra.components.charts import chart_source

    settings = load_stack_file(REPO, "dev")
    local = settings.model_validate(
        {
            **settings.model_dump(),
            "argocd": {"chart": {"path": "../shared/charts/argo-cd-10.1.1.tgz"}},
        }
    )
    source = chart_source(local.argocd.chart, "argo-cd", str(REPO))
    assert source == {"chart": str((REPO / "../shared/charts/argo-cd-10.1.1.tgz").resolve())}


@pulumi.runtime.test
def test_addon_charts_are_registered_when_enabled() -> Any:
    """dev enables Argo Rollouts and Sealed Secrets: each is a component with its pinned chart
    and the values of infra.specs.addons, in parallel with Argo CD (it needs only the provider)."""
    from infra.specs.addons import rollouts_values, sealed_secrets_values

    mocks, exports = run_program("dev")
    settings = load_stack_file(REPO, "dev")

    async def check() -> None:
        assert mocks.resources["rollouts"].type_ == "gitops-platform:index:Rollouts"
        assert mocks.resources["sealed-secrets"].type_ == "gitops-platform:index:SealedSecrets"

        rollouts = mocks.resources["rollouts-chart"]
        assert rollouts.type_ == "kubernetes:helm.sh/v4:Chart" and rollouts.parent == "rollouts"
        assert rollouts.inputs["chart"] == "argo-rollouts"
        assert rollouts.inputs["version"] == "2.41.0"
        assert rollouts.inputs["repositoryOpts"]["repo"] == "https://argoproj.github.io/argo-helm"
        assert rollouts.inputs["namespace"] == "argo-rollouts"
        assert rollouts.inputs["values"] == json.loads(json.dumps(rollouts_values(settings)))
        assert set(rollouts.depends_on) == {"rollouts-crds", "rollouts-namespace"}
        namespace = mocks.resources["rollouts-namespace"]
        assert namespace.type_ == "kubernetes:core/v1:Namespace"
        assert namespace.inputs["metadata"]["name"] == "argo-rollouts"

        sealed = mocks.resources["sealed-secrets-chart"]
        assert sealed.parent == "sealed-secrets"
        assert sealed.inputs["chart"] == "sealed-secrets"
        assert sealed.inputs["version"] == "2.18.5"
        assert (
            sealed.inputs["repositoryOpts"]["repo"]
            == "https://bitnami-labs.github.io/sealed-secrets"
        )
        assert sealed.inputs["namespace"] == "kube-system"
        assert sealed.inputs["values"] == json.loads(json.dumps(sealed_secrets_values(settings)))
        # kube-system is never owned by the stack (its destroy would delete it).
        assert "sealed-secrets-namespace" not in mocks.resources
        assert sealed.depends_on == ["sealed-secrets-crds"]

        # Parallel with Argo CD: neither waits for the argo-cd chart.
        assert "argocd-chart" not in rollouts.depends_on + sealed.depends_on
        assert exports["rolloutsNamespace"] is not None
        assert (await resolved(exports["rolloutsNamespace"]))[0] == "argo-rollouts"
        assert (await resolved(exports["sealedSecretsNamespace"]))[0] == "kube-system"

    return mocks.registered().apply(lambda _: check())


def _rolling_only_catalog(root: Path) -> str:
    """One plain app (rolling updates): a catalog a stack without Argo Rollouts accepts."""
    app = root / "apps" / "solo"
    (app / "manifests").mkdir(parents=True)
    (app / "app.yaml").write_text(
        "team: solo\nnamespace: solo\nimage: {repository: ghcr.io/example-org/solo}\n"
        "source: {type: directory}\nenvironments: {dev: {enabled: true}}\n"
    )
    (app / "manifests" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: solo}\n"
    )
    return "apps"


@pulumi.runtime.test
def test_addon_charts_are_not_registered_when_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    apps = _rolling_only_catalog(tmp_path)
    _project_root(tmp_path, monkeypatch)
    mocks, exports = run_program(
        "dev",
        {
            "rollouts": {"enabled": False},
            "sealedSecrets": {"enabled": False},
            "catalog": {"appsDir": apps},
        },
    )

    async def check() -> None:
        types = {r.type_ for r in mocks.resources.values()}
        assert "gitops-platform:index:Rollouts" not in types
        assert "gitops-platform:index:SealedSecrets" not in types
        charts = [n for n, r in mocks.resources.items() if r.type_ == "kubernetes:helm.sh/v4:Chart"]
        assert charts == ["argocd-chart"]
        assert "rolloutsNamespace" not in exports and "sealedSecretsNamespace" not in exports

    return mocks.registered().apply(lambda _: check())


@pulumi.runtime.test
def test_addon_in_its_own_namespace_and_local_chart_archives() -> Any:
    """A sealed-secrets namespace other than kube-system is created (and kept on destroy: the
    controller's keys live there); a local archive replaces the repository."""
    mocks, _ = run_program(
        "dev",
        {
            "sealedSecrets": {
                "enabled": True,
                "namespace": "sealed-secrets",
                "chart": {"path": "../shared/charts/sealed-secrets-2.18.5.tgz"},
            },
            "rollouts": {
                "enabled": True,
                "chart": {"path": "../shared/charts/argo-rollouts-2.41.0.tgz"},
            },
        },
    )

    async def check() -> None:
        sealed = mocks.resources["sealed-secrets-chart"]
        assert sealed.inputs["chart"] == str(
            (REPO / "../shared/charts/sealed-secrets-2.18.5.tgz").resolve()
        )
        assert "version" not in sealed.inputs and "repositoryOpts" not in sealed.inputs
        assert set(sealed.depends_on) == {"sealed-secrets-crds", "sealed-secrets-namespace"}
        namespace = mocks.resources["sealed-secrets-namespace"].inputs
        assert namespace["metadata"]["name"] == "sealed-secrets"
        rollouts = mocks.resources["rollouts-chart"]
        assert rollouts.inputs["chart"] == str(
            (REPO / "../shared/charts/argo-rollouts-2.41.0.tgz").resolve()
        )

    return mocks.registered().apply(lambda _: check())


@pulumi.runtime.test
def test_every_chart_s_crds_are_one_retained_resource_and_no_chart_installs_any(
    kubeconfig: str,
) -> Any:
    """prod (every add-on, the kyverno chart): each chart skips its CRDs and waits for its
    ChartCRDs, which is retainOnDelete (deleting a CRD deletes every custom resource of it);
    Argo CD's is protected like its chart."""
    cluster = {"provider": "existing", "kubeconfig": kubeconfig, "context": "prod"}
    mocks, _ = run_program("prod", {"cluster": cluster})

    async def check() -> None:
        owners = {
            name: rec
            for name, rec in mocks.resources.items()
            if rec.type_ == "pulumi-python:dynamic:Resource" and name.endswith("-crds")
        }
        assert set(owners) == {
            "argocd-crds",
            "rollouts-crds",
            "sealed-secrets-crds",
            "admission-crds",
        }
        for name, owner in owners.items():
            assert owner.retain_on_delete, name
            chart = mocks.resources[name.removesuffix("-crds") + "-chart"]
            assert chart.inputs["skipCrds"] is True
            assert name in chart.depends_on
        assert owners["argocd-crds"].protect
        values = {
            n: mocks.resources[f"{n}-chart"].inputs["values"]
            for n in ("argocd", "rollouts", "admission")
        }
        assert values["argocd"]["crds"]["install"] is False
        assert values["rollouts"]["installCRDs"] is False
        assert values["admission"]["crds"]["install"] is False
        assert not [r for r in mocks.resources.values() if "CustomResourceDefinition" in r.type_]

    return mocks.registered().apply(lambda _: check())


@pytest.mark.parametrize("kind", ["missing", "fifo", "folder"])
def test_a_chart_archive_that_is_not_a_file_fails_before_any_resource(
    tmp_path: Path, kind: str
) -> None:
    archive = tmp_path / "argo-cd.tgz"
    if kind == "fifo":
        os.mkfifo(archive)  # never opened: the check would block otherwise
    elif kind == "folder":
        archive.mkdir()
    mocks = Mocks()
    chart = {"version": "10.1.1", "path": str(archive)}
    with pytest.raises(pulumi.RunError, match=r"argocd\.chart\.path: chart archive .*argo-cd\.tgz"):
        run_program("dev", {"argocd": {"chart": chart}}, mocks)
    assert mocks.objects == []


@pulumi.runtime.test
def test_admission_on_a_real_cluster_is_the_kyverno_chart_then_the_policies(
    kubeconfig: str,
) -> Any:
    """prod: Kyverno's pinned chart in its own namespace, in parallel with Argo CD; the
    ClusterPolicies (exactly infra.specs.admission's) wait for the chart."""
    from infra.catalog import load_catalog
    from infra.specs.admission import admission_policies, kyverno_values
    from tests.support import PROD_ADMISSION

    cluster = {"provider": "existing", "kubeconfig": kubeconfig, "context": "prod"}
    overrides = {"cluster": cluster, "admission": PROD_ADMISSION}
    mocks, exports = run_program("prod", overrides)
    settings = repo_settings("prod", **overrides)

    async def check() -> None:
        assert mocks.resources["admission"].type_ == "gitops-platform:index:Admission"
        chart = mocks.resources["admission-chart"]
        assert chart.type_ == "kubernetes:helm.sh/v4:Chart" and chart.parent == "admission"
        assert chart.inputs["chart"] == "kyverno" and chart.inputs["version"] == "3.9.0"
        assert chart.inputs["repositoryOpts"]["repo"] == "https://kyverno.github.io/kyverno/"
        assert chart.inputs["namespace"] == "kyverno"
        assert chart.inputs["values"] == json.loads(json.dumps(kyverno_values(settings)))
        assert set(chart.depends_on) == {"admission-crds", "admission-namespace"}
        assert "argocd-chart" not in chart.depends_on
        expected = admission_policies(settings, load_catalog(REPO))
        assert expected
        for policy in expected:
            name = f"admission-policies-{policy['metadata']['name']}"
            resource = mocks.resources[name]
            assert resource.parent == "admission-policies"
            assert resource.inputs["kind"] == "ClusterPolicy"
            assert resource.inputs["spec"] == json.loads(json.dumps(policy["spec"]))
            assert resource.depends_on == ["admission-chart"]
        assert (await resolved(exports["admissionNamespace"]))[0] == "kyverno"

    return mocks.registered().apply(lambda _: check())


@pulumi.runtime.test
def test_admission_on_kwok_is_the_crds_and_config_then_the_runtime_then_the_policies(
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """kwok: no chart; the namespace, the CRDs of the built Kyverno and its ConfigMap, which
    the runtime's Kyverno process waits for; the policies wait for the runtime."""
    import infra.program

    crds = ["/toolchain/kyverno/crds/kyverno/kyverno.io_clusterpolicies.yaml"]
    monkeypatch.setattr(infra.program, "kyverno_crd_files", lambda: crds)
    admission = {
        "enabled": True,
        "trustedRegistries": ["127.0.0.1:5000/example-org"],
        "signer": {"publicKey": ec_pem(), "transparencyLog": False},
    }
    mocks, _ = run_program("local", {"admission": admission})

    async def check() -> None:
        assert "admission-chart" not in mocks.resources
        owner = mocks.resources["admission-crds"]
        assert owner.inputs["source"]["files"] == crds and owner.retain_on_delete
        config = mocks.resources["admission-config"]
        assert config.inputs["metadata"]["name"] == "kyverno"
        assert config.depends_on == ["admission-namespace"]
        # The runtime's Kyverno acts as the chart's ServiceAccount, with the chart's RBAC
        # (rendered from the chart beside the binary the toolchain built).
        identity = mocks.resources["admission-identity"]
        objects = {(o["kind"], o["metadata"]["name"]) for o in identity.inputs["objs"]}
        assert {
            ("ServiceAccount", "kyverno-admission-controller"),
            ("ClusterRole", "kyverno:admission-controller:core"),
            ("ClusterRoleBinding", "kyverno:admission-controller"),
            ("Role", "kyverno:admission-controller"),
            ("RoleBinding", "kyverno:admission-controller"),
        } <= objects
        assert not {kind for kind, _ in objects} - {
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
        }
        assert identity.depends_on == ["admission-namespace"]
        runtime = mocks.resources["argocd-runtime"]
        assert {
            "admission-namespace",
            "admission-crds",
            "admission-config",
            "admission-identity",
        } <= set(runtime.depends_on)
        processes = mocks.resources["argocd-runtime-processes"].inputs["settings"]
        assert processes["admission_namespace"] == "kyverno"
        assert processes["admission_insecure_registry"] is True
        policies = [n for n in mocks.resources if n.startswith("admission-policies-")]
        assert len(policies) == 2
        for name in policies:
            assert mocks.resources[name].depends_on == ["argocd-runtime"]

    return mocks.registered().apply(lambda _: check())


def test_a_missing_kyverno_chart_archive_fails_before_any_resource(
    tmp_path: Path, kubeconfig: str
) -> None:
    """A real cluster installs the kyverno chart, so its local archive is checked like the
    others; on kwok no chart is installed and the path is not read."""
    from infra.settings import load_stack_file

    missing = tmp_path / "kyverno-3.9.0.tgz"
    admission = load_stack_file(REPO, "prod").admission.model_dump(exclude_none=True)
    admission["chart"]["path"] = str(missing)
    cluster = {"provider": "existing", "kubeconfig": kubeconfig, "context": "prod"}
    mocks = Mocks()
    with pytest.raises(pulumi.RunError, match=r"admission\.chart\.path: chart archive .*kyverno"):
        run_program("prod", {"cluster": cluster, "admission": admission}, mocks)
    assert mocks.objects == []


def test_a_stack_with_admission_and_unretained_crds_in_its_state_is_refused(
    kubeconfig: str,
) -> None:
    """The previous version did not retain Kyverno's CRD resources: an `up` dropping them would
    delete every ClusterPolicy. The program refuses before any resource, naming the fix."""
    cluster = {"provider": "existing", "kubeconfig": kubeconfig, "context": "prod"}
    urn = (
        "urn:pulumi:prod::gitops-platform::gitops-platform:index:Admission$"
        "kubernetes:helm.sh/v4:Chart$kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
        "::admission-chart:clusterpolicies.kyverno.io"
    )
    legacy = {
        "deployment": {
            "resources": [{"urn": urn, "type": crd_migration.CRD_RESOURCE_TYPE, "custom": True}]
        }
    }
    seen: list[tuple[str, str]] = []

    def state(stack: str, cwd: str) -> dict[str, Any]:
        seen.append((stack, cwd))
        return legacy

    mocks = Mocks()
    with pytest.raises(pulumi.RunError, match=r"make migrate STACK=prod") as info:
        run_program("prod", {"cluster": cluster}, mocks, state)
    assert "admission-chart:clusterpolicies.kyverno.io" in str(info.value)
    assert mocks.objects == []
    assert seen == [("prod", str(REPO))]
