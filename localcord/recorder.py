"""What tests assert on: every REST call and gateway frame, localcord's own errors, and the
faults (429s, 5xx) injected into the next matching calls."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .models import Call, GatewayFrame

CallMatch = str | Callable[[Call], bool] | None
FrameMatch = str | Callable[[GatewayFrame], bool]

# Gateway opcodes a frame filter may name (events are named by their ``t``).
OPCODE_NAMES = {
    "HEARTBEAT": 1,
    "IDENTIFY": 2,
    "RESUME": 6,
    "RECONNECT": 7,
    "INVALID_SESSION": 9,
    "HELLO": 10,
    "HEARTBEAT_ACK": 11,
}


def call_matcher(match: CallMatch) -> Callable[[Call], bool]:
    """Turn a call filter into a predicate over a recorded :class:`~localcord.models.Call`.

    ``None``: any call. A string: an fnmatch pattern over ``"METHOD /path"`` when it contains
    a space (``"POST /webhooks/*"``), else over the path alone (``"/channels/*"``). Paths are
    relative to ``/api/v10`` and have no query. A callable gets the ``Call``."""
    if match is None:
        return lambda call: True
    if callable(match):
        return match
    pattern = match
    if " " in pattern:
        return lambda call: fnmatch.fnmatchcase(f"{call.method} {call.path}", pattern)
    return lambda call: fnmatch.fnmatchcase(call.path, pattern)


def frame_matcher(match: FrameMatch) -> Callable[[GatewayFrame], bool]:
    """An event name ("READY", "CLOSE"), an opcode name ("IDENTIFY", "HEARTBEAT_ACK") or a predicate."""
    if not isinstance(match, str):
        return match
    name = match
    return lambda f: f.t == name or (f.t is None and name in OPCODE_NAMES and f.op == OPCODE_NAMES[name])


@dataclass
class Fault:
    """An injected failure for the next ``count`` matching REST calls."""

    status: int
    count: int
    matcher: Callable[[Call], bool]
    description: str
    retry_after: float = 0.0
    is_global: bool = False
    scope: str = "user"
    hits: list[Call] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return self.count - len(self.hits)

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0

    def body(self) -> dict[str, Any]:
        if self.status == 429:
            return {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.is_global,
            }
        reason = {
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }
        return {"message": f"{self.status}: {reason.get(self.status, 'Server Error')}", "code": 0}

    def headers(self) -> dict[str, str]:
        if self.status != 429:
            return {}
        return {
            # discord.py treats a 429 without a Via header as a Cloudflare ban.
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(self.retry_after + 0.4999))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + self.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
            "X-RateLimit-Bucket": "localcord-injected",
            "X-RateLimit-Scope": "global" if self.is_global else self.scope,
            **({"X-RateLimit-Global": "true"} if self.is_global else {}),
        }


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.frames: list[GatewayFrame] = []
        self.faults: list[Fault] = []
        self.errors: list[BaseException] = []  # bugs in localcord's own handlers (should stay empty)

    # -- recording

    def record_call(self, call: Call) -> None:
        call.index = len(self.calls)
        self.calls.append(call)

    def record_frame(self, frame: GatewayFrame) -> None:
        self.frames.append(frame)

    def record_error(self, exc: BaseException) -> None:
        self.errors.append(exc)

    # -- queries

    def calls_matching(self, match: CallMatch = None, *, since: float | None = None) -> list[Call]:
        pred = call_matcher(match)
        return [c for c in self.calls if (since is None or c.time >= since) and pred(c)]

    def first_frame(
        self, match: FrameMatch, *, since: float | None = None, direction: str | None = None
    ) -> GatewayFrame | None:
        pred = frame_matcher(match)
        for f in self.frames:
            if (
                (since is None or f.time >= since)
                and (direction is None or f.direction == direction)
                and pred(f)
            ):
                return f
        return None

    def recent_calls(self, n: int = 12) -> str:
        """For timeout messages: what the bot did last."""
        recent = "\n  ".join(repr(c) for c in self.calls[-n:]) or "(none)"
        return f"recent calls:\n  {recent}"

    # -- faults

    def rate_limit(
        self,
        match: CallMatch = None,
        *,
        count: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        scope: str = "user",
    ) -> Fault:
        """Answer the next ``count`` matching REST calls with 429 (``retry_after`` seconds,
        ``Via`` and ``X-RateLimit-*`` headers, body ``{"message","retry_after","global"}``)."""
        fault = Fault(
            429,
            count,
            call_matcher(match),
            str(match),
            retry_after=retry_after,
            is_global=is_global,
            scope=scope,
        )
        self.faults.append(fault)
        return fault

    def fail(self, match: CallMatch = None, *, status: int = 500, count: int = 1) -> Fault:
        """Answer the next ``count`` matching REST calls with ``status`` (5xx: discord.py retries
        after 1 s, 3 s, ... up to 5 tries)."""
        fault = Fault(status, count, call_matcher(match), str(match))
        self.faults.append(fault)
        return fault

    def take_fault(self, call: Call) -> Fault | None:
        """The fault that answers ``call`` instead of its route, if any (counted as a hit)."""
        for fault in list(self.faults):
            if fault.exhausted:
                self.faults.remove(fault)
                continue
            if fault.matcher(call):
                fault.hits.append(call)
                if fault.exhausted:
                    self.faults.remove(fault)
                return fault
        return None
