"""Delivery: keeps each job's Discord message in step with the service's events.

One listener reads every job's events. Each job the bot knows (from its meta: channel, the
interaction token and when it was issued, the message id once known) gets a `JobMessage` that
edits its message: the queue position and ETA while waiting, step progress with a small preview
while running, then the result with its buttons. Edits of one message are coalesced to at most one
every `progress_interval` seconds; the final one goes out at once.

While the interaction token works (15 minutes) the message is the interaction's response, edited
through the webhook. After that, or when Discord says the token is invalid (401/404), the bot
falls back to the channel with its own token: progress edits the same message if it can, and the
result is posted as a new channel message that mentions the user. Jobs resumed after a restart,
which this process never saw submitted, are picked up from their meta in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.image_check import checked_preview, result_parts
from bot.meta import DeliveryMeta
from bot.ui import text
from bot.ui.fit import fitted
from bot.ui.uploads import UPLOAD_MARGIN, Upload
from bot.ui.views import progress_view
from generation.jobs.events import JobEvent
from generation.jobs.types import TERMINAL_EVENTS, Job

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)

DEAD_TOKEN_CODES = {10015, 50027}  # Unknown Webhook, Invalid Webhook Token
INTERACTION_GRACE = 1.0  # seconds a fresh job's message waits for its interaction
FINAL = TERMINAL_EVENTS  # done | failed | cancelled
REDELIVER_WINDOW = 24 * 3600.0  # on start, post results of jobs that ended this recently unannounced


@dataclass(frozen=True)
class Status:
    """What a job message should show now (the latest event, digested)."""

    kind: str  # queued | running | done | failed | cancelled
    position: int | None = None
    eta: float | None = None
    step: int | None = None
    total: int | None = None
    preview: bytes | None = None
    message: str | None = None
    job: Job | None = None

    @property
    def final(self) -> bool:
        return self.kind in FINAL


def status_from(event: JobEvent, previous: Status | None) -> Status | None:
    kind = event.kind
    if kind in ("queued", "resumed", "position"):
        return Status("queued", position=event.position, eta=event.eta)
    if kind in ("started", "progress"):
        preview = event.preview
        if preview is None and previous is not None and previous.kind == "running":
            preview = previous.preview  # keep showing the last preview until a newer one comes
        return Status("running", eta=event.eta, step=event.step, total=event.total, preview=preview)
    if kind in FINAL:
        return Status(kind, message=text.describe(event.problem) if event.problem else None, job=event.job)
    return None


class JobMessage:
    """One job's message: the latest status, rendered by a single task at a bounded rate."""

    def __init__(self, delivery: Delivery, job_id: str) -> None:
        self.delivery = delivery
        self.bot = delivery.bot
        self.job_id = job_id
        self.job: Job | None = None
        self.target: DeliveryMeta | None = None  # where its message lives; None: not the bot's job
        self.interaction: discord.Interaction | None = None
        self.latest: Status | None = None
        self.token_dead = False
        self.adopting: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._has_interaction = asyncio.Event()
        self._dirty = asyncio.Event()
        self._final = asyncio.Event()
        self._last_edit = -1e9
        self.task = asyncio.create_task(self._run(), name=f"job-message-{job_id}")

    # -- state ------------------------------------------------------------------------------

    def attach(self, job: Job, interaction: discord.Interaction | None = None) -> None:
        self.job = job
        if self.target is None:
            meta = DeliveryMeta.of(job)
            self.target = meta if meta.reachable else None
        if interaction is not None:
            self.interaction = interaction
            self._has_interaction.set()
        self._ready.set()

    def detach(self) -> None:
        """Not a job this bot delivers."""
        self._ready.set()

    def update(self, status: Status) -> None:
        if self.latest is not None and self.latest.final:
            return  # nothing comes after the end
        self.latest = status
        self._dirty.set()
        if status.final:
            self._final.set()

    # -- rendering --------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._ready.wait()
            if self.target is None or self.job is None:
                return
            if self.interaction is None and self.target.message_id is None and self.target.token_usable():
                # Submitted here a moment ago: its events can beat `track()`, which brings the
                # interaction. (A job resumed after a restart just waits this once.)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._has_interaction.wait(), INTERACTION_GRACE)
            interval = self.bot.discord_settings.progress_interval
            loop = asyncio.get_running_loop()
            while True:
                await self._dirty.wait()
                wait = self._last_edit + interval - loop.time()
                if wait > 0 and not self._final.is_set():
                    # Coalesce: the newest status at the end of the wait wins; the end cuts it short.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._final.wait(), wait)
                self._dirty.clear()
                status = self.latest
                assert status is not None
                try:
                    await self._render(status)
                except Exception:
                    log.exception("could not update the message of job %s", self.job_id)
                self._last_edit = loop.time()
                if status.final:
                    return
        finally:
            self.delivery._forget(self)

    async def _render(self, status: Status) -> None:
        job, target = status.job or self.job, self.target
        assert job is not None and target is not None
        if status.kind == "done":
            await self._deliver_result(job)
            return
        request, user = job.request, target.user_id
        uploads: list[Upload] = []
        view: discord.ui.View | None = None
        if status.kind == "queued":
            content = text.queued_text(request, user, status.position, status.eta)
            view = progress_view(job.id)
        elif status.kind == "running":
            content = text.running_text(request, user, status.step, status.total, status.eta)
            if status.preview and len(status.preview) <= target.filesize_limit - UPLOAD_MARGIN:
                preview = checked_preview(status.preview, job, target.spoiler)
                uploads.extend([preview] if preview else [])
            view = progress_view(job.id)
        elif status.kind == "failed":
            reason = status.message or (text.describe(job.error) if job.error else None)
            content = text.failed_text(request, user, reason)
        else:
            content = text.cancelled_text(request, user)
        await self._send(content, uploads, view, final=status.final)
        if status.final:
            await self._record(delivered=True)

    async def _deliver_result(self, job: Job) -> None:
        if not job.images and job.grid_key is None:
            job = await self.bot.service.get_job(job.id) or job  # the event may carry an older row
        target = self.target
        assert target is not None
        if target.private and await self._deliver_by_dm(job):
            return
        content, upload, view = await self._result_parts(job, target.filesize_limit, target.spoiler)
        message = await self._send(content, [upload] if upload else [], view, final=True)
        if message is None:
            await self._record(delivered=True)
        else:
            await self._record(
                delivered=True, result_message_id=message.id, result_channel_id=message.channel.id
            )

    async def _deliver_by_dm(self, job: Job) -> bool:
        """The result in the user's DMs (their /settings say so); its message says where it went.
        False when the DM cannot be sent (DMs closed): the result then goes where it would have."""
        target = self.target
        assert target is not None
        try:
            channel = await self.bot.create_dm(discord.Object(target.user_id))
            limit = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES  # a DM's limit, not the server's
            content, upload, view = await self._result_parts(job, limit, False)
            message = await channel.send(
                **fitted(
                    text.with_note(content, target.note), files=[upload.file()] if upload else [], view=view
                )
            )
        except discord.HTTPException as exc:
            log.info("job %s: could not DM the result (%s); posting it as usual", self.job_id, exc)
            return False
        await self._record(delivered=True, result_message_id=message.id, result_channel_id=channel.id)
        if not self.token_dead and target.token_usable():
            with contextlib.suppress(discord.HTTPException):
                await self._edit_through_token(text.sent_by_dm(job, message.jump_url), [], None)
        return True

    async def _result_parts(
        self, job: Job, limit: int, spoiler: bool
    ) -> tuple[str, Upload | None, discord.ui.View]:
        return await result_parts(self.bot.service, self.bot.discord_settings, job, limit, spoiler)

    async def _send(
        self, content: str, uploads: list[Upload], view: discord.ui.View | None, *, final: bool
    ) -> discord.Message | None:
        """Edit the interaction's message while the token works; else go through the channel."""
        target = self.target
        assert target is not None
        content = text.with_note(content, target.note)
        if not self.token_dead and target.token_usable():
            try:
                message = await self._edit_through_token(content, uploads, view)
            except discord.HTTPException as exc:
                if exc.status in (401, 404) or exc.code in DEAD_TOKEN_CODES:
                    log.info(
                        "job %s: interaction token no longer works (%s); using the channel", self.job_id, exc
                    )
                    self.token_dead = True
                elif not final:
                    log.warning("job %s: progress edit failed: %s", self.job_id, exc)
                    return None
                else:
                    log.warning("job %s: result edit failed (%s); posting in the channel", self.job_id, exc)
            else:
                if message is not None:
                    await self._remember_message(message.id)
                    return message
        return await self._send_through_channel(content, uploads, view, final=final)

    async def _edit_through_token(
        self, content: str, uploads: list[Upload], view: discord.ui.View | None
    ) -> discord.Message | None:
        target = self.target
        assert target is not None
        files = [u.file() for u in uploads]
        kwargs = fitted(content, attachments=files, view=view)
        if self.interaction is not None:
            return await self.interaction.edit_original_response(**kwargs)
        if target.message_id is None or target.application_id is None:
            return None  # resumed before its message was known: nothing to edit through the token
        webhook = discord.Webhook.partial(target.application_id, target.token or "", client=self.bot)
        return await webhook.edit_message(target.message_id, **kwargs)

    async def _send_through_channel(
        self, content: str, uploads: list[Upload], view: discord.ui.View | None, *, final: bool
    ) -> discord.Message | None:
        target = self.target
        assert target is not None
        if target.channel_id is None or (target.private and not final):
            return None  # a private job's progress is never posted for the channel to see
        channel = self.bot.get_partial_messageable(target.channel_id)
        try:
            if final:
                # A new message, so the user is notified; the old one points to it.
                message = await channel.send(
                    **fitted(
                        text.with_mention(content, target.user_id),
                        files=[u.file() for u in uploads],
                        view=view or discord.utils.MISSING,
                        allowed_mentions=discord.AllowedMentions(users=[discord.Object(target.user_id)]),
                    )
                )
                if target.message_id is not None:
                    with contextlib.suppress(discord.HTTPException):
                        await channel.get_partial_message(target.message_id).edit(
                            **fitted(
                                text.finished_elsewhere(content, message.jump_url), attachments=[], view=None
                            )
                        )
                return message
            if target.message_id is not None:
                return await channel.get_partial_message(target.message_id).edit(
                    **fitted(content, attachments=[u.file() for u in uploads], view=view)
                )
            message = await channel.send(
                **fitted(content, files=[u.file() for u in uploads], view=view or discord.utils.MISSING)
            )
            await self._remember_message(message.id)
            return message
        except discord.HTTPException as exc:
            log.warning("job %s: could not reach channel %s: %s", self.job_id, target.channel_id, exc)
            return None

    async def _remember_message(self, message_id: int) -> None:
        target = self.target
        assert target is not None
        if target.message_id is None:
            await self._record(message_id=message_id)

    async def _record(self, **changes: Any) -> None:
        """Change the job's meta here and in the store (what a restart reads back)."""
        assert self.target is not None
        self.target = dataclasses.replace(self.target, **changes)
        await self.bot.service.update_meta(self.job_id, **self.target.to_dict())


class Delivery:
    """Routes service events to job messages; adopts jobs it did not see submitted."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self.messages: dict[str, JobMessage] = {}
        self._listener: asyncio.Task[None] | None = None
        self._redelivery: asyncio.Task[None] | None = None
        self._subscription: Any = None
        self._ignored: dict[str, None] = {}  # jobs that are not the bot's, oldest first

    async def start(self) -> None:
        """Subscribe to every job's events (call before the service resumes old jobs)."""
        if self._listener is not None:
            return
        self._subscription = self.bot.service.events(None, previews=self.bot.discord_settings.live_preview)
        self._listener = asyncio.create_task(self._listen(), name="delivery-listener")
        self._redelivery = asyncio.create_task(self._redeliver(time.time()), name="delivery-redeliver")

    async def close(self) -> None:
        if self._redelivery is not None:
            self._redelivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._redelivery
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._subscription is not None and hasattr(self._subscription, "close"):
            self._subscription.close()
        for message in list(self.messages.values()):
            message.task.cancel()
        await asyncio.gather(*(m.task for m in list(self.messages.values())), return_exceptions=True)
        self.messages.clear()

    def track(self, job: Job, interaction: discord.Interaction) -> JobMessage:
        """A job just submitted for this interaction; its events may already have arrived."""
        message = self._message(job.id)
        message.attach(job, interaction)
        if message.latest is None:
            where = self.bot.service.position(job.id)
            if where is not None:
                message.update(Status("queued", position=where[0], eta=where[1]))
        return message

    async def idle(self) -> None:
        """Wait until every message in flight has had its final update (tests, shutdown)."""
        while self.messages:
            await asyncio.gather(*(m.task for m in list(self.messages.values())), return_exceptions=True)

    # -- internals --------------------------------------------------------------------------

    async def _redeliver(self, started: float) -> None:
        """Jobs that ended before this start but whose outcome was never posted (the process died
        between the end of the job and its message): deliver them now, as if the event came late."""
        try:
            jobs = await self.bot.service.finished_between(started - REDELIVER_WINDOW, started)
        except Exception:
            log.exception("could not look for undelivered results")
            return
        for job in jobs:
            if not DeliveryMeta.from_dict(job.meta).delivered and job.id not in self.messages:
                log.info("job %s ended unannounced before the restart; delivering it now", job.id)
                self._on_event(JobEvent(job.id, job.status.value, problem=job.error, job=job))

    async def _listen(self) -> None:
        async for event in self._subscription:
            try:
                self._on_event(event)
            except Exception:
                log.exception("could not handle %s event of job %s", event.kind, event.job_id)

    def _on_event(self, event: JobEvent) -> None:
        message = self.messages.get(event.job_id)
        if message is None:
            if event.job_id in self._ignored:
                return
            if (
                event.kind in FINAL
                and event.job is not None
                and DeliveryMeta.from_dict(event.job.meta).delivered
            ):
                return
            message = self._message(event.job_id)
            if event.job is not None:
                message.attach(event.job)
            else:
                message.adopting = asyncio.create_task(self._adopt(message))
        status = status_from(event, message.latest)
        if status is not None:
            message.update(status)

    async def _adopt(self, message: JobMessage) -> None:
        """A job this process did not submit (resumed after a restart): read its meta."""
        try:
            job = await self.bot.service.get_job(message.job_id)
        except Exception:
            log.exception("could not load job %s", message.job_id)
            job = None
        if message.job is not None:
            return  # attached meanwhile (track() or an event carrying the row)
        if job is None:
            message.detach()
        else:
            message.attach(job)

    def _message(self, job_id: str) -> JobMessage:
        message = self.messages.get(job_id)
        if message is None:
            message = self.messages[job_id] = JobMessage(self, job_id)
        return message

    def _forget(self, message: JobMessage) -> None:
        if self.messages.get(message.job_id) is message:
            del self.messages[message.job_id]
        if message.target is None:
            self._ignored[message.job_id] = None
            while len(self._ignored) > 1000:
                del self._ignored[next(iter(self._ignored))]
