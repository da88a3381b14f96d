"""Fixtures that more than one test file uses. Helpers (servers, clients, assertions) live in
harness.py, which bench/stress.py shares; only what needs pytest is here."""

import os

import pytest

from harness import CHROMIUM, ServerProcess


@pytest.fixture
def start_server():
    """``start_server(db, *args, port=0, cwd=ROOT, ...)``: a :class:`harness.ServerProcess`
    (``chantilly.py run`` as a child process), killed at teardown if it still runs."""
    started = []

    def start(db, *args, **options):
        server = ServerProcess(db, *args, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def launch_chromium():
    """``launch_chromium(*args)``: Debian's Chromium, headless, driven by playwright (no
    ``playwright install``: the system browser is used), closed at teardown. Skips when
    Chromium or playwright is missing, except under CI=true, where that is a failure."""
    missing = [] if os.path.exists(CHROMIUM) else [CHROMIUM]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright package")
    if missing:
        message = "the browser tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browsers = []

        def launch(*args):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", *args])
            browsers.append(browser)
            return browser

        try:
            yield launch
        finally:
            for browser in browsers:
                browser.close()
