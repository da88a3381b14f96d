"""Where chantilly's time goes: a profile of the server while one workload drives it.

    .venv/bin/python bench/profile_server.py                          # the seed workflow stream, 8 s, py-spy
    .venv/bin/python bench/profile_server.py --workload learn --seconds 15 --top 30
    .venv/bin/python bench/profile_server.py --workload keepalive --gil   # 4 keep-alive connections
    .venv/bin/python bench/profile_server.py --tool cprofile          # no py-spy: cProfile in the server
    .venv/bin/python bench/profile_server.py --chantilly /tmp/chantilly_head.py --raw /tmp/stacks.txt

It starts `chantilly.py run` on a temporary database, uploads bench.py's model (creme
StandardScaler | LinearRegression, 8 features), warms it up for a second, then drives one
workload for --seconds while the profiler watches the server process only (the client is
this process). It prints the workload's rate, the share of the server's samples by area
(creme, json encoding, json decoding, sqlite, sockets, chantilly's own lines), the top
functions by self time and chantilly's functions by inclusive time.

Workloads (bench.py's rows of the same name):

* seed: POST /api/stream, predictions with ids and learns by id ~50 behind, shuffled;
* learn: POST /api/stream, learns with features;
* predict: POST /api/stream, predictions without ids;
* models: POST /api/stream, learns spread round-robin over 10 named models;
* keepalive: POST /api/learn on 4 keep-alive connections (one client process each).

Tools:

* py-spy (default): a sampling profiler outside the server, so it costs the server almost
  nothing.  It is installed from PyPI into bench/.venv-pyspy on first use (a few seconds,
  cached like the anchors' virtualenvs).  It samples the threads that are running (idle
  threads, blocked in a system call, are not counted); --gil counts only the thread holding
  the GIL, which is what limits a CPU-bound Python server.  Time in C functions (json's
  encoder, sqlite3's execute, socket send) is counted on the Python line that called them
  (--native would show the C frames, at a higher cost).
* cprofile: cProfile in every server thread started once the workload begins (the stream's
  or the connections' handler threads), timing CPU time (time.thread_time), so waits for the
  GIL, sockets or sleeps count nothing.  Deterministic, but its overhead per Python call
  inflates call-heavy code (creme's dict arithmetic, small helpers) by 1.5-3x: read its
  shares as rough.
"""

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench  # noqa: E402
import workloads  # noqa: E402

PYSPY_VENV = os.path.join(HERE, ".venv-pyspy")
PYSPY_PIN = "py-spy==0.4.3"
WORKLOADS = ("seed", "learn", "predict", "models", "keepalive")

# Runs chantilly.py as __main__ with a cProfile.Profile in each thread started after SIGUSR2
# (the workload's handler threads), timing each thread's CPU time, merged into one stats file
# when the server exits.
# chantilly re-executes itself once (the database's hash seed) with the same -c arguments,
# so the wrapper survives the re-exec.
CPROFILE_WRAPPER = """\
import cProfile, pstats, runpy, signal, sys, threading, time
out, script = sys.argv[1], sys.argv[2]
sys.argv = [script] + sys.argv[3:]
profiles, go, lock = [], threading.Event(), threading.Lock()
signal.signal(signal.SIGUSR2, lambda *a: go.set())
thread_run = threading.Thread.run
def run(self):
    if not go.is_set():
        return thread_run(self)
    prof = cProfile.Profile(time.thread_time)  # CPU time: waits (GIL, sockets, sleeps) cost nothing
    with lock:
        profiles.append(prof)
    prof.enable()
    try:
        thread_run(self)
    finally:
        prof.disable()
threading.Thread.run = run
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit:
    pass
finally:
    stats = None
    with lock:
        for prof in profiles:
            try:
                stats = pstats.Stats(prof) if stats is None else stats.add(prof)
            except TypeError:  # a thread that made no call
                pass
    if stats is not None:
        stats.dump_stats(out)
"""


def log(*args):
    print("[profile]", *args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- workloads


def make_driver(name, srv, xs, ys, seconds, tag):
    """A function that drives `srv` for `seconds` and returns (what, rate, unit, errors)."""
    if name == "keepalive":
        bodies = [json.dumps({"features": x, "ground_truth": y}).encode() for x, y in zip(xs, ys)]

        def drive():
            r = bench.measure_requests(srv, "/api/learn", bodies, 4, seconds)
            return "POST /api/learn, 4 keep-alive connections", r["rate"], "req/s", r["errors"]
        return drive
    if name == "seed":
        make, what = (workloads.seed_chunks(xs, ys, bench.STREAM_CHUNK, prefix=tag),
                      "POST /api/stream, seed workflow (predict with id, learn by id ~%d behind, shuffled)"
                      % workloads.SEED_LAG)
    elif name == "learn":
        make, what = (workloads.fixed_chunks(workloads.learn_lines(xs, ys), bench.STREAM_CHUNK),
                      "POST /api/stream, learns with features")
    elif name == "predict":
        lines = [json.dumps({"op": "predict", "features": x}).encode() + b"\n" for x in xs]
        make, what = workloads.fixed_chunks(lines, bench.STREAM_CHUNK), "POST /api/stream, predictions"
    else:
        lines = workloads.learn_lines(xs, ys, ["m%d" % i for i in range(10)])
        make, what = (workloads.fixed_chunks(lines, bench.STREAM_CHUNK),
                      "POST /api/stream, learns round-robin over 10 named models")

    def drive():
        r = bench.stream_ops(srv, make, time.perf_counter() + seconds)
        return what, r["rate"], "ops/s", r["failed"] + abs(r["sent"] - r["answered"])
    return drive


# --------------------------------------------------------------------------- py-spy


def pyspy_binary():
    import anchors

    vpy = anchors.ensure_venv(PYSPY_VENV, getattr(sys, "_base_executable", sys.executable), [[PYSPY_PIN]],
                              {"python": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
                               "steps": [[PYSPY_PIN]]}, "py-spy's virtualenv")
    exe = os.path.join(os.path.dirname(vpy), "py-spy")
    if not os.path.exists(exe):
        raise RuntimeError("%s installed no py-spy binary" % PYSPY_PIN)
    return exe


SHORT = [(os.path.join(sysconfig.get_paths()["purelib"], ""), ""),
         (os.path.join(sysconfig.get_paths()["stdlib"], ""), "<stdlib>/"),
         (os.path.join(bench.ROOT, ""), "")]


def short_path(path):
    for prefix, repl in SHORT:
        if path.startswith(prefix):
            return repl + path[len(prefix):]
    m = re.search(r"(?:site|dist)-packages/(.*)$", path)
    if m:
        return m.group(1)
    m = re.search(r"/lib/python3\.\d+/(.*)$", path)
    if m:
        return "<stdlib>/" + m.group(1)
    return path


FRAME_RE = re.compile(r"^(.*) \((.*?)(?::(\d+))?\)$")


def parse_frame(frame):
    """'func (path/file.py:123)' -> ('func', 'file.py')."""
    m = FRAME_RE.match(frame.strip())
    if not m:
        return frame.strip(), "?"
    return m.group(1), short_path(m.group(2))


SERVER_FILE = ["chantilly.py"]  # the basename of the profiled chantilly.py (--chantilly)


def is_server_file(path):
    return os.path.basename(path) == SERVER_FILE[0]


def area(func, path):
    """Where a sample's leaf frame belongs, in the issue's terms.  Paths are as py-spy prints
    them (relative to sys.path: json/encoder.py, creme/..., chantilly.py) or short_path's."""
    path = path[len("<stdlib>/"):] if path.startswith("<stdlib>/") else path
    top = re.split(r"[/.]", path, 1)[0]
    if top in ("creme", "river"):
        return "creme / river (the model)"
    if top in ("numpy", "scipy", "pandas"):
        return "numpy / scipy / pandas (under the model)"
    if path.startswith("json/encoder") or (path.startswith("json/__init__") and func == "dumps"):
        return "json encoding"
    if top == "json":
        return "json decoding"
    if top == "sqlite3":
        return "sqlite3 (Python side)"
    if top in ("socket", "selectors", "socketserver", "ssl"):
        return "sockets (stdlib)"
    if top in ("threading", "queue"):
        return "threading / locks"
    if is_server_file(path):
        return "chantilly.py's own lines (with the C calls they make: sqlite execute, socket send, ...)"
    if top == "<built-in>":
        return "C functions (cProfile: json, sqlite, socket, dict... calls)"
    if top in sys.stdlib_module_names:
        return "other stdlib"
    return "other"


def read_raw(path):
    """py-spy's raw (collapsed) stacks -> [(frames root first, count)]."""
    stacks = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            stack, _, count = line.rpartition(" ")
            try:
                n = int(count)
            except ValueError:
                continue
            frames = [parse_frame(fr) for fr in stack.split(";") if fr.strip()]
            frames = [fr for fr in frames if not fr[0].startswith(("process ", "thread "))]
            if frames:
                stacks.append((frames, n))
    return stacks


def report_stacks(stacks, top):
    total = sum(n for _, n in stacks)
    if not total:
        print("no samples: was the server busy?")
        return
    self_t, incl, areas = collections.Counter(), collections.Counter(), collections.Counter()
    for frames, n in stacks:
        leaf = frames[-1]
        self_t[leaf] += n
        areas[area(*leaf)] += n
        for fr in set(frames):
            incl[fr] += n
    print("%d samples of running server threads\n" % total)
    print("| area (where the sample's innermost Python frame is) | share |")
    print("|---|---:|")
    for name, n in areas.most_common():
        print("| %s | %.1f%% |" % (name, 100.0 * n / total))
    print("\nTop %d functions by self time (the innermost Python frame of a sample):\n" % top)
    print("| # | function | file | self | inclusive |")
    print("|---:|---|---|---:|---:|")
    for i, ((func, path), n) in enumerate(self_t.most_common(top), 1):
        print("| %d | %s | %s | %.1f%% | %.1f%% |" % (i, func, path, 100.0 * n / total,
                                                    100.0 * incl[func, path] / total))
    print("\nchantilly.py's functions by inclusive time (the function and everything it calls):\n")
    print("| function | inclusive | self |")
    print("|---|---:|---:|")
    own = [(fr, n) for fr, n in incl.most_common() if is_server_file(fr[1])]
    for (func, path), n in own[:top]:
        print("| %s | %.1f%% | %.1f%% |" % (func, 100.0 * n / total, 100.0 * self_t[func, path] / total))


# --------------------------------------------------------------------------- cProfile


def report_pstats(path, top):
    import pstats

    st = pstats.Stats(path)
    total = sum(v[2] for v in st.stats.values())  # tottime summed: time in profiled threads
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)
    print("cProfile: %.2f s of CPU time in the profiled threads (cProfile's overhead included)\n" % total)
    areas = collections.Counter()
    for (file, line, func), v in rows:
        areas[area(func, short_path(file) if file != "~" else "<built-in>")] += v[2]
    print("| area (of the function's own time; C functions are <built-in>) | share |")
    print("|---|---:|")
    for name, t in areas.most_common():
        if t >= 0.0005 * total:
            print("| %s | %.1f%% |" % (name, 100.0 * t / total))
    print("\nTop %d functions by self time (tottime):\n" % top)
    print("| # | function | file | calls | self | cumulative |")
    print("|---:|---|---|---:|---:|---:|")
    for i, ((file, line, func), v) in enumerate(rows[:top], 1):
        cc, nc, tt, ct, _ = v
        print("| %d | %s | %s | %d | %.1f%% | %.1f%% |" % (
            i, func, "<built-in>" if file == "~" else "%s:%d" % (short_path(file), line), nc,
            100.0 * tt / total, 100.0 * ct / total))


# --------------------------------------------------------------------------- main


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", choices=WORKLOADS, default="seed", help="what drives the server (default seed)")
    p.add_argument("--seconds", type=float, default=8.0, help="seconds profiled (default 8)")
    p.add_argument("--tool", choices=("py-spy", "cprofile"), default="py-spy", help="profiler (default py-spy)")
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second (default 200)")
    p.add_argument("--gil", action="store_true", help="py-spy: count only the thread holding the GIL")
    p.add_argument("--native", action="store_true", help="py-spy: include C frames (slower)")
    p.add_argument("--top", type=int, default=25, help="functions listed (default 25)")
    p.add_argument("--raw", default=None, help="py-spy: also keep the collapsed stacks in this file")
    p.add_argument("--chantilly", default=os.path.join(bench.ROOT, "chantilly.py"), help="path of chantilly.py")
    p.add_argument("--python", default=sys.executable, help="interpreter for the server")
    p.add_argument("--sync", default=None, help="chantilly's --sync (default: its own default)")
    args = p.parse_args(argv)
    SERVER_FILE[0] = os.path.basename(args.chantilly)

    import dill

    xs, ys = bench.make_data()
    model_bytes = dill.dumps(bench.make_model(xs, ys))
    spy = pyspy_binary() if args.tool == "py-spy" else None
    tmp = tempfile.mkdtemp(prefix="chantilly-profile-")
    db = os.path.join(tmp, "profile.db")
    ns = argparse.Namespace(python=args.python, chantilly=args.chantilly)
    argv_server = bench.chantilly_argv(ns, db, args.sync)
    stats_path = os.path.join(tmp, "cprofile.stats")
    if args.tool == "cprofile":
        argv_server = [args.python, "-c", CPROFILE_WRAPPER, stats_path] + argv_server[1:]
    srv = bench.Server("chantilly", argv_server)
    prof = None
    try:
        if args.workload == "models":
            for i in range(10):
                bench.upload(srv, model_bytes, "m%d" % i)
        else:
            bench.upload(srv, model_bytes)
        log("chantilly (pid %d) at %s; warming up for 1 s" % (srv.pid, srv.url))
        make_driver(args.workload, srv, xs, ys, 1.0, "warm-")()
        raw = args.raw or os.path.join(tmp, "stacks.txt")
        if spy:
            cmd = [spy, "record", "--pid", str(srv.pid), "--duration", str(max(1, round(args.seconds))),
                   "--rate", str(args.rate), "--format", "raw", "--output", raw, "--nonblocking"]
            if args.gil:
                cmd.append("--gil")
            if args.native:
                cmd.append("--native")
            prof = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            time.sleep(0.3)  # let py-spy attach before the workload starts
        else:
            os.kill(srv.pid, signal.SIGUSR2)
            time.sleep(0.2)
        log("profiling %s for %.0f s" % (args.workload, args.seconds))
        what, rate, unit, errors = make_driver(args.workload, srv, xs, ys, args.seconds + (0.5 if spy else 0),
                                               "run-")()
        if spy:
            out, _ = prof.communicate(timeout=args.seconds + 60)
            if prof.returncode:
                raise RuntimeError("py-spy failed (%s): %s" % (prof.returncode, out.decode(errors="replace")[-800:]))
        cpu = bench.proc_cpu_seconds(srv.pid)
    finally:
        if prof is not None and prof.poll() is None:
            prof.kill()
            prof.wait(timeout=10)
        took = srv.stop()
        log("server stopped in %.1f s" % took)
    print("## chantilly under `%s` (%s), %s\n" % (args.workload, what, args.tool))
    print("Workload: {:,.0f} {} while profiled{}; server CPU {:.1f} s in all (start and warm-up included); "
          "load average {}\n".format(rate, unit, ", %d errors" % errors if errors else "", cpu,
                                     " ".join("%.2f" % x for x in os.getloadavg())))
    if spy:
        report_stacks(read_raw(raw), args.top)
        if args.raw:
            print("\nCollapsed stacks kept in %s (flamegraph.pl or speedscope read them)." % args.raw)
    else:
        if not os.path.exists(stats_path):
            raise SystemExit("the server wrote no profile (%s)%s" % (stats_path, srv.tail()))
        report_pstats(stats_path, args.top)
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
