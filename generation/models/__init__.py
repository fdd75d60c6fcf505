"""Checkpoints: the registry over the models directory, detection, offline loading, hashes.

Importing this package does not import torch or diffusers (the bot imports it); loading does.
"""

from .convert import ldm_state_dict, save_config_skeleton, save_ldm_single_file
from .detect import Detection, YamlHints, detect_architecture, detect_file, read_ldm_yaml, read_shapes
from .errors import ModelError, ModelLoadError, ModelNotFound, UnknownArchitecture, UnsafeCheckpoint
from .hashing import HashCache, entry_short_hash, sha256_file
from .loaded import LoadedModel, ModelEntry
from .loading import (
    SingleFilePlan,
    assemble_config_dir,
    configure_vae_for,
    load_model,
    plan_single_file,
    probe_v_prediction,
    resolve_device,
    unload_model,
)
from .registry import ModelRegistry

__all__ = [
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
    "UnsafeCheckpoint",
    "YamlHints",
    "assemble_config_dir",
    "configure_vae_for",
    "detect_architecture",
    "detect_file",
    "entry_short_hash",
    "ldm_state_dict",
    "load_model",
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
