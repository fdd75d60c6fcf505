"""Run one benchmark: `python -m bench NAME [ARGS...]` (see bench/README.md for the list)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def available() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_")
    )


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in available():
        print(
            f"usage: python -m bench NAME [ARGS...]; NAME is one of {', '.join(available())}", file=sys.stderr
        )
        return 2
    name = sys.argv[1]
    sys.argv = [f"bench/{name}.py", *sys.argv[2:]]
    module = importlib.import_module(f"bench.{name}")
    return module.main() or 0


if __name__ == "__main__":
    raise SystemExit(main())
