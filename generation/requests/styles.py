"""Styles: named prompt and negative-prompt pairs, as the AUTOMATIC1111 web UI keeps them.

A style's prompt either holds a `{prompt}` placeholder, which the user's prompt replaces
(`cinematic still of {prompt}, film grain`), or is appended to the prompt after a comma; the
negative prompt the same way. Several styles apply in order, each to the result of the one
before, as the web UI does. Styles come from the web UI's `styles.csv` (columns `name`, `prompt`,
`negative_prompt`; the file is used as it is), from the config's `[styles] named` table, and per
server (the bot keeps those); `StyleBook` looks them up in that order of precedence.

Torch-free: the Discord front end imports this module.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from generation.problems import Problem
from generation.requests.request import GenerationRequest
from generation.settings import StyleSettings

__all__ = [
    "MAX_STYLE_NAME",
    "PLACEHOLDER",
    "Style",
    "StyleBook",
    "StyleError",
    "apply_styles",
    "check_style",
    "global_styles",
    "read_styles_csv",
    "split_style_names",
    "styles_csv",
    "with_styles",
]

PLACEHOLDER = "{prompt}"
MAX_STYLE_NAME = 60  # fits an autocomplete entry with room to spare
_MAX_SUGGESTED = 3


class StyleError(Problem, ValueError):
    """A style is unknown, or cannot be added as given: the code says which, the fields the
    names involved."""


@dataclass(frozen=True)
class Style:
    name: str
    prompt: str = ""
    negative_prompt: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"prompt": self.prompt, "negative_prompt": self.negative_prompt}

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, str]) -> Style:
        return cls(name, str(data.get("prompt") or ""), str(data.get("negative_prompt") or ""))


# -- applying ------------------------------------------------------------------------------------


def merge(style_text: str, text: str) -> str:
    """One style's text applied to the prompt: into its `{prompt}`, else after a comma."""
    if PLACEHOLDER in style_text:
        return style_text.replace(PLACEHOLDER, text)
    return ", ".join(part for part in (text.strip(), style_text.strip()) if part)


def apply_styles(prompt: str, negative: str, styles: Iterable[Style]) -> tuple[str, str]:
    """The prompt and negative prompt with each style applied in order."""
    for style in styles:
        prompt = merge(style.prompt, prompt)
        negative = merge(style.negative_prompt, negative)
    return prompt, negative


def with_styles(request: GenerationRequest, styles: Sequence[Style]) -> GenerationRequest:
    """The request with its prompt and negative prompt styled (what the job records and runs)."""
    if not styles:
        return request
    prompt, negative = apply_styles(request.prompt, request.negative_prompt, styles)
    return request.replace(prompt=prompt, negative_prompt=negative)


def split_style_names(text: str | None) -> list[str]:
    """`--style cinematic, film noir` names two styles: comma-separated, blanks dropped."""
    if not text:
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


# -- finding -------------------------------------------------------------------------------------


class StyleBook:
    """Styles by name from several sources, the first source's winning (a server's own, then the
    config's, then the styles.csv file's). Names match exactly, else ignoring case."""

    def __init__(self, *sources: Mapping[str, Style]) -> None:
        self._styles: dict[str, Style] = {}
        for source in reversed(sources):
            self._styles.update(source)
        self._folded = {name.casefold(): style for name, style in self._styles.items()}

    def names(self) -> list[str]:
        return sorted(self._styles, key=str.casefold)

    def __len__(self) -> int:
        return len(self._styles)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def get(self, name: str) -> Style | None:
        return self._styles.get(name) or self._folded.get(name.strip().casefold())

    def find(self, name: str) -> Style:
        """The style called `name`; raises StyleError("style.unknown") with the closest names."""
        style = self.get(name)
        if style is None:
            raise StyleError(
                "style.unknown", name=name, suggested=self.closest(name), count=len(self._styles)
            )
        return style

    def find_all(self, names: Iterable[str]) -> list[Style]:
        return [self.find(name) for name in names]

    def closest(self, name: str) -> list[str]:
        folded = {n.casefold(): n for n in self._styles}
        close = difflib.get_close_matches(name.strip().casefold(), list(folded), n=_MAX_SUGGESTED, cutoff=0.5)
        return [folded[c] for c in close]


def check_style(name: str, prompt: str, negative: str, *, max_length: int) -> Style:
    """A style a server may add: a name that `--style` can type (no comma, not too long) and
    texts within the prompt length limit. Raises StyleError."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_STYLE_NAME or "," in name:
        raise StyleError("style.bad_name", name=name, max=MAX_STYLE_NAME)
    if not prompt.strip() and not negative.strip():
        raise StyleError("style.empty", name=name)
    for which, text in (("prompt", prompt), ("negative_prompt", negative)):
        if len(text) > max_length:
            raise StyleError("style.too_long", name=name, which=which, length=len(text), max=max_length)
    return Style(name, prompt.strip(), negative.strip())


# -- styles.csv ----------------------------------------------------------------------------------


def read_styles_csv(text: str) -> dict[str, Style]:
    """The styles of a web UI `styles.csv` (a header with `name`, `prompt` — `text` in old
    versions — and `negative_prompt`); rows without a name are skipped, a later row with the same
    name wins. Raises StyleError("style.bad_csv") when it has no `name` column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), skipinitialspace=True)
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "name" not in fields:
        raise StyleError("style.bad_csv", columns=fields)
    styles: dict[str, Style] = {}
    for row in reader:
        row = {(k or "").strip().lower(): (v or "") for k, v in row.items() if isinstance(v, str | None)}
        name = " ".join(row.get("name", "").split())
        if not name:
            continue
        prompt = row.get("prompt", row.get("text", ""))
        styles[name] = Style(name, prompt.strip(), row.get("negative_prompt", "").strip())
    return styles


def styles_csv(styles: Iterable[Style]) -> str:
    """Styles as a web UI `styles.csv` (for exporting a server's styles)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "prompt", "negative_prompt"])
    for style in styles:
        writer.writerow([style.name, style.prompt, style.negative_prompt])
    return buffer.getvalue()


_FILE_CACHE: dict[Path, tuple[tuple[int, int], dict[str, Style]]] = {}


def global_styles(settings: StyleSettings) -> dict[str, Style]:
    """The styles every server has: the config's `named` over the styles.csv file's. The file is
    read again when it changes; a missing file has no styles (StyleError("style.bad_csv") for a
    file that is not a styles.csv)."""
    styles = dict(_file_styles(settings.file))
    styles.update({name: Style.from_dict(name, data) for name, data in settings.named.items()})
    return styles


def _file_styles(path: Path) -> dict[str, Style]:
    try:
        stat = os.stat(path)
    except OSError:
        return {}
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _FILE_CACHE.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    styles = read_styles_csv(Path(path).read_text(encoding="utf-8", errors="replace"))
    _FILE_CACHE[path] = (key, styles)
    return styles
