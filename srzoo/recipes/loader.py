"""Strict typed configs: YAML recipes with `base`, dotted overrides, and dataclass validation with did-you-mean."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import yaml

from srzoo.errors import ConfigError, did_you_mean

T = TypeVar("T")
_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n", "none"}


# -- YAML files, names and bases -------------------------------------------------------------------------------
def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one YAML mapping; errors name the file and line."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read recipe {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the recipe as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # PyYAML's own text spans lines
        raise ConfigError(f"{path}{where}: invalid YAML ({problem})") from None
    except (RecursionError, ValueError) as exc:  # nesting deeper than Python's stack; a 5000-digit number
        raise ConfigError(
            f"{path}: YAML too deeply nested or a number too long ({type(exc).__name__})"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of keys, got {type(data).__name__}")
    return data


def resolve_recipe_path(ref: str | Path, relative_to: Path | None = None) -> Path:
    """A recipe given as a path (absolute, relative to cwd or to the including recipe) or as a registered name."""
    from srzoo.framework.registries import RECIPES

    candidates = [Path(ref)]
    if relative_to is not None:
        candidates.insert(0, relative_to / ref)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    text = str(ref)
    if "/" in text or text.endswith((".yaml", ".yml")):
        if Path(text).stem not in RECIPES:
            raise ConfigError(
                f"recipe file {text} does not exist; `srzoo list recipes` shows the named recipes"
            )
        text = Path(text).stem
    return recipe_file(text)


def recipe_file(name: str) -> Path:
    """The YAML file behind a registered recipe name (entry point value 'package:file.yaml')."""
    from srzoo.framework.registries import RECIPES

    return RECIPES.get(name)


def merge(base: Any, over: Any) -> Any:
    """Deep-merge `over` onto `base`: mappings merge, lists of named mappings merge by `name`, else `over` wins."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if _named_list(base) and _named_list(over):
        out = [copy.deepcopy(item) for item in base]
        index = {item["name"]: i for i, item in enumerate(out)}
        for item in over:
            if item["name"] in index:
                out[index[item["name"]]] = merge(out[index[item["name"]]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(over)


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "name" in v for v in value)


def load_recipe_dict(ref: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a recipe and its `base` chain into one plain dict (not yet validated)."""
    path = resolve_recipe_path(ref, _chain[-1].parent if _chain else None).resolve()
    if path in _chain:
        raise ConfigError(f"recipe base cycle: {' -> '.join(str(p) for p in (*_chain, path))}")
    data = read_yaml(path)
    check_requires(data.pop("requires", None), path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base must be a recipe name or file, got {_show(base)}")
    return merge(load_recipe_dict(base, (*_chain, path)), data)


def check_requires(requires: Any, path: Path) -> None:
    """A recipe's `requires: [dist, ...]` names the plugin distributions it runs with; a missing one is one line."""
    if requires is None:
        return
    if isinstance(requires, str):
        requires = [requires]
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise ConfigError(f"{path}: `requires` must be a list of distribution names, got {_show(requires)}")
    missing = []
    for dist in requires:
        try:
            metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            missing.append(dist)
    if missing:
        which = (
            f"the plugin {missing[0]}, which is"
            if len(missing) == 1
            else f"the plugins {', '.join(missing)}, which are"
        )
        raise ConfigError(f"recipe {path.name} needs {which} not installed: pip install {' '.join(missing)}")


# -- dotted overrides ------------------------------------------------------------------------------------------
def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply `a.b.0.c=value` overrides (values parsed as YAML) to a copy of `data`."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like key.sub=value (e.g. phases.0.iters=10)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.split(".")
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                    raise ConfigError(
                        f"override {item!r}: {where} is not an index of a {len(node)}-item list"
                    )
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise ConfigError(f"override {item!r}: {'.'.join(parts[:depth])} is a value, not a section")
    return data


# -- typed validation ------------------------------------------------------------------------------------------
def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build dataclass `cls` from plain data, rejecting unknown keys and coercing values to declared types."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'recipe'}: expected a mapping, got {_show(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            raise ConfigError(
                f"unknown key {_join(path, str(key))!r}{did_you_mean(str(key), fields)} "
                f"(allowed here: {', '.join(sorted(fields))})"
            )
    values = {}
    for name, field in fields.items():
        if name in data:
            values[name] = coerce(hints[name], data[name], _join(path, name))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key {_join(path, name)!r}")
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:  # __post_init__ checks
        raise ConfigError(f"{path or 'recipe'}: {exc}") from None


def coerce(tp: Any, value: Any, path: str) -> Any:
    """Convert `value` to type `tp` or raise ConfigError naming `path`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(arg, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {_show(value)} matches none of {tp}")
    if origin is typing.Literal:
        if isinstance(value, bool):  # YAML 1.1 reads `no`/`off` as False
            value = next((a for a in args if str(a).lower() in (_TRUE if value else _FALSE)), value)
        if value in args:
            return value
        text = str(value)
        raise ConfigError(
            f"{path}: {text!r} is not one of {', '.join(map(repr, args))}{did_you_mean(text, map(str, args))}"
        )
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if origin in (list, Sequence) or tp is list:
        if not isinstance(value, (list, tuple)):
            value = [value]
        item = args[0] if args else Any
        return [coerce(item, v, f"{path}.{i}") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {_show(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(args[0], v, f"{path}.{i}") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{path}: expected {len(args)} values, got {len(value)}")
        return tuple(coerce(a, v, f"{path}.{i}") for i, (a, v) in enumerate(zip(args, value)))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {_show(value)}")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): coerce(vt, v, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ConfigError(f"{path}: expected true/false, got {_show(value)}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{path}: expected an integer, got {_show(value)}")
        try:
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, float) and number.is_integer():
                return int(number)
            if isinstance(number, int):
                return number
        except ValueError:
            pass
        raise ConfigError(f"{path}: expected an integer, got {_show(value)}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{path}: expected a number, got {_show(value)}")
        try:
            return float(value)  # PyYAML reads `1e-4` (no dot) as a string
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: expected a number, got {_show(value)}") from None
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{path}: expected text, got {_show(value)}")
    return value


def to_dict(obj: Any) -> Any:
    """Plain data (for YAML/JSON) from a validated config."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def config_hash(obj: Any) -> str:
    """Short stable hash of a config's content (recorded in exported weights)."""
    text = json.dumps(to_dict(obj), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
