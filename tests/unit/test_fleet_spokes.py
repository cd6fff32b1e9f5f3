"""The hub's view of a spoke, pure: what ``argocd cluster add`` creates on it, where its API
server is (its kubeconfig), and Argo CD's cluster Secret for it."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import constants
from infra.errors import ValidationError
from infra.settings import SpokeCluster
from infra.specs.fleet import (
    SpokeEndpoint,
    cluster_annotations,
    cluster_labels,
    cluster_secret,
    kubeconfig_endpoint,
    kubeconfig_with_absolute_paths,
    spoke_identity_objects,
)
from tests.unit.factories import minimal_settings

PEM = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
CA_DATA = base64.b64encode(PEM).decode()
TOKEN = "eyJhbGciOiJSUzI1NiJ9.s3cr3t-token-value"
CLIENT_KEY = base64.b64encode(b"-----BEGIN EC PRIVATE KEY-----\nk3y\n").decode()
FILE, FIELD = "Pulumi.dev.yaml", "gitops-platform:fleet.clusters[0].kubeconfig"


def _kubeconfig(**cluster: Any) -> dict[str, Any]:
    """A kubeconfig with two contexts, ``hub`` (current) and ``eu``, whose user holds
    credentials no message may show."""
    eu = {"server": "https://eu.example.com:6443", "certificate-authority-data": CA_DATA}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "hub",
        "contexts": [
            {"name": "hub", "context": {"cluster": "hub", "user": "admin"}},
            {"name": "eu", "context": {"cluster": "eu", "user": "admin"}},
        ],
        "clusters": [
            {"name": "hub", "cluster": {"server": "https://hub.example.com"}},
            {"name": "eu", "cluster": {**eu, **cluster}},
        ],
        "users": [{"name": "admin", "user": {"token": TOKEN, "client-key-data": CLIENT_KEY}}],
    }


def _text(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc)


def _endpoint(text: object, context: str | None = "eu", base: Path | None = None) -> SpokeEndpoint:
    return kubeconfig_endpoint(text, context, FILE, FIELD, source="kubeconfig k.yaml", base=base)


# -- on the spoke -------------------------------------------------------------------------------


def test_the_spoke_gets_what_argocd_cluster_add_creates() -> None:
    """Argo CD v3.4.4's util/clusterauth: names, namespace, rules, binding, token Secret."""
    account, role, binding, token = spoke_identity_objects()
    assert (account["kind"], account["metadata"]["name"], account["metadata"]["namespace"]) == (
        "ServiceAccount",
        "argocd-manager",
        "kube-system",
    )
    assert (role["kind"], role["metadata"]["name"]) == ("ClusterRole", "argocd-manager-role")
    assert "namespace" not in role["metadata"]
    assert role["rules"] == [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ]
    assert binding["metadata"]["name"] == "argocd-manager-role-binding"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "argocd-manager-role",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "argocd-manager", "namespace": "kube-system"}
    ]
    assert token["type"] == "kubernetes.io/service-account-token"
    assert token["metadata"]["name"] == "argocd-manager-long-lived-token"
    assert token["metadata"]["namespace"] == "kube-system"
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == (
        "argocd-manager"
    )
    assert "data" not in token and "stringData" not in token  # the token controller's
    for obj in (account, role, binding, token):
        assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "gitops-platform"}
    assert spoke_identity_objects() == spoke_identity_objects()


# -- the spoke's endpoint -----------------------------------------------------------------------


def test_the_named_context_s_server_and_certificate_authority() -> None:
    endpoint = _endpoint(_text(_kubeconfig()))
    assert endpoint == SpokeEndpoint("https://eu.example.com:6443", CA_DATA, insecure=False)


def test_no_context_means_the_current_one() -> None:
    endpoint = _endpoint(_text(_kubeconfig()), context=None)
    assert endpoint == SpokeEndpoint("https://hub.example.com", None, insecure=False)


def test_a_certificate_authority_file_is_read_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(PEM)
    doc = _kubeconfig(**{"certificate-authority": "pki/ca.crt"})
    del doc["clusters"][1]["cluster"]["certificate-authority-data"]
    assert _endpoint(_text(doc), base=tmp_path).ca_data == CA_DATA
    absolute = _kubeconfig(**{"certificate-authority": str(tmp_path / "pki" / "ca.crt")})
    del absolute["clusters"][1]["cluster"]["certificate-authority-data"]
    assert _endpoint(_text(absolute)).ca_data == CA_DATA


def test_certificate_authority_data_wins_over_the_file_as_in_kubectl() -> None:
    doc = _kubeconfig(**{"certificate-authority": "/nonexistent/ca.crt"})
    assert _endpoint(_text(doc)).ca_data == CA_DATA


def test_insecure_and_loopback_http() -> None:
    doc = _kubeconfig(**{"insecure-skip-tls-verify": True})
    del doc["clusters"][1]["cluster"]["certificate-authority-data"]
    assert _endpoint(_text(doc)) == SpokeEndpoint("https://eu.example.com:6443", None, True)
    for server in ("http://127.0.0.1:32766", "http://localhost:8080", "http://[::1]:6443"):
        assert _endpoint(_text(_kubeconfig(server=server))).server == server


def _drop(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return edit


def _set(value: Any, *path: str | int) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _keep(doc: dict[str, Any]) -> None:
    """The kubeconfig as it is."""


EU = ("clusters", 1, "cluster")


def _ca_file(path: str) -> Callable[[dict[str, Any]], None]:
    """The spoke's certificate authority as the file ``path`` instead of data."""

    def edit(doc: dict[str, Any]) -> None:
        _drop(*EU, "certificate-authority-data")(doc)
        _set(path, *EU, "certificate-authority")(doc)

    return edit


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], None] | str | None, str | None, str]] = {
    "not YAML": (f"users: [{{token: {TOKEN}}}\ncontexts: ]", "eu", "is not valid YAML"),
    "empty": ("", "eu", "is empty or missing"),
    "missing (None)": (None, "eu", "is empty or missing"),
    "a list": (f"- {TOKEN}\n", "eu", "is not a kubeconfig"),
    "no current-context": (_drop("current-context"), None, "has no current-context"),
    "no such context": (_keep, "us", "has no context 'us' (it has: hub, eu)"),
    "context without cluster": (
        _drop("contexts", 1, "context", "cluster"),
        "eu",
        "names no cluster",
    ),
    "cluster not defined": (
        _set("gone", "contexts", 1, "context", "cluster"),
        "eu",
        "no cluster 'gone'",
    ),
    "no server": (_drop(*EU, "server"), "eu", "(cluster 'eu') has no server"),
    "plain http": (_set("http://eu.example.com", *EU, "server"), "eu", "is not an https:// URL"),
    "not a URL": (_set("https://[::1", *EU, "server"), "eu", "is not a URL"),
    "other scheme": (_set("ftp://eu.example.com", *EU, "server"), "eu", "is not an https:// URL"),
    "credentials in the server": (
        _set(f"https://admin:{TOKEN}@eu.example.com", *EU, "server"),
        "eu",
        "carries credentials",
    ),
    "CA data not base64": (
        _set("%%%" + TOKEN, *EU, "certificate-authority-data"),
        "eu",
        "not a base64 PEM",
    ),
    "CA data not PEM": (
        _set(base64.b64encode(TOKEN.encode()).decode(), *EU, "certificate-authority-data"),
        "eu",
        "not a base64 PEM",
    ),
    "relative CA file without a folder": (
        _ca_file("ca.crt"),
        "eu",
        "is a relative path",
    ),
    "CA file missing": (
        _ca_file("/nonexistent/ca.crt"),
        "eu",
        "certificate-authority /nonexistent/ca.crt: cannot read file",
    ),
    "insecure and a CA": (_set(True, *EU, "insecure-skip-tls-verify"), "eu", "has both insecure"),
    "insecure not a boolean": (
        _set("please", *EU, "insecure-skip-tls-verify"),
        "eu",
        "not true or false",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_kubeconfig_is_one_problem_naming_the_setting_never_a_secret(
    case: str,
) -> None:
    edit, context, expected = MALFORMED[case]
    text: object = edit
    if callable(edit):
        doc = _kubeconfig()
        edit(doc)
        text = _text(doc)
    with pytest.raises(ValidationError) as info:
        _endpoint(text, context)
    [problem] = info.value.problems
    assert (problem.file, problem.field) == (FILE, FIELD)
    assert problem.message.startswith("kubeconfig k.yaml ")
    assert expected in problem.message
    for secret in (TOKEN, "s3cr3t", CLIENT_KEY):
        assert secret not in str(info.value)


def test_a_ca_file_that_is_not_a_certificate(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text(TOKEN)
    doc = _kubeconfig(**{"certificate-authority": "ca.crt"})
    del doc["clusters"][1]["cluster"]["certificate-authority-data"]
    with pytest.raises(ValidationError, match="is not a PEM certificate") as info:
        _endpoint(_text(doc), base=tmp_path)
    assert TOKEN not in str(info.value)


def test_relative_paths_are_made_absolute_for_the_provider_and_nothing_else_changes() -> None:
    """The spoke's provider gets the text, not the file: kubectl's relative paths (read from
    the kubeconfig's folder) must be absolute in it; a kubeconfig without any is unchanged."""
    plain = _text(_kubeconfig())
    assert kubeconfig_with_absolute_paths(plain, Path("/home/me/.kube")) == plain
    doc = _kubeconfig(**{"certificate-authority": "pki/ca.crt"})
    doc["users"][0]["user"].update(
        {"client-certificate": "admin.crt", "client-key": "/abs/admin.key", "tokenFile": "t"}
    )
    out = yaml.safe_load(kubeconfig_with_absolute_paths(_text(doc), Path("/home/me/.kube")))
    assert out["clusters"][1]["cluster"]["certificate-authority"] == "/home/me/.kube/pki/ca.crt"
    user = out["users"][0]["user"]
    assert user["client-certificate"] == "/home/me/.kube/admin.crt"
    assert user["client-key"] == "/abs/admin.key" and user["tokenFile"] == "/home/me/.kube/t"
    assert user["token"] == TOKEN and out["current-context"] == "hub"


# -- on the hub ---------------------------------------------------------------------------------


def _spoke(**fields: Any) -> SpokeCluster:
    settings = minimal_settings(
        "dev",
        fleet={
            "clusters": [
                {
                    "name": "eu-1",
                    "kubeconfig": {"context": "eu"},
                    "region": "eu",
                    "addons": ["ingress"],
                    **fields,
                }
            ]
        },
    )
    return settings.fleet.clusters[0]


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_the_cluster_secret_is_argo_cd_s_declarative_cluster_from_the_one_model() -> None:
    spoke = _spoke(labels={"tier": "gold"}, annotations={"team.example.com/owner": "web"})
    endpoint = SpokeEndpoint("https://eu.example.com:6443", CA_DATA)
    secret = cluster_secret("argocd", "dev", spoke, endpoint, TOKEN)
    meta = secret["metadata"]
    assert (meta["name"], meta["namespace"]) == ("cluster-eu-1", "argocd")
    assert meta["labels"] == cluster_labels("dev", spoke)
    assert meta["labels"]["argocd.argoproj.io/secret-type"] == "cluster"
    assert meta["annotations"] == cluster_annotations(spoke)
    assert secret["type"] == "Opaque" and "stringData" not in secret
    data = _decoded(secret)
    assert list(data) == ["name", "server", "config"]
    assert data["name"] == "eu-1" and data["server"] == "https://eu.example.com:6443"
    assert json.loads(data["config"]) == {
        "bearerToken": TOKEN,
        "tlsClientConfig": {"caData": CA_DATA, "insecure": False},
    }
    # Same inputs, same bytes: nothing to diff on the next run.
    assert cluster_secret("argocd", "dev", spoke, endpoint, TOKEN) == secret
    assert cluster_secret("argocd", "dev", spoke, endpoint, TOKEN + "x") != secret


def test_the_cluster_secret_without_a_ca_or_insecure() -> None:
    spoke = _spoke()
    insecure = cluster_secret(
        "ops", "dev", spoke, SpokeEndpoint("https://eu.example.com", None, True), TOKEN
    )
    assert insecure["metadata"]["namespace"] == "ops"
    assert json.loads(_decoded(insecure)["config"])["tlsClientConfig"] == {"insecure": True}


def test_the_secret_names_and_prefix_are_the_constants() -> None:
    assert (
        cluster_secret("argocd", "dev", _spoke(), SpokeEndpoint("https://x", None), "t")[
            "metadata"
        ]["name"]
        == f"{constants.CLUSTER_SECRET_PREFIX}eu-1"
    )
