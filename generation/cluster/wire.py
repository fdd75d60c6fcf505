"""What travels between the dispatcher and bot processes over PostgreSQL, as JSON.

Job events go out as NOTIFY payloads on the cluster's `events` channel: the event's small fields
only. A PostgreSQL payload holds at most 8,000 bytes, so nothing large rides along: a preview
waits in the `previews` table (the payload says there is one), and the job's row is read back from
the `jobs` table by whoever needs it (the events that carry a job). The dispatcher's view of the
queue and the workers (`Snapshot`) is a row of the `state` table, announced the same way.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any

from generation.jobs.types import EventKind, JobEvent
from generation.problems import Problem
from generation.workers.protocol import WorkerInfo, WorkerState

MAX_PAYLOAD = 7900  # bytes; PostgreSQL refuses NOTIFY payloads of 8,000 and more
SNAPSHOT_KEY = "cluster.snapshot"  # the state row holding the dispatcher's Snapshot
PREVIEWS_KEY = "cluster.previews"  # true once a front end watches previews: workers render them
# Events whose receivers want the job's row (read from the store, not sent)
WITH_JOB = frozenset(
    {
        EventKind.QUEUED,
        EventKind.RESUMED,
        EventKind.STARTED,
        EventKind.DONE,
        EventKind.FAILED,
        EventKind.CANCELLED,
    }
)


def event_payload(event: JobEvent, *, preview_stored: bool = False) -> str:
    """The event as a NOTIFY payload (well under MAX_PAYLOAD: ids, numbers, a short problem)."""
    data: dict[str, Any] = {"j": event.job_id, "k": event.kind.value}
    for key, value in (("p", event.position), ("e", event.eta), ("s", event.step), ("t", event.total)):
        if value is not None:
            data[key] = round(value, 3) if isinstance(value, float) else value
    if preview_stored:
        data["v"] = 1
    if event.problem is not None and event.kind not in WITH_JOB:  # terminal ones: the row has it
        data["x"] = event.problem.to_dict()
    text = json.dumps(data, separators=(",", ":"))
    if len(text.encode()) > MAX_PAYLOAD:
        data.pop("x", None)
        text = json.dumps(data, separators=(",", ":"))
    return text


@dataclass(frozen=True)
class WireEvent:
    event: JobEvent
    has_preview: bool


def event_from_payload(text: str) -> WireEvent:
    data = json.loads(text)
    problem = Problem.from_dict(data["x"]) if "x" in data else None
    event = JobEvent(
        data["j"],
        EventKind(data["k"]),
        position=data.get("p"),
        eta=data.get("e"),
        step=data.get("s"),
        total=data.get("t"),
        problem=problem,
    )
    return WireEvent(event, bool(data.get("v")))


def is_state_payload(text: str) -> str | None:
    """The state key a payload announces (a snapshot), or None for an event."""
    if text.startswith('{"state"'):
        return json.loads(text)["state"]
    return None


# -- the dispatcher's view ------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What a bot process shows without asking the dispatcher: the queue in serving order (job id,
    seconds until it starts), the running jobs, the pause, the models and the workers."""

    queue: tuple[tuple[str, float], ...] = ()
    running: tuple[str, ...] = ()
    paused: bool = False
    active_model: str | None = None
    models: tuple[str, ...] = ()
    workers: tuple[WorkerInfo, ...] = ()
    epoch: str = ""  # the dispatcher's start that wrote it
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": [[job_id, round(eta, 3)] for job_id, eta in self.queue],
            "running": list(self.running),
            "paused": self.paused,
            "active_model": self.active_model,
            "models": list(self.models),
            "workers": [worker_to_dict(w) for w in self.workers],
            "epoch": self.epoch,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Snapshot | None:
        if not data:
            return None
        return cls(
            queue=tuple((str(job_id), float(eta)) for job_id, eta in data.get("queue", ())),
            running=tuple(data.get("running", ())),
            paused=bool(data.get("paused", False)),
            active_model=data.get("active_model"),
            models=tuple(data.get("models", ())),
            workers=tuple(worker_from_dict(w) for w in data.get("workers", ())),
            epoch=str(data.get("epoch", "")),
            at=float(data.get("at", 0.0)),
        )

    def position(self, job_id: str) -> tuple[int, float] | None:
        for i, (queued, eta) in enumerate(self.queue, 1):
            if queued == job_id:
                return i, eta
        return None


def worker_to_dict(worker: WorkerInfo) -> dict[str, Any]:
    data = dataclasses.asdict(worker)
    data["state"] = worker.state.value
    data["jobs"] = list(worker.jobs)
    data["models"] = list(worker.models)
    return data


def worker_from_dict(data: dict[str, Any]) -> WorkerInfo:
    values = dict(data)
    values["state"] = WorkerState(values["state"])
    values["jobs"] = tuple(values.get("jobs", ()))
    values["models"] = tuple(values.get("models", ()))
    known = {f.name for f in dataclasses.fields(WorkerInfo)}
    return WorkerInfo(**{k: v for k, v in values.items() if k in known})
