"""Stress chantilly for a while and report what broke: the long versions of the hardening tests.

    python bench/stress.py --minutes 5 [--seed 1] [--verbose]

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

Only the standard library and hypothesis are imported here; the model that is uploaded is
built by a child process of the same interpreter (which needs creme and dill, as the server
does). The report goes to stdout; the exit status is 1 when anything broke.
"""

import argparse
import collections
import contextlib
import http.client
import itertools
import json
import os
import pathlib
import queue
import random
import re
import signal
import socket
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
TIMEOUT = 10.0
MODEL_SNIPPET = ("import sys, dill\nfrom creme import linear_model, preprocessing\n"
                 "sys.stdout.buffer.write(dill.dumps(preprocessing.StandardScaler() | "
                 "linear_model.LinearRegression()))")
PHASES = {  # share of the time budget
    "fuzz": 0.22, "garbage": 0.10, "concurrency": 0.20, "kill -9": 0.26, "SIGTERM": 0.12, "disk full": 0.10,
}


# ---------------------------------------------------------------------------------------
# Servers and clients
# ---------------------------------------------------------------------------------------


class Server:
    """``chantilly.py run`` in a child process; ``port`` from the line it prints."""

    def __init__(self, db, *args):
        self.db = db
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "chantilly.py"), "run", "--port", "0", "--db", str(db), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        lines = queue.Queue()
        self.stderr = []
        self._logged = threading.Condition()  # notified with each stderr line

        def pump(stream, sink):
            for line in stream:
                sink(line)
            sink("")

        def log(line):
            with self._logged:
                self.stderr.append(line)
                self._logged.notify_all()

        threading.Thread(target=pump, args=(self.proc.stdout, lines.put), daemon=True).start()
        threading.Thread(target=pump, args=(self.proc.stderr, log), daemon=True).start()
        first = lines.get(timeout=TIMEOUT)
        found = re.match(r"chantilly serving on http://127\.0\.0\.1:(\d+)/", first)
        if not found:
            self.proc.wait(TIMEOUT)
            raise RuntimeError(f"the server did not start (exit {self.proc.returncode}): "
                               f"{''.join(self.stderr)[-400:]}")
        self.port = int(found.group(1))

    def client(self):
        return Client(self.port)

    def threads(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def last_error(self, wait=1.0):
        """The exception that ended the server's last logged traceback (waiting up to ``wait``
        seconds for the log line to arrive), if any."""
        def find():
            for line in reversed(self.stderr):
                found = re.findall(r"(?:\\x0a|\n)(\w+(?:Error|Exception|Exit)\b(?:(?!\\x0a).)*)", line)
                if found:
                    return found[-1][:160]
            return None

        with self._logged:
            return self._logged.wait_for(find, wait) or "no traceback logged"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)

    def close(self):
        self.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()


class Client:
    """Keep-alive HTTP: ``request`` returns (status, content type, body decoded when JSON)."""

    def __init__(self, port, timeout=TIMEOUT):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None):
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=body)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # the next request opens a new connection
            raise
        kind = response.getheader("Content-Type", "")
        if kind == "application/json":
            data = json.loads(data)
        return response.status, kind, data

    def ok(self, method, path, body=None):
        status, _, data = self.request(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {data}")
        return data

    def close(self):
        self.conn.close()


def model_bytes():
    return subprocess.run([sys.executable, "-c", MODEL_SNIPPET], capture_output=True, check=True,
                          timeout=60).stdout


def state(client):
    """What a refused request must leave alone (as text: NaN equals itself here)."""
    stats = client.ok("GET", "/api/stats")["model"]
    return repr((client.ok("GET", "/api/metrics"), stats["class"], stats["learns"], stats["predictions"]))


def exchange(port, data, shut_write, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        received, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                return b"".join(received), False
            if not piece:
                break
            received.append(piece)
        return b"".join(received), True


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
    client.ok("POST", "/api/model", model)
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
            status, ctype, data = client.request("POST", path, body)
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
        except (OSError, http.client.HTTPException, RuntimeError) as e:
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
        client.ok("POST", "/api/model", model)
        client.close()
        threads, fds = server.threads(), server.fds()
        for n in itertools.count():
            if time.monotonic() > until:
                break
            data = GARBAGE[n % len(GARBAGE)] if n < 2 * len(GARBAGE) else mutate(rng, rng.choice(VALID + GARBAGE))
            report.count("connections")
            answer, closed = exchange(server.port, data, shut_write=rng.random() < 0.5)
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
    pending = []
    try:
        while time.monotonic() < until:
            roll = rng.random()
            x = {"x": rng.uniform(-5, 5), "t": float(t)}
            if roll < 0.25:
                ident = f"{t}-{rng.random()}"
                status, kind, data = client.request("POST", "/api/predict", {"id": ident, "features": x})
                if status == 200:
                    pending.append(ident)
                learned = 0
            elif roll < 0.45 and pending:
                status, kind, data = client.request("POST", "/api/learn", {"id": pending.pop(), "ground_truth": 1.0})
                learned = status == 200
            elif roll < 0.6:
                status, kind, data = client.request("POST", "/api/learn", {"features": x, "ground_truth": 1.0})
                learned = status == 200
            elif roll < 0.7:
                status, kind, data = client.request("POST", "/api/learn", [{"features": x, "ground_truth": 1.0}] * 3)
                learned = sum(1 for a in data if "prediction" in a) if status == 200 else 0
            elif roll < 0.78:
                body = "".join(json.dumps({"op": "learn", "features": x, "ground_truth": 1.0}) + "\n" for _ in range(4))
                status, kind, data = client.request("POST", "/api/stream", body.encode())
                learned = data.count(b"prediction") if status == 200 else 0
            elif roll < 0.86:
                status, kind, data = client.request("GET", "/api/model")
                learned = 0
            elif roll < 0.93 or not uploads:
                status, kind, data = read_events(port, until)
                learned = 0
            else:
                status, kind, data = client.request("POST", "/api/model", model)
                pending.clear()
                learned = 0
            report.count("requests")
            check_answer(report, f"worker {t}", status, kind, data)
            if not uploads and status != 200:  # no upload replaces the model: everything must work
                report.broke(f"{status} without uploads: worker {t} -> {data!r:.200}")
            if learned:
                acked.put(learned)
    except Exception as e:  # noqa: BLE001 - a worker's failure is a finding, not a crash of the script
        report.broke(f"worker error: {e!r}")
    finally:
        client.close()


def read_events(port, until):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    conn.request("GET", "/api/stream/events")
    response = conn.getresponse()
    try:
        if response.status != 200:
            return response.status, response.getheader("Content-Type"), json.loads(response.read())
        for _ in range(3):
            try:
                line = response.readline()
            except socket.timeout:
                if time.monotonic() < until:
                    raise
                break
            while line and not line.startswith(b"data: "):
                line = response.readline()
            if line:
                json.loads(line[6:])
        return 200, "text/event-stream", None
    finally:
        response.close()
        conn.close()


def phase_concurrency(report, until, tmp, model):
    server = Server(tmp / "concurrency.db", "--timeout", "5")
    try:
        admin = server.client()
        admin.ok("POST", "/api/model", model)
        admin.close()
        threads, fds = server.threads(), server.fds()
        half = time.monotonic() + (until - time.monotonic()) / 2
        for uploads, end in ((True, half), (False, until)):
            admin = server.client()
            if not uploads:
                admin.ok("POST", "/api/model", model)  # the last upload: learns count from here
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
        learns = admin.ok("GET", "/api/stats")["model"]["learns"]
        admin.close()
        report.count("acknowledged learns (second half)", n)
        if learns != n:
            report.broke(f"lost update: {n} learns acknowledged since the last upload, the server counts {learns}")
        settle(report, server, threads, fds)
    finally:
        server.close()


def settle(report, server, threads, fds):
    """Poll, learning over one-shot connections (event streams notice a gone client on a
    write), until the server's threads and fds are back to where they were."""
    deadline = time.monotonic() + TIMEOUT
    while (server.threads() > threads or server.fds() > fds) and time.monotonic() < deadline:
        client = server.client()
        client.ok("POST", "/api/learn", {"features": {"x": 0.0}, "ground_truth": 0.0})
        client.close()
    report.notes.append(f"server threads {threads} -> {server.threads()}, fds {fds} -> {server.fds()} "
                        "(before -> after the clients left)")
    if server.threads() > threads or server.fds() > fds:
        report.broke(f"leak: threads {threads} -> {server.threads()}, fds {fds} -> {server.fds()}")


# ---------------------------------------------------------------------------------------
# Phase: kill -9 (and a torn write-ahead log)
# ---------------------------------------------------------------------------------------


class Ledger:
    def __init__(self):
        self._cond = threading.Condition(threading.Lock())  # guards everything below
        self.stored, self.learned, self.uncertain = set(), set(), set()
        self.acked = self.learns = self.in_flight_learns = 0
        self.surprises = []

    def ack(self, kind, ident):
        with self._cond:
            self.acked += 1
            if kind == "predict":
                self.stored.add(ident)
            else:
                self.learns += 1
                if ident is not None:
                    self.learned.add(ident)
            self._cond.notify_all()

    def cut(self, kind, ident):
        with self._cond:
            if ident is not None:
                self.uncertain.add(ident)
            self.in_flight_learns += kind == "learn"
            self._cond.notify_all()

    def wait_for(self, n, timeout):
        with self._cond:
            return self._cond.wait_for(lambda: self.acked >= n, timeout)


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
        if status != 200:
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
        server.client().ok("POST", "/api/model", model)
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
    except RuntimeError as e:
        report.broke(f"did not start after kill -9{' and a torn WAL' if tear else ''}: {e}")
        return
    try:
        client = server.client()
        stats = client.ok("GET", "/api/stats")["model"]
        learns = stats["learns"] if stats else 0
        high = ledger.learns + ledger.in_flight_learns
        if tear:  # a torn log may lose committed calls, but never invent any
            if learns > high:
                report.broke(f"torn WAL: {learns} learns after restart, at most {high} were sent")
            if stats is None:
                client.ok("POST", "/api/model", model)
            client.ok("GET", "/api/metrics")
            client.ok("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 1.0})
            return
        if not ledger.learns <= learns <= high:
            report.broke(f"kill -9: {learns} learns after restart; acknowledged {ledger.learns}, "
                         f"in flight {ledger.in_flight_learns}")
        waiting = sorted(ledger.stored - ledger.learned - ledger.uncertain)
        answers = client.ok("POST", "/api/learn", [{"id": i, "ground_truth": 1.0} for i in waiting])
        lost = [i for i, a in zip(waiting, answers) if "prediction" not in a]
        report.count("acknowledged ids checked", len(waiting))
        if lost:
            report.broke(f"kill -9 lost {len(lost)} acknowledged ids, e.g. {lost[:3]}")
        done = sorted(ledger.learned - ledger.uncertain)
        answers = client.ok("POST", "/api/learn", [{"id": i, "ground_truth": 1.0} for i in done])
        back = [i for i, a in zip(done, answers) if a.get("status") != 404]
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
        if status != 200:
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
            server.client().ok("POST", "/api/model", model)
            workers = [threading.Thread(target=learn_worker, args=(server.port, t, ledger), daemon=True)
                       for t in range(6)]
            for w in workers:
                w.start()
            ledger.wait_for(rng.randint(50, 800), TIMEOUT)
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            try:
                code = server.proc.wait(5)
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
            learns = server.client().ok("GET", "/api/stats")["model"]["learns"]
            if not ledger.learns <= learns <= ledger.learns + ledger.in_flight_learns:
                report.broke(f"SIGTERM: {learns} learns after restart; acknowledged {ledger.learns}, "
                             f"in flight {ledger.in_flight_learns}")
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
        client.ok("POST", "/api/model", model)
        row = {f"f{k}": float(k) for k in range(60)}
        refused = None
        for i in range(20_000):
            status, kind, data = client.request("POST", "/api/learn", {"features": dict(row, i=float(i)),
                                                                       "ground_truth": 1.0})
            report.status(status)
            if status == 200:
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
            status, kind, data = client.request("POST", "/api/learn", {"features": row, "ground_truth": 1.0})
            report.status(status)
            if status != 503:
                report.broke(f"disk still full: {status} {data}")
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        status, kind, data = client.request("POST", "/api/learn", {"features": row, "ground_truth": 1.0})
        report.status(status)
        if status == 200:
            acked += 1
            report.count("recovered without restart")
        else:
            report.broke(f"space is back but the learn got {status} {data}")
        client.close()
    finally:
        server.close()
    server = Server(db)
    try:
        learns = server.client().ok("GET", "/api/stats")["model"]["learns"]
        if learns != acked:
            report.broke(f"disk full: {acked} learns acknowledged, {learns} after restart")
    finally:
        server.close()


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="total time budget (default: 5)")
    parser.add_argument("--seed", type=int, default=None, help="seed for the random choices")
    parser.add_argument("--verbose", action="store_true", help="list every failure, not one per kind")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(10 ** 6)
    rng = random.Random(seed)
    warnings.simplefilter("ignore", NonInteractiveExampleWarning)
    budget = args.minutes * 60
    print(f"chantilly stress: {args.minutes:g} min, seed {seed}, {sys.executable}", flush=True)
    model = model_bytes()
    reports = []
    with tempfile.TemporaryDirectory(prefix="chantilly-stress-") as folder:
        tmp = pathlib.Path(folder)
        for name, share in PHASES.items():
            seconds = budget * share
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
    else:
        phase_disk_full(report, until, tmp, model)


if __name__ == "__main__":
    sys.exit(main())
