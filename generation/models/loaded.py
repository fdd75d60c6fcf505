"""The loaded model: a pipeline on a device, with the names users and metadata see. Torch-free."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .arch import Arch


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
    arch: Arch
    short_hash: str | None
    # torch.device and torch.dtype, not named here: the job service reads entries (preflight) and
    # lint-imports holds it torch-free, type-checking imports included
    device: Any
    dtype: Any
    # What the pipelines build from this model (its img2img pipeline, its own scheduler config, the
    # upscaler loaded for it). Kept here so that unload_model() drops them with the weights.
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # The GPU fast paths applied at load (generation.pipelines.acceleration.Acceleration), or None.
    acceleration: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.arch = Arch(self.arch)  # a plain "sd1" is accepted; a typo is refused here
