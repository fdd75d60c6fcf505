"""Prompt variants, with `dynamicprompts` (the library the web UI's and ComfyUI's users know):

    a {red|green|blue} ball          one of the options
    a {2::red|blue} ball             weighted: red twice as often
    a __colors__ ball                a line of colors.txt in the wildcards folder (`__sub/name__`, globs)

Each image of a job draws its own variant from its own seed (`seed + i`), so image i of a job
with seed s resolves the same way every time, and so does a lone job with seed s + i; the
resolved prompts travel in the request (`GenerationRequest.image_prompts`), which workers need
no wildcard files for and each image's infotext records. `--permute` instead fans every
combination out as a job of its own (`fan_out`), and `--repeat N` queues N jobs with fresh seeds.

Mistakes are `VariantError`s: an unbalanced brace, a wildcard with no file, more jobs than
`[variants] max_jobs`, a resolved prompt over the length limit.

Torch-free: the Discord front end imports this module.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generation.problems import Problem
from generation.requests.request import MAX_SEED, RANDOM_SEED, GenerationRequest

__all__ = [
    "COUNT_CAP",
    "VariantError",
    "Wildcards",
    "draw",
    "fan_out",
    "has_variants",
    "permutations",
    "with_image_prompts",
]

COUNT_CAP = 100  # combinations counted exactly up to this many (100 take ~80 ms); beyond, "more than"
_MAX_SUGGESTED = 3


class VariantError(Problem, ValueError):
    """The prompt's variants cannot be resolved, or make too many jobs: the code says which."""


_INSTANCES: dict[Path | None, Wildcards] = {}
_INSTANCES_LOCK = threading.Lock()


def has_variants(text: str) -> bool:
    """Whether the text may hold variant syntax at all (a cheap test before parsing)."""
    return "{" in text or "__" in text


# -- the wildcard files ------------------------------------------------------------------------


class Wildcards:
    """The wildcard files of a folder (`name.txt`, one option a line, `#` comments; `.json`/`.yaml`
    collections too). The folder is read again when a file in it changes; a missing folder has
    no wildcards."""

    def __init__(self, folder: Path | str | None) -> None:
        self.folder = Path(folder) if folder else None
        self._lock = threading.Lock()
        self._signature: tuple[Any, ...] | None = None
        self._manager: Any = None

    @classmethod
    def of(cls, folder: Path | str | None) -> Wildcards:
        """The one instance for this folder (its parsed files are kept between prompts)."""
        key = Path(folder) if folder else None
        with _INSTANCES_LOCK:
            found = _INSTANCES.get(key)
            if found is None:
                found = _INSTANCES[key] = cls(key)
            return found

    def manager(self) -> Any:
        """The `dynamicprompts` WildcardManager for the folder as it is now."""
        from dynamicprompts.wildcards import WildcardManager

        signature = self._scan()
        with self._lock:
            if self._manager is None or signature != self._signature:
                exists = self.folder is not None and self.folder.is_dir()
                self._manager = WildcardManager(self.folder if exists else None)
                self._signature = signature
            return self._manager

    def names(self) -> list[str]:
        """The wildcards there are, as `__name__` takes them (`sub/name` in subfolders)."""
        return sorted(self.manager().get_collection_names())

    def _scan(self) -> tuple[Any, ...]:
        if self.folder is None or not self.folder.is_dir():
            return ()
        found = []
        for root, _dirs, files in os.walk(self.folder, followlinks=True):
            for name in files:
                try:
                    stat = os.stat(os.path.join(root, name))
                except OSError:
                    continue
                found.append((root, name, stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(found))


# -- resolving ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _parse(template: str) -> Any:
    """The template's command tree; VariantError("variants.syntax") where it does not parse.
    Kept per template: parsing is most of the cost, and a job's images (and a reroll's) share it."""
    import pyparsing
    from dynamicprompts.parser.parse import parse

    try:
        return parse(template)
    except (pyparsing.ParseBaseException, ValueError) as exc:
        where = getattr(exc, "loc", None)
        excerpt = template[max(0, where - 20) : where + 20] if isinstance(where, int) else None
        raise VariantError("variants.syntax", position=where, excerpt=excerpt) from None


def _wildcard_names(node: Any) -> Iterator[str]:
    """Every `__name__` in a command tree (names built from variables are left out)."""
    from dynamicprompts.commands import WildcardCommand

    if isinstance(node, WildcardCommand) and isinstance(node.wildcard, str):
        yield node.wildcard
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            yield from _wildcard_names(getattr(node, f.name))
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _wildcard_names(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _wildcard_names(item)


def check(template: str, wildcards: Wildcards) -> None:
    """Raise VariantError for a template that does not parse or names a wildcard with no file."""
    tree = _parse(template)
    manager = wildcards.manager()
    for name in dict.fromkeys(_wildcard_names(tree)):
        if not manager.get_values(name):
            names = sorted(manager.get_collection_names())
            close = difflib.get_close_matches(name, names, n=_MAX_SUGGESTED, cutoff=0.5)
            raise VariantError("variants.unknown_wildcard", name=name, suggested=close, count=len(names))


def draw(template: str, seed: int, wildcards: Wildcards) -> str:
    """The variant of the template that `seed` draws: the same seed, the same prompt. (What
    dynamicprompts' RandomPromptGenerator(seed=seed) draws first, from the parsed template.)"""
    from dynamicprompts.enums import SamplingMethod
    from dynamicprompts.sampling_context import SamplingContext

    context = SamplingContext(
        wildcard_manager=wildcards.manager(),
        default_sampling_method=SamplingMethod.RANDOM,
        rand=random.Random(seed),
    )
    return str(next(iter(context.sample_prompts(_parse(template), 1))))


def with_image_prompts(
    request: GenerationRequest, wildcards: Wildcards, *, max_length: int | None = None
) -> GenerationRequest:
    """The request with each image's variant drawn from its seed (`image_prompts`; empty when the
    prompt has none). The seed must be resolved. Raises VariantError, also for a resolved prompt
    over `max_length` characters."""
    if request.seed == RANDOM_SEED:
        raise ValueError("resolve the request's seed before drawing its variants")
    if not has_variants(request.prompt):
        return request.replace(image_prompts=()) if request.image_prompts else request
    check(request.prompt, wildcards)
    prompts = tuple(draw(request.prompt, seed, wildcards).strip() for seed in request.seeds)
    if max_length is not None:
        for prompt in prompts:
            if len(prompt) > max_length:
                raise VariantError("variants.prompt_too_long", length=len(prompt), max=max_length)
    if all(prompt == request.prompt.strip() for prompt in prompts):
        prompts = ()
    return request.replace(image_prompts=prompts)


def permutations(template: str, wildcards: Wildcards, *, limit: int = COUNT_CAP) -> list[str]:
    """Every combination of the template's variants, in order (at most `limit + 1`: enough to
    tell that there are more)."""
    from dynamicprompts.generators import CombinatorialPromptGenerator

    if not has_variants(template):
        return [template]
    check(template, wildcards)
    generator = CombinatorialPromptGenerator(wildcards.manager())
    return generator.generate(template, max_prompts=limit + 1) or [template]


def fan_out(
    request: GenerationRequest,
    wildcards: Wildcards,
    *,
    permute: bool = False,
    repeat: int = 1,
    max_jobs: int,
) -> list[GenerationRequest]:
    """The jobs one prompt makes: each `--permute` combination (the seed kept, so only the prompt
    differs), each `repeat` times with fresh seeds (a given seed steps by the image count, so no
    image repeats). Raises VariantError above `max_jobs` jobs, naming how many it would make."""
    if not 1 <= repeat <= max_jobs:
        raise VariantError("variants.repeat_out_of_range", value=repeat, max=max_jobs, flag="repeat")
    prompts = [request.prompt]
    if permute:
        prompts = permutations(request.prompt, wildcards, limit=COUNT_CAP)
    if len(prompts) * repeat > max_jobs:
        combinations = len(prompts) if len(prompts) <= COUNT_CAP else None
        raise VariantError(
            "variants.too_many_jobs",
            combinations=combinations,  # None: more than `counted`
            counted=COUNT_CAP,
            repeat=repeat,
            jobs=None if combinations is None else combinations * repeat,
            max=max_jobs,
        )
    jobs = []
    for prompt in prompts:
        base = request.replace(prompt=prompt, image_prompts=())
        for k in range(repeat):
            if k and base.seed != RANDOM_SEED:
                jobs.append(base.replace(seed=(base.seed + k * base.count) % (MAX_SEED + 1)))
            else:
                jobs.append(base)
    return jobs
