"""The models a bot can load: what is in the models folder, plus Hub ids an admin allows.

The folder is scanned one level deep (every call of `entries()` rescans it):

- `NAME/` with a `model_index.json`: a diffusers folder, kind "diffusers"
- `NAME.safetensors`: a single-file checkpoint, kind "safetensors"
- `NAME.ckpt`: a pickled checkpoint, kind "ckpt" (only ever read with `weights_only=True`)

A single file's config sits beside it under the same stem: `NAME/` (a diffusers config skeleton:
`model_index.json` and/or component configs such as `unet/config.json`, with or without weights;
it is the file's config and is not listed as a model of its own) or
`NAME.yaml` (an original inference yaml). The folder wins when both exist. When `NAME.safetensors`
and `NAME.ckpt` both exist, the `.safetensors` is the model and the `.ckpt` is ignored.

`NAME.vae.safetensors` (or `.vae.ckpt`) is the VAE of checkpoint `NAME` (the web UI's "Automatic"
VAE, `generation.models.assets`), not a model.

Names are file or folder stems. Nothing outside the folder can be named: names with path
separators, `..` or a leading dot are refused, hidden entries (`.cache/`) are skipped, and so are
symlinks that resolve outside the folder. Hub ids (`owner/name`) are valid names only when listed
in `hub_models`. Torch-free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from .assets import BESIDE_VAE_SUFFIXES
from .errors import ModelNotFound
from .hashing import HashCache, entry_short_hash
from .loaded import ModelEntry

log = logging.getLogger(__name__)

SINGLE_FILE_KINDS = {".safetensors": "safetensors", ".ckpt": "ckpt"}
CACHE_DIR_NAME = ".cache"
FORBIDDEN_NAME_CHARS = ("/", "\\", "\0", ":")


class ModelRegistry:
    def __init__(self, models_dir: str | os.PathLike[str], hub_models: Sequence[str] = ()):
        self.models_dir = Path(models_dir)
        self.hub_models = tuple(hub_models)
        self._hashes = HashCache(self.cache_dir / "hashes.json")

    @property
    def cache_dir(self) -> Path:
        """Where hashes and assembled config skeletons are cached (`<models_dir>/.cache`)."""
        return self.models_dir / CACHE_DIR_NAME

    # -- listing ------------------------------------------------------------------------------

    def entries(self) -> list[ModelEntry]:
        """Every model: local ones sorted by name (case-insensitive), then allowed Hub ids."""
        local = sorted(self._scan(), key=lambda e: (e.name.casefold(), e.name))
        hub = [ModelEntry(name=h, path=h, kind="hub") for h in self.hub_models]
        return local + hub

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def _scan(self) -> list[ModelEntry]:
        root = self.models_dir
        try:
            real_root = root.resolve(strict=True)
            children = sorted(root.iterdir()) if root.is_dir() else []
        except OSError:
            return []
        folders: dict[str, Path] = {}  # diffusers folders (or config skeletons) by name
        config_only: dict[str, Path] = {}  # folders with component configs but no model_index.json
        files: dict[str, Path] = {}
        yamls: dict[str, Path] = {}
        for child in children:
            name = child.name
            if name.startswith(".") or not _inside(child, real_root):
                continue
            try:
                if child.is_dir():
                    if (child / "model_index.json").is_file():
                        folders[name] = child
                    elif (child / "unet" / "config.json").is_file():
                        config_only[name] = child
                    continue
                if not child.is_file():
                    continue
            except OSError:
                continue
            suffix = child.suffix.lower()
            if name.lower().endswith(BESIDE_VAE_SUFFIXES):
                continue
            if suffix in SINGLE_FILE_KINDS:
                other = files.get(child.stem)
                if other is None or (other.suffix.lower() == ".ckpt" and suffix == ".safetensors"):
                    files[child.stem] = child
            elif suffix in (".yaml", ".yml"):
                yamls.setdefault(child.stem, child)

        entries = []
        for stem, path in files.items():
            config = folders.pop(stem, None) or config_only.get(stem) or yamls.get(stem)
            entries.append(ModelEntry(stem, path, SINGLE_FILE_KINDS[path.suffix.lower()], config))
        entries.extend(ModelEntry(name, path, "diffusers") for name, path in folders.items())
        return entries

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
            raise ModelNotFound(name, self.names(), reason=f"{name!r} is not a model name: {problem}")
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


def _inside(path: Path, real_root: Path) -> bool:
    """Whether `path` (after following symlinks) stays inside the models folder."""
    try:
        return path.resolve(strict=True).is_relative_to(real_root)
    except (OSError, RuntimeError):
        return False
