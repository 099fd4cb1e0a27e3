"""`srzoo list`: registered names with their providing distribution, and the plugins with their load errors."""

from __future__ import annotations

import argparse

from srzoo.framework.entry_points import GROUPS, distributions
from srzoo.framework.registries import ALL

KINDS = {
    "archs": "arch",
    "losses": "loss",
    "datasets": "dataset",
    "phases": "phase",
    "recipes": "recipe",
    "degradations": "degradation",
    "detectors": "detector",
}
PLURAL = {kind: plural for plural, kind in KINDS.items()}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list registered archs, losses, datasets, phases, recipes, degradations, detectors, plugins",
    )
    parser.add_argument("what", nargs="?", default="archs", choices=[*KINDS, "plugins", "weights"])
    parser.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'rrdb*'")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "plugins":
        return _plugins()
    if args.what == "weights":
        return _weights(args.pattern)
    registry = ALL[KINDS[args.what]]
    conflicts = registry.conflicts()
    rows = []
    for entry in registry.entries():
        if not _match(entry.name, args.pattern):
            continue
        note = (
            f"  CONFLICT: also provided by {', '.join(conflicts[entry.name][1:])}"
            if entry.name in conflicts
            else ""
        )
        rows.append((entry.name, entry.dist, _license(entry) if args.what == "archs" else "", note))
    width = max((len(r[0]) for r in rows), default=0)
    dist_width = max((len(r[1]) for r in rows), default=0)
    for name, dist, license_, note in rows:
        line = (
            f"{name:<{width}}  {dist:<{dist_width}}  {license_}" if license_ else f"{name:<{width}}  {dist}"
        )
        print(f"{line.rstrip()}{note}")
    return 0


def _license(entry) -> str:
    """The arch's declared license (its descriptor; plugins keep these static, so nothing heavy is imported)."""
    from srzoo.framework.descriptors import arch_info

    obj = entry.load()
    if entry.error:
        return f"[FAILED: {entry.error}]"
    return arch_info(obj).capabilities.license


def _match(name: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(name, pattern)


def _plugins() -> int:
    """Each distribution, its version, what it provides, and load errors (this imports every entry point)."""
    dists = distributions()
    for dist in sorted(dists, key=lambda d: (d != "srzoo", d)):
        info = dists[dist]
        print(f"{dist} {info['version']}")
        for kind in GROUPS:
            names = info["provides"].get(kind)
            if not names:
                continue
            registry = ALL[kind]
            shown = []
            for name in names:
                entry = next((e for e in registry.entries() if e.name == name and e.dist == dist), None)
                if entry is not None:
                    entry.load()
                    if entry.error:
                        shown.append(f"{name} [FAILED: {entry.error}]")
                        continue
                else:  # shadowed by another distribution's entry of the same name
                    shown.append(f"{name} [CONFLICT: name taken by another distribution]")
                    continue
                shown.append(name)
            print(f"  {PLURAL[kind]}: {', '.join(shown)}")
    return 0


def _weights(pattern: str) -> int:
    """Zoo weight tags (`arch.tag`), their scale, license, source URL and published metrics, if any."""
    from srzoo.framework.registries import ARCHS, arch_info

    for name in ARCHS.names():
        try:
            pretrained = arch_info(ARCHS.get(name)).pretrained
        except Exception:  # shown by `srzoo list plugins`
            continue
        for i, entry in enumerate(pretrained):
            tag = f"{name}.{entry.tag}"
            if _match(tag, pattern) or _match(name, pattern):
                default = " (default)" if i == 0 else ""
                published = "  ".join(f"{k}={v:g}" for k, v in entry.metrics.items())
                published = f"  published: {published}" if published else ""
                print(f"{tag}{default}  x{entry.scale}  {entry.license}  {entry.url}{published}")
    return 0
