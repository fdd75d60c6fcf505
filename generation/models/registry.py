"""The models a bot can load: what is in the models folders, plus Hub ids an admin allows.

Each folder (`paths.models_dir`, then `paths.models_dirs` in order) is scanned one level deep
(every call of `entries()` rescans):

- `NAME/` with a `model_index.json`: a diffusers folder, kind "diffusers"
- `NAME.safetensors`: a single-file checkpoint, kind "safetensors"
- `NAME.ckpt`: a pickled checkpoint, kind "ckpt" (only ever read with `weights_only=True`)

A single file's config sits beside it under the same stem: `NAME/` (a diffusers config skeleton:
`model_index.json` and/or component configs such as `unet/config.json`, with or without weights;
it is the file's config and is not listed as a model of its own) or
`NAME.yaml` (an original inference yaml). The folder wins when both exist. When `NAME.safetensors`
and `NAME.ckpt` both exist, the `.safetensors` is the model and the `.ckpt` is skipped; a name
already listed from an earlier folder wins over the same name in a later one.

Symlinks are the owner's: the folders are theirs, and what they link in them (a checkpoint, a
diffusers folder, a file inside one) is followed wherever it points, at the top level and inside
a diffusers folder alike, since server owners share model folders between tools. Users only pick
names from the listing: names with path separators, `..` or a leading dot are refused, so nothing
outside what the owner placed can be named. Hidden entries (`.cache/`) are not listed.

What cannot be listed is said, not dropped silently: `skipped()` gives each file or folder left
out and why (`Skipped`: a broken or looping link, an unreadable entry, a missing folder, a name
taken by an earlier folder or a same-stem `.safetensors`, a diffusers folder without
`model_index.json`), for the bot to show at start and in `/model list`. Hub ids (`owner/name`)
are valid names only when listed in `hub_models`. Torch-free.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generation.problems import Problem
from generation.requests.excerpts import excerpt

from .errors import ModelNotFound
from .hashing import HashCache, entry_short_hash
from .loaded import ModelEntry

log = logging.getLogger(__name__)

SINGLE_FILE_KINDS = {".safetensors": "safetensors", ".ckpt": "ckpt"}
CACHE_DIR_NAME = ".cache"
FORBIDDEN_NAME_CHARS = ("/", "\\", "\0", ":")

# Why something in a models folder is not listed (`Skipped.reason`).
FOLDER_MISSING = "folder_missing"  # a configured models folder that is not there (or not a folder)
BROKEN_LINK = "broken_link"  # a symlink to nothing
LINK_LOOP = "link_loop"  # a symlink that points back at itself
UNREADABLE = "unreadable"  # permission denied, an I/O error
NAME_TAKEN = "name_taken"  # the same name is listed already: `detail` is the path that has it
NO_MODEL_INDEX = "no_model_index"  # a diffusers-looking folder (unet/config.json) without model_index.json
SKIP_REASONS = (FOLDER_MISSING, BROKEN_LINK, LINK_LOOP, UNREADABLE, NAME_TAKEN, NO_MODEL_INDEX)


@dataclass(frozen=True)
class Skipped:
    """A file or folder in a models folder that is not listed, and why (one of SKIP_REASONS)."""

    path: Path
    reason: str
    detail: str | None = None  # e.g. the entry that took the name

    def problem(self) -> Problem:
        """As a problem front ends word (`models.skipped`)."""
        return Problem("models.skipped", path=str(self.path), reason=self.reason, detail=self.detail)


@dataclass
class _Scan:
    entries: list[ModelEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


class ModelRegistry:
    def __init__(
        self,
        models_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        hub_models: Sequence[str] = (),
    ):
        folders = [models_dir] if isinstance(models_dir, str | os.PathLike) else list(models_dir)
        if not folders:
            raise ValueError("a model registry needs at least one models folder")
        self.models_dirs = tuple(dict.fromkeys(Path(folder) for folder in folders))  # in order, once
        self.models_dir = self.models_dirs[0]
        self.hub_models = tuple(hub_models)
        self._hashes = HashCache(self.cache_dir / "hashes.json")

    @property
    def cache_dir(self) -> Path:
        """Where hashes and assembled config skeletons are cached (`<first models folder>/.cache`)."""
        return self.models_dir / CACHE_DIR_NAME

    # -- listing ------------------------------------------------------------------------------

    def entries(self) -> list[ModelEntry]:
        """Every model: local ones sorted by name (case-insensitive), then allowed Hub ids."""
        local = sorted(self._scan().entries, key=lambda e: (e.name.casefold(), e.name))
        hub = [ModelEntry(name=h, path=h, kind="hub") for h in self.hub_models]
        return local + hub

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def skipped(self) -> list[Skipped]:
        """What the folders hold that is not listed, and why, in folder order."""
        return self._scan().skipped

    def _scan(self) -> _Scan:
        scan = _Scan()
        taken: dict[str, Path] = {}
        for root in self.models_dirs:
            try:
                if not root.is_dir():
                    scan.skipped.append(Skipped(root, FOLDER_MISSING))
                    continue
                children = sorted(root.iterdir())
            except OSError as exc:
                scan.skipped.append(Skipped(root, _os_reason(exc)))
                continue
            for entry in _scan_folder(children, scan.skipped):
                if entry.name in taken:
                    scan.skipped.append(Skipped(Path(entry.path), NAME_TAKEN, str(taken[entry.name])))
                    continue
                taken[entry.name] = Path(entry.path)
                scan.entries.append(entry)
        for skipped in scan.skipped:
            log.debug("models: skipped %s (%s)", skipped.path, skipped.reason)
        return scan

    # -- lookup -------------------------------------------------------------------------------

    def get(self, name: str) -> ModelEntry:
        """The entry called `name`; `ModelNotFound` (listing what exists) when there is none."""
        if not isinstance(name, str):
            raise ModelNotFound(repr(name), self.names())
        name = name.strip()
        if name in self.hub_models:
            return ModelEntry(name=name, path=name, kind="hub")
        problem = _name_problem(name)
        if problem:
            reason = f"'{excerpt(name)}' is not a model name: {problem}"
            raise ModelNotFound(name, self.names(), reason=reason)
        entries = self.entries()
        local = [e for e in entries if e.kind != "hub"]
        for entry in local:
            if entry.name == name:
                return entry
        for entry in local:  # the full file name, extension included
            if isinstance(entry.path, Path) and entry.path.name == name:
                return entry
        folded = [e for e in local if e.name.casefold() == name.casefold()]
        if len(folded) == 1:
            return folded[0]
        raise ModelNotFound(name, [e.name for e in entries])

    # -- hashes -------------------------------------------------------------------------------

    def short_hash(self, entry: ModelEntry) -> str | None:
        """The A1111 10-hex model hash (see `hashing`), cached in `<models_dir>/.cache/hashes.json`."""
        return entry_short_hash(entry, self._hashes)


def _scan_folder(children: list[Path], skipped: list[Skipped]) -> list[ModelEntry]:
    """The models among one folder's `children`; what is left out goes to `skipped`."""
    folders: dict[str, Path] = {}  # diffusers folders (or config skeletons) by name
    config_only: dict[str, Path] = {}  # folders with component configs but no model_index.json
    files: dict[str, Path] = {}
    yamls: dict[str, Path] = {}
    for child in children:
        name = child.name
        if name.startswith("."):
            continue
        try:
            child.stat()  # follows a link: fails for a broken or looping one
            if child.is_dir():
                if (child / "model_index.json").is_file():
                    folders[name] = child
                elif (child / "unet" / "config.json").is_file():
                    config_only[name] = child
                continue
            if not child.is_file():
                continue
        except OSError as exc:
            if child.suffix.lower() in SINGLE_FILE_KINDS or child.is_symlink() or exc.errno != errno.ENOENT:
                skipped.append(Skipped(child, _os_reason(exc, child)))
            continue
        suffix = child.suffix.lower()
        if suffix in SINGLE_FILE_KINDS:
            other = files.get(child.stem)
            if other is None or (other.suffix.lower() == ".ckpt" and suffix == ".safetensors"):
                files[child.stem] = child
                if other is not None:
                    skipped.append(Skipped(other, NAME_TAKEN, str(child)))
            else:
                skipped.append(Skipped(child, NAME_TAKEN, str(other)))
        elif suffix in (".yaml", ".yml"):
            yamls.setdefault(child.stem, child)

    entries = []
    for stem, path in files.items():
        config = folders.pop(stem, None) or config_only.pop(stem, None) or yamls.get(stem)
        entries.append(ModelEntry(stem, path, SINGLE_FILE_KINDS[path.suffix.lower()], config))
    entries.extend(ModelEntry(name, path, "diffusers") for name, path in folders.items())
    skipped.extend(Skipped(path, NO_MODEL_INDEX) for path in config_only.values())
    return entries


def _os_reason(exc: OSError, path: Path | None = None) -> str:
    if exc.errno == errno.ELOOP:
        return LINK_LOOP
    if path is not None and path.is_symlink() and exc.errno == errno.ENOENT:
        return BROKEN_LINK
    return UNREADABLE


def _name_problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if any(c in name for c in FORBIDDEN_NAME_CHARS):
        return "names cannot contain path separators (only models in the models folder can be named)"
    if name in (".", "..") or name.startswith("."):
        return "names cannot start with a dot"
    if len(name) > 255:
        return "it is too long"
    return None
