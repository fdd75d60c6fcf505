"""The AUTOMATIC1111 "Model hash": the first 10 hex digits of the SHA-256 of the whole file.

Hashing a multi-gigabyte checkpoint takes a while, so full digests are cached in a JSON file
(the registry keeps it at `<models_dir>/.cache/hashes.json`), keyed by the file's resolved path
and invalidated when its size or modification time changes. Files are streamed in 1 MiB chunks.

A diffusers folder has no single file; its hash is the hash of its UNet weights file
(`unet/diffusion_pytorch_model[.fp16].safetensors` or `.bin`), which identifies the denoiser the
way a checkpoint's hash does. A folder without one, and a Hub model, have no hash (None).

LoRA files are hashed the way kohya's scripts and the web UI hash them (`addnet_sha256`: the
SHA-256 of a `.safetensors` file after its header, so editing the metadata keeps the hash); a
`HashCache(path, digest=addnet_sha256)` caches those. Torch-free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from .loaded import ModelEntry

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
SHORT_HASH_LENGTH = 10
UNET_WEIGHT_NAMES = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.fp16.safetensors",
    "diffusion_pytorch_model.bin",
    "diffusion_pytorch_model.fp16.bin",
)


def sha256_file(path: str | os.PathLike[str], chunk_size: int = CHUNK_SIZE) -> str:
    """The hex SHA-256 of a file, read in chunks (never the whole file in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def addnet_sha256(path: str | os.PathLike[str], chunk_size: int = CHUNK_SIZE) -> str:
    """The hex SHA-256 of a `.safetensors` file's tensors (everything after its header), as kohya's
    scripts and the web UI hash LoRAs; any other file is hashed whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        if str(path).lower().endswith(".safetensors"):
            header = f.read(8)
            if len(header) == 8:
                f.seek(8 + int.from_bytes(header, "little"))
            else:
                f.seek(0)
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class HashCache:
    """Full SHA-256 digests on disk, keyed by resolved path and checked against size + mtime.

    `path=None` keeps the cache in memory only. A cache file that cannot be written (read-only
    models folder) degrades to memory with one warning. `digest` computes a file's hex digest
    (`sha256_file`; `addnet_sha256` for LoRAs, in a cache file of its own).
    """

    VERSION = 1

    def __init__(self, path: str | os.PathLike[str] | None, digest: Callable[[Path], str] = sha256_file):
        self.path = Path(path) if path is not None else None
        self._digest = digest
        self._memory: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._warned = False

    def sha256(self, file: str | os.PathLike[str]) -> str:
        file = Path(file).resolve()
        stat = file.stat()
        key = str(file)
        with self._lock:
            record = self._read().get(key) or self._memory.get(key)
            if record and record.get("size") == stat.st_size and record.get("mtime_ns") == stat.st_mtime_ns:
                return record["sha256"]
        digest = self._digest(file)  # outside the lock: can take minutes
        record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        with self._lock:
            self._memory[key] = record
            self._write(key, record)
        return digest

    def short_hash(self, file: str | os.PathLike[str]) -> str:
        return self.sha256(file)[:SHORT_HASH_LENGTH]

    def _read(self) -> dict[str, dict]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        files = data.get("files") if isinstance(data, dict) else None
        return files if isinstance(files, dict) else {}

    def _write(self, key: str, record: dict) -> None:
        if self.path is None:
            return
        files = self._read()
        files[key] = record
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".hashes-", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": self.VERSION, "files": files}, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            if not self._warned:
                log.warning("cannot write the hash cache %s (%s); hashes are kept in memory", self.path, exc)
                self._warned = True


def hashed_file(entry: ModelEntry) -> Path | None:
    """The file whose hash stands for the model, or None (Hub models, weightless folders)."""
    if entry.kind in ("safetensors", "ckpt"):
        return Path(entry.path)
    if entry.kind == "diffusers":
        unet = Path(entry.path) / "unet"
        for name in UNET_WEIGHT_NAMES:
            if (unet / name).is_file():
                return unet / name
    return None


def entry_short_hash(entry: ModelEntry, cache: HashCache | None = None) -> str | None:
    """The A1111 short hash of a model entry (see the module docstring), or None."""
    file = hashed_file(entry)
    if file is None:
        return None
    return (cache or HashCache(None)).short_hash(file)
