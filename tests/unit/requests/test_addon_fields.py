"""The request's add-on fields: LoRA set, clip skip and VAE, as flags, in the batch key, validated."""

import pytest

from bot.ui.text import describe
from generation.requests.addons import LoraTag
from generation.requests.prompt import format_flags, parse_prompt
from generation.requests.request import GenerationRequest
from generation.requests.validation import ValidationError, validate
from generation.settings import DefaultSettings, Settings

D = DefaultSettings()
S = Settings()


def test_the_lora_set_comes_from_the_prompt():
    r = GenerationRequest("a cat <lora:b:0.5> <lora:a:1:0.2>, (red:1.2)")
    assert r.loras == (LoraTag("a", 1.0, 0.2), LoraTag("b", 0.5, 0.5))
    assert GenerationRequest("a cat").loras == ()


def test_lora_set_and_vae_are_part_of_the_batch_key_and_clip_skip_is_not():
    base = GenerationRequest("a cat <lora:x:0.5>", seed=1)
    assert base.batch_key() == base.replace(prompt="a dog <lora:x:0.5>").batch_key()
    assert base.batch_key() != base.replace(prompt="a cat <lora:x:0.6>").batch_key()
    assert base.batch_key() != base.replace(prompt="a cat").batch_key()
    assert base.batch_key() != base.replace(vae="kl-f8.safetensors").batch_key()
    # clip skip only changes a request's own prompt encoding: requests batch across it
    assert base.batch_key() == base.replace(clip_skip=2).batch_key()


def test_flags_and_their_round_trip():
    r = parse_prompt("a castle --clipskip 2 --vae my vae.safetensors", D)
    assert (r.prompt, r.clip_skip, r.vae) == ("a castle", 2, "my vae.safetensors")
    assert parse_prompt("a castle --clip-skip 3", D).clip_skip == 3
    assert format_flags(r, D) == '--clipskip 2 --vae "my vae.safetensors"'
    assert parse_prompt(f"{r.prompt} {format_flags(r, D)}", D) == r
    back = GenerationRequest.from_dict(r.to_dict())
    assert back == r and back.clip_skip == 2


def test_validation_of_the_add_on_fields():
    assert validate(GenerationRequest("a <lora:x:0.7>", clip_skip=12, vae="  a  b "), S).vae == "a b"
    assert validate(GenerationRequest("a", vae="   "), S).vae is None
    for bad in (0, 13):
        with pytest.raises(ValidationError) as info:
            validate(GenerationRequest("a", clip_skip=bad), S)
        assert info.value.fields == {"value": bad, "min": 1, "max": 12, "flag": "clipskip"}
        assert describe(info.value).startswith(f"Clip skip must be a whole number from 1 to 12, not {bad}")
    with pytest.raises(ValidationError) as info:
        validate(GenerationRequest("a <lora:x:strong>"), S)
    assert (info.value.code, info.value.fields) == (
        "request.bad_lora_tag",
        {"tag": "<lora:x:strong>", "part": "weight"},
    )
    assert "its weight is not a number" in describe(info.value)
    with pytest.raises(ValidationError) as info:
        validate(GenerationRequest("a <lora::1>"), S)
    assert info.value.fields["part"] == "name" and "it names no LoRA" in describe(info.value)
    validate(GenerationRequest("a <hypernet:x:strong>"), S)  # not a LoRA: left alone (and not applied)


def test_a_bad_clip_skip_flag_is_worded():
    from generation.requests.prompt import PromptError

    with pytest.raises(PromptError) as info:
        parse_prompt("a --clipskip two", D)
    assert describe(info.value) == "--clipskip needs a whole number from 1 to 12, like 2, got 'two'"
