"""Error types that the CLI prints as one line, and the did-you-mean helper they share."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's message as one short line for an error report (its type name when it has no message)."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


class SrzooError(Exception):
    """Base of every error srzoo reports to users: the message is one line saying what, where, what to do."""


class ConfigError(SrzooError):
    """A recipe or override is invalid."""


class PluginError(SrzooError):
    """A plugin failed to load or two plugins claim the same name."""


class DataError(SrzooError):
    """A dataset is missing, empty, corrupt or cannot be downloaded."""


class WeightsError(SrzooError):
    """Weights cannot be found, downloaded, verified or matched to an architecture."""


class InputError(SrzooError):
    """A user-supplied file or argument cannot be used."""


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ' — did you mean 'x'?' for close matches, or '' when nothing is close."""
    matches = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    if not matches:
        return ""
    return " — did you mean " + " or ".join(repr(m) for m in matches) + "?"


class UnknownNameError(SrzooError, KeyError):
    """A name that no registry (or schema) knows; the message lists close matches and the available names."""

    def __init__(self, kind: str, name: str, available: Iterable[str], hint: str = "") -> None:
        available = sorted(available)
        shown = ", ".join(available[:30]) + (" …" if len(available) > 30 else "")
        msg = f"unknown {kind} {name!r}{did_you_mean(name, available)} (available: {shown or 'none'})"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)
        self.kind, self.name, self.available = kind, name, available

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]
