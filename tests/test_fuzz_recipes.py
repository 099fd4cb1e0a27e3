"""Hostile recipes and overrides: generated mutations of every shipped recipe, YAML oddities, `srzoo train --max-steps 0`.

`load_recipe` accepts a mutation or raises srzoo's own error with one line; `srzoo train --max-steps 0` (which builds
every phase, opens the data and writes nothing but the run folder) ends in exit 0, or exit 1 with one line that is
not an "internal error".
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from srzoo import ConfigError, SrzooError, load_recipe
from srzoo.cli import main
from srzoo.recipes.loader import load_recipe_dict
from srzoo.testing.training import write_recipe
from tests.fuzz_support import budget, one_line, outcome, record
from tests.toy import toy_recipe

REPO = Path(__file__).resolve().parents[1]


def _shipped() -> dict[str, dict[str, Any]]:
    """Every recipe YAML in the repository (registry, plugins, the toy plugin) whose plugins are installed, bases
    merged. Core's suite also runs with no plugin installed; there a plugin's recipe must refuse with one line
    naming the missing distribution (checked here too), and the toy plugin's recipes carry the fuzzing."""
    found = {}
    paths = [*REPO.glob("registry/*.yaml"), *REPO.glob("plugins/*/*/recipes/**/*.yaml")]
    paths += [*REPO.glob("tests/toyplugin/*/*.yaml")]
    for path in sorted(paths):
        try:
            found[str(path.relative_to(REPO))] = load_recipe_dict(path)
        except ConfigError as exc:
            missing = re.search(
                r"needs the plugins? (\S+(?:, \S+)*), which (?:is|are) not installed: pip install (.+)$",
                str(exc),
            )
            assert missing and missing[1].split(", ") == missing[2].split(" "), f"{path}: {exc}"
            assert missing and "\n" not in str(exc), f"{path}: {exc}"
    return found


SHIPPED = _shipped()


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path into a nested recipe, the root included."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _misspell(draw: st.DrawFn, word: str) -> str:
    if len(word) < 2:
        return word + "x"
    i = draw(st.integers(0, len(word) - 2))
    how = draw(st.sampled_from(["swap", "drop", "double", "case"]))
    if how == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == "drop":
        return word[:i] + word[i + 1 :]
    if how == "double":
        return word[:i] + word[i] + word[i:]
    return word.upper()


ODD_NUMBERS = [0, -1, -(2**63), 2**63, 10**30, 1e308, -1e308, float("nan"), float("inf"), 0.5, -0.5]
ODD_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        *ODD_NUMBERS,
        "",
        "x",
        "1e-4",
        "yes",
        "~",
        [],
        {},
        [1, 2],
        {"a": 1},
        [[[]]],
        "no_such",
    ]
).map(copy.deepcopy)  # a later edit may clear or extend a drawn list/dict: never the shared one (flaky draws)


@st.composite
def mutated_recipe(draw: st.DrawFn, seeds: dict[str, dict[str, Any]] | None = None) -> tuple[str, dict]:
    """(what was done, recipe dict): one to three mistakes at any depth of a shipped recipe."""
    seeds = seeds or SHIPPED
    data = copy.deepcopy(seeds[draw(st.sampled_from(sorted(seeds)))])
    kinds = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        node = parent[path[-1]] if path else data
        kind = draw(
            st.sampled_from(["unknown key", "wrong type", "number", "empty", "registry name", "delete"])
        )
        if kind == "unknown key" and isinstance(node, dict):
            key = _misspell(draw, draw(st.sampled_from(sorted(map(str, node))))) if node else "extra"
            node[draw(st.sampled_from([key, "extra_key", "", "0"]))] = draw(ODD_VALUES)
        elif kind == "registry name" and isinstance(node, dict) and {"arch", "name", "type"} & set(node):
            key = sorted({"arch", "name", "type"} & set(node))[0]
            node[key] = _misspell(draw, str(node[key]))
        elif kind == "empty" and isinstance(node, (list, dict)):
            node.clear()
        elif kind == "delete" and path and isinstance(parent, (dict, list)):
            del parent[path[-1]]
        elif kind == "number" and isinstance(node, (int, float)) and not isinstance(node, bool) and path:
            parent[path[-1]] = draw(
                st.sampled_from([0, -1, -1000, 10**30, 1e308, float("nan"), float("inf")])
            )
        elif path:
            kind = "wrong type"
            parent[path[-1]] = draw(ODD_VALUES)
        else:
            kind = "wrong type"
            data = draw(ODD_VALUES)
        kinds.append(kind)
    return " + ".join(sorted(set(kinds))), data


def _load(path: Path, overrides: list[str] | None = None) -> Any:
    return load_recipe(path, overrides or [])


@budget(80)
@given(case=mutated_recipe())
def test_mutated_shipped_recipes_load_or_raise_one_line(tmp_path_factory, case) -> None:
    kind, data = case
    path = tmp_path_factory.mktemp("r") / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    outcome("recipe", kind, lambda: _load(path), SrzooError)


YAML_ODDITIES = {
    "tab indentation": lambda text: text.replace("  ", "\t"),
    "byte-order mark": lambda text: "\ufeff" + text,
    "latin-1 bytes": lambda text: text.encode("utf-8") + b"\nname: caf\xe9\n",
    "python tag": lambda text: text + "\nseed: !!python/object/apply:os.system ['true']\n",
    "duplicate key": lambda text: text + "\nscale: 2\nscale: 3\n",
    "anchor and merge key": lambda text: "base_data: &d {patch_size: 8}\n" + text + "\nextra: {<<: *d}\n",
    "recursive alias": lambda text: text + "\nloop: &a [*a]\n",
    "two documents": lambda text: text + "\n---\nname: second\n",
    "a list at the top": lambda text: "- " + text.replace("\n", "\n  "),
    "a scalar": lambda text: "just words",
    "empty file": lambda text: "",
    "deep nesting": lambda text: text + "\nextra: " + "[" * 2000 + "]" * 2000 + "\n",
    "base is a number": lambda text: "base: 5\n" + text,
    "base is a list": lambda text: "base: [a, b]\n" + text,
    "base is missing": lambda text: "base: no_such_recipe.yaml\n" + text,
    "base is itself": lambda text: "base: recipe.yaml\n" + text,
    "NUL byte": lambda text: text[:20] + "\x00" + text[20:],
    "unclosed bracket": lambda text: text + "\nextra: [1, 2\n",
    "huge integer": lambda text: text + "\nseed: " + "9" * 5000 + "\n",
}


@pytest.mark.parametrize("case", sorted(YAML_ODDITIES))
def test_yaml_oddities_load_or_raise_one_line(tmp_path: Path, case: str) -> None:
    text = yaml.safe_dump(SHIPPED["tests/toyplugin/srzoo_toy/toy_x4.yaml"], sort_keys=False)
    odd = YAML_ODDITIES[case](text)
    path = tmp_path / "recipe.yaml"
    path.write_bytes(odd if isinstance(odd, bytes) else odd.encode("utf-8"))
    got = outcome("recipe YAML", case, lambda: _load(path), SrzooError)
    if case in ("python tag", "a list at the top", "a scalar", "base is missing", "base is itself"):
        assert isinstance(got, SrzooError), case


@st.composite
def override(draw: st.DrawFn) -> str:
    """`key.path=value` built from real paths (sometimes misspelt or out of range) and odd YAML values."""
    data = SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))]
    path = [str(p) for p in draw(st.sampled_from(_paths(data)[1:]))]
    how = draw(st.sampled_from(["as is", "misspelt", "index", "deeper", "empty part"]))
    if how == "misspelt":
        i = draw(st.integers(0, len(path) - 1))
        path[i] = _misspell(draw, path[i])
    elif how == "index":
        path.append(draw(st.sampled_from(["0", "-1", "99", "-99", "x"])))
    elif how == "deeper":
        path.append(draw(st.sampled_from(["a", "name", "0"])))
    else:
        path.insert(draw(st.integers(0, len(path))), "")
    value = draw(
        st.sampled_from(
            ["", "null", "[]", "{}", "-1", "0", "1e999", ".nan", "[1, 2", "{a: [}", "!!binary aGk="]
        )
        | st.text(max_size=10)
    )
    return ".".join(path) + draw(st.sampled_from(["=", "==", ""])) + value


@budget(80)
@given(items=st.lists(override(), min_size=1, max_size=3))
def test_overrides_apply_or_raise_one_line(items: list[str]) -> None:
    path = REPO / "tests/toyplugin/srzoo_toy/toy_x4.yaml"
    outcome("override", "generated", lambda: _load(path, items), SrzooError)


# -- srzoo train --max-steps 0: every phase built, data opened, nothing trained ------------------------------
@pytest.fixture(scope="module")
def toy_seed(tmp_path_factory) -> dict[str, dict[str, Any]]:
    return {"toy": toy_recipe(tmp_path_factory.mktemp("toy"), images=2, size=32)}


def train_zero(tmp: Path, data: Any, *overrides: str) -> tuple[int, str]:
    path = write_recipe(tmp / "recipe.yaml", data) if not isinstance(data, Path) else data
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(
                ["train", str(path), *overrides, "--max-steps", "0", "--output-dir", str(tmp / "run")]
            )
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue()


def check_train_outcome(code: int, err: str, kind: str) -> None:
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert "internal error" not in err and "Traceback" not in err, err[-2000:]
    if code == 0:
        record("recipe (train --max-steps 0)", kind, "ok")
    else:
        assert code == 1 and last.startswith("srzoo train: error: "), (code, err[-2000:])
        record("recipe (train --max-steps 0)", kind, "srzoo error (exit 1)")


@budget(15)
@given(data=st.data())
def test_train_zero_steps_on_mutated_recipes(tmp_path_factory, toy_seed, data) -> None:
    kind, recipe = data.draw(mutated_recipe(toy_seed))
    tmp = tmp_path_factory.mktemp("t")
    code, err = train_zero(tmp, recipe)
    check_train_outcome(code, err, kind)


def test_parameter_free_generator_is_one_clear_line(tmp_path: Path, toy_seed) -> None:
    recipe = copy.deepcopy(toy_seed["toy"])
    recipe["generator"] = {"arch": "bicubic"}
    code, err = train_zero(tmp_path, recipe)
    assert code == 1 and "internal error" not in err
    last = err.strip().splitlines()[-1]
    assert "generator arch 'bicubic' has no trainable parameters" in last, err
    one_line(SrzooError(last))
    record("recipe (train --max-steps 0)", "parameter-free generator", "ConfigError")


def test_train_zero_steps_accepts_the_toy_recipe(tmp_path: Path, toy_seed) -> None:
    code, err = train_zero(tmp_path, toy_seed["toy"])
    assert code == 0, err
    assert (tmp_path / "run" / "recipe.yaml").is_file()
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing trained, nothing saved
