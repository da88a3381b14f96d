"""The per-request budget: what each step of one request costs, in microseconds.

    python bench/budget.py                 # the table (about 20-30 s)
    python bench/budget.py --loops 500     # quicker, noisier
    python bench/budget.py --json          # the numbers
    python bench/budget.py --chantilly /tmp/other/chantilly.py   # another copy of the server

Two requests, as the bench sends them: POST /api/predict with a new id each time
({"id", "features"}) and POST /api/learn with features ({"features", "ground_truth"}), on
the bench's model (creme StandardScaler | LinearRegression, 8 features, warmed with 300
learns).  Each step the server takes for one request is timed in this process with timeit
(GC enabled, as in the server; the best of 5 repeats of --loops calls, minus the cost of an
empty call), on the same objects the server uses: a real chantilly.Service on a temporary
SQLite file with --sync normal, with the bench's model uploaded.  Then the whole request is
timed end to end over one keep-alive connection to `chantilly.py run` in a child process
(a raw-socket client sending the head http.client sends), and the sum of the steps is set
beside it: the difference is what no step holds (the socket's system calls, the handler
thread waking up, GIL hand-offs, and the few lines of glue between the steps).

A step whose function is missing or has another signature in this chantilly.py is skipped
with a note; the rest still run.  Progress goes to stderr, the table (or JSON) to stdout.
"""

import argparse
import gc
import importlib.util
import io
import itertools
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import timeit
import types
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REPEAT = 5
KINDS = ("predict", "learn")
PATHS = {"predict": "/api/predict", "learn": "/api/learn"}
MODEL = "default"  # the name an upload without a name serves under


T0 = time.perf_counter()


def log(*args):
    print("[budget %4.1fs]" % (time.perf_counter() - T0), *args, file=sys.stderr, flush=True)


class Skip(Exception):
    """A step that cannot be measured on this chantilly.py (the note says why)."""


def load_chantilly(path):
    spec = importlib.util.spec_from_file_location("chantilly", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["chantilly"] = module
    spec.loader.exec_module(module)
    return module


def http_head(path, length, port=5000):
    """The head http.client sends for a JSON POST (what the bench's clients send)."""
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept-Encoding: identity\r\n"
            "Content-Length: %d\r\nContent-Type: application/json\r\n\r\n" % (path, port, length)).encode()


def bodies(kind, xs, ys, prefix):
    """JSON bodies as a client sends them (json.dumps), a new id in every prediction."""
    if kind == "predict":
        return [json.dumps({"id": "%s-%d" % (prefix, i), "features": x}).encode() for i, x in enumerate(xs)]
    return [json.dumps({"features": x, "ground_truth": y}).encode() for x, y in zip(xs, ys)]


# --------------------------------------------------------------------------- timing


def cycler(items):
    return itertools.cycle(items).__next__


#: The clock the in-process steps are timed with (--clock): the thread's CPU time by default,
#: which a busy machine's other processes do not inflate (they take turns on the cores, and a
#: wall clock counts the turns this process waited for); or wall time (perf_counter).
CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}
CLOCK = ["cpu"]


def time_fn(fn, loops, repeat=REPEAT, pre=None, post=None):
    """Seconds per call of fn(): (best, median) of `repeat` runs of `loops` calls, GC on.
    With `pre` / `post` (run before / after each call, untimed), each call is timed alone,
    less the cost of reading the clock."""
    if pre is None and post is None:
        runs = timeit.Timer(fn, setup="import gc; gc.enable()", timer=CLOCKS[CLOCK[0]]).repeat(repeat, loops)
    else:
        clock, overhead, runs = CLOCKS[CLOCK[0]], clock_overhead(), []
        for _ in range(repeat):
            total = 0.0
            for _ in range(loops):
                pre and pre()
                t = clock()
                fn()
                total += clock() - t - overhead
                post and post()
            runs.append(total)
    per = sorted(r / loops for r in runs)
    return per[0], statistics.median(per)


def clock_overhead(n=2000):
    """Seconds that timing an empty call adds: two clock reads and the call."""
    clock, noop, calib = CLOCKS[CLOCK[0]], (lambda: None), []
    for _ in range(n):
        t = clock()
        noop()
        calib.append(clock() - t)
    return statistics.median(calib)


def unpack(built):
    """A step builder's answer: (fn, base, every, note, pre, post); base, pre and post may be None."""
    return tuple(built) + (None, None, 1, "", None, None)[len(built):]


# --------------------------------------------------------------------------- the steps


class Context:
    """What the steps share: chantilly, the service and its default model, the data."""

    def __init__(self, c, args, tmp):
        import bench  # make_data / make_model: the bench's samples and model

        self.c = c
        self.xs, self.ys = bench.make_data()
        self.model_obj = bench.make_model(self.xs, self.ys)
        import dill

        self.model_bytes = dill.dumps(self.model_obj)
        self.tmp = tmp
        self.notes = []
        self.counter = itertools.count()
        self.service = self.dep = None
        try:
            self.service = c.Service.open(os.path.join(self.tmp, "budget.db"), sync="normal")
            self.service.upload(self.model_bytes)
            self.dep = self.service._deployment(None)
            self.name = self.dep.name
            self.model = self.dep.model
        except Exception as e:  # the service-backed steps are skipped, the pure ones still run
            self.notes.append("no Service (%s: %s): the steps that need one are skipped" % (type(e).__name__, e))
            self.name = MODEL
            self.model = c.Model(dill.loads(self.model_bytes))
        self.n = len(self.xs)
        self.body = {k: bodies(k, self.xs, self.ys, "b") for k in KINDS}
        self.head = {k: [http_head(PATHS[k], len(b)) for b in self.body[k]] for k in KINDS}
        self.payload = {k: [json.loads(b) for b in self.body[k]] for k in KINDS}

    def need_service(self):
        if self.dep is None:
            raise Skip("no Service")

    def fresh_key(self):
        return '"p-%d"' % next(self.counter)  # stored ids are keyed by their JSON


def step_parse(ctx, kind):
    """The request line (as Handler.parse_request reads it) and read_headers on the head."""
    c = ctx.c
    read_headers, Headers, redact, token = c.read_headers, c.Headers, c.redact, c._TOKEN
    if not isinstance(read_headers(io.BytesIO(ctx.head[kind][0].split(b"\r\n", 1)[1])), Headers):
        raise Skip("read_headers refused the head")
    nxt = cycler(ctx.head[kind])

    def fn():
        rfile = io.BytesIO(nxt())
        raw = rfile.readline(65537)
        line = raw.decode("latin-1").rstrip("\r\n")
        words = line.split(" ")
        " ".join(map(redact, words))
        command, path, version = words
        token.fullmatch(command)
        version in ("HTTP/1.1", "HTTP/1.0")
        headers = read_headers(rfile)
        path[:7].lower() == "http://" or path[:8].lower() == "https://"
        "host" in headers
        headers.get("Expect")
        headers.get("Connection", "").lower()
        return headers

    def base():
        io.BytesIO(nxt())
    return fn, base


class _Headers(dict):
    """Case-insensitive headers, for the steps after parse when chantilly's cannot be had."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)

    def __contains__(self, name):
        return dict.__contains__(self, name.lower())


def parsed_headers(ctx, kind):
    """The heads' headers, as the steps after parse get them (read_headers' Headers, or a
    stand-in when this chantilly.py reads them otherwise)."""
    fields = [h.split(b"\r\n", 1)[1] for h in ctx.head[kind]]
    try:
        return [ctx.c.read_headers(io.BytesIO(f)) for f in fields]
    except Exception:
        pass
    out = []
    for f in fields:
        headers = _Headers()
        for line in f.decode("latin-1").split("\r\n"):
            if line:
                name, _, value = line.partition(":")
                headers[name.lower()] = value.strip()
        out.append(headers)
    return out


def step_guard(ctx, kind):
    guard = ctx.c.Guard("127.0.0.1")
    hs = parsed_headers(ctx, kind)
    if guard.check("POST", hs[0]) != ():
        raise Skip("Guard.check did not pass the bench's head")
    nxt = cycler(hs)
    check = guard.check

    def fn():
        check("POST", nxt())
    return fn, lambda: nxt()


def step_route(ctx, kind):
    """ROUTER.match, the path's parameters and body limit, and the Request the route sees."""
    c = ctx.c
    match, unquote, Request = c.ROUTER.match, urllib.parse.unquote, c.Request
    settings = ctx.service.settings if ctx.service is not None else c.Settings()
    target = PATHS[kind]
    route, _ = match("POST", target)
    if route.fn.__name__ != "post_" + kind:
        raise Skip("ROUTER.match(POST, %s) gave %s" % (target, route.fn.__name__))
    headers = parsed_headers(ctx, kind)[0]
    Request("POST", target, {}, headers, ctx.service, None, None, 0, lambda: 0)

    def fn():
        path, _, query = target.partition("?")
        route, params = match("POST", path)
        {k: unquote(v) for k, v in params.items()}
        route.pattern
        limit = getattr(settings, route.body_limit) if route.body_limit else None
        Request("POST", path, {}, headers, ctx.service, None, None, limit, lambda: 0)
    return fn, None


def step_body(ctx, kind):
    """BodyReader.read_all (Content-Length, paced by a socket timeout as the server does) and
    parse_json."""
    c = ctx.c
    BodyReader, parse_json = c.BodyReader, c.parse_json
    hs = parsed_headers(ctx, kind)
    sock = socket.socket()  # unconnected: only its settimeout is called, as on a connection
    ctx.closing.append(sock)
    pace = (sock, 60.0, 500)
    items = list(zip(ctx.body[kind], hs))
    body, headers = items[0]
    if parse_json(BodyReader(io.BytesIO(body), headers, lambda: None, pace).read_all(1 << 20)) != json.loads(body):
        raise Skip("BodyReader + parse_json did not give the body back")
    nxt = cycler(items)
    noop = lambda: None  # noqa: E731

    def fn():
        body, headers = nxt()
        parse_json(BodyReader(io.BytesIO(body), headers, noop, pace).read_all(1 << 20))

    def base():
        body, headers = nxt()
        io.BytesIO(body)
    return fn, base


def step_validate(ctx, kind):
    Operation = ctx.c.Operation
    nxt = cycler(ctx.payload[kind])
    Operation(kind, ctx.payload[kind][0])

    def fn():
        Operation(kind, nxt())
    return fn, lambda: nxt()


def step_lookup(ctx, kind):
    """A new id is looked up before it is stored (ModelRows.find_id: a SELECT, the key being new)."""
    if kind != "predict":
        return None
    ctx.need_service()
    find_id, fresh = ctx.dep.rows.find_id, ctx.fresh_key
    find_id(fresh())

    def fn():
        find_id(fresh())
    return fn, lambda: fresh()


def step_model(ctx, kind):
    """Model.predict (predict_one on a copy of the features), and Model.learn (fit_one)."""
    model = ctx.model
    model.predict(ctx.xs[0])
    if kind == "predict":
        nxt = cycler(ctx.xs)

        def fn():
            model.predict(nxt())
        return fn, lambda: nxt()
    nxt = cycler(list(zip(ctx.xs, ctx.ys)))
    predict, learn = model.predict, model.learn

    def fn():
        x, y = nxt()
        predict(x)
        learn(x, y)
    return fn, lambda: nxt()


def step_metrics(ctx, kind):
    """A learn's scoring, as Deployment._learn_calls and _publish do it: the metrics' update,
    after_learn, the drift detector's watch of the error, and the metrics read for /api/stats."""
    if kind != "learn":
        return None
    ctx.need_service()
    dep = ctx.dep
    scores, model = dep.scores, dep.model
    preds = [model.predict(x) for x in ctx.xs[:100]]
    nxt = cycler(list(zip(ctx.xs, ctx.ys, preds)))
    error = model.paradigm.error

    def fn():
        x, y, p = nxt()
        scores.update(x, y, p, model)
        scores.after_learn(model)
        scores.watch(error(y, p))
        scores.get()
    fn()
    return fn, lambda: nxt()


def step_record(ctx, kind):
    """The log record (and, for a prediction with an id, what is stored under the id)."""
    c = ctx.c
    model = ctx.model
    if kind == "predict":
        encode_features, stored_id_record, predict_record = c.encode_features, c.stored_id_record, c.predict_record
        nxt = cycler([(x, model.predict(x)) for x in ctx.xs[:100]])

        def fn():
            x, p = nxt()
            xs = encode_features(x)
            stored_id_record(xs, p)
            predict_record(xs)
    else:
        learn_record = c.learn_record
        nxt = cycler([(x, y, model.predict(x)) for x, y in zip(ctx.xs[:100], ctx.ys)])

        def fn():
            x, y, p = nxt()
            learn_record(x, y, p, True)
    fn()
    return fn, lambda: nxt()


_WRITE_IDS = itertools.count()


def step_write(ctx, kind):
    """ModelRows.append (Store.write of the record, and of the stored id) and Store.commit,
    on the service's SQLite file with --sync normal."""
    ctx.need_service()
    c, store = ctx.c, ctx.service.store
    # A model's rows of their own: log seqs are the model's (1, 2, 3...), and the served
    # deployment's must stay its own.
    rows = c.ModelRows(store, 10**9 + next(_WRITE_IDS), f"budget-write-{kind}")
    seqs = itertools.count(1)
    model = ctx.model
    append, commit, fresh = rows.append, store.commit, ctx.fresh_key
    if kind == "predict":
        recs = []
        for x in ctx.xs[:100]:
            xs = c.encode_features(x)
            recs.append((c.predict_record(xs), c.stored_id_record(xs, model.predict(x))))
        nxt = cycler(recs)

        def fn():
            body, stored = nxt()
            commit(append(next(seqs), body, (fresh(), stored, time.time())))

        def base():
            nxt()
            fresh()
            time.time()
    else:
        nxt = cycler([c.learn_record(x, y, model.predict(x), True) for x, y in zip(ctx.xs[:100], ctx.ys)])

        def fn():
            commit(append(next(seqs), nxt()))

        def base():
            nxt()
    fn()
    return fn, base


def step_checkpoint(ctx, kind):
    """The undo copy (_freeze of the model, metrics, scoring memory and drift detector), taken
    every CHECKPOINT_EVERY logged calls: its cost divided by that many."""
    c = ctx.c
    every = getattr(c, "CHECKPOINT_EVERY", 64)
    if ctx.dep is not None:
        s = ctx.dep.scores
        value = (ctx.dep.model.obj, s.objs, s.memory, s.detector)
    else:
        value = ctx.model.obj
    how, _ = c._freeze(value)
    freeze = c._freeze

    def fn():
        freeze(value)
    return fn, None, every, "every %d calls (%s)" % (every, how)


def step_snapshot(ctx, kind):
    """The snapshot (Deployment.snapshot: pack_state, a dill dump, written with the history)
    and its commit, every SNAPSHOT_EVERY logged calls: its cost divided by that many."""
    ctx.need_service()
    every = getattr(ctx.c, "SNAPSHOT_EVERY", 5000)
    snapshot, commit = ctx.dep.snapshot, ctx.service.store.commit

    def fn():
        commit(snapshot())
    fn()
    return fn, None, every, "every %d calls" % every


def step_events(ctx, kind):
    """_event's data, published as Service._publish does (kept for ?recent=, no subscriber)."""
    c = ctx.c
    _event, Operation = c._event, c.Operation
    bus = ctx.service.bus if ctx.service is not None else c.EventBus(8, 1 << 20)
    model = ctx.model
    items = []
    for payload in ctx.payload[kind][:100]:
        op = Operation(kind, payload)
        # The features' JSON comes from the log record (timed there), as in the server.
        items.append((op, op.x, model.paradigm.answer(model, model.predict(op.x)), c.encode_features(op.x)))
    nxt = cycler(items)
    publish, name, topics = bus.publish, ctx.name, ("events", "events:" + ctx.name)

    def fn():
        op, x, answer, xs = nxt()
        publish(topics, kind, _event(op, time.time(), name, x, answer, xs), keep=True)

    def base():
        nxt()
        time.time()
    fn()
    return fn, base


def step_stats(ctx, kind):
    """Service._record_stats's Stats.record (the rates /api/stats shows)."""
    ctx.need_service()
    record = ctx.service.stats.record
    name = ctx.name

    def fn():
        record(name, kind, 1, 0.0003, time.time())
    fn()
    return fn, lambda: time.time()


def step_answer(ctx, kind):
    """The answer: the paradigm's answer with the model's name, json_safe + dumps, and the
    head as Handler._head builds it (status line, Date, Content-Type, Content-Length)."""
    c = ctx.c
    from http import HTTPStatus

    json_safe, dumps, lines_of = c.json_safe, c.dumps, c._STATUS_LINES
    date = types.SimpleNamespace(_date=(0, ""))
    http_date = c.Server.http_date
    http_date(date)
    model = ctx.model
    answer = model.paradigm.answer
    nxt = cycler([model.predict(x) for x in ctx.xs[:100]])
    name = ctx.name

    def fn():
        result = {"model": name, **answer(model, nxt())}
        body = dumps(json_safe(result)).encode("utf-8")
        status = HTTPStatus(201)
        lines = [lines_of[status], f"Date: {http_date(date)}"]
        lines += [f"{n}: {v}" for n, v in [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + body
    if not fn().startswith(b"HTTP/1.1 201"):
        raise Skip("the answer's head is not HTTP/1.1 201")
    return fn, lambda: nxt()


def step_telemetry(ctx, kind):
    """Telemetry.request: the request counted in /metrics (one lock, a counter, a histogram)."""
    c = ctx.c
    telemetry = ctx.service.telemetry if ctx.service is not None else c._declare(c.Telemetry())
    request, route = telemetry.request, PATHS[kind]

    def fn():
        request(route, "POST", "201", 0.0003)
    fn()
    return fn, None


def step_socket(ctx, kind):
    """The server's two system calls on its connection: the recv that brings the request (the
    client sends head and body in one write) and the send of the answer, on a loopback TCP
    connection with a timeout, as the handler's socket has.  The client's send before and
    recv after are not timed."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname(), timeout=10)
    conn, _ = listener.accept()
    listener.close()
    ctx.closing += [client, conn]
    for sock in (client, conn):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.settimeout(60.0)  # as the handler's (--timeout): Python polls before each recv
    requests = [h + b for h, b in zip(ctx.head[kind], ctx.body[kind])]
    nxt = cycler(requests)
    answer = (b"HTTP/1.1 201 Created\r\nServer: chantilly\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
              b"Content-Type: application/json\r\nContent-Length: 45\r\n\r\n"
              b'{"model":"default","prediction":1.2345678901}')
    recv, send = conn.recv, conn.sendall

    def pre():
        client.sendall(nxt())

    def fn():
        recv(8192)
        send(answer)

    def post():
        client.recv(65536)
    pre(), fn(), post()
    return fn, None, 1, "", pre, post


#: The steps Service.predict / Service.learn run (the rest is HTTP).
SERVICE_STEPS = ("validate", "id lookup", "model call", "metrics", "log record", "write + commit",
                 "undo checkpoint", "snapshot", "events", "stats")

STEPS = [
    ("parse", "request line + `read_headers`", step_parse),
    ("guard", "`Guard.check`", step_guard),
    ("route", "`ROUTER.match` + `Request`", step_route),
    ("body + JSON", "`BodyReader.read_all` + `parse_json`", step_body),
    ("validate", "`Operation(kind, payload)`", step_validate),
    ("id lookup", "`ModelRows.find_id` of the new id", step_lookup),
    ("model call", "`Model.predict` [+ `Model.learn`]", step_model),
    ("metrics", "scores update, watch, get", step_metrics),
    ("log record", "`encode_features` / `*_record`", step_record),
    ("write + commit", "`ModelRows.append` + `Store.commit`", step_write),
    ("undo checkpoint", "`_freeze` / 64", step_checkpoint),
    ("snapshot", "`Deployment.snapshot` + commit / 5000", step_snapshot),
    ("events", "`_event` + `bus.publish`", step_events),
    ("stats", "`Stats.record`", step_stats),
    ("answer", "`dumps` + the head", step_answer),
    ("telemetry", "`Telemetry.request`", step_telemetry),
    ("socket", "`recv` + `send` on a loopback connection", step_socket),
]


def measure_steps(ctx, loops):
    """Each step alone, in a timeit loop; returns the rows and the built steps for
    :func:`measure_sequence`."""
    rows, built_steps = [], {k: [] for k in KINDS}
    for key, what, build in STEPS:
        row = {"step": key, "what": what, "note": "", "predict": None, "learn": None,
               "alone": {k: None for k in KINDS}, "alone_median": {k: None for k in KINDS}}
        for kind in KINDS:
            try:
                built = build(ctx, kind)
                if built is None:  # the step does not happen for this request
                    continue
                fn, base, divide, note, pre, post = unpack(built)
                n = loops if divide == 1 else max(10, loops // 20)
                best, med = time_fn(fn, n, pre=pre, post=post)
                b_best = time_fn(base, n)[0] if base is not None else 0.0
                row["alone"][kind] = max(0.0, best - b_best) * 1e6 / divide
                row["alone_median"][kind] = max(0.0, med - b_best) * 1e6 / divide
                built_steps[kind].append((key, fn, b_best, divide, pre, post))
                if note:
                    row["note"] = note
            except Skip as e:
                row["note"] = "skipped: %s" % e
            except Exception as e:  # another signature in this chantilly.py: skip the row, go on
                row["note"] = "skipped: %s: %s" % (type(e).__name__, str(e)[:120])
        log("%-16s alone: predict %s  learn %s  %s" % (key, fmt(row["alone"]["predict"]),
                                                       fmt(row["alone"]["learn"]), row["note"]))
        rows.append(row)
    return rows, built_steps


def measure_sequence(steps, n, rounds=REPEAT):
    """The same steps one after the other, as a request runs them, `n` times in `rounds` rounds:
    each step is timed where it runs, after the others have filled the caches with their own
    code and data, not in a loop of itself.  A step's value is the lowest of its rounds'
    medians (an amortised one: the mean of the calls made at its rate, divided by it), less
    the cost of reading the clock."""
    clock, overhead = CLOCKS[CLOCK[0]], clock_overhead()
    per_round = max(1, n // rounds)
    n = per_round * rounds
    times = {key: [[] for _ in range(rounds)] for key, *_ in steps}
    gc.collect()
    i = 0
    for r in range(rounds):
        for _ in range(per_round):
            for key, fn, base, divide, pre, post in steps:
                if divide != 1 and (i + 1) % divide and not (n < divide and i == n // 2):
                    continue
                pre and pre()
                t = clock()
                fn()
                times[key][r].append(clock() - t - overhead - base)
                post and post()
            i += 1
    out = {}
    for key, fn, base, divide, pre, post in steps:
        if divide == 1:
            value = min(statistics.median(ts) for ts in times[key])
        else:
            value = statistics.fmean([t for ts in times[key] for t in ts]) / divide
        out[key] = max(0.0, value * 1e6)
    return out, overhead * 1e6


def measure_service(ctx, loops):
    """The in-process Service call (Operation .. events, no HTTP) as a cross-check."""
    if ctx.service is None:
        return None
    out = {}
    for kind in KINDS:
        call = getattr(ctx.service, kind)
        if kind == "predict":
            nxt = cycler(ctx.xs)

            def fn():
                call({"id": "s-%d" % next(ctx.counter), "features": nxt()})
        else:
            nxt = cycler(list(zip(ctx.xs, ctx.ys)))

            def fn():
                x, y = nxt()
                call({"features": x, "ground_truth": y})
        try:
            fn()
            out[kind] = time_fn(fn, loops)[0] * 1e6
        except Exception as e:
            out[kind] = None
            ctx.notes.append("Service.%s: %s: %s" % (kind, type(e).__name__, e))
    return out


# --------------------------------------------------------------------------- end to end


class Conn:
    """One keep-alive connection, raw socket: send a request, read its whole answer."""

    LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.I)

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def call(self, request):
        self.sock.sendall(request)
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                m = self.LENGTH.search(buf, 0, end + 2)
                need = end + 4 + (int(m.group(1)) if m else 0)
                if len(buf) >= need:
                    self.buf = buf[need:]
                    return buf[9:12]
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            buf += data

    def close(self):
        self.sock.close()


def start_server(args, tmp):
    """`chantilly.py run` on a temporary database, started in a thread (it takes a few seconds
    to import creme, which the in-process part spends building its own model meanwhile)."""
    import bench

    box = {}

    def start():
        try:
            box["server"] = bench.Server("chantilly", [
                sys.executable, args.chantilly, "run", "--host", "127.0.0.1", "--port", "0",
                "--db", os.path.join(tmp, "e2e.db"), "--sync", "normal"])
        except Exception as e:
            box["error"] = e
    thread = threading.Thread(target=start, daemon=True)
    thread.start()

    def wait():
        thread.join(120)
        if "server" not in box:
            raise box.get("error") or RuntimeError("chantilly.py run did not start within 120 s")
        return box["server"]
    return wait


def measure_e2e(ctx, args, srv):
    """Both requests over one keep-alive connection to `chantilly.py run` (a child process):
    `--passes` passes of at most `--requests` requests and `--pass-seconds` each, taking turns;
    the wall time per request is the best pass's, the server's CPU that of all passes."""
    import bench

    out = {k: {"passes": []} for k in KINDS}
    bench.upload(srv, ctx.model_bytes)

    def requests(kind, tag, count):
        bs = bodies(kind, [ctx.xs[i % ctx.n] for i in range(count)], [ctx.ys[i % ctx.n] for i in range(count)], tag)
        return [http_head(PATHS[kind], len(b), srv.port) + b for b in bs]

    conn = Conn(srv.host, srv.port)
    try:
        for kind in KINDS:  # warm: the handler thread, the model, SQLite's pages
            for r in requests(kind, "w", 200):
                conn.call(r)
        for p in range(args.passes):
            for kind in (KINDS if p % 2 == 0 else KINDS[::-1]):
                reqs = requests(kind, "e%d" % p, args.requests)  # a new id in every prediction
                bad = n = 0
                gc.collect()
                cpu0, c0 = bench.proc_cpu_seconds(srv.pid), time.process_time()
                t0 = time.perf_counter()
                end = t0 + args.pass_seconds
                for r in reqs:
                    if conn.call(r) not in (b"200", b"201"):
                        bad += 1
                    n += 1
                    if time.perf_counter() > end:
                        break
                wall = time.perf_counter() - t0
                client = time.process_time() - c0
                cpu = bench.proc_cpu_seconds(srv.pid) - cpu0
                out[kind]["passes"].append({"requests": n, "us": wall / n * 1e6, "server_cpu_us": cpu / n * 1e6,
                                            "server_cpu_s": cpu, "client_cpu_us": client / n * 1e6,
                                            "errors": bad})
                log("end to end %-7s pass %d: %d requests, %.0f us/request (server CPU %.0f us, client %.0f us)%s" % (
                    kind, p + 1, n, wall / n * 1e6, cpu / n * 1e6, client / n * 1e6,
                    ", %d errors" % bad if bad else ""))
    finally:
        conn.close()
    for kind in KINDS:
        passes = out[kind]["passes"]
        best = min(passes, key=lambda p: p["us"])
        n = sum(p["requests"] for p in passes)
        out[kind].update(us=best["us"], server_cpu_us=sum(p["server_cpu_s"] for p in passes) / n * 1e6,
                         client_cpu_us=sum(p["client_cpu_us"] * p["requests"] for p in passes) / n,
                         requests=n, errors=sum(p["errors"] for p in passes))
    return out


# --------------------------------------------------------------------------- report


def fmt(v, digits=1):
    return "—" if v is None else "%.*f" % (digits, v)


def share(v, total):
    return "—" if v is None or not total else "%.0f%%" % (100 * v / total)


def render(data):
    e2e = data.get("end_to_end") or {}
    total = {k: (e2e.get(k) or {}).get("us") for k in KINDS}
    clock = {"cpu": "the thread's CPU time", "wall": "wall time"}[data.get("clock", "cpu")]

    def pair(a, b):
        return "%s / %s" % (a, b)

    def shares(v):
        return pair(share(v["predict"], total["predict"]), share(v["learn"], total["learn"]))

    out = ["Per-request budget, µs.  Steps: %s, in process, each timed where it runs in a sequence of "
           "%d requests' steps (the lowest median of %d rounds); \"alone\": timeit, best of %d repeats "
           "of %d loops.  End to end: "
           "wall time, best of %d passes (each at most %d requests or %g s) over one keep-alive connection.  "
           "Load average %s at start, %s at end." % (
               clock, data.get("sequence", 0), REPEAT, REPEAT, data["loops"], data.get("passes", 0),
               data.get("requests", 0),
               data.get("pass_seconds", 0),
               " ".join("%.2f" % x for x in data.get("loadavg_start") or ()),
               " ".join("%.2f" % x for x in data.get("loadavg_end") or ())), "",
           "| step | predict µs | learn µs | share of end-to-end (predict / learn) | alone (predict / learn) "
           "| what is timed |",
           "|---|---:|---:|---:|---:|---|"]
    for r in data["rows"]:
        what = r["what"] + ("; " + r["note"] if r.get("note") else "")
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            r["step"], fmt(r["predict"]), fmt(r["learn"]), shares(r),
            pair(fmt(r["alone"]["predict"]), fmt(r["alone"]["learn"])), what))
    s, alone = data["sum"], data["sum_alone"]
    out.append("| **sum of steps** | **%s** | **%s** | %s | %s | |" % (
        fmt(s["predict"]), fmt(s["learn"]), shares(s), pair(fmt(alone["predict"]), fmt(alone["learn"]))))
    if e2e:
        cpu = {k: e2e[k]["server_cpu_us"] for k in KINDS}
        glue = {k: cpu[k] - s[k] for k in KINDS}
        wait = {k: total[k] - cpu[k] for k in KINDS}
        out.append("| server CPU per request | %s | %s | %s | | user + system time of the `chantilly.py run` "
                   "process (all its threads) during the end-to-end passes |" % (
                       fmt(cpu["predict"]), fmt(cpu["learn"]), shares(cpu)))
        out.append("| server CPU − sum | %s | %s | %s | | the server outside the steps: http.server's request "
                   "loop, connection bookkeeping, the Service's and Deployment's glue, thread switches |" % (
                       fmt(glue["predict"]), fmt(glue["learn"]), shares(glue)))
        out.append("| end to end − server CPU | %s | %s | %s | | waiting: the client (%s / %s µs of CPU), the "
                   "loopback, threads waking up, GIL hand-offs, other processes' turns on the cores |" % (
                       fmt(wait["predict"]), fmt(wait["learn"]), shares(wait),
                       fmt(e2e["predict"]["client_cpu_us"], 0), fmt(e2e["learn"]["client_cpu_us"], 0)))
        out.append("| **end to end** | **%s** | **%s** | 100%% / 100%% | | wall time per request |" % (
            fmt(total["predict"]), fmt(total["learn"])))
    svc = data.get("service")
    if svc:
        inner = [r for r in data["rows"] if r["step"] in SERVICE_STEPS]
        part = {k: sum(r[k] or 0 for r in inner) for k in KINDS}
        out += ["", "Cross-check: `Service.predict` / `Service.learn` in process (validate .. stats, no HTTP; "
                "timeit, best of %d) took %s / %s µs, for %s / %s µs of those steps in sequence above "
                "(%s / %s alone)." % (
                    REPEAT, fmt(svc.get("predict")), fmt(svc.get("learn")), fmt(part["predict"]), fmt(part["learn"]),
                    fmt(sum(r["alone"]["predict"] or 0 for r in inner)),
                    fmt(sum(r["alone"]["learn"] or 0 for r in inner)))]
    if e2e:
        out += ["", "End-to-end passes (µs/request): " + "; ".join(
            "%s %s" % (k, ", ".join("%.0f" % p["us"] for p in e2e[k]["passes"])) for k in KINDS)
            + "".join(", %d %s errors" % (e2e[k]["errors"], k) for k in KINDS if e2e[k]["errors"]) + "."]
    for n in data.get("notes", []):
        out += ["", "NOTE: " + n]
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loops", type=int, default=1000,
                   help="calls per timeit repeat for each step (default 1000; the amortised copies "
                        "and snapshots take a twentieth of it)")
    p.add_argument("--sequence", type=int, default=2000,
                   help="requests' worth of steps run in sequence, each step timed in place (default 2000)")
    p.add_argument("--requests", type=int, default=2000, help="requests per end-to-end pass (default 2000)")
    p.add_argument("--passes", type=int, default=3, help="end-to-end passes of each request (default 3)")
    p.add_argument("--pass-seconds", type=float, default=1.0,
                   help="longest end-to-end pass, in seconds (default 1; a pass ends at --requests or then)")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                   help="time the in-process steps by the thread's CPU time (cpu, the default: steadier "
                        "on a busy machine) or by the wall clock (wall)")
    p.add_argument("--no-e2e", action="store_true", help="only the in-process steps")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON instead of the table")
    p.add_argument("--chantilly", default=os.path.join(ROOT, "chantilly.py"), help="path of chantilly.py")
    args = p.parse_args(argv)
    args.chantilly = os.path.abspath(args.chantilly)
    CLOCK[0] = args.clock
    sys.path.insert(0, HERE)

    t0 = time.perf_counter()
    data = {"loops": args.loops, "sequence": args.sequence, "requests": args.requests,
            "passes": 0 if args.no_e2e else args.passes,
            "pass_seconds": args.pass_seconds,
            "chantilly": args.chantilly, "clock": args.clock, "loadavg_start": os.getloadavg()}
    tmp = tempfile.mkdtemp(prefix="chantilly-budget-")
    server = None if args.no_e2e else start_server(args, tmp)
    c = load_chantilly(args.chantilly)
    ctx = Context(c, args, tmp)
    ctx.closing = []
    try:
        log("in-process steps, %d loops x %d repeats" % (args.loops, REPEAT))
        data["rows"], built = measure_steps(ctx, args.loops)
        log("the same steps in sequence, %d requests of each" % args.sequence)
        data["clock_read_us"] = {}
        for kind in KINDS:
            seq, data["clock_read_us"][kind] = measure_sequence(built[kind], args.sequence)
            for r in data["rows"]:
                r[kind] = seq.get(r["step"])
        data["sum"] = {k: sum(r[k] or 0 for r in data["rows"]) for k in KINDS}
        data["sum_alone"] = {k: sum(r["alone"][k] or 0 for r in data["rows"]) for k in KINDS}
        log("sum of steps: in sequence %s, alone %s" % (
            " / ".join("%.0f" % data["sum"][k] for k in KINDS),
            " / ".join("%.0f" % data["sum_alone"][k] for k in KINDS)))
        data["service"] = measure_service(ctx, max(100, args.loops // 2))
    finally:
        for s in ctx.closing:
            s.close()
        if ctx.service is not None:
            ctx.service.close()
    if server is not None:
        srv = None
        try:
            srv = server()
            data["end_to_end"] = measure_e2e(ctx, args, srv)
        except Exception as e:
            ctx.notes.append("end to end failed: %s: %s" % (type(e).__name__, str(e)[:1500]))
        finally:
            if srv is not None:
                srv.stop()
    import shutil

    shutil.rmtree(ctx.tmp, ignore_errors=True)
    data["notes"] = ctx.notes
    data["loadavg_end"] = os.getloadavg()
    data["elapsed_s"] = time.perf_counter() - t0
    log("took %.1f s" % data["elapsed_s"])
    print(json.dumps(data, indent=2) if args.json else render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
