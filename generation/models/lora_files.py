"""What a LoRA file is for, read from its header: key layout, kind, and the widths it was trained at.

Two key layouts are in use: kohya's, which civitai and the web UI distribute
(`lora_unet_<module>.lora_down.weight`, `.lora_up.weight`, `.alpha`; text encoders `lora_te_`, and
`lora_te1_` / `lora_te2_` for SDXL's two), and diffusers' (`unet.<module>.lora_A.weight`, ...,
`text_encoder.` / `text_encoder_2.`). diffusers' `load_lora_weights` reads both. LyCORIS's LoCon
uses the kohya keys; its LoHa, LoKr and OFT factorisations are not LoRAs diffusers can load for
Stable Diffusion, so they are refused by name.

The widths decide whether a LoRA fits a model: a LoRA's cross-attention keys have the UNet's
context width (768 for SD 1.x, 1024 for SD 2.x, 2048 for SDXL) and its text-encoder keys the
encoders' hidden sizes; a file with `lora_te2_` keys needs SDXL's second encoder. Torch-free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from generation.problems import Problem

from .arch import Arch
from .assets import AddonProblem
from .headers import read_header

__all__ = ["LoraInfo", "lora_info", "lora_mismatch"]

_DOWN_SUFFIXES = (".lora_down.weight", ".lora_A.weight", ".lora.down.weight", "_lora.down.weight")
_KINDS = (("hada_w1", "LoHa"), ("lokr_w1", "LoKr"), ("oft_blocks", "OFT"), ("oft_diag", "OFT"))
_TE1_PREFIXES = ("lora_te_", "lora_te1_", "text_encoder.")
_TE2_PREFIXES = ("lora_te2_", "text_encoder_2.")
_UNET_PREFIXES = ("lora_unet_", "unet.")
_CONTEXT_ARCH = {768: Arch.SD1, 1024: Arch.SD2, 2048: Arch.SDXL}
_BASE_ARCH = (("sdxl", Arch.SDXL), ("sd_v2", Arch.SD2), ("sd_v1", Arch.SD1))


@dataclass(frozen=True)
class LoraInfo:
    layout: str  # "kohya" | "diffusers" | "unknown"
    kind: str  # "LoRA", or the LyCORIS kind that cannot be loaded ("LoHa", "LoKr", "OFT"), or "unknown"
    unet_context: int | None  # the cross-attention width its UNet keys expect
    text_width: int | None  # the (first) text encoder's width its keys expect
    second_text_width: int | None  # SDXL's second text encoder, when it has keys for it
    base: str | None  # `ss_base_model_version` from its metadata, as written

    @property
    def arch(self) -> Arch | None:
        """The family it was trained for, as far as its widths or metadata say."""
        if self.second_text_width is not None:
            return Arch.SDXL
        if self.unet_context in _CONTEXT_ARCH:
            return _CONTEXT_ARCH[self.unet_context]
        base = (self.base or "").lower()
        return next((arch for prefix, arch in _BASE_ARCH if base.startswith(prefix)), None)


def lora_info(path: str | os.PathLike[str]) -> LoraInfo:
    """The file's layout, kind and widths (HeaderError when it is not a readable .safetensors)."""
    header = read_header(path)
    keys = header.shapes
    kind = next((name for part, name in _KINDS if any(part in k for k in keys)), None)
    downs = {k: shape for k, shape in keys.items() if k.endswith(_DOWN_SUFFIXES) and len(shape) >= 2}
    if kind is None:
        kind = "LoRA" if downs else "unknown"
    if any(k.startswith(("lora_unet_", "lora_te")) for k in keys):
        layout = "kohya"
    elif any(k.startswith(("unet.", "text_encoder")) for k in keys):
        layout = "diffusers"
    else:
        layout = "unknown"

    def width(prefixes: tuple[str, ...], *parts: str) -> int | None:
        for key, shape in sorted(downs.items()):
            if key.startswith(prefixes) and all(part in key for part in parts):
                return int(shape[1])
        return None

    return LoraInfo(
        layout=layout,
        kind=kind,
        unet_context=width(_UNET_PREFIXES, "attn2", "to_k"),
        text_width=width(_TE1_PREFIXES, "q_proj"),
        second_text_width=width(_TE2_PREFIXES, "q_proj"),
        base=header.metadata.get("ss_base_model_version"),
    )


def lora_mismatch(
    name: str,
    info: LoraInfo,
    *,
    model_arch: Arch,
    context_dim: int,
    text_width: int | None,
    second_text_width: int | None,
) -> Problem | None:
    """Why the LoRA cannot be used on a model with these widths, or None when it fits."""
    if info.kind != "LoRA":
        return Problem(AddonProblem.LORA_UNSUPPORTED, name=name, kind=info.kind)
    fits = (
        (info.unet_context is None or info.unet_context == context_dim)
        and (info.text_width is None or info.text_width == text_width)
        and (info.second_text_width is None or info.second_text_width == second_text_width)
    )
    if fits:
        return None
    return Problem(
        AddonProblem.LORA_WRONG_ARCH,
        name=name,
        lora_arch=str(info.arch) if info.arch is not None else None,
        lora_context=info.unet_context,
        model_arch=str(model_arch),
        model_context=context_dim,
    )
