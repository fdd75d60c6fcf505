"""Checkpoints: the registry over the models directory, detection, offline loading, hashes.

The package splits at torch. `arch`, `errors`, `loaded`, `registry` and `hashing` are torch-free:
the job service lists and names models through them before any model is loaded. So are the
add-on folders: `assets` (LoRA, embedding and VAE files), `headers`, `lora_files` and
`embedding_files` (what a file is for, for listings) and `addons` (which files a request uses). `detect`,
`loading`, `convert` and `tiny` import torch and diffusers at the top. Importing the package
imports only the torch-free half; the names of the other half (`load_model`, `detect_file`, ...)
are imported from their modules when first asked for, so `from generation.models import
load_model` still works and pays for torch only then.
"""

from __future__ import annotations

import importlib
from typing import Any

from .addons import AddonPlan, plan_addons
from .arch import Arch
from .assets import AddonProblem, AssetFile, AssetLibrary, UnknownAsset
from .errors import ModelError, ModelLoadError, ModelNotFound, UnknownArchitecture, UnsafeCheckpoint
from .hashing import HashCache, entry_short_hash, sha256_file
from .loaded import LoadedModel, ModelEntry
from .registry import ModelRegistry

# The torch-side names, by the module that defines them.
_TORCH_SIDE = {
    "convert": ("ldm_state_dict", "save_config_skeleton", "save_ldm_single_file"),
    "detect": (
        "Detection",
        "YamlHints",
        "detect_architecture",
        "detect_file",
        "read_ldm_yaml",
        "read_shapes",
    ),
    "loading": (
        "SingleFilePlan",
        "assemble_config_dir",
        "load_model",
        "plan_single_file",
        "probe_v_prediction",
        "resolve_device",
        "unload_model",
    ),
}
_MODULE_OF = {name: module for module, names in _TORCH_SIDE.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "AddonPlan",
    "AddonProblem",
    "Arch",
    "AssetFile",
    "AssetLibrary",
    "Detection",
    "HashCache",
    "LoadedModel",
    "ModelEntry",
    "ModelError",
    "ModelLoadError",
    "ModelNotFound",
    "ModelRegistry",
    "SingleFilePlan",
    "UnknownArchitecture",
    "UnknownAsset",
    "UnsafeCheckpoint",
    "YamlHints",
    "assemble_config_dir",
    "detect_architecture",
    "detect_file",
    "entry_short_hash",
    "ldm_state_dict",
    "load_model",
    "plan_addons",
    "plan_single_file",
    "probe_v_prediction",
    "read_ldm_yaml",
    "read_shapes",
    "resolve_device",
    "save_config_skeleton",
    "save_ldm_single_file",
    "sha256_file",
    "unload_model",
]
