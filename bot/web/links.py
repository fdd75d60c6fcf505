"""Signed links to the mask editor page: each names one job's image and one user, expires, and
(with the record the page keeps, bot/web/server.py) works once.

A link's token is `<claims>.<signature>`: the claims as compact JSON in URL-safe base64, and the
HMAC-SHA256 of that text under the bot's secret. Anyone can read the claims; without the secret
no one can make or change them. The stdlib's `hmac` does the work; `compare_digest` keeps the
check constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass

_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,1000}\.[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class LinkClaims:
    job_id: str
    index: int
    user_id: int
    expires: float  # Unix time
    nonce: str  # names the link's record (one use)

    @classmethod
    def new(
        cls, job_id: str, index: int, user_id: int, lifetime: float, now: float | None = None
    ) -> LinkClaims:
        now = time.time() if now is None else now
        return cls(job_id, index, user_id, round(now + lifetime, 3), secrets.token_urlsafe(12))


class LinkError(Exception):
    """A link that must be refused; `reason` is forged or expired (words: bot/ui/text.py)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the link secret must be at least 16 bytes")
        self._secret = secret

    def _signature(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def sign(self, claims: LinkClaims) -> str:
        data = {
            "j": claims.job_id,
            "i": claims.index,
            "u": claims.user_id,
            "e": claims.expires,
            "n": claims.nonce,
        }
        body = _b64(json.dumps(data, separators=(",", ":")).encode())
        return f"{body}.{self._signature(body)}"

    def verify(self, token: str, now: float | None = None) -> LinkClaims:
        """The claims of a token this signer made and that has not expired; LinkError otherwise."""
        if not _TOKEN.fullmatch(token):
            raise LinkError("forged")
        body, signature = token.split(".")
        if not hmac.compare_digest(signature, self._signature(body)):
            raise LinkError("forged")
        try:
            data = json.loads(_unb64(body))
            claims = LinkClaims(
                str(data["j"]), int(data["i"]), int(data["u"]), float(data["e"]), str(data["n"])
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise LinkError("forged") from None  # signed by us but not ours to read: treat as forged
        if (time.time() if now is None else now) >= claims.expires:
            raise LinkError("expired")
        return claims
