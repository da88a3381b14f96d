"""Browser tests of the dashboard (static/): a real server, a real Chromium, real data.

Run with ``pytest test_dashboard.py``. The tests write only to their temporary folders;
``make screenshot`` regenerates docs/dashboard.png by setting CHANTILLY_SCREENSHOT to that path
(relative to the repository). Needs Debian's Chromium at /usr/bin/chromium and the playwright
package (no ``playwright install``: the system browser is used). Without them the tests are skipped,
except under CI=true, where a missing browser is a failure.
"""

import os
import re
import shutil
import time

import pytest

from harness import ROOT, creme_regressor, trump_approval

pytestmark = pytest.mark.browser

SCREENSHOT = os.environ.get("CHANTILLY_SCREENSHOT")  # where to copy the screenshot, if set
UI_TIMEOUT = 15_000  # ms, for every wait on the page
ROWS = 300

# Chromium logs a failed request as a console error; while the server is down on purpose these
# are expected ("net::ERR_CONNECTION_REFUSED" and friends). Nothing else is.
EXPECTED_WHILE_DOWN = re.compile(r"net::ERR_")


@pytest.fixture
def browser(launch_chromium):
    return launch_chromium()


def open_page(browser, url, **context_options):
    """A page on ``url`` that records console errors and uncaught exceptions in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda msg: page.errors.append(f"console: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
    page.goto(url + "/")
    return page


def wait_live(page):
    page.wait_for_function(
        "() => document.querySelector('#connection').dataset.state === 'live'", timeout=UI_TIMEOUT)


def wait_metrics_match(page, expected):
    """Wait until every metric card shows exactly ``expected`` (and no other card exists)."""
    page.wait_for_function(
        """(expected) => {
            const cards = [...document.querySelectorAll('[data-metric]')];
            if (cards.length !== Object.keys(expected).length) return false;
            return Object.entries(expected).every(([name, v]) => {
                const el = document.querySelector(`[data-metric="${name}"] .value`);
                if (!el) return false;
                if (v === null) return el.dataset.raw === '';
                if (el.dataset.raw === '') return false;
                const raw = Number(el.dataset.raw);
                return Math.abs(raw - v) <= 1e-9 * Math.max(Math.abs(v), 1e-300);
            });
        }""",
        arg=expected, timeout=UI_TIMEOUT)
    shown = page.eval_on_selector_all(
        "[data-metric]",
        "cards => Object.fromEntries(cards.map(c => [c.dataset.metric, c.querySelector('.value').dataset.raw]))")
    for name, value in expected.items():
        if value is None:
            assert shown[name] == ""
        else:
            assert float(shown[name]) == pytest.approx(value, rel=1e-9)


def point_counts(page):
    return page.eval_on_selector_all(
        "[data-metric]", "cards => Object.fromEntries(cards.map(c => [c.dataset.metric, +c.dataset.points]))")


def wait_points(page, at_least):
    page.wait_for_function(
        """(n) => {
            const cards = [...document.querySelectorAll('[data-metric]')];
            return cards.length > 0 && cards.every(c => Number(c.dataset.points) >= n);
        }""",
        arg=at_least, timeout=UI_TIMEOUT)


def test_live_dashboard_restart_and_screenshot(browser, start_server, tmp_path):
    db = tmp_path / "c.db"
    server = start_server(db)
    page = open_page(browser, server.url)

    # No model yet: the empty state tells how to upload one, with this server's address.
    page.wait_for_selector("#empty-state", state="visible", timeout=UI_TIMEOUT)
    wait_live(page)
    assert server.url + "/api/model" in page.text_content("#snippet-upload")
    assert page.is_hidden("#metrics-section")

    # Upload a pipeline: the page learns about it from the `model` event.
    client = server.client()
    described = client.upload(creme_regressor())
    assert described["class"] == "StandardScaler | LinearRegression"
    page.wait_for_selector("#empty-state", state="hidden", timeout=UI_TIMEOUT)
    page.wait_for_function(
        "() => document.querySelector('#model-class').textContent.includes('StandardScaler | LinearRegression')",
        timeout=UI_TIMEOUT)
    assert page.text_content("#model-flavor").strip() == "regression"

    # Predict then learn each row by id. The short pause paces the stream like a live
    # client would, so the charts get a realistic number of points; it synchronises nothing.
    last_id = None
    for i, (x, y) in enumerate(trump_approval(ROWS)):
        last_id = f"trump-{i}"
        client.ok("POST", "/api/predict", {"id": last_id, "features": x})
        answer = client.ok("POST", "/api/learn", {"id": last_id, "ground_truth": y})
        assert isinstance(answer["prediction"], float)
        time.sleep(0.02)

    # The charts gained points and the values shown are exactly the server's.
    wait_points(page, 2)
    expected = client.ok("GET", "/api/metrics")
    client.close()
    assert set(expected) == {"MAE", "RMSE", "SMAPE"}
    wait_metrics_match(page, expected)
    assert all(1 < n <= 1000 for n in point_counts(page).values())
    for name in expected:
        label = page.get_attribute(f'[data-metric="{name}"] svg', "aria-label")
        assert page.text_content(f'[data-metric="{name}"] .value').strip() in label

    # The newest event is on top: the learn of the last id.
    page.wait_for_function(
        "(id) => { const r = document.querySelector('#events tr'); return r && r.dataset.id === id && r.dataset.kind === 'learn'; }",
        arg=last_id, timeout=UI_TIMEOUT)
    rows = page.eval_on_selector_all("#events tr", "rows => rows.map(r => [r.dataset.kind, r.dataset.id])")
    assert 2 <= len(rows) <= 50
    assert rows[1] == ["predict", last_id]

    # Model panel and throughput come from /api/stats.
    page.wait_for_function(
        f"() => document.querySelector('#model-learns').textContent === '{ROWS:,}'", timeout=UI_TIMEOUT)
    assert float(page.get_attribute("#rate-learn", "data-raw")) > 0

    # Pause freezes the table, Resume brings it back to the newest event.
    page.click("#pause")
    assert page.get_attribute("#pause", "aria-pressed") == "true"
    page.click("#pause")
    assert page.get_attribute("#pause", "aria-pressed") == "false"

    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot))
    if SCREENSHOT:
        shutil.copyfile(shot, ROOT / SCREENSHOT)
    assert page.errors == []

    # Restart on the same port and database: the page says so, reconnects and shows history.
    port = server.port
    assert server.terminate() == 0
    page.wait_for_function(
        "() => document.querySelector('#connection').dataset.state === 'reconnecting'", timeout=UI_TIMEOUT)
    server = start_server(db, port=port)
    wait_live(page)
    wait_points(page, 2)
    with server.client() as client:
        wait_metrics_match(page, client.ok("GET", "/api/metrics"))
    assert page.text_content("#model-class").strip() == "StandardScaler | LinearRegression"
    unexpected = [e for e in page.errors if not EXPECTED_WHILE_DOWN.search(e)]
    assert unexpected == []


def test_dark_mode_without_model(browser, start_server, tmp_path):
    server = start_server(tmp_path / "c.db")
    page = open_page(browser, server.url, color_scheme="dark")
    page.wait_for_selector("#empty-state", state="visible", timeout=UI_TIMEOUT)
    wait_live(page)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(c) for c in re.findall(r"\d+", background)[:3])
    assert max(red, green, blue) < 60, background
    assert page.text_content("#model-class").strip() == "no model loaded"
    assert page.get_attribute("#pause", "aria-label")
    # Let stats polls go by (the uptime moves on): an idle page must not log errors either.
    page.wait_for_function(
        "() => document.querySelector('#server-uptime').textContent !== '—'", timeout=UI_TIMEOUT)
    uptime = page.text_content("#server-uptime")
    page.wait_for_function(
        "(before) => document.querySelector('#server-uptime').textContent !== before",
        arg=uptime, timeout=UI_TIMEOUT)
    assert page.errors == []


def test_token_form(browser, start_server, tmp_path):
    server = start_server(tmp_path / "c.db", "--token", "s3cret")
    page = open_page(browser, server.url)
    page.wait_for_selector("#token-form", state="visible", timeout=UI_TIMEOUT)
    assert page.get_attribute("#connection", "data-state") == "unauthorized"
    page.fill("#token-input", "s3cret")
    page.click("#token-form button[type=submit]")
    wait_live(page)
    page.wait_for_selector("#empty-state", state="visible", timeout=UI_TIMEOUT)
    assert page.evaluate("localStorage.getItem('chantilly-token')") == "s3cret"
    # The only errors are the 401s that revealed the need for a token.
    assert [e for e in page.errors if "401" not in e] == []


def test_a_lone_copied_chantilly_py_serves_the_whole_dashboard_after_a_burst(browser, start_server, tmp_path):
    """The single-file promise: chantilly.py alone in an empty folder, no static/ beside it.
    A burst of learns shorter than the history's sampling interval still ends the charts at
    the latest metrics (the last point is flushed when the traffic stops)."""
    lone = tmp_path / "empty"
    lone.mkdir()
    shutil.copy(ROOT / "chantilly.py", lone / "chantilly.py")
    server = start_server(lone / "c.db", cwd=lone)
    assert not (lone / "static").exists()
    with server.client() as client:
        client.upload(creme_regressor())
        client.ok("POST", "/api/learn", [{"features": x, "ground_truth": y} for x, y in trump_approval(ROWS)])
        latest = client.ok("GET", "/api/metrics")
        deadline = time.monotonic() + UI_TIMEOUT / 1000
        while client.ok("GET", "/api/metrics/history")["points"][-1]["n"] != ROWS:
            assert time.monotonic() < deadline, "the last state never reached the history"
    page = open_page(browser, server.url)
    wait_live(page)
    wait_metrics_match(page, latest)
    wait_points(page, 2)  # the burst's first point and the flushed last one
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != ""  # style.css loaded
    assert page.errors == []
