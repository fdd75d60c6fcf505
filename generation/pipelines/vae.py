"""VAEs from the VAE folder (or beside a checkpoint), swapped into a pipeline for one call.

A VAE file holds an `AutoencoderKL`'s weights in the original (LDM) key layout, with or without
the `first_stage_model.` prefix, as civitai and the web UI ship them, or in diffusers' layout; a
diffusers VAE folder (config.json + weights) loads as it is. Weights go into a VAE built from the
model's own VAE config (its scaling factor stays the model's, as in the web UI, which loads a VAE's
weights into the checkpoint's first stage model). `.pt`, `.ckpt` and `.bin` files are read with
`weights_only=True` only. Loaded VAEs are kept per model (`model.derived["vaes"]`, the last
`MAX_VAES`), keyed by the file's stamp.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from diffusers import AutoencoderKL
from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint
from safetensors.torch import load_file

from generation.models.assets import AddonProblem, AssetFile
from generation.models.loaded import LoadedModel
from generation.problems import Problem

__all__ = ["MAX_VAES", "load_vae", "using_vae"]

MAX_VAES = 2
_LDM_PREFIXES = ("first_stage_model.", "vae.")
_LDM_MARKER = "encoder.down.0."  # diffusers writes encoder.down_blocks.0.


def _state_dict(file: AssetFile) -> dict[str, torch.Tensor]:
    path = file.path
    if path.suffix.lower() == ".safetensors":
        data: Any = load_file(str(path))
    else:
        data = torch.load(path, map_location="cpu", weights_only=True)
    while isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise ValueError("it holds no state dict")
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}


def _diffusers_keys(state: dict[str, torch.Tensor], config: Any) -> dict[str, torch.Tensor]:
    if any(_LDM_MARKER in key for key in state):
        if not any(key.startswith(_LDM_PREFIXES) for key in state):
            state = {"first_stage_model." + k: v for k, v in state.items()}
        return convert_ldm_vae_checkpoint(state, config)
    for prefix in _LDM_PREFIXES:
        if all(key.startswith(prefix) for key in state):
            return {key[len(prefix) :]: value for key, value in state.items()}
    return state


def read_vae(file: AssetFile, like: Any) -> Any:
    """An AutoencoderKL with the file's weights, shaped like the model's VAE `like`."""
    if file.path.is_dir():
        return AutoencoderKL.from_pretrained(str(file.path), local_files_only=True)
    state = _diffusers_keys(_state_dict(file), like.config)
    vae = AutoencoderKL.from_config(like.config)
    vae.load_state_dict(state, strict=True)
    return vae


def load_vae(model: LoadedModel, file: AssetFile) -> Any:
    """The VAE of `file`, loaded for the model (once; kept with it); `vae.unusable` when it cannot be."""
    cache: OrderedDict[tuple[str, int, int], Any] = model.derived.setdefault("vaes", OrderedDict())
    try:
        stamp = file.stamp()
        if stamp in cache:
            cache.move_to_end(stamp)
            return cache[stamp]
        vae = read_vae(file, model.pipe.vae)
    except pickle.UnpicklingError:
        raise Problem(
            AddonProblem.VAE_UNUSABLE, name=file.file_name, detail="a pickle holding more than tensors"
        ) from None
    except Exception as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Problem(AddonProblem.VAE_UNUSABLE, name=file.file_name, detail=detail[:300]) from None
    vae = vae.to(device=model.device, dtype=model.pipe.vae.dtype).eval()
    cache[stamp] = vae
    while len(cache) > MAX_VAES:
        cache.popitem(last=False)
    return vae


@contextmanager
def using_vae(pipe: Any, vae: Any) -> Iterator[None]:
    """The pipeline decodes (and, for img2img, encodes) with `vae` for the call (None: its own).

    Its convolutions take the padding the pipeline's own VAE has at that moment, so a patch such
    as seamless tiling (circular padding) applies to it too."""
    if vae is None or vae is pipe.vae:
        yield
        return
    own = pipe.vae
    own_convs = [m for m in own.modules() if isinstance(m, torch.nn.Conv2d)]
    convs = [m for m in vae.modules() if isinstance(m, torch.nn.Conv2d)]
    saved = [(conv, conv.padding_mode) for conv in convs]
    if len(convs) == len(own_convs):
        for conv, like in zip(convs, own_convs, strict=True):
            conv.padding_mode = like.padding_mode
    pipe.vae = vae
    try:
        yield
    finally:
        pipe.vae = own
        for conv, mode in saved:
            conv.padding_mode = mode
