"""/imagine: a prompt (with optional --flags) and options in, a grid with buttons out."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import submit
from bot.autocomplete import matching
from bot.bounds import within
from bot.prefs import (
    ASPECTS,
    default_aspect,
    load_prefs,
    private_here,
    styled_prompt,
    user_defaults,
    with_model,
)
from bot.replies import defer, fail
from bot.ui.text import message_for
from generation.requests.prompt import PromptError, parse_prompt
from generation.requests.request import MAX_SEED, GenerationRequest
from generation.requests.samplers import SAMPLER_NAMES, canonical_sampler
from generation.settings import DefaultSettings

if TYPE_CHECKING:
    from bot.app import ImagineBot

# The options' ranges as declared below, checked again: a crafted client can send anything.
RANGES = {"count": (1, 4), "seed": (-1, MAX_SEED), "steps": (1, 150), "cfg": (0.0, 30.0)}


@dataclass(frozen=True)
class ImagineOptions:
    """The slash command's options; any left out keep what the prompt's flags (or defaults) say."""

    negative: str | None = None
    aspect: str | None = None
    count: int | None = None
    seed: int | None = None
    steps: int | None = None
    cfg: float | None = None
    sampler: str | None = None
    model: str | None = None

    def given(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


def build_request(prompt: str, options: ImagineOptions, defaults: DefaultSettings) -> GenerationRequest:
    """The prompt's flags first, then the options on top; raises PromptError or ValueError."""
    request = parse_prompt(prompt, defaults)
    if options.aspect is not None:
        request = parse_prompt(f"--ar {options.aspect}", defaults, base=request)
    changes: dict[str, object] = {}
    if options.negative is not None:
        changes["negative_prompt"] = options.negative
    if options.count is not None:
        changes["count"] = options.count
    if options.seed is not None:
        changes["seed"] = options.seed
    if options.steps is not None:
        changes["steps"] = options.steps
    if options.cfg is not None:
        changes["cfg_scale"] = options.cfg
    if options.sampler is not None:
        changes["sampler"] = canonical_sampler(options.sampler)
    if options.model is not None:
        changes["model"] = options.model
    return request.replace(**changes)


class Imagine(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(description="Generate images from a prompt")
    @app_commands.describe(
        prompt="What to draw. Flags work too: --ar 16:9 --seed 42 --no text --steps 30",
        negative="What to leave out",
        aspect="Shape of the image",
        count="How many images (1-4)",
        seed="Seed for reproducible results (-1: random)",
        steps="Sampling steps",
        cfg="How closely to follow the prompt (CFG scale)",
        sampler="Sampler, as in the web UI (Euler a, DPM++ 2M Karras, ...)",
        model="Model to use (default: the active one)",
    )
    @app_commands.choices(aspect=[app_commands.Choice(name=a, value=a) for a in ASPECTS])
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        negative: str | None = None,
        aspect: app_commands.Choice[str] | None = None,
        count: app_commands.Range[int, 1, 4] | None = None,
        seed: app_commands.Range[int, -1, MAX_SEED] | None = None,
        steps: app_commands.Range[int, 1, 150] | None = None,
        cfg: app_commands.Range[float, 0.0, 30.0] | None = None,
        sampler: str | None = None,
        model: str | None = None,
    ) -> None:
        # Read first: the user's settings say whether the answer is for them alone (results by DM).
        prefs = await load_prefs(self.bot.service, interaction.user.id)
        private = private_here(prefs, interaction.guild_id)
        await defer(interaction, ephemeral=private)
        try:
            for name, value in (("count", count), ("seed", seed), ("steps", steps), ("cfg", cfg)):
                within(name, value, *RANGES[name])
        except submit.Refused as exc:
            await fail(interaction, str(exc))
            return
        options = ImagineOptions(
            negative=negative,
            aspect=aspect.value if aspect else default_aspect(prefs, prompt),
            count=count,
            seed=seed,
            steps=steps,
            cfg=cfg,
            sampler=sampler,
            model=model,
        )
        try:
            defaults = user_defaults(prefs, self.bot.settings.defaults)
            request = build_request(styled_prompt(prompt, prefs.style), options, defaults)
        except (PromptError, ValueError) as exc:
            await fail(interaction, message_for(exc))
            return
        if options.model is None:
            request = with_model(request, prefs, self.bot.service.model_names())
        await submit.submit(interaction, request)

    @imagine.autocomplete("sampler")
    async def sampler_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return matching(current, SAMPLER_NAMES)

    @imagine.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return matching(current, self.bot.service.model_names())


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Imagine(bot))
