"""Fixtures that more than one test file uses. Helpers (servers, clients, assertions) live in
harness.py, which bench/stress.py shares; only what needs pytest is here."""

import os

import pytest

from harness import (CHROMIUM, HAPROXY, POSTGRES_BINS, ServerProcess, drop_database, fresh_database, haproxy,
                     postgres_bin, postgres_cluster)


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


def skip_unless_ci(message):
    """Skip with ``message``; under CI=true, where everything must be there, fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres():
    """The DSN of a throwaway PostgreSQL cluster (:func:`harness.postgres_cluster`), started
    once for the session (about 1 s: initdb and start) and removed at its end:
    ``postgresql://postgres@127.0.0.1:PORT/postgres``. Tests take :func:`pg_dsn`, a database of
    their own on it. Skips when PostgreSQL or psycopg is missing, except under CI=true, where
    that is a failure."""
    missing = [] if postgres_bin() else [f"PostgreSQL ({POSTGRES_BINS}/initdb)"]
    try:
        import psycopg  # noqa: F401  (what the tests talk to it with)
    except ImportError:
        missing.append("the psycopg package")
    if missing:
        skip_unless_ci("the PostgreSQL tests need " + " and ".join(missing))
    with postgres_cluster() as dsn:
        yield dsn


@pytest.fixture
def pg_dsn(postgres):
    """The DSN of an empty database of this test's own on the session's cluster (created in
    about 40 ms), dropped at teardown with any connection the test left open to it."""
    dsn = fresh_database(postgres)
    yield dsn
    drop_database(dsn)


@pytest.fixture
def start_haproxy():
    """``start_haproxy(config, port=None)``: a running :class:`harness.HAProxy` on the config
    text, stopped at teardown. Skips when haproxy is missing, except under CI=true, where that
    is a failure."""
    if not os.path.exists(HAPROXY):
        skip_unless_ci(f"the HAProxy tests need {HAPROXY}")
    started = []

    def start(config, port=None, **options):
        proxy = haproxy(config, port, **options)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.close()
