"""Prototype: one thread, one `selectors` (epoll) loop over every keep-alive connection.

Issue "Speed, round three" asks whether chantilly's threading model (a handler thread per
connection, the GIL handed back and forth between them) costs more than one thread that reads
all sockets and runs the model calls in order.  This file answers it with a prototype server
and a benchmark run against the servers it would replace or be compared with.

The server (`serve`) answers the same calls as bench/reference_server.py, with the same JSON in
and out and the same model (the bench's creme StandardScaler | LinearRegression, loaded from a
dill file):

* POST /api/predict {"features": {...}, "id"?: ...} -> {"prediction": y}; with an id, the
  features and the prediction are kept in a dict until the label comes;
* POST /api/learn {"features": {...}, "ground_truth": y} (or {"id", "ground_truth"}, which
  pops the stored id) -> {"prediction": y}, predict_one then fit_one;
* GET /stats -> the loop's counters (iterations, commits, writes, requests per commit).

To be a fair step toward chantilly it keeps a durable SQLite log like chantilly's (WAL,
exclusive locking, synchronous=NORMAL, the same `log` and `stored_ids` tables and statements):
every request answered in one loop iteration queues its row, the iteration ends with ONE commit
covering them all (a lone row commits itself, as chantilly's store does; several are a
BEGIN, one executemany per statement, COMMIT), and only then are the answers sent.  Group
commit comes for free: whatever arrived while the previous iteration ran is one commit.
`--no-db` drops the log, to separate the loop's gain from the commit batching.

The loop: level-triggered epoll, one recv(64 KiB) per readable socket per iteration, the head
parsed with find(CRLF CRLF) + split (request line, Content-Length, Connection), then as many
complete requests as the buffer holds, in order (pipelining-safe: their answers are joined in
order and sent with one send after the commit).  A connection whose answers could not all be
written is not read again until they are (back-pressure).  No chunked bodies (501), heads over
64 KiB (431), bodies over 16 MiB (413).  This is a prototype: no Date header, no timeouts, no
validation beyond what json.loads and creme raise (400), no metrics, no streams.

The benchmark (`bench`) starts, in one run: (a) this prototype with its SQLite log, (a') the
prototype with --no-db, (b) the bare ThreadingHTTPServer anchor (bench/reference_server.py),
(c) chantilly itself (a copy of the repository's chantilly.py as it is now, run from a temp
dir on a temp --db, the model uploaded), (d) the FastAPI anchor (bench/fastapi_app.py on
uvicorn, from bench/.venv-fastapi, built by anchors.fastapi_venv() when missing).  It drives
them with bench.py's own load generator (bench.measure_requests: one client process per
keep-alive http.client connection) on POST /api/predict with a new id in every request and
POST /api/learn with features, at 4 then 1 connection(s), alternating the servers in rounds
(each round starts with the next server; bench.client_worker made to count any 2xx as an
answer, since chantilly answers 201 to these calls: see accept_2xx), and reports the median round of each, the ratios
round by round (their median), the server's CPU share, and how many requests each of the
prototype's commits carried.

    nice -n 10 .venv/bin/python bench/proto_selectors.py bench --seconds 3 --rounds 3
    nice -n 10 .venv/bin/python bench/proto_selectors.py bench --json /tmp/proto.json   # also the numbers
    .venv/bin/python bench/proto_selectors.py serve MODEL.dill [--db F | --no-db] [--port P]

What it measured (2-core machine shared with a running test suite, niced, 3 s per measurement,
two runs of 4 and 5 rounds; ratios are medians of per-round ratios, predict-with-id / learn):

* the loop without the log (--no-db) vs the threaded stdlib reference: 1.30-1.36x / 1.22-1.48x
  at 4 connections, 1.04-1.24x / 1.09-1.16x at 1; server CPU 98-158 us per request against
  170-215 us.  Part of that is the head parser (the reference parses with http.server's email
  parser, about 50 us that chantilly already saves); a threaded control with this same parser
  was not built, so the threading model's own share is at most that difference.
* the log costs the loop 21-42% (proto / proto --no-db 0.58-0.79x): with it the prototype is
  0.84-1.10x the reference (which stores nothing) at 4 connections, 0.58-0.86x at 1.  Each
  commit carried 1.73-1.91 requests on average at 4 connections (1.00 at 1): ping-pong clients
  leave little to batch.  2000 pipelined requests on one connection went in 8 commits.
* chantilly / proto 0.46-0.61x at 4 connections, 0.69-0.80x at 1; chantilly spends 410-440 us
  of CPU per request against the prototype's 145-209 us.  proto / FastAPI 1.7-2.8x.
"""

import argparse
import collections
import itertools
import json
import operator
import os
import selectors
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
RECV = 64 * 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    seq   INTEGER PRIMARY KEY,
    model INTEGER NOT NULL,
    body  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stored_ids (
    model   INTEGER NOT NULL,
    id      TEXT NOT NULL,
    body    TEXT NOT NULL,
    created REAL NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stored_ids_order ON stored_ids (model, seq);
"""
INSERT_LOG = "INSERT INTO log (seq, model, body) VALUES (?, ?, ?)"
INSERT_STORED_ID = "INSERT OR REPLACE INTO stored_ids (model, id, body, created, seq) VALUES (?, ?, ?, ?, ?)"
MODEL_ID = 1

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large",
           431: "Request Header Fields Too Large", 501: "Not Implemented", 503: "Service Unavailable"}


def response(status, payload, close=False):
    body = json.dumps(payload).encode()
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: %s\r\n\r\n" % (status, REASONS[status].encode(), len(body),
                                            b"close" if close else b"keep-alive")) + body


# --------------------------------------------------------------------------- the server


class Conn:
    __slots__ = ("sock", "buf", "out", "wbuf", "close_after", "writing")

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""            # bytes received and not yet parsed
        self.out = []             # answers of this iteration, sent after the commit
        self.wbuf = b""           # answers a send could not take: nothing is read until it empties
        self.close_after = False  # Connection: close, EOF or an error answer
        self.writing = False      # registered for EVENT_WRITE


class Loop:
    def __init__(self, model, db=None, sync="normal"):
        self.model = model
        self.stored = {}
        self.sel = selectors.DefaultSelector()
        self.queued = []  # (sql, params) of this iteration's requests
        self.ready = []   # connections with answers in this iteration
        self.seq = 0
        self.counters = collections.Counter()
        self.per_commit = collections.Counter()  # writes per commit -> commits
        self.db = None
        if db:
            self.db = sqlite3.connect(db, isolation_level=None)
            self.db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=%s" % {"full": "FULL", "normal": "NORMAL", "off": "OFF"}[sync])
            self.db.executescript(SCHEMA)

    # -- sockets

    def listen(self, host, port):
        lsock = socket.create_server((host, port), backlog=128)
        lsock.setblocking(False)
        self.sel.register(lsock, selectors.EVENT_READ, None)
        return lsock.getsockname()[:2]

    def accept(self, lsock):
        while True:
            try:
                sock, _ = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EMFILE and friends: try again on the next event
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sel.register(sock, selectors.EVENT_READ, Conn(sock))
            self.counters["connections"] += 1

    def close(self, c):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def run(self):
        select, sel_read = self.sel.select, selectors.EVENT_READ
        while True:
            events = select()
            self.counters["iterations"] += 1
            for key, mask in events:
                c = key.data
                if c is None:
                    self.accept(key.fileobj)
                    continue
                if mask & selectors.EVENT_WRITE:
                    self.flush(c)
                    continue
                if mask & sel_read:
                    try:
                        data = c.sock.recv(RECV)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:  # EOF: answer what was complete, then close
                        c.close_after = True
                        if not c.out:
                            self.close(c)
                        continue
                    c.buf = c.buf + data if c.buf else data
                    self.parse(c)
            self.finish_iteration()

    # -- one iteration's end: one commit, then every answer

    def finish_iteration(self):
        # (a loop, in case a flush that drains a connection parses its pipelined requests)
        while self.ready:
            # A refused commit answers 503 but keeps what the model learned: a prototype's
            # shortcut (chantilly rolls its model back to what the log holds).
            failed = self.commit() if self.queued else None
            ready, self.ready = self.ready, []
            for c in ready:
                out, c.out = c.out, []
                if failed is not None:
                    out = [response(503, {"message": "the log refused the write: %s" % failed})] * len(out)
                c.wbuf = out[0] if len(out) == 1 else b"".join(out)
                self.flush(c)

    def commit(self):
        queued, self.queued = self.queued, []
        try:
            if len(queued) == 1:  # a lone statement commits itself (as chantilly's store)
                self.db.execute(*queued[0])
            else:
                self.db.execute("BEGIN")
                for sql, group in itertools.groupby(queued, key=operator.itemgetter(0)):
                    self.db.executemany(sql, [params for _, params in group])
                self.db.execute("COMMIT")
        except sqlite3.Error as e:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            return str(e)
        self.counters["commits"] += 1
        self.counters["writes"] += len(queued)
        self.per_commit[len(queued)] += 1
        return None

    def flush(self, c):
        """Send c.wbuf; what the socket does not take waits for EVENT_WRITE (and nothing more
        is read from c until it is sent)."""
        try:
            n = c.sock.send(c.wbuf)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            self.close(c)
            return
        c.wbuf = c.wbuf[n:]
        if c.wbuf:
            if not c.writing:
                c.writing = True
                self.sel.modify(c.sock, selectors.EVENT_WRITE, c)
            return
        if c.close_after:
            self.close(c)
            return
        if c.writing:
            c.writing = False
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            if c.buf:  # pipelined requests that waited for the answers to drain
                self.parse(c)

    # -- HTTP/1.1: heads with one find + split, bodies by Content-Length, pipelining in order

    def parse(self, c):
        buf, pos, n = c.buf, 0, len(c.buf)
        answered = False
        while not c.close_after and not c.wbuf:
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                if n - pos > MAX_HEAD:
                    self.answer_error(c, 431, "head too large")
                break
            lines = buf[pos:end].split(b"\r\n")
            while lines and not lines[0]:  # stray CRLFs between requests
                del lines[0]
            try:
                method, target, version = lines[0].split(b" ")
                length, keep = 0, version == b"HTTP/1.1"
                for line in itertools.islice(lines, 1, None):
                    name, _, value = line.partition(b":")
                    name = name.lower()
                    if name == b"content-length":
                        length = int(value)
                        if length < 0:
                            raise ValueError
                    elif name == b"connection":
                        v = value.strip().lower()
                        keep = v == b"keep-alive" if v in (b"keep-alive", b"close") else keep
                    elif name == b"transfer-encoding":
                        self.answer_error(c, 501, "chunked bodies are not supported here")
                        break
                else:
                    if length > MAX_BODY:
                        self.answer_error(c, 413, "body too large")
                        break
                    start = end + 4
                    if n < start + length:
                        break  # the body is not all here yet
                    pos = start + length
                    self.handle(c, method, target, buf[start:pos])
                    answered = True
                    if not keep:
                        c.close_after = True
                    continue
                break
            except (ValueError, IndexError):
                self.answer_error(c, 400, "malformed request head")
                break
        c.buf = buf[pos:] if pos else buf
        return answered

    def answer_error(self, c, status, message):
        c.close_after = True
        c.buf = b""
        self.reply(c, response(status, {"message": message}, close=True))

    def reply(self, c, data):
        if not c.out:
            self.ready.append(c)
        c.out.append(data)

    # -- the model calls, in arrival order

    def handle(self, c, method, target, body):
        self.counters["requests"] += 1
        try:
            if method == b"POST" and target == b"/api/predict":
                p = json.loads(body)
                x = p["features"]
                y = self.model.predict_one(x)
                i = p.get("id")
                if i is not None:
                    self.stored[i] = (x, y)
                    if self.db is not None:
                        self.seq += 1
                        self.queued.append((INSERT_STORED_ID, (MODEL_ID, json.dumps(i), json.dumps({"x": x, "p": y}),
                                                               time.time(), self.seq)))
                self.reply(c, response(200, {"prediction": y}))
            elif method == b"POST" and target == b"/api/learn":
                p = json.loads(body)
                gt = p["ground_truth"]
                x = p.get("features")
                if x is None:
                    if p.get("id") not in self.stored:
                        self.reply(c, response(404, {"message": "unknown id"}))
                        return
                    x, y = self.stored.pop(p["id"])
                else:
                    y = self.model.predict_one(x)
                self.model.fit_one(x, gt)
                if self.db is not None:
                    self.seq += 1
                    self.queued.append((INSERT_LOG, (self.seq, MODEL_ID,
                                                     json.dumps({"x": x, "y": gt, "p": y, "f": 1}))))
                self.reply(c, response(200, {"prediction": y}))
            elif method == b"GET" and target == b"/stats":
                self.reply(c, response(200, self.stats()))
            else:
                self.reply(c, response(404, {"message": "not found"}))
        except Exception as e:  # bad JSON, missing keys, what creme raises on bad features
            self.reply(c, response(400, {"message": "%s: %s" % (type(e).__name__, e)}))

    def stats(self):
        out = dict(self.counters)
        out["per_commit"] = {str(k): v for k, v in sorted(self.per_commit.items())}
        out["db"] = self.db is not None
        return out


def serve(args):
    import dill

    with open(args.model, "rb") as f:
        model = dill.load(f)
    loop = Loop(model, None if args.no_db else args.db, args.sync)
    host, port = loop.listen(args.host, args.port)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print("proto_selectors serving on http://%s:%d/" % (host, port), flush=True)
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    finally:
        if loop.db is not None:
            loop.db.close()
        print("proto_selectors stats: %s" % json.dumps(loop.stats()), file=sys.stderr, flush=True)
    return 0


# --------------------------------------------------------------------------- the benchmark


def bench(args):
    sys.path.insert(0, HERE)
    import dill

    import bench as B  # bench/bench.py: its data, model, server runner and load generator

    accept_2xx(B)
    S = args.seconds
    xs, ys = B.make_data()
    model_bytes = dill.dumps(B.make_model(xs, ys))
    predict_bodies = [json.dumps({"features": x}).encode() for x in xs]
    learn_bodies = [json.dumps({"features": x, "ground_truth": y}).encode() for x, y in zip(xs, ys)]
    id_templates = [B.id_template(b) for b in predict_bodies]

    tmp = tempfile.mkdtemp(prefix="proto-selectors-")
    model_path = os.path.join(tmp, "model.dill")
    with open(model_path, "wb") as f:
        f.write(model_bytes)
    # chantilly as the repository has it now, copied so that edits in progress do not change it mid-run
    ch_dir = os.path.join(tmp, "chantilly")
    os.makedirs(ch_dir)
    ch_file = os.path.join(ch_dir, "chantilly.py")
    shutil.copy(args.chantilly, ch_file)
    py = args.python
    me = os.path.abspath(__file__)

    servers, fleet, versions, fa_why = [], [], None, None
    try:
        def start(name, argv, cwd=ROOT):
            srv = B.Server(name, argv, cwd=cwd)
            servers.append(srv)
            return srv

        fleet.append(("proto", start("proto", [py, me, "serve", model_path, "--db", os.path.join(tmp, "proto.db")])))
        fleet.append(("proto_nodb", start("proto-nodb", [py, me, "serve", model_path, "--no-db"])))
        fleet.append(("reference", start("reference", [py, os.path.join(HERE, "reference_server.py"), model_path])))
        ch = start("chantilly", [py, ch_file, "run", "--host", "127.0.0.1", "--port", "0",
                                 "--db", os.path.join(tmp, "chantilly.db")], cwd=ch_dir)
        B.upload(ch, model_bytes)
        fleet.append(("chantilly", ch))
        if not args.no_fastapi:
            try:
                import anchors

                vpy = anchors.fastapi_venv()
                versions = anchors.fastapi_versions(vpy)
                fa = anchors.FastAPIServer(vpy, "sync")
                servers.append(fa)
                B.upload(fa, model_bytes)
                fleet.append(("fastapi", fa))
            except Exception as e:  # fail soft: the others are still measured
                fa_why = str(e)[:400]
                B.log("FastAPI anchor unavailable: %s" % fa_why)

        # the same model answers the same prediction everywhere (a contract check)
        want = None
        for name, srv in fleet:
            status, data = B.http_call(srv, "POST", "/api/predict", predict_bodies[0], B.JSON_HEADERS)
            got = json.loads(data).get("prediction") if status == 200 else (status, data[:200])
            want = got if want is None else want
            if got != want:
                raise RuntimeError("%s predicts %r where %s predicts %r" % (name, got, fleet[0][0], want))

        workloads = (("predict_id", "/api/predict", id_templates), ("learn", "/api/learn", learn_bodies))
        passes = collections.defaultdict(list)
        commits = collections.defaultdict(list)
        for rnd in range(args.rounds):
            for wl, path, bodies in workloads:
                for conns in (4, 1):
                    k = rnd % len(fleet)
                    for name, srv in fleet[k:] + fleet[:k]:
                        B.log("round %d/%d: %s %s, %d conn" % (rnd + 1, args.rounds, name, wl, conns))
                        before = stats(B, srv) if name.startswith("proto") else None
                        r = B.measure_requests(srv, path, bodies, conns, S,
                                               id_prefix="r%d" % rnd if wl == "predict_id" else None)
                        if before is not None:
                            after = stats(B, srv)
                            d = {key: after.get(key, 0) - before.get(key, 0)
                                 for key in ("iterations", "commits", "writes", "requests")}
                            d["requests"] -= 1  # the /stats call itself
                            r["loop"] = d
                            if name == "proto":
                                commits[wl, conns].append(d)
                        passes[name, wl, conns].append(r)
        result = report(B, fleet, passes, commits, workloads, args, versions, fa_why)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1, default=str)
    finally:
        for srv in servers:
            try:
                srv.stop()
            except Exception as e:
                B.log("stopping %s: %r" % (getattr(srv, "name", "?"), e))
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def accept_2xx(B):
    """bench.client_worker (as of commit 98ca102) counts only 200 as an answer, but chantilly answers 201 to a learn
    and to a prediction kept under an id (since commit 4e71322, "as chantilly 0.2 did"), so
    bench.py's own loop would count every such chantilly answer as an error.  Use the very same
    function with `status == 200` read as any 2xx (the forked client processes inherit it)."""
    import inspect
    import textwrap

    src = textwrap.dedent(inspect.getsource(B.client_worker))
    if "200 <= status < 300" in src:  # bench.py already counts any 2xx
        return
    if src.count("if status == 200:") != 1:
        raise RuntimeError("bench.client_worker changed: cannot make it accept 201")
    ns = {}
    exec(compile(src.replace("if status == 200:", "if status is not None and 200 <= status < 300:"),
                 B.__file__, "exec"), B.__dict__, ns)
    B.client_worker = ns["client_worker"]


def stats(B, srv):
    status, data = B.http_call(srv, "GET", "/stats")
    return json.loads(data) if status == 200 else {}


def report(B, fleet, passes, commits, workloads, args, versions, fa_why):
    names = [n for n, _ in fleet]
    cases = [(wl, conns) for wl, _, _ in workloads for conns in (4, 1)]
    label = {"proto": "proto_selectors (SQLite log, group commit)", "proto_nodb": "proto_selectors --no-db",
             "reference": "bare ThreadingHTTPServer (reference_server.py)", "chantilly": "chantilly (current file)",
             "fastapi": "FastAPI + uvicorn (def routes)"}
    what = {"predict_id": "predict, new id each", "learn": "learn with features"}

    def mid(ps):
        return sorted(ps, key=lambda r: r["rate"])[(len(ps) - 1) // 2] if ps else None

    def by_round(a, b, wl, conns):
        return [x["rate"] / y["rate"] for x, y in zip(passes[a, wl, conns], passes[b, wl, conns]) if y["rate"]]

    out = {"seconds": args.seconds, "rounds": args.rounds, "fastapi": versions or fa_why, "rates": {}, "ratios": {},
           "commits": {}}
    print("\n## proto_selectors: req/s, median of %d rounds of %g s (CPU share of one core: server / busiest client)\n"
          % (args.rounds, args.seconds))
    print("| server | " + " | ".join("%s, %d conn" % (what[wl], c) for wl, c in cases) + " |")
    print("|---|" + "---:|" * len(cases))
    for n in names:
        cells = []
        for wl, conns in cases:
            r = mid(passes[n, wl, conns])
            errs = sum(p["errors"] for p in passes[n, wl, conns])
            cells.append("{:,.0f} ({:.0%} / {:.0%}){}".format(r["rate"], r["server_cpu"], r["client_cpu"],
                                                            " %d errors" % errs if errs else ""))
            out["rates"]["%s %s %d" % (n, wl, conns)] = [
                {k: p[k] for k in ("rate", "server_cpu", "client_cpu", "p50_ms", "p99_ms", "errors")}
                for p in passes[n, wl, conns]]
        print("| %s | %s |" % (label[n], " | ".join(cells)))

    print("\n## server CPU per answered request, microseconds (median round; lower is cheaper)\n")
    print("| server | " + " | ".join("%s, %d conn" % (what[wl], c) for wl, c in cases) + " |")
    print("|---|" + "---:|" * len(cases))
    for n in names:
        cells = []
        for wl, conns in cases:
            us = sorted(p["server_cpu"] * 1e6 / p["rate"] for p in passes[n, wl, conns] if p["rate"])
            cells.append("%.0f" % us[(len(us) - 1) // 2] if us else "n/a")
        print("| %s | %s |" % (label[n], " | ".join(cells)))

    pairs = [("proto", "reference"), ("proto", "fastapi"), ("chantilly", "proto"), ("proto_nodb", "reference"),
             ("proto", "proto_nodb"), ("chantilly", "reference"), ("chantilly", "fastapi")]
    pairs = [(a, b) for a, b in pairs if a in names and b in names]
    print("\n## ratios: median of the rounds' ratios (each round measures both within seconds; the rounds in brackets)\n")
    print("| ratio | " + " | ".join("%s, %d conn" % (what[wl], c) for wl, c in cases) + " |")
    print("|---|" + "---:|" * len(cases))
    for a, b in pairs:
        cells = []
        for wl, conns in cases:
            per = by_round(a, b, wl, conns)
            out["ratios"]["%s/%s %s %d" % (a, b, wl, conns)] = per
            cells.append("**%.2fx** (%s)" % (B.median(per), ", ".join("%.2f" % x for x in per)) if per else "n/a")
        print("| %s / %s | %s |" % (a, b, " | ".join(cells)))

    print("\n## proto_selectors with its SQLite log: loop iterations and commits\n")
    print("| workload | requests | loop iterations | commits | requests per commit (mean) |")
    print("|---|---:|---:|---:|---:|")
    for wl, conns in cases:
        ds = commits.get((wl, conns)) or []
        req = sum(d["requests"] for d in ds)
        it = sum(d["iterations"] for d in ds)
        cm = sum(d["commits"] for d in ds)
        wr = sum(d["writes"] for d in ds)
        out["commits"]["%s %d" % (wl, conns)] = {"requests": req, "iterations": it, "commits": cm, "writes": wr}
        print("| %s, %d conn | {:,} | {:,} | {:,} | %.2f |".format(req, it, cm) % (
            what[wl], conns, wr / cm if cm else float("nan")))
    if versions:
        print("\nFastAPI anchor: %s." % versions)
    if fa_why:
        print("\nFastAPI anchor unavailable: %s" % fa_why)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the prototype server")
    s.add_argument("model", help="a dill file holding the model")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--db", default="proto_selectors.db", help="SQLite log (default: %(default)s)")
    s.add_argument("--no-db", action="store_true", help="no log: answers right after the model call")
    s.add_argument("--sync", choices=("full", "normal", "off"), default="normal")
    b = sub.add_parser("bench", help="measure the prototype beside the reference, chantilly and FastAPI")
    b.add_argument("--seconds", type=float, default=3.0, help="per measurement (default: %(default)s)")
    b.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: %(default)s)")
    b.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    b.add_argument("--chantilly", default=os.path.join(ROOT, "chantilly.py"), help="the chantilly.py to copy and run")
    b.add_argument("--no-fastapi", action="store_true")
    b.add_argument("--json", help="also write the numbers to this file")
    args = p.parse_args(argv)
    return serve(args) if args.cmd == "serve" else bench(args)


if __name__ == "__main__":
    sys.exit(main())
