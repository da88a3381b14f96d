"""Stream a dataset through a chantilly server and watch its dashboard come alive.

In one terminal start the server, in another run the demo, then open the dashboard::

    make run                # chantilly on http://127.0.0.1:5000
    make demo               # python examples/stream.py --url http://127.0.0.1:5000

The script uploads a fresh river model named after the dataset, then for every sample it asks
for a prediction (POST /api/predict, with an id such as "trump-17") and sends the true answer
for that id (POST /api/learn): the model learns while it serves, and the server scores each
prediction against its label before learning from it. Each paradigm has its dataset, which
ships inside river (or creme) or is made up on the spot:

    --paradigm regression       trump     TrumpApproval: the president's approval rating
    --paradigm binary           phishing  Phishing: is a web page phishing?
    --paradigm anomaly          shuttle   Shuttle: anomaly scores, scored with the labels
    --paradigm clustering       bananas   Bananas: the cluster of each point; no labels
    --paradigm forecasting      airline   AirlinePassengers: a forecast, then the observation
    --paradigm recommendation   ratings   synthetic users rating synthetic films
    --paradigm text             sms       synthetic text messages, spam or ham

    python examples/stream.py --paradigm anomaly --rate 100   # or --dataset shuttle
    python examples/stream.py --library creme                 # a creme model instead
    python examples/stream.py --delay 2 --loop                # labels arrive 2 s late, forever
    python examples/stream.py --rate 0 --limit 500 --no-upload  # as fast as possible, same model

Run several at once (one per paradigm) to see many models on the dashboard. --rate counts
samples per second (each is one predict, or forecast, and one learn). Needs river (or creme)
and dill.
"""

import argparse
import collections
import http.client
import importlib
import itertools
import json
import os
import random
import shutil
import socket
import sys
import time
import urllib.parse

# river, creme and dill are imported where they are used, so that --help answers at once.
DATASETS = {  # name: (paradigm, where its samples come from, metric shown)
    "trump": ("regression", "TrumpApproval", "MAE"),
    "phishing": ("binary", "Phishing", "Accuracy"),
    "shuttle": ("anomaly", "Shuttle", "ROCAUC"),
    "bananas": ("clustering", "Bananas", "Silhouette"),
    "airline": ("forecasting", "AirlinePassengers", "MAE"),
    "ratings": ("recommendation", "synthetic", "MAE"),
    "sms": ("text", "synthetic", "Accuracy"),
}
PARADIGMS = {paradigm: name for name, (paradigm, _, _) in DATASETS.items()}
HORIZON = 12  # months a forecaster is asked for (and scored on) at each step
PERCENT = ("Accuracy", "ROCAUC")


def make_model(paradigm, library):
    """A fresh model of ``library`` (creme or river) for ``paradigm``."""
    def lib(module):
        return importlib.import_module(f"{library}.{module}")

    if paradigm == "regression":
        return lib("preprocessing").StandardScaler() | lib("linear_model").LinearRegression()
    if paradigm == "binary":
        return lib("preprocessing").StandardScaler() | lib("linear_model").LogisticRegression()
    if paradigm == "anomaly":  # scores between 0 and 1, once the features are in [0, 1]
        return lib("preprocessing").MinMaxScaler() | lib("anomaly").HalfSpaceTrees(window_size=100, seed=42)
    if paradigm == "clustering":
        return lib("cluster").KMeans(n_clusters=3, halflife=0.1, sigma=3, seed=42)
    if paradigm == "forecasting":  # monthly data with a yearly season
        if library == "creme":  # creme 0.6's seasonal differencing diverges on this series
            return lib("time_series").SNARIMAX(p=2, d=1, q=1)
        return lib("time_series").SNARIMAX(p=12, d=1, q=1, m=12, sd=1)
    if paradigm == "recommendation":
        return lib("reco").BiasedMF(n_factors=5, seed=42)
    return lib("feature_extraction").BagOfWords() | lib("naive_bayes").MultinomialNB()


class Ratings:
    """Synthetic ratings (no recommendation dataset ships with river or creme): each user and
    each film has a hidden taste in [-1, 1]; a rating is 3 + 2 * their product, plus noise."""

    n_samples = 5000

    def __iter__(self):
        rng = random.Random(42)
        users = {f"user{i}": rng.uniform(-1, 1) for i in range(50)}
        films = {f"film{i}": rng.uniform(-1, 1) for i in range(80)}
        user_names, film_names = list(users), list(films)
        for _ in range(self.n_samples):
            user, film = rng.choice(user_names), rng.choice(film_names)
            rating = 3 + 2 * users[user] * films[film] + rng.gauss(0, 0.2)
            yield {"user": user, "item": film}, round(rating, 2)


class Messages:
    """Synthetic text messages, spam or ham, made of a few words each, one in five with a word
    of the other kind (the spam datasets of river need a download)."""

    n_samples = 2000
    WORDS = {
        "spam": "free win prize cash now click offer cheap winner claim urgent money".split(),
        "ham": "lunch meeting tomorrow see you at noon notes call later thanks home".split(),
    }
    COMMON = "the a to and for your it is".split()

    def __iter__(self):
        rng = random.Random(42)
        for _ in range(self.n_samples):
            label, other = rng.choice([("spam", "ham"), ("ham", "spam")])
            words = rng.sample(self.WORDS[label], 3) + rng.sample(self.COMMON, 2)
            if rng.random() < 0.2:
                words.append(rng.choice(self.WORDS[other]))
            rng.shuffle(words)
            yield " ".join(words), label


def load(name, library):
    """The dataset of DATASETS[name] (a class: each instance iterates over ``(x, y)``).

    Datasets come from the model's library, or from river when the library lacks one
    (creme 0.6 has no Shuttle)."""
    source = DATASETS[name][1]
    if source == "synthetic":
        return Ratings if name == "ratings" else Messages
    datasets = importlib.import_module(f"{library}.datasets")
    if not hasattr(datasets, source):
        datasets = importlib.import_module("river.datasets")
    return getattr(datasets, source)


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
        elif self.metric in PERCENT:
            score = f"{self.metric} {self.value:.1%}"
        elif isinstance(self.value, int):  # a count: the size of a cluster
            score = f"{self.metric}: {self.value}"
        else:
            score = f"{self.metric} {self.value:.3f}"
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


class Calls:
    """The calls one sample makes, for the paradigm of the model named ``name``.

    Most paradigms predict under an id, then learn that id (with the label, except
    clustering, which learns from features alone). A forecaster is asked for its next
    HORIZON values instead, then learns the value observed; its features (a date) stay out.
    """

    def __init__(self, client, name, paradigm):
        self.client, self.name, self.paradigm = client, name, paradigm
        self.query = "?" + urllib.parse.urlencode({"model": name})

    def upload(self, model):
        import dill

        query = f"?horizon={HORIZON}" if self.paradigm == "forecasting" else ""
        path = f"/api/model/{urllib.parse.quote(self.name)}{query}"
        return self.client.call("POST", path, dill.dumps(model), "application/octet-stream")

    def predict(self, sample_id, x):
        if self.paradigm == "forecasting":
            self.client.call("POST", "/api/forecast", {"horizon": HORIZON, "model": self.name})
        else:
            self.client.call("POST", "/api/predict", {"id": sample_id, "features": x, "model": self.name})

    def learn(self, sample_id, y):
        if self.paradigm == "forecasting":
            body = {"ground_truth": y}
        elif self.paradigm == "clustering":
            body = {"id": sample_id}
        else:
            body = {"id": sample_id, "ground_truth": y}
        self.client.call("POST", "/api/learn", {**body, "model": self.name})

    def metrics(self):
        return self.client.call("GET", "/api/metrics" + self.query) or {}


def run(args):
    if args.paradigm and args.dataset and DATASETS[args.dataset][0] != args.paradigm:
        raise Failure(f"--dataset {args.dataset} is for --paradigm {DATASETS[args.dataset][0]}, "
                      f"not {args.paradigm}")
    dataset = args.dataset or PARADIGMS[args.paradigm or "regression"]
    paradigm, _, metric = DATASETS[dataset]
    name = args.model or dataset
    dataset_class = load(dataset, args.library)
    client = Client(args.url, args.token)
    client.call("GET", "/api/health")
    calls = Calls(client, name, paradigm)
    if not args.no_upload:
        info = calls.upload(make_model(paradigm, args.library))
        print(f"uploaded {info['class']} ({info['flavor']}) as {info['name']!r}", file=sys.stderr)
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
                    metrics = calls.metrics()
                    shown = metric if metric in metrics else next(iter(metrics), metric)
                    progress.metric = shown  # creme's clusterers have no Silhouette: sizes then
                    # before the first label the server answers 0.0, not null: show "-" then
                    progress.value = metrics.get(shown) if progress.done else None
                except Failure as e:
                    if e.status != 404:  # 404: no model (yet)
                        raise
            progress.show()
            if now >= t:
                return
            time.sleep(min(t - now, 0.1))

    def learn(sample_id, y):
        calls.learn(sample_id, y)
        progress.done += 1

    try:
        for i, (x, y) in enumerate(samples):
            while pending and pending[0][0] <= due:  # labels due before the next prediction
                wait_until(pending[0][0])
                learn(*pending.popleft()[1:])
            wait_until(due)
            now = time.monotonic()
            due = max(due + interval, now - 1.0) if interval else now  # > 1 s late: no burst
            sample_id = f"{dataset}-{i}"
            calls.predict(sample_id, x)
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
    paradigms = "\n".join(f"  {paradigm:<15} {name:<9} {DATASETS[name][1]}" for paradigm, name in PARADIGMS.items())
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=f"paradigms and their datasets:\n{paradigms}")
    parser.add_argument("--url", default="http://localhost:5000", help="server (default: %(default)s)")
    parser.add_argument("--paradigm", choices=PARADIGMS,
                        help="what to stream; each has its dataset (default: regression)")
    parser.add_argument("--dataset", choices=DATASETS,
                        help="the dataset, which implies the paradigm (default: the paradigm's)")
    parser.add_argument("--library", choices=("river", "creme"), default="river",
                        help="the library of the uploaded model (default: %(default)s)")
    parser.add_argument("--model", metavar="NAME",
                        help="the model's name on the server (default: the dataset's)")
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
        print(f"stream.py: {e}: it needs {args.library} and dill, as in the virtualenv of `make run` "
              "(run `make demo`, or this script with .venv/bin/python)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
