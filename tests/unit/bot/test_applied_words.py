"""What a result says was applied and ignored, and the lora option's tag: short, escaped, bounded."""

from __future__ import annotations

import pytest

from bot.cogs.imagine import ImagineOptions, build_request, lora_tag
from bot.ui.text import MAX_APPLIED_SHOWN, with_applied
from generation.problems import Problem
from generation.requests.applied import Applied, EmbeddingUse, LoraUse, Note, VaeUse
from generation.settings import DefaultSettings


def test_the_result_names_what_was_applied_and_words_what_was_ignored():
    applied = Applied(
        loras=(
            LoraUse("detailed_eyes", "d.safetensors", 0.7, 0.7, "a" * 12),
            LoraUse("ink", "i", 1.0, 0.5, None),
        ),
        embeddings=(EmbeddingUse("EasyNegative", "e.safetensors", None, 8),),
        vae=VaeUse("other.vae.safetensors", None, "request"),
        clip_skip=2,
        notes=(Problem(Note.CLIP_SKIP_IGNORED, clip_skip=2, arch="sdxl"),),
    )
    lines = with_applied("result", applied).splitlines()
    assert lines[:2] == [
        "result",
        "-# LoRA detailed\\_eyes 0.7 · LoRA ink 1/0.5 · embedding EasyNegative · VAE other.vae.safetensors"
        " · clip skip 2",
    ]
    assert (
        lines[2]
        == "-# Clip skip 2 was not applied: only Stable Diffusion 1.x models use it, and this is SDXL."
    )
    assert with_applied("result", None) == "result" == with_applied("result", Applied())


def test_many_addons_stay_within_a_line_each():
    many = Applied(
        loras=tuple(LoraUse(f"lora_{'x' * 50}_{i}", "f", 1.0, 1.0, None) for i in range(40)),
        notes=tuple(Problem(Note.OTHER_NETWORK, kind="hypernet", name=f"net{i}" * 10) for i in range(40)),
    )
    lines = with_applied("result", many).splitlines()
    assert len(lines) == 3 and all(len(line) <= MAX_APPLIED_SHOWN + 3 for line in lines)
    assert lines[1].endswith("…") and lines[2].endswith("…")


def test_the_lora_option_adds_a_tag_to_the_prompt():
    assert lora_tag("detail") == "<lora:detail:1>"
    assert lora_tag("detail:0.8") == "<lora:detail:0.8>"
    assert lora_tag("detail:0.8", 0.3) == "<lora:detail:0.3>"  # the weight option wins
    assert lora_tag(" detail ", -0.5) == "<lora:detail:-0.5>"
    for bad in ("", "a<b", "a:b", "x:nan", "x:1e9", "x" * 101):
        with pytest.raises(ValueError):
            lora_tag(bad)
    request = build_request("a cat --ar 16:9", ImagineOptions(lora="detail:0.8"), DefaultSettings())
    assert request.prompt == "a cat <lora:detail:0.8>" and request.loras[0].te_weight == 0.8
    assert request.width > request.height  # the flags were read before the tag was added
