"""Everything the bot sends fits Discord's limits; users' text is quoted escaped and short."""

from __future__ import annotations

import discord

from bot.ui import text
from bot.ui.fit import MAX_CONTENT, NO_PINGS, cut, embed_size, fit_embed, fit_embeds, fitted
from localcord.validation import validate_message


def test_content_is_cut_to_2000_and_a_cut_code_block_is_closed():
    assert cut("short", 10) == "short"
    long = cut("x" * 5000, MAX_CONTENT)
    assert len(long) == MAX_CONTENT and long.endswith("…")
    fenced = cut("info\n```\n" + "y" * 3000 + "\n```", MAX_CONTENT)
    assert len(fenced) <= MAX_CONTENT and fenced.count("```") == 2
    validate_message({"content": fitted("z" * 9000)["content"]}, 0, creating=True)  # Discord accepts it


def test_embeds_fit_each_field_and_6000_in_all():
    embed = discord.Embed(title="t" * 300, description="d" * 5000)
    embed.set_footer(text="f" * 3000)
    for _ in range(30):
        embed.add_field(name="n" * 300, value="v" * 2000)
    one = fit_embed(embed).to_dict()
    assert len(one["title"]) == 256 and len(one["footer"]["text"]) <= 2048
    assert len(one["fields"]) <= 25 and all(len(f["value"]) <= 1024 for f in one["fields"])
    assert embed_size(one) <= 6000
    many = fit_embeds([discord.Embed(description="d" * 4000) for _ in range(12)])
    assert len(many) <= 10 and sum(embed_size(e.to_dict()) for e in many) <= 6000
    validate_message({"embeds": [e.to_dict() for e in many]}, 0, creating=True)  # Discord accepts them
    validate_message({"embeds": [one]}, 0, creating=True)


def test_fitted_keeps_what_was_left_out_out_and_pings_nobody():
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="L" * 200, custom_id="a"))
    out = fitted("hi", view=view, ephemeral=True)
    assert out["content"] == "hi" and out["ephemeral"] and out["allowed_mentions"] is NO_PINGS
    assert len(out["view"].children[0].label) == 80
    assert "content" not in fitted(attachments=[]) and "view" not in fitted("x")
    assert fitted("x", view=None)["view"] is None  # an edit that removes the buttons


def test_users_text_is_quoted_escaped_and_short():
    assert text.quoted("Bogus") == "'Bogus'"
    typed = "<@123> @everyone **bold** `code` [link](http://x) " + "a" * 3000
    shown = text.quoted(typed)
    assert shown.startswith("'\\<@123\\> @\u200beveryone \\*\\*bold\\*\\*")
    assert "…a" in shown and shown.endswith("aaa'") and len(shown) < 60
    assert text.code("a`b" + "c" * 100) == "`a'b" + "c" * 56 + "…`"
    assert text.short_prompt("   ") == "(empty prompt)"
