"""chantilly on PostgreSQL and as a cluster: what the store and the extra nodes cost, as ratios.

    python bench/cluster.py [--seconds 3] [--rounds 4] [--warmup 1] [--json]
    nice -n 5 .venv/bin/python bench/cluster.py --seconds 2 --rounds 5     # about 5 minutes
    .venv/bin/python bench/cluster.py --only forwarding,reads              # some parts only

Three parts, each a set of servers started for it and stopped after it (README.md, "On
PostgreSQL" and "Running more than one"):

1. **store**: the same learns on PostgreSQL and on SQLite.  Four `chantilly.py run` processes
   (port 0, the bench's creme model uploaded): a temporary SQLite file and a fresh PostgreSQL
   database (harness.fresh_database), each with `--sync normal` and with `--sync full`.
   Workloads: learns with features over one `POST /api/stream` (workloads.fixed_chunks of
   workloads.learn_lines, 1000 a chunk) and `POST /api/learn` with features on 1 keep-alive
   connection (bench.measure_requests).  Ratio: PostgreSQL / SQLite, per --sync.
2. **forwarding**: two nodes on one PostgreSQL database, the creme model uploaded, its owner
   found with GET /api/cluster (before every measurement).  The seed workflow (predict with an
   id, learn by that id) sent to the owner, then through the other node, which forwards every
   call to the owner: over one `POST /api/stream` (workloads.seed_chunks: predictions with new
   ids, each learned ~50 later, shuffled) and as predict/learn pairs on 1 keep-alive connection
   (anchors.measure_pairs).  Ratio: through the non-owner / to the owner.
3. **read scaling**: two nodes on another database with river's `StandardScaler |
   LinearRegression` (warmed like the bench's model): river predictions change nothing, so the
   follower answers them from its own copy.  `POST /api/predict` with features, 4 keep-alive
   connections (one client process each), sent to the owner alone, to HAProxy in front of the
   owner alone, and to HAProxy in front of both nodes (examples/cluster/haproxy.cfg, its bind
   and servers rewritten as test_postgres.py's haproxy_config does, unused server lines
   dropped).  Ratios: 2 nodes behind HAProxy / 1 node alone, and / 1 node behind HAProxy (the
   balancer's own cost taken out).  On a 2-core machine this cannot show a speed-up: the notes
   give the CPU of each process and of the whole machine, which say where the cores went.

PostgreSQL is a throwaway cluster (harness.postgres_cluster: initdb in a temporary folder,
**fsync=off** on its command line, which no ALTER SYSTEM can override).  So `--sync full`
(synchronous_commit=on) makes a PostgreSQL commit wait for its WAL to be written to the OS,
not flushed to the disk, while SQLite's `--sync full` does fsync: the full rows flatter
PostgreSQL.  The table's synchronous_commit column is what each server's sessions set, read
from PostgreSQL's own log (log_statement=all while the servers start, then back off), not
from chantilly's code; the cluster-wide fsync and synchronous_commit settings are printed
above the table.

The machine is shared and small: only ratios measured in the same run count.  Every
measurement is preceded by an unrecorded warm-up of each side (--warmup seconds); then each of
--rounds rounds measures both sides of every ratio back to back, in one order in even rounds
and the reverse in odd ones, and each ratio is the median of the per-round ratios (with their
min-max).  Server CPU per operation sums every server-side process of the side (both nodes,
and HAProxy), read from /proc over the steady part of the measurement; "machine" is the busy
share of all cores (/proc/stat) over the same window.

Everything started is stopped in a finally (chantilly with SIGTERM then SIGKILL, HAProxy,
PostgreSQL), also on SIGTERM or Ctrl-C; every socket, queue and subprocess call has a timeout.
Progress goes to stderr, the markdown table (or, with --json, the numbers) to stdout.
"""

import argparse
import contextlib
import http.client
import json
import math
import os
import pathlib
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import types
import urllib.parse

import dill

import ab
import anchors
import bench
import workloads

sys.path.insert(0, bench.ROOT)  # harness.py (and the chantilly it imports) live at the root
import harness  # noqa: E402

STREAM_CHUNK = bench.STREAM_CHUNK
PILOT_CHUNKS = 2  # a stream's chunks before its side's pace is known (the warm-up, usually)
CLK_TCK = bench.CLK_TCK
SYNC_RE = re.compile(r"db=(\S+) LOG:\s+(?:statement|execute [^:]*): SET synchronous_commit TO (\w+)")


def log(*args):
    print("[cluster]", *args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- CPU over a window


def machine_jiffies():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


class Window:
    """CPU of some processes and of the whole machine between delay and delay + span seconds
    from now, sampled by a thread: the steady part of a measurement, without client start-up."""

    def __init__(self, pids, delay, span):
        self.pids, self.span = dict(pids), max(0.2, span)
        self.result = None
        self._thread = threading.Thread(target=self._run, args=(delay,), daemon=True)
        self._stop = threading.Event()
        self._thread.start()

    @staticmethod
    def _cpu(pid):
        """{pid: CPU seconds}: the process, or with a ("tree", pid) the process and its children
        (PostgreSQL's postmaster and its backends)."""
        if isinstance(pid, tuple):
            return {p: bench.proc_cpu_seconds(p) for p in [pid[1], *anchors.children(pid[1])]}
        return {pid: bench.proc_cpu_seconds(pid)}

    def _sample(self):
        return time.perf_counter(), {k: self._cpu(p) for k, p in self.pids.items()}, machine_jiffies()

    @staticmethod
    def _delta(a, b):
        """CPU seconds between two samples, over the processes alive at both."""
        return sum(b[p] - a[p] for p in a.keys() & b.keys())

    def _run(self, delay):
        if self._stop.wait(delay):
            return
        t0, cpu0, m0 = self._sample()
        self._stop.wait(self.span)
        t1, cpu1, m1 = self._sample()
        wall = t1 - t0
        self.result = {
            "cores": {k: self._delta(cpu0[k], cpu1[k]) / wall for k in self.pids},
            "machine": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * (os.cpu_count() or 1),
        }

    def finish(self, timeout=5):
        self._stop.set()
        self._thread.join(timeout)
        return self.result or {"cores": {k: float("nan") for k in self.pids}, "machine": float("nan")}


# --------------------------------------------------------------------------- one measurement


def capped(make_chunk, chunks):
    """make_chunk that ends the stream after `chunks` chunks."""
    return lambda k: make_chunk(k) if k < chunks else None


def measure(target, pids, data, kind, seconds, tag, conns=1, chunks=None):
    """One measurement against `target` (host, port, pid, name: a chantilly or HAProxy).

    kind: "feat_stream" (learns with features over POST /api/stream), "seed_stream" (the seed
    workflow over POST /api/stream), "learn" (POST /api/learn with features), "pairs" (predict
    with an id then learn by it, anchors.measure_pairs), "predict" (POST /api/predict with
    features).  `pids`: {label: pid or ("tree", pid)} of every server-side process whose CPU
    counts.  `chunks`: a stream sends at most that many chunks (and stops at `seconds` anyway):
    bench.stream_ops sends for `seconds` whatever the server's pace, so a slow server would have
    the socket buffers' worth of chunks (tens of seconds at 1,000 ops/s) still to answer.
    Returns {"rate", "errors", "first_error", "cores" {label: share of a core}, "server_cores",
    "machine" (busy cores), "client_cpu"}."""
    start = 0.5 + 0.05 * conns  # bench.measure_requests and anchors.measure_pairs start their clients then
    if kind.endswith("stream"):
        window = Window(pids, 0.2, seconds - 0.4)
        if kind == "feat_stream":
            make_chunk = workloads.fixed_chunks(data.feat_lines, STREAM_CHUNK)
        else:
            make_chunk = workloads.seed_chunks(data.xs, data.ys, STREAM_CHUNK, prefix=tag + "-")
        if chunks:
            make_chunk = capped(make_chunk, chunks)
        try:
            r = bench.stream_ops(target, make_chunk, time.perf_counter() + seconds, timeout=seconds + 60)
            errors = r["failed"] + abs(r["sent"] - r["answered"])
            res = {"rate": r["rate"], "errors": errors, "client_cpu": r["client_cpu"],
                   "first_error": ("last answer: %s" % r["last"][:300]) if errors else None}
        except (OSError, bench.StreamError) as e:
            res = {"rate": float("nan"), "errors": 1, "first_error": repr(e), "client_cpu": float("nan")}
    else:
        window = Window(pids, start + 0.15, seconds - 0.3)
        if kind == "pairs":
            r = anchors.measure_pairs(target.host, target.port, target.pid, data.xs, data.ys, conns, seconds, tag)
            res = {"rate": r["rate"], "errors": r["failed"], "client_cpu": r["client_cpu"],
                   "first_error": "; ".join("%s: %s" % kv for kv in r["first"].items())[:300] or None}
        else:
            if kind == "learn":
                r = bench.measure_requests(target, "/api/learn", data.learn_bodies, conns, seconds)
            else:
                r = bench.measure_requests(target, "/api/predict", data.predict_bodies, conns, seconds)
            res = {"rate": r["rate"], "errors": r["errors"], "client_cpu": r["client_cpu"],
                   "first_error": r["first_error"]}
    w = window.finish()
    res["cores"] = w["cores"]
    res["machine"] = w["machine"]
    res["server_cores"] = sum(w["cores"].values())
    return res


# --------------------------------------------------------------------------- servers


def start_chantilly(name, script, db, sync=None, extra=()):
    argv = bench.chantilly_argv(types.SimpleNamespace(python=sys.executable, chantilly=script), db, sync)
    srv = bench.Server(name, argv + list(extra), timeout=90)
    log("%s serving on %s (pid %d)" % (name, srv.url, srv.pid))
    return srv


def get_json(target, path, timeout=10):
    status, body = bench.http_call(target, "GET", path, timeout=timeout)
    if status != 200:
        raise RuntimeError("%s: GET %s -> %s %s" % (target.name, path, status, body[:300]))
    return json.loads(body)


def port_of(url):
    return urllib.parse.urlsplit(url).port


def owner_and_follower(nodes, model="default", timeout=30):
    """(owner, follower) among two bench.Servers, once GET /api/cluster shows the follower in
    step with the owner (0 calls behind)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = get_json(nodes[0], "/api/cluster").get("models", {}).get(model)
        if last and last.get("owner"):
            owner = next((n for n in nodes if n.port == port_of(last["owner"])), None)
            others = [n for n in nodes if n is not owner]
            followers = {port_of(u): lag for u, lag in (last.get("followers") or {}).items()}
            if owner and all(followers.get(n.port, {}).get("calls") == 0 for n in others):
                return owner, others[0]
        time.sleep(0.1)
    raise RuntimeError("no owner with an in-step follower for %r within %ss: %r" % (model, timeout, last))


def predict_requests(target):
    """POST /api/predict answered by a chantilly so far, from its /metrics."""
    status, body = bench.http_call(target, "GET", "/metrics", timeout=10)
    total = 0.0
    for line in body.decode(errors="replace").splitlines():
        if line.startswith("chantilly_http_requests_total{") and 'route="/api/predict"' in line:
            total += float(line.rsplit(None, 1)[1])
    return total


def haproxy_config(port, nodes):
    """examples/cluster/haproxy.cfg adapted as test_postgres.py's haproxy_config does (frontend on
    `port`, node1..nodeN the `nodes`), with the server lines of the nodes it has not dropped."""
    config = (harness.ROOT / "examples" / "cluster" / "haproxy.cfg").read_text()
    config = config.replace("bind *:8080", "bind 127.0.0.1:%d" % port)
    for i, node in enumerate(nodes, start=1):
        config = config.replace("node%d.internal:5000" % i, "%s:%d" % (node.host, node.port))
    config = "\n".join(line for line in config.splitlines() if not re.search(r"node\d+\.internal", line)) + "\n"
    assert config.count("\n    server ") == len(nodes), config
    return config


def start_haproxy(nodes, name):
    proxy = harness.HAProxy(haproxy_config(harness.free_port(), nodes))
    target = types.SimpleNamespace(host="127.0.0.1", port=proxy.port, pid=proxy.proc.pid, name=name,
                                   proxy=proxy, url=proxy.url)
    log("%s on %s (pid %d) in front of %s" % (name, proxy.url, proxy.proc.pid, ", ".join(n.url for n in nodes)))
    return target


def wait_balanced(proxy, nodes, body, timeout=30):
    """Send predictions through `proxy` until each of `nodes` has answered some (HAProxy's
    health checks have marked them up); returns how many were sent."""
    before = [predict_requests(n) for n in nodes]
    deadline, sent = time.monotonic() + timeout, 0
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=10)
    try:
        while time.monotonic() < deadline:
            conn.request("POST", "/api/predict", body=body, headers=bench.JSON_HEADERS)
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                raise RuntimeError("%s: POST /api/predict -> %s %s" % (proxy.name, r.status, data[:300]))
            sent += 1
            if sent % 20 == 0 and all(predict_requests(n) > b + 5 for n, b in zip(nodes, before)):
                return sent
    finally:
        conn.close()
    raise RuntimeError("%s did not spread predictions over %d nodes within %ss:\n%s" % (
        proxy.name, len(nodes), timeout, proxy.proxy.output()[-2000:]))


# --------------------------------------------------------------------------- PostgreSQL


def pg_settings(admin_dsn):
    with contextlib.closing(harness._connect(admin_dsn)) as conn:
        rows = conn.execute("SELECT name, setting, source FROM pg_settings WHERE name IN "
                            "('fsync', 'synchronous_commit', 'wal_sync_method', 'server_version') "
                            "ORDER BY name").fetchall()
        data_dir = pathlib.Path(conn.execute("SHOW data_directory").fetchone()[0])
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    return {name: (setting, source) for name, setting, source in rows}, data_dir.parent / "postgres.log", postmaster


@contextlib.contextmanager
def statements_logged(admin_dsn):
    """log_statement=all (each line naming its database) for the block: what chantilly's
    sessions SET as they open is then in PostgreSQL's log."""
    with contextlib.closing(harness._connect(admin_dsn)) as conn:
        conn.execute("ALTER SYSTEM SET log_line_prefix = '[%p] db=%d '")
        conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.2)  # the postmaster passes the reload on to its backends
    try:
        yield
    finally:
        with contextlib.closing(harness._connect(admin_dsn)) as conn:
            conn.execute("ALTER SYSTEM RESET log_statement")
            conn.execute("SELECT pg_reload_conf()")


def synchronous_commit_set(log_path, dsn):
    """The values `SET synchronous_commit TO ...` took in the sessions on dsn's database, from
    PostgreSQL's log: {value: sessions}."""
    db = urllib.parse.urlsplit(dsn).path.lstrip("/")
    found = {}
    try:
        text = log_path.read_text(errors="replace")
    except OSError as e:
        return {"(log unreadable: %s)" % e.strerror: 0}
    for m in SYNC_RE.finditer(text):
        if m.group(1) == db:
            found[m.group(2)] = found.get(m.group(2), 0) + 1
    return found


def fmt_sync(found):
    if not found:
        return "not seen in the log"
    return ", ".join("**%s** (%d session%s)" % (v, n, "" if n == 1 else "s") for v, n in sorted(found.items()))


# --------------------------------------------------------------------------- rounds


def run_rounds(comparisons, data, args, results):
    """comparisons: [{"key", "sides": [(label, target_fn, pids_fn)], "kind", "conns", "unit", ...}].
    Every side of every comparison is measured in each round, in the order given in even
    rounds and reversed in odd ones; results[key]["passes"][label] gets one measurement a round."""
    last_rate = {}

    def budget(comp, label, seconds):
        """Chunks a stream may send: what the side answered last time in `seconds`, with a
        fifth more (PILOT_CHUNKS before any measurement)."""
        if not comp["kind"].endswith("stream"):
            return None
        rate = last_rate.get((comp["key"], label))
        if not rate or rate != rate:
            return PILOT_CHUNKS
        return max(1, math.ceil(1.2 * rate * seconds / STREAM_CHUNK))

    for comp in comparisons:
        comp["passes"] = {label: [] for label, *_ in comp["sides"]}
    if args.warmup > 0:
        for comp in comparisons:
            for i, (label, target_fn, pids_fn) in enumerate(comp["sides"]):
                log("warm-up: %s, %s" % (comp["key"], label))
                r = measure(target_fn(), pids_fn(), data, comp["kind"], args.warmup, "w%d" % i,
                            comp.get("conns", 1), budget(comp, label, args.warmup))
                last_rate[comp["key"], label] = r["rate"]
    for rnd in range(args.rounds):
        for comp in comparisons:
            sides = list(enumerate(comp["sides"]))
            for i, (label, target_fn, pids_fn) in (sides if rnd % 2 == 0 else sides[::-1]):
                before = comp["observe"]() if "observe" in comp else None
                r = measure(target_fn(), pids_fn(), data, comp["kind"], args.seconds,
                            "r%d-%d" % (rnd, i), comp.get("conns", 1), budget(comp, label, args.seconds))
                last_rate[comp["key"], label] = r["rate"]
                if before is not None:
                    r["observed"] = [b - a for a, b in zip(before, comp["observe"]())]
                comp["passes"][label].append(r)
                if r["errors"]:
                    log("  %d errors on %s, %s; first: %s" % (r["errors"], comp["key"], label, r["first_error"]))
            base = comp["passes"][comp["sides"][0][0]][-1]["rate"]
            log("round %d of %d, %-16s %s" % (rnd + 1, args.rounds, comp["key"], "  ".join(
                "%s %.0f (%.2fx)" % (label, comp["passes"][label][-1]["rate"],
                                     comp["passes"][label][-1]["rate"] / base if base else float("nan"))
                for label, *_ in comp["sides"])))
    for comp in comparisons:
        results["comparisons"].append({k: v for k, v in comp.items() if k not in ("sides", "observe")} |
                                      {"labels": [label for label, *_ in comp["sides"]]})


def med(values):
    v = [x for x in values if x == x]
    return statistics.median(v) if v else float("nan")


def check_alive(servers):
    for srv in servers:
        if srv.proc.poll() is not None:
            raise RuntimeError("%s exited with status %s%s" % (srv.name, srv.proc.returncode, srv.tail(3000)))


# --------------------------------------------------------------------------- the three parts


def part_store(ctx):
    data, args, tmp = ctx.data, ctx.args, ctx.tmp
    servers = {}
    with statements_logged(ctx.admin):
        for sync in ("normal", "full"):
            servers["sqlite", sync] = ctx.keep(start_chantilly(
                "sqlite-" + sync, ctx.script, os.path.join(tmp, "store-%s.db" % sync), sync))
            dsn = harness.fresh_database(ctx.admin, "chantilly_bench_store_" + sync)
            servers["pg", sync] = ctx.keep(start_chantilly("postgresql-" + sync, ctx.script, dsn, sync))
            servers["pg", sync].dsn = dsn
        for srv in servers.values():
            bench.upload(srv, data.model_bytes)
    comparisons = []
    for sync in ("normal", "full"):
        sq, pg = servers["sqlite", sync], servers["pg", sync]
        sides = [("SQLite", lambda s=sq: s, lambda s=sq: {"chantilly": s.pid}),
                 ("PostgreSQL", lambda s=pg: s, lambda s=pg: {"chantilly": s.pid, "postgres": ctx.pg_tree})]
        sc = synchronous_commit_set(ctx.pg_log, pg.dsn)
        workloads_ = [("feat_stream", "learn with features over POST /api/stream", "ops/s"),
                      ("learn", "POST /api/learn with features, 1 keep-alive conn", "req/s")]
        if sync == "normal":  # the baseline of part 2, beside SQLite's
            workloads_.append(("seed_stream", "seed workflow over POST /api/stream (predict with id, learn by "
                                              "id ~%d behind)" % workloads.SEED_LAG, "ops/s"))
        for kind, what, unit in workloads_:
            comparisons.append({"key": "%s_%s" % (kind, sync), "part": 1, "kind": kind, "unit": unit,
                                "what": "%s, `--sync %s`" % (what, sync), "sides": sides,
                                "ratios": [("PostgreSQL", "SQLite")], "synchronous_commit": sc})
    run_rounds(comparisons, data, args, ctx.results)
    check_alive(servers.values())
    ctx.stop_all()


def part_forwarding(ctx):
    data, args = ctx.data, ctx.args
    dsn = harness.fresh_database(ctx.admin, "chantilly_bench_forward")
    with statements_logged(ctx.admin):
        nodes = [ctx.keep(start_chantilly("node-%s" % k, ctx.script, dsn)) for k in "ab"]
    bench.upload(nodes[0], data.model_bytes)
    owner, follower = owner_and_follower(nodes)
    log("the model's owner: %s; the other node: %s" % (owner.name, follower.name))
    pids = lambda: {**{n.name: n.pid for n in nodes}, "postgres": ctx.pg_tree}

    def current(which):
        # the owner before every measurement: a handover mid-run would swap the sides
        o, f = owner_and_follower(nodes)
        ctx.owners.add(o.name)
        return o if which == "owner" else f

    sides = [("owner", lambda: current("owner"), pids), ("non-owner", lambda: current("follower"), pids)]
    sc = synchronous_commit_set(ctx.pg_log, dsn)
    comparisons = [
        {"key": "seed_stream", "part": 2, "kind": "seed_stream", "unit": "ops/s", "sides": sides,
         "what": "seed workflow over POST /api/stream (predict with id, learn by id ~%d behind): "
                 "through the non-owner / to the owner" % workloads.SEED_LAG,
         "ratios": [("non-owner", "owner")], "synchronous_commit": sc},
        {"key": "seed_pairs_1", "part": 2, "kind": "pairs", "unit": "pairs/s", "sides": sides, "conns": 1,
         "what": "seed workflow as pairs (POST /api/predict with id, then POST /api/learn by id), "
                 "1 keep-alive conn: through the non-owner / to the owner",
         "ratios": [("non-owner", "owner")], "synchronous_commit": sc},
    ]
    run_rounds(comparisons, data, args, ctx.results)
    check_alive(nodes)
    ctx.stop_all()


def part_reads(ctx):
    data, args = ctx.data, ctx.args
    dsn = harness.fresh_database(ctx.admin, "chantilly_bench_reads")
    with statements_logged(ctx.admin):
        nodes = [ctx.keep(start_chantilly("node-%s" % k, ctx.script, dsn, extra=("--allowed-hosts", "127.0.0.1")))
                 for k in "cd"]
    bench.upload(nodes[0], data.river_bytes)
    owner, follower = owner_and_follower(nodes)
    log("the river model's owner: %s; the follower: %s" % (owner.name, follower.name))
    answers = set()
    for n in (owner, follower):
        status, body = bench.http_call(n, "POST", "/api/predict", data.predict_bodies[0], bench.JSON_HEADERS, 10)
        if status != 200:
            raise RuntimeError("%s: POST /api/predict -> %s %s" % (n.name, status, body[:300]))
        answers.add(json.dumps(json.loads(body)["prediction"]))
    if len(answers) != 1:
        ctx.results["warnings"].append("the owner and the follower predict differently: %s" % sorted(answers))
    one = ctx.keep(start_haproxy([owner], "haproxy-1-node"))
    two = ctx.keep(start_haproxy([owner, follower], "haproxy-2-nodes"))
    wait_balanced(one, [owner], data.predict_bodies[0])
    wait_balanced(two, [owner, follower], data.predict_bodies[0])
    pids = lambda proxy=None: (lambda: {"owner": owner.pid, "follower": follower.pid, "postgres": ctx.pg_tree,
                                        **({"haproxy": proxy.pid} if proxy else {})})
    sides = [("1 node", lambda: owner, pids()),
             ("1 node behind HAProxy", lambda: one, pids(one)),
             ("2 nodes behind HAProxy", lambda: two, pids(two))]
    sc = synchronous_commit_set(ctx.pg_log, dsn)
    comparisons = [{"key": "river_predict_4", "part": 3, "kind": "predict", "unit": "req/s", "conns": 4,
                    "sides": sides, "synchronous_commit": sc,
                    "what": "river model, POST /api/predict with features, 4 keep-alive conn",
                    # the predictions each node answered during each measurement
                    "observe": lambda: [predict_requests(owner), predict_requests(follower)],
                    "ratios": [("2 nodes behind HAProxy", "1 node"),
                               ("2 nodes behind HAProxy", "1 node behind HAProxy"),
                               ("1 node behind HAProxy", "1 node")]}]
    run_rounds(comparisons, data, args, ctx.results)
    check_alive(nodes)
    ctx.stop_all()


PARTS = (("store", part_store), ("forwarding", part_forwarding), ("reads", part_reads))


class Context:
    def __init__(self, args, tmp, results):
        self.args, self.tmp, self.results = args, tmp, results
        self.started = []
        self.owners = set()

    def keep(self, thing):
        self.started.append(thing)
        return thing

    def stop_all(self):
        """Stop everything started, the last first (HAProxy before the nodes behind it)."""
        while self.started:
            thing = self.started.pop()
            try:
                if hasattr(thing, "proxy"):
                    thing.proxy.close()
                else:
                    thing.stop()
            except Exception as e:  # keep stopping the others
                log("could not stop %s: %r" % (getattr(thing, "name", thing), e))


def run(args):
    results = {"machine": bench.machine_info(), "comparisons": [], "warnings": [],
               "settings": {"seconds": args.seconds, "rounds": args.rounds, "warmup": args.warmup}}
    tmp = tempfile.mkdtemp(prefix="chantilly-cluster-bench-")
    ctx = Context(args, tmp, results)
    t_run = time.perf_counter()
    try:
        rev = ab.materialise(ab.WORKTREE, os.path.join(tmp, "chantilly"))
        ctx.script = rev["path"]
        results["chantilly"] = "%s, blob %s" % (rev["label"], rev["blob"][:12])
        log("chantilly.py: %s" % results["chantilly"])
        log("building the models")
        ctx.data = data = ab.Data()
        river = harness.river_regressor()
        for x, y in zip(data.xs[:bench.WARM_LEARNS], data.ys[:bench.WARM_LEARNS]):
            river.learn_one(x, y)
        data.river_bytes = dill.dumps(river)
        log("starting PostgreSQL (harness.postgres_cluster)")
        with harness.postgres_cluster() as admin:
            ctx.admin = admin
            settings, ctx.pg_log, postmaster = pg_settings(admin)
            ctx.pg_tree = ("tree", postmaster)  # its backends' CPU counts as the server side's
            results["postgres"] = settings
            log("PostgreSQL %s, fsync=%s (%s)" % (settings["server_version"][0], *settings["fsync"]))
            try:
                for name, part in PARTS:
                    if args.only and name not in args.only:
                        continue
                    log("--- part: %s" % name)
                    t0 = time.perf_counter()
                    part(ctx)
                    results.setdefault("part_seconds", {})[name] = time.perf_counter() - t0
            finally:
                ctx.stop_all()  # before PostgreSQL stops under them
        if len(ctx.owners) > 1:
            results["warnings"].append("the model's owner changed during the forwarding part: %s" % sorted(ctx.owners))
    finally:
        ctx.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    results["elapsed_s"] = time.perf_counter() - t_run
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    return results


# --------------------------------------------------------------------------- the table


def render(results):
    m, s, pg = results["machine"], results["settings"], results.get("postgres", {})
    out = ["chantilly.py: %s" % results.get("chantilly", "?"),
           "Machine: %s CPU(s), %s, Python %s, load average at start %s, at end %s" % (
               m["nproc"], m["cpu"], m["python"], " ".join("%.2f" % x for x in m["loadavg_at_start"] or ()),
               " ".join("%.2f" % x for x in m.get("loadavg_at_end") or ())),
           "PostgreSQL %s (harness.postgres_cluster): fsync=%s (from the %s), cluster default "
           "synchronous_commit=%s, wal_sync_method=%s" % (
               pg.get("server_version", ("?",))[0], *pg.get("fsync", ("?", "?")),
               pg.get("synchronous_commit", ("?",))[0], pg.get("wal_sync_method", ("?",))[0]),
           "Settings: %d rounds of %s s per measurement (after %s s of warm-up each), sides alternating "
           "per round; whole run %.0f s (%s)" % (
               s["rounds"], s["seconds"], s["warmup"], results.get("elapsed_s", 0),
               ", ".join("%s %.0f s" % kv for kv in results.get("part_seconds", {}).items())),
           "",
           "| # | measurement | A | B | B/A | rounds' B/A | synchronous_commit (PostgreSQL sessions) | "
           "server CPU per op A -> B |",
           "|---|---|---:|---:|---:|---|---|---:|"]
    notes = []
    for c in results["comparisons"]:
        unit = c["unit"]
        for b_label, a_label in c["ratios"]:
            pa, pb = c["passes"][a_label], c["passes"][b_label]
            ratios = [b["rate"] / a["rate"] for a, b in zip(pa, pb) if a["rate"] and a["rate"] == a["rate"]]
            cpu = lambda ps: med([1e6 * p["server_cores"] / p["rate"] for p in ps if p["rate"]])
            ca, cb = cpu(pa), cpu(pb)
            out.append("| %d | %s | %s: %s | %s: %s | **%s** | %s | %s | %.0f -> %.0f us (%s) |" % (
                c["part"], c["what"], a_label, bench.fmt_num(med([p["rate"] for p in pa]), unit),
                b_label, bench.fmt_num(med([p["rate"] for p in pb]), unit),
                "%.2fx" % med(ratios) if ratios else "n/a",
                ", ".join("%.2f" % r for r in ratios) or "n/a",
                fmt_sync(c.get("synchronous_commit")), ca, cb, bench.ratio(cb, ca)))
        for label in c["labels"]:
            ps = c["passes"][label]
            errors = sum(p["errors"] for p in ps)
            if errors:
                notes.append("%s, %s: %d errors; first: %s" % (c["key"], label, errors,
                                                               next(p["first_error"] for p in ps if p["first_error"])))
        notes.append("%s: cores used per process (medians; machine: busy cores of %s, other work included): %s" % (
            c["key"], m["nproc"], "; ".join(
                "%s: %s, busiest client %.2f, machine %.2f" % (
                    label, ", ".join("%s %.2f" % (k, med([p["cores"][k] for p in c["passes"][label]]))
                                     for k in c["passes"][label][0]["cores"]),
                    med([p["client_cpu"] for p in c["passes"][label]]),
                    med([p["machine"] for p in c["passes"][label]]))
                for label in c["labels"])))
        for label in c["labels"]:
            seen = [p["observed"] for p in c["passes"][label] if "observed" in p]
            if seen:
                notes.append("%s, %s: POST /api/predict answered by the owner / the follower in each round: %s" % (
                    c["key"], label, ", ".join("%d / %d" % tuple(x) for x in seen)))
    out.append("")
    out.append("A and B take turns in every round (A first in even rounds, B first in odd ones; part 3's three "
               "sides in one order, then reversed). Rates are medians over the rounds; B/A is the median of the "
               "per-round ratios. Server CPU per op sums every server-side process of the side (part 2: both "
               "nodes; part 3: both nodes and HAProxy) and, on PostgreSQL, the postmaster and its backends; a "
               "ratio above 1.00x there: B costs more CPU. "
               "PostgreSQL runs with fsync=off here: `--sync full` (synchronous_commit=on) waits for the WAL "
               "to reach the OS, not the disk, while SQLite's full fsyncs each commit.")
    out.append("")
    for n in notes:
        out.append("- " + n)
    for w in results["warnings"]:
        out.append("")
        out.append("WARNING: " + w)
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement (default 3)")
    p.add_argument("--rounds", type=int, default=4, help="rounds of every measurement (default 4)")
    p.add_argument("--warmup", type=float, default=1.0,
                   help="seconds of each workload on each side before the rounds, not recorded (default 1; 0 skips)")
    p.add_argument("--only", type=lambda t: set(t.split(",")), default=None,
                   help="some parts only, comma-separated: %s" % ",".join(n for n, _ in PARTS))
    p.add_argument("--json", action="store_true", help="print the numbers as JSON instead of the table")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.seconds < 1:
        p.error("--rounds must be at least 1 and --seconds at least 1")
    if args.only and args.only - {n for n, _ in PARTS}:
        p.error("unknown part(s): %s" % ", ".join(sorted(args.only - {n for n, _ in PARTS})))

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)  # unwinds through run()'s finally blocks: everything is stopped

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        results = run(args)
    except (RuntimeError, AssertionError) as e:  # a server that did not start or died: its output is in the message
        print("cluster.py: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2, default=str) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
