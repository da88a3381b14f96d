"""Benchmark chantilly against a minimal reference server and an in-process loop.

    python bench/bench.py [--seconds 3] [--ids 1000000] [--repeat 2] [--json]
    python bench/bench.py --only seed,growth      # some parts only (--skip leaves some out)

Everything runs on one machine, which is usually small, shared and noisy, so every
throughput is also reported as a RATIO against references measured in the same run:

* the reference server (bench/reference_server.py): ThreadingHTTPServer, keep-alive,
  json in/out, the model behind one lock, no persistence -- the floor of what a
  Python stdlib server can cost;
* the in-process loop: json.loads + lock + predict_one (+ fit_one) + json.dumps,
  i.e. the same work without any HTTP or socket at all.

The parts, in order (--only / --skip pick among them): requests (keep-alive, 1 and 4
connections), stream, batch, seed (issue 13: the seed workflow -- predict with id, learn by
id ~50 behind, shuffled -- and features-only learns over POST /api/stream, each beside an
in-process loop of the same lines), sync (durability modes), wrk, models (issue 11: learns
spread over 10 named models, beside one default model and beside chantilly before named
models, from git), growth (issue 13: undo and restart after 10k, 100k and 1M logged calls,
memory with 1M stored ids, restart after SIGTERM), fastapi, anchors and budget (bench/budget.py:
what each step of one request costs, in microseconds, beside the whole request).  Rows with a
target (issue 13's) say whether it was met.

Three anchors follow (bench/anchors.py, skipped with --no-anchors): the FastAPI service a
user would write instead of chantilly (bench/fastapi_app.py on uvicorn with uvloop and
httptools; predictions with a new id each and learns with features, 4 and 1 keep-alive
connections, beside a fresh chantilly and the reference server, median of --repeat rounds),
the original chantilly 0.2.0 (Flask 1.1) on the seed's workflow, predict with an id then
learn by that id, and Vowpal Wabbit's C++ daemon on labelled examples, each beside a fresh
chantilly.  They run from their own virtualenvs under bench/, built on first use and cached.

The HTTP clients are stdlib http.client keep-alive connections, one client PROCESS
per connection, so that the client's GIL is not shared between connections.  The
client and the server share the machine's cores: the table shows the CPU used by
the server process and by the busiest client process during each measurement, and
flags a measurement as client-bound when a client process was (almost) saturated.

Progress goes to stderr; the markdown table (or, with --json, the numbers) to stdout.
bench/profile_server.py shows where the server's time goes under the same workloads.
"""

import argparse
import collections
import http.client
import json
import multiprocessing
import os
import platform
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types

import workloads

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
URL_RE = re.compile(rb"serving on (http://([^:/\s]+):(\d+)/?)")
JSON_HEADERS = {"Content-Type": "application/json"}
N_FEATURES = 8
N_SAMPLES = 1000
WARM_LEARNS = 300
BATCH = 1000
STREAM_CHUNK = 1000
CLIENT_BUSY = 0.90  # client process CPU share above which a measurement is client-bound
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*args):
    print("[bench]", *args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data / model


def make_data(seed=42):
    rng = random.Random(seed)
    weights = [rng.uniform(-3, 3) for _ in range(N_FEATURES)]
    xs, ys = [], []
    for _ in range(N_SAMPLES):
        x = {"x%d" % i: round(rng.gauss(0, 1), 6) for i in range(N_FEATURES)}
        y = sum(w * v for w, v in zip(weights, x.values())) + rng.gauss(0, 0.1)
        xs.append(x)
        ys.append(round(y, 6))
    return xs, ys


def make_model(xs, ys):
    from creme import linear_model, preprocessing

    model = preprocessing.StandardScaler() | linear_model.LinearRegression()
    for x, y in zip(xs[:WARM_LEARNS], ys[:WARM_LEARNS]):
        model.fit_one(x, y)
    return model


# --------------------------------------------------------------------------- processes


def proc_cpu_seconds(pid):
    """user+system CPU seconds of a process (all its threads)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return float("nan")


def proc_rss_kib(pid, field="VmRSS:"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Server:
    """A server subprocess that prints `... serving on http://HOST:PORT/` once it listens."""

    def __init__(self, name, argv, cwd=ROOT, timeout=60):
        self.name = name
        self.argv = argv
        self.stderr = tempfile.TemporaryFile()
        self.lines = queue.Queue()
        self.stdout_after_url = []
        self.t_start = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr,
            start_new_session=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise RuntimeError("%s printed no URL within %ss%s" % (name, timeout, self.tail()))
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError("%s exited with %s%s" % (name, self.proc.returncode, self.tail()))
                continue
            if line is None:
                self.proc.wait(timeout=10)
                raise RuntimeError("%s exited with %s%s" % (name, self.proc.returncode, self.tail()))
            m = URL_RE.search(line)
            if m:
                self.url = m.group(1).decode()
                self.host = m.group(2).decode()
                self.port = int(m.group(3))
                self.t_url = time.perf_counter() - self.t_start
                break

    def _drain(self):
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.put(line)
        self.lines.put(None)

    @property
    def pid(self):
        return self.proc.pid

    def tail(self, n=2000):
        """The end of the server's stderr and what it printed on stdout after its URL line."""
        out = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line:
                self.stdout_after_url.append(line.decode(errors="replace").rstrip())
        text = ""
        if self.stdout_after_url:
            text += "\n--- %s stdout ---\n%s" % (self.name, "\n".join(self.stdout_after_url[-20:]))
        try:
            self.stderr.seek(0)
            data = self.stderr.read()[-n:].decode(errors="replace")
        except (OSError, ValueError):
            data = ""
        if data.strip():
            text += "\n--- %s stderr ---\n%s" % (self.name, data)
        return text

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL after timeout.  Returns the seconds it took to exit."""
        t0 = time.perf_counter()
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log("%s did not exit %ss after SIGTERM: SIGKILL" % (self.name, timeout))
                self.proc.kill()
                self.proc.wait(timeout=10)
        took = time.perf_counter() - t0
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        return took

    def conn(self, timeout=60):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def http_call(server, method, path, body=None, headers=None, timeout=60):
    c = server.conn(timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# --------------------------------------------------------------------------- request/response clients


def client_worker(host, port, path, bodies, offset, start_at, seconds, out, id_prefix=None):
    """One keep-alive connection, as many requests as possible in [start_at, start_at+seconds).

    With `id_prefix`, the bodies are templates (id_template) and request i sends a new id,
    id_prefix + "-" + i: predictions with ids that each store their features."""
    res = {"n": 0, "errors": 0, "first_error": None, "lat": [], "cpu": 0.0, "wall": 0.0}
    if id_prefix is not None:
        templates = bodies
        bodies = _IdBodies(templates, id_prefix.encode())
    try:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("POST", path, body=bodies[offset % len(bodies)], headers=JSON_HEADERS)
        r = conn.getresponse()
        r.read()
        lat = res["lat"]
        nb = len(bodies)
        i = offset
        delay = start_at - time.time()
        if delay > 0:
            time.sleep(delay)
        perf = time.perf_counter
        cpu0 = time.process_time()
        t_begin = perf()
        t_end = t_begin + seconds
        n = errors = 0
        t1 = t_begin
        while True:
            t0 = perf()
            if t0 >= t_end:
                break
            try:
                conn.request("POST", path, body=bodies[i % nb], headers=JSON_HEADERS)
                r = conn.getresponse()
                data = r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                status, data = None, repr(e).encode()
            t1 = perf()
            i += 1
            if status is not None and 200 <= status < 300:  # a learn or a prediction with an id: 201
                n += 1
                lat.append(t1 - t0)
            else:
                errors += 1
                if res["first_error"] is None:
                    res["first_error"] = "%s %s" % (status, data[:300].decode(errors="replace"))
        res.update(n=n, errors=errors, cpu=time.process_time() - cpu0, wall=t1 - t_begin)
        conn.close()
    except Exception as e:  # report, do not hang the parent
        res["first_error"] = "client crashed: %r" % (e,)
        res["errors"] += 1
    out.put(res)


def id_template(body):
    """A JSON object body as a template for request bodies with a new "id" each (see _IdBodies)."""
    assert body.startswith(b"{")
    return b'{"id": "%s", ' + body[1:].replace(b"%", b"%%")


class _IdBodies:
    """bodies[i]: templates[i % n] with the id prefix-i (a new id for every request)."""

    def __init__(self, templates, prefix):
        self.templates, self.prefix, self.n = templates, prefix, len(templates)

    def __len__(self):
        return 1 << 62  # the client's i % len() keeps i, so every request gets its own id

    def __getitem__(self, i):
        return self.templates[i % self.n] % (b"%s-%d" % (self.prefix, i))


def median(values):
    return percentile(sorted(values), 50)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def measure_requests(server, path, bodies, conns, seconds, id_prefix=None):
    """Requests/s with `conns` client processes, one keep-alive connection each.  With
    `id_prefix`, bodies are id_template()s and every request carries a new id."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 0.5 + 0.05 * conns
    procs = [
        ctx.Process(target=client_worker, daemon=True,
                    args=(server.host, server.port, path, bodies, k * 997, start_at, seconds, out,
                          None if id_prefix is None else "%s-c%d" % (id_prefix, k)))
        for k in range(conns)
    ]
    for p in procs:
        p.start()
    try:
        delay = start_at - time.time()
        if delay > 0:
            time.sleep(delay)
        cpu0, t0 = proc_cpu_seconds(server.pid), time.perf_counter()
        results = [out.get(timeout=seconds + 60) for _ in procs]
        # the clients finish at about start_at + seconds; the server CPU is read as soon as
        # the last one reported, so the window is slightly longer than `seconds`.
        cpu1, t1 = proc_cpu_seconds(server.pid), time.perf_counter()
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
    n = sum(r["n"] for r in results)
    errors = sum(r["errors"] for r in results)
    lat = sorted(x for r in results for x in r["lat"])
    rate = sum(r["n"] / r["wall"] for r in results if r["wall"] > 0)
    client_cpu = max((r["cpu"] / r["wall"] for r in results if r["wall"] > 0), default=float("nan"))
    first_error = next((r["first_error"] for r in results if r["first_error"]), None)
    if errors:
        log("  %d errors on %s %s, first: %s" % (errors, server.name, path, first_error))
    return {
        "rate": rate,
        "n": n,
        "errors": errors,
        "first_error": first_error,
        "p50_ms": percentile(lat, 50) * 1e3,
        "p99_ms": percentile(lat, 99) * 1e3,
        "server_cpu": (cpu1 - cpu0) / (t1 - t0),
        "client_cpu": client_cpu,
        "client_bound": client_cpu >= CLIENT_BUSY,
    }


def measure_batches(server, path, body, per_request, seconds):
    """Operations/s when sending JSON arrays of `per_request` objects on one connection."""
    conn = server.conn(timeout=120)
    try:
        conn.request("POST", path, body=body, headers=JSON_HEADERS)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            return {"rate": float("nan"), "errors": 1,
                    "first_error": "%s %s" % (r.status, data[:300].decode(errors="replace"))}
        answers = json.loads(data)
        if not isinstance(answers, list) or len(answers) != per_request:
            return {"rate": float("nan"), "errors": 1,
                    "first_error": "expected a list of %d answers, got %s" % (per_request, data[:200])}
        cpu0, c0 = proc_cpu_seconds(server.pid), time.process_time()
        t0 = time.perf_counter()
        n = errors = 0
        while time.perf_counter() - t0 < seconds:
            conn.request("POST", path, body=body, headers=JSON_HEADERS)
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                n += 1
            else:
                errors += 1
        wall = time.perf_counter() - t0
        return {
            "rate": n * per_request / wall, "errors": errors, "requests": n,
            "server_cpu": (proc_cpu_seconds(server.pid) - cpu0) / wall,
            "client_cpu": (time.process_time() - c0) / wall,
        }
    finally:
        conn.close()


# --------------------------------------------------------------------------- NDJSON stream client


class StreamError(Exception):
    pass


def stream_ops(server, make_chunk, until, timeout=120):
    """POST /api/stream with a chunked request body, reading answers concurrently.

    make_chunk(k) returns (bytes of NDJSON lines, number of lines) for chunk k, or None
    when there is nothing more to send; `until` is an optional perf_counter deadline
    after which no new chunk is sent.  Returns a dict with ops sent/answered, failed
    ops (answers carrying a "status"), the last answer line and the elapsed seconds
    (first byte sent to last byte received).
    """
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent = {"ops": 0, "error": None, "done": False}
    stop = threading.Event()

    def sender():
        try:
            sock.sendall(
                b"POST /api/stream HTTP/1.1\r\nHost: %s:%d\r\n"
                b"Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
                % (server.host.encode(), server.port)
            )
            k = 0
            while not stop.is_set():
                if until is not None and time.perf_counter() >= until:
                    break
                item = make_chunk(k)
                if item is None:
                    break
                data, nops = item
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
                sent["ops"] += nops
                k += 1
            sock.sendall(b"0\r\n\r\n")
            sent["done"] = True
        except OSError as e:
            sent["error"] = repr(e)

    t0 = time.perf_counter()
    cpu0 = proc_cpu_seconds(server.pid)
    ccpu0 = time.process_time()
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    buf = bytearray()
    answered = failed = 0
    last_line = b""
    tail = b""
    try:
        def fill():
            data = sock.recv(1 << 18)
            if not data:
                raise StreamError("connection closed by the server")
            buf.extend(data)

        while b"\r\n\r\n" not in buf:
            fill()
        head_end = buf.index(b"\r\n\r\n")
        head = bytes(buf[:head_end]).decode("latin-1")
        del buf[: head_end + 4]
        status_line, *header_lines = head.split("\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for h in header_lines:
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        if status != 200:
            stop.set()
            n = int(headers.get("content-length", "0") or 0)
            try:
                while len(buf) < n:
                    fill()
            except (OSError, StreamError):
                pass
            raise StreamError("HTTP %d %s" % (status, bytes(buf[:300]).decode(errors="replace")))

        def consume(data):
            nonlocal answered, failed, last_line, tail
            data = tail + data
            cut = data.rfind(b"\n")
            if cut < 0:
                tail = data
                return
            lines = data[: cut + 1]
            tail = data[cut + 1:]
            answered += lines.count(b"\n") - lines.count(b"\n\n")
            failed += lines.count(b'"status"')
            last_line = lines[lines.rfind(b"\n", 0, len(lines) - 1) + 1:].strip()

        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                while b"\r\n" not in buf:
                    fill()
                i = buf.index(b"\r\n")
                size = int(bytes(buf[:i]).split(b";")[0], 16)
                while len(buf) < i + 2 + size + 2:
                    fill()
                if size == 0:
                    break
                consume(bytes(buf[i + 2: i + 2 + size]))
                del buf[: i + 2 + size + 2]
        elif "content-length" in headers:
            n = int(headers["content-length"])
            while len(buf) < n:
                fill()
            consume(bytes(buf[:n]))
        else:
            try:
                while True:
                    fill()
            except StreamError:
                pass
            consume(bytes(buf))
        if tail.strip():
            answered += 1
            last_line = tail.strip()
        elapsed = time.perf_counter() - t0
    finally:
        stop.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        th.join(timeout=10)
    return {
        "sent": sent["ops"], "answered": answered, "failed": failed, "elapsed": elapsed,
        "rate": answered / elapsed if elapsed > 0 else float("nan"),
        "server_cpu": (proc_cpu_seconds(server.pid) - cpu0) / elapsed,
        "client_cpu": (time.process_time() - ccpu0) / elapsed,
        "last": last_line.decode(errors="replace"), "send_error": sent["error"],
    }


# --------------------------------------------------------------------------- in-process references


def inprocess_loops(model, predict_bodies, learn_bodies, seconds):
    lock = threading.Lock()
    res = {}
    nb = len(predict_bodies)
    loads, dumps, perf = json.loads, json.dumps, time.perf_counter

    def timed(fn):
        t0 = perf()
        n = 0
        while True:
            for _ in range(100):
                fn(n)
                n += 1
            el = perf() - t0
            if el >= seconds:
                return n / el

    def json_predict(i):
        x = loads(predict_bodies[i % nb])["features"]
        with lock:
            y = model.predict_one(x)
        dumps({"prediction": y}).encode()

    def json_learn(i):
        p = loads(learn_bodies[i % nb])
        x = p["features"]
        with lock:
            y = model.predict_one(x)
            model.fit_one(x, p["ground_truth"])
        dumps({"prediction": y}).encode()

    xs = [json.loads(b)["features"] for b in predict_bodies]
    ys = [json.loads(b)["ground_truth"] for b in learn_bodies]

    res["json_predict"] = timed(json_predict)
    res["json_learn"] = timed(json_learn)
    res["raw_predict"] = timed(lambda i: model.predict_one(xs[i % nb]))
    res["raw_fit"] = timed(lambda i: model.fit_one(xs[i % nb], ys[i % nb]))
    return res


# --------------------------------------------------------------------------- wrk (optional)


def run_wrk(server, path, body, conns, seconds):
    wrk = shutil.which("wrk")
    if not wrk:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        f.write("wrk.body = %s\n" % json.dumps(body.decode()))
        script = f.name
    try:
        out = subprocess.run(
            [wrk, "-t", str(min(conns, 2)), "-c", str(conns), "-d", "%ds" % max(1, round(seconds)),
             "--latency", "-s", script, server.url.rstrip("/") + path],
            capture_output=True, text=True, timeout=seconds + 60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        os.unlink(script)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        return None
    res = {"rate": float(m.group(1))}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["errors"] = int(bad.group(1)) if bad else 0
    for p, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        m = re.search(r"\s%s\s+([\d.]+)(us|ms|s)\b" % re.escape(p), out)
        if m:
            res[key] = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    return res


# --------------------------------------------------------------------------- helpers


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    try:
        import creme

        info["creme"] = creme.__version__
    except ImportError:
        pass
    return info


def wait_first_predict(server, body, t_start, timeout=120):
    """Seconds from t_start until a POST /api/predict answers 200."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, data = http_call(server, "POST", "/api/predict", body, JSON_HEADERS, timeout=30)
            if status == 200:
                return time.perf_counter() - t_start
            last = "%s %s" % (status, data[:200])
        except (OSError, http.client.HTTPException) as e:
            last = repr(e)
        if server.proc.poll() is not None:
            raise RuntimeError("%s exited with %s%s" % (server.name, server.proc.returncode, server.tail()))
        time.sleep(0.005)
    raise RuntimeError("%s: no 200 on /api/predict within %ss, last: %s" % (server.name, timeout, last))


def db_size(path):
    total = 0
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            total += os.path.getsize(path + suffix)
        except OSError:
            pass
    return total


def chantilly_argv(args, db, sync=None):
    argv = [args.python, args.chantilly, "run", "--host", "127.0.0.1", "--port", "0", "--db", db]
    if sync:
        argv += ["--sync", sync]
    return argv


def upload(server, model_bytes, name=None):
    status, data = http_call(server, "POST", "/api/model" + ("/" + name if name else ""), model_bytes,
                             {"Content-Type": "application/octet-stream"})
    if status != 201:
        raise RuntimeError("%s: POST /api/model -> %s %s" % (server.name, status, data[:300]))
    return json.loads(data)


# --------------------------------------------------------------------------- models, undo, restart

#: Logged calls after which undo and restart are measured (--ids is the last step).
GROWTH_STEPS = (10_000, 100_000, 1_000_000)
#: "Flat": a later step may cost at most this many times the first step.
FLAT = 1.5
#: Seconds from a fresh interpreter's start to a loaded model: importing creme (numpy, scipy,
#: pandas) and dill, and unpickling the model; printed on stdout.
IMPORT_PROBE = """\
import sys, time
t0 = time.perf_counter()
import dill
with open(sys.argv[1], "rb") as f:
    dill.load(f)
print(time.perf_counter() - t0)
"""


def fmt_count(n):
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return "%dM" % (n // 1_000_000)
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return "{:,}".format(n)


def import_probe(python, model_path):
    """(seconds importing creme and loading the model, seconds of the whole process) in a fresh
    interpreter, as a server's start pays them; (nan, nan) if the probe fails."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run([python, "-c", IMPORT_PROBE, model_path], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
        return float(out.stdout.strip()), time.perf_counter() - t0
    except (OSError, subprocess.SubprocessError, ValueError):
        return float("nan"), float("nan")


def measure_undo(server, bad_body, xs, ys, n, span=64, seed=3):
    """Time `n` learns the model raises on, on one keep-alive connection.

    Before each: a batch of 0..span-1 learns (one request; chantilly keeps an in-memory copy
    of the model every CHECKPOINT_EVERY = 64 logged calls, so an undo starts anywhere between
    two copies) and one good learn, timed as the comparison.  Returns the bad calls' seconds
    (sorted) with their median, p90 and max, the good calls' median, the statuses of the bad
    calls and the first bad answer.
    """
    rng = random.Random(seed)
    conn = server.conn(timeout=60)
    perf = time.perf_counter
    bad, good, statuses, first, learns = [], [], collections.Counter(), None, 0

    def post(body):
        conn.request("POST", "/api/learn", body=body, headers=JSON_HEADERS)
        r = conn.getresponse()
        return r.status, r.read()

    try:
        for i in range(n):
            k = rng.randrange(span)
            if k:
                items = [{"features": xs[(i * span + j) % len(xs)], "ground_truth": ys[(i * span + j) % len(ys)]}
                         for j in range(k)]
                status, data = post(json.dumps(items).encode())
                learns += k
                if status != 200:
                    statuses["batch: %s" % status] += 1
            t0 = perf()
            status, data = post(json.dumps({"features": xs[i % len(xs)], "ground_truth": ys[i % len(ys)]}).encode())
            t1 = perf()
            learns += 1
            if 200 <= status < 300:  # 201: a learn
                good.append(t1 - t0)
            t0 = perf()
            status, data = post(bad_body)
            t1 = perf()
            bad.append(t1 - t0)
            statuses[status] += 1
            if first is None:
                first = data[:200].decode(errors="replace")
    finally:
        conn.close()
    bad.sort()
    good.sort()
    return {"bad": bad, "median": percentile(bad, 50), "p90": percentile(bad, 90), "max": bad[-1] if bad else float("nan"),
            "good_median": percentile(good, 50), "statuses": statuses, "first": first, "learns": learns}


def models_spread(server, names):
    """How the 10-model traffic was spread: the learns each named model counted, if it says."""
    try:
        status, data = http_call(server, "GET", "/api/models")
        listed = list(json.loads(data)["descriptions"].values())
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
        return None

    def learns(d):
        for k in ("learns", "n_learns"):
            if isinstance(d.get(k), int):
                return d[k]
        for v in d.values():
            if isinstance(v, dict):
                n = learns(v)
                if n is not None:
                    return n
        return None

    counts = [learns(d) for d in listed if isinstance(d, dict) and d.get("name") in names]
    if len(counts) != len(names) or None in counts:
        return None
    return "learns per model: %s to %s" % ("{:,}".format(min(counts)), "{:,}".format(max(counts)))


def resolve_baseline(spec, tmp):
    """(path of the baseline chantilly.py, its name) for --baseline, or (None, why not)."""
    if not spec or spec.lower() == "none":
        return None, "none asked (--baseline none)"
    if os.path.isfile(spec):
        return os.path.abspath(spec), os.path.basename(spec)

    def git(*a):
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, timeout=60, check=True).stdout

    rev = spec
    try:
        if spec == "auto":
            found = git("log", "--format=%H", "--grep=^Named models", "--", "chantilly.py").decode().split()
            if not found:
                return None, "no commit starting 'Named models' touches chantilly.py in this clone's history"
            rev = found[-1] + "^"
        source = git("show", "%s:chantilly.py" % rev)
        short = git("rev-parse", "--short", rev).decode().strip()
    except (OSError, subprocess.SubprocessError) as e:
        err = getattr(e, "stderr", b"") or b""
        return None, "git could not give chantilly.py at %s: %s" % (rev, err.decode(errors="replace").strip()[:200] or e)
    path = os.path.join(tmp, "chantilly-%s.py" % short)
    with open(path, "wb") as f:
        f.write(source)
    return path, "git " + short


# --------------------------------------------------------------------------- report


def fmt_num(v, unit):
    if v is None or v != v:
        return "n/a"
    if unit in ("req/s", "ops/s", "pairs/s"):
        return "{:,.0f} {}".format(v, unit)
    if unit == "ms":
        return "%.3f ms" % v if v < 1 else "%.2f ms" % v
    if unit == "s":
        return "%.2f s" % v if v < 100 else "%.0f s" % v
    if unit == "MiB":
        return "%.1f MiB" % v
    return "%s %s" % (v, unit)


def target_met(row, val):
    """True/False for a row with a target, "n/a" when it cannot tell, None without a target."""
    t = row.get("target")
    if not t:
        return None
    x = target_ratio(row, val)
    if x is None:
        return "n/a"
    return x >= t["min"] if "min" in t else x <= t["max"]


def target_ratio(row, val):
    t = row["target"]
    key = {"ref": row.get("ref"), "inproc": row.get("inproc"),
           "anchor": (row.get("anchor") or (None,))[0]}[t["vs"]]
    a, b = row.get("value"), val(key) if key else None
    if a is None or b is None or a != a or b != b or not b:
        return None
    return a / b


def target_ratio_text(row, val):
    x = target_ratio(row, val)
    return "not measured" if x is None else "%.2fx" % x


def ratio(a, b):
    if a is None or b is None or a != a or b != b or not b:
        return "n/a"
    return "%.2fx" % (a / b)


def render(results):
    rows = results["rows"]
    m = results["machine"]
    out = []
    out.append("Machine: %s CPU(s) (%s usable), %s, Python %s, creme %s, load average at start %s, "
               "at end %s" % (m["nproc"], m["usable_cpus"], m["cpu"], m["python"], m.get("creme", "?"),
                              " ".join("%.2f" % x for x in m["loadavg_at_start"] or ()),
                              " ".join("%.2f" % x for x in m.get("loadavg_at_end") or ())))
    out.append("Settings: %s s per measurement, %s stored ids, model StandardScaler | LinearRegression, "
               "%d features, chantilly started with its default --sync (%s) unless the row says "
               "otherwise; whole run %.0f s" % (results["settings"]["seconds"], results["settings"]["ids"],
                                               N_FEATURES, results["settings"].get("default_sync") or "?",
                                               results.get("elapsed_s", 0)))
    out.append("")
    out.append("| measurement | value | vs reference server | vs in-process loop | target | CPU server / client "
               "| notes |")
    out.append("|---|---:|---:|---:|---|---:|---|")
    by_key = {r["key"]: r for r in rows if "key" in r}

    def val(key):
        r = by_key.get(key)
        return r["value"] if r else None

    verdicts = []
    for r in rows:
        if "section" in r:
            out.append("| **%s** | | | | | | |" % r["section"])
            continue
        target = ""
        met = target_met(r, val)
        if met is not None:
            target = "%s: %s" % (r["target"]["text"], {True: "met", False: "**missed**", "n/a": "n/a"}[met])
            verdicts.append((r, met))
        cpu = ""
        if r.get("server_cpu") is not None:
            cpu = "%.0f%%" % (100 * r["server_cpu"])
            if r.get("client_cpu") is not None:
                cpu += " / %.0f%%" % (100 * r["client_cpu"])
        notes = list(r.get("notes", []))
        if r.get("client_bound"):
            notes.insert(0, "CLIENT-BOUND")
        if r.get("errors"):
            notes.insert(0, "%d errors" % r["errors"])
        if r.get("anchor"):  # anchor rows: the ratio is against the anchor named in the cell
            akey, aname = r["anchor"]
            vs = "(%s)" % aname if akey == r["key"] else "%s vs %s" % (ratio(r["value"], val(akey)), aname)
            if r.get("ref") and akey != r["key"]:  # both: the reference server's ratio first
                vs = "%s; %s" % (ratio(r["value"], val(r["ref"])), vs)
        else:
            vs = ratio(r["value"], val(r["ref"])) if r.get("ref") else ""
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["label"], fmt_num(r["value"], r["unit"]), vs,
            ratio(r["value"], val(r["inproc"])) if r.get("inproc") else "", target,
            cpu, "; ".join(notes)))
    out.append("")
    out.append("Ratios are value / reference value: above 1.00x is faster for rates, slower for "
               "latencies, times and memory.  \"CPU server / client\" is the share of one core used "
               "by the server process and by the busiest client process (a client near 100% means "
               "the measurement is client-bound).  Stream and batch rows are compared with the "
               "reference server's best request rate (1 or 4 connections); the --sync rows with the "
               "reference at the same number of connections.")
    if verdicts:
        out.append("")
        missed = [(r, m) for r, m in verdicts if m is not True]
        out.append("Targets: %d of %d met.%s" % (
            len(verdicts) - len(missed), len(verdicts),
            "  Missed or not measured: " + "; ".join(
                "%s (%s, target %s)" % (r["label"], target_ratio_text(r, val), r["target"]["text"])
                for r, m in missed) if missed else ""))
        out.append("")
        out.append("The targets are issue 13's (ratios in one run): streams >= 0.8x their in-process loop, "
                   "keep-alive >= 1.0x the reference at 1 connection and >= 0.9x at 4, the seed workflow's "
                   "best path >= 50x the original chantilly; issue 11's \"no slowdown for the single default "
                   "model\" is read as >= 0.95x the same traffic on chantilly before named models (the machine's "
                   "noise is about 5-10%%); \"flat\" as at most %.1fx the first step's value." % FLAT)
    if any(r.get("anchor") and r["key"].startswith(("orig_", "ch_", "vw_")) for r in rows):
        out.append("")
        out.append("In the anchors section the ratio column compares each row with the anchor named in "
                   "the cell, measured in the same run: \"x vs original\" is chantilly / the original "
                   "chantilly 0.2.0 on the same workload, \"x vs VW\" is chantilly / Vowpal Wabbit's "
                   "daemon.  A pair is one POST /api/predict with an id plus one POST /api/learn by that "
                   "id (two operations on /api/stream); only pairs whose two answers were 2xx count.")
    if any(r.get("key", "").startswith("fa_") for r in rows):
        out.append("")
        out.append("In the FastAPI section the ratio column is value / the reference server's in the same round "
                   "set; on chantilly's rows \"x vs FastAPI\" follows: chantilly / the FastAPI service "
                   "(bench/fastapi_app.py, def routes).  Values are the median of the rounds (the other sections "
                   "keep their best pass).  Predictions carry a new id each: chantilly and FastAPI store the "
                   "features, the reference server ignores the id.")
    if any(r.get("anchor") and r["key"].startswith(("models_", "undo_", "restart_")) for r in rows):
        out.append("")
        out.append("In the models and growth sections the ratio column compares a row with the one named in "
                   "the cell: \"x vs before\" is this chantilly / chantilly before named models, \"x vs "
                   "1 model\" is 10 models / the default model alone, \"x vs 10k\" is the value after more "
                   "logged calls / after the first step (above 1.00x is slower for times).")
    if results.get("budget"):  # the budget part: its own table (bench/budget.py)
        import budget

        out.append("")
        out.append(budget.render(results["budget"]))
    if results.get("phase_seconds"):
        out.append("")
        out.append("Time by part: " + ", ".join("%s %.0f s" % kv for kv in results["phase_seconds"].items()))
    for n in results.get("anchor_notes", []):
        out.append("")
        out.append("NOTE: " + n)
    for w in results.get("warnings", []):
        out.append("")
        out.append("WARNING: " + w)
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def default_sync(args):
    """The --sync default advertised by `chantilly.py run --help` (None if it cannot tell)."""
    try:
        out = subprocess.run([args.python, args.chantilly, "run", "--help"], capture_output=True,
                             text=True, timeout=60, cwd=ROOT).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    text = " ".join(out.split())
    m = re.search(r"--sync \{[^}]*\}.*?\(default: (\w+)\)", text)
    return m.group(1) if m else None


#: The parts of the bench, in the order they run (--only / --skip pick among them).
PARTS = ("requests", "stream", "batch", "seed", "sync", "wrk", "models", "growth", "fastapi", "anchors", "budget")
PART_ALIASES = {"keepalive": "requests", "keep-alive": "requests", "durability": "sync",
                "memory": "growth", "undo": "growth", "restart": "growth", "features": "seed"}
#: Parts whose rows are compared with the in-process loops of json + predict_one [+ fit_one].
NEEDS_INPROC = {"requests", "stream", "batch", "sync", "models", "growth", "fastapi"}
#: Parts measured on the shared chantilly and reference server started at the beginning.
NEEDS_SERVERS = {"requests", "stream", "batch", "seed", "wrk"}


def parse_parts(text):
    out = []
    for name in (text or "").split(","):
        name = name.strip().lower()
        if not name:
            continue
        name = PART_ALIASES.get(name, name)
        if name not in PARTS:
            raise ValueError("unknown part %r: choose among %s" % (name, ", ".join(PARTS)))
        out.append(name)
    return out


def select_parts(args):
    """The parts to run, in PARTS order, from --only, --skip, --no-anchors and --anchors-only."""
    if args.anchors_only:
        return ["fastapi", "anchors"]
    chosen = set(parse_parts(args.only)) if args.only else set(PARTS)
    chosen -= set(parse_parts(args.skip))
    if args.no_anchors:
        chosen -= {"fastapi", "anchors"}
    if not chosen:
        raise ValueError("nothing left to measure")
    return [p for p in PARTS if p in chosen]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement (default 3)")
    p.add_argument("--ids", type=int, default=1_000_000,
                   help="logged calls of the growth part: predictions stored by id through the stream, "
                        "with undo and restart measured after 10k, 100k and this many, then memory and a "
                        "restart after SIGTERM (default 1000000; 100000 saves about a minute)")
    p.add_argument("--repeat", type=int, default=2,
                   help="measure each request/response pair this many times, alternating chantilly and "
                        "the reference, and keep the best of each (default 2)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON instead of the table")
    p.add_argument("--chantilly", default=os.path.join(ROOT, "chantilly.py"), help="path of chantilly.py")
    p.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    p.add_argument("--no-anchors", action="store_true",
                   help="skip the anchors (the FastAPI service, the original chantilly 0.2.0 and Vowpal "
                        "Wabbit's daemon: the parts fastapi and anchors)")
    p.add_argument("--anchors-only", action="store_true", help="measure only the anchors (fastapi, anchors)")
    p.add_argument("--fastapi-variant", choices=("sync", "async", "both"), default="sync",
                   help="the FastAPI anchor's routes: def in the thread pool with a threading lock (sync, "
                        "the default), async def on the event loop, or both")
    p.add_argument("--original-python", default=None,
                   help="interpreter for the original chantilly's virtualenv (default: a Python of this "
                        "minor version whose shelve has gdbm, else this one's base)")
    p.add_argument("--only", default=None, metavar="PARTS",
                   help="measure only these parts, comma-separated: %s (also: %s)" % (
                       ", ".join(PARTS), ", ".join("%s=%s" % kv for kv in sorted(PART_ALIASES.items()))))
    p.add_argument("--skip", default=None, metavar="PARTS", help="leave these parts out (same names)")
    p.add_argument("--baseline", default="auto", metavar="REV|PATH|none",
                   help="the chantilly.py the single-model rows of the models part are compared with: a "
                        "git revision, a file, or none (default: the commit before named models landed)")
    p.add_argument("--restarts", type=int, default=3,
                   help="kill -9 restarts at each step of the growth part, their median reported (default 3)")
    p.add_argument("--undo-calls", type=int, default=50,
                   help="learns the model raises on, timed at each step of the growth part (default 50)")
    args = p.parse_args(argv)
    if args.no_anchors and args.anchors_only:
        p.error("--no-anchors and --anchors-only exclude each other")
    try:
        parts = select_parts(args)
    except ValueError as e:
        p.error(str(e))

    results = {"machine": machine_info(), "settings": {"seconds": args.seconds, "ids": args.ids,
                                                       "repeat": args.repeat, "parts": parts},
               "rows": [], "warnings": [], "deviations": [], "anchor_notes": [], "phase_seconds": {}}
    rows = results["rows"]
    t_bench = time.perf_counter()
    results["settings"]["default_sync"] = default_sync(args)

    def add(key, label, value, unit, ref=None, inproc=None, **extra):
        row = {"key": key, "label": label, "value": value, "unit": unit, "ref": ref, "inproc": inproc}
        row.update(extra)
        rows.append(row)
        return row

    def section(title):
        rows.append({"section": title})

    import dill

    xs, ys = make_data()
    model = make_model(xs, ys)
    model_bytes = dill.dumps(model)
    predict_bodies = [json.dumps({"features": x}).encode() for x in xs]
    learn_bodies = [json.dumps({"features": x, "ground_truth": y}).encode() for x, y in zip(xs, ys)]
    S = args.seconds

    tmp = tempfile.mkdtemp(prefix="chantilly-bench-")
    model_path = os.path.join(tmp, "model.dill")
    with open(model_path, "wb") as f:
        f.write(model_bytes)
    servers = []
    state = {}

    def start(name, argv):
        srv = Server(name, argv)
        servers.append(srv)
        return srv

    def stop(srv):
        took = srv.stop()
        if srv in servers:
            servers.remove(srv)
        return took

    def phase(name, fn):
        """Run one part of the bench; a failure is reported and the next parts still run."""
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as e:
            import traceback

            log("phase %r failed:\n%s" % (name, traceback.format_exc()))
            results["warnings"].append("phase %r failed: %s" % (name, str(e)[:1500]))
        took = time.perf_counter() - t0
        results["phase_seconds"][name] = results["phase_seconds"].get(name, 0.0) + took
        log("phase %r took %.1f s" % (name, took))
        for srv in list(servers):
            code = srv.proc.poll()
            if code is not None:
                msg = "%s (pid %d) died during phase %r with exit status %s%s" % (
                    srv.name, srv.pid, name, code, srv.tail(3000))
                log(msg)
                results["deviations"].append(msg)
                servers.remove(srv)
                for k, v in list(state.items()):
                    if v is srv:
                        del state[k]

    # ------------------------------------------------------------------ phases

    def p_inprocess():
        log("in-process loops (%ss each)" % S)
        ip = inprocess_loops(dill.loads(model_bytes), predict_bodies, learn_bodies, S)
        if "inproc" in state:  # second pass at the end of the run: keep the best of both
            first = state["inproc"]
            state["inproc_passes"] = [first, ip]
            ip = {k: max(first[k], ip[k]) for k in ip}
        state["inproc"] = ip

    def p_servers():
        log("starting reference server and chantilly")
        t0 = time.perf_counter()
        ref = state["ref"] = start("reference", [args.python, os.path.join(HERE, "reference_server.py"),
                                                 model_path])
        state["ref_startup"] = wait_first_predict(ref, predict_bodies[0], t0)
        state["ref_rss"] = proc_rss_kib(ref.pid)
        state["db"] = os.path.join(tmp, "main.db")
        ch = state["ch"] = start("chantilly", chantilly_argv(args, state["db"]))
        desc = upload(ch, model_bytes)
        log("chantilly at %s, model: %s" % (ch.url, json.dumps(desc)))
        status, data = http_call(ch, "POST", "/api/predict", predict_bodies[0], JSON_HEADERS)
        if status != 200 or "prediction" not in json.loads(data):
            raise RuntimeError("chantilly POST /api/predict -> %s %s" % (status, data[:300]))

    def p_requests():
        req = state["req"] = {}
        passes = {}
        for route, bodies in (("predict", predict_bodies), ("learn", learn_bodies)):
            for conns in (1, 4):
                for rep in range(args.repeat):
                    for srv in (state["ref"], state["ch"]):
                        log("%s %s, %d connection(s)%s" % (srv.name, route, conns,
                                                          ", pass %d" % (rep + 1) if args.repeat > 1 else ""))
                        r = measure_requests(srv, "/api/" + route, bodies, conns, S)
                        passes.setdefault((srv.name, route, conns), []).append(r["rate"])
                        best = req.get((srv.name, route, conns))
                        if best is None or r["rate"] > best["rate"]:
                            req[srv.name, route, conns] = r
        section("request/response: stdlib http.client keep-alive, one client process per connection")
        for route in ("predict", "learn"):
            for conns in (1, 4):
                for name in ("chantilly", "reference"):
                    r = req[name, route, conns]
                    key = "%s_%s_%d" % (name, route, conns)
                    refkey = "reference_%s_%d" % (route, conns)
                    extra = {}
                    if name == "chantilly":  # issue 13's keep-alive targets
                        goal = 1.0 if conns == 1 else 0.9
                        extra["target"] = {"vs": "ref", "min": goal, "text": ">= %.2fx reference" % goal}
                    add(key, "%s %s, %d conn" % (name, route, conns), r["rate"], "req/s",
                        ref=refkey, inproc="inproc_json_" + route, server_cpu=r["server_cpu"],
                        client_cpu=r["client_cpu"], client_bound=r["client_bound"], errors=r["errors"],
                        notes=["passes: " + ", ".join("{:,.0f}".format(v) for v in passes[name, route, conns])],
                        **extra)
                    add(key + "_p50", "%s %s, %d conn, p50" % (name, route, conns), r["p50_ms"], "ms",
                        ref=refkey + "_p50")
                    add(key + "_p99", "%s %s, %d conn, p99" % (name, route, conns), r["p99_ms"], "ms",
                        ref=refkey + "_p99")
                    if r["client_bound"]:
                        results["warnings"].append(
                            "%s %s with %d conn looks client-bound (busiest client process at %.0f%% "
                            "CPU)" % (name, route, conns, 100 * r["client_cpu"]))
        for route in ("predict", "learn"):
            best = max(req["reference", route, 1]["rate"], req["reference", route, 4]["rate"])
            add("ref_best_" + route, "reference %s, best of 1/4 conn" % route, best, "req/s",
                ref="ref_best_" + route, inproc="inproc_json_" + route)

    def p_stream():
        ch = state["ch"]

        def fixed_chunk(op_lines):
            data = b"".join(op_lines[k % len(op_lines)] for k in range(STREAM_CHUNK))
            return lambda k: (data, STREAM_CHUNK)

        section("streamed and batched operations (one connection)")
        stream_predict = [json.dumps({"op": "predict", "features": x}).encode() + b"\n" for x in xs]
        stream_learn = [json.dumps({"op": "learn", "features": x, "ground_truth": y}).encode() + b"\n"
                        for x, y in zip(xs, ys)]
        for op, lines in (("predict", stream_predict), ("learn", stream_learn)):
            log("chantilly /api/stream %s ops" % op)
            label = "chantilly stream %s (NDJSON, %d per chunk)" % (op, STREAM_CHUNK)
            try:
                r = stream_ops(ch, fixed_chunk(lines), time.perf_counter() + S)
            except (OSError, StreamError) as e:
                results["deviations"].append("POST /api/stream (%s ops): %s" % (op, e))
                add("stream_" + op, label, None, "ops/s", notes=["failed: %s" % str(e)[:150]])
                continue
            notes = ["%d ops in %.1f s" % (r["answered"], r["elapsed"])]
            if r["sent"] != r["answered"]:
                notes.append("sent %d, answered %d" % (r["sent"], r["answered"]))
            if r["failed"]:
                notes.append("last answer: %s" % r["last"][:120])
                results["deviations"].append("POST /api/stream (%s ops): %d failed ops, last answer %s"
                                             % (op, r["failed"], r["last"][:300]))
            add("stream_" + op, label, r["rate"], "ops/s", ref="ref_best_" + op,
                inproc="inproc_json_" + op, server_cpu=r["server_cpu"], client_cpu=r["client_cpu"],
                errors=r["failed"] + abs(r["sent"] - r["answered"]), notes=notes)

    def p_batch():
        ch = state["ch"]
        for op, objs in (
            ("predict", [{"features": x} for x in xs[:BATCH]]),
            ("learn", [{"features": x, "ground_truth": y} for x, y in zip(xs[:BATCH], ys[:BATCH])]),
        ):
            log("chantilly batch %s (%d per request)" % (op, BATCH))
            r = measure_batches(ch, "/api/" + op, json.dumps(objs).encode(), BATCH, S)
            notes = []
            if r.get("first_error"):
                notes.append("failed: %s" % r["first_error"][:150])
                results["deviations"].append("POST /api/%s with a JSON array: %s" % (op, r["first_error"]))
            add("batch_" + op, "chantilly batch %s (JSON array of %d)" % (op, BATCH), r["rate"], "ops/s",
                ref="ref_best_" + op, inproc="inproc_json_" + op, server_cpu=r.get("server_cpu"),
                client_cpu=r.get("client_cpu"), errors=r.get("errors"), notes=notes)

    def p_inproc_rows():
        ip = state["inproc"]
        passes = state.get("inproc_passes")
        at = state.get("inproc_at", len(rows))
        tail = rows[at:]
        del rows[at:]
        section("in-process references (no HTTP; best of a pass at the start and one at the end)")
        for key, label, unit, ref in (
            ("json_predict", "in-process json + lock + predict_one", "req/s", "json_predict"),
            ("json_learn", "in-process json + lock + predict_one + fit_one", "req/s", "json_learn"),
            ("raw_predict", "in-process predict_one only", "ops/s", "json_predict"),
            ("raw_fit", "in-process fit_one only", "ops/s", "json_learn"),
        ):
            notes = ["start {:,.0f}, end {:,.0f}".format(passes[0][key], passes[1][key])] if passes else []
            add("inproc_" + key, label, ip[key], unit, inproc="inproc_" + ref, notes=notes)
        rows.extend(tail)

    def p_sync():
        default = results["settings"]["default_sync"]
        if default is None:
            results["warnings"].append("could not read the --sync default from `chantilly.py run --help`")
        section("durability: learn with each --sync mode (fresh database each)")
        for sync in ("full", "normal", "off"):
            log("chantilly --sync %s" % sync)
            srv = start("chantilly-sync-" + sync,
                        chantilly_argv(args, os.path.join(tmp, "sync-%s.db" % sync), sync))
            try:
                upload(srv, model_bytes)
                for conns in (1, 4):
                    r = measure_requests(srv, "/api/learn", learn_bodies, conns, S)
                    add("sync_%s_learn_%d" % (sync, conns),
                        "chantilly learn --sync %s%s, %d conn" % (sync, " (default)" if sync == default else "",
                                                                  conns),
                        r["rate"], "req/s", ref="reference_learn_%d" % conns, inproc="inproc_json_learn",
                        server_cpu=r["server_cpu"], client_cpu=r["client_cpu"],
                        client_bound=r["client_bound"], errors=r["errors"],
                        notes=["p50 %.3f ms, p99 %.3f ms" % (r["p50_ms"], r["p99_ms"])])
            finally:
                if srv.proc.poll() is not None:
                    results["deviations"].append("%s (pid %d) died with exit status %s%s" % (
                        srv.name, srv.pid, srv.proc.returncode, srv.tail(3000)))
                stop(srv)

    def p_wrk():
        if not shutil.which("wrk"):
            return
        section("wrk (C client), 4 connections")
        for route, body in (("predict", predict_bodies[0]), ("learn", learn_bodies[0])):
            for srv in (state["ref"], state["ch"]):
                log("wrk %s %s" % (srv.name, route))
                w = run_wrk(srv, "/api/" + route, body, 4, S)
                if w:
                    add("wrk_%s_%s" % (srv.name, route), "wrk %s %s, 4 conn" % (srv.name, route),
                        w["rate"], "req/s", ref="wrk_reference_%s" % route, errors=w.get("errors"),
                        notes=["p50 %.3f ms, p99 %.3f ms" % (w.get("p50_ms", float("nan")),
                                                             w.get("p99_ms", float("nan")))])

    def ensure_reference_start():
        """The reference server's start to first predict and RSS (measured once per run)."""
        if "ref_startup" in state:
            return
        t0 = time.perf_counter()
        ref = start("reference-start", [args.python, os.path.join(HERE, "reference_server.py"), model_path])
        try:
            state["ref_startup"] = wait_first_predict(ref, predict_bodies[0], t0)
            state["ref_rss"] = proc_rss_kib(ref.pid)
        finally:
            stop(ref)

    def p_seed():
        ch = state["ch"]
        section("issue 13: the seed workflow and features-only learns over one POST /api/stream connection, "
                "each beside an in-process loop of the same lines (taking turns, best of %d)" % args.repeat)
        feat_lines = workloads.learn_lines(xs, ys)
        makers = {
            "seed": lambda rep: workloads.seed_chunks(xs, ys, STREAM_CHUNK, prefix="w%d-" % rep),
            "feat": lambda rep: workloads.fixed_chunks(feat_lines, STREAM_CHUNK),
        }
        best, passes = {}, {}
        for rep in range(args.repeat):
            for kind in ("seed", "feat"):
                log("in-process loop of the %s stream, pass %d" % (kind, rep + 1))
                loop = workloads.stream_loop(dill.loads(model_bytes), makers[kind](rep), S)
                passes.setdefault("loop_" + kind, []).append(loop)
                best["loop_" + kind] = max(best.get("loop_" + kind, 0.0), loop)
                log("chantilly /api/stream, %s, pass %d" % (kind, rep + 1))
                try:
                    r = stream_ops(ch, makers[kind](rep), time.perf_counter() + S)
                except (OSError, StreamError) as e:
                    results["deviations"].append("POST /api/stream (%s): %s" % (kind, e))
                    continue
                passes.setdefault(kind, []).append(r["rate"])
                if kind not in best or r["rate"] > best[kind]["rate"]:
                    best[kind] = r
        labels = {
            "seed": ("chantilly seed workflow over POST /api/stream: predict with id, learn by id ~%d "
                     "behind, shuffled (%d ops per chunk)" % (workloads.SEED_LAG, STREAM_CHUNK),
                     "in-process loop of the same lines: json.loads + lock + predict_one (features kept "
                     "by id in a dict) or fit_one of the stored features + json.dumps"),
            "feat": ("chantilly learn with features over POST /api/stream (%d per chunk)" % STREAM_CHUNK,
                     "in-process loop of the same lines: json.loads + lock + predict_one + fit_one + "
                     "json.dumps"),
        }
        for kind in ("seed", "feat"):
            stream_label, loop_label = labels[kind]
            r = best.get(kind)
            if r is None:
                add("stream_" + kind, stream_label, None, "ops/s", notes=["failed (see the warnings)"])
            else:
                notes = ["%d ops in %.1f s, %.0f us of server CPU per op" % (
                    r["answered"], r["elapsed"], 1e6 * r["server_cpu"] * r["elapsed"] / max(1, r["answered"]))]
                notes.append("passes: " + ", ".join("{:,.0f}".format(v) for v in passes[kind]))
                if r["failed"]:
                    notes.append("%d failed, last answer: %s" % (r["failed"], r["last"][:120]))
                    results["deviations"].append("POST /api/stream (%s): %d failed ops, last answer %s"
                                                 % (kind, r["failed"], r["last"][:300]))
                add("stream_" + kind, stream_label, r["rate"], "ops/s", inproc="loop_" + kind,
                    server_cpu=r["server_cpu"], client_cpu=r["client_cpu"],
                    errors=r["failed"] + abs(r["sent"] - r["answered"]), notes=notes,
                    target={"vs": "inproc", "min": 0.8, "text": ">= 0.80x loop"})
            add("loop_" + kind, loop_label, best.get("loop_" + kind), "ops/s", inproc="loop_" + kind,
                notes=["passes: " + ", ".join("{:,.0f}".format(v) for v in passes.get("loop_" + kind, []))])

    def p_models():
        names = ["m%d" % i for i in range(10)]
        section("issue 11: learns spread round-robin over 10 named models, beside the same traffic on a single "
                "default model, and on chantilly before named models (fresh servers taking turns, best of %d)"
                % args.repeat)
        base_path, base_name = resolve_baseline(args.baseline, tmp)
        if base_path is None:
            results["warnings"].append("models: no baseline: %s" % base_name)
        fleet = []  # (key, server, stream lines, request bodies)
        try:
            if base_path is not None:
                try:
                    b = start("chantilly-baseline", [args.python, base_path, "run", "--host", "127.0.0.1",
                                                     "--port", "0", "--db", os.path.join(tmp, "baseline.db")])
                    upload(b, model_bytes)
                    fleet.append(("base", b, workloads.learn_lines(xs, ys), learn_bodies))
                except Exception as e:
                    results["warnings"].append("models: the baseline (%s) did not start: %s" % (base_name, str(e)[:600]))
            one = start("chantilly-1-model", chantilly_argv(args, os.path.join(tmp, "one-model.db")))
            upload(one, model_bytes)
            fleet.append(("one", one, workloads.learn_lines(xs, ys), learn_bodies))
            ten = start("chantilly-10-models", chantilly_argv(args, os.path.join(tmp, "ten-models.db")))
            for name in names:
                upload(ten, model_bytes, name)
            ten_bodies = [json.dumps({"model": names[i % len(names)], "features": x, "ground_truth": y}).encode()
                          for i, (x, y) in enumerate(zip(xs, ys))]
            fleet.append(("ten", ten, workloads.learn_lines(xs, ys, names), ten_bodies))
            best = {}
            for rep in range(args.repeat):
                for wl in ("stream", "conn4"):
                    for key, srv, lines, bodies in fleet:
                        log("%s: learns, %s, pass %d" % (srv.name, "/api/stream" if wl == "stream" else
                                                         "4 keep-alive connections", rep + 1))
                        if wl == "stream":
                            r = stream_ops(srv, workloads.fixed_chunks(lines, STREAM_CHUNK), time.perf_counter() + S)
                            r["errors"] = r["failed"] + abs(r["sent"] - r["answered"])
                        else:
                            r = measure_requests(srv, "/api/learn", bodies, 4, S)
                        r.setdefault("passes", [])
                        prev = best.get((key, wl))
                        passes = (prev["passes"] if prev else []) + [r["rate"]]
                        if prev is None or r["rate"] > prev["rate"]:
                            best[key, wl] = r
                        best[key, wl]["passes"] = passes
            spread = models_spread(ten, names)
        finally:
            for _, srv, _, _ in fleet:
                stop(srv)
        what = {"stream": "learn with features over POST /api/stream (%d per chunk)" % STREAM_CHUNK,
                "conn4": "POST /api/learn, 4 keep-alive conn"}
        for wl in ("stream", "conn4"):
            unit = "ops/s" if wl == "stream" else "req/s"
            base_key = "models_base_" + wl if ("base", wl) in best else None
            for key, label in (("base", "chantilly %s (before named models), one model" % base_name),
                               ("one", "chantilly, the default model only"),
                               ("ten", "chantilly, 10 named models, round-robin (\"model\": \"m3\" in each)")):
                r = best.get((key, wl))
                if r is None:
                    continue
                notes = ["passes: " + ", ".join("{:,.0f}".format(v) for v in r["passes"])]
                extra = {}
                if key == "base":
                    extra["anchor"] = ("models_base_" + wl, "before")
                elif key == "one" and base_key:
                    extra["anchor"] = (base_key, "before")
                    extra["target"] = {"vs": "anchor", "min": 0.95, "text": "no slowdown (>= 0.95x before)"}
                elif key == "ten":
                    extra["anchor"] = ("models_one_" + wl, "1 model")
                    if spread:
                        notes.append(spread)
                if wl == "conn4":
                    notes.insert(0, "p50 %.3f ms, p99 %.3f ms" % (r["p50_ms"], r["p99_ms"]))
                add("models_%s_%s" % (key, wl), "%s: %s" % (label, what[wl]), r["rate"], unit,
                    inproc="inproc_json_learn", server_cpu=r.get("server_cpu"), client_cpu=r.get("client_cpu"),
                    client_bound=r.get("client_bound"), errors=r.get("errors"), notes=notes, **extra)

    def p_growth():
        top = args.ids
        steps = sorted({n for n in GROWTH_STEPS if n < top} | {top})
        ensure_reference_start()
        db = os.path.join(tmp, "growth.db")
        g = state["growth"] = start("chantilly-growth", chantilly_argv(args, db))
        upload(g, model_bytes)
        rss_start = proc_rss_kib(g.pid)
        bad_body = json.dumps({"features": {"gallup": "oops"}, "ground_truth": 1.0}).encode()
        fill = {"answered": 0, "elapsed": 0.0, "failed": 0, "cpu": 0.0}
        base = (rss_start, 0, "its start")
        per, mem, done = [], {}, 0
        try:
            for n in steps:
                log("growth: predictions with ids id-%d .. id-%d through /api/stream" % (done, n - 1))
                r = stream_ops(g, workloads.id_chunks(xs, done, n, STREAM_CHUNK), None, timeout=600)
                fill["answered"] += r["answered"]
                fill["elapsed"] += r["elapsed"]
                fill["failed"] += r["failed"] + abs(n - done - r["answered"])
                fill["cpu"] += r["server_cpu"] * r["elapsed"]
                if r["answered"] != n - done or r["failed"]:
                    results["deviations"].append(
                        "storing ids %d..%d through /api/stream: answered %d, failed %d, last answer %s"
                        % (done, n - 1, r["answered"], r["failed"], r["last"][:300]))
                log("stored %d ids in %.1f s" % (r["answered"], r["elapsed"]))
                done = n
                step = {"n": n}
                if n == steps[-1]:
                    mem = {"rss": proc_rss_kib(g.pid), "hwm": proc_rss_kib(g.pid, "VmHWM:"), "db": db_size(db),
                           "base": base}
                    status, data = http_call(g, "POST", "/api/learn",
                                             json.dumps({"id": "id-0", "ground_truth": 1.0}).encode(), JSON_HEADERS)
                    if not 200 <= status < 300:  # 201: a learn
                        results["deviations"].append("POST /api/learn id-0 -> %s %s" % (status, data[:200]))
                    status, data = http_call(g, "GET", "/api/stats")
                    try:
                        results["stats_after_ids"] = json.loads(data)
                    except ValueError:
                        results["stats_after_ids"] = data[:300].decode(errors="replace")
                log("growth: %d learns the model raises on, after %d logged calls" % (args.undo_calls, n))
                step["undo"] = u = measure_undo(g, bad_body, xs, ys, args.undo_calls)
                if set(u["statuses"]) != {422}:
                    results["deviations"].append("a learn with features %s answered %s (expected 422 each time), "
                                                 "first: %s" % (bad_body.decode(), dict(u["statuses"]), u["first"]))
                firsts, urls, imports, pythons = [], [], [], []
                for k in range(args.restarts):
                    log("growth: kill -9 and restart after %d logged calls (%d of %d)" % (n, k + 1, args.restarts))
                    g.proc.kill()
                    g.proc.wait(timeout=10)
                    stop(g)
                    t0 = time.perf_counter()
                    g = state["growth"] = start("chantilly-growth-%s" % fmt_count(n), chantilly_argv(args, db))
                    firsts.append(wait_first_predict(g, predict_bodies[0], t0))
                    urls.append(g.t_url)
                    body = json.dumps({"id": "id-%d" % (n - 1 - k), "ground_truth": 1.0}).encode()
                    status, data = http_call(g, "POST", "/api/learn", body, JSON_HEADERS)
                    if not 200 <= status < 300:  # 201: a learn
                        results["deviations"].append("after kill -9 at %d calls, POST /api/learn %s -> %s %s"
                                                     % (n, body.decode(), status, data[:200]))
                    a, b = import_probe(args.python, model_path)
                    imports.append(a)
                    pythons.append(b)
                step.update(first=median(firsts), url=median(urls), import_=median(imports),
                            python=median(pythons), firsts=firsts, own=median([f - i for f, i in zip(firsts, imports)]))
                step["import"] = step.pop("import_")
                base = (proc_rss_kib(g.pid), n, "the restart at %s" % fmt_count(n))
                per.append(step)
                log("growth at %s: undo median %.2f ms, restart to first answer %.2f s (import+load %.2f s)" % (
                    fmt_count(n), 1e3 * u["median"], step["first"], step["import"]))

            section("issue 13: undo and restart as logged calls grow (a fresh chantilly fed predictions with ids "
                    "through /api/stream; at each step %d learns the model raises on, then kill -9 and a "
                    "restart)" % args.undo_calls)
            first = per[0]["n"]
            for s_ in per:
                u, n = s_["undo"], s_["n"]
                key = "undo_%d" % n
                extra = {"anchor": ("undo_%d" % first, fmt_count(first))}
                if n != first:
                    extra["target"] = {"vs": "anchor", "max": FLAT, "text": "flat (<= %.1fx %s)" % (FLAT, fmt_count(first))}
                add(key, "undo after %s logged calls: a learn the model raises on (422), median of %d"
                    % (fmt_count(n), len(u["bad"])), 1e3 * u["median"], "ms",
                    notes=["p90 %.2f ms, max %.2f ms" % (1e3 * u["p90"], 1e3 * u["max"]),
                           "a good learn just before: median %.2f ms" % (1e3 * u["good_median"]),
                           "each after a batch of 0-63 learns (%d learns in all)" % u["learns"]], **extra)
            for s_ in per:
                n = s_["n"]
                extra = {"anchor": ("restart_%d" % first, fmt_count(first))}
                if n != first:
                    extra["target"] = {"vs": "anchor", "max": FLAT, "text": "flat (<= %.1fx %s)" % (FLAT, fmt_count(first))}
                add("restart_%d" % n, "restart after %s logged calls (%s ids stored), kill -9: process start to "
                    "first answer, median of %d" % (fmt_count(n), fmt_count(n), len(s_["firsts"])), s_["first"], "s",
                    notes=["restarts: " + ", ".join("%.2f s" % v for v in s_["firsts"]),
                           "URL line at %.2f s" % s_["url"],
                           "importing creme and loading the model in a fresh interpreter: %.2f s (+%.2f s "
                           "Python start)" % (s_["import"], s_["python"] - s_["import"])], **extra)
            for s_ in per:
                n = s_["n"]
                add("restart_own_%d" % n, "restart after %s logged calls: chantilly's own part (each restart minus "
                    "the import and load timed beside it, median)" % fmt_count(n), s_["own"], "s",
                    anchor=("restart_own_%d" % first, fmt_count(first)),
                    notes=["includes starting Python twice: chantilly re-executes itself with the database's "
                           "hash seed"] if n == first else [])

            section("memory: predictions stored by id (the same chantilly)")
            ref_rss = state.get("ref_rss")
            add("rss_reference", "reference server RSS (model loaded)", ref_rss / 1024 if ref_rss else None,
                "MiB", ref="rss_reference")
            add("rss_before", "chantilly RSS at start, model loaded", rss_start / 1024 if rss_start else None,
                "MiB", ref="rss_reference")
            add("ids_fill_rate", "store %d predictions by id (stream, in %d steps)" % (top, len(steps)),
                fill["answered"] / fill["elapsed"] if fill["elapsed"] else None, "ops/s",
                ref="ref_best_predict", inproc="inproc_json_predict",
                server_cpu=fill["cpu"] / fill["elapsed"] if fill["elapsed"] else None, errors=fill["failed"],
                notes=["took %.1f s" % fill["elapsed"]])
            rss0, n0, since = mem["base"]
            add("rss_after", "chantilly RSS after %d stored ids" % top, mem["rss"] / 1024 if mem["rss"] else None,
                "MiB", ref="rss_reference",
                notes=["+%.1f MiB over the last %s ids (since %s), %.0f bytes/id" % (
                    (mem["rss"] - rss0) / 1024, fmt_count(top - n0), since,
                    (mem["rss"] - rss0) * 1024 / max(1, top - n0))] if mem["rss"] and rss0 else [])
            add("rss_peak", "chantilly peak RSS (VmHWM) of that process", mem["hwm"] / 1024 if mem["hwm"] else None,
                "MiB", ref="rss_reference")
            add("db_size", "database size after the ids (db + wal)", mem["db"] / 2**20, "MiB",
                notes=["%.0f bytes/id" % (mem["db"] / max(1, top))])

            log("restarting chantilly on the filled database after SIGTERM")
            section("restart on the database holding the model and the stored ids, after SIGTERM")
            shutdown = stop(g)
            add("shutdown", "chantilly shutdown (SIGTERM to exit)", shutdown, "s")
            t0 = time.perf_counter()
            g = state["growth"] = start("chantilly-restarted", chantilly_argv(args, db))
            t_first = wait_first_predict(g, predict_bodies[0], t0)
            add("startup_ref", "reference server start to first predict", state.get("ref_startup"), "s",
                ref="startup_ref")
            add("startup_url", "chantilly restart to URL line (%d ids in db)" % top, g.t_url, "s", ref="startup_ref")
            add("startup_first", "chantilly restart to first predict (%d ids in db)" % top, t_first, "s",
                ref="startup_ref")
            rss = proc_rss_kib(g.pid)
            add("rss_restart", "chantilly RSS after the restart", rss / 1024 if rss else None, "MiB",
                ref="rss_reference")
            body = json.dumps({"id": "id-%d" % (top // 2), "ground_truth": 1.0}).encode()
            status, data = http_call(g, "POST", "/api/learn", body, JSON_HEADERS)
            if not 200 <= status < 300:  # 201: a learn
                results["deviations"].append(
                    "after the restart, POST /api/learn %s -> %s %s" % (body.decode(), status, data[:200]))
        finally:
            if state.get("growth") is not None:
                stop(state.pop("growth"))

    def p_fastapi():
        """The FastAPI service a user would write instead (bench/fastapi_app.py on uvicorn), a fresh
        chantilly and the reference server take turns on the same keep-alive workloads, --repeat
        rounds; the rows give the median round (a shared 2-core machine is noisy)."""
        import anchors

        variants = {"sync": ["sync"], "async": ["async"], "both": ["sync", "async"]}[args.fastapi_variant]
        ref = start("reference-fastapi", [args.python, os.path.join(HERE, "reference_server.py"), model_path])
        ch = start("chantilly-fastapi", chantilly_argv(args, os.path.join(tmp, "fastapi.db")))
        upload(ch, model_bytes)
        fas, why, versions = {}, None, "?"
        try:
            try:
                vpy = anchors.fastapi_venv()
                versions = anchors.fastapi_versions(vpy)
                for v in variants:
                    fas[v] = anchors.FastAPIServer(vpy, v)
                    upload(fas[v], model_bytes)
                    log("FastAPI (%s routes) at http://%s:%d/: %s" % (
                        "def" if v == "sync" else "async def", fas[v].host, fas[v].port, versions))
                # the same model answers the same prediction (a contract check, not a measurement)
                want = json.loads(http_call(ch, "POST", "/api/predict", predict_bodies[0], JSON_HEADERS)[1])
                for v, srv in fas.items():
                    got = json.loads(http_call(srv, "POST", "/api/predict", predict_bodies[0], JSON_HEADERS)[1])
                    if got.get("prediction") != want.get("prediction"):
                        results["deviations"].append("FastAPI (%s) predicts %r where chantilly predicts %r" % (
                            v, got, want))
            except Exception as e:  # fail soft: chantilly and the reference are still measured
                why = str(e) if isinstance(e, anchors.Unavailable) else "failed: %r" % (e,)
                log("FastAPI anchor unavailable: %s" % why)
                for srv in fas.values():
                    srv.stop()
                fas = {}
            id_templates = [id_template(b) for b in predict_bodies]
            workloads_ = (("predict_id", "predict with a new id each", "/api/predict", id_templates,
                           "inproc_json_predict"),
                          ("learn", "learn with features", "/api/learn", learn_bodies, "inproc_json_learn"))
            fleet = [("reference", ref), ("chantilly", ch)] + [("fastapi_" + v, srv) for v, srv in fas.items()]
            passes = collections.defaultdict(list)
            for rnd in range(args.repeat):
                for wl, what, path, bodies, _ in workloads_:
                    for conns in (4, 1):
                        k = rnd % len(fleet)  # each server goes first in turn
                        for name, srv in fleet[k:] + fleet[:k]:
                            if isinstance(srv, anchors.FastAPIServer) and not srv.alive():
                                continue
                            log("fastapi part, round %d of %d: %s %s, %d conn" % (rnd + 1, args.repeat, name, wl,
                                                                                   conns))
                            r = measure_requests(srv, path, bodies, conns, S,
                                                 id_prefix="r%d" % rnd if wl == "predict_id" else None)
                            passes[name, wl, conns].append(r)
            for v, srv in fas.items():
                if not srv.alive():
                    results["deviations"].append("FastAPI (%s) exited during the run: %s" % (
                        v, srv.proc.output(1500)))
        finally:
            for srv in fas.values():
                srv.stop()
            stop(ch)
            stop(ref)

        def mid(name, wl, conns):
            ps = passes.get((name, wl, conns)) or []
            if not ps:
                return None
            return sorted(ps, key=lambda r: r["rate"])[(len(ps) - 1) // 2]  # the median round (lower of two)

        def round_ratios(wl, conns, other):
            """chantilly / other, round by round (each round measures both within seconds)."""
            return [a["rate"] / b["rate"] for a, b in zip(passes.get(("chantilly", wl, conns), []),
                                                          passes.get((other, wl, conns), [])) if b["rate"]]

        short = {"reference": "reference", "chantilly": "chantilly", "fastapi_sync": "FastAPI",
                 "fastapi_async": "FastAPI async def"}
        labels = {"reference": "reference server (stdlib; ignores the id, stores nothing)", "chantilly": "chantilly",
                  "fastapi_sync": "FastAPI + uvicorn (def routes, thread pool)",
                  "fastapi_async": "FastAPI + uvicorn (async def routes)"}
        first_fa = "fastapi_" + variants[0]
        section("FastAPI anchor: the service a user would write instead (bench/fastapi_app.py: %s; uvicorn, 1 worker, "
                "uvloop, httptools, no access log), beside a fresh chantilly and the reference server, taking turns; "
                "median of %d round(s)" % (versions, args.repeat))
        summary = {}
        for wl, what, path, bodies, inproc in workloads_:
            for conns in (4, 1):
                refkey = "fa_reference_%s_%d" % (wl, conns)
                fakey = "fa_%s_%s_%d" % (first_fa, wl, conns)
                for name, _ in fleet:
                    r = mid(name, wl, conns)
                    if r is None:
                        continue
                    key = "fa_%s_%s_%d" % (name, wl, conns)
                    rates = [p["rate"] for p in passes[name, wl, conns]]
                    notes = ["rounds: " + ", ".join("{:,.0f}".format(v) for v in rates),
                             "p50 %.3f ms, p99 %.3f ms" % (r["p50_ms"], r["p99_ms"])]
                    extra = {}
                    if name == "chantilly":
                        for other, oname in ((first_fa, "FastAPI"), ("reference", "reference")):
                            per = round_ratios(wl, conns, other)
                            if per:
                                notes.append("chantilly / %s by round: %s (median %.2fx)" % (
                                    oname, ", ".join("%.2fx" % x for x in per), median(per)))
                        if fas:
                            extra["anchor"] = (fakey, "FastAPI")
                    add(key, "%s: %s, %d %sconn" % (labels[name], what, conns, "keep-alive " if conns > 1 else ""),
                        r["rate"], "req/s", ref=refkey, inproc=inproc, server_cpu=r["server_cpu"],
                        client_cpu=r["client_cpu"], client_bound=r["client_bound"], errors=r["errors"], notes=notes,
                        **extra)
                    summary.setdefault("%s_%d" % (wl, conns), {})[name] = r["rate"]
        if why:
            add("fa_unavailable", "FastAPI anchor", None, "req/s", notes=["unavailable: %s" % why[:400]])
            results["warnings"].append("the FastAPI anchor is unavailable: %s" % why[:600])
        results["fastapi"] = {"versions": versions, "rounds": args.repeat, "median_req_per_s": summary,
                              "passes": {"%s %s %d" % k: [p["rate"] for p in v] for k, v in passes.items()}}
        results["fastapi"]["ratios"] = {}
        for wl, what, _, _, _ in workloads_:
            for conns in (4, 1):
                m = summary.get("%s_%d" % (wl, conns), {})
                c = m.get("chantilly")
                parts_ = ["%s %s" % (short[n], fmt_num(m.get(n), "req/s")) for n, _ in fleet if n in m]
                ratios = []
                for n, _ in fleet[2:] + fleet[:1]:  # FastAPI first, then the reference
                    if n not in m:
                        continue
                    per = round_ratios(wl, conns, n)
                    ratios.append("chantilly / %s %s (median of the rounds' ratios %s)" % (
                        short[n], ratio(c, m[n]), "%.2fx" % median(per) if per else "n/a"))
                    results["fastapi"]["ratios"]["%s %d chantilly/%s" % (wl, conns, n)] = {
                        "of_medians": c / m[n] if c and m[n] else None, "by_round": per}
                results["anchor_notes"].append("FastAPI anchor, %s, %d conn, median of %d round(s): %s; %s." % (
                    what, conns, args.repeat, ", ".join(parts_), "; ".join(ratios)))

    def p_anchors():
        import anchors

        def start_chantilly(sync=None):
            name = "chantilly-anchors" + ("-sync-" + sync if sync else "")
            return start(name, chantilly_argv(args, os.path.join(tmp, name + ".db"), sync))

        ctx = types.SimpleNamespace(
            add=add, section=section, warn=results["warnings"].append, info=results["anchor_notes"].append,
            start_chantilly=start_chantilly, stop_server=stop, upload=lambda srv: upload(srv, model_bytes),
            stream_ops=stream_ops, xs=xs, ys=ys, model_bytes=model_bytes, seconds=S, repeat=args.repeat,
            tmp=tmp, original_python=args.original_python, chunk=STREAM_CHUNK)
        anchors.run(ctx)

    def p_budget():
        log("per-request budget (bench/budget.py, about 30 s)")
        proc = subprocess.run([args.python, os.path.join(HERE, "budget.py"), "--json", "--chantilly", args.chantilly],
                              cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, timeout=600)
        if proc.returncode != 0:  # its progress and traceback went to stderr, as they came
            raise RuntimeError("bench/budget.py exited with status %s" % proc.returncode)
        results["budget"] = json.loads(proc.stdout)

    def run_all():
        want = set(parts)
        if want & NEEDS_INPROC:
            phase("in-process loops", p_inprocess)
        if want & NEEDS_SERVERS:
            phase("start servers", p_servers)
        if "requests" in want and "ch" in state and "ref" in state:
            phase("request/response", p_requests)
        if "stream" in want and "ch" in state:
            phase("stream", p_stream)
        if "batch" in want and "ch" in state:
            phase("batch", p_batch)
        if "seed" in want and "ch" in state:
            phase("seed workflow", p_seed)
        state["inproc_at"] = len(rows)
        if "sync" in want:
            phase("durability", p_sync)
        if "wrk" in want and "ch" in state and "ref" in state:
            phase("wrk", p_wrk)
        for srv in [state.pop(k) for k in ("ch", "ref") if k in state]:
            stop(srv)  # the shared servers are done: the parts below start their own
        if "models" in want:
            phase("models", p_models)
        if "growth" in want:
            phase("growth: undo, restart, memory", p_growth)
        if "fastapi" in want:
            phase("fastapi", p_fastapi)
        if "anchors" in want:
            phase("anchors", p_anchors)
        if want & NEEDS_INPROC:
            phase("in-process loops, second pass", p_inprocess)
        if "inproc" in state:
            phase("in-process rows", p_inproc_rows)
        if "budget" in want:
            phase("budget", p_budget)

    try:
        run_all()
    finally:
        for srv in list(servers):
            try:
                stop(srv)
            except Exception as e:  # keep stopping the others
                log("could not stop %s: %r" % (srv.name, e))
        shutil.rmtree(tmp, ignore_errors=True)

    results["elapsed_s"] = time.perf_counter() - t_bench
    results["machine"]["loadavg_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    if "inproc_passes" in state:
        results["inproc_passes"] = state["inproc_passes"]
    results["warnings"] += ["contract deviation: " + d for d in results["deviations"]]
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
