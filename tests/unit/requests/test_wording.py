"""Each problem generation.requests raises has its sentence in bot/ui/text.py, and no sentence is left
over for a problem nothing raises."""

import re
from pathlib import Path

import generation.requests
from bot.ui.text import PROBLEMS

CODE = re.compile(r'"((?:request|prompt)\.[a-z0-9_]+)"')


def test_every_requests_problem_is_worded_and_every_requests_wording_is_used():
    sources = Path(generation.requests.__file__).parent.glob("*.py")
    raised = {code for path in sources for code in CODE.findall(path.read_text(encoding="utf-8"))}
    worded = {code for code in PROBLEMS if code.startswith(("request.", "prompt."))}
    assert len(raised) >= 30
    assert raised == worded
