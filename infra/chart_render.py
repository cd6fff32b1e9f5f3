"""A chart's CRDs, rendered once and kept: ``helm template`` (or Kyverno's CRD files) in,
:class:`~infra.specs.crds.CrdSet` out.

The program needs the digests on every preview; the CRD owner needs the documents when it
applies them. Both call :func:`load_crds`, which renders with the toolchain's helm (the same
chart, version and CRD values) or reads the files, and keeps the result in a cache keyed by
what was rendered: the archive's bytes (or repository, chart and version), the values and the
files' bytes. A warm preview therefore reads one small file per chart instead of running helm.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Final

from infra import constants
from infra.delivery.render_app import target_cluster
from infra.errors import PlatformError, ValidationError
from infra.settings import ChartSettings, StackSettings
from infra.specs.crds import CRD_SWITCHES, CrdSet, CrdSource, crd_documents, crd_set
from infra.yamlio import load_manifests

__all__ = [
    "CACHE_FORMAT",
    "CHART_RELEASES",
    "carried_chart",
    "chart_crd_source",
    "crd_cache_dir",
    "load_crd_documents",
    "load_crd_set",
    "render_chart_folder",
    "stack_crd_sources",
]

CACHE_FORMAT: Final = "crds-v1"
"""Part of every cache key: a change of what is stored invalidates older entries."""
HELM_TIMEOUT: Final = 300

CHART_RELEASES: Final = {
    "argocd": (constants.ARGOCD_CHART, constants.ARGOCD_RELEASE),
    "rollouts": (constants.ROLLOUTS_CHART, constants.ROLLOUTS_CHART),
    "sealedSecrets": (constants.SEALED_SECRETS_CHART, constants.SEALED_SECRETS_CHART),
    "admission": (constants.KYVERNO_CHART, constants.KYVERNO_CHART),
}
"""Settings section -> (chart name, release name) of every chart the platform installs."""


def crd_cache_dir() -> Path:
    """``$GITOPS_CRD_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/gitops-platform/crds``."""
    explicit = os.environ.get("GITOPS_CRD_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-platform" / "crds"


def _file_digest(path: str, what: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise PlatformError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None


def _key(source: CrdSource) -> str:
    what = f"the CRDs of chart {source.chart} {source.version}"
    parts: dict[str, Any] = {"format": CACHE_FORMAT, "source": source.to_json()}
    if source.archive:
        parts["archive"] = _file_digest(source.archive, what)
        parts["source"] = {**parts["source"], "archive": None}  # its bytes count, not its path
    if source.files:
        parts["files"] = [(Path(f).name, _file_digest(f, what)) for f in source.files]
        parts["source"] = {**parts["source"], "files": []}
    blob = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def _helm(what: str) -> str:
    """The toolchain's helm, found on PATH; a PlatformError naming ``what`` needs it."""
    helm = shutil.which("helm")
    if helm is None:
        raise PlatformError(
            f"{what} needs `helm` on PATH: run `make toolchain` and use the Makefile targets "
            "(they put its bin directory on PATH)"
        )
    return helm


def _helm_render(source: CrdSource) -> str:
    helm = _helm(f"rendering the CRDs of chart {source.chart}")
    with tempfile.TemporaryDirectory(prefix="gitops-crds-") as tmp:
        values = Path(tmp) / "values.json"
        values.write_text(json.dumps(dict(source.values)))
        argv = [helm, "template", source.release]
        if source.archive:
            argv.append(source.archive)
        else:
            argv += [source.chart, "--repo", str(source.repository), "--version", source.version]
        argv += ["--namespace", source.namespace, "--include-crds", "--values", str(values)]
        if source.kube_version:
            argv += ["--kube-version", source.kube_version]
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=HELM_TIMEOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PlatformError(
                f"rendering the CRDs of chart {source.chart} {source.version}: helm did not "
                f"finish in {HELM_TIMEOUT}s"
            ) from None
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        raise PlatformError(
            f"rendering the CRDs of chart {source.chart} {source.version} failed: {tail}"
        )
    return proc.stdout


def _render(source: CrdSource) -> list[dict[str, Any]]:
    if source.files:
        texts = []
        for f in source.files:
            try:
                texts.append(Path(f).read_text())
            except OSError as exc:
                raise PlatformError(f"cannot read CRD file {f}: {exc.strerror or exc}") from None
        text = "\n---\n".join(texts)
    else:
        text = _helm_render(source)
    try:
        documents = crd_documents(load_manifests(text, f"chart {source.chart} {source.version}"))
    except (ValidationError, ValueError) as exc:
        raise PlatformError(
            f"the CRDs of chart {source.chart} {source.version} do not parse: {exc}"
        ) from None
    return documents


def _entry(source: CrdSource, cache: Path | None) -> Path:
    return (cache or crd_cache_dir()) / _key(source)


def _store(entry: Path, documents: list[dict[str, Any]], digests: dict[str, str]) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        for suffix, data in ((".json", {"documents": documents}), (".digests.json", digests)):
            fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".entry-")
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
            os.replace(tmp, entry.with_name(entry.name + suffix))
    except OSError:
        pass  # a cache that cannot be written only costs the next render


def load_crd_documents(source: CrdSource, cache: Path | None = None) -> list[dict[str, Any]]:
    """The chart's CRD documents, from the cache when this exact source was rendered before.
    A PlatformError names the chart when helm or a file fails."""
    entry = _entry(source, cache)
    try:
        documents: list[dict[str, Any]] = json.loads(
            entry.with_name(entry.name + ".json").read_text()
        )["documents"]
        return documents
    except (OSError, ValueError, KeyError, TypeError):
        pass
    documents = _render(source)
    _store(entry, documents, dict(crd_set(source, documents).digests))
    return documents


def load_crd_set(source: CrdSource, cache: Path | None = None) -> CrdSet:
    """The chart's CRD names and digests (what the program needs on every preview): one small
    cached file, rendered first when missing."""
    entry = _entry(source, cache)
    try:
        digests = json.loads(entry.with_name(entry.name + ".digests.json").read_text())
        if isinstance(digests, dict) and all(isinstance(v, str) for v in digests.values()):
            return CrdSet(source, digests)
    except (OSError, ValueError):
        pass
    return crd_set(source, load_crd_documents(source, cache))


def chart_crd_source(
    chart: ChartSettings,
    chart_name: str,
    release: str,
    namespace: str,
    project_root: Path,
    kube_version: str = "",
) -> CrdSource:
    """Where a chart's CRDs come from: the same chart (archive or repository and version) the
    stack installs, with the chart's CRD switch on."""
    archive = None
    if chart.path:
        path = Path(chart.path)
        archive = str((path if path.is_absolute() else project_root / path).resolve())
    return CrdSource(
        chart=chart_name,
        version=chart.version,
        release=release,
        namespace=namespace,
        repository=None if archive else chart.repository,
        archive=archive,
        values=CRD_SWITCHES[chart_name].on,
        kube_version=kube_version,
    )


def stack_crd_sources(
    settings: StackSettings, project_root: Path, kyverno_files: list[str] | None = None
) -> dict[str, CrdSource]:
    """Settings section -> the CRD source of every chart the stack installs. On kwok, Kyverno's
    CRDs are ``kyverno_files`` (beside the binary the toolchain built), not a chart's."""
    sections: dict[str, Any] = {"argocd": settings.argocd}
    if settings.rollouts.enabled:
        sections["rollouts"] = settings.rollouts
    if settings.sealedSecrets.enabled:
        sections["sealedSecrets"] = settings.sealedSecrets
    if settings.admission.enabled:
        sections["admission"] = settings.admission
    kube_version = target_cluster(settings).kube_version
    sources: dict[str, CrdSource] = {}
    for section, config in sections.items():
        chart_name, release = CHART_RELEASES[section]
        source = chart_crd_source(
            config.chart, chart_name, release, config.namespace, project_root, kube_version
        )
        if section == "admission" and kyverno_files is not None:
            source = CrdSource(
                chart=chart_name,
                version=config.chart.version,
                release=release,
                namespace=config.namespace,
                files=tuple(kyverno_files),
            )
        sources[section] = source
    return sources


def carried_chart(folder: Path, into: Path) -> Path:
    """A copy of the chart ``folder`` in ``into`` whose Chart.yaml lists only the dependencies
    the folder carries (in ``charts/``): helm then renders or packages it without fetching the
    others, which its values must turn off. A PlatformError names the chart when unreadable."""
    copy = into / folder.name
    try:
        shutil.copytree(folder, copy)
        manifest = copy / constants.HELM_CHART_FILE
        chart = load_manifests(manifest.read_text(), str(folder / constants.HELM_CHART_FILE))[0]
    except (OSError, ValidationError, ValueError, IndexError) as exc:
        raise PlatformError(f"cannot read chart {folder}: {exc}") from None
    carried = {
        p.name.rsplit("-", 1)[0] if p.suffix == ".tgz" else p.name
        for p in (copy / "charts").glob("*")
    }
    chart["dependencies"] = [d for d in chart.get("dependencies") or [] if d["name"] in carried]
    manifest.write_text(json.dumps(chart))
    (copy / "Chart.lock").unlink(missing_ok=True)
    return copy


def render_chart_folder(
    folder: Path,
    release: str,
    namespace: str,
    values: dict[str, Any],
    templates: tuple[str, ...],
    kube_version: str = "",
) -> list[dict[str, Any]]:
    """Some templates of a chart folder (``helm template --show-only``), with ``values``.

    Dependencies the folder does not carry (in ``charts/``) are dropped from a copy of its
    Chart.yaml first, so helm renders without fetching them: ``values`` must turn them off.
    A PlatformError names the chart when helm fails."""
    helm = _helm(f"rendering chart {folder.name}")
    with tempfile.TemporaryDirectory(prefix="gitops-chart-") as tmp:
        copy = carried_chart(folder, Path(tmp))
        (Path(tmp) / "values.json").write_text(json.dumps(values))
        argv = [helm, "template", release, str(copy), "--namespace", namespace]
        argv += ["--values", str(Path(tmp) / "values.json")]
        for template in templates:
            argv += ["--show-only", template]
        if kube_version:
            argv += ["--kube-version", kube_version]
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=HELM_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise PlatformError(
                f"rendering chart {folder}: helm did not finish in {HELM_TIMEOUT}s"
            ) from None
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        raise PlatformError(f"rendering chart {folder} failed: {tail}")
    try:
        return load_manifests(proc.stdout, f"chart {folder}")
    except (ValidationError, ValueError) as exc:
        raise PlatformError(f"chart {folder} renders objects that do not parse: {exc}") from None
