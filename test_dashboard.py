"""Browser tests of the dashboard (static/): a real server, a real Chromium, real data.

Run with ``pytest test_dashboard.py``. The tests write only to their temporary folders;
``make screenshot`` regenerates docs/dashboard.png by setting CHANTILLY_SCREENSHOT to that path
(relative to the repository). Needs Debian's Chromium at /usr/bin/chromium and the playwright
package (no ``playwright install``: the system browser is used). Without them the tests are skipped,
except under CI=true, where a missing browser is a failure.
"""

import http.client
import json
import os
import pathlib
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = os.environ.get("CHANTILLY_SCREENSHOT")  # where to copy the screenshot, if set
START_TIMEOUT = 30
UI_TIMEOUT = 15_000  # ms, for every wait on the page
ROWS = 300

# Chromium logs a failed request as a console error; while the server is down on purpose these
# are expected ("net::ERR_CONNECTION_REFUSED" and friends). Nothing else is.
EXPECTED_WHILE_DOWN = re.compile(r"net::ERR_")


def _playwright():
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        missing.append("the playwright package")
    if missing:
        message = "the dashboard tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return sync_playwright


class Server:
    """``chantilly.py run`` as a subprocess; :attr:`url` once it printed that it is serving."""

    def __init__(self, db, port=0, extra=(), cwd=ROOT):
        cmd = [sys.executable, "chantilly.py", "run", "--host", "127.0.0.1", "--port", str(port),
               "--db", str(db), *extra]
        self.output = []
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, bufsize=1)
        lines = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                pytest.fail(f"the server did not say it was serving within {START_TIMEOUT} s:\n"
                            + "".join(self.output))
            if line is None:
                self.stop()
                pytest.fail("the server exited before serving:\n" + "".join(self.output))
            match = re.search(r"serving on (http://[^\s/]+)", line)
            if match:
                self.url = match.group(1)
                self.port = urllib.parse.urlsplit(self.url).port
                return

    def _pump(self, lines):
        # Keeps draining the pipe for the server's whole life so that it never blocks on output.
        for line in self.proc.stdout:
            self.output.append(line)
            lines.put(line)
        lines.put(None)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


@pytest.fixture
def start_server(request):
    """``start_server(db, port=0)`` -> a running :class:`Server`, stopped at teardown."""
    started = []

    def start(db, port=0, extra=(), cwd=ROOT):
        server = Server(db, port, extra, cwd)
        started.append(server)
        return server

    def stop_all():
        for server in started:
            server.stop()

    request.addfinalizer(stop_all)
    return start


@pytest.fixture
def browser():
    sync_playwright = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield browser
        finally:
            browser.close()


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


def get_json(url, path):
    with urllib.request.urlopen(url + path, timeout=10) as response:
        return json.loads(response.read())


class Client:
    """One keep-alive connection for the stream of predicts and learns."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def post(self, path, body, content_type="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.conn.request("POST", path, body, {"Content-Type": content_type})
        response = self.conn.getresponse()
        data = response.read()
        assert response.status < 300, (path, response.status, data)
        return json.loads(data)

    def close(self):
        self.conn.close()


def trump_rows(n):
    """The first ``n`` rows of creme's TrumpApproval, which ships inside the package."""
    from creme import datasets

    rows = []
    for x, y in datasets.TrumpApproval():
        rows.append((x, y))
        if len(rows) == n:
            break
    return rows


def upload_pipeline(client):
    dill = pytest.importorskip("dill")
    from creme import compose, linear_model, preprocessing

    model = compose.Pipeline(preprocessing.StandardScaler(), linear_model.LinearRegression())
    return client.post("/api/model", dill.dumps(model), "application/octet-stream")


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
    client = Client(server.url)
    described = upload_pipeline(client)
    assert described["class"] == "StandardScaler | LinearRegression"
    page.wait_for_selector("#empty-state", state="hidden", timeout=UI_TIMEOUT)
    page.wait_for_function(
        "() => document.querySelector('#model-class').textContent.includes('StandardScaler | LinearRegression')",
        timeout=UI_TIMEOUT)
    assert page.text_content("#model-flavor").strip() == "regression"

    # Predict then learn each row by id. The short pause paces the stream like a live
    # client would, so the charts get a realistic number of points; it synchronises nothing.
    last_id = None
    for i, (x, y) in enumerate(trump_rows(ROWS)):
        last_id = f"trump-{i}"
        client.post("/api/predict", {"id": last_id, "features": x})
        answer = client.post("/api/learn", {"id": last_id, "ground_truth": y})
        assert isinstance(answer["prediction"], float)
        time.sleep(0.02)
    client.close()

    # The charts gained points and the values shown are exactly the server's.
    wait_points(page, 2)
    expected = get_json(server.url, "/api/metrics")
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
    server.stop()
    page.wait_for_function(
        "() => document.querySelector('#connection').dataset.state === 'reconnecting'", timeout=UI_TIMEOUT)
    server = start_server(db, port=port)
    wait_live(page)
    wait_points(page, 2)
    wait_metrics_match(page, get_json(server.url, "/api/metrics"))
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
    server = start_server(tmp_path / "c.db", extra=["--token", "s3cret"])
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
    client = Client(server.url)
    try:
        upload_pipeline(client)
        client.post("/api/learn", [{"features": x, "ground_truth": y} for x, y in trump_rows(ROWS)])
    finally:
        client.close()
    latest = get_json(server.url, "/api/metrics")
    deadline = time.monotonic() + UI_TIMEOUT / 1000
    while get_json(server.url, "/api/metrics/history")["points"][-1]["n"] != ROWS:
        assert time.monotonic() < deadline, "the last state never reached the history"
    page = open_page(browser, server.url)
    wait_live(page)
    wait_metrics_match(page, latest)
    wait_points(page, 2)  # the burst's first point and the flushed last one
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != ""  # style.css loaded
    assert page.errors == []
