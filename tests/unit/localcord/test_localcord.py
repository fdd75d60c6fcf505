"""The local Discord server against an unmodified discord.py 2.7 client."""

from __future__ import annotations

import asyncio
import io
import re
import time

import aiohttp
import discord
import pytest
from discord import app_commands

from localcord import LocalDiscord, running
from tests.helpers.localcord_fixtures import localcord_server  # noqa: F401

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def server(localcord_server):  # noqa: F811
    return localcord_server


def make_client(**kwargs) -> tuple[discord.Client, app_commands.CommandTree]:
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1, **kwargs)
    tree = app_commands.CommandTree(client)
    return client, tree


# --------------------------------------------------------------------------- login


async def test_login_ready_and_guild_lookups(server: LocalDiscord):
    client, _ = make_client()
    ready = asyncio.Event()
    client.event(_set_on("on_ready", ready))
    async with running(client, server):
        await asyncio.wait_for(ready.wait(), 2)
        assert client.user.id == server.bot_user.id
        assert client.application_id == server.application_id
        guild = client.get_guild(server.guild.id)
        assert guild is not None and guild.name == "Local Guild"
        general = client.get_channel(server.channel.id)
        assert isinstance(general, discord.TextChannel) and not general.is_nsfw()
        assert client.get_channel(server.guild.channel("nsfw").id).is_nsfw()
        assert guild.get_member(server.bot_user.id) is not None
        fetched = await client.fetch_channel(server.channel.id)
        assert fetched.name == "general"
    routes = [c.route for c in server.calls]
    assert "GET /users/@me" in routes and "GET /oauth2/applications/@me" in routes
    assert [f.t for f in server.gateway.frames if f.t in ("READY", "GUILD_CREATE")] == [
        "READY",
        "GUILD_CREATE",
    ]
    heartbeat = await server.wait_for_gateway("HEARTBEAT", direction="recv")
    ack = await server.wait_for_gateway("HEARTBEAT_ACK", direction="send")
    assert ack.time >= heartbeat.time
    assert discord.http.Route.BASE == "https://discord.com/api/v10"  # restored


def _set_on(name, event: asyncio.Event):
    async def handler(*_):
        event.set()

    handler.__name__ = name
    return handler


async def test_unknown_route_and_json_header(server: LocalDiscord):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.api_base}/nope/123") as resp:
            assert resp.status == 404
            assert resp.headers["Content-Type"] == "application/json"
            assert await resp.json() == {"message": "404: Not Found", "code": 0}
        async with http.get(f"{server.api_base}/users/@me") as resp:
            assert resp.status == 401  # no bot token
        headers = {"Authorization": f"Bot {server.token}"}
        async with http.get(f"{server.api_base}/users/@me", headers=headers) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["id"] == str(server.bot_user.id)


# --------------------------------------------------------------------------- slash commands


async def test_slash_defer_then_followup_with_file(server: LocalDiscord):
    client, tree = make_client()
    seen = {}

    @tree.command(description="Make a picture")
    @app_commands.describe(prompt="What to draw")
    async def imagine(interaction: discord.Interaction, prompt: str, steps: int = 20):
        await interaction.response.defer(thinking=True)
        seen.update(user=interaction.user, limit=interaction.filesize_limit, guild=interaction.guild)
        seen["channel"] = interaction.channel
        await interaction.followup.send(
            f"{prompt} ({steps})", file=discord.File(io.BytesIO(b"P" * 1234), "out.png")
        )

    async with running(client, server):
        synced = await tree.sync()
        assert [c.name for c in synced] == ["imagine"] and synced[0].id > 0
        assert server.commands()[0]["options"][0]["name"] == "prompt"

        ix = await server.slash("imagine", {"prompt": "a red cube", "steps": 5})
        defer = await ix.wait_response()
        assert defer.type == 5 and defer.elapsed < 3.0
        msg = await ix.wait_original(lambda m: not m.loading)
        assert msg.content == "a red cube (5)"
        assert msg.attachment("out.png").data == b"P" * 1234
        assert ix.followups == [msg]  # the first followup after a defer edits the "thinking" message
        async with aiohttp.ClientSession() as http, http.get(msg.attachments[0].url) as resp:
            assert await resp.read() == b"P" * 1234

    assert seen["user"].id == server.default_user.id and isinstance(seen["user"], discord.Member)
    assert seen["limit"] == server.upload_limit and seen["guild"].id == server.guild.id
    assert seen["channel"].id == server.channel.id
    followup = server.calls_matching("POST /webhooks/*")[0]
    assert followup.file_sizes == {"out.png": 1234} and followup.json["content"] == "a red cube (5)"


async def test_subcommands_attachments_permissions_and_autocomplete(server: LocalDiscord):
    client, tree = make_client()
    group = app_commands.Group(name="admin", description="Admin tools")
    got = {}

    @group.command(description="Pause the queue")
    async def pause(interaction: discord.Interaction, reason: str = "none"):
        got["manage_guild"] = interaction.permissions.manage_guild
        await interaction.response.send_message(f"paused: {reason}", ephemeral=True)

    tree.add_command(group, guild=discord.Object(server.guild.id))

    @tree.command(description="img2img")
    async def vary(interaction: discord.Interaction, image: discord.Attachment, model: str):
        data = await image.read()
        await interaction.response.send_message(f"{image.filename} {len(data)} {model}")

    @vary.autocomplete("model")
    async def model_complete(interaction: discord.Interaction, current: str):
        names = ["shapes", "shapes-v2", "other"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    async with running(client, server):
        await tree.sync()
        await tree.sync(guild=discord.Object(server.guild.id))
        assert server.commands(server.guild)[0]["name"] == "admin"

        ix = await server.slash("admin", {"reason": "maintenance"}, subcommand="pause", user="mod")
        msg = await ix.wait_original()
        assert msg.ephemeral and msg.content == "paused: maintenance" and got["manage_guild"] is True
        ix = await server.slash("admin", subcommand="pause")  # alice: no Manage Guild
        await ix.wait_original()
        assert got["manage_guild"] is False

        att = server.add_attachment(b"\x00" * 300, "in.png")
        ix = await server.slash("vary", {"image": att, "model": "shapes"})
        assert (await ix.wait_original()).content == "in.png 300 shapes"

        choices = await server.autocomplete("vary", {}, "model")
        assert [c["value"] for c in choices] == ["shapes", "shapes-v2", "other"]
        choices = await server.autocomplete("vary", {"model": "shapes-"}, "model")
        assert choices == [{"name": "shapes-v2", "value": "shapes-v2"}]

        with pytest.raises(LookupError):
            await server.slash("never-synced")


# --------------------------------------------------------------------------- components


class Upscale(discord.ui.DynamicItem[discord.ui.Button], template=r"up:(?P<job>\w+):(?P<index>\d)"):
    def __init__(self, job: str, index: int):
        super().__init__(discord.ui.Button(label=f"U{index}", custom_id=f"up:{job}:{index}"))
        self.job, self.index = job, index

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(match["job"], int(match["index"]))

    async def callback(self, interaction: discord.Interaction):
        await interaction.response.edit_message(content=f"upscaling {self.job} #{self.index}", view=None)


async def test_button_clicks_reach_view_and_dynamic_item(server: LocalDiscord):
    client, tree = make_client()
    clicked = asyncio.Event()

    class Confirm(discord.ui.View):
        @discord.ui.button(label="OK", custom_id="confirm-ok")
        async def ok(self, interaction: discord.Interaction, button: discord.ui.Button):
            clicked.set()
            await interaction.response.send_message("confirmed", ephemeral=True)

        @discord.ui.button(label="Later", custom_id="later")
        async def later(self, interaction: discord.Interaction, button: discord.ui.Button):
            await interaction.response.defer()  # type 6 on a component: edit the message later
            await interaction.edit_original_response(content="result (seen)")

    @tree.command(description="Show a result")
    async def show(interaction: discord.Interaction):
        view = Confirm()
        for i in (1, 2):
            view.add_item(Upscale("job42", i))
        await interaction.response.send_message("result", view=view)

    async def setup_hook():
        client.add_dynamic_items(Upscale)

    client.setup_hook = setup_hook
    async with running(client, server):
        await tree.sync()
        ix = await server.slash("show")
        msg = await ix.wait_original()
        assert msg.custom_ids() == ["confirm-ok", "later", "up:job42:1", "up:job42:2"]
        assert msg.button("Later")["custom_id"] == "later"

        later = await server.click("later", msg)
        assert (await later.wait_response()).type == 6
        await server.wait_for_message(lambda m: m.id == msg.id and m.content == "result (seen)")

        ok = await server.click("confirm-ok", msg)
        await asyncio.wait_for(clicked.wait(), 3)
        assert (await ok.wait_original()).content == "confirmed"

        up = await server.click("up:job42:2")  # finds the message by custom_id
        assert (await up.wait_response()).type == 7
        edited = await server.wait_for_message(lambda m: m.content.startswith("upscaling"))
        assert edited.id == msg.id and edited.content == "upscaling job42 #2" and edited.components == []
        with pytest.raises(LookupError):
            await server.click("up:job42:1", msg)  # the buttons are gone


# --------------------------------------------------------------------------- faults


async def test_rate_limit_and_server_errors_are_survived(server: LocalDiscord):
    client, _ = make_client()
    async with running(client, server):
        channel = client.get_channel(server.channel.id)
        limited = server.rate_limit("POST /channels/*/messages", retry_after=0.2, count=2)
        t0 = time.monotonic()
        sent = await channel.send("hello")
        assert time.monotonic() - t0 >= 0.35
        assert server.messages[sent.id].content == "hello"
        statuses = [c.status for c in server.calls_matching("POST /channels/*/messages")]
        assert statuses == [429, 429, 200] and limited.exhausted
        assert server.calls_matching("POST /channels/*/messages")[0].injected == "429"

        server.fail("PATCH /channels/*/messages/*", status=502)
        await sent.edit(content="edited")
        statuses = [c.status for c in server.calls_matching("PATCH /channels/*")]
        assert statuses == [502, 200] and server.messages[sent.id].content == "edited"


async def test_rate_limited_webhook_followup(server: LocalDiscord):
    client, tree = make_client()

    @tree.command(description="Ping")
    async def ping(interaction: discord.Interaction):
        await interaction.response.defer()
        await interaction.followup.send("pong")

    async with running(client, server):
        await tree.sync()
        server.rate_limit("POST /webhooks/*", retry_after=0.1)
        ix = await server.slash("ping")
        msg = await ix.wait_original(lambda m: m.content == "pong")
        assert not msg.loading
        assert [c.status for c in server.calls_matching("POST /webhooks/*")] == [429, 200]


async def test_dropped_gateway_resumes_or_reidentifies(server: LocalDiscord):
    client, tree = make_client()
    resumed = asyncio.Event()
    client.event(_set_on("on_resumed", resumed))

    @tree.command(description="Ping")
    async def ping(interaction: discord.Interaction):
        await interaction.response.send_message("pong")

    async with running(client, server):
        await tree.sync()
        session = server.gateway.session
        t0 = await server.drop_gateway()  # close code 4000: resumable
        await server.wait_for_gateway("RESUME", since=t0)
        await asyncio.wait_for(resumed.wait(), 3)
        assert server.gateway.session is session and session.resumes == 1

        ix = await server.slash("ping")
        assert (await ix.wait_original()).content == "pong"

        # Events sent while disconnected are replayed on RESUME.
        t1 = await server.drop_gateway(abrupt=True)
        ix = await server.slash("ping")
        await server.wait_for_gateway("RESUMED", since=t1)
        assert (await ix.wait_original()).content == "pong"


class FastReidentifyClient(discord.Client):
    async def before_identify_hook(self, shard_id, *, initial=False):
        pass  # discord.py sleeps 5 s before every re-IDENTIFY; not needed against a local server


async def test_unresumable_session_reidentifies(server: LocalDiscord):
    client = FastReidentifyClient(intents=discord.Intents.default(), guild_ready_timeout=0.1)
    tree = app_commands.CommandTree(client)

    @tree.command(description="Ping")
    async def ping(interaction: discord.Interaction):
        await interaction.response.send_message("pong")

    async with running(client, server):
        await tree.sync()
        session = server.gateway.session
        t0 = await server.drop_gateway(resumable=False)
        await server.wait_for_gateway("RESUME", since=t0, direction="recv")
        await server.wait_for_gateway("INVALID_SESSION", since=t0)
        await server.wait_for_gateway("IDENTIFY", since=t0, direction="recv")
        await server.wait_for_session()
        assert server.gateway.session is not session and not session.valid
        ix = await server.slash("ping")
        assert (await ix.wait_original()).content == "pong"


async def test_expired_interaction_token(server: LocalDiscord):
    client, tree = make_client()
    errors: list[discord.HTTPException] = []
    go_on = asyncio.Event()

    @tree.command(description="Slow")
    async def slow(interaction: discord.Interaction):
        await interaction.response.defer()
        await go_on.wait()
        try:
            await interaction.followup.send("late")
        except discord.HTTPException as exc:
            errors.append(exc)
        try:
            await interaction.edit_original_response(content="late")
        except discord.HTTPException as exc:
            errors.append(exc)

    @tree.command(description="Too slow to answer")
    async def stuck(interaction: discord.Interaction):
        await go_on.wait()
        try:
            await interaction.response.send_message("too late")
        except discord.HTTPException as exc:
            errors.append(exc)

    async with running(client, server):
        await tree.sync()
        ix = await server.slash("slow")
        await ix.wait_response()
        server.expire(ix)
        ix2 = await server.slash("stuck")
        ix2.expire()
        go_on.set()
        await server.wait_for(lambda: len(errors) == 3, 3, "three errors")
    by_code = sorted((e.status, e.code, e.text) for e in errors)
    assert by_code == [
        (401, 50027, "Invalid Webhook Token"),
        (401, 50027, "Invalid Webhook Token"),
        (404, 10062, "Unknown interaction"),
    ]
    assert isinstance(next(e for e in errors if e.code == 10062), discord.NotFound)


async def test_upload_limit(server: LocalDiscord):
    server.upload_limit = 1000
    client, tree = make_client()
    result = {}

    @tree.command(description="Big")
    async def big(interaction: discord.Interaction, size: int):
        await interaction.response.defer()
        result["limit"] = interaction.filesize_limit
        try:
            await interaction.followup.send(file=discord.File(io.BytesIO(b"x" * size), "big.png"))
            result["ok"] = True
        except discord.HTTPException as exc:
            result["error"] = (exc.status, exc.code)

    async with running(client, server):
        await tree.sync()
        ix = await server.slash("big", {"size": 2000})
        await server.wait_for(lambda: result.get("error"), 3, "the 413")
        assert result == {"limit": 1000, "error": (413, 40005)}
        assert ix.original.loading  # nothing replaced the "thinking" message
        call = server.calls_matching("POST /webhooks/*")[-1]
        assert call.status == 413 and call.file_sizes == {"big.png": 2000}

        result.clear()
        ix = await server.slash("big", {"size": 900}, attachment_size_limit=5000)
        await ix.wait_original(lambda m: m.attachments)
        assert result == {"limit": 5000, "ok": True}


# --------------------------------------------------------------------------- message lifecycle


async def test_message_lifecycle_modal_dm_and_events(server: LocalDiscord):
    client, tree = make_client()
    got: dict = {}
    user_messages: list[discord.Message] = []

    @client.event
    async def on_message(message: discord.Message):
        if message.author.id != server.bot_user.id:
            user_messages.append(message)

    class Ask(discord.ui.Modal, title="Prompt"):
        text = discord.ui.TextInput(label="Prompt", custom_id="prompt-text")

        async def on_submit(self, interaction: discord.Interaction):
            await interaction.response.send_message(f"modal: {self.text.value}")

    @tree.command(description="Edit things")
    async def edits(interaction: discord.Interaction):
        await interaction.response.send_message("v1")
        original = await interaction.original_response()
        got["original_id"] = original.id
        await interaction.edit_original_response(
            content="v2", attachments=[discord.File(io.BytesIO(b"a" * 10), "a.png")]
        )
        await interaction.followup.send("secret", ephemeral=True)
        note = await interaction.followup.send("to delete", wait=True)
        await note.delete()
        await interaction.user.send("dm for you")
        history = [m.content async for m in interaction.channel.history(limit=10)]
        got["history"] = history

    @tree.command(description="Open a modal")
    async def ask(interaction: discord.Interaction):
        await interaction.response.send_modal(Ask())

    async with running(client, server):
        await tree.sync()
        ix = await server.slash("edits")
        await server.wait_for(lambda: "history" in got, 3, "the command to finish")
        msg = ix.original
        assert msg.id == got["original_id"] and msg.content == "v2" and msg.edits == 1
        assert [a.filename for a in msg.attachments] == ["a.png"]
        secret, deleted = ix.followups[0], server.messages[ix.followup_ids[1]]
        assert secret.ephemeral and deleted.deleted
        dm = server.last_message(server.dm_channel(server.default_user))
        assert dm.content == "dm for you"
        assert got["history"] == ["v2"]  # ephemeral and deleted messages are not in the history

        ix = await server.slash("ask")
        assert (await ix.wait_response()).type == 9
        sub = await server.submit_modal(ix, {"prompt-text": "a blue ball"})
        assert (await sub.wait_original()).content == "modal: a blue ball"

        await server.send_user_message(f"hello <@{server.bot_user.id}>", user="mod")
        await server.send_user_message("no content intent")
        await server.wait_for(lambda: len(user_messages) == 2, 3, "two on_message")
        assert user_messages[0].content.startswith("hello") and user_messages[1].content == ""
        assert user_messages[0].author.name == "mod"


async def test_buttons_survive_a_client_restart(server: LocalDiscord):
    client, tree = make_client()

    @tree.command(description="Show a result")
    async def show(interaction: discord.Interaction):
        view = discord.ui.View(timeout=None)
        view.add_item(Upscale("jobA", 1))
        await interaction.response.send_message("result", view=view)

    async with running(client, server):
        await tree.sync()
        msg = await (await server.slash("show")).wait_original()

    restarted = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)

    async def setup_hook():
        restarted.add_dynamic_items(Upscale)

    restarted.setup_hook = setup_hook
    async with running(restarted, server):
        up = await server.click("up:jobA:1", msg)
        assert (await up.wait_response()).type == 7
        assert server.messages[msg.id].content == "upscaling jobA #1"
    assert len(server.gateway.sessions) == 2
