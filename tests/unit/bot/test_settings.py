"""The [discord] table: typed and checked by the bot, with messages that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DiscordSettings, discord_token
from generation.settings import DEFAULT_CONFIG, ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_shipped_discord_table_loads():
    settings = DiscordSettings.from_settings(load_settings(DEFAULT_CONFIG))
    assert settings == DiscordSettings()  # the shipped file says what the defaults say
    assert DiscordSettings.from_settings(load_settings(DEFAULT_CONFIG)).sync_commands


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[discord]\nadmin_roles = "123"\n', "discord.admin_roles must be a list"),
        ("[discord]\nadmin_rolez = []\n", "unknown setting discord.admin_rolez"),
        ("[discord]\nprogress_interval = 0.01\n", "discord.progress_interval must be at least 0.1"),
        ("[discord]\nmax_upscale_depth = -1\n", "discord.max_upscale_depth must be at least 0"),
        ('[discord]\nsync_commands = "yes"\n', "discord.sync_commands must be true or false"),
    ],
)
def test_mistakes_name_the_key_and_what_is_allowed(tmp_path, text, message):
    settings = load_settings(write(tmp_path, text))  # generation carries the table unchecked
    with pytest.raises(ConfigError, match=message):
        DiscordSettings.from_settings(settings)


def test_environment_overrides_the_discord_urls_and_supplies_the_token(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:9/api/v10")
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "ws://127.0.0.1:9/gateway")
    monkeypatch.setenv("DISCORD_TOKEN", "secret")
    settings = load_settings(write(tmp_path, '[discord]\napi_base = "https://proxy.example/api/v10"\n'))
    discord = DiscordSettings.from_settings(settings, env=True)
    assert discord.api_base == "http://127.0.0.1:9/api/v10"
    assert discord.gateway_url == "ws://127.0.0.1:9/gateway"
    assert discord_token() == "secret"
    assert DiscordSettings.from_settings(settings).api_base == "https://proxy.example/api/v10"  # env off
    monkeypatch.delenv("DISCORD_TOKEN")
    assert discord_token() is None


def test_python_m_bot_names_the_bad_key(tmp_path):
    import subprocess
    import sys

    config = write(tmp_path, '[discord]\nadmin_roles = "123"\n')
    env = {"PATH": "/usr/bin:/bin", "DISCORD_TOKEN": "x", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config)],
        cwd=Path(__file__).resolve().parents[3],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "config: discord.admin_roles must be a list" in done.stderr
