"""Real headless Chromium (Debian's `chromium`) driven by Playwright against the running system.

Nothing is downloaded here: the browser is the system package at /usr/bin/chromium (never
`playwright install`), axe-core comes from the npm registry into .tools/node_modules. Without
them the tests skip, saying how to enable them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

CHROMIUM = Path(os.environ.get("CLEARPOST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_JS = REPO_ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = REPO_ROOT / "test-output" / "browser"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install chromium`, as root) "
            "to run the browser tests"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed: `make install` installs it")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def docs_image(output_dir: Path) -> Path:
    """The draft-page screenshot the README shows: refreshed in docs/img/ when
    CLEARPOST_UPDATE_DOCS_IMAGES=1, else written beside the other screenshots (so `make test`
    leaves the checkout as it found it)."""
    if os.environ.get("CLEARPOST_UPDATE_DOCS_IMAGES") != "1":
        return output_dir / "review-draft.png"
    path = REPO_ROOT / "docs" / "img" / "review-draft.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.exists():
        pytest.skip(
            f"axe-core is not installed at {AXE_JS}: run "
            "`npm install --prefix .tools --no-audit --no-fund axe-core` to run the accessibility checks"
        )
    return AXE_JS.read_text()
