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
"""

from __future__ import annotations

from generation.problems import Problem
from generation.requests.request import GenerationRequest
from generation.settings import ModelSettings

from .addons import plan_addons
from .assets import AddonProblem, AssetLibrary
from .headers import HeaderError
from .loaded import ModelEntry
from .lora_files import lora_info, lora_mismatch
from .widths import ModelWidths, model_widths

__all__ = ["check_addons"]


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
            file = library.lora(tag.name)  # UnknownAsset, with the closest names
            try:
                info = lora_info(file.path)
            except HeaderError as exc:
                raise Problem(AddonProblem.LORA_UNREADABLE, name=tag.name, detail=str(exc)) from None
            if info.kind != "LoRA":
                raise Problem(AddonProblem.LORA_UNSUPPORTED, name=tag.name, kind=info.kind)
            if widths is not None:
                problem = lora_mismatch(
                    tag.name,
                    info,
                    model_arch=widths.arch,
                    context_dim=widths.context_dim,
                    text_width=widths.text_width,
                    second_text_width=widths.second_text_width,
                )
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
