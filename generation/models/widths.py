"""What a checkpoint's LoRAs must fit, read from its files without loading it. Torch-free.

A LoRA fits a model when its keys have the model's widths (`lora_files.lora_mismatch`): the UNet's
cross-attention width and the text encoders' hidden sizes. Front ends refuse a LoRA made for
another architecture before a job queues, so they need those widths without torch:

- a diffusers folder: `unet/config.json` (cross_attention_dim), `text_encoder/config.json` and
  `text_encoder_2/config.json` (hidden_size), `model_index.json` (SDXL's pipeline class);
- a `.safetensors` checkpoint: its header's shapes, in the original (LDM / SGM) key layout that
  `detect` reads (the same prefixes; that module needs torch for `.ckpt` files, this one does not);
- a `.ckpt` (a pickle) or a Hub id: not known until it is loaded (None; the worker checks then).

The answer is cached per file (path, size, modification time).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .arch import Arch
from .headers import HeaderError, read_header
from .loaded import ModelEntry

__all__ = ["ModelWidths", "model_widths"]

# The original key layout's prefixes (generation.models.detect has the same)
_UNET = "model.diffusion_model."
_SD1_TEXT_POS = "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"
_SD2_TEXT = "cond_stage_model.model."
_XL_TEXT1_POS = "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight"
_XL_TEXT2 = "conditioner.embedders.1.model."
_OPENCLIP_WIDTH_KEYS = ("positional_embedding", "token_embedding.weight")


@dataclass(frozen=True)
class ModelWidths:
    """A model's family and the widths a LoRA's keys must have to fit it."""

    arch: Arch
    context_dim: int  # the UNet's cross-attention width
    text_width: int | None  # the (first) text encoder's hidden size
    second_text_width: int | None = None  # SDXL's second text encoder


def model_widths(entry: ModelEntry) -> ModelWidths | None:
    """The entry's widths from its files; None when they do not tell without loading it (a
    `.ckpt`, a Hub id, a file it cannot read or does not recognise)."""
    if not isinstance(entry.path, Path) or entry.kind not in ("diffusers", "safetensors"):
        return None
    path = entry.path
    try:
        stat = path.stat() if entry.kind == "safetensors" else (path / "model_index.json").stat()
    except OSError:
        return None
    return _widths(str(path), entry.kind, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _widths(path: str, kind: str, size: int, mtime_ns: int) -> ModelWidths | None:
    return _folder_widths(Path(path)) if kind == "diffusers" else _file_widths(Path(path))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _folder_widths(folder: Path) -> ModelWidths | None:
    context = _int(_read_json(folder / "unet" / "config.json").get("cross_attention_dim"))
    if context is None:
        return None
    text = _read_json(folder / "text_encoder" / "config.json")
    second = _read_json(folder / "text_encoder_2" / "config.json")
    xl = "XL" in str(_read_json(folder / "model_index.json").get("_class_name", ""))
    if xl:
        arch = Arch.SDXL
    else:  # as loading.folder_arch tells SD 2.x from SD 1.x
        arch = Arch.SD2 if text.get("hidden_size") == 1024 or text.get("hidden_act") == "gelu" else Arch.SD1
    return ModelWidths(
        arch, context, _int(text.get("hidden_size")), _int(second.get("hidden_size")) if xl else None
    )


def _file_widths(path: Path) -> ModelWidths | None:
    try:
        shapes = read_header(path).shapes
    except HeaderError:
        return None
    context = next(
        (
            int(shape[1])
            for key, shape in shapes.items()
            if key.startswith(_UNET) and key.endswith("attn2.to_k.weight") and len(shape) == 2
        ),
        None,
    )
    if context is None:
        return None

    def width(*keys: str) -> int | None:
        return next((int(shapes[k][-1]) for k in keys if shapes.get(k)), None)

    if any(key.startswith(_XL_TEXT2) for key in shapes):
        second = width(*(_XL_TEXT2 + k for k in _OPENCLIP_WIDTH_KEYS))
        return ModelWidths(Arch.SDXL, context, width(_XL_TEXT1_POS), second)
    if any(key.startswith(_SD2_TEXT) for key in shapes):
        return ModelWidths(Arch.SD2, context, width(*(_SD2_TEXT + k for k in _OPENCLIP_WIDTH_KEYS)))
    if _SD1_TEXT_POS in shapes:
        return ModelWidths(Arch.SD1, context, width(_SD1_TEXT_POS))
    return None
