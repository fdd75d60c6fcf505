"""Stand-ins for the GPU, for tests and benchmarks: `FakeRunner`, `Slowed`, `MemoryArtifacts`.

`FakeRunner` is a runner without a model (no torch): images are flat colours (the colour a prompt
names, else one made from the seed; an inpaint paints that colour over its source where its mask
is white), or noise (large PNGs), or nothing at all (`noop`: only the job service's own work is
left). Prompts steer it: "FAIL" raises like an unreadable source image,
"OOM" like CUDA out of memory, "NOSAVE" fails encoding. While `gate` is clear, every step waits
(cancellable), so a test can keep a worker busy. It counts loads, unloads, checks, memory frees
and calls, and records the threads it ran on. What it says each image applied is the LoRAs its
prompt's tags name (no files, no hashes), so what was applied can be followed without torch.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from generation.images.saving import EncodedImages, encode_images
from generation.jobs.artifacts import ArtifactNotFound, check_key
from generation.problems import Problem
from generation.progress import Cancelled, CancelToken
from generation.requests.applied import Applied, LoraUse
from generation.requests.followups import output_size
from generation.requests.request import GenerationRequest, Mode
from generation.workers.local import Generated, Previews
from generation.workers.protocol import WorkerProblem

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 70, 220),
    "yellow": (240, 220, 40),
    "white": (245, 245, 245),
    "black": (10, 10, 10),
    "gold": (212, 175, 55),
    "purple": (130, 50, 170),
}


@dataclass(frozen=True)
class FakeModel:
    name: str
    short_hash: str = "0123456789"


class FakeRunner:
    def __init__(
        self,
        *,
        models: Sequence[str] = ("tiny", "other"),
        broken: Sequence[str] = (),
        step_seconds: float = 0.0,
        noise: bool = False,
        noop: bool = False,
    ) -> None:
        self.models = list(models)
        self.broken = set(broken)  # loading these fails
        self.step_seconds = step_seconds
        self.noise = noise
        self.noop = noop
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[list[str]] = []  # prompts per generate call
        self.call_times: list[float] = []  # time.monotonic() at the start of each call
        self.requests: list[list[GenerationRequest]] = []
        self.masks: list[list[bytes | None]] = []  # the mask bytes of each call, one per request
        self.loads: list[str] = []
        self.unloads: list[str] = []
        self.checks = 0
        self.freed = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()  # several workers may share one runner

    def model_names(self) -> list[str]:
        return list(self.models)

    def load(self, name: str) -> FakeModel:
        self.threads.add(threading.current_thread().name)
        if name in self.broken:
            raise RuntimeError(f"{name}.safetensors is corrupt")
        with self._lock:
            self.loads.append(name)
        return FakeModel(name)

    def check(self, model: FakeModel) -> None:
        self.checks += 1

    def unload(self, model: FakeModel) -> None:
        with self._lock:
            self.unloads.append(model.name)

    def model_hash(self, model: FakeModel) -> str | None:
        return model.short_hash

    def cancel_token(self) -> CancelToken:
        return CancelToken()

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return "out of memory" in str(exc)

    def free_memory(self) -> None:
        self.freed += 1

    def generate(
        self,
        model: FakeModel,
        requests: Sequence[GenerationRequest],
        *,
        sources: Sequence[bytes | None] = (),
        masks: Sequence[bytes | None] = (),
        on_progress: Callable[[int, int, Previews], None] | None = None,
        cancel: Any = None,
        want_preview: bool = False,
    ) -> Generated:
        self.threads.add(threading.current_thread().name)
        sources = list(sources) or [None] * len(requests)
        masks = list(masks) or [None] * len(requests)
        with self._lock:
            self.calls.append([r.prompt for r in requests])
            self.call_times.append(time.monotonic())
            self.requests.append(list(requests))
            self.masks.append(masks)
        if not self.noop:
            for source in sources:
                if source is not None:
                    _decode(source)  # a source that is not an image fails here, like the engine's
            for mask in masks:
                if mask is not None:
                    try:
                        _decode(mask)
                    except OSError as exc:  # as the real runner says it
                        raise Problem(WorkerProblem.MASK_UNREADABLE, detail=str(exc)) from exc
        total = max(1, requests[0].steps)
        for step in range(1, total + 1):
            self._wait_for_gate(cancel)
            if step == 1:
                _fail_on_purpose(requests)
            if self.step_seconds:
                time.sleep(self.step_seconds)
            if cancel is not None and cancel.cancelled:
                raise Cancelled
            if on_progress is not None:
                on_progress(step, total, self._previews(step, len(requests)) if want_preview else [])
        images = [
            self._images(request, source, mask)
            for request, source, mask in zip(requests, sources, masks, strict=True)
        ]
        applied = [
            tuple(_applied(r, i) for i in range(len(made))) for r, made in zip(requests, images, strict=True)
        ]
        return Generated(images, applied)

    def encode(
        self,
        request: GenerationRequest,
        images: list[Any],
        model_name: str,
        model_hash: str | None,
        *,
        applied: Sequence[Applied] = (),
    ) -> EncodedImages:
        if "NOSAVE" in request.prompt:
            raise OSError("No space left on device")
        seeds = request.seeds[: len(images)]
        if self.noop:
            return EncodedImages([_TINY_PNG] * len(images), seeds, _TINY_PNG)
        return encode_images(request, images, model_name, model_hash, applied=list(applied) or None)

    # -- helpers ------------------------------------------------------------------------------

    def _wait_for_gate(self, cancel: Any) -> None:
        while not self.gate.wait(0.01):
            if cancel is not None and cancel.cancelled:
                raise Cancelled

    def _previews(self, step: int, count: int) -> list[Any]:
        if self.noop:
            return []
        from PIL import Image

        return [Image.new("RGB", (8, 8), (step * 40 % 256, 90, 160)) for _ in range(count)]

    def _images(
        self, request: GenerationRequest, source: bytes | None = None, mask: bytes | None = None
    ) -> list[Any]:
        count = 1 if request.mode is Mode.UPSCALE else request.count
        if self.noop:
            return [None] * count
        from PIL import Image

        size = output_size(request)
        if self.noise:
            return [
                Image.frombytes("RGB", size, random.randbytes(size[0] * size[1] * 3)) for _ in range(count)
            ]
        flat = [
            Image.new("RGB", size, _colour(request.prompt_for(i), seed))
            for i, seed in enumerate(request.seeds[:count])
        ]
        if request.mode is not Mode.INPAINT or source is None or mask is None:
            return flat
        # A flat-colour inpaint: where the mask is white the colour, elsewhere the source, so a test
        # sees which mask reached the worker.
        with Image.open(io.BytesIO(source)) as opened:
            picture = opened.convert("RGB").resize(size)
        with Image.open(io.BytesIO(mask)) as opened:
            where = opened.convert("L").resize(size).point(lambda v: 255 if v >= 128 else 0)
        return [Image.composite(image, picture, where) for image in flat]


class Slowed:
    """Another runner whose pipeline sleeps `step_seconds` after each step (a test can catch a
    job running); everything else goes to the runner as is."""

    def __init__(self, runner: Any, step_seconds: float) -> None:
        self.runner = runner
        self.step_seconds = step_seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)

    def generate(self, model: Any, requests: Sequence[GenerationRequest], *, on_progress: Any, **kw: Any):
        def slow(step: int, total: int, previews: Previews) -> None:
            time.sleep(self.step_seconds)
            if on_progress is not None:
                on_progress(step, total, previews)

        return self.runner.generate(model, requests, on_progress=slow, **kw)


class MemoryArtifacts:
    """An artifact store in a dict (a benchmark's results need not touch the disk)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def put(self, key: str, data: bytes) -> None:
        self.data[check_key(key)] = bytes(data)

    async def get(self, key: str) -> bytes:
        try:
            return self.data[key]
        except KeyError:
            raise ArtifactNotFound(f"no artifact {key!r}") from None

    async def exists(self, key: str) -> bool:
        return key in self.data

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def local_path(self, key: str) -> None:
        return None


def _applied(request: GenerationRequest, index: int) -> Applied:
    """What the fake says image `index` applied: the LoRAs its prompt's tags name, as if found."""
    loras = request.image_loras(index)
    return Applied(
        loras=tuple(LoraUse(t.name, f"{t.name}.safetensors", t.te_weight, t.unet_weight, None) for t in loras)
    )


def _fail_on_purpose(requests: Sequence[GenerationRequest]) -> None:
    for r in requests:
        if "FAIL" in r.prompt:
            raise FileNotFoundError(f"no such file: {r.prompt}.png")
        if "OOM" in r.prompt:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


def _colour(prompt: str, seed: int) -> tuple[int, int, int]:
    """The first colour the prompt names, else one made from the seed."""
    for word in prompt.lower().replace(",", " ").split():
        if word in COLOURS:
            return COLOURS[word]
    return seed % 256, (seed >> 8) % 256, 7


def _decode(data: bytes) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()


def _tiny_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    return buffer.getvalue()


_TINY_PNG = _tiny_png()
