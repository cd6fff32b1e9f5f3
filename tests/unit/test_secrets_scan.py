"""No plain secrets under apps/: the scan, alone and as part of the catalog validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.catalog import load_catalog
from infra.catalog.secrets_scan import MAX_MANIFEST_BYTES, plain_secret_problems
from infra.errors import ValidationError
from tests.support import REPO, copy_example_catalog


def scan(tmp_path: Path, files: dict[str, str]) -> list[str]:
    apps = tmp_path / "apps"
    for name, text in files.items():
        path = apps / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return [str(p) for p in plain_secret_problems(tmp_path, apps)]


def test_the_example_catalog_has_no_plain_secret() -> None:
    assert plain_secret_problems(REPO, REPO / "apps") == []


GOOD = {
    "web/manifests/sealed.yaml": """\
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: db, namespace: web}
spec:
  encryptedData: {password: AgBy3i4OJSWK+PiTySYZZA==}
  template: {metadata: {name: db}, type: Opaque}
""",
    "web/manifests/token.yaml": """\
# The cluster fills a service-account token Secret: no value is committed.
apiVersion: v1
kind: Secret
metadata:
  name: build-robot
  annotations: {kubernetes.io/service-account.name: build-robot}
type: kubernetes.io/service-account-token
---
apiVersion: v1
kind: Secret
metadata: {name: empty}
data: {}
stringData:
""",
    "web/manifests/config.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  labels: &labels {app: web}
  annotations: *labels
data: &data {password-policy: strict}
binaryData: {copy: *data}
""",
    "web/manifests/other-group.yaml": """\
apiVersion: example.com/v1
kind: Secret
metadata: {name: not-core}
data: {a: b}
""",
    "web/overlays/dev/kustomization.yaml": """\
resources: [../../base, sealed-db.yaml]
secretGenerator:
  - name: merged
    behavior: merge
""",
    "web/manifests/list.json": json.dumps({"kind": "List", "items": [{"kind": "ConfigMap"}]}),
    "web/README.md": "kind: Secret\ndata: {a: b}\n",
    "web/manifests/empty.yaml": "",
}


def test_good_files_pass(tmp_path: Path) -> None:
    assert scan(tmp_path, GOOD) == []


def test_plain_secret_data_and_string_data_are_refused(tmp_path: Path) -> None:
    problems = scan(
        tmp_path,
        {
            "web/overlays/dev/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: db
data:
  password: aHVudGVyMg==
stringData:
  user: app
""",
        },
    )
    assert problems == [
        "apps/web/overlays/dev/secret.yaml: Secret/db.data: plain Secret values must not be "
        "committed; seal them instead (`platformctl seal --app web --stack STACK --env dev --name db "
        "--from-literal KEY=VALUE`, see docs/secrets.md) and delete this Secret (line 5)",
        "apps/web/overlays/dev/secret.yaml: Secret/db.stringData: plain Secret values must not "
        "be committed; seal them instead (`platformctl seal --app web --stack STACK --env dev --name db "
        "--from-literal KEY=VALUE`, see docs/secrets.md) and delete this Secret (line 7)",
    ]


def test_multi_document_names_the_document(tmp_path: Path) -> None:
    problems = scan(
        tmp_path,
        {
            "data/manifests/all.yml": """\
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: Secret
metadata: {name: named}
stringData: {token: abc}
---
kind: Secret
data: {token: YWJj}
""",
        },
    )
    assert len(problems) == 2
    assert problems[0].startswith("apps/data/manifests/all.yml: Secret/named.stringData: ")
    assert problems[0].endswith("(line 8)")
    assert "--app data --stack STACK --env ENV --name named" in problems[0]
    assert problems[1].startswith("apps/data/manifests/all.yml: document 3: Secret.data: ")
    assert problems[1].endswith("(line 11)")


def test_anchors_and_aliases_are_tolerated_and_followed(tmp_path: Path) -> None:
    problems = scan(
        tmp_path,
        {
            "web/base/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: aliased
  annotations: &values {password: aHVudGVyMg==}
data: *values
""",
        },
    )
    assert [p.split(": ")[1] for p in problems] == ["Secret/aliased.data"]


def test_list_items_json_and_nested_folders(tmp_path: Path) -> None:
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"kind": "ConfigMap", "metadata": {"name": "c"}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s"},
                "data": {"a": "Yg=="},
            },
        ],
    }
    problems = scan(
        tmp_path,
        {
            "web/manifests/deep/er/list.json": json.dumps(listing, indent="\t"),
            "web/manifests/items.yaml": "kind: SecretList\nitems:\n  - kind: Secret\n    stringData: {a: b}\n",
        },
    )
    assert sorted(p.split(" (line")[0].split(": plain")[0] for p in problems) == [
        "apps/web/manifests/deep/er/list.json: Secret/s.data",
        "apps/web/manifests/items.yaml: document 1.items[0]: Secret.stringData",
    ]


def test_kustomize_secret_generator_with_values_is_refused(tmp_path: Path) -> None:
    problems = scan(
        tmp_path,
        {
            "web/overlays/prod/kustomization.yaml": """\
resources: [../../base]
secretGenerator:
  - name: db
    literals: [password=hunter2]
  - name: tls
    files: [tls.key]
""",
        },
    )
    assert problems == [
        "apps/web/overlays/prod/kustomization.yaml: secretGenerator[0]: generates a plain Secret "
        "from committed values (literals); seal them instead (`platformctl seal --app web --stack STACK "
        "--env prod --name db --from-literal KEY=VALUE`, see docs/secrets.md) (line 3)",
        "apps/web/overlays/prod/kustomization.yaml: secretGenerator[1]: generates a plain Secret "
        "from committed values (files); seal them instead (`platformctl seal --app web --stack STACK "
        "--env prod --name tls --from-literal KEY=VALUE`, see docs/secrets.md) (line 5)",
    ]


def test_unreadable_files_are_problems_not_exceptions(tmp_path: Path) -> None:
    problems = scan(
        tmp_path,
        {
            "web/manifests/broken.yaml": "kind: Secret\ndata: [unclosed\n",
            "web/manifests/broken.json": "{kind: Secret",
            "web/manifests/huge.yaml": "a: " + "x" * MAX_MANIFEST_BYTES + "\n",
        },
    )
    (tmp_path / "apps" / "web" / "manifests" / "latin1.yaml").write_bytes(b"a: \xe9\n")
    problems = [str(p) for p in plain_secret_problems(tmp_path, tmp_path / "apps")]
    assert [p.split(": ")[0] for p in problems] == [
        "apps/web/manifests/broken.json",
        "apps/web/manifests/broken.yaml",
        "apps/web/manifests/huge.yaml",
        "apps/web/manifests/latin1.yaml",
    ]
    assert "invalid JSON" in problems[0] and "invalid YAML" in problems[1]
    assert "the limit is 1048576 bytes" in problems[2] and "not UTF-8" in problems[3]


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    lines += ["kind: Secret", "data: *a8"]  # 10^9 values once expanded
    problems = scan(tmp_path, {"web/manifests/bomb.yaml": "\n".join(lines) + "\n"})
    assert problems == [
        "apps/web/manifests/bomb.yaml: (file): the document holds more than 1,000,000 values "
        "once its aliases (*) are expanded (line 6)"
    ]


def test_app_yaml_is_left_to_the_strict_loader(tmp_path: Path) -> None:
    assert scan(tmp_path, {"web/app.yaml": "kind: Secret\ndata: {a: b}\n"}) == []
    # ... but a file called app.yaml deeper down is a manifest like any other.
    assert len(scan(tmp_path, {"web/manifests/app.yaml": "kind: Secret\ndata: {a: b}\n"})) == 1


def test_load_catalog_reports_plain_secrets_with_the_other_problems(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    (tmp_path / "apps" / "hello-web" / "manifests" / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: api-key}\nstringData: {key: s3cr3t}\n"
    )
    (tmp_path / "apps" / "payments-api" / "app.yaml").write_text("team: payments\n")
    with pytest.raises(ValidationError) as info:
        load_catalog(tmp_path)
    found = [str(p) for p in info.value.problems]
    assert any(
        p.startswith("apps/hello-web/manifests/secret.yaml: Secret/api-key.stringData: plain")
        for p in found
    ), found
    assert any(p.startswith("apps/payments-api/app.yaml: namespace: required") for p in found)
