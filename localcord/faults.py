"""Discord-style errors and injected faults (429s, 5xx) for the local server."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Discord JSON error codes used by the server.
UNKNOWN_ACCOUNT = 10001
UNKNOWN_APPLICATION = 10002
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
UNKNOWN_APPLICATION_COMMAND = 10063
UNAUTHORIZED = 40001
REQUEST_ENTITY_TOO_LARGE = 40005
INTERACTION_ALREADY_ACKNOWLEDGED = 40060
MISSING_ACCESS = 50001
CANNOT_SEND_EMPTY_MESSAGE = 50006
INVALID_FORM_BODY = 50035
INVALID_WEBHOOK_TOKEN = 50027


class ApiError(Exception):
    """Raised by route handlers; becomes ``{"message", "code"[, "errors"]}`` with ``status``."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


def not_found(code: int, what: str) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


def form_error(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, INVALID_FORM_BODY, "Invalid Form Body", errors)


def field_error(path: str, code: str, message: str) -> dict[str, Any]:
    """Nest ``{"a": {"0": {"b": {"_errors": [...]}}}}`` for the dotted path ``a.0.b``."""
    leaf: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        leaf = {part: leaf}
    return leaf


Matcher = Callable[[Any], bool]


def make_matcher(match: str | Callable[[Any], bool] | None) -> Matcher:
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


@dataclass
class Fault:
    """An injected failure for the next ``count`` matching REST calls."""

    status: int
    count: int
    matcher: Matcher
    description: str
    retry_after: float = 0.0
    is_global: bool = False
    scope: str = "user"
    hits: list[Any] = field(default_factory=list)

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
