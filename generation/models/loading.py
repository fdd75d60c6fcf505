"""Loading a registry entry into a pipeline on a device, fully offline.

- diffusers folder: `from_pretrained(folder, local_files_only=True)`.
- single file (`.safetensors`, or `.ckpt` read with `weights_only=True` only):
  `from_single_file(path, config=<skeleton>, local_files_only=True)`. The skeleton is assembled
  in a cache folder (`<models_dir>/.cache/configs/`, or the temp dir when that is not writable)
  from, in order of precedence: a same-stem config folder beside the file, else the bundled
  `generation/configs/{sd1,sd2,sdxl}` skeleton picked by `detect`, patched by a same-stem `.yaml`
  (prediction type, VAE scale factor); plus the project's CLIP tokenizer files, whose pad token
  is `<|endoftext|>` for SD 1.x and SDXL's first tokenizer and `!` for SD 2.x and SDXL's second.
- Hub id (only those an admin lists in `hub_models`): `from_pretrained(id)`; works offline when the
  Hub cache has it.

An inpainting checkpoint (a 9-channel UNet, in any of these forms) loads as its family's inpaint
pipeline (`StableDiffusionInpaintPipeline`, `StableDiffusionXLInpaintPipeline`); the pipelines run
every mode through it (`generation.pipelines.inpaint`).

Prediction type: SD 1.x and SDXL are epsilon (an SDXL file with a `v_pred` marker key is
v-prediction). For SD 2.x a `.yaml` or config folder decides; without one the loader runs the
probe AUTOMATIC1111 and stable-diffusion.cpp use (UNet at t=999 on a constant 0.5 latent with a
constant 0.5 context: a mean of output minus input below -1 means v-prediction).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import diffusers
import torch
import transformers
from diffusers import (
    DiffusionPipeline,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLInpaintPipeline,
    StableDiffusionXLPipeline,
)

from ..pipelines.acceleration import accelerate, native_size, plan_acceleration
from ..settings import ModelSettings
from .arch import Arch
from .detect import Detection, detect_file, read_ldm_yaml
from .errors import ModelError, ModelLoadError, UnknownArchitecture
from .hashing import HashCache, entry_short_hash
from .loaded import LoadedModel, ModelEntry
from .memory import free_memory as _free_memory

if TYPE_CHECKING:
    from .registry import ModelRegistry

log = logging.getLogger(__name__)

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"
TOKENIZER_DIR = CONFIGS_DIR / "tokenizer"
TOKENIZER_PADS = {
    (Arch.SD1, "tokenizer"): "<|endoftext|>",
    (Arch.SD2, "tokenizer"): "!",
    (Arch.SDXL, "tokenizer"): "<|endoftext|>",
    (Arch.SDXL, "tokenizer_2"): "!",
}
# pipeline class -> whether it is SDXL (else SD 1.x or 2.x, told apart by the text encoder)
SUPPORTED_PIPELINES = {
    "StableDiffusionPipeline": False,
    "StableDiffusionImg2ImgPipeline": False,
    "StableDiffusionXLPipeline": True,
    "StableDiffusionXLImg2ImgPipeline": True,
    "StableDiffusionInpaintPipeline": False,
    "StableDiffusionXLInpaintPipeline": True,
}
INPAINT_CHANNELS = 9
CONFIG_SUFFIXES = (".json", ".txt", ".model")
MAX_CONFIG_FILE_BYTES = 32 * 1024 * 1024
SD2_SAMPLE_SIZES = {"v_prediction": 96, "epsilon": 64}  # 768-v models vs 512-base models
FALLBACK_CACHE = Path(tempfile.gettempdir()) / "imagine-bot-cache"


# -- device ----------------------------------------------------------------------------------


def resolve_device(settings: ModelSettings) -> tuple[torch.device, torch.dtype]:
    """The device and dtype to run on: settings win; "auto" is CUDA+fp16, else MPS+fp16, else CPU+fp32."""
    want = settings.device
    if want == "auto":
        if torch.cuda.is_available():
            device = torch.device("cuda")
        elif _mps_available():
            device = torch.device("mps")
        else:
            device = torch.device("cpu")
    else:
        device = torch.device(want)
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ModelLoadError(
                    f'models.device is "{want}" but no CUDA GPU is usable here (no GPU, no driver, or a '
                    'CPU-only torch build); set models.device = "auto" or "cpu"'
                )
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise ModelLoadError(
                    f'models.device is "{want}" but only {torch.cuda.device_count()} CUDA device(s) exist'
                )
        elif device.type == "mps" and not _mps_available():
            raise ModelLoadError(
                'models.device is "mps" but MPS is not available; set models.device = "auto"'
            )
    if settings.dtype == "auto":
        dtype = torch.float16 if device.type in ("cuda", "mps") else torch.float32
    else:
        dtype = getattr(torch, settings.dtype)
    return device, dtype


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


# -- config skeletons ----------------------------------------------------------------------------


def writable_cache_dir(preferred: Path | None) -> Path:
    """`preferred` when it can be created and written, else a folder in the temp dir."""
    for candidate in (preferred, FALLBACK_CACHE):
        if candidate is None:
            continue
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            pass
    raise ModelLoadError(f"no writable cache folder (tried {preferred} and {FALLBACK_CACHE})")


def _config_files(folder: Path) -> dict[str, bytes]:
    """The small config and tokenizer files of a diffusers folder (two levels), never weights."""
    files: dict[str, bytes] = {}
    for path in [*folder.glob("*"), *folder.glob("*/*")]:
        if path.suffix not in CONFIG_SUFFIXES or not path.is_file() or path.name.startswith("."):
            continue
        if path.stat().st_size > MAX_CONFIG_FILE_BYTES:
            continue
        files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


def _patch_json(files: dict[str, bytes], name: str, values: dict[str, Any]) -> None:
    values = {k: v for k, v in values.items() if v is not None}
    if not values or name not in files:
        return
    data = json.loads(files[name])
    data.update(values)
    files[name] = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _tokenizer_config(pad: str) -> dict[str, Any]:
    return {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": 77,
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": pad,
        "do_lower_case": True,
        "errors": "replace",
        "add_prefix_space": False,
    }


def assemble_config_dir(
    arch: Arch,
    cache_dir: Path,
    *,
    base: Path | None = None,
    scheduler: dict[str, Any] | None = None,
    unet: dict[str, Any] | None = None,
    vae: dict[str, Any] | None = None,
) -> Path:
    """A complete, weightless config folder for `from_single_file(config=...)`, cached by content.

    The bundled skeleton of `arch` is the bottom layer, the files of `base` (a config folder
    beside the checkpoint) replace it file by file, then the given values patch the scheduler,
    UNet and VAE configs. Tokenizer folders that lack a vocabulary get the project's CLIP files.
    """
    files = _config_files(CONFIGS_DIR / arch)
    if base is not None:
        files.update(_config_files(base))
    _patch_json(files, "scheduler/scheduler_config.json", scheduler or {})
    _patch_json(files, "unet/config.json", unet or {})
    _patch_json(files, "vae/config.json", vae or {})
    index = json.loads(files["model_index.json"])
    for name, spec in index.items():
        if not (isinstance(spec, list) and len(spec) == 2 and "Tokenizer" in str(spec[1])):
            continue
        has_vocab = f"{name}/tokenizer.json" in files or (
            f"{name}/vocab.json" in files and f"{name}/merges.txt" in files
        )
        if has_vocab:
            continue
        for vocab_file in ("vocab.json", "merges.txt"):
            files[f"{name}/{vocab_file}"] = (TOKENIZER_DIR / vocab_file).read_bytes()
        pad = TOKENIZER_PADS.get((arch, name), "<|endoftext|>")
        if f"{name}/tokenizer_config.json" not in files:
            files[f"{name}/tokenizer_config.json"] = json.dumps(_tokenizer_config(pad), indent=2).encode()
        if f"{name}/special_tokens_map.json" not in files:
            special = {k: v for k, v in _tokenizer_config(pad).items() if k.endswith("_token")}
            files[f"{name}/special_tokens_map.json"] = json.dumps(special, indent=2).encode()

    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    target = cache_dir / "configs" / f"{arch}-{digest.hexdigest()[:16]}"
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
        (tmp / ".complete").write_text("ok\n")
        if target.exists():  # an incomplete leftover
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / ".complete").is_file():  # not a concurrent success
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# -- planning a single-file load -----------------------------------------------------------------


@dataclass(frozen=True)
class SingleFilePlan:
    arch: Arch
    config_dir: Path  # the assembled skeleton to pass as `config=`
    prediction_type: str | None  # None: decided by the v-prediction probe after loading (SD 2.x)
    detection: Detection
    source: str  # "detected" | "yaml" | "folder": what chose the configs


def plan_single_file(entry: ModelEntry, cache_dir: Path) -> SingleFilePlan:
    """Decide the architecture and configs of a single-file entry without loading its weights."""
    path = Path(entry.path)
    det = detect_file(path)  # UnsafeCheckpoint / UnknownArchitecture / ModelLoadError
    config = Path(entry.config) if entry.config is not None else None
    folder_hint = (
        f"put a diffusers config folder named {path.stem}/ beside it (model_index.json and the "
        "unet/, vae/, text_encoder/ and scheduler/ configs)"
    )
    if config is not None and config.is_dir():
        config_dir = assemble_config_dir(det.arch, cache_dir, base=config)
        scheduler = json.loads((config_dir / "scheduler" / "scheduler_config.json").read_text())
        return SingleFilePlan(
            det.arch, config_dir, scheduler.get("prediction_type", "epsilon"), det, "folder"
        )

    scheduler: dict[str, Any] = {}
    unet: dict[str, Any] = {}
    vae: dict[str, Any] = {}
    if config is not None:  # a same-stem .yaml
        hints = read_ldm_yaml(config)
        arch = hints.arch or det.arch
        if arch == det.arch and not det.standard:
            raise UnknownArchitecture(
                f"{path.name} looks like {det.describe()}, but those are not the sizes of a standard "
                f"{arch.label} model and a .yaml cannot describe other sizes; {folder_hint}"
            )
        prediction: str | None = hints.prediction_type
        vae["scaling_factor"] = hints.scaling_factor
        source = "yaml"
    else:
        if not det.standard:
            raise UnknownArchitecture(
                f"{path.name} looks like {det.describe()}, but those are not the sizes of a standard "
                f"{det.arch.label} model, so its configuration cannot be guessed; {folder_hint}"
            )
        arch = det.arch
        prediction = det.prediction_type or (None if arch is Arch.SD2 else "epsilon")
        source = "detected"
    scheduler["prediction_type"] = prediction or "epsilon"
    if det.inpainting:
        unet["in_channels"] = INPAINT_CHANNELS  # the bundled skeletons describe text-to-image UNets
    if det.zero_snr:
        scheduler.update(rescale_betas_zero_snr=True, timestep_spacing="trailing")
    if arch is Arch.SD2:
        unet["sample_size"] = SD2_SAMPLE_SIZES[prediction or "epsilon"]
    config_dir = assemble_config_dir(arch, cache_dir, scheduler=scheduler, unet=unet, vae=vae)
    return SingleFilePlan(arch, config_dir, prediction, det, source)


# -- the v-prediction probe ---------------------------------------------------------------------


def probe_v_prediction(unet: Any) -> bool:
    """Whether an SD 2.x UNet predicts v rather than noise (the AUTOMATIC1111 / sd.cpp probe)."""
    param = next(unet.parameters())
    device, dtype = param.device, param.dtype
    context_dim = unet.config.cross_attention_dim
    with torch.no_grad():
        x = torch.full((1, unet.config.in_channels, 8, 8), 0.5, device=device, dtype=dtype)
        context = torch.full((1, 2, context_dim), 0.5, device=device, dtype=dtype)
        t = torch.tensor([999], device=device)
        out = unet(x, t, encoder_hidden_states=context).sample
        return (out.float() - x.float()).mean().item() < -1


def _set_prediction_type(pipe: Any, prediction_type: str) -> None:
    scheduler = pipe.scheduler
    if scheduler.config.get("prediction_type") != prediction_type:
        pipe.scheduler = type(scheduler).from_config(scheduler.config, prediction_type=prediction_type)


# -- loading -----------------------------------------------------------------------------------


def _quiet_loading() -> None:
    """No tqdm bars while loading: they clutter the bot's logs and the CLI's JSON output."""
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()


def load_model(
    entry: ModelEntry,
    settings: ModelSettings,
    registry: ModelRegistry | None = None,
    *,
    compile_cache: Path | None = None,
) -> LoadedModel:
    """Load `entry` on the device the settings pick. Offline-safe for local models.

    The GPU fast paths of the settings are applied last (generation.pipelines.acceleration); with
    `models.compile` on, the model is compiled and warmed up at its native size before this
    returns, its kernels cached in `compile_cache` (`paths.cache_dir`; default: the models
    folder's cache).

    Raises `UnsafeCheckpoint`, `UnknownArchitecture` or `ModelLoadError` (any other failure,
    wrapped with the model's name) with a message an admin can act on.
    """
    device, dtype = resolve_device(settings)
    cache_dir = _cache_dir_for(entry, registry)
    _quiet_loading()
    try:
        needs_probe = False
        if entry.kind in ("safetensors", "ckpt"):
            pipe, arch, needs_probe = _load_single_file(entry, dtype, cache_dir)
        elif entry.kind == "diffusers":
            pipe, arch = _load_folder(entry, dtype)
        elif entry.kind == "hub":
            pipe, arch = _load_hub(entry, dtype)
        else:
            raise ModelLoadError(f"unknown model kind {entry.kind!r} for {entry.name!r}")
        _cast_stragglers(pipe, dtype)
        pipe.to(device)
        if needs_probe:
            v = probe_v_prediction(pipe.unet)
            log.info("%s: the probe says %s", entry.name, "v-prediction" if v else "epsilon")
            _set_prediction_type(pipe, "v_prediction" if v else "epsilon")
            pipe.unet.register_to_config(sample_size=SD2_SAMPLE_SIZES["v_prediction" if v else "epsilon"])
        _configure(pipe, settings)
        if compile_cache is None and cache_dir is not None:
            compile_cache = cache_dir / "inductor"
        plan = plan_acceleration(settings, device, cache_dir=compile_cache)
        acceleration = accelerate(pipe, plan, warm_up_size=native_size(pipe))
        if plan.compiling:
            log.info(
                "%s: compiled %s, warmed up in %.1f s",
                entry.name,
                ", ".join(acceleration.compiled) or "nothing",
                acceleration.warmup_seconds,
            )
    except ModelError:
        _free_memory(device)
        raise
    except Exception as exc:
        _free_memory(device)
        hint = ""
        if "out of memory" in str(exc).lower():
            hint = " (out of memory: free the GPU, use a smaller model, or set models.dtype to float16)"
        raise ModelLoadError(
            f"could not load model {entry.name!r} from {entry.path}: {type(exc).__name__}: {exc}{hint}"
        ) from exc
    try:
        if registry is not None:
            short_hash = registry.short_hash(entry)
        else:
            cache = HashCache(cache_dir / "hashes.json" if cache_dir else None)
            short_hash = entry_short_hash(entry, cache)
    except OSError as exc:  # the model is loaded; a missing hash only leaves metadata blank
        log.warning("cannot hash %s: %s", entry.path, exc)
        short_hash = None
    return LoadedModel(entry.name, entry, pipe, arch, short_hash, device, dtype, acceleration=acceleration)


def _cache_dir_for(entry: ModelEntry, registry: ModelRegistry | None) -> Path | None:
    if registry is not None:
        preferred: Path | None = registry.cache_dir
    elif entry.kind == "hub":
        return None
    else:
        preferred = Path(entry.path).parent / ".cache"
    return writable_cache_dir(preferred)


def _pipeline_class(arch: Arch, inpainting: bool = False) -> type[DiffusionPipeline]:
    if inpainting:
        return StableDiffusionXLInpaintPipeline if arch is Arch.SDXL else StableDiffusionInpaintPipeline
    return StableDiffusionXLPipeline if arch is Arch.SDXL else StableDiffusionPipeline


def _pipeline_kwargs(arch: Arch, dtype: torch.dtype) -> dict[str, Any]:
    _quiet_empty_fp32_warning()
    kwargs: dict[str, Any] = {"dtype": dtype}  # diffusers 0.42 spelling (torch_dtype is deprecated)
    if arch is Arch.SDXL:
        kwargs["add_watermarker"] = False
    else:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    return kwargs


class _EmptyFp32ListFilter(logging.Filter):
    """diffusers warns "modules ... should be kept in float32: []" on every dtype cast, even when
    the list is empty (nothing to keep). Drop only that empty-list case."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "should be kept in float32: []" not in record.getMessage()


def _quiet_empty_fp32_warning() -> None:
    target = logging.getLogger("diffusers.models.modeling_utils")
    if not any(isinstance(f, _EmptyFp32ListFilter) for f in target.filters):
        target.addFilter(_EmptyFp32ListFilter())


def _cast_stragglers(pipe: Any, dtype: torch.dtype) -> None:
    """Components a loader left in their stored dtype (transformers keeps fp16 text encoders)."""
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            param = next(component.parameters(), None)
            if param is not None and param.is_floating_point() and param.dtype != dtype:
                component.to(dtype=dtype)


def _load_single_file(
    entry: ModelEntry, dtype: torch.dtype, cache_dir: Path | None
) -> tuple[Any, Arch, bool]:
    plan = plan_single_file(entry, cache_dir or writable_cache_dir(None))
    log.info("loading %s as %s (configs: %s)", entry.name, plan.arch, plan.source)
    cls = _pipeline_class(plan.arch, _plan_inpainting(plan))
    pipe = cls.from_single_file(
        str(entry.path),
        config=str(plan.config_dir),
        local_files_only=True,
        **_pipeline_kwargs(plan.arch, dtype),
    )
    return pipe, plan.arch, plan.arch is Arch.SD2 and plan.prediction_type is None


def _plan_inpainting(plan: SingleFilePlan) -> bool:
    """Whether the file is an inpainting checkpoint: its weights say so (a config folder beside it
    must then describe a 9-channel UNet too)."""
    if not plan.detection.inpainting:
        return False
    unet = _read_json(plan.config_dir / "unet" / "config.json")
    if unet.get("in_channels", INPAINT_CHANNELS) != INPAINT_CHANNELS:
        raise UnknownArchitecture(
            f"the UNet in {plan.config_dir.name}'s configs takes {unet['in_channels']} input channels, but "
            "the checkpoint is an inpainting one (9): fix unet/config.json beside it"
        )
    return True


def folder_is_inpainting(folder: Path) -> bool:
    """Whether a diffusers folder holds an inpainting model (a 9-channel UNet)."""
    return _read_json(folder / "unet" / "config.json").get("in_channels", 4) == INPAINT_CHANNELS


def folder_arch(folder: Path) -> Arch:
    """sd1 / sd2 / sdxl of a diffusers folder, from its configs."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{folder.name}/model_index.json is missing or unreadable ({exc})") from exc
    class_name = index.get("_class_name", "")
    xl = SUPPORTED_PIPELINES.get(class_name)
    if xl is None:
        raise UnknownArchitecture(
            f"{folder.name} is a {class_name or 'unknown'} model; supported are Stable Diffusion 1.x/2.x "
            "and SDXL base text-to-image pipelines"
        )
    unet_config = _read_json(folder / "unet" / "config.json")
    if unet_config.get("in_channels", 4) not in (4, INPAINT_CHANNELS):
        raise UnknownArchitecture(
            f"{folder.name} has a UNet with {unet_config['in_channels']} input channels (instruct-pix2pix?); "
            "text-to-image (4) and inpainting (9) models are supported"
        )
    if xl:
        return Arch.SDXL
    text = _read_json(folder / "text_encoder" / "config.json")
    return Arch.SD2 if text.get("hidden_size") == 1024 or text.get("hidden_act") == "gelu" else Arch.SD1


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _load_folder(entry: ModelEntry, dtype: torch.dtype) -> tuple[Any, Arch]:
    folder = Path(entry.path)
    arch = folder_arch(folder)
    kwargs = _pipeline_kwargs(arch, dtype)
    unet_dir = folder / "unet"
    plain = any((unet_dir / f"diffusion_pytorch_model.{ext}").is_file() for ext in ("safetensors", "bin"))
    if not plain and any(unet_dir.glob("diffusion_pytorch_model.fp16.*")):
        kwargs["variant"] = "fp16"
    cls = _pipeline_class(arch, folder_is_inpainting(folder))
    pipe = cls.from_pretrained(str(folder), local_files_only=True, **kwargs)
    return pipe, arch


def _load_hub(entry: ModelEntry, dtype: torch.dtype) -> tuple[Any, Arch]:
    repo = str(entry.path)
    try:
        index = DiffusionPipeline.load_config(repo)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot get {repo} from the Hugging Face Hub ({type(exc).__name__}); without a network it "
            "must already be in the local Hub cache"
        ) from exc
    xl = SUPPORTED_PIPELINES.get(index.get("_class_name", ""))
    if xl is None:
        raise UnknownArchitecture(f"{repo} is a {index.get('_class_name')} model, which is not supported")
    arch = Arch.SDXL if xl else Arch.SD1
    inpainting = "Inpaint" in str(index.get("_class_name", ""))
    pipe = _pipeline_class(arch, inpainting).from_pretrained(repo, **_pipeline_kwargs(arch, dtype))
    if arch is not Arch.SDXL and pipe.text_encoder.config.hidden_size == 1024:
        arch = Arch.SD2
    return pipe, arch


# -- memory and attention options ----------------------------------------------------------------


def _configure(pipe: Any, settings: ModelSettings) -> None:
    pipe.set_progress_bar_config(disable=True)
    if hasattr(pipe, "safety_checker"):
        pipe.safety_checker = None
    pipe.vae.enable_slicing()
    pipe.vae.disable_tiling()
    if settings.attention_slicing:
        pipe.enable_attention_slicing()


def unload_model(model: LoadedModel) -> None:
    """Drop the pipeline's weights, and what the pipelines derived from it (its img2img pipeline,
    the upscaler loaded for it), and give the memory back (the CUDA cache too).

    The LoadedModel is unusable afterwards (`model.pipe` is None).
    """
    model.derived.clear()
    if model.acceleration is not None:
        model.acceleration.release()
        model.acceleration = None
    pipe, model.pipe = model.pipe, None
    if pipe is not None:
        for name in list(getattr(pipe, "components", {})):
            with contextlib.suppress(Exception):  # one it refuses to drop is still freed by gc
                setattr(pipe, name, None)
        del pipe
    _free_memory(model.device)
