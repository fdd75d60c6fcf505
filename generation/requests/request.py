"""The request: everything one generation needs, as one immutable value.

A request flows from the prompt parser (or the Discord front end) through validation to the
pipelines, and is stored as JSON with its job. `seed` is -1 until `resolve_seed()` draws one,
which happens before the job is queued so the seed is recorded whatever happens next.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import random
from dataclasses import dataclass, field
from typing import Any

from generation.requests.addons import LoraTag, lora_tags

# batch_key() reads every image's tags each time the queue groups jobs: parse each text once
_lora_tags = functools.lru_cache(maxsize=4096)(lora_tags)

MAX_SEED = 4294967294  # the A1111 web UI's range: 0 .. 2**32 - 2
RANDOM_SEED = -1


class Mode(enum.StrEnum):
    TXT2IMG = "txt2img"
    IMG2IMG = "img2img"
    UPSCALE = "upscale"
    INPAINT = "inpaint"  # repaint the white part of `edit.mask` on the source
    OUTPAINT = "outpaint"  # extend the source's canvas (`edit.zoom` or `edit.pan`) and paint the new part


@dataclass(frozen=True)
class HiresFix:
    """Generate at the requested size, upscale by `scale`, then a second img2img pass."""

    scale: float = 2.0
    strength: float = 0.5
    steps: int | None = None  # second-pass steps; None means the request's steps


@dataclass(frozen=True)
class Variation:
    """The web UI's variation seed: the seed's noise slerped towards `seed`'s at `strength`."""

    seed: int
    strength: float = 0.1


class Pan(enum.StrEnum):
    """Where an outpaint's Pan adds half a side of canvas."""

    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class Edit:
    """How an inpaint or outpaint request repaints its source; `width` x `height` is the result's size.

    An inpaint repaints the white of `mask` (a path, or an artifact key, like `source_image`; the
    engine takes the image itself through `generate(masks=...)`). An outpaint paints the canvas
    around the source: `zoom` (the canvas is the source's size times it, the source centred) or
    `pan` (half a side more on that side); its mask is the new area, with a seam `mask_blur` wide.
    """

    mask: str | None = None
    mask_blur: int = 4  # feather of the mask's edge in pixels (the web UI's "Mask blur")
    only_masked: bool = False  # the web UI's "Only masked": generate the mask's box, paste it back
    padding: int = 32  # pixels of context around the mask's box ("Masked area padding")
    zoom: float = 1.0  # outpaint: Zoom Out factor (1 < zoom <= 2)
    pan: Pan | None = None  # outpaint: Pan direction

    def batch_key(self) -> tuple[Any, ...]:
        """What must be equal for edits to share a pipeline call (masks may differ)."""
        return (self.mask_blur, self.only_masked, self.padding, self.zoom, self.pan)


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    mode: Mode = Mode.TXT2IMG
    negative_prompt: str = ""
    width: int = 512
    height: int = 512
    steps: int = 20
    cfg_scale: float = 7.0
    sampler: str = "Euler a"
    seed: int = RANDOM_SEED
    count: int = 4
    model: str | None = None  # None: the active model
    source_image: str | None = None  # path of a PNG on disk, for img2img and upscale
    strength: float = 0.75  # img2img denoising strength
    hires: HiresFix | None = None
    variation: Variation | None = None
    tiling: bool = False
    upscale_factor: float = 2.0  # for Mode.UPSCALE
    edit: Edit | None = None  # for Mode.INPAINT and Mode.OUTPAINT
    # The web UI's "Clip skip" (1: the text encoder's last layer, 2: the one before...). None: the
    # checkpoint's default from config (models.clip_skip), else 1. Only SD 1.x uses it, as there.
    clip_skip: int | None = None
    # A VAE from the VAE folder by name, "None" (the checkpoint's own) or "Automatic" (a same-stem
    # .vae.safetensors beside the checkpoint). None: the checkpoint's entry in models.vae, else Automatic.
    vae: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())  # reserved for forward-compatible options
    # Image i's own prompt, when `prompt` has variants ({red|blue}, __wildcards__) that each image
    # resolves from its own seed (generation.requests.wildcards); empty: every image uses `prompt`.
    # Not in batch_key(): images with different prompts share a pipeline call.
    image_prompts: tuple[str, ...] = field(default=())

    # -- derived values ------------------------------------------------------------------

    @property
    def seeds(self) -> list[int]:
        """Image i of the request uses seed + i, so any image can be reproduced alone."""
        if self.seed == RANDOM_SEED:
            raise ValueError("resolve the seed before asking for per-image seeds")
        return [(self.seed + i) % (MAX_SEED + 1) for i in range(self.count)]

    def prompt_for(self, index: int) -> str:
        """The prompt image `index` is made with: its resolved variant, else `prompt`."""
        if len(self.image_prompts) == self.count and 0 <= index < self.count:
            return self.image_prompts[index]
        return self.prompt

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def loras(self) -> tuple[LoraTag, ...]:
        """The LoRAs the `<lora:name:weight>` tags apply (see generation.requests.addons): the
        prompt's, or the set its images' drawn prompts share. A request whose variants drew
        different sets for different images (`lora_sets`) is run one set at a time
        (generation.requests.lora_sets); its `loras` are then its first image's."""
        return self.lora_sets[0]

    @property
    def lora_sets(self) -> tuple[tuple[LoraTag, ...], ...]:
        """The distinct LoRA sets its images are made with, in image order: one, unless variants
        (`{<lora:a:1>|<lora:b:1>}`) drew different tags for different images."""
        if len(self.image_prompts) != self.count:
            return (_lora_tags(self.prompt),)
        return tuple(dict.fromkeys(_lora_tags(prompt) for prompt in self.image_prompts))

    def image_loras(self, index: int) -> tuple[LoraTag, ...]:
        """The LoRAs image `index` is made with (its own prompt's tags)."""
        return _lora_tags(self.prompt_for(index))

    def resolve_seed(self, rng: random.Random | None = None) -> GenerationRequest:
        """Return the request with a concrete seed (a random one when the seed is -1)."""
        if self.seed != RANDOM_SEED:
            return self
        rng = rng or random.SystemRandom()
        return self.replace(seed=rng.randint(0, MAX_SEED))

    def replace(self, **changes: Any) -> GenerationRequest:
        return dataclasses.replace(self, **changes)

    def batch_key(self) -> tuple[Any, ...]:
        """Requests with equal keys can share one pipeline call (same shapes and schedule)."""
        return (
            self.mode,
            self.model,
            self.width,
            self.height,
            self.steps,
            self.cfg_scale,
            self.sampler,
            self.tiling,
            self.strength if self.mode is not Mode.TXT2IMG else None,
            self.hires,
            self.edit.batch_key() if self.edit is not None else None,
            # The adapters are switched per pipeline call: jobs batch only with the same LoRA sets
            # (in any order), and a job whose images drew several is run one set a call
            # (requests.lora_sets).
            tuple(sorted(self.lora_sets, key=repr)),
            self.vae,
        )

    # -- storage -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["mode"] = self.mode.value
        data["extra"] = [list(pair) for pair in self.extra]
        if self.edit is not None and self.edit.pan is not None:
            data["edit"]["pan"] = Pan(self.edit.pan).value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["mode"] = Mode(data.get("mode", Mode.TXT2IMG))
        if data.get("hires") is not None:
            data["hires"] = HiresFix(**data["hires"])
        if data.get("variation") is not None:
            data["variation"] = Variation(**data["variation"])
        data["extra"] = tuple(tuple(pair) for pair in data.get("extra", ()))
        if data.get("edit") is not None:
            data["edit"] = edit_from_dict(data["edit"])
        data["image_prompts"] = tuple(data.get("image_prompts", ()))
        return cls(**data)


def edit_from_dict(data: dict[str, Any]) -> Edit:
    """An Edit as stored (unknown keys from a newer version are ignored)."""
    known = {f.name for f in dataclasses.fields(Edit)}
    data = {k: v for k, v in data.items() if k in known}
    if data.get("pan") is not None:
        data["pan"] = Pan(data["pan"])
    return Edit(**data)
