"""Autocomplete helpers shared by the commands (Discord shows at most 25 results)."""

from __future__ import annotations

from collections.abc import Iterable

from discord import app_commands

from bot.ui.text import job_choice
from generation.jobs.types import Job

MAX_CHOICES = 25


def matching(current: str, names: Iterable[str]) -> list[app_commands.Choice[str]]:
    """Names containing what was typed, those starting with it first."""
    typed = current.strip().lower()
    hits = [n for n in names if typed in n.lower()]
    hits.sort(key=lambda n: (not n.lower().startswith(typed), n.lower()))
    return [app_commands.Choice(name=n[:100], value=n[:100]) for n in hits[:MAX_CHOICES]]


def kept_around(
    choices: list[app_commands.Choice[str]], before: str = "", after: str = ""
) -> list[app_commands.Choice[str]]:
    """The choices with what was typed around the completed part kept (a style list's earlier
    names, a LoRA's `:0.8`)."""
    if not before and not after:
        return choices
    values = [f"{before}{choice.value}{after}"[:100] for choice in choices]
    return [app_commands.Choice(name=value, value=value) for value in values]


def job_choices(current: str, jobs: Iterable[Job]) -> list[app_commands.Choice[str]]:
    """Jobs whose id or prompt contains what was typed, shown as `id · prompt`."""
    typed = current.strip().lower()
    return [
        app_commands.Choice(name=job_choice(j), value=j.id)
        for j in jobs
        if typed in j.id.lower() or typed in j.request.prompt.lower()
    ][:MAX_CHOICES]
