"""The images of one pipeline call, flattened: several requests' images side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from generation.pipelines.noise import ImageVariation, image_seeds
from generation.requests.request import GenerationRequest


@dataclass
class Batch:
    """Request r owns images `layout[r]` (start, count); image i has its own prompt, seed, variation."""

    prompts: list[str]
    negatives: list[str]
    seeds: list[int]
    variations: list[ImageVariation]
    layout: list[tuple[int, int]]  # (start, count) per request
    clip_skips: list[int | None] = field(default_factory=list)  # per image, as requested

    @classmethod
    def of(cls, requests: Sequence[GenerationRequest], count: int | None = None) -> Batch:
        """The requests' images (`count` each instead of the request's own, when given)."""
        batch = cls([], [], [], [], [])
        for request in requests:
            n = count or request.count
            batch.layout.append((len(batch.seeds), n))
            for i, (seed, variation) in enumerate(image_seeds(request, n)):
                batch.prompts.append(request.prompt_for(i))  # its own variant, if it has one
                batch.negatives.append(request.negative_prompt)
                batch.seeds.append(seed)
                batch.variations.append(variation)
                batch.clip_skips.append(request.clip_skip)
        return batch

    def __len__(self) -> int:
        return len(self.seeds)

    def expand(self, per_request: Sequence[Any]) -> list[Any]:
        """One item per request -> one per image."""
        return [item for item, (_, n) in zip(per_request, self.layout, strict=True) for _ in range(n)]

    def split(self, images: Sequence[Any]) -> list[list[Any]]:
        """One item per image -> a list per request."""
        return [list(images[start : start + n]) for start, n in self.layout]
