"""A real headless Chromium (Debian's `chromium`, driven by Playwright) and the platform served
over HTTP for it, for the tests of the pages people use."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn

from tests.support.ports import free_port
from tests.support.servers import missing

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """The system's Chromium (.ci/run installs Debian's); Playwright's own download is not used."""
    found = os.environ.get("ONECARD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        missing("Chromium is not installed (apt-get install chromium)")
    return found


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium for one test module."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        # --no-sandbox: the CI runs as root, where Chromium's sandbox refuses to start.
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """`app` (a started platform's dispatcher) on a loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def screenshot(page: Any, name: str) -> Path:
    """Keep a full-page screenshot in docs/screenshots/ (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
