"""The fair queue alone: round-robin order, priority classes, batching choices, model grouping."""

from __future__ import annotations

from generation.jobs.fairqueue import NORMAL, PRIORITY, FairQueue, QueueItem


def item(job_id: str, user: int, *, model: str = "m", key: object = "k", images: int = 1, **kw) -> QueueItem:
    return QueueItem(job_id, user, model=model, batch_key=(model, key), images=images, **kw)


def drain(queue: FairQueue) -> list[str]:
    served = []
    while len(queue):
        served += [i.job_id for i in queue.take_batch()]
    return served


def test_ten_jobs_cannot_delay_a_single_job_by_more_than_one():
    queue = FairQueue()
    for n in range(10):
        queue.push(item(f"a{n}", 1))
    queue.push(item("b0", 2))
    order = [i.job_id for i in queue.order()]
    assert order.index("b0") <= 1
    assert drain(queue).index("b0") <= 1


def test_a_newcomer_after_the_first_turn_goes_next():
    queue = FairQueue()
    for n in range(10):
        queue.push(item(f"a{n}", 1))
    assert [i.job_id for i in queue.take_batch()] == ["a0"]  # a0 runs
    queue.push(item("b0", 2))
    assert queue.peek().job_id == "b0"


def test_round_robin_among_three_users_and_order_matches_serving():
    queue = FairQueue()
    for n in range(3):
        for user in (1, 2, 3):
            queue.push(item(f"u{user}-{n}", user))
    predicted = [i.job_id for i in queue.order()]
    assert predicted[:3] == ["u1-0", "u2-0", "u3-0"]
    assert drain(queue) == predicted
    assert queue.position("nothing") is None


def test_idle_users_cannot_save_up_turns():
    queue = FairQueue()
    queue.push(item("b0", 2))
    drain(queue)  # b was served once and went idle
    for n in range(5):
        queue.push(item(f"a{n}", 1))
    for _ in range(3):
        queue.take_batch()
    queue.push(item("b1", 2))
    queue.push(item("b2", 2))
    order = [i.job_id for i in queue.order()]
    assert order[:4] == ["b1", "a3", "b2", "a4"]


def test_priority_class_first_then_round_robin():
    queue = FairQueue()
    queue.push(item("a0", 1))
    queue.push(item("a1", 1))
    queue.push(item("p0", 9, priority=PRIORITY))
    queue.push(item("p1", 9, priority=PRIORITY))
    queue.push(item("b0", 2, priority=NORMAL))
    assert [i.job_id for i in queue.order()] == ["p0", "p1", "a0", "b0", "a1"]


def test_remove_and_positions():
    queue = FairQueue()
    for n in range(3):
        queue.push(item(f"a{n}", 1))
    queue.push(item("b0", 2))
    assert queue.position("b0") == 2
    assert queue.remove("a0").job_id == "a0"
    assert queue.remove("a0") is None
    assert queue.position("b0") == 2  # a1 took a0's place (same turn)
    assert queue.user_count(1) == 2
    assert "a1" in queue and "a0" not in queue


def test_batches_compatible_jobs_in_fair_order_up_to_batch_size():
    queue = FairQueue()
    queue.push(item("a0", 1, key="x"))
    queue.push(item("a1", 1, key="x"))
    queue.push(item("b0", 2, key="y"))
    queue.push(item("c0", 3, key="x", images=2))
    queue.push(item("d0", 4, key="x", images=2))
    batch = [i.job_id for i in queue.take_batch(batch_size=4)]
    assert batch == ["a0", "c0", "a1"]  # fair order a0, b0, c0, d0, a1...; d0 would overflow
    assert queue.peek().job_id == "b0"


def test_batching_only_looks_within_the_window_and_only_txt2img():
    queue = FairQueue()
    for user in range(1, 6):
        queue.push(item(f"u{user}", user, key="x" if user in (1, 5) else f"k{user}"))
    assert [i.job_id for i in queue.plan_batch(batch_size=4, scan=3)] == ["u1"]
    assert [i.job_id for i in queue.plan_batch(batch_size=4, scan=8)] == ["u1", "u5"]
    queue = FairQueue()
    queue.push(item("a", 1, batchable=False))
    queue.push(item("b", 2, batchable=False))
    assert [i.job_id for i in queue.plan_batch(batch_size=4)] == ["a"]


def test_loaded_model_goes_first_until_patience_runs_out():
    queue = FairQueue()
    queue.push(item("x0", 1, model="other"))
    for n in range(6):
        queue.push(item(f"m{n}", 10 + n, model="loaded"))
    served = []
    for _ in range(4):
        served += [i.job_id for i in queue.take_batch(loaded_model="loaded", patience=2)]
    assert served == ["m0", "m1", "x0", "m2"]
    # with no loaded model (or patience 0) plain fair order
    queue = FairQueue()
    queue.push(item("x0", 1, model="other"))
    queue.push(item("m0", 2, model="loaded"))
    assert queue.take_batch(loaded_model="loaded", patience=0)[0].job_id == "x0"


def test_edits_batch_only_where_the_engine_runs_them_in_one_call():
    from generation.requests.request import Edit, GenerationRequest, Mode, Pan

    def queued(*requests):
        queue = FairQueue()
        for n, request in enumerate(requests):
            queue.push(QueueItem.for_request(f"j{n}", n + 1, request))
        return [i.job_id for i in queue.plan_batch(batch_size=8)]

    base = GenerationRequest("p", width=128, height=128, steps=4, count=1, seed=1, source_image="s")
    zoom = base.replace(mode=Mode.OUTPAINT, width=256, height=256, strength=0.9, edit=Edit(zoom=2.0))
    region = base.replace(mode=Mode.INPAINT, strength=1.0, edit=Edit(mask="m1"))
    # two users' zooms of different pictures: one canvas, one call
    assert queued(zoom, zoom.replace(source_image="t", prompt="q")) == ["j0", "j1"]
    # whole-picture inpaints with different masks share a call too (masks are per image)
    assert queued(region, region.replace(edit=Edit(mask="m2"))) == ["j0", "j1"]
    # but not a pan with a zoom, nor a zoom of another factor, nor other strengths
    pan = zoom.replace(width=192, height=128, edit=Edit(pan=Pan.LEFT))
    assert queued(zoom, pan) == ["j0"]
    assert queued(zoom, zoom.replace(edit=Edit(zoom=1.5))) == ["j0"]
    assert queued(region, region.replace(strength=0.5)) == ["j0"]
    # "only masked" boxes differ per mask: each runs alone, so none waits for another
    only = region.replace(edit=Edit(mask="m1", only_masked=True))
    assert queued(only, only.replace(edit=Edit(mask="m2", only_masked=True))) == ["j0"]
    # img2img stays one job a call
    vary = base.replace(mode=Mode.IMG2IMG, strength=0.5)
    assert queued(vary, vary) == ["j0"]
