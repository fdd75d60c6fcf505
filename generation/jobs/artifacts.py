"""Artifacts: the bytes of results and uploads, stored under keys.

The job service stores a finished job's PNGs (`<job_id>/<index>.png`, `<job_id>/grid.png`) and the
images users upload (`uploads/<id>.png`) through an `ArtifactStore`, and front ends read them back
through the service; nobody else opens the files. `LocalArtifacts` keeps them in a folder (the
configured outputs directory); a bucket (S3 and the like) can implement the same protocol.

Keys are relative, `/`-separated names of plain characters; anything that could step outside the
store (`..`, absolute paths, backslashes) is refused. Rows written before keys existed hold file
paths; `LocalArtifacts` still reads those when they lie inside its folder.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Protocol, runtime_checkable

from generation.images.saving import write_atomic

_KEY_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
MAX_KEY_LENGTH = 512
UPLOADS = "uploads"


class InvalidKey(ValueError):
    """A key that is not a plain relative name (it could reach outside the store)."""


class ArtifactNotFound(LookupError):
    """Nothing is stored under the key."""


@runtime_checkable
class ArtifactStore(Protocol):
    async def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (replacing what was there), all or nothing."""

    async def get(self, key: str) -> bytes:
        """The bytes under `key`; raises ArtifactNotFound."""

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove `key` (nothing happens when it is absent)."""

    def local_path(self, key: str) -> Path | None:
        """A file holding the key's bytes, for tools that want a path (the command line); None
        when the store is not a local folder."""


def image_key(job_id: str, index: int) -> str:
    return f"{job_id}/{index}.png"


def grid_key(job_id: str) -> str:
    return f"{job_id}/grid.png"


def upload_key(name: str | None = None) -> str:
    return f"{UPLOADS}/{name or uuid.uuid4().hex}.png"


def check_key(key: str) -> str:
    """The key itself when it is a plain relative name; raises InvalidKey."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"not an artifact key: {key!r}")
    parts = key.split("/")
    if not all(_KEY_PART.fullmatch(part) for part in parts) or any(p in (".", "..") for p in parts):
        raise InvalidKey(f"not an artifact key: {key!r}")
    return key


class LocalArtifacts:
    """Artifacts as files under `root`; writes are atomic (a temporary file, fsync, rename)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def local_path(self, key: str) -> Path:
        """The file of `key` (or of a legacy path inside the folder); raises InvalidKey."""
        try:
            path = self.root / check_key(key)
        except InvalidKey:
            return self._legacy(key)
        if not path.exists():
            try:
                return self._legacy(key)
            except InvalidKey:
                pass
        return path

    def _legacy(self, key: str) -> Path:
        """A file path stored by an older version (absolute, or relative to the working directory),
        allowed only inside the folder."""
        if not isinstance(key, str) or not key or "\x00" in key:
            raise InvalidKey(f"not an artifact key: {key!r}")
        path = Path(key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise InvalidKey(f"not an artifact key: {key!r}")
        return path

    async def put(self, key: str, data: bytes) -> None:
        path = self.root / check_key(key)
        await asyncio.to_thread(write_atomic, path, data)

    async def get(self, key: str) -> bytes:
        path = self.local_path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ArtifactNotFound(f"no artifact {key!r}") from None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.local_path(key).is_file)

    async def delete(self, key: str) -> None:
        path = self.root / check_key(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)
