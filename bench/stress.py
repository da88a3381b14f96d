"""Stress chantilly for a while and report what broke: the long versions of the hardening tests.

    python bench/stress.py --minutes 5 [--seed 1] [--verbose] [--phase NAME ...]

Every phase runs against ``chantilly.py run`` child processes on 127.0.0.1 and port 0, with
their databases in a temporary folder:

* fuzz       hypothesis-generated JSON (any value, wrong types, duplicate keys, deep nesting,
             huge numbers, odd unicode) to predict, learn (single and batch), the operation
             stream and model upload. A refused request must change nothing.
* garbage    hand-written and randomly mutated raw HTTP on a bare socket.
* concurrency 16 threads of mixed traffic (predict, learn, batch, stream, download, stats,
             event streams, uploads in a first half only); every acknowledged learn counted;
             the server's threads and file descriptors must come back down.
* kill -9    concurrent predict-with-id and learn traffic, SIGKILL at a random moment, restart:
             every acknowledged id must still be learnable, none learned twice; every other
             trial also tears the write-ahead log (truncated at a random offset) before restart.
* SIGTERM    a burst of learns, SIGTERM: exit 0 within 5 s, every acknowledged learn kept.
* disk full  (root only) the database on a 1 MiB tmpfs: 503 when full, nothing acknowledged
             lost, writes accepted again once space returns, without a restart.
* bad items  one client, then three, send nothing but items the model raises on (single
             calls, batches of 200-600, operation-stream chunks) while a well-behaved client
             predicts and learns: its p99 latency stays under 100 ms while one floods, every
             bad item is refused, and the model and metrics equal a replay of the
             well-behaved client's acknowledged calls.
* stalled streams  event streams that never read, while ~1 MiB predict bodies go through: the
             server's peak RSS stays under 600 MiB, the stalled subscribers are dropped,
             small predictions and learns and reading event clients keep being served.
* idle sockets  600 connections that send nothing, half a head, or a head without its body,
             twice, against --max-connections 64 (or two addresses over a per-client cap of
             32): a newcomer still gets /api/health, predict and learn answered, no 5xx but
             the documented 503, at most the cap stays open (the longest-idle connections are
             closed to make room), and the server's threads and fds come back down.
* slow-body  --timeout 3: 256 connections (128 from 127.0.0.1, 128 over 127.0.0.2-4), each
             sending a learn's head at once and its body one byte a second, reopened when
             closed: each must get 408 and be closed within --timeout + length/--min-body-rate
             (+1 s), never before --timeout; a client at 127.0.0.5 gets every call answered.
* trailer    chunked learns whose trailer section never ends (short lines, 3,000-byte lines,
             one endless line: paced, 512 B per 20 ms; and blasted): 400 after 8 KiB of
             trailer (+8 KiB for what a paced sender adds meanwhile) and the connection closed,
             a trailer under 8 KiB still taken, no refused learn counted, every call of a
             well-behaved client answered.
* noisy-neighbour  models A and B (creme StandardScaler | LinearRegression); A takes learns
             of 30,000 new features each while another client times B's predictions: A gets
             507 at most two learns after crossing --max-model-size (32 MiB), and 507 again
             after; B's latencies (quiet, during, after) and the server's RSS are reported.
             Then, if the phase has 30 s left, the same with --max-model-size 256 MiB for
             comparison (stopped after 60 s).
* label-amplification  river's PriorClassifier learns 5,000 distinct labels through the
             server, then 300 predictions with an id: every answer (and learn answer) carries at
             most --max-classes (100) classes; answer bytes, latency and bytes written per
             prediction are reported, beside the same model (uploaded trained) under
             --max-classes 50000.

Only the standard library, hypothesis and the repository's harness.py (servers, clients and
the Ledger it shares with the tests; standard library only) are imported here; the models that
are uploaded are built by child processes of the same interpreter (which need creme, river and
dill, as the server does), and so is the bad-items phase's replay (with harness.py's Simulator).
The report goes to stdout; the exit status is 1 when anything broke.
"""

import argparse
import collections
import contextlib
import http.client
import itertools
import json
import math
import os
import pathlib
import queue
import random
import re
import select
import selectors
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NonInteractiveExampleWarning

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # harness.py, shared with the tests
from harness import (  # noqa: E402
    TIMEOUT, Client, Ledger, NotAStream, ServerProcess, SSEClient, StillOpen, exchange, model_stats,
    observed_state, read_until_closed,
)

MODEL_SNIPPET = ("import sys, dill\nfrom creme import linear_model, preprocessing\n"
                 "sys.stdout.buffer.write(dill.dumps(preprocessing.StandardScaler() | "
                 "linear_model.LinearRegression()))")
PHASES = {  # share of the time budget
    "fuzz": 0.16, "garbage": 0.07, "concurrency": 0.14, "kill -9": 0.17, "SIGTERM": 0.08, "disk full": 0.06,
    "bad items": 0.11, "stalled streams": 0.11, "idle sockets": 0.10,
    "slow-body": 0.08, "trailer": 0.05, "noisy-neighbour": 0.12, "label-amplification": 0.07,
}


# ---------------------------------------------------------------------------------------
# Servers and clients
# ---------------------------------------------------------------------------------------


class Server(ServerProcess):
    """harness.ServerProcess running the chantilly.py that --server names, which can also say
    what its last logged traceback was."""

    script = ROOT / "chantilly.py"  # --server changes it

    def __init__(self, db, *args):
        super().__init__(db, *args, script=self.script)

    def last_error(self, wait=1.0):
        """The exception that ended the server's last logged traceback (waiting up to ``wait``
        seconds for the log line to arrive), if any."""
        def find(lines):
            for line in reversed(lines):
                found = re.findall(r"(?:\\x0a|\n)(\w+(?:Error|Exception|Exit)\b(?:(?!\\x0a).)*)", line)
                if found:
                    return found[-1][:160]
            return None

        return self.wait_for_stderr(find, wait) or "no traceback logged"


def answer_of(client, method, path, body=None):
    """``(status, content type, data)`` of a request by a harness Client: what the checks
    below look at."""
    status, response, data = client.request(method, path, body)
    return status, response.getheader("Content-Type", ""), data


def succeeded(status):
    """A 2xx: a learn and a prediction kept under an id answer 201, other calls 200."""
    return status is not None and 200 <= status < 300


def nothing_stored(answer):
    """A batch item answering a learn by an id that has nothing stored: 400 "No information
    stored for ID ..." (as chantilly 0.2; 404 before)."""
    return "prediction" not in answer and answer.get("status") in (400, 404)


def model_bytes():
    return subprocess.run([sys.executable, "-c", MODEL_SNIPPET], capture_output=True, check=True,
                          timeout=60).stdout


def state(client):
    """What a refused request must leave alone (metrics and counters; the model is not
    downloaded: this script does not import dill)."""
    return observed_state(client, probes=())


def statuses_of(data):
    """``[(status, content type, body)]`` of raw responses (bodies by Content-Length)."""
    out = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        if not sep:
            out.append((None, None, head))  # unparseable
            break
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            out.append((None, None, head))
            break
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        if headers.get("transfer-encoding") == "chunked":
            out.append((status, headers.get("content-type"), b""))
            break  # an event stream or NDJSON answer: not what garbage should produce anyway
        length = int(headers.get("content-length", "0")) if status >= 200 else 0
        out.append((status, headers.get("content-type"), data[:length]))
        data = data[length:]
    return out


class Report:
    """Counts and failures of one phase."""

    def __init__(self, name, seconds):
        self.name, self.seconds = name, seconds
        self.counts = collections.Counter()
        self.statuses = collections.Counter()
        self.notes = []
        self.broken = []
        self._lock = threading.Lock()  # guards everything above

    def count(self, key, n=1):
        with self._lock:
            self.counts[key] += n

    def status(self, status):
        with self._lock:
            self.statuses[status] += 1

    def broke(self, what):
        with self._lock:
            if len(self.broken) < 200:
                self.broken.append(what)

    def print(self, verbose):
        print(f"== {self.name} ({self.seconds:.0f} s)")
        if self.counts:
            print("   tried: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()))
        if self.statuses:
            print("   statuses: " + ", ".join(f"{k}={v}" for k, v in sorted(self.statuses.items(), key=str)))
        for note in self.notes:
            print(f"   {note}")
        kinds = collections.Counter(b.split(":", 1)[0] for b in self.broken)
        print(f"   broke: {len(self.broken)}" + (f" ({dict(kinds)})" if kinds else ""))
        for b in (self.broken if verbose else dedupe(self.broken))[:12]:
            print(f"     - {b[:400]}")


def dedupe(items):
    seen, out = set(), []
    for item in items:
        key = item.split(":", 1)[0]
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def check_answer(report, what, status, kind, data, allowed_5xx=(), server=None):
    report.status(status)
    if status is None:
        report.broke(f"unparseable answer: {what}: {data[:200]!r}")
    elif status >= 500 and status not in allowed_5xx:
        cause = f" [server log: {server.last_error()}]" if server is not None and status == 500 else ""
        report.broke(f"{status}: {what} -> {data!r:.200}{cause}")
    elif status >= 400 and (kind != "application/json" or not isinstance(data, dict)
                            or set(data) != {"message"}):
        report.broke(f"error not JSON {{message}}: {what} -> {status} {kind} {data!r:.200}")


# ---------------------------------------------------------------------------------------
# Phase: fuzz
# ---------------------------------------------------------------------------------------

odd_text = st.text(max_size=10) | st.sampled_from(["", "\x00", "\u2028", "\ufeff", "🍰", "\\", '"', "1e400"])
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-10 ** 400, 10 ** 400)
           | st.floats(allow_nan=False, allow_infinity=False) | odd_text
           | st.sampled_from([1e200, -1e300, 10 ** 200, 1.7e308, 5e-324, 10 ** 4000]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(odd_text, inner, max_size=4), max_leaves=10)
calls = st.fixed_dictionaries({}, optional={
    "features": st.dictionaries(odd_text | st.sampled_from(["x", "y"]), scalars, max_size=5) | values,
    "id": st.integers(-3, 30) | st.text(max_size=300) | values,
    "ground_truth": scalars | values,
    "op": st.sampled_from(["predict", "learn"]) | odd_text,
})
numeric_calls = st.fixed_dictionaries({  # well-formed calls, so that learns succeed and pile up
    "features": st.dictionaries(st.sampled_from(["x", "y", "z"]), st.floats(allow_nan=False, allow_infinity=False)
                                | st.integers(-10 ** 300, 10 ** 300), max_size=3),
    "ground_truth": scalars, "op": st.sampled_from(["predict", "learn"])})
payloads = calls | values | numeric_calls
raw = (st.binary(max_size=200) | st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n)
       | st.sampled_from([b'{"features": {"x": 1e400}, "ground_truth": 1}', b'{"features": {"x": NaN}}',
                          b'{"features": {"x": 1}, "features": 2, "ground_truth": 1}', b'\xef\xbb\xbf{}',
                          b'{"features": {"\\ud800": 1}, "ground_truth": 1}', b"{" * 5000])
       | st.tuples(payloads, payloads).map(lambda p: b'{"features": %s, "features": %s, "ground_truth": 1}'
                                           % (json.dumps(p[0]).encode(), json.dumps(p[1]).encode())))
cases = st.one_of(
    st.tuples(st.just("predict"), payloads.map(lambda p: json.dumps(p).encode())),
    st.tuples(st.just("learn"), payloads.map(lambda p: json.dumps(p).encode())),
    st.tuples(st.just("batch"), st.lists(payloads, max_size=5).map(lambda p: json.dumps(p).encode())),
    st.tuples(st.just("stream"), st.lists(payloads.map(json.dumps).map(str.encode) | st.binary(max_size=50),
                                          max_size=6).map(lambda ls: b"\n".join(ls))),
    st.tuples(st.sampled_from(["raw predict", "raw learn"]), raw),
    st.tuples(st.just("upload"), st.tuples(st.binary(max_size=300), odd_text)),
)
PATHS = {"predict": "/api/predict", "learn": "/api/learn", "batch": "/api/learn", "stream": "/api/stream",
         "raw predict": "/api/predict", "raw learn": "/api/learn"}


def phase_fuzz(report, until, tmp, model):
    while time.monotonic() < until:
        server = Server(tmp / f"fuzz{report.counts['servers']}.db")
        report.count("servers")
        try:
            fuzz_one_server(report, until, server, model)
        finally:
            server.close()


def fuzz_one_server(report, until, server, model):
    """Fuzz one server until the time is up or it breaks (a 5xx or a cut connection leaves its
    model in a state nothing can be compared with, so the next cases go to a fresh server)."""
    client = server.client()
    client.ok("POST", "/api/model", model, 201)
    for i in range(30):
        client.ok("POST", "/api/learn", {"features": {"x": float(i), "y": float(-i)}, "ground_truth": float(i)})
    box = {"state": state(client), "broken": False}

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def run(case):  # never raises: hypothesis is the generator, the checks are ours
        if time.monotonic() > until or box["broken"]:
            return
        kind, body = case
        report.count(kind)
        path = PATHS.get(kind)
        if kind == "upload":
            body, flavor = body
            path = "/api/model?" + urllib.parse.urlencode({"flavor": flavor})
        try:
            status, ctype, data = answer_of(client, "POST", path, body)
        except (OSError, http.client.HTTPException) as e:
            report.broke(f"connection cut: {kind} {body[:200]!r}: {e!r} [server log: {server.last_error()}]")
            box["broken"] = True
            return
        check_answer(report, f"POST {path} {body[:200]!r}", status, ctype, data, server=server)
        if status >= 500:
            box["broken"] = True
            return
        refused = status >= 400
        if status == 200 and kind == "batch":
            refused = all("status" in a for a in data)
        if status == 200 and kind == "stream":
            refused = all(b'"status"' in line for line in data.splitlines())
        after = state(client)
        if refused and after != box["state"]:
            report.broke(f"refused but changed the model: {kind} {body[:200]!r} -> {status} {data!r:.200}")
        box["state"] = after

    while time.monotonic() < until and not box["broken"]:
        run()
        try:
            client.ok("GET", "/api/health")
        except (OSError, http.client.HTTPException, AssertionError) as e:
            report.broke(f"server stopped serving after fuzz: {e!r}")
            break
    client.close()


# ---------------------------------------------------------------------------------------
# Phase: garbage
# ---------------------------------------------------------------------------------------

HEAD = b"POST /api/learn HTTP/1.1\r\nHost: localhost\r\n"
GARBAGE = [
    b"\x00\x01\x02\xff garbage\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(200)),
    b"GET\r\n\r\n", b"GET /api/health HTTP/2.0\r\n\r\n", b"GET /api/health\r\n", b"GET /api/health HTTP/1.1\r\n\r\n",
    b"GET /api/health?" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
    b"GET /api/health HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
    b"GET /api/health HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
    HEAD + b"Content-Length: abc\r\n\r\n{}", HEAD + b"Content-Length: -1\r\n\r\n{}",
    HEAD + b"Content-Length: \xb2\r\n\r\n{}", HEAD + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n",
    HEAD + b"Content-Length: 5\r\n\r\n{\"features\": 1}", HEAD + b"Content-Length: 500\r\n\r\n{}",
    HEAD + b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
    HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX", HEAD + b"Transfer-Encoding: chunked\r\n\r\n40\r\n{",
    HEAD + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    HEAD + b"Transfer-Encoding: gzip\r\n\r\n{}", b"BREW /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n",
]
VALID = [b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n",
         HEAD + b"Content-Length: 45\r\n\r\n{\"features\": {\"x\": 1.0}, \"ground_truth\": 2.0}",
         b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"18\r\n{\"features\": {\"x\": 1.0}}\r\n0\r\n\r\n"]
ALLOWED_5XX = (501, 505)  # RFC 9110: an unknown method, an unsupported HTTP version


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        roll, at = rng.random(), rng.randrange(len(data) + 1)
        if roll < 0.3 and data:
            del data[at:at + rng.randint(1, 8)]
        elif roll < 0.6:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif roll < 0.8 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        else:
            data = data[:at]
    return bytes(data)


def phase_garbage(report, until, tmp, model, rng):
    server = Server(tmp / "garbage.db", "--timeout", "0.5")
    try:
        client = server.client()
        client.ok("POST", "/api/model", model, 201)
        client.close()
        threads, fds = server.threads(), server.fds()
        for n in itertools.count():
            if time.monotonic() > until:
                break
            data = GARBAGE[n % len(GARBAGE)] if n < 2 * len(GARBAGE) else mutate(rng, rng.choice(VALID + GARBAGE))
            report.count("connections")
            try:
                answer = exchange(server.port, data, shut_write=rng.random() < 0.5, timeout=5.0)
            except StillOpen as e:  # what it answered still counts
                answer = e.received
            for status, ctype, body in statuses_of(answer):
                try:
                    body = json.loads(body) if ctype == "application/json" else body
                except ValueError:
                    report.broke(f"answer is not JSON: {data[:120]!r} -> {body[:120]!r}")
                    continue
                check_answer(report, repr(data[:120]), status, ctype, body, ALLOWED_5XX, server)
            if server.proc.poll() is not None:
                report.broke(f"the server died on {data[:200]!r}")
                return
        settle(report, server, threads, fds)
    finally:
        server.close()


# ---------------------------------------------------------------------------------------
# Phase: concurrency
# ---------------------------------------------------------------------------------------


def mixed_worker(port, t, until, report, uploads, model, acked):
    rng = random.Random(t * 7919 + uploads)
    client = Client(port)
    pending, action = [], None
    try:
        while time.monotonic() < until:
            roll = rng.random()
            x = {"x": rng.uniform(-5, 5), "t": float(t)}
            if roll < 0.25:
                action = "predict with an id"
                ident = f"{t}-{rng.random()}"
                status, kind, data = answer_of(client, "POST", "/api/predict", {"id": ident, "features": x})
                if succeeded(status):
                    pending.append(ident)
                learned = 0
            elif roll < 0.45 and pending:
                action = "learn by id"
                status, kind, data = answer_of(client, "POST", "/api/learn", {"id": pending.pop(), "ground_truth": 1.0})
                learned = succeeded(status)
            elif roll < 0.6:
                action = "learn"
                status, kind, data = answer_of(client, "POST", "/api/learn", {"features": x, "ground_truth": 1.0})
                learned = succeeded(status)
            elif roll < 0.7:
                action = "batch of learns"
                status, kind, data = answer_of(client, "POST", "/api/learn", [{"features": x, "ground_truth": 1.0}] * 3)
                learned = sum(1 for a in data if "prediction" in a) if status == 200 else 0
            elif roll < 0.78:
                action = "operation stream"
                body = "".join(json.dumps({"op": "learn", "features": x, "ground_truth": 1.0}) + "\n" for _ in range(4))
                status, kind, data = answer_of(client, "POST", "/api/stream", body.encode())
                learned = data.count(b"prediction") if status == 200 else 0
            elif roll < 0.86:
                action = "model download"
                status, kind, data = answer_of(client, "GET", "/api/model")
                learned = 0
            elif roll < 0.93 or not uploads:
                action = "event stream"
                status, kind, data = read_events(port, until)
                learned = 0
            else:
                action = "model upload"
                status, kind, data = answer_of(client, "POST", "/api/model", model)
                pending.clear()
                learned = 0
            report.count("requests")
            check_answer(report, f"worker {t}", status, kind, data)
            if not uploads and not succeeded(status):  # no upload replaces the model: everything must work
                report.broke(f"{status} without uploads: worker {t} -> {data!r:.200}")
            if learned:
                acked.put(learned)
    except Exception as e:  # noqa: BLE001 - a worker's failure is a finding, not a crash of the script
        report.broke(f"worker error: {action}: {e!r}")
    finally:
        client.close()


def read_events(port, until):
    """Three events from /api/stream/events. Silence is a failure only while the other workers
    still run (they stop at ``until``: a stream opened just before may wait in vain), and only
    a long one: on a shared machine a commit can wait seconds for the disk."""
    patience = max(2.0, min(TIMEOUT, until - time.monotonic()))
    try:
        with SSEClient(port, "/api/stream/events", timeout=patience) as sse:
            for _ in range(3):
                json.loads(sse.next_event()[1])
    except NotAStream as e:
        return e.status, e.response.getheader("Content-Type"), e.data
    except EOFError:
        pass  # the stream ended: the server is shutting it down
    except socket.timeout:
        if time.monotonic() < until:
            raise TimeoutError(f"no event for {patience:.0f} s while the other workers ran") from None
    return 200, "text/event-stream", None


def phase_concurrency(report, until, tmp, model):
    server = Server(tmp / "concurrency.db", "--timeout", "5")
    try:
        admin = server.client()
        admin.ok("POST", "/api/model", model, 201)
        admin.close()
        threads, fds = server.threads(), server.fds()
        half = time.monotonic() + (until - time.monotonic()) / 2
        for uploads, end in ((True, half), (False, until)):
            admin = server.client()
            if not uploads:
                admin.ok("POST", "/api/model", model, 201)  # the last upload: learns count from here
            admin.close()
            acked = queue.Queue()
            workers = [threading.Thread(target=mixed_worker, args=(server.port, t, end, report, uploads, model, acked))
                       for t in range(16)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(end - time.monotonic() + 3 * TIMEOUT)
        n = sum(acked.get() for _ in range(acked.qsize()))  # the second half's queue
        admin = server.client()
        learns = model_stats(admin)["learns"]
        admin.close()
        report.count("acknowledged learns (second half)", n)
        if learns != n:
            report.broke(f"lost update: {n} learns acknowledged since the last upload, the server counts {learns}")
        settle(report, server, threads, fds)
    finally:
        server.close()


def settle(report, server, threads, fds, note=True):
    """Poll, learning over one-shot connections (event streams notice a gone client on a
    write), until the server's threads and fds are back to where they were."""
    deadline = time.monotonic() + TIMEOUT
    while (server.threads() > threads or server.fds() > fds) and time.monotonic() < deadline:
        client = server.client()
        client.ok("POST", "/api/learn", {"features": {"x": 0.0}, "ground_truth": 0.0})
        client.close()
    if note:
        report.notes.append(f"server threads {threads} -> {server.threads()}, fds {fds} -> {server.fds()} "
                            "(before -> after the clients left)")
    if server.threads() > threads or server.fds() > fds:
        report.broke(f"leak: threads {threads} -> {server.threads()}, fds {fds} -> {server.fds()}")


# ---------------------------------------------------------------------------------------
# Phase: kill -9 (and a torn write-ahead log)
# ---------------------------------------------------------------------------------------


def id_worker(port, t, ledger):
    rng, client, mine = random.Random(t), Client(port), []
    for i in itertools.count():
        roll = rng.random()
        if roll < 0.45 or not mine:
            kind, ident, body = "predict", f"{t}-{i}", {"id": f"{t}-{i}", "features": {"x": float(i)}}
        elif roll < 0.85:
            ident = mine.pop(rng.randrange(len(mine)))
            kind, body = "learn", {"id": ident, "ground_truth": 1.0}
        else:
            kind, ident, body = "learn", None, {"features": {"x": float(i)}, "ground_truth": 1.0}
        try:
            status, _, data = client.request("POST", f"/api/{kind}", body)
        except (OSError, http.client.HTTPException):
            ledger.cut(kind, ident)
            return
        if not succeeded(status):
            ledger.surprises.append(f"{kind} {ident}: {status} {data}")
            return
        ledger.ack(kind, ident)
        if kind == "predict":
            mine.append(ident)


def kill_trial(report, tmp, model, rng, trial, tear):
    db = tmp / f"kill{trial}.db"
    server = Server(db)
    ledger = Ledger()
    try:
        server.client().ok("POST", "/api/model", model, 201)
        workers = [threading.Thread(target=id_worker, args=(server.port, t, ledger), daemon=True) for t in range(4)]
        for w in workers:
            w.start()
        ledger.wait_for(rng.randint(50, 1500), TIMEOUT)
        server.kill()
        for w in workers:
            w.join(TIMEOUT)
    finally:
        server.close()
    report.count("trials")
    report.count("acknowledged operations", ledger.acked)
    for s in ledger.surprises:
        report.broke(f"unexpected answer before the kill: {s}")
    wal = pathlib.Path(f"{db}-wal")
    if tear and wal.exists():
        size = wal.stat().st_size
        os.truncate(wal, rng.randrange(size + 1))
        report.count("torn WALs")
    try:
        server = Server(db)
    except AssertionError as e:  # it did not start
        report.broke(f"did not start after kill -9{' and a torn WAL' if tear else ''}: {e}")
        return
    try:
        client = server.client()
        stats = model_stats(client)
        learns = stats["learns"] if stats else 0
        high = ledger.learns + ledger.learns_in_flight
        if tear:  # a torn log may lose committed calls, but never invent any
            if learns > high:
                report.broke(f"torn WAL: {learns} learns after restart, at most {high} were sent")
            if stats is None:
                client.ok("POST", "/api/model", model, 201)
            client.ok("GET", "/api/metrics")
            client.ok("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 1.0})
            return
        if not ledger.learns <= learns <= high:
            report.broke(f"kill -9: {learns} learns after restart; acknowledged {ledger.learns}, "
                         f"in flight {ledger.learns_in_flight}")
        waiting = sorted(ledger.stored - ledger.learned - ledger.uncertain)
        answers = client.ok("POST", "/api/learn", [{"id": i, "ground_truth": 1.0} for i in waiting])
        lost = [i for i, a in zip(waiting, answers) if "prediction" not in a]
        report.count("acknowledged ids checked", len(waiting))
        if lost:
            report.broke(f"kill -9 lost {len(lost)} acknowledged ids, e.g. {lost[:3]}")
        done = sorted(ledger.learned - ledger.uncertain)
        answers = client.ok("POST", "/api/learn", [{"id": i, "ground_truth": 1.0} for i in done])
        back = [i for i, a in zip(done, answers) if not nothing_stored(a)]
        if back:
            report.broke(f"kill -9 resurrected {len(back)} learned ids, e.g. {back[:3]}")
    finally:
        server.close()


def phase_kill(report, until, tmp, model, rng):
    for trial in itertools.count():
        if time.monotonic() > until:
            break
        kill_trial(report, tmp, model, rng, trial, tear=trial % 2 == 1)


# ---------------------------------------------------------------------------------------
# Phase: SIGTERM
# ---------------------------------------------------------------------------------------


def learn_worker(port, t, ledger):
    client = Client(port)
    for i in itertools.count():
        try:
            status, _, _ = client.request("POST", "/api/learn", {"features": {"t": float(t), "i": float(i)},
                                                                 "ground_truth": 1.0})
        except (OSError, http.client.HTTPException):
            ledger.cut("learn", None)
            return
        if not succeeded(status):
            return
        ledger.ack("learn", None)


def phase_sigterm(report, until, tmp, model, rng):
    for trial in itertools.count():
        if time.monotonic() > until:
            break
        db = tmp / f"term{trial}.db"
        server = Server(db)
        ledger = Ledger()
        try:
            server.client().ok("POST", "/api/model", model, 201)
            workers = [threading.Thread(target=learn_worker, args=(server.port, t, ledger), daemon=True)
                       for t in range(6)]
            for w in workers:
                w.start()
            ledger.wait_for(rng.randint(50, 800), TIMEOUT)
            started = time.monotonic()
            try:
                code = server.terminate(timeout=5)
            except subprocess.TimeoutExpired:
                code = "still running after 5 s"
            report.status(code)
            took = time.monotonic() - started
            if code != 0:
                report.broke(f"SIGTERM: exit {code} ({''.join(server.stderr)[-200:]!r})")
            report.count("trials")
            report.count("acknowledged learns", ledger.learns)
            if trial < 3:
                report.notes.append(f"trial {trial}: exit {code} in {took:.2f} s")
            for w in workers:
                w.join(TIMEOUT)
        finally:
            server.close()
        server = Server(db)
        try:
            learns = model_stats(server.client())["learns"]
            if not ledger.learns <= learns <= ledger.learns + ledger.learns_in_flight:
                report.broke(f"SIGTERM: {learns} learns after restart; acknowledged {ledger.learns}, "
                             f"in flight {ledger.learns_in_flight}")
        finally:
            server.close()


# ---------------------------------------------------------------------------------------
# Phase: disk full
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path, size):
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        yield None
        return
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def phase_disk_full(report, until, tmp, model):
    for trial in itertools.count():
        if time.monotonic() > until and trial:
            break
        with tmpfs(tmp / f"disk{trial}", "1m") as mount:
            if mount is None:
                report.notes.append("skipped: mounting a tmpfs is not permitted here (needs root)")
                return
            disk_trial(report, mount, model)


def disk_trial(report, mount, model):
    db = mount / "c.db"
    server = Server(db)
    acked = 0
    try:
        client = server.client()
        client.ok("POST", "/api/model", model, 201)
        row = {f"f{k}": float(k) for k in range(60)}
        refused = None
        for i in range(20_000):
            status, kind, data = answer_of(client, "POST", "/api/learn", {"features": dict(row, i=float(i)),
                                                                       "ground_truth": 1.0})
            report.status(status)
            if succeeded(status):
                acked += 1
                continue
            refused = (status, kind, data)
            break
        report.count("trials")
        report.count("acknowledged learns", acked)
        if refused is None or refused[0] != 503 or refused[1] != "application/json":
            report.broke(f"disk full: expected a JSON 503, got {refused}")
            return
        for _ in range(10):  # stays refused, never worse
            status, kind, data = answer_of(client, "POST", "/api/learn", {"features": row, "ground_truth": 1.0})
            report.status(status)
            if status != 503:
                report.broke(f"disk still full: {status} {data}")
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        status, kind, data = answer_of(client, "POST", "/api/learn", {"features": row, "ground_truth": 1.0})
        report.status(status)
        if succeeded(status):
            acked += 1
            report.count("recovered without restart")
        else:
            report.broke(f"space is back but the learn got {status} {data}")
        client.close()
    finally:
        server.close()
    server = Server(db)
    try:
        learns = model_stats(server.client())["learns"]
        if learns != acked:
            report.broke(f"disk full: {acked} learns acknowledged, {learns} after restart")
    finally:
        server.close()


# ---------------------------------------------------------------------------------------
# Phase: bad items
# ---------------------------------------------------------------------------------------

BAD_LEARNS = [  # well-formed, but a StandardScaler raises on a string or a null: 422, undone
    {"features": {"gallup": "oops"}, "ground_truth": 1},
    {"features": {"gallup": "oops", "ipsos": 41.0}, "ground_truth": 43.75},
    {"features": {"gallup": 40.0, "ipsos": None}, "ground_truth": 2.0},
]
BAD_PREDICTS = [{"features": {"gallup": "oops"}}, {"features": {"gallup": 40.0, "ipsos": None}}]
PROBES = [{"gallup": 43.8, "ipsos": 46.2}, {"gallup": 35.0}, {"ipsos": 51.5}, {}, {"gallup": 1e3, "ipsos": -1e3}]
LATENCY_TARGET = 0.1  # seconds: issue 8's p99 for other clients while one sends nothing but bad items
REPLAY_SNIPPET = """\
import json, sys, dill
sys.path.insert(0, sys.argv[1])
from harness import Simulator
model, served = (dill.loads(open(path, "rb").read()) for path in sys.argv[2:4])
calls = [(kind, x, ident) if kind == "predict" else (kind, x, y, ident)
         for kind, x, y, ident in json.load(open(sys.argv[4]))]
replayed = Simulator(model, "regression").run(calls)
probes = json.load(open(sys.argv[5]))
json.dump({"replayed": [repr(replayed.model.predict_one(dict(x))) for x in probes],
           "served": [repr(served.predict_one(dict(x))) for x in probes],
           "metrics": replayed.values()}, sys.stdout)
"""


def percentiles(durations):
    """``(p50, p99, max)`` in milliseconds of durations in seconds (nearest rank)."""
    ordered = sorted(durations)

    def rank(q):
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return 1e3 * rank(0.5), 1e3 * rank(0.99), 1e3 * ordered[-1]


def check_refused(report, what, status, kind, data):
    """A call made only of bad items: 4xx, or a 200 whose every item is a 4xx."""
    check_answer(report, what, status, kind, data)
    items = data if status == 200 and isinstance(data, list) else [data] if status == 200 else []
    for item in items:
        if not isinstance(item, dict) or "prediction" in item or not 400 <= item.get("status", 0) < 500:
            report.broke(f"a bad item was not refused: {what} -> {status} {item!r:.200}")
            return


class OperationStream:
    """``POST /api/stream`` on a bare socket: chunks of NDJSON operations out, answer lines in."""

    def __init__(self, port, timeout=TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(b"POST /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        self._buffer, self._lines = b"", b""
        self.status = int(self._until(b"\r\n\r\n").split(None, 2)[1])

    def _until(self, separator):
        while separator not in self._buffer:
            piece = self.sock.recv(65536)
            if not piece:
                raise EOFError("the server ended the operation stream")
            self._buffer += piece
        found, _, self._buffer = self._buffer.partition(separator)
        return found

    def send(self, body):
        """One chunk: NDJSON lines, each ending with a newline."""
        self.sock.sendall(b"%x\r\n%s\r\n" % (len(body), body))

    def answers(self, n):
        """The next ``n`` answer lines, decoded."""
        while self._lines.count(b"\n") < n:
            size = int(self._until(b"\r\n"), 16)
            if size == 0:
                raise EOFError("the operation stream ended early")
            while len(self._buffer) < size + 2:
                piece = self.sock.recv(65536)
                if not piece:
                    raise EOFError("the server ended the operation stream")
                self._buffer += piece
            self._lines += self._buffer[:size]
            self._buffer = self._buffer[size + 2:]
        lines = self._lines.split(b"\n")
        self._lines = b"\n".join(lines[n:])
        return [json.loads(line) for line in lines[:n]]

    def close(self):
        try:
            self.sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may have ended the stream already: closing is all that is left
        self.sock.close()


def flood_single(port, until, rng, report, bad_ids):
    """Single bad learns and bad predictions (some with an id, which must never be stored)."""
    client = Client(port)
    try:
        while time.monotonic() < until:
            if rng.random() < 0.6:
                path, body = "/api/learn", rng.choice(BAD_LEARNS)
            else:
                path, body = "/api/predict", dict(rng.choice(BAD_PREDICTS))
                if rng.random() < 0.5:
                    body["id"] = f"bad-{len(bad_ids)}"
                    bad_ids.append(body["id"])
            status, kind, data = answer_of(client, "POST", path, body)
            report.count("bad items", 1)
            check_refused(report, f"POST {path} {body}", status, kind, data)
    except (OSError, http.client.HTTPException) as e:
        report.broke(f"connection cut: single bad items: {e!r}")
    finally:
        client.close()


def flood_bulk(port, until, rng, report, routes=("batch", "stream")):
    """Batches of 200-600 bad items to /api/learn and /api/predict, and chunks of 100-400 bad
    lines on one long operation stream, taking turns (or only one kind, by ``routes``)."""
    ops = [dict(item, op="learn") for item in BAD_LEARNS] + [dict(item, op="predict") for item in BAD_PREDICTS]
    batches = [(path, json.dumps(items).encode(), len(items))
               for path, pool in (("/api/learn", BAD_LEARNS), ("/api/predict", BAD_PREDICTS)) for _ in range(3)
               for items in [[rng.choice(pool) for _ in range(rng.randint(200, 600))]]]
    chunks = [(n, b"".join(json.dumps(rng.choice(ops)).encode() + b"\n" for _ in range(n)))
              for n in (rng.randint(100, 400) for _ in range(6))]
    client, stream = Client(port), None
    try:
        if "stream" in routes:
            stream = OperationStream(port)
            if stream.status != 200:
                report.broke(f"bad stream: answered {stream.status}")
                return
        for turn in itertools.cycle(routes):
            if time.monotonic() > until:
                break
            if turn == "batch":
                path, body, n = rng.choice(batches)
                status, kind, data = answer_of(client, "POST", path, body)
                check_refused(report, f"batch of {n} bad items to {path}", status, kind, data)
            else:
                n, body = rng.choice(chunks)
                stream.send(body)
                check_refused(report, f"stream chunk of {n} bad lines", 200, "application/json", stream.answers(n))
            report.count("bad items", n)
    except (OSError, EOFError, ValueError, http.client.HTTPException) as e:
        report.broke(f"connection cut: bad {' and '.join(routes)}: {e!r}")
    finally:
        client.close()
        if stream is not None:
            stream.close()


def well_behaved(client, until, stage, rng, calls, latency, report):
    """Single predictions and learns, one at a time: each acknowledged call is written down
    in order in ``calls`` (for the replay), each round trip in ``latency[stage[0]]``.
    Returns whether ``calls`` is exact (False after a refusal or a cut connection)."""
    waiting = []
    for i in itertools.count():
        if time.monotonic() > until:
            return True
        x = {"gallup": round(rng.uniform(35, 50), 3), "ipsos": round(rng.uniform(35, 50), 3)}
        y, roll = round(rng.uniform(35, 50), 3), rng.random()
        if roll < 0.35 or not waiting:
            call = ["predict", x, None, f"good-{i}"]
        elif roll < 0.7:
            call = ["learn", None, y, waiting.pop(rng.randrange(len(waiting)))]
        elif roll < 0.8:
            call = ["predict", x, None, None]
        else:
            call = ["learn", x, y, None]
        kind, x, y, ident = call
        body = {key: value for key, value in (("features", x), ("ground_truth", y), ("id", ident)) if value is not None}
        started = time.perf_counter()
        try:
            status, _, data = client.request("POST", f"/api/{kind}", body)
        except (OSError, http.client.HTTPException) as e:
            report.broke(f"connection cut: well-behaved {kind} {body}: {e!r}")
            return False
        latency[stage[0]].append(time.perf_counter() - started)
        report.count("well-behaved calls")
        if not succeeded(status):
            report.broke(f"well-behaved call refused: {kind} {body} -> {status} {data!r:.200}")
            return False
        calls.append(call)
        if kind == "predict" and ident is not None:
            waiting.append(ident)


def phase_bad_items(report, until, tmp, model, rng):
    """A quiet start, then one client flooding bad items in bulk (issue 8's scenario, judged
    against its latency target), then three (reported only: three CPU-bound attackers on a
    small machine slow everyone down, bad items or not)."""
    server = Server(tmp / "bad-items.db")
    try:
        client = server.client()
        client.ok("POST", "/api/model", model, 201)
        stage, calls, exact = ["quiet"], [], []
        latency = {"quiet": [], "1 flooding client": [], "3 flooding clients": []}
        good = threading.Thread(target=lambda: exact.append(well_behaved(
            client, until, stage, random.Random(rng.random()), calls, latency, report)))
        good.start()
        time.sleep(min(3.0, max(0.0, (until - time.monotonic()) / 10)))
        started, bad_ids = time.monotonic(), []
        half = started + (until - started) / 2
        stage[0] = "1 flooding client"
        flood_bulk(server.port, half, random.Random(rng.random()), report)
        stage[0] = "3 flooding clients"
        floods = [threading.Thread(target=flood_single, args=(server.port, until, random.Random(rng.random()),
                                                              report, bad_ids)),
                  threading.Thread(target=flood_bulk, args=(server.port, until, random.Random(rng.random()), report,
                                                            ("batch",))),
                  threading.Thread(target=flood_bulk, args=(server.port, until, random.Random(rng.random()), report,
                                                            ("stream",)))]
        for flood in floods:
            flood.start()
        for thread in floods + [good]:
            thread.join(until - time.monotonic() + 3 * TIMEOUT)
        seconds = max(1e-9, time.monotonic() - started)
        report.notes.append(f"bad items refused: {report.counts['bad items']} "
                            f"({report.counts['bad items'] / seconds:.0f}/s): single calls, batches of 200-600, "
                            "stream chunks of 100-400")
        for name, durations in latency.items():
            if durations:
                p50, p99, worst = percentiles(durations)
                report.notes.append(f"well-behaved client, {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
                                    f"max {worst:.0f} ms over {len(durations)} calls")
        if latency["1 flooding client"]:
            p99 = percentiles(latency["1 flooding client"])[1]
            if p99 > 1e3 * LATENCY_TARGET:
                report.broke(f"latency: the well-behaved client's p99 is {p99:.0f} ms while one client floods "
                             f"bad items (target {1e3 * LATENCY_TARGET:.0f} ms)")
        if good.is_alive():
            report.broke(f"the well-behaved client is still waiting {3 * TIMEOUT:.0f} s after the flood")
        elif exact == [True]:
            check_replay(report, client, tmp, model, calls)
        if bad_ids:
            answers = client.ok("POST", "/api/learn", [{"id": i, "ground_truth": 1.0} for i in bad_ids[-500:]])
            stored = [i for i, a in zip(bad_ids[-500:], answers) if not nothing_stored(a)]
            if stored:
                report.broke(f"refused predictions stored their ids: {len(stored)}, e.g. {stored[:3]}")
        client.close()
    finally:
        server.close()


def check_replay(report, client, tmp, model, calls):
    """The served model and metrics equal the replay of the well-behaved client's acknowledged
    calls (by harness.py's Simulator, in a child process with creme and dill): every bad item
    was undone exactly."""
    files = {name: tmp / f"replay-{name}" for name in ("model", "served", "calls", "probes")}
    files["model"].write_bytes(model)
    files["served"].write_bytes(client.ok("GET", "/api/model"))
    files["calls"].write_text(json.dumps(calls))
    rng = random.Random(len(calls))
    probes = PROBES + [{"gallup": rng.uniform(30, 55), "ipsos": rng.uniform(30, 55)} for _ in range(20)]
    files["probes"].write_text(json.dumps(probes))
    served_metrics = client.ok("GET", "/api/metrics")
    learns = model_stats(client)["learns"]
    result = subprocess.run([sys.executable, "-c", REPLAY_SNIPPET, str(ROOT), *map(str, files.values())],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        report.broke(f"replay failed: {result.stderr[-300:]}")
        return
    replay = json.loads(result.stdout)
    expected = sum(call[0] == "learn" for call in calls)
    if learns != expected:
        report.broke(f"lost or extra learns: the well-behaved client had {expected} acknowledged, "
                     f"the server counts {learns}")
    if served_metrics != replay["metrics"]:
        report.broke(f"metrics differ from the replay: served {served_metrics}, replayed {replay['metrics']}")
    wrong = [(p, s, r) for p, s, r in zip(probes, replay["served"], replay["replayed"]) if s != r]
    if wrong:
        report.broke(f"model differs from the replay on {len(wrong)} of {len(probes)} probes, "
                     f"e.g. {wrong[0][0]}: served {wrong[0][1]}, replayed {wrong[0][2]}")
    report.notes.append(f"replayed {len(calls)} acknowledged well-behaved calls ({expected} learns): "
                        + ("model and metrics equal" if not wrong and served_metrics == replay["metrics"]
                           else "DIFFERENT"))


# ---------------------------------------------------------------------------------------
# Phase: stalled streams
# ---------------------------------------------------------------------------------------

KiB, MiB = 1024, 1024 * 1024
RSS_LIMIT = 600 * MiB
#: Events a stalled stream must have been sent before it must be gone: the --stream-backlog
#: default (4 MiB) plus what the kernel buffers on both sides of a loopback socket.
DROP_AFTER = 32 * MiB
STALLED_AT_ONCE, STALLED_MAX = 8, 24
EVENTS_REQUEST = b"GET /api/stream/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def big_bodies(rng, n=3):
    """Predict bodies just under the default --max-body of 1 MiB: 2,000 features with
    ~450-byte names (the same names each time, so the model does not grow with them)."""
    names = [f"f{i:04d}_" + "x" * 440 for i in range(2000)]
    bodies = [json.dumps({"features": {k: rng.uniform(-1, 1) for k in names}}).encode() for _ in range(n)]
    assert all(len(body) < MiB for body in bodies)
    return bodies


def big_sender(port, until, bodies, report, sent):
    client = Client(port)
    try:
        for body in itertools.cycle(bodies):
            if time.monotonic() > until:
                break
            status, kind, data = answer_of(client, "POST", "/api/predict", body)
            report.count("large predicts")
            check_answer(report, "large predict", status, kind, data)
            if status == 200:
                sent.append((time.monotonic(), len(body)))
    except (OSError, http.client.HTTPException) as e:
        report.broke(f"connection cut: large predict: {e!r}")
    finally:
        client.close()


def small_client(port, until, report, latency):
    """Well-behaved traffic: small predictions and learns, each timed."""
    client = Client(port)
    try:
        for i in itertools.count():
            if time.monotonic() > until:
                break
            x = {"gallup": float(i % 50), "ipsos": 40.0}
            for path, body in (("/api/predict", {"features": x}),
                               ("/api/learn", {"features": x, "ground_truth": 41.0})):
                started = time.perf_counter()
                status, kind, data = answer_of(client, "POST", path, body)
                latency.append(time.perf_counter() - started)
                report.count("small calls")
                check_answer(report, f"small {path}", status, kind, data)
                if not succeeded(status):
                    report.broke(f"well-behaved call refused: {path} -> {status} {data!r:.200}")
    except (OSError, http.client.HTTPException) as e:
        report.broke(f"connection cut: well-behaved calls: {e!r}")
    finally:
        client.close()


def event_reader(port, until, report):
    """An events client that reads everything, and reconnects (as EventSource does) when
    the server drops it for falling behind."""
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
                sock.sendall(EVENTS_REQUEST)
                sock.settimeout(0.5)
                first = True
                while time.monotonic() < until:
                    try:
                        piece = sock.recv(MiB)
                    except socket.timeout:
                        continue
                    if first and not piece.startswith(b"HTTP/1.1 200 "):
                        report.count(f"reader refused ({piece[9:12].decode(errors='replace')})")
                        time.sleep(0.2)  # too many streams, most likely: try again a little later
                        break
                    first = False
                    if not piece:
                        report.count("readers dropped")
                        break
                    report.count("event bytes read", len(piece))
        except OSError as e:
            report.broke(f"connection cut: events reader: {e!r}")
            return


def drain(sock, deadline):
    """Read a stalled stream until the server ends it (True) or the deadline passes (False)."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
        try:
            piece = sock.recv(MiB)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
        if not piece:
            return True
    return False


def phase_stalled_streams(report, until, tmp, model, rng):
    server = Server(tmp / "stalled.db")
    stalled, workers = [], []
    try:
        admin = server.client()
        admin.ok("POST", "/api/model", model, 201)
        threads, fds = server.threads(), server.fds()
        rss_before, _ = server.memory()
        started = time.monotonic()
        stop_stalling = started + 0.6 * (until - started)
        bodies, sent, latency = big_bodies(rng), [], []
        workers = [threading.Thread(target=big_sender, args=(server.port, until, bodies, report, sent)),
                   threading.Thread(target=big_sender, args=(server.port, until, bodies, report, sent)),
                   threading.Thread(target=event_reader, args=(server.port, until, report)),
                   threading.Thread(target=event_reader, args=(server.port, until, report)),
                   threading.Thread(target=small_client, args=(server.port, until, report, latency))]
        for worker in workers:
            worker.start()
        samples = [(rss_before, 0)]  # (RSS, subscribers)
        while time.monotonic() < until:
            now = time.monotonic()
            while now < stop_stalling and len(stalled) < min(STALLED_MAX, STALLED_AT_ONCE + (now - started)):
                try:
                    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
                    sock.sendall(EVENTS_REQUEST)  # and never read
                except OSError as e:
                    report.broke(f"connection cut: stalled stream: {e!r}")
                    break
                stalled.append((sock, now))
                report.count("stalled streams")
            samples.append((server.memory()[0], admin.ok("GET", "/api/stats")["subscribers"]))
            time.sleep(0.25)
        for worker in workers:
            worker.join(3 * TIMEOUT)
        rss_after, peak = server.memory()
        published = sum(n for _, n in sent)
        report.notes.append(f"server RSS {rss_before / MiB:.0f} MiB before, peak {peak / MiB:.0f} MiB "
                            f"(VmHWM; sampled {max(s[0] for s in samples) / MiB:.0f}), {rss_after / MiB:.0f} MiB "
                            f"at the end; {published / MiB:.0f} MiB of predict bodies in {len(sent)} calls "
                            f"with {len(stalled)} stalled subscribers (at most {max(s[1] for s in samples)} "
                            "subscribed at once, readers included)")
        if peak > RSS_LIMIT:
            report.broke(f"memory: the server's RSS peaked at {peak / MiB:.0f} MiB "
                         f"(limit {RSS_LIMIT / MiB:.0f} MiB)")
        check_stalled_dropped(report, stalled, sent)
        if latency:
            p50, p99, worst = percentiles(latency)
            report.notes.append(f"well-behaved client: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.0f} ms "
                                f"over {len(latency)} calls")
        else:
            report.broke("well-behaved client: no call was answered")
        if not report.counts["event bytes read"]:
            report.broke("the reading events clients received nothing")
        admin.close()
        for sock, _ in stalled:
            sock.close()
        settle(report, server, threads, fds)
    finally:
        for sock, _ in stalled:
            sock.close()
        server.close()


def check_stalled_dropped(report, stalled, sent):
    """Every stalled stream that was sent more than :data:`DROP_AFTER` must have been ended
    by the server: read now, it ends (rather than waiting for the next event)."""
    deadline, kept, young = time.monotonic() + 2 * TIMEOUT, [], 0
    for sock, opened in stalled:
        published = sum(n for t, n in sent if t > opened)
        if published < DROP_AFTER:
            young += 1
        elif not drain(sock, deadline):
            kept.append(published)
    report.notes.append(f"stalled streams ended by the server: {len(stalled) - young - len(kept)} of the "
                        f"{len(stalled) - young} sent over {DROP_AFTER / MiB:.0f} MiB of events "
                        f"({young} younger ones not judged)")
    if kept:
        report.broke(f"stalled subscribers kept: {len(kept)} still open after {min(kept) / MiB:.0f}+ MiB of events")


# ---------------------------------------------------------------------------------------
# Phase: idle sockets
# ---------------------------------------------------------------------------------------

IDLE_CAP, IDLE_PER_CLIENT, IDLE_FLOOD, IDLE_BUSY = 64, 32, 600, 12
PARTIAL_HEAD = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
BUSY_HEAD = b"POST /api/learn HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 64\r\n\r\n"  # no body follows


class FloodSocket:
    """One socket of an idle flood, and what the server sent it."""

    def __init__(self, sock, source, sent):
        self.sock, self.source, self.sent = sock, source, sent
        self.received, self.closed = b"", False

    def poll(self):
        """Read what arrived, without waiting; notes when the server closed the connection."""
        while not self.closed:
            try:
                piece = self.sock.recv(65536)  # the socket does not block (see open_flood)
            except BlockingIOError:
                return
            except OSError:  # reset: closed all the same
                piece = b""
            self.received += piece
            self.closed = not piece


def open_flood(port, sources, rng, flood, report):
    """Open :data:`IDLE_FLOOD` connections that send nothing, or half a request head, or a
    whole head and no body (those are busy, not idle, and cannot be closed to make room)."""
    for i in range(IDLE_FLOOD):
        source = sources[i % len(sources)]
        sent = BUSY_HEAD if i % (IDLE_FLOOD // IDLE_BUSY) == 0 else PARTIAL_HEAD if rng.random() < 0.25 else b""
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT, source_address=(source, 0))
        except OSError as e:
            report.broke(f"flood: could not connect: {e!r}")
            return
        try:
            sock.sendall(sent)
        except OSError:
            pass  # closed to make room already: what it received says so
        sock.setblocking(False)
        flood.append(FloodSocket(sock, source, sent))
        report.count("idle sockets")


def answered(client, report, method, path, body, deadline):
    """Send until answered. A 503 (no connection could give way at that moment) and a
    connection closed while idle (evicted) are retried on a new connection, except a learn
    whose fate is unknown: its error is raised."""
    while True:
        try:
            status, kind, data = answer_of(client, method, path, body)
        except (OSError, http.client.HTTPException):
            report.count("newcomer's connection closed (evicted)")
            if path == "/api/learn":
                raise
            status, data = None, "connection closed"
        else:
            check_answer(report, f"newcomer {method} {path}", status, kind, data, allowed_5xx=(503,))
            if status != 503:
                return status, data
            report.count("newcomer 503")
        if time.monotonic() > deadline:
            return status, data
        time.sleep(0.05)


def newcomer(port, report, ledger, rng):
    """A client that arrives during or after the flood: health, predict and learn on a new
    connection, each answered within 5 s. Returns how long the three took, in seconds."""
    client, ident, started = Client(port), f"new-{rng.random()}", time.monotonic()
    try:
        for method, path, body in (("GET", "/api/health", None),
                                   ("POST", "/api/predict", {"id": ident, "features": {"x": 1.0}}),
                                   ("POST", "/api/learn", {"id": ident, "ground_truth": 1.0})):
            try:
                status, data = answered(client, report, method, path, body, started + 5.0)
            except (OSError, http.client.HTTPException):
                ledger.cut("learn", ident)
                return time.monotonic() - started
            if not succeeded(status):
                report.broke(f"newcomer got no answer within 5 s: {method} {path} -> {status} {data!r:.200}")
                return time.monotonic() - started
            if method == "POST":
                ledger.ack(path.rsplit("/", 1)[1], ident)
    finally:
        client.close()
    return time.monotonic() - started


def phase_idle_sockets(report, until, tmp, model, rng):
    for trial in itertools.count():
        if time.monotonic() > until and trial >= 2:
            break
        per_client = trial % 2 == 1  # two addresses, each over its own cap and together at the global one
        limits = ["--max-connections", str(IDLE_CAP), "--timeout", "20"]
        if per_client:
            limits += ["--max-connections-per-client", str(IDLE_PER_CLIENT)]
        server = Server(tmp / f"idle{trial}.db", *limits)
        try:
            idle_trial(report, server, model, rng, ["127.0.0.2", "127.0.0.3"] if per_client else ["127.0.0.1"],
                       IDLE_PER_CLIENT if per_client else IDLE_CAP, trial)
        finally:
            server.close()


def idle_trial(report, server, model, rng, sources, per_source, trial):
    admin = server.client()
    admin.ok("POST", "/api/model", model, 201)
    admin.close()
    threads, fds = server.threads(), server.fds()
    flood, ledger, rounds = [], Ledger(), []
    try:
        open_flood(server.port, sources, rng, flood, report)
        rounds.append(newcomer(server.port, report, ledger, rng))  # after the flood: answered at once
        wave = threading.Thread(target=open_flood, args=(server.port, sources, random.Random(rng.random()),
                                                         flood, report))
        wave.start()
        while wave.is_alive():  # during a second one
            rounds.append(newcomer(server.port, report, ledger, rng))
        wave.join()
        report.count("trials")
        report.count("newcomer rounds", len(rounds))
        if trial < 2:
            report.notes.append(f"trial {trial} ({len(sources)} flooding address(es), cap {per_source} each): "
                                f"{len(rounds)} newcomer rounds, the slowest took {1e3 * max(rounds):.0f} ms")
        check_flood(report, flood, per_source, trial)
        admin = server.client()
        learns = model_stats(admin)["learns"]
        admin.close()
        if not ledger.learns <= learns <= ledger.learns + ledger.learns_in_flight:
            report.broke(f"newcomers' learns: {learns} counted, {ledger.learns} acknowledged, "
                         f"{ledger.learns_in_flight} cut")
    finally:
        for f in flood:
            f.sock.close()
    settle(report, server, threads, fds, note=trial < 2)


def check_flood(report, flood, per_source, trial):
    """At most the cap stays open, per address; what the flood received is a 503 or nothing."""
    deadline = time.monotonic() + 2.0  # connections still in the listen queue are admitted by then
    while True:
        for f in flood:
            f.poll()
        still = collections.Counter(f.source for f in flood if not f.closed)
        if max(still.values(), default=0) <= per_source or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    answers = collections.Counter()
    for f in flood:
        for status, kind, body in statuses_of(f.received):
            answers[status] += 1
            try:
                body = json.loads(body) if kind == "application/json" else body
            except ValueError:
                report.broke(f"answer is not JSON: flood socket {f.sent!r} -> {body[:120]!r}")
                continue
            check_answer(report, f"flood socket that sent {f.sent[:30]!r}", status, kind, body, allowed_5xx=(503,))
    closed = sum(f.closed and not f.received for f in flood)
    if trial < 2:
        report.notes.append(f"trial {trial}: of {len(flood)} flood sockets, {closed} closed to make room "
                            f"without an answer, answers {dict(answers)}, {sum(still.values())} still open")
    if max(still.values(), default=0) > per_source:
        report.broke(f"cap: {dict(still)} flood sockets still open per address, cap {per_source}")


# ---------------------------------------------------------------------------------------
# Well-behaved traffic, timed per stage (the four attack phases below)
# ---------------------------------------------------------------------------------------


class GoodClient(threading.Thread):
    """A well-behaved client in a thread of its own: a prediction and a learn in turn (or
    predictions only), one call at a time, each timed under the stage it started in (set
    :attr:`stage` to move on). Learns acknowledged are counted; a cut one is uncertain."""

    def __init__(self, port, source=None, model=None, predict_only=False, timeout=TIMEOUT):
        super().__init__(daemon=True)
        self.client = Client(port, source=source, timeout=timeout)
        self.model, self.predict_only = model, predict_only
        self.stage = "quiet"
        self.latency = collections.defaultdict(list)    # stage -> seconds of each call
        self.failures = collections.defaultdict(list)   # stage -> what went wrong
        self.learns = self.uncertain = 0
        self.halt = threading.Event()

    def run(self):
        for i in itertools.count():
            x = {"gallup": 35.0 + i % 15, "ipsos": 40.0 + i % 7}
            calls = [("/api/predict", {"features": x})]
            if not self.predict_only:
                calls.append(("/api/learn", {"features": x, "ground_truth": 41.0}))
            for path, body in calls:
                if self.halt.is_set():
                    return
                if self.model:
                    body["model"] = self.model
                stage, started = self.stage, time.perf_counter()
                try:
                    status, _, data = self.client.request("POST", path, body)
                except (OSError, http.client.HTTPException) as e:
                    status, data = None, repr(e)
                    self.uncertain += path == "/api/learn"
                self.latency[stage].append(time.perf_counter() - started)
                if succeeded(status):
                    self.learns += path == "/api/learn"
                else:
                    self.failures[stage].append(f"{path} -> {status} {data!r:.200}")

    def finish(self):
        self.halt.set()
        self.join(3 * TIMEOUT)
        self.client.close()

    def summary(self, stage):
        """``p50 .. ms, p99 .. ms, max .. ms, N calls, ..% answered 2xx``: one stage's figures."""
        durations = self.latency[stage]
        if not durations:
            return "no call"
        p50, p99, worst = percentiles(durations)
        ok = 100 * (1 - len(self.failures[stage]) / len(durations))
        return (f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.0f} ms over {len(durations)} calls, "
                f"{ok:.1f}% answered 2xx")

    def judge(self, report):
        """Every call answered 2xx (latencies are reported, not judged: see the phases)."""
        for stage in list(self.latency):
            if self.failures[stage]:
                report.broke(f"well-behaved client, {stage}: {len(self.failures[stage])} of "
                             f"{len(self.latency[stage])} calls not answered 2xx, e.g. {self.failures[stage][0]}")


def distribution(values, unit="", scale=1.0, digits=0):
    """``min / median / max`` of ``values``, for a note."""
    ordered = sorted(values)
    if not ordered:
        return "none"
    pick = [ordered[0], ordered[len(ordered) // 2], ordered[-1]]
    return " / ".join(f"{v * scale:.{digits}f}" for v in pick) + unit


def check_learns(report, server, good, extra=0, what="the well-behaved client's"):
    """The model counts exactly the learns that were acknowledged (``extra``: others the
    phase made), give or take those cut in flight: nothing refused was learned."""
    admin = server.client()
    learns = model_stats(admin)["learns"]
    admin.close()
    low = good.learns + extra
    if not low <= learns <= low + good.uncertain:
        report.broke(f"learns: the server counts {learns}, {low} acknowledged ({what}), "
                     f"{good.uncertain} cut in flight")
    return learns


# ---------------------------------------------------------------------------------------
# Phase: slow-body
# ---------------------------------------------------------------------------------------

SLOW_TIMEOUT = 3.0     # the server's --timeout in this phase: short, so that a round is short
MIN_BODY_RATE = 500    # chantilly's --min-body-rate default, bytes/s
#: 128 tricklers from 127.0.0.1 (its whole --max-connections-per-client) and 128 over
#: 127.0.0.2-4; the well-behaved client has an address of its own (at 127.0.0.1 it would get
#: the per-client cap's documented 503).
SLOW_SOURCES = ["127.0.0.1"] * 128 + [f"127.0.0.{2 + i % 3}" for i in range(128)]
SLOW_GOOD_SOURCE = "127.0.0.5"
SLOW_BODY = json.dumps({"features": {f"x{i}": float(i) for i in range(12)}, "ground_truth": 1.0}).encode()
SLOW_HEAD = (b"POST /api/learn HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: %d\r\n\r\n" % len(SLOW_BODY))
#: The bound: a body must arrive within --timeout plus 1 s per --min-body-rate bytes.
SLOW_BOUND = SLOW_TIMEOUT + len(SLOW_BODY) / MIN_BODY_RATE
SLOW_TOLERANCE = 1.0   # seconds a loaded machine may add to it before it counts as not held
SLOW_QUIET, SLOW_ATTACK = 3.0, (8.0, 30.0)  # seconds: the baseline; the attack, at least and at most


class Trickler:
    """A connection that sends a whole request head at once, then its body one byte a
    second; it notes when the answer came and when the server closed it."""

    def __init__(self, port, source):
        self.source = source
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT, source_address=(source, 0))
        self.sock.sendall(SLOW_HEAD)
        self.sock.setblocking(False)
        self.opened = time.monotonic()
        self.due, self.sent, self.received = self.opened + 1.0, 0, b""
        self.answered = self.closed = None

    def trickle(self, now):
        if self.answered is None and self.closed is None and now >= self.due and self.sent < len(SLOW_BODY):
            self.due += 1.0
            try:
                self.sent += self.sock.send(SLOW_BODY[self.sent:self.sent + 1])
            except BlockingIOError:
                pass
            except OSError:
                self.read()

    def read(self):
        while self.closed is None:
            try:
                piece = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:  # reset: closed all the same
                piece = b""
            now = time.monotonic()
            if piece and self.answered is None:
                self.answered = now
            self.received += piece
            if not piece:
                self.closed = now


def slow_attack(port, report, attack_until, give_up):
    """Keep every slot of :data:`SLOW_SOURCES` trickling until ``attack_until`` (a closed
    one is opened again), then wait for the last ones; returns every Trickler."""
    selector, live, done = selectors.DefaultSelector(), {}, []

    def open_one(source):
        try:
            trickler = Trickler(port, source)
        except OSError as e:
            report.count("trickler connections refused")
            report.notes.append(f"a trickler from {source} could not connect: {e!r}")
            return
        selector.register(trickler.sock, selectors.EVENT_READ, trickler)
        live[trickler.sock] = trickler
        report.count("trickling connections")

    for source in SLOW_SOURCES:
        open_one(source)
    while live and time.monotonic() < give_up:
        for key, _ in selector.select(timeout=0.1):
            key.data.read()
        now = time.monotonic()
        for trickler in list(live.values()):
            trickler.trickle(now)
            if trickler.closed is not None:
                selector.unregister(trickler.sock)
                trickler.sock.close()
                del live[trickler.sock]
                done.append(trickler)
                if now < attack_until:
                    open_one(trickler.source)
    for trickler in live.values():  # never closed by the server
        trickler.read()
        trickler.sock.close()
        done.append(trickler)
    selector.close()
    return done


def phase_slow_body(report, until, tmp, model, rng):
    server = Server(tmp / "slow-body.db", "--timeout", f"{SLOW_TIMEOUT:g}")
    good = None
    try:
        admin = server.client()
        admin.ok("POST", "/api/model", model, 201)
        admin.close()
        threads, fds = server.threads(), server.fds()
        good = GoodClient(server.port, source=SLOW_GOOD_SOURCE)
        good.start()
        time.sleep(SLOW_QUIET)
        good.stage = "under attack"
        started = time.monotonic()
        seconds = min(SLOW_ATTACK[1], max(SLOW_ATTACK[0], until - started - SLOW_BOUND - 2))
        done = slow_attack(server.port, report, started + seconds, started + seconds + SLOW_BOUND + 3 * SLOW_TOLERANCE)
        good.finish()
        timed, late, early, still_open, other = [], [], [], [], collections.Counter()
        for t in done:
            answers = statuses_of(t.received)
            status = answers[0][0] if answers else None
            report.status(status if answers else "closed without an answer")
            if t.closed is None:
                still_open.append(f"from {t.source}, {time.monotonic() - t.opened:.1f} s after its head, "
                                  f"answered {status}")
                continue
            if status == 503:
                continue  # the per-client cap, at a reconnection: documented
            if status != 408 or len(answers) != 1:
                other[repr([a[0] for a in answers])] += 1
                continue
            elapsed = t.closed - t.opened
            timed.append(elapsed)
            if elapsed > SLOW_BOUND + SLOW_TOLERANCE:
                late.append(elapsed)
            if elapsed < SLOW_TIMEOUT - 0.05:
                early.append(elapsed)
        report.notes.append(f"{len(SLOW_SOURCES)} tricklers at once (128 from 127.0.0.1, 128 over 127.0.0.2-4), "
                            f"each reopened when closed, for {seconds:.0f} s: {len(done)} connections, a "
                            f"{len(SLOW_BODY)}-byte learn body at 1 byte/s")
        report.notes.append(f"408 and closed after (s, from the head): {distribution(timed, digits=2)} (min / "
                            f"median / max; p99 {percentiles(timed)[1] / 1e3 if timed else 0:.2f}); bound --timeout "
                            f"{SLOW_TIMEOUT:g} + {len(SLOW_BODY)}/{MIN_BODY_RATE} = {SLOW_BOUND:.2f} s "
                            f"(+{SLOW_TOLERANCE:g} s tolerance): {len(late)} late, {len(early)} early -> "
                            + ("HELD" if timed and not late and not early and not still_open and not other
                               else "NOT HELD"))
        for stage in ("quiet", "under attack"):
            report.notes.append(f"well-behaved client ({SLOW_GOOD_SOURCE}), {stage}: {good.summary(stage)}")
        if late:
            report.broke(f"slow body: {len(late)} of {len(timed)} tricklers closed later than {SLOW_BOUND:.2f} + "
                         f"{SLOW_TOLERANCE:g} s (the latest after {max(late):.2f} s)")
        if early:
            report.broke(f"slow body: {len(early)} tricklers cut before --timeout {SLOW_TIMEOUT:g} s "
                         f"(the earliest after {min(early):.2f} s)")
        if still_open:
            report.broke(f"slow body: {len(still_open)} tricklers never closed, e.g. {still_open[0]}")
        if other:
            report.broke(f"slow body: tricklers answered other than one 408: {dict(other)}")
        good.judge(report)
        check_learns(report, server, good)
        settle(report, server, threads, fds)
    finally:
        if good is not None:
            good.finish()
        server.close()


# ---------------------------------------------------------------------------------------
# Phase: trailer
# ---------------------------------------------------------------------------------------

TRAILER_LIMIT = 8 * 1024   # chantilly's bound on the trailer section of a chunked body
TRAILER_SLACK = 8 * 1024   # what a paced sender may add while the server's 400 is on its way
TRAILER_BODY = json.dumps({"features": {"gallup": 40.0, "ipsos": 41.0}, "ground_truth": 1.0}).encode()
TRAILER_HEAD = (b"POST /api/learn HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n%s\r\n0\r\n" % (len(TRAILER_BODY), TRAILER_BODY))
TRAILER_LINE = b"X-Pad: 0123456789\r\n"
TRAILERS = {  # endless trailer sections (2 MiB of them), paced or blasted
    "short lines": (TRAILER_LINE * (2 * MiB // len(TRAILER_LINE)), True),
    "3,000-byte lines": ((b"X-Pad: " + b"a" * 3000 + b"\r\n") * (2 * MiB // 3009), True),
    "one endless line": (b"X-Pad: " + b"a" * (2 * MiB), True),
    "blasted short lines": (TRAILER_LINE * (8 * MiB // len(TRAILER_LINE)), False),
}
TRAILER_WORKERS, TRAILER_SECONDS = 4, (5.0, 20.0)


def trailer_attack(port, trailer, paced):
    """One chunked learn whose trailer never ends. Paced: 512 bytes, then 20 ms to see
    whether an answer came; blasted: 64 KiB pieces as fast as the kernel takes them.
    Returns ``(what the server sent, trailer bytes sent before it answered or cut,
    seconds until then, closed)``."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(TRAILER_HEAD)
        sent, started, step = 0, time.monotonic(), 512 if paced else 64 * KiB
        while sent < len(trailer):
            if select.select([sock], [], [], 0.02 if paced else 0)[0]:
                break  # an answer, or the end
            try:
                sock.sendall(trailer[sent:sent + step])
            except socket.timeout:
                break  # neither read nor closed for TIMEOUT s: read_until_closed says what follows
            except OSError:
                break  # reset: the server closed with our bytes unread
            sent += step
        took = time.monotonic() - started
        try:
            return read_until_closed(sock, TIMEOUT), sent, took, True
        except StillOpen as e:
            return e.received, sent, took, False


def trailer_worker(port, until, report, results, rounds_min):
    for n in itertools.count():
        if time.monotonic() > until and n >= rounds_min:
            return
        name = list(TRAILERS)[n % len(TRAILERS)]
        trailer, paced = TRAILERS[name]
        try:
            received, sent, took, closed = trailer_attack(port, trailer, paced)
        except OSError as e:
            report.broke(f"trailer: {name}: could not attack: {e!r}")
            continue
        report.count(f"{name} sent")
        answers = statuses_of(received)
        report.status(answers[0][0] if answers else "reset, no answer")
        results[name].append((answers, sent, took, closed))


def phase_trailer(report, until, tmp, model, rng):
    server = Server(tmp / "trailer.db", "--timeout", "5")
    good = None
    try:
        admin = server.client()
        admin.ok("POST", "/api/model", model, 201)
        threads, fds = server.threads(), server.fds()
        controls = 0  # a trailer just under the bound is taken, the learn with it
        for size in (100, TRAILER_LIMIT - 200):
            lines = TRAILER_LINE * (size // len(TRAILER_LINE))
            head = TRAILER_HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
            answer = exchange(server.port, head + lines + b"\r\n", shut_write=False, timeout=TIMEOUT)
            answers = statuses_of(answer)
            if not answers or answers[0][0] != 201:
                report.broke(f"trailer: a {len(lines)}-byte trailer (under the bound) was not taken: "
                             f"{answer[:300]!r}")
            else:
                controls += 1
        good = GoodClient(server.port)
        good.start()
        time.sleep(1.0)
        good.stage = "under attack"
        seconds = min(TRAILER_SECONDS[1], max(TRAILER_SECONDS[0], until - time.monotonic() - 3))
        results = collections.defaultdict(list)
        workers = [threading.Thread(target=trailer_worker, args=(server.port, time.monotonic() + seconds, report,
                                                                  results, len(TRAILERS)))
                   for _ in range(TRAILER_WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(seconds + 3 * TIMEOUT)
        good.finish()
        held = True
        for name, (trailer, paced) in TRAILERS.items():
            rows = results[name]
            sent = [s for _, s, _, _ in rows]
            wrong = [(a, s, c) for a, s, _, c in rows
                     if not c or (a and (len(a) != 1 or a[0][0] != 400 or "trailer" not in str(a[0][2])))
                     or (paced and not a)]
            early = [s for a, s, _, _ in rows if paced and s <= TRAILER_LIMIT - 512]
            late = [s for s in sent if paced and s > TRAILER_LIMIT + TRAILER_SLACK]
            statuses = collections.Counter(a[0][0] if a else "reset" for a, _, _, _ in rows)
            held &= not wrong and not early and not late and bool(rows)
            report.notes.append(
                f"{name} ({'paced, 512 B per 20 ms' if paced else 'blasted, 64 KiB at a time'}): {len(rows)} "
                f"connections, answers {dict(statuses)}; trailer bytes sent before the server answered or cut "
                + ("" if paced else "(mostly taken by the kernel's buffers) ")
                + f"{distribution(sent, ' B')} (min / median / max), in "
                f"{distribution([t for _, _, t, _ in rows], ' s', digits=2)}")
            if wrong:
                a, s, c = wrong[0]
                report.broke(f"trailer: {name}: {len(wrong)} not cut with one 400 and a close, e.g. after {s} "
                             f"bytes: {[x[:2] for x in a]} closed={c}")
            if early:
                report.broke(f"trailer: {name}: cut before {TRAILER_LIMIT} bytes of trailer ({min(early)} sent)")
            if late:
                report.broke(f"trailer: {name}: {len(late)} still read after {TRAILER_LIMIT} + {TRAILER_SLACK} "
                             f"bytes of trailer (up to {max(late)} sent)")
        report.notes.append(f"bound: 400 after {TRAILER_LIMIT} bytes of trailer (paced senders may overshoot by "
                            f"what they send while the 400 travels: up to {TRAILER_SLACK} B allowed) -> "
                            + ("HELD" if held else "NOT HELD") + f"; trailers of 100 and {TRAILER_LIMIT - 200} B "
                            f"taken: {controls} of 2")
        for stage in ("quiet", "under attack"):
            report.notes.append(f"well-behaved client, {stage}: {good.summary(stage)}")
        good.judge(report)
        check_learns(report, server, good, extra=controls, what="the well-behaved client's and the controls'")
        admin.close()
        settle(report, server, threads, fds)
    finally:
        if good is not None:
            good.finish()
        server.close()


# ---------------------------------------------------------------------------------------
# Phase: noisy-neighbour
# ---------------------------------------------------------------------------------------

WIDE_FEATURES = 30_000
NEIGHBOUR_QUIET = 5.0         # seconds of model B's baseline, before A's wide learns start
NEIGHBOUR_SECONDS = 60.0      # at most this long for A's learns (each run)
NEIGHBOUR_AFTER = 5           # A's learns sent after its first 507: all must be 507 too
NEIGHBOUR_WAIT = 30.0         # seconds one of A's learns may take (a snapshot of a big model takes long)
NEIGHBOUR_LIMITS = (32 * MiB, 256 * MiB)  # the --max-model-size default, then a larger one if time allows


def wide_learn(i):
    """A learn for model A with :data:`WIDE_FEATURES` features never seen before (~0.5 MB)."""
    features = b", ".join(b'"w%d_%d": %d.5' % (i, j, j % 7) for j in range(WIDE_FEATURES))
    return b'{"model": "A", "ground_truth": 1.0, "features": {' + features + b"}}"


def neighbour_trial(report, tmp, model, limit, seconds):
    """Models A and B on one server; B's predictions timed alone, then while A takes wide
    learns until 507 (and :data:`NEIGHBOUR_AFTER` more) or ``seconds`` pass."""
    label = f"--max-model-size {limit // MiB} MiB"
    server = Server(tmp / f"neighbour-{limit // MiB}.db", "--max-model-size", str(limit))
    good = None
    try:
        admin = server.client()
        for name in ("A", "B"):
            admin.ok("POST", f"/api/model/{name}", model, 201)
        admin.ok("POST", "/api/learn", [{"model": "B", "features": {"gallup": 35.0 + i, "ipsos": 40.0},
                                         "ground_truth": 41.0} for i in range(30)])
        rss_before = server.memory()[0]
        good = GoodClient(server.port, model="B", predict_only=True, timeout=3 * NEIGHBOUR_SECONDS)
        good.start()
        time.sleep(NEIGHBOUR_QUIET)
        good.stage = "A learning"
        attacker = Client(server.port, timeout=NEIGHBOUR_WAIT)  # one learn may wait behind a big pickle
        started = time.monotonic()
        acked, first, after, took, size, cut = 0, None, 0, [], None, None
        for i in itertools.count():
            if time.monotonic() - started > seconds or after >= NEIGHBOUR_AFTER:
                break
            body = wide_learn(i)
            t = time.perf_counter()
            try:
                status, _, data = attacker.request("POST", "/api/learn", body)
            except (OSError, http.client.HTTPException) as e:
                cut = f"A's learn {i + 1} got no answer within {NEIGHBOUR_WAIT:.0f} s ({e!r})"
                break
            took.append(time.perf_counter() - t)
            report.status(status)
            if status == 201:
                acked += 1
                if first is not None:
                    report.broke(f"noisy neighbour ({label}): A's learn {i + 1} taken after a 507")
            elif status == 507:
                after += first is not None
                if first is None:
                    found = re.search(r"grown to ([\d.]+) MiB", str(data))
                    size = float(found.group(1)) if found else None
                    first = (i + 1, time.monotonic() - started, server.memory()[0])
                    if "--max-model-size" not in str(data):
                        report.broke(f"noisy neighbour: the 507 does not name --max-model-size: {data!r:.200}")
            else:
                report.broke(f"noisy neighbour ({label}): A's learn {i + 1} -> {status} {data!r:.200}")
                break
        attacker.close()
        good.stage = "after"
        admin.close()  # idle for longer than --timeout: a new connection
        admin, a_predict = server.client(), None
        if first is not None:
            a_predict = admin.request("POST", "/api/predict", {"model": "A", "features": {"w0_1": 1.0}})[0]
        time.sleep(1.0)
        good.finish()
        rss_after, peak = server.memory()
        a_learns = admin.ok("GET", "/api/stats?model=A")["model"]["learns"]
        admin.close()
        report.notes.append(f"{label}: server RSS {rss_before / MiB:.0f} MiB before, {rss_after / MiB:.0f} MiB "
                            f"after (peak {peak / MiB:.0f} MiB); A: {acked} wide learns taken ({a_learns} counted), "
                            f"each {distribution(took, ' s', digits=2)} (min / median / max)"
                            + (f"; {cut}" if cut else ""))
        if first is not None:
            per_learn = size / max(1, acked) if size else float("nan")
            crossed = math.ceil(limit / MiB / per_learn) if size else acked  # the learn that crossed the limit
            report.notes.append(
                f"{label}: A's first 507 at learn {first[0]}, {first[1]:.1f} s in, the model at {size} MiB "
                f"(~{per_learn:.2f} MiB a learn: over the limit from learn {crossed}, {acked - crossed} more taken; "
                f"RSS then {first[2] / MiB:.0f} MiB); the {after} learns after it 507 too; A's predict then -> "
                f"{a_predict}; bound (measured within a call or two) -> "
                + ("HELD" if size is not None and acked - crossed <= 2 else "NOT HELD"))
            if size is None or acked - crossed > 2:
                report.broke(f"noisy neighbour ({label}): A grew to {size} MiB before its 507, "
                             f"{acked - crossed} learns past the limit")
        elif limit == NEIGHBOUR_LIMITS[0]:
            report.broke(f"noisy neighbour ({label}): A never got 507 in {time.monotonic() - started:.0f} s "
                         f"({acked} wide learns taken)")
        else:
            report.notes.append(f"{label}: no 507 within {seconds:.0f} s (stopped there)")
        for stage in ("quiet", "A learning", "after"):
            report.notes.append(f"{label}: B's predictions, {stage}: {good.summary(stage)}")
        good.judge(report)
        if a_learns != acked:
            report.broke(f"noisy neighbour ({label}): A counts {a_learns} learns, {acked} acknowledged")
        return first
    finally:
        if good is not None:
            good.finish()
        server.close()


def phase_noisy_neighbour(report, until, tmp, model, rng):
    for n, limit in enumerate(NEIGHBOUR_LIMITS):
        left = until - time.monotonic()
        if n and left < 30:
            report.notes.append(f"--max-model-size {limit // MiB} MiB: skipped, {max(0, left):.0f} s left")
            break
        neighbour_trial(report, tmp, model, limit, NEIGHBOUR_SECONDS if not n else min(NEIGHBOUR_SECONDS, left - 10))


# ---------------------------------------------------------------------------------------
# Phase: label-amplification
# ---------------------------------------------------------------------------------------

LABEL_SNIPPET = ("import sys, dill\nfrom river import dummy\nmodel = dummy.PriorClassifier()\n"
                 "for i in range(int(sys.argv[1])):\n    model.learn_one({'a': float(i % 7)}, f'label-{i:05d}')\n"
                 "sys.stdout.buffer.write(dill.dumps(model))")
LABELS, LABEL_BATCH = 5000, 250
LABEL_PREDICTS = (300, 100)   # predictions with an id: with the default --max-classes, then without a cap
MAX_CLASSES = 100             # chantilly's --max-classes default


def db_bytes(db):
    """The database's bytes on disk: the file, its write-ahead log (and its shared memory)."""
    return sum(os.path.getsize(f"{db}{suffix}") for suffix in ("", "-wal", "-shm")
               if os.path.exists(f"{db}{suffix}"))


def written(server):
    """Bytes the server's process has handed to write() so far (``wchar`` of /proc/PID/io):
    its database file and write-ahead log, mostly."""
    with open(f"/proc/{server.pid}/io") as f:
        return int(re.search(r"^wchar:\s+(\d+)", f.read(), re.M).group(1))


def row_bytes(db):
    """``(stored ids, their mean bytes, log records, their mean bytes)``: read once the server
    has ended (it holds its database exclusively)."""
    with contextlib.closing(sqlite3.connect(db, timeout=TIMEOUT)) as conn:
        return (*conn.execute("SELECT COUNT(*), COALESCE(AVG(LENGTH(body)), 0) FROM stored_ids "
                              "WHERE body != ''").fetchone(),
                *conn.execute("SELECT COUNT(*), COALESCE(AVG(LENGTH(body)), 0) FROM log").fetchone())


def label_model(labels):
    """river's PriorClassifier (its probabilities: each class's share of the labels seen, cheap
    to compute: what is measured is the answer, not the model), having learned ``labels``
    distinct labels, built by a child process with river and dill."""
    return subprocess.run([sys.executable, "-c", LABEL_SNIPPET, str(labels)], capture_output=True, check=True,
                          timeout=120).stdout


def label_trial(report, tmp, max_classes, predicts, until, learn):
    """``learn``: the server learns the labels (a batch at a time, timed); else the model is
    uploaded having learned them."""
    label = f"--max-classes {max_classes}"
    db = tmp / f"labels-{max_classes}.db"
    server = Server(db, "--max-classes", str(max_classes))
    try:
        client = Client(server.port, timeout=12 * TIMEOUT)  # a batch of 250 learns takes seconds at 5,000 labels
        client.ok("POST", "/api/model", label_model(0 if learn else LABELS), 201)
        learn_widest, batch_seconds = 0, []
        for start in range(0, LABELS if learn else 0, LABEL_BATCH):
            batch = [{"features": {"a": float(i % 7)}, "ground_truth": f"label-{i:05d}"}
                     for i in range(start, start + LABEL_BATCH)]
            t = time.perf_counter()
            answers = client.ok("POST", "/api/learn", batch)
            batch_seconds.append(time.perf_counter() - t)
            refused = [a for a in answers if "prediction" not in a]
            if refused:
                report.broke(f"label amplification ({label}): {len(refused)} labels refused, e.g. {refused[0]}")
            learn_widest = max([learn_widest] + [len(a["prediction"]) for a in answers
                                                 if isinstance(a.get("prediction"), dict)])
        report.count("labels learned", LABELS if learn else 0)
        before = db_bytes(db), written(server)
        sizes, seconds, widths = [], [], []
        for k in range(predicts):
            if time.monotonic() > until and k >= 100:
                break
            t = time.perf_counter()
            status, response, data = client.request("POST", "/api/predict", {"id": f"p{k}", "features": {"a": 3.0}})
            seconds.append(time.perf_counter() - t)
            if status != 201:  # a prediction kept under an id
                report.broke(f"label amplification ({label}): predict -> {status} {data!r:.200}")
                break
            sizes.append(int(response.getheader("Content-Length")))
            widths.append(len(data["prediction"]))
        after = db_bytes(db), written(server)
        learned = client.ok("POST", "/api/learn", [{"id": f"p{k}", "ground_truth": "label-00042"} for k in range(10)])
        if any("prediction" not in a for a in learned):
            report.broke(f"label amplification ({label}): learning stored ids failed: {learned[:2]}")
        learns = model_stats(client)["learns"]
        client.close()
    finally:
        server.close()
    ids, id_bytes, records, record_bytes = row_bytes(db)
    p50, p99, worst = percentiles(seconds) if seconds else (0, 0, 0)
    learned = (f"{LABELS} labels learned by the server in batches of {LABEL_BATCH} in {sum(batch_seconds):.0f} s "
               f"({1e3 * batch_seconds[0] / LABEL_BATCH:.1f} ms a learn in the first batch, "
               f"{1e3 * batch_seconds[-1] / LABEL_BATCH:.1f} ms in the last; widest learn answer {learn_widest} "
               "classes)" if learn else f"the model uploaded having learned {LABELS} labels")
    report.notes.append(
        f"{label}: {learned}; {len(sizes)} predictions with an id: {distribution(widths)} classes, "
        f"{distribution(sizes, ' B')} an answer (min / median / max), p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {worst:.0f} ms")
    report.notes.append(
        f"{label}: a prediction with an id wrote {(after[1] - before[1]) / max(1, len(sizes)) / KiB:.1f} KiB "
        f"(the server's wchar) and grew the file + WAL by {(after[0] - before[0]) / max(1, len(sizes)) / KiB:.1f} KiB "
        f"({before[0] / MiB:.1f} -> {after[0] / MiB:.1f} MiB: a WAL grown by the learns is reused); stored ids: "
        f"{ids} of {id_bytes / KiB:.1f} KiB each; log records: {records} of {record_bytes / KiB:.1f} KiB each "
        f"(a learn's keeps its scored prediction); {learns} learns counted")
    return max(widths, default=0), learn_widest


def phase_label_amplification(report, until, tmp, model, rng):
    widest, learn_widest = label_trial(report, tmp, MAX_CLASSES, LABEL_PREDICTS[0], until, learn=True)
    held = 0 < widest <= MAX_CLASSES and learn_widest <= MAX_CLASSES
    report.notes.append(f"bound: answers carry at most --max-classes {MAX_CLASSES} classes: predictions up to "
                        f"{widest}, learn answers up to {learn_widest} -> " + ("HELD" if held else "NOT HELD"))
    if not held:
        report.broke(f"label amplification: answers with {widest} (predict) and {learn_widest} (learn) classes, "
                     f"over --max-classes {MAX_CLASSES}")
    # For comparison, the same predictions without a cap that bites: the model is uploaded having
    # learned the labels (learning them with every learn's scored prediction logged whole would
    # write ~300 MB of log).
    label_trial(report, tmp, 10 * LABELS, LABEL_PREDICTS[1], time.monotonic() + 30, learn=False)


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="total time budget (default: 5)")
    parser.add_argument("--seed", type=int, default=None, help="seed for the random choices")
    parser.add_argument("--verbose", action="store_true", help="list every failure, not one per kind")
    parser.add_argument("--phase", action="append", choices=PHASES, metavar="NAME",
                        help="run only this phase (repeatable), with the whole budget shared among those "
                             f"chosen: {', '.join(map(repr, PHASES))}")
    parser.add_argument("--server", type=pathlib.Path, default=Server.script,
                        help="the chantilly.py to run (default: the repository's)")
    args = parser.parse_args(argv)
    Server.script = args.server.resolve()
    phases = {name: share for name, share in PHASES.items() if not args.phase or name in args.phase}
    seed = args.seed if args.seed is not None else random.randrange(10 ** 6)
    rng = random.Random(seed)
    warnings.simplefilter("ignore", NonInteractiveExampleWarning)
    budget = args.minutes * 60
    print(f"chantilly stress: {args.minutes:g} min, seed {seed}, {sys.executable} {Server.script}", flush=True)
    model = model_bytes()
    reports = []
    with tempfile.TemporaryDirectory(prefix="chantilly-stress-") as folder:
        tmp = pathlib.Path(folder)
        for name, share in phases.items():
            seconds = budget * share / sum(phases.values())
            report = Report(name, seconds)
            until = time.monotonic() + seconds
            started = time.monotonic()
            print(f"-- {name}: {seconds:.0f} s", file=sys.stderr, flush=True)
            try:
                run_phase(name, report, until, tmp, model, rng)
            except Exception as e:  # noqa: BLE001 - a phase that crashes is reported, the rest still run
                report.broke(f"phase crashed: {type(e).__name__}: {e}")
            report.seconds = time.monotonic() - started
            report.print(args.verbose)
            reports.append(report)
            sys.stdout.flush()
    broken = sum(len(r.broken) for r in reports)
    print(f"== summary: {broken} failure(s) in " + ", ".join(f"{r.name} {len(r.broken)}" for r in reports))
    return 1 if broken else 0


def run_phase(name, report, until, tmp, model, rng):
    if name == "fuzz":
        phase_fuzz(report, until, tmp, model)
    elif name == "garbage":
        phase_garbage(report, until, tmp, model, rng)
    elif name == "concurrency":
        phase_concurrency(report, until, tmp, model)
    elif name == "kill -9":
        phase_kill(report, until, tmp, model, rng)
    elif name == "SIGTERM":
        phase_sigterm(report, until, tmp, model, rng)
    elif name == "disk full":
        phase_disk_full(report, until, tmp, model)
    elif name == "bad items":
        phase_bad_items(report, until, tmp, model, rng)
    elif name == "stalled streams":
        phase_stalled_streams(report, until, tmp, model, rng)
    elif name == "idle sockets":
        phase_idle_sockets(report, until, tmp, model, rng)
    elif name == "slow-body":
        phase_slow_body(report, until, tmp, model, rng)
    elif name == "trailer":
        phase_trailer(report, until, tmp, model, rng)
    elif name == "noisy-neighbour":
        phase_noisy_neighbour(report, until, tmp, model, rng)
    else:
        phase_label_amplification(report, until, tmp, model, rng)


if __name__ == "__main__":
    sys.exit(main())
