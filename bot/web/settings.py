"""The mask editor page's settings: config.toml's `[web]` table, typed and checked here (as
bot/settings.py does `[discord]`). The secret that signs links comes from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from generation.settings import ConfigError, Settings, build_section

SECTION = "web"
SECRET_ENV = "IMAGINE_WEB_SECRET"


@dataclass(frozen=True)
class WebSettings:
    public_url: str = ""  # how users reach the page; empty: no page
    listen: str = "127.0.0.1:8080"  # host:port to serve on
    link_minutes: float = 15.0
    max_upload_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{SECTION}.public_url must start with http:// or https://, not {self.public_url!r}"
            )
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(
                f'{SECTION}.listen must be "host:port", like "127.0.0.1:8080", not {self.listen!r}'
            )
        if not 0 < self.link_minutes <= 24 * 60:
            raise ConfigError(
                f"{SECTION}.link_minutes must be above 0 and at most a day, not {self.link_minutes}"
            )
        if self.max_upload_bytes < 1024:
            raise ConfigError(
                f"{SECTION}.max_upload_bytes must be at least 1024, not {self.max_upload_bytes}"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.public_url)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @classmethod
    def from_settings(cls, settings: Settings) -> WebSettings:
        table = dict(settings.front_ends.get(SECTION, {}))
        base_dir = settings.source.parent if settings.source is not None else Path.cwd()
        return build_section(SECTION, cls, table, base_dir)


def web_secret() -> bytes | None:
    """The key that signs the page's links (IMAGINE_WEB_SECRET); None when unset."""
    value = os.environ.get(SECRET_ENV)
    return value.encode() if value else None
