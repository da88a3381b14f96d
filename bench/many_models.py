"""How chantilly copes with many named models: upload time as the count grows, and the
cost of /api/stats and /metrics over all of them (in-process, no HTTP).

    .venv/bin/python bench/many_models.py               # 2,000 models
    .venv/bin/python bench/many_models.py --models 5000

Each model is a river LinearRegression; every third one learns once, so the stats have
rates to compute. The database is a temporary file, deleted at the end.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import chantilly  # noqa: E402


def timed(fn):
    began = time.perf_counter()
    fn()
    return 1e3 * (time.perf_counter() - began)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=2000)
    args = parser.parse_args()
    import dill
    from river import linear_model
    blob = dill.dumps(linear_model.LinearRegression())
    with tempfile.TemporaryDirectory() as folder:
        service = chantilly.Service.open(os.path.join(folder, "c.db"))
        try:
            uploads = []
            for i in range(args.models):
                uploads.append(timed(lambda: service.upload(blob, name=f"m{i}")))
                if i % 3 == 0:
                    service.learn({"model": f"m{i}", "features": {"x": 1.0}, "ground_truth": 1.0})
            first, last = uploads[:100], uploads[-100:]
            print(f"{args.models} models: upload {sum(first) / len(first):.2f} ms each for the first 100, "
                  f"{sum(last) / len(last):.2f} ms for the last 100")
            print(f"a new version of one model: {timed(lambda: service.upload(blob, name='m5')):.1f} ms")
            print(f"/api/stats (Service.summary): {timed(service.summary):.1f} ms")
            print(f"/metrics (Service.prometheus): {timed(service.prometheus):.1f} ms")
        finally:
            service.close()


if __name__ == "__main__":
    main()
