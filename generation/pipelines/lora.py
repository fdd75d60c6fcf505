"""LoRA adapters on a loaded model: loaded once, switched per call, never reloaded per job.

A LoRA file (kohya's key layout, as civitai and the web UI ship it, or diffusers') is loaded
with diffusers' `load_lora_weights` into the model's UNet and text encoders as a `peft` adapter
the first time a request uses it, after its header is checked against the model (a LoRA made for
another architecture is refused with that reason, `lora.wrong_arch`). From then on a call only
switches which adapters are active and at what weights (`set_adapters`, with separate text
encoder and UNet weights, as `<lora:name:te:unet>` gives them); a call without LoRAs disables
them. The adapters are kept on the model (`model.derived["loras"]`); at most `MAX_ADAPTERS` stay
loaded, the least recently used going first. A file replaced on disk is loaded again.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import transformers

from generation.models.addons import LoraChoice
from generation.models.assets import AddonProblem
from generation.models.headers import HeaderError
from generation.models.loaded import LoadedModel
from generation.models.lora_files import lora_info, lora_mismatch
from generation.problems import Problem

__all__ = ["MAX_ADAPTERS", "LoraAdapters", "adapters_of", "quiet_loading"]

MAX_ADAPTERS = 8
_NOISY_LOGGERS = ("diffusers", "transformers", "peft")


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """diffusers, transformers and peft report every key an adapter leaves alone (hundreds of
    lines per LoRA, all expected) and draw progress bars; keep errors only while loading."""
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    bars = transformers.utils.logging.is_progress_bar_enabled()
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        transformers.utils.logging.disable_progress_bar()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if bars:
            transformers.utils.logging.enable_progress_bar()


class LoraAdapters:
    """The adapters loaded into one model's pipeline, and which are active."""

    def __init__(self) -> None:
        self.loaded: OrderedDict[tuple[str, int, int], str] = OrderedDict()  # file stamp -> adapter
        self.active: tuple[tuple[str, float, float], ...] = ()
        self.loads = 0  # files loaded so far (a switch loads nothing)
        self._counter = 0

    def activate(self, model: LoadedModel, choices: Sequence[LoraChoice]) -> None:
        """Make exactly these LoRAs active, at their weights (loading the ones not loaded yet)."""
        pipe = model.pipe
        if not choices:
            if self.active:
                pipe.disable_lora()
                self.active = ()
            return
        names = [self._ensure(model, choice, keep=choices) for choice in choices]
        wanted = tuple((n, c.tag.te_weight, c.tag.unet_weight) for n, c in zip(names, choices, strict=True))
        if wanted == self.active:
            return
        parts = pipe.get_list_adapters()  # component -> adapters it holds
        weights = []
        for name, choice in zip(names, choices, strict=True):
            per_part = {}
            for component, adapters in parts.items():
                if name in adapters:
                    unet = component in ("unet", "transformer")
                    per_part[component] = choice.tag.unet_weight if unet else choice.tag.te_weight
            weights.append(per_part)
        pipe.enable_lora()
        pipe.set_adapters(names, weights)
        self.active = wanted

    def _ensure(self, model: LoadedModel, choice: LoraChoice, *, keep: Sequence[LoraChoice]) -> str:
        try:
            stamp = choice.file.stamp()
        except OSError as exc:
            raise Problem(AddonProblem.LORA_UNREADABLE, name=choice.tag.name, detail=str(exc)) from None
        if stamp in self.loaded:
            self.loaded.move_to_end(stamp)
            return self.loaded[stamp]
        self._check(model, choice)
        self._make_room(model, keep)
        self._counter += 1
        adapter = f"lora{self._counter}"
        try:
            with quiet_loading():
                model.pipe.load_lora_weights(str(choice.file.path), adapter_name=adapter)
        except Exception as exc:
            with contextlib.suppress(Exception):
                model.pipe.delete_adapters(adapter)
            raise Problem(
                AddonProblem.LORA_UNREADABLE, name=choice.tag.name, detail=f"{type(exc).__name__}: {exc}"
            ) from None
        self.active = ()  # loading an adapter activates it: set the wanted set again
        self.loaded[stamp] = adapter
        self.loads += 1
        return adapter

    def _check(self, model: LoadedModel, choice: LoraChoice) -> None:
        try:
            info = lora_info(choice.file.path)
        except HeaderError as exc:
            raise Problem(AddonProblem.LORA_UNREADABLE, name=choice.tag.name, detail=str(exc)) from None
        pipe = model.pipe
        second = getattr(pipe, "text_encoder_2", None)
        problem = lora_mismatch(
            choice.tag.name,
            info,
            model_arch=model.arch,
            context_dim=int(pipe.unet.config.cross_attention_dim),
            text_width=int(pipe.text_encoder.config.hidden_size),
            second_text_width=int(second.config.hidden_size) if second is not None else None,
        )
        if problem is not None:
            raise problem

    def _make_room(self, model: LoadedModel, keep: Sequence[LoraChoice]) -> None:
        wanted = {c.file.stamp() for c in keep}
        for stamp in list(self.loaded):
            if len(self.loaded) < MAX_ADAPTERS:
                break
            if stamp not in wanted:
                model.pipe.delete_adapters(self.loaded.pop(stamp))
                self.active = ()


def adapters_of(model: LoadedModel) -> LoraAdapters:
    """The model's adapters (kept in `model.derived`, so they go when the model is unloaded)."""
    adapters = model.derived.get("loras")
    if not isinstance(adapters, LoraAdapters):
        adapters = model.derived["loras"] = LoraAdapters()
    return adapters
