"""Headless Debian chromium for driving the demo with Playwright: a helper of the browser test
(tests/test_demo_browser.py) and of scripts/demo_screenshot.py, not part of the package;
`scripts/install_browser.sh` installs the browser."""
from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
# no sandbox (containers run as root), no GPU, nothing that reaches the network on its own
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def launch_chromium(playwright, executable: str = CHROMIUM):
    """A headless chromium browser from a started `sync_playwright()` context."""
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def open_page(browser, url: str, width: int = 1280, height: int = 900):
    """A new page at `url`; returns it and the list its uncaught JavaScript errors are appended to."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors
