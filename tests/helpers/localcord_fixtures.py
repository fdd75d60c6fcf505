"""Pytest fixtures for the local Discord server (import them from conftest.py:
``from tests.helpers.localcord_fixtures import localcord_server  # noqa: F401``)."""

from __future__ import annotations

import pytest

from localcord import LocalDiscord


@pytest.fixture
async def localcord_server():
    """A started ``LocalDiscord`` on an ephemeral 127.0.0.1 port, closed after the test."""
    async with LocalDiscord() as server:
        yield server
    assert not server.errors, f"localcord internal errors: {server.errors!r}"
