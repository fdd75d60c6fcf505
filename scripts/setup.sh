#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv: CPU torch first, then the project.
# On a GPU host, install the CUDA build of torch into the venv before running this (or use the Dockerfile).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Pin torch before anything else: an unpinned torch would pull the newest multi-GB CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev]"
# torchvision breaks transformers on CPU hosts (see docs); make sure nothing pulled it in.
if .venv/bin/python -m pip show -q torchvision >/dev/null 2>&1; then
  echo "torchvision is installed in .venv; remove it: .venv/bin/pip uninstall torchvision" >&2
  exit 1
fi
