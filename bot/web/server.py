"""The mask editor page: an aiohttp app the bot serves on `[web] listen`.

Vary (Region) offers a link (`new_link`) to `/edit/<token>`: the image, a brush and a lasso to
paint the region, the prompt to edit, a submit button. The token is signed (bot/web/links.py) and
names one job's image and one user; the record it points to (in the service's state, so it
survives a restart) holds where the result goes and whether the link was used. Submitting queues
the region edit through the one seam (bot/edits.py: `edit_request`), as its user, and marks the
link used; the result is posted in the channel the button was clicked in (or by DM).

The page loads nothing from outside the bot (its script, style and image come from here, and a
Content-Security-Policy forbids anything else). Uploads are size-checked before they are read.
Every failure is a page that says what happened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import discord
from aiohttp import web

from bot.checks import role_ids
from bot.edits import EditInput, EditKind, EditSource, edit_request
from bot.meta import DeliveryMeta
from bot.prefs import results_by_dm
from bot.remix import remix_text
from bot.safety import image_check_meta, wants_spoiler
from bot.submit import Refused, check_for_guild
from bot.ui import text
from bot.web.links import LinkClaims, LinkError, LinkSigner
from bot.web.settings import WebSettings
from generation.jobs.service import SubmitRefused
from generation.jobs.types import Job, JobOwner
from generation.requests.followups import NoSuchImage, image_of, output_size, variation_of
from generation.requests.prompt import PromptError

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
RECORD = "web.link.{nonce}"  # the service state key of a link's record
MAX_MASK_PIXELS = 40_000_000
MAX_PROMPT = 4000
HEADERS = {
    # Nothing but this origin: no outside scripts, styles, images, fonts or frames.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class PageError(Exception):
    """A failure shown as a page: its HTTP status and the sentence for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LinkRecord:
    """What a link's record keeps: who asked, from where, and how the result is delivered."""

    user_id: int
    guild_id: int | None
    channel_id: int | None
    role_ids: tuple[int, ...]
    application_id: int | None
    filesize_limit: int
    spoiler: bool
    private: bool
    used: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "role_ids": list(self.role_ids),
            "application_id": self.application_id,
            "filesize_limit": self.filesize_limit,
            "spoiler": self.spoiler,
            "private": self.private,
            "used": self.used,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkRecord:
        return cls(
            user_id=int(data["user_id"]),
            guild_id=data.get("guild_id"),
            channel_id=data.get("channel_id"),
            role_ids=tuple(int(r) for r in data.get("role_ids") or ()),
            application_id=data.get("application_id"),
            filesize_limit=int(data.get("filesize_limit") or discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES),
            spoiler=bool(data.get("spoiler")),
            private=bool(data.get("private")),
            used=data.get("used"),
        )


def _template(name: str) -> Template:
    return Template((STATIC / name).read_text(encoding="utf-8"))


def message_page(title: str, message: str, status: int = 200) -> web.Response:
    body = _template("page.html").substitute(title=html.escape(title), message=html.escape(message))
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)


def mask_png(data: bytes, size: tuple[int, int]) -> bytes:
    """The painted mask as a grayscale PNG of the image's size (white = repaint); PageError when it
    is not an image or paints nothing. Runs in a thread."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_MASK_PIXELS:
                raise PageError(400, text.WEB_MASK_UNREADABLE)
            mask = image.convert("L")
    except (UnidentifiedImageError, OSError):
        raise PageError(400, text.WEB_MASK_UNREADABLE) from None
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    if mask.getextrema()[1] < 128:
        raise PageError(400, text.WEB_MASK_EMPTY)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


class MaskEditor:
    """The page's web server, and the links to it."""

    def __init__(self, bot: ImagineBot, settings: WebSettings, secret: bytes) -> None:
        self.bot = bot
        self.settings = settings
        self.signer = LinkSigner(secret)
        self._lock = asyncio.Lock()  # one submit at a time: a link is used once
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.settings.max_upload_bytes + 64 * 1024)
        app.router.add_get("/edit/{token}", self.page)
        app.router.add_get("/edit/{token}/image.png", self.image)
        app.router.add_post("/edit/{token}", self.submit)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.settings.host, self.settings.port).start()
        log.info("mask editor page on %s (public: %s)", self.settings.listen, self.settings.public_url)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- links ----------------------------------------------------------------------------------

    async def new_link(self, interaction: discord.Interaction, job: Job, index: int) -> str:
        """A link for the clicker to paint a region of the job's image `index`."""
        claims = LinkClaims.new(job.id, index, interaction.user.id, self.settings.link_minutes * 60)
        private = await results_by_dm(interaction)
        record = LinkRecord(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=None if private else interaction.channel_id,
            role_ids=role_ids(interaction.user),
            application_id=interaction.application_id,
            filesize_limit=interaction.filesize_limit,
            spoiler=await wants_spoiler(interaction, self.bot.service, self.bot.discord_settings),
            private=private,
        )
        await self.bot.service.set_state(RECORD.format(nonce=claims.nonce), record.to_dict())
        return f"{self.settings.public_url.rstrip('/')}/edit/{self.signer.sign(claims)}"

    async def _open(self, token: str) -> tuple[LinkClaims, LinkRecord, Job]:
        """The link's claims, record and job; PageError for a forged, expired or used link."""
        try:
            claims = self.signer.verify(token)
        except LinkError as exc:
            raise PageError(
                403 if exc.reason == "forged" else 410, text.web_link_refused(exc.reason)
            ) from None
        stored = await self.bot.service.state(RECORD.format(nonce=claims.nonce))
        if stored is None:
            raise PageError(410, text.web_link_refused("unknown"))
        record = LinkRecord.from_dict(stored)
        if record.used is not None:
            raise PageError(410, text.web_link_refused("used"))
        if record.user_id != claims.user_id:
            raise PageError(403, text.web_link_refused("forged"))
        job = await self.bot.service.get_job(claims.job_id)
        if job is None:
            raise PageError(404, text.job_gone(claims.job_id))
        try:
            image_of(job, claims.index)
        except NoSuchImage as exc:
            raise PageError(404, text.describe(exc)) from None
        return claims, record, job

    # -- handlers -------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        try:
            claims, _record, job = await self._open(token)
        except PageError as exc:
            return message_page(text.WEB_REFUSED_TITLE, exc.message, exc.status)
        base = variation_of(job.request, image_of(job, claims.index).key, self.bot.settings)
        width, height = output_size(job.request)
        body = _template("editor.html").substitute(
            title=html.escape(text.WEB_EDITOR_TITLE),
            intro=html.escape(text.web_editor_intro(job.id, claims.expires - time.time())),
            image_url=f"/edit/{token}/image.png",
            action_url=f"/edit/{token}",
            width=width,
            height=height,
            prompt=html.escape(remix_text(base, self.bot.settings.defaults)),
            max_prompt=MAX_PROMPT,
            nothing_painted=html.escape(text.WEB_MASK_EMPTY),
        )
        return web.Response(text=body, content_type="text/html", charset="utf-8", headers=HEADERS)

    async def image(self, request: web.Request) -> web.Response:
        try:
            claims, _record, job = await self._open(request.match_info["token"])
        except PageError as exc:
            return message_page(text.WEB_REFUSED_TITLE, exc.message, exc.status)
        data = await self.bot.service.read_artifact(image_of(job, claims.index).key)
        return web.Response(body=data, content_type="image/png", headers=HEADERS)

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        types = {"editor.js": "text/javascript", "editor.css": "text/css"}
        if name not in types:
            return await self.not_found(request)
        return web.Response(
            text=(STATIC / name).read_text(encoding="utf-8"),
            content_type=types[name],
            charset="utf-8",
            headers=HEADERS,
        )

    async def not_found(self, request: web.Request) -> web.Response:
        return message_page(text.WEB_REFUSED_TITLE, text.WEB_NOT_FOUND, 404)

    async def submit(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        try:
            if request.content_length is not None and request.content_length > self.settings.max_upload_bytes:
                raise PageError(413, text.web_upload_too_big(self.settings.max_upload_bytes))
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise PageError(413, text.web_upload_too_big(self.settings.max_upload_bytes)) from None
            async with self._lock:
                job = await self._submit(token, form)
        except PageError as exc:
            return message_page(text.WEB_REFUSED_TITLE, exc.message, exc.status)
        return message_page(text.WEB_QUEUED_TITLE, text.web_queued(job.id))

    async def _submit(self, token: str, form: Any) -> Job:
        claims, record, job = await self._open(token)
        upload = form.get("mask")
        if not isinstance(upload, web.FileField):
            raise PageError(400, text.WEB_MASK_UNREADABLE)
        data = upload.file.read(self.settings.max_upload_bytes + 1)
        if len(data) > self.settings.max_upload_bytes:
            raise PageError(413, text.web_upload_too_big(self.settings.max_upload_bytes))
        prompt = str(form.get("prompt") or "")
        if len(prompt) > MAX_PROMPT:
            raise PageError(400, text.web_prompt_too_long(MAX_PROMPT))
        mask = await asyncio.to_thread(mask_png, data, output_size(job.request))
        edit = EditInput(EditKind.REGION, prompt=prompt, mask_png=mask)
        key = RECORD.format(nonce=claims.nonce)
        # Used from now on (before the job exists: a crash must not leave a link that works twice);
        # a refusal gives it back, so that the user can change the prompt and try again.
        await self.bot.service.set_state(key, dataclasses.replace(record, used=time.time()).to_dict())
        try:
            built = await edit_request(
                self.bot.service, self.bot.settings, EditSource.of_job(job, claims.index), edit
            )
            checked = await check_for_guild(self.bot, record.guild_id, built.request)
            meta = DeliveryMeta(
                user_id=record.user_id,
                guild_id=record.guild_id,
                channel_id=record.channel_id,
                application_id=record.application_id,
                filesize_limit=record.filesize_limit,
                spoiler=record.spoiler,
                private=record.private,
            )
            owner = JobOwner(record.user_id, record.guild_id, record.channel_id, record.role_ids)
            check = await image_check_meta(self.bot, record.guild_id, record.channel_id)
            new = await self.bot.service.submit(
                checked, owner, parent_id=job.id, meta={"edit": built.meta} | meta.to_dict() | check
            )
        except (Refused, SubmitRefused, PromptError, NoSuchImage) as exc:
            await self.bot.service.set_state(key, record.to_dict())
            raise PageError(400, str(exc) if isinstance(exc, Refused) else text.describe(exc)) from None
        return new
