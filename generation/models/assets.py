"""The add-on folders: LoRAs, textual-inversion embeddings and VAEs, as the A1111 web UI lays them out.

    models/Lora/**/*.safetensors                     <lora:NAME:0.8> in a prompt
    models/embeddings/**/*.safetensors|.pt|.bin      NAME anywhere in a prompt or negative prompt
    models/VAE/**/*.safetensors|.pt|.ckpt|.bin       --vae NAME, or per checkpoint (models.vae)
    models/VAE/NAME/ (config.json + weights)         a VAE as a diffusers folder
    models/CKPT.vae.safetensors|.pt|.ckpt            the "Automatic" VAE of checkpoint CKPT

The folders are configurable (`[paths]` lora_dir, embeddings_dir, vae_dir). Names are file stems
(`NAME.safetensors` is `NAME`; a VAE may also be named by its file name, which is what the web
UI's infotext records); subfolders are searched, hidden entries and symlinks that lead outside a
folder are skipped, and every listing rescans its folder (files can be added while the bot runs).
A name is matched exactly, then by its file name, then case-insensitively; an unknown name is an
`UnknownAsset` problem that lists the closest names.

Hashes are the web UI's: a LoRA's is the first 12 hex digits of its `sshs_model_hash` metadata or
else of its kohya "addnet" hash, an embedding's the first 12 of its file's SHA-256, a VAE's the
first 10. Digests are cached in the models folder's `.cache/` like checkpoint hashes. Torch-free.
"""

from __future__ import annotations

import difflib
import enum
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from generation.problems import Problem
from generation.settings import PathSettings

from .hashing import UNET_WEIGHT_NAMES, HashCache, addnet_sha256
from .headers import HeaderError, read_header

__all__ = ["AddonProblem", "AssetFile", "AssetLibrary", "UnknownAsset"]

LORA_SUFFIXES = (".safetensors",)
EMBEDDING_SUFFIXES = (".safetensors", ".pt", ".bin")
VAE_SUFFIXES = (".safetensors", ".pt", ".ckpt", ".bin")
BESIDE_VAE_SUFFIXES = (".vae.safetensors", ".vae.pt", ".vae.ckpt")
MAX_CLOSEST = 5
LORA_HASH_LENGTH = 12
EMBEDDING_HASH_LENGTH = 12
VAE_HASH_LENGTH = 10
VAE_FOLDER_WEIGHTS = UNET_WEIGHT_NAMES  # a diffusers component folder's weight file names


class AddonProblem(enum.StrEnum):
    """Why a request's add-on cannot be used (the job is refused or fails with it)."""

    LORA_UNKNOWN = "lora.unknown"  # name, closest, count
    LORA_WRONG_ARCH = "lora.wrong_arch"  # name, lora_arch, model_arch
    LORA_UNSUPPORTED = "lora.unsupported"  # name, kind
    LORA_UNREADABLE = "lora.unreadable"  # name, detail
    VAE_UNKNOWN = "vae.unknown"  # name, closest, count
    VAE_UNUSABLE = "vae.unusable"  # name, detail


class UnknownAsset(Problem, LookupError):
    """No LoRA or VAE has the name: `name`, the `closest` names there are, and how many (`count`)."""


@dataclass(frozen=True)
class AssetFile:
    kind: str  # "lora" | "embedding" | "vae"
    name: str  # what users type: the stem (`x.vae` for `x.vae.safetensors`)
    path: Path  # a file, or a diffusers VAE folder

    @property
    def file_name(self) -> str:
        return self.path.name

    def stamp(self) -> tuple[str, int, int]:
        """Path, size and modification time: what changes when the file is replaced."""
        target = self.weights_file()
        stat = target.stat()
        return str(target), stat.st_size, stat.st_mtime_ns

    def weights_file(self) -> Path:
        """The file holding the weights (a diffusers VAE folder's weights file)."""
        if not self.path.is_dir():
            return self.path
        for name in VAE_FOLDER_WEIGHTS:
            if (self.path / name).is_file():
                return self.path / name
        raise FileNotFoundError(f"{self.path.name}/ has no diffusion_pytorch_model weights")


class AssetLibrary:
    """The three add-on folders (any may be None: nothing of that kind), and the models folder
    for the VAEs beside checkpoints."""

    def __init__(
        self,
        lora_dir: str | os.PathLike[str] | None = None,
        embeddings_dir: str | os.PathLike[str] | None = None,
        vae_dir: str | os.PathLike[str] | None = None,
        *,
        models_dir: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.lora_dir = Path(lora_dir) if lora_dir is not None else None
        self.embeddings_dir = Path(embeddings_dir) if embeddings_dir is not None else None
        self.vae_dir = Path(vae_dir) if vae_dir is not None else None
        self.models_dir = Path(models_dir) if models_dir is not None else None
        if cache_dir is None and self.models_dir is not None:
            cache_dir = self.models_dir / ".cache"
        cache = Path(cache_dir) if cache_dir is not None else None
        self._sha256 = HashCache(cache / "hashes.json" if cache else None)
        self._addnet = HashCache(cache / "addnet-hashes.json" if cache else None, digest=addnet_sha256)

    @classmethod
    def from_settings(cls, paths: PathSettings) -> AssetLibrary:
        return cls(
            paths.addon_dir(paths.lora_dir),
            paths.addon_dir(paths.embeddings_dir),
            paths.addon_dir(paths.vae_dir),
            models_dir=paths.models_dir,
        )

    @classmethod
    def in_models_dir(cls, models_dir: str | os.PathLike[str]) -> AssetLibrary:
        """The default layout: `Lora/`, `embeddings/` and `VAE/` inside the models folder."""
        paths = PathSettings(models_dir=Path(models_dir))
        return cls.from_settings(paths)

    # -- listing ------------------------------------------------------------------------------

    def loras(self) -> list[AssetFile]:
        return _listing("lora", self.lora_dir, LORA_SUFFIXES)

    def embeddings(self) -> list[AssetFile]:
        return _listing("embedding", self.embeddings_dir, EMBEDDING_SUFFIXES)

    def vaes(self) -> list[AssetFile]:
        """The VAE folder's VAEs (files and diffusers folders), then those beside checkpoints."""
        found = _listing("vae", self.vae_dir, VAE_SUFFIXES, folders=True)
        names = {f.name for f in found}
        for path in _files(self.models_dir, recursive=False):
            if path.name.lower().endswith(BESIDE_VAE_SUFFIXES) and _stem(path) not in names:
                found.append(AssetFile("vae", _stem(path), path))
        return found

    # -- lookup -------------------------------------------------------------------------------

    def lora(self, name: str) -> AssetFile:
        return _lookup(name, self.loras(), AddonProblem.LORA_UNKNOWN)

    def vae(self, name: str) -> AssetFile:
        return _lookup(name, self.vaes(), AddonProblem.VAE_UNKNOWN)

    def vae_beside(self, checkpoint: str | os.PathLike[str]) -> AssetFile | None:
        """The web UI's "Automatic" VAE: `CKPT.vae.safetensors` (or .pt, .ckpt) beside the checkpoint."""
        path = Path(checkpoint)
        stem = path.name if path.is_dir() else path.stem
        for suffix in BESIDE_VAE_SUFFIXES:
            candidate = path.with_name(stem + suffix)
            if candidate.is_file():
                return AssetFile("vae", _stem(candidate), candidate)
        return None

    # -- hashes -------------------------------------------------------------------------------

    def lora_hash(self, lora: AssetFile) -> str | None:
        try:
            stored = read_header(lora.path).metadata.get("sshs_model_hash", "").strip()
        except HeaderError:
            stored = ""
        try:
            return (stored or self._addnet.sha256(lora.path))[:LORA_HASH_LENGTH]
        except OSError:
            return None

    def embedding_hash(self, embedding: AssetFile) -> str | None:
        try:
            return self._sha256.sha256(embedding.path)[:EMBEDDING_HASH_LENGTH]
        except OSError:
            return None

    def vae_hash(self, vae: AssetFile) -> str | None:
        try:
            return self._sha256.sha256(vae.weights_file())[:VAE_HASH_LENGTH]
        except OSError:
            return None


# -- scanning ------------------------------------------------------------------------------------


def _stem(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def _files(folder: Path | None, *, recursive: bool = True, folders: bool = False) -> Iterator[Path]:
    """Files (and, with `folders`, diffusers VAE folders) under `folder`, sorted, hidden ones skipped."""
    if folder is None:
        return
    try:
        root = folder.resolve(strict=True)
        children = sorted(folder.iterdir())
    except OSError:
        return
    for child in children:
        if child.name.startswith(".") or not _inside(child, root):
            continue
        try:
            if child.is_dir():
                if folders and (child / "config.json").is_file():
                    yield child
                elif recursive:
                    yield from (p for p in _files(child, folders=folders) if _inside(p, root))
            elif child.is_file():
                yield child
        except OSError:
            continue


def _listing(
    kind: str, folder: Path | None, suffixes: tuple[str, ...], *, folders: bool = False
) -> list[AssetFile]:
    """One entry per name: the first in suffix preference, then path order; sorted by name."""
    best: dict[str, tuple[int, Path]] = {}
    for path in _files(folder, folders=folders):
        suffix = path.suffix.lower()
        if path.is_dir():
            rank = len(suffixes)
        elif suffix in suffixes:
            rank = suffixes.index(suffix)
        else:
            continue
        name = _stem(path)
        if name not in best or rank < best[name][0]:
            best[name] = (rank, path)
    return [AssetFile(kind, name, path) for name, (_, path) in sorted(best.items(), key=_name_order)]


def _name_order(item: tuple[str, tuple[int, Path]]) -> tuple[str, str]:
    return item[0].casefold(), item[0]


def _lookup(name: str, files: list[AssetFile], code: AddonProblem) -> AssetFile:
    wanted = " ".join(str(name).split())
    for match in (
        lambda f: f.name == wanted,
        lambda f: f.file_name == wanted,
        lambda f: f.name.casefold() == wanted.casefold() or f.file_name.casefold() == wanted.casefold(),
    ):
        found = [f for f in files if match(f)]
        if found:
            return found[0]
    names = [f.name for f in files]
    folded = {n.casefold(): n for n in names}
    close = difflib.get_close_matches(wanted.casefold(), list(folded), n=MAX_CLOSEST, cutoff=0.5)
    raise UnknownAsset(code, name=wanted, closest=[folded[c] for c in close], count=len(names))
