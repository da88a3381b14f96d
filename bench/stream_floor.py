"""How close can a stream of learns get to the in-process loop? The floor, layer by layer.

    .venv/bin/python bench/stream_floor.py [--ops 20000] [--rounds 3]

bench.py compares `POST /api/stream` with an in-process loop that only parses, predicts,
learns and answers. chantilly must also score every prediction (per-model metrics), write
every call to a durable log, and validate it. This measures, in one process and without
HTTP, the same features-only learns (1000 per batch, as bench.py's stream sends them) with
each duty added to the loop by hand, then chantilly's own Service.apply doing all of them:

1. loop: json.loads + lock + predict_one + fit_one + json.dumps (bench.py's reference);
2. + metrics: the three creme metrics chantilly keeps for a regressor (MAE, RMSE, SMAPE);
3. + log: the features and label encoded as a log record, the batch's records inserted
   with one executemany and committed (SQLite, WAL, synchronous=NORMAL, as chantilly);
4. chantilly: `Service.apply` on the parsed lines (validation, metrics, log, undo
   checkpoints, events, counters), and the answers written as NDJSON lines.

Each row prints microseconds per operation and the loop's rate over the row's rate (the
ratio bench.py's target is stated in). Rounds take turns; each row keeps its best.
"""

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import bench  # noqa: E402


def layers(xs, ys, folder):
    from creme import metrics

    lock = threading.Lock()
    lines = [json.dumps({"op": "learn", "features": x, "ground_truth": y}) for x, y in zip(xs, ys)]

    def loop(model, scores=None, db=None):
        seq = 0

        def run(batch):
            nonlocal seq
            records = []
            for line in batch:
                op = json.loads(line)
                x, y = op["features"], op["ground_truth"]
                with lock:
                    p = model.predict_one(x)
                    if scores is not None:
                        for m in scores:
                            m.update(y, p)
                    model.fit_one(x, y)
                    if db is not None:
                        seq += 1
                        records.append((1, seq, json.dumps({"x": x, "y": y, "p": p, "f": 1})))
                json.dumps({"prediction": p})
            if db is not None:
                with db:
                    db.executemany("INSERT INTO log (model, seq, body) VALUES (?, ?, ?)", records)
        return run

    def connect(name):
        db = sqlite3.connect(os.path.join(folder, name))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE log (model INTEGER, seq INTEGER, body TEXT, PRIMARY KEY (model, seq)) WITHOUT ROWID")
        return db

    def fresh_metrics():
        return [metrics.MAE(), metrics.RMSE(), metrics.SMAPE()]

    def chantilly_service():
        import dill

        import chantilly
        service = chantilly.Service.open(os.path.join(folder, "chantilly.db"))
        service.upload(dill.dumps(bench.make_model(xs, ys)))

        def run(batch):
            ops = [chantilly.Operation.parse(chantilly.parse_json(line.encode(), "the line")) for line in batch]
            "".join(chantilly.answer_line(a) for a in service.apply(ops))
        return run, service

    service_run, service = chantilly_service()
    rows = [("loop: json + lock + predict_one + fit_one + json", loop(bench.make_model(xs, ys))),
            ("+ metrics (MAE, RMSE, SMAPE)", loop(bench.make_model(xs, ys), fresh_metrics())),
            ("+ log record, executemany and commit per 1000 (SQLite WAL)",
             loop(bench.make_model(xs, ys), fresh_metrics(), connect("floor.db"))),
            ("chantilly Service.apply (no HTTP) + NDJSON answers", service_run)]
    return lines, rows, service


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ops", type=int, default=20000, help="operations per row and round (default 20000)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, rows taking turns (default 3)")
    args = p.parse_args(argv)
    xs, ys = bench.make_data()
    with tempfile.TemporaryDirectory() as folder:
        lines, rows, service = layers(xs, ys, folder)
        best = {}
        try:
            for _ in range(args.rounds):
                for name, run in rows:
                    started = time.perf_counter()
                    for k in range(0, args.ops, bench.STREAM_CHUNK):
                        run([lines[(k + i) % len(lines)] for i in range(bench.STREAM_CHUNK)])
                    per_op = (time.perf_counter() - started) / args.ops * 1e6
                    best[name] = min(best.get(name, per_op), per_op)
        finally:
            service.close()
    loop_us = best[rows[0][0]]
    print("| features-only learns, 1000 per batch, in process | µs per op | rate / the loop's |")
    print("|---|---:|---:|")
    for name, _ in rows:
        print(f"| {name} | {best[name]:.1f} | {loop_us / best[name]:.2f}x |")


if __name__ == "__main__":
    main()
