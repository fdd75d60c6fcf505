"""Files the server holds (uploaded by the bot, or by a test as a user's upload), served at
``/attachments/{id}/{filename}``, and how a message's ``attachments`` list is rebuilt."""

from __future__ import annotations

import io
import re
from typing import Any

from .config import Config
from .models import StoredAttachment, UploadedFile
from .state import State

FILES_FIELD_RE = re.compile(r"^files\[(\d+)\]$")

CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
}


def guess_content_type(filename: str) -> str | None:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return CONTENT_TYPES.get(ext)


def image_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height of a PNG/JPEG/GIF/WebP, as Discord reports them (else None, None)."""
    if not data.startswith((b"\x89PNG", b"\xff\xd8", b"GIF8", b"RIFF")):
        return None, None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return None, None


class Attachments:
    def __init__(self, state: State, config: Config) -> None:
        self.state = state
        self.config = config

    def add(
        self,
        data: bytes,
        filename: str = "image.png",
        *,
        content_type: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Store a file (as if a user uploaded it) and return its attachment payload; the file is
        served at ``payload["url"]``. Pass the payload as a slash option of type attachment."""
        upload = UploadedFile(field="", filename=filename, data=bytes(data), content_type=content_type)
        return self.store(upload, description=description).payload()

    def store(
        self, f: UploadedFile, *, filename: str | None = None, description: str | None = None
    ) -> StoredAttachment:
        aid = self.state.snowflake()
        name = filename or f.filename or "file"
        ctype = f.content_type
        if not ctype or ctype == "application/octet-stream":
            ctype = guess_content_type(name) or ctype
        width, height = image_size(f.data)
        att = StoredAttachment(
            id=aid,
            filename=name,
            data=f.data,
            url=self.config.attachment_url(aid, name),
            content_type=ctype,
            description=description,
            width=width,
            height=height,
        )
        self.state.attachments[aid] = att
        return att

    def for_message(
        self,
        entries: list[dict[str, Any]] | None,
        files: list[UploadedFile],
        existing: list[StoredAttachment],
    ) -> list[StoredAttachment]:
        """A message's new attachment list: ``entries`` (the payload's ``attachments``) keeps
        existing ones by id and names uploads ``files[n]`` by index; without ``entries`` every
        upload is appended. Uploads no entry names are appended too."""
        by_index: dict[int, UploadedFile] = {}
        for i, f in enumerate(files):
            m = FILES_FIELD_RE.match(f.field)
            by_index[int(m.group(1)) if m else i] = f
        if entries is None:
            return [*existing, *(self.store(f) for f in by_index.values())]
        keep = {a.id: a for a in existing}
        result: list[StoredAttachment] = []
        used: set[int] = set()
        for entry in entries:
            try:
                eid = int(entry.get("id"))
            except (TypeError, ValueError):
                continue
            if eid in keep:
                result.append(keep[eid])
            elif eid in by_index and eid not in used:
                used.add(eid)
                result.append(
                    self.store(
                        by_index[eid], filename=entry.get("filename"), description=entry.get("description")
                    )
                )
        result.extend(self.store(f) for i, f in by_index.items() if i not in used)
        return result
