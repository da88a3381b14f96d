"""Hardening tests for chantilly: the promises of "Safe to expose and hard to break".

In the order of the issue: access control, limits, expiry of stored ids, fuzzing with
hypothesis, raw garbage on the socket, concurrency, fault injection (kill -9, a torn
write-ahead log, SIGTERM), a full disk, and database files that are not chantilly's.

Everything is real: servers on 127.0.0.1 port 0 (in this process, or as ``chantilly.py run``
child processes), real sockets, SQLite files under ``tmp_path``, creme models. Nothing
sleeps to synchronise: tests wait on sockets, events and processes, or poll with a deadline
while doing real work. Servers, clients and assertions come from harness.py, shared with the other
test files and bench/stress.py.
"""

import collections
import contextlib
import http.client
import itertools
import json
import os
import pathlib
import random
import re
import select
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

import dill
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import chantilly
import harness
from harness import (
    PROBES, SLACK, TIMEOUT, Client, Ledger, ServerProcess, ServerThread, Simulator, SSEClient,
    assert_error, assert_json_answer, chunked, counters, creme_regressor, exchange, health_once,
    model_stats, non_loopback_address, observed_state, open_fds, parse_responses, read_until_closed,
    request_once, river_binary, run_cli, running_with_model, seconds_until_closed, trump_approval,
    wait_for_baseline,
)

TOKEN, ADMIN, WRONG = "client-7f3a9d", "admin-9c1e44", "wrong-000000"


# ---------------------------------------------------------------------------------------
# 1. Access control
# ---------------------------------------------------------------------------------------

#: A request that succeeds on each route, by (method, pattern): (path, body, success status).
VALID_CALLS = {
    ("GET", "/api/health"): ("/api/health", None, 200),
    ("POST", "/api/model"): ("/api/model", dill.dumps(creme_regressor()), 201),
    ("GET", "/api/model"): ("/api/model", None, 200),
    ("DELETE", "/api/model"): ("/api/model", None, 200),
    ("POST", "/api/predict"): ("/api/predict", b'{"features": {"x": 1.0}}', 200),
    ("POST", "/api/learn"): ("/api/learn", b'{"features": {"x": 1.0}, "ground_truth": 2.0}', 201),
    ("POST", "/api/stream"): ("/api/stream", b'{"op": "learn", "features": {"x": 1}, "ground_truth": 2}\n', 200),
    ("GET", "/api/metrics"): ("/api/metrics", None, 200),
    ("GET", "/api/metrics/history"): ("/api/metrics/history", None, 200),
    ("GET", "/api/stats"): ("/api/stats", None, 200),
    ("GET", "/api/cluster"): ("/api/cluster", None, 200),
    ("GET", "/api/stream/metrics"): ("/api/stream/metrics", None, 200),
    ("GET", "/api/stream/events"): ("/api/stream/events", None, 200),
    ("GET", "/"): ("/", None, 200),
    ("GET", "/static/<path:name>"): ("/static/app.js", None, 200),
    ("POST", "/api/model/<name>"): ("/api/model/second", dill.dumps(creme_regressor()), 201),
    ("GET", "/api/model/<name>"): ("/api/model/default", None, 200),
    ("DELETE", "/api/model/<name>"): ("/api/model/default", None, 200),
    ("GET", "/api/models"): ("/api/models", None, 200),
    ("POST", "/api/models/default"): ("/api/models/default", b'{"name": "default"}', 200),
    # The model is a regressor: authorised, these get past the token to the model's 400.
    ("POST", "/api/forecast"): ("/api/forecast", b'{"horizon": 2}', 400),
    ("POST", "/api/rank"): ("/api/rank", b'{"user": 1, "items": [1, 2]}', 400),
    ("GET", "/metrics"): ("/metrics", None, 200),
    ("GET", "/api/model/<name>/versions"): ("/api/model/default/versions", None, 200),
    # Authorised, these get past the token to the model's answer: no such version, no challenger.
    ("POST", "/api/model/<name>/rollback"): ("/api/model/default/rollback", b'{"version": 99}', 404),
    ("POST", "/api/model/<name>/challenger"): ("/api/model/default/challenger", dill.dumps(creme_regressor()), 201),
    ("DELETE", "/api/model/<name>/challenger"): ("/api/model/nobody/challenger", None, 404),
    ("POST", "/api/model/<name>/promote"): ("/api/model/nobody/promote", None, 404),
    ("GET", "/api/openapi.json"): ("/api/openapi.json", None, 200),
    ("GET", "/api/init"): ("/api/init", None, 200),
    ("POST", "/api/init"): ("/api/init", b'{"flavor": "regression"}', 201),
}

OK = "ok"
#: What each configuration answers on a route of a scope, given (no token, a wrong token,
#: the client token, the admin token). Open routes (scope None) answer everyone.
ACCESS = {
    "client and admin tokens": ({"client": TOKEN, "admin": ADMIN}, {
        "client": (401, 401, OK, OK), "admin": (401, 401, 403, OK)}),
    "one token for both (--token alone)": ({"client": TOKEN, "admin": TOKEN}, {
        "client": (401, 401, OK, OK), "admin": (401, 401, OK, OK)}),
    "admin token only (--admin-token alone)": ({"client": None, "admin": ADMIN}, {
        "client": (OK, OK, OK, OK), "admin": (401, 401, 401, OK)}),
}


def call_route(port, method, path, body, token):
    """One request; event streams get the token as ?token= (EventSource cannot send headers)."""
    if token is not None and path.startswith("/api/stream/"):
        return request_once(port, method, path + "?" + urllib.parse.urlencode({"token": token}), body)
    return request_once(port, method, path, body, token=token)


def test_every_route_has_a_known_valid_call():
    routes = {(r.method, r.pattern) for r in chantilly.ROUTER.routes}
    assert routes == set(VALID_CALLS), "a route was added or removed: update VALID_CALLS"


@pytest.mark.parametrize("config", list(ACCESS))
def test_access_matrix_every_route_every_token(tmp_path, config):
    tokens, expected = ACCESS[config]
    with ServerThread(tmp_path / "c.db", tokens=tokens) as running, running.client(tokens["admin"]) as admin:
        givens = (None, WRONG, tokens["client"] or "client-token-nobody-configured", tokens["admin"])

        def ensure_model():
            if admin.ok("GET", "/api/models")["default"] != "default":
                admin.ok("POST", "/api/model/default?default=true", dill.dumps(creme_regressor()), 201)
                admin.ok("POST", "/api/learn", {"features": {"x": 3.0}, "ground_truth": 1.0})

        def state():
            return model_stats(admin), admin.ok("GET", "/api/metrics")

        for route in chantilly.ROUTER.routes:
            path, body, success = VALID_CALLS[(route.method, route.pattern)]
            outcomes = (OK,) * 4 if route.scope is None else expected[route.scope]
            for given, outcome in zip(givens, outcomes):
                ensure_model()
                before = state()
                status, response, data = call_route(running.port, route.method, path, body, given)
                where = f"{route.method} {path} with token {given!r}"
                if outcome == OK:
                    assert status == success, (where, status, data)
                    continue
                assert_error((status, response, data), outcome)
                if outcome == 401:
                    assert response.getheader("WWW-Authenticate", "").startswith("Bearer"), where
                else:
                    assert "admin" in data["message"], where
                assert state() == before, f"{where} was refused but changed the model"


def test_refused_uploads_and_deletes_leave_the_model_alone(tmp_path):
    with ServerThread(tmp_path / "c.db", tokens={"client": TOKEN, "admin": ADMIN}) as running, \
            running.client(ADMIN) as admin, running.client(TOKEN) as client:
        admin.upload(creme_regressor())
        for x, y in trump_approval(20):
            client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
        before = observed_state(admin)
        other = dill.dumps(river_binary())
        for token, status in ((TOKEN, 403), (WRONG, 401), (None, 401), ("", 401)):
            c = Client(running.port, token)
            assert c.request("POST", "/api/model", other)[0] == status
            assert c.request("DELETE", "/api/model")[0] == status
            assert c.request("GET", "/api/model")[0] == status
            c.close()
        assert observed_state(admin) == before


@pytest.mark.parametrize("flags, givens", [
    (["--token", TOKEN], {"stats": (401, 200, 401), "upload": (401, 201, 401)}),
    (["--token", TOKEN, "--admin-token", ADMIN], {"stats": (401, 200, 200), "upload": (401, 403, 201)}),
    (["--admin-token", ADMIN], {"stats": (200, 200, 200), "upload": (401, 401, 201)}),
])
def test_command_line_token_flags_map_to_client_and_admin_scopes(tmp_path, flags, givens):
    with ServerProcess(tmp_path / "c.db", *flags) as server:
        model = dill.dumps(creme_regressor())
        for token, stats, upload in zip((None, TOKEN, ADMIN), givens["stats"], givens["upload"]):
            assert request_once(server.port, "GET", "/api/stats", token=token)[0] == stats, (flags, token)
            assert request_once(server.port, "POST", "/api/model", model, token=token)[0] == upload, (flags, token)
        assert request_once(server.port, "GET", "/api/health")[0] == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "public.example", "non-loopback"])
def test_a_non_loopback_host_without_a_token_is_refused(tmp_path, host):
    if host == "non-loopback":
        host = non_loopback_address() or pytest.skip("this machine has no non-loopback address")
    result = run_cli("run", "--host", host, "--port", "0", "--db", str(tmp_path / "c.db"))
    assert result.returncode == 2, result.stderr
    assert "without a token" in result.stderr and "--insecure" in result.stderr
    assert not (tmp_path / "c.db").exists()


def test_insecure_starts_on_a_non_loopback_address(tmp_path):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to bind")
    with ServerProcess(tmp_path / "c.db", "--insecure", host=address) as server:
        assert server.host == address
        with server.client() as client:
            assert client.ok("GET", "/api/health") == {"status": "ok"}
            client.upload(creme_regressor())
        assert server.terminate() == 0


# ---------------------------------------------------------------------------------------
# 2. Limits
# ---------------------------------------------------------------------------------------

LIMITS = {"max_body": 1000, "max_model": 5000}


@pytest.fixture
def limited(tmp_path):
    with running_with_model(tmp_path / "c.db", **LIMITS) as (running, client):
        yield running, client


def head_of(path, length, *extra):
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", f"Content-Length: {length}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


ANNOUNCED_TOO_LARGE = [("/api/predict", 1000), ("/api/learn", 1000), ("/api/model", 5000)]


def assert_413_before_the_body(running, client, path, limit, *extra):
    before = observed_state(client)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as sock:
        sock.sendall(head_of(path, 10 ** 12, *extra))  # a terabyte announced, nothing sent
        responses = parse_responses(read_until_closed(sock))  # the server closes: nothing follows
    assert time.monotonic() - started < SLACK  # not after the idle timeout, waiting for the body
    assert [r[0] for r in responses] == [413], responses
    status, headers, body = responses[0]
    assert_json_answer(status, headers, body)
    assert f"limit is {limit}" in json.loads(body)["message"]
    assert headers.get("connection") == "close"
    assert observed_state(client) == before


@pytest.mark.parametrize("path, limit", ANNOUNCED_TOO_LARGE)
def test_an_announced_body_over_the_limit_gets_413_without_being_sent(limited, path, limit):
    assert_413_before_the_body(*limited, path, limit)


@pytest.mark.parametrize("path, limit", ANNOUNCED_TOO_LARGE)
def test_an_expect_100_continue_over_the_limit_gets_413_and_no_invitation(limited, path, limit):
    assert_413_before_the_body(*limited, path, limit, "Expect: 100-continue")


def test_json_bodies_at_the_limit_pass_and_one_byte_more_does_not(limited):
    running, client = limited
    body = b'{"features": {"x": 1.0}, "ground_truth": 2.0}'
    at_limit = body + b" " * (LIMITS["max_body"] - len(body))
    learns = counters(client)[0]
    assert set(client.ok("POST", "/api/learn", at_limit)) == {"model", "prediction"}
    assert counters(client)[0] == learns + 1
    before = observed_state(client)
    assert_error(client.request("POST", "/api/learn", at_limit + b" "), 413, "limit is 1000")
    assert observed_state(client) == before


@pytest.mark.parametrize("path, body", [
    ("/api/learn", chunked(b" " * 600, b" " * 600)),
    ("/api/predict", chunked(*[b" " * 100] * 11)),
    ("/api/model", chunked(b"x" * 3000, b"x" * 3000)),
    ("/api/learn", b"7fffffff\r\n"),  # one huge chunk announced, none of it sent
    ("/api/model", b"ffffffffffff\r\n"),
])
def test_chunked_bodies_over_the_limit_get_413(limited, path, body):
    running, client = limited
    before = observed_state(client)
    head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    started = time.monotonic()
    responses = parse_responses(exchange(running.port, head + body, shut_write=False))
    assert time.monotonic() - started < SLACK  # not after the idle timeout, waiting for the body
    assert [r[0] for r in responses] == [413], responses
    assert_json_answer(*responses[0])
    assert observed_state(client) == before


def test_an_operation_stream_refuses_one_long_line_and_carries_on(limited):
    running, client = limited
    long_line = json.dumps({"op": "predict", "features": {"x": 1.0, "pad": "p" * 2000}})
    body = "\n".join([long_line, json.dumps({"op": "predict", "features": {"x": 2.0}})]).encode()
    status, response, data = client.request("POST", "/api/stream", body)
    answers = [json.loads(line) for line in data.splitlines()]
    assert status == 200 and answers[0]["status"] == 413 and "prediction" in answers[1], answers


def test_limit_flags_reach_the_server(tmp_path):
    server = ServerProcess(tmp_path / "c.db", "--max-body", "100", "--max-model", "600", "--timeout", "1",
                           "--max-connections", "2", "--max-streams", "1")
    try:
        assert request_once(server.port, "POST", "/api/model", dill.dumps(creme_regressor()))[0] == 413  # 707 bytes
        assert request_once(server.port, "POST", "/api/learn", b"{" + b" " * 100 + b"}")[0] == 413
        deadline = time.monotonic() + TIMEOUT
        while True:  # the two refused connections may not have been let go of yet
            stream = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
            stream.sendall(b"GET /api/stream/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            status = stream.recv(12)
            if status == b"HTTP/1.1 200" or time.monotonic() > deadline:
                break
            stream.close()
        with stream:
            assert status == b"HTTP/1.1 200"
            with busy_connection(server.port) as busy:  # two connections are open, neither idle
                third = parse_responses(exchange(server.port, b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"))
                assert [r[0] for r in third] == [503]
                assert 0.8 <= seconds_until_closed(busy) < 1.0 + SLACK  # closed after 1 s of silence
            # The idle slot is free again; the stream slot is not, so a second stream gets 503.
            assert request_once(server.port, "GET", "/api/stream/metrics")[0] == 503
    finally:
        server.close()


@pytest.fixture
def impatient(tmp_path):
    running = ServerThread(tmp_path / "c.db", idle_timeout=1.0)
    yield running
    running.stop()


def test_a_silent_connection_is_closed_after_the_idle_timeout(impatient):
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=TIMEOUT) as sock:
        assert 0.8 <= seconds_until_closed(sock) < 1.0 + SLACK


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(impatient):
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        while reader.readline() not in (b"\r\n", b""):
            pass
        assert reader.read(len(b'{"status":"ok"}')) == b'{"status":"ok"}'
        assert reader.read(1) == b""  # EOF: the server closed the idle connection
        assert 0.8 <= time.monotonic() - started < 1.0 + SLACK


def test_a_slow_loris_sending_its_head_byte_by_byte_is_cut_off(impatient):
    head = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    threads = threading.active_count()
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=TIMEOUT) as sock:
        started, sent, answer = time.monotonic(), 0, b""
        while sent < len(head) and time.monotonic() - started < 2 * (1.0 + SLACK):
            try:
                sock.sendall(head[sent:sent + 1])
            except OSError:
                break  # closed on us: what the test wants
            sent += 1
            # A byte every 0.25 s: never silent for the 1 s timeout, yet never done.
            readable, _, _ = select.select([sock], [], [], 0.25)
            if readable:
                try:
                    answer = sock.recv(65536)
                except ConnectionResetError:
                    pass
                break
        elapsed = time.monotonic() - started
    assert sent >= 4 and sent < len(head), "the connection must be cut while the head trickles in"
    assert not answer.startswith(b"HTTP/1.1 2"), answer
    assert 0.8 <= elapsed < 1.0 + SLACK, elapsed
    # The loris's handler thread is gone too, and the server still serves.
    wait_for_baseline(threads, 10 ** 6, lambda: health_once(impatient.port))


def busy_connection(port):
    """A connection in the middle of a request (its body never comes): not idle, never evicted."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50\r\n"
                 b"Expect: 100-continue\r\n\r\n")
    assert sock.recv(64).startswith(b"HTTP/1.1 100 ")  # the server has read the head: mid-request now
    sock.sendall(b"{")
    return sock


def test_connections_beyond_max_connections_get_503_when_none_is_idle_until_one_leaves(tmp_path):
    with ServerThread(tmp_path / "c.db", max_connections=3) as running:
        clients = [busy_connection(running.port) for _ in range(3)]
        try:
            responses = parse_responses(exchange(running.port, b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"))
            assert [r[0] for r in responses] == [503]
            assert_json_answer(*responses[0], allowed_5xx=(503,))
            assert "too many" in json.loads(responses[0][2])["message"]
            clients.pop().close()
            deadline = time.monotonic() + TIMEOUT
            while True:  # the server notices the departure when its read of that connection ends
                status = parse_responses(exchange(running.port, b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"))[0][0]
                if status == 200 or time.monotonic() > deadline:
                    break
            assert status == 200
        finally:
            for c in clients:
                c.close()


def test_when_full_the_longest_idle_keep_alive_connection_makes_room(tmp_path):
    with ServerThread(tmp_path / "c.db", max_connections=3) as running:
        clients = [running.client() for _ in range(3)]
        try:
            for c in clients:
                assert c.ok("GET", "/api/health") == {"status": "ok"}  # each holds an idle keep-alive slot
            responses = parse_responses(exchange(running.port, b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"))
            assert [r[0] for r in responses] == [200]
            # The first client's connection was the longest idle: it was closed; the others still work.
            with pytest.raises((http.client.HTTPException, ConnectionError)):
                clients[0].request("GET", "/api/health")
            for c in clients[1:]:
                assert c.ok("GET", "/api/health") == {"status": "ok"}
        finally:
            for c in clients:
                c.close()


def test_streams_beyond_max_streams_get_503_until_one_leaves(tmp_path):
    with ServerThread(tmp_path / "c.db", tokens={"client": TOKEN, "admin": ADMIN}, max_streams=2) as running, \
            running.client(TOKEN) as client:
        streams = []
        try:
            admin = running.client(ADMIN)
            admin.upload(creme_regressor())
            admin.close()
            streams = [SSEClient(running.port, f"/api/stream/events?token={TOKEN}") for _ in range(2)]
            status, response, data = call_route(running.port, "GET", "/api/stream/metrics", None, TOKEN)
            assert_error((status, response, data), 503, "too many open streams")
            assert client.ok("GET", "/api/stats")["subscribers"] == 2
            streams.pop().close()
            deadline = time.monotonic() + TIMEOUT
            while client.ok("GET", "/api/stats")["subscribers"] > 1 and time.monotonic() < deadline:
                client.ok("POST", "/api/learn", {"features": {"x": 1}, "ground_truth": 1})  # a write finds the gone client
            streams.append(SSEClient(running.port, f"/api/stream/metrics?token={TOKEN}"))
            client.ok("POST", "/api/learn", {"features": {"x": 2}, "ground_truth": 1})
            assert set(json.loads(streams[-1].next_event()[1])) == {"MAE", "RMSE", "SMAPE"}
        finally:
            for s in streams:
                s.close()


# ---------------------------------------------------------------------------------------
# 3. Stored ids expire
# ---------------------------------------------------------------------------------------


def test_learning_an_id_older_than_the_ttl_is_410_with_a_clear_message(tmp_path):
    # A TTL of a nanosecond: any id is older than that by the time its ground truth comes.
    with running_with_model(tmp_path / "c.db", rows=0, id_ttl=1e-9) as (running, client):
        for i in range(3):
            client.ok("POST", "/api/predict", {"id": f"a{i}", "features": {"x": float(i)}})
        before = observed_state(client)
        result = client.request("POST", "/api/learn", {"id": "a0", "ground_truth": 1.0})
        assert_error(result, 410, "expired")
        assert "--id-ttl" in result[2]["message"] and "features" in result[2]["message"]
        answers = client.ok("POST", "/api/learn", [{"id": "a1", "ground_truth": 1.0}])
        assert answers[0]["status"] == 410 and "expired" in answers[0]["message"]
        status, _, data = client.request("POST", "/api/stream", b'{"op": "learn", "id": "a2", "ground_truth": 1}\n')
        assert status == 200 and json.loads(data)["status"] == 410
        assert observed_state(client) == before
        # Learning with features and no id still works: the advice in the message holds.
        client.ok("POST", "/api/learn", {"features": {"x": 0.0}, "ground_truth": 1.0})


def test_sweep_drops_exactly_the_ids_older_than_the_ttl_and_counts_them(tmp_path):
    ttl = 3600.0
    with running_with_model(tmp_path / "c.db", rows=0, id_ttl=ttl) as (running, client):
        for i in range(5):
            client.ok("POST", "/api/predict", {"id": f"old{i}", "features": {"x": float(i)}})
        boundary = time.time()  # after every "old" id was stored, before any "new" one
        for i in range(3):
            client.ok("POST", "/api/predict", {"id": f"new{i}", "features": {"x": float(i)}})
        assert running.service.sweep(now=boundary) == 0  # nothing is an hour old yet
        assert running.service.sweep(now=boundary + ttl) == 5
        stats = client.ok("GET", "/api/stats")
        assert stats["expired"] == 5 and stats["model"]["pending"] == 3
        # Expired ids answer 410 after the sweep too (a tombstone), not 404.
        assert_error(client.request("POST", "/api/learn", {"id": "old0", "ground_truth": 1}), 410, "expired")
        client.ok("POST", "/api/learn", {"id": "new0", "ground_truth": 1})
        assert running.service.sweep(now=time.time() + 2 * ttl) == 2
        assert client.ok("GET", "/api/stats")["expired"] == 7
        assert model_stats(client)["pending"] == 0


def test_max_ids_keeps_only_the_newest_ids_at_insert_and_it_survives_a_restart(tmp_path):
    db = tmp_path / "c.db"
    with running_with_model(db, rows=0, max_ids=2) as (running, client):
        for i in range(6):
            client.ok("POST", "/api/predict", {"id": i, "features": {"x": float(i)}})
        assert model_stats(client)["pending"] == 2  # no sweep needed
        assert client.ok("GET", "/api/stats")["expired"] == 4
    with ServerThread(db, max_ids=2) as running, running.client() as client:
        assert model_stats(client)["pending"] == 2
        answers = client.ok("POST", "/api/learn", [{"id": i, "ground_truth": 1.0} for i in range(6)])
        assert [a.get("status") for a in answers] == [410, 410, 410, 410, None, None]


def test_predicting_an_id_twice_counts_it_once(tmp_path):
    with running_with_model(tmp_path / "c.db", rows=0) as (running, client):
        client.ok("POST", "/api/predict", {"id": "a", "features": {"x": 1.0}})
        client.ok("POST", "/api/predict", {"id": "a", "features": {"x": 2.0}})  # a client's retry
        assert counters(client)[2] == 1
        client.ok("POST", "/api/learn", {"id": "a", "ground_truth": 1.0})
        assert counters(client)[2] == 0


# ---------------------------------------------------------------------------------------
# 4. Fuzzing
# ---------------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

odd_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", "\x00", "\u2028", "\ufeff", "é" * 3, "🍰", "\\", '"', "\r\n", " " * 5, "NaN", "1e400"])
#: Numbers up to 1e100, plus integers far beyond any float. Finite values whose square
#: overflows (|y - prediction| > 1e154) have tests of their own (test_extreme_values_*).
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-10 ** 100, 10 ** 100)
           | st.floats(-1e100, 1e100, allow_nan=False)
           | st.sampled_from([10 ** 400, -10 ** 400, 2 ** 1024, 10 ** 4000, 5e-324, -0.0, 2 ** 63, -2 ** 63 - 1])
           | odd_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(odd_text, inner, max_size=4), max_leaves=10)
feature_maps = st.dictionaries(odd_text | st.sampled_from(["x", "y", "gallup"]), scalars, max_size=5)
calls = st.fixed_dictionaries({}, optional={
    "features": feature_maps | json_values,
    "id": st.integers(-5, 40) | st.text(max_size=300) | json_values,
    "ground_truth": scalars | json_values,
})
payloads = calls | json_values


class FuzzTarget:
    """One server for a whole hypothesis run, and the invariants every answer must keep."""

    def __init__(self, running, client):
        self.running, self.client = running, client
        self.state = self.observe()
        self.statuses = collections.Counter()
        self.refused = 0  # requests, batch items and stream lines answered with an error

    def observe(self):
        return observed_state(self.client)

    def post(self, path, body):
        status, response, data = self.client.request("POST", path, body)
        self.statuses[status] += 1
        assert status < 500, (path, body[:500], status, data)
        if status >= 400:
            assert_error((status, response, data))
            self.refused += 1
        elif isinstance(data, list):
            self.refused += sum(1 for a in data if "status" in a)
        elif isinstance(data, bytes) and data:
            self.refused += sum(1 for line in data.splitlines() if b'"status"' in line)
        return status, data

    def check(self, learns=0, predictions=0):
        """The state moved by exactly the operations that succeeded; all refused ones left it."""
        after = self.observe()
        if learns == predictions == 0:
            assert after == self.state, "a refused request changed the model"
        else:
            assert after["learns"] == self.state["learns"] + learns
            assert after["predictions"] == self.state["predictions"] + predictions
        self.state = after

    def still_serves(self):
        assert self.client.ok("GET", "/api/health") == {"status": "ok"}
        self.client.ok("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 1.0})
        assert self.refused > 0, self.statuses  # the fuzz did reach the refusal paths


@contextlib.contextmanager
def fuzz_target(tmp_path):
    with running_with_model(tmp_path / "fuzz.db") as (running, client):
        yield FuzzTarget(running, client)


def successes(answers):
    return sum(1 for a in answers if "prediction" in a)


def assert_batch_answers(answers, n, named=True):
    """``n`` answers, each a prediction (with the model's name, except on stream lines) or a 4xx."""
    assert isinstance(answers, list) and len(answers) == n, answers
    for a in answers:
        assert set(a) == ({"model", "prediction"} if named else {"prediction"}) or (
            set(a) == {"status", "message"} and 400 <= a["status"] < 500
                                            and isinstance(a["message"], str)), a


@pytest.mark.parametrize("path", ["/api/predict", "/api/learn"])
def test_fuzz_json_calls_never_5xx_and_refusals_change_nothing(tmp_path, path):
    kind = path.rsplit("/", 1)[1]
    with fuzz_target(tmp_path) as target:
        @FUZZ
        @given(payload=payloads | st.lists(payloads, max_size=5))
        def check(payload):
            status, data = target.post(path, json.dumps(payload).encode())
            done = 0
            if isinstance(payload, list):
                assert status == 200
                assert_batch_answers(data, len(payload))
                done = successes(data)
            elif status < 300:
                assert status == harness.success_status("POST", path, payload), (status, payload)
                assert set(data) == {"model", "prediction"}, data
                done = 1
            if kind == "learn":
                target.check(learns=done)
            else:
                target.check(predictions=done)

        check()
        target.still_serves()


RAW_BODIES = [
    b'{"features": {"x": 1}, "features": "dup", "ground_truth": 1}',
    b'{"features": "dup", "features": {"x": 1}, "ground_truth": 1, "ground_truth": [1]}',
    b'{"features": {"x": 1, "x": "two"}, "ground_truth": 1, "id": 3, "id": true}',
    b'{"features": {"x": 1e400}, "ground_truth": 1}', b'{"features": {"x": 1}, "ground_truth": -1e400}',
    b'{"features": {"x": 1}, "ground_truth": 1e-400}', b'{"features": {"x": NaN}, "ground_truth": 1}',
    b'{"features": {"x": 1}, "ground_truth": Infinity}', b'{"features": {"x": -Infinity}}',
    b'{"features": {"x": 1' + b"0" * 5000 + b'}, "ground_truth": 1}',
    b'{"features": {"x": 1}, "id": ' + b"9" * 4400 + b', "ground_truth": 1}',
    b'{"features": {"\\ud800": 1}, "ground_truth": "\\udfff", "id": "\\udbff"}',
    b'\xef\xbb\xbf{"features": {"x": 1}, "ground_truth": 1}',
    '{"features": {"x": 1}, "ground_truth": 1}'.encode("utf-16"),
    b'{"features": {"x": "\xff\xfe"}, "ground_truth": 1}', b'{"features": {"x": 1}} trailing',
    b'{"features": {"x": 1}}{"features": {"x": 2}}', b"\x00" * 10, b"   \r\n\t  ", b"[]", b"{}", b"null",
    b'{"features": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", b"{" * 10_000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'[' + b'{"features": {"x": 1}, "ground_truth": 1},' * 500 + b'1]',
]

raw_bodies = (st.sampled_from(RAW_BODIES) | st.binary(max_size=200)
              | st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n)
              | st.tuples(payloads, payloads).map(
                  lambda p: b'{"features": %s, "features": %s, "ground_truth": 1}' % (
                      json.dumps(p[0]).encode(), json.dumps(p[1]).encode())))


@pytest.mark.parametrize("path", ["/api/predict", "/api/learn"])
def test_fuzz_raw_json_text_never_5xx_and_refusals_change_nothing(tmp_path, path):
    with fuzz_target(tmp_path) as target:
        def check(body):
            status, data = target.post(path, body)
            if status < 400:
                target.state = target.observe()  # a valid document did its work
            else:
                target.check()

        check = given(body=raw_bodies)(check)
        for body in RAW_BODIES:  # every hand-written case, whatever hypothesis draws
            check = example(body=body)(check)
        FUZZ(check)()
        target.still_serves()


stream_lines = (
    st.tuples(st.sampled_from(["predict", "learn"]) | odd_text, payloads).map(
        lambda t: json.dumps(dict(t[1], op=t[0]) if isinstance(t[1], dict) else t[1]).encode())
    | st.binary(max_size=80).map(lambda b: b.replace(b"\n", b""))
    | st.sampled_from([b"", b"   ", b"\r", b"{", b'{"op": "learn"}', b'{"op": null}', b"[1, 2]"]))


def test_fuzz_operation_stream_lines_never_5xx_and_refusals_change_nothing(tmp_path):
    with fuzz_target(tmp_path) as target:
        @FUZZ
        @given(lines=st.lists(stream_lines, max_size=8))
        def check(lines):
            status, data = target.post("/api/stream", b"\n".join(lines))
            assert status == 200
            answers = [json.loads(line) for line in data.splitlines()]
            assert_batch_answers(answers, sum(1 for line in lines if line.strip()), named=False)
            sent = [json.loads(line).get("op") if line.strip() and is_json_object(line) else None
                    for line in lines if line.strip()]
            ok = [op for op, a in zip(sent, answers) if "prediction" in a]
            target.check(learns=ok.count("learn"), predictions=ok.count("predict"))

        check()
        target.still_serves()


def is_json_object(line):
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


upload_bodies = (st.binary(max_size=300) | json_values.map(dill.dumps)
                 | st.sampled_from([dill.dumps(print), dill.dumps(object()), dill.dumps(int),
                                    dill.dumps(creme_regressor)[:-5], b"\x80\x04K\x01."]))


def test_fuzz_model_uploads_with_junk_bodies_and_flavors_are_refused(tmp_path):
    real_model = dill.dumps(creme_regressor())
    with fuzz_target(tmp_path) as target:
        @FUZZ
        @given(body=upload_bodies | st.just(real_model),
               query=st.dictionaries(st.sampled_from(["flavor", "flavour", "token", ""]), odd_text, max_size=2)
               .map(urllib.parse.urlencode) | odd_text.map(urllib.parse.quote)
               | st.sampled_from(["flavor=%ZZ", "&&=;", "flavor"]))
        def check(body, query):
            flavor = urllib.parse.parse_qs(query).get("flavor", [None])[-1]
            if body == real_model and flavor in (None, *chantilly.FLAVORS):
                return  # a real model with a real flavor is rightly accepted
            status, data = target.post("/api/model?" + query, body)
            assert status == 400, (body[:100], query, status, data)
            target.check()

        check()
        target.still_serves()


#: Finite ground truths whose squared error overflows a float. A numpy prediction would let RMSE
#: quietly become inf live while the Python float replayed from the log raises: live and replay
#: must see the same types, so both refuse it (422) and the log stays replayable.
EXTREME = [1e200, -1e300, 10 ** 200]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("y", EXTREME, ids=["1e200", "-1e300", "int 10**200"])
def test_extreme_values_a_later_rollback_still_answers_422_and_keeps_every_learn(tmp_path, y):
    with running_with_model(tmp_path / "c.db", rows=0) as (running, client):
        client.ok("POST", "/api/learn", {"features": {"x": 0.5}, "ground_truth": 1.0})
        # Refused (422: the squared error overflows) or accepted, but the same live and on replay.
        status = client.request("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": y})[0]
        assert status in (201, 422)
        acknowledged = 1 + (status == 201)
        assert_error(client.request("POST", "/api/learn", {"features": {"x": "oops"}, "ground_truth": 1.0}),
                     422, "nothing was changed")
        assert counters(client)[0] == acknowledged


def test_extreme_values_survive_kill_9(tmp_path):
    proc = ServerProcess(tmp_path / "c.db")
    try:
        client = proc.client()
        client.upload(creme_regressor())
        client.ok("POST", "/api/learn", {"features": {"x": 0.5}, "ground_truth": 1.0})
        status = client.request("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 1e200})[0]
        assert status in (201, 422)
    finally:
        proc.close()  # SIGKILL: the log, not a snapshot, must bring the learns back
    with ServerProcess(tmp_path / "c.db") as server, server.client() as client:
        assert model_stats(client)["learns"] == 1 + (status == 201)


# ---------------------------------------------------------------------------------------
# 5. Raw garbage on the socket
# ---------------------------------------------------------------------------------------

LEARN_HEAD = b"POST /api/learn HTTP/1.1\r\nHost: localhost\r\n"
GARBAGE = {
    "binary noise": b"\x00\x01\x02\xff\xfe garbage \x7f\r\n\r\n",
    "a TLS ClientHello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
    "one word": b"GET\r\n\r\n",
    "four words": b"GET /api/health HTTP/1.1 extra\r\nHost: localhost\r\n\r\n",
    "lower-case method and version": b"get /api/health http/1.1\r\nHost: localhost\r\n\r\n",
    "HTTP/2.0": b"GET /api/health HTTP/2.0\r\nHost: localhost\r\n\r\n",
    "HTTP/1.x": b"GET /api/health HTTP/1.x\r\nHost: localhost\r\n\r\n",
    "HTTP/0.9 GET": b"GET /api/health\r\n",
    "HTTP/0.9 POST": b"POST /api/learn\r\n",
    "HTTP/1.0 without Host": b"GET /api/health HTTP/1.0\r\n\r\n",
    "only spaces": b"   \r\n\r\n",
    "empty lines first": b"\r\n\r\nGET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "bare LF line ends": b"GET /api/health HTTP/1.1\nHost: localhost\n\n",
    "a NUL in the path": b"GET /api/\x00health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "non-ASCII path": b"GET /api/\xff\xfe/%ff HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "absolute URI": b"GET http://x/api/health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "asterisk form": b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "a 70 KiB request line": b"GET /api/health?" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "a 70 KiB header": b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
    "200 headers": b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
    "90 headers of 900 bytes": b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n" + (b"X-A: " + b"b" * 900 + b"\r\n") * 90
                               + b"\r\n",
    "header without colon": b"GET /api/health HTTP/1.1\r\nHost x\r\n\r\n",
    "folded header": b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n  folded\r\n\r\n",
    "space before colon": b"GET /api/health HTTP/1.1\r\nHost : x\r\n\r\n",
    "headers never end": b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-A: b",
    "non-numeric Content-Length": LEARN_HEAD + b"Content-Length: abc\r\n\r\n{}",
    "negative Content-Length": LEARN_HEAD + b"Content-Length: -5\r\n\r\n{}",
    "fractional Content-Length": LEARN_HEAD + b"Content-Length: 1.5\r\n\r\n{}",
    "hex Content-Length": LEARN_HEAD + b"Content-Length: 0x10\r\n\r\n{}",
    "empty Content-Length": LEARN_HEAD + b"Content-Length: \r\n\r\n{}",
    "Content-Length with a plus": LEARN_HEAD + b"Content-Length: +2\r\n\r\n{}",
    "Content-Length in superscript digits": LEARN_HEAD + b"Content-Length: \xb2\r\n\r\n{}",
    "Content-Length of 5000 digits": LEARN_HEAD + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n{}",
    "Content-Length over 2**64": LEARN_HEAD + b"Content-Length: 18446744073709551617\r\n\r\n{}",
    "two different Content-Lengths": LEARN_HEAD + b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
    "Content-Length shorter than the body": LEARN_HEAD + b"Content-Length: 5\r\n\r\n{\"features\": {\"x\": 1}}",
    "Content-Length longer than the body": LEARN_HEAD + b"Content-Length: 500\r\n\r\n{\"features\": {}}",
    "a body cut off mid-JSON": LEARN_HEAD + b"Content-Length: 40\r\n\r\n{\"features\": {\"x\":",
    "chunk size not hex": LEARN_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "negative chunk size": LEARN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n",
    "chunk without CRLF after it": LEARN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
    "truncated chunk": LEARN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n40\r\n{\"features\"",
    "no last chunk": LEARN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n",
    "chunk size line of 2000 zeros": (LEARN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"0" * 2000
                                      + b"2\r\n{}\r\n0\r\n\r\n"),
    "chunk extension junk": LEARN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2;;;=\x00\r\n{}\r\n0\r\n\r\n",
    "Content-Length and Transfer-Encoding": (LEARN_HEAD + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                                             b"2\r\n{}\r\n0\r\n\r\n"),
    "unknown Transfer-Encoding": LEARN_HEAD + b"Transfer-Encoding: gzip\r\n\r\n{}",
    "Expect with a bad body": LEARN_HEAD + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n{]}",
    "unknown method": b"BREW /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "TRACE": b"TRACE /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "a pipeline of good and bad": (b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n" * 3
                                   + LEARN_HEAD + b"Content-Length: 1\r\n\r\n{" + b"GET /api/health HTTP/1.1\r\n\r\n"),
}
#: RFC 9110: a method the server does not implement SHOULD get 501 (section 9.1), an HTTP
#: version it does not support 505 (section 15.6.6). These are the only 5xx allowed.
RFC_5XX = {"unknown method": 501, "TRACE": 501, "HTTP/2.0": 505, "HTTP/1.x": 505}


@pytest.fixture(scope="module")
def garbage_server(tmp_path_factory):
    # A short idle timeout: a connection left half-sent is closed quickly, so each case is quick.
    with running_with_model(tmp_path_factory.mktemp("garbage") / "c.db", idle_timeout=0.5) as served:
        yield served


def state_of(running):
    """observed_state() on a new connection (keep-alive ones idle out on this server)."""
    client = running.client()
    try:
        return observed_state(client)
    finally:
        client.close()


@pytest.mark.parametrize("name", list(GARBAGE))
@pytest.mark.parametrize("half_close", [True, False], ids=["then-EOF", "then-wait"])
def test_garbage_on_the_socket_never_gets_a_5xx_and_the_server_keeps_serving(garbage_server, name, half_close):
    running, _ = garbage_server
    before = state_of(running)
    data = exchange(running.port, GARBAGE[name], shut_write=half_close, timeout=6)
    allowed = (RFC_5XX[name],) if name in RFC_5XX else ()
    for response in parse_responses(data):
        assert_json_answer(*response, allowed_5xx=allowed)
    health_once(running.port)
    assert state_of(running) == before


def test_garbage_leaves_no_thread_or_file_descriptor_behind(tmp_path):
    with running_with_model(tmp_path / "c.db", idle_timeout=0.5) as (running, client):
        client.close()
        threads, fds = threading.active_count(), open_fds()
        for data in GARBAGE.values():
            exchange(running.port, data, shut_write=True, timeout=6)
        wait_for_baseline(threads, fds, lambda: health_once(running.port))


SMUGGLE = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
#: Requests whose body length cannot be known, each followed by SMUGGLE in the test.
FRAMING_ERRORS = {
    "non-numeric Content-Length": LEARN_HEAD + b"Content-Length: abc\r\n\r\n",
    "negative Content-Length": LEARN_HEAD + b"Content-Length: -5\r\n\r\n",
    "two different Content-Lengths": LEARN_HEAD + b"Content-Length: 2\r\nContent-Length: 41\r\n\r\n{}",
    "Content-Length and Transfer-Encoding": (
        LEARN_HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "chunk size not hex": LEARN_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    "chunk without CRLF after it": LEARN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX",
    "chunked is not the final coding": LEARN_HEAD + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "unknown transfer coding": LEARN_HEAD + b"Transfer-Encoding: gzip\r\n\r\n",
}


@pytest.mark.parametrize("name", list(FRAMING_ERRORS))
def test_a_framing_error_is_answered_once_and_closes_the_connection(garbage_server, name):
    # RFC 9112 section 6.3: when the body's length cannot be known, the server MUST answer 400
    # and close; otherwise what follows (here a GET) is read as a request of its own, smuggled.
    running, _ = garbage_server
    request_bytes = FRAMING_ERRORS[name]
    responses = parse_responses(exchange(running.port, request_bytes + SMUGGLE, shut_write=False))
    assert [r[0] for r in responses] in ([400], [501]), [(r[0], r[2]) for r in responses]
    assert_json_answer(*responses[0], allowed_5xx=(501,))


def test_an_http11_request_without_host_gets_400(garbage_server):
    # RFC 9112 section 3.2: a server MUST respond 400 to an HTTP/1.1 request that lacks Host.
    running, _ = garbage_server
    responses = parse_responses(exchange(running.port, b"GET /api/health HTTP/1.1\r\n\r\n"))
    assert [r[0] for r in responses] == [400]
    assert_json_answer(*responses[0])


def test_head_on_an_event_stream_sends_headers_only(garbage_server):
    # RFC 9110 section 9.3.2: the server MUST NOT send content in the response to HEAD.
    running, _ = garbage_server
    with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"HEAD /api/stream/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 200")
        while reader.readline() not in (b"\r\n", b""):
            pass
        # The next bytes must be the answer to the next request (or EOF), not a body.
        try:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        except OSError:
            pass  # closed after the HEAD: fine
        after = reader.read1(100)
    assert after == b"" or after.startswith(b"HTTP/1.1 200"), after


# ---------------------------------------------------------------------------------------
# 6. Concurrency
# ---------------------------------------------------------------------------------------


class Tally:
    """Thread-safe counts of what the workers saw and what the server acknowledged."""

    def __init__(self):
        self._lock = threading.Lock()  # guards everything below
        self.statuses = collections.Counter()
        self.learns = self.predictions = self.events = 0
        self.fresh = 0  # learns with features: each made the model predict once more
        self.errors = []

    def add(self, status, learns=0, predictions=0, fresh=False):
        with self._lock:
            self.statuses[status] += 1
            self.learns += learns
            self.predictions += predictions
            self.fresh += learns if fresh else 0

    def event(self):
        with self._lock:
            self.events += 1

    def fail(self, error):
        with self._lock:
            self.errors.append(repr(error))


def mixed_worker(port, t, until, tally, uploads, model_bytes):
    """One client: a mix of every kind of call until ``until``; records what was acknowledged."""
    rng = random.Random(2 * t + uploads)
    client = Client(port)
    pending = []
    try:
        i = 0
        while time.monotonic() < until:
            i += 1
            roll = rng.random()
            x = {"x": rng.uniform(-5, 5), "t": float(t)}
            if roll < 0.25:
                status, _, data = client.request("POST", "/api/predict", {"id": f"{t}-{i}", "features": x})
                tally.add(status, predictions=status == 201)
                if status == 201:
                    pending.append(f"{t}-{i}")
            elif roll < 0.45 and pending:
                status, _, data = client.request("POST", "/api/learn", {"id": pending.pop(), "ground_truth": 1.0})
                tally.add(status, learns=status == 201)
            elif roll < 0.6:
                status, _, data = client.request("POST", "/api/learn", {"features": x, "ground_truth": x["x"]})
                tally.add(status, learns=status == 201, fresh=True)
            elif roll < 0.7:
                status, _, data = client.request("POST", "/api/learn", [
                    {"features": x, "ground_truth": 1.0}, {"features": {"x": "bad"}, "ground_truth": 1.0},
                    {"features": x, "ground_truth": 2.0}])
                tally.add(status, learns=successes(data) if status == 200 else 0, fresh=True)
            elif roll < 0.78:
                lines = "".join(json.dumps({"op": "learn", "features": x, "ground_truth": float(k)}) + "\n"
                                for k in range(4))
                status, _, data = client.request("POST", "/api/stream", lines.encode())
                tally.add(status, learns=sum(1 for line in data.splitlines() if b"prediction" in line), fresh=True)
            elif roll < 0.86:
                status, _, data = client.request("GET", "/api/model")
                tally.add(status)
                if status == 200:
                    assert callable(dill.loads(data).predict_one)
            elif roll < 0.92:
                status, _, data = client.request("GET", "/api/stats")
                tally.add(status)
            elif roll < 0.97 or not uploads:
                read_a_few_events(port, tally, until)
            else:
                status, _, data = client.request("POST", "/api/model", model_bytes)
                tally.add(status)
                pending.clear()  # a new model forgets every stored id
    except Exception as e:  # reported by the test; an assert in a thread would vanish
        tally.fail(e)
    finally:
        client.close()


def read_a_few_events(port, tally, until):
    """Open the events stream, read three events (each one JSON data line) and leave."""
    with SSEClient(port, "/api/stream/events", timeout=2.0) as sse:
        tally.add(200)
        for _ in range(3):
            try:
                _, data = sse.next_event()
            except socket.timeout:
                if time.monotonic() < until:
                    raise  # events flow while the others work; only the very end may be quiet
                return
            except EOFError:
                raise AssertionError("the stream ended while the server was running") from None
            assert "\n" not in data and isinstance(json.loads(data), dict), data
            tally.event()


def run_workers(port, n, seconds, uploads, model_bytes):
    tally = Tally()
    until = time.monotonic() + seconds
    workers = [threading.Thread(target=mixed_worker, args=(port, t, until, tally, uploads, model_bytes))
               for t in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(seconds + 3 * TIMEOUT)
        assert not w.is_alive()
    return tally


@pytest.mark.slow
def test_sixteen_threads_of_mixed_traffic_no_5xx_no_lost_update_no_leak(tmp_path):
    with ServerThread(tmp_path / "c.db", idle_timeout=5.0) as running, running.client() as admin:
        model_bytes = dill.dumps(creme_regressor())
        admin.upload(creme_regressor())
        threads, fds = threading.active_count(), open_fds()
        # Phase 1: uploads replace the model under everyone's feet: anything but a 5xx goes.
        first = run_workers(running.port, 16, 2.0, True, model_bytes)
        assert not first.errors, first.errors[:3]
        assert not [s for s in first.statuses if s >= 500], first.statuses
        assert set(first.statuses) <= {200, 201, 400, 404}, first.statuses  # ids of a replaced model: 400
        # Phase 2: one last upload, then every acknowledged learn and predict must be counted.
        admin.upload(creme_regressor())
        second = run_workers(running.port, 16, 2.5, False, model_bytes)
        assert not second.errors, second.errors[:3]
        assert set(second.statuses) == {200, 201}, second.statuses  # predictions, learns
        assert second.learns > 100 and second.events > 0
        learns, predictions, _ = counters(admin)
        assert (learns, predictions) == (second.learns, second.predictions)
        # creme's scaler learns inside predict_one: it saw every prediction, asked or made by a learn.
        assert admin.download()["StandardScaler"].counts["t"] == second.predictions + second.fresh
        work = lambda: admin.ok("POST", "/api/learn", {"features": {"x": 0.0}, "ground_truth": 0.0})  # noqa: E731
        wait_for_baseline(threads, fds, work)  # stream handlers notice their client left on a write


# ---------------------------------------------------------------------------------------
# 7. Fault injection: kill -9, a torn write-ahead log, SIGTERM
# ---------------------------------------------------------------------------------------


def id_worker(port, t, ledger, stop):
    rng = random.Random(t)
    client = Client(port)
    mine = []
    i = 0
    while not stop.is_set():
        i += 1
        roll = rng.random()
        if roll < 0.45 or not mine:
            kind, ident, body = "predict", f"{t}-{i}", {"id": f"{t}-{i}", "features": {"x": float(i), "t": float(t)}}
        elif roll < 0.85:
            ident = mine.pop(rng.randrange(len(mine)))
            kind, body = "learn", {"id": ident, "ground_truth": float(i % 7)}
        else:
            kind, ident, body = "learn", None, {"features": {"x": float(i), "t": float(t)}, "ground_truth": 1.0}
        try:
            status, _, data = client.request("POST", f"/api/{kind}", body)
        except (OSError, http.client.HTTPException):
            ledger.cut(kind, ident)  # cut off by the kill: applied or not, we cannot know
            break
        if status != harness.success_status("POST", f"/api/{kind}", body):
            ledger.surprises.append((kind, ident, status, data))
            break
        ledger.ack(kind, ident)
        if kind == "predict":
            mine.append(ident)
    client.close()


@pytest.mark.parametrize("seed", [11, 12])
def test_kill_9_under_concurrent_ids_keeps_every_acknowledged_id(tmp_path, seed):
    rng = random.Random(seed)
    db = tmp_path / "c.db"
    proc = ServerProcess(db)
    ledger, stop = Ledger(), threading.Event()
    workers = [threading.Thread(target=id_worker, args=(proc.port, t, ledger, stop)) for t in range(4)]
    try:
        proc.client().upload(creme_regressor())
        for w in workers:
            w.start()
        assert ledger.wait_for(rng.randint(100, 600)), ledger.acked
        proc.kill()  # SIGKILL at a moment decided by the load, not by a clock
        for w in workers:
            w.join(TIMEOUT)
    finally:
        stop.set()
        proc.close()
    assert not ledger.surprises, ledger.surprises[:3]
    proc = ServerProcess(db)
    try:
        client = proc.client()
        learns = counters(client)[0]
        assert ledger.learns <= learns <= ledger.learns + ledger.learns_in_flight
        waiting = sorted(ledger.stored - ledger.learned - ledger.uncertain)
        answers = client.ok("POST", "/api/learn", [{"id": i, "ground_truth": 1.0} for i in waiting])
        assert all("prediction" in a for a in answers), [(i, a) for i, a in zip(waiting, answers) if "status" in a][:5]
        done = sorted(ledger.learned - ledger.uncertain)  # learned once: must not come back
        answers = client.ok("POST", "/api/learn", [{"id": i, "ground_truth": 1.0} for i in done])
        assert all(a.get("status") == 400 for a in answers)
        assert counters(client)[2] <= len(ledger.uncertain)
        assert len(waiting) > 0 and len(done) > 0
    finally:
        proc.close()


def tear_wal(wal, rng, how):
    """Damage the write-ahead log the way a crash mid-write could: cut it, or scribble its tail."""
    size = wal.stat().st_size
    offset = rng.randrange(0, size) if size else 0
    if how == "truncate":
        os.truncate(wal, offset)
    else:
        with open(wal, "r+b") as f:
            f.seek(offset)
            f.write(bytes(rng.randrange(256) for _ in range(min(8192, size - offset))))
    return offset, size


@pytest.mark.parametrize("seed, how", [(1, "truncate"), (2, "truncate"), (3, "scribble")])
def test_a_torn_wal_after_kill_9_starts_on_a_prefix_of_acknowledged_learns(tmp_path, seed, how):
    rng = random.Random(seed)
    rows = trump_approval(1000)
    db = tmp_path / "c.db"
    proc = ServerProcess(db)
    acked, in_flight = [], None
    try:
        client = proc.client()
        client.upload(creme_regressor())
        killer = threading.Timer(rng.uniform(0.3, 1.0), proc.proc.kill)
        killer.start()
        try:
            for x, y in itertools.islice(itertools.cycle(rows), 100_000):
                in_flight = (x, y)
                client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
                acked.append(in_flight)
                in_flight = None
        except (OSError, http.client.HTTPException):
            pass  # the kill cut a call off
        finally:
            killer.cancel()
    finally:
        proc.close()
    wal = pathlib.Path(f"{db}-wal")
    assert wal.exists() and len(acked) > 0
    offset, size = tear_wal(wal, rng, how)
    proc = ServerProcess(db)  # must start: SQLite keeps the WAL up to its last whole commit
    try:
        client = proc.client()
        stats = model_stats(client)
        candidates = acked + ([in_flight] if in_flight else [])
        if stats is None:  # the cut fell before the upload's commit: the empty prefix
            client.upload(creme_regressor())
            k = 0
        else:
            k = stats["learns"]
            assert k <= len(candidates), (k, len(acked), offset, size)
            sim = Simulator(creme_regressor(), "regression")
            for x, y in candidates[:k]:
                sim.learn(y, x)
            assert client.ok("GET", "/api/metrics") == sim.values(), (k, offset, size)
            model = client.download()
            assert [model.predict_one(x) for x, _ in rows[:5]] == [sim.model.predict_one(x) for x, _ in rows[:5]]
        client.ok("POST", "/api/learn", {"features": rows[0][0], "ground_truth": rows[0][1]})
        assert counters(client)[0] == k + 1
    finally:
        proc.close()


def learn_worker(port, t, ledger, stop):
    client = Client(port)
    i = 0
    while not stop.is_set():
        i += 1
        try:
            status, _, _ = client.request("POST", "/api/learn", {"features": {"t": float(t), "i": float(i)},
                                                                 "ground_truth": 1.0})
        except (OSError, http.client.HTTPException):
            ledger.cut("learn", None)
            break
        if status != 201:
            break  # 503 while shutting down: refused, so not applied
        ledger.ack("learn", None)
    client.close()


def test_sigterm_during_a_burst_exits_0_and_keeps_every_acknowledged_learn(tmp_path):
    db = tmp_path / "c.db"
    proc = ServerProcess(db)
    ledger, stop = Ledger(), threading.Event()
    workers = [threading.Thread(target=learn_worker, args=(proc.port, t, ledger, stop)) for t in range(6)]
    try:
        proc.client().upload(creme_regressor())
        for w in workers:
            w.start()
        assert ledger.wait_for(300), ledger.acked
        started = time.monotonic()
        assert proc.terminate() == 0
        assert time.monotonic() - started < 2.0 + SLACK  # chantilly's 2 s shutdown budget, or a hang
        for w in workers:
            w.join(TIMEOUT)
    finally:
        stop.set()
        proc.close()
    proc = ServerProcess(db)
    try:
        learns = counters(proc.client())[0]
        assert ledger.learns <= learns <= ledger.learns + ledger.learns_in_flight, (ledger.learns, learns)
    finally:
        proc.close()


# ---------------------------------------------------------------------------------------
# 8. Disk full
# ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs; unmounted (after the test's servers stop) at the end."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}): needs root and mount rights")
    yield mount
    if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def wide_row(i):
    return {f"f{k}": float((i * k) % 11) for k in range(60)}, float(i % 5)


def learn_until_refused(client, sim, start=0, limit=20_000):
    """Learn wide rows until the server says 503; returns (acked count, the 503 answer)."""
    acked = 0
    for i in range(start, start + limit):
        x, y = wide_row(i)
        status, response, data = client.request("POST", "/api/learn", {"features": x, "ground_truth": y})
        if status != 201:
            return acked, (status, response, data)
        sim.learn(y, x)
        acked += 1
    raise AssertionError(f"{limit} learns and the disk is still not full")


def leave_free(mount, nbytes):
    filler = mount / "filler"
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - nbytes))
    return filler


def assert_refused_for_storage(result, ndjson=False):
    status, response, data = result
    if ndjson:  # an operation stream answers 200 and refuses line by line
        assert status == 200, data
        answer = json.loads(data)
        assert answer["status"] == 503 and "retry" in answer["message"], answer
    else:
        assert_error(result, 503, "retry")


def test_a_full_disk_refuses_writes_with_503_loses_nothing_and_recovers_without_restart(tiny_disk):
    db = tiny_disk / "c.db"
    sim = Simulator(creme_regressor(), "regression")
    with ServerThread(db) as running, running.client() as client:
        client.upload(creme_regressor())
        filler = leave_free(tiny_disk, 256 * 1024)
        acked, refused = learn_until_refused(client, sim)
        assert acked > 0
        assert_refused_for_storage(refused)
        for i in range(5):  # it stays refused, and never worse than that
            x, y = wide_row(10 ** 6 + i)
            assert_refused_for_storage(client.request("POST", "/api/learn", {"features": x, "ground_truth": y}))
        assert_refused_for_storage(client.request("POST", "/api/predict", {"id": "p", "features": wide_row(0)[0]}))
        assert_refused_for_storage(client.request("POST", "/api/stream", json.dumps(
            {"op": "learn", "features": wide_row(1)[0], "ground_truth": 1.0}).encode()), ndjson=True)
        assert client.ok("GET", "/api/health") == {"status": "ok"}
        filler.unlink()  # space comes back: writes go through again, same process
        for i in range(20):
            x, y = wide_row(2 * 10 ** 6 + i)
            client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
            sim.learn(y, x)
        acked += 20
        assert counters(client)[0] == acked
        assert client.ok("GET", "/api/metrics") == sim.values()
    with ServerThread(db) as running, running.client() as client:  # every 2xx is on disk, and nothing refused is
        assert counters(client)[0] == acked
        assert client.ok("GET", "/api/metrics") == sim.values()
        assert_error(client.request("POST", "/api/learn", {"id": "p", "ground_truth": 1}), 400, "never predicted")
        model = client.download()
        assert [model.predict_one(p) for p in PROBES] == [sim.model.predict_one(p) for p in PROBES]


def test_a_learn_refused_by_a_full_disk_is_invisible_at_once(tiny_disk):
    sim = Simulator(creme_regressor(), "regression")
    with ServerThread(tiny_disk / "c.db") as running, running.client() as client:
        client.upload(creme_regressor())
        acked, refused = learn_until_refused(client, sim)
        assert_refused_for_storage(refused)
        assert counters(client)[0] == acked
        assert client.ok("GET", "/api/metrics") == sim.values()
        model = client.download()
        assert [model.predict_one(p) for p in PROBES] == [sim.model.predict_one(p) for p in PROBES]


def test_an_upload_refused_by_a_full_disk_keeps_the_old_model_visible(tiny_disk):
    sim = Simulator(creme_regressor(), "regression")
    with ServerThread(tiny_disk / "c.db") as running, running.client() as client:
        client.upload(creme_regressor())
        acked, refused = learn_until_refused(client, sim)
        before = model_stats(client)["class"]
        assert_refused_for_storage(client.request("POST", "/api/model", dill.dumps(river_binary())))
        assert model_stats(client)["class"] == before == "StandardScaler | LinearRegression"


# ---------------------------------------------------------------------------------------
# 9. Database files that are not a usable chantilly database
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def healthy_db(tmp_path_factory):
    """A real chantilly database (closed cleanly) with a model, learns and stored ids."""
    db = tmp_path_factory.mktemp("healthy") / "c.db"
    with running_with_model(db, rows=200):
        pass
    return db


def sql(db, *statements):
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def root_page(db, table):
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]


def make_text(path, healthy):
    path.write_text("my thesis, chapter 3. do not overwrite\n" * 100)


def make_random_after_header(path, healthy):
    path.write_bytes(b"SQLite format 3\x00" + random.Random(1).randbytes(8192))


def make_foreign(path, healthy):
    sql(path, "CREATE TABLE users (name TEXT)", "INSERT INTO users VALUES ('ada')")


def make_foreign_with_wal(path, healthy):
    """Another program's WAL-mode database, left with its -wal file when it crashed."""
    source = path.with_name("source.db")
    conn = sqlite3.connect(source)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ada')")
    conn.commit()
    shutil.copy(source, path)
    shutil.copy(f"{source}-wal", f"{path}-wal")
    conn.close()
    source.unlink()


def make_truncated(path, healthy):
    data = healthy.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def make_zeroed_page(path, healthy):
    data = bytearray(healthy.read_bytes())
    page = root_page(healthy, "stored_ids")
    data[4096 * (page - 1):4096 * page] = bytes(4096)
    path.write_bytes(bytes(data))


def make_bad_snapshot(path, healthy):
    shutil.copy(healthy, path)
    sql(path, "UPDATE models SET state = x'00deadbeef'")


def make_bad_info(path, healthy):
    shutil.copy(healthy, path)
    sql(path, "UPDATE models SET info = 'not json'")


def make_bad_log_record(path, healthy):
    shutil.copy(healthy, path)
    sql(path, "INSERT INTO log (seq, model, body) SELECT COALESCE((SELECT MAX(l.seq) FROM log l "
              "WHERE l.model = m.id), m.seq) + 1, id, 'not json' FROM models m")  # the next record


#: How to make each file, given a healthy database to start from. A comment says what the
#: refusal must not do on the way.
CORRUPT = {
    "a text file": make_text,
    "SQLite header then random bytes": make_random_after_header,
    "another program's SQLite database": make_foreign,
    # must not checkpoint the other program's -wal into its database, nor delete the -wal
    "another program's WAL database with its -wal": make_foreign_with_wal,
    "a chantilly database cut in half": make_truncated,
    # must not write the file (its header's change counter) before finding the corruption
    "a chantilly database with a zeroed b-tree page": make_zeroed_page,
    # the three below are found while the models are rebuilt: refused, not a traceback
    "a model snapshot that is not dill": make_bad_snapshot,
    "model info that is not JSON": make_bad_info,
    "a log record that is not JSON": make_bad_log_record,
}


@pytest.mark.parametrize("case", list(CORRUPT))
@pytest.mark.sqlite_file
def test_a_corrupt_or_foreign_db_is_refused_with_exit_2_and_left_untouched(tmp_path, healthy_db, case):
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "c.db"
    CORRUPT[case](db, healthy_db)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = run_cli("run", "--port", "0", "--db", str(db), timeout=TIMEOUT)
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    assert "Traceback" not in result.stderr and str(db) in result.stderr, result.stderr[-500:]
    assert re.search(r"corrupt|not an SQLite|not a usable|did not create", result.stderr), result.stderr
    assert after.keys() == before.keys(), "files were created or deleted next to the database"
    assert after == before, "the refused file was modified"


# ---------------------------------------------------------------------------------------
# 10. Found by a red team: models pickle cannot copy, and models that cannot be rebuilt
# ---------------------------------------------------------------------------------------

MODELS_OF_USERS = '''
import pathlib
import threading

from river import linear_model, preprocessing


class LockedRegressor:
    """river's StandardScaler | LinearRegression behind a lock of its own: pickle and
    copy.deepcopy refuse the lock, dill saves it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pipe = preprocessing.StandardScaler() | linear_model.LinearRegression()

    def learn_one(self, x, y):
        with self.lock:
            self.pipe.learn_one(x, y)
        return self

    def predict_one(self, x):
        with self.lock:
            return self.pipe.predict_one(x)


class FeatureStoreRegressor:
    """A mean regressor that reads a feature store (a file here) at each learn, as models
    that call out to something do: while the store says "down", learn_one raises whatever
    the model's state, so its logged learns cannot be repeated either."""

    def __init__(self, store):
        self.store, self.n, self.total = str(store), 0, 0.0

    def learn_one(self, x, y):
        if pathlib.Path(self.store).read_text() == "down":
            raise RuntimeError("the feature store timed out")
        self.n += 1
        self.total += y
        return self

    def predict_one(self, x):
        return self.total / self.n if self.n else 0.0
'''


def users_models(tmp_path, monkeypatch):
    """MODELS_OF_USERS as a module importable here (for dill) and by a child server."""
    (tmp_path / "hardening_users_models.py").write_text(MODELS_OF_USERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    sys.modules.pop("hardening_users_models", None)
    return __import__("hardening_users_models")


def feature_store(tmp_path):
    """The file FeatureStoreRegressor reads, "up" to start with ("down": an outage)."""
    store = tmp_path / "feature-store"
    store.write_text("up")
    return store


def test_a_model_holding_a_lock_uploads_learns_undoes_and_survives_restarts(tmp_path, monkeypatch):
    module = users_models(tmp_path, monkeypatch)
    from river import linear_model, preprocessing
    sim = Simulator(preprocessing.StandardScaler() | linear_model.LinearRegression(), "regression",
                    library="river")
    rows = trump_approval(90)
    db = tmp_path / "c.db"

    def feed(client, part):
        for i, (x, y) in enumerate(part):
            if i % 3:
                client.ok("POST", "/api/predict", {"features": x, "id": i})
                sim.predict(x, id=i)
                assert client.ok("POST", "/api/learn", {"id": i, "ground_truth": y})["prediction"] \
                    == sim.learn(y, id=i)
            else:
                assert client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})["prediction"] \
                    == sim.learn(y, x)

    def same_as_replay(client):
        assert client.ok("GET", "/api/metrics") == sim.values()
        assert [client.ok("POST", "/api/predict", {"features": p})["prediction"] for p in PROBES] \
            == [sim.model.predict_one(dict(p)) for p in PROBES]

    with ServerProcess(db) as server, server.client() as client:
        client.upload(module.LockedRegressor(), query="?flavor=regression")
        feed(client, rows[:30])
        bad = dict(rows[0][0], gallup="not a number")  # river raises: the undo copies the model back
        assert_error(client.request("POST", "/api/learn", {"features": bad, "ground_truth": 1.0}), 422, "")
        same_as_replay(client)
        assert server.terminate() == 0  # a snapshot on the way out
    with ServerProcess(db) as server, server.client() as client:
        same_as_replay(client)
        feed(client, rows[30:])
        same_as_replay(client)
        server.kill()  # the log since the snapshot is replayed at start
    with ServerProcess(db) as server, server.client() as client:
        same_as_replay(client)
        assert counters(client)[0] == len(rows)


class SavesOnce:
    """A model whose state can be pickled once (by the client), never again."""

    def __init__(self):
        self.saved = 0

    def __getstate__(self):
        if self.saved:
            raise TypeError("this model can be saved only once")
        return dict(self.__dict__, saved=1)

    def learn_one(self, x, y):
        return self

    def predict_one(self, x):
        return 0.0


class LoadsOnce(SavesOnce):
    """A model that can be loaded once (by the server), never again."""

    def __getstate__(self):
        return dict(self.__dict__)

    def __setstate__(self, state):
        if state.get("loaded"):
            raise TypeError("this model can be loaded only once")
        self.__dict__.update(state, loaded=True)


@pytest.mark.parametrize("model", [SavesOnce, LoadsOnce])
def test_a_model_that_cannot_be_saved_and_loaded_back_is_refused_and_nothing_is_stored(tmp_path, model):
    with ServerThread(tmp_path / "c.db") as server, server.client() as client:
        client.ok("POST", "/api/model/polls", dill.dumps(creme_regressor()), 201)
        for x, y in trump_approval(10):
            client.ok("POST", "/api/learn", {"model": "polls", "features": x, "ground_truth": y})
        before = client.ok("GET", "/api/models"), observed_state(client)
        for path in ("/api/model/other?flavor=regression", "/api/model/polls?flavor=regression",
                     "/api/model/polls/challenger"):
            refused = client.request("POST", path, dill.dumps(model()))
            assert_error(refused, 400, "cannot be saved and loaded back")
            assert "would not survive a restart" in refused[2]["message"]
        assert (client.ok("GET", "/api/models"), observed_state(client)) == before
        client.ok("POST", "/api/learn", {"model": "polls", "features": {"x": 1.0}, "ground_truth": 1.0})
        after = client.ok("GET", "/api/models"), observed_state(client)
    with ServerThread(tmp_path / "c.db") as server, server.client() as client:  # nor in the file
        assert (client.ok("GET", "/api/models"), observed_state(client)) == after


def test_a_model_that_cannot_be_rebuilt_answers_503_alone_even_at_start_and_the_cli_deletes_it(tmp_path, monkeypatch):
    module = users_models(tmp_path, monkeypatch)
    store = feature_store(tmp_path)
    good = Simulator(creme_regressor(), "regression")
    rows = trump_approval(40)
    db = tmp_path / "c.db"
    with ServerProcess(db) as server, chantilly.Client(server.url, timeout=TIMEOUT) as client:
        client.upload(module.FeatureStoreRegressor(store), name="flaky", flavor="regression")
        client.upload(creme_regressor(), name="good")
        for x, y in rows[:20]:
            client.learn(y, x, model="flaky")
            assert client.learn(y, x, model="good") == good.learn(y, x)
        store.write_text("down")  # its next learn fails, and so does repeating the 20 before it
        for state in ("down", "up"):  # back up, it is still unknown what the model holds
            store.write_text(state)
            for call in ({"features": {}, "ground_truth": 1.0}, {"features": {}}):
                path = "/api/learn" if "ground_truth" in call else "/api/predict"
                refused = request_once(server.port, "POST", path, dict(call, model="flaky"))
                assert_error(refused, 503, "'flaky' cannot be rebuilt")
                assert "rollback" in refused[2]["message"] and "delete it" in refused[2]["message"]
        for x, y in rows[20:]:  # the other model never noticed
            assert client.learn(y, x, model="good") == good.learn(y, x)
        assert client.metrics("good") == good.values()
        server.kill()  # no snapshot: a restart repeats the logged learns of both models
    store.write_text("down")  # it cannot be rebuilt at start either: it alone is refused
    with ServerProcess(db) as server, chantilly.Client(server.url, timeout=TIMEOUT) as client:
        banner = [server.lines.get(timeout=TIMEOUT) for _ in range(4)]
        assert banner[3].strip().startswith("warning:   model 'flaky' cannot be loaded here"), banner
        assert f"`chantilly delete-model flaky --db {db}`" in banner[3], banner
        refused = request_once(server.port, "POST", "/api/predict", {"model": "flaky", "features": {}})
        assert_error(refused, 503, "'flaky' cannot be loaded here (RuntimeError: the feature store timed out)")
        assert "feature store" in client.models()["descriptions"]["flaky"]["broken"]
        assert client.metrics("good") == good.values()
        assert server.terminate() == 0  # never snapshotted: its rows are as they were
    store.write_text("up")  # a start that can rebuild it serves it, nothing lost
    with ServerProcess(db) as server, chantilly.Client(server.url, timeout=TIMEOUT) as client:
        assert client.predict({}, model="flaky") == sum(y for _, y in rows[:20]) / 20
        assert client.stats("flaky")["model"]["learns"] == 20
    deleted = run_cli("delete-model", "flaky", "--db", str(db))
    assert (deleted.returncode, deleted.stdout.strip()) == (0, "deleted flaky"), deleted.stderr
    with ServerProcess(db) as server, chantilly.Client(server.url, timeout=TIMEOUT) as client:
        assert client.models()["models"] == ["good"]
        assert client.metrics("good") == good.values()
        probe = [lambda m, x=x: m.predict_one(dict(x)) for x, _ in rows[:5]]
        model = client.download("good")
        assert [call(model) for call in probe] == [call(good.model) for call in probe]


def test_a_sigterm_never_snapshots_a_broken_model_over_its_acknowledged_learns(tmp_path, monkeypatch):
    module = users_models(tmp_path, monkeypatch)
    store = feature_store(tmp_path)
    db = tmp_path / "c.db"
    with ServerProcess(db) as server, chantilly.Client(server.url, timeout=TIMEOUT) as client:
        client.upload(module.FeatureStoreRegressor(store), name="flaky", flavor="regression")
        for y in range(10):
            client.learn(float(y), {}, model="flaky")  # acknowledged: the mean is 4.5
        store.write_text("down")
        assert_error(request_once(server.port, "POST", "/api/learn",
                                  {"model": "flaky", "features": {}, "ground_truth": 1.0}), 503, "cannot be rebuilt")
        described = client.models()["descriptions"]["flaky"]
        assert "cannot be rebuilt" in described["broken"]
        assert_error(request_once(server.port, "GET", "/api/model/flaky"), 503, "cannot be rebuilt")  # no half state
        store.write_text("up")
        assert server.terminate() == 0  # a clean stop must not save the half-rebuilt state
    with ServerProcess(db) as server, chantilly.Client(server.url, timeout=TIMEOUT) as client:
        assert client.predict({}, model="flaky") == 4.5  # rebuilt from its log: nothing lost
        assert "broken" not in client.models()["descriptions"]["flaky"]


def test_a_broken_challenger_is_never_promoted_and_says_how_to_drop_it(tmp_path, monkeypatch):
    module = users_models(tmp_path, monkeypatch)
    store = feature_store(tmp_path)
    champion = Simulator(creme_regressor(), "regression")
    rows = trump_approval(20)
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url, timeout=TIMEOUT) as client:
        client.upload(creme_regressor(), name="polls")
        created = request_once(server.port, "POST", "/api/model/polls/challenger",
                               dill.dumps(module.FeatureStoreRegressor(store)))
        assert created[0] == 201, created
        for x, y in rows[:10]:
            assert client.learn(y, x, model="polls") == champion.learn(y, x)
        store.write_text("down")  # the challenger breaks; the champion answers as before
        assert client.learn(rows[10][1], rows[10][0], model="polls") == champion.learn(rows[10][1], rows[10][0])
        store.write_text("up")
        refused = request_once(server.port, "POST", "/api/model/polls/promote")
        assert_error(refused, 422, "'polls@challenger' cannot be rebuilt")
        assert "DELETE /api/model/polls/challenger" in refused[2]["message"]
        for x, y in rows[11:]:  # nothing changed: the champion serves on
            assert client.learn(y, x, model="polls") == champion.learn(y, x)
        assert client.metrics("polls") == champion.values()
        assert request_once(server.port, "DELETE", "/api/model/polls/challenger")[0] == 200
        assert request_once(server.port, "POST", "/api/model/polls/promote")[0] == 404
