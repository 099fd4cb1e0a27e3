"""Core's architecture rules, checked with `ast`: srzoo/ names no plugin in code and has no import cycle."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "srzoo"
# Names the repository's plugins register or are called by; core code and strings must not use them.
PLUGIN_WORDS = ("esrgan", "rrdb", "ragan", "vgg_discriminator", "realesrgan", "spandrel")


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        mods[".".join(rel.parts).removesuffix(".__init__")] = path
    return mods


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def plugin_names_in(path: Path, root: Path = ROOT) -> list[str]:
    """Code names and identifier-like strings (registry keys, file names) that name a plugin; prose is allowed."""
    src = path.read_text(encoding="utf-8")
    skip = _docstring_lines(ast.parse(src))
    hits = []
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.start[0] in skip or tok.type not in (tokenize.NAME, tokenize.STRING):
            continue
        text = tok.string
        if tok.type == tokenize.STRING:
            try:
                text = ast.literal_eval(tok.string)
            except (ValueError, SyntaxError):
                continue
            if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_.*\-]+", text):
                continue
        if any(word in text.lower() for word in PLUGIN_WORDS):
            hits.append(f"{path.relative_to(root.parent)}:{tok.start[0]}: {tok.string[:60]}")
    return hits


def import_graph() -> dict[str, set[str]]:
    """Module → core modules it imports at run time (imports under `if TYPE_CHECKING:` excluded)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for stmt in node.body
            for n in ast.walk(stmt)
        }
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                    pkg = pkg[: len(pkg) - (node.level - 1)]
                    base = ".".join([*pkg, base] if base else pkg)
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                while name and name not in mods:
                    name = name.rpartition(".")[0]
                if name and name not in (mod, "srzoo"):
                    deps.add(name)
        graph[mod] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_core_names_no_plugin() -> None:
    hits = [hit for path in sorted(ROOT.rglob("*.py")) for hit in plugin_names_in(path)]
    assert hits == []


def test_core_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_plugin_name_finder_ignores_docstrings(tmp_path: Path) -> None:
    (tmp_path / "srzoo").mkdir()
    module = tmp_path / "srzoo" / "m.py"
    module.write_text('"""Like ESRGAN\'s trainer."""\nARCH = "rrdbnet"\nhelp_text = "e.g. an ESRGAN model"\n')
    assert plugin_names_in(module, tmp_path / "srzoo") == ['srzoo/m.py:2: "rrdbnet"']
