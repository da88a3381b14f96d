"""A newcomer's first hour, held by tests: what a new user found rough, checked the way a
user meets it.

- a lone copy of chantilly.py serves the whole dashboard (the embedded copy of static/, which
  must not go stale);
- models that change the features they are given, exactly replayed after a restart;
- the history's last point follows the traffic when it stops;
- an idle keep-alive connection timing out logs nothing;
- common SSE client libraries (sseclient-py, httpx-sse) see only events that carry data;
- labels the server emits are accepted back; labels a binary model cannot have are refused;
- uploads that need a missing package say which one, and where to install it;
- the start-up banner says where things are;
- mistakes a newcomer makes get a message that says what to do: a class uploaded instead of
  a model, a multipart form, a feature of the wrong type, a missing field, a port or a
  database in use, a server the client cannot reach; a model that scored nothing reports
  no value (not a perfect 0); every read of an unknown model is a 404.

Real servers on 127.0.0.1:0, real clients, files only under tmp_path.
"""

import json
import os
import pickle
import shutil
import socket
import sys
import threading
import time

import pytest

import chantilly
from harness import (
    ROOT, TIMEOUT, ServerProcess, ServerThread, Simulator, assert_error, creme_regressor, model_stats,
    river_binary, river_regressor, run_cli, trump_approval,
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
    with ServerThread(db) as running, running.client() as client:
        client.upload(test_first_hour.Scribbler(), query="?flavor=regression")
        for call in calls:
            if call[0] == "predict":
                client.ok("POST", "/api/predict", {"id": call[2], "features": call[1]})
            elif call[3] is None:
                client.ok("POST", "/api/learn", {"features": call[1], "ground_truth": call[2]})
            else:
                client.ok("POST", "/api/learn", {"id": call[3], "ground_truth": call[2]})
        live = client.ok("GET", "/api/metrics")
    expected = Simulator(Scribbler(), "regression", library="river")  # a custom model is scored by river
    expected.run(calls)
    assert live == expected.values()
    with ServerThread(db) as running, running.client() as client:  # restarted: replayed from the snapshot and the log
        assert client.ok("GET", "/api/metrics") == live
        probe = dict(rows[0][0])
        assert client.ok("POST", "/api/predict", {"features": probe})["prediction"] == \
            expected.model.predict_one(dict(probe))


# ---------------------------------------------------------------------------------------
# What a user sees while it runs
# ---------------------------------------------------------------------------------------


def test_after_a_burst_the_history_ends_at_the_latest_metrics(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
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
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        client.upload(creme_regressor())
        got = learn_events_through(reader, running, client)
        assert len(got) == 3
        assert all(set(json.loads(data)) == {"MAE", "RMSE", "SMAPE"} for data in got), got


# ---------------------------------------------------------------------------------------
# Answers that teach
# ---------------------------------------------------------------------------------------


def test_a_binary_model_takes_back_the_labels_it_answers_with(tmp_path):
    rows = [({"x": float(i % 7)}, i % 7 > 3) for i in range(40)]
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
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


def test_a_multiclass_label_sent_as_the_key_it_was_answered_with_is_the_same_class(tmp_path):
    from river import naive_bayes
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        client.upload(naive_bayes.GaussianNB())
        for i in range(30):
            client.ok("POST", "/api/learn", {"features": {"x": float(i % 3)}, "ground_truth": i % 3})
        answer = client.ok("POST", "/api/predict", {"id": "a", "features": {"x": 1.0}})["prediction"]
        assert set(answer) == {"0", "1", "2"}  # JSON keys: the classes are the integers 0, 1, 2
        client.ok("POST", "/api/learn", {"id": "a", "ground_truth": "1"})
        model = client.download()
        assert set(model.predict_proba_one({"x": 1.0})) == {0, 1, 2}  # no string class "1" was learned


def test_a_model_whose_package_is_missing_says_what_to_install_and_where(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        missing = b"cno_such_package.models\nRegressor\n)\x81."  # what pickling such a model gives
        with pytest.raises(ModuleNotFoundError):
            pickle.loads(missing)
        result = client.request("POST", "/api/model", missing)
        assert_error(result, 400, "no_such_package")
        assert sys.executable in result[2]["message"] and "pip install no_such_package" in result[2]["message"]


def test_the_start_banner_says_where_the_database_dashboard_and_access_are(tmp_path):
    with ServerProcess(tmp_path / "c.db", "--token", "s3cret") as proc:
        lines = [proc.lines.get(timeout=TIMEOUT) for _ in range(3)]
        assert str(tmp_path / "c.db") in lines[0] and "0 models" in lines[0]
        assert "dashboard:" in lines[1] and str(ROOT / "static") in lines[1]
        assert "token required" in lines[2] and "s3cret" not in "".join(lines)


# ---------------------------------------------------------------------------------------
# Mistakes a newcomer makes, and what they are told
# ---------------------------------------------------------------------------------------


def test_a_class_uploaded_instead_of_a_model_says_to_upload_an_instance(tmp_path):
    import dill
    from river import linear_model
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        for query in ("", "?flavor=regression"):  # following the old advice did not help either
            assert_error(client.request("POST", "/api/model" + query, dill.dumps(linear_model.LinearRegression)),
                         400, "upload an instance, e.g. dill.dumps(LinearRegression())")
        assert client.ok("GET", "/api/models")["models"] == []


def test_a_model_that_scored_nothing_yet_reports_no_metric_values(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        client.upload(creme_regressor())
        client.ok("POST", "/api/predict", {"features": {"x": 1.0}})
        assert client.ok("GET", "/api/metrics") == {"MAE": None, "RMSE": None, "SMAPE": None}
        client.ok("POST", "/api/learn", {"features": {"x": 1.0}, "ground_truth": 2.0})
        assert client.ok("GET", "/api/metrics")["MAE"] == 2.0
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:  # and after a restart
        assert client.ok("GET", "/api/metrics")["MAE"] == 2.0


def test_uploads_and_calls_a_newcomer_gets_wrong_are_told_how_to_fix_them(tmp_path):
    import dill
    import requests
    with ServerThread(tmp_path / "c.db") as running:
        url = running.url
        form = requests.post(url + "/api/model", files={"model": dill.dumps(creme_regressor())}, timeout=TIMEOUT)
        assert form.status_code == 400 and "data=dill.dumps(model)" in form.json()["message"]
        assert requests.post(url + "/api/model", data=dill.dumps(river_regressor()), timeout=TIMEOUT).status_code == 201
        missing = requests.post(url + "/api/predict", json={"id": 1}, timeout=TIMEOUT)
        assert missing.status_code == 400 and '"features" is missing' in missing.json()["message"]
        wrong = requests.post(url + "/api/learn", json={"features": {"x": 1.0, "city": "Lyon"}, "ground_truth": 1.0},
                              timeout=TIMEOUT)
        assert wrong.status_code == 422 and "'city' (a string)" in wrong.json()["message"], wrong.json()
        assert requests.get(url + "/api/stats", timeout=TIMEOUT).json()["model"]["learns"] == 0


def test_every_read_of_an_unknown_model_is_a_404(tmp_path):
    with ServerThread(tmp_path / "c.db") as running, running.client() as client:
        assert client.ok("GET", "/api/metrics/history") == {"flavor": None, "points": [], "drifts": []}
        client.upload(creme_regressor())
        for path in ("/api/metrics", "/api/metrics/history", "/api/stats", "/api/stream/metrics",
                     "/api/stream/events", "/api/model/nope/versions"):
            query = "" if "versions" in path else "?model=nope"
            assert_error(client.request("GET", path + query), 404, "nope")


def test_a_port_in_use_says_to_choose_another_and_leaves_no_database_behind(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("run", "--port", str(port), "--db", str(tmp_path / "new.db"), cwd=tmp_path)
    assert done.returncode == 2 and "--port" in done.stderr and "in use" in done.stderr, done.stderr
    assert os.listdir(tmp_path) == []


def test_a_database_in_use_says_to_stop_that_server_or_use_another_file(tmp_path):
    with ServerProcess(tmp_path / "c.db"):
        done = run_cli("run", "--port", "0", "--db", str(tmp_path / "c.db"), cwd=tmp_path)
    assert done.returncode == 2 and "in use" in done.stderr and "--db" in done.stderr, done.stderr


def test_the_python_client_names_the_url_it_cannot_reach_and_words_hints_as_its_calls(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ConnectionError, match=f"cannot reach chantilly at http://127.0.0.1:{port}"):
        chantilly.Client(f"http://127.0.0.1:{port}", timeout=TIMEOUT).models()
    with ServerThread(tmp_path / "c.db") as running, chantilly.Client(running.url, timeout=TIMEOUT) as client:
        with pytest.raises(chantilly.ClientError) as refused:
            client.predict({"x": 1.0})
        assert refused.value.status == 404 and "client.upload(model, name=...)" in refused.value.message


def test_the_route_table_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    import subprocess
    # `chantilly routes | head -3`, with the reader gone before anything is written.
    proc = subprocess.Popen([sys.executable, str(ROOT / "chantilly.py"), "routes"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(TIMEOUT) == 0 and b"BrokenPipeError" not in err, err
