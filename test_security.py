"""Attacks on chantilly from the outside, one or a few tests per item of issue 8.

Each test does what an attacker (or a careless client) would: a web page in the user's own
browser posting to the server, DNS rebinding, floods of bad items, sockets that never read
or never speak, models that block, odd chunk sizes. Real servers on 127.0.0.1:0, real
HTTP, real SQLite files under tmp_path, real creme/river models, real Chromium.
Expected values come from in-process replays (harness.Simulator).
"""

import base64
import json
import os
import pickle
import random
import re
import select
import shutil
import socket
import string
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse

import dill
import pytest

import chantilly
from harness import (
    PROBES, SLACK, TIMEOUT, Client, CreatesAFile, SSEClient, ServerProcess, ServerThread, Simulator,
    assert_error, assert_json_answer, count_rows, counters, creme_regressor, exchange, model_stats,
    non_loopback_address, observed_state, parse_responses, read_until_closed, request_once,
    river_dummy, run_cli, running_with_model, site, trump_approval, wait_until,
)

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def write_module(tmp_path, monkeypatch, name, source):
    """A module importable here (for dill) and by a child server (through PYTHONPATH)."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    sys.modules.pop(name, None)
    return __import__(name)


def non_reading_stream(port, path="/api/stream/events", source=None):
    """An event stream whose client reads the status line, then never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel absorbs little
    sock.settimeout(TIMEOUT)
    if source:
        sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


def closed_one(sockets, timeout=TIMEOUT):
    """The first of ``sockets`` that the server closes; one must be, within ``timeout``."""
    readable, _, _ = select.select(sockets, [], [], timeout)
    assert readable, f"none of {len(sockets)} connections was closed within {timeout} s"
    read_until_closed(readable[0], timeout)
    return readable[0]




BAD_ITEM = {"features": {"gallup": 40.0, "ipsos": "boom"}, "ground_truth": 1.0}  # creme raises


def seed_log(client, n):
    """``n`` logged learns since the snapshot (creme pipeline on TrumpApproval rows)."""
    rows = trump_approval(1000)
    for start in range(0, n, 1000):
        batch = [{"features": x, "ground_truth": y} for x, y in rows[:min(1000, n - start)]]
        answers = client.ok("POST", "/api/learn", batch)
        assert all("prediction" in a for a in answers)


# ---------------------------------------------------------------------------------------
# 1. Any web page the user visits must not be able to use the server
# ---------------------------------------------------------------------------------------

EVIL = "http://127.0.0.1:8011"  # another origin on the same machine: a page the user opened


def test_a_foreign_host_header_is_refused_with_403_naming_allowed_hosts(tmp_path):
    # DNS rebinding: the attacker's page is same-origin with its own name, which now
    # resolves to 127.0.0.1. Only the Host header tells it from a real client.
    with running_with_model(tmp_path / "c.db") as (running, client):
        before = observed_state(client)
        port = running.port
        rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}",
                   "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
        model = dill.dumps(creme_regressor())
        for method, path, body in [("POST", "/api/learn", {"features": {"x": 1}, "ground_truth": 1000}),
                                   ("POST", "/api/model", model), ("GET", "/api/metrics", None),
                                   ("GET", "/api/stats", None), ("GET", "/api/model", None)]:
            assert_error(request_once(port, method, path, body, rebound), 403, "--allowed-hosts")
            # The same without any browser header: the Host alone decides.
            assert_error(request_once(port, method, path, body, {"Host": f"evil.example:{port}"}), 403,
                         "--allowed-hosts")
        # A top-level navigation is exempt from the origin check, never from the Host check.
        navigate = {"Host": f"evil.example:{port}", "Sec-Fetch-Mode": "navigate",
                    "Sec-Fetch-Site": "none", "Sec-Fetch-Dest": "document"}
        assert_error(request_once(port, "GET", "/", None, navigate), 403, "--allowed-hosts")
        assert observed_state(client) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_host_headers_with_or_without_a_port_are_served(tmp_path, host):
    with ServerThread(tmp_path / "c.db") as running:
        for value in (host, f"{host}:{running.port}", f"{host}:1"):
            status, _, data = request_once(running.port, "GET", "/api/stats", headers={"Host": value})
            assert status == 200, (value, data)


def test_allowed_hosts_admits_exactly_the_names_given(tmp_path):
    with ServerThread(tmp_path / "c.db", allowed_hosts=("chantilly.internal",)) as running:
        port = running.port
        assert request_once(port, "GET", "/api/stats", headers={"Host": f"chantilly.internal:{port}"})[0] == 200
        assert request_once(port, "GET", "/api/stats", headers={"Host": "chantilly.internal"})[0] == 200
        for other in ("evil.example", "chantilly.internal.evil.example", "xchantilly.internal"):
            assert_error(request_once(port, "GET", "/api/stats", headers={"Host": f"{other}:{port}"}), 403,
                         "--allowed-hosts")


def test_a_wildcard_bind_accepts_ip_literal_hosts_but_not_names(tmp_path):
    token = "t0ken-wildcard"
    server = ServerProcess(tmp_path / "c.db", "--token", token, host="0.0.0.0")
    try:
        auth = {"Authorization": f"Bearer {token}"}
        for host in (f"192.0.2.7:{server.port}", "10.1.2.3", f"[2001:db8::1]:{server.port}"):
            assert request_once(server.port, "GET", "/api/stats", headers={**auth, "Host": host})[0] == 200, host
        assert_error(request_once(server.port, "GET", "/api/stats",
                          headers={**auth, "Host": f"evil.example:{server.port}"}), 403, "--allowed-hosts")
    finally:
        server.close()


def test_the_host_address_given_with_host_is_accepted(tmp_path):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to bind")
    with ServerProcess(tmp_path / "c.db", "--insecure", host=address) as server:
        # http.client sends Host: <address>:<port>, as any client of that URL does.
        assert request_once(server.port, "GET", "/api/stats", host=address)[0] == 200
        assert_error(request_once(server.port, "GET", "/api/stats", headers={"Host": f"evil.example:{server.port}"},
                                  host=address), 403, "--allowed-hosts")


#: What browsers send on cross-origin requests that need no preflight (and on form posts).
FOREIGN = {
    "another origin, no-cors fetch": {"Origin": EVIL, "Sec-Fetch-Site": "same-site",
                                      "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty"},
    "a form post from another site": {"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site",
                                      "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
                                      "Content-Type": "text/plain"},
    "Origin: null (sandboxed iframe, file://)": {"Origin": "null"},
    "Origin alone": {"Origin": "https://attacker.example"},
    "Sec-Fetch-Site: cross-site alone": {"Sec-Fetch-Site": "cross-site"},
    "Sec-Fetch-Site: same-site alone": {"Sec-Fetch-Site": "same-site"},
    "own host, other port": {"Origin": "http://127.0.0.1:1"},
}


@pytest.mark.parametrize("name", list(FOREIGN))
def test_requests_a_browser_marks_as_foreign_are_refused_and_change_nothing(tmp_path, name):
    with running_with_model(tmp_path / "c.db") as (running, client):
        before = observed_state(client)
        headers = {k: v.format(port=running.port) for k, v in FOREIGN[name].items()}
        pickled = pickle.dumps(creme_regressor())
        calls = [("POST", "/api/learn", b'{"features": {"x": 1}, "ground_truth": 1000}'),
                 ("POST", "/api/predict", b'{"id": "evil", "features": {"x": 1}}'),
                 ("POST", "/api/model", pickled), ("DELETE", "/api/model", None),
                 ("POST", "/api/stream", b'{"op": "learn", "features": {"x": 1}, "ground_truth": 9}\n')]
        if headers.get("Sec-Fetch-Mode") != "navigate":  # GET navigations are exempt
            calls.append(("GET", "/api/metrics", None))
        for method, path, body in calls:
            assert_error(request_once(running.port, method, path, body, headers), 403, "--allowed-origins")
        assert observed_state(client) == before


def test_own_origin_and_programs_without_browser_headers_are_served(tmp_path):
    with running_with_model(tmp_path / "c.db") as (running, client):
        port = running.port
        learn = {"features": {"x": 1.0}, "ground_truth": 2.0}
        own = [
            {},  # requests, curl, http.client: no Origin, no Sec-Fetch-*
            {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"},
            {"Origin": f"http://localhost:{port}", "Host": f"localhost:{port}", "Sec-Fetch-Site": "same-origin"},
            {"Sec-Fetch-Site": "same-origin"},
            {"Sec-Fetch-Site": "none"},  # typed into the address bar
        ]
        learns = counters(client)[0]
        for headers in own:
            status, _, data = request_once(port, "POST", "/api/learn", learn, headers)
            assert status == 201, (headers, data)
        assert counters(client)[0] == learns + len(own)


def test_top_level_get_navigations_are_exempt_from_the_origin_check_but_posts_are_not(tmp_path):
    with running_with_model(tmp_path / "c.db") as (running, client):
        link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
                "Sec-Fetch-User": "?1"}
        assert request_once(running.port, "GET", "/", None, link)[0] == 200  # a link to the dashboard
        assert request_once(running.port, "GET", "/api/stats", None, link)[0] == 200
        assert request_once(running.port, "HEAD", "/", None, link)[0] == 200
        before = observed_state(client)
        post = dict(link, Origin="https://attacker.example", **{"Content-Type": "text/plain"})
        body = b'{"features": {"x": 1}, "ground_truth": 1000, "pad": "="}\r\n'
        assert_error(request_once(running.port, "POST", "/api/learn", body, post), 403, "--allowed-origins")
        # A navigation that only claims to be one, with the fetch modes of a script: refused.
        fetch = {"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
        assert_error(request_once(running.port, "GET", "/api/metrics", None, fetch), 403, "--allowed-origins")
        assert observed_state(client) == before


def test_allowed_origins_get_cors_headers_and_preflights(tmp_path):
    app = "http://app.example:3000"
    with running_with_model(tmp_path / "c.db", allowed_origins=(app,)) as (running, client):
        port = running.port
        status, response, data = request_once(port, "POST", "/api/predict", {"features": {"x": 1.0}},
                                      {"Origin": app, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors",
                                       "Content-Type": "application/json"})
        assert status == 200, data
        assert response.getheader("Access-Control-Allow-Origin") == app
        assert "origin" in response.getheader("Vary", "").lower()
        status, response, data = request_once(port, "OPTIONS", "/api/learn", None, {
            "Origin": app, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert status == 204, data
        assert response.getheader("Access-Control-Allow-Origin") == app
        assert "POST" in response.getheader("Access-Control-Allow-Methods", "")
        allowed_headers = response.getheader("Access-Control-Allow-Headers", "").lower()
        assert "content-type" in allowed_headers and "authorization" in allowed_headers
        # Another origin gets neither the answer nor CORS headers, preflight included.
        for method in ("OPTIONS", "POST"):
            result = request_once(port, method, "/api/learn", b'{"features": {"x": 1}, "ground_truth": 1}',
                          {"Origin": "http://app.example:3001", "Access-Control-Request-Method": "POST"})
            assert_error(result, 403, "--allowed-origins")
            assert result[1].getheader("Access-Control-Allow-Origin") is None
        # An allowed origin does not let a foreign Host in (rebinding through an allowed app).
        assert_error(request_once(port, "GET", "/api/stats", None, {"Origin": app, "Host": f"evil.example:{port}"}),
                     403, "--allowed-hosts")


def test_allowed_hosts_and_origins_flags_reach_the_server(tmp_path):
    server = ServerProcess(tmp_path / "c.db", "--allowed-hosts", "chantilly.internal,other.example",
                           "--allowed-origins", "http://app.example,http://127.0.0.1:8011")
    try:
        port = server.port
        for host in ("chantilly.internal", f"other.example:{port}"):
            assert request_once(port, "GET", "/api/stats", headers={"Host": host})[0] == 200, host
        assert_error(request_once(port, "GET", "/api/stats", headers={"Host": "evil.example"}), 403, "--allowed-hosts")
        for origin in ("http://app.example", EVIL):
            status, response, _ = request_once(port, "GET", "/api/stats", headers={"Origin": origin,
                                                                         "Sec-Fetch-Site": "cross-site"})
            assert status == 200 and response.getheader("Access-Control-Allow-Origin") == origin
        assert_error(request_once(port, "GET", "/api/stats", headers={"Origin": "http://app.example:81"}), 403,
                     "--allowed-origins")
    finally:
        server.close()


def test_the_readme_snippets_still_work_without_a_content_type(tmp_path):
    # requests.post(url, data=dill.dumps(model)) sends no Content-Type; json= sends
    # application/json; curl -d sends application/x-www-form-urlencoded.
    requests = pytest.importorskip("requests")
    with ServerThread(tmp_path / "c.db") as running:
        base = f"http://127.0.0.1:{running.port}"
        prepared = requests.Request("POST", f"{base}/api/model", data=dill.dumps(creme_regressor())).prepare()
        assert "Content-Type" not in prepared.headers
        uploaded = requests.post(f"{base}/api/model", data=dill.dumps(creme_regressor()), timeout=TIMEOUT)
        assert uploaded.status_code == 201, uploaded.text
        answer = requests.post(f"{base}/api/predict", json={"id": 42, "features": {"gallup": 43.8, "ipsos": 46.2}},
                               timeout=TIMEOUT)
        assert answer.status_code == 201 and answer.json() == {"model": "default", "prediction": 0.0}
        if shutil.which("curl") is None:
            pytest.skip("curl is not installed")
        curl = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", f"localhost:{running.port}/api/learn",
                               "-d", '{"id": 42, "ground_truth": 43.75}'],
                              capture_output=True, text=True, timeout=TIMEOUT)
        body, code = curl.stdout.rsplit("\n", 1)
        assert code == "201" and json.loads(body) == {"model": "default", "prediction": 0.0}, curl.stdout
        assert requests.get(f"{base}/api/metrics", timeout=TIMEOUT).json()["MAE"] == 43.75
        assert requests.get(f"{base}/api/model", timeout=TIMEOUT).status_code == 200


def test_a_token_in_the_event_source_url_still_opens_a_same_origin_stream(tmp_path):
    with ServerThread(tmp_path / "c.db", tokens={"client": "tok-123"}) as running:
        # What Chromium sends for new EventSource("/api/stream/metrics?token=...").
        status, response, _ = request_once(running.port, "GET", "/api/stream/metrics?token=tok-123", headers={
            "Accept": "text/event-stream", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Dest": "empty", "Referer": f"http://127.0.0.1:{running.port}/"})
        assert status == 200
        assert response.getheader("Content-Type") == "text/event-stream"


# -- the same attacks from a real browser -------------------------------------------------

@pytest.fixture
def chromium(launch_chromium):
    """Debian's Chromium, with evil.example resolving to 127.0.0.1 (DNS rebinding)."""
    return launch_chromium("--host-resolver-rules=MAP evil.example 127.0.0.1")





ATTACK_PAGE = """<!doctype html><meta charset="utf-8"><title>cute cats</title>
<iframe name="sink"></iframe>
<form id="f" target="sink" enctype="text/plain" method="POST" action="{server}/api/learn">
  <input type="hidden" name='{{"features": {{"x": 1}}, "ground_truth": 1000, "pad": "' value='"}}'>
</form>
<script>
window.results = {{}};
(async () => {{
  const bytes = Uint8Array.from(atob("{pickle}"), c => c.charCodeAt(0));
  try {{
    await fetch("{server}/api/model", {{method: "POST", mode: "no-cors", body: bytes}});
    results.upload = "sent";
  }} catch (e) {{ results.upload = "blocked: " + e; }}
  try {{
    await fetch("{rebound}/api/learn", {{method: "POST", mode: "no-cors",
      body: '{{"features": {{"x": 2}}, "ground_truth": 1000}}'}});
    results.rebind = "sent";
  }} catch (e) {{ results.rebind = "blocked: " + e; }}
  const frame = document.querySelector("iframe");
  await new Promise(resolve => {{ frame.onload = resolve; document.getElementById("f").submit(); }});
  results.form = "sent";
  window.done = true;
}})();
</script>"""

_ACCESS_LINE = re.compile(r'(?m)^(\S+) .*?"([A-Z]+) (\S+) HTTP/1\.[01]" (\d{3})')


def access_lines(text, address):
    """``[(method, path, status)]`` of the access log lines for requests from ``address``."""
    return [(m.group(2), m.group(3), int(m.group(4))) for m in _ACCESS_LINE.finditer(text)
            if m.group(1) == address]


@pytest.mark.browser
def test_a_page_on_another_origin_cannot_upload_learn_or_rebind(chromium, tmp_path, capfd):
    marker = tmp_path / "pwned"
    # The browser connects from 127.0.0.1, this client from another loopback address, so that the
    # access log tells their requests apart (a log line may be written after its answer was read:
    # reading the log at a given moment cannot tell them apart).
    with ServerThread(tmp_path / "c.db", access_log=True) as running, \
            Client(running.port, source="127.0.0.2") as client:
        client.upload(creme_regressor())
        for x, y in trump_approval(20):
            client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
        before = observed_state(client)
        server = f"http://127.0.0.1:{running.port}"
        rebound = f"http://evil.example:{running.port}"
        folder = tmp_path / "evil"
        folder.mkdir()
        pickled = base64.b64encode(pickle.dumps(CreatesAFile(str(marker)), protocol=2)).decode()
        (folder / "index.html").write_text(ATTACK_PAGE.format(server=server, rebound=rebound, pickle=pickled))
        with site(folder) as evil:
            context = chromium.new_context()
            try:
                page = context.new_page()
                page.goto(evil + "/index.html")
                page.wait_for_function("() => window.done === true", timeout=15_000)
                results = page.evaluate("window.results")
                # DNS rebinding proper: the attacker's page is served under the name that now
                # points to the server, so its requests are same-origin for the browser.
                navigation = page.goto(rebound + "/")
                rebound_post = page.evaluate("""async () => {
                    const r = await fetch("/api/learn", {method: "POST",
                        body: '{"features": {"x": 3}, "ground_truth": 1000}'});
                    return r.status; }""")
                rebound_read = page.evaluate("async () => (await fetch('/api/metrics')).status")
            finally:
                context.close()
        seen = access_lines(capfd.readouterr().err, "127.0.0.1")
        assert not marker.exists(), "the no-cors upload ran the pickle's code in the server"
        assert observed_state(client) == before
        assert (navigation.status, rebound_post, rebound_read) == (403, 403, 403), results
        assert ("POST", "/api/model", 403) in seen, (results, seen)
        assert ("POST", "/api/learn", 403) in seen, (results, seen)  # the form (and the rebound fetch)
        assert [s for s in seen if s[2] != 403] == [], seen
        # Whatever Chromium did with the cross-origin rebound fetch, the server says 403 to it.
        assert_error(request_once(running.port, "POST", "/api/learn", b'{"features": {"x": 2}, "ground_truth": 1000}',
                          {"Host": f"evil.example:{running.port}", "Origin": evil, "Sec-Fetch-Site": "cross-site",
                           "Sec-Fetch-Mode": "no-cors", "Content-Type": "text/plain;charset=UTF-8"}),
                     403, "--allowed-hosts")
        assert observed_state(client) == before


@pytest.mark.browser
@pytest.mark.parametrize("token", [None, "dash-t0ken"])
def test_the_dashboard_on_its_own_origin_still_loads_and_streams(chromium, tmp_path, token):
    tokens = {"client": token} if token else None
    with ServerThread(tmp_path / "c.db", tokens=tokens) as running, running.client(token) as client:
        client.upload(creme_regressor())
        context = chromium.new_context()
        try:
            if token:  # as if the user had typed it into the token form before
                context.add_init_script(f"localStorage.setItem('chantilly-token', {json.dumps(token)})")
            page = context.new_page()
            errors = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"http://127.0.0.1:{running.port}/")
            page.wait_for_function("() => document.querySelector('#connection').dataset.state === 'live'",
                                   timeout=15_000)  # both EventSources are open
            page.wait_for_function(  # /api/stats was loaded
                "() => document.querySelector('#model-class').textContent.includes('LinearRegression')",
                timeout=15_000)
            client.ok("POST", "/api/predict", {"id": "seen", "features": {"x": 1.0}})
            page.wait_for_function(  # the event arrived through the stream
                "() => { const r = document.querySelector('#events tr'); return r && r.dataset.id === 'seen'; }",
                timeout=15_000)
            assert errors == []
        finally:
            context.close()


# ---------------------------------------------------------------------------------------
# 2. One bad request must not freeze the model
# ---------------------------------------------------------------------------------------


def test_a_batch_of_bad_items_costs_about_normal_calls_whatever_the_log_length(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        client.upload(creme_regressor())
        seed_log(client, 4000)  # 4,000 logged calls since the snapshot
        good = [{"features": x, "ground_truth": y} for x, y in trump_approval(200)]
        started = time.perf_counter()
        client.ok("POST", "/api/learn", good)
        normal = time.perf_counter() - started
        before = observed_state(client)
        started = time.perf_counter()
        try:
            answers = client.ok("POST", "/api/learn", [BAD_ITEM] * 200)
        except socket.timeout:
            pytest.fail(f"200 bad items took over {TIMEOUT} s (200 good ones: {normal:.3f} s)")
        elapsed = time.perf_counter() - started
        assert all(a.get("status") in (400, 422) for a in answers), answers[:3]
        # A bad item replaying the 4,000 logged calls would take minutes, not ten times a good one.
        assert elapsed < SLACK + 10 * normal, f"200 bad items took {elapsed:.2f} s; 200 good ones {normal:.3f} s"
        assert observed_state(client) == before


def test_other_clients_predictions_stay_fast_while_one_floods_bad_items(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        stop, flooding, floods, broken = threading.Event(), threading.Event(), [], []
        bad_lines = b"".join(json.dumps(dict(BAD_ITEM, op="learn")).encode() + b"\n" for _ in range(50))

        def flood():
            """One client sending nothing but bad items: batches and stream chunks of 50."""
            attacker = running.client()
            try:
                while not stop.is_set():
                    flooding.set()
                    if len(floods) % 2:
                        attacker.ok("POST", "/api/stream", bad_lines)
                    else:
                        attacker.ok("POST", "/api/learn", [BAD_ITEM] * 50)
                    floods.append(time.monotonic())
            except Exception as e:  # reported below: a flood that stopped measures nothing
                broken.append(e)
            finally:
                attacker.close()

        flooder = threading.Thread(target=flood)
        try:
            client.upload(creme_regressor())
            seed_log(client, 4000)
            x = trump_approval(1)[0][0]
            flooder.start()
            assert flooding.wait(TIMEOUT)
            latencies, measuring, deadline = [], time.monotonic(), time.monotonic() + 20
            while len(latencies) < 300 and time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    client.ok("POST", "/api/predict", {"features": x})
                except socket.timeout:
                    pytest.fail(f"a prediction waited over {TIMEOUT} s behind a flood of bad items")
                latencies.append(time.perf_counter() - started)
            latencies.sort()
            p99 = latencies[int(0.99 * (len(latencies) - 1))]
            assert len(latencies) == 300, f"only {len(latencies)} predictions in 20 s (p99 {p99:.2f} s)"
            assert not broken and flooder.is_alive(), broken
            assert sum(t > measuring for t in floods) >= 2, "the flood did not go on during the measurement"
            assert p99 < 1.0, f"p99 of predictions during a flood of bad items: {p99:.2f} s"
        finally:
            stop.set()
            if flooder.ident:
                flooder.join(3 * TIMEOUT)


# ---------------------------------------------------------------------------------------
# 3. The log must not grow without limit while only predictions arrive
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.sqlite_file
def test_predictions_alone_trigger_snapshots_and_kill_9_restarts_exactly(tmp_path):
    db = tmp_path / "c.db"
    proc = ServerProcess(db)
    sim = Simulator(creme_regressor(), "regression")
    rows = trump_approval(1000)
    try:
        client = proc.client()
        client.upload(creme_regressor())
        total = 12_000  # creme predictions change the model, so each one is logged
        for start in range(0, total, 100):
            batch = [rows[(start + i) % len(rows)][0] for i in range(100)]
            client.ok("POST", "/api/predict", [{"features": x} for x in batch])
            for x in batch:
                sim.predict(x)
    finally:
        proc.close()  # SIGKILL: no shutdown snapshot
    logged = count_rows(db, "log")
    assert logged <= chantilly.SNAPSHOT_EVERY + 100, f"{logged} log records after {total} predictions"
    proc = ServerProcess(db)
    try:
        client = proc.client()
        assert model_stats(client)["predictions"] == total
        for probe in PROBES:
            assert client.ok("POST", "/api/predict", {"features": probe})["prediction"] == sim.predict(probe)
    finally:
        proc.close()


# ---------------------------------------------------------------------------------------
# 4. A custom model class keeps its state across an undo and a restart
# ---------------------------------------------------------------------------------------

WRAPPED = """
from creme import linear_model, preprocessing


class WrappedPipeline:
    \"\"\"A user's own class: duck-typed, wrapping a creme pipeline (which changes on predict).\"\"\"

    def __init__(self):
        self.pipe = preprocessing.StandardScaler() | linear_model.LinearRegression()

    def learn_one(self, x, y):
        self.pipe.fit_one(x, y)
        return self

    def predict_one(self, x):
        return self.pipe.predict_one(x)
"""


@pytest.mark.slow
def test_a_duck_typed_model_is_the_same_after_an_undo_and_after_kill_9(tmp_path, monkeypatch):
    module = write_module(tmp_path, monkeypatch, "security_wrapped_model", WRAPPED)
    db = tmp_path / "c.db"
    sim = Simulator(creme_regressor(), "regression")
    sim.model = module.WrappedPipeline()  # the Simulator scores with creme; only the model matters here
    rows = trump_approval(60)
    probe = rows[-1][0]
    proc = ServerProcess(db)
    try:
        client = proc.client()
        client.upload(module.WrappedPipeline(), query="?flavor=regression")
        for i, (x, y) in enumerate(rows):
            if i % 3:
                client.ok("POST", "/api/predict", {"features": x})
                sim.predict(x)
            else:
                client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
                sim.learn(y, x)
        assert client.ok("POST", "/api/predict", {"features": probe})["prediction"] == sim.predict(probe)
        bad = dict(probe, gallup="not a number")
        assert_error(client.request("POST", "/api/learn", {"features": bad, "ground_truth": 1.0}), 422, "")
        assert client.ok("POST", "/api/predict", {"features": probe})["prediction"] == sim.predict(probe), \
            "an unrelated 422 rolled the model back past its predictions"
    finally:
        proc.close()  # SIGKILL
    proc = ServerProcess(db)
    try:
        client = proc.client()
        assert client.ok("POST", "/api/predict", {"features": probe})["prediction"] == sim.predict(probe), \
            "the restarted model is not the one that was serving"
    finally:
        proc.close()


# ---------------------------------------------------------------------------------------
# 5. Memory and slots an attacker (or a slow client) can take
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_events_client_that_never_reads_is_dropped_and_memory_stays_bounded(tmp_path):
    proc = ServerProcess(tmp_path / "c.db")
    sock = None
    try:
        client = proc.client()
        client.upload(river_dummy())
        big = {"features": {"pad": "a" * 900_000}}  # under the 1 MiB body limit
        for _ in range(20):  # warm up the allocator with the same traffic, nobody listening
            client.ok("POST", "/api/predict", big)
        baseline = proc.memory()[0] / 2 ** 20
        sock = non_reading_stream(proc.port)
        assert client.ok("GET", "/api/stats")["subscribers"] == 1
        for _ in range(400):  # 360 MB of events for a client that reads none of them
            client.ok("POST", "/api/predict", big)
        grown = proc.memory()[0] / 2 ** 20 - baseline
        subscribers = client.ok("GET", "/api/stats")["subscribers"]
        assert grown < 150 and subscribers == 0, (
            f"RSS grew by {grown:.0f} MiB for one client that never reads; subscribers: {subscribers}")
    finally:
        if sock is not None:
            sock.close()
        proc.close()


def test_stream_backlog_flag_caps_the_backlog_in_bytes(tmp_path):
    proc = ServerProcess(tmp_path / "c.db", "--stream-backlog", "200000")
    sock = None
    try:
        client = proc.client()
        client.upload(river_dummy())
        sock = non_reading_stream(proc.port)
        medium = {"features": {"pad": "a" * 100_000}}
        for _ in range(150):  # 15 MB: more than the socket buffers can absorb
            client.ok("POST", "/api/predict", medium)
        assert client.ok("GET", "/api/stats")["subscribers"] == 0
        client.close()
    finally:
        if sock is not None:
            sock.close()
        proc.close()


def test_event_streams_closed_by_their_clients_free_their_slot_within_seconds(tmp_path):
    with ServerThread(tmp_path / "c.db", max_streams=4) as running, running.client() as client:
        streams = [SSEClient(running.port, "/api/stream/events") for _ in range(4)]
        assert request_once(running.port, "GET", "/api/stream/metrics")[0] == 503
        for s in streams:
            s.close()
        started = time.monotonic()
        # No learn, no publish: nothing is written to those streams to find them gone.
        freed = wait_until(lambda: client.ok("GET", "/api/stats")["subscribers"] == 0)
        elapsed = time.monotonic() - started
        assert freed, f"closed streams still hold their slots after {TIMEOUT} s"
        fresh = SSEClient(running.port, "/api/stream/metrics")
        fresh.close()
        assert elapsed < 1.0 + SLACK  # checked each second; a heartbeat would find them after 15 s


@pytest.mark.parametrize("idle", ["silent", "keep-alive"])
def test_idle_connections_cannot_lock_out_a_new_client(tmp_path, idle):
    with ServerThread(tmp_path / "c.db", max_connections=4) as running:
        sockets = []
        try:
            for i in range(4):  # from four addresses: no per-address cap is involved
                sock = socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT,
                                                source_address=(f"127.0.0.{i + 2}", 0))
                sockets.append(sock)
                if idle == "keep-alive":
                    sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\n\r\n".encode())
                    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            status, _, data = request_once(running.port, "GET", "/api/health")
            assert status == 200, f"a new client got {status} {data} while 4 idle sockets held every slot"
            # An idle one made room: the one whose handler began waiting first, which need not be
            # the first opened (a handler thread may run late, even after answering its request).
            closed_one(sockets)
        finally:
            for sock in sockets:
                sock.close()


def test_one_address_cannot_take_more_than_its_share_of_connections(tmp_path):
    with ServerThread(tmp_path / "c.db", max_connections=100, max_per_client=3) as running:
        held = []
        try:
            # Three busy connections (event streams) from 127.0.0.2: none of them can give way.
            held = [non_reading_stream(running.port, source="127.0.0.2") for _ in range(3)]
            assert_error(request_once(running.port, "GET", "/api/health", source="127.0.0.2"), 503, "")
            assert request_once(running.port, "GET", "/api/health", source="127.0.0.1")[0] == 200  # others still get in
        finally:
            for sock in held:
                sock.close()


def test_idle_connections_of_one_address_give_way_to_its_new_one_within_its_share(tmp_path):
    with ServerThread(tmp_path / "c.db", max_connections=100, max_per_client=3) as running:
        held = []
        try:
            for _ in range(3):
                sock = socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT,
                                                source_address=("127.0.0.2", 0))
                held.append(sock)
            # Either the newcomer is refused, or an idle one of the same address is closed for it:
            # 127.0.0.2 never holds more than its three slots.
            status = request_once(running.port, "GET", "/api/health", source="127.0.0.2")[0]
            assert status in (200, 503)
            if status == 200:
                closed_one(held)  # whichever handler began waiting first (threads start in no set order)
        finally:
            for sock in held:
                sock.close()


def test_max_connections_per_client_flag_reaches_the_server(tmp_path):
    server = ServerProcess(tmp_path / "c.db", "--max-connections-per-client", "1")
    stream = None
    try:
        stream = non_reading_stream(server.port)  # busy: it cannot give way
        status, _, data = request_once(server.port, "GET", "/api/health")
        assert status == 503 and "message" in data, (status, data)
    finally:
        if stream is not None:
            stream.close()
        server.close()


LEARN_ENTERED = threading.Event()
LEARN_RELEASE = threading.Event()


class BlockingRegressor:
    """Learns like a creme pipeline, but a label of 999 blocks inside learn_one until released."""

    def __init__(self):
        self.pipe = creme_regressor()

    def learn_one(self, x, y):
        if y == 999:
            LEARN_ENTERED.set()
            LEARN_RELEASE.wait(3 * TIMEOUT)
        self.pipe.fit_one(x, y)
        return self

    def predict_one(self, x):
        return self.pipe.predict_one(x)


def test_read_only_routes_and_uploads_do_not_wait_for_a_stuck_learn(tmp_path):
    LEARN_ENTERED.clear()
    LEARN_RELEASE.clear()
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        stuck = threading.Thread(target=lambda: request_once(running.port, "POST", "/api/learn",
                                                     {"features": {"x": 1.0}, "ground_truth": 999},
                                                     timeout=4 * TIMEOUT))
        try:
            client.upload(BlockingRegressor(), query="?flavor=regression")
            for i in range(5):
                client.ok("POST", "/api/learn", {"features": {"x": float(i)}, "ground_truth": float(i)})
            metrics = client.ok("GET", "/api/metrics")
            stuck.start()
            assert LEARN_ENTERED.wait(TIMEOUT)
            answers = {}
            for method, path, body in [("GET", "/api/metrics", None), ("GET", "/api/stats", None),
                                       ("GET", "/api/health", None), ("GET", "/api/metrics/history", None),
                                       ("POST", "/api/model", dill.dumps(creme_regressor()))]:
                started = time.monotonic()
                try:
                    status, _, data = request_once(running.port, method, path, body, timeout=SLACK)
                except socket.timeout:
                    status, data = f"no answer in {SLACK} s", None
                answers[path] = (status, round(time.monotonic() - started, 1), data)
            assert answers["/api/metrics"][0] == 200 and answers["/api/metrics"][2] == metrics, answers
            assert answers["/api/stats"][0] == 200 and answers["/api/stats"][2]["model"]["learns"] == 5, answers
            assert answers["/api/health"][0] == 200, answers
            assert answers["/api/metrics/history"][0] == 200, answers
            assert answers["/api/model"][0] == 201, answers
        finally:
            LEARN_RELEASE.set()
            if stuck.ident:
                stuck.join(4 * TIMEOUT)


SLEEPY = """
import time
from creme import linear_model, preprocessing

ENTERED = {marker!r}


class SleepyRegressor:
    \"\"\"A label of 999 makes learn_one take 30 s.\"\"\"

    def __init__(self):
        self.pipe = preprocessing.StandardScaler() | linear_model.LinearRegression()

    def learn_one(self, x, y):
        if y == 999:
            open(ENTERED, "w").close()
            time.sleep(30)
        self.pipe.fit_one(x, y)
        return self

    def predict_one(self, x):
        return self.pipe.predict_one(x)
"""


@pytest.mark.slow
def test_sigterm_during_a_stuck_learn_exits_0_promptly_and_keeps_what_was_acknowledged(
        tmp_path, monkeypatch):
    entered = tmp_path / "entered"
    module = write_module(tmp_path, monkeypatch, "security_sleepy_model", SLEEPY.format(marker=str(entered)))
    db = tmp_path / "c.db"
    proc = ServerProcess(db)
    stuck = None
    try:
        client = proc.client()
        client.upload(module.SleepyRegressor(), query="?flavor=regression")
        for i in range(10):
            client.ok("POST", "/api/learn", {"features": {"x": float(i)}, "ground_truth": float(i)})
        stuck = socket.create_connection(("127.0.0.1", proc.port), timeout=TIMEOUT)
        body = b'{"features": {"x": 1.0}, "ground_truth": 999}'
        stuck.sendall(b"POST /api/learn HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
        assert wait_until(entered.exists, work=lambda: client.ok("GET", "/api/health"))
        started = time.monotonic()
        try:
            code = proc.terminate()
        except subprocess.TimeoutExpired:
            pytest.fail(f"SIGTERM with a learn stuck in the model: still running after {TIMEOUT} s")
        elapsed = time.monotonic() - started
        assert code == 0 and elapsed < 2.0 + SLACK, (code, elapsed)  # the learn alone would take 30 s
    finally:
        if stuck is not None:
            stuck.close()
        proc.close()
    proc = ServerProcess(db)
    try:
        assert model_stats(proc.client())["learns"] == 10
    finally:
        proc.close()


# ---------------------------------------------------------------------------------------
# 6. Smaller holes of the same classes
# ---------------------------------------------------------------------------------------


def test_max_ids_keeps_exactly_the_newest_ids_of_a_batch_without_a_sweep(tmp_path):
    proc = ServerProcess(tmp_path / "c.db", "--max-ids", "10")
    try:
        client = proc.client()
        client.upload(creme_regressor())
        client.ok("POST", "/api/predict", [{"id": i, "features": {"x": float(i)}} for i in range(50)])
        assert model_stats(client)["pending"] == 10
        answers = client.ok("POST", "/api/learn", [{"id": i, "ground_truth": 1.0} for i in range(50)])
        assert [a.get("status") for a in answers] == [410] * 40 + [None] * 10, answers
    finally:
        proc.close()


@pytest.mark.slow
@pytest.mark.sqlite_file
def test_no_learn_is_acknowledged_while_every_write_is_refused(tmp_path):
    db = tmp_path / "c.db"
    service = chantilly.Service.open(db)
    try:
        service.upload(dill.dumps(creme_regressor()))
        for x, y in trump_approval(10):
            service.learn({"features": x, "ground_truth": y})
        with service.store._conn_lock:  # from now on SQLite refuses every write, for real
            service.store._conn.execute("PRAGMA query_only=ON")
        acked, refused, errors = [], [], []
        rows = trump_approval(60)

        def work(t):
            for x, y in rows:
                try:
                    service.learn({"features": dict(x, t=float(t)), "ground_truth": y})
                    acked.append(t)
                except chantilly.Unavailable:
                    refused.append(t)
                except Exception as e:  # anything else is a bug of its own, reported below
                    errors.append(repr(e))

        # Many more threads than the 64 refusals the store used to remember: a caller whose write
        # was refused must hear so however many refusals come between its write and its commit.
        threads = [threading.Thread(target=work, args=(t,)) for t in range(256)]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)  # threads interleave often, as on a machine with many cores
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(6 * TIMEOUT)
        finally:
            sys.setswitchinterval(interval)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        service.close()  # its snapshot is refused too: the log is what holds the learns
    stored = count_rows(db, "log") - 10
    assert len(acked) == stored == 0, f"{len(acked)} learns acknowledged, {stored} stored"
    assert errors == [], errors[:5]
    assert len(refused) == 256 * len(rows)


def test_tokens_never_reach_the_log_however_the_query_spells_them(tmp_path):
    secret = "S3CRET-tok-5e1f"
    proc = ServerProcess(tmp_path / "c.db", "--access-log", "--token", secret)
    try:
        for query in (f"tok%65n={secret}", f"%74oken={secret}", f"token={secret}", f"a=1&tok%65n={secret}",
                      f"%74%6F%6B%65%6E={secret}"):
            status, _, data = request_once(proc.port, "GET", f"/api/stats?{query}")
            assert status == 200, (query, data)  # accepted as the token
        for path in (f"/static/%00?token={secret}", f"/api/nothing?tok%65n={secret}",
                     f"/static/{'a/' * 3000}a?%74oken={secret}"):
            request_once(proc.port, "GET", path)  # errors of any kind log their path
        assert proc.terminate() == 0
        logged = proc.stderr_text()
    finally:
        proc.close()
    assert "/api/stats" in logged, "the access log is on"
    assert secret not in logged, [line for line in logged.splitlines() if secret in line][:3]


def test_a_public_address_with_only_an_admin_token_is_refused(tmp_path):
    try:
        result = run_cli("run", "--host", "0.0.0.0", "--port", "0", "--db", str(tmp_path / "c.db"),
                         "--admin-token", "adm1n", env=dict(os.environ, CHANTILLY_TOKEN=""))
    except subprocess.TimeoutExpired as e:  # run_cli killed it
        pytest.fail(f"started on 0.0.0.0 with predict, learn and stats open to anyone: {e.stdout!r}")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "--token" in result.stderr, result.stderr
    assert not (tmp_path / "c.db").exists()


@pytest.mark.parametrize("path", ["/static/%00", "/static/a%00b", "/static/" + "a" * 300,
                                  "/static/" + "a/" * 3000 + "a", "/static/%2e%2e/" + "b" * 300,
                                  "/static/" + "%C3%A9" * 200])
def test_odd_static_paths_are_404s(tmp_path, path):
    with ServerThread(tmp_path / "c.db") as running:
        assert_error(request_once(running.port, "GET", path), 404, "")
        assert request_once(running.port, "GET", "/static/app.js")[0] == 200


class ArrayRegressor:
    """predict_one answers with a numpy array: nothing JSON can carry as one prediction."""

    def learn_one(self, x, y):
        return self

    def predict_one(self, x):
        import numpy
        return numpy.array([1.0, 2.0])


class TupleKeysClassifier:
    """predict_proba_one answers with tuple keys, which JSON objects cannot have."""

    def learn_one(self, x, y):
        return self

    def predict_one(self, x):
        return (3, 4)

    def predict_proba_one(self, x):
        return {(1, 2): 0.25, (3, 4): 0.75}


@pytest.mark.parametrize("model, flavor, y", [(ArrayRegressor, "regression", 1.0),
                                              (TupleKeysClassifier, "binary", True)])
def test_a_prediction_that_cannot_be_encoded_is_a_422_and_commits_nothing(tmp_path, model, flavor, y):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        client.upload(model(), query=f"?flavor={flavor}")
        assert counters(client) == (0, 0, 0)
        assert_error(client.request("POST", "/api/predict", {"id": "a", "features": {"x": 1.0}}), 422, "")
        assert_error(client.request("POST", "/api/predict", {"features": {"x": 1.0}}), 422, "")
        assert_error(client.request("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": y}), 422, "")
        answers = client.ok("POST", "/api/predict", [{"id": "b", "features": {"x": 1.0}}])
        assert answers[0]["status"] == 422, answers
        assert counters(client) == (0, 0, 0)
        assert_error(client.request("POST", "/api/learn", {"id": "a", "ground_truth": y}), 400, "No information stored")
        assert_error(client.request("POST", "/api/learn", {"id": "b", "ground_truth": y}), 400, "No information stored")
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:  # and nothing was logged either
        assert counters(client) == (0, 0, 0)


def test_expired_ids_are_410_before_and_after_the_sweep(tmp_path):
    # Before any sweep: a TTL of a nanosecond, so the id is expired when its label comes.
    with running_with_model(tmp_path / "a.db", rows=0, id_ttl=1e-9) as (running, client):
        client.ok("POST", "/api/predict", {"id": "a0", "features": {"x": 0.0}})
        assert_error(client.request("POST", "/api/learn", {"id": "a0", "ground_truth": 1.0}), 410, "expired")
    # After the sweeper ran: an hour's TTL, and a sweep as the clock will be an hour from now.
    ttl = 3600.0
    with running_with_model(tmp_path / "b.db", rows=0, id_ttl=ttl) as (running, client):
        for i in range(1, 4):
            client.ok("POST", "/api/predict", {"id": f"a{i}", "features": {"x": float(i)}})
        assert running.service.sweep(now=time.time() + ttl + 60) == 3
        assert counters(client)[2] == 0
        assert_error(client.request("POST", "/api/learn", {"id": "a1", "ground_truth": 1.0}), 410, "expired")
        answers = client.ok("POST", "/api/learn", [{"id": "a2", "ground_truth": 1.0}])
        assert answers[0]["status"] == 410, answers
        status, _, data = client.request("POST", "/api/stream", b'{"op": "learn", "id": "a3", "ground_truth": 1}\n')
        assert status == 200 and json.loads(data)["status"] == 410, data
        # An id never predicted is still a 400 (nothing is stored under it, as chantilly 0.2 says).
        assert_error(client.request("POST", "/api/learn", {"id": "never", "ground_truth": 1.0}), 400, "never predicted")


LEARN_51 = b'{"features": {"x": 1.0}, "ground_truth": 1.0}'.ljust(0x33)


@pytest.mark.parametrize("size_line", [b"0x33", b"+33", b"3_3", b" 33", b"-0", b"0X33"])
def test_chunk_sizes_that_are_not_plain_hex_are_400_and_close_the_connection(tmp_path, size_line):
    with running_with_model(tmp_path / "c.db") as (running, client):
        before = counters(client)
        head = (f"POST /api/learn HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        body = LEARN_51 + b"\r\n0\r\n\r\n" if size_line != b"-0" else b"\r\n"
        follow = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\n\r\n".encode()
        # exchange() returns only once the server closed the connection.
        responses = parse_responses(exchange(running.port, head + size_line + b"\r\n" + body + follow,
                                             shut_write=False, timeout=5))
        assert [r[0] for r in responses] == [400], responses
        assert_json_answer(*responses[0])
        assert counters(client) == before


# ---------------------------------------------------------------------------------------
# 10. Found by a red team: names a URL cannot carry, and labels a client can invent
# ---------------------------------------------------------------------------------------

#: Model names as they come in a URL path: a line break (a header to inject into the
#: download's Content-Disposition), a non-ASCII name, the dot segments that clients and
#: proxies rewrite, and "@challenger" anywhere but as the suffix of a read.
BAD_NAMES = ["m%0d%0aX-Injected:%20yes", "m@challenger%0d%0aX-Injected:%20yes", "%E2%82%AC", "caf%C3%A9",
             ".", "..", "%2E", "%2E%2E", "m@challengerXYZ", "m@challenger@challenger", "@challenger"]


def model_routes(name):
    """Every route that takes a model name, as ``(method, path, body)``: in the path, in a
    JSON body, in the query."""
    model = dill.dumps(river_dummy())
    plain = urllib.parse.unquote(name)
    return [("POST", f"/api/model/{name}", model), ("GET", f"/api/model/{name}", None),
            ("DELETE", f"/api/model/{name}", None), ("GET", f"/api/model/{name}/versions", None),
            ("POST", f"/api/model/{name}/challenger", model), ("DELETE", f"/api/model/{name}/challenger", None),
            ("POST", f"/api/model/{name}/promote", None), ("POST", f"/api/model/{name}/rollback", {"version": 1}),
            ("GET", f"/api/metrics?model={name}", None), ("POST", "/api/predict", {"model": plain, "features": {}}),
            ("POST", "/api/models/default", {"name": plain})]


def models_and_versions(client):
    """``(GET /api/models, {name: its versions})``: what a refused call must leave alone."""
    listing = client.ok("GET", "/api/models")
    return listing, {name: client.ok("GET", f"/api/model/{name}/versions") for name in listing["models"]}


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_no_model_can_have_is_400_on_every_route_and_creates_nothing(tmp_path, name):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        client.ok("POST", "/api/model/m", dill.dumps(river_dummy()), 201)  # served, with a challenger
        client.ok("POST", "/api/model/m/challenger", dill.dumps(river_dummy()), 201)
        before = models_and_versions(client)
        for method, path, body in model_routes(name):
            result = client.request(method, path, body)
            assert_error(result, 400, "is not a model name")
            assert result[1].getheader("X-Injected") is None, (method, path)
        assert models_and_versions(client) == before


def test_challenger_is_a_suffix_for_reads_only(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        client.ok("POST", "/api/model/m", dill.dumps(river_dummy()), 201)
        client.ok("POST", "/api/model/m/challenger", dill.dumps(river_dummy()), 201)
        before = models_and_versions(client)
        client.ok("GET", "/api/metrics?model=m@challenger")  # reads may name the challenger
        assert dill.loads(client.ok("GET", "/api/model/m@challenger")).predict_one({}) == 0.0
        # Nothing else takes it: a challenger is not a model of its own (DELETE
        # /api/model/m/challenger drops it; calls to m reach it).
        reads = {("GET", "/api/model/m@challenger"), ("GET", "/api/metrics?model=m@challenger")}
        for method, path, body in model_routes("m@challenger"):
            if (method, path) not in reads:
                assert_error(client.request(method, path, body), 400, "is not a model name")
        assert models_and_versions(client) == before


def metric_values(text):
    """``{series (name and labels): value}`` of a /metrics answer."""
    series = (line.rpartition(" ") for line in text.splitlines() if line and not line.startswith("#"))
    return {name: float(value) for name, _, value in series}


def requests_of_other_methods(values):
    """Requests counted under method="other" in ``values`` (see :func:`metric_values`)."""
    return sum(v for k, v in values.items()
               if k.startswith("chantilly_http_requests_total{") and 'method="other"' in k)


def test_requests_with_made_up_methods_are_counted_as_other_and_add_no_series(tmp_path):
    rng = random.Random(5)
    methods = set()
    while len(methods) < 200:  # any token is a method (RFC 9110 9.1): a client can make up many
        methods.add("".join(rng.choices(string.ascii_uppercase + string.digits, k=rng.randint(6, 16))))
    methods -= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        client.upload(river_dummy())
        client.request("BREW", "/api/health")  # "other" and /metrics have their series before the flood
        client.ok("GET", "/metrics")
        before = metric_values(client.ok("GET", "/metrics").decode())
        for method in sorted(methods):
            status, _, _ = request_once(running.port, method, "/api/health")
            assert 400 <= status < 500 or status == 501, (method, status)
        text = client.ok("GET", "/metrics").decode()
    after = metric_values(text)
    assert not [s for s in after if any(f'method="{m}"' in s for m in methods)]
    assert not set(after) - set(before), sorted(set(after) - set(before))
    assert requests_of_other_methods(after) - requests_of_other_methods(before) == len(methods)
    promtool = shutil.which("promtool")
    if promtool:
        checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                                 timeout=TIMEOUT)
        assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
