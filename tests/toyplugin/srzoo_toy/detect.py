"""A detector for toy_sr weights saved by a pretend foreign trainer: keys `stem.`, `trunk.`, `merge.`, `up.`, `tail.`.

Core's tests prove `srzoo infer|bench` reach an arch through a detector core does not know (srzoo.detectors).
"""

from __future__ import annotations

from srzoo import Detection, StateDict, WeightsError

# foreign prefix -> toy_sr's own; the foreign layout is what toy_sr's infer_kwargs cannot read
RENAME = {
    "stem.": "conv_first.",
    "trunk.": "body.",
    "merge.": "conv_body.",
    "up.": "conv_up.",
    "tail.": "conv_last.",
}
BOOM = "boom.weight"  # a key that makes the detector fail, so tests see a failing detector skipped


def to_toy(sd: StateDict) -> StateDict:
    """The foreign keys renamed to toy_sr's."""
    out = {}
    for key, value in sd.items():
        prefix = next((p for p in RENAME if key.startswith(p)), None)
        if prefix is None:
            raise WeightsError(f"toy foreign layout: unexpected key {key!r}")
        out[RENAME[prefix] + key[len(prefix) :]] = value
    return out


def from_toy(sd: StateDict) -> StateDict:
    """toy_sr's keys renamed to the foreign layout (what the tests save)."""
    back = {v: k for k, v in RENAME.items()}
    return {next(back[p] + k[len(p) :] for p in back if k.startswith(p)): v for k, v in sd.items()}


def detect(sd: StateDict) -> Detection | None:
    """toy_sr with its kwargs when every key has a foreign prefix; None when the file is not in that layout."""
    if BOOM in sd:
        raise RuntimeError("toy detector exploded on purpose")
    if not sd or not all(k.startswith(tuple(RENAME)) for k in sd):
        return None
    from srzoo_toy.archs import infer_kwargs

    toy = to_toy(sd)
    kwargs = infer_kwargs(toy)
    scale = kwargs.pop("scale")
    return Detection("toy_sr", kwargs, scale, toy, "toy foreign-layout detector (srzoo-toy)")
