"""config.toml loads into typed settings; mistakes are refused with the key and what is allowed."""

from pathlib import Path

import pytest

from generation.settings import DEFAULT_CONFIG, ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_shipped_config_loads():
    settings = load_settings(DEFAULT_CONFIG)
    assert settings.models.default == "shapes"
    assert settings.paths.models_dir == DEFAULT_CONFIG.parent / "models"
    assert settings.queue.per_user == 3 and settings.queue.total == 100


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    settings = load_settings(write(tmp_path, '[paths]\nmodels_dir = "m"\ndatabase = "/abs/db.sqlite3"\n'))
    assert settings.paths.models_dir == tmp_path / "m"
    assert settings.paths.database == Path("/abs/db.sqlite3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nope]\nx = 1\n", "unknown section [nope]"),
        ("[queue]\nper_usr = 3\n", "unknown setting queue.per_usr"),
        ('[queue]\nper_user = "3"\n', "queue.per_user must be a whole number"),
        ("[queue]\nper_user = 0\n", "queue.per_user must be at least 1"),
        ('[models]\ndevice = "tpu"\n', "models.device must be one of auto, cpu, cuda, mps"),
        ('[models]\ndtype = "int8"\n', "models.dtype must be one of"),
        ("[models]\nattention_slicing = 1\n", "models.attention_slicing must be true or false"),
        ("[quota]\nreset_hour_utc = 24\n", "quota.reset_hour_utc must be an hour from 0 to 23"),
        ("[limits]\nmax_count = 5\n", "limits.max_count must be between 1 and 4"),
        ("[paths\n", "is not valid TOML"),
    ],
)
def test_mistakes_name_the_key_and_what_is_allowed(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_settings(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_the_discord_table_is_carried_as_read_for_the_bot(tmp_path):
    # bot/settings.py types and checks it (tests/unit/bot/test_settings.py)
    settings = load_settings(write(tmp_path, '[discord]\nadmin_roles = "123"\nprogress_interval = 1\n'))
    assert settings.front_ends == {"discord": {"admin_roles": "123", "progress_interval": 1}}
    with pytest.raises(
        ConfigError,
        match=(
            "the sections are paths, models, defaults, limits, queue, quota, styles, variants, "
            "cluster, store, safety, discord"
        ),
    ):
        load_settings(write(tmp_path, "[discordd]\n"))


def test_tables_of_numbers_are_coerced(tmp_path):
    settings = load_settings(write(tmp_path, '[quota]\nrole_seconds = { "123" = 60, "456" = 1.5 }\n'))
    assert settings.quota.role_seconds == {"123": 60.0, "456": 1.5}


def test_gpu_fast_path_settings(tmp_path):
    text = (
        '[paths]\ncache_dir = "c"\n'
        '[models]\ncompile = "max-autotune"\ncompile_buckets = [1, 4]\nattention = "classic"\n'
        'vae_upcast = "never"\nchannels_last = false\nbatch_pixels = 0\n'
    )
    settings = load_settings(write(tmp_path, text))
    assert settings.paths.cache_dir == tmp_path / "c"
    models = settings.models
    assert models.compile == "max-autotune" and models.compile_buckets == (1, 4)
    assert models.attention == "classic" and models.vae_upcast == "never"
    assert not models.channels_last and models.batch_pixels == 0
    shipped = load_settings(DEFAULT_CONFIG).models
    assert shipped.compile == "off" and shipped.attention == "sdpa" and shipped.tf32


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[models]\ncompile = "fast"\n', "models.compile must be one of off, default, max-autotune"),
        ('[models]\nattention = "flash"\n', "models.attention must be one of sdpa, classic"),
        ('[models]\nvae_upcast = "always"\n', "models.vae_upcast must be one of auto, never"),
        ("[models]\ncompile_buckets = [1, 0]\n", "models.compile_buckets must list image counts"),
        ("[models]\ncompile_buckets = []\n", "models.compile_buckets must list image counts"),
        ('[models]\ncompile_buckets = [1, "2"]\n', r"models.compile_buckets\[1\] must be a whole number"),
        ("[models]\nbatch_pixels = -1\n", "models.batch_pixels must be at least 0"),
    ],
)
def test_gpu_setting_mistakes_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))
