"""The examples and the README, run as a user runs them: against a real server, with the
virtualenv's Python, from a folder that is not the repository.

- examples/taxi.py (the original chantilly's example) ends with the model an in-process
  replay of the same calls builds, exactly;
- examples/stream.py streams each paradigm (all at once, against one server) into a model of
  its own, which the server counts and scores as that paradigm;
- every example answers --help without importing creme, river, dill or numpy, and says in
  one line, without a traceback, that the server cannot be reached;
- ndjson_client imports from anywhere once its folder is on sys.path;
- every ```python block of README.md runs as pasted, top to bottom, each in a fresh namespace
  (so a block that leans on a name from an earlier one fails);
- the README's route table and option table list exactly the routes and options the code has.

The servers are ``chantilly.py run`` subprocesses on 127.0.0.1:0 (harness.ServerProcess, through
conftest's start_server), and every file written goes to the test's temporary folder.
"""

import concurrent.futures
import json
import re
import socket

import pytest

from examples import taxi
import chantilly
from harness import ROOT, creme_regressor, river_regressor, run_python

TRIPS = 600
HEAVY = ("creme", "river", "dill", "numpy", "scipy", "pandas", "requests")
README_URL = "http://localhost:5000"


@pytest.fixture
def refused_url():
    """A URL on 127.0.0.1 that refuses connections: a bound port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def assert_one_line_error(done, *fragments):
    """A failed run that explains itself on one line of stderr, without a traceback."""
    assert done.returncode != 0
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ---------------------------------------------------------------------------------------
# examples/taxi.py
# ---------------------------------------------------------------------------------------


def replay_taxi(n, seed):
    """What the server should hold after taxi.py: the same calls, in order, in this process.

    Each call gets its own copy of the features, as the server's model does: ``parse`` turns
    the pickup time into a datetime in the very dict it is given.
    """
    from river import metrics

    model = taxi.make_model()
    scores = {"MAE": metrics.MAE(), "RMSE": metrics.RMSE(), "SMAPE": metrics.SMAPE()}
    stored = {}  # trip id -> (features, prediction), as the server stores them
    for _, kind, trip_id, payload in taxi.events(taxi.trips(n, seed)):
        if kind == "depart":
            stored[trip_id] = (dict(payload), model.predict_one(dict(payload)))
            continue
        x, prediction = stored.pop(trip_id)
        for metric in scores.values():
            metric.update(payload, prediction)
        model.learn_one(dict(x), payload)
    return model, {name: metric.get() for name, metric in scores.items()}


def test_taxi_example_serves_exactly_what_a_replay_learns(start_server, tmp_path):
    server = start_server(tmp_path / "c.db")
    with server.client() as client:
        client.upload(creme_regressor(), query="/mine")  # the user's own model stays as it is
    done = run_python(ROOT / "examples" / "taxi.py", "--url", server.url, "--trips", str(TRIPS),
                      "--seed", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "as 'taxis'" in done.stdout
    with server.client() as client:
        listing = client.ok("GET", "/api/models")
        assert listing["models"] == ["mine", "taxis"] and listing["default"] == "taxis"
        assert client.ok("GET", "/api/stats?model=mine")["model"]["learns"] == 0

    replayed, expected = replay_taxi(TRIPS, seed=3)
    assert f"final MAE: {expected['MAE']!r} s" in done.stdout
    fresh = [x for x, _ in taxi.trips(200, seed=99)]
    expected_predictions = [replayed.predict_one(dict(x)) for x in fresh]

    # The model the server learned predicts exactly as the replay on trips neither has seen,
    # and so does the one it rebuilds by replaying its log after a kill -9.
    for restarted in (False, True):
        if restarted:
            server.kill()
            server = start_server(tmp_path / "c.db")
        with server.client() as client:
            assert client.ok("GET", "/api/metrics?model=taxis") == expected
            served = client.download()
        assert [served.predict_one(dict(x)) for x in fresh] == expected_predictions

    # And it learned: its errors are well below those of always answering the mean duration.
    durations = [y for _, y in taxi.trips(TRIPS, seed=3)]
    mean = sum(durations) / len(durations)
    assert expected["MAE"] < 0.5 * sum(abs(y - mean) for y in durations) / len(durations)


def test_taxi_trips_end_out_of_order_and_each_is_labelled_once():
    happened = list(taxi.events(taxi.trips(300, seed=1)))
    assert [t for t, *_ in happened] == sorted(t for t, *_ in happened)
    departed = [trip_id for _, kind, trip_id, _ in happened if kind == "depart"]
    arrived = [trip_id for _, kind, trip_id, _ in happened if kind == "arrive"]
    assert sorted(arrived) == departed and arrived != departed


# ---------------------------------------------------------------------------------------
# examples/stream.py, every paradigm at once
# ---------------------------------------------------------------------------------------

STREAMED = 40  # samples of each: a few of each kind of call, fast
HORIZON = [f"{name}{step}" for name in ("MAE", "RMSE") for step in ["", *(f"+{i}" for i in range(1, 13))]]
PARADIGMS = {  # --paradigm: (model name, flavor, river's metrics, the headline stream.py shows)
    "regression": ("trump", "regression", ["MAE", "RMSE", "SMAPE"], "MAE"),
    "binary": ("phishing", "binary", ["Accuracy", "LogLoss", "Precision", "Recall", "F1"], "Accuracy"),
    "anomaly": ("shuttle", "anomaly", ["ROCAUC", "score p50", "score p90", "score p99"], "ROCAUC"),
    "clustering": ("bananas", "clustering", ["Silhouette"], "Silhouette"),
    "forecasting": ("airline", "forecasting", HORIZON, "MAE"),
    "recommendation": ("ratings", "recommendation", ["MAE", "RMSE"], "MAE"),
    "text": ("sms", "multiclass", ["Accuracy", "CrossEntropy", "MacroF1", "MicroF1"], "Accuracy"),
}
CREME = ("anomaly", "clustering", "forecasting", "recommendation")  # the paradigms issue 11 added


def test_stream_example_streams_every_paradigm_at_once_each_into_its_own_model(start_server, tmp_path):
    """stream.py for each paradigm with river, and for the new ones with creme, all against
    one server at the same time: each run's model counts one predict (a forecast, for a
    forecaster) and one learn per sample, no id left waiting, and is scored as its paradigm."""
    server = start_server(tmp_path / "c.db")
    runs = {(paradigm, "river"): [] for paradigm in PARADIGMS}
    runs.update({(paradigm, "creme"): ["--library", "creme", "--model", f"creme-{paradigm}"]
                 for paradigm in CREME})

    def stream(run):
        (paradigm, _), options = run
        return run_python(ROOT / "examples" / "stream.py", "--url", server.url, "--paradigm", paradigm,
                          "--rate", "0", "--limit", str(STREAMED), *options, cwd=tmp_path)

    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        done = dict(zip(runs, pool.map(stream, runs.items())))

    with server.client() as client:
        listing = client.ok("GET", "/api/models")
        for (paradigm, library), run in done.items():
            name, flavor, metric_names, headline = PARADIGMS[paradigm]
            name = name if library == "river" else f"creme-{paradigm}"
            assert run.returncode == 0, (paradigm, library, run.stdout + run.stderr)
            assert f"({flavor}) as {name!r}" in run.stderr, (paradigm, library, run.stderr)
            stats = client.ok("GET", f"/api/stats?model={name}")["model"]
            assert (stats["name"], stats["flavor"], stats["library"]) == (name, flavor, library)
            assert (stats["predictions"], stats["learns"], stats["pending"]) == (STREAMED, STREAMED, 0), name
            metrics = client.ok("GET", f"/api/metrics?model={name}")
            if paradigm == "clustering":  # the size of each cluster: every point went to one
                sizes = {k: metrics.pop(k) for k in list(metrics) if k.startswith("size ")}
                assert sum(sizes.values()) == STREAMED, (name, sizes)
            if library == "creme" and paradigm == "clustering":
                assert metrics == {}  # creme 0.6 has no clustering metrics: the sizes only
                continue
            assert [m["name"] for m in stats["metrics"]] == metric_names, name
            assert sorted(metrics) == sorted(metric_names), name
            assert isinstance(metrics[headline], float), (name, metrics)  # a number, and shown:
            assert f"  {headline} " in run.stderr.splitlines()[-1], (name, run.stderr)
    assert len(listing["models"]) == len(runs)


def test_stream_example_refuses_a_dataset_of_another_paradigm_in_one_line(tmp_path):
    done = run_python(ROOT / "examples" / "stream.py", "--paradigm", "text", "--dataset", "trump",
                      cwd=tmp_path)
    assert_one_line_error(done, "--dataset trump is for --paradigm regression, not text")


# ---------------------------------------------------------------------------------------
# Every example: quick --help, one-line errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["stream.py", "taxi.py", "ndjson_client.py"])
def test_help_answers_without_importing_anything_heavy(example, tmp_path):
    done = run_python("-X", "importtime", ROOT / "examples" / example, "--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("usage:"), done.stderr
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "argparse" in imported  # the import log is there, so its silence below means something
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))


@pytest.mark.parametrize("example", ["stream.py", "taxi.py", "ndjson_client.py"])
def test_an_unreachable_server_gets_one_line_and_a_failure(example, refused_url, tmp_path):
    done = run_python(ROOT / "examples" / example, "--url", refused_url, cwd=tmp_path)
    assert_one_line_error(done, "cannot reach chantilly", refused_url, "refused")
    assert done.stdout == ""


def test_ndjson_client_raises_a_one_line_connection_error(refused_url):
    from examples.ndjson_client import stream

    with pytest.raises(ConnectionError) as caught:
        list(stream(refused_url, [{"op": "predict", "features": {"x": 1}}]))
    assert "\n" not in str(caught.value) and refused_url in str(caught.value)


def test_ndjson_client_imports_from_anywhere_by_its_folder(start_server, tmp_path):
    server = start_server(tmp_path / "c.db")
    code = (f"import sys\nsys.path.insert(0, {str(ROOT / 'examples')!r})\n"
            "from ndjson_client import stream\n"
            "ops = ({'op': 'learn', 'features': {'x': i}, 'ground_truth': i} for i in range(300))\n"
            f"print(sum(1 for _ in stream({server.url!r}, ops, chunk_size=100)))\n")
    with server.client() as client:
        client.upload(river_regressor())
    done = run_python("-c", code, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "300\n"), done.stderr


# ---------------------------------------------------------------------------------------
# README.md's Python blocks
# ---------------------------------------------------------------------------------------

# Runs each block in a fresh namespace, with README.md's line numbers in tracebacks, and makes
# every HTTP error that requests sees fail the run (the snippets do not check statuses).
README_RUNNER = r"""
import json, sys
import requests

def strict(request, *args, **kwargs):
    response = unchecked(request, *args, **kwargs)
    response.raise_for_status()
    return response

unchecked, requests.Session.request = requests.Session.request, strict
readme, blocks = sys.argv[1], json.load(open(sys.argv[2]))
for line, code in blocks:
    print(f"--- README.md line {line}", flush=True)
    exec(compile("\n" * (line - 1) + code, readme, "exec"), {"__name__": "__main__"})
"""


def readme_python_blocks():
    """(line of the first code line, code) for every ```python block of README.md."""
    text = (ROOT / "README.md").read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```$", text, re.S | re.M)]


def test_every_readme_python_block_runs_as_pasted(start_server, tmp_path):
    blocks = readme_python_blocks()
    assert len(blocks) >= 4
    server = start_server(tmp_path / "server.db")
    blocks = [(line, code.replace(README_URL, server.url)) for line, code in blocks]
    assert not [code for _, code in blocks if ":5000" in code], "a block would reach a real :5000"

    # The user's folder: the repository's code, but databases of its own (a `make run`
    # server holds chantilly.db in the real one).
    cwd = tmp_path / "checkout"
    cwd.mkdir()
    for name in ("chantilly.py", "examples", "static"):
        (cwd / name).symlink_to(ROOT / name)
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    done = run_python("-c", README_RUNNER, str(ROOT / "README.md"), str(tmp_path / "blocks.json"),
                      cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("--- README.md line") == len(blocks)


# ---------------------------------------------------------------------------------------
# README.md's tables, held to the code they describe
# ---------------------------------------------------------------------------------------


def test_the_readme_route_table_lists_exactly_the_routes_the_server_has():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## The API", 1)[1].split("\n\n| ", 1)[1].split("\n\n", 1)[0]
    listed = set()
    for first_cell in (row.split(" | ", 1)[0] for row in ("| " + table).splitlines()[2:]):
        for method, path in re.findall(r"`(GET|POST|DELETE) (/[^`]*)`", first_cell):
            listed.add((method, path.replace("<file>", "<path:name>")))
    routes = {(route.method, route.pattern) for route in chantilly.ROUTER.routes}
    assert listed == routes, (sorted(listed - routes), sorted(routes - listed))


def test_the_readme_option_table_lists_every_option_with_its_default():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [row for row in readme.splitlines() if row.startswith("| `--")]
    parser = chantilly.build_parser()
    run = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "run")[1]
    options = {a.option_strings[0]: a for a in run._actions if a.option_strings and a.dest != "help"}
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        documented[re.match(r"`(--[a-z-]+)`", cells[0]).group(1)] = cells[1].strip("`")
    assert set(documented) == set(options), (set(documented) ^ set(options))
    for flag, shown in documented.items():
        default = options[flag].default
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            continue  # off, none, names: words
        forms = {str(default), f"{default:g} s", f"{default} bytes/s", f"{default / 86400:g} days"}
        if isinstance(default, int):
            forms.add(chantilly._bytes(default))
        if flag == "--max-ids" and default == 0:
            forms.add("no cap")
        assert shown in forms, (flag, shown, default)
