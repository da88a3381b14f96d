"""Stream a dataset through a chantilly server and watch its dashboard come alive.

In one terminal start the server, in another run the demo, then open the dashboard::

    make run                # chantilly on http://127.0.0.1:5000
    make demo               # python examples/stream.py --url http://127.0.0.1:5000

The script uploads a fresh creme pipeline, then for every sample of a dataset shipped with
creme it asks for a prediction (POST /api/predict, with an id such as "trump-17") and sends
the true answer for that id (POST /api/learn): the model learns while it serves, and the
server scores each prediction against its label before learning from it.

    python examples/stream.py --dataset phishing --rate 100     # binary classification
    python examples/stream.py --delay 2 --loop                  # labels arrive 2 s late, forever
    python examples/stream.py --rate 0 --limit 500 --no-upload  # as fast as possible, same model

--rate counts samples per second (each is one predict and one learn). Needs creme and dill.
"""

import argparse
import collections
import http.client
import itertools
import json
import os
import shutil
import socket
import sys
import time
import urllib.parse

# creme and dill are imported where they are used, so that --help answers at once.
DATASETS = {  # name: (creme dataset, final estimator of the pipeline, metric shown)
    "trump": ("TrumpApproval", "LinearRegression", "MAE"),
    "phishing": ("Phishing", "LogisticRegression", "Accuracy"),
}


def load(name):
    """The dataset class, a model factory and the metric shown for DATASETS[name]."""
    from creme import datasets, linear_model, preprocessing

    dataset, estimator, metric = DATASETS[name]

    def make_model():
        return preprocessing.StandardScaler() | getattr(linear_model, estimator)()

    return getattr(datasets, dataset), make_model, metric


class Failure(Exception):
    """Something the user has to fix; main() prints the message and exits."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status  # the HTTP status, when the server answered


class Client:
    """One keep-alive HTTP connection to the server, answering decoded JSON (or raising Failure)."""

    def __init__(self, url, token):
        parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        https = parts.scheme == "https"
        self.url = f"{parts.scheme}://{parts.netloc}/"
        self.conn = (http.client.HTTPSConnection if https else http.client.HTTPConnection)(
            parts.hostname, parts.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.token = token

    def call(self, method, path, body=None, content_type="application/json"):
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = content_type
            if content_type == "application/json":
                body = json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except (ConnectionRefusedError, socket.gaierror, socket.timeout) as e:
            raise Failure(f"cannot reach chantilly at {self.url} ({e}): "
                          "start it with `make run`") from None
        except (http.client.HTTPException, OSError) as e:
            raise Failure(f"lost the connection to {self.url} ({type(e).__name__}: {e})") from None
        if resp.status == 401:
            raise Failure(f"{self.url} refused the token: check --token" if self.token else
                          f"{self.url} needs a token: pass --token TOKEN (or set CHANTILLY_TOKEN)")
        if resp.status >= 400:
            try:
                message = json.loads(data)["message"]
            except (ValueError, KeyError, TypeError):
                message = data[:200].decode(errors="replace")
            raise Failure(f"{method} {path} answered {resp.status} {resp.reason}: {message}",
                          resp.status)
        return json.loads(data) if data else None


class Progress:
    """A one-line progress bar on stderr (a line every few seconds when it is not a terminal)."""

    def __init__(self, total, metric, dashboard, pending):
        self.total, self.metric, self.dashboard, self.pending = total, metric, dashboard, pending
        self.tty = sys.stderr.isatty()
        self.start = self.last = time.monotonic()
        self.predicted, self.done, self.value = 0, 0, None

    def status(self):
        """Rate achieved, the server's running metric, ids waiting for a label, the dashboard."""
        rate = self.predicted / max(time.monotonic() - self.start, 1e-9)
        if self.value is None:
            score = f"{self.metric} -"
        elif self.metric == "Accuracy":
            score = f"accuracy {self.value:.1%}"
        else:
            score = f"MAE {self.value:.3f}"
        waiting = f"  {len(self.pending)} waiting for a label" if self.pending else ""
        return f"{rate:.1f}/s  {score}{waiting}  dashboard: {self.dashboard}"

    def show(self):
        now = time.monotonic()
        if now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last = now
        if self.total:
            filled = 20 * self.done // self.total
            count = f"[{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total}"
        else:
            count = f"{self.done} samples"
        line = f"{count}  {self.status()}"
        if self.tty:  # cut to the terminal's width, or \r could not overwrite a wrapped line
            width = shutil.get_terminal_size().columns - 1
            sys.stderr.write("\r\033[K" + line[:width])
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def finish(self, verb):
        elapsed = time.monotonic() - self.start
        clear = "\r\033[K" if self.tty else ""
        sys.stderr.write(f"{clear}{verb} {self.done} samples in {elapsed:.1f}s  {self.status()}\n")


def run(args):
    import dill

    dataset_class, make_model, metric = load(args.dataset)
    client = Client(args.url, args.token)
    client.call("GET", "/api/health")
    if not args.no_upload:
        info = client.call("POST", "/api/model", dill.dumps(make_model()), "application/octet-stream")
        print(f"uploaded {info['class']} ({info['flavor']})", file=sys.stderr)
    print(f"open the dashboard at {client.url}  (Ctrl-C stops)", file=sys.stderr)
    if args.loop:
        total = args.limit
        samples = itertools.chain.from_iterable(dataset_class() for _ in itertools.count())
    else:
        size = dataset_class().n_samples
        total = min(size, args.limit or size)
        samples = dataset_class()
    samples = itertools.islice(samples, total)
    pending = collections.deque()  # (due time, id, ground truth), due times in order
    progress = Progress(total, metric, client.url, pending)
    next_metrics = 0.0
    interval = 1 / args.rate if args.rate > 0 else 0.0
    due = time.monotonic()
    verb = "done:"

    def wait_until(t):
        """Sleep until t, keeping the bar and the server's metrics fresh meanwhile."""
        nonlocal next_metrics
        while True:
            now = time.monotonic()
            if now >= next_metrics:
                next_metrics = now + 1.0
                try:
                    metrics = client.call("GET", "/api/metrics") or {}
                    # before the first label the server answers 0.0, not null: show "-" then
                    progress.value = metrics.get(metric) if progress.done else None
                except Failure as e:
                    if e.status != 404:  # 404: no model (yet)
                        raise
            progress.show()
            if now >= t:
                return
            time.sleep(min(t - now, 0.1))

    def learn(sample_id, y):
        client.call("POST", "/api/learn", {"id": sample_id, "ground_truth": y})
        progress.done += 1

    try:
        for i, (x, y) in enumerate(samples):
            while pending and pending[0][0] <= due:  # labels due before the next prediction
                wait_until(pending[0][0])
                learn(*pending.popleft()[1:])
            wait_until(due)
            now = time.monotonic()
            due = max(due + interval, now - 1.0) if interval else now  # > 1 s late: no burst
            sample_id = f"{args.dataset}-{i}"
            client.call("POST", "/api/predict", {"id": sample_id, "features": x})
            progress.predicted += 1
            if args.delay > 0:
                pending.append((time.monotonic() + args.delay, sample_id, y))
            else:
                learn(sample_id, y)
        while pending:
            wait_until(pending[0][0])
            learn(*pending.popleft()[1:])
        next_metrics = 0.0
        wait_until(0.0)
    except KeyboardInterrupt:
        verb = "interrupted after"
    progress.finish(verb)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://localhost:5000", help="server (default: %(default)s)")
    parser.add_argument("--dataset", choices=DATASETS, default="trump", help="default: %(default)s")
    parser.add_argument("--rate", type=float, default=50,
                        help="samples per second, 0 for as fast as possible (default: %(default)s)")
    parser.add_argument("--limit", type=int, help="stop after this many samples (default: all)")
    parser.add_argument("--token", default=os.environ.get("CHANTILLY_TOKEN"),
                        help="API token, sent as Authorization: Bearer (env CHANTILLY_TOKEN)")
    parser.add_argument("--delay", type=float, default=0,
                        help="seconds between a prediction and its label (default: 0, at once)")
    parser.add_argument("--no-upload", action="store_true", help="use the model already on the server")
    parser.add_argument("--loop", action="store_true", help="cycle through the dataset forever")
    args = parser.parse_args()
    try:
        run(args)
    except KeyboardInterrupt:
        print("\nstream.py: interrupted", file=sys.stderr)
    except Failure as e:
        clear = "\r\033[K" if sys.stderr.isatty() else ""  # wipe a half-drawn bar
        print(f"{clear}stream.py: {e}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as e:
        print(f"stream.py: {e}: it needs creme and dill, as in the virtualenv of `make run` "
              "(run `make demo`, or this script with .venv/bin/python)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
