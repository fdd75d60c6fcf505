"""/imagine: a prompt (with optional --flags) and options in, a grid with buttons out.

Styles (`--style`, the style option) rewrite the prompt before anything else; `--permute` and
`--repeat` then make several jobs of it, one message each (bot.fanout); each job's images draw
their {a|b} variants from their own seeds when the job is submitted (bot.submit).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import fanout, submit
from bot.autocomplete import kept_around, matching
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
from bot.styles import style_book
from bot.ui.text import bad_lora_option, message_for
from generation.requests.numbers import format_number
from generation.requests.prompt import PromptError, job_flags, parse_prompt
from generation.requests.request import MAX_SEED, GenerationRequest
from generation.requests.samplers import SAMPLER_NAMES, canonical_sampler
from generation.requests.styles import StyleBook, StyleError, split_style_names, with_styles
from generation.requests.wildcards import VariantError, Wildcards, fan_out
from generation.settings import DefaultSettings, Settings

if TYPE_CHECKING:
    from bot.app import ImagineBot

# The options' ranges as declared below, checked again: a crafted client can send anything.
RANGES = {
    "count": (1, 4),
    "seed": (-1, MAX_SEED),
    "steps": (1, 150),
    "cfg": (0.0, 30.0),
    "lora_weight": (-5.0, 5.0),
}
MAX_LORA_WEIGHT = 5.0  # the web UI takes any weight; past a few the picture is noise (or a typo)
MAX_LORA_NAME = 100


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
    lora: str | None = None  # "name" or "name:0.8": a <lora:...> tag added to the prompt
    lora_weight: float | None = None

    def given(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


def build_request(prompt: str, options: ImagineOptions, defaults: DefaultSettings) -> GenerationRequest:
    """The prompt's flags first, then the options on top; raises PromptError or ValueError."""
    request = parse_prompt(prompt, defaults)
    if options.aspect is not None:
        request = parse_prompt(f"--ar {options.aspect}", defaults, base=request)
    given = {
        "negative_prompt": options.negative,
        "count": options.count,
        "seed": options.seed,
        "steps": options.steps,
        "cfg_scale": options.cfg,
    }
    changes: dict[str, object] = {name: value for name, value in given.items() if value is not None}
    if options.sampler is not None:
        changes["sampler"] = canonical_sampler(options.sampler)
    if options.model is not None:
        changes["model"] = options.model
    if options.lora is not None:
        changes["prompt"] = f"{request.prompt} {lora_tag(options.lora, options.lora_weight)}".strip()
    return request.replace(**changes)


def lora_tag(option: str, weight: float | None = None) -> str:
    """The `<lora:name:weight>` tag the lora option adds: "name", or "name:0.8" typed (the
    lora_weight option wins over a typed weight; 1 without either). Raises ValueError."""
    name, typed = option.strip(), None
    head, colon, tail = name.rpartition(":")
    if colon:
        with contextlib.suppress(ValueError):  # not a weight: the name has a colon, refused below
            name, typed = head.strip(), float(tail)
    weight = weight if weight is not None else typed if typed is not None else 1.0
    if not name or len(name) > MAX_LORA_NAME or any(c in name for c in "<>:\n") or not math.isfinite(weight):
        raise ValueError(bad_lora_option(option))
    if abs(weight) > MAX_LORA_WEIGHT:
        raise ValueError(bad_lora_option(option))
    return f"<lora:{name}:{format_number(weight)}>"


def plan_jobs(
    prompt: str,
    options: ImagineOptions,
    style: str | None,
    book: StyleBook,
    settings: Settings,
    *,
    defaults: DefaultSettings | None = None,
) -> list[GenerationRequest]:
    """The requests one /imagine makes: parsed (against `defaults`: the server's, or a user's own),
    styled (the style option's styles, then the --style flag's, in order), then fanned out by
    --permute and --repeat. Raises PromptError, StyleError, VariantError or ValueError."""
    request = build_request(prompt, options, defaults or settings.defaults)
    flags = job_flags(prompt)
    request = with_styles(request, book.find_all([*split_style_names(style), *flags.styles]))
    return fan_out(
        request,
        Wildcards.of(settings.variants.wildcards_dir),
        permute=flags.permute,
        repeat=flags.repeat,
        max_jobs=settings.variants.max_jobs,
    )


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
        style="Styles to apply, in order (several: separated by commas); --style works too",
        lora="A LoRA to apply (name, or name:0.8); <lora:name:0.8> in the prompt works too",
        lora_weight="The LoRA's weight (default 1; negative inverts it)",
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
        style: str | None = None,
        lora: app_commands.Range[str, 1, 120] | None = None,
        lora_weight: app_commands.Range[float, -5.0, 5.0] | None = None,
    ) -> None:
        # Read first: the user's settings say whether the answer is for them alone (results by DM).
        prefs = await load_prefs(self.bot.service, interaction.user.id)
        private = private_here(prefs, interaction.guild_id)
        await defer(interaction, ephemeral=private)
        try:
            numbers = (("count", count), ("seed", seed), ("steps", steps), ("cfg", cfg))
            for name, value in (*numbers, ("lora_weight", lora_weight)):
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
            lora=lora,
            lora_weight=lora_weight,
        )
        try:
            book = await style_book(self.bot, interaction.guild_id)
            defaults = user_defaults(prefs, self.bot.settings.defaults)
            # the user's own style (/settings) when the command gives none and the style still exists
            own = prefs.style if prefs.style and prefs.style in book else None
            text = prompt if style else styled_prompt(prompt, own)
            requests = plan_jobs(text, options, style, book, self.bot.settings, defaults=defaults)
        except (PromptError, StyleError, VariantError, ValueError) as exc:
            await fail(interaction, message_for(exc))
            return
        if options.model is None:
            names = self.bot.service.model_names()
            requests = [with_model(request, prefs, names) for request in requests]
        await fanout.submit_all(interaction, requests)

    @imagine.autocomplete("sampler")
    async def sampler_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return matching(current, SAMPLER_NAMES)

    @imagine.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        # Several styles: complete the last name after a comma, keeping the ones before it.
        *before, typing = current.split(",")
        names = (await style_book(self.bot, interaction.guild_id)).names()
        prefix = ", ".join(n.strip() for n in before if n.strip())
        return kept_around(matching(typing, names), before=f"{prefix}, " if prefix else "")

    @imagine.autocomplete("lora")
    async def lora_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The LoRAs the model (the one chosen, else the active one) can use, or may use when
        its files do not tell; a typed ":0.8" is kept."""
        model = getattr(interaction.namespace, "model", None) or self.bot.service.active_model
        listed = await self.bot.service.loras(model)
        usable = [item.name for item in listed if item.fits is not False]
        typed, colon, weight = current.partition(":")
        return kept_around(matching(typed, usable), after=f"{colon}{weight}")

    @imagine.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return matching(current, self.bot.service.model_names())


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Imagine(bot))
