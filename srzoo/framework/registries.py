"""One generic Registry and its instances (archs, losses, datasets, phases, recipes), fed by entry points."""

from __future__ import annotations

import fnmatch
import threading
from typing import Any

from srzoo.errors import PluginError, UnknownNameError
from srzoo.framework.descriptors import ArchInfo, Capabilities, PretrainedWeights, arch_info, describe_arch
from srzoo.framework.entry_points import GROUPS, Entry, discover

__all__ = [
    "ARCHS",
    "DATASETS",
    "DEGRADATIONS",
    "DETECTORS",
    "LOSSES",
    "PHASES",
    "RECIPES",
    "ArchInfo",
    "Capabilities",
    "PretrainedWeights",
    "Registry",
    "arch_info",
    "describe_arch",
    "refresh_all",
]

RUNTIME_DIST = "<runtime>"


class Registry:
    """Names of one kind → objects. Entry points are imported only when their name is first used."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.group = GROUPS[kind]
        self._entries: dict[str, Entry] | None = None
        self._conflicts: dict[str, list[str]] = {}
        self._runtime: dict[str, Entry] = {}
        self._lock = threading.Lock()

    # -- discovery -----------------------------------------------------------------------------------------
    def _table(self) -> dict[str, Entry]:
        with self._lock:
            if self._entries is None:
                table: dict[str, Entry] = {}
                conflicts: dict[str, list[str]] = {}
                for entry in discover(self.kind):
                    if entry.name in table:
                        conflicts.setdefault(entry.name, [table[entry.name].dist]).append(entry.dist)
                        continue
                    table[entry.name] = entry
                self._entries, self._conflicts = table, conflicts
            return {**self._entries, **self._runtime}

    def refresh(self) -> None:
        """Forget discovered entry points (after installing a plugin at run time, or in tests)."""
        with self._lock:
            self._entries = None
            self._conflicts = {}

    # -- registration --------------------------------------------------------------------------------------
    def register(self, name: str, obj: Any, *, dist: str = RUNTIME_DIST) -> Any:
        """Add a name at run time (notebooks, tests). A name that already exists is an error naming both owners."""
        table = self._table()
        if name in table:
            raise PluginError(
                f"{self.kind} {name!r} is provided by both {table[name].dist!r} and {dist!r}; rename one of them"
            )
        entry = Entry(name, self.kind, dist, "", f"{getattr(obj, '__module__', '?')}:{name}")
        entry.obj = obj
        self._runtime[name] = entry
        return obj

    def unregister(self, name: str) -> None:
        """Remove a run-time registration (tests)."""
        self._runtime.pop(name, None)

    # -- lookup --------------------------------------------------------------------------------------------
    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._table() if fnmatch.fnmatchcase(n, pattern))

    def entries(self) -> list[Entry]:
        table = self._table()
        return [table[n] for n in sorted(table)]

    def conflicts(self) -> dict[str, list[str]]:
        self._table()
        return dict(self._conflicts)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._table()

    def entry(self, name: str) -> Entry:
        table = self._table()
        if name in self._conflicts:
            owners = " and ".join(repr(d) for d in self._conflicts[name])
            raise PluginError(
                f"{self.kind} {name!r} is provided by both {owners}; uninstall one of them or rename its entry point"
            )
        if name not in table:
            raise UnknownNameError(self.kind, name, table, hint=self._hint())
        return table[name]

    def get(self, name: str) -> Any:
        """The object registered under `name`, importing its plugin on first use."""
        entry = self.entry(name)
        obj = entry.load()
        if entry.error is not None:
            raise PluginError(
                f"{self.kind} {name!r} from {entry.dist!r} ({entry.value}) failed to load: {entry.error}"
            )
        return obj

    def _hint(self) -> str:
        from srzoo.framework.entry_points import autoload_disabled

        if autoload_disabled():
            return "plugins are disabled by SRZOO_DISABLE_PLUGIN_AUTOLOAD"
        if self.kind in ("arch", "loss"):
            return "is the plugin that provides it installed? (`srzoo list plugins`)"
        return ""


ARCHS = Registry("arch")
LOSSES = Registry("loss")
DATASETS = Registry("dataset")
PHASES = Registry("phase")
RECIPES = Registry("recipe")
DEGRADATIONS = Registry("degradation")
# callables `detect(state_dict) -> Detection | None`, asked in name order (srzoo.inference.detect)
DETECTORS = Registry("detector")
ALL = {
    "arch": ARCHS,
    "loss": LOSSES,
    "dataset": DATASETS,
    "phase": PHASES,
    "recipe": RECIPES,
    "degradation": DEGRADATIONS,
    "detector": DETECTORS,
}


def refresh_all() -> None:
    """Rediscover every kind."""
    for registry in ALL.values():
        registry.refresh()
