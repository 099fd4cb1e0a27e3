"""Ask the registered detectors (entry-point group `srzoo.detectors`) what a foreign state dict is.

A detector is a callable `detect(state_dict) -> Detection | None` a plugin registers when it can recognise files
that no arch's `infer_kwargs` claims (e.g. a library that identifies many architectures at once). Detectors are
asked in name order after srzoo's own archs; the first hit wins. A detector that raises, or answers something
unusable, is skipped and its reason kept for the final "cannot tell which arch" message.
"""

from __future__ import annotations

from srzoo.errors import one_line
from srzoo.framework.descriptors import Detection, StateDict
from srzoo.framework.registries import ARCHS, DETECTORS


def _checked(found: object, who: str) -> Detection:
    """The detector's answer, refused when it names no registered arch or is not a Detection."""
    if not isinstance(found, Detection):
        raise TypeError(f"returned {type(found).__name__}, not srzoo.Detection or None")
    if found.arch not in ARCHS:
        raise ValueError(f"named arch {found.arch!r}, which is not registered")
    if "scale" in found.kwargs:
        raise ValueError("put the scale in Detection.scale, not in its kwargs")
    if not isinstance(found.scale, int) or found.scale < 1:
        raise ValueError(f"gave scale {found.scale!r}, not a positive integer")
    return Detection(
        found.arch,
        dict(found.kwargs),
        found.scale,
        found.state_dict,
        found.detected_by or f"detector {who}",
    )


def detect(sd: StateDict, errors: list[str]) -> Detection | None:
    """The first detector's hit for `sd`, or None; the reasons detectors failed are appended to `errors`."""
    for entry in DETECTORS.entries():
        who = f"{entry.name!r} ({entry.dist})"
        try:
            fn = DETECTORS.get(entry.name)
            # a shallow copy: a detector that renames keys must not change what the next one sees
            found = fn(dict(sd))
            if found is None:
                continue
            found = _checked(found, who)
        except Exception as exc:  # one broken detector must not hide the others
            errors.append(f"detector {entry.name}: {one_line(exc)}")
            continue
        return found
    return None
