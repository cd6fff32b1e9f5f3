"""What the ApplicationSet controller will generate from our ApplicationSets (pure).

A faithful evaluator for the subset of Go templates the platform emits (``{{ .a.b }}`` and
``{{ toJson .a }}``) under ``missingkey=error``; anything else is refused rather than guessed.
The generated Application is ``template`` with the element substituted, deep-merged with the
rendered ``templatePatch`` (the controller applies it as a strategic merge patch; for the maps
we patch that is a deep merge, and lists are replaced).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from infra import constants
from infra.errors import PlatformError

__all__ = ["TemplateError", "applications", "expand", "render_template"]

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_FIELD = re.compile(r"^\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class TemplateError(PlatformError):
    """A template uses something the generator cannot evaluate, or a missing key."""


def _lookup(params: dict[str, Any], dotted: str) -> Any:
    value: Any = params
    for part in dotted.lstrip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            raise TemplateError(f'map has no entry for key "{part}" (missingkey=error)')
        value = value[part]
    return value


def _action(expr: str, params: dict[str, Any]) -> str:
    if _FIELD.fullmatch(expr):
        value = _lookup(params, expr)
        if isinstance(value, dict | list):
            raise TemplateError(f"{expr} is not a string; use toJson")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    parts = expr.split()
    if len(parts) == 2 and parts[0] == "toJson" and _FIELD.fullmatch(parts[1]):
        return json.dumps(_lookup(params, parts[1]), separators=(",", ":"))
    raise TemplateError(f"unsupported template action {{{{ {expr} }}}}")


def render_template(text: str, params: dict[str, Any]) -> str:
    return _ACTION.sub(lambda m: _action(m.group(1), params), text)


def _render_fields(node: Any, params: dict[str, Any]) -> Any:
    """Go templates apply per string field (keys included), as the controller does."""
    if isinstance(node, dict):
        return {render_template(k, params): _render_fields(v, params) for k, v in node.items()}
    if isinstance(node, list):
        return [_render_fields(v, params) for v in node]
    if isinstance(node, str):
        return render_template(node, params)
    return node


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(patch)


def expand(application_set: dict[str, Any]) -> list[dict[str, Any]]:
    """The Applications one ApplicationSet (with list generators) generates, in order."""
    spec = application_set["spec"]
    if not spec.get("goTemplate") or "missingkey=error" not in spec.get("goTemplateOptions", []):
        raise TemplateError("only goTemplate with missingkey=error is supported")
    namespace = application_set["metadata"]["namespace"]
    apps: list[dict[str, Any]] = []
    for generator in spec["generators"]:
        if set(generator) != {"list"}:
            raise TemplateError(f"unsupported generator {sorted(generator)}")
        for element in generator["list"]["elements"]:
            rendered = _render_fields(spec["template"], element)
            patch_text = spec.get("templatePatch")
            if patch_text:
                patch = json.loads(render_template(patch_text, element))
                rendered = _merge(rendered, patch)
            metadata = dict(rendered.get("metadata", {}))
            metadata["namespace"] = namespace
            apps.append(
                {
                    "apiVersion": constants.ARGOCD_API_VERSION,
                    "kind": "Application",
                    "metadata": metadata,
                    "spec": rendered["spec"],
                }
            )
    return apps


def applications(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Applications every ApplicationSet among ``objects`` generates, in order."""
    return [app for obj in objects if obj["kind"] == "ApplicationSet" for app in expand(obj)]
