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
import bisect
import collections
import copy
import dataclasses
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
import select
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

#: Logged model calls (of any kind) between two snapshots, and log bytes: a snapshot costs
#: one dill dump (~1 ms for a pipeline); the log since the last one is what a restart replays.
SNAPSHOT_EVERY = 5000
SNAPSHOT_BYTES = 16 * MiB
#: Logged calls between two in-memory copies of a model: an undo costs one copy (~0.1 ms
#: for a pipeline) plus at most this many calls, whatever the length of the log.
CHECKPOINT_EVERY = 64
#: Seconds a batch or stream chunk may hold a model's lock before letting other clients in.
SLICE_SECONDS = 0.01
#: Metrics history kept per model. When full, every other point is dropped and the
#: sampling interval doubles, so a long run keeps its whole shape at a coarser grain.
HISTORY_POINTS = 1000
HISTORY_INTERVAL = 1.0
#: Seconds between SSE heartbeat comments, and between checks that a stream's client is there.
HEARTBEAT_SECONDS = 15.0
STREAM_CHECK_SECONDS = 0.5
#: Seconds between sweeps of expired stored ids.
SWEEP_SECONDS = 60.0
MAX_ID_LENGTH = 256


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every limit and default, named once: the command line's defaults, and what
    :class:`Service`, :class:`Server` and :class:`EventBus` read. Build it with keywords,
    ``Settings(max_ids=1000)``; tokens are not settings (see :class:`Server`)."""

    # storage
    sync: str = "normal"           # --sync: normal survives kill -9, full also power loss
    id_ttl: float = 7 * 86400.0    # seconds a stored id waits for its ground truth
    max_ids: int = 0               # stored ids kept per model, the oldest evicted (0: no cap)
    # event streams
    max_streams: int = 64          # open event streams; more get 503
    stream_backlog: int = 4 * MiB  # bytes a stream may fall behind before it is dropped
    # HTTP
    max_body: int = MiB            # largest JSON body, and line of an operation stream
    max_model: int = 100 * MiB     # largest model upload
    idle_timeout: float = 30.0     # seconds for a request head to arrive, or a body to move
    max_connections: int = 512     # open connections; when full, the oldest idle one is closed
    max_per_client: int = 128      # open connections from one address
    access_log: bool = False       # log every request to stderr
    allowed_hosts: tuple = ()      # Host names accepted besides loopback and --host ("*": any)
    allowed_origins: tuple = ()    # browser origins allowed to call the API ("*": any)


_INSERT_LOG = "INSERT INTO log (seq, model, body) VALUES (?, ?, ?)"
_INSERT_STORED_ID = ("INSERT OR REPLACE INTO stored_ids (model, id, body, created, seq) "
                     "VALUES (?, ?, ?, ?, ?)")
#: Stands for the seq of the log record written with a statement (see Store.write).
SEQ = object()

#: ``PRAGMA application_id`` of a chantilly database ("chnt"): tells ours from a foreign file.
APPLICATION_ID = 0x63686E74
SCHEMA_VERSION = 2
SCHEMA = """
-- One row per uploaded model: its description and its latest snapshot. The id is what the
-- other tables refer to, so a model replaced while a call on it was still running can never
-- mix that call's rows with its successor's.
CREATE TABLE IF NOT EXISTS models (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL,
    role  TEXT NOT NULL,     -- 'serving': answers the calls made to its name
    info  TEXT NOT NULL,     -- JSON: class, flavor, library, library_version, uploaded_at
    state BLOB NOT NULL,     -- see pack_state
    seq   INTEGER NOT NULL   -- the last log record the snapshot includes
);
CREATE UNIQUE INDEX IF NOT EXISTS models_serving ON models (name) WHERE role = 'serving';
-- Model calls since each model's snapshot, replayed in seq order on start. The store numbers
-- them itself, above every seq ever used (a snapshot's too), so a seq is never reused once a
-- snapshot has truncated the log; no AUTOINCREMENT or index, so a call writes one page.
CREATE TABLE IF NOT EXISTS log (
    seq   INTEGER PRIMARY KEY,
    model INTEGER NOT NULL,
    body  TEXT NOT NULL      -- JSON: see predict_record and learn_record
);
-- Features and predictions served with an id, waiting for their ground truth.
CREATE TABLE IF NOT EXISTS stored_ids (
    model   INTEGER NOT NULL,
    id      TEXT NOT NULL,   -- JSON of the client's id, so that 1 and "1" stay distinct
    body    TEXT NOT NULL,   -- JSON {"x": features, "p": prediction}; '' once expired or evicted
    created REAL NOT NULL,
    seq     INTEGER NOT NULL, -- of the prediction that stored it: oldest first, even within a batch
    PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stored_ids_order ON stored_ids (model, seq);
-- Metrics over time, for the dashboard's charts.
CREATE TABLE IF NOT EXISTS history (
    model   INTEGER NOT NULL,
    t       REAL NOT NULL,
    n       INTEGER NOT NULL,
    metrics TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_model ON history (model, t);
"""

# Schema 1 (chantilly 0.1.0) keyed every table by the model's name.
_MIGRATE_FROM_1 = """
ALTER TABLE models RENAME TO models_1;
ALTER TABLE log RENAME TO log_1;
ALTER TABLE pending RENAME TO pending_1;
ALTER TABLE history RENAME TO history_1;
DROP INDEX IF EXISTS pending_created;
DROP INDEX IF EXISTS history_model;
{schema}
INSERT INTO models (id, name, role, info, state, seq)
    SELECT seq, name, 'serving', info, state, seq FROM models_1;
INSERT INTO log (seq, model, body)
    SELECT l.seq, m.id, l.body FROM log_1 l JOIN models m ON m.name = l.model;
INSERT INTO stored_ids (model, id, body, created, seq)
    SELECT m.id, p.id, p.body, p.created, ROW_NUMBER() OVER (ORDER BY p.created)
    FROM pending_1 p JOIN models m ON m.name = p.model;
INSERT INTO history (model, t, n, metrics)
    SELECT m.id, h.t, h.n, h.metrics FROM history_1 h JOIN models m ON m.name = h.model;
DROP TABLE models_1; DROP TABLE log_1; DROP TABLE pending_1; DROP TABLE history_1;
"""


def _migrate(conn):
    """Bring the file to :data:`SCHEMA_VERSION`: create it, or upgrade an older one, in one
    transaction; then drop rows left by a model replaced while a call on it was running."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        conn.execute("BEGIN")
    elif version == 1:
        # Schema 1 used one seq counter for the log and snapshots, so seqs are unique ids.
        conn.executescript("BEGIN;" + _MIGRATE_FROM_1.format(schema=SCHEMA))
    else:
        conn.executescript("BEGIN;" + SCHEMA)  # IF NOT EXISTS: a new file only
    for pragma, value in (("application_id", APPLICATION_ID), ("user_version", SCHEMA_VERSION)):
        if conn.execute(f"PRAGMA {pragma}").fetchone()[0] != value:
            conn.execute(f"PRAGMA {pragma}={value}")
    for table in ("log", "stored_ids", "history"):
        conn.execute(f"DELETE FROM {table} WHERE model NOT IN (SELECT id FROM models)")
    conn.execute("COMMIT")


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
        self.library = _library_of(obj)
        self.flavor = flavor or detect_flavor(obj, self.library)
        proba = getattr(obj, "predict_proba_one", None)
        self.proba = self.flavor != "regression" and callable(proba)
        self.rebind(obj)
        # creme pipelines update their unsupervised steps (StandardScaler...) inside predict_one,
        # so a prediction changes the model and must be logged to be replayed. river stopped
        # doing that (learn_during_predict is opt-in), but a step of any other library (the
        # user's own class, say) may do it: only an all-river model is trusted not to.
        self.changes_on_predict = not all(type(part).__module__.split(".")[0] == "river"
                                          for part in _parts(obj))

    def rebind(self, obj):
        """Serve ``obj``, an estimator like the one checked (a copy, for an undo); returns self."""
        self.obj = obj
        self.learn = getattr(obj, "learn_one", None) or obj.fit_one
        self.predict = obj.predict_proba_one if self.proba else obj.predict_one
        return self

    def info(self):
        """The model's description, as stored and shown by the API."""
        lib = sys.modules.get(self.library)
        return {
            "class": describe_class(self.obj),
            "flavor": self.flavor,
            "library": self.library,
            "library_version": getattr(lib, "__version__", None),
        }


def _parts(obj):
    """The estimator and every step of its (nested) pipelines and transformer unions."""
    yield obj
    for attr in ("steps", "transformers"):
        children = getattr(obj, attr, None)
        if isinstance(children, dict):
            for child in children.values():
                yield from _parts(child)


_LABEL_TYPES = (str, int, float, bool, type(None))


def check_prediction(model, prediction):
    """Refuse a prediction chantilly could not answer with or score: the model's output must
    be a number (regression), a label, or a dict of label: probability (classifiers)."""
    if model.flavor == "regression":
        ok = isinstance(prediction, (int, float)) or prediction is None
    elif isinstance(prediction, dict):
        ok = all(isinstance(k, _LABEL_TYPES) and isinstance(v, (int, float)) for k, v in prediction.items())
    else:
        ok = isinstance(prediction, _LABEL_TYPES)
    if not ok:
        raise Unprocessable(f"the model answered {_truncate(repr(prediction))} ({type(prediction).__name__}), "
                            f"which a {model.flavor} model cannot serve: predict_one must return "
                            + ("a number" if model.flavor == "regression" else
                               "a label, and predict_proba_one a dict of label: probability")
                            + "; nothing was changed")
    return prediction


def _truncate(text, limit=80):
    return text if len(text) <= limit else text[:limit] + "..."


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
    """The SQLite file: model snapshots, the log of model calls since, stored ids, history.

    **The write protocol.** A write only queues its statements and returns a *ticket*, an
    int that grows with every write: callers hold a model's lock while they write, and must
    not wait on the disk (or hand the GIL to SQLite) meanwhile. :meth:`commit` runs
    everything queued so far in one transaction, other callers' writes included (group
    commit), and returns once the caller's ticket is settled. The rule callers rely on:

        a ticket at or below the settled mark is durable, unless it lies in a refused range.

    If SQLite refuses a write (disk full, read-only file), every write not yet committed is
    rolled back, its tickets become a refused range, and :attr:`refusals` grows: whoever
    built state in memory on top of those writes is *behind the store* and must rebuild
    (see :meth:`behind`). Reads run the queue first, inside the open transaction, so they
    see every write queued before them.
    """

    def __init__(self, path, sync="normal"):
        self.path = str(path)
        self._commit_lock = threading.Lock()  # one committer at a time; the others wait here
        self._conn_lock = threading.Lock()    # guards _conn and its open transaction
        self._lock = threading.Lock()         # guards the queue, the tickets, _seq, _refused
        self._queued = []    # (sql, params) written but not yet run
        self._written = 0    # ticket of the last write
        self._settled = 0    # tickets up to here are committed or refused
        self._refused = []   # sorted, disjoint (first, last) ticket ranges that were rolled back
        self.refusals = 0    # how many times writes were refused since the store opened
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
            _migrate(conn)
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
                version = conn.execute("PRAGMA user_version").fetchone()[0]
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
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer chantilly (schema {version}, "
                             f"this one knows {SCHEMA_VERSION}); upgrade chantilly to open it")

    def _refusal(self, error):
        if "locked" in str(error):
            return StoreError(f"{self.path} is in use by another chantilly server")
        if isinstance(error, sqlite3.OperationalError):
            return StoreError(f"cannot open {self.path}: {error}")
        return StoreError(f"{self.path} is not a usable SQLite database ({error}); refusing to overwrite it")

    def close(self):
        """Commit what is queued and close the file."""
        with self._conn_lock:
            try:
                self._flush()
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")
            except (sqlite3.Error, Unavailable):
                pass  # never acknowledged; every acknowledged call is already in the log
            self._conn.close()

    # -- writes: each queues its statements and returns a ticket for commit() -----------

    def write(self, statements, log=None):
        """Queue ``[(sql, params), ...]``, then a log record ``(model id, body)`` if given;
        parameters given as :data:`SEQ` become the record's seq.

        Returns ``(ticket, seq of the log record or None)``.
        """
        with self._lock:
            seq = None
            if log is not None:
                seq = self._seq = self._seq + 1
                statements = [(sql, tuple(seq if p is SEQ else p for p in params))
                              for sql, params in statements]
                statements.append((_INSERT_LOG, (seq, *log)))
            self._queued.extend(statements)
            self._written += 1
            return self._written, seq

    def new_seq(self):
        """A number no log record or model has had, nor will have."""
        with self._lock:
            self._seq += 1
            return self._seq

    def behind(self, refusals):
        """Whether state built when :attr:`refusals` was ``refusals`` includes refused writes."""
        return refusals != self.refusals

    # -- commit ---------------------------------------------------------------------------

    def commit(self, ticket):
        """Make every write up to ``ticket`` durable; raises :class:`Unavailable` if it was refused.

        The committer takes everything queued so far, other callers' writes included.
        """
        with self._commit_lock:
            if ticket > self._settled:
                with self._conn_lock:
                    self._commit_queued()
            if self._was_refused(ticket):
                raise Unavailable("the database refused the write, so nothing was changed; "
                                  "retry when storage is available again")

    def _was_refused(self, ticket):
        with self._lock:
            i = bisect.bisect_right(self._refused, (ticket, math.inf)) - 1
            return i >= 0 and self._refused[i][0] <= ticket <= self._refused[i][1]

    def _commit_queued(self):
        with self._lock:
            queued, self._queued = self._queued, []
            through = self._written
        try:
            if len(queued) == 1 and not self._conn.in_transaction:
                # One statement commits itself: one call instead of BEGIN, run, COMMIT (+20%
                # requests/s at 4 connections, where most commits carry a lone log record).
                self._conn.execute(*queued[0])
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
        """Roll back: every write not yet committed, queued ones too, is refused (they were made
        on top of the rolled-back ones). Returns the :class:`Unavailable` to raise. Connection lock held."""
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite may already have rolled back on its own (e.g. SQLITE_FULL)
        with self._lock:
            first, last = self._settled + 1, self._written
            if self._refused and self._refused[-1][1] + 1 == first:
                first = self._refused.pop()[0]  # back-to-back refusals: one range, so the list stays short
            if first <= last:
                self._refused.append((first, last))
            self._settled = self._written
            self._queued = []
            self.refusals += 1
        sys.stderr.write(f"chantilly: storage refused a write: {error}\n")
        return Unavailable(f"the database refused the write ({error}); nothing was changed, "
                           "retry when storage is available again")

    # -- reads ----------------------------------------------------------------------------

    def read(self, sql, params=()):
        """Rows of a query, after every write queued before it."""
        with self._conn_lock:
            self._flush()
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise Unavailable(f"the database could not be read: {e}") from None


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
# Storage: what chantilly keeps about a model
# ---------------------------------------------------------------------------------------

# The formats, in one place. A snapshot (models.state) is the dill/pickle of
# ``{"model": estimator, "metrics": [metric, ...], "predictions": int, "learns": int}``.
# A log record (log.body) is the JSON of one model call that changed the model:
#   {"x": features}                             a prediction (creme, custom models)
#   {"x": ..., "y": label, "p": prediction, "f": 1|0}
#                                               a learn scored against prediction p; f=1 when
#                                               the learn made that prediction itself
# A stored id (stored_ids.body) is the JSON of {"x": features, "p": prediction}, or ""
# once the id expired or was evicted (a tombstone: learning it answers 410, not 404).


def pack_state(model_obj, metric_objs, predictions, learns):
    """The bytes of a snapshot."""
    return serialize({"model": model_obj, "metrics": metric_objs,
                      "predictions": predictions, "learns": learns})


def unpack_state(data):
    """``(model object, metric objects, predictions, learns)`` from snapshot bytes."""
    snap = deserialize(data)
    return snap["model"], snap["metrics"], snap["predictions"], snap["learns"]


def predict_record(x):
    """The log record of a prediction that changed the model."""
    return _store_encoder.encode({"x": x})


def learn_record(x, y, prediction, fresh):
    """The log record of a learn; ``fresh``: the learn made its prediction itself."""
    return _store_encoder.encode({"x": x, "y": y, "p": encode_prediction(prediction), "f": int(fresh)})


def stored_id_record(x, prediction):
    """What is kept under an id until its ground truth arrives."""
    return _store_encoder.encode({"x": x, "p": encode_prediction(prediction)})


class ModelRows:
    """The rows of one stored model (``models.id``): its snapshot, log, stored ids and history.

    Every method queues through the :class:`Store` and returns its ticket, or reads after the
    queue; the caller (a :class:`Deployment`) holds its own lock, so the rows of one model
    change in the order of its calls.
    """

    def __init__(self, store, model_id):
        self.store, self.id = store, model_id

    @staticmethod
    def create(store, name, info, state):
        """Queue a new model serving under ``name``, in place of any other: ``(rows, ticket)``."""
        model_id = store.new_seq()  # never reused while a row could refer to it
        statements = ModelRows.forget_serving(name) + [(
            "INSERT INTO models (id, name, role, info, state, seq) VALUES (?, ?, 'serving', ?, ?, ?)",
            (model_id, name, info, state, model_id))]
        return ModelRows(store, model_id), store.write(statements)[0]

    @staticmethod
    def forget_serving(name):
        """Statements deleting the model serving under ``name`` with all its rows."""
        serving = "(SELECT id FROM models WHERE name = ? AND role = 'serving')"
        return [(f"DELETE FROM {table} WHERE model IN {serving}", (name,))
                for table in ("log", "stored_ids", "history")] + [
                ("DELETE FROM models WHERE name = ? AND role = 'serving'", (name,))]

    def delete(self):
        """Queue the removal of this model and all its rows; returns a ticket."""
        return self.store.write(
            [(f"DELETE FROM {table} WHERE model = ?", (self.id,)) for table in ("log", "stored_ids", "history")]
            + [("DELETE FROM models WHERE id = ?", (self.id,))])[0]

    def load(self):
        """``(info, snapshot bytes, seq)``, or ``None`` when the model was deleted."""
        rows = self.store.read("SELECT info, state, seq FROM models WHERE id = ?", (self.id,))
        return (json.loads(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    def log_since(self, seq):
        """``[(seq, body), ...]`` of the model calls after ``seq``, in order."""
        return self.store.read("SELECT seq, body FROM log WHERE model = ? AND seq > ? ORDER BY seq",
                               (self.id, seq))

    def append(self, body, store_id=None, drop_id=None):
        """Log one model call, storing ``(key, body, created)`` under an id or dropping one.

        Returns ``(ticket, seq)``; a stored id is ordered by that seq (see :meth:`evict`).
        """
        statements = []
        if drop_id is not None:
            statements.append(("DELETE FROM stored_ids WHERE model = ? AND id = ?", (self.id, drop_id)))
        if store_id is not None:
            statements.append((_INSERT_STORED_ID, (self.id, *store_id, SEQ)))
        return self.store.write(statements, (self.id, body))

    def find_id(self, key):
        """``(body, created)`` stored under an id (``body`` is "" for a tombstone), or ``None``."""
        rows = self.store.read("SELECT body, created FROM stored_ids WHERE model = ? AND id = ?",
                               (self.id, key))
        return rows[0] if rows else None

    def count_ids(self):
        """Stored ids still waiting for their ground truth (tombstones excluded)."""
        return self.store.read("SELECT COUNT(*) FROM stored_ids WHERE model = ? AND body != ''",
                               (self.id,))[0][0]

    def evict(self, count):
        """Turn the ``count`` oldest stored ids into tombstones; returns a ticket."""
        return self.store.write([(
            "UPDATE stored_ids SET body = '' WHERE model = ? AND id IN (SELECT id FROM stored_ids "
            "WHERE model = ? AND body != '' ORDER BY seq LIMIT ?)", (self.id, self.id, count))])[0]

    def expire(self, horizon, keep_tombstones_after):
        """Tombstone the ids stored before ``horizon``, drop tombstones older than
        ``keep_tombstones_after``: ``(ids expired, ticket)``."""
        count = self.store.read("SELECT COUNT(*) FROM stored_ids WHERE model = ? AND body != '' "
                                "AND created < ?", (self.id, horizon))[0][0]
        ticket = self.store.write([
            ("UPDATE stored_ids SET body = '' WHERE model = ? AND body != '' AND created < ?",
             (self.id, horizon)),
            ("DELETE FROM stored_ids WHERE model = ? AND body = '' AND created < ?",
             (self.id, keep_tombstones_after))])[0]
        return count, ticket

    def save_snapshot(self, state, seq, history):
        """Replace the snapshot, drop the log it covers and rewrite the history; returns a ticket."""
        statements = [
            ("UPDATE models SET state = ?, seq = ? WHERE id = ?", (state, seq, self.id)),
            ("DELETE FROM log WHERE model = ? AND seq <= ?", (self.id, seq)),
            ("DELETE FROM history WHERE model = ?", (self.id,)),
        ]
        statements += [("INSERT INTO history (model, t, n, metrics) VALUES (?, ?, ?, ?)",
                        (self.id, t, n, m)) for t, n, m in history]
        return self.store.write(statements)[0]

    def add_history(self, t, n, metrics):
        """Append one metrics point; returns a ticket."""
        return self.store.write([("INSERT INTO history (model, t, n, metrics) VALUES (?, ?, ?, ?)",
                                  (self.id, t, n, metrics))])[0]

    def history(self):
        """``[(t, n, metrics JSON), ...]`` oldest first."""
        return self.store.read("SELECT t, n, metrics FROM history WHERE model = ? ORDER BY t", (self.id,))


def serving_models(store):
    """``[(model id, name), ...]`` of the models that answer under their names."""
    return store.read("SELECT id, name FROM models WHERE role = 'serving' ORDER BY name")


# ---------------------------------------------------------------------------------------
# Event bus
# ---------------------------------------------------------------------------------------


class Subscription:
    """One stream client's queue of framed messages. Never blocks the publisher: a client
    that falls more than ``backlog`` bytes behind is closed, its queue freed at once, and
    its browser reconnects."""

    def __init__(self, topic, backlog):
        self.topic = topic
        self._backlog = backlog
        self._items = collections.deque()
        self._bytes = 0
        self._cond = threading.Condition(threading.Lock())  # guards _items, _bytes and closed
        self.closed = False

    def push(self, item):
        """Queue a message; returns False (and closes) when the subscriber is too far behind."""
        with self._cond:
            if self.closed:
                return False
            self._bytes += len(item)
            if self._bytes > self._backlog:
                self.closed = True
                self._items.clear()
                self._bytes = 0
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
            self._bytes = 0
            return items

    def close(self):
        """End the subscription; a waiting :meth:`take` wakes up at once."""
        with self._cond:
            self.closed = True
            self._items.clear()
            self._bytes = 0
            self._cond.notify_all()


class EventBus:
    """Fan-out of framed SSE messages to the subscribers of a topic."""

    def __init__(self, max_subscribers=Settings.max_streams, backlog=Settings.stream_backlog):
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
# Operations: validated calls
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


class Outcome:
    """What a run of operations on one deployment produced.

    ``results``: one answer dict or :class:`ChantillyError` per operation handled, in order
    (a run may stop early to let other clients in; the caller runs the rest). ``events``:
    ``(topic, event name, data)`` to publish once ``ticket`` (0: nothing written) is committed.
    """

    __slots__ = ("results", "events", "ticket")

    def __init__(self):
        self.results, self.events, self.ticket = [], [], 0


def _event(op, now, x, prediction):
    """The data of a ``predict`` or ``learn`` event."""
    event = {"t": now, "features": x, "prediction": prediction}
    if op.kind == "learn":
        event["ground_truth"] = op.y
    if op.id is not None:
        event["id"] = op.id
    return event


# ---------------------------------------------------------------------------------------
# Deployment: one model being served
# ---------------------------------------------------------------------------------------


class Retired(Exception):
    """The deployment was replaced or deleted while the caller waited for it: look it up again."""


class Deployment:
    """One named model being served: the estimator, its metrics, counters and history.

    Every method that calls into the model takes :attr:`_lock`; none writes to a socket.
    Readers (:meth:`describe`, :meth:`current_metrics`, :meth:`metrics_history`) never take
    it: they see what the last call published, so a slow model never stalls them.

    A model call that raises may leave the estimator half-updated (creme's
    ``StandardScaler`` does), so it is undone: the deployment keeps an in-memory copy of
    the model and metrics taken at most ``CHECKPOINT_EVERY`` logged calls ago, with the log
    records since, and rebuilds from those. The cost of an undo is one copy plus at most
    that many calls, whatever the length of the history. After a refused write, the
    deployment rebuilds from the store instead: the last snapshot plus the log since.
    """

    def __init__(self, name, rows, settings):
        self._lock = threading.Lock()  # guards the model, metrics, counters, checkpoint
        self.name = name
        self.rows = rows
        self.settings = settings
        self.retired = False  # set without the lock: a stuck call must not delay a replacement
        self.evicted = 0      # stored ids evicted by --max-ids since the server started
        with self._lock:
            self._restore()
        self.history = [(t, n, json.loads(m)) for t, n, m in rows.history()]
        self.history_interval = HISTORY_INTERVAL
        while len(self.history) > HISTORY_POINTS:
            self._thin_history()

    # -- rebuilding ----------------------------------------------------------------------

    def _restore(self):
        """Load the snapshot and replay the log since: the state of every write so far.

        The start-up path, and what follows a refused write. Lock held.
        """
        row = self.rows.load()
        if row is None:
            self.retired = True
            raise Retired(self.name)
        self.info, state, self.seq = row
        obj, metric_objs, self.predictions, self.learns = unpack_state(state)
        self.model = Model(obj, self.info["flavor"])
        self.metrics = Metrics(metric_objs)
        self.since_snapshot = self.logged_bytes = 0
        self.refusals = self.rows.store.refusals
        for seq, body in self.rows.log_since(self.seq):
            if self._replay(body):
                self.learns += 1
            else:
                self.predictions += 1
            self.seq = seq
            self.since_snapshot += 1
            self.logged_bytes += len(body)
        self.stored = self.rows.count_ids()
        self._checkpoint()
        self._publish()

    def _replay(self, body):
        """Repeat one logged model call on the model and metrics; True for a learn. Lock held.

        Each model call gets its own copy of the features: models may change what they are given.
        """
        record = json.loads(body)
        x = record["x"]
        if "y" not in record or record["f"]:
            self.model.predict(dict(x))
        if "y" in record:
            self.metrics.update(record["y"], decode_prediction(record["p"]))
            self.model.learn(dict(x), record["y"])
            return True
        return False

    def _checkpoint(self):
        """Copy the model and metrics, and start a new list of calls to redo from it. Lock held."""
        self._saved = _copy((self.model.obj, self.metrics.objs))
        self._redo = []

    def _record(self, body):
        """Note a logged model call for undo and for the snapshot schedule. Lock held."""
        self._redo.append(body)
        self.since_snapshot += 1
        self.logged_bytes += len(body)
        if len(self._redo) >= CHECKPOINT_EVERY:
            self._checkpoint()

    def _undo(self):
        """Put the model and metrics back to the state after the last logged call. Lock held."""
        obj, metric_objs = _copy(self._saved)
        self.model = self.model.rebind(obj)
        self.metrics = Metrics(metric_objs)
        for body in self._redo:
            self._replay(body)

    def _guarded(self, call, *args):
        """Call into the model or a metric; if it raises, undo its partial changes. Lock held."""
        try:
            return call(*args)
        except ChantillyError:  # the call's answer was refused (check_prediction)
            self._undo()
            raise
        except Exception as e:  # whatever the library raises, the input was the cause
            self._undo()
            raise Unprocessable(f"the model could not handle this input, nothing was changed "
                                f"({type(e).__name__}: {e})") from None

    # -- calls -----------------------------------------------------------------------------

    def apply(self, ops, now, listening, deadline):
        """Run validated operations in order, until done or past ``deadline`` (perf_counter
        seconds; at least one runs). Returns an :class:`Outcome`; raises :class:`Retired`."""
        outcome = Outcome()
        with self._lock:
            if self.retired:
                raise Retired(self.name)
            if self.rows.store.behind(self.refusals):
                self._restore()  # writes were refused: the file is the truth
            learned = False
            for op in ops:
                if outcome.results and time.perf_counter() > deadline:
                    break
                try:
                    answer, x = (self._predict if op.kind == "predict" else self._learn)(op, now, outcome)
                except Unavailable as e:  # a read was refused: memory may be ahead of the file
                    outcome.results.append(e)
                    self._restore()
                    continue
                except ChantillyError as e:
                    outcome.results.append(e)
                    continue
                outcome.results.append(answer)
                if listening["events"]:
                    outcome.events.append(("events", op.kind, _event(op, now, x, answer["prediction"])))
                learned = learned or op.kind == "learn"
            if learned:
                self._after_learns(now, listening, outcome)
            if self.since_snapshot >= SNAPSHOT_EVERY or self.logged_bytes >= SNAPSHOT_BYTES:
                outcome.ticket = self.snapshot()
            self._publish(learned)
        return outcome

    def _predict(self, op, now, outcome):
        prediction = self._guarded(self._checked_prediction, op.x)
        if op.key is not None or self.model.changes_on_predict:
            stored = None
            if op.key is not None:
                stored = (op.key, stored_id_record(op.x, prediction), now)
                known = self.rows.find_id(op.key)
                self.stored += known is None or not known[0]  # new, or over a tombstone
            body = predict_record(op.x)
            outcome.ticket, self.seq = self.rows.append(body, stored)
            self._record(body)
            excess = self.stored - self.settings.max_ids
            if stored is not None and self.settings.max_ids and excess > 0:
                outcome.ticket = self.rows.evict(excess)  # enforced here, not by the sweeper
                self.stored -= excess
                self.evicted += excess
        self.predictions += 1
        return {"prediction": jsonable(prediction)}, op.x

    def _checked_prediction(self, x):
        return check_prediction(self.model, plain(self.model.predict(dict(x))))

    def _learn(self, op, now, outcome):
        x, prediction, key = op.x, None, None
        if op.key is not None:
            x, prediction, key = self._stored(op, now)
        check_ground_truth(self.model.flavor, op.y)
        fresh = key is None  # no stored prediction: predict now, as progressive validation does
        if fresh:
            prediction = self._guarded(self._checked_prediction, x)
        self._guarded(self.metrics.update, op.y, prediction)
        self._guarded(self.model.learn, dict(x), op.y)
        body = learn_record(x, op.y, prediction, fresh)
        outcome.ticket, self.seq = self.rows.append(body, drop_id=key)
        self._record(body)
        if key is not None:
            self.stored -= 1
        self.learns += 1
        return {"prediction": jsonable(prediction)}, x

    def _stored(self, op, now):
        """``(features, prediction, key)`` stored under the operation's id, or its features
        with no stored prediction when the id is unknown. Raises 404 or 410."""
        row = self.rows.find_id(op.key)
        if row is None:
            if op.x is None:
                raise NotFound(f"no prediction is stored for id {op.id!r}: it was never "
                               "predicted with this id, or was already learned; "
                               "send \"features\" with the ground truth instead")
            return op.x, None, None
        body, created = row
        if not body or now - created > self.settings.id_ttl:
            kept = (f", and only the newest {self.settings.max_ids} are kept (--max-ids)"
                    if self.settings.max_ids else "")
            raise Gone(f"id {op.id!r} expired: stored ids wait at most {self.settings.id_ttl:g} s "
                       f"for their ground truth (--id-ttl){kept}; send \"features\" instead")
        stored = json.loads(body)
        return stored["x"], decode_prediction(stored["p"]), op.key

    def _after_learns(self, now, listening, outcome):
        """Metrics message and history point that follow learns. Lock held."""
        if listening["metrics"]:
            outcome.events.append(("metrics", None, self.metrics.get()))
        if not self.history or now - self.history[-1][0] >= self.history_interval:
            point = (now, self.learns, self.metrics.get())
            self.history = self.history + [point]  # replaced, never mutated: read without the lock
            outcome.ticket = self.rows.add_history(point[0], point[1], dumps(point[2]))
            if len(self.history) > HISTORY_POINTS:
                self._thin_history()

    def _thin_history(self):
        """Halve the history's resolution: keep every other point, sample half as often."""
        self.history = self.history[::2]
        self.history_interval *= 2

    def snapshot(self):
        """Write the model's state so a restart replays nothing; returns a ticket. Lock held."""
        history = [(t, n, dumps(m)) for t, n, m in self.history]
        state = pack_state(self.model.obj, self.metrics.objs, self.predictions, self.learns)
        ticket = self.rows.save_snapshot(state, self.seq, history)
        self.since_snapshot = self.logged_bytes = 0
        return ticket

    def expire(self, horizon, keep_tombstones_after):
        """Tombstone the stored ids older than ``horizon``: ``(how many, ticket)``."""
        with self._lock:
            if self.retired:
                return 0, 0
            count, ticket = self.rows.expire(horizon, keep_tombstones_after)
            self.stored -= count
            self._publish(False)
            return count, ticket

    # -- reading without the lock ------------------------------------------------------------

    def _publish(self, metrics_changed=True):
        """Make the counters (and metrics) visible to readers. Lock held."""
        metrics = self.metrics.get() if metrics_changed else self._view[0]
        self._view = (metrics, self.predictions, self.learns, max(self.stored, 0))

    def describe(self):
        """The model's description with its counters, as of the last call."""
        metrics, predictions, learns, stored = self._view
        return dict(self.info, name=self.name, predictions=predictions, learns=learns, pending=stored)

    def current_metrics(self):
        """``{metric: value}`` as of the last call."""
        return dict(self._view[0])

    def metrics_history(self):
        """``[{"t", "n", "metrics"}, ...]`` oldest first."""
        return [{"t": t, "n": n, "metrics": m} for t, n, m in self.history]

    def dump(self):
        """The estimator with everything it has learned, as dill/pickle bytes (waits for the lock)."""
        with self._lock:
            return serialize(self.model.obj)

    # -- leaving -------------------------------------------------------------------------------

    def resync(self):
        """Rebuild from the store if writes were refused since this state was built."""
        with self._lock:
            if self.rows.store.behind(self.refusals) and not self.retired:
                try:
                    self._restore()
                except (ChantillyError, Retired):
                    pass  # unreadable now: the next call retries (apply checks again)

    def retire(self):
        """Stop serving: later calls go to whatever replaced this deployment. Takes no lock."""
        self.retired = True

    def close(self, timeout):
        """Snapshot on the way out, so the next start replays nothing; returns a ticket.

        A model call still running after ``timeout`` seconds is left behind: its answer was
        not sent, and the log already holds every call that was.
        """
        self.retired = True
        if not self._lock.acquire(timeout=timeout):
            return 0
        try:
            if self.since_snapshot and not self.rows.store.behind(self.refusals):
                return self.snapshot()
            return 0
        finally:
            self._lock.release()


def _copy(value):
    """A deep copy for undo: ``copy.deepcopy`` (~10x faster than a dill round trip), or the
    round trip for objects deepcopy cannot handle."""
    try:
        return copy.deepcopy(value)
    except Exception:  # an object with a custom __deepcopy__ or state deepcopy refuses
        return deserialize(serialize(value))


# ---------------------------------------------------------------------------------------
# Stats
# ---------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------
# Service: chantilly without HTTP
# ---------------------------------------------------------------------------------------


class Service:
    """Ties the store, the deployments and the event bus together: chantilly without HTTP.

    Usable from plain Python::

        service = Service.open("example.db")
        service.upload(dill.dumps(model))
        service.predict({"features": {"x": 1}})
        service.close()
    """

    def __init__(self, store, bus, settings):
        self.store = store
        self.bus = bus
        self.settings = settings
        self.stats = Stats()
        self.expired = 0
        self._lock = threading.Lock()  # guards _deployments and expired
        self._deployments = {}
        self._closed = threading.Event()
        self._sweeper = None

    @classmethod
    def open(cls, path, settings=None, **changes):
        """Open the database, rebuild every stored model and start the expiry sweeper.

        ``changes`` override fields of ``settings`` (default :class:`Settings`).
        """
        settings = dataclasses.replace(settings or Settings(), **changes)
        store = Store(path, settings.sync)
        service = cls(store, EventBus(settings.max_streams, settings.stream_backlog), settings)
        try:
            for model_id, name in serving_models(store):
                service._deployments[name] = Deployment(name, ModelRows(store, model_id), settings)
        except Exception as e:  # a snapshot or log record this environment cannot replay
            store.close()
            raise StoreError(f"model {name!r} in {path} cannot be loaded ({type(e).__name__}: "
                             f"{e}): the file is corrupt, or the model's library is not "
                             "installed here; refusing to start") from None
        service._sweeper = threading.Thread(target=service._sweep_loop, name="chantilly-sweeper",
                                            daemon=True)
        service._sweeper.start()
        return service

    def close(self, timeout=1.0):
        """Snapshot every model, close streams and the file. Later calls get 503.

        Waits at most ``timeout`` seconds for a model call still running (see Deployment.close).
        """
        if self._closed.is_set():
            return
        self._closed.set()
        self.bus.close()
        with self._lock:
            deployments = list(self._deployments.values())
        deadline = time.monotonic() + timeout
        for dep in deployments:
            ticket = dep.close(max(0.0, deadline - time.monotonic()))
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
        """Load, check and install a model, replacing any previous one; returns its description.

        Never waits for a call running on the model it replaces: that call finishes on the
        old model, whose rows are dropped.
        """
        model = load_model(data, flavor)
        metrics = Metrics.for_model(model)
        info = dict(model.info(), uploaded_at=time.time())
        state = pack_state(model.obj, metrics.objs, 0, 0)
        with self._lock:
            if self._closed.is_set():
                raise Unavailable("the server is shutting down")
            old = self._deployments.pop(name, None)
            if old is not None:
                old.retire()
            rows, ticket = ModelRows.create(self.store, name, dumps(info), state)
            dep = Deployment(name, rows, self.settings)
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
                for model_id, serving in serving_models(self.store):
                    if serving == name:
                        self._deployments[name] = Deployment(name, ModelRows(self.store, model_id),
                                                             self.settings)
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
            ticket = dep.rows.delete()
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
        """Run operations on the model, a slice at a time: between slices the model's lock is
        free for other clients, so one long batch (of failing items, say) cannot stall them."""
        listening = {"events": self.bus.wants("events"), "metrics": self.bus.wants("metrics")}
        results, events, ticket = [], [], 0
        while len(results) < len(ops):
            dep = self._deployment(name)
            try:
                outcome = dep.apply(ops[len(results):], time.time(), listening,
                                    time.perf_counter() + SLICE_SECONDS)
            except Retired:
                continue  # the model was replaced while we waited for its lock
            results += outcome.results
            events += outcome.events
            ticket = outcome.ticket or ticket  # tickets grow: the last one covers the others
            if len(results) < len(ops):
                time.sleep(0)  # hand over the GIL, so a waiting client takes the lock first
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
        with self._lock:
            expired = self.expired + sum(dep.evicted for dep in self._deployments.values())
        return {"model": model, "uptime_s": now - self.stats.started, "rates": rates,
                "latency_ms": latency, "subscribers": self.bus.count(), "expired": expired}

    # -- housekeeping ----------------------------------------------------------------------------

    def sweep(self, now=None):
        """Tombstone stored ids past their time-to-live; returns how many expired.

        Tombstones answer 410 for another ``id_ttl`` seconds, then are dropped.
        """
        now = time.time() if now is None else now
        ttl = self.settings.id_ttl
        with self._lock:
            deployments = list(self._deployments.values())
        total, ticket = 0, 0
        for dep in deployments:
            count, dep_ticket = dep.expire(now - ttl, now - 2 * ttl)
            total, ticket = total + count, dep_ticket or ticket
        if ticket:
            self.store.commit(ticket)
        with self._lock:
            self.expired += total
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
    try:
        path = (root / urllib.parse.unquote(name)).resolve()
        found = root in path.parents and path.is_file()
    except (ValueError, OSError):  # a NUL byte, a name too long for the file system
        found = False
    if not found:
        raise NotFound(f"no file {_truncate(name)!r} in the dashboard")
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
# HTTP: who may call
# ---------------------------------------------------------------------------------------


class Guard:
    """Refuses what a browser sends on behalf of another site. The user's browser is a client
    too: any page it shows can send requests to 127.0.0.1, and loading a model runs code.

    - A ``Host`` that is not this server's (DNS rebinding: the attacker's name, resolved to
      127.0.0.1, makes its page same-origin with us) is refused, unless ``allowed_hosts``
      names it. When bound to every address (0.0.0.0), any IP literal is accepted as well:
      rebinding needs a name.
    - A request a browser marks as cross-site (an ``Origin`` other than our own, or
      ``Sec-Fetch-Site: cross-site | same-site``) is refused unless its origin is in
      ``allowed_origins``; browsers send these on every cross-origin POST, ``no-cors`` and
      form posts included. Top-level GET navigations (a link to the dashboard) pass.

    Programs (curl, requests, http.client) send neither header, so they are not affected.
    """

    LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})

    def __init__(self, bind_host, allowed_hosts=(), allowed_origins=()):
        hosts = {_hostname(h) for h in allowed_hosts}
        self.any_host = "*" in hosts
        self.hosts = self.LOOPBACK | hosts | {_hostname(bind_host)}
        self.any_ip = bind_host in ("", "0.0.0.0", "::")
        self.origins = {o.lower().rstrip("/") for o in allowed_origins}
        self.any_origin = "*" in self.origins

    def check(self, method, headers):
        """Raise :class:`Forbidden` for a request made on another site's behalf; return the
        CORS headers to add for an allowed cross-origin request (else ``()``)."""
        host = headers.get("Host")
        if host is not None and not self._host_ok(_hostname(host)):
            raise Forbidden(f"Host {_truncate(host)!r} is not an address of this server; a web page "
                            "may be trying to reach chantilly through a name it controls (DNS "
                            "rebinding). If you reach chantilly by this name, start it with "
                            f"--allowed-hosts {_truncate(_hostname(host))}")
        origin = headers.get("Origin")
        site = headers.get("Sec-Fetch-Site", "").lower()
        if origin is None and site not in ("cross-site", "same-site"):
            return ()
        if origin is not None and host is not None and _netloc(origin) == host.lower():
            return ()  # our own page (the dashboard)
        if method in ("GET", "HEAD") and headers.get("Sec-Fetch-Mode", "").lower() == "navigate":
            return ()  # a link followed to us: what comes back is shown to the user, not to the page
        if origin is not None and (self.any_origin or origin.lower().rstrip("/") in self.origins):
            return (("Access-Control-Allow-Origin", origin), ("Vary", "Origin"))
        raise Forbidden(f"cross-origin request refused: {_truncate(origin or 'a page on another site')} "
                        "is not this server's origin, and browsers let any page send such requests. "
                        "To let that page call chantilly, start it with --allowed-origins "
                        f"{_truncate(origin or '<origin>')}")

    def _host_ok(self, name):
        if self.any_host or name in self.hosts:
            return True
        if self.any_ip:
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return False
        return False


def _hostname(host):
    """The name in a Host header or --host value, lower case, without port or brackets.

    >>> _hostname("LocalHost:5000"), _hostname("[::1]:80"), _hostname("::1")
    ('localhost', '::1', '::1')
    """
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def _netloc(origin):
    """``host[:port]`` of an origin (``http://x:1`` -> ``x:1``); "" for ``null`` and the like."""
    scheme, sep, rest = origin.lower().partition("://")
    return rest.rstrip("/") if sep else ""


def redact(target):
    """A request target with the value of every query field whose name decodes to ``token``
    masked, so secrets never reach a log, however the client spelled them.

    >>> redact("/api/stream/metrics?x=1&tok%65n=s3cret")
    '/api/stream/metrics?x=1&tok%65n=***'
    """
    path, sep, query = target.partition("?")
    if not sep:
        return target
    fields = []
    for field in query.split("&"):
        name, eq, value = field.partition("=")
        if urllib.parse.unquote_plus(name).strip().lower() == "token":
            value = "***"
        fields.append(name + eq + value)
    return path + sep + "&".join(fields)


# ---------------------------------------------------------------------------------------
# HTTP: handler
# ---------------------------------------------------------------------------------------

_CLIENT_GONE = (ConnectionError, TimeoutError)
_MAX_HEADERS = 100
_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII only: str.isdigit() accepts "²"
# RFC 9112 7.1: chunk-size is 1*HEXDIG, then optional extensions after BWS ";".
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?\r?\n")
_PREFLIGHT = (("Access-Control-Allow-Methods", "GET, POST, DELETE"),
              ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
              ("Access-Control-Max-Age", "600"))
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
    _cors = ()  # CORS headers for an allowed cross-origin request (see Guard)

    @property
    def timeout(self):
        """Seconds a connection may stay silent (idle keep-alive, slow clients)."""
        return self.server.settings.idle_timeout

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
        line = self.raw_requestline.decode("latin-1").rstrip("\r\n")
        words = line.split(" ")
        self.requestline = " ".join(map(redact, words))  # what the logs show
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
        self._body_read, self._started, self._cors = False, False, ()
        try:
            self._cors = self.server.guard.check(self.command, self.headers)
            if self._cors and self.command == "OPTIONS" and "access-control-request-method" in self.headers:
                return self._send(HTTPStatus.NO_CONTENT, b"", "text/plain", _PREFLIGHT)
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
            self.log_error("unhandled error on %s %s\n%s", self.command, redact(self.path),
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
            found = _CHUNK_SIZE.fullmatch(self.rfile.readline(1024))
            if not found:  # int(x, 16) would take "0x33", "+33", "3_3": a proxy may read them otherwise
                raise BadRequest("invalid chunked encoding: a chunk size must be hex digits")
            size = int(found.group(1), 16)
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
        lines += [f"{name}: {value}" for name, value in self._cors]
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
        if self.server.settings.access_log:
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
        if self.server.settings.access_log:
            super().log_request(code, size)

    def log_error(self, format, *args):
        """Errors go to stderr, but an idle keep-alive connection timing out is routine."""
        if not format.startswith("Request timed out"):
            super().log_error(format, *args)


    # -- streams ---------------------------------------------------------------------------

    def _start_chunked(self, content_type, headers=()):
        self._started = True
        self.wfile.write(self._head(HTTPStatus.OK, [
            ("Content-Type", content_type), ("Cache-Control", "no-cache"),
            ("Transfer-Encoding", "chunked")] + list(headers)))
        if self.server.settings.access_log:
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
            quiet_since = time.monotonic()
            while True:
                try:
                    items = sub.take(STREAM_CHECK_SECONDS)
                except EOFError:
                    break
                if items:
                    self._chunk(b"".join(items))
                    quiet_since = time.monotonic()
                elif self._client_left():
                    return  # free the stream's slot now, not at the next failed write
                elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                    self._chunk(b": heartbeat\n\n")
                    quiet_since = time.monotonic()
            self._chunk(b"")  # the zero-length chunk ends the response
        finally:
            self.service.bus.unsubscribe(sub)

    def _client_left(self):
        """Whether the client closed its end. A stream's client sends nothing after its
        request, so a readable socket with nothing to read means it is gone."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

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

    def __init__(self, address, service, tokens=None, limits=None, *, static_dir=None, **changes):
        """``tokens``: ``{"client": str, "admin": str}`` (None: no token); ``changes``:
        :class:`Settings` fields that differ from the service's; ``limits``:
        ``{"json": bytes, "model": bytes}``, the same as ``max_body`` and ``max_model``."""
        limits = limits or {}
        if "json" in limits:
            changes.setdefault("max_body", limits["json"])
        if "model" in limits:
            changes.setdefault("max_model", limits["model"])
        self.settings = settings = dataclasses.replace(service.settings, **changes)
        self.service = service
        self.tokens = {k: (v.encode() if v else None) for k, v in (tokens or {}).items()}
        self.limits = {"json": settings.max_body, "model": settings.max_model, None: None}
        self.guard = Guard(address[0], settings.allowed_hosts, settings.allowed_origins)
        self.static_dir = static_dir
        self._lock = threading.Condition(threading.Lock())  # guards the three below
        self._connections = {}     # connection -> client address
        self._per_client = collections.Counter()
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
        """Start a handler thread, making room by closing an idle connection when full, or
        answer 503 at once when no connection can give way."""
        with self._lock:
            admitted = self._admit(request, client_address[0])
        if admitted:
            return super().process_request(request, client_address)
        try:
            request.settimeout(1.0)
            body = dumps({"message": "too many open connections; retry later"}).encode()
            request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
                            b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass  # the client is gone already; closing below is all that is left to do
        self.shutdown_request(request)

    def _admit(self, conn, client):
        """Count a new connection, closing the longest-idle one (a connection waiting for a
        request head) of the same client, or of anyone, when a cap is reached. Lock held."""
        if self._per_client[client] >= self.settings.max_per_client:
            if not self._evict_idle(lambda c: self._connections[c] == client):
                return False
        elif len(self._connections) >= self.settings.max_connections:
            if not self._evict_idle(lambda c: True):
                return False
        self._connections[conn] = client
        self._per_client[client] += 1
        return True

    def _evict_idle(self, eligible):
        idle = [(due, id(c), c) for c, due in self._head_deadlines.items() if eligible(c)]
        if not idle:
            return False
        victim = min(idle)[2]
        self._forget(victim)
        try:
            victim.shutdown(socket.SHUT_RDWR)  # its handler's read returns and it exits
        except OSError:
            pass  # the client closed it meanwhile
        return True

    def _forget(self, conn):
        """Stop counting a connection (idempotent). Lock held."""
        self._head_deadlines.pop(conn, None)
        client = self._connections.pop(conn, None)
        if client is not None:
            self._per_client[client] -= 1
            if not self._per_client[client]:
                del self._per_client[client]
        self._lock.notify_all()

    def shutdown_request(self, request):
        with self._lock:
            self._forget(request)
        super().shutdown_request(request)

    def expect_head(self, connection):
        """A handler starts waiting for a request head on ``connection``."""
        with self._lock:
            if connection in self._connections:  # not evicted meanwhile
                self._head_deadlines[connection] = time.monotonic() + self.settings.idle_timeout

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
    d = Settings()
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
                     help="allow a non-loopback --host without a client --token")
    sec.add_argument("--allowed-hosts", type=_names, default=d.allowed_hosts, metavar="NAMES",
                     help="comma-separated host names the server may be reached by, besides "
                          "loopback and --host (behind a proxy, or by the machine's name); * for any")
    sec.add_argument("--allowed-origins", type=_names, default=d.allowed_origins, metavar="ORIGINS",
                     help="comma-separated browser origins (http://host:port) whose pages may call "
                          "the API; * for any. Other sites' pages get 403")
    store = run.add_argument_group("storage")
    store.add_argument("--db", default="chantilly.db", help="SQLite file (default: %(default)s)")
    store.add_argument("--sync", choices=("full", "normal", "off"), default=d.sync,
                       help="normal: acknowledged calls survive a crash of the server (kill -9); "
                            "full: also a power loss, at an fsync per commit; off: neither "
                            "guaranteed (default: %(default)s)")
    store.add_argument("--id-ttl", type=float, default=d.id_ttl,
                       help="seconds a stored id waits for its ground truth (default: 7 days)")
    store.add_argument("--max-ids", type=int, default=d.max_ids,
                       help="keep at most this many stored ids per model, evicting the oldest "
                            "(default: no cap)")
    lim = run.add_argument_group("limits")
    lim.add_argument("--max-body", type=int, default=d.max_body, help="largest JSON body in bytes (default: 1 MiB)")
    lim.add_argument("--max-model", type=int, default=d.max_model,
                     help="largest model upload in bytes (default: 100 MiB)")
    lim.add_argument("--timeout", dest="idle_timeout", type=float, default=d.idle_timeout,
                     help="seconds a connection may stay silent before it is closed (default: %(default)s)")
    lim.add_argument("--max-connections", type=int, default=d.max_connections,
                     help="open connections; when full, the longest-idle one is closed to make room, "
                          "and new ones get 503 if none is idle (default: %(default)s)")
    lim.add_argument("--max-connections-per-client", dest="max_per_client", type=int,
                     default=d.max_per_client,
                     help="open connections from one address (default: %(default)s)")
    lim.add_argument("--max-streams", type=int, default=d.max_streams,
                     help="open event streams before new ones get 503 (default: %(default)s)")
    lim.add_argument("--stream-backlog", type=int, default=d.stream_backlog,
                     help="bytes an event stream's client may fall behind before it is dropped "
                          "(default: 4 MiB)")


def _names(text):
    """A comma-separated option value as a tuple of non-empty names."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def settings_from(args):
    """The :class:`Settings` a ``run`` command line asks for."""
    fields = {f.name for f in dataclasses.fields(Settings)}
    return Settings(**{k: v for k, v in vars(args).items() if k in fields})


def cmd_routes(args):
    """Print the route table."""
    for route in ROUTER.routes:
        print(f"{route.method:<7} {route.pattern:<24} {route.doc}")
    return 0


def cmd_run(args):
    """Start the server and serve until SIGINT or SIGTERM."""
    tokens = {"client": args.token, "admin": args.admin_token or args.token}
    if not _is_loopback(args.host) and not args.token and not args.insecure:
        print(f"chantilly: refusing to listen on {args.host} without a token (--token): anyone who can reach "
              "it could predict and learn" + ("" if args.admin_token else
              ", or upload a model, and loading a model runs its code") + ". Set --token (or "
              "CHANTILLY_TOKEN), or pass --insecure if the network is trusted.", file=sys.stderr)
        return 2
    try:
        service = Service.open(args.db, settings_from(args))
    except StoreError as e:
        print(f"chantilly: {e}", file=sys.stderr)
        return 2
    try:
        server = Server((args.host, args.port), service, tokens, static_dir=find_static_dir())
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
