"""The server's settings and URLs."""

from __future__ import annotations

import pytest

from localcord import LocalDiscord
from localcord.config import Config


def test_only_loopback_and_no_urls_before_start():
    with pytest.raises(ValueError):
        Config(host="0.0.0.0")
    with pytest.raises(RuntimeError):
        _ = LocalDiscord().api_base


def test_urls_once_listening():
    config = Config(address="http://127.0.0.1:5000")
    assert config.api_base == "http://127.0.0.1:5000/api/v10"
    assert config.gateway_url == "ws://127.0.0.1:5000/gateway"
    assert config.attachment_url(7, "a b.png") == "http://127.0.0.1:5000/attachments/7/a%20b.png"
