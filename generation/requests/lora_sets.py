"""Pipeline calls with one LoRA set each, for requests whose images drew different sets. Torch-free.

The adapters of a loaded model are switched for a whole pipeline call, so every image of a call
must use the same LoRAs. Variants can break that inside one request: `{<lora:ink:1>|<lora:oil:1>}
a cat` draws a tag per image. `lora_calls` splits such requests into runs of consecutive images
with the same set, each a request of its own (`image_range`: the same seeds, variation seeds and
prompts as those images have in the whole request, so each image is the one it would have been),
and groups the runs by set: one call per set. Requests with one set go through untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from generation.requests.addons import LoraTag
from generation.requests.request import MAX_SEED, GenerationRequest

__all__ = ["Part", "image_range", "lora_calls"]


@dataclass(frozen=True)
class Part:
    """Images `first` .. `first + request.count - 1` of the batch's request number `index`."""

    index: int
    first: int
    request: GenerationRequest


def image_range(request: GenerationRequest, first: int, count: int) -> GenerationRequest:
    """Images `first` .. `first + count - 1` of `request` as a request of their own."""
    variation = request.variation
    if variation is not None:
        variation = dataclasses.replace(variation, seed=(variation.seed + first) % (MAX_SEED + 1))
    return request.replace(
        seed=(request.seed + first) % (MAX_SEED + 1),
        count=count,
        image_prompts=request.image_prompts[first : first + count],
        variation=variation,
    )


def _runs(request: GenerationRequest) -> list[tuple[int, int]]:
    """(first, count) of each run of consecutive images with the same LoRAs."""
    runs: list[tuple[int, int]] = []
    previous: tuple[LoraTag, ...] | None = None
    for i in range(request.count):
        loras = request.image_loras(i)
        if runs and loras == previous:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
        previous = loras
    return runs


def lora_calls(requests: Sequence[GenerationRequest]) -> list[list[Part]]:
    """The pipeline calls that make the requests' images, one LoRA set each, in order of first
    use. Parts of one call share a batch key when the requests did."""
    calls: dict[tuple[LoraTag, ...], list[Part]] = {}
    for index, request in enumerate(requests):
        if len(request.lora_sets) == 1:
            calls.setdefault(request.loras, []).append(Part(index, 0, request))
            continue
        for first, count in _runs(request):
            part = image_range(request, first, count)
            calls.setdefault(part.loras, []).append(Part(index, first, part))
    return list(calls.values())
