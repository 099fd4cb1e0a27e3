"""srzoo: a plugin-style super-resolution model zoo. The public API for users and plugin authors; loads no plugin.

Users: `build_arch`, `load_model`, `load_recipe`, the registries and `list_*`. Plugin authors import only what is
exported here (descriptors, capabilities, weights metadata, errors, atomic writes) and `srzoo.testing` (contract
checks); docs/plugins.md describes the contract.
"""

from __future__ import annotations

from typing import Any

from srzoo._version import __version__
from srzoo.errors import (
    ConfigError,
    DataError,
    InputError,
    PluginError,
    SrzooError,
    UnknownNameError,
    WeightsError,
    did_you_mean,
)
from srzoo.framework.build import build_arch, build_discriminator, build_loss
from srzoo.framework.descriptors import (
    ArchInfo,
    Capabilities,
    Detection,
    PretrainedWeights,
    StateDict,
    arch_info,
    describe_arch,
)
from srzoo.framework.files import atomic_write
from srzoo.framework.registries import ARCHS, DATASETS, DETECTORS, LOSSES, PHASES, RECIPES
from srzoo.inference.model import ModelCard, SRModel, load_model
from srzoo.recipes.schema import Recipe, load_recipe

__all__ = [
    "ARCHS",
    "DATASETS",
    "DETECTORS",
    "LOSSES",
    "PHASES",
    "RECIPES",
    "ArchInfo",
    "Capabilities",
    "ConfigError",
    "DataError",
    "Detection",
    "InputError",
    "ModelCard",
    "PluginError",
    "PretrainedWeights",
    "Recipe",
    "SRModel",
    "SrzooError",
    "StateDict",
    "UnknownNameError",
    "WeightsError",
    "__version__",
    "arch_info",
    "atomic_write",
    "build_arch",
    "build_discriminator",
    "build_loss",
    "describe_arch",
    "did_you_mean",
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
    raise AttributeError(f"module 'srzoo' has no attribute {name!r}{did_you_mean(name, __all__)}")
