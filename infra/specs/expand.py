"""What the ApplicationSet controller will generate from our ApplicationSets (pure).

A faithful evaluator for the subset of Go templates the platform emits (``{{ .a.b }}``,
``{{ toJson .a }}`` and sprig's ``replace`` in a pipeline) under ``missingkey=error``, and for
the generators it emits: ``list``, and ``matrix`` of ``clusters`` and ``list`` (a stack with
spoke clusters); anything else is refused rather than guessed. The generated Application is
``template`` with the generator's parameters substituted, deep-merged with the rendered
``templatePatch`` (the controller applies it as a strategic merge patch; for the maps we
patch that is a deep merge, and lists are replaced).

The cluster generator reads Argo CD's cluster Secrets; here the caller passes what it would
read, the parameters :func:`infra.specs.fleet.generator_params` derives from the stack's
``fleet.clusters`` (the same model the Secrets are written from). Like ``matrix.go``, the
Applications come cluster by cluster (in the order given; the controller's order is a Go
map's, which no one sees: it creates them by name), each cluster's in list order. Several
generators yield the union, generator by generator; two Applications of one name are refused,
as the controller refuses the second (``contains applications with duplicate name``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from infra import constants
from infra.errors import PlatformError

__all__ = [
    "ClusterParams",
    "TemplateError",
    "applications",
    "expand",
    "render_template",
    "selected_clusters",
    "selector_matches",
]

ClusterParams = Sequence[Mapping[str, Any]]
"""What the cluster generator yields per cluster Secret (``name``, ``metadata.labels``...)."""

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_FIELD = re.compile(r"^\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\||[^\s|"]+|"')
"""A token of a pipeline: a string literal, ``|``, a word (a function or a field), or a
quote that opens no literal (refused)."""
_GO_JSON_ESCAPES: Final = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
"""What Go's ``json.Marshal`` (sprig's ``toJson``) escapes besides what Python's does."""
_JSON_STRUCTURE: Final = frozenset('"\\{}[],:')
"""Characters of a ``replace`` pattern that would make its result depend on how the JSON is
laid out (key order, spacing): refused."""


class TemplateError(PlatformError):
    """A template uses something the generator cannot evaluate, or a missing key."""


def _lookup(params: Mapping[str, Any], dotted: str) -> Any:
    value: Any = params
    for part in dotted.lstrip(".").split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise TemplateError(f'map has no entry for key "{part}" (missingkey=error)')
        value = value[part]
    return value


def _to_json(value: Any) -> str:
    """``toJson`` as Go writes it: compact, UTF-8, ``<``, ``>``, ``&`` escaped (the keys stay
    in insertion order; the text is parsed again, so only the strings' content matters)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def _commands(expr: str) -> list[list[str]]:
    """The pipeline's commands, each a list of tokens (every character outside spaces is in
    one: the last alternative of :data:`_TOKEN` takes a stray quote)."""
    commands: list[list[str]] = [[]]
    for token in _TOKEN.findall(expr):
        if token == "|":
            commands.append([])
        else:
            commands[-1].append(token)
    if any(not command or '"' in command for command in commands):
        raise TemplateError(f"unsupported template action {{{{ {expr} }}}}")
    return commands


def _argument(text: str, params: Mapping[str, Any], expr: str) -> Any:
    if text.startswith('"'):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise TemplateError(f"unsupported string literal {text} in {{{{ {expr} }}}}") from None
    if _FIELD.fullmatch(text):
        return _lookup(params, text)
    raise TemplateError(f"unsupported template action {{{{ {expr} }}}}")


def _replace(args: list[Any], expr: str) -> str:
    """sprig's ``replace old new src``: every ``old`` in ``src`` (the piped value) by ``new``."""
    if not all(isinstance(arg, str) for arg in args):
        raise TemplateError(f"replace takes strings, in {{{{ {expr} }}}}")
    old, new, source = args
    if not old or _JSON_STRUCTURE & set(old):
        raise TemplateError(f"replace of {old!r} is not evaluated, in {{{{ {expr} }}}}")
    return str(source.replace(old, new))


def _action(expr: str, params: Mapping[str, Any]) -> str:
    value: Any = None
    for index, command in enumerate(_commands(expr)):
        name, rest = command[0], command[1:]
        if index == 0 and len(command) == 1:
            value = _argument(name, params, expr)
            continue
        args = [_argument(token, params, expr) for token in rest]
        if index > 0:
            args.append(value)  # a pipeline passes its value as the last argument
        if name == "toJson" and len(args) == 1:
            value = _to_json(args[0])
        elif name == "replace" and len(args) == 3:
            value = _replace(args, expr)
        else:
            raise TemplateError(f"unsupported template action {{{{ {expr} }}}}")
    if isinstance(value, dict | list):
        raise TemplateError(f"{expr} is not a string; use toJson")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_template(text: str, params: Mapping[str, Any]) -> str:
    return _ACTION.sub(lambda m: _action(m.group(1), params), text)


def _render_fields(node: Any, params: Mapping[str, Any]) -> Any:
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


# -- generators --------------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy a Kubernetes label selector: every ``matchLabels`` entry and
    every ``matchExpressions`` requirement (``NotIn`` and ``DoesNotExist`` hold for a missing
    label; ``In`` and ``Exists`` do not)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for requirement in selector.get("matchExpressions") or []:
        key, operator = requirement["key"], requirement["operator"]
        values = requirement.get("values") or []
        present = key in labels
        if operator == "In":
            held = present and labels[key] in values
        elif operator == "NotIn":
            held = not present or labels[key] not in values
        elif operator == "Exists":
            held = present
        elif operator == "DoesNotExist":
            held = not present
        else:
            raise TemplateError(f"unsupported selector operator {operator!r}")
        if not held:
            return False
    return True


def selected_clusters(
    generator: Mapping[str, Any], clusters: ClusterParams
) -> list[dict[str, Any]]:
    """The clusters a ``clusters`` generator selects: Argo CD lists the cluster Secrets its
    selector matches, with ``argocd.argoproj.io/secret-type: cluster`` added to it."""
    if set(generator) - {"selector"}:
        raise TemplateError(f"unsupported cluster generator fields {sorted(set(generator))}")
    selector = dict(generator.get("selector") or {})
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        # Argo CD adds its own cluster (without a Secret) for an empty selector.
        raise TemplateError("a cluster generator without a selector is not evaluated")
    selector["matchLabels"] = {
        **(selector.get("matchLabels") or {}),
        constants.ARGOCD_SECRET_TYPE_LABEL: constants.ARGOCD_CLUSTER_SECRET_TYPE,
    }
    return [
        dict(cluster)
        for cluster in clusters
        if selector_matches(selector, (cluster.get("metadata") or {}).get("labels") or {})
    ]


def _matrix_params(
    matrix: Mapping[str, Any], clusters: ClusterParams | None
) -> list[dict[str, Any]]:
    """``matrix`` of ``clusters`` then ``list``, as ``matrix.go`` combines them: the list is
    interpolated with each cluster's parameters (a nested generator is templated), and the
    cluster's parameters win where both set a key."""
    generators = matrix.get("generators") or []
    shapes = [sorted(g) for g in generators]
    if set(matrix) != {"generators"} or shapes != [["clusters"], ["list"]]:
        raise TemplateError(f"unsupported matrix generator {shapes}")
    if clusters is None:
        raise TemplateError("a cluster generator needs the clusters' parameters")
    elements = generators[1]["list"]["elements"]
    templated = ["{{" in json.dumps(element) for element in elements]
    out: list[dict[str, Any]] = []
    for cluster in selected_clusters(generators[0]["clusters"], clusters):
        for element, has_actions in zip(elements, templated, strict=True):
            item = _render_fields(element, cluster) if has_actions else element
            both = [k for k in item if k in cluster and isinstance(item[k], dict)]
            if both:
                raise TemplateError(f"list and cluster parameters both set maps {both}")
            out.append({**item, **cluster})
    return out


def _generator_params(
    generator: Mapping[str, Any], clusters: ClusterParams | None
) -> list[dict[str, Any]]:
    if set(generator) == {"list"}:
        return list(generator["list"]["elements"])
    if set(generator) == {"matrix"}:
        return _matrix_params(generator["matrix"], clusters)
    raise TemplateError(f"unsupported generator {sorted(generator)}")


def expand(
    application_set: dict[str, Any], clusters: ClusterParams | None = None
) -> list[dict[str, Any]]:
    """The Applications one ApplicationSet generates, in order. ``clusters``: the cluster
    generator's parameters per spoke (:func:`infra.specs.fleet.generator_params`); required
    for a ``matrix`` with a cluster generator, unused by a list."""
    spec = application_set["spec"]
    if not spec.get("goTemplate") or "missingkey=error" not in spec.get("goTemplateOptions", []):
        raise TemplateError("only goTemplate with missingkey=error is supported")
    namespace = application_set["metadata"]["namespace"]
    apps: list[dict[str, Any]] = []
    names: set[str] = set()
    for generator in spec["generators"]:
        for params in _generator_params(generator, clusters):
            rendered = _render_fields(spec["template"], params)
            patch_text = spec.get("templatePatch")
            if patch_text:
                patch = json.loads(render_template(patch_text, params))
                rendered = _merge(rendered, patch)
            metadata = dict(rendered.get("metadata", {}))
            metadata["namespace"] = namespace
            if metadata["name"] in names:
                raise TemplateError(
                    f"ApplicationSet {application_set['metadata']['name']} contains "
                    f"applications with duplicate name: {metadata['name']}"
                )
            names.add(metadata["name"])
            apps.append(
                {
                    "apiVersion": constants.ARGOCD_API_VERSION,
                    "kind": "Application",
                    "metadata": metadata,
                    "spec": rendered["spec"],
                }
            )
    return apps


def applications(objects: list[dict[str, Any]], clusters: ClusterParams) -> list[dict[str, Any]]:
    """The Applications every ApplicationSet among ``objects`` generates, in order;
    ``clusters``: the stack's spokes as the cluster generator sees them
    (:func:`infra.specs.fleet.generator_params`, empty without spokes)."""
    return [
        app for obj in objects if obj["kind"] == "ApplicationSet" for app in expand(obj, clusters)
    ]
