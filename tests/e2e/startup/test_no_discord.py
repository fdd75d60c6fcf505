"""`python -m bot` where Discord cannot be reached (no network, a wrong DISCORD_API_BASE) stops in
one line that says where it tried and what to check, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def closed_port() -> int:
    """A local port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_discord_stops_the_start_with_one_line(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[paths]\ndatabase = "{tmp_path / "bot.sqlite3"}"\nmodels_dir = "{tmp_path / "models"}"\n'
        f'outputs_dir = "{tmp_path / "outputs"}"\n'
    )
    port = closed_port()
    env = {
        **os.environ,
        "DISCORD_TOKEN": "not.a.token",
        "DISCORD_API_BASE": f"http://127.0.0.1:{port}/api/v10",
        "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{port}/gateway",
        "HF_HUB_OFFLINE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("cannot start: Discord cannot be reached at http://127.0.0.1:"), last
    assert f":{port}/api/v10" in last and "DISCORD_API_BASE" in last, last
