"""A real headless Chromium (Debian's `chromium`, driven by Playwright), for the tests of the pages
people use (the platform reaches it through `serving.served_on_port`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

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


async def screenshot(page: Any, name: str) -> Path:
    """Keep a full-page screenshot in docs/screenshots/ (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
