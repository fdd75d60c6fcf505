"""The tiny model stands in for a missing default model (and for itself), written once."""

import dataclasses

from generation.cli.standin import TINY_MODEL_NAME, tiny_stand_in
from generation.settings import Settings


def test_the_stand_in_answers_for_the_default_and_itself_only(tmp_path):
    settings = Settings()
    settings = settings.replace(models=dataclasses.replace(settings.models, default="shapes"))
    assert tiny_stand_in("other", settings, tmp_path) is None
    assert not (tmp_path / TINY_MODEL_NAME).exists()

    folder = tiny_stand_in("shapes", settings, tmp_path)
    assert folder == tmp_path / TINY_MODEL_NAME
    index = folder / "model_index.json"
    assert index.is_file() and list((folder / "unet").glob("*.safetensors"))
    written = index.stat().st_mtime_ns
    assert tiny_stand_in(TINY_MODEL_NAME, settings, tmp_path) == folder
    assert index.stat().st_mtime_ns == written  # written the first time only
