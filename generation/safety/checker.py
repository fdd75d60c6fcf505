"""`ImageChecker`: a job's images through a detector, on the checker's own thread.

The job service awaits `check` after a worker's result arrives and before the job is announced
done. The detector runs on one thread of its own: off the event loop (which keeps serving every
other job and the bot) and off the GPU worker's thread (which goes on with the next batch). One
thread is enough: a check is tens of milliseconds an image, and two at once would only compete for
the same cores. `check` never raises: a detector that fails, or takes longer than
`safety.timeout`, gives a check whose images all count as flagged, with the error recorded (after
a timeout the next checks run on a fresh thread, the stuck call left to finish on its own).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from generation.safety.check import ImageCheck, SafetyMode, Scores, decide, failed_check
from generation.safety.detector import Detector
from generation.settings import SafetySettings

log = logging.getLogger(__name__)


def default_detector(settings: SafetySettings) -> Detector:
    from generation.safety.nudenet_detector import NudeNetDetector

    return NudeNetDetector(threads=settings.detector_threads)


class ImageChecker:
    def __init__(self, settings: SafetySettings, detector: Detector | None = None) -> None:
        """`detector`: tests inject one; by default NudeNet, whose model loads on the first check
        (a bot whose servers check nothing never loads it)."""
        self.settings = settings
        self.detector = detector if detector is not None else default_detector(settings)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-check")

    async def check(self, mode: SafetyMode, pngs: Sequence[bytes]) -> ImageCheck:
        """Classify each image (PNG bytes) and decide under `mode`; never raises."""
        settings = self.settings
        try:
            loop = asyncio.get_running_loop()
            work = loop.run_in_executor(self._executor, self._classify_all, list(pngs))
            scores, seconds = await asyncio.wait_for(work, settings.timeout)
        except Exception as exc:  # the detector's failure must not lose the job: flag, say why
            error = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, TimeoutError):
                self._replace_thread()
            log.warning("the image check failed (%s); its %d images count as flagged", error, len(pngs))
            return failed_check(
                mode,
                len(pngs),
                error[:300],
                threshold=settings.threshold,
                labels=settings.labels,
                detector=self._name(),
            )
        return decide(
            mode,
            scores,
            threshold=settings.threshold,
            labels=settings.labels,
            detector=self._name(),
            seconds=seconds,
        )

    def _classify_all(self, pngs: list[bytes]) -> tuple[list[Scores], float]:
        detector = self.detector
        started = time.perf_counter()
        scores = [detector.classify(png) for png in pngs]
        return scores, time.perf_counter() - started

    def _replace_thread(self) -> None:
        """Leave a stuck detector call on its thread and check the next jobs on a fresh one, so
        one hung image does not time out every job queued behind it."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-check")

    def _name(self) -> str:
        return str(getattr(self.detector, "name", type(self.detector).__name__))

    def close(self) -> None:
        """Let the thread go (a check still running finishes on its own)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
