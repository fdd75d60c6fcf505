"""Estimates: work units of a request, the measured rate, when waiting jobs start (on one or more workers)."""

from __future__ import annotations

from generation.jobs.estimates import RateEstimator, estimate_units, etas
from generation.jobs.fairqueue import FairQueue, QueueItem
from generation.requests.request import GenerationRequest, HiresFix, Mode


def test_estimates_and_etas():
    base = GenerationRequest("p", width=512, height=512, steps=20, count=1, seed=1)
    assert estimate_units(base) == 22
    assert estimate_units(base.replace(count=4)) == 88
    assert estimate_units(base.replace(mode=Mode.IMG2IMG, strength=0.5, source_image="x")) == 12
    assert estimate_units(base.replace(hires=HiresFix(2.0, 0.5))) > 22 * 3
    small = estimate_units(base.replace(width=64, height=64))
    assert small < 1
    rates = RateEstimator(window=2, default=0.5)
    assert rates.rate == 0.5 and not rates.measured
    rates.add(10, 100)
    rates.add(30, 100)
    assert rates.rate == 0.2
    rates.add(2, 100)  # the window keeps the last two
    assert rates.rate == 0.16
    queue = FairQueue()
    queue.push(QueueItem.for_request("a", 1, base))
    queue.push(QueueItem.for_request("b", 2, base.replace(count=2)))
    assert etas(queue.order(), 1.0, busy_for=5) == {"a": 5, "b": 27}


def test_etas_spread_the_work_over_the_workers():
    order = [QueueItem(f"j{n}", n, units=10) for n in range(5)]
    # one worker: each job waits for everything ahead of it
    assert etas(order, 1.0, [4.0]) == {"j0": 4, "j1": 14, "j2": 24, "j3": 34, "j4": 44}
    # two workers, one free now, one free in 4 s: jobs go to whichever frees up first
    assert etas(order, 1.0, [0.0, 4.0]) == {"j0": 0, "j1": 4, "j2": 10, "j3": 14, "j4": 20}
    # N idle workers start N jobs at once; the rest wait about the work ahead divided over them
    assert etas(order, 1.0, [0.0] * 3) == {"j0": 0, "j1": 0, "j2": 0, "j3": 10, "j4": 10}
    assert etas(order, 1.0, []) == etas(order, 1.0, 0.0)  # no worker listed: as one idle worker


def test_edits_count_the_area_they_generate_at_their_strength():
    from generation.requests.request import Edit, Pan

    base = GenerationRequest("p", width=512, height=512, steps=20, count=1, seed=1, source_image="x")
    img2img = estimate_units(base.replace(mode=Mode.IMG2IMG, strength=0.5))
    inpaint = base.replace(mode=Mode.INPAINT, strength=0.5, edit=Edit(mask="m"))
    assert estimate_units(inpaint) == img2img == 12  # an img2img pass at its strength over the picture
    assert estimate_units(inpaint.replace(strength=1.0)) == 22  # a region repainted from noise
    assert estimate_units(inpaint.replace(count=4)) == 4 * 12
    # "only masked" generates about the model's native area, whatever the picture's size
    only = inpaint.replace(width=1024, height=1024, edit=Edit(mask="m", only_masked=True))
    assert estimate_units(only) == 12 and estimate_units(only.replace(edit=Edit(mask="m"))) == 48
    # an outpaint generates its whole canvas: Zoom Out 2x of 512x512 is four times the work
    zoom = base.replace(mode=Mode.OUTPAINT, width=1024, height=1024, strength=0.9, edit=Edit(zoom=2.0))
    assert estimate_units(zoom) == (18 + 2) * 4
    pan = base.replace(mode=Mode.OUTPAINT, width=768, height=512, strength=0.9, edit=Edit(pan=Pan.LEFT))
    assert estimate_units(pan) == (18 + 2) * 1.5
