"""chantilly: deploy an online machine-learning model behind a small, durable HTTP server.

Upload a model built with creme or river, ask it for predictions, send the true answer
later, and the model keeps learning while it serves. Metrics stream live over server-sent
events and to a dashboard at ``/``. Standard library only: copy this file anywhere with
Python 3.9+ and run ``python chantilly.py --port 5000``. creme/river and dill are needed
only to load the models users upload, and are imported lazily.

Endpoints (``python chantilly.py routes`` prints the live table)::

    GET    /api/health            liveness probe; no token needed, says nothing else
    POST   /api/model             upload a model (dill bytes); ?flavor= forces the flavor
    GET    /api/model             download the model with everything it has learned
    DELETE /api/model             remove the model, its metrics and its stored ids
    POST   /api/predict           {"features": {...}, "id": ...} -> {"prediction": ...}
    POST   /api/learn             {"id" or "features", "ground_truth"} -> progressive validation
    POST   /api/stream            newline-delimited JSON operations in, one answer line each out
    GET    /api/metrics           current metrics of the model
    GET    /api/metrics/history   recent (time, metrics) points for charts
    GET    /api/stats             counters, throughput and latency
    GET    /api/stream/metrics    server-sent events: metrics after every learn
    GET    /api/stream/events     server-sent events: predict, learn, model, delete
    GET    /  and /static/<file>  the dashboard

Durability: every acknowledged call is in the SQLite file given by ``--db`` before its
answer is written. The file holds a snapshot of each model (model, metrics and counters,
serialised with dill) plus an append-only log of the learns since; a restart loads the
snapshot and replays the log, so the model after a crash equals the replay of every call
that was answered 2xx. The same replay is how a call that makes the model raise is undone.

Sections, in dependency order: constants and schema, errors, helpers (JSON, SSE), models
and flavors, metrics, storage, event bus, the service, HTTP (router, routes, handler,
server), command line. Nothing above the HTTP banner knows about sockets or HTTP.
"""

import argparse
import collections
import email.utils
import hmac
import importlib
import ipaddress
import itertools
import json
import math
import operator
import os
import pathlib
import pickle
import re
import signal
import socket
import socketserver
import sqlite3
import sys
import threading
import time
import traceback
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__version__ = "0.1.0"


# ---------------------------------------------------------------------------------------
# Constants and schema
# ---------------------------------------------------------------------------------------

DEFAULT_MODEL = "default"
KiB, MiB = 1024, 1024 * 1024

#: Metrics computed for each flavor, by class name in ``creme.metrics`` / ``river.metrics``.
FLAVORS = {
    "regression": ("MAE", "RMSE", "SMAPE"),
    "binary": ("Accuracy", "LogLoss", "Precision", "Recall", "F1"),
    "multiclass": ("Accuracy", "CrossEntropy", "MacroF1", "MicroF1"),
}

#: Log records between two snapshots. A snapshot costs one dill dump (~1 ms for a
#: pipeline); the log since the last one is what a restart, or an undo, has to replay.
SNAPSHOT_EVERY = 5000
#: Metrics history kept per model. When full, every other point is dropped and the
#: sampling interval doubles, so a long run keeps its whole shape at a coarser grain.
HISTORY_POINTS = 1000
HISTORY_INTERVAL = 1.0
#: Seconds between SSE heartbeat comments; a dead client is noticed at the next write.
HEARTBEAT_SECONDS = 15.0
#: Messages a stream subscriber may fall behind before it is dropped (its browser reconnects).
SUBSCRIBER_BACKLOG = 10_000
#: Seconds between sweeps of expired stored ids.
SWEEP_SECONDS = 60.0
MAX_ID_LENGTH = 256

_INSERT_LOG = "INSERT INTO log (seq, model, body) VALUES (?, ?, ?)"

#: ``PRAGMA application_id`` of a chantilly database ("chnt"): tells ours from a foreign file.
APPLICATION_ID = 0x63686E74
SCHEMA_VERSION = 1
SCHEMA = """
-- One row per served model: its description and its latest snapshot.
CREATE TABLE IF NOT EXISTS models (
    name  TEXT PRIMARY KEY,
    info  TEXT NOT NULL,     -- JSON: class, flavor, library, library_version, uploaded_at
    state BLOB NOT NULL,     -- dill of {"model", "metrics", "predictions", "learns"}
    seq   INTEGER NOT NULL   -- the last log record the snapshot includes
);
-- Model calls since each model's snapshot, replayed in seq order on start. The store numbers
-- them itself, above every seq ever used (a snapshot's too), so a seq is never reused once a
-- snapshot has truncated the log; no AUTOINCREMENT or index, so a call writes one page.
CREATE TABLE IF NOT EXISTS log (
    seq   INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    body  TEXT NOT NULL      -- JSON: see Deployment._replay
);
-- Features and predictions served with an id, waiting for their ground truth.
CREATE TABLE IF NOT EXISTS pending (
    model   TEXT NOT NULL,
    id      TEXT NOT NULL,   -- JSON of the client's id, so that 1 and "1" stay distinct
    body    TEXT NOT NULL,   -- JSON: {"x": features, "p": prediction}
    created REAL NOT NULL,
    PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_created ON pending (model, created);
-- Metrics over time, for the dashboard's charts.
CREATE TABLE IF NOT EXISTS history (
    model   TEXT NOT NULL,
    t       REAL NOT NULL,
    n       INTEGER NOT NULL,
    metrics TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_model ON history (model, t);
"""


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


class ChantillyError(Exception):
    """An error the client can act on: carries its HTTP status and a message saying what to fix.

    The domain layer raises these; the HTTP layer turns them into ``{"message": ...}``.
    """

    status = HTTPStatus.BAD_REQUEST

    def __init__(self, message, headers=()):
        super().__init__(message)
        self.message = message
        self.headers = tuple(headers)


class BadRequest(ChantillyError):
    """The request is malformed: bad JSON, wrong types, missing fields."""

    status = HTTPStatus.BAD_REQUEST


class Unauthorized(ChantillyError):
    """No token, or a wrong one."""

    status = HTTPStatus.UNAUTHORIZED


class Forbidden(ChantillyError):
    """A valid token without the scope this route needs."""

    status = HTTPStatus.FORBIDDEN


class NotFound(ChantillyError):
    """No such route, model or stored id."""

    status = HTTPStatus.NOT_FOUND


class MethodNotAllowed(ChantillyError):
    """The path exists but not with this method; carries the ``Allow`` header."""

    status = HTTPStatus.METHOD_NOT_ALLOWED


class Gone(ChantillyError):
    """A stored id that expired before its ground truth arrived."""

    status = HTTPStatus.GONE


class PayloadTooLarge(ChantillyError):
    """A body over the configured limit; it is refused before being read."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class Unprocessable(ChantillyError):
    """Well-formed input that the model or a metric raised on; nothing was changed."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class Unavailable(ChantillyError):
    """The server cannot take the call now (storage refused a write, shutting down, too many streams)."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


class StoreError(Exception):
    """The database file cannot be used (corrupt, foreign, locked); raised at start only."""


# ---------------------------------------------------------------------------------------
# Helpers: JSON and server-sent events
# ---------------------------------------------------------------------------------------


def _reject_constant(name):
    raise BadRequest(f"{name} is not a number chantilly accepts: send finite numbers only")


# Built once: json.loads(data, **options) would build a new decoder on every call. Numbers
# that overflow to infinity (1e400) parse fine here and are refused where values are checked.
_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(data, what="the body"):
    """Decode a request body (or a line of one), refusing the NaN and Infinity literals.

    >>> parse_json(b'{"x": 1.5}')
    {'x': 1.5}
    >>> parse_json(b'[NaN]')
    Traceback (most recent call last):
    ...
    chantilly.BadRequest: NaN is not a number chantilly accepts: send finite numbers only
    """
    try:
        text = data.decode("utf-8")  # RFC 8259: JSON exchanged between systems is UTF-8
        if not text.strip():
            raise BadRequest(f"{what} is empty: send a JSON document")
        return _decoder.decode(text)
    except ChantillyError:
        raise
    except RecursionError:
        raise BadRequest(f"{what} is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, int digit limits
        raise BadRequest(f"{what} is not valid JSON: {e}") from None


def check_finite(name, value):
    """Refuse a float that overflowed to infinity while parsing (``1e400``)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"{name} is too large for a 64-bit float: send finite numbers only")
    return value


def _plain(value):
    """``json.dumps`` fallback for numpy scalars and other objects that know ``item()``."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def plain(value):
    """A prediction as plain Python values: numpy scalars become int/float/bool.

    A metric must see the same types live and on replay (a numpy float overflows to inf where
    a Python float raises), and the log stores plain values.

    >>> plain({"a": 1.5})
    {'a': 1.5}
    """
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if type(value) not in _PLAIN_TYPES and hasattr(value, "item"):  # numpy.float64 is a float
        return value.item()
    return value


_PLAIN_TYPES = (int, float, bool, str, type(None))


def jsonable(value):
    """Make a prediction or metric value valid JSON: non-finite floats become null.

    >>> jsonable({True: 0.25, False: float("nan")})
    {True: 0.25, False: None}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return jsonable(value.item())
    return value


_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_plain)
_store_encoder = json.JSONEncoder(separators=(",", ":"), default=_plain)


def dumps(value):
    """Encode a response document compactly; ``value`` must already be ``jsonable``."""
    return _encoder.encode(value)


def encode_prediction(prediction):
    """Store a prediction so that it decodes to the same Python value.

    JSON object keys are always strings, but a metric needs the class labels exactly as the
    model produced them (``True``, ``1``, ``"spam"``), so dicts are stored as pairs.

    >>> decode_prediction(encode_prediction({True: 0.75, False: 0.25}))
    {True: 0.75, False: 0.25}
    """
    if isinstance(prediction, dict):
        return {"d": [[k, v] for k, v in prediction.items()]}
    return {"v": prediction}


def decode_prediction(encoded):
    """Inverse of :func:`encode_prediction`."""
    if "d" in encoded:
        return {k: v for k, v in encoded["d"]}
    return encoded["v"]


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def sse_message(data, event=None):
    """Frame one server-sent event. Each line of ``data`` gets its own ``data:`` field, as the
    spec requires: a client joins them back with newlines.

    >>> sse_message('{"MAE": 1.5}')
    b'data: {"MAE": 1.5}\\n\\n'
    >>> sse_message('two\\nlines', event='learn')
    b'event: learn\\ndata: two\\ndata: lines\\n\\n'
    """
    head = f"event: {event}\n" if event else ""
    body = "".join(f"data: {line}\n" for line in _LINE_BREAK.split(data))
    return (head + body + "\n").encode("utf-8")


def describe_type(value):
    """Name a decoded JSON value's type the way a JSON user would.

    >>> describe_type([1]), describe_type(None), describe_type(True)
    ('an array', 'null', 'a boolean')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# ---------------------------------------------------------------------------------------
# Models and flavors
# ---------------------------------------------------------------------------------------


def _serializer():
    """dill when installed (it handles lambdas and closures in pipelines), else pickle."""
    try:
        import dill
    except ImportError:
        return pickle
    return dill


def serialize(obj):
    """Serialise a model or a state snapshot."""
    return _serializer().dumps(obj)


def deserialize(data):
    """Load bytes produced by dill or pickle. Runs code from the bytes: trusted callers only."""
    return _serializer().loads(data)


def final_estimator(obj):
    """The estimator at the end of (possibly nested) creme/river pipelines."""
    while isinstance(getattr(obj, "steps", None), dict) and obj.steps:
        obj = list(obj.steps.values())[-1]
    return obj


def describe_class(obj):
    """``StandardScaler | LinearRegression`` for a pipeline, the class name otherwise."""
    steps = getattr(obj, "steps", None)
    if isinstance(steps, dict) and steps:
        return " | ".join(describe_class(step) for step in steps.values())
    return type(obj).__name__


def _library_of(obj):
    root = type(final_estimator(obj)).__module__.split(".")[0]
    if root in ("creme", "river"):
        return root
    for candidate in ("river", "creme"):  # a custom estimator: score it with whichever is here
        try:
            importlib.import_module(candidate)
            return candidate
        except ImportError:
            continue
    raise BadRequest("computing metrics needs creme or river installed on the server")


def detect_flavor(obj, library):
    """Tell regression, binary and multiclass apart from the final estimator's base class."""
    est = final_estimator(obj)
    base = importlib.import_module(f"{library}.base")
    if library == "creme":
        if isinstance(est, base.MultiClassifier):
            return "multiclass"
        if isinstance(est, base.BinaryClassifier):
            return "binary"
    elif isinstance(est, base.Classifier):
        return "multiclass" if getattr(est, "_multiclass", False) else "binary"
    if isinstance(est, base.Regressor):
        return "regression"
    raise BadRequest(
        f"cannot tell whether {type(est).__name__} is a regressor or a classifier: "
        "upload again with ?flavor=regression, ?flavor=binary or ?flavor=multiclass")


class Model:
    """An uploaded estimator and what chantilly knows about it: library, flavor, how to call it.

    Accepts any object with ``learn_one`` (river) or ``fit_one`` (creme), and ``predict_one``
    or ``predict_proba_one``. Classifiers answer with ``predict_proba_one`` when they have it.
    """

    def __init__(self, obj, flavor=None):
        learn = getattr(obj, "learn_one", None) or getattr(obj, "fit_one", None)
        if not callable(learn):
            raise BadRequest(f"{type(obj).__name__} has neither learn_one (river) nor fit_one (creme)")
        if not (callable(getattr(obj, "predict_one", None))
                or callable(getattr(obj, "predict_proba_one", None))):
            raise BadRequest(f"{type(obj).__name__} has neither predict_one nor predict_proba_one")
        if flavor is not None and flavor not in FLAVORS:
            raise BadRequest(f"unknown flavor {flavor!r}: use one of {', '.join(FLAVORS)}")
        self.obj = obj
        self.library = _library_of(obj)
        self.flavor = flavor or detect_flavor(obj, self.library)
        self.learn = learn
        proba = getattr(obj, "predict_proba_one", None)
        self.proba = self.flavor != "regression" and callable(proba)
        self.predict = proba if self.proba else obj.predict_one
        # creme pipelines update their unsupervised steps (StandardScaler...) inside predict_one,
        # so a prediction changes the model and must be logged to be replayed. river stopped
        # doing that (learn_during_predict is opt-in); for unknown libraries assume the worst.
        self.predict_changes_state = self.library != "river"

    def info(self):
        """The model's description, as stored and shown by the API."""
        lib = sys.modules.get(self.library)
        return {
            "class": describe_class(self.obj),
            "flavor": self.flavor,
            "library": self.library,
            "library_version": getattr(lib, "__version__", None),
        }


def load_model(data, flavor=None):
    """Load uploaded bytes into a :class:`Model`; raises :class:`BadRequest` if they do not fit."""
    if not data:
        raise BadRequest("the body is empty: send the bytes of dill.dumps(model)")
    try:
        obj = deserialize(data)
    except Exception as e:  # unpickling garbage can raise almost anything
        raise BadRequest(f"could not load the model ({type(e).__name__}: {e}); "
                         "send the bytes of dill.dumps(model) or pickle.dumps(model)") from None
    return Model(obj, flavor)


# ---------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------


def _top_label(prediction):
    """The most probable class of a ``predict_proba_one`` answer (``None`` when it is empty)."""
    if isinstance(prediction, dict):
        return max(prediction, key=prediction.get) if prediction else None
    return prediction


class Metrics:
    """The flavor's metrics from the model's own library, updated by progressive validation."""

    def __init__(self, objs):
        self.objs = objs

    @classmethod
    def for_model(cls, model):
        """Fresh metrics for a model. Probability metrics need ``predict_proba_one``."""
        module = importlib.import_module(f"{model.library}.metrics")
        objs = [getattr(module, name)() for name in FLAVORS[model.flavor]]
        if not model.proba:
            objs = [m for m in objs if getattr(m, "requires_labels", True)]
        return cls(objs)

    def update(self, y_true, prediction):
        """Score one prediction: label metrics get the top class, the others the probabilities."""
        label = _top_label(prediction)
        for metric in self.objs:
            metric.update(y_true, label if getattr(metric, "requires_labels", True) else prediction)

    def get(self):
        """``{name: value}``, with ``None`` for a value that is not a finite number yet."""
        return {type(m).__name__: jsonable(float(m.get())) for m in self.objs}


# ---------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------


class Store:
    """The SQLite file: model snapshots, the log of learns since, stored ids, metrics history.

    A write only queues its statements and returns a *ticket*: callers hold a model's lock
    while they write, and must not wait on the disk (or release the GIL to SQLite) meanwhile.
    :meth:`commit` runs everything queued so far in one transaction, so calls arriving
    together share one commit (group commit). Reads run the queue first, so they see every
    write, which is what lets a model be rebuilt to exactly the state of every write so far.
    If SQLite refuses a write (disk full, read-only file), every write not yet committed is
    rolled back, their tickets are reported lost and :attr:`generation` moves on, which tells
    the service its in-memory models are ahead of the file and must be rebuilt.
    """

    def __init__(self, path, sync="normal"):
        self.path = str(path)
        self._commit_lock = threading.Lock()  # one committer at a time; the others wait here
        self._conn_lock = threading.Lock()    # guards _conn and its open transaction
        self._lock = threading.Lock()         # guards the queue, tickets, _seq, _lost, generation
        self._queued = []    # (sql, params) written but not yet run
        self._written = 0    # ticket of the last write
        self._settled = 0    # tickets up to here are committed or lost
        self._lost = collections.deque(maxlen=64)  # (first, last) ticket ranges rolled back
        self.generation = 0  # bumped whenever writes are lost
        self._conn = self._open(sync)
        self._seq = self._conn.execute(  # guarded by _lock: the last log seq handed out
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM log), 0), "
            "COALESCE((SELECT MAX(seq) FROM models), 0))").fetchone()[0]

    def _open(self, sync):
        _check_database_file(self.path)
        if os.path.exists(self.path) and os.path.getsize(self.path):
            self._inspect()
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=2.0)
            # Only one server may own the file: two would append interleaved logs.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            # WAL: an acknowledged commit is appended to the write-ahead log, and a crash
            # mid-write leaves a log that SQLite replays or discards whole on the next open.
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL survives a crash of this process (kill -9); FULL also survives power loss
            # at the cost of an fsync per commit; OFF leaves flushing to the OS.
            conn.execute(f"PRAGMA synchronous={ {'full': 'FULL', 'normal': 'NORMAL', 'off': 'OFF'}[sync] }")
            conn.executescript(SCHEMA)  # IF NOT EXISTS: writes nothing to an existing file
            for pragma, value in (("application_id", APPLICATION_ID), ("user_version", SCHEMA_VERSION)):
                if conn.execute(f"PRAGMA {pragma}").fetchone()[0] != value:  # a new file only
                    conn.execute(f"PRAGMA {pragma}={value}")
        except sqlite3.Error as e:
            raise self._refusal(e) from None
        return conn

    def _inspect(self):
        """Check an existing file through a read-only connection, so that a file chantilly
        refuses (foreign, corrupt) is never written to, its WAL never folded in."""
        # immutable: no locks and no -wal/-shm created beside a file we may refuse; a WAL left
        # by a crash must be read though, and a read-only connection never folds it in.
        mode = "mode=ro" if os.path.exists(self.path + "-wal") else "immutable=1"
        uri = pathlib.Path(self.path).resolve().as_uri() + "?" + mode
        shm = pathlib.Path(self.path + "-shm")
        had_shm = shm.exists()
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=2.0)
            try:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                conn.close()
                if not had_shm:  # reading a WAL creates it; with no -shm before, nobody else uses it
                    shm.unlink(missing_ok=True)
        except sqlite3.Error as e:
            raise self._refusal(e) from None
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            raise StoreError(f"{self.path} is an SQLite database that chantilly did not create; "
                             "refusing to touch it (choose another --db)")
        if check != "ok":
            raise StoreError(f"{self.path} is corrupted ({check}); refusing to overwrite it")

    def _refusal(self, error):
        if "locked" in str(error):
            return StoreError(f"{self.path} is in use by another chantilly server")
        if isinstance(error, sqlite3.OperationalError):
            return StoreError(f"cannot open {self.path}: {error}")
        return StoreError(f"{self.path} is not a usable SQLite database ({error}); refusing to overwrite it")

    def close(self):
        """Commit what is pending and close the file."""
        with self._conn_lock:
            try:
                self._flush()
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")
            except (sqlite3.Error, Unavailable):
                pass  # never acknowledged; every acknowledged call is already in the log
            self._conn.close()

    # -- writes: each returns a ticket for commit() ------------------------------------

    def _write(self, statements, log=None):
        """Queue ``[(sql, params), ...]``, then a log record ``(model, body)`` if given.

        Returns ``(ticket, seq of the log record or None)``.
        """
        with self._lock:
            seq = None
            if log is not None:
                seq = self._seq = self._seq + 1
                statements = [*statements, (_INSERT_LOG, (seq, *log))]
            self._queued.extend(statements)
            self._written += 1
            return self._written, seq

    def append(self, model, body, store_id=None, drop_id=None):
        """Log one model call, storing ``(id, body, created)`` or dropping an id with it.

        Returns ``(ticket, seq)``.
        """
        statements = []
        if drop_id is not None:
            statements.append(("DELETE FROM pending WHERE model = ? AND id = ?", (model, drop_id)))
        if store_id is not None:
            statements.append(("INSERT OR REPLACE INTO pending (model, id, body, created) "
                                "VALUES (?, ?, ?, ?)", (model, *store_id)))
        return self._write(statements, (model, body))

    def has_pending(self, model, pending_id):
        """Whether an id is stored (in the open transaction too)."""
        return bool(self._read("SELECT 1 FROM pending WHERE model = ? AND id = ?", (model, pending_id)))

    def save_snapshot(self, model, state, seq, history):
        """Replace a model's snapshot and drop the log it covers; returns a ticket."""
        statements = [
            ("UPDATE models SET state = ?, seq = ? WHERE name = ?", (state, seq, model)),
            ("DELETE FROM log WHERE model = ? AND seq <= ?", (model, seq)),
            ("DELETE FROM history WHERE model = ?", (model,)),
        ]
        statements += [("INSERT INTO history (model, t, n, metrics) VALUES (?, ?, ?, ?)",
                        (model, t, n, m)) for t, n, m in history]
        return self._write(statements)[0]

    def replace_model(self, model, info, state):
        """Install a new model under ``model``, forgetting everything about the previous one."""
        with self._lock:  # the new snapshot starts after every seq handed out so far
            seq = self._seq
        return self._write(self._forget(model) + [(
            "INSERT INTO models (name, info, state, seq) VALUES (?, ?, ?, ?)",
            (model, info, state, seq))])[0]

    def delete_model(self, model):
        """Remove a model and all its data; returns a ticket."""
        return self._write(self._forget(model))[0]

    @staticmethod
    def _forget(model):
        return [(f"DELETE FROM {table} WHERE {column} = ?", (model,)) for table, column in
                (("models", "name"), ("log", "model"), ("pending", "model"), ("history", "model"))]

    def add_history(self, model, t, n, metrics):
        """Append one metrics point; returns a ticket."""
        return self._write([("INSERT INTO history (model, t, n, metrics) VALUES (?, ?, ?, ?)",
                             (model, t, n, metrics))])[0]

    def expire(self, before, keep_at_most):
        """Drop ids stored before ``before`` and, per model, all but the newest ``keep_at_most``.

        Returns ``({model: ids dropped}, ticket)``.
        """
        dropped = collections.Counter()
        with self._conn_lock:
            self._flush()
            try:
                for (model,) in self._conn.execute("SELECT name FROM models").fetchall():
                    dropped[model] += self._conn.execute(
                        "DELETE FROM pending WHERE model = ? AND created < ?", (model, before)).rowcount
                    if keep_at_most:
                        dropped[model] += self._conn.execute(
                            "DELETE FROM pending WHERE model = ? AND created <= (SELECT created FROM "
                            "pending WHERE model = ? ORDER BY created DESC LIMIT 1 OFFSET ?)",
                            (model, model, keep_at_most)).rowcount
            except sqlite3.Error as e:
                raise self._fail(e) from None
            with self._lock:
                self._written += 1
                return dict(dropped), self._written

    # -- commit ---------------------------------------------------------------------------

    def commit(self, ticket):
        """Make every write up to ``ticket`` durable; raises :class:`Unavailable` if it was lost.

        The committer takes everything queued so far, other callers' writes included.
        """
        with self._commit_lock:
            if ticket > self._settled:
                with self._conn_lock:
                    self._commit_queued()
            for first, last in self._lost:
                if first <= ticket <= last:
                    raise Unavailable("the database refused the write, so nothing was changed; "
                                      "retry when storage is available again")

    def _commit_queued(self):
        with self._lock:
            queued, self._queued = self._queued, []
            through = self._written
        try:
            if len(queued) == 1 and not self._conn.in_transaction:
                self._conn.execute(*queued[0])  # commits itself: one call, not BEGIN/run/COMMIT
            else:
                self._run(queued)
                self._conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._fail(e)
            return
        with self._lock:
            self._settled = max(self._settled, through)

    def _run(self, queued):
        """Run statements in the open transaction, consecutive same SQL as one executemany."""
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")
        for sql, group in itertools.groupby(queued, key=operator.itemgetter(0)):
            self._conn.executemany(sql, [params for _, params in group])

    def _flush(self):
        """Run the queue in the open transaction, so a read sees every write. Connection lock held."""
        with self._lock:
            queued, self._queued = self._queued, []
        if queued:
            try:
                self._run(queued)
            except sqlite3.Error as e:
                raise self._fail(e) from None

    def _fail(self, error):
        """Roll back: every write not yet committed, queued ones too, is lost (they were made on
        top of the rolled-back ones). Returns the :class:`Unavailable` to raise. Connection lock held."""
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite may already have rolled back on its own (e.g. SQLITE_FULL)
        with self._lock:
            self._lost.append((self._settled + 1, self._written))
            self._settled = self._written
            self._queued = []
            self.generation += 1
        sys.stderr.write(f"chantilly: storage refused a write: {error}\n")
        return Unavailable(f"the database refused the write ({error}); nothing was changed, "
                           "retry when storage is available again")

    # -- reads ----------------------------------------------------------------------------

    def _read(self, sql, params=()):
        with self._conn_lock:
            self._flush()
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise Unavailable(f"the database could not be read: {e}") from None

    def model_names(self):
        """Names of the stored models."""
        return [r[0] for r in self._read("SELECT name FROM models ORDER BY name")]

    def load(self, model):
        """``(info, state, seq)`` of a model's snapshot, or ``None``."""
        rows = self._read("SELECT info, state, seq FROM models WHERE name = ?", (model,))
        return (json.loads(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    def log_since(self, model, seq):
        """``[(seq, body), ...]`` of the learns after ``seq``, in order."""
        return self._read("SELECT seq, body FROM log WHERE seq > ? AND model = ? ORDER BY seq",
                          (seq, model))

    def pending(self, model, pending_id):
        """``(body, created)`` stored under an id, or ``None``."""
        rows = self._read("SELECT body, created FROM pending WHERE model = ? AND id = ?",
                          (model, pending_id))
        return rows[0] if rows else None

    def count_pending(self, model):
        """How many ids wait for their ground truth."""
        return self._read("SELECT COUNT(*) FROM pending WHERE model = ?", (model,))[0][0]

    def history(self, model):
        """``[(t, n, metrics JSON), ...]`` oldest first."""
        return self._read("SELECT t, n, metrics FROM history WHERE model = ? ORDER BY t", (model,))


def _check_database_file(path):
    """Refuse a file that exists but is not SQLite, before SQLite gets a chance to touch it."""
    try:
        with open(path, "rb") as f:
            header = f.read(16)
    except FileNotFoundError:
        return
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e}") from None
    if header and header != b"SQLite format 3\x00":
        raise StoreError(f"{path} is not an SQLite database; refusing to overwrite it "
                         "(choose another --db)")


# ---------------------------------------------------------------------------------------
# Event bus
# ---------------------------------------------------------------------------------------


class Subscription:
    """One stream client's queue of framed messages. Never blocks the publisher: a client
    that falls more than ``backlog`` messages behind is closed and must reconnect."""

    def __init__(self, topic, backlog):
        self.topic = topic
        self._backlog = backlog
        self._items = collections.deque()
        self._cond = threading.Condition(threading.Lock())  # guards _items and closed
        self.closed = False

    def push(self, item):
        """Queue a message; returns False (and closes) when the subscriber is too far behind."""
        with self._cond:
            if self.closed:
                return False
            if len(self._items) >= self._backlog:
                self.closed = True
                self._items.clear()
            else:
                self._items.append(item)
            self._cond.notify()
            return not self.closed

    def take(self, timeout):
        """Every queued message (waiting up to ``timeout`` for one); ``[]`` on timeout.

        Raises :class:`EOFError` once the subscription is closed.
        """
        with self._cond:
            if not self._items and not self.closed:
                self._cond.wait(timeout)
            if self.closed:
                raise EOFError
            items = list(self._items)
            self._items.clear()
            return items

    def close(self):
        """End the subscription; a waiting :meth:`take` wakes up at once."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class EventBus:
    """Fan-out of framed SSE messages to the subscribers of a topic."""

    def __init__(self, max_subscribers=64, backlog=SUBSCRIBER_BACKLOG):
        self._lock = threading.Lock()  # guards _topics and _closed
        self._topics = collections.defaultdict(list)
        self._closed = False
        self.max_subscribers = max_subscribers
        self.backlog = backlog

    def subscribe(self, topic):
        """A new :class:`Subscription`; raises :class:`Unavailable` when there are too many."""
        with self._lock:
            if self._closed:
                raise Unavailable("the server is shutting down")
            if self.count() >= self.max_subscribers:
                raise Unavailable(f"too many open streams (at most {self.max_subscribers}); "
                                  "retry later")
            sub = Subscription(topic, self.backlog)
            self._topics[topic] = self._topics[topic] + [sub]
            return sub

    def unsubscribe(self, sub):
        """Remove a subscription (idempotent)."""
        sub.close()
        with self._lock:
            self._topics[sub.topic] = [s for s in self._topics[sub.topic] if s is not sub]

    def wants(self, topic):
        """Whether anyone listens, so publishers can skip building messages nobody reads."""
        return bool(self._topics.get(topic))

    def count(self):
        """Open subscriptions across topics."""
        return sum(len(subs) for subs in self._topics.values())

    def publish(self, topic, message):
        """Queue a framed message for every subscriber of ``topic``; never blocks on them."""
        # Subscriber lists are replaced, never mutated, so reading one needs no lock.
        for sub in self._topics.get(topic, ()):
            if not sub.push(message):
                self.unsubscribe(sub)

    def close(self):
        """Close every subscription, so that stream loops end and shutdown never hangs on them."""
        with self._lock:
            self._closed = True
            subs = [s for subs in self._topics.values() for s in subs]
        for sub in subs:
            sub.close()


# ---------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------


def check_features(x):
    """Refuse features that are not a flat JSON object of scalars."""
    if not isinstance(x, dict):
        raise BadRequest(f'"features" must be a JSON object of name: value, not {describe_type(x)}')
    for name, value in x.items():
        if isinstance(value, float):
            if not math.isfinite(value):  # checked inline first: this runs for every feature
                check_finite(f"feature {name!r}", value)
        elif isinstance(value, (dict, list)):
            raise BadRequest(f"feature {name!r} is {describe_type(value)}: feature values must be "
                             "numbers, strings, booleans or null")
    return x


def check_id(payload):
    """The optional ``id`` of a call, and its storage key (JSON keeps 1 and "1" apart)."""
    if "id" not in payload or payload["id"] is None:
        return None, None
    value = payload["id"]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest(f'"id" must be a string or an integer, not {describe_type(value)}')
    key = json.dumps(value)
    if len(key) > MAX_ID_LENGTH:
        raise BadRequest(f'"id" is too long: at most {MAX_ID_LENGTH} characters')
    return value, key


class Operation:
    """One validated predict or learn call, before it touches the model."""

    __slots__ = ("kind", "id", "key", "x", "y")

    def __init__(self, kind, payload):
        if not isinstance(payload, dict):
            raise BadRequest(f"each call must be a JSON object, not {describe_type(payload)}")
        self.kind = kind
        self.id, self.key = check_id(payload)
        x = payload.get("features")
        self.x = None if x is None and kind == "learn" else check_features(x)
        if kind == "learn":
            if payload.get("ground_truth") is None:
                raise BadRequest('"ground_truth" is required to learn')
            self.y = check_finite('"ground_truth"', payload["ground_truth"])
            if isinstance(self.y, (dict, list)):
                raise BadRequest(f'"ground_truth" must be a number, string or boolean, '
                                 f"not {describe_type(self.y)}")
            if self.key is None and self.x is None:
                raise BadRequest('a learn needs "features", or the "id" of an earlier prediction')

    @classmethod
    def parse(cls, payload):
        """An operation of the streaming protocol: ``{"op": "predict" | "learn", ...}``."""
        if not isinstance(payload, dict):
            raise BadRequest(f"each line must be a JSON object, not {describe_type(payload)}")
        kind = payload.get("op")
        if kind not in ("predict", "learn"):
            raise BadRequest('"op" must be "predict" or "learn"')
        return cls(kind, payload)


def check_ground_truth(flavor, y):
    """Refuse a label that cannot belong to the flavor, before any metric sees it."""
    if flavor == "regression" and (isinstance(y, (bool, str)) or not isinstance(y, (int, float))):
        raise BadRequest(f'"ground_truth" must be a number for a regression model, not {describe_type(y)}')


def _event(op, now, x, prediction):
    """The data of a ``predict`` or ``learn`` event."""
    event = {"t": now, "features": x, "prediction": prediction}
    if op.kind == "learn":
        event["ground_truth"] = op.y
    if op.id is not None:
        event["id"] = op.id
    return event


class Deployment:
    """One named model being served: the estimator, its metrics, counters and history.

    Every method that reads or changes the model takes :attr:`_lock`; none writes to a
    socket. A model call that raises may leave the estimator half-updated (creme's
    ``StandardScaler`` does), so the deployment rebuilds itself from the store: the last
    snapshot plus the log of model calls since, which holds exactly the calls that succeeded.
    """

    def __init__(self, name, store, id_ttl=math.inf):
        self._lock = threading.Lock()  # guards everything below
        self.name = name
        self.store = store
        self.id_ttl = id_ttl  # seconds a stored id may wait for its ground truth
        self.retired = False
        with self._lock:
            self._restore()
        self.history = [(t, n, json.loads(m)) for t, n, m in store.history(name)]
        self.history_interval = HISTORY_INTERVAL
        while len(self.history) > HISTORY_POINTS:
            self._thin_history()

    def _pack(self):
        return serialize({"model": self.model.obj, "metrics": self.metrics.objs,
                          "predictions": self.predictions, "learns": self.learns})

    def _replay(self):
        """Repeat the logged model calls after the snapshot, in order. Lock held.

        A record is ``{"x": features}`` for a prediction that changed the model, or
        ``{"x", "y", "p", "f"}`` for a learn scored with prediction ``p`` (``f``: the
        prediction was made by the learn itself, so it is repeated too).
        """
        for seq, body in self.store.log_since(self.name, self.seq):
            record = json.loads(body)
            if "y" not in record or record["f"]:
                self.model.predict(record["x"])
            if "y" in record:
                self.metrics.update(record["y"], decode_prediction(record["p"]))
                self.model.learn(record["x"], record["y"])
                self.learns += 1
            else:
                self.predictions += 1
            self.seq = seq
            self.since_snapshot += 1

    def _restore(self):
        """Load the snapshot and replay the log since: the state of every write so far.

        The start-up path, and how a failed call is undone. Lock held.
        """
        row = self.store.load(self.name)
        if row is None:
            self.retired = True
            raise NotFound(f"no model named {self.name!r}: upload one with POST /api/model")
        self.info, state, self.seq = row
        snap = deserialize(state)
        self.model = Model(snap["model"], self.info["flavor"])
        self.metrics = Metrics(snap["metrics"])
        self.predictions, self.learns = snap["predictions"], snap["learns"]
        self.since_snapshot = 0
        self.generation = self.store.generation
        self._replay()
        self.pending = self.store.count_pending(self.name)

    def _guarded(self, call, *args):
        """Call into the model or a metric; if it raises, undo its partial changes. Lock held."""
        try:
            return call(*args)
        except Exception as e:  # whatever the library raises, the input was the cause
            self._restore()
            raise Unprocessable(f"the model could not handle this input, nothing was changed "
                                f"({type(e).__name__}: {e})") from None

    def snapshot(self):
        """Write the model's state so a restart replays nothing; returns a ticket. Lock held."""
        history = [(t, n, dumps(m)) for t, n, m in self.history]
        ticket = self.store.save_snapshot(self.name, self._pack(), self.seq, history)
        self.since_snapshot = 0
        return ticket

    def apply(self, ops, now, listening):
        """Run validated operations in order; returns ``(results, events, ticket)``.

        A result is the answer dict or the :class:`ChantillyError` of that operation.
        ``events`` are ``(event name, data)`` pairs to publish once the ticket is committed.
        """
        results, events, ticket = [], [], 0
        with self._lock:
            if self.retired:
                raise LookupError(self.name)  # replaced meanwhile: the service retries
            if self.generation != self.store.generation:
                self._restore()  # writes were lost: the file is the truth
            for op in ops:
                try:
                    answer, op_ticket, x = (self._predict if op.kind == "predict"
                                            else self._learn)(op, now)
                except Unavailable as e:  # the write was refused: memory is ahead of the file
                    results.append(e)
                    self._restore()
                    continue
                except ChantillyError as e:
                    results.append(e)
                    continue
                results.append(answer)
                ticket = max(ticket, op_ticket)
                if listening["events"]:
                    events.append(("events", op.kind, _event(op, now, x, answer["prediction"])))
                if op.kind == "learn":
                    ticket = max(ticket, self._after_learn(now, listening, events))
        return results, events, ticket

    def _predict(self, op, now):
        prediction = plain(self._guarded(self.model.predict, op.x))
        ticket = 0
        if op.key is not None or self.model.predict_changes_state:
            stored = None
            if op.key is not None:
                stored = (op.key, _store_encoder.encode({"x": op.x, "p": encode_prediction(prediction)}), now)
                self.pending += not self.store.has_pending(self.name, op.key)
            ticket, self.seq = self.store.append(self.name, _store_encoder.encode({"x": op.x}), stored)
            self.since_snapshot += 1
        self.predictions += 1
        return {"prediction": jsonable(prediction)}, ticket, op.x

    def _learn(self, op, now):
        x, prediction, key = op.x, None, None
        if op.key is not None:
            row = self.store.pending(self.name, op.key)
            if row is not None:
                body, created = row
                if now - created > self.id_ttl:
                    raise Gone(f"id {op.id!r} expired: stored ids wait at most {self.id_ttl:g} s "
                               "for their ground truth (--id-ttl); send \"features\" instead")
                stored = json.loads(body)
                x, prediction, key = stored["x"], decode_prediction(stored["p"]), op.key
            elif x is None:
                raise NotFound(f"no prediction is stored for id {op.id!r}: it was never "
                               "predicted with this id, was already learned, or expired; "
                               "send \"features\" with the ground truth instead")
        check_ground_truth(self.model.flavor, op.y)
        fresh = key is None  # no stored prediction: predict now, as progressive validation does
        if fresh:
            prediction = plain(self._guarded(self.model.predict, x))
        self._guarded(self.metrics.update, op.y, prediction)
        self._guarded(self.model.learn, x, op.y)
        body = _store_encoder.encode({"x": x, "y": op.y, "p": encode_prediction(prediction),
                                      "f": int(fresh)})
        ticket, self.seq = self.store.append(self.name, body, drop_id=key)
        if key is not None:
            self.pending -= 1
        self.learns += 1
        self.since_snapshot += 1
        return {"prediction": jsonable(prediction)}, ticket, x

    def _after_learn(self, now, listening, events):
        """Metrics message, history point and snapshot that follow a learn. Lock held."""
        ticket = 0
        if listening["metrics"]:
            events.append(("metrics", None, self.metrics.get()))
        if not self.history or now - self.history[-1][0] >= self.history_interval:
            point = (now, self.learns, self.metrics.get())
            self.history.append(point)
            ticket = self.store.add_history(self.name, point[0], point[1], dumps(point[2]))
            if len(self.history) > HISTORY_POINTS:
                self._thin_history()
        if self.since_snapshot >= SNAPSHOT_EVERY:
            ticket = self.snapshot()
        return ticket

    def _thin_history(self):
        """Halve the history's resolution: keep every other point, sample half as often."""
        self.history = self.history[::2]
        self.history_interval *= 2

    def describe(self):
        """The model's description with its live counters."""
        with self._lock:
            return dict(self.info, name=self.name, predictions=self.predictions,
                        learns=self.learns, pending=max(self.pending, 0))

    def current_metrics(self):
        """``{metric: value}`` now."""
        with self._lock:
            return self.metrics.get()

    def dump(self):
        """The estimator with everything it has learned, as dill/pickle bytes."""
        with self._lock:
            return serialize(self.model.obj)

    def metrics_history(self):
        """``[{"t", "n", "metrics"}, ...]`` oldest first."""
        with self._lock:
            return [{"t": t, "n": n, "metrics": m} for t, n, m in self.history]

    def resync(self):
        """Rebuild from the store if writes were lost since this state was built."""
        with self._lock:
            if self.generation != self.store.generation and not self.retired:
                try:
                    self._restore()
                except ChantillyError:
                    pass  # unreadable now: the next call retries (apply checks the generation)

    def retire(self):
        """Stop serving: later calls go to whatever replaced this deployment."""
        with self._lock:
            self.retired = True

    def close(self):
        """Snapshot on the way out, so the next start replays nothing; returns a ticket."""
        with self._lock:
            self.retired = True
            return self.snapshot() if self.since_snapshot and not self._stale() else 0

    def _stale(self):
        return self.generation != self.store.generation


class Stats:
    """Operations per second and call latencies over a sliding window, for ``/api/stats``.

    Rates come from per-second counters, so they are exact at any throughput; latency
    percentiles from the most recent calls.
    """

    def __init__(self, window=10, samples=2048):
        self._lock = threading.Lock()  # guards the counters and deques
        self.window = window
        self.started = time.time()
        self._seconds = {k: collections.deque() for k in ("predict", "learn")}   # [second, count]
        self._calls = {k: collections.deque(maxlen=samples) for k in ("predict", "learn")}

    def record(self, kind, count, seconds, now):
        """One call of ``kind`` that handled ``count`` operations in ``seconds``."""
        second = int(now)
        with self._lock:
            buckets = self._seconds[kind]
            if buckets and buckets[-1][0] == second:
                buckets[-1][1] += count
            else:
                buckets.append([second, count])
                while buckets[0][0] <= second - self.window:
                    buckets.popleft()
            self._calls[kind].append((now, seconds))

    def summary(self, now):
        """Per-kind operations per second over the window and p50/p99 latency in ms."""
        with self._lock:
            counts = {k: sum(c for s, c in v if s > now - self.window - 1) for k, v in self._seconds.items()}
            calls = {k: [d for t, d in v if t >= now - self.window] for k, v in self._calls.items()}
        span = min(self.window, max(now - self.started, 1e-9))
        rates = {kind: count / span for kind, count in counts.items()}
        latency = {}
        for kind, durations in calls.items():
            durations.sort()
            latency[kind] = ({"p50": 1e3 * _percentile(durations, 0.5),
                              "p99": 1e3 * _percentile(durations, 0.99)}
                             if durations else {"p50": None, "p99": None})
        return rates, latency


def _percentile(ordered, q):
    """Nearest-rank percentile of a sorted list.

    >>> _percentile([1, 2, 3, 4], 0.5), _percentile([1, 2, 3, 4], 0.99)
    (2, 4)
    """
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Service:
    """Ties the store, the deployments and the event bus together: chantilly without HTTP.

    Usable from plain Python::

        service = Service.open("chantilly.db")
        service.upload(dill.dumps(model))
        service.predict({"features": {"x": 1}})
        service.close()
    """

    def __init__(self, store, bus, id_ttl=7 * 86400, max_ids=0):
        self.store = store
        self.bus = bus
        self.stats = Stats()
        self.id_ttl = id_ttl
        self.max_ids = max_ids
        self.expired = 0
        self._lock = threading.Lock()  # guards _deployments and expired
        self._deployments = {}
        self._closed = threading.Event()
        self._sweeper = None

    @classmethod
    def open(cls, path, sync="normal", max_streams=64, id_ttl=7 * 86400, max_ids=0):
        """Open the database, rebuild every stored model and start the expiry sweeper."""
        store = Store(path, sync)
        service = cls(store, EventBus(max_streams), id_ttl, max_ids)
        for name in store.model_names():
            try:
                service._deployments[name] = Deployment(name, store, id_ttl)
            except Exception as e:  # a snapshot or log record this environment cannot replay
                store.close()
                raise StoreError(f"model {name!r} in {path} cannot be loaded ({type(e).__name__}: "
                                 f"{e}): the file is corrupt, or the model's library is not "
                                 "installed here; refusing to start") from None
        service._sweeper = threading.Thread(target=service._sweep_loop, name="chantilly-sweeper",
                                            daemon=True)
        service._sweeper.start()
        return service

    def close(self):
        """Snapshot every model, close streams and the file. Later calls get 503."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.bus.close()
        with self._lock:
            deployments = list(self._deployments.values())
        for dep in deployments:
            ticket = dep.close()
            if ticket:
                try:
                    self.store.commit(ticket)
                except Unavailable:
                    pass  # the log already holds every acknowledged learn; only a snapshot is lost
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        self.store.close()

    # -- models ---------------------------------------------------------------------------

    def _deployment(self, name):
        if self._closed.is_set():
            raise Unavailable("the server is shutting down")
        with self._lock:
            dep = self._deployments.get(name)
        if dep is None:
            raise NotFound(f"no model named {name!r}: upload one with POST /api/model")
        return dep

    def upload(self, data, flavor=None, name=DEFAULT_MODEL):
        """Load, check and install a model, replacing any previous one; returns its description."""
        model = load_model(data, flavor)
        metrics = Metrics.for_model(model)
        info = dict(model.info(), uploaded_at=time.time())
        state = serialize({"model": model.obj, "metrics": metrics.objs,
                           "predictions": 0, "learns": 0})
        with self._lock:
            if self._closed.is_set():
                raise Unavailable("the server is shutting down")
            old = self._deployments.pop(name, None)
            if old is not None:
                old.retire()
            ticket = self.store.replace_model(name, dumps(info), state)
            dep = Deployment(name, self.store, self.id_ttl)
            self._deployments[name] = dep
        self._commit_or_reload(ticket, name)
        description = dep.describe()
        self._publish([("events", "model", description)])
        return description

    def _commit_or_reload(self, ticket, name):
        """Commit an upload or deletion; if it is refused, serve again what the file holds."""
        try:
            self.store.commit(ticket)
        except Unavailable:
            with self._lock:
                old = self._deployments.pop(name, None)
                if old is not None:
                    old.retire()
                try:
                    self._deployments[name] = Deployment(name, self.store, self.id_ttl)
                except NotFound:
                    pass  # there was no model before
            raise

    def download(self, name=DEFAULT_MODEL):
        """The model's bytes, loadable with ``dill.loads``."""
        return self._deployment(name).dump()

    def delete(self, name=DEFAULT_MODEL):
        """Remove a model with its metrics, history and stored ids."""
        with self._lock:
            dep = self._deployments.pop(name, None)
            if dep is None:
                raise NotFound(f"no model named {name!r}")
            dep.retire()
            ticket = self.store.delete_model(name)
        self._commit_or_reload(ticket, name)
        self._publish([("events", "delete", {"name": name})])
        return {"deleted": name}

    def describe(self, name=DEFAULT_MODEL):
        """The model's description and counters."""
        return self._deployment(name).describe()

    # -- predict and learn -------------------------------------------------------------------

    def predict(self, payload, name=DEFAULT_MODEL):
        """``{"features": ..., "id": ...}`` -> ``{"prediction": ...}``."""
        return self._single("predict", payload, name)

    def learn(self, payload, name=DEFAULT_MODEL):
        """``{"id" | "features", "ground_truth"}`` -> ``{"prediction": <the one scored>}``."""
        return self._single("learn", payload, name)

    def _single(self, kind, payload, name):
        result = self.apply([Operation(kind, payload)], name)[0]
        if isinstance(result, ChantillyError):
            raise result
        return result

    def batch(self, kind, payloads, name=DEFAULT_MODEL):
        """A list of calls of one kind -> a list of answers or errors, in order."""
        ops = []
        for payload in payloads:
            try:
                ops.append(Operation(kind, payload))
            except ChantillyError as e:
                ops.append(e)
        return self.apply(ops, name)

    def apply(self, ops, name=DEFAULT_MODEL):
        """Run operations (or errors standing in their place) in order, commit them together,
        then publish their events. Returns one answer or :class:`ChantillyError` per item."""
        started = time.perf_counter()
        valid = [op for op in ops if isinstance(op, Operation)]
        results = iter(())
        if valid:
            results = iter(self._apply_valid(valid, name))
        answers = [op if isinstance(op, ChantillyError) else next(results) for op in ops]
        elapsed, now = time.perf_counter() - started, time.time()
        for kind in ("predict", "learn"):
            count = sum(1 for op in valid if op.kind == kind)
            if count:
                self.stats.record(kind, count, elapsed, now)
        return answers

    def _apply_valid(self, ops, name):
        listening = {"events": self.bus.wants("events"), "metrics": self.bus.wants("metrics")}
        while True:
            dep = self._deployment(name)
            try:
                results, events, ticket = dep.apply(ops, time.time(), listening)
                break
            except LookupError:
                continue  # the model was replaced while we waited for its lock
        if ticket:
            try:
                self.store.commit(ticket)
            except Unavailable as e:
                dep.resync()  # drop from memory what the file does not have
                return [e if isinstance(r, dict) else r for r in results]
        self._publish(events)
        return results

    def _publish(self, events):
        for topic, name, data in events:
            self.bus.publish(topic, sse_message(dumps(data), name))

    # -- metrics and stats ---------------------------------------------------------------------

    def metrics(self, name=DEFAULT_MODEL):
        """``{metric: value}`` of the model."""
        return self._deployment(name).current_metrics()

    def history(self, name=DEFAULT_MODEL):
        """Recent metrics points for charts; empty when there is no model."""
        try:
            dep = self._deployment(name)
        except NotFound:
            return {"flavor": None, "points": []}
        return {"flavor": dep.info["flavor"], "points": dep.metrics_history()}

    def summary(self, name=DEFAULT_MODEL):
        """Counters, throughput and latency for ``/api/stats``."""
        now = time.time()
        try:
            model = self.describe(name)
        except NotFound:
            model = None
        rates, latency = self.stats.summary(now)
        return {"model": model, "uptime_s": now - self.stats.started, "rates": rates,
                "latency_ms": latency, "subscribers": self.bus.count(), "expired": self.expired}

    # -- housekeeping ----------------------------------------------------------------------------

    def sweep(self, now=None):
        """Drop stored ids past their time-to-live or over the cap; returns how many went."""
        now = time.time() if now is None else now
        dropped, ticket = self.store.expire(now - self.id_ttl, self.max_ids)
        self.store.commit(ticket)
        total = sum(dropped.values())
        with self._lock:
            self.expired += total
            deployments = dict(self._deployments)
        for name, count in dropped.items():
            if count and name in deployments:
                with deployments[name]._lock:
                    deployments[name].pending -= count
        return total

    def _sweep_loop(self):
        while not self._closed.wait(SWEEP_SECONDS):
            try:
                self.sweep()
            except Unavailable:
                continue  # storage is refusing writes; the next sweep tries again


# ---------------------------------------------------------------------------------------
# HTTP: router
# ---------------------------------------------------------------------------------------


class Route:
    """A route function with what the handler must check before calling it."""

    __slots__ = ("method", "pattern", "fn", "scope", "limit")

    def __init__(self, method, pattern, fn, scope, limit):
        self.method, self.pattern, self.fn, self.scope, self.limit = method, pattern, fn, scope, limit

    @property
    def doc(self):
        """First line of the route function's docstring."""
        return (self.fn.__doc__ or "").strip().splitlines()[0]


class Router:
    """Maps a method and a path to a route: ``<name>`` matches one segment, ``<path:name>`` the rest.

    :meth:`match` returns ``(route, params)`` or raises :class:`NotFound` / :class:`MethodNotAllowed`
    (with ``Allow``). HEAD falls back to GET.
    """

    _PARAM = re.compile(r"<(?:(path):)?(\w+)>")

    def __init__(self):
        self._exact = {}     # path -> {method: Route}, for paths without parameters
        self._patterns = []  # [(regex, {method: Route})] in registration order
        self.routes = []

    def route(self, method, pattern, scope="client", limit="json"):
        """Decorator registering a route function. ``scope`` is the token it needs (None: open),
        ``limit`` the body size limit that applies ("json", "model" or None)."""
        def decorate(fn):
            route = Route(method, pattern, fn, scope, limit)
            self.routes.append(route)
            if "<" not in pattern:
                self._exact.setdefault(pattern, {})[method] = route
            else:
                regex = re.compile(self._PARAM.sub(
                    lambda m: f"(?P<{m.group(2)}>{'.+' if m.group(1) else '[^/]+'})", pattern))
                for known, methods in self._patterns:
                    if known.pattern == regex.pattern:
                        methods[method] = route
                        break
                else:
                    self._patterns.append((regex, {method: route}))
            return fn
        return decorate

    def match(self, method, path):
        """``(route, params)`` for a request, or raise 404/405."""
        candidates = [(self._exact[path], {})] if path in self._exact else []
        for regex, methods in self._patterns:
            found = regex.fullmatch(path)
            if found:
                candidates.append((methods, found.groupdict()))
        for methods, params in candidates:
            route = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
            if route is not None:
                return route, params
        if candidates:
            allowed = sorted({m for methods, _ in candidates for m in methods})
            raise MethodNotAllowed(f"{method} is not allowed on {path}; use {', '.join(allowed)}",
                                   headers=[("Allow", ", ".join(allowed))])
        raise NotFound(f"no route {path}: `python chantilly.py routes` lists them all")


# ---------------------------------------------------------------------------------------
# HTTP: routes
# ---------------------------------------------------------------------------------------

ROUTER = Router()


class Raw:
    """A non-JSON answer: bytes with their content type."""

    def __init__(self, body, content_type, headers=()):
        self.body, self.content_type, self.headers = body, content_type, tuple(headers)


class EventStream:
    """Answer with the server-sent events of a bus topic until the client or server leaves."""

    def __init__(self, topic):
        self.topic = topic


class OperationStream:
    """Answer a body of newline-delimited operations with one JSON line each, per chunk."""


def answer_of(result):
    """A batch item: the answer, or ``{"status", "message"}`` for an operation that failed."""
    if isinstance(result, ChantillyError):
        return {"status": int(result.status), "message": result.message}
    return result


@ROUTER.route("GET", "/api/health", scope=None)
def get_health(request):
    """Liveness probe; needs no token and reveals nothing."""
    return {"status": "ok"}


@ROUTER.route("POST", "/api/model", scope="admin", limit="model")
def post_model(request):
    """Upload a model (dill bytes); ?flavor=regression|binary|multiclass overrides detection."""
    return request.service.upload(request.body(), request.query.get("flavor")), HTTPStatus.CREATED


@ROUTER.route("GET", "/api/model", scope="admin")
def get_model(request):
    """Download the model with everything it has learned, as dill bytes."""
    return Raw(request.service.download(), "application/octet-stream",
               [("Content-Disposition", 'attachment; filename="model.dill"')])


@ROUTER.route("DELETE", "/api/model", scope="admin")
def delete_model(request):
    """Remove the model, its metrics, history and stored ids."""
    return request.service.delete()


@ROUTER.route("POST", "/api/predict")
def post_predict(request):
    """Predict: {"features", "id"?} -> {"prediction"}; a JSON array gives an array."""
    payload = request.json()
    if isinstance(payload, list):
        return [answer_of(r) for r in request.service.batch("predict", payload)]
    return request.service.predict(payload)


@ROUTER.route("POST", "/api/learn")
def post_learn(request):
    """Learn: {"id" or "features", "ground_truth"}; a JSON array gives an array."""
    payload = request.json()
    if isinstance(payload, list):
        return [answer_of(r) for r in request.service.batch("learn", payload)]
    return request.service.learn(payload)


@ROUTER.route("POST", "/api/stream", limit=None)
def post_stream(request):
    """Many operations on one connection: NDJSON lines in, one answer line each out."""
    return OperationStream()


@ROUTER.route("GET", "/api/metrics")
def get_metrics(request):
    """Current metrics of the model."""
    return request.service.metrics()


@ROUTER.route("GET", "/api/metrics/history")
def get_metrics_history(request):
    """Recent (time, learns, metrics) points, oldest first, for charts."""
    return request.service.history()


@ROUTER.route("GET", "/api/stats")
def get_stats(request):
    """The model's counters, operations per second and latency percentiles."""
    return request.service.summary()


@ROUTER.route("GET", "/api/stream/metrics")
def stream_metrics(request):
    """Server-sent events: the metrics after every learn."""
    return EventStream("metrics")


@ROUTER.route("GET", "/api/stream/events")
def stream_events(request):
    """Server-sent events: predict, learn, model and delete."""
    return EventStream("events")


@ROUTER.route("GET", "/", scope=None)
def get_index(request):
    """The dashboard."""
    return static_file(request.server.static_dir, "index.html")


@ROUTER.route("GET", "/static/<path:name>", scope=None)
def get_static(request, name):
    """The dashboard's files, from static/ and nothing outside it."""
    return static_file(request.server.static_dir, name)


_FALLBACK_PAGE = b"""<!doctype html><meta charset="utf-8"><title>chantilly</title>
<p>chantilly is running, but its dashboard files (the <code>static/</code> folder that ships
next to <code>chantilly.py</code>) were not found. The API is at <code>/api/</code>.</p>"""


def static_file(root, name):
    """A file under ``root``; 404 for anything missing or outside it (``..``, symlinks out)."""
    if root is None:
        if name == "index.html":
            return Raw(_FALLBACK_PAGE, "text/html; charset=utf-8")
        raise NotFound("the dashboard files are not installed")
    path = (root / urllib.parse.unquote(name)).resolve()
    if root not in path.parents or not path.is_file():
        raise NotFound(f"no file {name!r} in the dashboard")
    content_type = _CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    # no-cache: the browser revalidates, so an upgraded dashboard shows up on reload.
    return Raw(path.read_bytes(), content_type, [("Cache-Control", "no-cache")])


_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
    ".ico": "image/x-icon", ".json": "application/json", ".txt": "text/plain; charset=utf-8",
}


def find_static_dir():
    """``static/`` beside this file, or where ``pip install`` put it; ``None`` if neither."""
    for candidate in (pathlib.Path(__file__).resolve().parent / "static",
                      pathlib.Path(sys.prefix) / "share" / "chantilly" / "static"):
        if (candidate / "index.html").is_file():
            return candidate.resolve()
    return None


# ---------------------------------------------------------------------------------------
# HTTP: handler
# ---------------------------------------------------------------------------------------

_CLIENT_GONE = (ConnectionError, TimeoutError)
_MAX_HEADERS = 100
_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII only: str.isdigit() accepts "²"
_MAX_LINE = 65536


class Headers:
    """Request headers by case-insensitive name: what ``http.server`` builds with the email
    parser, for a fraction of its cost (it was a tenth of each request's time)."""

    __slots__ = ("_fields",)

    def __init__(self):
        self._fields = {}

    def add(self, name, value):
        """Add a field; repeated fields are joined with commas, as RFC 9110 5.3 allows."""
        key = name.lower()
        self._fields[key] = f"{self._fields[key]}, {value}" if key in self._fields else value

    def get(self, name, default=None):
        """The field's value, or ``default``."""
        return self._fields.get(name.lower(), default)

    def __contains__(self, name):
        return name.lower() in self._fields

    def items(self):
        """``(lower-case name, value)`` pairs."""
        return self._fields.items()
_STATUS_LINES = {s: f"HTTP/1.1 {s.value} {s.phrase}\r\nServer: chantilly/{__version__}" for s in HTTPStatus}


class Handler(BaseHTTPRequestHandler):
    """One connection: parses requests, checks tokens and limits, runs the route, writes the answer.

    Every answer is written with a single ``send`` (headers and body together): separate
    writes meet Nagle's algorithm and delayed ACKs and cap a keep-alive client at ~25
    requests/s. Route functions receive this handler as ``request``: :attr:`service`,
    :attr:`query`, :meth:`json` and :meth:`body` are what they use.
    """

    protocol_version = "HTTP/1.1"
    server_version = f"chantilly/{__version__}"
    disable_nagle_algorithm = True  # stream chunks must leave at once, not wait for an ACK

    @property
    def timeout(self):
        """Seconds a connection may stay silent (idle keep-alive, slow clients)."""
        return self.server.idle_timeout

    @property
    def service(self):
        """The :class:`Service` behind this server."""
        return self.server.service

    def parse_request(self):
        """Parse the request line and headers (RFC 9112 section 3 and 5); False after an error.

        Replaces ``http.server``'s version, which runs the email package's parser on every
        request. Framing that could be read two ways (repeated or conflicting Content-Length
        and Transfer-Encoding, the request-smuggling vectors) is refused.
        """
        self.command, self.request_version, self.close_connection = None, "HTTP/1.0", True
        self.requestline = line = self.raw_requestline.decode("latin-1").rstrip("\r\n")
        words = line.split(" ")
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            self.send_error(HTTPStatus.BAD_REQUEST, f"bad request line {line[:100]!r}")
            return False
        command, path, version = words
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"{version[:20]} is not supported; use HTTP/1.1")
            return False
        self.command, self.request_version = command, version
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        headers = self._read_headers()
        if headers is None:
            return False
        self.headers = headers
        if version == "HTTP/1.1" and "host" not in headers:
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/1.1 requests need a Host header")
            return False
        connection = headers.get("Connection", "").lower()
        self.close_connection = "close" in connection or (
            version == "HTTP/1.0" and "keep-alive" not in connection)
        return True

    def _read_headers(self):
        """The header fields, or ``None`` after answering an error."""
        headers = Headers()
        for _ in range(_MAX_HEADERS + 1):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, colon, value = raw.decode("latin-1").partition(":")
            if len(raw) > _MAX_LINE:
                problem = (HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "a header line is too long")
            elif not colon or not name or name != name.strip():
                problem = (HTTPStatus.BAD_REQUEST, f"bad header line {raw[:100]!r}")
            elif name.lower() in ("content-length", "transfer-encoding") and name in headers:
                problem = (HTTPStatus.BAD_REQUEST, f"{name} is given twice")
            else:
                headers.add(name, value.strip())
                continue
            return self.send_error(*problem)
        else:
            return self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                                   f"more than {_MAX_HEADERS} headers")
        if "content-length" in headers and "transfer-encoding" in headers:
            return self.send_error(HTTPStatus.BAD_REQUEST, "Content-Length and Transfer-Encoding together")
        return headers

    def handle_one_request(self):
        """Read and answer one request; its head must arrive within the timeout (see Server)."""
        self.server.expect_head(self.connection)
        super().handle_one_request()

    def do_GET(self): self.dispatch()  # noqa: E704 (one line each, as the table reads)
    def do_HEAD(self): self.dispatch()  # noqa: E704
    def do_POST(self): self.dispatch()  # noqa: E704
    def do_PUT(self): self.dispatch()  # noqa: E704
    def do_PATCH(self): self.dispatch()  # noqa: E704
    def do_DELETE(self): self.dispatch()  # noqa: E704
    def do_OPTIONS(self): self.dispatch()  # noqa: E704

    def dispatch(self):
        """Route the request and answer it; the one place where errors become responses."""
        self.server.head_received(self.connection)
        self._body_read, self._started = False, False
        try:
            path, _, query = self.path.partition("?")
            route, params = ROUTER.match(self.command, path)
            self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()} if query else {}
            self._authorize(route.scope)
            self._limit = route.limit
            self._answer(route.fn(self, **params))
        except ChantillyError as e:
            if self._started:
                raise
            if isinstance(e, PayloadTooLarge):
                self.close_connection = True  # the body was not read: the stream is unusable
            self._send_json(e.status, {"message": e.message}, e.headers)
        except _CLIENT_GONE:
            self.close_connection = True  # the client left; nobody to tell
        except Exception:
            self.close_connection = True
            self.log_error("unhandled error on %s %s\n%s", self.command, self.path,
                           traceback.format_exc())
            if not self._started:
                self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                                {"message": "internal error; the server log has the details"})

    def _answer(self, result):
        if self.command == "HEAD" and isinstance(result, (EventStream, OperationStream)):
            self.close_connection = True
            return self._start_chunked("text/event-stream" if isinstance(result, EventStream)
                                       else "application/x-ndjson")  # a HEAD answer has no body
        if isinstance(result, EventStream):
            return self._run_event_stream(result.topic)
        if isinstance(result, OperationStream):
            return self._run_operation_stream()
        status = HTTPStatus.OK
        if isinstance(result, tuple):
            result, status = result
        if isinstance(result, Raw):
            return self._send(status, result.body, result.content_type, result.headers)
        self._send_json(status, result)

    # -- access control ---------------------------------------------------------------------

    def _authorize(self, scope):
        tokens = self.server.tokens
        accepted = [tokens.get("admin")] + ([tokens.get("client")] if scope == "client" else [])
        if scope is None or accepted[-1] is None:
            return  # an open route, or no token configured for this scope
        given = self._token()
        challenge = [("WWW-Authenticate", 'Bearer realm="chantilly"')]
        if given is None:
            raise Unauthorized("this route needs a token: send the header "
                               "'Authorization: Bearer <token>' (or ?token=<token>)", challenge)
        if any(t is not None and hmac.compare_digest(given, t) for t in accepted):
            return
        client = tokens.get("client")
        if scope == "admin" and client is not None and hmac.compare_digest(given, client):
            raise Forbidden("this route loads or returns models: it needs the admin token")
        raise Unauthorized("the token is wrong", challenge)

    def _token(self):
        header = self.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip().encode()
        if "token" in self.query:  # EventSource cannot send headers
            return self.query["token"].encode()
        return None

    # -- request bodies ---------------------------------------------------------------------

    def json(self):
        """The body decoded as JSON (see :func:`parse_json`)."""
        return parse_json(self.body())

    def body(self):
        """The whole body, refused with 413 before reading when it is over the route's limit."""
        limit = self.server.limits.get(self._limit)
        return b"".join(self._body_pieces(limit, whole=True))

    def _body_pieces(self, limit=None, whole=False):
        """The body as it arrives, in pieces of at most 64 KiB, plain or chunked (RFC 9112 7.1).

        The body counts as read only once it was consumed to its end: after any error on
        the way, the connection is closed, since what follows cannot be told apart from it.
        """
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            if coding.strip().lower() != "chunked":
                raise BadRequest(f"unsupported Transfer-Encoding {coding[:40]!r}: only chunked")
            self._continue()
            yield from self._chunked_pieces(limit)
            self._body_read = True
            return
        length = self._content_length()
        if limit is not None and length > limit:
            raise PayloadTooLarge(f"the body is {length} bytes; the limit is {limit} "
                                  "(see --max-body / --max-model)")
        self._continue()
        remaining = length
        while remaining:
            piece = (self.rfile.read(remaining) if whole
                     else self.rfile.read1(min(remaining, 64 * KiB)))
            if not piece:
                raise BadRequest("the body ended before Content-Length bytes arrived")
            remaining -= len(piece)
            yield piece
        self._body_read = True

    def _chunked_pieces(self, limit):
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("invalid chunked encoding: bad chunk size line") from None
            if size < 0:
                raise BadRequest("invalid chunked encoding: negative chunk size")
            total += size
            if limit is not None and total > limit:
                raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
            if size == 0:
                break
            while size:
                piece = self.rfile.read1(min(size, 64 * KiB))
                if not piece:
                    raise BadRequest("invalid chunked encoding: the body ended inside a chunk")
                size -= len(piece)
                yield piece
            if self.rfile.read(2) != b"\r\n":
                raise BadRequest("invalid chunked encoding: a chunk is not followed by CRLF")
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields carry nothing chantilly uses

    def _content_length(self):
        value = self.headers.get("Content-Length")
        if value is None:
            return 0
        if not _DIGITS.fullmatch(value):
            raise BadRequest(f"invalid Content-Length: {value[:40]!r}")
        return int(value)

    def _continue(self):
        """Send ``100 Continue`` when asked, only once the request has been accepted (so a
        refused upload is never sent)."""
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _unread_body(self):
        headers = getattr(self, "headers", None)
        if not isinstance(headers, Headers) or self._body_read:
            return False
        return headers.get("Content-Length", "0") != "0" or "Transfer-Encoding" in headers

    # -- responses ---------------------------------------------------------------------------

    def _head(self, status, headers):
        if self._unread_body():
            self.close_connection = True  # an unread body would be parsed as the next request
        status = HTTPStatus(status)
        lines = [_STATUS_LINES[status], f"Date: {self.server.http_date()}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        self._status = status
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, status, body, content_type, headers=()):
        head = self._head(status, [("Content-Type", content_type),
                                   ("Content-Length", str(len(body)))] + list(headers))
        self.wfile.write(head if self.command == "HEAD" else head + body)
        if self.server.access_log:
            self.log_request(self._status.value, len(body))

    def _send_json(self, status, document, headers=()):
        self._send(status, dumps(jsonable(document)).encode("utf-8"), "application/json", headers)

    def send_error(self, code, message=None, explain=None):
        """Protocol errors found by ``http.server`` (bad request line, huge headers) as JSON too."""
        self.close_connection = True
        self._body_read = True
        status = HTTPStatus(code)
        self._send_json(status, {"message": message or status.phrase})

    def log_request(self, code="-", size="-"):
        """Access log line, only with ``--access-log``; tokens in the query are masked."""
        if self.server.access_log:
            self.requestline = re.sub(r"token=[^&\s]*", "token=***", self.requestline)
            super().log_request(code, size)

    # -- streams ---------------------------------------------------------------------------

    def _start_chunked(self, content_type, headers=()):
        self._started = True
        self.wfile.write(self._head(HTTPStatus.OK, [
            ("Content-Type", content_type), ("Cache-Control", "no-cache"),
            ("Transfer-Encoding", "chunked")] + list(headers)))
        if self.server.access_log:
            self.log_request(200)

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _run_event_stream(self, topic):
        """Relay a topic's messages, with a heartbeat comment when idle, until either side leaves."""
        sub = self.service.bus.subscribe(topic)
        self.close_connection = True  # a stream ends its connection
        try:
            # X-Accel-Buffering: a reverse proxy (nginx) must pass events through unbuffered.
            self._start_chunked("text/event-stream", [("X-Accel-Buffering", "no")])
            self._chunk(b"retry: 2000\n: connected\n\n")
            while True:
                try:
                    items = sub.take(HEARTBEAT_SECONDS)
                except EOFError:
                    break
                self._chunk(b"".join(items) if items else b": heartbeat\n\n")
            self._chunk(b"")  # the zero-length chunk ends the response
        finally:
            self.service.bus.unsubscribe(sub)

    def _run_operation_stream(self):
        """Answer each piece of an NDJSON body as soon as it arrives: one line per operation.

        The headers go out at once, so a client may wait for them before it sends anything.
        A body that breaks its framing ends the answer with one last error line.
        """
        lines = LineSplitter(self.server.limits["json"])
        self._start_chunked("application/x-ndjson")
        try:
            for piece in self._body_pieces():
                ready = lines.feed(piece)
                if ready:
                    self._chunk(self._run_lines(ready))
            ready = lines.finish()
            if ready:
                self._chunk(self._run_lines(ready))
        except ChantillyError as e:
            self.close_connection = True  # the rest of the body cannot be trusted
            self._chunk(dumps(answer_of(e)).encode("utf-8") + b"\n")
        self._chunk(b"")

    def _run_lines(self, lines):
        ops = []
        for line in lines:
            try:
                ops.append(Operation.parse(parse_json(line, "the line")) if line is not None else
                           PayloadTooLarge(f"the line is over {self.server.limits['json']} bytes"))
            except ChantillyError as e:
                ops.append(e)
        answers = self.service.apply(ops) if ops else []
        # Answers are JSON-ready already; errors become {"status", "message"}.
        return "".join((dumps(a) if isinstance(a, dict) else dumps(answer_of(a))) + "\n"
                       for a in answers).encode("utf-8")


class LineSplitter:
    """Cuts a byte stream into lines; a line over ``limit`` bytes becomes ``None`` (an error).

    >>> s = LineSplitter(8)
    >>> s.feed(b'{"a":1}\\n{"b"'), s.feed(b':2}\\n\\n'), s.finish()
    ([b'{"a":1}'], [b'{"b":2}'], [])
    >>> s.feed(b'0123456789'), s.feed(b'ab\\n1\\n')
    ([None], [b'1'])
    """

    def __init__(self, limit):
        self.limit = limit
        self._buffer = b""
        self._skipping = False  # inside a line already reported as too long

    def feed(self, data):
        """Complete lines in ``data`` (blank ones dropped: clients may send them as keep-alives)."""
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        out = []
        for line in lines:
            if self._skipping:
                self._skipping = False
            elif line.strip():
                out.append(line if len(line) <= self.limit else None)
        if len(self._buffer) > self.limit:
            if not self._skipping:
                out.append(None)
            self._skipping, self._buffer = True, b""
        return out

    def finish(self):
        """The last line, when the body did not end with a newline."""
        line, self._buffer = self._buffer, b""
        return [line] if line.strip() and not self._skipping else []


# ---------------------------------------------------------------------------------------
# HTTP: server
# ---------------------------------------------------------------------------------------


class Server(ThreadingHTTPServer):
    """A thread per connection, with the service, tokens and limits the handlers need.

    Tracks its connections so that :meth:`stop` can end idle keep-alive connections and
    wait briefly for requests in flight, instead of hanging or cutting them off. Each
    connection must deliver every request head (request line and headers) within
    ``idle_timeout`` seconds of starting to wait for it: the socket timeout alone would let
    a client that sends one byte just before each timeout (slow loris) hold a thread forever.
    """

    daemon_threads = True
    request_queue_size = 128  # listen backlog: a burst of new connections queues, not refused
    allow_reuse_address = True

    def __init__(self, address, service, tokens=None, limits=None, idle_timeout=30.0,
                 max_connections=512, access_log=False, static_dir=None):
        self.service = service
        self.tokens = {k: (v.encode() if v else None) for k, v in (tokens or {}).items()}
        self.limits = {"json": MiB, "model": 100 * MiB, None: None, **(limits or {})}
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.access_log = access_log
        self.static_dir = static_dir
        self._lock = threading.Condition(threading.Lock())  # guards _connections, _head_deadlines
        self._connections = set()
        self._head_deadlines = {}  # connection -> monotonic time its request head is due
        self._date = (0, "")
        super().__init__(address, Handler)

    def server_bind(self):
        """Bind without ``HTTPServer``'s reverse DNS lookup of the host (slow with no network)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def url(self):
        """``http://host:port/`` actually bound (port 0 resolved)."""
        host = self.server_address[0]
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.server_address[1]}/"

    def http_date(self):
        """RFC 9110 ``Date`` value, formatted at most once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, email.utils.formatdate(now, usegmt=True))
        return self._date[1]

    def process_request(self, request, client_address):
        """Start a handler thread, or answer 503 at once when too many connections are open."""
        with self._lock:
            full = len(self._connections) >= self.max_connections
            if not full:
                self._connections.add(request)
        if not full:
            return super().process_request(request, client_address)
        try:
            request.settimeout(1.0)
            body = dumps({"message": "too many open connections; retry later"}).encode()
            request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
                            b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass  # the client is gone already; closing below is all that is left to do
        self.shutdown_request(request)

    def shutdown_request(self, request):
        with self._lock:
            self._connections.discard(request)
            self._head_deadlines.pop(request, None)
            self._lock.notify_all()
        super().shutdown_request(request)

    def expect_head(self, connection):
        """A handler starts waiting for a request head on ``connection``."""
        with self._lock:
            self._head_deadlines[connection] = time.monotonic() + self.idle_timeout

    def head_received(self, connection):
        """The head arrived: the request itself runs under the socket timeout only."""
        with self._lock:
            self._head_deadlines.pop(connection, None)

    def service_actions(self):
        """Between accepts (``serve_forever`` polls): close connections whose head is late."""
        now = time.monotonic()
        with self._lock:
            late = [c for c, due in self._head_deadlines.items() if due < now]
            for conn in late:
                del self._head_deadlines[conn]
        for conn in late:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # the handler's read returns and it exits
            except OSError:
                pass  # the client closed it meanwhile

    def handle_error(self, request, client_address):
        """Connections the client drops are routine; anything else is logged."""
        if not isinstance(sys.exc_info()[1], _CLIENT_GONE):
            super().handle_error(request, client_address)

    def stop(self, grace=2.0):
        """Stop accepting, end streams and idle connections, wait ``grace`` s for the rest."""
        self.shutdown()
        self.server_close()
        self.service.bus.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RD)  # idle keep-alive reads see EOF; answers still go out
            except OSError:
                pass  # already closed by its handler
        deadline = time.monotonic() + grace
        with self._lock:
            while self._connections and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser():
    """The ``chantilly`` command line."""
    parser = argparse.ArgumentParser(
        prog="chantilly",
        description="Serve an online machine-learning model (creme or river) over HTTP.",
        epilog="Without a command, `run` is assumed: `chantilly --port 5000` starts the server. "
               "`chantilly run --help` lists the server's options.")
    parser.add_argument("--version", action="version", version=f"chantilly {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{run,routes}")
    run = commands.add_parser("run", help="start the server", description=(
        "Start the server. It prints the URL it serves and stops cleanly on SIGINT or SIGTERM."))
    _add_run_options(run)
    run.set_defaults(func=cmd_run)
    routes = commands.add_parser("routes", help="print every route with a one-line description")
    routes.set_defaults(func=cmd_routes)
    return parser


def _add_run_options(run):
    net = run.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, "
                     "loopback only; any other address needs --token or --insecure)")
    net.add_argument("--port", type=int, default=5000, help="port (default: %(default)s; 0 picks a free one)")
    net.add_argument("--access-log", action="store_true", help="log every request to stderr")
    sec = run.add_argument_group("access control")
    sec.add_argument("--token", default=os.environ.get("CHANTILLY_TOKEN"),
                     help="token every /api/ route requires (env CHANTILLY_TOKEN); alone, it also "
                          "guards model upload and download")
    sec.add_argument("--admin-token", default=os.environ.get("CHANTILLY_ADMIN_TOKEN"),
                     help="separate token for uploading, downloading and deleting models "
                          "(env CHANTILLY_ADMIN_TOKEN)")
    sec.add_argument("--insecure", action="store_true",
                     help="allow a non-loopback --host without any token")
    store = run.add_argument_group("storage")
    store.add_argument("--db", default="chantilly.db", help="SQLite file (default: %(default)s)")
    store.add_argument("--sync", choices=("full", "normal", "off"), default="normal",
                       help="normal: acknowledged calls survive a crash of the server (kill -9); "
                            "full: also a power loss, at an fsync per commit; off: neither "
                            "guaranteed (default: %(default)s)")
    store.add_argument("--id-ttl", type=float, default=7 * 86400,
                       help="seconds a stored id waits for its ground truth (default: 7 days)")
    store.add_argument("--max-ids", type=int, default=0,
                       help="keep at most this many stored ids, dropping the oldest (default: no cap)")
    lim = run.add_argument_group("limits")
    lim.add_argument("--max-body", type=int, default=MiB, help="largest JSON body in bytes (default: 1 MiB)")
    lim.add_argument("--max-model", type=int, default=100 * MiB,
                     help="largest model upload in bytes (default: 100 MiB)")
    lim.add_argument("--timeout", type=float, default=30.0,
                     help="seconds a connection may stay silent before it is closed (default: %(default)s)")
    lim.add_argument("--max-connections", type=int, default=512,
                     help="open connections before new ones get 503 (default: %(default)s)")
    lim.add_argument("--max-streams", type=int, default=64,
                     help="open event streams before new ones get 503 (default: %(default)s)")


def cmd_routes(args):
    """Print the route table."""
    for route in ROUTER.routes:
        print(f"{route.method:<7} {route.pattern:<24} {route.doc}")
    return 0


def cmd_run(args):
    """Start the server and serve until SIGINT or SIGTERM."""
    tokens = {"client": args.token, "admin": args.admin_token or args.token}
    if not _is_loopback(args.host) and not (args.token or args.admin_token) and not args.insecure:
        print(f"chantilly: refusing to listen on {args.host} without a token: anyone who can reach "
              "it could upload a model, and loading a model runs its code. Set --token (or "
              "CHANTILLY_TOKEN), or pass --insecure if the network is trusted.", file=sys.stderr)
        return 2
    try:
        service = Service.open(args.db, args.sync, args.max_streams, args.id_ttl, args.max_ids)
    except StoreError as e:
        print(f"chantilly: {e}", file=sys.stderr)
        return 2
    try:
        server = Server((args.host, args.port), service, tokens,
                        {"json": args.max_body, "model": args.max_model}, args.timeout,
                        args.max_connections, args.access_log, find_static_dir())
    except OSError as e:
        service.close()
        print(f"chantilly: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"chantilly serving on {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stop()
        service.close()
    print("chantilly stopped", flush=True)
    return 0


def main(argv=None):
    """Entry point of ``python chantilly.py`` and of the installed ``chantilly`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "routes", "-h", "--help", "--version"):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
