"""Entry-point discovery (stdlib importlib.metadata): who provides which name, loaded only when first used."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

CORE_DIST = "srzoo"
GROUPS = {
    "arch": "srzoo.archs",
    "loss": "srzoo.losses",
    "dataset": "srzoo.datasets",
    "phase": "srzoo.phases",
    "recipe": "srzoo.recipes",
    "degradation": "srzoo.degradations",  # LR synthesis from HR training batches (docs/plugins.md)
    "detector": "srzoo.detectors",  # identify foreign weights no arch's infer_kwargs claims (docs/plugins.md)
}
_UNLOADED = object()


@dataclass
class Entry:
    """One registered name: its provider, how to load it, and the outcome of loading it."""

    name: str
    kind: str
    dist: str
    version: str
    value: str  # "module:attr" as declared
    entry_point: metadata.EntryPoint | None = None
    obj: Any = field(default=_UNLOADED, repr=False)
    error: str | None = None

    @property
    def loaded(self) -> bool:
        return self.obj is not _UNLOADED

    def load(self) -> Any:
        """Import the entry point once; remember the object or the reason it failed."""
        if self.loaded or self.error is not None:
            return self.obj
        try:
            self.obj = load_resource(self.value) if self.kind == "recipe" else self.entry_point.load()
        except Exception as exc:  # any plugin bug must stay isolated to its own names
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return self.obj


def load_resource(value: str) -> Path:
    """A recipe entry point names a data file, 'package:file.yaml', not an object: resolve it to a path."""
    module, _, resource = value.partition(":")
    path = Path(str(files(module) / resource))
    if not path.is_file():
        raise FileNotFoundError(f"{resource} is not in package {module}")
    return path


def autoload_disabled() -> bool:
    """SRZOO_DISABLE_PLUGIN_AUTOLOAD=1 restricts discovery to core's own entry points."""
    return os.environ.get("SRZOO_DISABLE_PLUGIN_AUTOLOAD", "").strip().lower() in {"1", "true", "yes", "on"}


def _dist_name(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "<unknown>", ""
    return dist.metadata["Name"] or "<unknown>", dist.version or ""


def _normalise(dist: str) -> str:
    return dist.lower().replace("_", "-").replace(".", "-")


def discover(kind: str) -> list[Entry]:
    """All entry points of one kind, one Entry per (distribution, name), core first."""
    group = GROUPS[kind]
    only_core = autoload_disabled()
    seen: set[tuple[str, str]] = set()
    entries: list[Entry] = []
    for ep in metadata.entry_points(group=group):
        dist, version = _dist_name(ep)
        if only_core and _normalise(dist) != CORE_DIST:
            continue
        key = (_normalise(dist), ep.name)
        if key in seen:  # the same distribution found twice on sys.path (e.g. editable + build dir)
            continue
        seen.add(key)
        entries.append(Entry(ep.name, kind, dist, version, ep.value, ep))
    entries.sort(key=lambda e: (_normalise(e.dist) != CORE_DIST, e.dist, e.name))
    return entries


def distributions() -> dict[str, dict[str, Any]]:
    """Every distribution that provides srzoo entry points: version and names per kind."""
    result: dict[str, dict[str, Any]] = {}
    for kind in GROUPS:
        for entry in discover(kind):
            info = result.setdefault(entry.dist, {"version": entry.version, "provides": {}})
            info["provides"].setdefault(kind, []).append(entry.name)
    return result
