"""Helm charts kept in this repository: schema, loader checks, the plain-Secret scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.catalog import load_catalog
from infra.errors import ValidationError
from tests.support import copy_example_catalog


def catalog_with(tmp_path: Path, source: str) -> Path:
    root = copy_example_catalog(tmp_path)
    app_file = root / "apps" / "metrics-cache" / "app.yaml"
    text = app_file.read_text()
    start = text.index("source:\n")
    end = text.index("ignoreDifferences:")
    app_file.write_text(text[:start] + source + text[end:])
    return root


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "source:\n  type: helm\n  path: chart\n  chart: redis\n",
            "either `path` (a chart in this repository) or repoURL, chart and version",
        ),
        (
            "source:\n  type: helm\n  repoURL: https://charts.example.com\n  chart: redis\n",
            "an external chart needs repoURL, chart and version (version missing)",
        ),
        ("source:\n  type: helm\n", "(repoURL, chart, version missing)"),
        (
            "source:\n  type: helm\n  path: values\n",
            "apps/metrics-cache/values/Chart.yaml does not exist",
        ),
        ("source:\n  type: helm\n  path: ../hello-web\n", "'../hello-web' escapes the app folder"),
    ],
)
def test_a_helm_source_is_external_or_local_never_both(
    tmp_path: Path, source: str, message: str
) -> None:
    root = catalog_with(tmp_path, source)
    with pytest.raises(ValidationError) as info:
        load_catalog(root)
    assert "apps/metrics-cache/app.yaml: source" in str(info.value)
    assert message in str(info.value)
