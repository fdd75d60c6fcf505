"""The mask editor page (placeholder until the page lands)."""

from __future__ import annotations

from typing import Any


async def mask_page_link(bot: Any, interaction: Any, job: Any, index: int) -> str | None:
    return None
