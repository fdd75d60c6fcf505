"""The request: everything one generation needs, as one immutable value.

A request flows from the prompt parser (or the Discord front end) through validation to the
pipelines, and is stored as JSON with its job. `seed` is -1 until `resolve_seed()` draws one,
which happens before the job is queued so the seed is recorded whatever happens next.
"""

from __future__ import annotations

import dataclasses
import enum
import random
from dataclasses import dataclass, field
from typing import Any

MAX_SEED = 4294967294  # the A1111 web UI's range: 0 .. 2**32 - 2
RANDOM_SEED = -1


class Mode(enum.StrEnum):
    TXT2IMG = "txt2img"
    IMG2IMG = "img2img"
    UPSCALE = "upscale"


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
        )

    # -- storage -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["mode"] = self.mode.value
        data["extra"] = [list(pair) for pair in self.extra]
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
        data["image_prompts"] = tuple(data.get("image_prompts", ()))
        return cls(**data)
