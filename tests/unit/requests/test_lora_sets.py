"""A request whose images drew different LoRA tags (variants) never shares a pipeline call across
LoRA sets: its batch key holds every image's set, and `lora_calls` runs each set on its own."""

from __future__ import annotations

from generation.requests.addons import LoraTag
from generation.requests.lora_sets import image_range, lora_calls
from generation.requests.request import GenerationRequest, Variation

INK, OIL = "a cat <lora:ink:1>", "a cat <lora:oil:0.5>"


def drawn(*prompts: str, seed: int = 10, **kw) -> GenerationRequest:
    template = "a cat {<lora:ink:1>|<lora:oil:0.5>}"
    return GenerationRequest(template, count=len(prompts), seed=seed, image_prompts=prompts, **kw)


def test_each_images_lora_set_is_in_the_request_and_its_batch_key():
    mixed = drawn(INK, OIL, INK)
    assert mixed.lora_sets == ((LoraTag("ink", 1.0, 1.0),), (LoraTag("oil", 0.5, 0.5),))
    assert [mixed.image_loras(i)[0].name for i in range(3)] == ["ink", "oil", "ink"]
    all_ink = drawn(INK, INK, INK)
    assert all_ink.lora_sets == ((LoraTag("ink", 1.0, 1.0),),) and all_ink.loras == all_ink.lora_sets[0]
    # same template, other draws: they must not share a batch
    assert mixed.batch_key() != all_ink.batch_key()
    assert drawn(OIL, INK, OIL).batch_key() == mixed.batch_key()  # the same sets batch together
    plain = GenerationRequest("a cat <lora:ink:1>", count=3, seed=10)
    assert plain.lora_sets == all_ink.lora_sets and plain.batch_key() == all_ink.batch_key()


def test_lora_calls_split_a_request_per_set_keeping_each_images_seed_and_prompt():
    mixed = drawn(INK, OIL, OIL, INK, variation=Variation(seed=100, strength=0.3))
    other = drawn(OIL, OIL, seed=50)
    calls = lora_calls([mixed, other])
    assert [[(p.index, p.first, p.request.count) for p in call] for call in calls] == [
        [(0, 0, 1), (0, 3, 1)],  # ink: images 1 and 4 of the first request
        [(0, 1, 2), (1, 0, 2)],  # oil: its images 2-3, and the whole second request
    ]
    part = calls[1][0].request
    assert part.seed == 11 and part.image_prompts == (OIL, OIL) and part.variation.seed == 101
    assert all(len(p.request.lora_sets) == 1 for call in calls for p in call)
    one = GenerationRequest(INK, count=2, seed=3)
    assert lora_calls([one]) == [[type(calls[0][0])(0, 0, one)]]  # one set: untouched
    assert image_range(mixed, 3, 1).seed == 13 and image_range(mixed, 3, 1).prompt_for(0) == INK
