"""Which jobs a free worker takes (generation.cluster.affinity), and where workers go
(generation.cluster.pool.plan_slots): pure functions, no Ray."""

from __future__ import annotations

from generation.cluster.affinity import WorkerView, choose_batch
from generation.cluster.pool import NodeView, plan_slots
from generation.jobs.fairqueue import FairQueue, QueueItem
from tests.helpers.service_env import request


def queue_of(*jobs: tuple[str, int, str]) -> list[QueueItem]:
    """(job id, user, model) in submit order -> the fair order."""
    fair = FairQueue()
    for job_id, user, model in jobs:
        fair.push(QueueItem.for_request(job_id, user, request(model=model)))
    return fair.order()


def ids(items) -> list[str]:
    return [item.job_id for item in items]


def never(item) -> bool:
    return False


def choose(order, worker, others, urgent=never, batch_size=1):
    return ids(choose_batch(order, worker, others, urgent=urgent, batch_size=batch_size, scan=8))


def test_a_worker_takes_its_own_checkpoints_jobs_and_leaves_the_others_waiting():
    order = queue_of(("b1", 1, "b"), ("a1", 2, "a"), ("b2", 1, "b"), ("a2", 2, "a"))
    a, b = WorkerView("wa", "a"), WorkerView("wb", "b")
    assert choose(order, a, [b]) == ["a1"]  # b1 comes first in fair order, but b holds its model
    assert choose(order, b, [a]) == ["b1"]
    assert choose(order, a, [b], batch_size=2) == ["a1", "a2"]  # batch mates: the same checkpoint


def test_a_model_switch_only_when_a_job_waited_too_long_or_nobody_holds_its_model():
    order = queue_of(("b1", 1, "b"), ("c1", 2, "c"))
    a, b = WorkerView("wa", "a"), WorkerView("wb", "b")
    assert choose(order, a, [b]) == ["c1"]  # nobody holds c: a free worker loads it
    assert choose(order, a, [b, WorkerView("empty", None)]) == []  # ...unless an empty one can
    assert choose(order, WorkerView("empty", None), [a, b]) == ["b1"]  # an empty worker evicts nothing
    waited = {"b1"}
    assert choose(order, a, [b], urgent=lambda item: item.job_id in waited) == ["b1"]  # past the bound


def test_a_worker_never_takes_a_model_it_cannot_load():
    order = queue_of(("c1", 1, "c"), ("a1", 2, "a"))
    only_a = WorkerView("wa", None, frozenset({"a"}))
    assert choose(order, only_a, [], urgent=lambda item: True) == ["a1"]
    assert choose(queue_of(("c1", 1, "c")), only_a, []) == []


def test_workers_go_one_per_gpu_else_per_slot_and_at_most_the_configured_number():
    gpu = NodeView("n2" * 20, "10.0.0.2", gpus=2, slots=0)
    cpu = NodeView("n1" * 20, "10.0.0.1", gpus=0, slots=1)
    none = NodeView("n3" * 20, "10.0.0.3", gpus=0, slots=0)  # the bot's head node, say
    slots = plan_slots([gpu, cpu, none])
    assert [(node.address, i) for node, i in slots] == [("10.0.0.2", 0), ("10.0.0.2", 1), ("10.0.0.1", 0)]
    # at most the configured number: GPUs first
    assert [(node.address, i) for node, i in plan_slots([cpu, gpu, none], 2)] == [
        ("10.0.0.2", 0),
        ("10.0.0.2", 1),
    ]
    assert [(node.address, i) for node, i in plan_slots([cpu, none], 2)] == [("10.0.0.1", 0)]
    assert plan_slots([gpu], 0) == plan_slots([gpu, none])  # a node that leaves takes its slots along
