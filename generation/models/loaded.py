"""The loaded model: a pipeline on a device, with the names users and metadata see."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ModelEntry:
    name: str  # what users type: the file or folder stem (or an allowed hub id)
    path: Path | str  # a folder, a file, or a hub id
    kind: str  # "diffusers" | "safetensors" | "ckpt" | "hub"
    config: Path | None = None  # a same-stem .yaml or skeleton folder beside a single file


@dataclass
class LoadedModel:
    name: str
    entry: ModelEntry
    pipe: Any  # StableDiffusionPipeline or StableDiffusionXLPipeline
    arch: str  # "sd1" | "sd2" | "sdxl"
    short_hash: str | None
    device: torch.device
    dtype: torch.dtype
