"""/imagine's request: the prompt's flags, then the command's options on top."""

from __future__ import annotations

import pytest

from bot.cogs.imagine import ImagineOptions, build_request
from generation.requests.prompt import PromptError
from generation.settings import DefaultSettings


def test_options_override_prompt_flags():
    defaults = DefaultSettings(width=64, height=64, steps=20, sampler="Euler", count=4)
    request = build_request(
        "a cat --seed 5 --steps 10 --n 2", ImagineOptions(steps=3, sampler="euler a"), defaults
    )
    assert (request.prompt, request.seed, request.steps, request.count) == ("a cat", 5, 3, 2)
    assert request.sampler == "Euler a"
    wide = build_request("a cat --w 64 --h 64", ImagineOptions(aspect="16:9"), defaults)
    assert wide.width > wide.height
    with pytest.raises(PromptError):
        build_request("a cat --bogus 3", ImagineOptions(), defaults)
    with pytest.raises(ValueError):
        build_request("a cat", ImagineOptions(sampler="no such sampler"), defaults)
