"""Importing the bot keeps torch out (the bot talks to the service; the service loads torch later)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_bot_leaves_torch_out():
    code = (
        "import sys, bot, bot.__main__, bot.app, bot.demo, bot.cogs.imagine, bot.cogs.vary, bot.cogs.show, "
        "bot.cogs.admin, bot.buttons, bot.delivery, bot.submit, bot.sync, bot.ui.views, bot.ui.uploads; "
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
