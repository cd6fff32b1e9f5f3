"""The one YAML reading path (infra/yamlio.py), held against pathological rather than invalid
YAML: nesting depth, explicit tags outside the core schema, dates, alias bombs, duplicate and
non-string keys; YAML 1.2 for the files people write, YAML 1.1 (as the Kubernetes tools read
it) for manifests. Every case ends in one problem with its line, never a traceback or a hang.
Each test fails when its check is removed from the reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infra.cli.app import app as cli
from infra.errors import ValidationError
from infra.yamlio import MAX_DEPTH, dump_all, load_manifests, load_strict, read_documents

TAGS_REFUSED = [
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system ''",
    "!!timestamp 2001-12-14",
    "!!binary aGVsbG8=",
    "!!set {a: null}",
    "!!omap [a: 1]",
    "!local thing",
    "!<tag:example.com,2000:app> x",
]


def problems(text: str, *, strict: bool) -> list[str]:
    return [str(p) for p in read_documents(text, "f.yaml", strict=strict).problems]


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("value", TAGS_REFUSED)
def test_tags_beyond_the_core_schema_are_refused_with_their_line(value: str, strict: bool) -> None:
    found = problems(f"kind: x\nspec:\n  field: {value}\n", strict=strict)
    assert len(found) == 1 and found[0].startswith("f.yaml: spec.field: the tag ")
    assert found[0].endswith(
        "is not allowed; only the core schema's (!!str, !!int, !!float, "
        "!!bool, !!null, !!map, !!seq) (line 3)"
    )


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!int foo", "int"),
        ("!!float 1.2.3", "float"),
        ("!!bool maybe", "bool"),
        ("!!null x", "null"),
        ("!!int 1.5", "int"),
        ("!!float true", "float"),
    ],
)
def test_a_core_tag_on_a_value_it_cannot_hold_is_refused(
    value: str, tag: str, strict: bool
) -> None:
    text = value.split(" ", 1)[1]
    assert problems(f"a:\n  - {value}\n", strict=strict) == [
        f"f.yaml: a[0]: !!{tag} {text!r} is not a valid {tag} (line 2)"
    ]


def test_core_tags_on_values_they_hold_are_read() -> None:
    text = "a: !!int 42\nb: !!float 1\nc: !!str 2001-12-14\nd: !!bool true\ne: !!null ~\n"
    assert load_strict(text, "f.yaml").data == {
        "a": 42,
        "b": 1.0,
        "c": "2001-12-14",
        "d": True,
        "e": None,
    }
    assert isinstance(load_strict(text, "f.yaml").data["b"], float)


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize(
    "text",
    [
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "{a: " * (MAX_DEPTH + 1) + "x" + "}" * (MAX_DEPTH + 1),
        "".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH + 1))
        + "  " * (MAX_DEPTH + 1)
        + "x\n",
        "- " * (MAX_DEPTH + 1) + "x\n",
    ],
    ids=["flow-seq", "flow-map", "block-map", "block-seq"],
)
def test_nesting_deeper_than_the_bound_is_refused(text: str, strict: bool) -> None:
    found = problems(text, strict=strict)
    assert len(found) == 1 and f"nested more than {MAX_DEPTH} levels deep" in found[0]


def test_nesting_at_the_bound_is_read() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    read = read_documents(text, "f.yaml", strict=False)
    assert read.problems == []


def test_a_hundred_thousand_brackets_end_in_a_problem_not_a_crash() -> None:
    # libyaml's composer recurses in C: this input crashes `yaml.compose` (SIGSEGV).
    assert len(problems("[" * 100_000, strict=False)) == 1


def test_people_files_read_yaml_1_2_as_the_pulumi_engine_does() -> None:
    text = (
        "a: yes\nb: on\nc: 012\nd: 0o17\ne: 0x1F\nf: 2001-12-14\ng: 1:20\nh: y\ni: True\nj: .inf\n"
    )
    assert load_strict(text, "f.yaml").data == {
        "a": "yes",
        "b": "on",
        "c": 12,
        "d": 15,
        "e": 31,
        "f": "2001-12-14",
        "g": "1:20",
        "h": "y",
        "i": True,
        "j": float("inf"),
    }


def test_manifests_read_yaml_1_1_as_the_kubernetes_tools_do_but_dates_stay_strings() -> None:
    text = "a: yes\nb: off\nc: 017\nd: 0b101\ne: 2001-12-14\nf: 2001-12-14T21:59:43Z\ng: 8080:80\n"
    assert load_manifests(text, "m.yaml") == [
        {
            "a": True,
            "b": False,
            "c": 15,
            "d": 5,
            "e": "2001-12-14",
            "f": "2001-12-14T21:59:43Z",
            "g": "8080:80",
        }
    ]


def test_manifests_turn_scalar_keys_into_strings_and_refuse_collections_as_keys() -> None:
    assert load_manifests("data:\n  1: a\n  true: b\n  ~: c\n", "m.yaml") == [
        {"data": {"1": "a", "true": "b", "null": "c"}}
    ]
    with pytest.raises(ValidationError, match=r"keys must be strings .*\(line 1\)"):
        load_manifests("{[a]: 1}\n", "m.yaml")


def test_an_alias_bomb_is_refused_before_it_is_built() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    found = problems("\n".join(lines) + "\n", strict=False)
    assert found == [
        "f.yaml: (file): the document holds more than 1,000,000 values once its aliases (*) "
        "are expanded (line 6)"
    ]


def test_aliases_and_merge_keys_in_manifests_are_honoured_in_bounds() -> None:
    text = "base: &b {p: 1, q: 2}\nlist: &l [1, 2]\nuse:\n  <<: *b\n  q: 3\nagain: *l\n"
    assert load_manifests(text, "m.yaml") == [
        {"base": {"p": 1, "q": 2}, "list": [1, 2], "use": {"p": 1, "q": 3}, "again": [1, 2]}
    ]
    # As go-yaml v2 reads it: the key `y` is the boolean true, so its JSON key is "true".
    assert load_manifests("y: 1\n", "m.yaml") == [{"true": 1}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x 1\n", "YAML anchors (&) are not allowed (line 1)"),
        ("a:\n  <<: {b: 1}\n", "merge keys (<<) are not allowed (line 2)"),
        ("1: a\n", "key 1 must be a string (line 1)"),
        ("a: 1\nb: 2\na: 3\n", "duplicate key (first defined on line 1) (line 3)"),
    ],
)
def test_people_files_refuse_anchors_merges_and_odd_keys(text: str, message: str) -> None:
    found = problems(text, strict=True)
    assert len(found) == 1 and found[0].endswith(message)


def test_a_duplicate_key_in_a_manifest_is_refused() -> None:
    # A second `data:` would hide the first from any scan that reads one of them.
    with pytest.raises(ValidationError, match=r"m.yaml: data: duplicate key \(line 3\)"):
        load_manifests("kind: Secret\ndata: {a: YQ==}\ndata: {}\n", "m.yaml")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.floats(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=5),
        min_size=1,
        max_size=3,
    )
)
def test_what_the_platform_writes_reads_back_unchanged(documents: list[dict[str, Any]]) -> None:
    text = dump_all(documents)
    assert read_documents(text, "f.yaml", strict=False).documents == documents
    assert list(yaml.safe_load_all(text)) == documents


# -- at the command line: one line, exit 1, no traceback ----------------------------------------


def write_app(root: Path, body: str) -> None:
    app_dir = root / "apps" / "web"
    app_dir.mkdir(parents=True)
    (app_dir / "app.yaml").write_text(body)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("  team: !!python/object/apply:os.system ['touch pwned']\n", "the tag !!python/"),
        ("  team: !!int payments\n", "!!int 'payments' is not a valid int"),
        ("  team: " + "[" * 5000 + "\n", f"nested more than {MAX_DEPTH} levels deep"),
    ],
)
def test_validate_reports_pathological_yaml_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, expected: str
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: gitops-platform\nruntime: python\n")
    write_app(tmp_path, "name: web\n" + "metadata:\n" + field)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and not (tmp_path / "pwned").exists()
    lines = [line for line in result.stderr.splitlines() if expected in line]
    assert len(lines) == 1 and lines[0].startswith("apps/web/app.yaml: ")


def test_app_diff_reports_pathological_yaml_in_one_line(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    head = tmp_path / "head.yaml"
    base.write_text("kind: Application\nmetadata: {name: a, created: !!timestamp 2001-01-01}\n")
    head.write_text("[" * 100_000)
    for bad in (base, head):
        result = CliRunner().invoke(cli, ["app-diff", str(bad), str(bad)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith(f"error: {bad}: ")
