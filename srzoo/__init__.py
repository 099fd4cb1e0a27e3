"""srzoo: a plugin-style super-resolution model zoo. Public API; importing it loads no plugin."""

from __future__ import annotations

from typing import Any

from srzoo.build import build_arch, build_discriminator, build_loss
from srzoo.descriptors import ArchInfo, Capabilities, PretrainedWeights, arch_info, describe_arch
from srzoo.errors import (
    ConfigError,
    DataError,
    InputError,
    PluginError,
    SrzooError,
    UnknownNameError,
    WeightsError,
)
from srzoo.model import ModelCard, SRModel, load_model
from srzoo.recipe import Recipe, load_recipe
from srzoo.registries import ARCHS, DATASETS, LOSSES, PHASES, RECIPES

__version__ = "0.1.0"

__all__ = [
    "ARCHS",
    "DATASETS",
    "LOSSES",
    "PHASES",
    "RECIPES",
    "ArchInfo",
    "Capabilities",
    "ConfigError",
    "DataError",
    "InputError",
    "ModelCard",
    "PluginError",
    "PretrainedWeights",
    "Recipe",
    "SRModel",
    "SrzooError",
    "UnknownNameError",
    "WeightsError",
    "__version__",
    "arch_info",
    "build_arch",
    "build_discriminator",
    "build_loss",
    "describe_arch",
    "list_archs",
    "list_datasets",
    "list_losses",
    "list_phases",
    "list_recipes",
    "load_model",
    "load_recipe",
]


def list_archs(pattern: str = "*") -> list[str]:
    """Registered arch names matching a shell-style pattern."""
    return ARCHS.names(pattern)


def list_losses(pattern: str = "*") -> list[str]:
    return LOSSES.names(pattern)


def list_datasets(pattern: str = "*") -> list[str]:
    return DATASETS.names(pattern)


def list_phases(pattern: str = "*") -> list[str]:
    return PHASES.names(pattern)


def list_recipes(pattern: str = "*") -> list[str]:
    return RECIPES.names(pattern)


def __getattr__(name: str) -> Any:  # pragma: no cover - helpful message for removed/misspelt API
    from srzoo.errors import did_you_mean

    raise AttributeError(f"module 'srzoo' has no attribute {name!r}{did_you_mean(name, __all__)}")
