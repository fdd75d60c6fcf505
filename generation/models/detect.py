"""Which Stable Diffusion family a single-file checkpoint belongs to, from its keys and shapes.

Checkpoints in the original (LDM / CompVis / SGM) key layout carry their architecture in their
key names and tensor widths:

- SD 1.x: `cond_stage_model.transformer.text_model.*` (CLIP ViT-L/14, width 768), UNet context 768
- SD 2.x: `cond_stage_model.model.*` (OpenCLIP ViT-H/14, width 1024), UNet context 1024
- SDXL base: `conditioner.embedders.0.transformer.*` (CLIP-L, 768) and
  `conditioner.embedders.1.model.*` (OpenCLIP bigG, 1280), UNet context 2048

An inpainting checkpoint of any of them has a UNet whose first convolution takes 9 channels
(the latents, the mask and the masked picture's latents) instead of 4.

Only the shapes are needed: a `.safetensors` header is read without touching the tensors; a
`.ckpt` is opened with `torch.load(weights_only=True)` only (memory-mapped when possible), so a
pickle that would construct arbitrary objects or run code is refused with `UnsafeCheckpoint`.

SD 2.x v-prediction (the 768-v models) cannot be told from shapes. `loading` settles it with a
same-stem `.yaml` (its `parameterization: "v"`), a same-stem config folder, or else the probe
AUTOMATIC1111 and stable-diffusion.cpp use: one UNet call at t=999 on a constant input.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .arch import Arch
from .errors import ModelLoadError, UnknownArchitecture, UnsafeCheckpoint

UNET_PREFIX = "model.diffusion_model."
UNET_CONV_IN = UNET_PREFIX + "input_blocks.0.0.weight"
SD1_TEXT = "cond_stage_model.transformer."
SD1_TEXT_POS = SD1_TEXT + "text_model.embeddings.position_embedding.weight"
SD1_TEXT_POS_OLD = SD1_TEXT + "embeddings.position_embedding.weight"
SD2_TEXT = "cond_stage_model.model."
SD2_TEXT_WIDTH_KEYS = (SD2_TEXT + "positional_embedding", SD2_TEXT + "token_embedding.weight")
XL_TEXT1 = "conditioner.embedders.0.transformer."
XL_TEXT1_POS = XL_TEXT1 + "text_model.embeddings.position_embedding.weight"
XL_TEXT2 = "conditioner.embedders.1.model."
XL_TEXT2_WIDTH_KEYS = (XL_TEXT2 + "positional_embedding", XL_TEXT2 + "token_embedding.weight")
XL_REFINER_TEXT = "conditioner.embedders.0.model."

# (text encoder width(s), UNet cross-attention width) of the real architectures
STANDARD_WIDTHS = {Arch.SD1: ((768,), 768), Arch.SD2: ((1024,), 1024), Arch.SDXL: ((768, 1280), 2048)}

UNET_CHANNELS = (4, 9)  # a text-to-image UNet's input channels, an inpainting one's

MAX_HEADER_BYTES = 256 * 1024 * 1024

Shapes = Mapping[str, Sequence[int]]


@dataclass(frozen=True)
class Detection:
    arch: Arch
    standard: bool  # widths match the real architecture, so the bundled config skeleton fits
    text_widths: tuple[int, ...]  # hidden size of each text encoder
    context_dim: int | None  # the UNet's cross-attention width
    prediction_type: str | None = None  # only when the file says so (SDXL `v_pred` marker key)
    zero_snr: bool = False  # SDXL `ztsnr` marker key
    inpainting: bool = False  # a 9-channel UNet: a dedicated inpainting checkpoint

    def describe(self) -> str:
        widths = "+".join(str(w) for w in self.text_widths)
        kind = " inpainting" if self.inpainting else ""
        return f"{self.arch}{kind} (text encoder width {widths}, UNet context {self.context_dim})"


@dataclass(frozen=True)
class YamlHints:
    """What an original LDM/SGM inference yaml says about a checkpoint."""

    arch: Arch | None  # None when its context_dim names no known family
    prediction_type: str  # "epsilon" | "v_prediction"
    context_dim: int | None = None
    scaling_factor: float | None = None


# -- reading shapes ----------------------------------------------------------------------------


def read_safetensors_shapes(path: str | os.PathLike[str]) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a `.safetensors` header (the tensors are not read)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError("file too short")
            (size,) = struct.unpack("<Q", raw)
            if size > MAX_HEADER_BYTES:
                raise ValueError(f"header of {size} bytes")
            header = json.loads(f.read(size))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{Path(path).name} is not a readable .safetensors file ({exc})") from exc
    if not isinstance(header, dict):
        raise ModelLoadError(f"{Path(path).name} has a malformed .safetensors header")
    return {
        name: tuple(int(d) for d in info["shape"])
        for name, info in header.items()
        if name != "__metadata__" and isinstance(info, dict) and "shape" in info
    }


def load_ckpt_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state dict of a `.ckpt`, loaded with `weights_only=True` (never unpickling code).

    Raises `UnsafeCheckpoint` when the pickle needs anything beyond tensors and plain containers.
    """
    path = Path(path)
    try:
        try:
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            data = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except pickle.UnpicklingError as exc:
        detail = next((ln.strip() for ln in str(exc).splitlines() if "Unsupported" in ln), "")
        detail = detail.split(" was not an allowed global")[0].replace("WeightsUnpickler error: ", "")
        raise UnsafeCheckpoint(
            f"{path.name} is a pickle that holds Python objects besides tensors, and loading it could "
            "run arbitrary code, so it was not loaded. Use a .safetensors version of this model, or "
            "convert it with a tool you trust" + (f" ({detail})" if detail else "") + "."
        ) from None
    except Exception as exc:
        raise ModelLoadError(f"cannot read {path.name}: {type(exc).__name__}: {exc}") from exc
    while isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise UnknownArchitecture(f"{path.name} does not hold a state dict (a mapping of tensors)")
    return data


def read_shapes(path: str | os.PathLike[str]) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of a `.safetensors` or `.ckpt` checkpoint."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        return read_safetensors_shapes(path)
    state = load_ckpt_state_dict(path)
    return {k: tuple(v.shape) for k, v in state.items() if hasattr(v, "shape")}


# -- detection -------------------------------------------------------------------------------


def _width(shapes: Shapes, *keys: str) -> int | None:
    for key in keys:
        shape = shapes.get(key)
        if shape:
            return int(shape[-1])
    return None


def _has_prefix(shapes: Shapes, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in shapes)


def _context_dim(shapes: Shapes) -> int | None:
    for key, shape in shapes.items():
        if key.startswith(UNET_PREFIX) and key.endswith("attn2.to_k.weight") and len(shape) == 2:
            return int(shape[1])
    return None


def detect_architecture(shapes: Shapes, name: str = "checkpoint") -> Detection:
    """Tell SD 1.x / 2.x / SDXL apart from a checkpoint's key names and shapes.

    Raises `UnknownArchitecture` (with the reason) for anything else: component files (a VAE, a
    LoRA, a diffusers-layout UNet), SDXL refiners, instruct-pix2pix UNets, UNet-only files.
    """
    if not _has_prefix(shapes, UNET_PREFIX):
        if any(k.startswith(("lora_", "lora_unet_", "lora_te")) or ".lora_" in k for k in shapes):
            what = "a LoRA, which is applied to a model rather than loaded as one"
        elif _has_prefix(shapes, "encoder.") and _has_prefix(shapes, "decoder."):
            what = "a VAE on its own"
        elif _has_prefix(shapes, "down_blocks.") or _has_prefix(shapes, "unet."):
            what = "in the diffusers key layout (save it as a diffusers folder instead)"
        else:
            what = "not a Stable Diffusion checkpoint"
        raise UnknownArchitecture(
            f"{name} has no UNet in the original layout (model.diffusion_model.*): it looks {what}"
        )
    conv_in = shapes.get(UNET_CONV_IN)
    in_channels = int(conv_in[1]) if conv_in and len(conv_in) > 1 else None
    if in_channels not in (None, *UNET_CHANNELS):
        raise UnknownArchitecture(
            f"{name} has a UNet with {in_channels} input channels (an instruct-pix2pix model?); "
            "text-to-image (4 channels) and inpainting (9 channels) checkpoints are supported"
        )
    context = _context_dim(shapes)

    if _has_prefix(shapes, XL_TEXT2):
        widths = (_width(shapes, XL_TEXT1_POS) or 0, _width(shapes, *XL_TEXT2_WIDTH_KEYS) or 0)
        arch = Arch.SDXL
    elif _has_prefix(shapes, XL_REFINER_TEXT):
        raise UnknownArchitecture(f"{name} is an SDXL refiner; only SDXL base models are supported")
    elif _has_prefix(shapes, SD2_TEXT):
        widths = (_width(shapes, *SD2_TEXT_WIDTH_KEYS) or 0,)
        arch = Arch.SD2
    elif _has_prefix(shapes, SD1_TEXT):
        if SD1_TEXT_POS not in shapes:
            hint = " (an old layout without `text_model.`)" if SD1_TEXT_POS_OLD in shapes else ""
            raise UnknownArchitecture(
                f"{name} has an SD 1.x text encoder in a key layout that cannot be loaded{hint}; "
                "re-save it with a current tool"
            )
        widths = (_width(shapes, SD1_TEXT_POS) or 0,)
        arch = Arch.SD1
    elif _has_prefix(shapes, "cond_stage_model.roberta."):
        raise UnknownArchitecture(f"{name} is an AltDiffusion model, which is not supported")
    else:
        raise UnknownArchitecture(
            f"{name} has a UNet but no text encoder (a UNet-only file?); a full SD 1.x, 2.x or SDXL "
            "checkpoint is needed"
        )

    want_widths, want_context = STANDARD_WIDTHS[arch]
    standard = widths == want_widths and context == want_context
    prediction = "v_prediction" if arch is Arch.SDXL and "v_pred" in shapes else None
    zero_snr = arch is Arch.SDXL and "ztsnr" in shapes
    inpainting = in_channels == UNET_CHANNELS[1]
    return Detection(arch, standard, widths, context, prediction, zero_snr, inpainting)


def detect_file(path: str | os.PathLike[str]) -> Detection:
    """`detect_architecture` on a checkpoint file."""
    path = Path(path)
    return detect_architecture(read_shapes(path), path.name)


# -- original inference yaml ---------------------------------------------------------------------


def read_ldm_yaml(path: str | os.PathLike[str]) -> YamlHints:
    """Read an original inference yaml (v1-inference.yaml, v2-inference-v.yaml, sd_xl_base.yaml...).

    Uses `model.params.parameterization` ("v" -> v_prediction, else epsilon; an SGM
    `denoiser_config` with VScaling also means v), the UNet `context_dim` (768 -> sd1,
    1024 -> sd2, 2048 or an SGM `network_config` with `adm_in_channels` -> sdxl) and `scale_factor`.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"cannot read the config {path.name}: {exc}") from exc
    params = _dig(data, "model", "params")
    if not isinstance(params, dict):
        raise ModelLoadError(f"{path.name} is not a Stable Diffusion inference config (no model.params)")
    unet = params.get("unet_config") or params.get("network_config") or {}
    unet_params = unet.get("params", {}) if isinstance(unet, dict) else {}
    context = unet_params.get("context_dim")
    context = int(context) if isinstance(context, int | float) else None
    denoiser = str(_dig(params, "denoiser_config", "params", "scaling_config", "target") or "")
    v = str(params.get("parameterization", "eps")).lower() == "v" or "VScaling" in denoiser
    if context == 2048 or ("network_config" in params and unet_params.get("adm_in_channels")):
        arch: Arch | None = Arch.SDXL
    else:
        arch = {768: Arch.SD1, 1024: Arch.SD2}.get(context or 0)
    scale = params.get("scale_factor")
    return YamlHints(
        arch=arch,
        prediction_type="v_prediction" if v else "epsilon",
        context_dim=context,
        scaling_factor=float(scale) if isinstance(scale, int | float) else None,
    )


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
