"""Wording: problems by code, job messages, durations."""

from __future__ import annotations

from bot.ui import text
from generation.problems import Problem
from generation.requests.followups import NoSuchImage
from tests.helpers.jobs import make_job


def test_follow_up_problems_are_worded_as_before():
    missing = NoSuchImage("request.no_such_image", job_id="abc", count=4, number=8)
    assert text.describe(missing) == "Job `abc` has images 1 to 4, not 8."
    none = NoSuchImage("request.job_has_no_images", job_id="abc", status="failed")
    assert text.describe(none) == "Job `abc` has no images (it is failed)."
    assert text.describe(Problem("no_such_code")) == text.UNKNOWN_PROBLEM


def test_durations():
    assert [text.format_seconds(s) for s in (None, -3, 59.4, 61, 3599, 3600, 7325)] == [
        "?",
        "0 s",
        "59 s",
        "1 min 01 s",
        "59 min 59 s",
        "1 h 00 min",
        "2 h 02 min",
    ]


def test_job_messages():
    job = make_job()
    assert text.result_text(job) == ("**a red circle** - <@11>\nSeed `100` · Model `tiny` · Job `abcdefgh23`")
    queued = text.queued_text(job.request, 11, 2, 75)
    assert queued.endswith("Queued: #2 in the queue, starts in about 1 min 15 s")
    assert text.running_text(job.request, 11, 5, 20, 3).endswith(
        "Generating: step 5/20 (25 %), about 3 s left"
    )
    assert text.with_mention("hello", 11) == "<@11> hello" and text.with_mention("<@11> x", 11) == "<@11> x"
    assert text.short_prompt("a *bold* `x`  y", 10) == "a \\*bold\\…"
