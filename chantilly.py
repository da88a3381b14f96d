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
serialised with dill) plus an append-only log of the model calls since; a restart loads the
snapshot and replays the log, so the model after a crash equals the replay of every call
that was answered 2xx. A call that makes the model raise is undone from an in-memory copy
of the model taken at most CHECKPOINT_EVERY calls earlier (see Deployment).

Sections, in dependency order: constants, settings and schema; errors; helpers (JSON,
SSE); models and flavors; metrics; storage (the write protocol, then what is kept about a
model); event bus; operations; deployment (one model being served); stats; the service
(chantilly without HTTP); HTTP (router, what routes see, the dashboard's files, routes,
who may call, the HTTP/1.1 wire format, handler, server); command line; the embedded
dashboard. Nothing above the HTTP banners knows about sockets or HTTP.

Performance tricks, with what each was measured to gain, so a simplifier knows which ones
matter (2-core machine, creme StandardScaler | LinearRegression):

- group commit (writes queue under the model lock; one committer runs them all, runs of
  the same statement as one executemany): +30% stream predicts, +15-20% stream learns;
- a lone statement commits itself, without BEGIN/COMMIT: +20% requests/s at 4 connections;
- our own request-head parser instead of http.server's email parser: -50 us per request;
- one ``send`` per answer (head and body together), TCP_NODELAY: without it, Nagle and
  delayed ACKs cap a keep-alive client at ~25 requests/s;
- the ``Date`` header formatted once a second: -2.3 us per answer (~1%);
- status lines built once: -0.35 us per answer (negligible; kept because it is free);
- features' finiteness checked inline: -0.35 us per call of 8 features (negligible).
"""

import argparse
import base64
import bisect
import collections
import copy
import dataclasses
import email.utils
import hmac
import importlib
import io
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
import zipfile
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


def _item_of(value):
    """``json.dumps`` fallback for numpy scalars and other objects that know ``item()``."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_python(value):
    """A prediction as plain Python values: numpy scalars become int/float/bool.

    A metric must see the same types live and on replay (a numpy float overflows to inf where
    a Python float raises), and the log stores plain values.

    >>> to_python({"a": 1.5})
    {'a': 1.5}
    """
    if isinstance(value, dict):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if type(value) not in _PYTHON_SCALARS and hasattr(value, "item"):  # numpy.float64 is a float
        return value.item()
    return value


_PYTHON_SCALARS = (int, float, bool, str, type(None))


def json_safe(value):
    """Make a prediction or metric value valid JSON: non-finite floats become null.

    >>> json_safe({True: 0.25, False: float("nan")})
    {True: 0.25, False: None}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return json_safe(value.item())
    return value


_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_item_of)
_store_encoder = json.JSONEncoder(separators=(",", ":"), default=_item_of)


def dumps(value):
    """Encode a response document compactly; ``value`` must already be ``json_safe``."""
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
    except ModuleNotFoundError as e:  # the bytes are fine; this Python lacks the model's library
        package = (e.name or "?").split(".")[0]
        raise BadRequest(f"the model needs the Python package {package!r}, which is not installed "
                         f"in the Python that runs chantilly ({sys.executable}): install it there "
                         f"(pip install {package}) and upload again") from None
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
        return {type(m).__name__: json_safe(float(m.get())) for m in self.objs}


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

    def has_subscribers(self, topic):
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


_BINARY_LABELS = {True: True, False: False, 1: True, 0: False, "true": True, "false": False}


def check_ground_truth(flavor, y):
    """The label as the model needs it; refuses one that cannot belong to the flavor, before
    any metric sees it. A binary model takes the ``"true"``/``"false"`` it answers with."""
    if flavor == "regression" and (isinstance(y, (bool, str)) or not isinstance(y, (int, float))):
        raise BadRequest(f'"ground_truth" must be a number for a regression model, not {describe_type(y)}')
    if flavor == "binary":
        key = y.lower() if isinstance(y, str) else y
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if not isinstance(key, (str, int)) or key not in _BINARY_LABELS:
            raise BadRequest(f'"ground_truth" {_truncate(json.dumps(y))} cannot be a label of a binary '
                             'model: send true or false ("true", "false", 1 and 0 are accepted too)')
        return _BINARY_LABELS[key]
    return y


def as_class_of(y, prediction):
    """A label sent as the JSON key the server answered with (``"1"`` for the class ``1``)
    becomes that class again, so it scores and learns as the same class."""
    if isinstance(y, str) and isinstance(prediction, dict) and y not in prediction:
        for label in prediction:
            if not isinstance(label, str) and json.dumps({label: 0})[1:-4] == json.dumps(y):
                return label
    return y


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
    Readers (:meth:`describe`, :meth:`metrics`, :meth:`metrics_history`) never take
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
        self._metrics = Metrics(metric_objs)
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
            self._metrics.update(record["y"], decode_prediction(record["p"]))
            self.model.learn(dict(x), record["y"])
            return True
        return False

    def _checkpoint(self):
        """Copy the model and metrics, and start a new list of calls to redo from it. Lock held."""
        self._saved = _copy((self.model.obj, self._metrics.objs))
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
        self._metrics = Metrics(metric_objs)
        for body in self._redo:
            self._replay(body)
        if self._redo:
            self._checkpoint()  # a flood of bad calls then costs one copy each, not a replay

    def _undo_on_error(self, call, *args):
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
        prediction = self._undo_on_error(self._checked_prediction, op.x)
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
        return {"prediction": json_safe(prediction)}, op.x

    def _checked_prediction(self, x):
        return check_prediction(self.model, to_python(self.model.predict(dict(x))))

    def _learn(self, op, now, outcome):
        x, prediction, key = op.x, None, None
        if op.key is not None:
            x, prediction, key = self._stored(op, now)
        y = check_ground_truth(self.model.flavor, op.y)
        fresh = key is None  # no stored prediction: predict now, as progressive validation does
        if fresh:
            prediction = self._undo_on_error(self._checked_prediction, x)
        y = as_class_of(y, prediction)
        self._undo_on_error(self._metrics.update, y, prediction)
        self._undo_on_error(self.model.learn, dict(x), y)
        body = learn_record(x, y, prediction, fresh)
        outcome.ticket, self.seq = self.rows.append(body, drop_id=key)
        self._record(body)
        if key is not None:
            self.stored -= 1
        self.learns += 1
        return {"prediction": json_safe(prediction)}, x

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
            outcome.events.append(("metrics", None, self._metrics.get()))
        outcome.ticket = self._add_history_point(now) or outcome.ticket

    def _add_history_point(self, now):
        """Add the current metrics to the history when a point is due; returns a ticket or 0."""
        if self.history and now - self.history[-1][0] < self.history_interval:
            return 0
        point = (now, self.learns, self._metrics.get())
        self.history = self.history + [point]  # replaced, never mutated: read without the lock
        if len(self.history) > HISTORY_POINTS:
            self._thin_history()
        return self.rows.add_history(point[0], point[1], dumps(point[2]))

    def flush_history(self, now):
        """Add the latest metrics to the history when learns came since its last point, so a
        chart ends where the traffic stopped; returns a ticket or 0. Never waits for the lock:
        a busy model adds points by itself."""
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            if self.retired or self.learns == (self.history[-1][1] if self.history else 0):
                return 0
            return self._add_history_point(now)
        finally:
            self._lock.release()

    def _thin_history(self):
        """Halve the history's resolution: keep every other point, sample half as often."""
        self.history = self.history[::2]
        self.history_interval *= 2

    def snapshot(self):
        """Write the model's state so a restart replays nothing; returns a ticket. Lock held."""
        history = [(t, n, dumps(m)) for t, n, m in self.history]
        state = pack_state(self.model.obj, self._metrics.objs, self.predictions, self.learns)
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
        metrics = self._metrics.get() if metrics_changed else self._view[0]
        self._view = (metrics, self.predictions, self.learns, max(self.stored, 0))

    def describe(self):
        """The model's description with its counters, as of the last call."""
        metrics, predictions, learns, stored = self._view
        return dict(self.info, name=self.name, predictions=predictions, learns=learns, pending=stored)

    def metrics(self):
        """``{metric: value}`` as of the last call."""
        return dict(self._view[0])

    def metrics_history(self):
        """``[{"t", "n", "metrics"}, ...]`` oldest first."""
        return [{"t": t, "n": n, "metrics": m} for t, n, m in self.history]

    def download(self):
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
        service._sweeper = threading.Thread(target=service._housekeeping, name="chantilly-housekeeping",
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
        return self._deployment(name).download()

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

    def model_names(self):
        """Names of the models being served."""
        with self._lock:
            return sorted(self._deployments)

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
        listening = {"events": self.bus.has_subscribers("events"), "metrics": self.bus.has_subscribers("metrics")}
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
        return self._deployment(name).metrics()

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

    def _housekeeping(self):
        """Every second, the latest metrics into the history; every minute, a sweep."""
        next_sweep = time.monotonic() + SWEEP_SECONDS
        while not self._closed.wait(HISTORY_INTERVAL):
            try:
                self.flush_history()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_SECONDS
                    self.sweep()
            except Unavailable:
                continue  # storage is refusing writes; the next round tries again

    def flush_history(self, now=None):
        """Bring every model's history up to its latest metrics (see Deployment.flush_history)."""
        now = time.time() if now is None else now
        with self._lock:
            deployments = list(self._deployments.values())
        ticket = 0
        for dep in deployments:
            ticket = dep.flush_history(now) or ticket
        if ticket:
            self.store.commit(ticket)


# ---------------------------------------------------------------------------------------
# HTTP: router
# ---------------------------------------------------------------------------------------


class Route:
    """A route function with what the handler must check before calling it: ``scope`` is
    the token it needs (None: open), ``body_limit`` the :class:`Settings` field that caps
    its body (None: no cap, for streams)."""

    __slots__ = ("method", "pattern", "fn", "scope", "body_limit")

    def __init__(self, method, pattern, fn, scope, body_limit):
        self.method, self.pattern, self.fn = method, pattern, fn
        self.scope, self.body_limit = scope, body_limit

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

    def route(self, method, pattern, scope="client", body_limit="max_body"):
        """Decorator registering a route function (see :class:`Route`)."""
        def decorate(fn):
            route = Route(method, pattern, fn, scope, body_limit)
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
# HTTP: what routes see and return
# ---------------------------------------------------------------------------------------


class Request:
    """What a route function sees of a request (never the socket): ``method``, ``path``,
    ``query`` (last value of each field), ``headers``, :meth:`json` and :meth:`body`, and
    the ``service`` and ``dashboard`` it may use."""

    __slots__ = ("method", "path", "query", "headers", "service", "dashboard", "reader", "limit")

    def __init__(self, method, path, query, headers, service, dashboard, reader, limit):
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.service, self.dashboard, self.reader, self.limit = service, dashboard, reader, limit

    def body(self):
        """The whole body, refused with 413 before it is read when it is over the route's limit."""
        return self.reader.read_all(self.limit)

    def json(self):
        """The body decoded as JSON (see :func:`parse_json`)."""
        return parse_json(self.body())


class Binary:
    """A non-JSON answer: bytes with their content type."""

    def __init__(self, body, content_type, headers=()):
        self.body, self.content_type, self.headers = body, content_type, tuple(headers)


class EventStream:
    """Answer with the server-sent events of a bus topic until the client or server leaves."""

    def __init__(self, topic):
        self.topic = topic


class OperationStream:
    """Answer a body of newline-delimited operations with one JSON line each, per chunk."""


def batch_item(result):
    """A batch item: the answer, or ``{"status", "message"}`` for an operation that failed."""
    if isinstance(result, ChantillyError):
        return {"status": int(result.status), "message": result.message}
    return result


# ---------------------------------------------------------------------------------------
# HTTP: the dashboard's files
# ---------------------------------------------------------------------------------------


class Dashboard:
    """The dashboard's files: from a folder (``static/`` beside this module, or where pip put
    it) when there is one, so an edited file shows on reload; otherwise from the copy
    embedded at the end of this module (:data:`DASHBOARD`), so a lone copied
    ``chantilly.py`` serves the whole dashboard."""

    def __init__(self, folder=None):
        self.folder = pathlib.Path(folder).resolve() if folder else None
        self._embedded = None if self.folder else unpack_dashboard(DASHBOARD)

    def describe(self):
        """Where the files come from, for the start-up banner."""
        return f"{self.folder}" if self.folder else "the copy embedded in chantilly.py"

    def file(self, name):
        """The answer for one file; 404 for anything missing or outside the folder."""
        data = self._read(urllib.parse.unquote(name))
        if data is None:
            raise NotFound(f"no file {_truncate(name)!r} in the dashboard")
        content_type = _CONTENT_TYPES.get(pathlib.PurePath(name).suffix, "application/octet-stream")
        # no-cache: the browser revalidates, so an upgraded dashboard shows up on reload.
        return Binary(data, content_type, [("Cache-Control", "no-cache")])

    def _read(self, name):
        if self._embedded is not None:
            return self._embedded.get(name)
        try:
            path = (self.folder / name).resolve()
            if self.folder in path.parents and path.is_file():  # no "..", no symlink out
                return path.read_bytes()
        except (ValueError, OSError):  # a NUL byte, a name too long for the file system
            pass
        return None


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


def pack_dashboard(folder):
    """The files of ``folder`` as the text of :data:`DASHBOARD`: a zip (fixed dates, so the
    same files give the same text), base64-encoded in lines of 76 characters."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(pathlib.Path(folder).iterdir()):
            if path.is_file():
                archive.writestr(zipfile.ZipInfo(path.name, (1980, 1, 1, 0, 0, 0)), path.read_bytes(),
                                 compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return base64.encodebytes(buffer.getvalue()).decode("ascii")


def unpack_dashboard(text):
    """``{name: bytes}`` from the text made by :func:`pack_dashboard`."""
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(text))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def embed_dashboard(folder, module=__file__):
    """Rewrite :data:`DASHBOARD` in ``module`` from ``folder`` (``make embed`` runs this)."""
    source = pathlib.Path(module).read_text(encoding="utf-8")
    start = source.index('\nDASHBOARD = """\n') + len('\nDASHBOARD = """\n')
    end = source.index('"""', start)
    pathlib.Path(module).write_text(source[:start] + pack_dashboard(folder) + source[end:], encoding="utf-8")


# ---------------------------------------------------------------------------------------
# HTTP: routes
# ---------------------------------------------------------------------------------------

ROUTER = Router()


@ROUTER.route("GET", "/api/health", scope=None)
def get_health(request):
    """Liveness probe; needs no token and reveals nothing."""
    return {"status": "ok"}


@ROUTER.route("POST", "/api/model", scope="admin", body_limit="max_model")
def post_model(request):
    """Upload a model (dill bytes); ?flavor=regression|binary|multiclass overrides detection."""
    return request.service.upload(request.body(), request.query.get("flavor")), HTTPStatus.CREATED


@ROUTER.route("GET", "/api/model", scope="admin")
def get_model(request):
    """Download the model with everything it has learned, as dill bytes."""
    return Binary(request.service.download(), "application/octet-stream",
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
        return [batch_item(r) for r in request.service.batch("predict", payload)]
    return request.service.predict(payload)


@ROUTER.route("POST", "/api/learn")
def post_learn(request):
    """Learn: {"id" or "features", "ground_truth"}; a JSON array gives an array."""
    payload = request.json()
    if isinstance(payload, list):
        return [batch_item(r) for r in request.service.batch("learn", payload)]
    return request.service.learn(payload)


@ROUTER.route("POST", "/api/stream", body_limit=None)
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
    return request.dashboard.file("index.html")


@ROUTER.route("GET", "/static/<path:name>", scope=None)
def get_static(request, name):
    """The dashboard's files, from static/ and nothing outside it."""
    return request.dashboard.file(name)


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
# HTTP/1.1 wire format
# ---------------------------------------------------------------------------------------

_CLIENT_GONE = (ConnectionError, TimeoutError)
_MAX_HEADERS = 100
_MAX_LINE = 65536
_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII only: str.isdigit() accepts "²"
# RFC 9112 7.1: chunk-size is 1*HEXDIG, then optional extensions after BWS ";".
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?\r?\n")
# Status lines built once: formatting one per answer was measurable at 5,000 requests/s.
_STATUS_LINES = {s: f"HTTP/1.1 {s.value} {s.phrase}\r\nServer: chantilly/{__version__}" for s in HTTPStatus}


class Headers:
    """Request headers by case-insensitive name: what ``http.server`` builds with the email
    parser, for a fraction of its cost (it was a tenth of each request's time, ~50 us)."""

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


def read_headers(rfile):
    """Read header fields up to the blank line: a :class:`Headers`, or ``(status, message)``
    when they are refused. Framing that could be read two ways (repeated or conflicting
    Content-Length and Transfer-Encoding, the request-smuggling vectors) is refused."""
    headers = Headers()
    for _ in range(_MAX_HEADERS + 1):
        raw = rfile.readline(_MAX_LINE + 1)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, colon, value = raw.decode("latin-1").partition(":")
        if len(raw) > _MAX_LINE:
            return HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "a header line is too long"
        if not colon or not name or name != name.strip():
            return HTTPStatus.BAD_REQUEST, f"bad header line {raw[:100]!r}"
        if name.lower() in ("content-length", "transfer-encoding") and name in headers:
            return HTTPStatus.BAD_REQUEST, f"{name} is given twice"
        headers.add(name, value.strip())
    else:
        return HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, f"more than {_MAX_HEADERS} headers"
    if "content-length" in headers and "transfer-encoding" in headers:
        return HTTPStatus.BAD_REQUEST, "Content-Length and Transfer-Encoding together"
    return headers


class BodyReader:
    """One request's body, read from the connection as it arrives: plain (Content-Length) or
    chunked (RFC 9112 7.1), refused with 413 before reading when it is over a limit.

    :attr:`done` says whether the body was consumed to its end; after any error on the way
    the connection must be closed, since what follows cannot be told apart from the body.
    """

    def __init__(self, rfile, headers, send_continue):
        self.rfile, self.headers = rfile, headers
        self._send_continue = send_continue  # called once the body is accepted (Expect: 100-continue)
        self.done = "content-length" not in headers and "transfer-encoding" not in headers

    def read_all(self, limit):
        """The whole body; :class:`PayloadTooLarge` when it is over ``limit`` bytes."""
        return b"".join(self.pieces(limit, whole=True))

    def pieces(self, limit=None, whole=False):
        """The body in pieces of at most 64 KiB as they arrive (or in one read, ``whole``)."""
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            if coding.strip().lower() != "chunked":
                raise BadRequest(f"unsupported Transfer-Encoding {coding[:40]!r}: only chunked")
            self._send_continue()
            yield from self._chunked(limit)
            self.done = True
            return
        length = self._content_length()
        if limit is not None and length > limit:
            raise PayloadTooLarge(f"the body is {length} bytes; the limit is {limit} "
                                  "(see --max-body / --max-model)")
        self._send_continue()
        remaining = length
        while remaining:
            piece = self.rfile.read(remaining) if whole else self.rfile.read1(min(remaining, 64 * KiB))
            if not piece:
                raise BadRequest("the body ended before Content-Length bytes arrived")
            remaining -= len(piece)
            yield piece
        self.done = True

    def _chunked(self, limit):
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
# HTTP: handler
# ---------------------------------------------------------------------------------------

_PREFLIGHT = (("Access-Control-Allow-Methods", "GET, POST, DELETE"),
              ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
              ("Access-Control-Max-Age", "600"))


class Handler(BaseHTTPRequestHandler):
    """One connection's protocol: parses requests, checks who may call and with which token,
    runs the route on a :class:`Request`, and writes the answer.

    Every answer is written with a single ``send`` (headers and body together): separate
    writes meet Nagle's algorithm and delayed ACKs and cap a keep-alive client at ~25
    requests/s.
    """

    protocol_version = "HTTP/1.1"
    server_version = f"chantilly/{__version__}"
    disable_nagle_algorithm = True  # stream chunks must leave at once, not wait for an ACK
    _cors = ()      # CORS headers for an allowed cross-origin request (see Guard)
    _reader = None  # the current request's BodyReader

    @property
    def timeout(self):
        """Seconds a connection may stay silent (idle keep-alive, slow clients)."""
        return self.server.settings.idle_timeout

    def parse_request(self):
        """Parse the request line and headers (RFC 9112 sections 3 and 5); False after an error.

        Replaces ``http.server``'s version, which runs the email package's parser on every
        request.
        """
        self.command, self.request_version, self.close_connection = None, "HTTP/1.0", True
        self._reader = None
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
        headers = read_headers(self.rfile)
        if not isinstance(headers, Headers):
            self.send_error(*headers)
            return False
        self.headers = headers
        if version == "HTTP/1.1" and "host" not in headers:
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/1.1 requests need a Host header")
            return False
        connection = headers.get("Connection", "").lower()
        self.close_connection = "close" in connection or (
            version == "HTTP/1.0" and "keep-alive" not in connection)
        self._reader = BodyReader(self.rfile, headers, self._continue)
        return True

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
        self._started, self._cors = False, ()
        try:
            self._cors = self.server.guard.check(self.command, self.headers)
            if self._cors and self.command == "OPTIONS" and "access-control-request-method" in self.headers:
                return self._send(HTTPStatus.NO_CONTENT, b"", "text/plain", _PREFLIGHT)
            path, _, query = self.path.partition("?")
            route, params = ROUTER.match(self.command, path)
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()} if query else {}
            self._authorize(route.scope, query)
            limit = getattr(self.server.settings, route.body_limit) if route.body_limit else None
            request = Request(self.command, path, query, self.headers, self.server.service,
                              self.server.dashboard, self._reader, limit)
            self._answer(route.fn(request, **params))
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
        if isinstance(result, Binary):
            return self._send(status, result.body, result.content_type, result.headers)
        self._send_json(status, result)

    # -- access control ---------------------------------------------------------------------

    def _authorize(self, scope, query):
        tokens = self.server.tokens
        accepted = [tokens.get("admin")] + ([tokens.get("client")] if scope == "client" else [])
        if scope is None or accepted[-1] is None:
            return  # an open route, or no token configured for this scope
        given = self._token(query)
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

    def _token(self, query):
        header = self.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip().encode()
        if "token" in query:  # EventSource cannot send headers
            return query["token"].encode()
        return None

    def _continue(self):
        """Send ``100 Continue`` when asked, only once the request has been accepted (so a
        refused upload is never sent)."""
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # -- responses ---------------------------------------------------------------------------

    def _head(self, status, headers):
        if self._reader is not None and not self._reader.done:
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
        self._send(status, dumps(json_safe(document)).encode("utf-8"), "application/json", headers)

    def send_error(self, code, message=None, explain=None):
        """Protocol errors found by ``http.server`` (bad request line, huge headers) as JSON too."""
        self.close_connection = True
        self._reader = None
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
        sub = self.server.service.bus.subscribe(topic)
        self.close_connection = True  # a stream ends its connection
        try:
            # X-Accel-Buffering: a reverse proxy (nginx) must pass events through unbuffered.
            self._start_chunked("text/event-stream", [("X-Accel-Buffering", "no")])
            self._chunk(b": connected\n\n")
            # retry: goes out with the first event: alone, a client library (httpx-sse) would
            # hand its user an event with no data.
            retry, quiet_since = b"retry: 2000\n", time.monotonic()
            while True:
                try:
                    items = sub.take(STREAM_CHECK_SECONDS)
                except EOFError:
                    break
                if items:
                    self._chunk(retry + b"".join(items))
                    retry, quiet_since = b"", time.monotonic()
                elif self._client_left():
                    return  # free the stream's slot now, not at the next failed write
                elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                    self._chunk(b": heartbeat\n\n")
                    quiet_since = time.monotonic()
            self._chunk(b"")  # the zero-length chunk ends the response
        finally:
            self.server.service.bus.unsubscribe(sub)

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
        lines = LineSplitter(self.server.settings.max_body)
        self._start_chunked("application/x-ndjson")
        try:
            for piece in self._reader.pieces():
                ready = lines.feed(piece)
                if ready:
                    self._chunk(self._run_lines(ready))
            ready = lines.finish()
            if ready:
                self._chunk(self._run_lines(ready))
        except ChantillyError as e:
            self.close_connection = True  # the rest of the body cannot be trusted
            self._chunk(dumps(batch_item(e)).encode("utf-8") + b"\n")
        self._chunk(b"")

    def _run_lines(self, lines):
        ops = []
        for line in lines:
            try:
                ops.append(Operation.parse(parse_json(line, "the line")) if line is not None else
                           PayloadTooLarge(f"the line is over {self.server.settings.max_body} bytes"))
            except ChantillyError as e:
                ops.append(e)
        answers = self.server.service.apply(ops) if ops else []
        # Answers are JSON-ready already; errors become {"status", "message"}.
        return "".join((dumps(a) if isinstance(a, dict) else dumps(batch_item(a))) + "\n"
                       for a in answers).encode("utf-8")


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
        self.guard = Guard(address[0], settings.allowed_hosts, settings.allowed_origins)
        self.dashboard = Dashboard(static_dir)
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
    _add_access_options(run, d)
    _add_storage_options(run, d)
    _add_limit_options(run, d)


def _add_access_options(run, d):
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


def _add_storage_options(run, d):
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


def _add_limit_options(run, d):
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
    print(f"chantilly serving on {server.url}", *_banner(args, service, server), sep="\n  ", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stop()
        service.close()
    print("chantilly stopped", flush=True)
    return 0


def _banner(args, service, server):
    """What a user needs to know once the server listens, a line each."""
    models = service.model_names()
    if not args.token:
        access = ("no token: open to anyone on this machine" if _is_loopback(args.host)
                  else "no token (--insecure): open to anyone who can reach it")
    else:
        access = "token required on /api/ routes" + (" (a separate admin token for models)"
                                                     if args.admin_token else "")
    return [f"database:  {os.path.abspath(args.db)} ({len(models)} model{'s' * (len(models) != 1)}"
            f"{': ' + ', '.join(models) if models else ''})",
            f"dashboard: {server.url} (files: {server.dashboard.describe()})",
            f"access:    {access}"]


def main(argv=None):
    """Entry point of ``python chantilly.py`` and of the installed ``chantilly`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "routes", "-h", "--help", "--version"):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    return args.func(args)


# ---------------------------------------------------------------------------------------
# The embedded dashboard: static/ packed by pack_dashboard (make embed), generated, not edited
# ---------------------------------------------------------------------------------------

DASHBOARD = """
UEsDBBQAAAAIAAAAIQAS8dZWzicAAESHAAAGAAAAYXBwLmpztX3LctxIkuBdXxHqVjeAUiZI6lHW
TRYlU6mkLk3rZaJ6uno5NBHMjCTRRAIoAJlJNjvH5jQ255m12cvYHvcD5jKXPe2n9JesP+INZIr1
mLIyERmI8Ijw8PBXeDh2vhCTi6zs8qK4FtOsvTirsma6L+oiy0vxd0cjUVZiKmtZTmU5yWWb3hFf
wP/im6zLxKyoVvhDiN+9+Ch2sjrfabusa4XzX10VhZwKuZTNtTj6+Ozj0ac3R/tiXk1lIeqslMVI
dBdNtTi/qBfdSBRZBz1dB2DnsmvySbtzkbddBYBEVYqiyqYjfGBYOI9zKbJyKrJZJxvVZSMnVVnK
SbcvWimnLXQmsW7TtdzH0dELPfRGZnPdlcA+pJjLts0AbA0AC5k15b44W8xmspHQd9ZB321HFQkk
zDYvO6o8KxbtxXAPMLCSkVQDmHzSiR2GDX95LjuA80J20u2sy84KCdOZNtmq9Lt4W3UXeXku8lbY
t2rk+yIvJ9UcX09xzaCOhkm4IiD4rObCWHv5+g9H38JC4XLv3IkWrRQtoqWLDu7cieNEHD4RN3eE
ANxCm4/vfv/i7affv/iTOBSRoadxV13KEhroam+efffp/btXbz8eQb293d3dA6KQnR0Xea24lHUn
JkUOSBq3+VSKuCqmMKGLrJiJc9nhEuawpNPEg/zh3R8R7mMFVUFuqlULGKBVL/KlFAr5hE2//bOP
L2hgDwwEaG9JU7TZvC5kK+J/fCgAn4tOtnYEGmEA4IEzBICgEftIrV1Lq9MiWU5Nc70xsP/HgJg7
dmgvPn549RxfIL4FADlvYGXzCijxOHrz7EU0EtGHN0f09+jNs/cvopMR1TzLy6y5xlrPJpNFk02u
scrr6vx11bb4+B72Ro6QCIScZEWBTy/3NIT5oujySZG1bQjleQMwXpRdU9X0+002aSpoiI85PxKM
tV391+/++OLDp1dHn75+8fHjiw8woVKuxJHs4g3T8Afb6/FIN3kNM05sP8/fvX73AfF1HC2zJh6P
J3sJ1lQ/Hrg/Hro/Hrk/HifRibMK9wBe3MqCCH9aTRZzoKL0+wXslSPYqRNgSvTaDuPo73/3FkcR
XXRdvb+zs1qt0tXDtGrOdx4A6e+0y/PI6QD5pjSLTDtnH9Y6m37ExzjhBUFWtg9bjDka7OmIy3HT
vgbq3hezrGglF2aL7uItsDw59Ypl+4Y53L4oF0WhC1/QvnDLDOf8mM9lM/jmG1lkQGFAsfyCuL9X
nekImdrvJdRcgByZ5SXyM7U9TAkSRNWJy7ICBnYtQRQgBCplABaUO5ZZkS0rb3TMwN9mwACBbBUp
T0Cs4eyA5N5kNeDT2aElVBVjYGgoi5ZZsZAj0S7O4J/l+UjIed1dr3kirWxyBVV4/wGU4xsY8nxf
3CC4fYazXp8IZF6wwLO8aTsCghKu7QYWAaUsrKn/Ro9RrhAKihItoBBbzO4BWzy8VnLj59WiBIGn
VkUJzSP5vSmaFNXk8t1s1kqq5k0EJgnkJLocsaIYMf0CXLTwF4YPYqOp5sxL6RUs/Lxu72hiJEoa
QpKaBrAUQNZZhYs/5blnIGN8QoW6f7zIC/levdodOeC/yZvu2qvOMt0vZ2pFfFtKIIH3nlHtAcBB
vcSXDuKmoPYcgQCVdp3WtGt3vhDjn/CfmFUNIBK3MApYwwbK2SPFGF+VXZG+XczPZPOS6saRLMd/
OAIedSPm2VU+X8yP8vMyn+UTELjf5Oc5Iv2RWDtMqJw9/GngHgbgAMwPAPgSxEUH8kVD2w2gvZRZ
9xOnOxJAHL8DGV3b5aReoJvZoqTuxWzexUvgJzPsbPYoUVw2n4l4KQ4PD5nT/PWvgn8ZlpQAp+sW
oJdFf/un/0mKDDfqrmtZzVTt6KyqQHsrI1P7CLZgeR4vk4EWd7FFSfPc2oBRkebt2+wtvLAjgd/O
SO6aei/zMu+kW3UpngDGn8Lg/+V/R2If//4rPh5oUQJrkAFG3mTdRZqdtV7/GY10V/z61/j8ldiT
40eIoUw8ARVF7j1w+km76sVVDUow6H1ZET9I0kaCATGRsIb3UabKSEFWLcpZyvSvulwbmoCVIt6F
4nZJwjZAtkIdjqs/dZgskaiFTtOGtQsIos6mcTkSK9TWgBqCdSiTFCocdcBP4hUMfxea0xhdgnqO
HDRGlt8CFKI7TVc8lamibLCUZNyBlo4ab+IiHxue3rvBwUxTUGy/rRZNGyfJet8pfMOaZlh8RPoj
FZ96uIXhPEWo7Tr1oBRF3uo2I/EQmgFuWo19d2bfgJaHz3HrbhS1DK1HwUgRPRJsk6F902pKg80c
g8RpHWJrgcC+3DWtYPRUE8xLVKuStWhP/coPv9zdWB2MJ4C1RhVdBG9+xW9CaL/58tFWcNTbWlz4
4AgeD8T26K9FHxR3tQbi6MNSw7D9nQ6tzrPzKu4GFqYbZi3OCliiQ5JMQc+KsTckS3GfFdDU0QtA
9nc+nh5bqH9eIAOvVlE4X59+DCPYEf8whT7u7cB2imBu2Xk1OLu/R63pv5FXh+gxkiHZ1KIlnmBb
LL0Z/93Ru7cpV8ln1w47M5Pqqvo5WlBx3VRnmZ4OGPfiDDUhns+BV/geSsevyhlup2t+BQxNxLyA
x5cjUYNaORPvzv4MOngKbBe1UtWB7sGbS91jnjUIB+oL2Z8ayeWB6b5mhifUv2q2XE+vwVP+A5oV
lo+47UkPAXn7HgeGzPjGiqa7GgqMxUd4RbOiQd591jTZNXAW+ovY9UG3i/k8a4CvoSKxALM4nrn0
cneGdKKgz3h/KOhmOY8jFFDRibtFFEIBDQGGZz77vkBL5VBXT9siB0rfReYKTK6OY1yp5QlJMdgZ
l+tD2h4OieOwgREndvk7eYUrQaDTP1d5GUdCRA5x6s4KWZ53F7CIDxNudB9kiRD3790ENcbioZYQ
2MGMbSpdadM4h5fkaZ/eYfmXMAM11n8o3bFiX3agaPUmun96ZRDGr+4LaP+3f/o/Pk85xtmNqIGi
rZ9B+372/pVWu3FvimdgKr9oGthk0BmYBq3gXzdrT21w7HFtqDfXlqqBd2bFEZha2blEofuqk/PY
+MYSJMYoAhIGY7SbXMBaOjuCXoRbZ5V3F9xfDbIiMR4gasEMmzwFLPGxzpr/pGCyFAuwO+PoaYRq
UfRr0gCfRmtqcIhkMgFT+g8fXj2v5qy7xQ5EVg8QlN7PWXtdTuzQsjqnQY1EVXe4VW7WvvpzAbiS
jbOJAM+gv8c3a26S6gqAlZu1qww4o9BQUlygqsn/QoIF1aavZdaAkQp6jq2u6ZwH0NAOzlZZDlQv
AeFqvMPDQTNDdTaC9ZlcgMUXldUYLWcZgUXhjLDBzQ7dLlraHo929yzTLaXUJHKgitCFuCJV0JBZ
HC3KTE1JTvWe8XgtdLIB9UBZuA09muhPWS+QM+67OPDq0g5WsbumUaoqj02T0r749uPH94BiO1/D
qwS2MkgQtoY/aag0PLX0z22lUPSzbGjtEQP08L62MkKCRVE6yqxSdKAMGa3H95Ez3YujX1poemlk
kaL3HICl2lOnmvr1x8itoiTFP9BtJ8mU0fguyEUX4R/luHN8aWS/Ru5P5IUju1S20nAVl6SgEnOG
khyAqs76uD3B/daaSXV5V9BkmNHTyJBdHNFJBXonyNGD3nN2CxEbiczU51kOOHJxQ+CUIaWMBYLq
qfu2s0Sth/ZgQuOuWUhDGGYdQTNtJQ+rNezXUYsuUSM6jox3k+xO5dWMTnytiLo8vnRKFVlAWVqV
VS2JNmyJJGngFemDIVeB8+DQgC0XsG+CJlbPCiZ8ISeXiJLY3+RzPY7UzNUjYuc1z95hAPzCOoZR
yZrjP5KeUhRw10dM4LBEe/SqV2rRxvB8dzCdwezq2ent5xFBf7JVyUvLHEh3sLMjPmaXUlTojzSE
eIZnOkCJrUD9C3gKyOC2gldZJ1YSmDdxGGSZ+rQQz7nINa2hVuVEOkRNh2LZ5FLEWLOsOtBLRIaM
XeSAU5g+Ehf1RFsCRAK0StJAZlm8avXyQDtbHdJV5rBmSz71P/U5AO0256duDLQxXRTyg67qcFLL
+PqVHN04WDny2RNr2D4T9myoZR5a/YM7W+iC7X9QFOmhQfdvPFj1C7GXPk5GsALGZTI44EPEIz5W
iy5mMWnPJre0cvcfqXBmkypBGmgOER3fgn5QdBfkkRzSEOxOZ2FLotYKfyVcGQhK1b5M9TRDyzeG
V1uLD7s6mpcYaaErgo5DazZAJcjrQq46RK+W99BckLEcVYsG9HerpEYDx+iRVpzmlrEazmbfaAbr
8YEDvV3fMK9taW9nTYM7BSTdos1QVUfnBx5BwI5lD9e+uJSypv3dZCvBBkSdNa3Ew1jy/1OL1HRv
mTmivkc//sEMmk8k8Q68Sv7hC9pje6aCWkE6XTCL4tK1YeUAfH5wx+Xny9vjnI9GDMrlciPO6dV2
pL8ri2vCoTqzMWfs6gQd9G86d2Rj1eJ8jkjX+CYeu2iW+bICVV9jP3XmV5U0MUT9ZV5O2ec7tAjc
bVojCm8E1h1hT/tqMUYY3gHD6Pu27M60jE8BM8apmdwX6BD26rS1NlOHmo5N04Fe+FBLw/PPs3wC
cSDTCZajBn2OgGAps+mUkPga5J2EZY0jFVgSjTR+bZFDHf12FIbituKCrW3oSBbaBKuG3gawQCdD
7Fa/IHcCUUrMq5i45nHToIEMpgEYasBjQbM3DA5xTDCs+4hBej6erK6L6zc4PKpsVqiRM9AQLlCl
AQaXUn86qEVTy3rblDk6B+fsTdnpD6f8o/rzdTfkNUvDtQNDMJTrQ3zbEiNZPHddxfunqCC4uqRS
HdwJhSiHgGkBqq3VyIaHGTVwQNyR6Iwl6V0ZaGmwsMZqTpJtstCVhEwmnmzjF7RCvA40lBFts5/P
DmWjKzBBHZ9ATwPbpGn1NHWXIWxTKAc9C+pwrWrmysKlcY6xQFfB55QPvPV5ljVwufrZouvQJB6s
xl3kJUZKuX1QibH+8EdKoREYGhO5pbNqsmgHFVlAS+3jL5zCwBZtF2fzvOuzJeDKDTHab+QsWxQO
AfEMeAUHZsDDTkFKz20b1wl3yG2H9UpyxrNPy3MTtqGbcMRQHBVP4pG216iRczCJAvdiX4k0/LMG
jQmtN+TULhftodEsrCd8+qTorPttjMAGw0ebozKva9m1HsY9NTXZSHH99Z2AVL7sceBbEHpI6ned
n64Id8uTAXJw6NUOvefAvNXu+VlYD7NdNGA5hjRgQjoGK54HfuQ5e4/nKcYtrf+KT4saY2vl9FPW
cQF5yfmR463IPazF+pBs8kWe58C4tXzoM2s+Zj8I3eBtn2m4bUfKH+APg+OFkZodsd2mjDywhB0J
rpy+OEE8ldIt4VnVTygY+Vt2N8RmgEj1g3Dt8TdX+oAhSnHryKEd8YHm19JWFKsLyTGsbqzzlP0V
2suBTgyJ/olG8vKRg8LHCI9m7mPiUuJ+dQjEFUHcIVklGhVU//DQrQDt7JmqZQ5+DTxilJ6HgIkJ
oQMRatpyKMvYVlIdyB2fuMU9uyxs54Xaee/PFnkxfY5BgTH2raJsj/UYyE16fIKHmycOV6JYwDHB
djfy3btzW0cZvuNWe5Cdek41Vva31XLpZz4K6XE+SHNK1bOhcB4vHzQj1Kp5XtdgM3sd+XtZfg89
3L/P/dpAQ1cnmKA9/KyjeBrjNfKtZatTKhC2YLJoGrYP7eK5ovVYtRjpmieGtbxvqnnegugqivjY
iFOf4QQXC6JktL1iZNR3qUzVQVUVSEr33ki0RrA603ViujjZogf3tVkSLYDuu2bnWXRTHI6z2Ya8
dnxMF2tuAczLP11XL1KOwsdDQ7+E94IaXjrLiw7EcFwTFmrHDqvTrh9tkCr0mfZ08MyNwZrv9rEZ
0Dj+LSmM1jSxZ288DwzT/IghCtYIf4o/jmvXKt87gWHsh2EUCgKfM7isJZxPSnVo5J14wn0mgxwJ
ewWwsIIxtkk0hebzI6rSN8QCRxHiyt0ilgZACLyteLTaQdXm2nPdyO8X6JZZ4eaoFoBBLCV3JQgG
0lXZR0PFKIuhduroN3pj2ZUzW80zooc5qaprTgNRR0WodhE2tRxaqrlL6Oj1t675QmZLmAnM0AQ+
Z1oKZiXGQM8kSkKZnqdC3Regg3NsoXwenyg05lNVymT/jrnYITkoHNTBoqhWLF1VD3h+OukWGd6K
amRdATe1zv5bIw54KEsYdeQMwq/VrZMfy7AD28j0gdqbF7BHBRrLjri20fH6JUyEK9PdnxgjI3Pa
BuVwu+P8JPE5jCNNeRyfn5w/D3e/2MOf36NLEQwLxK1iQpkKYQGCrooFth3RdSBaPueeEClMdG50
tpgCJ+flW6H/zexD6UfS2OtJ4Qk5QVTHFyqWbwDCjngQ2JI8noDTmKgXhJoYxvNJIz0XvxIPCPG7
gZlpeA7B1VxnADhB3njWFugVpEAHqnHRKvOJNtqY1P/IVz4Mhoo2OO1W5gLKJDYqKPCFvYQHbit1
9uzUj0wF2zkrZL0zdaMtYjMb8ue2LPKzJkOZHjQFLU+9AkmjHz8BreBdqBO9Il9zWLcObRJR0uuK
sbWoPWRp48nam4s6GIAK4/QMLa+2woxiL149X7Y+tSHGfi0Vbgxm6Gv0HEh1Ip84x/cuqhSjhPm3
PXTpmGzowamWDOAbfcVb23ONgaZKk9/aN1cxOhOJnM1UGOlrQ0ItxxDp/QB6A3iljBwXgg48yKcc
eRAQ3Uj0CMIWuei2pQp/TjWFFS9Q4V6cT3uDc6lyHSqNvMFxhixTYUR4/DWEbBu7i41SrvipHZA8
vuHqhyFhIbK9lJ8owstX4cgQSNVd30/zgTq1pX+ComkvpH//pWs6qr5COHzTdhAKv+rDaPQOx2pj
c5DiVSncKurURBlYA9sf9EzzUgfP4FnloQrVVQG2EXrf1dY1LYoBcIV96YMrNoErkl5kcQMqk2Ri
tudH6gToJJSJKNdg/Y6p0Ym7fh7M7xW8x7sIq/7tb31i9gKvTn8JAMf3bgjkGh6+d87Gdd2ls57H
35/0FhLL9oOYHFnoQPTnoABMgXRjc4dz0khYsY+A0bew52ITEP4wSYITfRu07M7ASAEYVwD0RSHn
dIjW1lkZOdCAybPMQ3UKt+8CTJTIfx9s8HnrvYcZZTWyB5pQvHCAr91p+8Sw3EQMy2SIeRDHWJy1
kyYH7G5h7KB32Gquu+SqzhuUhJsbqip+kAdvaT7orcEUROoChanYF+RB2x1wt+oN7J7n4oXuxIPZ
XuQz427Gu5PMvwbYm/PSd3gsz92NTrqtzwkQ0VAr5YuTf8ynMCAY9EPtDlcqpVfrW5mfX3RY7UtV
C9/Bwj3rYIHOYDvE0TKXq6+rK9hGp7uAgns3qzX8c2G2iIrNwTv+h+6kvfiN7Mq9hrMnx78diTQl
MmGTnA/gTY1pWo/ENC0S3wYvYau47jh9dIJ8cu+RW3ZWdV2Fzniy9PgNteb1BRU0KvJSclAN3zSP
zpt8qgqv9uh66tWDfbEaiWv4xQDh+YF+Dh0EbSdxHCtQyGN7sR9692pd7VKdsYhp8tYaTUB3QhAD
Fy8kepmqAt2DyNWArdkb44pjJtHJCPhdYV8Q/4TiIAbR7fUrUPhRW4bV+Qpv141/m4gzYCGXB+5Z
uqevUHMY3IsMfVF1p62HkLXiel/h/Z7cm5atgDaZwuMYzXec5QkmosiuEBOxeQer63AZil84vXeT
Iyd5TYfEb6L1vZsr0Dhf5ldyGu8l69G9m2v396nhMoGhlMFk+TLcdP363k1MI960MEnQBY8Q213t
Dr/6H6bjgPQwztkjPRwIFEz3aUgjAbYAcB1ac0tmnwejqHeK1lVTXcoeiLWr6cBCB5fjftCWDKnp
CcdtEtgnYETa2HR/1BSqjKO+4s21L34DRIul46ycXIAODDMBERNh/NgpgaMLLDE+sohc77Sn/pSQ
b4WyFmZDXffceCgyYeDHwUKfbGKBWZNn4yI7o3ATBKAm9lScfrR5Osjqp3wf2AWQlIW+1kk89tVU
sEpaJ2vhaOROfg46TnNqFlCTtXS3UlmtTtVIAGPOSJQDdZ+S6CBjvpZKWAx52TFTTnBehn3p8EZl
55sMC8ln4nrdOHcn6uNm8HiaHeb+od32qMStgRp0TBZLDh/mMMckCYN8A5XD+hA9R7bjDFXuIFAS
KQCQYv7iXzygm57ZefWLBAy+JR6AsZtnmrfqgFlOU+8kWp3J2W6805W16+Y16PZjTc1ajUzqlp8v
iIRdbco7iRTIHrTwRBem0GXnmIWoa/gGzohiHX2Fpdyol749iilJCaYWOk8G7xkuh+4ZUn+wnKW/
O7G6e4sSL6Xd9W9oloEeiL/8i+F9RaznWvSucTheSTwhIi8m+8B8FyS2T2k7+QGtTVXpcBVzwOOF
zDTZeR+B36ifL+EtafiqDfdvpDL+DOWycrDBeLbYC7DaOQzWmgxY37cYCAIPOfJqaY1fEREjZbCG
8qge4gV3r0LbXRcUmfK+qYDNdddxNB4zvDHJMeC+nGXnGJ2V/Kg47Ik/5i38G4Q9RRyoWZwGKgFe
xtqCIr6rZTGEv/sYGmNx4K672Ab1oQMxIFYPjwwppxe3s/qwsj9ALIm8136HQcKk9CLjLUD3+Ypq
pe4tyK5T13IuwIjwCj3ksL0YX4yorwDbOiRr01ym+dJOhQOhvLlw+zKL/Dq++RkFb7f4sJQmvzi7
7Zigqj8iKIjcl0FnKO/UXQ4+IcP0PCzbg0FwbrJbDoMqB3RIJmIwseX5LdhyhDmi7Ax76lBTFahl
Rvl8a7XBXefpJOHeozCH206ZKg9MeUwvIr9a30eruBBqRj4SFb3aHEw+Z9HkLDEJoJu0iVrbWC9g
0Z6rBBsH5yosHQBpimPfUA+bUkEpE3B/MwsUYUwvSpmeVowj2+hXVcelgfOBj1KNee+frDoeOFeK
85QmJMid6YbuvCW78wAetTgJOF3WWrebn0rBVEyHNjU2fMpZFkwulrCFzyS4hfFLeecVugURG4YC
grl3fl4AjZdotd2FtklvPMrVPwCXEmip5GMu/aHv5zlSkaKHycajtH5Nb7045EI7SZxVqe1q8MHd
0HLUKUYmwb+8IsLJnqZHWusLET8sSc4xBVssKbyJ4y7wdv2AaWpTs2FPQYzE8d6J9YgqpSkd1jAU
2hU4HSCg2zBrMPFPfi00Yb0LMcw7Jyn8Dd1uxkZ+vDva4INLQiecafPIa2M9cnsPzBW0H+mTsyFM
Q/v26VDppiX3AH7kZBFDQQjWIY57T8ccbCb6W0oNZVtTLjgwrL2FWitWfmBGwkrBvRtnuIQZa7cG
BGGvEAx4EZyd/SPluR9TZSLMigoA+HFCHIm2PQ2Lto6MdXOjTgm+AogJQ10eqLInAC5hkMsD52wO
SsZYlRJs7T0QXzjO2ZHNzAWNk5BF1Nl06Wbvwg6+ELvp7mPykaePjfOwEuNDqn6AI7ivngePUV3I
enAK7JdWVfVhCJ4r/PNEZQzDHhnKV5SBbBcIz5T1uUy3a3f98e4J/O95lfectwFvQGdRWJ2c0F96
Sc6u8vZb9Ex/udEzTVU8MPnkkpg3cAXA5YiilNAbB2J7QvzvGJ9GfPpWobvSQVe8B49Uk/1kJ77r
S846l/OkaUrdqWwswIY4GYuJpEKQX6YPoJM97xChIR7Fbmxvbt/h8nUqf9oesYQOFyKmru9zQ7wg
9wBXhsvimFI+UQYqbETPNBnuZkwVfVf7n2yeNutDBnJnPOxYnAy5krecJ+zsiN81+VSgH5WjuXBT
542Oa4sBwkjMQWIUcqS6Vtex3S3KK0RM7ISviQKWw31EQUlANPeDAcKIsf0Gl+/nDi0QV965hesI
59MLt2SLc9l109JSwVqTtza+hjE/TB8nHuRNDlzCgu+rBSy/hhHDvBu6wJJ1TjZWxnTC+bTRPY+v
wLhUkVThiQT+Vl58t6iV5zru189zhZdwvvNK3YXrNHOtuzZIaAUsBUgZ8zoBU+0Ac9AEOL+9ruJn
CgtdlmZA9iyXho2nGa/v3dCwNp4v6MafO2UQw/NWNOeNdn0nPK35Lg6Nc6TQPzlntN48hibKhzNv
bnsaIywKfkAbZ4pX1lXsiRM9ktc/YiS3bqMxqCnqqh80/d++5D/yWCkNToV+xLFSCEJtoAIz6S9P
tkvOwU4neTMpFGsDjvNdXHQ+g5kA6/lTXCz9UrCHH6YPNs4MY3oxnzDK2X2lnCFnoSMam0A4vXML
BkjMD2fwAPmaTcW5652IgQS7S2Iv+fy5FwHbzDptF3umi8+cc+lJP+ePEpgjqVVeTquVyu/m+pkJ
I54WpNeHrzoHJtGedzDyQZ+JTAa7OxCgH2K0rLpHlNMdrKbjrP9/kU2Vhh6vkpIh8Kg4ESwqDyjY
qQxlu1E8VQksjnnv8y/2Rn7Go6k6/YqURfWDTD//nBizaRyaEaqRRX/753+NbLOvVOG//19Oe/vv
/xn5tsNm04ItzDorb+3XxV+e9yscG45BYQB+VZc0pssq8gAE8TEW74Yx0iU9mv9anUiaBeAeE475
VAezvzo1Lfe9lha1OJz7OjEwnt0PAVXgTn0Eat8cDH0kNoVSnarbCgTY7NG1+H//pYooBCgwAbUV
aY+VAwtlwPg7/Sy40FZV2Y3U6kRtpCe4/rnO8NzPTIQHd900nhTtSCUmIQdVEH+9hfq6qRuIDXAS
5LYu/RXttlM4uragS1kaTjYeyxEIHt/ERiXjX+/YbtJ3Y9rz9OeyKGL8GcxRUiJIwEU0GZeLuTsr
nTKUWoX6Oht4TlpVOfU0I9LdnTAY6CecX1Ubo9EPOL1tAF/t+7vpeknkvh4iUBwZ+sz8bXrgj9R1
VbvxNjwNtQK9xK9413MwlSfGOQzm5xzQ1QYwNRRXHOzHfiOT47S/NOqGGH57xk/H601PB7za5l76
QKzbJzhKZkO0JpfuNRi5TDFXjMp8Qf4gui0Xg8WGCag+dc0C1Cz8Rox0kqdbuqSMxa5ydU1JOVK3
eRi4DK/tBhig688StYe2u0TSQwNTqc29OyeXFoNM6AnhWhVdB9Un3h4cYXMUnf/xbywY/uN/OfAd
v3s2ncZc1Qo010G32ZXIrSZV01BKWWi6aqrSOcByeYqrxm9MZaxeXPdeeHeMaf35kzgbXtqv3US9
FJmuo+0aHVnhcF0c4l5HyalQLn2rm27JeZms6w2ZrDctdX+h68E1/oErfMv1/Smru1lekLz8UK36
u/cTKC4GJeq356lrtklLEyLQNeZYgvgBbVJ88g4EsvaVepVP+3LTFlujnry42Cxxu8indnGolR2F
y+F5XegyxkjTMVQfcuKzAoUvVc4a82kDb7VxRs9d0YoFPuHUOb2+jazDqp6oOyXc4T/jezcKgVp3
osq+KPBQrIfmy7jcHB4FuNHVt2Eux0s1vGhPfXRr7Gx5HWDueAZoUImm8aiml1scWs7U87YxYR1k
AgZaMlw70JA8kZFs64C3sZZrh45ce2plbyCg/AkHYD3RadNefWJbq2uCPAEDyh5m8OKEYb3tS6e6
g+xNLvu3+b0gdjc7GAHypCJVctJ/URvvAq6f6VkuR4JTjN3ZkCaHE7pnGHOnQiAQAyZfjp5MeCbn
TWfoMJ9TecV+5Jqf7K2XSEknl/dT0VFk29hknCOdzyLfD9HnrH0ql/wxexx6zh+6KMw1LSq5IOBC
nsPhiO9m09ci6Ft4eEEbM2dTZruusi4dvr7ufd+vKt18wi1D8T0Q1WzGWQ95HGP9iCn+gtgN54MV
joxGAON+lQTs3sewTfD1/gAEPOj6jbhP7/H5Qf+wij4oqDP0Ux5YzPJLK6FlWBJm+YiSIV8RQupV
VVEzTjoQrOadhQ/mx6KkgkG4yFmnE1lRIkLN1KH41vmU3DyGmJrE/a0XAuENqAQ1fqaQbj3qbNBu
TsTEbe0LDa/Pp/hlQuDFkpQJmmX0mY61LjIMZ/hLkBb6hvdByFCQy/HQOqqcpSyrrn/JMhwVP0Ve
nIsT061TSAaJqrfkityQ5sXYbz9fnDJnUi0qsF3CpOv+CHpZ79xvsA3lvXPf+5nvONYDg9WDzwmp
GAr1CTfYw+aLnGOM1acvQpUTlRrU5szTAd1M9iqpxrMSv3IHE3nZgNoT02hAn8duB/PTISN7SylH
vcxat/rMTh/ezEPaIEJ6KZbsxA/7s7WnbnMRqq6DiZT69xw5a+fcF8pDbQcSeJpOzVHNZ7M3kZB5
Npngl2DPKj79FWeYzURn6GAhz6eT4mauP5l4A3x1vRarBvWbxk13MucM57q9lXa2zNce5pRkYO5m
WFc7c+58VmYefFbGx/B6KGPCcFqUeT99rLoBMZxHZG5ZKH04hu4nGEL0jXx118YNODseymBh9QIe
BrVDTOG1NLoAAxK0E/oZ4xHk+OFQkgp9exO/jzZS3z2gRGb25lc/Rc7nsqGsw4ymtl6IXR+El64w
CLAcBu2yV7zL4jNjX63rbSbm7cbH4MsKO9LPSYpTBcj3lw/CXKOC9LO7sEkF5s9dBPw9TOjoqR1V
k5/nJUUETYiLplziheQsugtDkfobNr8Y6U+wHN5E3hdf8DROffHlK6r9JFr/wv8SxS9bHo1KtyDw
6zb9zB8K9VE+x6Q+YppjLj7F9VvzJY2IvjWAacYboWpO8Cs5rRxRSErWfFLXhkDJqZtqgh9kNh/j
hfb2SafPU+3T93ktEURsq6jDawsnPeqAr8GOP8LMHU2cjPzK7hDS1/Tjg/kqdJzYyvbxVM8xhVGA
kX/vhtdkzbnNVAZnNI8OESfpdDGvgccQA7p3g6u1Tk4Z2EnPl+xhHzSorajfPhKbdwA/EANkABb+
vniEh7Pa9obfN9EV/LuXPl6vg8F9Dr7Ob92D7jmD8Sx7b/2ZeQ8o4c+r2ibIG/5K9DOwsiO68Die
QO0TSiSq7guBPusp39sV9aHPHRifGEeGmiGcy075d76+fjXFjoynCkfhrZXVI1GukJfR45/h1UF9
ebDMlvl5BlPECNr6rMJA4FWT84EgHUR5GRAIsK+3Dl80NHPKtvn5ADwFWXh9dJnJNWzPtMyr4DIF
cJ6qLK5df7+tSjeigKBy9f2paIaRD9FgtarOJjnJHedilUcRZ9X02nfsZL0eiV5iv5iUMEKcASWv
5OR5NQdtD31D+G30AQ3MWUQnPQT1w6mE48H8EX3TjN27QOa5MlmYrPmSInbuhgcFuvXNADwEdY1f
PhuJvS93bb4r/wLFz5UeF9h4aKfQN16Nqu0kmj6wJcq0dkp4n7tZOsPcxp9JBGrpfnsqUFsP1Qu0
YPO/yHdn+lNMeakiPBIv6/7KtUcxP5TfLtYfERxkHaUJpOfvs6i6x7sneJcY1+0D6qArjKkPEqRA
U1SGV/7uRXjlyqXj7VreVht2IG+HT7XrJK14nrH5PJWn45md0+esy7zNz/IC9i4HP/S8IeR21O11
ZujQMnc+Gu59anXjuSuYOqTLqc+NA2fX5icGoOLN1mlFH3tvFqXgDxSZbHhgEcE88HtfnJ849YMd
ewMCpdSxSscDQ36Cibt3rfbKCszm++QDSWg34WLgq1fWZekmAv8Jd6+9JQo+XBXhWPljrluo4Jt3
bxSDeq3TdhGboD5o6RTXOLizTvDf/w9QSwMEFAAAAAgAAAAhABgfHe3bAAAARQEAAAsAAABmYXZp
Y29uLnN2Z1WQQW7DIBBF9znFaLI2OGDTuDJZdN9VT2BhsGldsDAN6e0LTR2pEkLwNPPmQ79dJ7h9
Lm6TOMe4PlOaUiKJEx8myuq6prkC4Wp1evE3iTXUwFleeDkA9EGrCMmOcZaYGczaTnO8n0MuPyMY
uywSj41phG6R/ratQ5xhlPgqgJ0UJ6xYSVe18FS1GycCOIiyv7GMoQMmoNtVzjuNsMXgP3QWG2P2
W/WXhBHxQIt1Wg2rxOC/3PgPv3vrdn7PpWxQiwaVk7OsUN8S89hQjM3jJWbU4jyUjr58zuXwA1BL
AwQUAAAACAAAACEArISzYF4JAACvIgAACgAAAGluZGV4Lmh0bWzdWs2OG7kRvvspmD4kh0yP/IMs
YkcSsDC8gQFvYGQnyJnqLqmZYTcZkpKs2z7EPkNeIfc8yj5Jqkh2N9ndsjVxFgFiwDPiTxWLVfUV
q0qz/lWtKnfRwBrXyu2zNf1ikneHTQFdQRPA6+0zxtYtOM6qhhsLblMc3b78fTEudLyFTXEScNbK
uIJVqnPQ4cazqF2zqeEkKij94I6JTjjBZWkrLmHzYsamUlIZXG2ghYSVFIfGsZqbx0DhhJOwRZE6
J6S8rFdhgpak6B6ZAbkpBJIXjK6In1t+gJU9HX77qZUFawzsN8XKOu5EtdrzE+29x+ViwsO6iwTb
ALgpkV+5r6wNJLYyQjtmTTVu4Vrf/80WrIY9mO16FfagZldBteudqi+emsZgWCW5tZvCKb3jxvPF
tVqc+oWd4V0d53FFtIf8wPQijEtUXMGCFYqX3+AFgNToPw88rOZdxr4kQxSpbmnLZ/bb467Yqg51
BqxVNUi0k212ips6pV2v8CLzK4W7loYkG6XaHZ1TXbRdGBRM1LT9Ebqyn+nlcB3D/+WhURbtxI3g
peQ7st8P4Ni3H98zT4caEHUN3faBRutVYDMcSlLRGajBDionkhPSqZo7XpLCYZzvUN9GoUcXtHC0
vRDihFNaSeFguNxEibXqRQ7C4R3NEXfneu+JcvlKB59Qa6MUP//4j4m9Eq33H4P7oUc+o8FemTZR
LQ2L0TjjVFTdggFpj0AJTJGqMpXcGdUdtg+NsMyCOaGndwC1ZTzY5R5lDluWVdQeHaDbv3fszJGD
4wbH6NiuYesKPW5bli5Y1I/u2UMDgTPDEx8BcSnQmej4nVFnFOE3lkmFIQiZKYOR4f6q1ghmnT66
REV+3AcWjRKelanRhkenKtVqCeQZar8vmNUgJcay6nFT7Lm0GNK05BU0SqL+N0XimanTJtMG/n4U
BuplZCD0WuFmONAGw525TJDAT71SELXIOHpNsX0bPuR4SLyF7B98peUiuCBGtj482eCKvQwHI2q0
hh59Aa0lKgkDlDAuhDhR0sdUSAn17oLm9os+oqegyWMk0ZY0lWyhTS+9fBmL72mATv8y2znAKezd
S35SZlClxtBXbH/+8acZDAfwDDN93IiXIgYDn2zOy4MxedupGCmlQl515m7EUPbkj6f8erRvXbvt
B4Gx12Bsxs/ruk6Ol2Elyl7X2wnzhMlf9HD8lMsxLt3C5iO6p/A+YBc46XF1UEp3bG9h/AG4WeQp
/cJT2X175oJiJPO+tiQqdLWP5E/j+0OIaEftRAsZ2xDryrByE1scyjEIReR47F2FksGH6BqSXGPU
8dBguPo6OM35PAwzy8BKIzezLSc04ZRjL54zeyOmIg9/QQzbMySkG7LFBfoTl0dgpHp/IT8XXTO+
6IafCZrBMLmpF/h5LeMjnV7WnrmrGhZ+jdyvv+0JNtiK1DJ1sSWf+9pbe/D8QneOvK/fOCD3lsvO
YuIoDHIyj+XZcJ27BGa94zWpXBlfRk/Sp2iYNudP4+jMmOVQRnB5wzBEk4rYBTN/kv50uCLbjTCV
KFRXXa4htV/+KphOmHwIw9sBGuOVFTXcsfYWmDq+G+8Zj89Fc30Vmc5hMYS5m62UDiXf1KlMifUE
MvqzQvGiGFjjNTMy/bvny/OvX4f5lTO5k83kWbu+CrsqoQ8+EazxuLpXeI/zEkVZCPGuXt78+vWV
zROBl2XxMJpJ4mdvkyNuvVUKHOdKwgmy/DI+90q5TjmsBlPnWsy9MIGlongHxqbZFqPCiSWL7F//
TKjgk6acOKOIc7huv4jTMIyJa4TtkMf6A1rtLqHGKzIU+4W+FpqjONDlGE41E9ZJlcWy6sIG0WE1
tIjw7IA/5VkkhaoZ1vVYyFMtdNQ++e8zIczssQbzTO4Z5jGCS2EBt1yGoq0yQFlNHDEk6FcM2sjM
Kzf6F8RKCrQaBYjVmRfAYqrFhGMKWWDtpScy+0pRY13GtKgeLe1EyXd4BWdB7u8oOhuga/tCEuo3
WN313Qd0B/y5xxORsLtjoXXlGNYs6PXWXxp41eQSgzOiYmpPR7BQDNx5UQFFvLDxqfaTHj/MNlhM
kmS+uoTgtR4Y8zv1Fu5Vn2HjKQ0BtBCG2cF6HQu5uq/89fX3Uw01BZJrm3uXFJOY07zavu/Q/6X0
F6ukgM4xehjQw15dzxNsJ1DLbpKXLO6ZP2NffJ4aIC/KH6WBbLFlNCmMA6OQ+2A4vYzCiHDbPC94
i1v8/eMqw/K+9R04Wpn2j65mbcEBDISINzlwGwCihR5O8cBiBBlf/oN1NmIHLWxgov2FxE0vqu+7
BLsTVD+//+b+xR07NwJzuYZbwte5AZABLR8vrkHVvrp/HZwfwyKCY3cUkkA8uSk/cLoIZZ2oPdr/
NpDTLJr8DZvfuAo7AokFhxWTUni4l4H9mrf6D/4HS4gmx5Zlp0ovUimsQhF9T4Kuudn46y0q9I7M
i6K11Lpme6PaKF1UUOgnTcG8yvGyCJ9QXPfR9X+ImmC8Xwg2IfZcQU1YZMPtvh408biImSeA4iaT
xUZG9IkQ4v0bRpexvCVZ/m8NSb3JRSvGly999v6LBrXwH1jzaoh7h896FJJazZWijLAPSMllKDa0
mDP56EYPvqjZDnAASR5hAWx41kkjd5OrWBW2hrzBZxiWNYAcKCtgaCkMM3d4oDoYsBZDOlXjog6B
SYOhrirvKvh8dFmvlFzs5X8mew0y2dL231jMO6xxx/VMNdJOvXTor+YMvg9Dn86x0AZL89Ck19qL
dtwVixZM9MVGfb2JWdjUtMs2I4PGHt/1pv7QtA0SFVn/up/c3qpyFK9zicazmiGsXSn84+rEEl+u
+oeKIKP/QHoLUxMTpEVGJKEn9kpdFrdQFbdop6Wvt+aR6frXeJr7gDOGp8hRk+2hHr4tSSPSR6IZ
8+wgYki3MTjS4jwWTSrAvH+RfYtFbKY9pby9EQ68qbsxDXt5d2Iwa+n7wtsHDxgs5m8lexSUg74j
eZ5EJ+hLtPpJJHvgGOi/w59HNM2TSH1HYfxy4Om0fzTqiI8OVj+ueTr1O2OUmZPd3BFKcEC+fVMD
JIFO7BTkkPOTLH6d+dekCE87wcNDa31NlznwUjSiAX0x13+di5g1aStmoQ0z9gSor8L7v2zgWvi/
JMALj5/XK76dbxsiZDr67NZVbK3mJP0skcYvG0l++huJoHAErf/zlH8DUEsDBBQAAAAIAAAAIQCN
U3viOA8AAOA4AAAJAAAAc3R5bGUuY3NzxRvbjtvG9X2/YrqBgZUhyiR1o7RIkCJt0AJNUMRoX4I8
DMmhNFmKFEhqLzH87z3nzAw5Q1K7kmOgNmwvz9zO/TbjD+9ZsudFI/P8haW83sclr9IZ+3fOZcF+
+PhxynK52zeMFymMVw+s2Vflabdnx0pkoqq9pMzLyquTvTiIGXv/4eZmW5Vlwz7dMOZ58W7LvskW
2TKL7gmQwPYIol8dyAsRGGWbLFbAuKxSUQFQzMVKJAq4qyQuFokQWahAjXhuABSsAh76CnQ4NQKn
LcUqWq8VLANycF7EN3MeKBhPEkHARbZYiaUN9Ooyg5FqF/O79WbK1v6UhSH84M8Cf6JmAgNSmeB6
X/Cl2ChoLnhV4EHxMslWGu2yRHyCZeTP0w5kHxKGUxas5nDSgg4J9SExx5VJuAj8pIU4C+ewIIpg
degsfFJoxIvl3Neo1Xuelk9b5rPg+MxC+EM7BCugDTZZ+LiBv5xM9Yz5mRkLfUTFU3mqtyzwj89a
kkGPmwmK1U83i8iIfw6AdLNe+5o3yQIBcbg2kkqWuCSMFokGHMqi3LKTpB/qI0/ElN1+/JH9BJ+3
U/bxR/zB+0XsTjmvpuwnUeTllP1QFnWZ8xrm/kvGouKNLAuz5vZv4nf+3xP7yIvawNrd8VRbqbfK
Au5vPt/cfH8AmXN2N6b8W7KPCSl+ZwKtEfhp4AfEFssMgmWwUWrrGELAgyxcG3BrCuEqTOYrA9bG
EPoAzgxQm4NYi40QBmgMYhPxMA4N1JjEKl4vohbaGkUUR4ky2nGzCOZgDgGqRLiISPWUXrimMY/i
tNvFGAdfR3HGW0KUeSx4KiLfBjpWuEALRCsJI0vROxvJ4k04TyyYYyXLAJEFPV6RDgfzdrU2lCyO
s3BhgMZUirJouUjK7XKF1DtM00XcCoAU3N2MVDxbrMO4lR0puc2boSIh/DPq3Hv2icXls1fLP2QB
mqTUAbTi+R4m3OybQz4FYPoC8w682kkgx6chBYR9Yp487MBtF8CoR17doUpOWj03MNQdgmYliDrj
B5m/bFn9Ujfi4J3klHn8eMyFpyBohGJXCvaff4L1/FLGZQNmd/sPkT+KRiac/SxOAm3tZxggS7t1
bVGD/lpJDgTU8OXVopJZiwEQDLwIFsq75LIQ3l6gKQJwtlAe5knEDxKQpfkHMLo98QgjGs8lr0VK
djsrToBww+McnMfskecn/BcQER59AOtoC2CEhLUeTAdUki0uQbeCgJp4mpQpLAUFN0sMnxQP0YtM
7m38/dkmFAdcuy3KBj3HhH3HcJszolFegARhLB+9MXgzmRrpEdya0vpizawjT1NihK8ggDgHhB1x
K5MGZFHuXiqSUglGaz0gzLf78lFUsHAwBfAVFYpE6WBItHTa1xPhXGFFoCctwpVP03LRNIA/el6F
MMQXYBeM0JlNBXqRldUBjjweRZWASAeKS/5togRNP/dJ1RMA1Vl94HluZKfRg1CoxiqvLHJlMsey
lopUHgPrYYN79iTTZk/SuGetJuJHx+77lgleoIhGDmY5OpO9TFNR3LMkl0fwSyJp7nxGvwG1p70E
ZaQAhAJ4qvjxvpW/j7T9qtb/Bsinsj7m/EVJiv1FHo5l1YDekjA+vAcHY36xpjyCjlU2CHO0GcAR
7JJag+E+vBDzy6OW4x+eBFk/bxkZXHtylgsiD6xsV3iA+wG0DxVKVAj+/QR7ZS8QIAGC8YQo82LR
PAngAczYcTghWCkmGW4uVwP9DbVK24aivOVBPt9BklqDh592bg2SoXdg6qg3R16RhuvVaVUevUzm
DbI0zk/VXXR8to0IXFhTHl4xN9CRuMJM+FOPEaNs0CRidsQOsvC0+pBv1vvIw87eK87L5OG+b9Nr
rZ60xCv4ofU9xpbWYEuORtOSvml5YFuBckV6r/oUnzOVvvmOK+hQuclqO7DIQdlrSb5T65xXUUFx
NQvRukGdCrAbDB+fbG2UBYWHN5SSNotcjZvr5NUSUDDXWjhQ4m4rS0HJfQw98WazseGvO/HRIDC5
xI0ulRsd9YdsVGioxRYfZ6nOVDX1ke3d6KNH2NJ/N44zJZQK6RwdhkqenNN+TXnDvbqBwPvtbS4f
xe1vfQXExG/SHqqHzho8zWbz5bupy1Xl7F8/WFE+QkiLwrNVM6nfzgReyIOOh8dTXgsW1qCJmSxk
I147H1y/Hih2QwZgQno5A2g2VGZXMaCHwFlGaFQsOmOwswcW1BAqxLG+g3wctqyayUV0nwp+avZl
BdqcDumGlH1yxeqzSJt9br5/EC9ZBe6y1uJBLfffmXS6J9k3VGy57EcVOIKB5x3fDzyIPVtNDvyz
p/fmfraRVzyHJKyEvx5lLWOZy+al87mfYUW/MoUK7JSIFBJSJTj1rarTofnbIh7JKQZZRXyCSAm1
M8YwzM7qQX4RN1/kol9xueS9V29673U4SCFcD31NOr0e5h49/3y+gkKS91BFNNe48VNV43bHUiqy
PxMn2zz8fLXA9MysTE61R1qCtY4sjqfGBcI25alBYWypCWRzoq0J9AyvzLJaNDTRHPEr1khY4tdQ
XX1721Qn5cWHuFlNg4FD6503DlUHwlmgnNXLK2dcuD22Hfu7jvL2rDPQO6ok8xvf9zssd/uy7nuk
nlnTPFOBGB0OV70EcUXpzkiBghnUgyg8tDhVPF6Yt7JxN6klc/PZbCzBLVSu2Rp7xX89zB+2TGUR
r2dZxuQO/LlNqyLfWKupExl49NIxVlynU/4eVt8BTo+Y+FJuEcDveajzQmceaTzR0HcSGo9w5Q89
hP9/9hADDwvMBxvsu9UDduU/fQFfkVXEV5P/jgs4lZWKC2QCp0NXqRGvEU1EoY3LuWgdwAwJRt+C
5QZGJ3+2Du+VBejyUg/ByJwKgrNbicOxebH3CnT6T0e8zu7rRajG1Zce7wK0GlRfE1dVMcYH0SAA
+SrnRb+8FzwdN6c/WTaHtsA7+w87ZBzvQp0R7Bd72A5wEEIo7UujwPgcm2JK+IAabAWqdudPWTCb
L7NqYkOGnwN16U79rtWQFjXl14Y1pNVot/Xcx011BtMRcwHmI3hSPuYgdyhTkXsaRRpQW6Gv+cC8
QKdlQ7xWiy9HS+NhmjGOS1oo54ZSRqO3FK8dccp4pymks7ZZrcz5Uk2MeS2oq9fXtBH333kb9NmB
7+jZQTSVTOqrdK0SR8GbO/RdXiabqeFVGMHeil9DBeu5TZLiIBk9Soy4I9moarg4jhJo2bxR0L+e
6PRdvklCellgeL4neq5q1yqa81ox9mz/uXfU8vxR48FpFIGRVqbp0o70e0a8k4nqD49fohbzac92
Jo6Stq1EqwmtzkqbS3pcJsHFBanTzcbN/WFPe3ml/K5k37CRq+7dMbn5wJBDRfIyUHS60ajKJ9sd
EHvPMRcYiX/uLWtHLgxvRhTVYdSmpi3NS3+81Ui3Hr1bm6DbPeexyC+WzMW9QpVMK82jJnbb3H/i
TbKHA9twYje65iONLvdgx2N0G5q7ztHiRI9N7Pl0Bzo6m0b0XKgZHsjfWvFyFfZp624ucP5IJ7ml
1X9nXVnQV6d0ui5UKZbRrE/u2q66yvmxFpQe0k90vFnU7Kes+0jtoAV5Ml1FKY0n+YFp08X6W2UM
qu6kdw6Gs2b/qvrYpfWoqbe70T0p7WYjl4usGdvq3M2SQ7dtM/7QZkK/v2R2KmQzdi91IYFaLRDp
TuezsmyKshHtzbBWG51A9GMnxWyGKdCwn6MH7boqNH3yK2oJrQ+drJ3CS6E378lfHa0q+14dropX
jZudc/eDj+GInrqfu5fl/fvmoVu3Fs/2snhbVLobPn5vYm2mvawbXeaLseiyHL0xNb52eEeunpuY
74Upg79KdHLxnxWD62VDvzVV5amXaXhLRfSVLp9aJdnzqnH6CFQsO0WT77pZQqG7Ja0E2K18FPa2
9ePuK7hfhZyny98zt9CyoI6cP7S88bD4Skv1Ig3u1dT4SFD0i+p+6NRFJ3IFZdJ/K2HaHg4C/mxJ
lge5el+HLnubgadR9YFmAEfWTVU+iK0bRRSwrSkBsOdHyJkEPmgge0oqYOrf053oNtUbKtRUedXb
Zxa1IJz8e4mOhaK7A08wRdFgvTevBLeQVbtbTZQg7GijdMAly7BIH4LS4VWFKhGy+Qi5A6+vlI3u
WAZO3/RhuuoowneBlG6HVsZUNy85PVtC1SBFppVe+wDpynZDGFLFN1eV9bkWA3azFrr/4mg+XUnd
j1frG19V68xB8eJqvaWN4ZuXwRsVJb2zF++DrGCk/OpHrpWOXOrUoxW3IipMVLyyKFwvkj2teOIS
L/iuuWmP9GFm6RddDr/SpUdJWZeJoPqQyoH1rGomeC08oBu7nu1lYu8iTM//hMe4rcZweeU1GOvR
2L8B07Kma04YzWXdGDVXw1b2YD//SYBsFH4lyEvjelc6K9O0Vlt/B1ujhY1EF5MrqZxuHlnZf5s+
RUqL1JmySCpxUH1DOtc5ZbuNBWipyjW6YKDW3uE81d8cCTkKA6CuexZkmukLWyPU1/h7gT8Zqt66
Xbqo5aIjTP/pzE3LJycvVIV/1L+MOZ8fqj1mdSGPR9EMk1A9qx1+q1Xd56QyuPNXgMOEqK8ure4p
HEyy/EWycVvTnRGs1CUD/RvYCvHWNZXNHPXAcszGVLNnYXeOPUjkVBLXS4CXy5GHTMMI+Aj01Op1
6DAE0qDpC/fLl9Y5q1lNWeb1VS+bTF1Ch5uCf8wZtFk8pfGWqBXhdv10lr9dx9YLIgfzK8p9ham6
ngIC5bOJ+JqL2AIwP6tGmqMZpuAbVNpfre14UTfBvh4MdF+ypWCbyQrcfbKXeWpTY8MtZVDesc9R
2Cbno7t0YGuTyi537F1Mp2Psoabxx90jzeCay8jundhbjWn9PMG+GKMyhFSJ3OTwpaSmYJZ4jaQn
i+3zutClEWY8SHpUabKM1WCCtIaD9t63G4cawJqw9M90mizGpu2qt+dpAs51fuypMr30YbgJR70N
Mshxrt3iLcRUg6u68BmJFsaZzmfniPVl8vg9iYNmMBJ4TdDE06wmqkNK1z+96HGGmQ4qNvJYS51k
2q/OOabzetEpajKEoLEzyocz7xnHaS/HH8GNTj5WZcwvbpg7/cCFG6basm4k1SOPomJMm/VVbVfE
NhUTyFqFwFX6f568UnjhtWVnt1rbR+8uM/o/VCNPHfoPHToUIvPKIdQk/w9QSwECFAMUAAAACAAA
ACEAEvHWVs4nAABEhwAABgAAAAAAAAAAAAAAgAEAAAAAYXBwLmpzUEsBAhQDFAAAAAgAAAAhABgf
He3bAAAARQEAAAsAAAAAAAAAAAAAAIAB8icAAGZhdmljb24uc3ZnUEsBAhQDFAAAAAgAAAAhAKyE
s2BeCQAAryIAAAoAAAAAAAAAAAAAAIAB9igAAGluZGV4Lmh0bWxQSwECFAMUAAAACAAAACEAjVN7
4jgPAADgOAAACQAAAAAAAAAAAAAAgAF8MgAAc3R5bGUuY3NzUEsFBgAAAAAEAAQA3AAAANtBAAAA
AA==
"""


if __name__ == "__main__":
    sys.exit(main())
