"""The mask editor page over plain HTTP (aiohttp's client): what it serves, what it refuses, and
that every refusal is a readable page. The browser test (test_mask_page_browser.py) paints."""

from __future__ import annotations

import io

import aiohttp
from PIL import Image

from bot.web.links import LinkClaims
from bot.web.server import RECORD
from tests.helpers.mask_page import region_link, upscaled


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def form(mask: bytes, prompt: str = "a blue circle") -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("prompt", prompt)
    data.add_field("mask", mask, filename="mask.png", content_type="image/png")
    return data


async def test_the_page_serves_only_itself_and_refuses_bad_uploads(web_env):
    message, up = await upscaled(web_env)
    link = await region_link(web_env, message, up)
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as page:
            body = await page.text()
            assert page.status == 200 and "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert 'src="/static/editor.js"' in body and "a red circle" in body
        assert "http" not in body.replace(link, "")  # no outside address anywhere in the page
        async with http.get(f"{link}/image.png") as image:
            assert image.content_type == "image/png"
            assert await image.read() == await web_env.service.read_artifact(up.images[0].key)

        async with http.post(link, data=form(b"x" * 70000)) as big:
            assert big.status == 413 and "the most this page accepts" in await big.text()
        async with http.post(link, data=form(b"not a png")) as junk:
            assert junk.status == 400 and "did not arrive as an image" in await junk.text()
        async with http.post(link, data=form(png(Image.new("L", (128, 128), 0)))) as empty:
            assert empty.status == 400 and "Nothing is painted" in await empty.text()
        async with http.get(link.rsplit("/edit/", 1)[0] + "/nowhere") as lost:
            assert lost.status == 404 and "nothing here" in await lost.text()
        assert await web_env.service.children(up.id) == []  # none of that queued anything

        mask = Image.new("L", (128, 128), 0)
        mask.paste(255, (0, 0, 64, 128))
        async with http.post(link, data=form(png(mask))) as done:
            assert done.status == 200 and "queued as job" in await done.text()
        async with http.post(link, data=form(png(mask))) as again:
            assert again.status == 410 and "used already" in await again.text()
    (edit,) = await web_env.service.children(up.id)
    assert edit.owner.user_id == web_env.server.get_user("mod").id
    with Image.open(io.BytesIO(await web_env.service.read_artifact(edit.meta["edit"]["mask_key"]))) as stored:
        assert stored.getpixel((10, 64)) == 255 and stored.getpixel((120, 64)) == 0
    # the result is posted in the channel the button was clicked in, mentioning its user
    posted = await web_env.server.wait_for_message(
        lambda m: f"img:s:{edit.id}:0" in m.custom_ids() or f"img:u:{edit.id}:0" in m.custom_ids(), timeout=20
    )
    assert posted.channel_id == web_env.server.channel.id and f"<@{edit.owner.user_id}>" in posted.content


async def test_a_refused_job_gives_the_link_back(web_env):
    message, up = await upscaled(web_env)
    link = await region_link(web_env, message, up)
    await web_env.service.set_guild_setting(web_env.server.guild.id, "banned_words", ["dragon"])
    mask = png(Image.new("L", (128, 128), 255))
    async with aiohttp.ClientSession() as http:
        async with http.post(link, data=form(mask, "a dragon")) as refused:
            assert (
                refused.status == 400 and "&quot;dragon&quot;, which is not allowed" in await refused.text()
            )
        async with http.post(link, data=form(mask, "a dove")) as done:
            assert done.status == 200
    assert [j.request.prompt for j in await web_env.service.children(up.id)] == ["a dove"]


async def test_expired_and_forged_links_are_refused(web_env):
    message, up = await upscaled(web_env)
    link = await region_link(web_env, message, up)
    editor = web_env.bot.get_cog("Edits").editor
    base = link.rsplit("/edit/", 1)[0]
    old = LinkClaims.new(up.id, 0, web_env.server.get_user("mod").id, -1.0)
    record = await web_env.service.state(
        RECORD.format(nonce=editor.signer.verify(link.rsplit("/", 1)[1]).nonce)
    )
    await web_env.service.set_state(RECORD.format(nonce=old.nonce), record)
    body, signature = link.rsplit("/", 1)[1].split(".")
    someone_else = LinkClaims(up.id, 0, web_env.server.get_user("admin").id, 9e9, "x")
    forged_body = editor.signer.sign(someone_else).split(".")[0]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/edit/{editor.signer.sign(old)}") as expired:
            assert expired.status == 410 and "has expired" in await expired.text()
        for forged in (f"{body}.{signature[::-1]}", f"{forged_body}.{signature}", f"{body}x.{signature}"):
            async with http.get(f"{base}/edit/{forged}") as page:
                assert page.status == 403 and "not one the bot made" in await page.text()
        async with http.get(f"{base}/edit/{forged_body}.{signature}/image.png") as image:
            assert image.status == 403 and image.content_type == "text/html"
