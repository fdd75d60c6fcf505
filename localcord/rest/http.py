"""What route handlers share: the request context, replies, JSON responses and the router."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..errors import ApiError
from ..models import Call, UploadedFile

Handler = Callable[..., Awaitable[Any]]


class Reply:
    """A handler result other than ``200 + JSON``."""

    def __init__(self, status: int = 204, body: Any = None, headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly this Content-Type: discord.py parses nothing else as JSON.
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


class Ctx:
    """What a route handler gets: the recorded call plus the aiohttp request."""

    def __init__(self, request: web.Request, call: Call):
        self.request = request
        self.call = call

    @property
    def json(self) -> Any:
        return self.call.json

    @property
    def files(self) -> list[UploadedFile]:
        return self.call.files

    @property
    def query(self) -> dict[str, str]:
        return self.call.query

    @property
    def authorization(self) -> str | None:
        return self.request.headers.get("Authorization")


def snowflake_param(value: Any) -> int:
    """A path or body id as an int (-1 when it is not one, which matches nothing)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


@dataclass
class Route:
    method: str
    regex: re.Pattern[str]
    handler: Handler
    auth: bool  # needs ``Authorization: Bot <token>`` (webhooks and callbacks use their token)


class Router:
    """Routes in the order added: the first whose path and method match wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, *, auth: bool = True) -> None:
        """``pattern`` is a path under /api/v10 with ``{name}`` segments passed to the handler."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.routes.append(Route(method, regex, handler, auth))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route and its path parameters; None for an unknown path; 405 for a known path
        without this method."""
        path_matched = False
        for route in self.routes:
            m = route.regex.match(path)
            if m is None:
                continue
            path_matched = True
            if route.method == method:
                return route, m.groupdict()
        if path_matched:
            raise ApiError(405, 0, "405: Method Not Allowed")
        return None
