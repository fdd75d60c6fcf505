"""A user's defaults: read back tolerantly, applied under the prompt's flags, checked when set."""

from __future__ import annotations

import pytest

from bot.cogs.imagine import ImagineOptions, build_request
from bot.prefs import (
    PrefsError,
    UserPrefs,
    checked_cfg,
    checked_sampler,
    checked_steps,
    checked_style,
    default_aspect,
    private_here,
    styled_prompt,
    user_defaults,
    with_model,
)
from generation.requests.prompt import FLAGS
from generation.settings import DefaultSettings, LimitSettings

DEFAULTS = DefaultSettings(width=512, height=512, steps=20, sampler="Euler", count=4, cfg_scale=7.0)


def test_stored_prefs_round_trip_and_bad_values_are_dropped():
    prefs = UserPrefs(sampler="DDIM", steps=12, aspect="16:9", cfg=5.5, remix=True)
    assert prefs.to_dict() == {"sampler": "DDIM", "steps": 12, "aspect": "16:9", "cfg": 5.5, "remix": True}
    assert UserPrefs.from_dict(prefs.to_dict()) == prefs
    odd = {"steps": "12", "count": True, "aspect": "5:1", "cfg": float("nan"), "private": 1, "x": 3}
    assert UserPrefs.from_dict(odd) == UserPrefs()
    assert UserPrefs.from_dict(None) == UserPrefs() and UserPrefs().to_dict() == {}


def test_prefs_are_defaults_that_flags_and_options_override():
    prefs = UserPrefs(sampler="DDIM", steps=12, count=2, cfg=5.5, aspect="16:9")
    defaults = user_defaults(prefs, DEFAULTS)

    def imagine(prompt: str, **options) -> object:
        options.setdefault("aspect", default_aspect(prefs, prompt))
        return build_request(prompt, ImagineOptions(**options), defaults)

    plain = imagine("a cat")
    assert (plain.sampler, plain.steps, plain.count, plain.cfg_scale) == ("DDIM", 12, 2, 5.5)
    wide = build_request("a cat --ar 16:9", ImagineOptions(), DEFAULTS)
    assert (plain.width, plain.height) == (wide.width, wide.height) and plain.width > plain.height
    flagged = imagine("a cat --steps 30 --ar 1:1", count=1, sampler="euler")
    assert (flagged.steps, flagged.count, flagged.sampler) == (30, 1, "Euler")
    assert (flagged.width, flagged.height) == (512, 512)  # the prompt's own --ar, in the server's area
    assert (imagine("a cat --w 640").width, imagine("a cat --w 640").height) == (640, 512)
    assert user_defaults(UserPrefs(), DEFAULTS) is DEFAULTS


def test_model_style_and_private():
    request = build_request("a cat", ImagineOptions(), DEFAULTS)
    assert with_model(request, UserPrefs(model="other"), ["tiny", "other"]).model == "other"
    assert with_model(request, UserPrefs(model="gone"), ["tiny"]).model is None  # removed since
    named = request.replace(model="tiny")
    assert with_model(named, UserPrefs(model="other"), ["tiny", "other"]).model == "tiny"
    # --style is added only once the parser knows the flag, and never over the prompt's own
    if "style" not in FLAGS:  # until issue 12 adds the flag, a style adds nothing
        assert styled_prompt("a cat", "ink") == "a cat"
    assert styled_prompt("a cat", "ink", known_flags={"style"}) == 'a cat --style "ink"'
    assert styled_prompt("a cat --style oil", "ink", known_flags={"style"}) == "a cat --style oil"
    assert styled_prompt("a cat", None, known_flags={"style"}) == "a cat"
    assert private_here(UserPrefs(private=True), 10) and not private_here(UserPrefs(private=True), None)
    assert not private_here(UserPrefs(), 10)


def test_values_typed_into_the_form_are_checked():
    limits = LimitSettings(max_steps=60, min_cfg=1.0, max_cfg=20.0)
    assert checked_steps(" 25 ", limits) == 25 and checked_steps("", limits) is None
    assert checked_cfg("6.5", limits) == 6.5 and checked_cfg(" ", limits) is None
    assert checked_style("  oil   paint ") == "oil paint" and checked_style("") is None
    assert checked_sampler("dpm++ 2m karras") == "DPM++ 2M Karras"
    for call in (
        lambda: checked_steps("61", limits),
        lambda: checked_steps("ten", limits),
        lambda: checked_cfg("inf", limits),
        lambda: checked_cfg("0.5", limits),
        lambda: checked_style("x" * 101),
        lambda: checked_sampler("nope"),
    ):
        with pytest.raises(PrefsError):
            call()


def test_the_panel_fits_discords_limits():
    from types import SimpleNamespace

    from bot.prefs_panel import PrefButton, PrefSelect, panel_view
    from generation.settings import Settings

    service = SimpleNamespace(model_names=lambda: [f"model-{i}" for i in range(40)], active_model="model-0")
    bot = SimpleNamespace(settings=Settings(), service=service)
    view = panel_view(bot, 123456789012345678, UserPrefs(sampler="DDIM", remix=True))
    items = view.children
    assert [i.custom_id for i in items] == [
        f"prf:{f}:123456789012345678"
        for f in ("model", "sampler", "aspect", "count", "remix", "private", "more", "reset")
    ]
    assert all(len(i.custom_id) <= 100 for i in items)
    selects = [i for i in items if isinstance(i, PrefSelect)]
    assert all(len(s.item.options) <= 25 for s in selects)  # 40 models: the first 24 and the default
    sampler = next(s for s in selects if s.field == "sampler")
    assert [o.value for o in sampler.item.options if o.default] == ["DDIM"]
    buttons = [i for i in items if isinstance(i, PrefButton)]
    assert {b.item.row for b in buttons} == {4} and len(buttons) <= 5
    assert next(b for b in buttons if b.field == "remix").item.label == "Remix: on"
