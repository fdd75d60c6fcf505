"""Artifact stores: bytes under keys, keys that cannot leave the store, old rows' paths still read."""

from __future__ import annotations

import pytest

from generation.jobs.artifacts import (
    ArtifactNotFound,
    ArtifactStore,
    InvalidKey,
    LocalArtifacts,
    check_key,
    grid_key,
    image_key,
    upload_key,
)
from generation.workers.fakes import MemoryArtifacts

BAD_KEYS = [
    "",
    "../x.png",
    "a/../../x.png",
    "/etc/passwd",
    "a//b.png",
    "a\\b.png",
    ".hidden",
    "a/./b",
    "x\x00",
]


@pytest.fixture(params=["local", "memory"])
def artifacts(request, tmp_path) -> ArtifactStore:
    return LocalArtifacts(tmp_path / "outputs") if request.param == "local" else MemoryArtifacts()


async def test_put_get_exists_delete(artifacts):
    assert isinstance(artifacts, ArtifactStore)
    key = image_key("abcdefgh23", 0)
    assert key == "abcdefgh23/0.png" and grid_key("abcdefgh23") == "abcdefgh23/grid.png"
    assert not await artifacts.exists(key)
    with pytest.raises(ArtifactNotFound):
        await artifacts.get(key)
    await artifacts.put(key, b"first")
    await artifacts.put(key, b"second")  # replaced
    assert await artifacts.exists(key) and await artifacts.get(key) == b"second"
    await artifacts.delete(key)
    await artifacts.delete(key)  # absent: nothing happens
    assert not await artifacts.exists(key)
    upload = upload_key()
    assert upload.startswith("uploads/") and upload.endswith(".png") and upload != upload_key()


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_keys_that_could_leave_the_store_are_refused(artifacts, key):
    with pytest.raises(InvalidKey):
        check_key(key)
    with pytest.raises(InvalidKey):
        await artifacts.put(key, b"x")


async def test_local_files_are_written_atomically(tmp_path):
    store = LocalArtifacts(tmp_path / "outputs")
    await store.put("job/0.png", b"\x89PNG data")
    assert (tmp_path / "outputs" / "job" / "0.png").read_bytes() == b"\x89PNG data"
    assert store.local_path("job/0.png") == tmp_path / "outputs" / "job" / "0.png"
    assert [p.name for p in (tmp_path / "outputs" / "job").iterdir()] == ["0.png"]  # no temporary left
    for key in ("../escape.png", "/etc/passwd"):
        with pytest.raises(InvalidKey):
            await store.get(key)
    assert not (tmp_path / "escape.png").exists()


async def test_paths_stored_by_older_versions_are_read_inside_the_folder(tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    (outputs / "old").mkdir(parents=True)
    (outputs / "old" / "0.png").write_bytes(b"old image")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    store = LocalArtifacts(outputs)
    assert await store.get(str(outputs / "old" / "0.png")) == b"old image"  # an absolute path
    monkeypatch.chdir(tmp_path)
    assert await LocalArtifacts("outputs").get("outputs/old/0.png") == b"old image"  # relative to the cwd
    with pytest.raises(InvalidKey):
        await store.get(str(tmp_path / "secret.txt"))  # outside the folder
    with pytest.raises(InvalidKey):
        await store.put(str(outputs / "old" / "1.png"), b"x")  # paths are read-only
