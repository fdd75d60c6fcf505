"""The mask editor page in a real headless Chromium (Debian's chromium + chromium-driver through
Selenium): open the link Vary (Region) gives, paint a stroke, submit, and the job's mask is that
stroke; a lasso fills what it outlines; used, expired and forged links get pages that say so; the
page loads nothing from outside the bot.

The browser's calls block, so each runs in a thread while the bot (and its page) run on the loop.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bot.web.links import LinkClaims
from bot.web.server import RECORD
from generation.requests.request import Mode
from tests.helpers.mask_page import region_link, upscaled

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"
)
SHOWN = 768  # the page shows the 128x128 image 768 px wide: 6 screen pixels an image pixel
SCALE = SHOWN / 128


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1000,1300",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


async def run(call, *args):
    return await asyncio.to_thread(call, *args)


def open_editor(driver, link: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(link)
    WebDriverWait(driver, 20).until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready"))
    width = driver.execute_script("return document.getElementById('paint').getBoundingClientRect().width")
    assert round(width) == SHOWN


def drag(driver, points: list[tuple[float, float]], tool: str = "brush") -> None:
    """Press at the first point (image pixels), move through the others, release."""
    from selenium.webdriver.common.action_chains import ActionChains

    driver.find_element("id", tool).click()
    canvas = driver.find_element("id", "paint")
    centre = 64 * SCALE

    def offset(point):
        return round(point[0] * SCALE - centre), round(point[1] * SCALE - centre)

    actions = ActionChains(driver, duration=10)
    actions.move_to_element_with_offset(canvas, *offset(points[0])).click_and_hold()
    previous = offset(points[0])
    for point in points[1:]:
        now = offset(point)
        actions.move_by_offset(now[0] - previous[0], now[1] - previous[1])
        previous = now
    actions.release().perform()


def submit(driver, prompt: str) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element("id", "prompt")
    box.clear()
    box.send_keys(prompt)
    driver.find_element("id", "send").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_elements("id", "message"))
    return driver.find_element("id", "message").text


def page_text(driver, link: str) -> str:
    driver.get(link)
    return driver.find_element("id", "message").text


def resources(driver) -> list[str]:
    return driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")


async def stored_mask(env, job) -> np.ndarray:
    data = await env.service.read_artifact(job.meta["edit"]["mask_key"])
    with Image.open(io.BytesIO(data)) as mask:
        return np.asarray(mask.convert("L")) >= 128


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


async def test_paint_a_stroke_and_the_jobs_mask_is_that_stroke(web_env, browser):
    message, up = await upscaled(web_env)
    link = await region_link(web_env, message, up)
    base = link.rsplit("/edit/", 1)[0]
    await run(open_editor, browser, link)
    assert all(url.startswith(base) for url in await run(resources, browser))  # nothing from outside
    await run(drag, browser, [(32 + 4 * k, 64) for k in range(17)])  # left to right across the middle
    said = await run(submit, browser, "a blue circle")
    assert "queued as job" in said

    (job,) = await web_env.service.children(up.id)
    assert job.meta["edit"]["kind"] == "region" and job.request.prompt == "a blue circle"
    assert job.owner.user_id == web_env.server.get_user("mod").id  # the link's user owns it
    painted = await stored_mask(web_env, job)
    assert painted.shape == (128, 128)
    expected = Image.new("L", (128, 128), 0)
    brush = round(128 * 8 / 100)  # the page's default brush: 8 % of the shorter side
    draw = ImageDraw.Draw(expected)
    draw.line([(32, 64), (96, 64)], fill=255, width=brush)
    for x in (32, 96):  # round caps
        draw.ellipse([x - brush / 2, 64 - brush / 2, x + brush / 2, 64 + brush / 2], fill=255)
    assert iou(painted, np.asarray(expected) >= 128) >= 0.8
    assert painted[64, 64] and not painted[30, 64] and not painted[64, 10] and not painted[64, 118]
    # the stroke is the job's mask: an inpaint of it (the fake runner paints blue where it reaches)
    assert job.request.mode is Mode.INPAINT and job.request.edit.mask == job.meta["edit"]["mask_key"]
    done = await web_env.service.wait(job.id, 20)
    with Image.open(io.BytesIO(await web_env.service.read_artifact(done.images[0].key))) as result:
        assert result.getpixel((64, 64)) == (40, 70, 220) and result.getpixel((64, 20)) == (220, 40, 40)

    # used: the same link again
    assert "used already" in await run(page_text, browser, link)
    # forged: one character of the signature changed
    flipped = link[:-1] + ("B" if link.endswith("A") else "A")
    assert "not one the bot made" in await run(page_text, browser, flipped)
    # expired: a link whose time is up (signed by the bot, its record in place)
    editor = web_env.bot.get_cog("Edits").editor
    old = LinkClaims.new(up.id, 0, job.owner.user_id, -1.0)
    record = await web_env.service.state(
        RECORD.format(nonce=editor.signer.verify(link.rsplit("/", 1)[1]).nonce)
    )
    await web_env.service.set_state(RECORD.format(nonce=old.nonce), record | {"used": None})
    assert "has expired" in await run(page_text, browser, f"{base}/edit/{editor.signer.sign(old)}")


async def test_a_lasso_fills_what_it_outlines(web_env, browser):
    message, up = await upscaled(web_env)
    link = await region_link(web_env, message, up)
    await run(open_editor, browser, link)
    square = [(20, 20), (60, 20), (60, 60), (20, 60), (20, 21)]
    outline = [
        (a[0] + (b[0] - a[0]) * t / 8, a[1] + (b[1] - a[1]) * t / 8)
        for a, b in itertools.pairwise(square)
        for t in range(8)
    ]
    await run(drag, browser, outline, "lasso")
    assert "queued as job" in await run(submit, browser, "a window")
    (job,) = await web_env.service.children(up.id)
    painted = await stored_mask(web_env, job)
    inside = np.zeros((128, 128), bool)
    inside[20:61, 20:61] = True
    assert iou(painted, inside) >= 0.85 and painted[40, 40] and not painted[100, 100]
