"""Quotas: a budget of GPU seconds per user per day.

The budget of a user is, in order: unlimited for `quota.unlimited_users` / `quota.unlimited_roles`
(and for everyone when `quota.daily_seconds` is 0); else an admin's per-user override; else the
largest of `quota.daily_seconds` and the `quota.role_seconds` of the user's roles. Admins can grant
extra seconds for the current quota day. A quota day starts at `quota.reset_hour_utc`.

The arithmetic lives here (pure); the rows (reservations, charges, grants, overrides) live in the
store, which charges a finished job in the same transaction as its status change, keyed by job id,
so a job resumed after a crash is charged once.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from generation.jobs.problems import Refusal, SubmitRefused
from generation.settings import QuotaSettings

UNLIMITED = math.inf


@dataclass(frozen=True)
class QuotaStatus:
    user_id: int
    limit: float  # seconds per day (math.inf: unlimited), grants included
    base: float  # the day's budget before grants (math.inf: unlimited)
    granted: float  # extra seconds granted for today
    used: float  # charged today
    reserved: float  # held by jobs waiting or running
    resets_at: float  # epoch seconds
    override: float | None = None  # an admin's per-user budget, if set

    @property
    def unlimited(self) -> bool:
        return math.isinf(self.limit)

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit - self.used - self.reserved)


def day_key(now: float, reset_hour_utc: int = 0) -> str:
    """The quota day `now` falls in, as YYYY-MM-DD (days start at `reset_hour_utc`)."""
    moment = dt.datetime.fromtimestamp(now, dt.UTC) - dt.timedelta(hours=reset_hour_utc)
    return moment.date().isoformat()


def next_reset(now: float, reset_hour_utc: int = 0) -> float:
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    reset = moment.replace(hour=reset_hour_utc, minute=0, second=0, microsecond=0)
    if reset <= moment:
        reset += dt.timedelta(days=1)
    return reset.timestamp()


def base_budget(
    settings: QuotaSettings, user_id: int, role_ids: Iterable[int | str] = (), override: float | None = None
) -> float:
    """Seconds per day before grants (math.inf: unlimited)."""
    roles = {str(r) for r in role_ids}
    if str(user_id) in settings.unlimited_users or roles & set(settings.unlimited_roles):
        return UNLIMITED
    if override is not None:
        return override
    if settings.daily_seconds <= 0:
        return UNLIMITED
    amounts = [settings.daily_seconds]
    amounts += [float(seconds) for role, seconds in settings.role_seconds.items() if role in roles]
    return max(amounts)


def status(
    settings: QuotaSettings,
    *,
    user_id: int,
    role_ids: Iterable[int | str],
    now: float,
    used: float,
    reserved: float,
    granted: float,
    override: float | None,
) -> QuotaStatus:
    base = base_budget(settings, user_id, role_ids, override)
    return QuotaStatus(
        user_id=user_id,
        limit=base + granted,
        base=base,
        granted=granted,
        used=used,
        reserved=reserved,
        resets_at=next_reset(now, settings.reset_hour_utc),
        override=override,
    )


def refusal(quota: QuotaStatus, estimate: float, now: float) -> SubmitRefused | None:
    """None when a job estimated at `estimate` seconds fits; else the refusal, with its numbers."""
    if quota.unlimited or quota.used + quota.reserved + estimate <= quota.limit + 1e-9:
        return None
    return SubmitRefused(
        Refusal.QUOTA_EXCEEDED,
        needed=max(1, math.ceil(estimate)),
        remaining=quota.remaining,
        limit=quota.limit,
        reserved=quota.reserved,
        resets_at=quota.resets_at,
        resets_in=max(0, math.ceil(quota.resets_at - now)),
    )


def split_seconds(seconds: float, images: list[int]) -> list[float]:
    """A batch's GPU time shared among its jobs by their images (evenly when equal)."""
    total = sum(images) or 1
    return [seconds * n / total for n in images]
