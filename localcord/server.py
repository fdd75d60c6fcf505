"""``LocalDiscord``: a Discord-compatible REST + gateway server on 127.0.0.1 for an unmodified
discord.py 2.7 bot, with a small world (a guild, channels, roles, users), interaction
injection (slash commands, autocomplete, button clicks, modals), recorded calls, awaitable
waiters and fault injection.

Typical use (see ``localcord.client.running`` for the client side)::

    async with LocalDiscord() as server, running(bot, server):
        ix = await server.slash("imagine", {"prompt": "a red cube"})
        await ix.wait_response()                      # the defer
        msg = await ix.wait_original(lambda m: m.attachments)

``LocalDiscord`` is a facade: it wires the parts and hands each call to the part that holds
it (``state``: the world; ``recorder``: calls, frames, faults; ``changes``: what waiters wait
on; ``injector``: what users do; ``rest`` and ``gateway``: the two endpoints).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from aiohttp import web

from .attachments import Attachments
from .changes import Changes
from .config import TEN_MIB, Config
from .gateway import Gateway, GatewaySession
from .interactions import DEFAULT, InjectedInteraction, Injector
from .messages import Messages
from .models import Call, Channel, GatewayFrame, Guild, Member, Role, StoredAttachment, StoredMessage, User
from .recorder import CallMatch, Fault, FrameMatch, Recorder
from .rest import RestApi
from .state import State

T = TypeVar("T")


class LocalDiscord:
    """A local Discord: REST API v10 + gateway on 127.0.0.1, with a default world.

    Default world: guild ``server.guild`` ("Local Guild", owner ``owner``), text channels
    ``general`` (``server.channel``) and ``nsfw`` (nsfw), roles ``@everyone``, ``Moderator``
    (Manage Guild), ``Admin`` (Administrator) and the bot's managed role; users ``alice`` (the
    default user, no roles), ``mod`` (Moderator), ``admin`` (Admin), ``owner``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "localcord.bot.token",
        bot_name: str = "ImagineBot",
        upload_limit: int = TEN_MIB,
        request_size_limit: int | None = None,
        token_ttl: float = 15 * 60.0,
        callback_deadline: float | None = None,
        heartbeat_interval_ms: int = 41250,
        message_events: bool = True,
        default_world: bool = True,
    ):
        self.config = Config(
            host=host,
            port=port,
            token=token,
            bot_name=bot_name,
            upload_limit=upload_limit,
            request_size_limit=request_size_limit,
            token_ttl=token_ttl,
            callback_deadline=callback_deadline,
            heartbeat_interval_ms=heartbeat_interval_ms,
            message_events=message_events,
        )
        self.recorder = Recorder()
        self.changes = Changes(explain=self.recorder.recent_calls)
        self.state = State(bot_name)
        self.gateway = Gateway(self.state, self.recorder, self.changes, self.config)
        self._attachments = Attachments(self.state, self.config)
        messages = Messages(self.state, self._attachments, self.gateway, self.changes, self.config)
        self.injector = Injector(
            self.state, self._attachments, messages, self.gateway, self.changes, self.config
        )
        self.rest = RestApi(self.state, messages, self.recorder, self.changes, self.config)
        self._runner: web.AppRunner | None = None
        if default_world:
            self.state.build_default_world()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> LocalDiscord:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self.rest.handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.config.port = self._runner.addresses[0][1]  # the one the OS picked for port=0
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        self.config.address = f"http://{host}:{self.config.port}"
        return self

    async def close(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.changes.cancel_all()

    async def __aenter__(self) -> LocalDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def api_base(self) -> str:
        return self.config.api_base

    @property
    def gateway_url(self) -> str:
        return self.config.gateway_url

    # ------------------------------------------------------------------ settings

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def upload_limit(self) -> int:
        """Bytes per file (and the ``attachment_size_limit`` interactions carry by default)."""
        return self.config.upload_limit

    @upload_limit.setter
    def upload_limit(self, value: int) -> None:
        self.config.upload_limit = value

    # ------------------------------------------------------------------ the world

    @property
    def users(self) -> dict[int, User]:
        return self.state.users

    @property
    def guilds(self) -> dict[int, Guild]:
        return self.state.guilds

    @property
    def channels(self) -> dict[int, Channel]:
        return self.state.channels

    @property
    def messages(self) -> dict[int, StoredMessage]:
        """Every message by id, deleted ones too (``deleted`` set)."""
        return self.state.messages

    @property
    def attachments(self) -> dict[int, StoredAttachment]:
        return self.state.attachments

    @property
    def interactions(self) -> dict[int, InjectedInteraction]:
        return self.state.interactions

    @property
    def bot_user(self) -> User:
        return self.state.bot_user

    @property
    def application_id(self) -> int:
        return self.state.application_id

    @property
    def owner(self) -> User:
        return self.state.owner

    @property
    def guild(self) -> Guild | None:
        """The default guild (the first one added)."""
        return self.state.guild

    @property
    def channel(self) -> Channel | None:
        """The default channel (the first text channel added)."""
        return self.state.channel

    @property
    def default_user(self) -> User | None:
        return self.state.default_user

    def add_user(
        self,
        username: str,
        *,
        bot: bool = False,
        guild: Guild | None = None,
        roles: Iterable[Role | int] = (),
    ) -> User:
        """A new user; with ``guild``, also a member of it (with ``roles``)."""
        return self.state.add_user(username, bot=bot, guild=guild, roles=roles)

    def add_guild(self, name: str, *, owner: User | None = None, premium_tier: int = 0) -> Guild:
        """A guild with an @everyone role, the bot as a member (with its managed role)."""
        return self.state.add_guild(name, owner=owner, premium_tier=premium_tier)

    def add_channel(self, guild: Guild | None, name: str, **kw: Any) -> Channel:
        """A channel of ``guild`` (None: the default guild); ``nsfw``, ``type``, ``topic``."""
        return self.state.add_channel(guild, name, **kw)

    def add_role(
        self, guild: Guild | None, name: str, permissions: int = 0, *, managed: bool = False
    ) -> Role:
        return self.state.add_role(guild, name, permissions, managed=managed)

    def add_member(
        self, guild: Guild, user: User, *, roles: Iterable[Role | int] = (), nick: str | None = None
    ) -> Member:
        return self.state.add_member(guild, user, roles=roles, nick=nick)

    def add_attachment(
        self,
        data: bytes,
        filename: str = "image.png",
        *,
        content_type: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Store a file (as if a user uploaded it) and return its attachment payload; the file is
        served at ``payload["url"]``. Pass the payload as a slash option of type attachment."""
        return self._attachments.add(data, filename, content_type=content_type, description=description)

    def dm_channel(self, user: User) -> Channel:
        return self.state.dm_channel(user)

    def get_user(self, ref: User | Member | int | str | None) -> User:
        """A user by object, id or username (``None``: the default user)."""
        return self.state.get_user(ref)

    def get_channel(self, ref: Channel | int | str, guild: Guild | None = None) -> Channel:
        return self.state.get_channel(ref, guild)

    def commands(self, guild: Guild | int | None = None) -> list[dict[str, Any]]:
        """Synced commands: global (``guild=None``) or of a guild."""
        return self.state.commands(guild.id if isinstance(guild, Guild) else guild)

    def channel_messages(self, channel: Channel | int | str | None = None) -> list[StoredMessage]:
        """Live (not deleted) messages of a channel, oldest first (``None``: every channel)."""
        return self.state.channel_messages(channel)

    def last_message(self, channel: Channel | int | str | None = None) -> StoredMessage | None:
        msgs = self.state.channel_messages(channel)
        return msgs[-1] if msgs else None

    def message(self, ref: StoredMessage | int) -> StoredMessage:
        return self.state.message(ref)

    # ------------------------------------------------------------------ what users do

    async def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        user: Any = None,
        guild: Any = DEFAULT,
        channel: Any = None,
        permissions: int | None = None,
        attachment_size_limit: int | None = None,
        locale: str = "en-US",
        validate: bool = True,
    ) -> InjectedInteraction:
        """Invoke a synced slash command as ``user`` (default ``alice``) in ``channel`` (default
        ``#general``; ``guild=None`` for a DM). ``options`` maps option names to Python values:
        str/int/float/bool, a ``User``/``Channel``/``Role`` (or id) for those types, and for an
        attachment option a payload from ``add_attachment`` (or raw ``bytes``). ``subcommand`` is
        ``"sub"`` or ``"group sub"``. ``validate`` applies the checks Discord's client does
        (required options, choices, ranges). Returns once the interaction is sent."""
        return await self.injector.slash(
            name,
            options,
            subcommand=subcommand,
            user=user,
            guild=guild,
            channel=channel,
            permissions=permissions,
            attachment_size_limit=attachment_size_limit,
            locale=locale,
            validate=validate,
        )

    async def autocomplete(
        self,
        name: str,
        options: dict[str, Any] | None,
        focused: str,
        *,
        subcommand: str | None = None,
        user: Any = None,
        guild: Any = DEFAULT,
        channel: Any = None,
        timeout: float = 3.0,
    ) -> list[dict[str, Any]]:
        """Send an autocomplete interaction (``focused`` names the option being typed; its value
        in ``options``, default "") and return the choices the bot answered."""
        return await self.injector.autocomplete(
            name,
            options,
            focused,
            subcommand=subcommand,
            user=user,
            guild=guild,
            channel=channel,
            timeout=timeout,
        )

    async def click(
        self,
        custom_id: str,
        message: StoredMessage | int | None = None,
        *,
        user: Any = None,
        values: list[str] | None = None,
        permissions: int | None = None,
        check: bool = True,
    ) -> InjectedInteraction:
        """Click a button (or pick ``values`` in a select) with ``custom_id`` on ``message``
        (default: the newest message carrying that custom_id). ``check`` refuses a custom_id the
        message does not show, or a disabled component, as Discord's client would."""
        return await self.injector.click(
            custom_id, message, user=user, values=values, permissions=permissions, check=check
        )

    async def submit_modal(
        self, source: InjectedInteraction, values: dict[str, str], *, user: Any = None
    ) -> InjectedInteraction:
        """Submit the modal the bot opened in answer to ``source`` (a type 9 callback), filling
        text inputs by custom_id from ``values``."""
        return await self.injector.submit_modal(source, values, user=user)

    async def send_user_message(
        self,
        content: str,
        *,
        user: User | int | str | None = None,
        channel: Channel | int | str | None = None,
        files: dict[str, bytes] | None = None,
    ) -> StoredMessage:
        """A user posts a message (MESSAGE_CREATE reaches the bot, subject to intents), with
        ``files`` (filename -> bytes) attached."""
        return await self.injector.send_user_message(content, user=user, channel=channel, files=files)

    async def message_command(
        self,
        name: str,
        message: StoredMessage | int,
        *,
        user: Any = None,
        permissions: int | None = None,
    ) -> InjectedInteraction:
        """A user picks the message context-menu command ``name`` (Apps > name) on ``message``."""
        return await self.injector.message_command(name, message, user=user, permissions=permissions)

    def expire(self, interaction: InjectedInteraction | str) -> None:
        """Expire an interaction token now (webhooks: 401/50027; callback: 404/10062)."""
        self.injector.expire(interaction)

    # ------------------------------------------------------------------ faults

    def rate_limit(
        self,
        match: CallMatch = None,
        *,
        count: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        scope: str = "user",
    ) -> Fault:
        """Answer the next ``count`` matching REST calls with 429 (``retry_after`` seconds,
        ``Via`` and ``X-RateLimit-*`` headers, body ``{"message","retry_after","global"}``)."""
        return self.recorder.rate_limit(
            match, count=count, retry_after=retry_after, is_global=is_global, scope=scope
        )

    def fail(self, match: CallMatch = None, *, status: int = 500, count: int = 1) -> Fault:
        """Answer the next ``count`` matching REST calls with ``status`` (5xx: discord.py retries
        after 1 s, 3 s, ... up to 5 tries)."""
        return self.recorder.fail(match, status=status, count=count)

    async def drop_gateway(self, code: int = 4000, *, resumable: bool = True, abrupt: bool = False) -> float:
        """Close the bot's gateway connection(s) with a non-fatal ``code`` (discord.py reconnects
        and RESUMEs; ``resumable=False``: the RESUME gets op 9 and the bot IDENTIFYs again;
        ``abrupt``: no close frame). Returns the time (monotonic) just before dropping, for
        ``wait_for_gateway(..., since=)``."""
        t0 = time.monotonic()
        await self.gateway.drop(code, resumable=resumable, abrupt=abrupt)
        return t0

    # ------------------------------------------------------------------ recording & waiting

    @staticmethod
    def now() -> float:
        return time.monotonic()

    @property
    def calls(self) -> list[Call]:
        """Every REST call, oldest first (``status`` set once answered)."""
        return self.recorder.calls

    @property
    def faults(self) -> list[Fault]:
        """Injected faults not used up yet."""
        return self.recorder.faults

    @property
    def errors(self) -> list[BaseException]:
        """Bugs in localcord's own handlers (should stay empty)."""
        return self.recorder.errors

    def calls_matching(self, match: CallMatch = None, *, since: float | None = None) -> list[Call]:
        """Calls matching ``"POST /webhooks/*"``, a path pattern or a predicate, since ``since``."""
        return self.recorder.calls_matching(match, since=since)

    async def wait_for(
        self, check: Callable[[], T | None], timeout: float = 5.0, what: str = "a condition"
    ) -> T:
        """Wait until ``check()`` returns something other than None/False and return it.

        Re-checked on every recorded call, message change and gateway frame, and every 20 ms
        (so conditions on the bot's own state work too)."""
        return await self.changes.wait_for(check, timeout, what)

    async def wait_for_message(
        self,
        predicate: Callable[[StoredMessage], Any] | None = None,
        timeout: float = 5.0,
        *,
        since: float | None = None,
        channel: Channel | int | str | None = None,
    ) -> StoredMessage:
        """The first live message (oldest first) satisfying ``predicate`` that was created or
        changed at or after ``since`` (None: any time)."""
        ch = None if channel is None else self.state.get_channel(channel)
        return await self.wait_for(
            lambda: self.state.find_message(predicate, since=since, channel=ch),
            timeout,
            "a message matching the predicate",
        )

    async def wait_for_gateway(
        self,
        match: FrameMatch,
        timeout: float = 5.0,
        *,
        since: float | None = None,
        direction: str | None = None,
    ) -> GatewayFrame:
        """The first gateway frame since ``since`` matching an event name ("READY", "RESUMED",
        "INTERACTION_CREATE", "CLOSE"), an opcode name ("IDENTIFY", "RESUME", "HEARTBEAT",
        "HEARTBEAT_ACK", "HELLO", "INVALID_SESSION", "RECONNECT") or a predicate."""
        return await self.wait_for(
            lambda: self.recorder.first_frame(match, since=since, direction=direction),
            timeout,
            f"gateway frame {match!r}",
        )

    async def wait_for_session(self, timeout: float = 5.0) -> GatewaySession:
        """A connected, identified gateway session (READY sent)."""

        def check() -> GatewaySession | None:
            s = self.gateway.session
            return s if s is not None and s.connected else None

        return await self.wait_for(check, timeout, "a connected gateway session")


__all__ = ["DEFAULT", "InjectedInteraction", "LocalDiscord"]
