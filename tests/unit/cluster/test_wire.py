"""Events and snapshots as they travel over PostgreSQL (generation.cluster.wire)."""

from __future__ import annotations

from generation.cluster import wire
from generation.jobs.types import EventKind, JobEvent
from generation.problems import Problem
from generation.workers.protocol import WorkerInfo, WorkerState


def test_events_round_trip_without_what_the_tables_hold():
    progress = JobEvent("j1", EventKind.PROGRESS, step=3, total=20, eta=1.23456, preview=b"png" * 5000)
    wired = wire.event_from_payload(wire.event_payload(progress, preview_stored=True))
    assert wired.has_preview and wired.event == JobEvent(
        "j1", EventKind.PROGRESS, step=3, total=20, eta=1.235
    )
    position = wire.event_from_payload(
        wire.event_payload(JobEvent("j2", EventKind.POSITION, position=4, eta=9.0))
    )
    assert position.event.position == 4 and not position.has_preview
    failed = JobEvent("j3", EventKind.FAILED, problem=Problem("out_of_memory"))
    assert wire.event_from_payload(wire.event_payload(failed)).event.problem is None  # read from the row


def test_a_payload_stays_under_postgres_limit_whatever_the_problem_says():
    huge = JobEvent("j1", EventKind.PROGRESS, problem=Problem("odd", detail="x" * 20_000))
    payload = wire.event_payload(huge)
    assert len(payload.encode()) < wire.MAX_PAYLOAD and wire.event_from_payload(payload).event.job_id == "j1"


def test_snapshots_round_trip():
    worker = WorkerInfo(
        "w1", "10.0.0.2", "cuda:0", "tiny", WorkerState.BUSY, ("j1",), 7, "abc", ("tiny", "b")
    )
    snapshot = wire.Snapshot(
        queue=(("j2", 1.5), ("j3", 4.0)), running=("j1",), paused=True, active_model="tiny", workers=(worker,)
    )
    again = wire.Snapshot.from_dict(snapshot.to_dict())
    assert again == snapshot
    assert again.position("j3") == (2, 4.0) and again.position("j1") is None
    assert wire.is_state_payload('{"state":"cluster.snapshot"}') == wire.SNAPSHOT_KEY
    assert wire.is_state_payload(wire.event_payload(JobEvent("j1", EventKind.DONE))) is None
