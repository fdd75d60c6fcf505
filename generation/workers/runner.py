"""The real runner: checkpoints from the models directory, the engine, PNG bytes with parameters.

Torch and diffusers are imported lazily (loading a model imports them), so importing this module
stays cheap; the job service does not import it unless it builds its default pool.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image

from generation.images.saving import EncodedImages, encode_images
from generation.models.memory import free_memory
from generation.problems import Problem
from generation.progress import CancelToken
from generation.requests.applied import Applied
from generation.requests.lora_sets import Part, lora_calls
from generation.requests.request import GenerationRequest
from generation.workers.local import CHECK_REQUEST, Generated, Previews, is_out_of_memory
from generation.workers.protocol import WorkerProblem, detail_of

if TYPE_CHECKING:
    from generation.settings import Settings


class PipelineRunner:
    """Runs requests on models from `settings.paths.models_dir` through generation.pipelines.engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._registry: Any = None
        self._assets: Any = None

    @property
    def assets(self) -> Any:
        """The LoRA, embedding and VAE folders of `settings.paths`."""
        if self._assets is None:
            from generation.models.assets import AssetLibrary

            self._assets = AssetLibrary.from_settings(self.settings.paths)
        return self._assets

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from generation.models import ModelRegistry

            self._registry = ModelRegistry(self.settings.paths.model_folders, self.settings.models.hub_models)
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
        masks: Sequence[bytes | None] = (),
        on_progress: Callable[[int, int, Previews], None] | None,
        cancel: Any,
        want_preview: bool,
    ) -> Generated:
        """The requests' images and what each image applied. The adapters are switched per
        pipeline call, so images whose variants drew other LoRA sets go in calls of their own
        (`lora_calls`: one per set); otherwise the batch is one call."""
        from generation.pipelines.engine import generate_result

        decoded = [None if source is None else decode_source(source) for source in sources]
        decoded_masks = decode_masks(masks, len(requests))
        calls = lora_calls(requests)
        latest: list[Any] = [None] * len(requests)  # each request's newest preview, across calls
        # per request, from each call that made some of its images: (first image, images, applied)
        pieces: list[list[tuple[int, list[Any], Applied]]] = [[] for _ in requests]
        for number, call in enumerate(calls):
            result = generate_result(
                model,
                [part.request for part in call],
                on_progress=None
                if on_progress is None
                else _call_progress(on_progress, call, number, len(calls), latest),
                cancel=cancel,
                want_preview=want_preview,
                settings=self.settings.models,
                sources=[decoded[part.index] for part in call],
                masks=None if decoded_masks is None else [decoded_masks[part.index] for part in call],
                assets=self.assets,
            )
            for part, made, used in zip(call, result.images, result.applied, strict=True):
                pieces[part.index].append((part.first, made, used))
        images = [[image for _, made, _ in sorted(own, key=_first) for image in made] for own in pieces]
        applied = [tuple(used for _, made, used in sorted(own, key=_first) for _ in made) for own in pieces]
        return Generated(images, applied)

    def unload(self, model: Any) -> None:
        from generation.models import unload_model

        unload_model(model)

    def model_hash(self, model: Any) -> str | None:
        return getattr(model, "short_hash", None)

    def encode(
        self,
        request: GenerationRequest,
        images: list[Image.Image],
        model_name: str,
        model_hash: str | None,
        *,
        applied: Sequence[Applied] = (),
    ) -> EncodedImages:
        return encode_images(request, images, model_name, model_hash, applied=list(applied) or None)

    def cancel_token(self) -> CancelToken:
        return CancelToken()

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return is_out_of_memory(exc)

    def free_memory(self) -> None:
        free_memory()


def _call_progress(
    on_progress: Callable[[int, int, Previews], None],
    call: Sequence[Part],
    number: int,
    count: int,
    latest: list[Any],
) -> Callable[[Any], None]:
    """The engine's progress for call `number` of `count` as the batch's: steps go on from the
    calls before (one bar for the whole batch), and each preview goes to the request its part came
    from (a request no call has reached yet has none: never another job's picture)."""

    def callback(progress: Any) -> None:
        def previews() -> list[Any]:
            made = progress.previews
            for i, part in enumerate(call):
                if made:
                    latest[part.index] = made[i] if len(made) == len(call) else made[0]
            return list(latest)

        # Previews stay lazy: rendered only if the worker keeps this step's report.
        on_progress(number * progress.total + progress.step, count * progress.total, previews)

    return callback


def _first(piece: tuple[int, list[Any], Applied]) -> int:
    return piece[0]


def decode_masks(masks: Sequence[bytes | None], count: int) -> list[Image.Image | None] | None:
    """The inpaint masks from their bytes, one per request (None when none came). Bytes that are
    not an image fail as `WorkerProblem.MASK_UNREADABLE`."""
    if not any(mask is not None for mask in masks):
        return None
    if len(masks) != count:
        raise ValueError(f"{len(masks)} masks for {count} requests")
    try:
        return [None if mask is None else decode_source(mask) for mask in masks]
    except (OSError, ValueError, Image.DecompressionBombError) as exc:  # (UnidentifiedImageError: OSError)
        raise Problem(WorkerProblem.MASK_UNREADABLE, detail=detail_of(exc)) from exc


def decode_source(data: bytes) -> Image.Image:
    """A source image (or mask) from its bytes, fully read (the engine turns a source upright and
    into RGB, a mask upright and into black and white)."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        return opened.copy()
