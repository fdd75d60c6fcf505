"""The real runner: checkpoints from the models directory, the engine, PNG bytes with parameters.

Torch and diffusers are imported lazily (loading a model imports them), so importing this module
stays cheap; the job service does not import it unless it builds its default pool.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image

from generation.images.grid import make_grid
from generation.images.metadata import DEFAULT_HIRES_UPSCALER, format_parameters, pnginfo
from generation.models.memory import free_memory
from generation.progress import CancelToken
from generation.requests.request import MAX_SEED, RANDOM_SEED, GenerationRequest
from generation.workers.local import CHECK_REQUEST, EncodedImages, Previews, is_out_of_memory

if TYPE_CHECKING:
    from generation.settings import Settings


class PipelineRunner:
    """Runs requests on models from `settings.paths.models_dir` through generation.pipelines.engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._registry: Any = None

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from generation.models import ModelRegistry

            self._registry = ModelRegistry(self.settings.paths.models_dir, self.settings.models.hub_models)
        return self._registry

    def model_names(self) -> list[str]:
        return list(self.registry.names())

    def load(self, name: str) -> Any:
        from generation.models import load_model

        entry = self.registry.get(name)
        return load_model(
            entry, self.settings.models, registry=self.registry, compile_cache=self.settings.paths.cache_dir
        )

    def check(self, model: Any) -> None:
        request = CHECK_REQUEST.replace(model=model.name)
        warmed = getattr(getattr(model, "acceleration", None), "warmed_size", None)
        if warmed is not None:  # a compiled model: check it at the size it was compiled for
            request = request.replace(width=warmed[0], height=warmed[1])
        self.generate(
            model,
            [request],
            sources=[None],
            on_progress=None,
            cancel=None,
            want_preview=False,
        )

    def generate(
        self,
        model: Any,
        requests: Sequence[GenerationRequest],
        *,
        sources: Sequence[bytes | None],
        on_progress: Callable[[int, int, Previews], None] | None,
        cancel: Any,
        want_preview: bool,
    ) -> list[list[Image.Image]]:
        from generation.pipelines.engine import generate

        callback = None
        if on_progress is not None:

            def callback(progress: Any) -> None:
                # Previews stay lazy: rendered only if the worker keeps this step's report.
                on_progress(progress.step, progress.total, lambda: progress.previews)

        return generate(
            model,
            list(requests),
            on_progress=callback,
            cancel=cancel,
            want_preview=want_preview,
            settings=self.settings.models,
            sources=[None if source is None else decode_source(source) for source in sources],
        )

    def unload(self, model: Any) -> None:
        from generation.models import unload_model

        unload_model(model)

    def model_hash(self, model: Any) -> str | None:
        return getattr(model, "short_hash", None)

    def encode(
        self, request: GenerationRequest, images: list[Image.Image], model_name: str, model_hash: str | None
    ) -> EncodedImages:
        return encode_images(request, images, model_name, model_hash)

    def cancel_token(self) -> CancelToken:
        return CancelToken()

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return is_out_of_memory(exc)

    def free_memory(self) -> None:
        free_memory()


def encode_images(
    request: GenerationRequest,
    images: Sequence[Image.Image],
    model_name: str | None,
    model_hash: str | None,
    *,
    hires_upscaler: str = DEFAULT_HIRES_UPSCALER,
) -> EncodedImages:
    """A job's images as PNG bytes, image i (made with seed + i) carrying its own A1111 parameters,
    and the grid carrying the first seed's (the bytes generation.images.saving writes)."""
    if not images:
        raise ValueError("a job's result needs at least one image")
    if request.seed == RANDOM_SEED:
        raise ValueError("resolve the request's seed before encoding its images")
    seeds = [(request.seed + i) % (MAX_SEED + 1) for i in range(len(images))]
    pngs = [
        png_bytes(
            image, format_parameters(request, seed, model_name, model_hash, hires_upscaler=hires_upscaler)
        )
        for image, seed in zip(images, seeds, strict=True)
    ]
    text = format_parameters(request, seeds[0], model_name, model_hash, hires_upscaler=hires_upscaler)
    return EncodedImages(pngs, seeds, png_bytes(make_grid(list(images)), text))


def png_bytes(image: Image.Image, parameters: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=pnginfo(parameters))
    return buffer.getvalue()


def decode_source(data: bytes) -> Image.Image:
    """A source image from its bytes, fully read (the engine turns it upright and into RGB)."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        return opened.copy()
