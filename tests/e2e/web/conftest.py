import pytest

from tests.helpers.mask_page import SECRET, web_bot


@pytest.fixture
async def web_env(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGINE_WEB_SECRET", SECRET)
    async with web_bot(tmp_path) as env:
        yield env
