"""A newcomer's first hour, held by tests: what issue 9 found rough, checked the way a user
meets it.

- a lone copy of chantilly.py serves the whole dashboard (the embedded copy of static/, which
  must not go stale);
- models that change the features they are given, exactly replayed after a restart;
- the history's last point follows the traffic when it stops;
- an idle keep-alive connection timing out logs nothing;
- common SSE client libraries (sseclient-py, httpx-sse) see only events that carry data;
- labels the server emits are accepted back; labels a binary model cannot have are refused;
- uploads that need a missing package say which one, and where to install it;
- the start-up banner says where things are.

Real servers on 127.0.0.1:0, real clients, files only under tmp_path.
"""

import json
import pickle
import shutil
import sys
import threading
import time

import pytest

import chantilly
from harness import (
    ROOT, TIMEOUT, ServerProcess, ServerThread, Simulator, assert_error, creme_regressor, model_stats,
    river_binary, trump_approval,
)


# ---------------------------------------------------------------------------------------
# The single-file promise
# ---------------------------------------------------------------------------------------


def test_the_embedded_dashboard_is_exactly_static():
    embedded = chantilly.unpack_dashboard(chantilly.DASHBOARD)
    on_disk = {p.name: p.read_bytes() for p in (ROOT / "static").iterdir() if p.is_file()}
    assert embedded == on_disk, "static/ changed: run `make embed` and commit chantilly.py"
    assert chantilly.pack_dashboard(ROOT / "static") == chantilly.DASHBOARD.lstrip("\n")


def test_a_lone_copy_serves_every_dashboard_file_from_the_embedded_copy(tmp_path):
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(ROOT / "chantilly.py", lone / "chantilly.py")
    # As typed in that folder: python chantilly.py --port 0 --db c.db (no subcommand).
    with ServerProcess("c.db", cwd=lone, command=None) as proc, proc.client() as client:
        banner = [proc.lines.get(timeout=TIMEOUT) for _ in range(3)]
        assert "the copy embedded in chantilly.py" in banner[1], banner
        for path in ["/static/" + name for name in sorted(chantilly.unpack_dashboard(chantilly.DASHBOARD))] + ["/"]:
            status, _, data = client.request("GET", path)
            name = path.rpartition("/")[2] or "index.html"
            assert status == 200 and data == (ROOT / "static" / name).read_bytes(), path


# ---------------------------------------------------------------------------------------
# Models may change what they are given
# ---------------------------------------------------------------------------------------


class Scribbler:
    """A duck-typed model that changes the features it is given, as river's FuncTransformer
    pipelines do when ``parse`` rewrites a field in place."""

    def __init__(self):
        self.model = creme_regressor()

    @staticmethod
    def _parse(x):
        x["gallup"] = float(x["gallup"]) + 1.0  # rewritten in place
        x["seen"] = object()                     # and something JSON cannot encode

    def predict_one(self, x):
        self._parse(x)
        return self.model.predict_one({k: v for k, v in x.items() if k != "seen"})

    def learn_one(self, x, y):
        self._parse(x)
        self.model.fit_one({k: v for k, v in x.items() if k != "seen"}, y)


def scribbler_calls(rows):
    calls = []
    for i, (x, y) in enumerate(rows):
        if i % 3 == 0:
            calls.append(("learn", x, y, None))        # features only: predict then learn
        else:
            calls.append(("predict", x, i))
            calls.append(("learn", None, y, i))        # by id, later
    return calls


def test_models_that_change_their_features_are_served_and_replayed_exactly(tmp_path):
    import test_first_hour  # the class travels by reference: the restarted server imports it too
    rows = trump_approval(60)
    calls = scribbler_calls(rows)
    db = tmp_path / "c.db"
    running = ServerThread(db)
    client = running.client()
    try:
        client.upload(test_first_hour.Scribbler(), query="?flavor=regression")
        for call in calls:
            if call[0] == "predict":
                client.ok("POST", "/api/predict", {"id": call[2], "features": call[1]})
            elif call[3] is None:
                client.ok("POST", "/api/learn", {"features": call[1], "ground_truth": call[2]})
            else:
                client.ok("POST", "/api/learn", {"id": call[3], "ground_truth": call[2]})
        live = client.ok("GET", "/api/metrics")
    finally:
        client.close()
        running.stop()
    expected = Simulator(Scribbler(), "regression", library="river")  # a custom model is scored by river
    expected.run(calls)
    assert live == expected.values()
    running = ServerThread(db)  # restarted: replayed from the snapshot and the log
    client = running.client()
    try:
        assert client.ok("GET", "/api/metrics") == live
        probe = dict(rows[0][0])
        assert client.ok("POST", "/api/predict", {"features": probe})["prediction"] == \
            expected.model.predict_one(dict(probe))
    finally:
        client.close()
        running.stop()


# ---------------------------------------------------------------------------------------
# What a user sees while it runs
# ---------------------------------------------------------------------------------------


def test_after_a_burst_the_history_ends_at_the_latest_metrics(tmp_path):
    running = ServerThread(tmp_path / "c.db")
    client = running.client()
    try:
        client.upload(creme_regressor())
        rows = trump_approval(300)
        client.ok("POST", "/api/learn", [{"features": x, "ground_truth": y} for x, y in rows])
        history = client.ok("GET", "/api/metrics/history")["points"]
        latest = client.ok("GET", "/api/metrics")
        assert history[-1]["metrics"] != latest  # the burst fit in one sampling interval
        running.service.flush_history(time.time() + chantilly.HISTORY_INTERVAL)
        history = client.ok("GET", "/api/metrics/history")["points"]
        assert history[-1]["n"] == 300 and history[-1]["metrics"] == latest
        running.service.flush_history(time.time() + 2 * chantilly.HISTORY_INTERVAL)
        assert len(client.ok("GET", "/api/metrics/history")["points"]) == len(history)  # no new learns
    finally:
        client.close()
        running.stop()


def test_an_idle_keep_alive_connection_timing_out_logs_nothing(tmp_path):
    with ServerProcess(tmp_path / "c.db", "--timeout", "0.5") as proc:
        client = proc.client()
        client.ok("GET", "/api/health")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:  # wait until the server has closed the idle connection
            try:
                client.conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if client.conn.sock.recv(1) == b"":
                    break
            except OSError:
                break
        client.close()
        proc.terminate()
        assert "timed out" not in proc.stderr_text()


def learn_events_through(library_reader, running, client, n=3):
    """Learn ``n`` times while a client library reads /api/stream/metrics; its events' data."""
    got, ready = [], threading.Event()

    def read():
        for data in library_reader(running.port, ready):
            got.append(data)
            if len(got) == n:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    for x, y in trump_approval(n):
        client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
    while reader.is_alive() and time.monotonic() < deadline:
        reader.join(0.05)
        if running.service.bus.count() == 0:
            break
    return got


def read_with_sseclient(port, ready):
    import requests
    import sseclient
    response = requests.get(f"http://127.0.0.1:{port}/api/stream/metrics", stream=True, timeout=TIMEOUT)
    ready.set()
    for event in sseclient.SSEClient(response).events():
        yield event.data


def read_with_httpx_sse(port, ready):
    import httpx
    from httpx_sse import connect_sse
    with httpx.Client(timeout=TIMEOUT) as http:
        with connect_sse(http, "GET", f"http://127.0.0.1:{port}/api/stream/metrics") as source:
            ready.set()
            for event in source.iter_sse():
                yield event.data


@pytest.mark.parametrize("reader", [read_with_sseclient, read_with_httpx_sse])
def test_sse_client_libraries_only_see_events_with_json_data(tmp_path, reader):
    running = ServerThread(tmp_path / "c.db")
    client = running.client()
    try:
        client.upload(creme_regressor())
        got = learn_events_through(reader, running, client)
        assert len(got) == 3
        assert all(set(json.loads(data)) == {"MAE", "RMSE", "SMAPE"} for data in got), got
    finally:
        client.close()
        running.stop()


# ---------------------------------------------------------------------------------------
# Answers that teach
# ---------------------------------------------------------------------------------------


def test_a_binary_model_takes_back_the_labels_it_answers_with(tmp_path):
    rows = [({"x": float(i % 7)}, i % 7 > 3) for i in range(40)]
    running = ServerThread(tmp_path / "c.db")
    client = running.client()
    try:
        client.upload(river_binary())
        sim = Simulator(river_binary(), "binary")
        for i, (x, y) in enumerate(rows):
            answer = client.ok("POST", "/api/predict", {"id": i, "features": x})["prediction"]
            assert set(answer) <= {"true", "false"}
            sim.predict(x, i)
            client.ok("POST", "/api/learn", {"id": i, "ground_truth": "true" if y else "false"})
            sim.learn(y, id=i)
        assert client.ok("GET", "/api/metrics") == sim.values()
        before = model_stats(client)
        result = client.request("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 2})
        assert_error(result, 400, "binary")
        assert "true or false" in result[2]["message"]
        assert model_stats(client) == before
    finally:
        client.close()
        running.stop()


def test_a_multiclass_label_sent_as_the_key_it_was_answered_with_is_the_same_class(tmp_path):
    from river import naive_bayes
    running = ServerThread(tmp_path / "c.db")
    client = running.client()
    try:
        client.upload(naive_bayes.GaussianNB())
        for i in range(30):
            client.ok("POST", "/api/learn", {"features": {"x": float(i % 3)}, "ground_truth": i % 3})
        answer = client.ok("POST", "/api/predict", {"id": "a", "features": {"x": 1.0}})["prediction"]
        assert set(answer) == {"0", "1", "2"}  # JSON keys: the classes are the integers 0, 1, 2
        client.ok("POST", "/api/learn", {"id": "a", "ground_truth": "1"})
        model = client.download()
        assert set(model.predict_proba_one({"x": 1.0})) == {0, 1, 2}  # no string class "1" was learned
    finally:
        client.close()
        running.stop()


def test_a_model_whose_package_is_missing_says_what_to_install_and_where(tmp_path):
    running = ServerThread(tmp_path / "c.db")
    client = running.client()
    try:
        missing = b"cno_such_package.models\nRegressor\n)\x81."  # what pickling such a model gives
        with pytest.raises(ModuleNotFoundError):
            pickle.loads(missing)
        result = client.request("POST", "/api/model", missing)
        assert_error(result, 400, "no_such_package")
        assert sys.executable in result[2]["message"] and "pip install no_such_package" in result[2]["message"]
    finally:
        client.close()
        running.stop()


def test_the_start_banner_says_where_the_database_dashboard_and_access_are(tmp_path):
    with ServerProcess(tmp_path / "c.db", "--token", "s3cret") as proc:
        lines = [proc.lines.get(timeout=TIMEOUT) for _ in range(3)]
        assert str(tmp_path / "c.db") in lines[0] and "0 models" in lines[0]
        assert "dashboard:" in lines[1] and str(ROOT / "static") in lines[1]
        assert "token required" in lines[2] and "s3cret" not in "".join(lines)
