"""The bot's pure parts: request building, derived requests, buttons, safety (no server needed)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot import derive
from bot.buttons import CUSTOM_ID, ResultButton, custom_id
from bot.cogs.imagine import ImagineOptions, build_request
from bot.delivery import TOKEN_LIFETIME, Status, Target, status_from
from bot.results import result_view
from bot.safety import find_banned
from generation.jobs.events import JobEvent
from generation.jobs.types import Job, JobImage, JobOwner, JobStatus
from generation.requests.followups import output_size
from generation.requests.prompt import PromptError
from generation.requests.request import RANDOM_SEED, GenerationRequest, Mode
from generation.settings import DefaultSettings, Settings

ROOT = Path(__file__).resolve().parents[3]


def make_job(request: GenerationRequest | None = None, *, depth: int = 0, count: int = 4) -> Job:
    request = request or GenerationRequest("a red circle", width=64, height=64, seed=100, count=count)
    images = tuple(JobImage(i, request.seed + i, f"abcdefgh23/{i}.png") for i in range(request.count))
    return Job(
        id="abcdefgh23",
        owner=JobOwner(11, 22, 33),
        request=request,
        status=JobStatus.DONE,
        created_at=time.time(),
        grid_key="abcdefgh23/grid.png",
        images=images,
        model_name="tiny",
        meta={"depth": depth},
    )


def test_importing_the_bot_leaves_torch_out():
    code = (
        "import sys, bot, bot.__main__, bot.demo, bot.cogs.imagine, bot.cogs.vary, bot.cogs.show, "
        "bot.cogs.admin, bot.buttons, bot.delivery; "
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


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


def test_banned_words_match_whole_words_only():
    assert find_banned("A Glass of water", ["ass"]) is None
    assert find_banned("a big  ASS hat", ["ass"]) == "ass"
    assert find_banned("red circle on blue", ["blue  square", "circle"]) == "circle"
    assert find_banned("anything", ["", "  "]) is None


def test_derived_requests():
    settings = Settings()
    job = make_job()
    up = derive.upscale_request(job, 2, settings)
    assert (up.mode, up.source_image, up.seed, up.count) == (Mode.UPSCALE, "abcdefgh23/2.png", 102, 1)
    assert (up.width, up.height) == (64, 64)  # an upscale's size is its source's
    var = derive.variation_request(job, 0, settings)
    assert (var.mode, var.source_image, var.seed) == (Mode.IMG2IMG, "abcdefgh23/0.png", RANDOM_SEED)
    assert var.count == 4
    assert var.strength == settings.defaults.img2img_strength
    assert derive.reroll_request(job).seed == RANDOM_SEED
    assert derive.reroll_request(job).prompt == job.request.prompt
    upscaled = make_job(up, depth=1, count=1)
    assert derive.upscale_depth(upscaled) == 2
    assert output_size(upscaled.request) == (128, 128)
    with pytest.raises(derive.NoSuchImage):
        derive.image_of(job, 7)


def test_parse_strength():
    assert derive.parse_strength("subtle", 0.6) == derive.SUBTLE
    assert derive.parse_strength("Strong (0.7)", 0.6) == derive.STRONG
    assert derive.parse_strength(None, 0.6) == 0.6
    assert derive.parse_strength("0.5", 0.6) == 0.5
    for bad in ("2", "lots", "0"):
        with pytest.raises(ValueError):
            derive.parse_strength(bad, 0.6)


def test_result_buttons_carry_job_and_image():
    settings = Settings()
    ids = [item.custom_id for item in result_view(make_job(), settings).children]
    assert ids[:8] == [custom_id("u", "abcdefgh23", i) for i in range(4)] + [
        custom_id("v", "abcdefgh23", i) for i in range(4)
    ]
    assert {custom_id(a, "abcdefgh23") for a in "rid"} <= set(ids)
    assert all(len(i) <= 100 and ResultButton.__discord_ui_compiled_template__.fullmatch(i) for i in ids)
    assert CUSTOM_ID.startswith("img:")
    up = make_job(make_job().request.replace(mode=Mode.UPSCALE, count=1), depth=1, count=1)
    up_ids = [item.custom_id for item in result_view(up, settings).children]
    assert custom_id("s", up.id) in up_ids and custom_id("t", up.id) in up_ids
    assert custom_id("u", up.id) in up_ids  # depth 1 < max_upscale_depth 2
    deepest = make_job(up.request, depth=settings.discord.max_upscale_depth, count=1)
    assert custom_id("u", up.id) not in [i.custom_id for i in result_view(deepest, settings).children]


def test_token_expiry_and_statuses():
    job = make_job()
    assert Target.from_job(job) is None  # no channel, no token: not a bot job
    fresh = Target.from_job(job.replace(meta={"channel_id": 5, "token": "t", "token_time": time.time()}))
    assert fresh is not None and fresh.token_usable()
    old = Target.from_job(
        job.replace(meta={"channel_id": 5, "token": "t", "token_time": time.time() - TOKEN_LIFETIME})
    )
    assert old is not None and not old.token_usable()
    running = status_from(JobEvent("j", "progress", step=1, total=4, preview=b"png"), None)
    assert running == Status("running", step=1, total=4, preview=b"png")
    later = status_from(JobEvent("j", "progress", step=2, total=4), running)
    assert later is not None and later.preview == b"png"  # keeps the last preview
    assert status_from(JobEvent("j", "done", job=job), later).final


def test_admins_are_manage_server_or_configured_roles_and_users():
    import discord

    from bot.checks import is_admin
    from generation.settings import DiscordSettings

    def interaction(user_id: int, roles=(), perms=None, guild_id=5):
        user = SimpleNamespace(id=user_id, _roles=list(roles))
        return SimpleNamespace(user=user, guild_id=guild_id, permissions=perms or discord.Permissions.none())

    settings = DiscordSettings(admin_roles=("77",), admin_users=("42",))
    assert not is_admin(interaction(1), settings)
    assert is_admin(interaction(1, perms=discord.Permissions(manage_guild=True)), settings)
    assert is_admin(interaction(1, roles=[77]), settings)
    assert is_admin(interaction(42, guild_id=None), settings)  # configured users, even in DMs
    assert not is_admin(interaction(1, roles=[77], guild_id=None), settings)
