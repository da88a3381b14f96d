"""Anchors for bench/bench.py: the original chantilly (0.2.0), Vowpal Wabbit's daemon and the
FastAPI service a user would write instead of chantilly (bench/fastapi_app.py).

Both run from their own virtualenvs under bench/, built on first use and cached (a marker
file holds what was installed; a change of pins or interpreter rebuilds):

* bench/.venv-original: chantilly==0.2.0 (installed with --no-deps) with the Flask 1.1 stack
  it was released with and creme 0.6.1, built the way the project's Makefile builds it
  (numpy/Cython first, then creme without build isolation).  Compiling creme takes a few
  minutes the first time when pip has no cached wheel for it.
* bench/.venv-vw: the vowpalwabbit wheel.  It ships no `vw` binary, but its Python module
  runs the real C++ daemon (see VW_DAEMON below).
* bench/.venv-fastapi: creme 0.6.1 (built as above, so it unpickles the bench's model), dill,
  fastapi and uvicorn[standard] (uvloop, httptools), for bench/fastapi_app.py.

Nothing here is imported by chantilly or its tests; bench.py calls run() and everything
fails soft: an anchor that cannot be installed or started becomes a table row saying why.
"""

import collections
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from workloads import SEED_LAG, seed_chunks

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORIGINAL_VENV = os.path.join(HERE, ".venv-original")
VW_VENV = os.path.join(HERE, ".venv-vw")
FASTAPI_VENV = os.path.join(HERE, ".venv-fastapi")
MARKER = ".installed"

ORIGINAL_VERSION = "0.2.0"
# chantilly 0.2.0 (May 2020) declares creme>=0.5.0, dill, Flask>=1.1.1 and marshmallow>=3.5.1
# (it validates payloads with marshmallow, not Cerberus).  Flask 1.1's own dependencies are
# pinned to their 2020-era versions, which are the newest that still work with it.
ORIGINAL_PINS = ["Flask==1.1.4", "Werkzeug==1.0.1", "Jinja2==2.11.3", "itsdangerous==1.1.0",
                 "MarkupSafe==2.0.1", "click==7.1.2", "marshmallow==3.26.2"]
VW_PIN = "vowpalwabbit==9.11.9"
# The FastAPI anchor: what `pip install fastapi "uvicorn[standard]"` gave when it was added.
FASTAPI_PINS = ["fastapi==0.165.0", "uvicorn[standard]==0.55.0"]
BUILD_STEP_TIMEOUT = 1200  # seconds for one pip command (compiling creme is the slow one)

# pyvw.Workspace("--daemon ...") listens, then forks a child per connection (one at a time
# with --num_children 1); the parent never returns from the constructor.  In the child the
# constructor returns with the connection as its input: run VW's own parser/learner loop on
# it (predictions go back on the same socket), then exit so that the parent forks the next.
VW_DAEMON = """\
import os, sys
from vowpalwabbit import pyvw
import pylibvw
ws = pyvw.Workspace("--daemon --port %s --foreground --quiet --num_children 1" % sys.argv[1])
pylibvw.vw.run_parser(ws)
ws.finish()
os._exit(0)
"""

JSON = {"Content-Type": "application/json"}


def log(*args):
    print("[bench]", *args, file=sys.stderr, flush=True)


class Unavailable(Exception):
    """An anchor that cannot be installed or started: the table says why."""


# --------------------------------------------------------------------------- processes


def proc_cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(c) for c in f.read().split()]
    except (OSError, ValueError):
        pass
    return out


def tree_cpu_seconds(pid):
    """CPU seconds of a process and its live children (VW's daemon works in a child)."""
    return proc_cpu_seconds(pid) + sum(proc_cpu_seconds(c) for c in children(pid))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A subprocess in its own session (so its children are stopped with it)."""

    def __init__(self, name, argv, env=None, cwd=None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix="bench-%s-" % name, suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def output(self, n=None):
        try:
            with open(self.log.name, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        if n:
            data = data[-n:]
        return data.decode(errors="replace")

    def wait_port(self, port, timeout=60, probe=None):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable("%s exited with status %s: %s" % (
                    self.name, self.proc.returncode, self.output(600).strip()[-600:]))
            try:
                if probe:
                    if probe():
                        return
                else:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    return
            except (OSError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.05)
        raise Unavailable("%s did not answer on port %d within %ds (%r)" % (self.name, port, timeout, last))

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:  # the leader is gone; its group may not be
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def cleanup(self):
        self.stop()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


# --------------------------------------------------------------------------- virtualenvs


def makefile_pin(name, default):
    """A version pin of the project's Makefile (NUMPY_VERSION ?= ...), so both builds agree."""
    try:
        with open(os.path.join(ROOT, "Makefile")) as f:
            m = re.search(r"^%s\s*\??=\s*(\S+)" % re.escape(name), f.read(), re.M)
        return m.group(1) if m else default
    except OSError:
        return default


def probe_python(exe):
    """(version "3.11", has dbm.gnu) of an interpreter able to create virtualenvs, or None."""
    code = ("import sys, venv, ensurepip\n"
            "try:\n import dbm.gnu; g = 1\nexcept ImportError:\n g = 0\n"
            "print('%d.%d %d' % (sys.version_info[0], sys.version_info[1], g))")
    try:
        out = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode:
        return None
    version, gdbm = out.stdout.split()
    return version, gdbm == "1"


def pick_original_python(explicit=None):
    """The interpreter for the original's virtualenv.

    Same minor version as this one (creme is built against the same numpy), and preferably
    one whose shelve uses gdbm (dbm.gnu), as most Python builds do: without it shelve falls
    back to dbm.dumb, whose index does not survive concurrent writers.
    """
    if explicit:
        info = probe_python(explicit)
        if not info:
            raise Unavailable("%s cannot create a virtualenv" % explicit)
        return explicit, info[1]
    want = "%d.%d" % sys.version_info[:2]
    seen, first = set(), None
    cands = [getattr(sys, "_base_executable", None), sys.executable, "/usr/bin/python" + want,
             "/usr/local/bin/python" + want, shutil.which("python" + want), "/usr/bin/python3",
             shutil.which("python3")]
    for exe in cands:
        if not exe or not os.path.exists(exe):
            continue
        real = os.path.realpath(exe)
        if real in seen:
            continue
        seen.add(real)
        info = probe_python(exe)
        if not info or info[0] != want:
            continue
        if info[1]:
            return exe, True
        first = first or exe
    if first:
        return first, False
    raise Unavailable("no Python %s able to create a virtualenv was found" % want)


def ensure_venv(path, python, steps, spec, what):
    """Build (or reuse) a virtualenv; returns its python.  steps: lists of pip arguments."""
    marker = os.path.join(path, MARKER)
    spec_text = json.dumps(spec, sort_keys=True)
    vpy = os.path.join(path, "bin", "python")
    try:
        with open(marker) as f:
            if f.read() == spec_text and os.path.exists(vpy):
                return vpy
    except OSError:
        pass
    log("building %s in %s (first use only: cached afterwards; compiling creme can take a few "
        "minutes)" % (what, os.path.relpath(path, ROOT)))
    shutil.rmtree(path, ignore_errors=True)
    t0 = time.perf_counter()
    try:
        subprocess.run([python, "-m", "venv", path], check=True, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as e:
        raise Unavailable("could not create a virtualenv with %s: %s" % (python, e))
    build_log = os.path.join(path, "build.log")
    with open(build_log, "ab") as out:
        for args in steps:
            cmd = [vpy, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"] + args
            out.write(("$ %s\n" % " ".join(cmd)).encode())
            out.flush()
            try:
                rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    timeout=BUILD_STEP_TIMEOUT).returncode
            except (OSError, subprocess.SubprocessError) as e:
                rc = repr(e)
            if rc != 0:
                with open(build_log, "rb") as f:
                    tail = [l for l in f.read().decode(errors="replace").splitlines()
                            if l.strip() and "is ignored" not in l][-4:]
                raise Unavailable("`pip install %s` failed (%s; log in %s): %s" % (
                    " ".join(args), rc, os.path.relpath(build_log, ROOT), " | ".join(tail)[-500:]))
    with open(marker, "w") as f:
        f.write(spec_text)
    log("built %s in %.0f s" % (what, time.perf_counter() - t0))
    return vpy


def original_venv(python=None):
    exe, gdbm = pick_original_python(python)
    numpy = makefile_pin("NUMPY_VERSION", "2.4.6")
    dill = makefile_pin("DILL_VERSION", "0.4.1")
    steps = [
        ["cython", "numpy==" + numpy, "setuptools", "wheel"],
        ["--no-build-isolation", "creme==0.6.1"],
        ORIGINAL_PINS + ["dill==" + dill],
        ["--no-deps", "chantilly==" + ORIGINAL_VERSION],
    ]
    spec = {"python": os.path.realpath(exe), "steps": steps}
    vpy = ensure_venv(ORIGINAL_VENV, exe, steps, spec, "the original chantilly's virtualenv")
    return vpy, "gdbm" if gdbm else "dbm.dumb"


def vw_venv():
    steps = [[VW_PIN]]
    spec = {"python": os.path.realpath(getattr(sys, "_base_executable", sys.executable)), "steps": steps}
    return ensure_venv(VW_VENV, spec["python"], steps, spec, "Vowpal Wabbit's virtualenv")


def fastapi_venv():
    """bench/.venv-fastapi: creme 0.6.1 built like the project's (numpy/Cython first, then creme
    without build isolation), the project's dill, and the FastAPI stack; returns its python."""
    numpy = makefile_pin("NUMPY_VERSION", "2.4.6")
    dill = makefile_pin("DILL_VERSION", "0.4.1")
    steps = [
        ["cython", "numpy==" + numpy, "setuptools", "wheel"],
        ["--no-build-isolation", "creme==0.6.1"],
        ["dill==" + dill] + FASTAPI_PINS,
    ]
    spec = {"python": os.path.realpath(getattr(sys, "_base_executable", sys.executable)), "steps": steps}
    return ensure_venv(FASTAPI_VENV, spec["python"], steps, spec, "the FastAPI anchor's virtualenv")


# --------------------------------------------------------------------------- FastAPI


class FastAPIServer:
    """bench/fastapi_app.py on uvicorn, one process (--workers 1), uvloop and httptools, no access
    log, on 127.0.0.1 and a free port.  Has what bench.measure_requests and bench.upload use
    (name, host, port, pid, conn()).  variant "async" serves the routes as `async def`."""

    def __init__(self, vpy, variant="sync"):
        self.name = "fastapi" if variant == "sync" else "fastapi-" + variant
        self.host = "127.0.0.1"
        env = dict(os.environ, PYTHONUNBUFFERED="1", BENCH_FASTAPI_ASYNC="1" if variant == "async" else "0")
        for k in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
            env.pop(k, None)
        for attempt in range(3):
            self.port = free_port()
            self.proc = Proc(self.name, [vpy, "-m", "uvicorn", "fastapi_app:app", "--app-dir", HERE,
                                         "--host", self.host, "--port", str(self.port), "--workers", "1",
                                         "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                                         "--log-level", "warning"], env=env, cwd=HERE)
            try:
                self.proc.wait_port(self.port, timeout=60)
                break
            except Unavailable:
                self.proc.cleanup()
                if attempt == 2:
                    raise
        self.pid = self.proc.pid

    def conn(self, timeout=60):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def alive(self):
        return self.proc.proc.poll() is None

    def stop(self):
        self.proc.cleanup()


def fastapi_versions(vpy):
    """"fastapi X, uvicorn Y, ..." as installed in its virtualenv."""
    code = ("import importlib.metadata as m\n"
            "print(', '.join('%s %s' % (p, m.version(p)) for p in "
            "('fastapi', 'uvicorn', 'uvloop', 'httptools', 'pydantic')))")
    try:
        return subprocess.run([vpy, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# --------------------------------------------------------------------------- the original chantilly


class Original:
    """chantilly 0.2.0 as its README runs it: `chantilly init regression`, `chantilly run`."""

    def __init__(self, vpy, tmp):
        self.dir = tempfile.mkdtemp(prefix="original-", dir=tmp)
        bindir = os.path.dirname(vpy)
        self.exe = os.path.join(bindir, "chantilly")
        self.env = dict(os.environ, SHELVE_PATH=os.path.join(self.dir, "store"), PYTHONUNBUFFERED="1")
        for k in list(self.env):
            if k.startswith("FLASK_") or k in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
                del self.env[k]
        self.env["PATH"] = bindir + os.pathsep + self.env.get("PATH", "")
        init = subprocess.run([self.exe, "init", "regression"], env=self.env, cwd=self.dir,
                              capture_output=True, timeout=120)
        if init.returncode:
            raise Unavailable("`chantilly init regression` failed: %s" % init.stderr[-500:].decode(errors="replace"))
        self.proc = None
        self.host = "127.0.0.1"
        for attempt in range(3):
            self.port = free_port()
            self.proc = Proc("original", [self.exe, "run", "--host", "127.0.0.1", "--port", str(self.port)],
                             env=self.env, cwd=self.dir)
            try:
                self.proc.wait_port(self.port, probe=self._ready)
                break
            except Unavailable:
                self.proc.cleanup()
                if attempt == 2:
                    raise
        self.pid = self.proc.pid

    def _ready(self):
        status, _ = call(self.host, self.port, "GET", "/api/init", timeout=5)
        return status == 200

    def exceptions(self):
        """Counter of the exception lines in the server's log (the causes of its 500s)."""
        counts = collections.Counter()
        lines = self.proc.output().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Traceback (most recent call last)"):
                for j in range(i + 1, min(len(lines), i + 200)):
                    if lines[j] and not lines[j].startswith(" "):
                        nxt = next((l for l in lines[j + 1:j + 4] if l.strip()), "")
                        if not nxt.startswith(("During handling", "The above exception")):
                            counts[lines[j].replace(self.env["SHELVE_PATH"], "SHELVE_PATH")[:120]] += 1
                        break
        return counts

    def stop(self):
        if self.proc:
            self.proc.cleanup()


def call(host, port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# --------------------------------------------------------------------------- predict-with-id + learn-by-id pairs


def pairs_worker(host, port, xs, ys, prefix, start_at, seconds, out):
    """One client: POST /api/predict {"id", "features"} then POST /api/learn {"id", "ground_truth"},
    on one http.client connection (kept alive when the server allows it), for `seconds`."""
    res = {"ok": 0, "failed": 0, "kinds": collections.Counter(), "first": {}, "connects": 0,
           "lat": [], "cpu": 0.0, "wall": 0.0}
    try:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        n = len(xs)

        def post(path, payload):
            if conn.sock is None:
                res["connects"] += 1
            try:
                conn.request("POST", path, body=json.dumps(payload), headers=JSON)
                r = conn.getresponse()
                data = r.read()
                return r.status, data
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                return type(e).__name__, b""

        delay = start_at - time.time()
        if delay > 0:
            time.sleep(delay)
        perf = time.perf_counter
        cpu0 = time.process_time()
        t_begin = perf()
        t_end = t_begin + seconds
        i = 0
        t1 = t_begin
        while True:
            t0 = perf()
            if t0 >= t_end:
                break
            key = "%s-%d" % (prefix, i)
            s1, d1 = post("/api/predict", {"id": key, "features": xs[i % n]})
            s2, d2 = post("/api/learn", {"id": key, "ground_truth": ys[i % n]})
            t1 = perf()
            i += 1
            ok1 = isinstance(s1, int) and 200 <= s1 < 300
            ok2 = isinstance(s2, int) and 200 <= s2 < 300
            if ok1 and ok2:
                res["ok"] += 1
                res["lat"].append(t1 - t0)
            else:
                res["failed"] += 1
                kind = "predict %s, learn %s" % (s1, s2)
                res["kinds"][kind] += 1
                if kind not in res["first"]:
                    res["first"][kind] = (d1 if not ok1 else d2)[:200].decode(errors="replace")
        res.update(cpu=time.process_time() - cpu0, wall=t1 - t_begin)
        conn.close()
    except Exception as e:  # report, do not hang the parent
        res["kinds"]["client crashed: %r" % (e,)] += 1
        res["failed"] += 1
    out.put(res)


def measure_pairs(host, port, pid, xs, ys, conns, seconds, tag):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 0.5 + 0.05 * conns
    procs = [ctx.Process(target=pairs_worker, daemon=True,
                         args=(host, port, xs, ys, "%s-c%d" % (tag, k), start_at, seconds, out))
             for k in range(conns)]
    for p in procs:
        p.start()
    try:
        delay = start_at - time.time()
        if delay > 0:
            time.sleep(delay)
        cpu0, t0 = proc_cpu_seconds(pid), time.perf_counter()
        results = [out.get(timeout=seconds + 120) for _ in procs]
        cpu1, t1 = proc_cpu_seconds(pid), time.perf_counter()
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
    kinds, first = collections.Counter(), {}
    for r in results:
        kinds.update(r["kinds"])
        for k, v in r["first"].items():
            first.setdefault(k, v)
    lat = sorted(x for r in results for x in r["lat"])
    ok = sum(r["ok"] for r in results)
    failed = sum(r["failed"] for r in results)
    return {
        "rate": sum(r["ok"] / r["wall"] for r in results if r["wall"] > 0),
        "ok": ok, "failed": failed, "kinds": kinds, "first": first,
        "connects": sum(r["connects"] for r in results),
        "p50_ms": lat[len(lat) // 2] * 1e3 if lat else float("nan"),
        "server_cpu": (cpu1 - cpu0) / (t1 - t0),
        "client_cpu": max((r["cpu"] / r["wall"] for r in results if r["wall"] > 0), default=float("nan")),
    }


# --------------------------------------------------------------------------- Vowpal Wabbit


def vw_lines(xs, ys):
    return [("%r |f %s\n" % (y, " ".join("%s:%r" % kv for kv in x.items()))).encode() for x, y in zip(xs, ys)]


def vw_stream(port, pid, chunk, lines_per_chunk, seconds, timeout=60):
    """Labelled examples over one connection, pipelined: a thread sends while we read one
    prediction line per example.  Rate = answered examples / (first byte sent to last answer)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent = {"n": 0, "done": False, "error": None}

    def sender():
        try:
            t_end = time.perf_counter() + seconds
            while time.perf_counter() < t_end:
                sock.sendall(chunk)
                sent["n"] += lines_per_chunk
        except OSError as e:
            sent["error"] = repr(e)
        sent["done"] = True

    try:
        cpu0, ccpu0 = tree_cpu_seconds(pid), time.process_time()
        t0 = time.perf_counter()
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        answered, bad = 0, 0
        tail = b""
        while not (sent["done"] and answered >= sent["n"]):
            data = sock.recv(1 << 18)
            if not data:
                break
            data = tail + data
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            answered += data.count(b"\n", 0, cut)
        elapsed = time.perf_counter() - t0
        cpu1 = tree_cpu_seconds(pid)  # before closing: the child that served us exits then
        th.join(timeout=10)
    finally:
        sock.close()
    return {"rate": answered / elapsed, "answered": answered, "sent": sent["n"], "elapsed": elapsed,
            "server_cpu": (cpu1 - cpu0) / elapsed, "client_cpu": (time.process_time() - ccpu0) / elapsed,
            "error": sent["error"]}


def start_vw(vpy):
    for attempt in range(3):
        port = free_port()
        proc = Proc("vw", [vpy, "-c", VW_DAEMON, str(port)])
        try:
            proc.wait_port(port, timeout=60)  # the probe connection is served by a child and ends
            return proc, port
        except Unavailable:
            proc.cleanup()
            if attempt == 2:
                raise


# --------------------------------------------------------------------------- run


def run(ctx):
    """Measure both anchors and add their rows.  ctx (from bench.py) provides:
    add, section, warn, start_chantilly() -> Server, stop_server(srv), upload(srv),
    stream_ops(srv, make_chunk, until), xs, ys, model_bytes, seconds, repeat, tmp,
    original_python, chunk."""
    S = ctx.seconds
    ctx.section("anchors: the original chantilly %s and Vowpal Wabbit's daemon, measured in this "
                "run beside a fresh chantilly" % ORIGINAL_VERSION)
    ch = None
    try:
        ch = ctx.start_chantilly()
        ctx.upload(ch)
    except Exception as e:  # the anchors are still measured; chantilly's rows say why they are empty
        if ch is not None:
            ctx.stop_server(ch)
        ch = None
        ctx.warn("anchors: chantilly did not start, its rows beside the anchors are empty: %s" % str(e)[:600])
    try:
        try:
            run_original(ctx, ch, S)
        except Exception as e:  # fail soft: a row that says why
            e = _why(e)
            log("original chantilly unavailable: %s" % e)
            ctx.add("orig_unavailable", "original chantilly %s" % ORIGINAL_VERSION, None, "pairs/s",
                    notes=["unavailable: %s" % str(e)[:400]])
            ctx.warn("the original chantilly anchor is unavailable: %s" % str(e)[:600])
        try:
            run_vw(ctx, ch, S)
        except Exception as e:
            e = _why(e)
            log("Vowpal Wabbit unavailable: %s" % e)
            ctx.add("vw_unavailable", "Vowpal Wabbit daemon", None, "ops/s",
                    notes=["unavailable: %s" % str(e)[:400]])
            ctx.warn("the Vowpal Wabbit anchor is unavailable: %s" % str(e)[:600])
    finally:
        if ch is not None:
            ctx.stop_server(ch)


def _why(e):
    if isinstance(e, Unavailable):
        return str(e)
    import traceback

    log(traceback.format_exc())
    return "failed: %r" % (e,)


def _pair_notes(r, conns):
    if r["rate"] is None:
        return ["not measured: chantilly did not start (see the warnings)"]
    notes = []
    total = r["ok"] + r["failed"]
    if r["failed"]:
        notes.append("%d of %d pairs failed (%.0f%%)" % (r["failed"], total, 100.0 * r["failed"] / max(1, total)))
        notes += ["%d x %s" % (n, k) for k, n in r["kinds"].most_common(3)]
    else:
        notes.append("%d pairs, none failed" % total)
    notes.append("p50 %.2f ms per pair" % r["p50_ms"])
    if r["connects"] > conns:
        notes.append("%d TCP connections for %d requests (HTTP/1.0, no keep-alive)" % (
            r["connects"], 2 * (r["ok"] + r["failed"])))
    return notes


def run_original(ctx, ch, S):
    vpy, dbm_name = original_venv(ctx.original_python)
    orig = Original(vpy, ctx.tmp)
    label = "original %s (Flask 1.1.4 dev server, shelve on %s)" % (ORIGINAL_VERSION, dbm_name)
    try:
        status, data = call(orig.host, orig.port, "POST", "/api/model", ctx.model_bytes,
                            {"Content-Type": "application/octet-stream"})
        if status != 201:
            raise Unavailable("original POST /api/model -> %s %s" % (status, data[:300]))
        log("original chantilly at http://127.0.0.1:%d/ (%s), model %s" % (orig.port, dbm_name, data.strip()))
        xs, ys = ctx.xs, ctx.ys

        # (a) sequential pairs: the two servers take turns, each keeps its best pass
        best = {}
        for rep in range(ctx.repeat):
            for name, host, port, pid in servers(orig, ch):
                log("%s predict-with-id + learn-by-id pairs, 1 connection, pass %d" % (name, rep + 1))
                r = measure_pairs(host, port, pid, xs, ys, 1, S, "seq%d" % rep)
                if name not in best or r["rate"] > best[name]["rate"]:
                    best[name] = r
        o1, c1 = best["original"], best.get("chantilly", NONE)
        ctx.add("orig_pairs_1", "%s: predict with id + learn by id, 1 conn" % label, o1["rate"], "pairs/s",
                anchor=("orig_pairs_1", "original"), server_cpu=o1["server_cpu"], client_cpu=o1["client_cpu"],
                errors=o1["failed"], notes=_pair_notes(o1, 1))
        ctx.add("ch_pairs_1", "chantilly: predict with id + learn by id, 1 keep-alive conn", c1["rate"],
                "pairs/s", anchor=("orig_pairs_1", "original"), server_cpu=c1["server_cpu"],
                client_cpu=c1["client_cpu"], errors=c1["failed"], notes=_pair_notes(c1, 1))

        # (b) 4 concurrent clients (the original's store may not survive this: it goes last)
        res4 = {}
        for name, host, port, pid in reversed(servers(orig, ch)):
            log("%s pairs, 4 connections" % name)
            res4[name] = measure_pairs(host, port, pid, xs, ys, 4, S, "par")
        o4, c4 = res4["original"], res4.get("chantilly", NONE)
        health = original_health(orig, xs[0])
        causes = orig.exceptions()
        notes = _pair_notes(o4, 4)
        if causes:
            notes.append("server exceptions: " + ", ".join("%d x %s" % (n, k) for k, n in causes.most_common(3)))
        notes.append(health)
        ctx.add("orig_pairs_4", "%s: the same pairs, 4 conn" % label, o4["rate"], "pairs/s",
                anchor=("orig_pairs_4", "original"), server_cpu=o4["server_cpu"], client_cpu=o4["client_cpu"],
                errors=o4["failed"], notes=notes)
        ctx.add("ch_pairs_4", "chantilly: the same pairs, 4 keep-alive conn", c4["rate"], "pairs/s",
                anchor=("orig_pairs_4", "original"), server_cpu=c4["server_cpu"], client_cpu=c4["client_cpu"],
                errors=c4["failed"], notes=_pair_notes(c4, 4))
        if o4["failed"]:
            ctx.info("the original chantilly (shelve on %s) failed %d of %d pairs with 4 connections; "
                     "the exceptions in its log: %s; %s." % (
                         dbm_name, o4["failed"], o4["ok"] + o4["failed"],
                         ", ".join("%d x %s" % (n, k) for k, n in causes.most_common(3)) or "none", health))
    finally:
        orig.stop()

    # (c) chantilly's best path for the same pairs: one POST /api/stream connection
    best_stream = NONE_STREAM
    for rep in range(ctx.repeat if ch is not None else 0):
        log("chantilly /api/stream, seed workflow (predict with id, learn by id %d behind, shuffled), "
            "pass %d" % (SEED_LAG, rep + 1))
        r = ctx.stream_ops(ch, seed_chunks(xs, ys, ctx.chunk, prefix="a%d-" % rep), time.perf_counter() + S)
        if best_stream is NONE_STREAM or r["rate"] > best_stream["rate"]:
            best_stream = r
    r = best_stream
    orig_best = max(o1["rate"], o4["rate"])
    ctx.add("orig_pairs_best", "original: best of 1 / 4 conn (it has no batch or stream route)", orig_best,
            "pairs/s", anchor=("orig_pairs_best", "original"))
    errors = r["failed"] + abs(r["sent"] - r["answered"])
    notes = ["%d ops (predictions and labels) in %.1f s, %d failed" % (r["answered"], r["elapsed"], r["failed"]),
             "target >= 50x the original"]
    if r["failed"]:
        notes.append("last answer: %s" % r["last"][:120])
    if r is NONE_STREAM:
        notes = ["not measured: chantilly did not start (see the warnings)"]
    ctx.add("ch_pairs_stream", "chantilly: the same pairs over POST /api/stream (NDJSON, %d ops per chunk, "
            "labels ~%d behind, shuffled)" % (ctx.chunk, SEED_LAG), r["rate"] / 2, "pairs/s",
            anchor=("orig_pairs_best", "original"), server_cpu=r["server_cpu"], client_cpu=r["client_cpu"],
            errors=errors, notes=notes, target={"vs": "anchor", "min": 50.0, "text": ">= 50x original"})
    if ch is not None:
        sync_full(ctx, dbm_name, S)


def sync_full(ctx, dbm_name, S):
    """The same pairs with chantilly --sync full (an fsync per commit).  On gdbm the original is
    durable per request too: closing its shelve at the end of every request msyncs the file."""
    try:
        chf = ctx.start_chantilly("full")
    except Exception as e:
        ctx.warn("anchors: chantilly --sync full did not start: %s" % str(e)[:600])
        return
    try:
        ctx.upload(chf)
        log("chantilly --sync full: pairs, 1 connection")
        r1 = measure_pairs(chf.host, chf.port, chf.pid, ctx.xs, ctx.ys, 1, S, "full")
        log("chantilly --sync full: pairs over /api/stream")
        rs = ctx.stream_ops(chf, seed_chunks(ctx.xs, ctx.ys, ctx.chunk), time.perf_counter() + S)
    finally:
        ctx.stop_server(chf)
    why = ("an fsync per commit; the original on gdbm msyncs its file at the end of every request"
           if dbm_name == "gdbm" else "an fsync per commit; the original on dbm.dumb syncs nothing")
    ctx.add("ch_full_pairs_1", "chantilly --sync full: predict with id + learn by id, 1 keep-alive conn",
            r1["rate"], "pairs/s", anchor=("orig_pairs_1", "original"), server_cpu=r1["server_cpu"],
            client_cpu=r1["client_cpu"], errors=r1["failed"], notes=_pair_notes(r1, 1) + [why])
    ctx.add("ch_full_pairs_stream", "chantilly --sync full: the same pairs over POST /api/stream",
            rs["rate"] / 2, "pairs/s", anchor=("orig_pairs_best", "original"), server_cpu=rs["server_cpu"],
            client_cpu=rs["client_cpu"], errors=rs["failed"] + abs(rs["sent"] - rs["answered"]),
            notes=["%d ops in %.1f s, %d failed; one fsync per chunk of %d ops" % (
                rs["answered"], rs["elapsed"], rs["failed"], ctx.chunk)])


NONE = {"rate": None, "ok": 0, "failed": 0, "kinds": collections.Counter(), "first": {}, "connects": 0,
        "p50_ms": float("nan"), "server_cpu": None, "client_cpu": None}
NONE_STREAM = {"rate": float("nan"), "failed": 0, "sent": 0, "answered": 0, "elapsed": 0.0, "last": "",
               "server_cpu": None, "client_cpu": None}


def servers(orig, ch):
    out = [("original", orig.host, orig.port, orig.pid)]
    if ch is not None:
        out.append(("chantilly", ch.host, ch.port, ch.pid))
    return out


def original_health(orig, x):
    """After the concurrent run: can the original still predict?  (dbm.dumb loses its index.)"""
    try:
        status, data = call(orig.host, orig.port, "POST", "/api/predict", json.dumps({"features": x}), JSON)
    except (OSError, http.client.HTTPException) as e:
        return "afterwards a predict fails: %r" % (e,)
    if status == 200:
        return "store intact afterwards"
    msg = data[:160].decode(errors="replace").replace("\n", " ")
    return "STORE BROKEN afterwards: a plain predict answers %s %s" % (status, msg)


def run_vw(ctx, ch, S):
    vpy = vw_venv()
    proc, port = start_vw(vpy)
    try:
        try:
            version = subprocess.run([vpy, "-c", "import importlib.metadata as m; print(m.version('vowpalwabbit'))"],
                                     capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            version = "?"
        log("Vowpal Wabbit %s daemon on port %d" % (version, port))
        lines = vw_lines(ctx.xs, ctx.ys)
        vw_chunk = b"".join(lines[k % len(lines)] for k in range(ctx.chunk))
        learn_lines = [json.dumps({"op": "learn", "features": x, "ground_truth": y}).encode() + b"\n"
                       for x, y in zip(ctx.xs, ctx.ys)]
        ch_chunk = b"".join(learn_lines[k % len(learn_lines)] for k in range(ctx.chunk))
        best = {}
        for rep in range(ctx.repeat):
            log("Vowpal Wabbit daemon, labelled examples, pass %d" % (rep + 1))
            r = vw_stream(port, proc.pid, vw_chunk, ctx.chunk, S)
            if "vw" not in best or r["rate"] > best["vw"]["rate"]:
                best["vw"] = r
            if ch is None:
                best["ch"] = NONE_STREAM
                continue
            log("chantilly /api/stream learn with features, pass %d" % (rep + 1))
            r = ctx.stream_ops(ch, lambda k: (ch_chunk, ctx.chunk), time.perf_counter() + S)
            if "ch" not in best or r["rate"] > best["ch"]["rate"]:
                best["ch"] = r
        v, c = best["vw"], best["ch"]
        ctx.add("vw_learn", "Vowpal Wabbit %s daemon (C++): labelled examples, 1 pipelined connection, VW "
                "text format" % version, v["rate"], "ops/s", anchor=("vw_learn", "VW"),
                server_cpu=v["server_cpu"], client_cpu=v["client_cpu"],
                errors=abs(v["sent"] - v["answered"]) + (1 if v["error"] else 0),
                notes=["%d examples in %.1f s, one prediction line back each; squared loss, "
                       "adaptive normalized SGD, no persistence" % (v["answered"], v["elapsed"])]
                + (["send error: %s" % v["error"]] if v["error"] else []))
        ctx.add("vw_ch_learn", "chantilly: learn with features over POST /api/stream (NDJSON, %d per chunk)"
                % ctx.chunk, c["rate"], "ops/s", anchor=("vw_learn", "VW"), server_cpu=c["server_cpu"],
                client_cpu=c["client_cpu"], errors=c["failed"] + abs(c["sent"] - c["answered"]),
                notes=["%d learns in %.1f s, each durable (--sync default), with metrics" % (
                    c["answered"], c["elapsed"])] if c is not NONE_STREAM
                else ["not measured: chantilly did not start (see the warnings)"])
    finally:
        proc.cleanup()
