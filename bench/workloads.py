"""Workloads that bench.py, anchors.py and profile.py share: NDJSON operation streams for
POST /api/stream, and the in-process loops that do the same work without HTTP.

A stream is given as make_chunk(k) -> (bytes of NDJSON lines, number of lines), or None when
there is nothing more to send (what bench.stream_ops takes).  The in-process loops consume
the same chunks, so a server's rate and its loop's rate are ratios of the same operations.

Standard library only (the model comes from the caller).
"""

import json
import random
import threading
import time

SEED_LAG = 50  # labels arrive about this many predictions after theirs, in shuffled order


def fixed_chunks(lines, per_chunk):
    """make_chunk for one chunk of `per_chunk` lines cycled from `lines`, sent again and again."""
    data = b"".join(lines[k % len(lines)] for k in range(per_chunk))
    return lambda k: (data, per_chunk)


def learn_lines(xs, ys, models=None):
    """`{"op": "learn", "features", "ground_truth"}` lines; with `models`, line i also names
    model models[i % len(models)] (learns spread round-robin over named models)."""
    out = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        op = {"op": "learn", "features": x, "ground_truth": y}
        if models:
            op["model"] = models[i % len(models)]
        out.append(json.dumps(op).encode() + b"\n")
    return out


def seed_chunks(xs, ys, per_chunk, lag=SEED_LAG, seed=7, prefix="s"):
    """make_chunk(k) for the seed workflow as NDJSON: predict with an id, learn by that id later.

    Each chunk holds per_chunk/2 predictions with new ids and about as many learns by id; a
    label arrives about `lag` predictions after its prediction, in shuffled order (as in the
    original's taxi example, where trips end out of order).  `prefix` keeps the ids of two
    passes on one server apart.
    """
    rng = random.Random(seed)
    feats = [json.dumps(x) for x in xs]
    gts = [json.dumps(y) for y in ys]
    n = len(xs)
    state = {"next": 0, "window": []}

    def make_chunk(k):
        lines = []
        window = state["window"]
        for _ in range(per_chunk // 2):
            i = state["next"]
            state["next"] += 1
            lines.append('{"op":"predict","id":"%s%d","features":%s}\n' % (prefix, i, feats[i % n]))
            window.append(i)
            if len(window) > lag:
                j = window.pop(rng.randrange(len(window)))
                lines.append('{"op":"learn","id":"%s%d","ground_truth":%s}\n' % (prefix, j, gts[j % n]))
        return "".join(lines).encode(), len(lines)

    return make_chunk


def id_chunks(xs, lo, hi, per_chunk, prefix="id-"):
    """make_chunk for predictions with ids prefix+lo .. prefix+(hi-1): they wait for labels."""
    feats = [json.dumps(x) for x in xs]
    n = len(xs)

    def make_chunk(k):
        a = lo + k * per_chunk
        if a >= hi:
            return None
        b = min(hi, a + per_chunk)
        data = "".join('{"op":"predict","id":"%s%d","features":%s}\n' % (prefix, i, feats[i % n])
                       for i in range(a, b)).encode()
        return data, b - a

    return make_chunk


def stream_loop(model, make_chunk, seconds):
    """The in-process equivalent of POST /api/stream: what a server must at least do per line.

    For each line: json.loads; under one lock the model call(s) -- a predict is predict_one
    (with an id, the features and the prediction are kept in a dict by id); a learn with
    features is predict_one + fit_one; a learn by id pops the stored features and runs
    fit_one -- then json.dumps of the answer ({"prediction": ...}, the one scored for a
    learn); the answers of a chunk are joined into one bytes object, as a server writes them.
    Chunks are made outside the timed part.  Returns ops/s over `seconds` of timed work.
    """
    lock = threading.Lock()
    stored = {}
    loads, dumps, perf = json.loads, json.dumps, time.perf_counter
    predict_one, fit_one = model.predict_one, model.fit_one
    elapsed = 0.0
    n = 0
    k = 0
    while elapsed < seconds:
        item = make_chunk(k)
        k += 1
        if item is None:
            break
        lines = item[0].splitlines()
        t0 = perf()
        out = []
        for line in lines:
            p = loads(line)
            if p["op"] == "predict":
                x = p["features"]
                key = p.get("id")
                with lock:
                    y = predict_one(x)
                    if key is not None:
                        stored[key] = (x, y)
            elif "id" in p:
                with lock:
                    x, y = stored.pop(p["id"])
                    fit_one(x, p["ground_truth"])
            else:
                x = p["features"]
                with lock:
                    y = predict_one(x)
                    fit_one(x, p["ground_truth"])
            out.append(dumps({"prediction": y}).encode())
        b"\n".join(out)
        elapsed += perf() - t0
        n += len(lines)
    return n / elapsed if elapsed > 0 else float("nan")
