"""Tests for chantilly, in the order of chantilly.py: pure units first, then a real server on
127.0.0.1:0 driven over real HTTP, streams, concurrency, crash recovery and the command line.

Expected values are computed independently: the same samples are replayed through an
in-process creme or river model and the library's own metrics (harness.Simulator), and
compared exactly. Servers, clients and assertions come from harness.py.
"""

import doctest
import http.client
import itertools
import json
import os
import pathlib
import queue
import random
import re
import shutil
import socket
import sqlite3
import threading
import time
from contextlib import closing

import dill
import pytest

import chantilly
from harness import (
    SLACK, TIMEOUT, ServerProcess, ServerThread, Simulator, SSEClient, assert_error, count_rows,
    creme_binary, creme_multiclass, creme_regressor, observed_state, model_stats, phishing,
    read_chunk_lines, read_headers, replay, river_binary, river_multiclass, river_regressor,
    run_cli, synthetic_classes, trump_approval,
)


# ---------------------------------------------------------------------------------------
# Pure units
# ---------------------------------------------------------------------------------------


def test_doctests_pass():
    failures, tried = doctest.testmod(chantilly)
    assert tried > 10 and failures == 0


def test_sse_message_frames_each_line_as_its_own_data_field():
    assert chantilly.sse_message('{"a":1}') == b'data: {"a":1}\n\n'
    assert chantilly.sse_message("x\r\ny\rz\nw", event="learn") == (
        b"event: learn\ndata: x\ndata: y\ndata: z\ndata: w\n\n")
    assert chantilly.sse_message("") == b"data: \n\n"


def test_the_module_docstring_lists_every_route_and_every_banner():
    doc = chantilly.__doc__
    listed = set()  # "POST /api/model[/<name>]" stands for both; "GET / and /static/..." for two
    for method, first, second in re.findall(r"^    (GET|POST|DELETE) +(/\S*)(?: +and (/\S+))?", doc, re.M):
        for pattern in filter(None, (first, second)):
            listed |= {(method, pattern.replace("[/<name>]", "")), (method, pattern.replace("[/<name>]", "/<name>"))}
    routes = {(route.method, route.pattern) for route in chantilly.ROUTER.routes}
    assert listed == routes, (sorted(listed - routes), sorted(routes - listed))
    source = pathlib.Path(chantilly.__file__).read_text(encoding="utf-8")
    banners = re.findall(r"^# -{80,}\n# (.+)\n# -{80,}$", source, re.M)
    sections = doc.split("knows about sockets or HTTP::")[1].split("\n\n")[1]
    assert [line.strip() for line in sections.splitlines()] == banners


def test_router_tells_404_from_405_and_sends_allow():
    router = chantilly.Router()

    @router.route("GET", "/items/<name>")
    def get_item(request, name):
        """Get."""

    @router.route("DELETE", "/items/<name>")
    def delete_item(request, name):
        """Delete."""

    @router.route("GET", "/files/<path:rest>")
    def get_file(request, rest):
        """File."""

    route, params = router.match("GET", "/items/abc")
    assert route.fn is get_item and params == {"name": "abc"}
    assert router.match("HEAD", "/items/abc")[0].fn is get_item
    assert router.match("GET", "/files/a/b.js")[1] == {"rest": "a/b.js"}
    with pytest.raises(chantilly.MethodNotAllowed) as e:
        router.match("POST", "/items/abc")
    assert dict(e.value.headers)["Allow"] == "DELETE, GET"
    with pytest.raises(chantilly.NotFound):
        router.match("GET", "/items/a/b")
    with pytest.raises(chantilly.NotFound):
        router.match("GET", "/nothing")


@pytest.mark.parametrize("body, fragment", [
    (b"", "empty"),
    (b"{", "not valid JSON"),
    (b'{"x": NaN}', "NaN"),
    (b'{"x": -Infinity}', "Infinity"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"\xff\xfe\x00", "not valid JSON"),
    (b'{"x": ' + b"9" * 5000 + b"}", "not valid JSON"),
])
def test_parse_json_rejects_what_a_model_cannot_take(body, fragment):
    with pytest.raises(chantilly.BadRequest) as e:
        chantilly.parse_json(body)
    assert fragment in e.value.message


def test_predictions_round_trip_with_their_label_types():
    for p in ({True: 0.25, False: 0.75}, {1: 0.5, "a": 0.5}, 3.5, "spam", None):
        stored = json.loads(json.dumps(chantilly.encode_prediction(p)))
        assert chantilly.decode_prediction(stored) == p
        if isinstance(p, dict):
            assert list(chantilly.decode_prediction(stored)) == list(p)


@pytest.mark.parametrize("make, flavor, library", [
    (creme_regressor, "regression", "creme"),
    (creme_binary, "binary", "creme"),
    (creme_multiclass, "multiclass", "creme"),
    (river_regressor, "regression", "river"),
    (river_binary, "binary", "river"),
    (river_multiclass, "multiclass", "river"),
])
def test_flavor_is_detected_through_pipelines(make, flavor, library):
    model = chantilly.load_model(dill.dumps(make()))
    assert (model.flavor, model.library) == (flavor, library)
    assert model.proba == (flavor != "regression")
    assert [type(m).__name__ for m in chantilly.Metrics.for_model(model).objs] == list(
        chantilly.FLAVORS[flavor])


def test_flavor_can_be_forced_and_is_checked():
    assert chantilly.load_model(dill.dumps(river_multiclass()), "binary").flavor == "binary"
    with pytest.raises(chantilly.BadRequest, match="unknown flavor"):
        chantilly.load_model(dill.dumps(river_binary()), "ranking")


class NoLearning:
    def predict_one(self, x):
        return 0


class NoPredicting:
    def learn_one(self, x, y):
        pass


@pytest.mark.parametrize("data, fragment", [
    (b"", "empty"),
    (b"not a pickle", "could not load the model"),
    (dill.dumps(NoLearning()), "neither learn_one"),
    (dill.dumps(NoPredicting()), "neither predict_one"),
    (dill.dumps({"a": 1}), "neither learn_one"),
])
def test_uploads_that_are_not_models_are_refused(data, fragment):
    with pytest.raises(chantilly.BadRequest, match=fragment):
        chantilly.load_model(data)


@pytest.mark.sqlite_file
def test_store_refuses_files_it_did_not_create(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("my thesis, do not overwrite")
    with pytest.raises(chantilly.StoreError, match="not an SQLite database"):
        chantilly.SQLiteStore(text)
    assert text.read_text() == "my thesis, do not overwrite"
    foreign = tmp_path / "other.db"
    with closing(sqlite3.connect(foreign)) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(chantilly.StoreError, match="did not create"):
        chantilly.SQLiteStore(foreign)
    with closing(sqlite3.connect(foreign)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("users",)]


def test_store_refuses_a_second_server_on_the_same_file(tmp_path):
    first = chantilly.SQLiteStore(tmp_path / "c.db")
    first.commit(first.put_setting("flavor", "regression"))
    try:
        with pytest.raises(chantilly.StoreError, match="in use"):
            chantilly.SQLiteStore(tmp_path / "c.db")
    finally:
        first.close()


def wal_commits(db):
    """Transactions in ``db``'s write-ahead log since it was last reset: the valid frames that
    end a commit (a commit frame records the database size, other frames 0; frames left from
    before a reset carry old salts). https://sqlite.org/fileformat2.html#the_write_ahead_log"""
    data = pathlib.Path(f"{db}-wal").read_bytes()
    if len(data) < 32:
        return 0
    page_size, salts = int.from_bytes(data[8:12], "big"), data[16:24]
    commits = 0
    for offset in range(32, len(data) - 24 - page_size + 1, 24 + page_size):
        if data[offset + 8:offset + 16] != salts:
            break
        commits += data[offset + 4:offset + 8] != bytes(4)
    return commits


@pytest.mark.sqlite_file
def test_store_group_commit_settles_every_earlier_ticket_in_one_transaction(tmp_path):
    db = tmp_path / "c.db"
    store = chantilly.SQLiteStore(db)
    try:
        rows = chantilly.ModelRows(store, 1, "m")
        opened = wal_commits(db)
        tickets = [rows.append(i + 1, "{}", (json.dumps(i), "{}", float(i))) for i in range(5)]
        assert wal_commits(db) == opened  # queued only: nothing reached the file yet
        store.commit(tickets[-1])
        assert wal_commits(db) == opened + 1  # one transaction carried all five writes
        for ticket in tickets:
            store.commit(ticket)  # already durable: returns at once
        assert wal_commits(db) == opened + 1
        # The files as a kill -9 would leave them now: every ticket is in them, not only the last.
        crashed = tmp_path / "crashed"
        crashed.mkdir()
        for name in ("c.db", "c.db-wal"):
            shutil.copy(tmp_path / name, crashed / name)
    finally:
        store.close()
    assert count_rows(crashed / "c.db", "stored_ids") == count_rows(crashed / "c.db", "log") == 5


def _framed(data, name=None):
    return chantilly.sse_message(chantilly.dumps(data), name)


def test_event_bus_drops_a_subscriber_that_falls_behind_without_blocking():
    size = len(_framed(0))
    bus = chantilly.EventBus(max_subscribers=2, backlog=3 * size)
    slow, fast = bus.subscribe("t"), bus.subscribe("t")
    for i in range(3):
        bus.publish(("t",), None, i)
    assert fast.take(0) == [_framed(0), _framed(1), _framed(2)]
    fast.written(3 * size)
    bus.publish(("t",), None, 3)  # slow is now 4 behind: dropped, the publisher did not wait
    assert fast.take(0) == [_framed(3)]
    with pytest.raises(EOFError):
        slow.take(0)
    assert bus.count() == 1
    with pytest.raises(chantilly.Unavailable):
        bus.subscribe("t"), bus.subscribe("t")


def test_event_bus_counts_what_a_subscriber_took_until_it_is_written():
    dropped = []
    bus = chantilly.EventBus(backlog=3 * len(_framed(0)) - 1)
    sub = bus.subscribe("t", on_drop=lambda: dropped.append(True))
    bus.publish(("t",), None, 0)
    assert sub.take(0) == [_framed(0)]  # taken, stuck in a write that does not end
    bus.publish(("t",), None, 1)
    bus.publish(("t",), None, 2)  # 1 held + 2 queued > the backlog: dropped, the connection cut
    assert dropped == [True] and bus.count() == 0
    with pytest.raises(EOFError):
        sub.take(0)


def test_event_bus_gives_a_new_subscriber_the_recent_events_it_asks_for_then_live_ones():
    bus = chantilly.EventBus()
    last = chantilly.RECENT_EVENTS + 4
    for t in range(last + 1):  # model a is busy; b spoke once, early
        bus.publish(("ev", "ev:a"), "learn", {"t": t, "m": "a"}, keep=True)
        if t == 1:
            bus.publish(("ev", "ev:b"), "learn", {"t": 1.5, "m": "b"}, keep=True)
    bus.publish(("ev",), None, {"t": 0, "m": "not kept"})
    sub = bus.subscribe("ev:a", recent=3)
    bus.publish(("ev", "ev:a"), "learn", {"t": last + 1, "m": "a"}, keep=True)
    assert sub.take(0) == [_framed({"t": t, "m": "a"}, "learn") for t in range(last - 2, last + 2)]
    # Every model's last ones, oldest first: b's stays in sight beside a's many.
    assert bus.subscribe("ev", recent=2).take(0) == [
        _framed({"t": 1.5, "m": "b"}, "learn"), _framed({"t": last, "m": "a"}, "learn"),
        _framed({"t": last + 1, "m": "a"}, "learn")]
    assert len(bus.subscribe("ev:a", recent=1000).take(0)) == chantilly.RECENT_EVENTS  # at most this many
    assert bus.subscribe("ev:a").take(0) == []  # none unless asked


def test_event_bus_keeps_recent_events_within_their_bytes_and_a_newcomer_within_its_backlog():
    bus = chantilly.EventBus()
    big = {"t": 0, "x": "a" * 20_000}
    for t in range(10):
        bus.publish(("ev", "ev:a"), "learn", dict(big, t=t), keep=True)
    kept = bus.subscribe("ev:a", recent=50).take(0)
    assert sum(map(len, kept)) <= chantilly.RECENT_BYTES and len(kept) == chantilly.RECENT_BYTES // 20_100
    bus = chantilly.EventBus(backlog=10 * 1024)
    small = [{"t": 100 + t, "x": "b" * 3000} for t in range(20)]
    for event in small:
        bus.publish(("ev", "ev:a"), "learn", event, keep=True)
    newcomer = bus.subscribe("ev:a", recent=50).take(0)  # the newest that fit in 10 KiB
    assert newcomer == [_framed(e, "learn") for e in small[-3:]]


def test_event_bus_counts_a_plain_event_by_the_size_it_will_have_once_written():
    bus = chantilly.EventBus()
    xs = json.dumps({"x": "a" * 20_000})
    for t in range(10):
        bus.publish(("ev", "ev:a"), "learn", chantilly.PlainEvent(float(t), "a", xs, 0.5, 1.0, None), keep=True)
    kept = bus.subscribe("ev:a", recent=50).take(0)
    assert sum(map(len, kept)) <= chantilly.RECENT_BYTES and len(kept) == chantilly.RECENT_BYTES // 20_100
    assert [json.loads(m.split(b"data: ", 1)[1])["t"] for m in kept] == [7.0, 8.0, 9.0]


def test_event_bus_close_wakes_a_waiting_subscriber_at_once():
    bus = chantilly.EventBus()
    sub = bus.subscribe("t")
    ended = queue.Queue()
    waiter = threading.Thread(target=lambda: ended.put(_raises(EOFError, sub.take, 60)))
    waiter.start()
    bus.close()
    assert ended.get(timeout=TIMEOUT) is True
    waiter.join(TIMEOUT)


def _raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return True
    return False


def test_service_works_without_http(tmp_path):
    service = chantilly.Service.open(tmp_path / "c.db")
    try:
        service.upload(dill.dumps(creme_regressor()))
        assert service.predict({"features": {"x": 1.0}, "id": "a"}) == {"model": "default", "prediction": 0.0}
        service.learn({"id": "a", "ground_truth": 2.0})
        assert service.metrics()["MAE"] == 2.0
    finally:
        service.close()


# ---------------------------------------------------------------------------------------
# A real server on a real socket
# ---------------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    running = ServerThread(tmp_path / "c.db")
    yield running
    running.stop()


@pytest.fixture
def client(server):
    c = server.client()
    yield c
    c.close()


def test_health_and_unknown_routes_answer_json(client):
    assert client.ok("GET", "/api/health") == {"status": "ok"}
    assert_error(client.request("GET", "/api/nope"), 404, "no route")
    result = client.request("PUT", "/api/predict", {})
    assert_error(result, 405, "not allowed")
    assert result[1].getheader("Allow") == "POST"
    assert_error(client.request("GET", "/api/model"), 404, "no model")
    assert_error(client.request("GET", "/api/metrics"), 404, "upload one")


def test_upload_describes_the_model_and_replaces_the_previous_one(client):
    first = client.upload(creme_regressor())
    assert first["class"] == "StandardScaler | LinearRegression"
    assert (first["flavor"], first["library"], first["library_version"]) == ("regression", "creme", "0.6.1")
    client.ok("POST", "/api/learn", {"features": {"x": 1}, "ground_truth": 5})
    assert client.ok("GET", "/api/metrics")["MAE"] == 5.0
    second = client.upload(river_binary())
    assert (second["flavor"], second["library"], second["learns"]) == ("binary", "river", 0)
    # Nothing scored yet: no value, not a perfect 0.0 (what the libraries report).
    assert client.ok("GET", "/api/metrics") == {"Accuracy": None, "LogLoss": None, "Precision": None,
                                                "Recall": None, "F1": None}
    assert client.upload(river_multiclass(), query="?flavor=binary")["flavor"] == "binary"


def test_bad_uploads_are_refused_and_keep_the_model(client):
    client.upload(creme_regressor())
    client.ok("POST", "/api/learn", {"features": {"x": 1}, "ground_truth": 5})
    before = client.ok("GET", "/api/metrics")
    assert_error(client.request("POST", "/api/model", b"garbage"), 400, "could not load the model")
    assert_error(client.request("POST", "/api/model", dill.dumps(NoLearning())), 400, "learn_one")
    assert_error(client.request("POST", "/api/model?flavor=ranking", dill.dumps(creme_regressor())),
                 400, "unknown flavor")
    assert client.ok("GET", "/api/metrics") == before
    assert model_stats(client)["learns"] == 1


@pytest.mark.parametrize("make, rows, flavor", [
    (creme_regressor, lambda: trump_approval(300), "regression"),
    (river_regressor, lambda: trump_approval(300), "regression"),
    (creme_binary, lambda: phishing(300), "binary"),
    (river_binary, lambda: phishing(300), "binary"),
    (creme_multiclass, lambda: synthetic_classes(200), "multiclass"),
    (river_multiclass, lambda: synthetic_classes(200), "multiclass"),
])
def test_seed_workflow_matches_an_in_process_replay(client, make, rows, flavor):
    rows = rows()
    client.upload(make())
    served = []
    for i, (x, y) in enumerate(rows):
        if i % 2:  # half by id (predict now, label later), half with features in the learn
            served.append(client.ok("POST", "/api/predict", {"id": i, "features": x})["prediction"])
            client.ok("POST", "/api/learn", {"id": i, "ground_truth": y})
        else:
            served.append(client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})["prediction"])
    sim = Simulator(make(), flavor)
    expected = []
    for i, (x, y) in enumerate(rows):  # the same calls, in the same order
        if i % 2:
            expected.append(sim.predict(x, i))
            sim.learn(y, id=i)
        else:
            expected.append(sim.learn(y, x))
    assert served == [json.loads(json.dumps(p)) for p in expected]
    assert client.ok("GET", "/api/metrics") == sim.values()
    # The downloaded model has learned exactly what the in-process one has.
    reference = sim.model
    downloaded = client.download()
    predict = "predict_proba_one" if flavor != "regression" else "predict_one"
    for x, _ in rows[:20]:
        assert getattr(downloaded, predict)(x) == getattr(reference, predict)(x)
    stats = model_stats(client)
    assert (stats["learns"], stats["predictions"], stats["pending"]) == (len(rows), len(rows) // 2, 0)


def test_learn_by_id_uses_the_stored_prediction_and_forgets_the_id(client):
    client.upload(creme_regressor())
    client.ok("POST", "/api/predict", {"id": "a", "features": {"x": 1.0}})
    client.ok("POST", "/api/predict", {"id": 1, "features": {"x": 2.0}})
    assert model_stats(client)["pending"] == 2
    # The id wins over features given alongside it: the stored x=1 prediction (0) is scored.
    assert client.ok("POST", "/api/learn", {"id": "a", "features": {"x": 9.0}, "ground_truth": 4.0}) == {
        "model": "default", "prediction": 0.0}
    assert client.ok("GET", "/api/metrics")["MAE"] == 4.0
    assert_error(client.request("POST", "/api/learn", {"id": "a", "ground_truth": 4.0}), 400, "already learned")
    assert_error(client.request("POST", "/api/learn", {"id": "1", "ground_truth": 4.0}), 400, "never predicted")
    client.ok("POST", "/api/learn", {"id": 1, "ground_truth": 4.0})  # 1 and "1" are different ids
    assert model_stats(client)["pending"] == 0


@pytest.mark.parametrize("known", [3, 1000])
def test_ids_known_in_memory_answer_as_the_store_would(tmp_path, monkeypatch, known):
    """The server keeps a model's stored ids in memory to skip a query for a new one: a
    random run of predictions with ids (new, pending again, learned already) and learns by
    id, across a restart, and in and out of the memory it may take (3 ids' worth), answers
    and counts exactly as a dict of the pending ids says."""
    monkeypatch.setattr(chantilly, "KNOWN_IDS_BYTES", known * (chantilly.KEY_BYTES + 3))
    rng, pending = random.Random(5), {}
    for run in range(2):  # the second starts from the ids the first stored
        with ServerThread(tmp_path / "c.db") as running, running.client() as client:
            if run == 0:
                client.upload(creme_regressor())
            for step in range(120):
                key = rng.choice(["a", "b", 1, "1", 2, "c", "d", "e", "f"])
                if rng.random() < 0.55:
                    x = {"x": float(step)}
                    client.ok("POST", "/api/predict", {"id": key, "features": x})
                    pending[key] = x
                elif key in pending:
                    client.ok("POST", "/api/learn", {"id": key, "ground_truth": 1.0})
                    del pending[key]
                else:
                    assert_error(client.request("POST", "/api/learn", {"id": key, "ground_truth": 1.0}),
                                 400, "No information stored")
                assert model_stats(client)["pending"] == len(pending), (run, step, key)
        with closing(sqlite3.connect(tmp_path / "c.db")) as db:  # the server stopped: the file is free
            assert db.execute("SELECT COUNT(*) FROM stored_ids").fetchone()[0] == len(pending)


def test_an_id_with_nothing_stored_is_refused_even_with_features(client):
    # The id takes precedence over features (as in chantilly 0.2): learning from the features
    # instead would score a prediction the client never got.
    client.upload(creme_regressor())
    assert_error(client.request("POST", "/api/learn", {"id": 42, "features": {"x": 1}, "ground_truth": 3}),
                 400, "No information stored for ID '42'")
    assert model_stats(client)["learns"] == 0


BAD_PREDICTS = [
    (b"{", 400, "not valid JSON"),
    (b"", 400, "empty"),
    (b'{"features": {"x": NaN}}', 400, "NaN"),
    (b'{"features": {"x": 1e999}}', 400, "too large"),
    (b'{"features": [1, 2]}', 400, "JSON object"),
    (b'{"features": "x=1"}', 400, "JSON object"),
    (b'{"features": {"x": {"nested": 1}}}', 400, "feature values"),
    (b'{"features": {"x": 1}, "id": 1.5}', 400, "string or an integer"),
    (b'{"features": {"x": 1}, "id": true}', 400, "string or an integer"),
    (b'{"features": {"x": 1}, "id": "' + b"i" * 300 + b'"}', 400, "too long"),
    (b'{"nofeatures": 1}', 400, '"features" is missing'),
    (b'"just a string"', 400, "JSON object"),
    (b'{"features": {"x": "a string"}}', 422, "could not handle"),
]
BAD_LEARNS = [
    (b'{"features": {"x": 1}}', 400, "ground_truth"),
    (b'{"features": {"x": 1}, "ground_truth": null}', 400, "ground_truth"),
    (b'{"features": {"x": 1}, "ground_truth": "high"}', 400, "must be a number"),
    (b'{"features": {"x": 1}, "ground_truth": [1]}', 400, "number, string or boolean"),
    (b'{"features": {"x": 1}, "ground_truth": -1e400}', 400, "too large"),
    (b'{"ground_truth": 1}', 400, "needs"),
    (b'{"id": "nobody", "ground_truth": 1}', 400, "never predicted"),
    (b'{"features": {"x": "a string"}, "ground_truth": 1}', 422, "could not handle"),
    (b'{"features": {"x": 1, "y": "oops"}, "ground_truth": 1}', 422, "nothing was changed"),
]


@pytest.mark.parametrize("path, body, status, fragment",
                         [("/api/predict",) + case for case in BAD_PREDICTS] +
                         [("/api/learn",) + case for case in BAD_LEARNS])
def test_bad_input_gets_a_clear_error_and_changes_nothing(client, path, body, status, fragment):
    client.upload(creme_regressor())
    for i, (x, y) in enumerate(trump_approval(30)):
        x = {"x": x["gallup"], "y": x["ipsos"]}
        client.ok("POST", "/api/predict", {"id": i, "features": x})
        if i < 20:
            client.ok("POST", "/api/learn", {"id": i, "ground_truth": y})
    before = observed_state(client)
    assert_error(client.request("POST", path, body), status, fragment)
    assert observed_state(client) == before
    # ... and the server keeps serving on the same connection.
    client.ok("POST", "/api/learn", {"id": 25, "ground_truth": 40.0})


def test_a_model_that_raises_halfway_is_rolled_back_exactly(client):
    # creme's StandardScaler updates its running mean for "x" before it fails on "y": without
    # the rollback, the scaler would have seen a sample the model never learned.
    client.upload(creme_regressor())
    rows = [({"x": float(i), "y": float(-i)}, float(i)) for i in range(50)]
    for x, y in rows:
        client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
    assert_error(client.request("POST", "/api/learn", {"features": {"x": 100.0, "y": "boom"},
                                                       "ground_truth": 1.0}), 422, "TypeError")
    reference = Simulator(creme_regressor(), "regression")
    for x, y in rows:
        reference.learn(y, x)
    reference = reference.model
    scaler = client.download()["StandardScaler"]
    assert scaler.counts == reference["StandardScaler"].counts
    assert scaler.means == reference["StandardScaler"].means


def test_batches_answer_each_item_in_order(client):
    client.upload(creme_regressor())
    answers = client.ok("POST", "/api/predict", [
        {"id": 1, "features": {"x": 1}}, {"features": 5}, {"id": 2, "features": {"x": 2}}])
    assert answers[0] == answers[2] == {"model": "default", "prediction": 0.0}
    assert answers[1]["status"] == 400 and "JSON object" in answers[1]["message"]
    answers = client.ok("POST", "/api/learn", [
        {"id": 1, "ground_truth": 1}, {"id": 1, "ground_truth": 1}, {"id": 2, "ground_truth": 2},
        {"features": {"x": "s"}, "ground_truth": 1}])
    assert [a.get("status") for a in answers] == [None, 400, None, 422]
    stats = model_stats(client)
    assert (stats["learns"], stats["pending"]) == (2, 0)
    assert client.ok("POST", "/api/predict", []) == []


def test_body_limits_refuse_before_reading(tmp_path):
    with ServerThread(tmp_path / "c.db", max_body=1000, max_model=5000) as running:
        with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as sock:
            # Announce 10 GB and send nothing: the answer must come without the body.
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000000\r\n\r\n")
            reply = sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in reply
        client = running.client()
        assert_error(client.request("POST", "/api/model", b"x" * 6000), 413, "limit is 5000")
        client = running.client()
        client.upload(creme_regressor())  # a model under the limit still goes through
        client.close()


def test_static_files_are_served_and_nothing_outside(client):
    status, response, page = client.request("GET", "/")
    assert status == 200 and response.getheader("Content-Type").startswith("text/html")
    assert b"<html" in page.lower() or b"<!doctype" in page.lower()
    for path in ("/static/../chantilly.py", "/static/%2e%2e/chantilly.py", "/static/../../etc/passwd",
                 "/static/nope.js"):
        assert_error(client.request("GET", path), 404, "no file")


def test_keep_alive_serves_many_requests_on_one_connection_quickly(client):
    client.upload(creme_regressor())
    client.ok("POST", "/api/predict", {"features": {"x": 1}})
    sock = client.conn.sock
    started = time.perf_counter()
    for i in range(200):
        client.ok("POST", "/api/predict", {"features": {"x": i}})
    elapsed = time.perf_counter() - started
    assert client.conn.sock is sock  # the same connection all along
    assert elapsed < 5.0, f"200 keep-alive requests took {elapsed:.1f} s"  # gross regressions only


# ---------------------------------------------------------------------------------------
# Server-sent events
# ---------------------------------------------------------------------------------------


def test_metrics_stream_sends_the_metrics_after_every_learn(server, client):
    client.upload(creme_regressor())
    sse = SSEClient(server.port, "/api/stream/metrics")
    rows = trump_approval(20)
    _, expected = None, []
    reference = creme_regressor()
    from creme import metrics
    mae, rmse, smape = metrics.MAE(), metrics.RMSE(), metrics.SMAPE()
    for x, y in rows:
        client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
        p = reference.predict_one(x)
        for m in (mae, rmse, smape):
            m.update(y, p)
        reference.fit_one(x, y)
        expected.append({"MAE": mae.get(), "RMSE": rmse.get(), "SMAPE": smape.get()})
    client.ok("POST", "/api/predict", {"features": rows[0][0]})  # predicts send no metrics
    got = [sse.next_event() for _ in rows]
    assert [name for name, _ in got] == ["message"] * len(rows)
    assert [json.loads(data) for _, data in got] == expected
    sse.close()


def test_events_stream_names_predict_learn_and_model_events(server, client):
    sse = SSEClient(server.port, "/api/stream/events")
    described = client.upload(creme_regressor())
    client.ok("POST", "/api/predict", {"id": "a", "features": {"x": 2.0}})
    client.ok("POST", "/api/learn", {"id": "a", "ground_truth": 1.5})
    client.ok("POST", "/api/learn", {"features": {"x": 3.0}, "ground_truth": 1.0})
    name, data = sse.next_event()
    assert name == "model" and json.loads(data)["class"] == described["class"]
    name, data = sse.next_event()
    event = json.loads(data)
    assert name == "predict" and (event["id"], event["features"], event["prediction"]) == ("a", {"x": 2.0}, 0.0)
    name, data = sse.next_event()
    event = json.loads(data)
    assert name == "learn"
    assert (event["id"], event["features"], event["prediction"], event["ground_truth"]) == ("a", {"x": 2.0}, 0.0, 1.5)
    name, data = sse.next_event()
    assert name == "learn" and "id" not in json.loads(data)
    # One data line per event, framed as chunked HTTP/1.1 so proxies can pass it through.
    assert sse.response.getheader("Transfer-Encoding") == "chunked"
    sse.close()


def test_events_stream_with_recent_first_sends_the_last_events_then_live_ones(server, client):
    client.upload(creme_regressor(), query="/a")
    answers = [client.ok("POST", "/api/learn", {"features": {"x": float(i)}, "ground_truth": i, "model": "a"})
               for i in range(5)]
    sse = SSEClient(server.port, "/api/stream/events?model=a&recent=3")
    client.ok("POST", "/api/predict", {"features": {"x": 9.0}, "model": "a"})
    got = [sse.next_event() for _ in range(4)]
    assert [name for name, _ in got] == ["learn", "learn", "learn", "predict"]
    events = [json.loads(data) for _, data in got]
    assert [e["ground_truth"] for e in events[:3]] == [2, 3, 4]
    assert [e["prediction"] for e in events[:3]] == [a["prediction"] for a in answers[2:]]
    assert events[3]["features"] == {"x": 9.0}
    sse.close()
    for bad in ("-1", "x", "1.5"):
        assert_error(client.request("GET", f"/api/stream/events?recent={bad}"), 400, "?recent=")


def test_recent_events_read_later_are_the_events_a_live_subscriber_read(server, client):
    """Most events are written out only when read: a newcomer asking for the recent ones gets
    the very text a subscriber got as they happened (ids, labels, predictions, stored ids)."""
    client.upload(creme_regressor(), query="/a")
    live = SSEClient(server.port, "/api/stream/events?model=a")
    calls = [("predict", {"id": "p1", "features": {"x": 2.0, "y": -1.5}}),
             ("predict", {"id": 7, "features": {"x": 0.1}}),
             ("learn", {"id": "p1", "ground_truth": 1.25}),
             ("learn", {"features": {"x": 3.0}, "ground_truth": 2}),
             ("predict", {"features": {"x": 1e-7}}),
             ("learn", {"id": 7, "ground_truth": -4.5}),
             ("predict", {"id": "q", "features": {"x": 3}})]
    for route, payload in calls:
        client.ok("POST", f"/api/{route}", dict(payload, model="a"))
    seen = [live.next_event() for _ in calls]
    live.close()
    later = SSEClient(server.port, f"/api/stream/events?model=a&recent={len(calls)}")
    assert [later.next_event() for _ in calls] == seen
    later.close()
    events = [json.loads(data) for _, data in seen]
    assert [e.get("id") for e in events] == ["p1", 7, "p1", None, None, 7, "q"]
    assert [e.get("ground_truth") for e in events] == [None, None, 1.25, 2, None, -4.5, None]
    assert events[2]["features"] == {"x": 2.0, "y": -1.5} and events[4]["features"] == {"x": 1e-7}
    assert events[6]["features"] == {"x": 3} and type(events[6]["features"]["x"]) is int


def test_a_stream_nobody_watches_keeps_each_models_last_events_for_a_later_dashboard(server, client):
    """With nobody listening, a stream's events that the bus would forget at once are not
    published; the last RECENT_EVENTS of each model are, as if every one had been."""
    client.upload(creme_regressor(), query="/a")
    client.upload(creme_regressor(), query="/b")
    ops = [{"op": "learn", "model": "a", "features": {"x": float(i)}, "ground_truth": i} for i in range(150)]
    ops[140:140] = [{"op": "learn", "model": "b", "features": {"x": 1.0}, "ground_truth": -i} for i in range(3)]
    ops.append({"op": "learn", "model": "a", "features": {"x": "text"}, "ground_truth": 1})  # refused: no event
    body = "".join(json.dumps(op) + "\n" for op in ops).encode()
    status, _, data = client.request("POST", "/api/stream", body)
    assert status == 200 and len(data.splitlines()) == len(ops)
    recent = chantilly.RECENT_EVENTS
    later = SSEClient(server.port, f"/api/stream/events?model=a&recent={recent + 10}")
    assert [json.loads(data)["ground_truth"] for _, data in (later.next_event() for _ in range(recent))] == \
        list(range(150 - recent, 150))
    later.close()
    later = SSEClient(server.port, "/api/stream/events?recent=2")  # every model's last two, as published
    assert [(e["model"], e["ground_truth"]) for e in (json.loads(later.next_event()[1]) for _ in range(4))] == \
        [("a", 148), ("a", 149), ("b", -1), ("b", -2)]  # a batch's calls run (and publish) a model at a time
    later.close()


def test_stream_subscribers_leave_when_clients_disconnect(server, client):
    client.upload(creme_regressor())
    streams = [SSEClient(server.port, "/api/stream/events") for _ in range(3)]
    assert client.ok("GET", "/api/stats")["subscribers"] == 3
    for sse in streams:
        sse.close()
    deadline = time.monotonic() + TIMEOUT
    # Each learn publishes an event; writing it to a closed socket is how the server notices.
    while client.ok("GET", "/api/stats")["subscribers"] and time.monotonic() < deadline:
        client.ok("POST", "/api/learn", {"features": {"x": 1}, "ground_truth": 1})
    assert client.ok("GET", "/api/stats")["subscribers"] == 0


def test_a_stalled_subscriber_never_blocks_requests(tmp_path):
    with ServerThread(tmp_path / "c.db") as running:
        running.service.bus.backlog = 50
        client = running.client()
        client.upload(creme_regressor())
        stalled = SSEClient(running.port, "/api/stream/events")  # opened, never read
        started = time.perf_counter()
        wide = {f"feature_{k}": float(k) for k in range(50)}  # ~1 KB events fill socket buffers
        for i in range(2000):
            client.ok("POST", "/api/learn", {"features": dict(wide, x=i), "ground_truth": 1})
        assert time.perf_counter() - started < 60
        assert model_stats(client)["learns"] == 2000
        stalled.close()
        client.close()


def test_too_many_streams_get_503(tmp_path):
    with ServerThread(tmp_path / "c.db", max_streams=2) as running:
        a, b = SSEClient(running.port, "/api/stream/metrics"), SSEClient(running.port, "/api/stream/events")
        assert_error(running.client().request("GET", "/api/stream/events"), 503, "too many open streams")
        a.close(), b.close()


def test_shutdown_ends_open_streams_promptly(tmp_path):
    running = ServerThread(tmp_path / "c.db")
    sse = SSEClient(running.port, "/api/stream/metrics")
    idle = running.client()
    idle.ok("GET", "/api/health")  # an idle keep-alive connection must not hold shutdown either
    started = time.perf_counter()
    running.stop()
    assert time.perf_counter() - started < 2.0 + SLACK  # held by the stream: the 30 s idle timeout
    with pytest.raises(EOFError):
        sse.next_event()


# ---------------------------------------------------------------------------------------
# One connection, many operations (POST /api/stream)
# ---------------------------------------------------------------------------------------


def test_operation_stream_answers_each_chunk_before_the_next_is_sent(server, client):
    client.upload(creme_regressor())
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /api/stream HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 200")
        headers = read_headers(reader)
        assert headers["content-type"] == "application/x-ndjson"

        def send_chunk(lines):
            data = "".join(json.dumps(line) + "\n" if isinstance(line, dict) else line for line in lines).encode()
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))

        send_chunk([{"op": "predict", "id": 1, "features": {"x": 1.0}},
                    {"op": "learn", "id": 1, "ground_truth": 2.0}])
        # The answers to the first chunk arrive while the request is still open.
        assert read_chunk_lines(reader) == [{"prediction": 0.0}, {"prediction": 0.0}]
        send_chunk(["not json\n", {"op": "fly"}, "\n", {"op": "learn", "id": 1, "ground_truth": 2.0},
                    {"op": "learn", "features": {"x": 2.0}, "ground_truth": 3.0}])
        answers = read_chunk_lines(reader)
        assert [a.get("status") for a in answers] == [400, 400, 400, None]
        assert "not valid JSON" in answers[0]["message"] and '"op"' in answers[1]["message"]
        sock.sendall(b"0\r\n\r\n")
        assert reader.readline() == b"0\r\n"
    stats = model_stats(client)
    assert (stats["learns"], stats["predictions"]) == (2, 1)


def test_operation_stream_with_content_length_and_a_last_line_without_newline(client):
    client.upload(creme_regressor())
    lines = [json.dumps({"op": "learn", "features": {"x": i}, "ground_truth": i}) for i in range(100)]
    body = "\n".join(lines).encode()
    status, response, data = client.request("POST", "/api/stream", body)
    assert status == 200
    answers = [json.loads(line) for line in data.splitlines()]
    assert len(answers) == 100 and all("prediction" in a for a in answers)
    assert model_stats(client)["learns"] == 100


def test_the_readme_stream_client_gets_every_answer_in_order(server, client):
    from examples.ndjson_client import stream
    client.upload(creme_regressor())
    rows = trump_approval(3000)
    ops = ({"op": "learn", "features": x, "ground_truth": y} for x, y in rows)
    answers = list(stream(f"http://127.0.0.1:{server.port}", ops, chunk_size=500))
    sim = Simulator(creme_regressor(), "regression")
    assert answers == [{"prediction": sim.learn(y, x)} for x, y in rows]
    assert client.ok("GET", "/api/metrics") == sim.values()


# ---------------------------------------------------------------------------------------
# Concurrency
# ---------------------------------------------------------------------------------------


def test_concurrent_learns_lose_no_update(server):
    admin = server.client()
    admin.upload(creme_regressor())
    threads, per_thread = 8, 60
    errors = queue.Queue()

    def work(t):
        c = server.client()
        try:
            for i in range(per_thread):
                c.ok("POST", "/api/predict", {"id": f"{t}-{i}", "features": {"x": float(i), "t": float(t)}})
                c.ok("POST", "/api/learn", {"id": f"{t}-{i}", "ground_truth": float(i)})
        except Exception as e:  # reported below; a thread's assert would otherwise vanish
            errors.put(e)
        finally:
            c.close()

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert errors.empty(), errors.get()
    n = threads * per_thread
    stats = model_stats(admin)
    assert (stats["learns"], stats["predictions"], stats["pending"]) == (n, n, 0)
    assert admin.download()["StandardScaler"].counts == {"x": n, "t": n}


# ---------------------------------------------------------------------------------------
# Persistence and crash recovery
# ---------------------------------------------------------------------------------------


def test_restart_continues_exactly_where_it_stopped(tmp_path):
    rows = trump_approval(120)
    running = ServerThread(tmp_path / "c.db")
    client = running.client()
    client.upload(creme_regressor())
    sim = Simulator(creme_regressor(), "regression")
    for i, (x, y) in enumerate(rows[:100]):
        client.ok("POST", "/api/predict", {"id": i, "features": x})
        sim.predict(x, i)
        if i < 90:
            client.ok("POST", "/api/learn", {"id": i, "ground_truth": y})
            sim.learn(y, id=i)
    before = client.ok("GET", "/api/metrics"), client.ok("GET", "/api/metrics/history")
    client.close()
    running.stop()

    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        assert (client.ok("GET", "/api/metrics"), client.ok("GET", "/api/metrics/history")) == before
        for i in range(90, 100):  # ids stored before the restart can still be learned
            client.ok("POST", "/api/learn", {"id": i, "ground_truth": rows[i][1]})
            sim.learn(rows[i][1], id=i)
        assert client.ok("GET", "/api/metrics") == sim.values()
        assert model_stats(client)["learns"] == 100


@pytest.mark.sqlite_file
def test_restart_across_many_snapshots(tmp_path, monkeypatch):
    monkeypatch.setattr(chantilly, "SNAPSHOT_EVERY", 7)
    rows = trump_approval(50)
    running = ServerThread(tmp_path / "c.db")
    client = running.client()
    client.upload(creme_regressor())
    client.ok("POST", "/api/learn", [{"features": x, "ground_truth": y} for x, y in rows])
    # A rollback after several snapshots must land on the latest state, not an old snapshot.
    assert_error(client.request("POST", "/api/learn", {"features": {"gallup": "x"}, "ground_truth": 1}),
                 422, "nothing was changed")
    expected = replay(creme_regressor(), rows, "regression")[1]
    assert client.ok("GET", "/api/metrics") == expected
    client.close()
    running.stop()
    assert count_rows(tmp_path / "c.db", "log") < 7  # the log was truncated at each snapshot
    with ServerThread(tmp_path / "c.db") as running:
        assert running.client().ok("GET", "/api/metrics") == expected


def kill9_trial(tmp_path, seed):
    """Load the server from one sequential client, SIGKILL it at a random moment, restart, and
    check that the model equals the replay of every acknowledged call, in order."""
    rng = random.Random(seed)
    rows = trump_approval(1000)
    db = tmp_path / f"trial{seed}.db"
    proc = ServerProcess(db)
    client = proc.client()
    client.upload(creme_regressor())
    acked, in_flight, stored_ids = [], None, []
    killer = threading.Timer(rng.uniform(0.05, 0.6), proc.proc.kill)
    killer.start()
    try:
        for i, (x, y) in zip(range(100_000), itertools.cycle(rows)):
            if rng.random() < 0.3:  # some calls only store an id, to be learned after the crash
                in_flight = ("predict", x, i)
                client.ok("POST", "/api/predict", {"id": i, "features": x})
                stored_ids.append(i)
            else:
                in_flight = ("learn", x, y, None)
                client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
            acked.append(in_flight)
            in_flight = None
    except (ConnectionError, http.client.HTTPException, OSError):
        pass  # the crash cut a call off; it may or may not have been applied
    finally:
        killer.cancel()
        proc.kill()  # a no-op unless the loop ran out before the timer fired
        proc.close()
    proc = ServerProcess(db)
    try:
        client = proc.client()
        got = client.ok("GET", "/api/metrics")
        candidates = [acked] + ([acked + [in_flight]] if in_flight else [])
        sims = [Simulator(creme_regressor(), "regression").run(c) for c in candidates]
        downloaded = client.download()
        probes = [x for x, _ in rows[:10]]
        # Predict on copies: a creme pipeline changes when it predicts.
        fingerprint = lambda model: [dill.loads(dill.dumps(model)).predict_one(x) for x in probes]
        assert any(sim.values() == got and fingerprint(sim.model) == fingerprint(downloaded)
                   for sim in sims), (len(acked), got)
        for i in stored_ids:  # every acknowledged id can still be learned
            client.ok("POST", "/api/learn", {"id": i, "ground_truth": 1.0})
        return len(acked)
    finally:
        proc.close()


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    learned = [kill9_trial(tmp_path, seed) for seed in range(3)]
    assert sum(learned) > 0


def test_kill_9_during_concurrent_load_keeps_every_acknowledged_learn(tmp_path):
    proc = ServerProcess(tmp_path / "c.db")
    proc.client().upload(creme_regressor())
    acked = {"n": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def work(t):
        c = proc.client()
        i = 0
        while not stop.is_set():
            try:
                c.ok("POST", "/api/learn", {"features": {"t": float(t), "i": float(i)}, "ground_truth": 1.0})
            except Exception:
                return
            with lock:
                acked["n"] += 1
            i += 1

    workers = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + TIMEOUT
    while acked["n"] < 200 and time.monotonic() < deadline:
        stop.wait(0.01)
    proc.proc.kill()
    for w in workers:
        w.join(TIMEOUT)
    proc.close()
    n = acked["n"]
    proc = ServerProcess(tmp_path / "c.db")
    try:
        learned = model_stats(proc.client())["learns"]
        # At most one call per client was in flight when the server died.
        assert n <= learned <= n + len(workers)
        counts = proc.client().download()["StandardScaler"].counts
        assert counts["t"] == learned
    finally:
        proc.close()


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def test_routes_command_lists_every_route():
    out = run_cli("routes").stdout.splitlines()
    assert len(out) == len(chantilly.ROUTER.routes)
    assert any(line.split()[:2] == ["POST", "/api/predict"] for line in out)


def test_help_explains_commands_and_options():
    assert "run" in run_cli("--help").stdout and "routes" in run_cli("--help").stdout
    text = run_cli("run", "--help").stdout
    for option in ("--host", "--port", "--db", "--token", "--sync", "--max-body"):
        assert option in text


def test_refuses_a_public_address_without_a_token(tmp_path):
    result = run_cli("run", "--host", "0.0.0.0", "--port", "0", "--db", str(tmp_path / "c.db"))
    assert result.returncode == 2 and "without a token" in result.stderr
    assert not (tmp_path / "c.db").exists()


def test_refuses_a_corrupt_database_file(tmp_path):
    db = tmp_path / "c.db"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    result = run_cli("run", "--port", "0", "--db", str(db))
    assert result.returncode == 2 and str(db) in result.stderr


@pytest.mark.sqlite_file
def test_sigterm_with_an_open_stream_saves_state_and_exits_0(tmp_path):
    proc = ServerProcess(tmp_path / "c.db")
    try:
        client = proc.client()
        client.upload(creme_regressor())
        client.ok("POST", "/api/learn", {"features": {"x": 1}, "ground_truth": 3})
        sse = SSEClient(proc.port, "/api/stream/events")
        started = time.perf_counter()
        assert proc.terminate() == 0
        assert time.perf_counter() - started < 2.0 + SLACK  # chantilly's 2 s shutdown budget, or a hang
        with pytest.raises(EOFError):
            sse.next_event()
    finally:
        proc.close()
    assert count_rows(tmp_path / "c.db", "log") == 0  # the shutdown snapshot covers the whole log
    proc = ServerProcess(tmp_path / "c.db")
    try:
        assert proc.client().ok("GET", "/api/metrics")["MAE"] == 3.0
    finally:
        proc.close()
