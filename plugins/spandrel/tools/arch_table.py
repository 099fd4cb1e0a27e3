"""Print (or --write into the plugin README) the table of every arch srzoo-spandrel registers, from `_specs.SPECS`."""

from __future__ import annotations

import argparse
from pathlib import Path

from srzoo_spandrel._specs import SPECS, Spec

README = Path(__file__).resolve().parents[1] / "README.md"
# The README's table lives between these lines; tests/test_spandrel_readme.py checks it equals `table()`.
START, END = "<!-- arch-table:start -->", "<!-- arch-table:end -->"


def _mark(flag: bool) -> str:
    return "yes" if flag else "no"


def _classes(spec: Spec) -> str:
    if isinstance(spec.cls, dict):
        return ", ".join(f"`{c}`" for c in spec.cls.values())
    return f"`{spec.cls}`"


def table() -> str:
    """The markdown table: one row per registered arch, in `srzoo list archs` order (alphabetical)."""
    rows = [
        "| arch | spandrel class | scales | license | fp16 | bf16 | size multiple | min size | tiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted(SPECS):
        spec = SPECS[name]
        scales = ", ".join(f"x{s}" for s in spec.scales)
        rows.append(
            f"| `{name}` | {_classes(spec)} | {scales} | {spec.license} | {_mark(spec.fp16)} | {_mark(spec.bf16)} "
            f"| {spec.multiple} | {spec.minimum or '-'} | {_mark(spec.tiling)} |"
        )
    return "\n".join(rows) + "\n"


def readme_table(text: str) -> str:
    """The table as the README has it (between the markers)."""
    _head, sep, rest = text.partition(START + "\n")
    if not sep or END not in rest:
        raise SystemExit(f"{README}: no {START} ... {END} block")
    return rest.partition(END)[0]


def write(path: Path = README) -> None:
    text = path.read_text(encoding="utf-8")
    old = readme_table(text)
    path.write_text(text.replace(START + "\n" + old + END, START + "\n" + table() + END), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"replace the table in {README.name}")
    if parser.parse_args().write:
        write()
    else:
        print(table(), end="")


if __name__ == "__main__":
    main()
