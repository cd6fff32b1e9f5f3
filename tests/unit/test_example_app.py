"""The example app of the golden path (examples/hello-api): its API, its own test suite, its
catalog entry (the handoff can find its tag), its image and its pipeline."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from infra.catalog import load_catalog
from infra.delivery.app_tag import load_app, locate_tag
from infra.delivery.tree import WorkTree
from tests.support import REPO

EXAMPLE = REPO / "examples" / "hello-api"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hello_api_example", EXAMPLE / "hello_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hello_api = load_example()


def request(app: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = b"" if body is None else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    status: list[int] = []
    data = b"".join(app(environ, lambda s, h: status.append(int(s.split()[0]))))
    return status[0], json.loads(data) if data else None


def test_endpoints() -> None:
    app = hello_api.create_app()
    assert request(app, "GET", "/healthz") == (200, {"status": "ok"})
    assert request(app, "POST", "/items", {"name": "a"}) == (201, {"id": 1, "name": "a"})
    assert request(app, "GET", "/items") == (200, {"items": [{"id": 1, "name": "a"}]})
    assert request(app, "GET", "/items/1") == (200, {"id": 1, "name": "a"})
    assert request(app, "DELETE", "/items/1") == (204, None)
    assert request(app, "GET", "/items/1")[0] == 404
    assert request(app, "DELETE", "/items/1")[0] == 404
    assert request(app, "POST", "/items", {"name": ""})[0] == 400


def test_the_examples_own_suite_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout


def test_catalog_entry_is_valid_and_the_handoff_finds_its_tag(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE / "deploy", tmp_path / "apps" / "hello-api")
    catalog = load_catalog(tmp_path)
    assert [app.name for app in catalog.apps] == ["hello-api"]
    tree = WorkTree(tmp_path)
    app = load_app(tree, "hello-api")
    for env in ("dev", "prod"):
        plan = locate_tag(tree, app, env)
        assert plan.files == (f"apps/hello-api/overlays/{env}/kustomization.yaml",)
        assert plan.current_tag() == "0.1.0"


def test_dockerfile_pins_the_base_by_digest_and_runs_unprivileged() -> None:
    lines = [line.strip() for line in (EXAMPLE / "Dockerfile").read_text().splitlines()]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) == 1
    assert "@sha256:" in froms[0] and len(froms[0].split("@sha256:")[1]) == 64
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("USER root", "USER 0", "USER 0:0")
    deployment = yaml.safe_load((EXAMPLE / "deploy/base/deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_pipeline_calls_the_reusable_workflow() -> None:
    ci = yaml.safe_load((EXAMPLE / ".github/workflows/ci.yml").read_text())
    deliver = ci["jobs"]["deliver"]
    assert deliver["uses"].split("@")[0].endswith("/.github/workflows/app-delivery.yml")
    assert deliver["with"]["app"] == "hello-api"
    assert deliver["with"]["image-repository"] == "ghcr.io/example-org/hello-api"
    reusable = yaml.safe_load((REPO / ".github/workflows/app-delivery.yml").read_text())
    inputs = reusable[True]["workflow_call"]["inputs"]  # PyYAML reads the key `on` as True
    assert set(deliver["with"]) <= set(inputs)
    required = {name for name, spec in inputs.items() if spec.get("required")}
    assert required <= set(deliver["with"])


@pytest.mark.parametrize("path", ["/healthz", "/items"])
def test_head_requests_have_no_body(path: str) -> None:
    environ = {"REQUEST_METHOD": "HEAD", "PATH_INFO": path, "wsgi.input": io.BytesIO()}
    assert b"".join(hello_api.create_app()(environ, lambda s, h: None)) == b""
