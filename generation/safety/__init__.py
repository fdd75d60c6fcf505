"""The image check: every generated image classified before a front end posts it (torch-free).

- `check`: what flows: `SafetyMode` (off | spoiler | block), `Scores` (one image's), `ImageCheck`
  (a job's decision and scores, recorded with the job), `decide`, and the job-meta key a front end
  hands the mode in (`meta_for`, `mode_of`).
- `detector`: the `Detector` protocol (`classify(png_bytes) -> Scores`) and test stand-ins.
- `nudenet_detector`: `NudeNetDetector`, NudeNet's ONNX detector on the CPU (onnxruntime); its
  model ships inside the wheel, so it loads offline.
- `checker`: `ImageChecker`, which runs a detector on its own thread (off the event loop and the
  GPU thread) with a time limit, and never raises: a failure counts as flagged (the safe default).
- `placeholder`: the picture a blocked image is replaced with.

Which mode applies (the server's choice, a channel's override, NSFW channels) is the front end's
to decide; it hands the mode to the job service in the job's meta, and the service runs the check
after the worker's result arrives and before the job is announced done.
"""

from generation.safety.check import ImageCheck, ImageVerdict, SafetyMode, Scores, decide, meta_for, mode_of

__all__ = ["ImageCheck", "ImageVerdict", "SafetyMode", "Scores", "decide", "meta_for", "mode_of"]
