"""NudeNet's detector (nudenet 3.4: its 320n.onnx model ships inside the wheel) on the CPU.

The model is loaded on first use, on the checker's thread; nothing is downloaded. The session is
made here rather than by `nudenet.NudeDetector` so that its CPU threads can be capped (onnxruntime
takes every core by default, which a GPU host's worker threads need too). cv2, numpy and
onnxruntime are imported only then: importing this module stays cheap and torch-free.
"""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from generation.safety.check import Scores

MODEL_FILE = "320n.onnx"  # inside the nudenet package


def model_path() -> Path:
    """The ONNX model inside the installed nudenet package (no download, ever)."""
    import nudenet

    return Path(nudenet.__file__).resolve().parent / MODEL_FILE


class NudeNetDetector:
    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads
        self._detector: Any = None
        self._lock = threading.Lock()
        try:
            version = metadata.version("nudenet")
        except metadata.PackageNotFoundError:
            version = "?"
        self.name = f"nudenet {version} {Path(MODEL_FILE).stem}"

    def load(self) -> Any:
        """The detector, loaded once (0.1 s)."""
        with self._lock:
            if self._detector is None:
                import onnxruntime
                from nudenet import NudeDetector

                detector = NudeDetector(model_path=str(model_path()))
                if self.threads:  # the same model, in a session with its CPU threads capped
                    options = onnxruntime.SessionOptions()
                    options.intra_op_num_threads = self.threads
                    options.inter_op_num_threads = 1
                    detector.onnx_session = onnxruntime.InferenceSession(
                        str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
                    )
                self._detector = detector
            return self._detector

    def classify(self, png: bytes) -> Scores:
        import cv2
        import numpy as np

        # 8-bit BGR, as nudenet reads a file: given bytes, it keeps a grey or 16-bit PNG's channels,
        # which its colour conversion refuses.
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("the image could not be decoded")
        best: dict[str, float] = {}
        for found in self.load().detect(image):
            label, score = str(found["class"]), float(found["score"])
            best[label] = max(score, best.get(label, 0.0))
        return Scores(best)
