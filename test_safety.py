"""Attacks found by an outside probe and the bounds that stop them.

One section per finding of the probe, in the order of its report: a challenger taught calls
its model refused; CORS and admin routes; the database file deleted or replaced under a
running server; SIGTERM while a request arrives; memory held by stalled event streams; slow
bodies; trailers; CR, LF and NUL in header values; one model growing without bound; class
labels without bound; a read-only database; framing; a lone copy beside a foreign static/;
origins, absolute-form targets and expectations.

Real servers on 127.0.0.1:0 (in this process or as ``chantilly.py run`` child processes),
real HTTP (raw sockets where the attack needs them), real SQLite files under tmp_path, real
creme/river models, real Chromium. Expected values come from in-process replays
(harness.Simulator). Nothing sleeps to synchronise: tests wait on sockets, processes and
counters; upper bounds on wall time are the time a step should take plus SLACK.
"""

import contextlib
import json
import os
import pickle
import random
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import dill
import pytest

from harness import (
    ROOT, SLACK, START_TIMEOUT, TIMEOUT, CreatesAFile, ServerThread, Simulator, assert_error,
    counters, creme_regressor, exchange, health_once, model_stats, parse_responses,
    read_until_closed, request_once, river_dummy, river_regressor, site, trump_approval, wait_until,
)

MiB = 1024 * 1024

# ---------------------------------------------------------------------------------------
# Helpers (candidates for harness.py)
# ---------------------------------------------------------------------------------------




def refused_start(db, *args, cwd=ROOT, env=None, prefix=()):
    """``[*prefix] python chantilly.py run --port 0 --db db *args``, which must exit without
    serving: ``(exit code, stderr)``. Fails at once, killing it, if it says it serves."""
    env = dict(os.environ if env is None else env)
    for name in ("CHANTILLY_TOKEN", "CHANTILLY_ADMIN_TOKEN"):
        env.pop(name, None)
    proc = subprocess.Popen([*prefix, sys.executable, str(ROOT / "chantilly.py"), "run", "--port", "0",
                             "--db", str(db), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    try:
        if not first or first[0].startswith("chantilly serving"):
            proc.kill()
            out, err = proc.communicate(timeout=TIMEOUT)
            raise AssertionError(f"it did not refuse to start: {''.join(first + [out])[:300]!r} {err[-1000:]!r}")
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
    return proc.returncode, err



def raw_answers(port, data, shut_write=True):
    """Send raw bytes on a connection of its own: every ``(status, headers, body)`` the server
    answered before closing it, and the raw bytes."""
    received = exchange(port, data, shut_write=shut_write)
    return parse_responses(received), received


def read_head(sock):
    """The bytes of one response head (an interim 100 Continue), read byte by byte so that
    nothing after it is consumed."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            break
        data += byte
    return data


def head(method, path, port, *fields):
    """A request head: request line, Host, then ``fields`` ("Name: value" strings or bytes)."""
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: 127.0.0.1:{port}".encode()]
    lines += [f.encode("latin-1") if isinstance(f, str) else f for f in fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def upload(client, model, name=None, status=201):
    """POST the model (dill) to /api/model or /api/model/<name>."""
    return client.ok("POST", "/api/model" + (f"/{name}" if name else ""), dill.dumps(model), status)


# ---------------------------------------------------------------------------------------
# 1. A challenger sees exactly the calls its model acknowledged
# ---------------------------------------------------------------------------------------

BOOM = {"gallup": 40.0, "ipsos": "boom"}  # creme's StandardScaler raises on a text: 422


def challenger_learns(client):
    return client.ok("GET", "/api/stats?model=polls@challenger")["model"]["learns"]


def test_a_challenger_never_sees_the_calls_its_model_refused_and_is_promoted_as_their_replay(tmp_path):
    rows = trump_approval(60)
    challenger = Simulator(river_dummy(), "regression")  # fed only what the model acknowledged
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        upload(client, creme_regressor(), "polls")
        client.ok("POST", "/api/model/polls/challenger", dill.dumps(river_dummy()), 201)
        for i, (x, y) in enumerate(rows[:20]):
            client.ok("POST", "/api/learn", {"model": "polls", "features": x, "ground_truth": y})
            challenger.learn(y, x)
        learns = challenger_learns(client)
        assert learns == 20
        # Features the model raises on: 422, and the challenger (which takes anything) must not learn them.
        assert_error(client.request("POST", "/api/learn", {"model": "polls", "features": BOOM,
                                                           "ground_truth": 1000.0}), 422)
        assert challenger_learns(client) == learns, "a learn the model refused (422) reached the challenger"
        # A predict by id the model refused (422), then a learn by that id (400: nothing stored).
        assert_error(client.request("POST", "/api/predict", {"model": "polls", "id": "k", "features": BOOM}), 422)
        assert_error(client.request("POST", "/api/learn", {"model": "polls", "id": "k",
                                                           "ground_truth": 500.0}), 400, "No information stored")
        assert challenger_learns(client) == learns, \
            "a learn by an id the model does not have (400) reached the challenger"
        assert_error(client.request("POST", "/api/learn", {"model": "polls", "id": "never", "ground_truth": 9.0}), 400)
        # The same refusals inside a batch, between acknowledged calls.
        batch = [{"model": "polls", "features": rows[20][0], "ground_truth": rows[20][1]},
                 {"model": "polls", "features": BOOM, "ground_truth": 2000.0},
                 {"model": "polls", "id": "k", "ground_truth": 3000.0},
                 {"model": "polls", "features": rows[21][0], "ground_truth": rows[21][1]}]
        answers = client.ok("POST", "/api/learn", batch)
        assert [a.get("status", 200) for a in answers] == [200, 422, 400, 200], answers
        for x, y in rows[20:22]:
            challenger.learn(y, x)
        assert challenger_learns(client) == learns + 2, "refused items of a batch reached the challenger"
        for i, (x, y) in enumerate(rows[22:], start=22):  # acknowledged predictions by id, learned later
            client.ok("POST", "/api/predict", {"model": "polls", "id": i, "features": x})
            challenger.predict(x, id=i)
            client.ok("POST", "/api/learn", {"model": "polls", "id": i, "ground_truth": y})
            challenger.learn(y, id=i)
        assert client.ok("GET", "/api/metrics?model=polls@challenger") == challenger.values()
        described = client.ok("GET", "/api/models")["descriptions"]["polls"]["challenger"]
        assert described["learns"] == len(rows)
        client.ok("POST", "/api/model/polls/promote")
        served = dill.loads(client.ok("GET", "/api/model/polls"))
        probes = [x for x, _ in rows[:5]] + [{"x": 1.0}]
        assert [served.predict_one(dict(x)) for x in probes] == [challenger.model.predict_one(dict(x)) for x in probes]
        assert client.ok("GET", "/api/metrics?model=polls") == challenger.values()


# ---------------------------------------------------------------------------------------
# 2. Allowed origins never reach the admin routes without an admin token
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("origins", ["*", "*/", "http://a.example,*/"])
def test_allowed_origins_star_without_any_token_refuses_to_start(tmp_path, origins):
    code, stderr = refused_start(tmp_path / "c.db", "--allowed-origins", origins)
    assert code != 0, stderr
    assert "--token" in stderr, stderr


def test_an_allowed_origin_cannot_upload_download_or_delete_models_without_an_admin_token(tmp_path):
    marker = tmp_path / "pwned"
    app = "http://a.example"
    cors = {"Origin": app, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    with ServerThread(tmp_path / "c.db", allowed_origins=(app,)) as running, running.client() as client:
        upload(client, creme_regressor())  # a program (no Origin) may
        evil = pickle.dumps(CreatesAFile(str(marker)), protocol=2)
        assert_error(request_once(running.port, "POST", "/api/model", evil, cors), 403, "--admin-token")
        assert not marker.exists(), "the upload from an allowed origin was unpickled"
        assert_error(request_once(running.port, "POST", "/api/model/other", evil, cors), 403, "--admin-token")
        assert not marker.exists(), "the upload from an allowed origin was unpickled"
        assert_error(request_once(running.port, "GET", "/api/model", None, cors), 403, "--admin-token")
        assert_error(request_once(running.port, "DELETE", "/api/model", None, cors), 403, "--admin-token")
        assert model_stats(client)["class"]  # still there
        # The routes the origin was allowed for still work, with CORS.
        status, response, data = request_once(running.port, "POST", "/api/predict", {"features": {"x": 1.0}},
                                              dict(cors, **{"Content-Type": "application/json"}))
        assert status == 200 and response.getheader("Access-Control-Allow-Origin") == app, data
        status, response, data = request_once(running.port, "POST", "/api/learn",
                                              {"features": {"x": 1.0}, "ground_truth": 2.0}, cors)
        assert status == 201 and response.getheader("Access-Control-Allow-Origin") == app, data


# ---------------------------------------------------------------------------------------
# 3. The database file deleted or replaced under a running server
# ---------------------------------------------------------------------------------------


def learn_ok(client, n, start=0):
    for x, y in trump_approval(start + n)[start:]:
        client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})


def test_a_database_deleted_under_a_running_server_refuses_writes_and_a_second_server(tmp_path, start_server):
    db = tmp_path / "c.db"
    server = start_server(db)
    with server.client() as client:
        upload(client, creme_regressor())
        learn_ok(client, 10)
        for path in (db, tmp_path / "c.db-wal", tmp_path / "c.db-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        assert_error(client.request("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 2.0}),
                     503, "deleted")
        assert client.request("GET", "/api/metrics")[0] == 200  # reads still answer
        code, stderr = refused_start(db)
        assert code != 0, stderr
        assert_error(client.request("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 2.0}), 503)


def test_a_database_replaced_under_a_running_server_refuses_writes_with_503(tmp_path, start_server):
    db = tmp_path / "c.db"
    server = start_server(db)
    other = tmp_path / "other" / "c.db"
    other.parent.mkdir()
    with ServerThread(other) as second, second.client() as client:  # another chantilly database
        upload(client, creme_regressor())
    with server.client() as client:
        upload(client, creme_regressor())
        learn_ok(client, 10)
        os.replace(other, db)
        assert_error(client.request("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 2.0}),
                     503, "replaced")
        assert client.request("GET", "/api/metrics")[0] == 200


def test_a_write_ahead_log_deleted_under_a_running_server_refuses_writes(tmp_path, start_server):
    db = tmp_path / "c.db"
    server = start_server(db)
    with server.client() as client:
        upload(client, creme_regressor())
        learn_ok(client, 5)
        os.remove(tmp_path / "c.db-wal")  # acknowledged commits since the last checkpoint live there
        assert_error(client.request("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 2.0}),
                     503, "c.db-wal was deleted")
        assert client.request("GET", "/api/metrics")[0] == 200


def test_a_hard_link_of_a_database_in_use_cannot_be_served_beside_it(tmp_path, start_server):
    db = tmp_path / "c.db"
    server = start_server(db)
    with server.client() as client:
        upload(client, creme_regressor())
    os.link(db, tmp_path / "link.db")
    code, stderr = refused_start(tmp_path / "link.db")
    assert code != 0 and "in use" in stderr, stderr


# ---------------------------------------------------------------------------------------
# 4. SIGTERM while a request is arriving
# ---------------------------------------------------------------------------------------


def test_sigterm_while_a_body_arrives_answers_2xx_or_503_never_400(tmp_path, start_server):
    server = start_server(tmp_path / "c.db")
    with server.client() as client:
        upload(client, river_dummy())
    body = json.dumps({"features": {"x": 1.0, "note": "a" * 4000}, "ground_truth": 2.0}).encode()
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head("POST", "/api/learn", server.port, "Content-Type: application/json",
                          f"Content-Length: {len(body)}", "Expect: 100-continue"))
        # 100 Continue: the server took the head and is reading the body.
        assert read_head(sock) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body[:half])
        server.proc.send_signal(signal.SIGTERM)
        # The server may answer at once (503); otherwise the rest of the body comes within the grace.
        early, _, _ = select.select([sock], [], [], 1.0)
        if not early:
            with contextlib.suppress(OSError):
                sock.sendall(body[half:])
        received = read_until_closed(sock)
    assert received, "the connection was closed without an answer"
    status = parse_responses(received)[0][0]
    assert 200 <= status < 300 or status == 503, received[:300]
    assert server.proc.wait(TIMEOUT) == 0


def test_sigterm_while_a_head_arrives_answers_503_or_closes_never_400(tmp_path, start_server):
    server = start_server(tmp_path / "c.db")
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        health_once(server.port)
        sock.sendall(b"POST /api/learn HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Typ")
        server.proc.send_signal(signal.SIGTERM)
        received = read_until_closed(sock)
    if received:
        assert parse_responses(received)[0][0] == 503, received[:300]
    assert server.proc.wait(TIMEOUT) == 0


# ---------------------------------------------------------------------------------------
# 5. Memory held by event streams whose clients never read
# ---------------------------------------------------------------------------------------


def non_reading_stream(port):
    """An event stream whose client reads the status line, then never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel absorbs little
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /api/stream/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


def peekable(sock):
    """Bytes the server sent to ``sock`` that its client has not read (peeked, not read)."""
    try:
        return len(sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return 0


def test_stalled_event_streams_hold_at_most_their_backlog_in_memory_and_are_ended(tmp_path, start_server):
    # Each stream's queue counts against --stream-backlog, but today not what it took into a
    # write that blocks: the first event a stream sends is copied twice (the retry field, then
    # the chunk framing), so a stalled stream holds about twice an event beyond its backlog.
    n, backlog = 24, 8 * MiB
    event = {"features": {"big": "a" * int(backlog * 0.9)}}  # each event: 90% of the backlog
    server = start_server(tmp_path / "c.db", "--stream-backlog", str(backlog), "--max-body", str(2 * backlog),
                          "--timeout", "120", "--max-streams", str(n + 8))
    streams = []
    try:
        with server.client() as client:
            upload(client, river_dummy())
            client.ok("POST", "/api/predict", {"features": {"warm": "a" * 1000}})
            fds = server.fds()
            streams = [non_reading_stream(server.port) for _ in range(n)]
            assert wait_until(lambda: client.ok("GET", "/api/stats")["subscribers"] == n)
            before = server.memory()[0]
            client.ok("POST", "/api/predict", event)
            # Every stream is sending it (its first bytes arrived), to a client that never reads.
            assert wait_until(lambda: all(peekable(s) > 1000 for s in streams)), \
                [peekable(s) for s in streams]
            for _ in range(2):  # the next ones overflow every stalled stream's backlog
                client.ok("POST", "/api/predict", event)
            assert wait_until(lambda: client.ok("GET", "/api/stats")["subscribers"] == 0)
            rss, peak = server.memory()
            bound = n * backlog + 64 * MiB
            assert peak - before <= bound, (
                f"{n} stalled streams of backlog {backlog >> 20} MiB grew the server by "
                f"{(peak - before) >> 20} MiB (still {(rss - before) >> 20} MiB); bound {bound >> 20} MiB")
            # Ended: the server closes their connections, though their clients still never read.
            assert wait_until(lambda: server.fds() <= fds + 1), \
                f"{server.fds() - fds} connections of stalled streams are still open"
    finally:
        for sock in streams:
            sock.close()


# ---------------------------------------------------------------------------------------
# 6. Slow bodies
# ---------------------------------------------------------------------------------------


def trickle(sock, data, size, every, until):
    """Send ``data`` ``size`` bytes every ``every`` s until done, the server answers or
    closes, or ``until`` (monotonic) passes. Returns ``(bytes sent, whether it answered)``."""
    sent = 0
    while sent < len(data) and time.monotonic() < until:
        try:
            sock.sendall(data[sent:sent + size])
        except OSError:
            return sent, True  # closed on us
        sent += size
        if select.select([sock], [], [], every)[0]:
            return sent, True
    return sent, bool(select.select([sock], [], [], 0)[0])


def padded_learn(length):
    """A learn body of exactly ``length`` bytes."""
    base = json.dumps({"features": {"x": 1.0, "note": ""}, "ground_truth": 2.0})
    text = json.dumps({"features": {"x": 1.0, "note": "a" * (length - len(base))}, "ground_truth": 2.0})
    assert len(text) == length
    return text.encode()


def test_a_body_trickling_below_the_minimum_rate_is_408_and_closed(tmp_path):
    idle, rate = 2.0, 500  # --timeout 2, --min-body-rate at its default
    body = padded_learn(1000)
    with ServerThread(tmp_path / "c.db", idle_timeout=idle) as running, running.client() as client:
        upload(client, river_dummy())
        learns = counters(client)[0]
        bound = idle + len(body) / rate + SLACK
        with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as sock:
            sock.sendall(head("POST", "/api/learn", running.port, "Content-Type: application/json",
                              f"Content-Length: {len(body)}"))
            started = time.monotonic()
            sent, answered = trickle(sock, body, 10, 0.5, started + bound)  # 20 bytes/s
            assert answered, f"still reading a body trickling at 20 bytes/s after {bound:.1f} s ({sent} bytes)"
            received = read_until_closed(sock)
            elapsed = time.monotonic() - started
        assert idle <= elapsed < bound, elapsed
        assert received, "closed without an answer"
        status, headers, _ = parse_responses(received)[0]
        assert status == 408, received[:300]
        assert headers.get("connection") == "close"
        with running.client() as fresh:  # the first one sat idle past --timeout: closed
            assert counters(fresh)[0] == learns
        health_once(running.port)  # the server keeps serving


def test_min_body_rate_flag_lets_a_slower_body_through(tmp_path, start_server):
    # At the default 500 bytes/s, a 1 s --timeout cuts a 20 bytes/s body after about 1 s.
    server = start_server(tmp_path / "c.db", "--timeout", "1", "--min-body-rate", "10")
    body = padded_learn(60)
    with server.client() as client:
        upload(client, river_dummy())
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head("POST", "/api/learn", server.port, "Content-Type: application/json",
                          f"Content-Length: {len(body)}", "Connection: close"))
        trickle(sock, body, 10, 0.5, time.monotonic() + 2 * (3 + SLACK))
        received = read_until_closed(sock)
    assert parse_responses(received)[0][0] == 201, received[:300]


# The head's own bound (a head trickling in is cut after --timeout) is tested by
# test_hardening.py::test_a_slow_loris_sending_its_head_byte_by_byte_is_cut_off.


# ---------------------------------------------------------------------------------------
# 7. Trailers
# ---------------------------------------------------------------------------------------

LEARN = b'{"features": {"x": 1.0}, "ground_truth": 2.0}'


def chunked_learn_head(port):
    return head("POST", "/api/learn", port, "Content-Type: application/json", "Transfer-Encoding: chunked")


def test_a_trailer_section_over_8_kib_is_400_and_closes_the_connection(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        upload(client, river_dummy())
        learns = counters(client)[0]
        trailer = b"X-Pad: " + b"a" * 100 + b"\r\n"
        data = (chunked_learn_head(running.port) + b"%x\r\n%s\r\n" % (len(LEARN), LEARN) + b"0\r\n"
                + trailer * 90 + b"\r\n" + head("GET", "/api/health", running.port))
        answers, _ = raw_answers(running.port, data, shut_write=False)
        assert len(answers) == 1, answers  # answered once, then closed: the health check is not read
        status, headers, body = answers[0]
        assert status == 400 and "trailer" in json.loads(body)["message"], (status, body)
        assert counters(client)[0] == learns


def test_an_endless_trailer_section_is_cut_off_without_reading_it_all(tmp_path):
    total = 64 * MiB
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        upload(client, river_dummy())
        learns = counters(client)[0]
        sock = socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT)
        sent = [0]

        def send_trailers():
            line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
            block = line * 64
            with contextlib.suppress(OSError):
                sock.sendall(chunked_learn_head(running.port) + b"%x\r\n%s\r\n0\r\n" % (len(LEARN), LEARN))
                while sent[0] < total:
                    sock.sendall(block)
                    sent[0] += len(block)

        sender = threading.Thread(target=send_trailers, daemon=True)
        sender.start()
        try:
            received = read_until_closed(sock)
        finally:
            sock.close()
            sender.join(TIMEOUT)
        status, _, body = parse_responses(received)[0]
        assert status == 400 and "trailer" in json.loads(body)["message"], (status, body)
        assert sent[0] < total // 2, f"the server read {sent[0] >> 20} MiB of trailers"
        assert counters(client)[0] == learns


# ---------------------------------------------------------------------------------------
# 8. CR, LF and NUL inside header values
# ---------------------------------------------------------------------------------------

INJECTIONS = {
    "bare CR in Origin": b"Origin: http://a.example\rSet-Cookie: pwned=1",
    "bare CR in another field": b"User-Agent: probe\rSet-Cookie: pwned=1",
    "obs-fold": b"Origin: http://a.example\r\n Set-Cookie: pwned=1",
    "NUL in Origin": b"Origin: http://a.example\x00Set-Cookie: pwned=1",
    "NUL in another field": b"User-Agent: probe\x00pwned",
}


@pytest.mark.parametrize("name", list(INJECTIONS))
def test_header_values_with_bare_cr_obs_fold_or_nul_are_400_and_never_reflected(tmp_path, name):
    with ServerThread(tmp_path / "c.db", allowed_origins=("http://a.example",)) as running:
        answers, raw = raw_answers(running.port, head("GET", "/api/stats", running.port, INJECTIONS[name]))
        assert answers and answers[0][0] == 400, raw[:300]
        assert b"pwned" not in raw.lower() and b"set-cookie" not in raw.lower(), raw
        health_once(running.port)


# ---------------------------------------------------------------------------------------
# 9. One model's growth
# ---------------------------------------------------------------------------------------


def test_a_model_grown_over_max_model_size_refuses_learns_with_507_and_the_others_carry_on(tmp_path, start_server):
    server = start_server(tmp_path / "c.db", "--max-model-size", "2000000")
    with server.client() as client:
        upload(client, river_regressor(), "a")
        upload(client, river_regressor(), "b")
        refused = None
        for i in range(400):  # 1,000 new features each: ~100 bytes of model apiece
            x = {f"f{i}_{j}": 1.0 for j in range(1000)}
            result = client.request("POST", "/api/learn", {"model": "a", "features": x, "ground_truth": 1.0})
            if result[0] != 201:
                refused = result
                break
        assert refused is not None, "400 learns of 1,000 new features each were all taken"
        assert_error(refused, 507, "--max-model-size")
        assert_error(client.request("POST", "/api/learn", {"model": "a", "features": {"z": 1.0},
                                                           "ground_truth": 1.0}), 507, "--max-model-size")
        assert client.request("POST", "/api/predict", {"model": "a", "features": {"f0_0": 1.0}})[0] == 200
        client.ok("POST", "/api/learn", {"model": "b", "features": {"x": 1.0}, "ground_truth": 1.0})
        client.ok("POST", "/api/predict", {"model": "b", "features": {"x": 1.0}})


# ---------------------------------------------------------------------------------------
# 10. Class labels
# ---------------------------------------------------------------------------------------


def many_classes(k, seed=5):
    """river's GaussianNB on one feature, trained in-process on ``k`` classes "c00"..."""
    from river import naive_bayes
    rng = random.Random(seed)
    model = naive_bayes.GaussianNB()
    for _ in range(4):
        for c in range(k):
            model.learn_one({"x": c + rng.gauss(0, 0.3)}, f"c{c:02d}")
    return model


def top(p, k):
    """The ``k`` most probable classes of ``p``, ties by label."""
    return dict(sorted(p.items(), key=lambda item: (-item[1], str(item[0])))[:k])


class TruncatedSimulator(Simulator):
    """The replay of a server that keeps only the ``k`` most probable classes of an answer."""

    def __init__(self, model, flavor, k):
        super().__init__(model, flavor)
        self.k = k

    def predict(self, x, id=None):
        p = top(self.model.predict_proba_one(dict(x)), self.k)
        if id is not None:
            self.stored[id] = (x, p)
        return p


@pytest.mark.sqlite_file
def test_max_classes_caps_answers_and_stored_ids_and_scores_like_a_truncated_replay(tmp_path, start_server):
    model = many_classes(50)
    sim = TruncatedSimulator(dill.loads(dill.dumps(model)), "multiclass", 10)
    rng = random.Random(11)
    xs = [{"x": rng.uniform(0, 49)} for _ in range(30)]
    db = tmp_path / "c.db"
    server = start_server(db, "--max-classes", "10")
    with server.client() as client:
        upload(client, model)
        for i, x in enumerate(xs):
            answer = client.ok("POST", "/api/predict", {"id": i, "features": x})["prediction"]
            assert len(answer) <= 10 and answer == sim.predict(x, id=i), answer
    assert server.terminate() == 0
    with contextlib.closing(sqlite3.connect(db)) as conn:
        stored = [json.loads(body)["p"]["d"] for (body,) in conn.execute("SELECT body FROM stored_ids")]
    assert len(stored) == len(xs) and all(len(p) <= 10 for p in stored), [len(p) for p in stored]
    server = start_server(db, "--max-classes", "10")
    with server.client() as client:
        for i, x in enumerate(xs):
            nearest = min(49, max(0, round(x["x"])))
            label = f"c{nearest if i % 3 else (nearest + 25) % 50:02d}"  # a third outside the top 10
            client.ok("POST", "/api/learn", {"id": i, "ground_truth": label})
            sim.learn(label, id=i)
        # Approximately: MacroF1 sums over classes in set order, which the hash seed decides.
        assert client.ok("GET", "/api/metrics") == pytest.approx(sim.values(), rel=1e-12)


def test_probability_answers_carry_at_most_100_classes_by_default(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        upload(client, many_classes(120))
        answer = client.ok("POST", "/api/predict", {"features": {"x": 60.2}})["prediction"]
        assert len(answer) <= 100, len(answer)
        assert "c60" in answer


# ---------------------------------------------------------------------------------------
# 11. A read-only database
# ---------------------------------------------------------------------------------------


def test_a_read_only_database_refuses_to_start_saying_read_only(tmp_path):
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0:
        pytest.skip("as another user than root, the test cannot make a file this user cannot write")
    if setpriv is None:
        message = "running the server as an unprivileged user needs setpriv (util-linux)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    db = tmp_path / "ro" / "c.db"
    db.parent.mkdir()
    with ServerThread(db) as running, running.client() as client:
        upload(client, creme_regressor())
        learn_ok(client, 5)
    os.chmod(db, 0o444)
    os.chmod(db.parent, 0o555)
    # nobody, who may read and search everything (the test's folders are root's, 0700) but write nothing.
    nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
              "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    probe = subprocess.run([*nobody, sys.executable, "-c", f"open({str(db)!r}, 'a')"], capture_output=True,
                           text=True, timeout=TIMEOUT)
    assert probe.returncode != 0 and "Permission denied" in probe.stderr, "nobody can write the file"
    before = sorted(os.listdir(db.parent)), db.read_bytes()
    code, stderr = refused_start(db, prefix=nobody)
    assert code != 0, stderr
    assert "read-only" in stderr, stderr
    assert (sorted(os.listdir(db.parent)), db.read_bytes()) == before


# ---------------------------------------------------------------------------------------
# 12. Framing
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("site_", ["cross-site", "same-site"])
@pytest.mark.parametrize("path", ["/api/model?version=1", "/api/stream/events"])
def test_api_answers_requested_by_an_iframe_of_another_site_are_403(tmp_path, path, site_):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        upload(client, creme_regressor())
        frame = {"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": site_}
        assert_error(request_once(running.port, "GET", path, None, frame), 403)
        assert client.ok("GET", "/api/stats")["subscribers"] == 0
        # A top-level navigation (a link followed) stays exempt.
        document = dict(frame, **{"Sec-Fetch-Dest": "document"})
        assert request_once(running.port, "GET", path, None, document)[0] == 200


def test_the_dashboard_may_be_framed_by_its_own_origin_only(tmp_path):
    with ServerThread(tmp_path / "c.db") as running:
        status, response, _ = request_once(running.port, "GET", "/")
        assert status == 200
        assert "frame-ancestors 'self'" in (response.getheader("Content-Security-Policy") or ""), \
            response.getheaders()
        assert (response.getheader("X-Frame-Options") or "").upper() == "SAMEORIGIN", response.getheaders()


FRAMING_PAGE = """<!doctype html><meta charset="utf-8"><title>frames</title>
<iframe id="dashboard" src="{server}/"></iframe>
<iframe id="events" src="{server}/api/stream/events"></iframe>"""

_ACCESS_LINE = re.compile(r'(?m)^\S+ .*?"GET (\S+) HTTP/1\.[01]" (\d{3})')


@pytest.mark.browser
def test_a_page_on_another_origin_cannot_frame_the_dashboard_or_an_event_stream(launch_chromium, tmp_path, capfd):
    chromium = launch_chromium()
    with ServerThread(tmp_path / "c.db", access_log=True) as running, running.client() as client:
        upload(client, creme_regressor())
        server = f"http://127.0.0.1:{running.port}"
        folder = tmp_path / "other"
        folder.mkdir()
        (folder / "index.html").write_text(FRAMING_PAGE.format(server=server))
        log, seen = [], {}

        def answered(path):
            log.append(capfd.readouterr().err)
            seen.update({p: int(s) for p, s in _ACCESS_LINE.findall("".join(log))})
            return path in seen

        with site(folder) as other:
            context = chromium.new_context()
            try:
                page = context.new_page()
                page.goto(other + "/index.html", wait_until="commit")
                # Both frames were asked for (whatever the answers). Once in a CI run, neither
                # left the browser in 15 s (nothing reached the server): load the page again.
                if not wait_until(lambda: answered("/") and answered("/api/stream/events"), 15):
                    page.reload(wait_until="commit")
                assert wait_until(lambda: answered("/") and answered("/api/stream/events"), 15), seen
                frame = page.wait_for_selector("#dashboard").content_frame()
                frame.wait_for_load_state("load", timeout=15_000)
                try:
                    framed = frame.evaluate("() => !!document.querySelector('meta[name=generator]')")
                except Exception:  # an error page of the browser's own
                    framed = False
                subscribers = client.ok("GET", "/api/stats")["subscribers"]
            finally:
                context.close()
        assert not framed, "another origin's page shows the dashboard in a frame"
        assert seen["/api/stream/events"] == 403, seen
        assert subscribers == 0


# ---------------------------------------------------------------------------------------
# 13. A lone copy of chantilly.py beside a foreign static/ folder
# ---------------------------------------------------------------------------------------


def test_a_lone_copy_beside_a_foreign_static_folder_serves_its_embedded_dashboard(tmp_path, start_server):
    lone = tmp_path / "lone"
    (lone / "static").mkdir(parents=True)
    shutil.copy(ROOT / "chantilly.py", lone / "chantilly.py")
    (lone / "static" / "index.html").write_text("<h1>not chantilly</h1>")
    (lone / "static" / "secret.txt").write_text("not chantilly's either")
    server = start_server(tmp_path / "c.db", cwd=lone)
    status, _, page = request_once(server.port, "GET", "/")
    assert status == 200 and b'<meta name="generator" content="chantilly">' in page, page[:300]
    assert b"not chantilly" not in page
    assert_error(request_once(server.port, "GET", "/static/secret.txt"), 404)
    status, _, script = request_once(server.port, "GET", "/static/app.js")
    assert status == 200 and b"EventSource" in script


# ---------------------------------------------------------------------------------------
# 14. Origins with another scheme, absolute-form targets, expectations
# ---------------------------------------------------------------------------------------


def test_an_origin_with_another_scheme_is_another_origin(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        upload(client, creme_regressor())
        learns = counters(client)[0]
        learn = {"features": {"x": 1.0}, "ground_truth": 2.0}
        assert_error(request_once(running.port, "POST", "/api/learn", learn,
                                  {"Origin": f"https://127.0.0.1:{running.port}"}), 403, "--allowed-origins")
        assert counters(client)[0] == learns
        assert request_once(running.port, "POST", "/api/learn", learn,
                            {"Origin": f"http://127.0.0.1:{running.port}"})[0] == 201


def test_an_absolute_form_target_is_served_and_its_authority_is_the_host(tmp_path):
    with ServerThread(tmp_path / "c.db") as running:
        port = running.port
        answers, raw = raw_answers(port, head("GET", f"http://127.0.0.1:{port}/api/health", port))
        assert answers and answers[0][0] == 200 and json.loads(answers[0][2]) == {"status": "ok"}, raw[:300]
        answers, raw = raw_answers(port, head("GET", "http://evil.example/api/health", port))
        assert answers and answers[0][0] == 403, raw[:300]
        assert "--allowed-hosts" in json.loads(answers[0][2])["message"]


def test_an_expectation_other_than_100_continue_is_417_and_the_body_is_not_processed(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        upload(client, creme_regressor())
        learns = counters(client)[0]
        answers, raw = raw_answers(running.port, head(
            "POST", "/api/learn", running.port, "Content-Type: application/json", "Expect: something-else",
            f"Content-Length: {len(LEARN)}") + LEARN)
        assert answers and answers[0][0] == 417, raw[:300]
        assert counters(client)[0] == learns


# ---------------------------------------------------------------------------------------
# Found by attacking the fixes again
# ---------------------------------------------------------------------------------------


def test_a_request_head_cut_short_is_never_run(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        upload(client, river_dummy())
        learns = counters(client)[0]
        body = b'{"features": {"x": 1.0}, "ground_truth": 2.0}'
        # The head ends with the connection, before its blank line (a client half-closing).
        cut = (b"POST /api/learn HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % len(body))
        with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as sock:
            sock.sendall(cut)
            sock.shutdown(socket.SHUT_WR)
            answer = read_until_closed(sock)
        assert parse_responses(answer)[0][0] == 400, answer[:200]
        assert counters(client)[0] == learns


def test_init_with_a_flavor_that_is_not_a_string_is_a_400(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        for flavor in (["regression"], {"x": 1}, 3, None):
            assert_error(client.request("POST", "/api/init", {"flavor": flavor}), 400, "Allowed flavors")
        assert client.ok("GET", "/api/init")["flavor"] is None


def test_a_challenger_that_outgrew_its_size_cannot_be_promoted(tmp_path):
    from river import linear_model
    with ServerThread(tmp_path / "c.db", max_model_size=200_000) as running, running.client() as client:
        upload(client, river_dummy(), "m")
        client.ok("POST", "/api/model/m/challenger", dill.dumps(linear_model.LinearRegression()))
        for i in range(80):  # the champion takes any features; the challenger grows a weight each
            x = {f"f{i}_{j}": 1.0 for j in range(300)}
            client.ok("POST", "/api/learn", {"model": "m", "features": x, "ground_truth": 1.0})
        assert_error(client.request("POST", "/api/model/m/promote"), 422, "stopped learning")
        assert client.ok("GET", "/api/models")["descriptions"]["m"]["class"] == "StatisticRegressor"


def test_past_events_of_a_deleted_model_are_not_shown_for_a_new_one_of_that_name(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        upload(client, river_dummy(), "m")
        client.ok("POST", "/api/learn", {"model": "m", "features": {"secret": 1.0}, "ground_truth": 1.0})
        client.ok("DELETE", "/api/model/m")
        upload(client, river_dummy(), "m")
        past = running.service.bus.subscribe("events:m", recent=50).take(0)
        assert past and not [m for m in past if b"secret" in m], past  # its own upload event only
