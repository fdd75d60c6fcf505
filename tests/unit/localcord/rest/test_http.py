"""Routing: the first route whose path and method match, 405 for a known path, None otherwise."""

from __future__ import annotations

import pytest

from localcord.errors import ApiError
from localcord.rest.http import Router, snowflake_param


async def me(ctx, **_):
    return "me"


async def by_id(ctx, **_):
    return "by id"


def test_first_route_wins_and_passes_path_parameters():
    router = Router()
    router.add("GET", "/users/@me", me)
    router.add("GET", "/users/{user_id}", by_id)
    router.add("POST", "/webhooks/{app_id}/{token}", by_id, auth=False)
    route, params = router.match("GET", "/users/@me")
    assert route.handler is me and params == {}
    route, params = router.match("GET", "/users/42")
    assert route.handler is by_id and params == {"user_id": "42"} and route.auth
    route, params = router.match("POST", "/webhooks/1/abc")
    assert params == {"app_id": "1", "token": "abc"} and not route.auth


def test_unknown_path_is_none_and_a_wrong_method_is_405():
    router = Router()
    router.add("GET", "/channels/{channel_id}", by_id)
    assert router.match("GET", "/channels/1/extra") is None
    with pytest.raises(ApiError) as err:
        router.match("DELETE", "/channels/1")
    assert err.value.status == 405


def test_snowflake_parameters():
    assert snowflake_param("123") == 123 and snowflake_param(7) == 7
    assert snowflake_param("@original") == -1 and snowflake_param(None) == -1
