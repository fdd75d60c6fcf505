"""The add-on checks a front end can make before a job queues, from files alone. Torch-free.

A worker refuses a request whose add-ons it cannot use (`plan_addons`, then `pipelines.lora` on
the loaded model). Most of that is known from the files: `check_addons` raises the same
Problems earlier, so the user is told at once, with the closest names, instead of after waiting
in the queue:

- an unknown LoRA (in any image's drawn prompt) or VAE: `UnknownAsset` with the closest names,
- a LoRA file diffusers cannot load (LoHa, LoKr, OFT, no LoRA keys): `lora.unsupported`,
- a header that cannot be read: `lora.unreadable`,
- a LoRA for another architecture: `lora.wrong_arch`, when the model's widths are known from its
  files (`model_widths`); a `.ckpt`'s are known only once loaded, and its worker says so then.

`Preflight` holds the registry and the add-on folders a front end reads (from settings): it runs
`check_addons` for a request's model and lists the LoRAs and embeddings with what each is for and
whether it fits a model (`AddonListing`), for `/model loras`, `/model embeddings` and autocomplete.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from generation.problems import Problem
from generation.requests.request import GenerationRequest
from generation.settings import ModelSettings, Settings

from .addons import plan_addons
from .assets import AddonProblem, AssetFile, AssetLibrary, UnknownAsset
from .embedding_files import list_embeddings
from .errors import ModelNotFound
from .headers import HeaderError
from .loaded import ModelEntry
from .lora_files import LoraInfo, lora_info, lora_mismatch
from .registry import ModelRegistry
from .widths import ModelWidths, model_widths

__all__ = ["AddonListing", "Preflight", "check_addons"]

log = logging.getLogger(__name__)


def check_addons(
    request: GenerationRequest,
    library: AssetLibrary,
    *,
    entry: ModelEntry | None,
    settings: ModelSettings | None = None,
    widths: ModelWidths | None = None,
) -> None:
    """Raise the Problem the request's add-ons would fail its job with, as far as the files tell.
    `entry`: the checkpoint it runs on (None: unknown, so no architecture check); `widths`: its
    widths when the caller has them (else read from its files)."""
    if widths is None and entry is not None:
        widths = model_widths(entry)
    for loras in request.lora_sets:
        for tag in loras:
            try:
                file = library.lora(tag.name)
            except UnknownAsset as exc:  # the closest names, less those this model cannot use
                raise _closest_that_fit(exc, library, widths) from None
            try:
                info = _lora_info(file)
            except HeaderError as exc:
                raise Problem(AddonProblem.LORA_UNREADABLE, name=tag.name, detail=str(exc)) from None
            if info.kind != "LoRA":
                raise Problem(AddonProblem.LORA_UNSUPPORTED, name=tag.name, kind=info.kind)
            if widths is not None:
                problem = _mismatch(tag.name, info, widths)
                if problem is not None:
                    raise problem
    # The VAE (the request's, the checkpoint's in config, or the one beside it): the plan of the
    # request without its prompts, whose LoRAs were checked above, image by image.
    plan_addons(
        request.replace(prompt="", negative_prompt="", image_prompts=()),
        library,
        model_name=entry.name if entry is not None else request.model,
        checkpoint=entry.path if entry is not None and entry.kind != "hub" else None,
        settings=settings,
    )


def _mismatch(name: str, info: LoraInfo, widths: ModelWidths) -> Problem | None:
    """Why the LoRA cannot go on a checkpoint of these widths (None: it can)."""
    return lora_mismatch(
        name,
        info,
        model_arch=widths.arch,
        context_dim=widths.context_dim,
        text_width=widths.text_width,
        second_text_width=widths.second_text_width,
    )


def _closest_that_fit(
    unknown: UnknownAsset, library: AssetLibrary, widths: ModelWidths | None
) -> UnknownAsset:
    """An unknown LoRA's problem, suggesting only LoRAs the model can load (all, when its
    widths are not known)."""
    if widths is None:
        return unknown
    fitting = []
    for name in unknown.fields.get("closest") or []:
        try:
            info = _lora_info(library.lora(name))
        except (UnknownAsset, HeaderError):
            continue
        mismatch = _mismatch(name, info, widths)
        if info.kind == "LoRA" and mismatch is None:
            fitting.append(name)
    return UnknownAsset(unknown.code, **{**unknown.fields, "closest": fitting})


@functools.lru_cache(maxsize=1024)
def _cached_info(path: str, size: int, mtime_ns: int) -> LoraInfo:
    return lora_info(path)


def _lora_info(file: AssetFile) -> LoraInfo:
    """`lora_info`, read once per file version (listings and autocomplete ask again and again)."""
    try:
        stamp = file.stamp()
    except OSError as exc:
        raise HeaderError(str(exc)) from None
    return _cached_info(*stamp)


@dataclass(frozen=True)
class AddonListing:
    """A LoRA or embedding file, with what it is for, for listings."""

    kind: str  # "lora" | "embedding"
    name: str  # what a prompt writes
    file: str  # its file name
    arch: str | None  # the family it was made for ("sd1", "sd2", "sdxl"); None: not known
    fits: bool | None  # whether the model asked about can use it; None: not known until loaded
    detail: str | None = None  # a LoRA's kind when it is no LoRA diffusers loads ("LoHa"...), an
    # embedding's vector count ("2 vectors"), or "unreadable"


class Preflight:
    """The add-on checks and listings for a front end, over the folders `settings` names."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = ModelRegistry(settings.paths.model_folders, settings.models.hub_models)
        self.library = AssetLibrary.from_settings(settings.paths)

    def entry(self, model: str | None) -> ModelEntry | None:
        if model is None:
            return None
        try:
            return self.registry.get(model)
        except ModelNotFound:
            return None

    def widths(self, model: str | None) -> ModelWidths | None:
        entry = self.entry(model)
        return model_widths(entry) if entry is not None else None

    def check(self, request: GenerationRequest) -> None:
        """Raise the Problem the request's add-ons would fail its job with on its model."""
        check_addons(request, self.library, entry=self.entry(request.model), settings=self.settings.models)

    def loras(self, model: str | None = None) -> list[AddonListing]:
        """Every LoRA file, by name, and whether it fits `model` (None: not asked)."""
        widths = self.widths(model)
        listed = []
        for file in self.library.loras():
            try:
                info = _lora_info(file)
            except HeaderError:
                listed.append(AddonListing("lora", file.name, file.file_name, None, False, "unreadable"))
                continue
            fits: bool | None = None
            if info.kind != "LoRA":
                fits = False
            elif widths is not None:
                fits = _mismatch(file.name, info, widths) is None
            arch = str(info.arch) if info.arch is not None else None
            detail = None if info.kind == "LoRA" else info.kind
            listed.append(AddonListing("lora", file.name, file.file_name, arch, fits, detail))
        return listed

    def embeddings(self, model: str | None = None) -> list[AddonListing]:
        """Every embedding file, by name, and whether it fits `model` (None: not known)."""
        widths = self.widths(model)
        listed = []
        for info in list_embeddings(self.library):
            fits = None if info.arch is None or widths is None else info.arch == widths.arch
            vectors = None if info.vectors is None else f"{info.vectors} vector{'s' * (info.vectors != 1)}"
            arch = str(info.arch) if info.arch is not None else None
            listed.append(
                AddonListing("embedding", info.name, Path(info.file.path).name, arch, fits, vectors)
            )
        return listed
