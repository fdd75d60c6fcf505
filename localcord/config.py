"""The server's settings (limits a test may change while it runs) and, once it listens, its URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

TEN_MIB = 10 * 1024 * 1024


@dataclass
class Config:
    """Shared by every part; read at use, so ``server.upload_limit = ...`` applies at once."""

    host: str = "127.0.0.1"
    port: int = 0
    token: str = "localcord.bot.token"
    bot_name: str = "ImagineBot"
    upload_limit: int = TEN_MIB  # per file, unless an interaction says otherwise
    request_size_limit: int | None = None  # all files of one request together
    token_ttl: float = 15 * 60.0  # interaction tokens (webhooks) stay valid this long
    callback_deadline: float | None = None  # seconds to answer an interaction (None: the token's life)
    heartbeat_interval_ms: int = 41250
    message_events: bool = True  # MESSAGE_CREATE/UPDATE/DELETE on the gateway
    address: str | None = None  # "http://127.0.0.1:PORT" once listening

    def __post_init__(self) -> None:
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("localcord only listens on the loopback interface")

    @property
    def url(self) -> str:
        if self.address is None:
            raise RuntimeError("server not started: await server.start()")
        return self.address

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/gateway"

    def attachment_url(self, attachment_id: int, filename: str) -> str:
        return f"{self.url}/attachments/{attachment_id}/{quote(filename)}"
