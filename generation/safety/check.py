"""What the image check decides and records: a job's `ImageCheck` (per image: scores, flagged).

A front end hands the job's mode in its meta (`meta_for(mode)`, read back with `mode_of`); the job
service classifies the images and records the `ImageCheck` with the job (`Job.image_check`, a
column of its own). The check is plain data in JSON (`to_dict`/`from_dict`), like a Problem.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

META_KEY = "image_safety"  # the job-meta key a front end puts the job's mode under
SCORE_DIGITS = 3  # scores are kept rounded: the JSON stays small and reads well


class SafetyMode(enum.StrEnum):
    OFF = "off"  # not checked
    SPOILER = "spoiler"  # flagged images are posted as spoilers, with a note
    BLOCK = "block"  # flagged images are replaced with a placeholder, and the user told why


@dataclass(frozen=True)
class Scores:
    """One image's classification: the detector's highest score per class it found (0..1)."""

    labels: Mapping[str, float] = field(default_factory=dict)

    def of(self, label: str) -> float:
        return float(self.labels.get(label, 0.0))


@dataclass(frozen=True)
class ImageVerdict:
    index: int
    flagged: bool
    scores: Mapping[str, float] = field(default_factory=dict)  # every class found, rounded

    def top(self, labels: Iterable[str] | None = None, n: int = 3) -> list[tuple[str, float]]:
        """The highest scores, of `labels` only when given."""
        wanted = None if labels is None else set(labels)
        found = [(k, v) for k, v in self.scores.items() if wanted is None or k in wanted]
        return sorted(found, key=lambda kv: (-kv[1], kv[0]))[:n]


@dataclass(frozen=True)
class ImageCheck:
    """A job's image check: the mode it ran under, each image's verdict, and a failure if any
    (then every image counts as flagged: the safe default)."""

    mode: SafetyMode
    detector: str
    threshold: float
    labels: tuple[str, ...]
    images: tuple[ImageVerdict, ...] = ()
    error: str | None = None  # what went wrong (technical; a front end words it)
    seconds: float = 0.0  # the detector's time for the job's images

    @property
    def flagged(self) -> tuple[int, ...]:
        """The indexes of the images flagged (all of them when the check failed)."""
        return tuple(v.index for v in self.images if v.flagged)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def action(self) -> SafetyMode:
        """What posting does: the mode when an image was flagged, else nothing (OFF)."""
        return self.mode if self.flagged else SafetyMode.OFF

    def blocked(self, index: int) -> bool:
        return self.mode is SafetyMode.BLOCK and index in self.flagged

    @property
    def blocked_indexes(self) -> frozenset[int]:
        return frozenset(self.flagged) if self.mode is SafetyMode.BLOCK else frozenset()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mode": self.mode.value,
            "detector": self.detector,
            "threshold": self.threshold,
            "labels": list(self.labels),
            "images": [
                {"index": v.index, "flagged": v.flagged, "scores": dict(v.scores)} for v in self.images
            ],
            "seconds": self.seconds,
        }
        if self.error is not None:
            data["error"] = self.error
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageCheck:
        return cls(
            mode=SafetyMode(data["mode"]),
            detector=str(data.get("detector", "")),
            threshold=float(data.get("threshold", 0.0)),
            labels=tuple(data.get("labels", ())),
            images=tuple(
                ImageVerdict(
                    int(v["index"]), bool(v["flagged"]), {str(k): float(s) for k, s in v["scores"].items()}
                )
                for v in data.get("images", ())
            ),
            error=data.get("error"),
            seconds=float(data.get("seconds", 0.0)),
        )


def decide(
    mode: SafetyMode,
    scores: Sequence[Scores],
    *,
    threshold: float,
    labels: Sequence[str],
    detector: str,
    seconds: float = 0.0,
) -> ImageCheck:
    """Each image flagged when one of `labels` scores `threshold` or more."""
    verdicts = tuple(
        ImageVerdict(
            i,
            any(s.of(label) >= threshold for label in labels),
            {k: round(float(v), SCORE_DIGITS) for k, v in s.labels.items()},
        )
        for i, s in enumerate(scores)
    )
    return ImageCheck(mode, detector, threshold, tuple(labels), verdicts, seconds=round(seconds, 4))


def failed_check(
    mode: SafetyMode, count: int, error: str, *, threshold: float, labels: Sequence[str], detector: str
) -> ImageCheck:
    """The check of `count` images that could not be classified: every one counts as flagged."""
    verdicts = tuple(ImageVerdict(i, True) for i in range(count))
    return ImageCheck(mode, detector, threshold, tuple(labels), verdicts, error=error)


def meta_for(mode: SafetyMode | str) -> dict[str, str]:
    """The job-meta entry that asks the service to check the job's images under `mode`; nothing
    for OFF (a job without the entry is not checked, so most jobs' meta keeps its shape)."""
    mode = SafetyMode(mode)
    return {} if mode is SafetyMode.OFF else {META_KEY: mode.value}


def mode_of(meta: Mapping[str, Any] | None) -> SafetyMode:
    """The mode a job's meta asks for; OFF when it asks for none (the command line's jobs, jobs
    older than the check); BLOCK when it names one this version does not know (the safe side)."""
    value = (meta or {}).get(META_KEY)
    if value is None:
        return SafetyMode.OFF
    try:
        return SafetyMode(value)
    except ValueError:
        return SafetyMode.BLOCK
