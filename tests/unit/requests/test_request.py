"""The request type: seeds per image, random seed resolution, storage round trip, batching key."""

import random

import pytest

from generation.requests.request import MAX_SEED, GenerationRequest, HiresFix, Mode, Variation


def test_image_i_uses_seed_plus_i_and_wraps():
    assert GenerationRequest("x", seed=10, count=3).seeds == [10, 11, 12]
    assert GenerationRequest("x", seed=MAX_SEED, count=2).seeds == [MAX_SEED, 0]


def test_seeds_need_a_resolved_seed():
    with pytest.raises(ValueError, match="resolve the seed"):
        _ = GenerationRequest("x").seeds


def test_resolve_seed_draws_in_range_and_keeps_a_given_seed():
    drawn = GenerationRequest("x").resolve_seed(random.Random(1))
    assert 0 <= drawn.seed <= MAX_SEED
    assert GenerationRequest("x", seed=5).resolve_seed().seed == 5


def test_round_trip_through_a_dict():
    request = GenerationRequest(
        "a cat",
        mode=Mode.IMG2IMG,
        negative_prompt="dog",
        seed=3,
        source_image="/tmp/a.png",
        hires=HiresFix(1.5, 0.4, 12),
        variation=Variation(9, 0.2),
        tiling=True,
    )
    assert GenerationRequest.from_dict(request.to_dict()) == request
    # Unknown keys from a newer version are ignored rather than failing old jobs.
    assert GenerationRequest.from_dict({**request.to_dict(), "future": 1}) == request


def test_batch_key_separates_incompatible_requests():
    base = GenerationRequest("a", seed=1)
    assert base.batch_key() == base.replace(prompt="b", seed=9, negative_prompt="n", count=2).batch_key()
    for change in ({"width": 256}, {"steps": 5}, {"sampler": "DDIM"}, {"cfg_scale": 3.0}, {"model": "m"}):
        assert base.batch_key() != base.replace(**change).batch_key(), change
