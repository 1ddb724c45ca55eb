"""Browser tests: Debian's Chromium driven by Playwright (its own browser download does not work offline).
Shared helpers here, shared fixtures in conftest.py."""

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google hosts that this network refuses.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def log_in(page, base_url: str, username: str, password: str, *, next_path: str = "/") -> None:
    """Log in through the login form and wait for the page it leads to."""
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")


def chromium(playwright):
    """Debian's Chromium, headless (the test skips without it)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)


def watch(page, problems: list) -> None:
    """Collect the page's console errors and uncaught exceptions into ``problems``."""
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
