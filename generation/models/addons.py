"""Which add-on files a request uses: its LoRAs, the embeddings its prompts name, its VAE, its clip
skip. Torch-free, so front ends can refuse a request with an unknown LoRA or VAE before it queues,
and the pipelines load exactly what the plan names.

- LoRAs: each `<lora:name:weight>` of the prompt, looked up in the LoRA folder (`UnknownAsset`
  with the closest names when there is none). Tags in the negative prompt, and tags of other
  types (`<hypernet:...>`), are noted and not applied.
- Embeddings: the embedding files whose names occur in the prompt or the negative prompt.
- VAE: the request's `vae`, else the checkpoint's entry in `models.vae`, else "Automatic" (the
  web UI's rule: `CKPT.vae.safetensors` beside the checkpoint, else the checkpoint's own VAE).
  "None" is the checkpoint's own VAE.
- Clip skip: the request's, else the checkpoint's entry in `models.clip_skip`, else 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from generation.problems import Problem
from generation.requests.addons import LoraTag, extract_networks, find_names
from generation.requests.applied import Note
from generation.requests.request import GenerationRequest
from generation.settings import ModelSettings

from .assets import AssetFile, AssetLibrary

__all__ = ["AUTOMATIC", "NO_VAE", "AddonPlan", "LoraChoice", "VaeChoice", "plan_addons"]

AUTOMATIC = "automatic"
NO_VAE = "none"


@dataclass(frozen=True)
class LoraChoice:
    tag: LoraTag
    file: AssetFile


@dataclass(frozen=True)
class VaeChoice:
    file: AssetFile
    source: str  # "request" | "config" | "automatic"


@dataclass(frozen=True)
class AddonPlan:
    loras: tuple[LoraChoice, ...] = ()
    embeddings: tuple[AssetFile, ...] = ()  # those whose names the prompt or negative prompt use
    vae: VaeChoice | None = None  # None: the checkpoint's own
    clip_skip: int = 1  # asked for; the encoder applies it where the architecture uses it
    notes: tuple[Problem, ...] = ()

    def lora_key(self) -> tuple[tuple[str, float, float, tuple[str, int, int]], ...]:
        """The LoRA set as cache keys see it: names, weights and the files' stamps."""
        return tuple((c.tag.name, c.tag.te_weight, c.tag.unet_weight, c.file.stamp()) for c in self.loras)


def plan_addons(
    request: GenerationRequest,
    library: AssetLibrary,
    *,
    model_name: str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    settings: ModelSettings | None = None,
) -> AddonPlan:
    """The add-on files `request` uses on the checkpoint `model_name` (stored at `checkpoint`).

    Raises `UnknownAsset` for a LoRA or VAE name that is not in its folder."""
    settings = settings or ModelSettings()
    notes: list[Problem] = []
    prompt_text, prompt_tags = extract_networks(request.prompt)
    negative_text, negative_tags = extract_networks(request.negative_prompt)
    for tag in prompt_tags:
        if not tag.is_lora:
            notes.append(Problem(Note.OTHER_NETWORK, kind=tag.kind, name=tag.name))
    for tag in negative_tags:
        if tag.is_lora:
            notes.append(Problem(Note.LORA_IN_NEGATIVE, name=tag.name))
        else:
            notes.append(Problem(Note.OTHER_NETWORK, kind=tag.kind, name=tag.name))

    loras = tuple(LoraChoice(tag, library.lora(tag.name)) for tag in request.loras)

    available = {file.name: file for file in library.embeddings()}
    used = find_names(f"{prompt_text}\n{negative_text}", available)
    embeddings = tuple(available[name] for name in used)

    vae = _vae(request, library, model_name, checkpoint, settings)
    clip_skip = request.clip_skip or (settings.clip_skip.get(model_name, 1) if model_name else 1)
    return AddonPlan(loras, embeddings, vae, clip_skip, tuple(notes))


def _vae(
    request: GenerationRequest,
    library: AssetLibrary,
    model_name: str | None,
    checkpoint: str | os.PathLike[str] | None,
    settings: ModelSettings,
) -> VaeChoice | None:
    if request.vae is not None:
        wanted, source = request.vae, "request"
    elif model_name is not None and model_name in settings.vae:
        wanted, source = settings.vae[model_name], "config"
    else:
        wanted, source = AUTOMATIC, AUTOMATIC
    if wanted.strip().casefold() == NO_VAE:
        return None
    if wanted.strip().casefold() == AUTOMATIC:
        beside = library.vae_beside(checkpoint) if checkpoint is not None else None
        return VaeChoice(beside, AUTOMATIC) if beside is not None else None
    return VaeChoice(library.vae(wanted), source)
