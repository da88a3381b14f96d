"""What chantilly's tests and bench/stress.py share: one home for each helper.

Not a test file and not installed (``pip install .`` ships only chantilly.py): the test files
and ``bench/stress.py`` import from it. It imports only the standard library and chantilly;
creme, river, dill and psycopg are imported inside the functions that need them, so that
``bench/stress.py`` (which imports none of them) can use the rest. It never imports pytest: the
assertions below are plain ``assert`` statements, and fixtures live in the test files and
conftest.py.

In the order of a test's life:

- constants (ROOT, TIMEOUT, ...);
- models and data built the way a user would, and :class:`Simulator`, the in-process replay
  that expected values come from;
- servers: :class:`ServerThread` (in this process) and :class:`ServerProcess`
  (``chantilly.py run`` as a child process), with :func:`running_with_model` and :func:`run_cli`;
- other servers a deployment runs with: :func:`postgres_cluster` (a throwaway PostgreSQL) with
  :func:`fresh_database`, and :class:`HAProxy` (:func:`haproxy`) in front of chantilly;
- clients: :class:`Client` (keep-alive HTTP), :func:`request_once`, :class:`SSEClient`
  (event streams);
- raw sockets: :func:`exchange`, :func:`read_until_closed`, :func:`parse_responses`, ...;
- what the server holds, asked over HTTP: :func:`model_stats`, :func:`counters`,
  :func:`observed_state`;
- assertions named after what they check: :func:`assert_error`, :func:`assert_json_answer`;
- waiting without sleeping (:func:`wait_until`, :func:`wait_for_baseline`) and the
  :class:`Ledger` of what a crashed server acknowledged.
"""

import contextlib
import functools
import glob
import http.client
import http.server
import ipaddress
import itertools
import json
import os
import pathlib
import queue
import random
import re
import select
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import chantilly

ROOT = pathlib.Path(__file__).resolve().parent
#: Seconds any single blocking call (a request, a join, a wait) may take before a test fails.
TIMEOUT = 10
#: Seconds a child server may take to say it is serving (a loaded machine imports slowly).
START_TIMEOUT = 30
#: Seconds a whole example script or the README's blocks may run.
RUN_TIMEOUT = 180
#: Seconds a loaded 2-core machine may add to anything timed. Upper bounds on wall-clock time
#: catch gross regressions only (a wait that should not happen at all: an idle timeout, a 30 s
#: model call, a stream holding shutdown): each is the time a step should take plus SLACK.
#: Lower bounds stay exact where they are a property (a timeout does not fire early).
SLACK = 5.0
#: Debian's Chromium, which the browser tests drive through playwright.
CHROMIUM = "/usr/bin/chromium"
#: Where Debian puts each PostgreSQL major version's programs (initdb, pg_ctl): not on PATH.
POSTGRES_BINS = "/usr/lib/postgresql/*/bin"
#: Debian's HAProxy (in /usr/sbin, which a non-root PATH may lack).
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
#: Features the regression models are probed with: one set the models were trained on, two not.
PROBES = [{"x": 1.0, "y": -2.0}, {"x": 0.5}, {"gallup": 40.0, "ipsos": 41.0}]


# ---------------------------------------------------------------------------------------
# Models and data built the way a user would
# ---------------------------------------------------------------------------------------


def creme_regressor():
    """creme's ``StandardScaler | LinearRegression``: it learns inside ``predict_one`` too."""
    from creme import linear_model, preprocessing
    return preprocessing.StandardScaler() | linear_model.LinearRegression()


def creme_binary():
    """creme's ``StandardScaler | LogisticRegression``."""
    from creme import linear_model, preprocessing
    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def creme_multiclass():
    """creme's ``StandardScaler | OneVsRestClassifier(LogisticRegression)``."""
    from creme import linear_model, multiclass, preprocessing
    return preprocessing.StandardScaler() | multiclass.OneVsRestClassifier(linear_model.LogisticRegression())


def river_regressor():
    """river's ``StandardScaler | LinearRegression``."""
    from river import linear_model, preprocessing
    return preprocessing.StandardScaler() | linear_model.LinearRegression()


def river_binary():
    """river's ``StandardScaler | LogisticRegression``."""
    from river import linear_model, preprocessing
    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def river_multiclass():
    """river's ``HoeffdingTreeClassifier``."""
    from river import tree
    return tree.HoeffdingTreeClassifier(grace_period=20)


def trump_approval(n):
    """The first ``n`` ``(x, y)`` rows of creme's TrumpApproval (regression; ships with creme)."""
    from creme import datasets
    return list(itertools.islice(datasets.TrumpApproval(), n))


def phishing(n):
    """The first ``n`` ``(x, y)`` rows of creme's Phishing (binary, labels True/False)."""
    from creme import datasets
    return list(itertools.islice(datasets.Phishing(), n))


def synthetic_classes(n, seed=7):
    """``n`` rows of two features and three string classes ("left", "middle", "right")."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        x = {"a": rng.uniform(-1, 1), "b": rng.uniform(-1, 1)}
        rows.append((x, "left" if x["a"] < -0.3 else "right" if x["a"] > 0.3 else "middle"))
    return rows



def schema2_calls():
    """The calls that wrote ``testdata/schema2.db`` (see testdata/make_schema2.py), in order:
    ``("upload", name, model factory)``, ``("snapshot",)`` (every model snapshotted by a
    restart), and ``(kind, name, call)`` with ``call`` as :meth:`Simulator.run` takes it.
    Two models' calls interleave, so their log records shared one seq counter in schema 2."""
    polls, phish = trump_approval(60), phishing(40)
    steps = [("upload", "polls", creme_regressor)]
    steps += [("learn", "polls", ("learn", x, y, None)) for x, y in polls[:10]]
    steps += [("upload", "polls", creme_regressor), ("upload", "phish", river_binary)]  # polls v1 kept
    for i in range(20):
        steps.append(("learn", "polls", ("learn", polls[10 + i][0], polls[10 + i][1], None)))
        steps.append(("learn", "phish", ("learn", phish[i][0], phish[i][1], None)))
    steps.append(("snapshot",))
    for i in range(10):  # predictions with ids, half learned later: stored ids survive the upgrade
        steps.append(("predict", "polls", ("predict", polls[30 + i][0], f"p{i}")))
        steps.append(("predict", "phish", ("predict", phish[20 + i][0], i)))
    for i in range(5):
        steps.append(("learn", "polls", ("learn", None, polls[30 + i][1], f"p{i}")))
        steps.append(("learn", "phish", ("learn", None, phish[20 + i][1], i)))
    for i in range(10):
        steps.append(("learn", "polls", ("learn", polls[40 + i][0], polls[40 + i][1], None)))
        steps.append(("learn", "phish", ("learn", phish[30 + i][0], phish[30 + i][1], None)))
    return steps


class Simulator:
    """What the server must compute, worked out in-process with the library alone: the same
    calls in the same order (creme pipelines change on predict, so order matters). Each model
    call gets its own copy of the features, as on the server: models may change their input.

    ``library`` names the metrics' library (default: the model's own; custom models are scored
    with river's, as on the server)."""

    def __init__(self, model, flavor, library=None):
        served = chantilly.Model(model, flavor)  # the metrics the server picks for it, by name
        library = library or type(chantilly.final_estimator(model)).__module__.split(".")[0]
        module = __import__(f"{library}.metrics", fromlist=["metrics"])
        self.model = model
        self.proba = flavor != "regression"
        self.metrics = {name: getattr(module, name)() for name in chantilly.default_metric_names(served)}
        self.stored = {}

    def predict(self, x, id=None):
        """The prediction for ``x``; with an ``id``, kept for a later :meth:`learn` by id."""
        p = self.model.predict_proba_one(dict(x)) if self.proba else self.model.predict_one(dict(x))
        if id is not None:
            self.stored[id] = (x, p)
        return p

    def learn(self, y, x=None, id=None):
        """Score and learn ``y`` for a stored ``id``, or for ``x`` (predicted first); returns the
        prediction that was scored."""
        if id in self.stored:
            x, p = self.stored.pop(id)
        else:
            p = self.predict(x)
        label = (max(p, key=p.get) if p else None) if isinstance(p, dict) else p  # {}: untrained
        for m in self.metrics.values():
            m.update(y, label if getattr(m, "requires_labels", True) else p)
        (getattr(self.model, "learn_one", None) or self.model.fit_one)(dict(x), y)
        return p

    def run(self, calls):
        """Apply ``[("predict", x, id) | ("learn", x, y, id), ...]``; returns self."""
        for call in calls:
            if call[0] == "predict":
                self.predict(call[1], call[2])
            else:
                self.learn(call[2], call[1], call[3])
        return self

    def values(self):
        """The metrics as ``GET /api/metrics`` answers them."""
        return {name: m.get() for name, m in self.metrics.items()}


def replay(model, rows, flavor):
    """Progressive validation of ``(x, y)`` rows in-process: predictions and final metrics."""
    sim = Simulator(model, flavor)
    predictions = [sim.learn(y, x) for x, y in rows]
    return predictions, sim.values()



def river_dummy():
    """A river regressor that ignores its features (it answers the mean of the labels it
    learned): it takes any features, predictions cost nothing, and river predictions are
    not logged."""
    from river import dummy, stats
    return dummy.StatisticRegressor(stats.Mean())


class CreatesAFile:
    """Unpickling this creates a file: the stand-in for arbitrary code in an upload."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))

# ---------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------


class ServerThread:
    """A chantilly server in a thread of this process, on 127.0.0.1 and an ephemeral port.

    ``settings`` are :class:`chantilly.Settings` fields (``max_body=1000``, ``idle_timeout=1.0``,
    ...); ``tokens`` is ``{"client": str, "admin": str}``. :attr:`service` is the live
    :class:`chantilly.Service`. Use :meth:`stop` (or ``with``) to shut it down.
    """

    host = "127.0.0.1"

    def __init__(self, db, tokens=None, **settings):
        self.db = db
        self.service = chantilly.Service.open(db, **settings)
        try:
            self.server = chantilly.Server((self.host, 0), self.service, tokens=tokens,
                                           static_dir=chantilly.find_static_dir())
        except BaseException:
            self.service.close()
            raise
        self.port = self.server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def client(self, token=None):
        """A new :class:`Client` of this server."""
        return Client(self.port, token, host=self.host)

    def stop(self):
        """Stop serving, close the service (its snapshots) and check the thread ended."""
        self.server.stop()
        self.service.close()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "the server thread did not end"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class ServerProcess:
    """``python chantilly.py run`` in a child process, as a user starts it.

    Runs ``script`` (by default the ``chantilly.py`` in ``cwd``: the repository's, or a lone
    copy in a folder of its own) from ``cwd`` with ``--port port --db db``, ``--host host``
    when given, then ``args``. ``command`` is the subcommand (None: none, as ``python
    chantilly.py --port 0`` is typed). Waits for the first line, ``chantilly serving on URL``, and sets
    :attr:`url` (no trailing slash), :attr:`host` and :attr:`port` from it; raises
    AssertionError, with what the server wrote, when it exits or stays silent instead.

    stdout and stderr are drained for the server's whole life (it never blocks on a full
    pipe): the lines after the first arrive in the queue :attr:`lines`; stderr is kept in
    :attr:`stderr` (:meth:`stderr_text` once it has ended, :meth:`wait_for_stderr` meanwhile).
    """

    def __init__(self, db, *args, host=None, port=0, cwd=ROOT, command="run", env=None, script=None,
                 start_timeout=START_TIMEOUT):
        cwd = pathlib.Path(cwd)
        cmd = [sys.executable, str(script or cwd / "chantilly.py"), *([command] if command else []),
               "--port", str(port), "--db", str(db), *(["--host", host] if host else []), *args]
        self.db = db
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.pid = self.proc.pid
        self.lines = queue.Queue()  # stdout lines after the first; "" at EOF
        self.stdout = []            # every stdout line, the first included
        self.stderr = []            # every stderr line so far
        self._logged = threading.Condition()  # notified with each stderr line, and at its EOF
        self._stderr_ended = False
        self._pumps = [threading.Thread(target=self._pump_stdout, daemon=True),
                       threading.Thread(target=self._pump_stderr, daemon=True)]
        for pump in self._pumps:
            pump.start()
        try:
            try:
                first = self.lines.get(timeout=start_timeout)
            except queue.Empty:
                raise AssertionError(f"the server did not say it was serving within {start_timeout} s: "
                                     f"{self._output()}") from None
            found = re.match(r"chantilly serving on (http://\[?([^\]/]+?)\]?:(\d+))/", first)
            if not found:
                self.kill()
                raise AssertionError(f"the server did not start (exit {self.proc.returncode}): "
                                     f"{first!r} {self.stderr_text()[-2000:]}")
        except BaseException:
            self.close()  # never leave a server behind
            raise
        self.url, self.host, self.port = found.group(1), found.group(2), int(found.group(3))

    def _pump_stdout(self):
        for line in self.proc.stdout:
            self.stdout.append(line)
            self.lines.put(line)
        self.lines.put("")

    def _pump_stderr(self):
        for line in self.proc.stderr:
            with self._logged:
                self.stderr.append(line)
                self._logged.notify_all()
        with self._logged:
            self._stderr_ended = True
            self._logged.notify_all()

    def _output(self):
        return "".join(self.stdout) + "".join(self.stderr)

    def client(self, token=None):
        """A new :class:`Client` of this server."""
        return Client(self.port, token, host=self.host)

    def kill(self):
        """SIGKILL (kill -9) and wait for the process to be gone."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)

    def terminate(self, timeout=TIMEOUT):
        """SIGTERM; returns the exit code (raises subprocess.TimeoutExpired if it hangs)."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stderr_text(self, timeout=TIMEOUT):
        """Everything the server wrote to stderr, once it has ended (wait for its exit first)."""
        with self._logged:
            self._logged.wait_for(lambda: self._stderr_ended, timeout)
            return "".join(self.stderr)

    def wait_for_stderr(self, find, timeout):
        """Wait up to ``timeout`` s for ``find(stderr lines)`` to be truthy; returns its last value."""
        with self._logged:
            return self._logged.wait_for(lambda: find(list(self.stderr)), timeout)

    def threads(self):
        """The server's thread count, from /proc."""
        return int(self._status("Threads"))

    def fds(self):
        """The server's open file descriptors, from /proc."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def memory(self):
        """``(VmRSS, VmHWM)``: the server's resident and peak resident bytes, from /proc."""
        return tuple(1024 * int(self._status(key).split()[0]) for key in ("VmRSS", "VmHWM"))

    def _status(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            return re.search(rf"^{key}:\s+(.*)$", f.read(), re.M).group(1)

    def close(self):
        """Kill the server if it still runs (SIGKILL: nothing is saved) and release its pipes."""
        self.kill()
        for pump in self._pumps:
            pump.join(TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def running_with_model(db, rows=30, tokens=None, **settings):
    """A :class:`ServerThread` with a creme regressor that has learned a little and holds ids:
    ``rows`` TrumpApproval rows predicted by id, the first two thirds of them learned.
    Yields ``(server, client)``; stops both at the end."""
    running = ServerThread(db, tokens, **settings)
    client = running.client(tokens and tokens.get("admin"))
    try:
        client.upload(creme_regressor())
        for i, (x, y) in enumerate(trump_approval(rows)):
            client.ok("POST", "/api/predict", {"id": i, "features": x})
            if i < rows * 2 // 3:
                client.ok("POST", "/api/learn", {"id": i, "ground_truth": y})
        yield running, client
    finally:
        client.close()
        running.stop()


def run_python(*args, cwd=ROOT, timeout=RUN_TIMEOUT, env=None):
    """``python *args`` with this interpreter, from ``cwd``, stdin closed: a CompletedProcess
    with text stdout and stderr."""
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=env)


def run_cli(*args, timeout=TIMEOUT, cwd=ROOT, env=None):
    """``python chantilly.py *args`` to its end (for commands that exit: routes, --help,
    refusals to start): a CompletedProcess with text stdout and stderr."""
    return run_python(ROOT / "chantilly.py", *args, cwd=cwd, timeout=timeout, env=env)


def non_loopback_address():
    """This machine's address on its default route, or None when it has only loopback."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # UDP connect sends nothing: it only picks the route
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


# ---------------------------------------------------------------------------------------
# Other servers a deployment runs with: PostgreSQL, HAProxy
# ---------------------------------------------------------------------------------------


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago, for servers that must be told their
    port (PostgreSQL, HAProxy) where chantilly reports an ephemeral one. Another process may
    take it in between: rare, and the start then fails loudly rather than silently."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin():
    """The folder of the newest installed PostgreSQL's programs (Debian bookworm:
    ``/usr/lib/postgresql/15/bin``), or None when there is no initdb."""
    found = [pathlib.Path(p).parent for p in glob.glob(f"{POSTGRES_BINS}/initdb")]
    version = lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0
    return max(found, key=version, default=None)


@contextlib.contextmanager
def postgres_cluster(timeout=START_TIMEOUT):
    """A throwaway PostgreSQL cluster on 127.0.0.1 and a free port; yields its DSN,
    ``postgresql://postgres@127.0.0.1:PORT/postgres`` (superuser ``postgres``, no password:
    ``trust``).

    Everything lives in one temporary folder (data, log, Unix socket), removed at the end with
    the cluster stopped (``-m immediate``: nothing to keep), also when the start failed. Durability
    is traded for speed (``fsync=off``, ``initdb --no-sync``): a crashed *server* loses nothing,
    only a crashed machine would. PostgreSQL refuses to run as root, so under root its programs
    run as the ``postgres`` user (through ``setpriv``, which execs: a timeout kills the program
    itself, not a parent that would leave it running, as ``runuser`` and ``su`` do), and the
    folder is given to that user. AssertionError, with PostgreSQL's words, when it cannot start.
    """
    bin_dir = postgres_bin()
    assert bin_dir, f"no PostgreSQL: no {POSTGRES_BINS}/initdb (Debian: apt-get install postgresql)"
    as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] \
        if os.geteuid() == 0 else []
    folder = pathlib.Path(tempfile.mkdtemp(prefix="chantilly-pg-"))
    data, log, port = folder / "data", folder / "postgres.log", free_port()

    def run(program, *args):
        # pg_ctl gets -l: without it the server would inherit (and hold open) our output pipes.
        try:
            done = subprocess.run([*as_postgres, str(bin_dir / program), *map(str, args)], cwd=folder,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout + SLACK)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{program} {args[-1]} took over {timeout + SLACK} s{_tail(log)}") from None
        if done.returncode:
            raise AssertionError(f"{program} {args[-1]} failed (exit {done.returncode}): "
                                 f"{done.stdout}{done.stderr}{_tail(log)}")

    try:
        if as_postgres:
            shutil.chown(folder, "postgres", "postgres")
        run("initdb", "--no-sync", "-A", "trust", "-U", "postgres", "--no-locale", "-E", "UTF8",
            "-D", data)
        options = f"-p {port} -k {shlex.quote(str(folder))} -c listen_addresses=127.0.0.1 -c fsync=off"
        run("pg_ctl", "-w", "-t", timeout, "-D", data, "-l", log, "-o", options, "start")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        try:
            _stop_postgres(run, data, timeout)
        finally:
            shutil.rmtree(folder)


def _stop_postgres(run, data, timeout):
    """Stop the cluster in ``data`` if its postmaster runs, and wait until it has exited; SIGKILL
    (its backends follow it) when ``pg_ctl stop`` fails. The postmaster is no child of ours
    (pg_ctl detached it): its exit is waited for on a pidfd."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        pidfd = os.pidfd_open(pid)
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return  # never started, or already gone
    try:
        try:
            run("pg_ctl", "-m", "immediate", "-w", "-t", timeout, "-D", data, "stop")
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):  # it may have exited meanwhile
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        exited, _, _ = select.select([pidfd], [], [], timeout)
        assert exited, f"the postmaster {pid} outlived its stop by {timeout} s"
    finally:
        os.close(pidfd)


def _tail(path, size=3000):
    """The end of a log file, or "" when it does not exist (yet)."""
    try:
        return "\n" + pathlib.Path(path).read_text(errors="replace")[-size:]
    except FileNotFoundError:
        return ""


def _connect(dsn):
    """A psycopg connection in autocommit (CREATE and DROP DATABASE refuse transactions), whose
    connecting and statements time out."""
    import psycopg
    return psycopg.connect(dsn, autocommit=True, connect_timeout=TIMEOUT,
                           options=f"-c statement_timeout={TIMEOUT * 1000}")


def fresh_database(dsn, prefix="chantilly_test"):
    """Create an empty database, with a name of its own, on the cluster of ``dsn``; returns its
    DSN (``dsn`` with the database swapped). One per test: tests share a cluster, started once
    (seconds), but never each other's tables."""
    from psycopg import sql
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with _connect(dsn) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urllib.parse.urlsplit(dsn)._replace(path="/" + name).geturl()


def drop_database(dsn, maintenance="postgres"):
    """Drop the database of ``dsn``, cutting the connections still open to it (a test that
    failed may leave some), from the ``maintenance`` database of the same cluster."""
    from psycopg import sql
    parts = urllib.parse.urlsplit(dsn)
    with _connect(parts._replace(path="/" + maintenance).geturl()) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(parts.path.lstrip("/"))))


class HAProxy:
    """``haproxy -db -f CONFIG`` (foreground) in a child process, from ``config`` (the text of
    haproxy.cfg) written to a temporary folder. Waits until the frontend on 127.0.0.1:``port``
    accepts connections (``port``: by default the first ``bind ...:PORT`` of the config);
    AssertionError, with what haproxy wrote, when it exits or does not listen within ``timeout``.

    :attr:`url` is the frontend's; haproxy's stdout and stderr go to a file (a pipe nobody reads
    could fill and block it), read with :meth:`output`. :meth:`close` (or ``with``) stops it
    and removes the folder.
    """

    def __init__(self, config, port=None, timeout=START_TIMEOUT):
        if port is None:
            found = re.search(r"^\s*bind\s+\S*:(\d+)\b", config, re.M)
            assert found, f"no 'bind ADDRESS:PORT' in the config, and no port given:\n{config}"
            port = int(found.group(1))
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="chantilly-haproxy-"))
        self.proc = None
        try:
            (self.folder / "haproxy.cfg").write_text(config)
            with open(self.folder / "output", "wb") as out:
                self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.folder / "haproxy.cfg")],
                                             cwd=self.folder, stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=subprocess.STDOUT)
            listening = wait_until(lambda: self.proc.poll() is not None or self._accepts(), timeout,
                                   work=self._pause)
            if self.proc.poll() is not None:
                raise AssertionError(f"haproxy exited ({self.proc.returncode}): {self.output()}")
            assert listening, f"haproxy did not listen on {port} within {timeout} s: {self.output()}"
        except BaseException:
            self.close()
            raise

    def _accepts(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT).close()
            return True
        except OSError:
            return False

    def _pause(self):
        """Between two probes, wait on the one other thing that can end the wait: haproxy's exit."""
        try:
            self.proc.wait(0.01)
        except subprocess.TimeoutExpired:
            pass

    def output(self):
        """What haproxy wrote so far (warnings, and logs sent to stderr/stdout)."""
        return (self.folder / "output").read_text(errors="replace")

    def close(self):
        """Stop haproxy (SIGTERM: a hard stop, connections cut; SIGKILL if it lingers) and remove
        its folder."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def haproxy(config, port=None, timeout=START_TIMEOUT):
    """``with haproxy(config) as proxy:``: a running :class:`HAProxy`, stopped at the end."""
    return HAProxy(config, port, timeout)


def haproxy_check(config):
    """``haproxy -c -f`` on ``config`` (the text of haproxy.cfg): a CompletedProcess, text
    output, returncode 0 when haproxy accepts it."""
    with tempfile.TemporaryDirectory(prefix="chantilly-haproxy-") as folder:
        path = pathlib.Path(folder) / "haproxy.cfg"
        path.write_text(config)
        return subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------


class Client:
    """A keep-alive HTTP client of one server.

    :meth:`request` returns ``(status, response, data)``: ``data`` is the decoded JSON when the
    answer is ``application/json``, None for an event stream (closed at once: its status is
    the answer; read streams with :class:`SSEClient`), the raw bytes otherwise. A ``token``
    goes in ``Authorization: Bearer``. The connection comes from ``source`` (an address of
    this machine) when given. After a failed request the connection is closed, and the next
    request opens a new one.
    """

    def __init__(self, port, token=None, host="127.0.0.1", source=None, timeout=TIMEOUT):
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                               source_address=(source, 0) if source else None)

    def request(self, method, path, body=None, headers=None):
        """One request; ``body`` is bytes, or any other value sent as JSON."""
        headers = dict(headers or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            if response.getheader("Content-Type") == "text/event-stream":
                response.close()  # an open stream: its status is the answer
                self.conn.close()
                return response.status, response, None
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise
        if response.getheader("Content-Type") == "application/json":
            data = json.loads(data)
        return response.status, response, data

    def ok(self, method, path, body=None, status=None, headers=None):
        """The data of a request that must answer ``status`` (by default, what the call
        succeeds with: see :func:`success_status`)."""
        got, response, data = self.request(method, path, body, headers)
        expected = success_status(method, path, body) if status is None else status
        assert got == expected, (method, path, got, data)
        return data

    def upload(self, model, status=201, query=""):
        """POST the model, pickled with dill, to /api/model; its description."""
        import dill
        return self.ok("POST", "/api/model" + query, dill.dumps(model), status)

    def download(self):
        """GET /api/model, unpickled with dill."""
        import dill
        status, response, data = self.request("GET", "/api/model")
        assert status == 200 and response.getheader("Content-Type") == "application/octet-stream", (status, data)
        return dill.loads(data)

    def close(self):
        """Close the connection."""
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def request_once(port, method, path, body=None, headers=None, token=None, source=None, timeout=TIMEOUT,
                 host="127.0.0.1"):
    """One request on a connection of its own, closed after the answer: ``(status, response,
    data)`` as :meth:`Client.request` returns them."""
    with Client(port, token, host=host, source=source, timeout=timeout) as client:
        return client.request(method, path, body, headers)


class NotAStream(AssertionError):
    """An event stream was asked for and something else came: :attr:`status`, :attr:`response`
    and :attr:`data` as :meth:`Client.request` returns them."""

    def __init__(self, status, response, data):
        super().__init__(f"not an event stream: {status} {data!r:.300}")
        self.status, self.response, self.data = status, response, data


class SSEClient:
    """Reads a text/event-stream the way a browser's EventSource does (comments skipped).

    Opening it raises :class:`NotAStream` unless the answer is a 200 ``text/event-stream``;
    :attr:`raw_lines` keeps every line read, for framing checks."""

    def __init__(self, port, path, token=None, timeout=TIMEOUT, host="127.0.0.1"):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        if self.response.status != 200 or self.response.getheader("Content-Type") != "text/event-stream":
            data = self.response.read()
            if self.response.getheader("Content-Type") == "application/json":
                data = json.loads(data)
            self.close()
            raise NotAStream(self.response.status, self.response, data)
        self.raw_lines = []

    def next_event(self):
        """``(event name, data)`` of the next event; raises EOFError when the stream ends."""
        event, data = "message", []
        while True:
            line = self.response.readline()
            if not line:
                raise EOFError
            self.raw_lines.append(line)
            line = line.decode("utf-8").rstrip("\n")
            if line == "":
                if data:
                    return event, "\n".join(data)
                event = "message"
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)

    def close(self):
        """Leave the stream."""
        self.response.close()  # the response holds the socket open until it is closed too
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()



class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves another origin's pages without logging them."""

    def log_message(self, format, *args):
        pass  # not the server under test: its log is not what the tests read


@contextlib.contextmanager
def site(folder):
    """A plain static web server on another port: another origin's (an attacker's) pages."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(TIMEOUT)

# ---------------------------------------------------------------------------------------
# Raw sockets
# ---------------------------------------------------------------------------------------


class StillOpen(AssertionError):
    """The server neither closed the connection nor finished in time; :attr:`received` holds
    what it sent until then."""

    def __init__(self, message, received):
        super().__init__(message)
        self.received = received


def exchange(port, data, shut_write=True, timeout=TIMEOUT):
    """Send raw bytes, optionally half-close, and return all the server sends until it closes
    (raises :class:`StillOpen` if it does not within ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before reading it all (413, 431): read on
        return read_until_closed(sock, timeout)


def read_until_closed(sock, timeout=TIMEOUT):
    """Everything ``sock`` receives until the server closes it (a reset counts as closed);
    raises :class:`StillOpen` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    received = []
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break  # the server closed with our bytes unread; what arrived before still counts
        except socket.timeout:
            got = b"".join(received)
            raise StillOpen(f"the server neither closed nor finished within {timeout} s; "
                            f"got {got[:300]!r}", got) from None
        if not data:
            break
        received.append(data)
    return b"".join(received)


def seconds_until_closed(sock, timeout=TIMEOUT):
    """How long the server takes to close ``sock`` (see :func:`read_until_closed`)."""
    started = time.monotonic()
    read_until_closed(sock, timeout)
    return time.monotonic() - started


def parse_responses(data):
    """Split what a server sent into ``[(status, {header: value}, body)]``; framing is checked."""
    responses = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, f"a response head is cut off: {head[:300]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        assert re.fullmatch(r"HTTP/1\.[01] \d{3} .*", status_line), status_line
        status = int(status_line.split()[1])
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if status >= 200 and headers.get("transfer-encoding") == "chunked":
            while True:
                size_line, _, data = data.partition(b"\r\n")
                size = int(size_line, 16)
                body, data = body + data[:size], data[size + 2:]
                if size == 0:
                    break
        elif status >= 200:
            length = int(headers.get("content-length", "0"))
            assert len(data) >= length, f"body shorter than its Content-Length: {data[:300]!r}"
            body, data = data[:length], data[length:]
        responses.append((status, headers, body))
    return responses


def read_headers(reader):
    """The header fields of a response whose status line ``reader`` has read: ``{name: value}``,
    names in lower case."""
    headers = {}
    while True:
        line = reader.readline()
        if line in (b"\r\n", b""):
            return headers
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()


def read_chunk_lines(reader):
    """The JSON lines of the next chunk of a chunked NDJSON answer."""
    size = int(reader.readline().strip(), 16)
    data = reader.read(size)
    assert reader.read(2) == b"\r\n"
    return [json.loads(line) for line in data.splitlines()]


def chunked(*pieces):
    """``pieces`` in chunked transfer coding, with the last chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def health_once(port):
    """GET /api/health on a raw connection of its own, closed after a 200 answer."""
    data = exchange(port, b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert parse_responses(data)[0][0] == 200


# ---------------------------------------------------------------------------------------
# What the server holds, asked over HTTP, and in its database file
# ---------------------------------------------------------------------------------------


def model_stats(client):
    """The model's part of GET /api/stats (class, flavor, learns, predictions, pending...);
    None when no model is loaded."""
    return client.ok("GET", "/api/stats")["model"]


def counters(client):
    """``(learns, predictions, pending)`` of the model."""
    stats = model_stats(client)
    return stats["learns"], stats["predictions"], stats["pending"]


def observed_state(client, probes=PROBES):
    """Everything a refused request must leave alone: metrics, the model's class and counters,
    and what the downloaded model predicts for ``probes`` (no probes: no download, no dill).
    As text where floats are, so that a model gone NaN still compares equal to itself."""
    stats = model_stats(client)
    state = {"metrics": repr(client.ok("GET", "/api/metrics")), "class": stats["class"],
             "learns": stats["learns"], "predictions": stats["predictions"], "pending": stats["pending"]}
    if probes:
        model = client.download()
        state["probes"] = repr([model.predict_one(p) for p in probes])
    return state


def count_rows(db, table):
    """Rows in ``table`` of the SQLite file ``db`` (read on a connection of its own)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# ---------------------------------------------------------------------------------------
# Assertions, named after what they check
# ---------------------------------------------------------------------------------------


def success_status(method, path, body=None):
    """What a call that succeeds answers: 201 for one that stores something (an upload, a
    learn, a prediction kept under an id, chantilly 0.2's init), else 200. A batch (a JSON
    array) answers 200."""
    path = path.partition("?")[0]
    if method != "POST" or isinstance(body, list):
        return 200
    parts = path.split("/")  # "", "api", "model", name, ...
    upload = parts[1:3] == ["api", "model"] and (len(parts) <= 4 or parts[4:] == ["challenger"])
    if upload or path in ("/api/learn", "/api/init"):
        return 201
    if path == "/api/predict" and isinstance(body, dict) and body.get("id") is not None:
        return 201
    return 200


def assert_error(result, status=None, fragment=""):
    """``result`` (``(status, response, data)`` from :meth:`Client.request`) is a JSON error
    with ``status`` (any 4xx or 5xx when None) whose message, exactly ``{"message": text}``,
    contains ``fragment``: it tells the user what to fix."""
    got, response, data = result
    assert got == status if status is not None else got >= 400, (got, data)
    assert response.getheader("Content-Type") == "application/json", (got, data)
    assert_message_document(data)
    assert fragment in data["message"], (fragment, data)


def assert_json_answer(status, headers, body, allowed_5xx=()):
    """A raw response (from :func:`parse_responses`): never a 5xx (save ``allowed_5xx``), JSON
    always, and an error is exactly ``{"message": text}``."""
    assert status < 500 or status in allowed_5xx, (status, body[:300])
    if status < 200:
        return
    assert headers.get("content-type") == "application/json", (status, headers, body[:300])
    document = json.loads(body)
    if status >= 400:
        assert_message_document(document)


def assert_message_document(document):
    """An error document: exactly ``{"message": non-empty text}``."""
    assert isinstance(document, dict) and set(document) == {"message"}, document
    assert isinstance(document["message"], str) and document["message"], document


# ---------------------------------------------------------------------------------------
# Waiting without sleeping, and what a crashed server acknowledged
# ---------------------------------------------------------------------------------------


def wait_until(condition, timeout=TIMEOUT, work=lambda: None):
    """Poll ``condition`` (doing ``work`` each round) until it holds; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        work()
    return condition()


def open_fds():
    """This process's open file descriptors."""
    return len(os.listdir("/proc/self/fd"))


def wait_for_baseline(threads, fds, work, timeout=TIMEOUT):
    """Poll, doing ``work`` each round, until this process's thread and fd counts are back to
    the baseline; AssertionError naming the live threads if they are not within ``timeout``."""
    if wait_until(lambda: threading.active_count() <= threads and open_fds() <= fds, timeout, work):
        return
    raise AssertionError(f"leak: {threading.active_count()} threads (baseline {threads}), "
                         f"{open_fds()} fds (baseline {fds}): "
                         f"{sorted(t.name for t in threading.enumerate())}")


class Ledger:
    """What a server acknowledged before it died, and what was in flight: filled by client
    threads (:meth:`ack`, :meth:`cut`), read once the server is gone.

    ``stored``: ids whose predict was acknowledged; ``learned``: ids whose learn was;
    ``uncertain``: ids whose call was cut off (applied or not, nobody knows); ``learns``:
    acknowledged learns; ``learns_in_flight``: learns cut off; ``surprises``: answers that
    were neither a success nor a cut (callers record them as they see fit).
    """

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())  # guards everything below
        self.stored, self.learned, self.uncertain = set(), set(), set()
        self.acked = self.learns = self.learns_in_flight = 0
        self.surprises = []

    def ack(self, kind, ident):
        """A ``"predict"`` or ``"learn"`` (by ``ident``, or None) was acknowledged."""
        with self._cond:
            self.acked += 1
            if kind == "predict":
                self.stored.add(ident)
            else:
                self.learns += 1
                if ident is not None:
                    self.learned.add(ident)
            self._cond.notify_all()

    def cut(self, kind, ident):
        """A call was cut off by the crash: it may or may not have been applied."""
        with self._cond:
            if ident is not None:
                self.uncertain.add(ident)
            self.learns_in_flight += kind == "learn"
            self._cond.notify_all()

    def wait_for(self, n, timeout=TIMEOUT):
        """Wait until ``n`` calls were acknowledged; True if they were within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: self.acked >= n, timeout)
