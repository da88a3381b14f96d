"""Many models, many paradigms (issue 11): named models served side by side, each exactly
what an in-process replay of its calls gives, live, after concurrent traffic and after
kill -9; the original chantilly's named-model calls; metrics chosen at upload; text
features; anomaly detection, clustering, forecasting and recommendation with creme and
river; the command line on the database; and ``chantilly.Client``.

The reference for every paradigm is written here with the library's own calls (not
chantilly's): the same calls, in the same order, each model call on its own copy of the
features, scored by progressive validation.
"""

import copy
import itertools
import json
import pathlib
import random
import re
import socket
import threading

import dill
import pytest

import chantilly
from harness import TIMEOUT, ServerProcess, ServerThread, assert_error, run_cli


# ---------------------------------------------------------------------------------------
# References: what each paradigm must compute, with the library alone
# ---------------------------------------------------------------------------------------


def learn_of(model):
    return getattr(model, "learn_one", None) or model.fit_one


def metric(library, name):
    return getattr(__import__(f"{library}.metrics", fromlist=["metrics"]), name)()


def value(m):
    try:
        v = float(m.get())
    except Exception:
        return None
    return v if v == v and abs(v) != float("inf") else None


class AnomalyReference:
    """score_one, then the score quantiles (and ROCAUC on labelled learns), then learn_one."""

    def __init__(self, model, library):
        stats = __import__(f"{library}.stats", fromlist=["stats"])
        self.model, self.library = model, library
        self.roc, self.labelled = metric(library, "ROCAUC"), False
        self.quantiles = [stats.Quantile(q) for q in (0.5, 0.9, 0.99)]
        self.stored = {}

    def predict(self, x, id=None):
        score = self.model.score_one(dict(x))
        if id is not None:
            self.stored[id] = (x, score)
        return score

    def learn(self, x=None, y=None, id=None):
        if id is not None:
            x, score = self.stored.pop(id)
        else:
            score = self.model.score_one(dict(x))
        for q in self.quantiles:
            q.update(score)
        if y is not None:
            self.labelled = True
            self.roc.update(y, score)
        learn_of(self.model)(dict(x))
        return score

    def values(self):
        return {"ROCAUC": value(self.roc) if self.labelled else None, "score p50": value(self.quantiles[0]),
                "score p90": value(self.quantiles[1]), "score p99": value(self.quantiles[2])}


class ClusterReference:
    """predict_one, then cluster sizes and river's Silhouette (with the centers), then learn_one."""

    def __init__(self, model, library):
        self.model = model
        self.silhouette = metric("river", "Silhouette") if library == "river" else None
        self.sizes = {}

    def learn(self, x):
        cluster = self.model.predict_one(dict(x))
        self.sizes[cluster] = self.sizes.get(cluster, 0) + 1
        centers = getattr(self.model, "centers", None)
        if self.silhouette is not None and centers:
            self.silhouette.update(x, cluster, centers)
        learn_of(self.model)(dict(x))
        return cluster

    def values(self):
        values = {} if self.silhouette is None else {"Silhouette": value(self.silhouette)}
        values.update({f"size {k}": n for k, n in sorted(self.sizes.items(), key=lambda kv: json.dumps(kv[0]))})
        return values


class ForecastReference:
    """Horizon-wise errors as river's HorizonMetric computes them: after each learn the model
    forecasts ``horizon`` values; each observation scores the step it is for in every open
    forecast."""

    def __init__(self, model, library, horizon):
        self.model, self.horizon = model, horizon
        self.steps = {name: [metric(library, name) for _ in range(horizon)] for name in ("MAE", "RMSE")}
        self.open = []
        self.scored = [0] * horizon  # a step no forecast reached yet has no error: null

    def learn(self, y, x=None):
        for forecast in list(self.open):
            self.scored[forecast["seen"]] += 1
            for steps in self.steps.values():
                steps[forecast["seen"]].update(y, forecast["values"][forecast["seen"]])
            forecast["seen"] += 1
        self.open = [f for f in self.open if f["seen"] < self.horizon]
        learn_of(self.model)(y, x)
        try:
            self.open.append({"values": [float(v) for v in self.model.forecast(self.horizon)], "seen": 0})
        except Exception:  # too few observations to forecast yet
            pass

    def forecast(self, horizon):
        return [float(v) for v in self.model.forecast(horizon)]

    def values(self):
        values = {}
        for name, steps in self.steps.items():
            each = [value(m) if n else None for m, n in zip(steps, self.scored)]
            known = [v for v in each if v is not None]
            values[name] = sum(known) / len(known) if known else None
            values.update({f"{name}+{i + 1}": v for i, v in enumerate(each)})
        return values


class RecoReference:
    """The rating predicted for (user, item), scored with MAE and RMSE, then learned."""

    def __init__(self, model, library):
        self.model, self.library = model, library
        self.maes = [metric(library, "MAE"), metric(library, "RMSE")]

    def predict(self, user, item):
        if self.library == "creme":
            return self.model.predict_one({"user": user, "item": item})
        return self.model.predict_one(user, item)

    def learn(self, user, item, y):
        p = self.predict(user, item)
        for m in self.maes:
            m.update(y, p)
        if self.library == "creme":
            self.model.fit_one({"user": user, "item": item}, y)
        else:
            self.model.learn_one(user, item, y)
        return p

    def rank(self, user, items):
        scores = {item: self.predict(user, item) for item in items}
        return sorted(items, key=lambda item: -scores[item])

    def values(self):
        return {"MAE": value(self.maes[0]), "RMSE": value(self.maes[1])}


# ---------------------------------------------------------------------------------------
# Models and data, shipped with the libraries or synthetic (no downloads here)
# ---------------------------------------------------------------------------------------


def bananas(library, n):
    datasets = __import__(f"{library}.datasets", fromlist=["datasets"])
    return list(itertools.islice(datasets.Bananas(), n))


def phishing(library, n):
    datasets = __import__(f"{library}.datasets", fromlist=["datasets"])
    return list(itertools.islice(datasets.Phishing(), n))


def airline(library, n):
    datasets = __import__(f"{library}.datasets", fromlist=["datasets"])
    return [y for _, y in itertools.islice(datasets.AirlinePassengers(), n)]


def ratings(n, seed=3):
    """Synthetic ratings: users and items with a hidden taste, a little noise."""
    rng = random.Random(seed)
    users = {f"u{i}": rng.uniform(-1, 1) for i in range(12)}
    items = {f"i{i}": rng.uniform(-1, 1) for i in range(15)}
    out = []
    for _ in range(n):
        u, i = rng.choice(list(users)), rng.choice(list(items))
        out.append((u, i, round(3 + 2 * users[u] * items[i] + rng.gauss(0, 0.3), 3)))
    return out


def anomaly_models():
    from creme import anomaly as ca, compose as cc, preprocessing as cp
    from river import anomaly as ra, preprocessing as rp
    return [
        pytest.param(lambda: cp.MinMaxScaler() | ca.HalfSpaceTrees(seed=5, n_trees=5), "creme", id="creme-hst"),
        pytest.param(lambda: rp.MinMaxScaler() | ra.HalfSpaceTrees(seed=5, n_trees=5), "river", id="river-hst"),
        pytest.param(lambda: ra.QuantileFilter(ra.HalfSpaceTrees(seed=5, n_trees=5), q=0.8), "river",
                     id="river-quantile-filter"),
        pytest.param(lambda: rp.StandardScaler() | ra.OneClassSVM(nu=0.2), "river", id="river-oneclass-svm"),
        pytest.param(lambda: ra.LocalOutlierFactor(n_neighbors=5), "river", id="river-lof"),
    ]


def cluster_models():
    from creme import cluster as cc
    from river import cluster as rc
    return [
        pytest.param(lambda: cc.KMeans(n_clusters=3, seed=2), "creme", id="creme-kmeans"),
        pytest.param(lambda: rc.KMeans(n_clusters=3, seed=2), "river", id="river-kmeans"),
        pytest.param(lambda: rc.DBSTREAM(clustering_threshold=1.5), "river", id="river-dbstream"),
        pytest.param(lambda: rc.CluStream(n_macro_clusters=3, seed=2, time_window=50), "river", id="river-clustream"),
    ]


def forecast_models():
    from creme import time_series as ct
    from river import time_series as rt
    return [
        pytest.param(lambda: ct.SNARIMAX(p=2, d=1, q=1), "creme", id="creme-snarimax"),
        pytest.param(lambda: rt.SNARIMAX(p=2, d=1, q=1), "river", id="river-snarimax"),
        pytest.param(lambda: rt.HoltWinters(alpha=0.3, beta=0.1, gamma=0.6, seasonality=12), "river",
                     id="river-holtwinters"),
    ]


def reco_models():
    from creme import reco as cr
    from river import reco as rr
    return [
        pytest.param(lambda: cr.FunkMF(seed=4, n_factors=3), "creme", id="creme-funkmf"),
        pytest.param(lambda: cr.BiasedMF(seed=4, n_factors=3), "creme", id="creme-biasedmf"),
        pytest.param(lambda: rr.FunkMF(seed=4, n_factors=3), "river", id="river-funkmf"),
        pytest.param(lambda: rr.BiasedMF(seed=4, n_factors=3), "river", id="river-biasedmf"),
    ]


def fingerprint(model, calls):
    """What a model answers to ``calls`` (on a copy: creme models change as they answer)."""
    copy = dill.loads(dill.dumps(model))
    return [call(copy) for call in calls]


# ---------------------------------------------------------------------------------------
# Each paradigm, served and replayed
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, library", anomaly_models())
def test_anomaly_detectors_score_learn_and_replay_exactly(tmp_path, make, library):
    rows = phishing(library, 120)
    reference = AnomalyReference(make(), library)
    db = tmp_path / "c.db"
    with ServerThread(db) as server, chantilly.Client(server.url) as client:
        described = client.upload(make(), name="fraud")
        assert described["flavor"] == "anomaly"
        for i, (x, y) in enumerate(rows):
            if i % 3 == 0:  # predict with an id, learn (with the label) later
                assert client.predict(x, id=i, model="fraud") == reference.predict(x, id=i)
                assert client.learn(y, id=i, model="fraud") == reference.learn(id=i, y=y)
            elif i % 3 == 1:  # features alone: no label
                assert client.learn(features=x, model="fraud") == reference.learn(x)
            else:
                assert client.learn(y, x, model="fraud") == reference.learn(x, y)
        assert client.metrics("fraud") == reference.values()
        if library == "river" and hasattr(reference.model, "classify"):
            answer = client._call("POST", "/api/predict", {"features": rows[0][0], "model": "fraud"})
            assert answer["anomaly"] == reference.model.classify(reference.model.score_one(dict(rows[0][0])))
    with ServerThread(db) as server, chantilly.Client(server.url) as client:  # restarted: replayed
        assert client.metrics("fraud") == reference.values()
        probes = [lambda m, x=x: m.score_one(dict(x)) for x, _ in rows[:5]]
        assert fingerprint(client.download("fraud"), probes) == fingerprint(reference.model, probes)


@pytest.mark.parametrize("make, library", cluster_models())
def test_clusterers_assign_learn_and_replay_exactly(tmp_path, make, library):
    rows = [x for x, _ in bananas(library, 150)]
    reference = ClusterReference(make(), library)
    db = tmp_path / "c.db"
    with ServerThread(db) as server, chantilly.Client(server.url) as client:
        assert client.upload(make(), name="groups")["flavor"] == "clustering"
        for x in rows:
            assert client.learn(features=x, model="groups") == reference.learn(x)
        assert client.metrics("groups") == reference.values()
        assert_error(client_call(client, "POST", "/api/learn",
                                 {"features": rows[0], "ground_truth": 1, "model": "groups"}), 400, "features alone")
    with ServerThread(db) as server, chantilly.Client(server.url) as client:
        assert client.metrics("groups") == reference.values()
        assert client.predict(rows[0], model="groups") == reference.model.predict_one(dict(rows[0]))


@pytest.mark.parametrize("make, library", forecast_models())
def test_forecasters_learn_forecast_score_each_horizon_and_replay_exactly(tmp_path, make, library):
    series = airline(library, 60)
    horizon = 4
    reference = ForecastReference(make(), library, horizon)
    db = tmp_path / "c.db"
    with ServerThread(db) as server, chantilly.Client(server.url) as client:
        assert client.upload(make(), name="passengers", horizon=horizon)["flavor"] == "forecasting"
        for i, y in enumerate(series):
            client.learn(y, model="passengers")
            reference.learn(y)
            if i % 10 == 9 and i > 12:  # a forecast in between (after a season: HoltWinters needs one)
                assert client.forecast(6, model="passengers") == reference.forecast(6)
        assert client.metrics("passengers") == reference.values()
        assert_error(client_call(client, "POST", "/api/predict", {"features": {}, "model": "passengers"}),
                     400, "/api/forecast")
    with ServerThread(db) as server, chantilly.Client(server.url) as client:
        assert client.metrics("passengers") == reference.values()
        assert client.forecast(3, model="passengers") == reference.forecast(3)


@pytest.mark.parametrize("make, library", reco_models())
def test_recommenders_rate_rank_learn_and_replay_exactly(tmp_path, make, library):
    rows = ratings(200)
    reference = RecoReference(make(), library)
    db = tmp_path / "c.db"
    items = [f"i{i}" for i in range(15)]
    with ServerThread(db) as server, chantilly.Client(server.url) as client:
        assert client.upload(make(), name="films")["flavor"] == "recommendation"
        for n, (user, item, rating) in enumerate(rows):
            assert client.learn(rating, {"user": user, "item": item}, model="films") == reference.learn(user, item, rating)
            if n % 50 == 49:
                assert client.rank(user, items, model="films") == reference.rank(user, items)
        assert client.metrics("films") == reference.values()
        assert client.predict({"user": "u1", "item": "i2"}, model="films") == reference.predict("u1", "i2")
        assert_error(client_call(client, "POST", "/api/predict", {"features": {"user": "u1"}, "model": "films"}),
                     400, '"user" and "item"')
    with ServerThread(db) as server, chantilly.Client(server.url) as client:
        assert client.metrics("films") == reference.values()
        assert client.rank("u3", items, model="films") == reference.rank("u3", items)


TEXTS = [("buy cheap pills now", "spam"), ("lunch at noon?", "ham"), ("cheap watches, buy now", "spam"),
         ("see you at the meeting", "ham"), ("win money now", "spam"), ("notes from the meeting", "ham")] * 5


@pytest.mark.parametrize("library", ["creme", "river"])
def test_text_models_learn_from_strings_and_replay_exactly(tmp_path, library):
    fe = __import__(f"{library}.feature_extraction", fromlist=["x"])
    nb = __import__(f"{library}.naive_bayes", fromlist=["x"])
    make = lambda: fe.BagOfWords() | nb.MultinomialNB()  # noqa: E731
    reference = make()
    scores = [metric(library, n) for n in chantilly.FLAVORS["multiclass"]]
    db = tmp_path / "c.db"
    with ServerThread(db) as server, chantilly.Client(server.url) as client:
        client.upload(make(), name="spam", flavor="multiclass")
        for i, (text, label) in enumerate(TEXTS):
            served = client.learn(label, text, id=None, model="spam")
            expected = reference.predict_proba_one(text)
            assert served == expected
            top = max(expected, key=expected.get) if expected else None
            for m in scores:
                m.update(label, top if getattr(m, "requires_labels", True) else expected)
            learn_of(reference)(text, label)
        assert client.metrics("spam") == {type(m).__name__: value(m) for m in scores}
        events = client.stats()["models"]["spam"]
        assert events["learns"] == len(TEXTS)
    with ServerThread(db) as server, chantilly.Client(server.url) as client:
        assert client.predict("cheap meeting", model="spam") == reference.predict_proba_one("cheap meeting")


# ---------------------------------------------------------------------------------------
# Named models
# ---------------------------------------------------------------------------------------


def client_call(client, method, path, body=None):
    """The same call on the wire, as ``(status, response, data)`` for assert_error."""
    port = int(client.url.rsplit(":", 1)[1])
    from harness import Client
    with Client(port) as raw:
        return raw.request(method, path, body)


def test_the_originals_named_model_calls_work_as_its_readme_showed(tmp_path):
    from river import linear_model, preprocessing
    with ServerThread(tmp_path / "c.db") as server:
        http = server.client()
        model = preprocessing.StandardScaler() | linear_model.LinearRegression()
        assert http.ok("POST", "/api/model/lin-reg", dill.dumps(model), 201)["name"] == "lin-reg"
        assert http.ok("POST", "/api/model/other.v2", dill.dumps(model), 201)["name"] == "other.v2"
        listing = http.ok("GET", "/api/models")
        assert listing["default"] == "other.v2" and listing["models"] == ["lin-reg", "other.v2"]
        http.ok("POST", "/api/predict", {"features": {"x": 1.0}, "model": "other.v2", "id": "a"})
        http.ok("POST", "/api/learn", {"id": "a", "ground_truth": 3.0, "model": "other.v2"})
        assert http.ok("GET", "/api/stats?model=other.v2")["model"]["learns"] == 1
        assert http.ok("GET", "/api/stats?model=lin-reg")["model"]["learns"] == 0
        assert http.ok("GET", "/api/metrics?model=other.v2")["MAE"] == 3.0
        assert dill.loads(http.request("GET", "/api/model/other.v2")[2]).predict_one({"x": 1.0}) != 0.0
        http.ok("DELETE", "/api/model/other.v2")
        assert_error(http.request("GET", "/api/metrics?model=other.v2"), 404, "other.v2")
        assert_error(http.request("POST", "/api/model/bad%20name", dill.dumps(model)), 400, "model name")
        assert_error(http.request("POST", "/api/predict", {"features": {}, "model": "x" * 65}), 400, "model name")
        http.close()


def test_the_default_model_follows_the_newest_upload_unless_it_says_otherwise(tmp_path):
    from river import linear_model
    model = dill.dumps(linear_model.LinearRegression())
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        assert client.models() == {"default": None, "models": [], "descriptions": {}}
        assert_error(client_call(client, "POST", "/api/predict", {"features": {}}), 404, "upload one")
        client.upload(model, name="a", default=False)  # the first model is the default all the same
        client.upload(model, name="b")
        assert client.models()["default"] == "b"  # as in chantilly 0.2: the newest upload
        client.learn(1.0, {"x": 1.0})  # no name: the default
        assert client.stats("b")["model"]["learns"] == 1 and client.stats("a")["model"]["learns"] == 0
        client.upload(model, name="c", default=False)
        assert client.models()["default"] == "b"
        client._call("POST", "/api/models/default", {"name": "a"})
        assert client.models()["default"] == "a"
        # No name: the model named "default", never whichever model is the default.
        described = client.upload(model)
        assert (described["name"], described["version"]) == ("default", 1)
        assert client.models()["default"] == "default" and client.stats("a")["model"]["version"] == 1
        assert client.upload(model)["version"] == 2  # again: a new version of it, kept for rollback
        client.delete("default")
        assert client.models()["default"] == "c"  # the newest model left
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        assert client.models()["default"] == "c"  # the choice survives a restart


def test_metrics_are_chosen_at_upload_from_the_models_library(tmp_path):
    from river import linear_model
    model = dill.dumps(linear_model.LinearRegression())
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        client.upload(model, name="a", metrics=["MAE", "R2"])
        client.learn(2.0, {"x": 1.0}, model="a")
        assert set(client.metrics("a")) == {"MAE", "R2"}
        client.upload(model, name="quiet", metrics=[])
        assert client.metrics("quiet") == {}
        with pytest.raises(chantilly.ClientError) as refused:
            client.upload(model, name="b", metrics=["MAE", "Accuracy", "Bogus"])
        assert refused.value.status == 400
        assert "Accuracy, Bogus" in refused.value.message and "RMSE" in refused.value.message
        assert client.models()["models"] == ["a", "quiet"]


def applied_calls(db):
    """``{model name: [log record, ...]}`` in the order the server applied them (read from
    the file after the server died: the log is that order)."""
    import contextlib
    import sqlite3
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        names = dict(conn.execute("SELECT id, name FROM models"))
        calls = {name: [] for name in names.values()}
        for model, body in conn.execute("SELECT model, body FROM log ORDER BY seq"):
            calls[names[model]].append(json.loads(body))
    return calls


@pytest.mark.sqlite_file
def test_two_models_of_different_paradigms_under_concurrent_traffic_and_kill_9(tmp_path):
    """A creme regressor and a river clusterer, fed by four threads at once: the restarted
    server's models equal a replay, with the libraries alone, of the calls in the order the
    server applied them, and every acknowledged call is among them."""
    from harness import Simulator
    from creme import compose, linear_model, preprocessing
    from river import cluster
    regressor = lambda: compose.Pipeline(preprocessing.StandardScaler(), linear_model.LinearRegression())  # noqa: E731
    clusterer = lambda: cluster.KMeans(n_clusters=3, seed=9)  # noqa: E731
    numbers = [{"x": float(i % 17), "z": float(i % 5)} for i in range(400)]
    db = tmp_path / "c.db"
    server = ServerProcess(db)
    acked = {"reg": 0, "km": 0}
    lock = threading.Lock()
    try:
        with chantilly.Client(server.url) as admin:
            admin.upload(regressor(), name="reg")
            admin.upload(clusterer(), name="km")

        def work(t):
            with chantilly.Client(server.url) as client:
                for i in range(t, len(numbers), 4):
                    x = numbers[i]
                    name = "reg" if i % 2 else "km"
                    if name == "reg":
                        client.learn(x["x"] * 2 + x["z"], x, model="reg")
                    else:
                        client.learn(features=x, model="km")
                    with lock:
                        acked[name] += 1

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        server.kill()
    finally:
        server.close()
    calls = applied_calls(db)
    assert len(calls["reg"]) == acked["reg"] == 200 and len(calls["km"]) == acked["km"] == 200
    reg = Simulator(regressor(), "regression")
    for record in calls["reg"]:
        reg.learn(record["y"], record["x"])
    # river's KMeans draws a random coordinate for each new feature name in set order, which
    # depends on the string-hash seed: the reference runs with the seed the database keeps.
    km = replay_with_hash_seed(chantilly.SQLiteStore.stored_hash_seed(db), calls["km"], numbers[:7])
    restarted = ServerProcess(db)
    try:
        with chantilly.Client(restarted.url) as client:
            assert client.metrics("reg") == reg.values()
            assert client.metrics("km") == km["values"]
            probes = [lambda m, x=x: m.predict_one(dict(x)) for x in numbers[:7]]
            assert fingerprint(client.download("reg"), probes) == fingerprint(reg.model, probes)
            assert fingerprint(client.download("km"), probes) == km["probes"]
    finally:
        restarted.close()


def replay_with_hash_seed(seed, records, probes):
    """ClusterReference of a river KMeans fed ``records``, in a Python with ``seed``."""
    import os
    import subprocess
    import sys
    assert seed is not None, "the server keeps a hash seed in its database"
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from test_models import ClusterReference; "
            "from river import cluster; data = json.load(sys.stdin); "
            "ref = ClusterReference(cluster.KMeans(n_clusters=3, seed=9), 'river'); "
            "[ref.learn(r['x']) for r in data['records']]; "
            "print(json.dumps({'values': ref.values(), "
            "'probes': [ref.model.predict_one(dict(x)) for x in data['probes']]}))")
    done = subprocess.run([sys.executable, "-c", code, str(pathlib.Path(__file__).parent)],
                          input=json.dumps({"records": records, "probes": probes}), capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONHASHSEED=seed))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_learns_on_one_model_never_wait_for_another_models_lock(tmp_path):
    import test_models
    test_models.STUCK.clear()
    from river import linear_model
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as admin:
        admin.upload(test_models.Stuck(), name="stuck", flavor="regression")
        admin.upload(linear_model.LinearRegression(), name="free")
        blocked = threading.Thread(target=lambda: chantilly.Client(server.url).learn(1.0, {"x": 1.0}, model="stuck"))
        blocked.start()
        try:
            assert test_models.ENTERED.wait(TIMEOUT)
            with chantilly.Client(server.url, timeout=3) as other:
                for i in range(20):
                    other.learn(float(i), {"x": float(i)}, model="free")
                assert other.stats("free")["model"]["learns"] == 20
        finally:
            test_models.STUCK.set()
            blocked.join(TIMEOUT)


STUCK, ENTERED = threading.Event(), threading.Event()


class Stuck:
    """A model whose learn_one waits until the test lets it go."""

    def predict_one(self, x):
        return 0.0

    def learn_one(self, x, y):
        ENTERED.set()
        STUCK.wait(TIMEOUT)


# ---------------------------------------------------------------------------------------
# Streams and stats per model
# ---------------------------------------------------------------------------------------


def read_events(stream, into):
    """Drive an event generator from a thread, into a queue (the generator blocks)."""
    threading.Thread(target=lambda: [into.put(e) for e in stream], daemon=True).start()


def test_event_streams_follow_one_model_or_all_and_name_the_model(tmp_path):
    import queue
    from harness import wait_until
    from river import linear_model
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        client.upload(linear_model.LinearRegression(), name="a")
        client.upload(linear_model.LinearRegression(), name="b")
        every, only_b, metrics_b = queue.Queue(), queue.Queue(), queue.Queue()
        read_events(chantilly.Client(server.url, timeout=TIMEOUT).events(), every)
        read_events(chantilly.Client(server.url, timeout=TIMEOUT).events(model="b"), only_b)
        read_events(chantilly.Client(server.url, timeout=TIMEOUT).events(model="b", metrics=True), metrics_b)
        assert wait_until(lambda: server.service.bus.count() == 3)
        for name in ("a", "b"):
            client.learn(1.0, {"x": 1.0}, model=name)
        first, second = every.get(timeout=TIMEOUT), every.get(timeout=TIMEOUT)
        assert [first[1]["model"], second[1]["model"]] == ["a", "b"]
        assert only_b.get(timeout=TIMEOUT)[1]["model"] == "b"
        assert metrics_b.get(timeout=TIMEOUT) == ("message", client.metrics("b"))
        assert_error(client_call(client, "GET", "/api/stream/events?model=nope"), 404, "nope")


def test_stats_break_down_by_model(tmp_path):
    from river import linear_model
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        client.upload(linear_model.LinearRegression(), name="a")
        client.upload(linear_model.LinearRegression(), name="b")
        for i in range(5):
            client.learn(1.0, {"x": float(i)}, model="b")
        client.predict({"x": 1.0}, model="a")
        stats = client.stats()
        assert stats["default"] == "b" and set(stats["models"]) == {"a", "b"}
        assert stats["models"]["b"]["learns"] == 5 and stats["models"]["a"]["predictions"] == 1
        assert stats["models"]["b"]["rates"]["learn"] > 0 and stats["models"]["a"]["rates"]["learn"] == 0
        # chantilly 0.2's keys: calls since the start, server-wide, and their durations.
        assert (stats["learn"]["n_calls"], stats["predict"]["n_calls"]) == (5, 1)
        assert stats["learn"]["mean_duration"] > 0 and stats["learn"]["ewm_duration"] > 0
        assert stats["learn"]["mean_duration_human"] == chantilly.humanize_ns(stats["learn"]["mean_duration"])


# ---------------------------------------------------------------------------------------
# The command line on the database, and the client's errors
# ---------------------------------------------------------------------------------------


def test_the_command_line_adds_lists_and_deletes_models_on_the_database(tmp_path):
    from river import linear_model
    path = tmp_path / "m.dill"
    path.write_bytes(dill.dumps(linear_model.LinearRegression()))
    db = str(tmp_path / "c.db")
    assert run_cli("add-model", str(path), "--name", "one", "--db", db).stdout.strip() == "added one"
    assert run_cli("add-model", str(path), "--name", "two", "--db", db).returncode == 0
    listing = run_cli("models", "--db", db).stdout.splitlines()
    assert listing[0].startswith("* one") and listing[1].startswith("  two")
    assert run_cli("delete-model", "one", "--db", db).stdout.strip() == "deleted one"
    gone = run_cli("delete-model", "one", "--db", db)
    assert gone.returncode == 2 and "no model named 'one'" in gone.stderr
    server = ServerProcess(tmp_path / "c.db")
    try:
        busy = run_cli("models", "--db", db)
        assert busy.returncode == 2 and "in use" in busy.stderr and "/api/models" in busy.stderr
        with chantilly.Client(server.url) as client:
            assert client.models()["models"] == ["two"]
    finally:
        server.close()


def test_the_client_raises_one_error_type_with_the_servers_status_and_message(tmp_path):
    with ServerThread(tmp_path / "c.db", tokens={"client": "t0k"}) as server:
        with chantilly.Client(server.url) as anonymous:
            with pytest.raises(chantilly.ClientError) as e:
                anonymous.models()
            assert e.value.status == 401 and "token" in e.value.message
        with chantilly.Client(server.url, token="t0k") as client:
            with pytest.raises(chantilly.ClientError) as e:
                client.predict({"x": 1})
            assert e.value.status == 404
            from river import linear_model
            client.upload(linear_model.LinearRegression())
            answers = list(client.stream({"op": "learn", "features": {"x": float(i)}, "ground_truth": 1.0}
                                         for i in range(1200)))
            assert len(answers) == 1200 and all("prediction" in a for a in answers)
            assert client.stats()["model"]["learns"] == 1200


def test_the_client_reconnects_when_the_server_closed_its_idle_connection(tmp_path):
    from harness import wait_until
    from river import linear_model
    with ServerThread(tmp_path / "c.db", idle_timeout=0.5) as server, chantilly.Client(server.url) as client:
        client.upload(linear_model.LinearRegression(), name="a")
        for call in (client.models, lambda: client.learn(2.0, {"x": 1.0}, model="a")):  # a GET, a POST
            client.stats("a")  # the keep-alive connection is open...
            assert server.server.connection_count() == 1
            assert wait_until(lambda: server.server.connection_count() == 0)  # ...and the server let it go
            call()
        assert client.stats("a")["model"]["learns"] == 1  # the learn was sent once


def test_refused_streams_raise_the_client_error_with_the_servers_message(tmp_path):
    from harness import request_once
    with ServerThread(tmp_path / "c.db", tokens={"client": "t0k"}) as server:
        port = server.port
        refusals = [(chantilly.Client(server.url, token="wrong").stream([{"op": "learn", "features": {}}]),
                     request_once(port, "POST", "/api/stream", b"", token="wrong")),
                    (chantilly.Client(server.url, token="wrong").events(),
                     request_once(port, "GET", "/api/stream/events", token="wrong")),
                    (chantilly.Client(server.url, token="t0k").events(model="nope"),
                     request_once(port, "GET", "/api/stream/events?model=nope", token="t0k")),
                    (chantilly.Client(server.url, token="t0k").events(model="nope", metrics=True),
                     request_once(port, "GET", "/api/stream/metrics?model=nope", token="t0k"))]
        for stream, (status, _, data) in refusals:
            with pytest.raises(chantilly.ClientError) as refused:
                next(stream)
            assert (refused.value.status, refused.value.message) == (status, data["message"])
            assert status in (401, 404) and ("token" in data["message"] or "nope" in data["message"])


class CuttingProxy:
    """Forwards each request to the server, then closes the client's connection instead of
    relaying the answer: a connection that breaks after the server applied the call."""

    def __init__(self, port):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.forwarded = 0
        self.thread = threading.Thread(target=self._serve, args=(port,))
        self.thread.start()

    def _serve(self, port):
        from harness import exchange
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # shut down: the test is over
                return
            with conn:
                conn.settimeout(TIMEOUT)
                received, data = b"", b"-"
                while data and b"\r\n\r\n" not in received:
                    data = conn.recv(65536)
                    received += data
                head, _, body = received.partition(b"\r\n\r\n")
                found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                while data and found and len(body) < int(found.group(1)):
                    data = conn.recv(65536)
                    body += data
                if data:
                    exchange(port, head + b"\r\n\r\n" + body)  # the server answers; the client never hears
                    self.forwarded += 1

    def close(self):
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (closing alone does not)
        self.listener.close()
        self.thread.join(TIMEOUT)


def test_the_client_never_sends_a_post_twice_when_its_connection_breaks(tmp_path):
    from river import linear_model
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as direct:
        direct.upload(linear_model.LinearRegression(), name="a")
        proxy = CuttingProxy(server.port)
        try:
            with chantilly.Client(proxy.url, timeout=TIMEOUT) as client:
                with pytest.raises(ConnectionError):
                    client.learn(2.0, {"x": 1.0}, model="a")
                assert proxy.forwarded == 1 and direct.stats("a")["model"]["learns"] == 1
                direct.upload(linear_model.LinearRegression(), name="b", default=False)
                with pytest.raises(ConnectionError):
                    client.delete()  # deletes the default model, "a"; again would delete "b"
                assert proxy.forwarded == 2
                assert direct.models()["models"] == ["b"]
                with pytest.raises(ConnectionError):
                    client.models()  # a GET is harmless to repeat: it is, once
                assert proxy.forwarded == 4
        finally:
            proxy.close()
