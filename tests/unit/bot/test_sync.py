"""The hash of the command payload: the same tree hashes the same; any change shows."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.sync import payload_hash, scope_payload, scopes, tree_payload


def tree_with(*commands: app_commands.Command) -> app_commands.CommandTree:
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    for command in commands:
        tree.add_command(command)
    return tree


def command(name: str, description: str = "does a thing") -> app_commands.Command:
    async def callback(interaction: discord.Interaction, text: str) -> None:
        pass

    return app_commands.Command(name=name, description=description, callback=callback)


def digest(tree: app_commands.CommandTree, targets, application_id: int = 1) -> str:
    return payload_hash(tree_payload(tree, targets), application_id)


def test_the_hash_follows_the_payload():
    targets = scopes(())
    assert targets == [None]
    one = digest(tree_with(command("a"), command("b")), targets)
    assert one == digest(tree_with(command("b"), command("a")), targets)  # order does not count
    assert one != digest(tree_with(command("a"), command("b", "does another")), targets)
    assert one != digest(tree_with(command("a")), targets)
    assert one != digest(tree_with(command("a"), command("b")), targets, 2)  # another application
    guilds = scopes(("5", "6"))
    assert [g.id for g in guilds] == [5, 6]
    assert list(tree_payload(tree_with(command("a")), guilds)) == ["5", "6"]
    assert one != digest(tree_with(command("a"), command("b")), guilds)
    payload = scope_payload(tree_with(command("b"), command("a")), None)
    assert [c["name"] for c in payload] == ["a", "b"] and payload[0]["options"][0]["name"] == "text"
