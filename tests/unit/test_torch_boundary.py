"""The torch boundary runs between packages: these import without torch, diffusers or transformers.

The bot and the job service build on them (tests/unit/bot/test_units.py checks `import bot`);
`generation.pipelines` and the torch half of `generation.models` may import torch at the top.
"""

import json
import subprocess
import sys

import pytest

TORCH_FREE = (
    "generation.requests.request",
    "generation.requests.prompt",
    "generation.requests.validation",
    "generation.requests.followups",
    "generation.requests.samplers",
    "generation.images.metadata",
    "generation.images.saving",
    "generation.images.encoding",
    "generation.jobs.service",
    "generation.settings",
    "generation.problems",
    "generation.progress",
    "generation.models",
    "generation.models.arch",
    "generation.models.registry",
    "generation.models.hashing",
    "generation.models.loaded",
    "generation.pipelines",
)
HEAVY = ("torch", "diffusers", "transformers")


def loaded_after(imports: str) -> list[str]:
    code = f"import json, sys; {imports}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_torch_free_modules_import_without_torch():
    assert loaded_after("import " + ", ".join(TORCH_FREE)) == []


@pytest.mark.parametrize("module", ["generation.pipelines.engine", "generation.models.loading"])
def test_the_torch_side_does_import_it(module):
    """The check above can fail: the torch side loads torch as soon as it is imported."""
    assert loaded_after(f"import {module}") == list(HEAVY)


def test_the_models_package_gives_its_torch_names_on_first_use():
    assert loaded_after("from generation.models import ModelRegistry, Arch") == []
    code = "from generation.models import load_model, detect_file; import generation.models.loading as m"
    assert loaded_after(code + "; assert load_model is m.load_model") == list(HEAVY)
    with pytest.raises(AttributeError, match="no_such_name"):
        import generation.models

        generation.models.no_such_name  # noqa: B018
