"""Settings: `config.toml` loaded into typed, validated dataclasses.

One section a dataclass. Unknown keys, wrong types and values out of range are refused at start
with a message that names the key and what is allowed. Relative paths resolve against the folder
of the config file, so a config works wherever it is run from. A front end's own table
(`[discord]`) is carried as read, in `Settings.front_ends`, and typed and checked by that front end
(`bot/settings.py`) with the same kind of messages. Secrets never live here: the Discord token
comes from the environment (`DISCORD_TOKEN`).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


class ConfigError(ValueError):
    """A setting is missing, unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class PathSettings:
    models_dir: Path = Path("models")
    outputs_dir: Path = Path("outputs")
    database: Path = Path("data/bot.sqlite3")
    models_dirs: tuple[Path, ...] = ()  # more model folders, searched after models_dir in order

    @property
    def model_folders(self) -> tuple[Path, ...]:
        """Every models folder in search order: `models_dir`, then `models_dirs` (each once)."""
        return tuple(dict.fromkeys((self.models_dir, *self.models_dirs)))

    # Add-on folders, laid out as the A1111 web UI lays them out. Set in a config file, a relative
    # path is relative to that file's folder; left out, it is this name inside models_dir.
    lora_dir: Path = Path("Lora")  # LoRA / LyCORIS .safetensors, used with <lora:name:weight>
    embeddings_dir: Path = Path("embeddings")  # textual inversions, used by their name in a prompt
    vae_dir: Path = Path("VAE")  # VAEs, chosen with --vae NAME or per checkpoint (models.vae)

    def addon_dir(self, folder: Path) -> Path:
        """One of the add-on folders above, made absolute (inside models_dir when it is relative)."""
        return folder if folder.is_absolute() else self.models_dir / folder

    # Compiled kernels (torch.compile's inductor cache) live here, so a restart does not compile again.
    cache_dir: Path = Path("data/cache")


@dataclass(frozen=True)
class ModelSettings:
    default: str = "shapes"
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto | float16 | bfloat16 | float32
    upscaler: str = ""  # an ESRGAN-family .pth inside models_dir, used for the resize step of upscales
    vae_tiling_pixels: int = 1024 * 1024  # decode with VAE tiling at or above this many pixels
    attention_slicing: bool = False
    preview_every: int = 1  # decode a cheap preview every N steps when previews are asked for
    # Run the UNet one image at a time inside a batched call, so an image is bit-identical whatever
    # it was batched with. Off: batching keeps its throughput and images match to within one
    # colour level on a few pixels (matrix kernels round differently for other batch sizes).
    batch_invariant: bool = False
    hub_models: tuple[str, ...] = ()  # Hugging Face Hub ids admins allow besides models_dir (needs a network)
    # Upscales keep the source's picture: the detail pass adds only what is finer than a source
    # pixel (back-projection, generation/pipelines/upscalers.keep_source). Off: the pass may redraw.
    upscale_keeps_source: bool = True
    # Per checkpoint (by model name): the web UI's "Clip skip" when a request gives none (else 1),
    # and the VAE (a name in paths.vae_dir, "None" for its own, or "Automatic", the default).
    clip_skip: dict[str, int] = field(default_factory=dict)
    vae: dict[str, str] = field(default_factory=dict)

    # GPU fast paths (generation/pipelines/acceleration.py), applied at load. "CUDA:" ones change
    # nothing on other devices.
    attention: str = "sdpa"  # sdpa (torch's fused attention kernels) | classic (diffusers' plain one)
    channels_last: bool = True  # CUDA: UNet and VAE in channels_last memory (tensor-core convolutions)
    tf32: bool = True  # CUDA: float32 matmuls and convolutions in TF32 (the float32 VAE decode, fp32 models)
    cudnn_benchmark: bool = True  # CUDA: cuDNN times its kernels once per shape, keeps the fastest
    # auto: a float16 VAE decodes in float32 only where its config says force_upcast (SDXL's original
    # VAE overflows in float16; SD 1.x/2.x VAEs do not); never: the VAE is float16-safe (an fp16-fix VAE)
    vae_upcast: str = "auto"
    # torch.compile of the UNet and VAE decoder, warmed up at load; a failure falls back to eager
    compile: str = "off"  # off | default | max-autotune
    compile_buckets: tuple[int, ...] = (1, 2, 4, 8)  # images per UNet pass compiled for (padded up)
    # Pixels one UNet pass may carry in all (images x width x height): images_per_pass() fills a pass
    # with several jobs up to this, and at most queue.batch_size images; 0: queue.batch_size alone.
    batch_pixels: int = 8 * 512 * 512

    def __post_init__(self) -> None:
        _choice("models.device", self.device.split(":")[0], ("auto", "cpu", "cuda", "mps"))
        _choice("models.dtype", self.dtype, ("auto", "float16", "bfloat16", "float32"))
        _at_least("models.vae_tiling_pixels", self.vae_tiling_pixels, 64 * 64)
        _at_least("models.preview_every", self.preview_every, 1)
        for name, skip in self.clip_skip.items():
            if not 1 <= skip <= 12:
                raise ConfigError(f"models.clip_skip.{name} must be a whole number from 1 to 12, not {skip}")
        _choice("models.attention", self.attention, ("sdpa", "classic"))
        _choice("models.vae_upcast", self.vae_upcast, ("auto", "never"))
        _choice("models.compile", self.compile, ("off", "default", "max-autotune"))
        if not self.compile_buckets or any(b < 1 for b in self.compile_buckets):
            raise ConfigError(
                "models.compile_buckets must list image counts of at least 1, "
                f"not {list(self.compile_buckets)}"
            )
        _at_least("models.batch_pixels", self.batch_pixels, 0)


@dataclass(frozen=True)
class DefaultSettings:
    """What a request gets for everything the user leaves out."""

    width: int = 512
    height: int = 512
    steps: int = 20
    cfg_scale: float = 7.0
    sampler: str = "Euler a"
    count: int = 4
    negative_prompt: str = ""
    img2img_strength: float = 0.75
    upscale_strength: float = 0.3
    hires_strength: float = 0.5


@dataclass(frozen=True)
class LimitSettings:
    min_size: int = 64
    max_size: int = 2048  # longest side
    max_pixels: int = 1024 * 1024  # width x height of one image
    max_steps: int = 60
    min_cfg: float = 1.0
    max_cfg: float = 20.0
    max_prompt_length: int = 1000  # characters
    max_count: int = 4
    max_upscaled_pixels: int = 2048 * 2048
    max_hires_scale: float = 2.0
    # Images people hand in (/vary uploads, the command line's files): generation.images.intake.
    max_image_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # checked from the file's header, before decoding

    def __post_init__(self) -> None:
        _at_least("limits.min_size", self.min_size, 8)
        _at_least("limits.max_size", self.max_size, self.min_size)
        _at_least("limits.max_steps", self.max_steps, 1)
        _at_least("limits.max_cfg", self.max_cfg, self.min_cfg)
        _at_least("limits.max_image_bytes", self.max_image_bytes, 1)
        _at_least("limits.max_image_pixels", self.max_image_pixels, self.min_size * self.min_size)
        if not 1 <= self.max_count <= 4:
            raise ConfigError(f"limits.max_count must be between 1 and 4, not {self.max_count}")


@dataclass(frozen=True)
class QueueSettings:
    per_user: int = 3  # jobs waiting per user
    total: int = 100  # jobs waiting in all
    batch_size: int = 4  # images per pipeline call when compatible jobs are batched
    priority_roles: tuple[str, ...] = ()  # role ids served before everyone else
    eta_window: int = 20  # recent jobs whose times feed the ETA
    batch_window: int = 8  # how far down the fair order the worker looks for jobs to batch
    model_patience: int = 3  # turns a job may be passed over for jobs of the loaded model
    initial_step_seconds: float = 0.1  # seconds per 512x512 image step until jobs were measured

    def __post_init__(self) -> None:
        _at_least("queue.per_user", self.per_user, 1)
        _at_least("queue.total", self.total, 1)
        _at_least("queue.batch_size", self.batch_size, 1)
        _at_least("queue.eta_window", self.eta_window, 1)
        _at_least("queue.batch_window", self.batch_window, 1)
        _at_least("queue.model_patience", self.model_patience, 0)
        if self.initial_step_seconds <= 0:
            raise ConfigError(f"queue.initial_step_seconds must be above 0, not {self.initial_step_seconds}")


@dataclass(frozen=True)
class QuotaSettings:
    daily_seconds: float = 600.0  # GPU seconds per user per day; 0 disables quotas
    role_seconds: dict[str, float] = field(default_factory=dict)  # role id -> seconds (largest wins)
    unlimited_roles: tuple[str, ...] = ()
    unlimited_users: tuple[str, ...] = ()
    reset_hour_utc: int = 0

    def __post_init__(self) -> None:
        _at_least("quota.daily_seconds", self.daily_seconds, 0)
        if not 0 <= self.reset_hour_utc <= 23:
            raise ConfigError(f"quota.reset_hour_utc must be an hour from 0 to 23, not {self.reset_hour_utc}")


CLUSTER_MODES = ("local", "ray")


@dataclass(frozen=True)
class ClusterSettings:
    """Where the GPU workers run: in this process (`local`), or as Ray actors (`ray`, docs/SCALING.md)."""

    mode: str = "local"  # local: the in-process worker | ray: GPU workers on a Ray cluster
    # ray: how many workers; 0: one per GPU of every node that joins (several machines). With no
    # `address`, a local Ray is started with this many worker slots (tests, the one-machine demo).
    workers: int = 1
    address: str = ""  # "": start a local Ray | "auto" or "HOST:PORT": join a running cluster
    name: str = "imagine"  # Ray namespace, actor names and PostgreSQL channel prefix
    # Seconds a job may wait for a worker that has its checkpoint loaded before another worker
    # switches to it (without a wait a job goes to whoever is free, reloading models all the time).
    model_wait: float = 30.0
    worker_threads: int = 0  # CPU threads of each worker's torch (0: Ray's default, one)
    heartbeat: float = 1.0  # seconds between checks of the workers and of the nodes in the cluster

    def __post_init__(self) -> None:
        _choice("cluster.mode", self.mode, CLUSTER_MODES)
        _at_least("cluster.workers", self.workers, 0)
        _at_least("cluster.model_wait", self.model_wait, 0)
        _at_least("cluster.worker_threads", self.worker_threads, 0)
        if self.heartbeat <= 0:
            raise ConfigError(f"cluster.heartbeat must be above 0, not {self.heartbeat}")
        if not self.name or not self.name.replace("_", "a").isalnum() or not self.name.isascii():
            raise ConfigError(f"cluster.name must be letters, digits and _, not {self.name!r}")


@dataclass(frozen=True)
class StoreSettings:
    """The job database: SQLite at `paths.database` unless `url` names a PostgreSQL server."""

    # "": SQLite | "postgresql://USER@HOST:PORT/DB": PostgreSQL (the password from PGPASSWORD or
    # ~/.pgpass, never from this file). The ray cluster mode needs PostgreSQL.
    url: str = ""

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"store.url must be empty (SQLite) or a postgresql:// URL, not {self.url!r}")
        if "@" in self.url and ":" in self.url.split("://", 1)[1].split("@", 1)[0]:
            raise ConfigError("store.url must not hold a password: set PGPASSWORD in the environment")

    @property
    def postgres(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True)
class StyleSettings:
    """Styles every server has (servers add their own with /style): named prompt and negative
    prompt pairs with a `{prompt}` placeholder (generation.requests.styles)."""

    file: Path = Path("models/styles.csv")  # the A1111 web UI's styles.csv, as it is; missing: none
    # Styles written in the config, on top of the file's: name -> {prompt = "...", negative_prompt = "..."}
    named: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, style in self.named.items():
            unknown = set(style) - {"prompt", "negative_prompt"}
            if unknown:
                raise ConfigError(
                    f"styles.named.{name} has unknown keys {', '.join(sorted(unknown))}; "
                    "a style has prompt and negative_prompt"
                )


@dataclass(frozen=True)
class VariantSettings:
    """Prompt variants (generation.requests.wildcards): {a|b}, __wildcard__ files, --permute, --repeat."""

    wildcards_dir: Path = Path("models/wildcards")  # __name__ reads name.txt (or .json/.yaml) here
    max_jobs: int = 8  # jobs one prompt may make: its --permute combinations times --repeat

    def __post_init__(self) -> None:
        _at_least("variants.max_jobs", self.max_jobs, 1)


IMAGE_SAFETY_MODES = ("off", "spoiler", "block")
# NudeNet's classes that flag an image (the "exposed" ones; faces, feet and covered parts do not).
FLAGGED_LABELS = (
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
)


@dataclass(frozen=True)
class SafetySettings:
    """The image check (generation.safety): each generated image classified before it is posted."""

    images: str = "off"  # off | spoiler | block: what servers that chose nothing get (/safety images)
    exempt_nsfw: bool = (
        True  # NSFW channels are not checked (a server can change it; a channel override wins)
    )
    threshold: float = 0.5  # a flagged label's score from this up flags the image
    labels: tuple[str, ...] = FLAGGED_LABELS
    detector_threads: int = 1  # CPU threads of the detector (0: onnxruntime's default, every core)
    timeout: float = 30.0  # seconds a job's check may take; longer counts as a failure

    def __post_init__(self) -> None:
        _choice("safety.images", self.images, IMAGE_SAFETY_MODES)
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"safety.threshold must be above 0 and at most 1, not {self.threshold}")
        if not self.labels:
            raise ConfigError("safety.labels must name at least one of the detector's classes")
        _at_least("safety.detector_threads", self.detector_threads, 0)
        if self.timeout <= 0:
            raise ConfigError(f"safety.timeout must be above 0, not {self.timeout}")


@dataclass(frozen=True)
class Settings:
    paths: PathSettings = field(default_factory=PathSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    defaults: DefaultSettings = field(default_factory=DefaultSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    quota: QuotaSettings = field(default_factory=QuotaSettings)
    styles: StyleSettings = field(default_factory=StyleSettings)
    variants: VariantSettings = field(default_factory=VariantSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    safety: SafetySettings = field(default_factory=SafetySettings)
    # Tables a front end types and validates itself (FRONT_END_SECTIONS), as read: section -> table.
    front_ends: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: Path | None = None  # the file these settings came from

    def __post_init__(self) -> None:
        if self.cluster.mode == "ray" and not self.store.postgres:
            raise ConfigError(
                'cluster.mode = "ray" needs a PostgreSQL job store: set store.url = "postgresql://..."'
            )

    def replace(self, **sections: Any) -> Settings:
        return dataclasses.replace(self, **sections)


# -- loading ---------------------------------------------------------------------------------

# [discord] belongs to the bot (bot/settings.py types it); generation only carries it, unchecked.
# So does [web], the bot's mask editor page (bot/web/settings.py).
FRONT_END_SECTIONS = ("discord", "web")


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read a config file (the shipped `config.toml` by default) into `Settings`."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return settings_from_dict(raw, base_dir=path.resolve().parent, source=path.resolve())


def settings_from_dict(raw: dict[str, Any], *, base_dir: Path, source: Path | None = None) -> Settings:
    sections: dict[str, Any] = {}
    front_ends: dict[str, dict[str, Any]] = {}
    hints = typing.get_type_hints(Settings)
    own = [f.name for f in dataclasses.fields(Settings) if f.name not in ("front_ends", "source")]
    allowed = [*own, *FRONT_END_SECTIONS]
    for name, value in raw.items():
        if name not in allowed:
            raise ConfigError(
                f"unknown section [{name}] in the config; the sections are {', '.join(allowed)}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table of settings")
        if name in FRONT_END_SECTIONS:
            front_ends[name] = value
        else:
            sections[name] = build_section(name, hints[name], value, base_dir)
    return Settings(**sections, front_ends=front_ends, source=source)


def build_section(section: str, cls: type, values: Mapping[str, Any], base_dir: Path) -> Any:
    """One table into its dataclass `cls`; a front end builds its own table with this too."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"unknown setting {section}.{key}; the settings of [{section}] are {', '.join(fields)}"
            )
        kwargs[key] = _coerce(f"{section}.{key}", hints[key], value, base_dir)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section}]: {exc}") from None


def _coerce(key: str, hint: Any, value: Any, base_dir: Path) -> Any:
    origin = typing.get_origin(hint)
    if hint is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a path (a string), not {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (base_dir / path).resolve()
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be a whole number, not {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, not {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, not {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f'{key} must be a list, like ["a", "b"], not {value!r}')
        item = typing.get_args(hint)[0]
        if item is not str:  # a list of numbers: each checked like a single one
            return tuple(_coerce(f"{key}[{i}]", item, v, base_dir) for i, v in enumerate(value))
        return tuple(str(v) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a table, not {value!r}")
        _, value_type = typing.get_args(hint)
        return {str(k): _coerce(f"{key}.{k}", value_type, v, base_dir) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        return value
    raise ConfigError(f"{key}: unsupported setting type {hint!r}")


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key} must be one of {', '.join(allowed)}, not {value!r}")


def _at_least(key: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise ConfigError(f"{key} must be at least {minimum}, not {value}")
