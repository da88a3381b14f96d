"""Before/after: two revisions of chantilly.py on the same machine, taking turns.

    python bench/ab.py --before REV --after REV|WORKTREE [--rounds 5] [--seconds 3]
    python bench/ab.py --before 98ca102 --after WORKTREE             # a refactor in progress
    python bench/ab.py --before HEAD --after WORKTREE --rounds 7 --json
    python bench/ab.py --before WORKTREE --after WORKTREE            # A/A: the machine's noise floor
    nice -n 10 .venv/bin/python bench/ab.py --before 98ca102 --after WORKTREE --rounds 5 --seconds 2

Meant for a closing note such as "the refactor costs X% on keep-alive learns": one number per
workload, with the spread that tells whether X is more than the machine's noise.

--before and --after each name a git revision (its chantilly.py, taken with `git show
REV:chantilly.py`), WORKTREE (chantilly.py as it is on disk now, copied once at the start, so
an edit made during the run does not change what is measured) or a path to a chantilly.py.
Each copy goes into its own temporary folder under the same name, chantilly.py; static/ is not
copied: chantilly.py embeds the dashboard and no workload here asks for it.  Each is started
as a real server (`chantilly.py run --host 127.0.0.1 --port 0` on its own temporary SQLite
database, the default --sync unless --sync is given), and gets the bench's model uploaded
(creme StandardScaler | LinearRegression, 8 features, warmed with 300 learns:
bench.make_data / bench.make_model).  Both must answer the same prediction to the same first
request (a contract check, not a measurement).

The workloads are bench.py's, measured by bench.py's own client (it has no wrk dependency:
wrk is only an optional extra part there):

* POST /api/predict with a new id in every request (the id's features are stored), on 4 and
  on 1 keep-alive connections (bench.measure_requests: one client process per connection);
* POST /api/learn with features, on 4 and on 1 keep-alive connections;
* the seed workflow over one POST /api/stream (bench.stream_ops with workloads.seed_chunks:
  predictions with ids, each learned by id ~50 predictions later, shuffled, 1000 per chunk);
* learns with features over one POST /api/stream (workloads.fixed_chunks).

After an unrecorded warm-up of each workload on each server (--warmup seconds), each of
--rounds rounds measures every workload on both servers back to back, so that the two
measurements of a pair are seconds apart: before then after in even rounds, after then
before in odd ones (A B, B A, A B, ...: whichever goes second in a pair has no constant
advantage).  Both servers live through all the rounds and receive the same traffic in the
same order, so their databases grow alike.

The table gives, per workload, the median rate of each revision over the rounds, the median
of the per-round ratios after/before (below 1.00x: after is slower), their min-max, and the
server's CPU per operation (from /proc/PID/stat; on a shared machine it moves less than the
rate).  "within spread" means the rounds' ratios fall on both sides of 1.00x; "after slower
in all 5 rounds" what it says (with identical files that happens by chance once in 16
workloads at 5 rounds, so read it beside an A/A run).  Errors and
client-bound measurements (a client process at 90% CPU or more) are counted under the table.

Every server started is stopped at the end (SIGTERM, then SIGKILL), also on an error, Ctrl-C
or SIGTERM; every socket, queue and subprocess call has a timeout.  Progress goes to stderr,
the markdown table (or, with --json, the numbers) to stdout.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types

import dill

import bench
import workloads

ROOT = bench.ROOT
WORKTREE = "WORKTREE"
STREAM_CHUNK = bench.STREAM_CHUNK

#: (key, what, unit, kind, connections), in the order they are measured within a round.
WORKLOADS = (
    ("predict_id_4", "POST /api/predict, a new id each, 4 keep-alive conn", "req/s", "predict_id", 4),
    ("predict_id_1", "POST /api/predict, a new id each, 1 keep-alive conn", "req/s", "predict_id", 1),
    ("learn_4", "POST /api/learn with features, 4 keep-alive conn", "req/s", "learn", 4),
    ("learn_1", "POST /api/learn with features, 1 keep-alive conn", "req/s", "learn", 1),
    ("seed_stream", "seed workflow over POST /api/stream (predict with id, learn by id ~%d behind)"
     % workloads.SEED_LAG, "ops/s", "seed", 1),
    ("learn_stream", "learn with features over POST /api/stream", "ops/s", "feat", 1),
)


def log(*args):
    print("[ab]", *args, file=sys.stderr, flush=True)


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, timeout=60, check=True).stdout


def materialise(spec, folder):
    """Copy the chantilly.py that `spec` names into folder/chantilly.py.

    Returns {"spec", "label", "path", "blob"} where blob is the file's git blob id (the same
    id for the same content, whatever the spec was)."""
    os.makedirs(folder)
    path = os.path.join(folder, "chantilly.py")
    if spec.upper() == WORKTREE:
        shutil.copyfile(os.path.join(ROOT, "chantilly.py"), path)
        label = "worktree"
        try:
            if git("status", "--porcelain", "--", "chantilly.py").strip():
                label += " (modified)"
            else:
                label += " (= HEAD %s)" % git("rev-parse", "--short", "HEAD").decode().strip()
        except (OSError, subprocess.SubprocessError):
            pass
    elif os.path.isfile(spec):
        shutil.copyfile(spec, path)
        label = os.path.abspath(spec)
    else:
        try:
            short = git("rev-parse", "--short", "--verify", spec + "^{commit}").decode().strip()
            source = git("show", "%s:chantilly.py" % short)
        except (OSError, subprocess.SubprocessError) as e:
            err = (getattr(e, "stderr", b"") or b"").decode(errors="replace").strip()
            raise SystemExit("ab.py: no chantilly.py at %r: %s" % (spec, err[:300] or e))
        with open(path, "wb") as f:
            f.write(source)
        label = short if short.startswith(spec) or spec.startswith(short) else "%s (%s)" % (spec, short)
    blob = git("hash-object", path).decode().strip()
    return {"spec": spec, "label": label, "path": path, "blob": blob}


class Data:
    """The bench's model and the bodies and lines of every workload, built once."""

    def __init__(self):
        self.xs, self.ys = bench.make_data()
        self.model_bytes = dill.dumps(bench.make_model(self.xs, self.ys))
        self.predict_bodies = [json.dumps({"features": x}).encode() for x in self.xs]
        self.id_templates = [bench.id_template(b) for b in self.predict_bodies]
        self.learn_bodies = [json.dumps({"features": x, "ground_truth": y}).encode()
                             for x, y in zip(self.xs, self.ys)]
        self.feat_lines = workloads.learn_lines(self.xs, self.ys)


def measure(srv, data, kind, conns, seconds, tag):
    """One measurement: {"rate", "errors", "cpu_us" (server CPU per op), "client_bound", "first_error"}."""
    if kind in ("predict_id", "learn"):
        if kind == "predict_id":
            r = bench.measure_requests(srv, "/api/predict", data.id_templates, conns, seconds, id_prefix=tag)
        else:
            r = bench.measure_requests(srv, "/api/learn", data.learn_bodies, conns, seconds)
        return {"rate": r["rate"], "errors": r["errors"], "first_error": r["first_error"],
                "cpu_us": 1e6 * r["server_cpu"] / r["rate"] if r["rate"] else float("nan"),
                "client_bound": r["client_bound"]}
    if kind == "seed":
        make_chunk = workloads.seed_chunks(data.xs, data.ys, STREAM_CHUNK, prefix=tag + "-")
    else:
        make_chunk = workloads.fixed_chunks(data.feat_lines, STREAM_CHUNK)
    try:
        r = bench.stream_ops(srv, make_chunk, time.perf_counter() + seconds, timeout=seconds + 60)
    except (OSError, bench.StreamError) as e:
        return {"rate": float("nan"), "errors": 1, "first_error": repr(e), "cpu_us": float("nan"),
                "client_bound": False}
    errors = r["failed"] + abs(r["sent"] - r["answered"])
    return {"rate": r["rate"], "errors": errors,
            "first_error": ("last answer: %s" % r["last"][:300]) if errors else None,
            "cpu_us": 1e6 * r["server_cpu"] / r["rate"] if r["rate"] else float("nan"),
            "client_bound": False}


def finite(values):
    return [v for v in values if v == v]


def med(values):
    v = finite(values)
    return statistics.median(v) if v else float("nan")


def run(args):
    tmp = tempfile.mkdtemp(prefix="chantilly-ab-")
    servers = {}
    results = {"machine": bench.machine_info(),
               "settings": {"rounds": args.rounds, "seconds": args.seconds, "warmup": args.warmup,
                            "sync": args.sync or "default", "python": args.python},
               "workloads": {}, "warnings": []}
    t_run = time.perf_counter()
    try:
        revs = {"before": materialise(args.before, os.path.join(tmp, "before")),
                "after": materialise(args.after, os.path.join(tmp, "after"))}
        results["revisions"] = revs
        for side, rev in revs.items():
            log("%s: %s, chantilly.py blob %s" % (side, rev["label"], rev["blob"][:12]))
        if revs["before"]["blob"] == revs["after"]["blob"]:
            results["warnings"].append(
                "before and after are the same file (blob %s): this is an A/A run, its ratios are the "
                "machine's noise floor" % revs["before"]["blob"][:12])
            log("WARNING: " + results["warnings"][-1])

        log("building the model")
        data = Data()
        for side, rev in revs.items():
            argv = bench.chantilly_argv(types.SimpleNamespace(python=args.python, chantilly=rev["path"]),
                                        os.path.join(tmp, side + ".db"), args.sync)
            servers[side] = srv = bench.Server("chantilly-" + side, argv, timeout=90)
            bench.upload(srv, data.model_bytes)
            log("%s serving on %s (pid %d)" % (side, srv.url, srv.pid))
        answers = {}
        for side, srv in servers.items():
            status, body = bench.http_call(srv, "POST", "/api/predict", data.predict_bodies[0],
                                           bench.JSON_HEADERS, timeout=30)
            if status != 200:
                raise RuntimeError("%s: POST /api/predict -> %s %s" % (side, status, body[:300]))
            answers[side] = json.loads(body).get("prediction")
        if answers["before"] != answers["after"]:
            results["warnings"].append("the first prediction differs: before %r, after %r" % (
                answers["before"], answers["after"]))

        def check_alive():
            for side, srv in servers.items():
                if srv.proc.poll() is not None:
                    raise RuntimeError("%s exited with status %s%s" % (
                        srv.name, srv.proc.returncode, srv.tail(3000)))

        if args.warmup > 0:
            for key, what, unit, kind, conns in WORKLOADS:
                for side in ("before", "after"):
                    log("warm-up: %s, %s" % (side, key))
                    measure(servers[side], data, kind, conns, args.warmup, "w")
            check_alive()

        passes = {key: {"before": [], "after": []} for key, *_ in WORKLOADS}
        for rnd in range(args.rounds):
            order = ("before", "after") if rnd % 2 == 0 else ("after", "before")
            for key, what, unit, kind, conns in WORKLOADS:
                for side in order:
                    r = measure(servers[side], data, kind, conns, args.seconds, "r%d" % rnd)
                    passes[key][side].append(r)
                    if r["errors"]:
                        log("  %d errors on %s %s, first: %s" % (r["errors"], side, key, r["first_error"]))
                b, a = passes[key]["before"][-1], passes[key]["after"][-1]
                log("round %d of %d, %-12s before %8.0f  after %8.0f  %s/s  after/before %.3f  "
                    "server CPU/op %.0f -> %.0f us" % (
                        rnd + 1, args.rounds, key, b["rate"], a["rate"], unit[:-2],
                        a["rate"] / b["rate"] if b["rate"] else float("nan"), b["cpu_us"], a["cpu_us"]))
            check_alive()

        for key, what, unit, kind, conns in WORKLOADS:
            ps = passes[key]
            ratios = [a["rate"] / b["rate"] for b, a in zip(ps["before"], ps["after"])
                      if b["rate"] and b["rate"] == b["rate"] and a["rate"] == a["rate"]]
            results["workloads"][key] = {
                "what": what, "unit": unit,
                "rates": {s: [p["rate"] for p in ps[s]] for s in ps},
                "cpu_us": {s: [p["cpu_us"] for p in ps[s]] for s in ps},
                "errors": {s: sum(p["errors"] for p in ps[s]) for s in ps},
                "first_error": next((p["first_error"] for s in ps for p in ps[s] if p["first_error"]), None),
                "client_bound": {s: sum(1 for p in ps[s] if p["client_bound"]) for s in ps},
                "ratios": ratios,
            }
    finally:
        for side, srv in servers.items():
            try:
                srv.stop()
            except Exception as e:  # keep stopping the other one
                log("could not stop %s: %r" % (srv.name, e))
        shutil.rmtree(tmp, ignore_errors=True)
    results["elapsed_s"] = time.perf_counter() - t_run
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    return results


def verdict(ratios):
    if not ratios:
        return "n/a"
    if min(ratios) <= 1.0 <= max(ratios):
        return "within spread"
    return "after %s in all %d rounds" % ("slower" if max(ratios) < 1.0 else "faster", len(ratios))


def render(results):
    revs, m, s = results["revisions"], results["machine"], results["settings"]
    b, a = revs["before"]["label"], revs["after"]["label"]
    out = ["before: %s (chantilly.py blob %s); after: %s (blob %s)" % (
               b, revs["before"]["blob"][:12], a, revs["after"]["blob"][:12]),
           "Machine: %s CPU(s), %s, Python %s, creme %s, load average at start %s, at end %s" % (
               m["nproc"], m["cpu"], m["python"], m.get("creme", "?"),
               " ".join("%.2f" % x for x in m["loadavg_at_start"] or ()),
               " ".join("%.2f" % x for x in m.get("loadavg_at_end") or ())),
           "Settings: %d rounds of %s s per measurement (after %s s of warm-up each), --sync %s, "
           "servers taking turns (before first in even rounds, after first in odd ones); whole run %.0f s"
           % (s["rounds"], s["seconds"], s["warmup"], s["sync"], results.get("elapsed_s", 0)),
           "",
           "| workload | before | after | after/before | rounds' min-max | verdict | server CPU/op before -> after |",
           "|---|---:|---:|---:|---|---|---:|"]
    notes = []
    for key, w in results["workloads"].items():
        rb, ra = med(w["rates"]["before"]), med(w["rates"]["after"])
        cb, ca = med(w["cpu_us"]["before"]), med(w["cpu_us"]["after"])
        r = w["ratios"]
        out.append("| %s | %s | %s | %s | %s | %s | %.0f -> %.0f us (%s) |" % (
            w["what"], bench.fmt_num(rb, w["unit"]), bench.fmt_num(ra, w["unit"]),
            "%.3fx" % med(r) if r else "n/a",
            "%.3f-%.3fx" % (min(r), max(r)) if r else "n/a", verdict(r), cb, ca, bench.ratio(ca, cb)))
        if w["errors"]["before"] or w["errors"]["after"]:
            notes.append("%s: %d errors before, %d after; first: %s" % (
                key, w["errors"]["before"], w["errors"]["after"], (w["first_error"] or "")[:300]))
        if w["client_bound"]["before"] or w["client_bound"]["after"]:
            notes.append("%s: client-bound in %d of the before and %d of the after measurements (a client "
                         "process at 90%%+ CPU: the ratio understates a difference)" % (
                             key, w["client_bound"]["before"], w["client_bound"]["after"]))
    out.append("")
    out.append("Rates are the median over the rounds; after/before is the median of the per-round ratios "
               "(below 1.00x: after is slower), with their min-max; server CPU per operation is the median "
               "over the rounds (a ratio above 1.00x there: after costs more CPU).  \"within spread\": "
               "the rounds' ratios fall on both sides of 1.00x.  With identical files each round's ratio is "
               "a coin toss, so all %d on one side happens by chance once in %d workloads: an A/A run "
               "(--before X --after X) shows the machine's noise floor." % (s["rounds"], 2 ** (s["rounds"] - 1)))
    for n in notes:
        out.append("")
        out.append("NOTE: " + n)
    for w in results["warnings"]:
        out.append("")
        out.append("WARNING: " + w)
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, metavar="REV|WORKTREE|PATH",
                   help="the revision measured as before: a git revision, WORKTREE or a chantilly.py")
    p.add_argument("--after", required=True, metavar="REV|WORKTREE|PATH",
                   help="the revision measured as after (same forms)")
    p.add_argument("--rounds", type=int, default=5, help="rounds of every workload on both (default 5)")
    p.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement (default 3)")
    p.add_argument("--warmup", type=float, default=1.0,
                   help="seconds of each workload on each server before the rounds, not recorded "
                        "(default 1; 0 skips)")
    p.add_argument("--sync", default=None, help="--sync mode of both servers (default: chantilly's default)")
    p.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON instead of the table")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0:
        p.error("--rounds must be at least 1 and --seconds above 0")

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)  # unwinds through run()'s finally: the servers are stopped

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        results = run(args)
    except RuntimeError as e:  # a server that did not start or died: its stderr is in the message
        print("ab.py: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2, default=str) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
