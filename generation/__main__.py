"""`python -m generation imagine|upscale|vary ...`: the command line, in `generation.cli`."""

import os

# Before anything loads huggingface_hub or transformers: no network, no chatter.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from generation.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
