"""The program's spokes under Pulumi's mocks: each spoke's objects through its own provider,
its cluster Secret through the hub's, a secret; a stack without spokes registers exactly
what it did before."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import pytest
import yaml

from infra import constants
from infra.settings.fleet import kwok_spoke_name
from infra.specs.fleet import cluster_annotations, cluster_labels
from tests.unit.factories import repo_settings
from tests.unit.test_program import SECRET_MARK, SECRET_SIG, Mocks, resolved, run_program

PEM = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
SPOKE_TOKEN = "eyJhbGciOiJSUzI1NiJ9.spoke-token"
"""What the spoke's token controller writes into the token Secret (the mocks play it)."""
SPOKE_IDENTITY = {
    "kubernetes:core/v1:ServiceAccount": "argocd-manager",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": "argocd-manager-role",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": "argocd-manager-role-binding",
    "kubernetes:core/v1:Secret": "argocd-manager-long-lived-token",
}


class FleetMocks(Mocks):
    """The program's mocks, plus: which provider each resource was registered with, the
    token controller, and the stacks a StackReference reads."""

    def __init__(self, stacks: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.providers: dict[str, str] = {}
        self.stacks = stacks or {}

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        id_, outputs = super().new_resource(args)
        self.providers[args.name] = args.provider or ""
        if args.inputs.get("type") == constants.SERVICE_ACCOUNT_TOKEN_TYPE:
            token = base64.b64encode(SPOKE_TOKEN.encode()).decode()
            outputs["data"] = {"token": token, "ca.crt": base64.b64encode(PEM).decode()}
        if args.typ == "pulumi-python:dynamic:Resource" and args.name.startswith("spoke-"):
            # A kwok spoke's cluster: what `kwokctl get kubeconfig` prints (loopback, a CA).
            ca = {"certificate-authority-data": base64.b64encode(PEM).decode()}
            outputs["kubeconfig"] = yaml.safe_dump(_kubeconfig("https://127.0.0.1:32000", ca))
        if args.typ == "pulumi:pulumi:StackReference":
            outputs = {"name": args.inputs["name"], "outputs": self.stacks[args.inputs["name"]]}
        return id_, outputs

    def provider_of(self, name: str) -> str:
        """The provider resource's name (a reference is ``<urn>::<id>``, ids ``<name>-id``)."""
        return self.providers[name].rsplit("::", 1)[1].removesuffix("-id")


def _kubeconfig(server: str, ca: dict[str, str], current: str = "eu") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "contexts": [{"name": "eu", "context": {"cluster": "eu", "user": "admin"}}],
        "clusters": [{"name": "eu", "cluster": {"server": server, **ca}}],
        "users": [{"name": "admin", "user": {"token": "admin-token"}}],
    }


@pytest.fixture
def spoke_kubeconfig(tmp_path: Path) -> Path:
    """A spoke's kubeconfig whose certificate authority is a file beside it."""
    (tmp_path / "ca.crt").write_bytes(PEM)
    path = tmp_path / "spoke.kubeconfig"
    path.write_text(
        yaml.safe_dump(
            _kubeconfig("https://eu.example.com:6443", {"certificate-authority": "ca.crt"})
        )
    )
    return path


def _fleet(*clusters: dict[str, Any]) -> dict[str, Any]:
    return {"fleet": {"clusters": list(clusters)}}


def _config(mocks: FleetMocks, name: str) -> dict[str, Any]:
    """The cluster Secret's ``data``, decoded, with ``config`` parsed."""
    data = mocks.resources[name].inputs["data"]
    assert data.get(SECRET_SIG) == SECRET_MARK, "the cluster Secret's data must be a secret"
    decoded = {k: base64.b64decode(v).decode() for k, v in data["value"].items()}
    return {**decoded, "config": json.loads(decoded["config"])}


@pulumi.runtime.test
def test_a_kubeconfig_spoke_gets_argocd_s_identity_and_the_hub_its_cluster_secret(
    spoke_kubeconfig: Path,
) -> Any:
    spoke = {
        "name": "eu-1",
        "kubeconfig": {"path": str(spoke_kubeconfig), "context": "eu"},
        "region": "eu",
        "labels": {"tier": "gold"},
        "annotations": {"team.example.com/owner": "web"},
    }
    mocks = FleetMocks()
    _, exports = run_program("dev", _fleet(spoke), mocks)
    settings = repo_settings("dev", **_fleet(spoke))

    async def check() -> None:
        assert mocks.resources["spoke-eu-1"].type_ == "gitops-platform:index:Spoke"
        provider = mocks.resources["spoke-eu-1-k8s"]
        assert provider.type_ == "pulumi:providers:kubernetes"
        assert provider.parent == "spoke-eu-1"
        assert provider.inputs["context"] == "eu"
        assert provider.inputs["clusterIdentifier"] == "spoke:eu-1:kubeconfig:eu"
        # A secret; its relative CA path made absolute (the provider has no folder).
        kubeconfig = provider.inputs["kubeconfig"]
        assert kubeconfig[SECRET_SIG] == SECRET_MARK
        ca = yaml.safe_load(kubeconfig["value"])["clusters"][0]["cluster"]
        assert ca["certificate-authority"] == str(spoke_kubeconfig.parent / "ca.crt")

        on_spoke = {
            name: rec
            for name, rec in mocks.resources.items()
            if rec.parent == "spoke-eu-1"
            and name != "spoke-eu-1-cluster-secret"
            and rec.type_ != "pulumi:providers:kubernetes"
        }
        assert {r.type_: r.inputs["metadata"]["name"] for r in on_spoke.values()} == (
            SPOKE_IDENTITY
        )
        for name in on_spoke:
            assert mocks.provider_of(name) == "spoke-eu-1-k8s", name
        token = mocks.resources["spoke-eu-1-token"]
        assert token.inputs["type"] == "kubernetes.io/service-account-token"
        assert token.depends_on == ["spoke-eu-1-service-account"]

        hub = mocks.resources["spoke-eu-1-cluster-secret"]
        assert mocks.provider_of("spoke-eu-1-cluster-secret") == "cluster-k8s"
        assert hub.depends_on == ["argocd-chart"]
        meta = hub.inputs["metadata"]
        assert (meta["name"], meta["namespace"]) == ("cluster-eu-1", "argocd")
        spoke_settings = settings.fleet.clusters[0]
        assert meta["labels"] == cluster_labels("dev", spoke_settings)
        assert meta["annotations"] == cluster_annotations(spoke_settings)
        assert "stringData" not in hub.inputs
        assert _config(mocks, "spoke-eu-1-cluster-secret") == {
            "name": "eu-1",
            "server": "https://eu.example.com:6443",
            "config": {
                "bearerToken": SPOKE_TOKEN,
                "tlsClientConfig": {"caData": base64.b64encode(PEM).decode(), "insecure": False},
            },
        }
        assert (await resolved(exports["fleetClusters"]))[0] == ["eu-1"]

    return mocks.registered().apply(lambda _: check())


@pulumi.runtime.test
def test_a_stack_reference_spoke_reads_the_other_stack_s_kubeconfig_output() -> Any:
    kubeconfig = yaml.safe_dump(
        _kubeconfig(
            "https://us.example.com",
            {"certificate-authority-data": base64.b64encode(PEM).decode()},
        )
    )
    spoke = {"name": "us-1", "stackReference": {"stack": "acme/gitops-platform/us"}}
    mocks = FleetMocks({"acme/gitops-platform/us": {"kubeconfig": kubeconfig}})
    run_program("dev", _fleet(spoke), mocks)

    async def check() -> None:
        reference = mocks.resources["spoke-us-1-stack"]
        assert reference.type_ == "pulumi:pulumi:StackReference"
        assert reference.inputs["name"] == "acme/gitops-platform/us"
        provider = mocks.resources["spoke-us-1-k8s"].inputs
        assert provider["kubeconfig"] == {SECRET_SIG: SECRET_MARK, "value": kubeconfig}
        assert "context" not in provider
        assert provider["clusterIdentifier"] == "spoke:us-1:stack:acme/gitops-platform/us"
        assert mocks.provider_of("spoke-us-1-token") == "spoke-us-1-k8s"
        config = _config(mocks, "spoke-us-1-cluster-secret")
        assert config["server"] == "https://us.example.com"
        assert config["config"]["bearerToken"] == SPOKE_TOKEN

    return mocks.registered().apply(lambda _: check())


def test_a_missing_or_bad_kubeconfig_fails_before_any_resource(
    tmp_path: Path, spoke_kubeconfig: Path
) -> None:
    missing = {"name": "eu-1", "kubeconfig": {"path": str(tmp_path / "nope"), "context": "eu"}}
    wrong_context = {
        "name": "eu-2",
        "kubeconfig": {"path": str(spoke_kubeconfig), "context": "us"},
    }
    mocks = FleetMocks()
    with pytest.raises(pulumi.RunError) as info:
        run_program("dev", _fleet(missing, wrong_context), mocks)
    assert mocks.objects == [], "a bad spoke must fail before the first resource"
    message = str(info.value)
    assert (
        f"fleet.clusters[0].kubeconfig.path: kubeconfig {tmp_path / 'nope'} does not exist"
        in message
    )
    assert f"fleet.clusters[1].kubeconfig: kubeconfig {spoke_kubeconfig} has no context 'us'" in (
        message
    )
    assert "admin-token" not in message


@pulumi.runtime.test
def test_a_kwok_spoke_is_a_kwok_cluster_the_stack_creates_beside_its_own() -> Any:
    mocks = FleetMocks()
    _, exports = run_program("local", _fleet({"name": "kw-1", "kwok": {}}), mocks)

    async def check() -> None:
        cluster = mocks.resources["spoke-kw-1-cluster-kwok"]
        assert cluster.inputs["name"] == kwok_spoke_name("gitops-local", "kw-1")
        assert cluster.inputs["nodes"] == 1
        assert mocks.provider_of("spoke-kw-1-service-account") == "spoke-kw-1-k8s"
        assert _config(mocks, "spoke-kw-1-cluster-secret")["server"] == "https://127.0.0.1:32000"
        assert (await resolved(exports["fleetClusters"]))[0] == ["kw-1"]

    return mocks.registered().apply(lambda _: check())


@pulumi.runtime.test
def test_the_hub_secret_is_protected_until_the_spoke_allows_its_removal() -> Any:
    """Removing a spoke removes its Applications: the engine refuses to delete a protected
    resource, so the removal needs `allowRemoval: true` applied first."""
    mocks = FleetMocks()
    kept = {"name": "kw-1", "kwok": {}}
    allowed = {"name": "kw-2", "kwok": {}, "allowRemoval": True}
    run_program("local", _fleet(kept, allowed), mocks)

    async def check() -> None:
        assert mocks.resources["spoke-kw-1-cluster-secret"].protect
        assert not mocks.resources["spoke-kw-2-cluster-secret"].protect

    return mocks.registered().apply(lambda _: check())


def _registered(stack: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """What the program registers for ``stack`` (each run to its end, alone): name ->
    (type, parent, inputs as JSON) of every resource, and the exports' names."""
    found: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> Any:
        mocks = FleetMocks()
        _, exports = run_program(stack, overrides, mocks)

        def record() -> None:
            found["exports"] = sorted(exports)
            found["resources"] = {
                name: (rec.type_, rec.parent, json.dumps(rec.inputs, sort_keys=True, default=str))
                for name, rec in mocks.resources.items()
            }

        return mocks.registered().apply(lambda _: record())

    run()
    return found


def test_spokes_add_their_own_resources_and_change_none_of_the_stack_s(
    spoke_kubeconfig: Path,
) -> None:
    """Without fleet nothing of it is registered or exported; with it, every resource the
    stack had is registered as it was (same name, type, parent and inputs), but the catalog's
    AppProjects and ApplicationSets, which keep their names (one of each per team) and point
    at the spokes."""
    spoke = {"name": "eu-1", "kubeconfig": {"path": str(spoke_kubeconfig), "context": "eu"}}
    without, with_fleet = _registered("dev", None), _registered("dev", _fleet(spoke))
    assert "fleetClusters" not in without["exports"]
    assert set(with_fleet["exports"]) - set(without["exports"]) == {"fleetClusters"}
    types = {type_ for type_, _, _ in without["resources"].values()}
    assert "gitops-platform:index:Spoke" not in types
    assert "pulumi:pulumi:StackReference" not in types
    before, after = without["resources"], with_fleet["resources"]
    catalog = {name for name in before if name.startswith("catalog-")}
    assert catalog and catalog == {name for name in after if name.startswith("catalog-")}
    assert {name: after.get(name) for name in before.keys() - catalog} == {
        name: before[name] for name in before.keys() - catalog
    }
    added = after.keys() - before.keys()
    assert added and all(name.startswith("spoke-eu-1") for name in added)


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ({}, "output 'kubeconfig' of stack acme/gitops-platform/us is empty or missing"),
        (
            {"kubeconfig": "apiVersion: v1\nkind: Config\nusers: [{user: {token: t0ken}}]\n"},
            "output 'kubeconfig' of stack acme/gitops-platform/us has no current-context",
        ),
    ],
)
def test_a_stack_reference_without_a_usable_kubeconfig_is_a_problem_naming_the_setting(
    outputs: dict[str, Any], expected: str
) -> None:
    """Known only once the other stack is read: reported as a setting's problem, no secret."""
    spoke = {"name": "us-1", "stackReference": {"stack": "acme/gitops-platform/us"}}

    @pulumi.runtime.test
    def run() -> Any:
        mocks = FleetMocks({"acme/gitops-platform/us": outputs})
        run_program("dev", _fleet(spoke), mocks)
        return mocks.registered()

    with pytest.raises(pulumi.RunError) as info:
        run()
    message = str(info.value)
    assert "Pulumi.dev.yaml: gitops-platform:fleet.clusters[0].stackReference: " in message
    assert expected in message and "t0ken" not in message
