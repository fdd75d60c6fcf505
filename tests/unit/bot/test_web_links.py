"""The mask editor's links: signed, tamper-evident, expiring; its [web] settings."""

from __future__ import annotations

import pytest

from bot.web.links import LinkClaims, LinkError, LinkSigner
from bot.web.settings import WebSettings
from generation.settings import ConfigError

SECRET = b"s3cret-for-the-tests-only-0123456789"


def refused(signer: LinkSigner, token: str, now: float = 1000.0) -> str:
    with pytest.raises(LinkError) as caught:
        signer.verify(token, now=now)
    return caught.value.reason


def test_a_signed_link_verifies_until_it_expires():
    signer = LinkSigner(SECRET)
    claims = LinkClaims.new("job123", 0, 42, 900.0, now=1000.0)
    token = signer.sign(claims)
    assert signer.verify(token, now=1899.0) == claims
    assert refused(signer, token, now=1900.0) == "expired"
    assert len(f"https://bot.example.org/edit/{token}") < 512  # fits any URL a browser takes


def test_forged_links_are_refused():
    signer = LinkSigner(SECRET)
    token = signer.sign(LinkClaims.new("job123", 0, 42, 900.0, now=1000.0))
    body, signature = token.split(".")
    other = LinkSigner(b"another-secret-another-secret-00")
    assert refused(other, token) == "forged"  # another bot's key
    changed = LinkSigner(SECRET).sign(LinkClaims("job999", 0, 42, 1900.0, "n"))
    assert refused(signer, f"{changed.split('.')[0]}.{signature}") == "forged"  # claims swapped
    flipped = signature[:-1] + ("B" if signature.endswith("A") else "A")
    assert refused(signer, f"{body}.{flipped}") == "forged"  # one character of the signature
    for junk in ("", "nodot", f"{body}.", "a.b.c", f"{body}.{signature}x"):
        assert refused(signer, junk) == "forged"
    with pytest.raises(ValueError):
        LinkSigner(b"short")


def test_web_settings_are_checked():
    assert not WebSettings().enabled
    web = WebSettings(public_url="https://bot.example.org", listen="0.0.0.0:8443")
    assert web.enabled and (web.host, web.port) == ("0.0.0.0", 8443)
    for bad in (
        {"public_url": "bot.example.org"},
        {"listen": "8080"},
        {"listen": "host:http"},
        {"link_minutes": 0},
        {"max_upload_bytes": 10},
    ):
        with pytest.raises(ConfigError):
            WebSettings(**bad)
