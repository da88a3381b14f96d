"""A model's life (issue 12): versions kept at each upload and rolled back to with their exact
state, a challenger that learns online beside its model and gets promoted, and concept
drift detected where it happens, optionally resetting the model.

Real servers on 127.0.0.1:0, real creme and river models; expected values come from the
libraries alone, replaying the same calls in-process.
"""

import itertools
import random
import threading
import time

import dill
import pytest

import chantilly
from harness import (TIMEOUT, Simulator, ServerProcess, ServerThread, assert_error, creme_regressor,
                     request_once, trump_approval)


def river_regressor():
    from river import linear_model, preprocessing
    return preprocessing.StandardScaler() | linear_model.LinearRegression()


def probes(rows):
    return [lambda m, x=x: m.predict_one(dict(x)) for x, _ in rows[:5]]


def fingerprint(model, calls):
    copy = dill.loads(dill.dumps(model))
    return [call(copy) for call in calls]


# ---------------------------------------------------------------------------------------
# Versions and rollback
# ---------------------------------------------------------------------------------------


def test_every_upload_keeps_the_previous_version_and_a_rollback_continues_from_its_state(tmp_path):
    rows = trump_approval(90)
    first, second = rows[:40], rows[40:70]
    v1 = Simulator(creme_regressor(), "regression")
    db = tmp_path / "c.db"
    with ServerThread(db, keep_versions=2) as server, chantilly.Client(server.url) as client:
        assert client.upload(creme_regressor(), name="polls")["version"] == 1
        for x, y in first:
            client.learn(y, x, model="polls")
            v1.learn(y, x)
        assert client.upload(river_regressor(), name="polls")["version"] == 2
        for x, y in second:
            client.learn(y, x, model="polls")
        listing = client._call("GET", "/api/model/polls/versions")["versions"]
        assert [(v["version"], v["role"]) for v in listing] == [(1, "version"), (2, "serving")]
        assert listing[0]["learns"] == 40 and listing[0]["metrics"] == v1.values()  # as it was replaced
        old = dill.loads(client._call("GET", "/api/model/polls?version=1"))
        assert fingerprint(old, probes(rows)) == fingerprint(v1.model, probes(rows))
        back = client._call("POST", "/api/model/polls/rollback", {"version": 1})
        assert (back["version"], back["learns"]) == (1, 40)
        assert client.metrics("polls") == v1.values()
        for x, y in rows[70:]:  # it continues from the state it had
            client.learn(y, x, model="polls")
            v1.learn(y, x)
        assert client.metrics("polls") == v1.values()
        listing = client._call("GET", "/api/model/polls/versions")["versions"]
        assert [(v["version"], v["role"]) for v in listing] == [(1, "serving"), (2, "version")]
        assert_error(raw(server, "POST", "/api/model/polls/rollback", {"version": 1}), 404, "serving")
        assert_error(raw(server, "POST", "/api/model/polls/rollback", {"version": 7}), 404, "no past version 7")
        assert_error(raw(server, "POST", "/api/model/polls/rollback", {"versions": 1}), 400, "version")
    with ServerThread(db, keep_versions=2) as server, chantilly.Client(server.url) as client:  # durable
        assert client.metrics("polls") == v1.values()
        assert fingerprint(client.download("polls"), probes(rows)) == fingerprint(v1.model, probes(rows))
        client.upload(river_regressor(), name="polls")  # 3; at most 2 past versions are kept
        client.upload(river_regressor(), name="polls")  # 4: the oldest past version goes
        assert [v["version"] for v in client._call("GET", "/api/model/polls/versions")["versions"]] == [2, 3, 4]


def raw(server, method, path, body=None):
    with server.client() as http:
        return http.request(method, path, body)


# ---------------------------------------------------------------------------------------
# Champion and challenger
# ---------------------------------------------------------------------------------------


def test_a_challenger_sees_every_call_learns_online_and_is_promoted_atomically(tmp_path):
    rows = trump_approval(120)
    champion, challenger = Simulator(creme_regressor(), "regression"), Simulator(river_regressor(), "regression")
    db = tmp_path / "c.db"
    server = ServerProcess(db)
    try:
        with chantilly.Client(server.url) as client:
            client.upload(creme_regressor(), name="polls")
            for x, y in rows[:20]:
                client.learn(y, x, model="polls")
                champion.learn(y, x)
            described = client._call("POST", "/api/model/polls/challenger", dill.dumps(river_regressor()))
            assert (described["name"], described["version"]) == ("polls@challenger", 2)
            for i, (x, y) in enumerate(rows[20:100], start=20):
                if i % 2:  # predictions by id, learned later, reach the challenger too
                    answer = client.predict(x, id=i, model="polls")
                    assert answer == champion.predict(x, id=i)  # the champion's answer, only
                    challenger.predict(x, id=i)
                    client.learn(y, id=i, model="polls")
                    champion.learn(y, id=i)
                    challenger.learn(y, id=i)
                else:
                    client.learn(y, x, model="polls")
                    champion.learn(y, x)
                    challenger.learn(y, x)
            assert client.metrics("polls") == champion.values()
            assert client.metrics("polls@challenger") == challenger.values()
            listing = next(iter(client.models()["descriptions"].values()))
            assert listing["challenger"]["learns"] == 80 and listing["learns"] == 100
            with pytest.raises(chantilly.ClientError) as direct:
                client.learn(1.0, rows[0][0], model="polls@challenger")
            assert direct.value.status == 400
        server.kill()  # both are durable: the restart replays each from its own log
    finally:
        server.close()
    server = ServerProcess(db)
    try:
        with chantilly.Client(server.url) as client:
            assert client.metrics("polls@challenger") == challenger.values()
            promoted = client._call("POST", "/api/model/polls/promote")
            assert (promoted["name"], promoted["version"], promoted["learns"]) == ("polls", 2, 80)
            assert client.metrics("polls") == challenger.values()
            for x, y in rows[100:]:
                client.learn(y, x, model="polls")
                challenger.learn(y, x)
            assert client.metrics("polls") == challenger.values()
            roles = [(v["version"], v["role"]) for v in client._call("GET", "/api/model/polls/versions")["versions"]]
            assert roles == [(1, "version"), (2, "serving")]  # the promotion is a version
            assert fingerprint(client.download("polls"), probes(rows)) == fingerprint(challenger.model, probes(rows))
            assert_error(raw_url(server, "POST", "/api/model/polls/promote"), 404, "no challenger")
    finally:
        server.close()


def raw_url(server, method, path, body=None):
    with server.client() as http:
        return http.request(method, path, body)


def fragile(y):
    return int(y * 10) % 3 == 0


class Fragile:
    """A challenger that raises on about a third of the labels: the champion must not notice."""

    def predict_one(self, x):
        return 0.0

    def learn_one(self, x, y):
        if fragile(y):
            raise ValueError("the challenger cannot take this one")


def test_a_challenger_that_raises_never_touches_the_champions_answers_or_state(tmp_path):
    import test_versions
    rows = trump_approval(60)
    champion = Simulator(creme_regressor(), "regression")
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        client.upload(creme_regressor(), name="polls")
        client._call("POST", "/api/model/polls/challenger?", dill.dumps(test_versions.Fragile()))
        for x, y in rows:
            assert client.learn(y, x, model="polls") == champion.learn(y, x)
        assert client.metrics("polls") == champion.values()
        refused = sum(fragile(y) for _, y in rows)
        assert 0 < refused < len(rows)
        assert client.stats("polls@challenger")["model"]["learns"] == len(rows) - refused


# ---------------------------------------------------------------------------------------
# Drift
# ---------------------------------------------------------------------------------------


def concept_drift(n, position, seed=3):
    """river's ConceptDriftStream: one concept, then (sharply, at ``position``) another."""
    from river.datasets import synth
    stream = synth.ConceptDriftStream(stream=synth.Agrawal(classification_function=0, seed=seed),
                                      drift_stream=synth.Agrawal(classification_function=4, seed=seed),
                                      seed=seed, position=position, width=50)
    return list(itertools.islice(stream, n))


class DriftReference:
    """What the server must compute for a binary classifier watched by river's ADWIN on its
    0/1 error, progressive validation first, resetting to a fresh model at each drift if asked."""

    def __init__(self, make, reset):
        from river import drift
        self.make, self.reset, self.model = make, reset, make()
        self.sim = Simulator(self.model, "binary")
        self.adwin, self.drifts = drift.ADWIN(), []

    def learn(self, y, x):
        p = self.sim.learn(y, x)
        label = (max(p, key=p.get) if p else None)
        before = self.adwin.estimation
        self.adwin.update(float(label != y))
        if self.adwin.drift_detected and self.adwin.estimation > before:  # worse, not better
            self.drifts.append(self.sim_learns())
            if self.reset:
                self.sim.model = self.model = self.make()

    def sim_learns(self):
        self.n = getattr(self, "n", 0)
        return self.n

    def count(self):
        self.n = getattr(self, "n", 0) + 1


@pytest.mark.parametrize("on_drift", [None, "reset"])
def test_a_drift_is_detected_after_the_concept_changes_and_not_before(tmp_path, on_drift):
    from river import tree
    position = 1500
    rows = concept_drift(2600, position)
    make = lambda: tree.HoeffdingTreeClassifier(grace_period=50)  # noqa: E731
    reference = DriftReference(make, on_drift == "reset")
    for x, y in rows:
        reference.count()
        reference.learn(y, x)
    query = "?flavor=binary" + ("&on_drift=reset" if on_drift else "")
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        client._call("POST", "/api/model/agrawal" + query, dill.dumps(make()))
        answers = list(client.stream(
            {"op": "learn", "features": x, "ground_truth": y, "model": "agrawal"} for x, y in rows))
        assert len(answers) == len(rows) and all("prediction" in a for a in answers)
        drifts = [d["n"] for d in client._call("GET", "/api/metrics/history?model=agrawal")["drifts"]]
        assert drifts == reference.drifts and drifts, "the change of concept was not detected"
        assert all(n > position for n in drifts), drifts  # none before the change
        assert drifts[0] < position + 500, drifts  # and soon after it
        assert client.metrics("agrawal") == reference.sim.values()
        assert next(iter(client.models()["descriptions"].values()))["drifts"] == len(drifts)
        text = client._call("GET", "/metrics").decode()
        assert f'chantilly_drifts_total{{model="agrawal"}} {len(drifts)}' in text
        probe = [lambda m, x=x: m.predict_proba_one(dict(x)) for x, _ in rows[-5:]]
        assert fingerprint(client.download("agrawal"), probe) == fingerprint(reference.model, probe)
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        assert [d["n"] for d in client._call("GET", "/api/metrics/history?model=agrawal")["drifts"]] == drifts
        assert fingerprint(client.download("agrawal"), probe) == fingerprint(reference.model, probe)


# ---------------------------------------------------------------------------------------
# Found by a red team: models whose calls do not repeat, and promotions under traffic
# ---------------------------------------------------------------------------------------

#: Set while the feature store that FeatureStoreRegressor calls out to is down.
OUTAGE = threading.Event()


class FeatureStoreRegressor:
    """A mean regressor that asks a feature store at each call, as models that call out to
    something do: while it is down, predict and learn raise RuntimeError whatever the
    model's state, so replaying its past calls fails too (the undo of a failed call, a
    rebuild from the log)."""

    def __init__(self):
        self.n, self.total = 0, 0.0

    def predict_one(self, x):
        if OUTAGE.is_set():
            raise RuntimeError("the feature store timed out")
        return self.total / self.n if self.n else 0.0

    def learn_one(self, x, y):
        if OUTAGE.is_set():
            raise RuntimeError("the feature store timed out")
        self.n += 1
        self.total += y


@pytest.fixture
def outage():
    """OUTAGE, cleared before and after the test."""
    OUTAGE.clear()
    yield OUTAGE
    OUTAGE.clear()


def test_a_challenger_raising_runtime_errors_it_cannot_undo_never_touches_the_champion(tmp_path, outage):
    import test_versions
    rows = trump_approval(60)
    champion = Simulator(creme_regressor(), "regression")
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        client.upload(creme_regressor(), name="polls")
        client._call("POST", "/api/model/polls/challenger", dill.dumps(test_versions.FeatureStoreRegressor()))
        for i, (x, y) in enumerate(rows):
            if i == 20:  # the challenger has calls to replay since its last checkpoint: they fail now
                outage.set()
            if i == 40:
                outage.clear()
            if i % 2:
                assert client.predict(x, id=i, model="polls") == champion.predict(x, id=i)
                assert client.learn(y, id=i, model="polls") == champion.learn(y, id=i)
            else:
                assert client.learn(y, x, model="polls") == champion.learn(y, x)
        assert client.metrics("polls") == champion.values()
        assert client.stats("polls")["model"]["learns"] == len(rows)


def test_a_rollback_to_a_version_that_cannot_be_rebuilt_is_422_and_changes_nothing(tmp_path, outage):
    import test_versions
    rows = trump_approval(50)
    probe = probes(rows)
    serving = Simulator(creme_regressor(), "regression")
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        client.upload(test_versions.FeatureStoreRegressor(), name="polls", flavor="regression")
        for x, y in rows[:5]:
            client.learn(y, x, model="polls")
        client.upload(creme_regressor(), name="polls")
        for x, y in rows[5:30]:
            client.learn(y, x, model="polls")
            serving.learn(y, x)
        versions = client._call("GET", "/api/model/polls/versions")
        outage.set()  # version 1's logged learns cannot be replayed now
        refused = raw(server, "POST", "/api/model/polls/rollback", {"version": 1})
        assert_error(refused, 422, "cannot be rebuilt")
        assert "nothing was changed" in refused[2]["message"]
        assert client._call("GET", "/api/model/polls/versions") == versions
        assert client.metrics("polls") == serving.values()
        assert fingerprint(client.download("polls"), probe) == fingerprint(serving.model, probe)
        for x, y in rows[30:]:  # the model serving goes on as if nothing happened
            assert client.learn(y, x, model="polls") == serving.learn(y, x)
        assert client.metrics("polls") == serving.values()
        outage.clear()  # and version 1 is still there, whole, when it can be rebuilt
        back = client._call("POST", "/api/model/polls/rollback", {"version": 1})
        assert (back["version"], back["learns"]) == (1, 5)
        assert client.predict({}, model="polls") == sum(y for _, y in rows[:5]) / 5


#: Set when SlowLearner is in the middle of its second batch of a stream.
MIDWAY = threading.Event()


class SlowLearner:
    """river's StandardScaler | LinearRegression, taking a fraction of a millisecond more per
    learn, as a bigger model would; it sets MIDWAY in the middle of its second batch of 500
    (the client's chunks), so that a promotion lands while it has calls left in that batch."""

    def __init__(self):
        self.model, self.n = river_regressor(), 0

    def predict_one(self, x):
        return self.model.predict_one(x)

    def learn_one(self, x, y):
        time.sleep(0.0002)
        self.model.learn_one(x, y)
        self.n += 1
        if self.n == 700:
            MIDWAY.set()


def test_a_promotion_under_a_stream_of_learns_loses_no_acknowledged_call(tmp_path):
    import test_versions
    from river import linear_model
    rng = random.Random(11)
    rows = [{"x": rng.uniform(0, 10), "z": rng.uniform(-1, 1)} for _ in range(2000)]
    rows = [(x, 3 * x["x"] - 2 * x["z"] + rng.gauss(0, 0.1)) for x in rows]
    operations = [{"op": "learn", "model": "polls", "features": x, "ground_truth": y} for x, y in rows]
    test_versions.MIDWAY.clear()
    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url) as client:
        client.upload(linear_model.LinearRegression(), name="polls")
        client._call("POST", "/api/model/polls/challenger", dill.dumps(test_versions.SlowLearner()))
        answers = []

        def stream():
            with chantilly.Client(server.url, timeout=TIMEOUT) as streaming:
                for answer in streaming.stream(operations):
                    answers.append(answer)

        streamer = threading.Thread(target=stream)
        streamer.start()
        try:
            assert test_versions.MIDWAY.wait(TIMEOUT)
            promoted = client._call("POST", "/api/model/polls/promote")
        finally:
            streamer.join(3 * TIMEOUT)
        assert not streamer.is_alive()
        assert len(answers) == len(rows) and all("prediction" in a for a in answers), \
            [a for a in answers if "prediction" not in a][:3]
        assert promoted["version"] == 2
        versions = {v["version"]: v for v in client._call("GET", "/api/model/polls/versions")["versions"]}
        champion_learns = versions[1]["learns"]
        assert 500 < champion_learns < len(rows), "the promotion did not land during the stream"
        assert versions[2]["role"] == "serving"
        assert versions[2]["learns"] == len(rows), "calls acknowledged during the promotion were lost"
        challenger = Simulator(river_regressor(), "regression")
        for x, y in rows:
            challenger.learn(y, x)
        assert client.metrics("polls") == challenger.values()  # every call, once, in order
        champion = Simulator(linear_model.LinearRegression(), "regression")
        for x, y in rows[:champion_learns]:
            champion.learn(y, x)
        assert versions[1]["metrics"] == champion.values()


GATE, ENTERED = threading.Event(), threading.Event()


class GatedRegressor:
    """A mean regressor whose learn of -1 waits for GATE: a model busy on a long call."""

    def __init__(self):
        self.n, self.total = 0, 0.0

    def predict_one(self, x):
        return self.total / self.n if self.n else 0.0

    def learn_one(self, x, y):
        if y == -1.0:
            ENTERED.set()
            GATE.wait(TIMEOUT)
        self.n += 1
        self.total += y


def test_a_promotion_waiting_for_a_long_call_never_stalls_the_other_models(tmp_path):
    import test_versions
    GATE.clear(), ENTERED.clear()
    other = Simulator(creme_regressor(), "regression")
    answers = {}

    def call(key, *request):
        answers[key] = request_once(server.port, *request)

    with ServerThread(tmp_path / "c.db") as server, chantilly.Client(server.url, timeout=TIMEOUT) as client:
        client._call("POST", "/api/model/slow?flavor=regression", dill.dumps(test_versions.GatedRegressor()))
        client._call("POST", "/api/model/slow/challenger", dill.dumps(test_versions.GatedRegressor()))
        client.upload(creme_regressor(), name="fast")
        threads = [threading.Thread(target=call, args=("learn", "POST", "/api/learn",
                                                       {"model": "slow", "features": {}, "ground_truth": -1.0}))]
        threads[0].start()
        try:
            assert ENTERED.wait(TIMEOUT)  # the long call holds the model
            threads.append(threading.Thread(target=call, args=("promote", "POST", "/api/model/slow/promote")))
            threads[1].start()
            began = time.monotonic()
            for x, y in trump_approval(20):  # the promotion waits for the long call; they do not
                assert client.learn(y, x, model="fast") == other.learn(y, x)
            assert "fast" in set(client.models()["models"])
            assert time.monotonic() - began < 2.5  # ~0.05 s; the old promote held every model 5 s
        finally:
            GATE.set()
            for thread in threads:
                thread.join(TIMEOUT)
        assert answers["learn"][0] == 201 and answers["promote"][0] == 200, answers
        assert client.predict({}, model="slow") == -1.0  # the challenger saw the long learn too
