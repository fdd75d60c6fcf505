"""What a user sees in answer to an interaction, and whether Discord refused anything the bot sent."""

from __future__ import annotations

from localcord import InjectedInteraction, LocalDiscord, StoredMessage


async def answer(server: LocalDiscord, ix: InjectedInteraction, timeout: float = 10.0) -> StoredMessage:
    """The bot's answer: its private follow-up, else the original response once it stops thinking
    (and is not the note that stands while a private answer is sent)."""

    def check() -> StoredMessage | None:
        if ix.followups:
            return ix.followups[-1]
        original = ix.original
        if original is not None and not original.loading and original.content != "Answered privately.":
            return original
        return None

    return await server.wait_for(check, timeout, f"an answer to {ix!r}")


def assert_nothing_refused(server: LocalDiscord) -> None:
    """Discord accepted every message the bot sent: no 400 (50035 Invalid Form Body) or 413."""
    refused = [c for c in server.calls if c.status in (400, 413)]
    assert not refused, refused
