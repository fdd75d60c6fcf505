import os

# Nothing may reach the Hugging Face Hub in tests: set before diffusers/transformers import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import pytest

from tests.helpers.cluster_fixtures import pg_url, postgres_server, ray_nodes, ray_session  # noqa: F401


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random SD1-shaped model saved as a diffusers folder (shared by the session)."""
    from generation.models.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir):
    """The tiny model as a LoadedModel on the CPU in float32."""
    # Imported here, not at the top: every test session loads this file, torch-free suites too.
    import torch
    from diffusers import StableDiffusionPipeline

    from generation.models.arch import Arch
    from generation.models.loaded import LoadedModel, ModelEntry

    pipe = StableDiffusionPipeline.from_pretrained(tiny_model_dir, local_files_only=True, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    entry = ModelEntry(name="tiny", path=tiny_model_dir, kind="diffusers")
    return LoadedModel("tiny", entry, pipe, Arch.SD1, None, torch.device("cpu"), torch.float32)
