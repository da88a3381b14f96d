"""Operating chantilly with Prometheus and Grafana (issue 12), with the real tools:

- ``promtool check metrics`` passes, without a warning, on what ``GET /metrics`` answers after
  traffic on five models of five paradigms (so metric names such as "MAE+1" and "score p99"
  are label values), and ``promtool check config`` on the scrape job of examples/grafana;
- a real Prometheus scrapes a real server (``chantilly.py run --token``) every second under
  traffic, with the bearer token of that scrape job (and gets 401 without it); once a scrape
  after the traffic is in, its instant queries answer exactly what /api/metrics and /api/stats
  answer, model by model;
- the Grafana dashboard is well formed, and every panel's PromQL, its variables filled in as
  Grafana fills them, has data in that Prometheus over the time of the traffic (Grafana itself
  is not packaged here).

Prometheus listens on a free port of 127.0.0.1 and keeps its data under the test's temporary
folder; it and the server are stopped at the end whatever happens. Waits poll with a deadline:
between two polls of Prometheus the test waits on Prometheus' own exit, which ends the pause
early (and the test) if it dies. Debian's ``prometheus`` package ships both tools (``.ci/run``
installs it); without them these tests skip, except under CI=true, where that is a failure.
"""

import http.client
import json
import math
import os
import re
import shutil
import socket
import subprocess
import time
import types
import urllib.parse

import pytest

import chantilly
from harness import (ROOT, START_TIMEOUT, TIMEOUT, SSEClient, ServerProcess, creme_binary, phishing,
                     request_once, river_regressor, trump_approval)

GRAFANA = ROOT / "examples" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "chantilly.json"
SCRAPE_JOB = GRAFANA / "prometheus.yml"
TOKEN = "prometheus-reads-this"
#: Seconds between two scrapes; Grafana's $__rate_interval is four of them at this step.
SCRAPE_INTERVAL = 1
#: Seconds of traffic under scrapes, so that every rate() window of the panels falls in it.
TRAFFIC_SECONDS = 5
#: Every family /metrics shows (issue 12), by the name it is declared with.
FAMILIES = [
    "chantilly_http_requests_total", "chantilly_http_request_duration_seconds", "chantilly_commit_duration_seconds",
    "chantilly_commit_writes", "chantilly_build_info", "chantilly_model_calls_total", "chantilly_model_metric",
    "chantilly_stored_ids", "chantilly_snapshots_total", "chantilly_drifts_total", "chantilly_expired_ids_total",
    "chantilly_refused_writes_total", "chantilly_open_connections", "chantilly_open_streams",
    "process_start_time_seconds", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
]


def tool(name):
    """The path of Debian's ``name`` (promtool, prometheus); skips without it (fails under CI)."""
    path = shutil.which(name)
    if path is None:
        message = f"these tests need {name} (Debian's prometheus package)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


# ---------------------------------------------------------------------------------------
# Traffic on every paradigm, through chantilly.Client
# ---------------------------------------------------------------------------------------


class Traffic:
    """Five models on one server (a river regressor, a creme classifier, river anomaly
    detection, forecasting and clustering), and rounds of calls that touch each of them,
    leave ids stored without their label, and get refused (400, 401) now and then."""

    MODELS = ("reg", "clf", "hst", "snarimax", "km")

    def __init__(self, server, token):
        from river import anomaly, cluster, preprocessing, time_series
        self.server = server
        self.client = chantilly.Client(server.url, token=token, timeout=TIMEOUT)
        self.client.upload(river_regressor(), name="reg")
        self.client.upload(creme_binary(), name="clf")
        self.client.upload(preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=5, n_trees=5), name="hst")
        self.client.upload(time_series.SNARIMAX(p=2, d=1, q=1), name="snarimax", horizon=3)
        self.client.upload(cluster.KMeans(n_clusters=3, seed=2), name="km")
        self.trump, self.phishing = trump_approval(300), phishing(300)
        self.rounds = 0

    def round(self):
        """One call or two on each model: ids stay stored one round in four."""
        i, client = self.rounds, self.client
        self.rounds += 1
        x, y = self.trump[i % len(self.trump)]
        xb, yb = self.phishing[i % len(self.phishing)]
        client.predict(x, id=i, model="reg")
        if i % 4:
            client.learn(y, id=i, model="reg")
        client.learn(yb, xb, model="clf")
        client.learn(yb, xb, model="hst")          # a label: ROCAUC is scored too
        client.learn(100 + 10 * math.sin(i / 6) + i % 7, model="snarimax")
        client.learn(features={"a": float(i % 11), "b": float(i % 3)}, model="km")
        if i % 10 == 0:
            client.predict(xb, model="hst")
            client.forecast(3, model="snarimax")
        if i % 25 == 0:
            with pytest.raises(chantilly.ClientError) as unknown:
                client.learn(1.0, id=f"never-{i}", model="reg")
            assert unknown.value.status == 400
            assert request_once(self.server.port, "GET", "/api/stats")[0] == 401  # no token

    def answers(self):
        """``(metrics by model, /api/stats)`` as the API answers them now."""
        return {name: self.client.metrics(name) for name in self.MODELS}, self.client.stats()

    def close(self):
        self.client.close()


def metrics_text(server, token=TOKEN):
    """``(status, text)`` of GET /metrics."""
    status, response, data = request_once(server.port, "GET", "/metrics", token=token)
    return status, data.decode() if isinstance(data, bytes) else data


def test_promtool_passes_metrics_after_traffic_on_every_paradigm(tmp_path, start_server):
    promtool = tool("promtool")
    server = start_server(tmp_path / "c.db", "--token", TOKEN)
    traffic = Traffic(server, TOKEN)
    try:
        for _ in range(60):
            traffic.round()
        with SSEClient(server.port, "/api/stream/events", token=TOKEN):
            status, text = metrics_text(server)
    finally:
        traffic.close()
    assert status == 200, text
    assert metrics_text(server, token=None)[0] == 401  # the API's token rules
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                             timeout=TIMEOUT)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
    for family in FAMILIES:
        assert f"# TYPE {family} " in text and f"# HELP {family} " in text, family
    for odd in ('metric="MAE+1"', 'metric="RMSE+3"', 'metric="score p99"', 'metric="size 0"', 'metric="F1"'):
        assert odd in text
    assert re.search(r"^chantilly_open_streams 1$", text, re.M)


def scrape_config(folder, target, credentials):
    """A prometheus.yml scraping ``target`` every second with examples/grafana's scrape job
    (its target and credentials file swapped for ours), plus the same job without a token."""
    job = SCRAPE_JOB.read_text()
    for placeholder, value in (("localhost:5000", target), ("/etc/prometheus/chantilly.token", str(credentials))):
        assert job.count(placeholder) == 1, f"{SCRAPE_JOB} should name {placeholder} once"
        job = job.replace(placeholder, value)
    assert job.startswith("scrape_configs:\n"), "the example is a scrape_configs: section"
    config = folder / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: {SCRAPE_INTERVAL}s\n  scrape_timeout: {SCRAPE_INTERVAL}s\n"
                      f"{job}"
                      f"  - job_name: chantilly-without-token\n"
                      f"    static_configs:\n      - targets: [{json.dumps(target)}]\n")
    return config


def test_promtool_accepts_the_example_scrape_job(tmp_path):
    promtool = tool("promtool")
    credentials = tmp_path / "chantilly.token"
    credentials.write_text(TOKEN + "\n")
    config = scrape_config(tmp_path, "127.0.0.1:5000", credentials)
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True,
                             timeout=TIMEOUT)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "WARNING" not in checked.stdout + checked.stderr
    # The README shows the same job, its comments left out.
    shown = re.search(r"```yaml\n(.*?)```", (GRAFANA / "README.md").read_text(), re.S).group(1)
    job = SCRAPE_JOB.read_text().splitlines(True)
    assert shown == "".join(line for line in job if not line.lstrip().startswith("#"))


# ---------------------------------------------------------------------------------------
# A real Prometheus
# ---------------------------------------------------------------------------------------


def free_port():
    """A port of 127.0.0.1 that was free a moment ago (another process may take it first)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def still_running(proc, seconds):
    """Wait up to ``seconds`` for ``proc`` to exit: the pause between two polls, cut short
    when it dies. True if it still runs."""
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        return True
    return False


class Prometheus:
    """``prometheus`` on a free port of 127.0.0.1 with ``config``, its data and log in
    ``folder``; a port taken between our check and its bind is retried on another.
    :meth:`query`, :meth:`query_range` and :meth:`label_values` go through its HTTP API."""

    def __init__(self, config, folder, attempts=3):
        binary = tool("prometheus")
        self.log = folder / "prometheus.log"
        for _ in range(attempts):
            self.port = free_port()
            with open(self.log, "w") as log:
                self.proc = subprocess.Popen(
                    [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
                     f"--web.listen-address=127.0.0.1:{self.port}"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            if self._ready():
                return
            if "address already in use" not in self.log.read_text():
                break
        self.close()
        raise AssertionError(f"prometheus did not start: {self.log.read_text()[-3000:]}")

    def _ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if self._get("/-/ready")[0] == 200:
                    return True
            except OSError:
                pass  # not listening yet
            if not still_running(self.proc, 0.05):
                return False
        self.close()
        return False

    def _get(self, path, **query):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request("GET", path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else ""))
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def api(self, path, **query):
        """The ``data`` of a successful answer of the HTTP API."""
        status, body = self._get("/api/v1/" + path, **query)
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", (path, query, body[:1000])
        return answer["data"]

    def query(self, expr):
        """An instant query, now: ``{labels (without __name__) as a sorted tuple: value}``."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return {labels_of(s): float(s["value"][1]) for s in data["result"]}

    def query_range(self, expr, start, end, step):
        """A range query: its matrix, ``[{"metric": ..., "values": [[t, "v"], ...]}, ...]``."""
        data = self.api("query_range", query=expr, start=start, end=end, step=step)
        assert data["resultType"] == "matrix", data
        return data["result"]

    def label_values(self, label, match, start, end):
        """What Grafana's ``label_values(match, label)`` lists."""
        return self.api(f"label/{label}/values", **{"match[]": match, "start": start, "end": end})

    def last_scrape(self, job):
        """The time of ``job``'s latest scrape that Prometheus holds (0 before the first)."""
        found = self.query(f'timestamp(up{{job="{job}"}})')
        return max(found.values(), default=0.0)

    def wait_for_scrape_after(self, job, moment, timeout=TIMEOUT):
        """Wait until a scrape of ``job`` that began after ``moment`` (epoch seconds) is in."""
        deadline = time.monotonic() + timeout
        while self.last_scrape(job) <= moment:
            assert time.monotonic() < deadline, f"no scrape of {job} after {moment} in {timeout} s: {self.targets()}"
            assert still_running(self.proc, 0.05), f"prometheus died: {self.log.read_text()[-3000:]}"

    def targets(self):
        """``{job: (health, lastError)}`` of the active targets."""
        return {t["labels"]["job"]: (t["health"], t["lastError"]) for t in self.api("targets")["activeTargets"]}

    def own_metric(self, name):
        """A counter of Prometheus' own /metrics, summed over its series."""
        status, body = self._get("/metrics")
        assert status == 200
        return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
                   if re.match(rf"{name}(\{{|\s)", line))

    def close(self):
        """SIGTERM, and SIGKILL if it does not end in time."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)


def labels_of(sample):
    return tuple(sorted((k, v) for k, v in sample["metric"].items() if k != "__name__"))


@pytest.fixture(scope="module")
def scraped(tmp_path_factory, request):
    """A server with ``--token`` under :data:`TRAFFIC_SECONDS` of traffic (an event stream
    open meanwhile), scraped every second by a real Prometheus; set up once a scrape after
    the traffic is in. A namespace: ``server``, ``prometheus``, ``started``/``stopped``
    (epoch seconds of the traffic), ``scraped`` (the scrape after it), ``metrics`` and
    ``stats`` (what the API answered after the traffic), ``rounds`` (of :class:`Traffic`)."""
    folder = tmp_path_factory.mktemp("operate")
    server = ServerProcess(folder / "c.db", "--token", TOKEN)
    request.addfinalizer(server.close)
    credentials = folder / "chantilly.token"
    credentials.write_text(TOKEN + "\n")
    prometheus = Prometheus(scrape_config(folder, f"127.0.0.1:{server.port}", credentials), folder)
    request.addfinalizer(prometheus.close)
    traffic = Traffic(server, TOKEN)  # uploads while Prometheus finds its targets (about 5 s)
    request.addfinalizer(traffic.close)
    prometheus.wait_for_scrape_after("chantilly", 0, timeout=START_TIMEOUT)
    started = time.time()
    deadline = time.monotonic() + TRAFFIC_SECONDS + TIMEOUT
    with SSEClient(server.port, "/api/stream/events", token=TOKEN):
        while prometheus.last_scrape("chantilly") < started + TRAFFIC_SECONDS:
            assert time.monotonic() < deadline, f"prometheus stopped scraping: {prometheus.targets()}"
            traffic.round()
    stopped = time.time()
    metrics, stats = traffic.answers()
    # Scrape timestamps may be moved by up to 2 ms to line up with the schedule (Prometheus'
    # --scrape.adjust-timestamps): a margin keeps that from passing off an earlier scrape.
    prometheus.wait_for_scrape_after("chantilly", stopped + 0.01)
    return types.SimpleNamespace(server=server, prometheus=prometheus, started=started, stopped=stopped,
                                 scraped=prometheus.last_scrape("chantilly"), metrics=metrics, stats=stats,
                                 rounds=traffic.rounds)


@pytest.mark.slow
def test_prometheus_scrapes_with_the_bearer_token_and_only_with_it(scraped):
    prometheus, instance = scraped.prometheus, f"127.0.0.1:{scraped.server.port}"
    assert prometheus.query("up") == {(("instance", instance), ("job", "chantilly")): 1.0,
                                      (("instance", instance), ("job", "chantilly-without-token")): 0.0}
    targets = prometheus.targets()
    assert targets["chantilly"] == ("up", "")
    assert targets["chantilly-without-token"][0] == "down" and "401" in targets["chantilly-without-token"][1]
    # Nothing of what chantilly exposed was dropped as a duplicate or out of order.
    for dropped in ("prometheus_target_scrapes_sample_duplicate_timestamp_total",
                    "prometheus_target_scrapes_sample_out_of_order_total",
                    "prometheus_target_scrapes_sample_out_of_bounds_total"):
        assert prometheus.own_metric(dropped) == 0, dropped


def same(a, b):
    """Equal numbers, NaN equal to NaN (an undefined metric: null in JSON, NaN in Prometheus)."""
    a, b = (math.nan if v is None else float(v) for v in (a, b))
    return a == b or (math.isnan(a) and math.isnan(b))


def by(prometheus, expr, *labels):
    """An instant query's answer as ``{(value of each of labels, ...): sample value}``."""
    return {tuple(dict(key)[label] for label in labels): value for key, value in prometheus.query(expr).items()}


def assert_same_values(got, want):
    assert set(got) == set(want), (sorted(set(got) ^ set(want)))
    differ = {k: (got[k], want[k]) for k in want if not same(got[k], want[k])}
    assert not differ, f"Prometheus answered otherwise than the API (Prometheus, API): {differ}"


@pytest.mark.slow
def test_prometheus_answers_exactly_what_the_api_answers_for_each_model(scraped):
    prometheus, models = scraped.prometheus, scraped.stats["models"]
    job = 'job="chantilly"'
    assert set(models) == set(Traffic.MODELS)
    got = by(prometheus, f"chantilly_model_metric{{{job}}}", "model", "metric")
    want = {(name, metric): value for name, values in scraped.metrics.items() for metric, value in values.items()}
    assert {"MAE+1", "score p99", "Silhouette", "LogLoss"} <= {metric for _, metric in want}
    assert_same_values(got, want)
    got = by(prometheus, f"chantilly_model_calls_total{{{job}}}", "model", "kind")
    want = {**{(name, "predict"): m["predictions"] for name, m in models.items()},
            **{(name, "learn"): m["learns"] for name, m in models.items()}}
    assert_same_values(got, want)
    got = by(prometheus, f"chantilly_stored_ids{{{job}}}", "model")
    assert_same_values(got, {(name,): m["pending"] for name, m in models.items()})
    assert got[("reg",)] == (scraped.rounds + 3) // 4  # every fourth id stays stored
    assert list(prometheus.query(f"chantilly_expired_ids_total{{{job}}}").values()) == [scraped.stats["expired"]]
    assert by(prometheus, f"chantilly_build_info{{{job}}}", "version") == {(chantilly.__version__,): 1}


# ---------------------------------------------------------------------------------------
# The Grafana dashboard
# ---------------------------------------------------------------------------------------


def dashboard_panels(dashboard):
    """Every panel, those inside collapsed rows included; rows themselves left out."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def regex_escaped(value):
    """A value of a multi-value variable as Grafana writes it into a Prometheus regex."""
    return re.sub(r"([\\^$*+?.()|\[\]{}])", r"\\\\\1", value)


VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def interpolate(text, values):
    """``text`` with ``$name``, ``${name}``, ``${name:format}`` and ``[[name]]`` filled from ``values``
    (KeyError for an unknown variable)."""
    return VARIABLE.sub(lambda m: values[next(g for g in m.groups() if g)], text)


def test_the_dashboard_is_well_formed():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39 and dashboard["uid"] == "chantilly"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {v["name"] for v in variables.values() if v["type"] == "query"} == {"job", "instance", "model"}
    known = set(variables) | {"__rate_interval", "__interval", "__range"}
    panels = list(dashboard_panels(dashboard))
    ids = [p["id"] for p in dashboard["panels"] if p["type"] == "row"] + [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and len(panels) >= 15
    boxes = [p["gridPos"] for p in dashboard["panels"]]
    for i, a in enumerate(boxes):
        assert 0 <= a["x"] < a["x"] + a["w"] <= 24, a
        for b in boxes[i + 1:]:  # no two panels on the same cells
            assert (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"]
                    or b["y"] + b["h"] <= a["y"]), (a, b)
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"] and target["expr"], panel["title"]
            used = {next(g for g in m.groups() if g) for m in VARIABLE.finditer(target["expr"] + panel["title"])}
            assert used <= known, (panel["title"], used - known)
    repeated = [p for p in panels if p.get("repeat")]
    assert [p["repeat"] for p in repeated] == ["model"] and variables["model"]["multi"]
    for name in ("datasources/prometheus.yaml", "dashboards/chantilly.yaml"):
        assert (GRAFANA / "provisioning" / name).read_text().startswith("apiVersion: 1\n"), name


def panel_variables(scraped, step):
    """The values Grafana gives the dashboard's variables over the traffic, every model chosen
    (its "All", ``.*``): ``$__rate_interval`` is max($__interval + scrape interval, 4 scrape
    intervals)."""
    return {"datasource": "prometheus", "job": "chantilly",
            "instance": regex_escaped(f"127.0.0.1:{scraped.server.port}"), "model": ".*",
            "__interval": f"{step}s", "__rate_interval": f"{max(step + SCRAPE_INTERVAL, 4 * SCRAPE_INTERVAL)}s",
            "__range": f"{math.ceil(scraped.scraped - scraped.started)}s"}


@pytest.mark.slow
def test_every_dashboard_panel_has_data_after_traffic(scraped):
    dashboard = json.loads(DASHBOARD.read_text())
    step = SCRAPE_INTERVAL
    variables = panel_variables(scraped, step)
    empty, checked = [], 0
    for panel in dashboard_panels(dashboard):
        choices = [variables]
        if panel.get("repeat") == "model":  # one panel per model, each with its own name
            choices = [dict(variables, model=regex_escaped(name)) for name in Traffic.MODELS]
        for values in choices:
            for target in panel["targets"]:
                expr = interpolate(target["expr"], values)
                series = scraped.prometheus.query_range(expr, scraped.started, scraped.scraped, step)
                finite = [v for s in series for _, v in s["values"] if math.isfinite(float(v))]
                checked += 1
                if not finite:
                    empty.append(f"{interpolate(panel['title'], values)} [{target['refId']}]: {expr}")
    assert not empty, "panels without data:\n" + "\n".join(empty)
    assert checked >= 25


@pytest.mark.slow
def test_the_dashboard_variables_list_the_job_its_instance_and_every_model(scraped):
    dashboard = json.loads(DASHBOARD.read_text())
    values = panel_variables(scraped, SCRAPE_INTERVAL)
    listed = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        found = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        assert found, variable["query"]
        listed[variable["name"]] = scraped.prometheus.label_values(
            found.group(2), interpolate(found.group(1), values), scraped.started, scraped.scraped)
    assert listed == {"job": ["chantilly"], "instance": [f"127.0.0.1:{scraped.server.port}"],
                      "model": sorted(Traffic.MODELS)}
