"""Each user's own defaults (`/settings`): what their next `/imagine` gets for what they leave out.

A user's prefs are one JSON object in the database (`JobService.user_settings`), read on every
use (one row), so a change applies at once and survives restarts. Prompt flags and slash options
still win: the prefs only change the defaults the prompt is parsed against (`user_defaults`), the
model used when none is named, and a `--style` added when the prompt gives none.

`remix` makes the follow-up buttons open a prompt editor first (bot/remix.py); `private` sends
results by DM instead of to the channel (bot/delivery.py).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from generation.requests.prompt import FLAGS
from generation.requests.request import GenerationRequest
from generation.requests.samplers import UnknownSampler, canonical_sampler
from generation.settings import DefaultSettings, LimitSettings

if TYPE_CHECKING:
    from generation.jobs.service import JobService

ASPECTS = ("1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16", "21:9")
MAX_STYLE_LENGTH = 100
_STYLE_FLAG = re.compile(r"(?:^|\s)(?:--|—|–)style\b", re.IGNORECASE)
_SIZE_FLAG = re.compile(r"(?:^|\s)(?:--|—|–)(?:ar|aspect|w|width|h|height)\b", re.IGNORECASE)


@dataclass(frozen=True)
class UserPrefs:
    """A user's defaults; None (or False) everywhere: the server's defaults."""

    model: str | None = None
    sampler: str | None = None
    steps: int | None = None
    aspect: str | None = None  # one of ASPECTS
    count: int | None = None
    cfg: float | None = None
    style: str | None = None  # a style's name, passed as --style when the prompt names none
    remix: bool = False  # follow-up buttons open the prompt editor first
    private: bool = False  # results by DM instead of in the channel

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> UserPrefs:
        """Read stored prefs; a value of the wrong kind (an older bot's, a hand edit) is dropped."""
        data = data or {}

        def pick(key: str, kind: type | tuple[type, ...]) -> Any:
            value = data.get(key)
            if isinstance(value, bool) and kind is not bool:
                return None
            return value if isinstance(value, kind) else None

        aspect = pick("aspect", str)
        cfg = pick("cfg", (int, float))
        return cls(
            model=pick("model", str) or None,
            sampler=pick("sampler", str) or None,
            steps=pick("steps", int),
            aspect=aspect if aspect in ASPECTS else None,
            count=pick("count", int),
            cfg=float(cfg) if cfg is not None and math.isfinite(cfg) else None,
            style=pick("style", str) or None,
            remix=pick("remix", bool) is True,
            private=pick("private", bool) is True,
        )

    def to_dict(self) -> dict[str, Any]:
        """Only what differs from the server's defaults."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None and v is not False}

    def replace(self, **changes: Any) -> UserPrefs:
        return dataclasses.replace(self, **changes)


class PrefsError(ValueError):
    """A value /settings cannot keep; `field` says which (bot/ui/text.py words it)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


async def load_prefs(service: JobService, user_id: int) -> UserPrefs:
    return UserPrefs.from_dict(await service.user_settings(user_id))


async def save_prefs(service: JobService, user_id: int, prefs: UserPrefs) -> None:
    await service.set_user_settings(user_id, prefs.to_dict())


# -- applying them -------------------------------------------------------------------------------


def user_defaults(prefs: UserPrefs, defaults: DefaultSettings) -> DefaultSettings:
    """The server's defaults with the user's on top: what the prompt is parsed against (the
    aspect ratio is applied as an option instead: `default_aspect`)."""
    given = {"sampler": prefs.sampler, "steps": prefs.steps, "count": prefs.count, "cfg_scale": prefs.cfg}
    changes: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    return dataclasses.replace(defaults, **changes) if changes else defaults


def default_aspect(prefs: UserPrefs, prompt: str) -> str | None:
    """The user's aspect ratio, unless the prompt sets a size itself (--ar, --w, --h).

    Applied like the command's aspect option (within the server's default area), not as a changed
    default size: a prompt's own --ar must scale to the same area with or without the preference."""
    return None if _SIZE_FLAG.search(prompt) else prefs.aspect


def styled_prompt(prompt: str, style: str | None, known_flags: Collection[str] = FLAGS) -> str:
    """The prompt with `--style NAME` added when the user has a style and the prompt names none.

    Only once the prompt parser knows `--style` (issue 12's styles): until then the preference is
    kept and shown but adds nothing, rather than making every prompt fail on an unknown flag.
    """
    if not style or "style" not in known_flags or _STYLE_FLAG.search(prompt):
        return prompt
    return f'{prompt} --style "{style}"'


def private_here(prefs: UserPrefs, guild_id: int | None) -> bool:
    """Results by DM: only from a server (in a DM the result is private already)."""
    return prefs.private and guild_id is not None


async def results_by_dm(interaction: discord.Interaction) -> bool:
    """Whether the job this interaction starts is for the user alone (decide before deferring:
    a private job's messages are ephemeral and its result goes by DM)."""
    if interaction.guild_id is None:
        return False
    service = interaction.client.service  # type: ignore[attr-defined]
    return private_here(await load_prefs(service, interaction.user.id), interaction.guild_id)


def with_model(request: GenerationRequest, prefs: UserPrefs, model_names: Iterable[str]) -> GenerationRequest:
    """The user's model when the request names none and the model is still there."""
    if request.model is None and prefs.model is not None and prefs.model in set(model_names):
        return request.replace(model=prefs.model)
    return request


# -- checking what /settings is given ----------------------------------------------------------------


def checked_sampler(value: str) -> str:
    try:
        return canonical_sampler(value)
    except UnknownSampler:
        raise PrefsError("sampler") from None


def checked_steps(value: str, limits: LimitSettings) -> int | None:
    """Steps typed in the panel's form: empty for the default, else a whole number in range."""
    if not value.strip():
        return None
    try:
        steps = int(value.strip())
    except ValueError:
        raise PrefsError("steps") from None
    if not 1 <= steps <= limits.max_steps:
        raise PrefsError("steps")
    return steps


def checked_cfg(value: str, limits: LimitSettings) -> float | None:
    if not value.strip():
        return None
    try:
        cfg = float(value.strip())
    except ValueError:
        raise PrefsError("cfg") from None
    if not (math.isfinite(cfg) and limits.min_cfg <= cfg <= limits.max_cfg):
        raise PrefsError("cfg")
    return cfg


def checked_style(value: str) -> str | None:
    style = " ".join(value.split())
    if len(style) > MAX_STYLE_LENGTH or '"' in style:
        raise PrefsError("style")
    return style or None
