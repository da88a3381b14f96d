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
import contextlib
import copy
import dataclasses
import email.utils
import hashlib
import hmac
import http.client
import importlib
import inspect
import io
import ipaddress
import itertools
import json
import math
import operator
import os
import pathlib
import pickle
import platform
import random
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
import weakref
import zipfile
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__version__ = "0.1.0"


# ---------------------------------------------------------------------------------------
# Constants and schema
# ---------------------------------------------------------------------------------------

DEFAULT_MODEL = "default"
KiB, MiB = 1024, 1024 * 1024

#: Steps ahead a forecaster is scored on after each learn (?horizon= at upload).
DEFAULT_HORIZON = 3
#: Largest horizon a forecast may ask for, and most items one ranking may hold.
MAX_HORIZON = 1000
MAX_RANK_ITEMS = 10_000

#: Logged model calls (of any kind) between two snapshots, and log bytes: a snapshot costs
#: one dill dump (~1 ms for a pipeline); the log since the last one is what a restart replays.
SNAPSHOT_EVERY = 5000
SNAPSHOT_BYTES = 16 * MiB
#: Logged calls between two in-memory copies of a model: an undo costs one copy (~0.1 ms
#: for a pipeline) plus at most this many calls, whatever the length of the log.
CHECKPOINT_EVERY = 64
#: ... or after this many bytes of log records: a burst of wide calls (30,000 new features
#: each) is then measured against --max-model-size within a call or two, not 64.
CHECKPOINT_BYTES = MiB
#: Seconds a batch or stream chunk may hold a model's lock before letting other clients in.
SLICE_SECONDS = 0.01
#: Metrics history kept per model. When full, every other point is dropped and the
#: sampling interval doubles, so a long run keeps its whole shape at a coarser grain.
HISTORY_POINTS = 1000
HISTORY_INTERVAL = 1.0
#: Events of each model (and of all) the event bus remembers for ?recent= on a new stream.
RECENT_EVENTS = 50
#: Seconds between SSE heartbeat comments, and between checks that a stream's client is there.
HEARTBEAT_SECONDS = 15.0
STREAM_CHECK_SECONDS = 0.5
#: Seconds SIGTERM/SIGINT give requests in flight and the final snapshots before exiting.
SHUTDOWN_SECONDS = 2.0
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
    keep_versions: int = 5         # past versions of each model kept for a rollback
    max_classes: int = 100         # classes a probability answer keeps, the most probable
    # event streams
    max_streams: int = 64          # open event streams; more get 503
    stream_backlog: int = 4 * MiB  # bytes a stream may fall behind before it is dropped
    # HTTP
    max_body: int = MiB            # largest JSON body, and line of an operation stream
    max_model: int = 100 * MiB     # largest model upload
    max_model_size: int = 32 * MiB  # pickled bytes a model may grow to before it stops changing
    idle_timeout: float = 30.0     # seconds for a request head to arrive, or a body to move
    min_body_rate: int = 500       # bytes/s a body must keep up, after idle_timeout s (as Apache)
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
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    role    TEXT NOT NULL,     -- 'serving' answers the calls made to its name; 'challenger' sees
                               -- the same calls beside it; 'version' is kept for a rollback
    version INTEGER NOT NULL,  -- 1, 2, ... per name, in the order of upload
    info    TEXT NOT NULL,     -- JSON: class, flavor, library, uploaded_at, options; "final"
                               -- counters and metrics once it stopped serving
    state   BLOB NOT NULL,     -- see pack_state
    initial BLOB NOT NULL,     -- the model as uploaded (what ?on_drift=reset goes back to)
    seq     INTEGER NOT NULL   -- the last log record the snapshot includes
);
CREATE UNIQUE INDEX IF NOT EXISTS models_serving ON models (name) WHERE role = 'serving';
CREATE UNIQUE INDEX IF NOT EXISTS models_challenger ON models (name) WHERE role = 'challenger';
-- A name's versions, looked up by every upload, prune and rollback (a scan with 1,000s of models).
CREATE INDEX IF NOT EXISTS models_versions ON models (name, version);
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
-- Settings of the served models as a whole: 'default', the model unnamed calls go to.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Concept drifts detected in a model's live error (see Metrics.watch), for the charts.
CREATE TABLE IF NOT EXISTS drifts (
    model INTEGER NOT NULL,
    t     REAL NOT NULL,
    n     INTEGER NOT NULL     -- the learn at which it was detected
);
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
INSERT INTO models (id, name, role, version, info, state, initial, seq)
    SELECT seq, name, 'serving', 1, info, state, state, seq FROM models_1;
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
    if version == 1:
        # Schema 1 used one seq counter for the log and snapshots, so seqs are unique ids.
        conn.executescript("BEGIN;" + _MIGRATE_FROM_1.format(schema=SCHEMA))
    else:
        conn.executescript("BEGIN;" + SCHEMA)  # IF NOT EXISTS: creates what a file lacks, only
    for pragma, value in (("application_id", APPLICATION_ID), ("user_version", SCHEMA_VERSION)):
        if conn.execute(f"PRAGMA {pragma}").fetchone()[0] != value:
            conn.execute(f"PRAGMA {pragma}={value}")
    for table in ("log", "stored_ids", "history", "drifts"):
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


class RequestTimeout(ChantillyError):
    """A request body that arrived too slowly (see BodyReader)."""

    status = HTTPStatus.REQUEST_TIMEOUT


class InsufficientStorage(ChantillyError):
    """A model that grew past the size the server keeps for one model."""

    status = HTTPStatus.INSUFFICIENT_STORAGE


class Unprocessable(ChantillyError):
    """Well-formed input that the model or a metric raised on; nothing was changed."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class Unavailable(ChantillyError):
    """The server cannot take the call now (storage refused a write, shutting down, too many streams)."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


def detached(error):
    """``error`` without the frames it was raised through: an error kept as an answer would
    otherwise keep them (and the model copies they hold) alive in a reference cycle until the
    cycle collector runs, which made a flood of bad items stall every client in long pauses."""
    error.__traceback__ = error.__context__ = error.__cause__ = None
    return error


class StoreError(Exception):
    """The database file cannot be used (corrupt, foreign, locked); raised at start only."""


class FileLost(Exception):
    """The database file was deleted or replaced under a running server."""


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


def _parts(obj):
    """The estimator and every step of its (nested) pipelines and transformer unions."""
    yield obj
    for attr in ("steps", "transformers"):
        children = getattr(obj, attr, None)
        if isinstance(children, dict):
            for child in children.values():
                yield from _parts(child)


def _truncate(text, limit=80):
    return text if len(text) <= limit else text[:limit] + "..."


def _method(obj, *names):
    """The first of ``names`` that ``obj`` has as a method, or ``None``."""
    for name in names:
        found = getattr(obj, name, None)
        if callable(found):
            return found
    return None


_LABEL_TYPES = (str, int, float, bool, type(None))
_BINARY_LABELS = {True: True, False: False, 1: True, 0: False, "true": True, "false": False}


class Flavor:
    """How the models of one paradigm are recognised, called and scored.

    A flavor turns the calls of the API (predict, learn, and forecast or rank where the
    paradigm has them) into calls of the library's methods, checks labels and answers, and
    names the metrics that score the model by progressive validation. Subclasses override
    what differs; ``score_kind`` names the :class:`Metrics` that score them.
    """

    name = None
    metrics = ()            # default metric names, from the model's own library
    metric_bases = ()       # the library's metric base classes a chosen metric must derive from
    label = "required"      # "required", "optional" (anomaly) or "none" (clustering)
    predict_changes = False  # whether even river's models of this paradigm change as they answer
    requires = ("predict_one", "predict_proba_one")  # a model must have one of these

    def matches(self, est, library):
        """Whether the final estimator ``est`` belongs to this paradigm."""
        return False

    def check_label(self, y):
        """The label as the model needs it; :class:`BadRequest` if it cannot be one."""
        return y

    def check_prediction(self, model, p):
        """Refuse an answer chantilly could not serve or score (see :func:`check_prediction`)."""
        if not isinstance(p, _LABEL_TYPES):
            raise _unservable(model, p, "a label")
        return p

    def predict(self, model, x):
        return model.call_predict(x)

    def learn(self, model, x, y):
        model.call_learn(x, y)

    def answer(self, model, prediction):
        """The answer of a predict call."""
        return {"prediction": json_safe(prediction)}

    def error(self, y, prediction):
        """The live error a drift detector watches: how wrong ``prediction`` was (None: the
        paradigm has no error to watch, or there was no prediction)."""
        if isinstance(prediction, (int, float)) and isinstance(y, (int, float)):
            return abs(y - prediction)
        return None


class Regression(Flavor):
    name, metrics, metric_bases = "regression", ("MAE", "RMSE", "SMAPE"), ("RegressionMetric",)
    requires = ("predict_one",)

    def matches(self, est, library):
        return isinstance(est, _base(library).Regressor)

    def check_label(self, y):
        if isinstance(y, (bool, str)) or not isinstance(y, (int, float)):
            raise BadRequest(f'"ground_truth" must be a number for a {self.name} model, not {describe_type(y)}')
        return y

    def check_prediction(self, model, p):
        if not (isinstance(p, (int, float)) or p is None):
            raise _unservable(model, p, "a number")
        return p


class Classification(Flavor):
    def error(self, y, prediction):
        return None if y is None else float(_top_label(prediction) != y)

    def check_prediction(self, model, p):
        if isinstance(p, dict):
            if all(isinstance(k, _LABEL_TYPES) and isinstance(v, (int, float)) for k, v in p.items()):
                return p
            raise _unservable(model, p, "a dict of label: probability")
        return super().check_prediction(model, p)


class Binary(Classification):
    name = "binary"
    metrics = ("Accuracy", "LogLoss", "Precision", "Recall", "F1")
    metric_bases = ("BinaryMetric", "MultiClassMetric")

    def matches(self, est, library):
        base = _base(library)
        if library == "creme":
            return isinstance(est, base.BinaryClassifier) and not isinstance(est, base.MultiClassifier)
        return isinstance(est, base.Classifier) and not getattr(est, "_multiclass", False)

    def check_label(self, y):
        """A binary model takes the ``"true"``/``"false"`` it answers with, and 1/0."""
        key = y.lower() if isinstance(y, str) else y
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if not isinstance(key, (str, int)) or key not in _BINARY_LABELS:
            raise BadRequest(f'"ground_truth" {_truncate(json.dumps(y))} cannot be a label of a binary '
                             'model: send true or false ("true", "false", 1 and 0 are accepted too)')
        return _BINARY_LABELS[key]


class Multiclass(Classification):
    name = "multiclass"
    metrics = ("Accuracy", "CrossEntropy", "MacroF1", "MicroF1")
    metric_bases = ("MultiClassMetric",)

    def matches(self, est, library):
        base = _base(library)
        if library == "creme":
            return isinstance(est, base.MultiClassifier)
        return isinstance(est, base.Classifier) and getattr(est, "_multiclass", False)


class Anomaly(Flavor):
    """Anomaly detectors answer a score (``score_one``); filters (river's QuantileFilter,
    ThresholdFilter) also say whether the score is an anomaly. They learn from features
    alone; a label (``true`` for an anomaly), when the user has one, scores them (ROCAUC)."""

    name, metrics, label = "anomaly", ("ROCAUC",), "optional"
    metric_bases = ("BinaryMetric",)
    requires = ("score_one",)

    def matches(self, est, library):
        return isinstance(est, _base(library).AnomalyDetector) or (
            library == "river" and isinstance(est, _base(library).AnomalyFilter))

    def check_label(self, y):
        return Binary.check_label(self, y)

    def check_prediction(self, model, p):
        if not isinstance(p, (int, float)) or isinstance(p, bool):
            raise _unservable(model, p, "a number (score_one)")
        return p

    def predict(self, model, x):
        return model.obj.score_one(x)

    def learn(self, model, x, y):
        model.call_learn(x)

    def error(self, y, score):
        return None  # a score is not a guess at the label: there is no error to watch

    def answer(self, model, score):
        verdict = _method(final_estimator(model.obj), "classify")
        answer = {"prediction": json_safe(score)}
        if verdict is not None:
            answer["anomaly"] = bool(verdict(score))
        return answer


class Clustering(Flavor):
    """Clusterers answer the cluster of the features and learn from features alone."""

    name, metrics, label = "clustering", ("Silhouette",), "none"
    metric_bases = ("ClusteringMetric",)
    requires = ("predict_one",)
    # river's KMeans gives its centers a random coordinate for each feature name it meets,
    # when it predicts too: its predictions are logged, so a restart repeats them.
    predict_changes = True

    def matches(self, est, library):
        return isinstance(est, _base(library).Clusterer)

    def learn(self, model, x, y):
        model.call_learn(x)

    def error(self, y, cluster):
        return None


class Forecasting(Flavor):
    """Forecasters learn the observed value (``ground_truth``) with optional features and
    answer ``POST /api/forecast`` with the next ``horizon`` values."""

    name, metrics, metric_bases = "forecasting", ("MAE", "RMSE"), ("RegressionMetric",)
    requires = ("forecast",)

    def matches(self, est, library):
        return isinstance(est, importlib.import_module(f"{library}.time_series.base").Forecaster)

    check_label = Regression.check_label
    check_prediction = Regression.check_prediction

    def learn(self, model, x, y):
        model.call_learn(y, x)  # learn_one(y, x=None): the observation first

    def forecast(self, model, horizon, xs):
        forecast = to_python(list(model.obj.forecast(horizon, xs)))
        if not all(isinstance(v, (int, float)) for v in forecast):
            raise _unservable(model, forecast, "a list of numbers (forecast)")
        return forecast


class Recommendation(Flavor):
    """Recommenders take ``{"user", "item", ...}`` features, answer the predicted rating,
    learn the rating, and rank items for a user (``POST /api/rank``)."""

    name, metrics, metric_bases = "recommendation", ("MAE", "RMSE"), ("RegressionMetric",)
    requires = ("predict_one",)

    def matches(self, est, library):
        module = importlib.import_module(f"{library}.reco.base")
        return isinstance(est, module.Recommender if library == "creme" else module.Ranker)

    check_label = Regression.check_label
    check_prediction = Regression.check_prediction

    def predict(self, model, x):
        user, item, rest = _user_item(x)
        if model.library == "creme":
            return model.obj.predict_one({"user": user, "item": item, **rest})
        return model.obj.predict_one(user, item, rest or None)

    def learn(self, model, x, y):
        user, item, rest = _user_item(x)
        if model.library == "creme":
            model.call_learn({"user": user, "item": item, **rest}, y)
        else:
            model.call_learn(user, item, y, rest or None)

    def rank(self, model, user, items, x):
        """``items`` best first; ties keep the order given (a set's order changes between runs)."""
        scores = {}
        for item in items:
            scores[item] = self.check_prediction(model, to_python(
                self.predict(model, {**(x or {}), "user": user, "item": item})))
        return sorted(items, key=lambda item: -(scores[item] if scores[item] is not None else -math.inf))


def _user_item(x):
    if not isinstance(x, dict) or "user" not in x or "item" not in x:
        raise BadRequest('a recommendation model needs "features" with "user" and "item"')
    rest = {k: v for k, v in x.items() if k not in ("user", "item")}
    return x["user"], x["item"], rest


#: Every paradigm by flavor name, in the order detection tries them (most specific first:
#: creme's recommenders are regressors too).
PARADIGMS = {f.name: f for f in (Anomaly(), Clustering(), Forecasting(), Recommendation(),
                                  Multiclass(), Binary(), Regression())}
#: The metrics each flavor is scored with unless the upload chooses (?metrics=).
FLAVORS = {name: paradigm.metrics for name, paradigm in PARADIGMS.items()}


def _base(library):
    return importlib.import_module(f"{library}.base")


def _unservable(model, p, expected):
    return Unprocessable(f"the model answered {_truncate(repr(p))} ({type(p).__name__}), which a "
                         f"{model.paradigm.name} model cannot serve: it must be {expected}; nothing was changed")


def detect_flavor(obj, library):
    """The paradigm of the final estimator, from the library's base classes."""
    est = final_estimator(obj)
    for flavor in PARADIGMS.values():
        try:
            if flavor.matches(est, library):
                return flavor
        except (ImportError, AttributeError):  # a module this library version does not have
            continue
    raise BadRequest(
        f"cannot tell what kind of model {type(est).__name__} is: upload again with "
        f"?flavor= one of {', '.join(sorted(PARADIGMS))}")


class Model:
    """An uploaded estimator and what chantilly knows about it: library, flavor, how to call it.

    Accepts any object with ``learn_one`` (river) or ``fit_one`` (creme) and the method its
    flavor calls (``predict_one``, ``predict_proba_one``, ``score_one`` or ``forecast``).
    Classifiers answer with ``predict_proba_one`` when they have it.
    """

    def __init__(self, obj, flavor=None, max_classes=None):
        """``max_classes``: the most probable classes a probability answer keeps (None: all)."""
        if not callable(_method(obj, "learn_one", "fit_one")):
            raise BadRequest(f"{type(obj).__name__} has neither learn_one (river) nor fit_one (creme)")
        if _method(obj, "predict_one", "predict_proba_one", "score_one", "forecast") is None:
            raise BadRequest(f"{type(obj).__name__} has neither predict_one nor predict_proba_one "
                             "(nor score_one or forecast): there is nothing to ask it")
        if flavor is not None and flavor not in PARADIGMS:
            raise BadRequest(f"unknown flavor {flavor!r}: use one of {', '.join(sorted(PARADIGMS))}")
        self.library = _library_of(obj)
        if self.library == "creme":
            _creme_on_new_scipy()  # at every load: a restart loads models without uploading them
        self.paradigm = PARADIGMS[flavor] if flavor else detect_flavor(obj, self.library)
        self.flavor = self.paradigm.name
        if _method(obj, *self.paradigm.requires) is None:
            raise BadRequest(f"{type(obj).__name__} has no {' or '.join(self.paradigm.requires)}, "
                             f"which a {self.paradigm.name} model needs")
        self.proba = isinstance(self.paradigm, Classification) and callable(_method(obj, "predict_proba_one"))
        self.max_classes = max_classes if self.proba else None
        self.rebind(obj)
        # creme pipelines update their unsupervised steps (StandardScaler...) inside predict_one
        # (and forecast), so a prediction changes the model and must be logged to be replayed.
        # river stopped doing that (learn_during_predict is opt-in), but a step of any other
        # library (the user's own class, say) may do it: only an all-river model is trusted.
        self.changes_on_predict = self.paradigm.predict_changes or not all(
            type(part).__module__.split(".")[0] == "river" for part in _parts(obj))

    def rebind(self, obj):
        """Serve ``obj``, an estimator like the one checked (a copy, for an undo); returns self."""
        self.obj = obj
        self.call_learn = _method(obj, "learn_one", "fit_one")
        self.call_predict = _method(obj, "predict_proba_one" if self.proba else "predict_one")
        return self

    def predict(self, x):
        """The flavor's prediction for ``x`` (given a copy: models may change their input).
        A probability answer keeps its ``max_classes`` most probable classes (ties in the
        model's order): that is what is answered, stored with an id, logged and scored."""
        p = self.paradigm.check_prediction(self, to_python(self.paradigm.predict(self, _copy_features(x))))
        if self.max_classes is not None and type(p) is dict and len(p) > self.max_classes:
            # 5,000 labels made each 34-byte predict answer 379 KB and store 62 KB.
            p = dict(sorted(p.items(), key=operator.itemgetter(1), reverse=True)[:self.max_classes])
        return p

    def learn(self, x, y):
        """Learn ``y`` for ``x`` (given a copy)."""
        self.paradigm.learn(self, _copy_features(x), y)

    def info(self):
        """The model's description, as stored and shown by the API."""
        lib = sys.modules.get(self.library)
        return {
            "class": describe_class(self.obj),
            "flavor": self.flavor,
            "library": self.library,
            "library_version": getattr(lib, "__version__", None),
        }


_CALLS = {kind: "_" + kind for kind in ("predict", "learn", "forecast", "rank")}


def _copy_features(x):
    """A copy for one model call: river pipelines (FuncTransformer) may rewrite the dict."""
    return dict(x) if isinstance(x, dict) else x


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


_NOT_A_NUMBER = ("ClassificationReport", "ConfusionMatrix")  # their get() is a table


def metric_names(library, flavor):
    """The metrics of ``library`` a ``flavor`` model can be scored with, by class name."""
    module = importlib.import_module(f"{library}.metrics")
    bases = tuple(getattr(module.base, b) for b in flavor.metric_bases if hasattr(module.base, b))
    names = []
    for name in dir(module):
        cls = getattr(module, name)
        if (isinstance(cls, type) and bases and issubclass(cls, bases) and not inspect.isabstract(cls)
                and name not in _NOT_A_NUMBER and all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                                                      for p in inspect.signature(cls).parameters.values())):
            if flavor.name == "anomaly" and cls().requires_labels:
                continue  # scores, not labels, are what an anomaly detector answers
            names.append(name)
    return sorted(names)


def _creme_on_new_scipy():
    """creme 0.6's ROCAUC calls scipy.integrate.trapz, which SciPy 1.14 removed under that
    name; give it back under the old name (it is the same function)."""
    integrate = importlib.import_module("scipy.integrate")
    if not hasattr(integrate, "trapz") and hasattr(integrate, "trapezoid"):
        integrate.trapz = integrate.trapezoid


class Metrics:
    """The metrics of one model, updated by progressive validation, and what else scoring
    needs to remember. :attr:`objs` are the library's metric objects (snapshotted with the
    model); :attr:`memory` is plain data (JSON), for what is chantilly's own.

    This base class scores a prediction against a label, as regression, classification and
    recommendation do; subclasses score the other paradigms.
    """

    def __init__(self, objs, memory=None, detector=None):
        self.objs, self.memory = objs, memory if memory is not None else self.fresh_memory()
        self.detector = detector  # river's ADWIN on the live error, when river is installed

    @classmethod
    def for_model(cls, model, names=None, options=None):
        """Fresh metrics for a model: ``names`` from its library, or its flavor's defaults;
        ``options`` of the upload (``horizon`` for forecasters).

        Probability metrics need ``predict_proba_one``; an unknown name is a 400 that lists
        what the library offers for the flavor.
        """
        options = options or {}
        if model.library == "creme":
            _creme_on_new_scipy()
        module = importlib.import_module(f"{model.library}.metrics")
        offered = metric_names(model.library, model.paradigm)
        chosen = [n for n in model.paradigm.metrics if n in offered] if names is None else names
        unknown = [n for n in chosen if n not in offered]
        if unknown:
            raise BadRequest(f"unknown metric{'s' * (len(unknown) > 1)} {', '.join(unknown)} for a "
                             f"{model.paradigm.name} model: {model.library} offers "
                             f"{', '.join(offered) or 'none'}")
        objs = [getattr(module, name)() for name in chosen]
        if names is None and not model.proba and isinstance(model.paradigm, Classification):
            objs = [m for m in objs if getattr(m, "requires_labels", True)]
        metrics = _METRICS_OF.get(model.paradigm.name, Metrics).build(model, objs, options)
        metrics.detector = _drift_detector()
        return metrics

    @classmethod
    def build(cls, model, objs, options):
        """The scores of a new model from the chosen metric objects and the upload's options."""
        return cls(objs)

    def watch(self, error):
        """Feed the live error to the drift detector; True when it detects a drift (the
        error's mean changed, for the worse)."""
        if self.detector is None or error is None:
            return False
        before = self.detector.estimation
        self.detector.update(error)
        # ADWIN flags any change of the mean error, a model getting better as it learns too:
        # only a change for the worse is a drift worth an alarm.
        if self.detector.drift_detected and self.detector.estimation > before:
            self.memory["drifts"] = self.memory.get("drifts", 0) + 1
            return True
        return False

    def fresh_memory(self):
        return {}

    def update(self, x, y, prediction, model):
        """Score one prediction: label metrics get the top class, the others the probabilities."""
        label = _top_label(prediction)
        for metric in self.objs:
            metric.update(y, label if getattr(metric, "requires_labels", True) else prediction)

    def after_learn(self, model):
        """What scoring does once the model learned (forecasters forecast the next values)."""

    def get(self):
        """``{name: value}``, with ``None`` for a value that is not a finite number yet."""
        return {type(m).__name__: _value(m) for m in self.objs}

    def describe(self):
        """``[{"name", "bigger_is_better"}]`` of the metrics :meth:`get` reports."""
        return [{"name": type(m).__name__, "bigger_is_better": getattr(m, "bigger_is_better", None)}
                for m in self.objs]


def _drift_detector():
    """river's ADWIN, or None where river is not installed (creme has no drift detector)."""
    try:
        return importlib.import_module("river.drift").ADWIN()
    except ImportError:
        return None


def _value(metric):
    try:
        return json_safe(float(metric.get()))
    except Exception:  # a metric with nothing to report yet (ROCAUC with one class) may raise
        return None


class AnomalyMetrics(Metrics):
    """Metrics quantiles always (how unusual is unusual); the chosen metrics (ROCAUC) when a
    label comes with the features. ``objs[-1]`` holds the library's quantile estimators."""

    QUANTILES = (0.5, 0.9, 0.99)

    @classmethod
    def build(cls, model, objs, options):
        stats = importlib.import_module(f"{model.library}.stats")
        return cls(objs + [[stats.Quantile(q) for q in cls.QUANTILES]])

    def update(self, x, y, score, model):
        for quantile in self.objs[-1]:
            quantile.update(score)
        if y is not None:
            self.memory["labelled"] = self.memory.get("labelled", 0) + 1
            for metric in self.objs[:-1]:
                metric.update(y, score)

    def get(self):
        labelled = self.memory.get("labelled")  # no label yet: nothing to say (not ROCAUC -0.0)
        values = {type(m).__name__: _value(m) if labelled else None for m in self.objs[:-1]}
        for q, quantile in zip(self.QUANTILES, self.objs[-1]):
            values[f"score p{round(q * 100)}"] = _value(quantile)
        return values

    def describe(self):
        return [{"name": name, "bigger_is_better": getattr(m, "bigger_is_better", None)}
                for name, m in zip(self.get(), self.objs[:-1] + self.objs[-1])]


class ClusterMetrics(Metrics):
    """Cluster sizes (how many features each cluster was given) and the library's
    clustering metrics (river's Silhouette), which need the model's centers."""

    def fresh_memory(self):
        return {"sizes": {}}

    def update(self, x, y, cluster, model):
        sizes = self.memory["sizes"]
        key = json.dumps(cluster)
        sizes[key] = sizes.get(key, 0) + 1
        centers = getattr(final_estimator(model.obj), "centers", None)
        if centers:
            for metric in self.objs:
                metric.update(x, cluster, centers)

    def get(self):
        values = super().get()
        values.update({f"size {json.loads(k)}": n for k, n in sorted(self.memory["sizes"].items())})
        return values


class HorizonMetrics(Metrics):
    """Horizon-wise errors, as river's ``time_series.HorizonMetric`` computes them: after
    each learn the model forecasts the next ``horizon`` values; each observation then scores,
    for every forecast still open, the step it predicted. ``MAE+1`` is the error one step
    ahead, ``MAE`` the mean over the steps."""

    def fresh_memory(self):
        return {"open": []}  # forecasts made, each with the observations that came since

    @classmethod
    def build(cls, model, objs, options):
        """One of each chosen metric per step of the horizon."""
        horizon = options.get("horizon", DEFAULT_HORIZON)
        return cls([[type(m)() for _ in range(horizon)] for m in objs], {"open": [], "horizon": horizon})

    def update(self, x, y, prediction, model):
        still_open = []
        scored = self.memory.setdefault("scored", [0] * self.memory["horizon"])
        for forecast in self.memory["open"]:
            step = forecast["seen"]
            scored[step] += 1
            for steps in self.objs:
                steps[step].update(y, forecast["values"][step])
            forecast["seen"] += 1
            if forecast["seen"] < len(forecast["values"]):
                still_open.append(forecast)
        self.memory["open"] = still_open

    def after_learn(self, model):
        try:
            values = model.paradigm.forecast(model, self.memory["horizon"], None)
        except Exception:  # not enough observations yet (HoltWinters needs a whole season)
            return
        self.memory["open"].append({"values": values, "seen": 0})

    def next_value(self):
        """The one-step-ahead forecast of the newest open forecast: what a learn is scored on."""
        return self.memory["open"][-1]["values"][0] if self.memory["open"] else None

    def get(self):
        values = {}
        scored = self.memory.get("scored") or [0] * self.memory["horizon"]
        for steps in self.objs:
            name = type(steps[0]).__name__
            each = [_value(m) if n else None for m, n in zip(steps, scored)]  # none scored yet: null
            known = [v for v in each if v is not None]
            values[name] = sum(known) / len(known) if known else None
            values.update({f"{name}+{i + 1}": v for i, v in enumerate(each)})
        return values

    def describe(self):
        return [{"name": name, "bigger_is_better": False} for name in self.get()]


_METRICS_OF = {"anomaly": AnomalyMetrics, "clustering": ClusterMetrics, "forecasting": HorizonMetrics}


# ---------------------------------------------------------------------------------------
# Telemetry: counters and histograms for /metrics
# ---------------------------------------------------------------------------------------

#: Histogram buckets, in seconds for durations (Prometheus' defaults, from 0.5 ms) and in
#: writes for commit sizes.
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


class Histogram:
    """Observations counted by bucket (``le``), with their sum and count: one Prometheus
    histogram series. Its owner guards it."""

    __slots__ = ("buckets", "counts", "sum", "count")

    def __init__(self, buckets=SECONDS_BUCKETS):
        self.buckets, self.counts, self.sum, self.count = buckets, [0] * (len(buckets) + 1), 0, 0

    def observe(self, value):
        self.counts[bisect.bisect_left(self.buckets, value)] += 1  # the first bucket with value <= le
        self.sum += value
        self.count += 1

    def copy(self):
        """A copy that later observations leave alone."""
        twin = Histogram(self.buckets)
        twin.counts, twin.sum, twin.count = list(self.counts), self.sum, self.count
        return twin

    def lines(self, name, labels):
        """Its exposition lines, buckets cumulative."""
        out, cumulative = [], 0
        for le, count in zip((*self.buckets, math.inf), self.counts):
            cumulative += count
            out.append(f"{name}_bucket{_labels({**labels, 'le': _number(le)})} {cumulative}")
        return out + [f"{name}_sum{_labels(labels)} {_number(self.sum)}", f"{name}_count{_labels(labels)} {self.count}"]


class Telemetry:
    """Counters and histograms, each a family of series by label values, rendered in the
    Prometheus text exposition format (version 0.0.4) by :meth:`render`.

    Families are declared once with :meth:`counter` or :meth:`histogram`; recording takes
    one lock, never held while rendering writes anywhere.
    """

    def __init__(self):
        self._lock = threading.Lock()  # guards _series
        self._families = {}  # name -> (type, help, label names, buckets)
        self._series = {}    # (name, label values) -> float, or [bucket counts..., sum, count]

    def counter(self, name, help, labels=()):
        self._families[name] = ("counter", help, tuple(labels), None)

    def histogram(self, name, help, labels=(), buckets=SECONDS_BUCKETS):
        self._families[name] = ("histogram", help, tuple(labels), buckets)

    def add(self, name, amount=1, *labels):
        """Add to a counter's series."""
        key = (name, labels)
        with self._lock:
            self._series[key] = self._series.get(key, 0) + amount

    def request(self, route, method, status, seconds):
        """Count one answered HTTP request and its duration, under one lock (every request
        comes here)."""
        count, duration = ("chantilly_http_requests_total", (route, method, status)), \
            ("chantilly_http_request_duration_seconds", (route,))
        with self._lock:
            self._series[count] = self._series.get(count, 0) + 1
            histogram = self._series.get(duration)
            if histogram is None:
                histogram = self._series[duration] = Histogram(self._families[duration[0]][3])
            histogram.observe(seconds)

    def observe(self, name, value, *labels):
        """Count one observation in a histogram's series."""
        key = (name, labels)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = Histogram(self._families[name][3])
            series.observe(value)

    def render(self, gauges=(), histograms=()):
        """The exposition text: every declared family, then ``gauges``, an iterable of
        ``(name, help, [(labels dict, value), ...])`` measured by the caller just now (a
        name ending in ``_total`` is a counter), then the caller's ``histograms``,
        ``(name, help, Histogram)``."""
        with self._lock:
            series = {key: (v.copy() if isinstance(v, Histogram) else v) for key, v in self._series.items()}
        lines = []
        for name, (kind, help, label_names, buckets) in self._families.items():
            lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
            for (family, values), value in sorted(series.items(), key=lambda kv: (kv[0][0], kv[0][1])):
                if family != name:
                    continue
                labels = dict(zip(label_names, values))
                if kind == "counter":
                    lines.append(f"{name}{_labels(labels)} {_number(value)}")
                else:
                    lines += value.lines(name, labels)
        for name, help, samples in gauges:
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
            lines += [f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples]
        for name, help, histogram in histograms:
            lines += [f"# HELP {name} {help}", f"# TYPE {name} histogram", *histogram.lines(name, {})]
        return "\n".join(lines) + "\n"


def _labels(labels):
    """``{a="x",b="y"}``, values escaped as the exposition format asks (\\\\, \\", \\n).

    >>> _labels({"model": 'a"b'})
    '{model="a\\\\"b"}'
    """
    if not labels:
        return ""
    escape = lambda v: str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")  # noqa: E731
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def _number(value):
    """A sample value: ``+Inf``, ``NaN`` and integers the way Prometheus writes them."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def process_gauges(started):
    """The usual ``process_*`` metrics, from /proc where there is one (Linux)."""
    gauges = [("process_start_time_seconds", "Start time of the process since the epoch, in seconds.",
               [({}, started)])]
    times = os.times()
    gauges.append(("process_cpu_seconds_total", "User and system CPU time spent, in seconds.",
                   [({}, times.user + times.system)]))
    try:
        with open("/proc/self/statm") as statm:
            pages = [int(n) for n in statm.read().split()[:2]]
        gauges += [("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                    [({}, pages[0] * os.sysconf("SC_PAGE_SIZE"))]),
                   ("process_resident_memory_bytes", "Resident memory size in bytes.",
                    [({}, pages[1] * os.sysconf("SC_PAGE_SIZE"))]),
                   ("process_open_fds", "Number of open file descriptors.",
                    [({}, len(os.listdir("/proc/self/fd")))])]
        import resource  # Unix only, so imported here
        gauges.append(("process_max_fds", "Maximum number of open file descriptors.",
                       [({}, resource.getrlimit(resource.RLIMIT_NOFILE)[0])]))
    except (OSError, ValueError, ImportError):
        pass  # not Linux: the start time and CPU are what we know
    return gauges


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
        # Of the commits, for /metrics; the commit lock guards them (it is held as they change).
        self.commit_seconds, self.commit_writes = Histogram(SECONDS_BUCKETS), Histogram(SIZE_BUCKETS)
        self._claim = _claim(self.path)  # held until close: one server per path
        self._conn = self._open(sync)
        self._identity = _identity(os.stat(self.path))  # the file opened: see _check_file
        self._refused_because = ""  # why the last writes were refused, for the callers' message
        self._seq = self._conn.execute(  # guarded by _lock: the last log seq handed out
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM log), 0), "
            "COALESCE((SELECT MAX(seq) FROM models), 0))").fetchone()[0]

    def _open(self, sync):
        _check_database_file(self.path)
        _check_writable(self.path)
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
        try:
            with read_only(self.path) as conn:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
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
        if self._claim is not None:
            self._claim.close()

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
                raise Unavailable(f"the database refused the write ({self._refused_because}); "
                                  "nothing was changed, retry when storage is available again")

    def _was_refused(self, ticket):
        if not self._refused:  # never refused: nothing to look up (read without the lock)
            return False
        with self._lock:
            i = bisect.bisect_right(self._refused, (ticket, math.inf)) - 1
            return i >= 0 and self._refused[i][0] <= ticket <= self._refused[i][1]

    def _commit_queued(self):
        with self._lock:
            queued, self._queued = self._queued, []
            through = self._written
        started = time.perf_counter()
        try:
            self._check_file()
            if len(queued) == 1 and not self._conn.in_transaction:
                # One statement commits itself: one call instead of BEGIN, run, COMMIT (+20%
                # requests/s at 4 connections, where most commits carry a lone log record).
                self._conn.execute(*queued[0])
            else:
                self._run(queued)
                self._conn.execute("COMMIT")
        except (sqlite3.Error, FileLost) as e:
            self._fail(e)
            return
        with self._lock:
            self._settled = max(self._settled, through)
        self.commit_seconds.observe(time.perf_counter() - started)
        self.commit_writes.observe(len(queued))

    def _check_file(self):
        """Raise :class:`FileLost` when the path no longer names the file this store holds
        open (deleted, or another file moved over it): a commit would then go to a file
        that nobody will ever read again, and the next start would serve another file's models.
        One stat per commit (about a microsecond), under the commit lock."""
        try:
            identity = _identity(os.stat(self.path))
        except FileNotFoundError:
            raise FileLost(f"{self.path} was deleted while the server ran; writes are refused "
                           "from now on: restart the server") from None
        except OSError:
            return  # cannot tell (a permission changed on the folder): SQLite will say
        if identity != self._identity:
            raise FileLost(f"{self.path} was replaced by another file while the server ran; "
                           "writes are refused from now on: restart the server to serve the new file")

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
            self._refused_because = str(error)
        sys.stderr.write(f"chantilly: storage refused a write: {error}\n")
        return Unavailable(f"the database refused the write ({error}); nothing was changed, "
                           "retry when storage is available again")

    # -- reads ----------------------------------------------------------------------------

    def read(self, sql, params=(), flush=True):
        """Rows of a query, after every write queued before it (without ``flush``: as the
        file has them, for a caller that knows no queued write changes the answer)."""
        with self._conn_lock:
            if flush:
                self._flush()
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise Unavailable(f"the database could not be read: {e}") from None


@contextlib.contextmanager
def read_only(path):
    """A connection that reads ``path`` without ever writing beside it: a file chantilly may
    refuse (foreign, corrupt) is never written to, its WAL never folded in."""
    # immutable: no locks and no -wal/-shm created beside the file; a WAL left by a crash
    # must be read though, and a read-only connection never folds it in.
    path = str(path)
    mode = "mode=ro" if os.path.exists(path + "-wal") else "immutable=1"
    shm = pathlib.Path(path + "-shm")
    had_shm = shm.exists()
    conn = sqlite3.connect(pathlib.Path(path).resolve().as_uri() + "?" + mode, uri=True, timeout=2.0)
    try:
        yield conn
    finally:
        conn.close()
        if not had_shm:  # reading a WAL creates it; with no -shm before, nobody else uses it
            try:
                shm.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only folder: SQLite could not have created it there either


def _identity(stat):
    """What tells one file from another at the same path: its device and inode."""
    return stat.st_dev, stat.st_ino


def _claim(path):
    """Claim ``path`` for this process: an abstract Unix socket named after the absolute path,
    which the kernel frees when the process dies (even by kill -9). SQLite's lock is on the
    file, so a server started on the same path after the file was deleted or replaced would
    not see it; this claim is on the path. Linux only: elsewhere (None) SQLite's lock alone
    guards. Raises :class:`StoreError` when another process holds the path."""
    if not sys.platform.startswith("linux"):
        return None
    digest = hashlib.sha256(os.path.realpath(path).encode("utf-8", "surrogateescape")).hexdigest()
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind("\0chantilly-db-" + digest)
    except OSError:
        claim.close()
        raise StoreError(f"{path} is in use by another chantilly server") from None
    return claim


def _check_writable(path):
    """Refuse at start a file (or folder) that cannot be written: every acknowledged call is
    written before its answer, so such a server could serve nothing but refusals."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise StoreError(f"{path} is read-only (its permissions, or an immutable flag): chantilly "
                         "writes every acknowledged call to it. Make it writable (chmod u+w, chattr -i), "
                         "or serve a writable copy (--db)")
    if not os.access(folder, os.W_OK):
        raise StoreError(f"the folder {folder} is read-only: SQLite writes its journal "
                         f"({os.path.basename(path)}-wal) beside the database. Choose a writable "
                         "folder (--db)")


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
# ``{"model": estimator, "metrics": [metric, ...], "scoring": plain data (see Metrics),
#   "drift": river's ADWIN or None, "predictions": int, "learns": int}``.
# A log record (log.body) is the JSON of one model call that changed the model:
#   {"x": features}                             a prediction (creme, custom models)
#   {"x": ..., "y": label, "p": prediction, "f": 1|0}
#                                               a learn scored against prediction p; f=1 when
#                                               the learn made that prediction itself ("fresh")
#   {"k": "forecast", "h": horizon, "xs": features or null}
#   {"k": "rank", "u": user, "items": [...], "x": features or null}
#                                               forecasts and rankings of creme models
# A stored id (stored_ids.body) is the JSON of {"x": features, "p": prediction}, or ""
# once the id expired or was evicted (a tombstone: learning it answers 410, not 404).


def pack_state(model_obj, metrics, predictions, learns):
    """The bytes of a snapshot."""
    return serialize({"model": model_obj, "metrics": metrics.objs, "scoring": metrics.memory,
                      "drift": metrics.detector, "predictions": predictions, "learns": learns})


def unpack_state(data):
    """``(model object, (metric objects, scoring memory, drift detector), predictions, learns)``
    from snapshot bytes (schema 1 snapshots have no scoring memory nor detector)."""
    snap = deserialize(data)
    return (snap["model"], (snap["metrics"], snap.get("scoring"), snap.get("drift")),
            snap["predictions"], snap["learns"])


# Records are built from the features' JSON, encoded once per call (encoding was a seventh of
# the seed workflow's time): a prediction with an id writes it twice, a learn by id reuses it.


def predict_record(xs):
    """The log record of a prediction that changed the model; ``xs``: the features' JSON."""
    return '{"x":' + xs + '}'


def learn_record(x, y, prediction, fresh):
    """The log record of a learn; ``fresh``: the learn made its prediction itself."""
    return _store_encoder.encode({"x": x, "y": y, "p": encode_prediction(prediction), "f": int(fresh)})


def learn_record_of_stored(stored, y):
    """The log record of a learn by id, from what was stored under the id: the same features
    and prediction, then the label (``stored_id_record``'s JSON object, extended)."""
    return stored[:-1] + ',"y":' + scalar_json(y) + ',"f":0}'


def scalar_json(value):
    """JSON of a value, quickly for a number (repr of a finite float is its JSON).

    >>> scalar_json(0.1), scalar_json(3), scalar_json("a")
    ('0.1', '3', '"a"')
    """
    if type(value) is float and math.isfinite(value):
        return repr(value)
    if type(value) is int:
        return str(value)
    return _store_encoder.encode(value)


def encode_features(x):
    """The features' JSON, for the records of one call."""
    return _store_encoder.encode(x)


def forecast_record(horizon, xs):
    """The log record of a forecast that changed the model."""
    return _store_encoder.encode({"k": "forecast", "h": horizon, "xs": xs})


def rank_record(user, items, x):
    """The log record of a ranking that changed the model."""
    return _store_encoder.encode({"k": "rank", "u": user, "items": items, "x": x})


def stored_id_record(xs, prediction):
    """What is kept under an id until its ground truth arrives; ``xs``: the features' JSON."""
    if isinstance(prediction, dict):
        return '{"x":' + xs + ',"p":' + _store_encoder.encode(encode_prediction(prediction)) + '}'
    return '{"x":' + xs + ',"p":{"v":' + scalar_json(prediction) + '}}'


#: Stored ids written through a ModelRows it remembers, so that reading one back needs no
#: SQL (a read first runs every queued write: the group commit would degrade to one flush
#: per call). Beyond this many it forgets them all; SQL has them by then.
RECENT_IDS = 20_000


class ModelRows:
    """The rows of one stored model (``models.id``): its snapshot, log, stored ids and history.

    Every method queues through the :class:`Store` and returns its ticket, or reads after the
    queue; the caller (a :class:`Deployment`) holds its own lock, so the rows of one model
    change in the order of its calls.
    """

    def __init__(self, store, model_id):
        self.store, self.id = store, model_id
        # key -> (body, created) or (None, None) once dropped: what was written, as SQL will
        # read it. Cleared whenever SQL changes ids behind it (eviction, expiry) or writes
        # may have been refused (see Deployment._restore). While _complete, it holds every
        # queued write of a stored id, so a key it lacks reads from the file without running
        # the queue. The model's lock guards both.
        self._recent, self._complete = {}, False

    @staticmethod
    def create(store, name, role, version, info, state, initial):
        """A new model's rows and the statement that stores it: ``(rows, statement)``."""
        model_id = store.new_seq()  # never reused while a row could refer to it
        return ModelRows(store, model_id), (
            "INSERT INTO models (id, name, role, version, info, state, initial, seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (model_id, name, role, version, info, state, initial, model_id))

    def retire(self, final):
        """Statements keeping this model as a past version, with ``final`` counters and metrics
        in its description; its stored ids go (no call can learn them any more)."""
        return [("UPDATE models SET role = 'version', info = json_set(info, '$.final', json(?)) "
                 "WHERE id = ?", (dumps(final), self.id)),
                ("DELETE FROM stored_ids WHERE model = ?", (self.id,))]

    def serve(self, role="serving"):
        """The statement making this model serve (a rollback) or challenge."""
        return "UPDATE models SET role = ? WHERE id = ?", (role, self.id)

    def delete(self):
        """Queue the removal of this model and all its rows; returns a ticket."""
        return self.store.write(_drop_models("id = ?", (self.id,)))[0]

    def load(self):
        """``(info, snapshot bytes, seq, version, initial bytes)``, or ``None`` when the model
        was deleted."""
        rows = self.store.read("SELECT info, state, seq, version, initial FROM models WHERE id = ?", (self.id,))
        return (json.loads(rows[0][0]), *rows[0][1:]) if rows else None

    def log_since(self, seq):
        """``[(seq, body), ...]`` of the model calls after ``seq``, in order."""
        return self.store.read("SELECT seq, body FROM log WHERE model = ? AND seq > ? ORDER BY seq",
                               (self.id, seq))

    def append(self, body, store_id=None, drop_id=None):
        """Log one model call, storing ``(key, body, created)`` under an id or dropping one.

        Returns ``(ticket, seq)``; a stored id is ordered by that seq (see :meth:`evict`).
        """
        statements = []
        if len(self._recent) > RECENT_IDS:
            self.forget_recent()
        if drop_id is not None:
            statements.append(("DELETE FROM stored_ids WHERE model = ? AND id = ?", (self.id, drop_id)))
            self._recent[drop_id] = (None, None)
        if store_id is not None:
            statements.append((_INSERT_STORED_ID, (self.id, *store_id, SEQ)))
            self._recent[store_id[0]] = store_id[1:]
        return self.store.write(statements, (self.id, body))

    def forget_recent(self):
        """Read stored ids from SQL again, after running the queue (it changed them behind
        our back, or writes were refused)."""
        self._recent.clear()
        self._complete = False

    def find_id(self, key):
        """``(body, created)`` stored under an id (``body`` is "" for a tombstone), or ``None``."""
        if key in self._recent:
            body, created = self._recent[key]
            return None if body is None else (body, created)
        rows = self.store.read("SELECT body, created FROM stored_ids WHERE model = ? AND id = ?",
                               (self.id, key), flush=not self._complete)
        self._complete = True  # the queue ran, or nothing in it was about ids we do not know
        return rows[0] if rows else None

    def count_ids(self):
        """Stored ids still waiting for their ground truth (tombstones excluded)."""
        return self.store.read("SELECT COUNT(*) FROM stored_ids WHERE model = ? AND body != ''",
                               (self.id,))[0][0]

    def evict(self, count):
        """Turn the ``count`` oldest stored ids into tombstones; returns a ticket."""
        self.forget_recent()
        return self.store.write([(
            "UPDATE stored_ids SET body = '' WHERE model = ? AND id IN (SELECT id FROM stored_ids "
            "WHERE model = ? AND body != '' ORDER BY seq LIMIT ?)", (self.id, self.id, count))])[0]

    def expire(self, horizon, keep_tombstones_after):
        """Tombstone the ids stored before ``horizon``, drop tombstones older than
        ``keep_tombstones_after``: ``(ids expired, ticket)``."""
        self.forget_recent()
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

    def add_drift(self, t, n):
        """Note a drift detected at learn ``n``; returns a ticket."""
        return self.store.write([("INSERT INTO drifts (model, t, n) VALUES (?, ?, ?)", (self.id, t, n))])[0]

    def drifts(self):
        """``[(t, n), ...]`` of the drifts detected, oldest first."""
        return self.store.read("SELECT t, n FROM drifts WHERE model = ? ORDER BY t", (self.id,))

    def history(self):
        """``[(t, n, metrics JSON), ...]`` oldest first."""
        return self.store.read("SELECT t, n, metrics FROM history WHERE model = ? ORDER BY t", (self.id,))


def serving_models(store, role="serving"):
    """``[(model id, name), ...]`` of the models that answer under their names (or challenge)."""
    return store.read("SELECT id, name FROM models WHERE role = ? ORDER BY name", (role,))


def _drop_models(where, params):
    """Statements deleting the models ``WHERE <where>`` with all their rows."""
    chosen = f"(SELECT id FROM models WHERE {where})"
    return [(f"DELETE FROM {table} WHERE model IN {chosen}", params)
            for table in ("log", "stored_ids", "history", "drifts")] + [(f"DELETE FROM models WHERE {where}", params)]


def drop_name(name):
    """Statements deleting every model of a name: serving, challenger and past versions."""
    return _drop_models("name = ?", (name,))


def drop_challenger(name):
    return _drop_models("name = ? AND role = 'challenger'", (name,))


def prune_versions(name, keep):
    """Statements keeping only the newest ``keep`` past versions of a name."""
    return _drop_models("id IN (SELECT id FROM models WHERE name = ? AND role = 'version' "
                        "ORDER BY version DESC LIMIT -1 OFFSET ?)", (name, keep))


def next_version(store, name):
    """The version number the next upload to ``name`` gets."""
    return store.read("SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?", (name,))[0][0]


def versions_of(store, name):
    """``[(model id, version, role, info), ...]`` of a name, oldest first."""
    return [(i, v, role, json.loads(info)) for i, v, role, info in store.read(
        "SELECT id, version, role, info FROM models WHERE name = ? ORDER BY version", (name,))]


def stored_hash_seed(path):
    """The string-hash seed kept in the database at ``path`` (see main), or None: no file,
    none stored yet, or a file that is not readable as chantilly's (opening it says why)."""
    try:
        _check_database_file(path)
        if not os.path.exists(path):
            return None
        with read_only(path) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'hashseed'").fetchone()
    except (sqlite3.Error, StoreError):
        return None
    return row[0] if row else None


def keep_hash_seed(store):
    """Store the seed this process hashes strings with, if the database has none yet."""
    seed = "" if sys.flags.ignore_environment else os.environ.get("PYTHONHASHSEED", "")
    if seed.isdigit() and not store.read("SELECT 1 FROM meta WHERE key = 'hashseed'"):
        store.commit(store.write([("INSERT INTO meta (key, value) VALUES ('hashseed', ?)", (seed,))])[0])


def set_default_model(store, name):
    """Queue the name of the default model (None: there is none); returns a ticket."""
    if name is None:
        return store.write([("DELETE FROM meta WHERE key = 'default'", ())])[0]
    return store.write([("INSERT OR REPLACE INTO meta (key, value) VALUES ('default', ?)", (name,))])[0]


def default_model(store, deployments):
    """The stored default model's name if it is served, else the newest model's (a file
    from schema 1 has one model and no default), else None."""
    rows = store.read("SELECT value FROM meta WHERE key = 'default'")
    if rows and rows[0][0] in deployments:
        return rows[0][0]
    newest = max(deployments.values(), key=lambda d: d.rows.id, default=None)
    return newest.name if newest else None


# ---------------------------------------------------------------------------------------
# Event bus
# ---------------------------------------------------------------------------------------


class Subscription:
    """One stream client's queue of framed messages. Never blocks the publisher: a client
    that falls more than ``backlog`` bytes behind is closed, its queue freed at once,
    ``on_drop`` called (the server cuts the connection, so a write blocked on it ends and
    frees what it held), and its browser reconnects.

    What the client is behind counts every byte it holds: queued, and taken but not yet
    written (:meth:`take` hands them over, :meth:`written` says they left). Counting the
    queue alone let blocked writes hold several backlogs each.
    """

    def __init__(self, topic, backlog, on_drop=None):
        self.topic = topic
        self._backlog = backlog
        self._on_drop = on_drop
        self._items = collections.deque()
        self._bytes = 0  # queued plus taken and not yet written
        self._cond = threading.Condition(threading.Lock())  # guards _items, _bytes and closed
        self.closed = False

    def push(self, item):
        """Queue a message; returns False (and closes) when the subscriber is too far behind."""
        with self._cond:
            if self.closed:
                return False
            self._bytes += len(item)
            dropped = self._bytes > self._backlog
            if dropped:
                self.closed = True
                self._items.clear()
            else:
                self._items.append(item)
            self._cond.notify()
        if dropped and self._on_drop is not None:
            self._on_drop()
        return not dropped

    def take(self, timeout):
        """Every queued message (waiting up to ``timeout`` for one); ``[]`` on timeout. The
        caller says with :meth:`written` when they have left.

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

    def written(self, size):
        """``size`` bytes taken earlier were written to the client."""
        with self._cond:
            self._bytes -= size

    def prepend(self, items):
        """Queue ``items`` before everything queued (a new subscriber's recent events)."""
        with self._cond:
            self._items.extendleft(reversed(items))
            self._bytes += sum(map(len, items))
            self._cond.notify()

    def close(self):
        """End the subscription; a waiting :meth:`take` wakes up at once."""
        with self._cond:
            self.closed = True
            self._items.clear()
            self._cond.notify_all()


class EventBus:
    """Fan-out of server-sent events to the subscribers of a topic, framed once and only when
    someone listens. The last :data:`RECENT_EVENTS` events of the topics a publisher says to
    keep are remembered unframed, so a dashboard opened now can show the traffic before it."""

    def __init__(self, max_subscribers=Settings.max_streams, backlog=Settings.stream_backlog):
        self._lock = threading.Lock()  # guards _topics, _subscribers, _recent and _closed
        self._topics = collections.defaultdict(list)
        self._recent = {}  # topic -> deque of (event name, data)
        self._subscribers = 0  # read without the lock: an int is read whole
        self._closed = False
        self.max_subscribers = max_subscribers
        self.backlog = backlog

    def subscribe(self, topic, on_drop=None, recent=0):
        """A new :class:`Subscription` (see there for ``on_drop``), with the topic's ``recent``
        last events queued first; raises :class:`Unavailable` when there are too many."""
        with self._lock:
            if self._closed:
                raise Unavailable("the server is shutting down")
            if self._count() >= self.max_subscribers:
                raise Unavailable(f"too many open streams (at most {self.max_subscribers}); "
                                  "retry later")
            sub = Subscription(topic, self.backlog, on_drop)
            self._topics[topic] = self._topics[topic] + [sub]
            self._subscribers += 1
            # Taken with the subscription, under the lock: no event is missed or seen twice.
            past = list(self._recent.get(topic, ()))[-recent:] if recent > 0 else []
        if past:  # framed outside the lock; live events queued meanwhile stay after them
            sub.prepend([sse_message(dumps(data), name) for name, data in past])
        return sub

    def unsubscribe(self, sub):
        """Remove a subscription (idempotent)."""
        sub.close()
        with self._lock:
            subs = self._topics[sub.topic]
            self._topics[sub.topic] = [s for s in subs if s is not sub]
            self._subscribers -= len(subs) - len(self._topics[sub.topic])

    def has_subscribers(self, topic=None):
        """Whether anyone listens to ``topic`` (or to anything), so publishers can skip
        building messages nobody reads."""
        if topic is None:
            return self._subscribers > 0
        return bool(self._topics.get(topic))

    def count(self):
        """Open subscriptions across topics."""
        with self._lock:
            return self._count()

    def _count(self):
        return sum(len(subs) for subs in self._topics.values())

    def publish(self, topics, name, data, keep=False):
        """Send event ``name`` with ``data`` to the subscribers of each of ``topics``, framed
        once; never blocks on them. ``keep``: remember it among the topics' recent events."""
        message, subs = None, []
        if keep:
            with self._lock:
                for topic in topics:
                    self._recent.setdefault(topic, collections.deque(maxlen=RECENT_EVENTS)).append((name, data))
                    subs += self._topics.get(topic, ())
        else:
            # Subscriber lists are replaced, never mutated, so reading one needs no lock.
            for topic in topics:
                subs += self._topics.get(topic, ())
        for sub in subs:
            message = message or sse_message(dumps(data), name)
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

_MODEL_NAME = re.compile(r"(?!\.{1,2}$)[A-Za-z0-9._-]{1,64}")  # not "." nor "..": URLs cannot name them


def check_name(name, challenger=False):
    """A model's name: 1-64 letters, digits, ``-``, ``_`` or ``.``; with ``challenger``,
    ``name@challenger`` too (what reads call a model's challenger)."""
    if challenger and isinstance(name, str) and name.endswith("@challenger"):
        return check_name(name[:-len("@challenger")]) + "@challenger"
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise BadRequest(f"{_truncate(json.dumps(name))} is not a model name: use 1 to 64 letters, "
                         "digits, '-', '_' or '.'")
    return name


def check_features(x, what='"features"'):
    """Refuse features that are not a flat JSON object of scalars, or a text (for text models)."""
    if isinstance(x, str):
        return x
    if not isinstance(x, dict):
        raise BadRequest(f'{what} must be a JSON object of name: value (or a text), not {describe_type(x)}')
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
    key = str(value) if type(value) is int else json.dumps(value)  # JSON: 1, and "1" for the text
    if len(key) > MAX_ID_LENGTH:
        raise BadRequest(f'"id" is too long: at most {MAX_ID_LENGTH} characters')
    return value, key


def _check_label(payload):
    y = payload.get("ground_truth")
    check_finite('"ground_truth"', y)
    if isinstance(y, (dict, list)):
        raise BadRequest(f'"ground_truth" must be a number, string or boolean, not {describe_type(y)}')
    return y


def _check_key(value, what):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest(f"{what} must be a string or an integer, not {describe_type(value)}")
    return value


class Operation:
    """One validated call, before it touches a model: ``kind`` is predict, learn, forecast
    or rank; ``model`` the name it addresses (None: the default model). What a call needs
    that depends on the model (a label, features) is checked by the model's deployment."""

    __slots__ = ("kind", "model", "id", "key", "x", "y", "horizon", "user", "items")
    KINDS = ("predict", "learn", "forecast", "rank")

    def __init__(self, kind, payload):
        if not isinstance(payload, dict):
            raise BadRequest(f"each call must be a JSON object, not {describe_type(payload)}")
        self.kind = kind
        self.model = None if payload.get("model") is None else check_name(payload["model"])
        self.id, self.key = check_id(payload)
        x = payload.get("features")
        self.x = None if x is None and kind != "predict" else x
        self.y = None
        getattr(self, f"_check_{kind}")(payload)

    def _check_predict(self, payload):
        self.x = check_features(self.x)

    def _check_learn(self, payload):
        if self.x is not None:
            check_features(self.x)
        self.y = _check_label(payload)

    def _check_forecast(self, payload):
        horizon = payload.get("horizon")
        if isinstance(horizon, float) and horizon.is_integer():
            horizon = int(horizon)  # 3.0 is an integer in JSON
        if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= MAX_HORIZON:
            raise BadRequest(f'"horizon" must be an integer from 1 to {MAX_HORIZON}')
        if self.x is not None:
            if not isinstance(self.x, list) or len(self.x) != horizon:
                raise BadRequest('"features" of a forecast must be a list of one object per step '
                                 'of the horizon')
            self.x = [check_features(x, '"features" items') for x in self.x]
        self.horizon = horizon

    def _check_rank(self, payload):
        self.user = _check_key(payload.get("user"), '"user"')
        items = payload.get("items")
        if not isinstance(items, list) or not items or len(items) > MAX_RANK_ITEMS:
            raise BadRequest(f'"items" must be a list of 1 to {MAX_RANK_ITEMS} items to rank')
        self.items = [_check_key(item, '"items" entries') for item in items]
        if self.x is not None:
            check_features(self.x)

    @classmethod
    def parse(cls, payload):
        """An operation of the streaming protocol: ``{"op": "predict" | "learn" | ..., ...}``."""
        if not isinstance(payload, dict):
            raise BadRequest(f"each line must be a JSON object, not {describe_type(payload)}")
        kind = payload.get("op")
        if kind not in cls.KINDS:
            raise BadRequest('"op" must be "predict", "learn", "forecast" or "rank"')
        return cls(kind, payload)


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


def _event(op, now, model, x, answer):
    """The data of a ``predict``, ``learn``, ``forecast`` or ``rank`` event."""
    event = {"t": now, "model": model, "features": x, **answer}
    if op.kind == "learn":
        event["ground_truth"] = op.y
    if op.id is not None:
        event["id"] = op.id
    if op.kind == "rank":
        event["user"] = op.user
    return event


# ---------------------------------------------------------------------------------------
# Deployment: one model being served
# ---------------------------------------------------------------------------------------


class Retired(Exception):
    """The deployment was replaced or deleted while the caller waited for it: look it up again."""


#: What a file that was damaged gives when read back: refused at start, never served broken.
_CORRUPT = (json.JSONDecodeError, pickle.UnpicklingError, EOFError)


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

    def __init__(self, name, rows, settings, fresh=None, tolerant=False):
        """Serve the model ``rows`` hold, rebuilt from them; or, for ``fresh=(info, unpacked
        state, version, initial bytes)`` of a model just uploaded, from those (nothing is read
        back: a 100 MiB upload would otherwise be committed and unpickled again under the
        service's lock, stalling every model's calls). ``tolerant``: a model that cannot be
        rebuilt here is served broken (see :meth:`_unloadable`) rather than raising."""
        self._lock = threading.Lock()  # guards the model, metrics, counters, checkpoint
        self.name = name
        self.rows = rows
        self.settings = settings
        self.retired = False  # set without the lock: a stuck call must not delay a replacement
        self.broken = None    # the error that stopped a rebuild, once one failed (see _undo)
        self.evicted = 0      # stored ids evicted by --max-ids since the server started
        self.snapshots = 0    # snapshots written since the server started
        self.oversized = None  # why calls that change the model are refused (see _checkpoint)
        self._drifts_seen = [tuple(d) for d in rows.drifts()] if fresh is None else []  # (time, learns)
        with self._lock:
            if fresh is None:
                try:
                    self._restore()
                except (Retired, ChantillyError, *_CORRUPT):
                    raise
                except Exception as e:  # its library is missing, or its calls do not repeat
                    if not tolerant:
                        raise
                    self._unloadable(e)
            else:
                info, (unpacked, saved), version, initial = fresh
                self._install(info, unpacked, rows.id, version, initial, saved=saved)
        self.history = [(t, n, json.loads(m)) for t, n, m in rows.history()] if fresh is None else []
        self.history_interval = HISTORY_INTERVAL
        while len(self.history) > HISTORY_POINTS:
            self._thin_history()

    # -- rebuilding ----------------------------------------------------------------------

    def _restore(self):
        """Load the snapshot and replay the log since: the state of every write so far.

        The start-up path, and what follows a refused write. Lock held.
        """
        self.rows.forget_recent()  # writes may have been refused: the file is the truth
        row = self.rows.load()
        if row is None:
            self.retired = True
            raise Retired(self.name)
        info, state, seq, version, initial = row
        self._install(info, unpack_state(state), seq, version, initial, self.rows.log_since(seq),
                      self.rows.count_ids())

    def _unloadable(self, error):
        """Stand for a model this environment cannot rebuild: it answers 503 with ``error``,
        and its rows stay exactly as they are (never snapshotted), so a start that can load
        it again serves it with nothing lost. Lock held."""
        self.info, _, self.seq, self.version, self.initial = self.rows.load()
        self.model, self.scores, self._saved, self._redo = None, Metrics([]), None, []
        self.predictions = self.learns = self.since_snapshot = self.logged_bytes = 0
        self.refusals = self.rows.store.refusals
        self.stored = self.rows.count_ids()
        self._described_metrics = []
        self.broken = (f"cannot be loaded here ({type(error).__name__}: {error}): its calls are kept, "
                       "and it serves again once a start can load it (install its library)")
        self._publish()

    def _rebuild(self):
        """:meth:`_restore` while serving: a model whose logged calls no longer repeat is
        broken (503), not a server error; its half-replayed state is never served. Lock held."""
        try:
            self._restore()
        except (ChantillyError, Retired):
            raise
        except Exception as e:
            self._break(e)

    def _install(self, info, unpacked, seq, version, initial, log=(), stored=0, saved=None):
        """Serve the snapshot ``unpacked`` (see :func:`unpack_state`) with ``log``'s calls
        repeated on it; ``saved``: its copy for undo, when one was taken already. Lock held."""
        self.info, self.seq, self.version, self.initial = info, seq, version, initial
        obj, scoring, self.predictions, self.learns = unpacked
        self.model = Model(obj, self.info["flavor"], self.settings.max_classes)
        self.scores = _METRICS_OF.get(self.model.paradigm.name, Metrics)(*scoring)
        self.since_snapshot = self.logged_bytes = 0
        self.refusals = self.rows.store.refusals
        for seq, body in log:
            calls = self._replay(body)
            if calls is True:
                self.learns += 1
            else:
                self.predictions += 1
            self.seq = seq
            self.since_snapshot += 1 if calls is True else calls
            self.logged_bytes += len(body)
        self.stored = stored
        self._described_metrics = self.scores.describe()
        self._checkpoint(saved)  # given only with no log: a copy of the state as it is
        self._publish()

    def _replay(self, body):
        """Repeat one logged model call on the model and its scores (the same calls, in the
        same order, as when it was served). Returns True for a learn, else how many model
        calls it made. Lock held."""
        record = json.loads(body)
        kind = record.get("k")
        if kind == "forecast":
            self._forecast_calls(record["xs"], record["h"])
            return record["h"]
        if kind == "rank":
            self._rank_calls(record["x"], record["u"], record["items"])
            return len(record["items"])
        if "y" not in record:
            self.model.predict(record["x"])
            return 1
        if record["f"]:
            self.model.predict(record["x"])
        self._learn_calls(record["x"], record["y"], decode_prediction(record["p"]))
        return True

    def _learn_calls(self, x, y, prediction):
        """What a learn does to the model and its scores, served or replayed (drifts and
        resets included: they follow from the calls); True when a drift was detected."""
        self.scores.update(x, y, prediction, self.model)
        self.model.learn(x, y)
        self.scores.after_learn(self.model)
        drifted = self.scores.watch(self.model.paradigm.error(y, prediction))
        if drifted and self.info.get("on_drift") == "reset":
            self.model = self.model.rebind(deserialize(self.initial))  # the model as uploaded
        return drifted

    def _checkpoint(self, saved=None):
        """Copy the model and scores (``saved``: a copy of them as they are, already taken), and
        start a new list of calls to redo from it. Lock held."""
        if saved is None:
            saved = _freeze((self.model.obj, self.scores.objs, self.scores.memory, self.scores.detector))
        self._saved = saved
        self._redo, self._redo_bytes = [], 0
        how, kept = saved
        size = len(kept) if how != "copy" else 0  # a deep copy's size is unknown: not capped
        self.oversized = None if size <= self.settings.max_model_size else (
            f"model {self.name!r} has grown to {size / MiB:.1f} MiB, over the {self.settings.max_model_size / MiB:.1f} "
            "MiB a model may take (--max-model-size): it answers, but takes no call that would "
            "change it. Raise the limit, roll back or upload a new version")

    def _record(self, body, calls=1):
        """Note a logged model call for undo and for the snapshot schedule; ``calls``: how many
        model calls replaying it makes (a ranking of 10,000 items makes 10,000). Lock held."""
        self._redo.append(body)
        self._redo_bytes += len(body)
        self.since_snapshot += calls
        self.logged_bytes += len(body)
        if len(self._redo) >= CHECKPOINT_EVERY or self._redo_bytes >= CHECKPOINT_BYTES:
            self._checkpoint()

    def _undo(self):
        """Put the model and metrics back to the state after the last logged call. Lock held.

        A model whose calls do not repeat (one that raises at random) cannot be put back:
        it is marked broken, and refuses calls until it is rolled back or deleted.
        """
        try:
            obj, *scoring = _thaw(self._saved)
            self.model = self.model.rebind(obj)
            self.scores = type(self.scores)(*scoring)
            for body in self._redo:
                self._replay(body)
        except Exception as e:  # the calls that succeeded once raise now
            self._break(e)
        if self._redo:
            self._checkpoint()  # a flood of bad calls then costs one copy each, not a replay

    def _break(self, error):
        """Stop serving a model that cannot be rebuilt; raises the error its calls get."""
        self.broken = (f"cannot be rebuilt: repeating its calls fails ({type(error).__name__}: {error}), "
                       "so its state is unknown")
        raise Unavailable(self.broken_message())

    def broken_message(self):
        """What calls to a broken model are told, under the name it has now (a promotion
        renames a challenger)."""
        name, _, challenger = self.name.partition("@")
        fix = (f"delete it (DELETE /api/model/{name}/challenger)" if challenger else
               f"upload a new version, roll back to a past one (POST /api/model/{name}/rollback, "
               f"GET /api/model/{name}/versions lists them) or delete it (DELETE /api/model/{name})")
        return f"model {self.name!r} {self.broken}; {fix}"

    def _undo_on_error(self, call, x, *args):
        """Call into the model or its metrics with features ``x``; if it raises, undo its
        partial changes. A text the model cannot take is a 400 (features of the wrong shape),
        anything else the library raises a 422. Lock held."""
        try:
            return call(x, *args)
        except ChantillyError:  # the call's answer was refused (check_prediction)
            self._undo()
            raise
        except Exception as e:  # whatever the library raises, the input was the cause
            self._undo()
            if isinstance(x, str):
                raise BadRequest('"features" must be a JSON object of name: value: this model does '
                                 f"not take a text ({type(e).__name__}: {e})") from None
            raise Unprocessable(f"the model could not handle this input, nothing was changed "
                                f"({type(e).__name__}: {e})") from None

    # -- calls -----------------------------------------------------------------------------

    def apply(self, ops, now, listening, deadline, then=None):
        """Run validated operations in order, until done or past ``deadline`` (perf_counter
        seconds; at least one runs), then ``then(the operations acknowledged)`` under the same
        lock.
        Returns an :class:`Outcome`; raises :class:`Retired`."""
        outcome = Outcome()
        with self._lock:
            if self.retired:
                raise Retired(self.name)
            if self.broken:
                raise Unavailable(self.broken_message())
            if self.rows.store.behind(self.refusals):
                self._rebuild()  # writes were refused: the file is the truth
            learned = False
            for op in ops:
                if outcome.results and time.perf_counter() > deadline:
                    break
                try:
                    answer, x = getattr(self, _CALLS[op.kind])(op, now, outcome)
                except Unavailable as e:  # a read was refused, or the model broke
                    outcome.results.append(detached(e))
                    if self.broken:
                        break
                    self._rebuild()  # raises if the file is unreadable or the model broke
                    continue
                except ChantillyError as e:
                    outcome.results.append(detached(e))
                    continue
                outcome.results.append(answer)
                # Built for every call, framed only when someone listens: the bus keeps the
                # recent ones for a dashboard opened later (?recent=).
                outcome.events.append(("events", op.kind, _event(op, now, self.name, x, answer)))
                learned = learned or op.kind == "learn"
            if learned:
                self._after_learns(now, listening, outcome)
            if not self.broken and (self.since_snapshot >= SNAPSHOT_EVERY or self.logged_bytes >= SNAPSHOT_BYTES):
                outcome.ticket = self.snapshot()  # never a broken model's unknown state
            self._publish(learned)
            if then is not None:
                then(self._acknowledged(ops, outcome.results))
        return outcome

    def _acknowledged(self, ops, results):
        """The operations among ``ops`` that ``results`` answered without an error: all that a
        second consumer (the challenger) may see. A refused call (an unknown id, features
        the model raised on, the call that broke it) may be sent again by its client, so
        passing it on would teach the challenger calls the model never took."""
        return [op for op, r in zip(ops, results) if not isinstance(r, ChantillyError)]

    def _predict(self, op, now, outcome):
        self._check_fits(op, "predict")
        prediction = self._undo_on_error(self.model.predict, op.x)
        if op.key is not None or self.model.changes_on_predict:
            stored, xs = None, encode_features(op.x)
            if op.key is not None:
                stored = (op.key, stored_id_record(xs, prediction), now)
                known = self.rows.find_id(op.key)
                self.stored += known is None or not known[0]  # new, or over a tombstone
            body = predict_record(xs)
            outcome.ticket, self.seq = self.rows.append(body, stored)
            self._record(body)
            excess = self.stored - self.settings.max_ids
            if stored is not None and self.settings.max_ids and excess > 0:
                outcome.ticket = self.rows.evict(excess)  # enforced here, not by the sweeper
                self.stored -= excess
                self.evicted += excess
        self.predictions += 1
        return self.model.paradigm.answer(self.model, prediction), op.x

    def _learn(self, op, now, outcome):
        x, prediction, key, stored = op.x, None, None, None
        if op.key is not None:
            x, prediction, key, stored = self._stored(op, now)
        y = self._label(op.y)
        self._check_fits(op, "learn", x)
        forecasting = isinstance(self.model.paradigm, Forecasting)
        fresh = key is None and not forecasting  # progressive validation: predict, then learn
        if forecasting:
            prediction = self.scores.next_value()  # the forecast this observation is scored on
        elif fresh:
            prediction = self._undo_on_error(self.model.predict, x)
        y = as_class_of(y, prediction)
        if self._undo_on_error(self._learn_calls, x, y, prediction):
            outcome.events.append(("events", "drift", {"t": now, "model": self.name, "learns": self.learns + 1,
                                                       "reset": self.info.get("on_drift") == "reset"}))
            self._drifts_seen.append((now, self.learns + 1))
            outcome.ticket = self.rows.add_drift(now, self.learns + 1)
        body = (learn_record_of_stored(stored, y) if stored is not None
                else learn_record(x, y, prediction, fresh))
        outcome.ticket, self.seq = self.rows.append(body, drop_id=key)
        self._record(body)
        if key is not None:
            self.stored -= 1
        self.learns += 1
        return self.model.paradigm.answer(self.model, prediction), x

    def _forecast(self, op, now, outcome):
        self._check_fits(op, "forecast")
        forecast = self._undo_on_error(self._forecast_calls, op.x, op.horizon)
        if self.model.changes_on_predict:  # creme forecasters update their scalers as they forecast
            self._log(outcome, forecast_record(op.horizon, op.x), op.horizon)
        self.predictions += 1
        return {"forecast": json_safe(forecast)}, op.x

    def _rank(self, op, now, outcome):
        self._check_fits(op, "rank")
        ranking = self._undo_on_error(self._rank_calls, op.x, op.user, op.items)
        if self.model.changes_on_predict:
            self._log(outcome, rank_record(op.user, op.items, op.x), len(op.items))
        self.predictions += 1
        return {"ranking": ranking}, op.x

    def _forecast_calls(self, xs, horizon):
        return self.model.paradigm.forecast(self.model, horizon, xs)

    def _rank_calls(self, x, user, items):
        return self.model.paradigm.rank(self.model, user, items, x)

    def _log(self, outcome, body, calls):
        """Log a model call that changed the model (and nothing else). Lock held."""
        outcome.ticket, self.seq = self.rows.append(body)
        self._record(body, calls)

    def _label(self, y):
        """The operation's label as the model takes it; 400 when it needs one and has none."""
        flavor = self.model.paradigm
        if y is None:
            if flavor.label == "required":
                raise BadRequest(f'"ground_truth" is required to learn: a {flavor.name} model learns '
                                 "from labelled features")
            return None
        if flavor.label == "none":
            raise BadRequest(f'a {flavor.name} model learns from features alone: send no "ground_truth"')
        return flavor.check_label(y)

    def _check_fits(self, op, kind, x=False):
        """Refuse an operation this model's paradigm does not have, or features it needs, or
        that would change a model grown past its size (see :meth:`_checkpoint`)."""
        flavor = self.model.paradigm
        if self.oversized and (kind == "learn" or self.model.changes_on_predict):
            # Pickling a model holds the GIL: one that grows without bound (30,000 new
            # features a learn) would stall every other model's calls for seconds.
            raise InsufficientStorage(self.oversized)
        if kind in ("forecast", "rank") and not hasattr(flavor, kind):
            raise BadRequest(f"{self.name!r} is a {flavor.name} model: it has no {kind} "
                             f"(POST /api/{kind} is for {'forecasting' if kind == 'forecast' else 'recommendation'} models)")
        if kind == "predict" and isinstance(flavor, Forecasting):
            raise BadRequest(f"{self.name!r} is a forecasting model: ask it with POST /api/forecast "
                             '{"horizon": h}')
        if kind == "learn" and x is None and not isinstance(flavor, Forecasting):
            raise BadRequest('a learn needs "features", or the "id" of an earlier prediction')

    def _stored(self, op, now):
        """``(features, prediction, key)`` stored under the operation's id, or its features
        with no stored prediction when the id is unknown. Raises 404 or 410."""
        row = self.rows.find_id(op.key)
        if row is None:
            if op.x is None:
                raise NotFound(f"no prediction is stored for id {op.id!r}: it was never "
                               "predicted with this id, or was already learned; "
                               "send \"features\" with the ground truth instead")
            return op.x, None, None, None
        body, created = row
        if not body or now - created > self.settings.id_ttl:
            kept = (f", and only the newest {self.settings.max_ids} are kept (--max-ids)"
                    if self.settings.max_ids else "")
            raise Gone(f"id {op.id!r} expired: stored ids wait at most {self.settings.id_ttl:g} s "
                       f"for their ground truth (--id-ttl){kept}; send \"features\" instead")
        stored = json.loads(body)
        return stored["x"], decode_prediction(stored["p"]), op.key, body

    def _after_learns(self, now, listening, outcome):
        """Metrics message and history point that follow learns. Lock held."""
        if listening["metrics"]:
            outcome.events.append((f"metrics:{self.name}", None, self.scores.get()))
        outcome.ticket = self._add_history_point(now) or outcome.ticket

    def _add_history_point(self, now):
        """Add the current metrics to the history when a point is due; returns a ticket or 0."""
        if self.history and now - self.history[-1][0] < self.history_interval:
            return 0
        point = (now, self.learns, self.scores.get())
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
            if self.retired or self.broken or self.learns == (self.history[-1][1] if self.history else 0):
                return 0  # a broken model's scores are unknown too
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
        state = pack_state(self.model.obj, self.scores, self.predictions, self.learns)
        ticket = self.rows.save_snapshot(state, self.seq, history)
        self.since_snapshot = self.logged_bytes = 0
        self.snapshots += 1
        return ticket

    def expire(self, horizon, keep_tombstones_after):
        """Tombstone the stored ids older than ``horizon``: ``(how many, ticket)``. A model
        busy for more than a second is left for the next sweep (a stuck one must not stop
        housekeeping for the others)."""
        if not self._lock.acquire(timeout=1.0):
            return 0, 0
        with _released(self._lock):
            if self.retired:
                return 0, 0
            count, ticket = self.rows.expire(horizon, keep_tombstones_after)
            self.stored -= count
            self._publish(False)
            return count, ticket

    # -- reading without the lock ------------------------------------------------------------

    def _publish(self, metrics_changed=True):
        """Make the counters (and metrics) visible to readers. Lock held."""
        metrics = self.scores.get() if metrics_changed else self._view[0]
        self._view = (metrics, self.predictions, self.learns, max(self.stored, 0))

    def describe(self):
        """The model's description with its counters, as of the last call."""
        metrics, predictions, learns, stored = self._view
        described = dict(self.info, name=self.name, version=self.version, predictions=predictions,
                         learns=learns, pending=stored, metrics=self._described_metrics,
                         drifts=self.scores.memory.get("drifts", 0))
        if self.broken:
            described["broken"] = self.broken_message()
        return described

    def metrics(self):
        """``{metric: value}`` as of the last call."""
        return dict(self._view[0])

    def metrics_history(self):
        """``[{"t", "n", "metrics"}, ...]`` oldest first."""
        return [{"t": t, "n": n, "metrics": m} for t, n, m in self.history]

    def drifts(self):
        """``[{"t", "n"}, ...]``: when drifts were detected."""
        return [{"t": t, "n": n} for t, n in list(self._drifts_seen)]

    def download(self):
        """The estimator with everything it has learned, as dill/pickle bytes (waits for the lock)."""
        with self._lock:
            if self.broken:
                raise Unavailable(self.broken_message())
            return serialize(self.model.obj)

    # -- leaving -------------------------------------------------------------------------------

    def resync(self):
        """Rebuild from the store if writes were refused since this state was built."""
        with self._lock:
            if self.rows.store.behind(self.refusals) and not self.retired:
                try:
                    self._rebuild()
                except (ChantillyError, Retired):
                    pass  # unreadable now, or broken: the next call is told

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
        try:  # a broken model's state is unknown: the next start rebuilds it from the log
            if self.since_snapshot and not self.broken and not self.rows.store.behind(self.refusals):
                return self.snapshot()
            return 0
        finally:
            self._lock.release()


@contextlib.contextmanager
def _released(lock):
    """Release ``lock`` (acquired by the caller) on the way out."""
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _holding(*locks, timeout=5.0):
    """Hold ``locks`` (in order), or answer 503 when a model call keeps one longer than
    ``timeout`` seconds (a stuck model must not stall the route that waits)."""
    held = []
    try:
        for lock in locks:
            if not lock.acquire(timeout=timeout):
                raise Unavailable("a call on the model is still running; retry when it is done")
            held.append(lock)
        yield
    finally:
        for lock in reversed(held):
            lock.release()


def _freeze(value):
    """A copy of ``value`` to :func:`_thaw` later, for undo: pickle's bytes (46 us for a
    pipeline with its metrics and drift detector, where copy.deepcopy takes 98 us and a dill
    round trip 760 us); a deep copy of what pickle refuses (lambdas in a pipeline); dill's
    bytes for what neither takes (a lock, a module held by the model)."""
    try:
        return ("pickle", pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except Exception:  # lambdas, closures: deepcopy keeps functions by reference
        pass
    try:
        return ("copy", copy.deepcopy(value))
    except Exception:  # locks, modules: dill knows how to save them
        return ("dill", serialize(value))


def _thaw(frozen):
    """A fresh copy of what :func:`_freeze` kept (each thaw gives a new one)."""
    how, kept = frozen
    return pickle.loads(kept) if how == "pickle" else copy.deepcopy(kept) if how == "copy" else deserialize(kept)


# ---------------------------------------------------------------------------------------
# Stats
# ---------------------------------------------------------------------------------------


class Stats:
    """Operations per second and call latencies over a sliding window, per model and in all,
    for ``/api/stats``. Rates come from per-second counters, so they are exact at any
    throughput; latency percentiles from the most recent calls."""

    KINDS = ("predict", "learn")

    def __init__(self, window=10, samples=2048):
        self._lock = threading.Lock()  # guards the counters and deques
        self.window = window
        self.started = time.time()
        self._seconds = collections.defaultdict(collections.deque)  # (model, kind) -> [second, count]
        self._calls = collections.defaultdict(lambda: collections.deque(maxlen=samples))

    def record(self, model, kind, count, seconds, now):
        """One call of ``kind`` on ``model`` that handled ``count`` operations in ``seconds``."""
        second = int(now)
        with self._lock:
            buckets = self._seconds[model, kind]
            if buckets and buckets[-1][0] == second:
                buckets[-1][1] += count
            else:
                buckets.append([second, count])
                while buckets[0][0] <= second - self.window:
                    buckets.popleft()
            self._calls[model, kind].append((now, seconds))

    def summary(self, now, model=None):
        """Per-kind operations per second over the window and p50/p99 latency in ms, of one
        model or (``None``) of all."""
        counts, calls = dict.fromkeys(self.KINDS, 0), {k: [] for k in self.KINDS}
        with self._lock:
            for (name, kind), buckets in self._seconds.items():
                if model is None or name == model:
                    counts[kind] += sum(c for s, c in buckets if s > now - self.window - 1)
                    calls[kind] += [d for t, d in self._calls[name, kind] if t >= now - self.window]
        rates = {kind: count / self._span(now) for kind, count in counts.items()}
        latency = {}
        for kind, durations in calls.items():
            durations.sort()
            latency[kind] = ({"p50": 1e3 * _percentile(durations, 0.5),
                              "p99": 1e3 * _percentile(durations, 0.99)}
                             if durations else {"p50": None, "p99": None})
        return rates, latency

    def rates_by_model(self, now):
        """``{model: {kind: operations per second}}`` over the window, every model in one pass
        (``/api/stats`` with thousands of models)."""
        rates = collections.defaultdict(lambda: dict.fromkeys(self.KINDS, 0.0))
        with self._lock:
            for (name, kind), buckets in self._seconds.items():
                rates[name][kind] = sum(c for s, c in buckets if s > now - self.window - 1) / self._span(now)
        return rates

    def _span(self, now):
        return min(self.window, max(now - self.started, 1e-9))


def _percentile(ordered, q):
    """Nearest-rank percentile of a sorted list.

    >>> _percentile([1, 2, 3, 4], 0.5), _percentile([1, 2, 3, 4], 0.99)
    (2, 4)
    """
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------
# Service: chantilly without HTTP
# ---------------------------------------------------------------------------------------


_NOBODY = {"metrics": False}


def _declare(telemetry):
    """The families the server records as it goes (the rest are measured when scraped)."""
    telemetry.counter("chantilly_http_requests_total", "HTTP requests answered, by route, method and status.",
                      ("route", "method", "status"))
    telemetry.histogram("chantilly_http_request_duration_seconds",
                        "Time to answer an HTTP request (to its head, for streams), by route.", ("route",))
    return telemetry


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
        self.telemetry = _declare(Telemetry())
        self.expired = 0
        self._lock = threading.Lock()  # guards _deployments, _default and expired
        self._deployments = {}   # name -> Deployment serving under it
        self._challengers = {}   # name -> Deployment challenging it
        self._retired = weakref.WeakValueDictionary()  # model id -> Deployment replaced, while alive
        self._default = None
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
            service._deployments, service._challengers, service._default = service._load_models()
            keep_hash_seed(store)  # after the models loaded: a refused file stays untouched
        except BaseException:
            store.close()
            raise
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
            deployments = self._all_deployments()
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

    @property
    def default(self):
        """The name calls without a model name go to (None before the first upload)."""
        return self._default

    def _resolve(self, name):
        """``name``, or the default model's name; 404 when there is none."""
        if name is not None:
            return name
        if self._default is None:
            raise NotFound("no model yet: upload one with POST /api/model")
        return self._default

    def _deployment(self, name=None):
        """The deployment serving ``name`` (or the default), or ``name``'s challenger when
        ``name`` ends with ``@challenger``; 404 when there is none."""
        self._check_open()
        name = self._resolve(name)
        with self._lock:
            challenger = name.endswith("@challenger")
            base = name[:-len("@challenger")] if challenger else name
            dep = (self._challengers if challenger else self._deployments).get(base)
        if dep is None:
            raise NotFound(f"no model named {name!r}: GET /api/models lists them, "
                           f"POST /api/model/{name} uploads one")
        return dep

    def _prepare(self, data, flavor, metrics, horizon, on_drift):
        """Load and check an upload, before anything is written: ``(info, snapshot bytes,
        (the snapshot loaded back, its copy for undo))``, served as a restart would serve it. A
        model that could not be saved, copied for undo or loaded back is refused here, with
        nothing changed."""
        model = load_model(data, flavor)
        options = {k: v for k, v in (("horizon", horizon), ("on_drift", on_drift)) if v is not None}
        scores = Metrics.for_model(model, metrics, options)
        info = dict(model.info(), uploaded_at=time.time(), **options)
        try:
            state = pack_state(model.obj, scores, 0, 0)
            unpacked = unpack_state(state)  # what a restart will serve: served from the start
            saved = _freeze((unpacked[0], *unpacked[1]))  # the first copy kept for undo
            _thaw(saved)
        except Exception as e:  # whatever the object refuses
            raise BadRequest(f"the model cannot be saved and loaded back ({type(e).__name__}: {e}), so it "
                             "would not survive a restart: keep what cannot be pickled (locks, files, "
                             "connections) out of the model") from None
        if saved[0] != "copy" and len(saved[1]) > self.settings.max_model_size:
            raise PayloadTooLarge(f"the model takes {len(saved[1]) / MiB:.1f} MiB pickled, over the "
                                  f"{self.settings.max_model_size / MiB:.1f} MiB a model may take: start "
                                  "the server with a larger --max-model-size")
        return json.loads(dumps(info)), state, (unpacked, saved)  # the info as the file will hold it

    def upload(self, data, name=None, flavor=None, metrics=None, horizon=None, default=None,
               on_drift=None):
        """Load, check and install a model under ``name`` (None: the default model, "default"
        if there is none) as its next version; returns its description.

        ``metrics``: names from the model's library (None: the flavor's); ``horizon``: the
        steps a forecaster is scored on; ``default``: make it the default model (the first
        model always is); ``on_drift="reset"``: go back to the model as uploaded when a drift
        is detected. The model it replaces is kept as a past version (``--keep-versions``).
        Never waits for a call running on that model: the call finishes on it.
        """
        name = check_name(name) if name is not None else (self._default or DEFAULT_MODEL)
        if on_drift not in (None, "reset"):
            raise BadRequest('?on_drift= can only be "reset"')
        info, state, loaded = self._prepare(data, flavor, metrics, horizon, on_drift)
        with self._lock:
            self._check_open()
            version = next_version(self.store, name)
            old = self._deployments.pop(name, None)
            statements = [] if old is None else self._retire(old)
            rows, insert = ModelRows.create(self.store, name, "serving", version, dumps(info), state, data)
            ticket = self.store.write(statements + [insert] + prune_versions(name, self.settings.keep_versions))[0]
            if default or self._default is None:
                self._default, ticket = name, set_default_model(self.store, name)
            dep = self._deployments[name] = Deployment(name, rows, self.settings, (info, loaded, version, data))
        return self._announce(ticket, dep, "upload")

    def _check_open(self):
        if self._closed.is_set():
            raise Unavailable("the server is shutting down")

    def _retire(self, dep):
        """Stop serving ``dep`` and keep it as a past version; returns the statements. Lock held."""
        dep.retire()
        self._retired[dep.rows.id] = dep  # a call may still run on it (see rollback)
        final = dict(dep.describe(), metrics=dep.metrics(), retired_at=time.time())
        return dep.rows.retire({k: final[k] for k in ("learns", "predictions", "metrics", "retired_at")})

    def _announce(self, ticket, dep, cause):
        """Commit a change of models and tell the event streams why (upload, challenger,
        promote, rollback); returns the model's description."""
        self._commit_or_reload(ticket)
        description = dep.describe()
        self._publish([("events", "model", dict(description, model=dep.name, cause=cause))])
        return description

    def upload_challenger(self, name, data, metrics=None, horizon=None):
        """Install a challenger beside the model ``name``: it sees every call the model sees,
        and is scored the same way, but its answers are only recorded. It gets the model's
        next version number; a challenger already there is dropped."""
        champion = self._deployment(name)
        info, state, loaded = self._prepare(data, champion.info["flavor"], metrics, horizon, None)
        with self._lock:
            self._check_open()
            if self._deployments.get(champion.name) is not champion:  # deleted or replaced meanwhile
                raise NotFound(f"model {champion.name!r} changed while its challenger loaded; retry")
            version = next_version(self.store, champion.name)
            old = self._challengers.pop(champion.name, None)
            if old is not None:
                old.retire()
            rows, insert = ModelRows.create(self.store, champion.name, "challenger", version, dumps(info), state, data)
            ticket = self.store.write(drop_challenger(champion.name) + [insert])[0]
            dep = self._challengers[champion.name] = Deployment(f"{champion.name}@challenger", rows, self.settings,
                                                                (info, loaded, version, data))
        return self._announce(ticket, dep, "challenger")

    def delete_challenger(self, name):
        """Drop the challenger of ``name``."""
        with self._lock:
            name = self._resolve(name)
            dep = self._challengers.pop(name, None)
            if dep is None:
                raise NotFound(f"{name!r} has no challenger")
            dep.retire()
            ticket = self.store.write(drop_challenger(name))[0]
        self._commit_or_reload(ticket)
        self._publish([("events", "delete", {"name": dep.name, "model": dep.name})])
        return {"deleted": dep.name}

    def promote(self, name):
        """The challenger of ``name`` takes its place, at once, with everything it learned; the
        model it replaces is kept as a past version. Waits (a little) for the call running on
        the pair, so that none falls between them."""
        name = self._resolve(name)
        with self._lock:
            champion, challenger = self._deployments.get(name), self._challengers.get(name)
        if champion is None or challenger is None:
            raise NotFound(f"{name!r} has no challenger to promote: upload one with "
                           f"POST /api/model/{name}/challenger")
        # The models' locks first (a model's lock is never taken under the service's), so
        # that other models' calls never wait for a long call on these two.
        with _holding(champion._lock, challenger._lock), self._lock:
            if self._deployments.get(name) is not champion or self._challengers.get(name) is not challenger:
                raise NotFound(f"{name!r} or its challenger changed meanwhile: GET /api/models and retry")
            if challenger.broken:
                raise Unprocessable(challenger.broken_message() + "; it cannot be promoted")
            statements = self._retire(champion) + [challenger.rows.serve()]
            ticket = self.store.write(statements + prune_versions(name, self.settings.keep_versions))[0]
            challenger.name = name  # the same object serves on: nothing to rebuild, nothing missed
            del self._challengers[name]
            self._deployments[name] = challenger
        return self._announce(ticket, challenger, "promote")

    def rollback(self, name, version):
        """Serve again the past version ``version`` of ``name``, from the state it had; the
        model it replaces is kept as a past version. The version is rebuilt before anything
        changes (a version that cannot be is refused), and without holding up other calls."""
        name = self._resolve(name)
        model_id = self._past_version(name, version)
        still_running = self._retired.get(model_id)
        if still_running is not None:  # a call that began before it was replaced ends first
            with _holding(still_running._lock):
                pass
        try:
            dep = Deployment(name, ModelRows(self.store, model_id), self.settings)
        except (Retired, ChantillyError):
            raise
        except Exception as e:  # its snapshot or log cannot be replayed here
            raise Unprocessable(f"version {version} of {name!r} cannot be rebuilt ({type(e).__name__}: "
                                f"{e}); nothing was changed") from None
        with self._lock:
            current = self._deployments.get(name)
            if current is None or self._past_version(name, version) != model_id:
                raise NotFound(f"{name!r} changed meanwhile: GET /api/model/{name}/versions and retry")
            statements = self._retire(current) + [dep.rows.serve()]
            ticket = self.store.write(statements + prune_versions(name, self.settings.keep_versions))[0]
            self._deployments[name] = dep
        return self._announce(ticket, dep, "rollback")

    def _past_version(self, name, version):
        """The model id of a past version of ``name``; 404 for anything else."""
        found = [(i, role) for i, v, role, _ in versions_of(self.store, name) if v == version]
        if not found or found[0][1] != "version" or name not in self._deployments:
            raise NotFound(f"{name!r} has no past version {version}: GET /api/model/{name}/versions "
                           "lists them" if not found or found[0][1] == "version" else
                           f"version {version} of {name!r} is its {found[0][1]}, not a past version")
        return found[0][0]

    def versions(self, name=None):
        """``{"name", "versions": [...]}``: every version kept of a model, oldest first, with
        its role (serving, challenger or version) and its counters and metrics."""
        name = self._deployment(name).name
        listing = []
        for model_id, version, role, info in versions_of(self.store, name):
            live = self._deployments.get(name) if role == "serving" else self._challengers.get(name)
            if role != "version" and live is not None:
                info = dict(live.describe(), metrics=live.metrics())
            else:
                info = dict(info, **info.pop("final", {}))
            listing.append(dict(info, version=version, role=role, name=name))
        return {"name": name, "versions": listing}

    def set_default(self, name):
        """Make ``name`` the model that calls without a model name go to."""
        self._deployment(name)
        with self._lock:
            self._default, ticket = name, set_default_model(self.store, name)
        self._commit_or_reload(ticket)
        return {"default": name}

    def _commit_or_reload(self, ticket):
        """Commit a change of models; if refused, serve again what the file holds."""
        try:
            self.store.commit(ticket)
        except Unavailable:
            with self._lock:
                for dep in self._all_deployments():
                    dep.retire()
                self._deployments, self._challengers, self._default = self._load_models()
            raise

    def _load_models(self):
        """``({name: Deployment}, {name: challenger}, default name)`` as the file has them. A
        model this environment cannot rebuild (its library is missing, its calls no longer
        repeat) answers 503 saying so, alone: the others serve (see :meth:`unloadable`); a
        damaged one is a :class:`StoreError` (refusing to start beats serving a guess)."""
        loaded = {}
        for role, suffix in (("serving", ""), ("challenger", "@challenger")):
            loaded[role] = {}
            for model_id, name in serving_models(self.store, role):
                try:
                    loaded[role][name] = Deployment(name + suffix, ModelRows(self.store, model_id),
                                                    self.settings, tolerant=True)
                except Exception as e:  # a snapshot or log record that was damaged
                    raise StoreError(
                        f"model {name + suffix!r} in {self.store.path} cannot be read ({type(e).__name__}: "
                        f"{e}): the file is corrupt; refusing to start. `chantilly delete-model {name} "
                        f"--db {self.store.path}` removes it") from None
        return loaded["serving"], loaded["challenger"], default_model(self.store, loaded["serving"])

    def _all_deployments(self):
        """The models serving and challenging. Lock held."""
        return [*self._deployments.values(), *self._challengers.values()]

    def download(self, name=None, version=None):
        """A model's bytes, loadable with ``dill.loads`` (a past ``version`` of it, if given)."""
        dep = self._deployment(name)
        if version is None or version == dep.version:
            return dep.download()
        base = dep.name.partition("@")[0]
        found = [i for i, v, _, _ in versions_of(self.store, base) if v == version]
        if not found:
            raise NotFound(f"{base!r} has no version {version}: GET /api/model/{base}/versions lists them")
        return Deployment(f"{base}@{version}", ModelRows(self.store, found[0]), self.settings).download()

    def delete(self, name=None):
        """Remove a model with its challenger, past versions, metrics, history and stored ids.
        When it was the default, the most recently uploaded model left becomes the default."""
        with self._lock:
            name = self._resolve(name)
            dep = self._deployments.pop(name, None)
            if dep is None:
                raise NotFound(f"no model named {name!r}")
            for retired in (dep, self._challengers.pop(name, None)):
                if retired is not None:
                    retired.retire()
            ticket = self.store.write(drop_name(name))[0]
            if name == self._default:
                newest = max(self._deployments.values(), key=lambda d: d.rows.id, default=None)
                self._default = newest.name if newest else None
                ticket = set_default_model(self.store, self._default)
        self._commit_or_reload(ticket)
        self._publish([("events", "delete", {"name": name, "model": name})])
        return {"deleted": name}

    def describe(self, name=None):
        """The model's description and counters."""
        return self._deployment(name).describe()

    def model_names(self):
        """Names of the models being served."""
        with self._lock:
            return sorted(self._deployments)

    def unloadable(self):
        """``{name: why}`` of the models that could not be loaded (see Deployment._unloadable)."""
        with self._lock:
            return {dep.name: dep.broken for dep in self._all_deployments() if dep.model is None}

    def models(self):
        """``{"default": name, "models": [name, ...], "descriptions": {name: description}}``:
        chantilly 0.2's two keys (names, sorted), then what this server adds."""
        with self._lock:
            deployments = sorted(self._deployments.items())
            challengers = dict(self._challengers)
            default = self._default
        return {"default": default, "models": [n for n, _ in deployments], "descriptions": {
            n: dict(dep.describe(), **({"challenger": challengers[n].describe()} if n in challengers else {}))
            for n, dep in deployments}}

    # -- predict and learn -------------------------------------------------------------------

    def predict(self, payload, name=None):
        """``{"features": ..., "id": ..., "model": ...}`` -> ``{"prediction": ...}``."""
        return self._single("predict", payload, name)

    def learn(self, payload, name=None):
        """``{"id" | "features", "ground_truth", "model"}`` -> ``{"prediction": <the one scored>}``."""
        return self._single("learn", payload, name)

    def forecast(self, payload, name=None):
        """``{"horizon": h, "features": [x1..xh]?}`` -> ``{"forecast": [h values]}``."""
        return self._single("forecast", payload, name)

    def rank(self, payload, name=None):
        """``{"user": u, "items": [...]}`` -> ``{"ranking": [items, best first]}``."""
        return self._single("rank", payload, name)

    def _single(self, kind, payload, name):
        result = self.apply([Operation(kind, payload)], name)[0]
        if isinstance(result, ChantillyError):
            raise result
        return result

    def batch(self, kind, payloads, name=None):
        """A list of calls of one kind -> a list of answers or errors, in order."""
        ops = []
        for payload in payloads:
            try:
                ops.append(Operation(kind, payload))
            except ChantillyError as e:
                ops.append(detached(e))
        return self.apply(ops, name)

    def apply(self, ops, name=None):
        """Run operations (or errors standing in their place) in order, each on the model it
        names (else ``name``, else the default), commit them together, then publish their
        events. Returns one answer or :class:`ChantillyError` per item."""
        started = time.perf_counter()
        results = list(ops)
        if len(ops) == 1 and isinstance(ops[0], Operation):  # a single call: nothing to group
            by_model = {ops[0].model or name: [0]}
        else:
            by_model = {}
            for i, op in enumerate(ops):
                if isinstance(op, Operation):
                    by_model.setdefault(op.model or name, []).append(i)
        events, ticket = [], 0
        for model, indexes in by_model.items():
            try:
                answers, model_events, model_ticket = self._apply_on(model, [ops[i] for i in indexes])
            except ChantillyError as e:  # no such model
                answers, model_events, model_ticket = [detached(e)] * len(indexes), [], 0
            for i, answer in zip(indexes, answers):
                results[i] = answer
            events += model_events
            ticket = max(ticket, model_ticket)
        if ticket:
            try:
                self.store.commit(ticket)
            except Unavailable as e:
                self._resync()  # drop from memory what the file does not have
                return [e if isinstance(r, dict) else r for r in results]
        self._publish(events)
        self._record_stats(ops, by_model, time.perf_counter() - started)
        return results

    def _apply_on(self, name, ops):
        """Run operations on one model, a slice at a time: between slices the model's lock is
        free for other clients, so one long batch (of failing items, say) cannot stall them.
        A challenger then sees the same slice; what it answers is only recorded.
        Returns ``(results, events, ticket)``."""
        if name is not None and name.endswith("@challenger"):
            raise BadRequest(f"a challenger sees the calls of its model: send them to {name.partition('@')[0]!r}")
        results, events, ticket, replaced = [], [], 0, 0
        while len(results) < len(ops):
            try:
                dep = self._deployment(name)
                mirrored = []
                outcome = dep.apply(ops[len(results):], time.time(), self._listening(dep.name),
                                    time.perf_counter() + SLICE_SECONDS,
                                    then=lambda done, dep=dep: mirrored.append(self._challenge(dep.name, done)))
            except Retired:  # the model was replaced while we waited for its lock: look again
                replaced += 1
                if replaced > 100:
                    raise Unavailable(f"model {name!r} keeps being replaced; retry") from None
                continue
            except ChantillyError as e:  # no such model, or it broke: the rest get the error
                results += [detached(e)] * (len(ops) - len(results))
                break
            results += outcome.results
            events += outcome.events + [e for m in mirrored for e in m.events]
            ticket = max([outcome.ticket, *(m.ticket for m in mirrored)]) or ticket  # the last covers the rest
            if len(results) < len(ops):
                time.sleep(0)  # hand over the GIL, so a waiting client takes the lock first
        return results, events, ticket

    def _listening(self, name):
        if not self.bus.has_subscribers():
            return _NOBODY
        return {"metrics": self.bus.has_subscribers(f"metrics:{name}")}

    def _challenge(self, name, ops):
        """The challenger of ``name`` runs ``ops`` too, under the model's lock (so a promotion
        never falls between the two); its errors, like its answers, stay its own."""
        challenger = self._challengers.get(name)
        if challenger is None:
            return Outcome()
        try:
            return challenger.apply(ops, time.time(), self._listening(challenger.name), math.inf)
        except Exception:  # whatever the challenger does, the model's answer stands
            return Outcome()

    def _resync(self):
        with self._lock:
            deployments = self._all_deployments()
        for dep in deployments:
            dep.resync()

    def _record_stats(self, ops, by_model, elapsed):
        now = time.time()
        for model, indexes in by_model.items():
            learns = sum(1 for i in indexes if ops[i].kind == "learn")
            resolved = model or self._default
            for kind, count in (("learn", learns), ("predict", len(indexes) - learns)):
                if count:
                    self.stats.record(resolved, kind, count, elapsed, now)

    def _publish(self, events):
        for topic, name, data in events:
            if topic == "events":  # also to the streams that follow one model; kept for newcomers
                self.bus.publish((topic, f"events:{data['model']}"), name, data, keep=True)
            else:
                self.bus.publish((topic,), name, data)

    # -- metrics and stats ---------------------------------------------------------------------

    def metrics(self, name=None):
        """``{metric: value}`` of the model."""
        return self._deployment(name).metrics()

    def history(self, name=None):
        """Recent metrics points for charts; empty when there is no model."""
        try:
            dep = self._deployment(name)
        except NotFound:
            return {"flavor": None, "points": [], "drifts": []}
        return {"flavor": dep.info["flavor"], "points": dep.metrics_history(), "drifts": dep.drifts()}

    def summary(self, name=None):
        """Counters, throughput and latency for ``/api/stats``: of the model ``name`` (or the
        default) under ``model``, and of every model under ``models``."""
        now = time.time()
        if name is not None:
            self._deployment(name)  # 404 for an unknown name
        try:
            model = self.describe(name)
        except NotFound:
            model = None
        with self._lock:
            deployments = dict(self._deployments)
            expired = self.expired + sum(dep.evicted for dep in deployments.values())
        rates, latency = self.stats.summary(now, model["name"] if name is not None else None)
        by_model = self.stats.rates_by_model(now)
        per_model = {n: dict(dep.describe(), rates=by_model[n], values=dep.metrics())
                     for n, dep in sorted(deployments.items())}
        return {"model": model, "models": per_model, "default": self._default,
                "uptime_s": now - self.stats.started, "rates": rates, "latency_ms": latency,
                "subscribers": self.bus.count(), "expired": expired}

    def prometheus(self, connections=0):
        """Everything ``/metrics`` shows, in the Prometheus text format; ``connections``: the
        open connections, which only the server knows."""
        with self._lock:
            deployments = sorted((dep.name, dep) for dep in self._all_deployments())
            expired = self.expired + sum(dep.evicted for _, dep in deployments)
        described = [(name, dep.describe(), dep.metrics(), dep.snapshots) for name, dep in deployments]
        calls = [({"model": n, "kind": kind}, d[key]) for n, d, _, _ in described
                 for kind, key in (("predict", "predictions"), ("learn", "learns"))]
        values = [({"model": n, "metric": metric}, value) for n, _, metrics, _ in described
                  for metric, value in metrics.items()]
        gauges = [
            ("chantilly_build_info", "chantilly's version and Python's, as labels; always 1.",
             [({"version": __version__, "python": platform.python_version()}, 1)]),
            ("chantilly_model_calls_total", "Model calls answered, by model and kind (since upload).", calls),
            ("chantilly_model_metric", "Each model's current metric values.", values),
            ("chantilly_stored_ids", "Ids waiting for their ground truth, by model.",
             [({"model": n}, d["pending"]) for n, d, _, _ in described]),
            ("chantilly_snapshots_total", "Model snapshots written since the server started.",
             [({"model": n}, snapshots) for n, _, _, snapshots in described]),
            ("chantilly_drifts_total", "Concept drifts detected in a model's live error.",
             [({"model": n}, d.get("drifts", 0)) for n, d, _, _ in described]),
            ("chantilly_expired_ids_total", "Stored ids that expired or were evicted.", [({}, expired)]),
            ("chantilly_refused_writes_total", "Times storage refused writes (disk full, read-only).",
             [({}, self.store.refusals)]),
            ("chantilly_open_connections", "Open HTTP connections.", [({}, connections)]),
            ("chantilly_open_streams", "Open event streams.", [({}, self.bus.count())]),
        ]
        with self.store._commit_lock:  # a consistent copy of the commit histograms
            commits = [("chantilly_commit_duration_seconds", "Time of one group commit to SQLite.",
                        self.store.commit_seconds.copy()),
                       ("chantilly_commit_writes", "Writes (model calls and others) per group commit.",
                        self.store.commit_writes.copy())]
        return self.telemetry.render(gauges + process_gauges(self.stats.started), commits)

    # -- housekeeping ----------------------------------------------------------------------------

    def sweep(self, now=None):
        """Tombstone stored ids past their time-to-live; returns how many expired.

        Tombstones answer 410 for another ``id_ttl`` seconds, then are dropped.
        """
        now = time.time() if now is None else now
        ttl = self.settings.id_ttl
        with self._lock:
            deployments = self._all_deployments()
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
            deployments = self._all_deployments()
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
    its body (None: no cap, for streams). ``takes`` and ``gives`` name what its body and its
    answer are (a schema of :data:`SCHEMAS`, or bytes, events, ndjson, text, html), ``params``
    its query parameters: the OpenAPI contract is written from them (see :func:`openapi`)."""

    __slots__ = ("method", "pattern", "fn", "scope", "body_limit", "takes", "gives", "params", "status")

    def __init__(self, method, pattern, fn, scope, body_limit, takes, gives, params, status):
        self.method, self.pattern, self.fn = method, pattern, fn
        self.scope, self.body_limit = scope, body_limit
        self.takes, self.gives, self.params, self.status = takes, gives, params, status

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

    def route(self, method, pattern, scope="client", body_limit="max_body", takes=None, gives=None,
              params=(), status=200):
        """Decorator registering a route function (see :class:`Route`)."""
        def decorate(fn):
            route = Route(method, pattern, fn, scope, body_limit, takes, gives, params, status)
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

    __slots__ = ("method", "path", "query", "headers", "service", "dashboard", "reader", "limit",
                 "connections")

    def __init__(self, method, path, query, headers, service, dashboard, reader, limit, connections=lambda: 0):
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.service, self.dashboard, self.reader, self.limit = service, dashboard, reader, limit
        self.connections = connections  # () -> open connections, for /metrics

    def body(self):
        """The whole body, refused with 413 before it is read when it is over the route's limit."""
        return self.reader.read_all(self.limit)

    def json(self):
        """The body decoded as JSON (see :func:`parse_json`)."""
        return parse_json(self.body())


class Blob:
    """A non-JSON answer: bytes with their content type."""

    def __init__(self, body, content_type, headers=()):
        self.body, self.content_type, self.headers = body, content_type, tuple(headers)


class EventStream:
    """Answer with the server-sent events of a bus topic until the client or server leaves,
    beginning with its ``recent`` last events."""

    def __init__(self, topic, recent=0):
        self.topic, self.recent = topic, recent


class OperationStream:
    """Answer a body of newline-delimited operations with one JSON line each, per chunk."""


def answer_line(result):
    """One line of an operation stream's answer: JSON and a newline. The common answer, one
    number, is written directly (json.dumps was a tenth of a stream's time).

    >>> answer_line({"prediction": 0.25}), answer_line({"forecast": [1.0]})
    ('{"prediction":0.25}\\n', '{"forecast":[1.0]}\\n')
    """
    if type(result) is dict and len(result) == 1:
        value = result.get("prediction", result)
        if type(value) is float and math.isfinite(value):
            return '{"prediction":' + repr(value) + '}\n'
    return dumps(batch_item(result)) + "\n"


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
        data = self._read(name)
        if data is None:
            raise NotFound(f"no file {_truncate(name)!r} in the dashboard")
        content_type = _CONTENT_TYPES.get(pathlib.PurePath(name).suffix, "application/octet-stream")
        # no-cache: the browser revalidates, so an upgraded dashboard shows up on reload.
        # Never framed by another site (clickjacking): CSP for today's browsers, XFO for older.
        return Blob(data, content_type, [("Cache-Control", "no-cache"),
                                         ("Content-Security-Policy", "frame-ancestors 'self'"),
                                         ("X-Frame-Options", "SAMEORIGIN")])

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


#: What tells chantilly's own static/ from another project's: its index.html carries this.
#: A lone copied chantilly.py may land beside any static/ folder, and a page served from it
#: would be same-origin with the API (so it could upload models).
DASHBOARD_MARKER = b'<meta name="generator" content="chantilly">'


def find_static_dir():
    """``static/`` beside this file, or where ``pip install`` put it, when it is chantilly's
    dashboard (see :data:`DASHBOARD_MARKER`); ``None`` if neither is."""
    for candidate in (pathlib.Path(__file__).resolve().parent / "static",
                      pathlib.Path(sys.prefix) / "share" / "chantilly" / "static"):
        try:
            if DASHBOARD_MARKER in (candidate / "index.html").read_bytes():
                return candidate.resolve()
        except OSError:
            continue  # no such folder or file: look further
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
_UPLOAD = ("flavor", "metrics", "horizon", "default", "on_drift")


@ROUTER.route("GET", "/api/health", scope=None, gives="Health")
def get_health(request):
    """Liveness probe; needs no token and reveals nothing."""
    return {"status": "ok"}


@ROUTER.route("POST", "/api/model", scope="admin", body_limit="max_model", takes="bytes",
               gives="Model", params=_UPLOAD, status=201)
@ROUTER.route("POST", "/api/model/<name>", scope="admin", body_limit="max_model", takes="bytes",
               gives="Model", params=_UPLOAD, status=201)
def post_model(request, name=None):
    """Upload a model (dill bytes) under a name; ?flavor=, ?metrics=, ?horizon=, ?default=true."""
    q = request.query
    metrics = _metric_names(q)
    described = request.service.upload(
        request.body(), name, flavor=q.get("flavor"), metrics=metrics, default=_flag(q, "default"),
        horizon=None if "horizon" not in q else _integer(q, "horizon", 1, MAX_HORIZON),
        on_drift=q.get("on_drift"))
    return described, HTTPStatus.CREATED


def _metric_names(query):
    return None if "metrics" not in query else [m.strip() for m in query["metrics"].split(",") if m.strip()]


@ROUTER.route("GET", "/api/model", scope="admin", gives="bytes", params=("version",))
@ROUTER.route("GET", "/api/model/<name>", scope="admin", gives="bytes", params=("version",))
def get_model(request, name=None):
    """Download a model with everything it has learned, as dill bytes (?version= for a past one)."""
    version = _integer(request.query, "version", 1, 2**31) if "version" in request.query else None
    name = None if name is None else check_name(name, challenger=True)  # it goes into a header
    return Blob(request.service.download(name, version), "application/octet-stream",
                [("Content-Disposition", f'attachment; filename="{name or "model"}.dill"')])


@ROUTER.route("DELETE", "/api/model", scope="admin", gives="Deleted")
@ROUTER.route("DELETE", "/api/model/<name>", scope="admin", gives="Deleted")
def delete_model(request, name=None):
    """Remove a model, its metrics, history and stored ids."""
    return request.service.delete(None if name is None else check_name(name))


@ROUTER.route("GET", "/api/model/<name>/versions", gives="Versions")
def get_versions(request, name):
    """Every version kept of a model, oldest first: serving, challenger and past ones."""
    return request.service.versions(check_name(name))


@ROUTER.route("POST", "/api/model/<name>/rollback", scope="admin", takes="Rollback", gives="Model")
def post_rollback(request, name):
    """Serve a past version again, from the state it had: {"version": n}."""
    payload = request.json()
    version = payload.get("version") if isinstance(payload, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        raise BadRequest('send {"version": n}: GET /api/model/<name>/versions lists them')
    return request.service.rollback(check_name(name), version)


@ROUTER.route("POST", "/api/model/<name>/challenger", scope="admin", body_limit="max_model",
               takes="bytes", gives="Model", params=("metrics", "horizon"), status=201)
def post_challenger(request, name):
    """Upload a challenger (dill bytes) that sees every call of the model and is scored alike."""
    q = request.query
    described = request.service.upload_challenger(
        check_name(name), request.body(), metrics=_metric_names(q),
        horizon=None if "horizon" not in q else _integer(q, "horizon", 1, MAX_HORIZON))
    return described, HTTPStatus.CREATED


@ROUTER.route("DELETE", "/api/model/<name>/challenger", scope="admin", gives="Deleted")
def delete_challenger(request, name):
    """Drop a model's challenger."""
    return request.service.delete_challenger(check_name(name))


@ROUTER.route("POST", "/api/model/<name>/promote", scope="admin", gives="Model")
def post_promote(request, name):
    """The challenger replaces the model, at once; the model is kept as a past version."""
    return request.service.promote(check_name(name))


@ROUTER.route("GET", "/api/models", gives="Models")
def get_models(request):
    """Every model with its description and counters, and which one is the default."""
    return request.service.models()


@ROUTER.route("POST", "/api/models/default", scope="admin", takes="SetDefault", gives="Default")
def post_default_model(request):
    """Choose the default model: {"name": ...}; calls that name no model go to it."""
    payload = request.json()
    if not isinstance(payload, dict) or "name" not in payload:
        raise BadRequest('send {"name": "<model>"} to choose the default model')
    return request.service.set_default(check_name(payload["name"]))


def _calls(request, kind):
    """One call of ``kind`` (a JSON object), or a JSON array of them answered by an array."""
    payload = request.json()
    if isinstance(payload, list):
        return [batch_item(r) for r in request.service.batch(kind, payload)]
    return getattr(request.service, kind)(payload)


@ROUTER.route("POST", "/api/predict", takes="Predict", gives="Prediction")
def post_predict(request):
    """Predict: {"features", "id"?, "model"?} -> {"prediction"}; an array gives an array."""
    return _calls(request, "predict")


@ROUTER.route("POST", "/api/learn", takes="Learn", gives="Prediction")
def post_learn(request):
    """Learn: {"id" or "features", "ground_truth", "model"?}; an array gives an array."""
    return _calls(request, "learn")


@ROUTER.route("POST", "/api/forecast", takes="Forecast", gives="ForecastAnswer")
def post_forecast(request):
    """Forecast: {"horizon", "features"?: [x1..xh], "model"?} -> {"forecast": [...]}."""
    return _calls(request, "forecast")


@ROUTER.route("POST", "/api/rank", takes="Rank", gives="Ranking")
def post_rank(request):
    """Rank items for a user: {"user", "items", "model"?} -> {"ranking": [best first]}."""
    return _calls(request, "rank")


@ROUTER.route("POST", "/api/stream", body_limit=None, takes="ndjson", gives="ndjson")
def post_stream(request):
    """Many operations on one connection: NDJSON lines in, one answer line each out."""
    return OperationStream()


@ROUTER.route("GET", "/api/metrics", gives="Metrics", params=("model",))
def get_metrics(request):
    """Current metrics of a model (?model=, else the default)."""
    return request.service.metrics(_model(request))


@ROUTER.route("GET", "/api/metrics/history", gives="History", params=("model",))
def get_metrics_history(request):
    """Recent (time, learns, metrics) points of a model, oldest first, for charts."""
    return request.service.history(_model(request))


@ROUTER.route("GET", "/api/stats", gives="Stats", params=("model",))
def get_stats(request):
    """Counters, operations per second and latency, of a model and of each model."""
    return request.service.summary(_model(request))


@ROUTER.route("GET", "/api/stream/metrics", gives="events", params=("model",))
def stream_metrics(request):
    """Server-sent events: a model's metrics after every learn (?model=, else the default)."""
    name = _model(request)
    if name is not None:
        request.service.describe(name)  # 404 for an unknown model
    return EventStream(f"metrics:{name or request.service.default or DEFAULT_MODEL}")


@ROUTER.route("GET", "/api/stream/events", gives="events", params=("model", "recent"))
def stream_events(request):
    """Server-sent events: predict, learn, forecast, rank, model and delete (?model= filters,
    ?recent=n first sends the n last ones)."""
    name = _model(request)
    if name is not None:
        request.service.describe(name)
    recent = _integer(request.query, "recent", 0, RECENT_EVENTS) if "recent" in request.query else 0
    return EventStream("events" if name is None else f"events:{name}", recent)


def _model(request):
    """The ``?model=`` of a request (``name@challenger`` for a challenger), checked, or None."""
    return check_name(request.query["model"], challenger=True) if "model" in request.query else None


def _flag(query, name):
    value = query.get(name)
    if value is None:
        return None
    if value.lower() not in ("true", "false", "1", "0", ""):
        raise BadRequest(f"?{name}= must be true or false")
    return value.lower() in ("true", "1", "")


def _integer(query, name, low, high):
    value = query[name]
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise BadRequest(f"?{name}= must be an integer from {low} to {high}")
    return int(value)


@ROUTER.route("GET", "/metrics", gives="text")
def get_prometheus_metrics(request):
    """Prometheus metrics (text exposition format): traffic, latency, models, storage, process."""
    return Blob(request.service.prometheus(request.connections()).encode("utf-8", "backslashreplace"),
                "text/plain; version=0.0.4; charset=utf-8")


@ROUTER.route("GET", "/", scope=None, gives="html")
def get_index(request):
    """The dashboard."""
    return request.dashboard.file("index.html")


@ROUTER.route("GET", "/static/<path:name>", scope=None, gives="bytes")
def get_static(request, name):
    """The dashboard's files, from static/ and nothing outside it."""
    return request.dashboard.file(name)


# ---------------------------------------------------------------------------------------
# HTTP: the OpenAPI contract, written from the routes
# ---------------------------------------------------------------------------------------

_NAME = {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}
_ANY_NAME = {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}(@challenger)?$"}
_SCALAR = {"type": ["number", "string", "boolean", "null"]}
_FEATURES = {"oneOf": [{"type": "object", "additionalProperties": _SCALAR}, {"type": "string"}],
             "description": "name: value pairs, or a text for text models"}
_KEY = {"type": ["string", "integer"]}
_NUMBERS = {"type": "object", "additionalProperties": {"type": ["number", "null"]}}


def _object(required=(), **properties):
    return {"type": "object", "required": list(required), "properties": properties}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


#: The shapes of bodies and answers, as JSON Schema (OpenAPI 3.1).
SCHEMAS = {
    "Error": {**_object(["message"], message={"type": "string"}), "additionalProperties": False},
    "Health": _object(["status"], status={"const": "ok"}),
    "Predict": _object(["features"], features=_FEATURES, id=_KEY, model=_NAME),
    "Learn": _object((), features=_FEATURES, id=_KEY, model=_NAME, ground_truth=_SCALAR),
    "Forecast": _object(["horizon"], horizon={"type": "integer", "minimum": 1, "maximum": MAX_HORIZON},
                        features={"type": "array", "items": _FEATURES}, model=_NAME),
    "Rank": _object(["user", "items"], user=_KEY, features=_FEATURES, model=_NAME,
                    items={"type": "array", "items": _KEY, "minItems": 1, "maxItems": MAX_RANK_ITEMS}),
    "Prediction": _object(["prediction"], prediction={}, anomaly={"type": "boolean"}),
    "ForecastAnswer": _object(["forecast"], forecast={"type": "array", "items": {"type": ["number", "null"]}}),
    "Ranking": _object(["ranking"], ranking={"type": "array", "items": _KEY}),
    "Refused": _object(["status", "message"], status={"type": "integer"}, message={"type": "string"}),
    "Model": _object(["name", "flavor", "class", "library", "version", "learns", "predictions"],
                     name=_ANY_NAME, flavor={"enum": sorted(PARADIGMS)}, version={"type": "integer"},
                     learns={"type": "integer"}, predictions={"type": "integer"}, pending={"type": "integer"},
                     drifts={"type": "integer"}, metrics={"type": "array"}),
    "Models": _object(["default", "models", "descriptions"], default={"type": ["string", "null"]},
                      models={"type": "array", "items": _NAME},
                      descriptions={"type": "object", "additionalProperties": _ref("Model")}),
    "Versions": _object(["name", "versions"], name=_NAME, versions={"type": "array", "items": _object(
        ["version", "role"], version={"type": "integer"}, role={"enum": ["serving", "challenger", "version"]})}),
    "Rollback": _object(["version"], version={"type": "integer"}),
    "SetDefault": _object(["name"], name=_NAME),
    "Default": _object(["default"], default=_NAME),
    "Deleted": _object(["deleted"], deleted={"type": "string"}),
    "Metrics": _NUMBERS,
    "History": _object(["flavor", "points", "drifts"], flavor={"type": ["string", "null"]},
                       points={"type": "array", "items": _object(["t", "n", "metrics"], metrics=_NUMBERS)},
                       drifts={"type": "array"}),
    "Stats": _object(["model", "models", "rates", "latency_ms", "uptime_s"], model={"type": ["object", "null"]}),
}

#: Query parameters by name, as routes list them.
PARAMETERS = {
    "flavor": ({"enum": sorted(PARADIGMS)}, "force the flavor instead of detecting it"),
    "metrics": ({"type": "string"}, "comma-separated metric names of the model's library; empty for none"),
    "horizon": ({"type": "integer", "minimum": 1, "maximum": MAX_HORIZON}, "steps a forecaster is scored on"),
    "default": ({"enum": ["true", "false"]}, "make this model the default"),
    "on_drift": ({"enum": ["reset"]}, "go back to the model as uploaded when a drift is detected"),
    "version": ({"type": "integer", "minimum": 1}, "a past version"),
    "model": (_ANY_NAME, "the model (name@challenger for its challenger); the default when absent"),
    "recent": ({"type": "integer", "minimum": 0, "maximum": RECENT_EVENTS}, "past events sent first"),
}

_MEDIA = {"bytes": "application/octet-stream", "events": "text/event-stream", "ndjson": "application/x-ndjson",
          "text": "text/plain", "html": "text/html"}
_BATCH = {"Predict", "Learn", "Forecast", "Rank"}  # a JSON array of them is a batch


def _content(kind):
    if kind in _MEDIA:
        return {_MEDIA[kind]: {"schema": {"type": "string"}}}
    return {"application/json": {"schema": _ref(kind)}}


def _operation(route):
    """One route's OpenAPI operation."""
    operation_id = re.sub(r"\W+", "_", f"{route.method} {route.pattern}".lower()).strip("_")
    operation = {"operationId": operation_id, "summary": route.doc, "responses": {
        str(route.status): {"description": "done", "content": _content(route.gives)},
        "4XX": {"description": "refused; the message says what to fix", "content": _content("Error")},
        "503": {"description": "storage refused the write, or shutting down", "content": _content("Error")}}}
    if route.takes in _BATCH:
        schema = {"oneOf": [_ref(route.takes), {"type": "array", "items": _ref(route.takes)}]}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
        operation["responses"][str(route.status)]["content"]["application/json"]["schema"] = {
            "oneOf": [_ref(route.gives), {"type": "array", "items": {"anyOf": [_ref(route.gives), _ref("Refused")]}}]}
    elif route.takes is not None:  # an empty NDJSON stream is zero operations, not an error
        operation["requestBody"] = {"required": route.takes != "ndjson", "content": _content(route.takes)}
    parameters = [{"name": name, "in": "path", "required": True, "schema": _NAME if name == "name" else {"type": "string"}}
                  for name in re.findall(r"<(?:path:)?(\w+)>", route.pattern)]
    parameters += [{"name": p, "in": "query", "required": False, "schema": PARAMETERS[p][0],
                    "description": PARAMETERS[p][1]} for p in route.params]
    if parameters:
        operation["parameters"] = parameters
    if route.scope is not None:
        operation["security"] = [{"bearer": []}, {"query": []}, {}]  # {}: no token configured
    return operation


def openapi(router=None):
    """The OpenAPI 3.1 description of every route, from the router's own table."""
    paths = {}
    for route in (router or ROUTER).routes:
        path = re.sub(r"<(?:path:)?(\w+)>", r"{\1}", route.pattern)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    return {"openapi": "3.1.0",
            "info": {"title": "chantilly", "version": __version__,
                     "description": "Online machine-learning models behind a small, durable HTTP server."},
            "paths": paths,
            "components": {"schemas": SCHEMAS, "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "query": {"type": "apiKey", "in": "query", "name": "token"}}}}


@ROUTER.route("GET", "/api/openapi.json", scope=None, gives="text")
def get_openapi(request):
    """This API's contract, OpenAPI 3.1, written from the route table."""
    return Blob(dumps(openapi()).encode(), "application/json")


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
        if origin is not None and host is not None and origin.lower() == _own_origin(host, headers):
            return ()  # our own page (the dashboard)
        # A link followed to us in the top window: what comes back is shown to the user, not
        # to the page. A frame is a navigation too, but its page can dress it up (or hold a
        # stream open), so only Sec-Fetch-Dest: document passes.
        if method in ("GET", "HEAD") and headers.get("Sec-Fetch-Mode", "").lower() == "navigate" \
                and headers.get("Sec-Fetch-Dest", "").lower() == "document":
            return ()
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


def _own_origin(host, headers):
    """The origin of our own pages as the browser names it: scheme, host and port all count
    (RFC 6454). chantilly speaks plain HTTP; behind a TLS proxy, the proxy says so with
    ``X-Forwarded-Proto`` (a page cannot set that header on a request it sends cross-origin
    without a preflight, which the guard refuses).

    >>> _own_origin("LocalHost:5000", Headers())
    'http://localhost:5000'
    """
    scheme = "https" if headers.get("X-Forwarded-Proto", "").lower() == "https" else "http"
    return f"{scheme}://{host.lower()}"


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
_MAX_TRAILER = 8 * KiB
_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII only: str.isdigit() accepts "²"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}")  # RFC 9110 5.6.2: a method is a token
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

    def set(self, name, value):
        """Replace a field's value."""
        self._fields[name.lower()] = value

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
            # The line is not echoed: it may carry what a client hopes to see reflected.
            return HTTPStatus.BAD_REQUEST, ("bad header line: expected 'Name: value' (a line that "
                                            "begins with a space, an obsolete fold, is refused)")
        if name.lower() in ("content-length", "transfer-encoding") and name in headers:
            return HTTPStatus.BAD_REQUEST, f"{name} is given twice"
        value = value.strip()
        if "\r" in value or "\0" in value:
            # RFC 9110 5.5: a bare CR or a NUL in a field value is refused; reflected (in CORS
            # headers), a CR would split the answer for a proxy that breaks lines at CR.
            return HTTPStatus.BAD_REQUEST, f"header {name[:40]!r} holds a CR or NUL character"
        headers.add(name, value)
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

    def __init__(self, rfile, headers, send_continue, pace=None):
        """``pace``: ``(socket, seconds, bytes per second)``: a body must arrive within that
        many seconds plus one per that many bytes received, as a whole (a minimum rate, like
        Apache's mod_reqtimeout): a socket timeout alone bounds only the gaps between bytes,
        and a client sending a byte now and then would hold its connection for ever."""
        self.rfile, self.headers = rfile, headers
        self._send_continue = send_continue  # called once the body is accepted (Expect: 100-continue)
        self._pace = pace
        self._started = self._received = 0
        self.done = "content-length" not in headers and "transfer-encoding" not in headers

    def read_all(self, limit):
        """The whole body; :class:`PayloadTooLarge` when it is over ``limit`` bytes."""
        return b"".join(self.pieces(limit, whole=True))

    def pieces(self, limit=None, whole=False, paced=True):
        """The body in pieces of at most 64 KiB as they arrive (or in one read, ``whole``);
        without ``paced``, only the gaps between bytes are timed (an operation stream is a
        session that may stay quiet between operations)."""
        if not paced:
            self._pace = None
        self._started = time.monotonic()
        try:
            yield from self._pieces(limit, whole)
        finally:
            if self._pace is not None:
                self._pace[0].settimeout(self._pace[1])  # back to the timeout between requests

    def _pieces(self, limit, whole):
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
            # read1: one recv at most, so that the body's time left is checked between recvs
            # (read() would wait for every byte under one socket timeout per recv).
            piece = self._read(self.rfile.read1, remaining if whole else min(remaining, 64 * KiB))
            if not piece:
                raise BadRequest("the body ended before Content-Length bytes arrived")
            remaining -= len(piece)
            yield piece
        self.done = True

    def _read(self, read, size):
        """``read(size)``, waiting no longer than the body's time left (see ``pace``)."""
        if self._pace is None:
            return read(size)
        sock, seconds, rate = self._pace
        left = self._started + seconds + self._received / rate - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            sock.settimeout(min(seconds, left))
            data = read(size)
        except TimeoutError:
            raise RequestTimeout(f"the body arrived too slowly: a body must arrive within {seconds:g} s "
                                 f"plus 1 s per {rate} bytes (--timeout, --min-body-rate)") from None
        self._received += len(data)
        return data

    def _chunked(self, limit):
        total = 0
        while True:
            found = _CHUNK_SIZE.fullmatch(self._read(self.rfile.readline, 1024))
            if not found:  # int(x, 16) would take "0x33", "+33", "3_3": a proxy may read them otherwise
                raise BadRequest("invalid chunked encoding: a chunk size must be hex digits")
            size = int(found.group(1), 16)
            total += size
            if limit is not None and total > limit:
                raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
            if size == 0:
                break
            while size:
                piece = self._read(self.rfile.read1, min(size, 64 * KiB))
                if not piece:
                    raise BadRequest("invalid chunked encoding: the body ended inside a chunk")
                size -= len(piece)
                yield piece
            if self._read(self.rfile.read, 2) != b"\r\n":
                raise BadRequest("invalid chunked encoding: a chunk is not followed by CRLF")
        trailer = 0  # trailer fields carry nothing chantilly uses: skipped, up to a bound
        while (line := self._read(self.rfile.readline, 1024)) not in (b"\r\n", b"\n", b""):
            trailer += len(line)
            if trailer > _MAX_TRAILER:
                raise BadRequest(f"the trailer section of the chunked body is over {_MAX_TRAILER} bytes")

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

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
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
        if not _TOKEN.fullmatch(command):
            self.send_error(HTTPStatus.BAD_REQUEST, f"bad method {command[:20]!r}")
            return False
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"{version[:20]} is not supported; use HTTP/1.1")
            return False
        self.command, self.request_version = command, version
        headers = read_headers(self.rfile)
        if not isinstance(headers, Headers):
            self.send_error(*headers)
            return False
        self.headers = headers
        if path[:7].lower() == "http://" or path[:8].lower() == "https://":
            # Absolute form (what proxies send): RFC 9112 3.2.2 says its authority is the
            # host, whatever the Host header says, so the guard judges that one.
            target = urllib.parse.urlsplit(path)
            headers.set("Host", target.netloc)
            path = (target.path or "/") + ("?" + target.query if target.query else "")
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        if version == "HTTP/1.1" and "host" not in headers:
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/1.1 requests need a Host header")
            return False
        expect = headers.get("Expect")
        if expect is not None and expect.lower() != "100-continue":
            # RFC 9110 10.1.1: an expectation the server cannot meet is answered 417 unprocessed.
            self.send_error(HTTPStatus.EXPECTATION_FAILED, f"unsupported Expect {expect[:40]!r}: "
                            "only 100-continue")
            return False
        connection = headers.get("Connection", "").lower()
        self.close_connection = "close" in connection or (
            version == "HTTP/1.0" and "keep-alive" not in connection)
        settings = self.server.settings
        self._reader = BodyReader(self.rfile, headers, self._continue,
                                  (self.connection, settings.idle_timeout, settings.min_body_rate))
        return True

    def handle_one_request(self):
        """Read and answer one request; its head must arrive within the timeout (see Server)."""
        if self.server.stopping:  # a keep-alive connection done with its request in flight
            self.close_connection = True
            return
        self.server.expect_head(self.connection)
        super().handle_one_request()

    def do_GET(self): self.dispatch()  # noqa: E704 (one line each, as the table reads)
    def do_HEAD(self): self.dispatch()  # noqa: E704
    def do_POST(self): self.dispatch()  # noqa: E704
    def do_PUT(self): self.dispatch()  # noqa: E704
    def do_PATCH(self): self.dispatch()  # noqa: E704
    def do_DELETE(self): self.dispatch()  # noqa: E704
    def do_OPTIONS(self): self.dispatch()  # noqa: E704

    def __getattr__(self, name):
        """Any other method (TRACE, QUERY...) is routed too: 405 with ``Allow`` on a path that
        exists (RFC 9110 15.5.6), rather than http.server's 501 for a method it has no do_ for."""
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def dispatch(self):
        """Route the request and answer it; the one place where errors become responses."""
        self.server.head_received(self.connection)
        self._started, self._cors, self._route = False, (), "unmatched"
        self._status, self._began, self._counted = None, time.perf_counter(), False
        try:
            self._route_request()
        finally:
            self._count_request()

    def _count_request(self):
        """Count the request in /metrics once, as its answer leaves (a stream's, its head)."""
        if getattr(self, "_counted", True):  # True: a protocol error before dispatch
            return
        self._counted = True
        status = str(self._status.value) if self._status is not None else "aborted"
        method = self.command if self.command in _METHODS else "other"  # any token is a method: bound the labels
        self.server.service.telemetry.request(self._route, method, status, time.perf_counter() - self._began)

    def _route_request(self):
        try:
            self._cors = self.server.guard.check(self.command, self.headers)
            if self._cors and self.command == "OPTIONS" and "access-control-request-method" in self.headers:
                return self._send(HTTPStatus.NO_CONTENT, b"", "text/plain", _PREFLIGHT)
            path, _, query = self.path.partition("?")
            route, params = ROUTER.match(self.command, path)
            params = {k: urllib.parse.unquote(v) for k, v in params.items()}
            self._route = route.pattern
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()} if query else {}
            self._authorize(route.scope, query)
            limit = getattr(self.server.settings, route.body_limit) if route.body_limit else None
            request = Request(self.command, path, query, self.headers, self.server.service,
                              self.server.dashboard, self._reader, limit, self.server.connection_count)
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
            return self._run_event_stream(result.topic, result.recent)
        if isinstance(result, OperationStream):
            return self._run_operation_stream()
        status = HTTPStatus.OK
        if isinstance(result, tuple):
            result, status = result
        if isinstance(result, Blob):
            return self._send(status, result.body, result.content_type, result.headers)
        self._send_json(status, result)

    # -- access control ---------------------------------------------------------------------

    def _authorize(self, scope, query):
        tokens = self.server.tokens
        if scope == "admin" and self._cors and tokens.get("admin") is None:
            # --allowed-origins lets those pages call the API; without a token, that would
            # let any script on them upload a pickle, and loading one runs its code.
            raise Forbidden("pages on other origins may not upload, download or delete models "
                            "unless the server requires a token: start it with --admin-token "
                            "(or --token) and send it")
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
        if self.server.stopping:
            self.close_connection = True  # no next request on this connection: say so
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        self._status = status
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, status, body, content_type, headers=()):
        head = self._head(status, [("Content-Type", content_type),
                                   ("Content-Length", str(len(body)))] + list(headers))
        self._count_request()  # before it leaves: a client that reads it may scrape /metrics next
        self.wfile.write(head if self.command == "HEAD" else head + body)
        if self.server.settings.access_log:
            self.log_request(self._status.value, len(body))

    def _send_json(self, status, document, headers=()):
        self._send(status, dumps(json_safe(document)).encode("utf-8"), "application/json", headers)

    def send_error(self, code, message=None, explain=None):
        """Protocol errors found by ``http.server`` (bad request line, huge headers) as JSON too.
        A head cut short by a shutdown is the server's doing, not a malformed request: 503."""
        self.close_connection = True
        self._reader = None
        if self.server.stopping:
            code, message = HTTPStatus.SERVICE_UNAVAILABLE, "the server is shutting down; retry"
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
        head = self._head(HTTPStatus.OK, [("Content-Type", content_type), ("Cache-Control", "no-cache"),
                                          ("Transfer-Encoding", "chunked")] + list(headers))
        self._count_request()
        self.wfile.write(head)
        if self.server.settings.access_log:
            self.log_request(200)

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _chunk_of(self, parts):
        """One chunk of ``parts``. Large ones are written as they are, not joined: every
        subscriber shares one copy of an event, and a copy per blocked write would multiply
        what a stalled client holds (24 of them held 400 MiB for 8 MiB backlogs)."""
        size = sum(map(len, parts))
        if size < 64 * KiB:
            return self._chunk(b"".join(parts))
        self.wfile.write(b"%x\r\n" % size)
        for part in parts:
            self.wfile.write(part)
        self.wfile.write(b"\r\n")

    def _run_event_stream(self, topic, recent=0):
        """Relay a topic's messages (its ``recent`` last first), with a heartbeat comment when
        idle, until either side leaves."""
        sub = self.server.service.bus.subscribe(topic, on_drop=self._cut, recent=recent)
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
                    self._chunk_of([retry, *items])
                    sub.written(sum(map(len, items)))
                    retry, quiet_since = b"", time.monotonic()
                elif self._client_left():
                    return  # free the stream's slot now, not at the next failed write
                elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                    self._chunk(b": heartbeat\n\n")
                    quiet_since = time.monotonic()
            self._chunk(b"")  # the zero-length chunk ends the response
        finally:
            self.server.service.bus.unsubscribe(sub)

    def _cut(self):
        """End the connection from another thread: a write blocked on it fails at once."""
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: nothing left to end

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
            for piece in self._reader.pieces(paced=False):
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
                ops.append(detached(e))
        answers = self.server.service.apply(ops) if ops else []
        return "".join(answer_line(a) for a in answers).encode("utf-8")


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
        self.stopping = False  # set once by stop(); read without the lock
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

    def connection_count(self):
        """Open connections."""
        with self._lock:
            return len(self._connections)

    def stop(self, grace=2.0):
        """Stop accepting, end streams and idle connections, wait ``grace`` s for the rest:
        a request whose body is still arriving is read and answered if it ends in time."""
        self.stopping = True
        self.shutdown()
        self.server_close()
        self.service.bus.close()
        with self._lock:
            idle = list(self._head_deadlines)  # waiting for a request head; the others are busy
        for conn in idle:
            try:
                conn.shutdown(socket.SHUT_RD)  # their read sees EOF and the handler ends
            except OSError:
                pass  # already closed by its handler
        deadline = time.monotonic() + grace
        with self._lock:
            while self._connections and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())


# ---------------------------------------------------------------------------------------
# Client: chantilly from another Python program
# ---------------------------------------------------------------------------------------


class ClientError(Exception):
    """An answer other than 2xx: :attr:`status` and the server's :attr:`message`."""

    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class Client:
    """A client for a chantilly server, standard library only: one keep-alive connection
    (``http.client``), JSON in and out, :class:`ClientError` for any refusal::

        client = chantilly.Client("http://localhost:5000")
        client.upload(model, name="taxis")
        client.predict({"x": 1.0}, id=7, model="taxis")
        client.learn(2.0, id=7, model="taxis")

    Not thread-safe: give each thread its own client.
    """

    def __init__(self, url="http://localhost:5000", token=None, timeout=30.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout
        self._parts = parts
        self._conn = None

    # -- models ---------------------------------------------------------------------------

    def upload(self, model, name=None, flavor=None, metrics=None, horizon=None, default=None):
        """Upload a model (a creme/river object, or its dill bytes); returns its description."""
        data = model if isinstance(model, bytes) else serialize(model)
        query = {"flavor": flavor, "horizon": horizon,
                 "metrics": None if metrics is None else ",".join(metrics),
                 "default": None if default is None else str(bool(default)).lower()}
        return self._call("POST", self._model_path(name), data, query)

    def download(self, model=None):
        """The model with everything it has learned (loaded with dill or pickle)."""
        return deserialize(self._call("GET", self._model_path(model)))

    def delete(self, model=None):
        """Remove a model, its metrics, history and stored ids."""
        return self._call("DELETE", self._model_path(model))

    def models(self):
        """``{"default": name, "models": [name, ...], "descriptions": {name: description}}``."""
        return self._call("GET", "/api/models")

    # -- calls ------------------------------------------------------------------------------

    def predict(self, features, id=None, model=None, answer=False):
        """The model's prediction for ``features`` (stored under ``id`` until its label comes);
        with ``answer``, the whole answer (an anomaly filter's verdict is in it)."""
        got = self._call("POST", "/api/predict", _body(features=features, id=id, model=model))
        return got if answer else got["prediction"]

    def learn(self, ground_truth=None, features=None, id=None, model=None):
        """Learn a label for ``features``, or for the features predicted under ``id``;
        returns the prediction it was scored against."""
        return self._call("POST", "/api/learn", _body(ground_truth=ground_truth, features=features,
                                                      id=id, model=model))["prediction"]

    def forecast(self, horizon, features=None, model=None):
        """The next ``horizon`` values of a forecasting model."""
        return self._call("POST", "/api/forecast", _body(horizon=horizon, features=features,
                                                         model=model))["forecast"]

    def rank(self, user, items, features=None, model=None):
        """``items`` ordered best first for ``user`` by a recommendation model."""
        return self._call("POST", "/api/rank", _body(user=user, items=list(items), features=features,
                                                     model=model))["ranking"]

    def metrics(self, model=None):
        """``{metric: value}`` of a model."""
        return self._call("GET", "/api/metrics", query={"model": model})

    def stats(self, model=None):
        """Counters, throughput and latency (``/api/stats``)."""
        return self._call("GET", "/api/stats", query={"model": model})

    # -- streams ----------------------------------------------------------------------------

    def stream(self, operations, chunk_size=500):
        """Send operations (dicts with ``"op"``) over one ``POST /api/stream`` connection and
        yield one answer per operation, in order, as they come: a thread sends chunks of
        ``chunk_size`` lines while this generator reads (both sides never wait on each other).
        A failed operation yields ``{"status", "message"}`` and the stream goes on."""
        sock = self._socket()
        sock.sendall(self._head("POST", "/api/stream", [("Content-Type", "application/x-ndjson"),
                                                        ("Transfer-Encoding", "chunked")]))
        failure = []
        writer = threading.Thread(target=self._send_chunks, args=(sock, operations, chunk_size, failure),
                                  daemon=True)
        writer.start()
        try:
            reader = sock.makefile("rb")
            status, headers = _read_head(reader)
            if status != 200:
                raise ClientError(status, _refusal(reader, headers))
            for line in _chunked_lines(reader):
                yield json.loads(line)
            if failure:
                raise failure[0]
        finally:
            sock.close()
            writer.join(self.timeout)

    def events(self, model=None, metrics=False):
        """Yield ``(event name, data)`` from ``/api/stream/events`` (or the metrics stream,
        whose events are unnamed ``"message"``), as they come, until the server ends it."""
        path = "/api/stream/metrics" if metrics else "/api/stream/events"
        query = urllib.parse.urlencode({"model": model} if model else {})
        sock = self._socket()
        try:
            sock.sendall(self._head("GET", path + ("?" + query if query else "")))
            reader = sock.makefile("rb")
            status, headers = _read_head(reader)
            if status != 200:
                raise ClientError(status, _refusal(reader, headers))
            event, data = "message", []
            for line in _chunked_lines(reader, keep_blank=True):
                if not line:
                    if data:
                        yield event, json.loads("\n".join(data))
                    event, data = "message", []
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line.startswith("event:"):
                    event = line[6:].strip()
        finally:
            sock.close()

    def close(self):
        """Close the keep-alive connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the wire ---------------------------------------------------------------------------

    @staticmethod
    def _model_path(name):
        return "/api/model" if name is None else f"/api/model/{urllib.parse.quote(name)}"

    def _call(self, method, path, body=None, query=None):
        query = {k: v for k, v in (query or {}).items() if v is not None}
        if query:
            path += "?" + urllib.parse.urlencode(query)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if isinstance(body, dict):
            body, headers["Content-Type"] = _encoder.encode(body).encode(), "application/json"
        if self._conn is not None and self._conn.sock is not None and _closed_by_peer(self._conn.sock):
            self.close()  # the server let the idle connection go: open a new one before sending
        # A call is sent again on a fresh connection only when repeating it is harmless (a
        # GET): a POST or a DELETE may have been applied before its connection broke (and a
        # repeated DELETE of the default model would delete the next one).
        for attempt in (1, 2) if method == "GET" else (2,):
            if self._conn is None:
                self._conn = self._connection()
            try:
                self._conn.request(method, path, body=body, headers=headers)
                response = self._conn.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        if response.status >= 300:
            message = json.loads(data).get("message", "") if is_json else data.decode("utf-8", "replace")
            raise ClientError(response.status, message)
        return json.loads(data) if is_json else data

    def _connection(self):
        kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        return kind(self._parts.hostname, self._parts.port, timeout=self.timeout)

    def _socket(self):
        if self._parts.scheme == "https":
            raise ValueError("streams over https are not supported by this client; use http")
        return socket.create_connection((self._parts.hostname, self._parts.port or 80), timeout=self.timeout)

    def _head(self, method, path, headers=()):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._parts.netloc}", *(f"{k}: {v}" for k, v in headers)]
        if self.token:
            lines.append(f"Authorization: Bearer {self.token}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @staticmethod
    def _send_chunks(sock, operations, chunk_size, failure):
        try:
            batch = []
            for op in itertools.chain(operations, [None]):
                if op is not None:
                    batch.append(_encoder.encode(op))
                if batch and (op is None or len(batch) == chunk_size):
                    data = ("\n".join(batch) + "\n").encode()
                    sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
                    batch = []
            sock.sendall(b"0\r\n\r\n")
        except Exception as e:  # the reader raises it: an iterator that fails, a lost connection
            failure.append(e)


def _closed_by_peer(sock):
    """Whether the server closed this idle connection (readable, with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _body(**fields):
    """A JSON body without the fields left out (None)."""
    return {k: v for k, v in fields.items() if v is not None}


def _refusal(reader, headers):
    """The message of a refused stream's JSON answer."""
    try:
        return json.loads(reader.read(int(headers.get("content-length", "0"))))["message"]
    except (ValueError, KeyError, OSError):
        return "the stream was refused"


def _read_head(reader):
    """``(status, {lower-case header: value})`` of an answer."""
    status_line = reader.readline().decode("latin-1")
    if not status_line:
        raise ConnectionError("the server closed the connection")
    headers = {}
    for line in iter(reader.readline, b"\r\n"):
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


def _chunked_lines(reader, keep_blank=False):
    """The lines of a chunked body, as text, as each chunk arrives."""
    buffer = b""
    while True:
        line = reader.readline()
        if not line:
            raise ConnectionError("the server closed the stream")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        buffer += reader.read(size)
        reader.read(2)
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line or keep_blank:
                yield line.decode("utf-8")


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
    commands = parser.add_subparsers(dest="command", metavar="{run,routes,models,add-model,delete-model}")
    run = commands.add_parser("run", help="start the server", description=(
        "Start the server. It prints the URL it serves and stops cleanly on SIGINT or SIGTERM."))
    _add_run_options(run)
    run.set_defaults(func=cmd_run)
    routes = commands.add_parser("routes", help="print every route with a one-line description")
    routes.set_defaults(func=cmd_routes)
    _add_model_commands(commands)
    return parser


def _add_model_commands(commands):
    """The commands that work on the database directly, when no server holds it."""
    where = "(on the database itself: stop the server first, or use the API while it runs)"
    models = commands.add_parser("models", help="list the models in the database " + where)
    add = commands.add_parser("add-model", help="add a model from a dill/pickle file " + where)
    add.add_argument("path", help="file holding dill.dumps(model) or pickle.dumps(model)")
    add.add_argument("--name", help="the model's name (default: the default model's, or 'default')")
    add.add_argument("--flavor", help="force the flavor instead of detecting it")
    add.add_argument("--default", action="store_true", help="make it the default model")
    delete = commands.add_parser("delete-model", help="remove a model " + where)
    delete.add_argument("name")
    for command, func in ((models, cmd_models), (add, cmd_add_model), (delete, cmd_delete_model)):
        command.add_argument("--db", default="chantilly.db", help="SQLite file (default: %(default)s)")
        command.set_defaults(func=func)


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
    store.add_argument("--keep-versions", type=int, default=d.keep_versions,
                       help="past versions of each model kept for a rollback (default: %(default)s)")
    store.add_argument("--max-classes", type=int, default=d.max_classes,
                       help="classes a probability answer keeps, the most probable: also what a "
                            "stored id and the log keep of it (default: %(default)s)")
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
    lim.add_argument("--max-model-size", type=int, default=d.max_model_size,
                     help="bytes a model may take, pickled (measured every 64 calls): past it, it still "
                          "answers but calls that would change it get 507 (default: 32 MiB)")
    lim.add_argument("--min-body-rate", type=int, default=d.min_body_rate,
                     help="bytes per second a request body must keep up, after --timeout seconds: "
                          "slower bodies get 408 (default: %(default)s)")
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


def _on_database(args, work):
    """Run ``work(service)`` on the database of ``args``; 2 with a message when it is refused."""
    try:
        service = Service.open(args.db)
    except StoreError as e:
        hint = " (stop it, or use the API: GET /api/models, POST and DELETE /api/model/<name>)"
        print(f"chantilly: {e}{hint if 'in use' in str(e) else ''}", file=sys.stderr)
        return 2
    try:
        work(service)
        return 0
    except ChantillyError as e:
        print(f"chantilly: {e.message}", file=sys.stderr)
        return 2
    finally:
        service.close()


def _on_file(args, work):
    """Run ``work(store)`` on the database file itself, without loading its models (so that
    a model that cannot be loaded can still be listed and removed); 2 with a message."""
    if not os.path.exists(args.db):
        print(f"chantilly: there is no database {args.db}", file=sys.stderr)
        return 2
    try:
        store = Store(args.db)
    except StoreError as e:
        hint = " (stop it, or use the API: GET /api/models, DELETE /api/model/<name>)"
        print(f"chantilly: {e}{hint if 'in use' in str(e) else ''}", file=sys.stderr)
        return 2
    try:
        return work(store)
    finally:
        store.close()


def cmd_models(args):
    """Print the models in the database, the default first, with their versions."""
    def show(store):
        rows = store.read("SELECT name, role, version, info FROM models ORDER BY name, version")
        default = store.read("SELECT value FROM meta WHERE key = 'default'")
        if not rows:
            print(f"no models in {args.db}")
        for name, role, version, info in rows:
            info = json.loads(info)
            mark = "*" if default and name == default[0][0] and role == "serving" else " "
            print(f"{mark} {name:<20} v{version:<3} {role:<10} {info.get('flavor', '?'):<15} {info.get('class', '?')}")
        return 0
    return _on_file(args, show)


def cmd_add_model(args):
    """Add a model from a file, as POST /api/model/<name> would."""
    try:
        data = pathlib.Path(args.path).read_bytes()
    except OSError as e:
        print(f"chantilly: cannot read {args.path}: {e.strerror}", file=sys.stderr)
        return 2
    return _on_database(args, lambda service: print(
        f"added {service.upload(data, args.name, flavor=args.flavor, default=args.default or None)['name']}"))


def cmd_delete_model(args):
    """Remove a model with its challenger and versions, as DELETE /api/model/<name> would."""
    def delete(store):
        if not store.read("SELECT 1 FROM models WHERE name = ?", (args.name,)):
            print(f"chantilly: no model named {args.name!r} in {args.db}", file=sys.stderr)
            return 2
        default = store.read("SELECT value FROM meta WHERE key = 'default'")
        ticket = store.write(drop_name(args.name))[0]
        if default and default[0][0] == args.name:
            newest = store.read("SELECT name FROM models WHERE role = 'serving' AND name != ? "
                                "ORDER BY id DESC LIMIT 1", (args.name,))
            ticket = set_default_model(store, newest[0][0] if newest else None)
        store.commit(ticket)
        print(f"deleted {args.name}")
        return 0
    return _on_file(args, delete)


def cmd_run(args):
    """Start the server and serve until SIGINT or SIGTERM."""
    tokens = {"client": args.token, "admin": args.admin_token or args.token}
    if not _is_loopback(args.host) and not args.token and not args.insecure:
        print(f"chantilly: refusing to listen on {args.host} without a token (--token): anyone who can reach "
              "it could predict and learn" + ("" if args.admin_token else
              ", or upload a model, and loading a model runs its code") + ". Set --token (or "
              "CHANTILLY_TOKEN), or pass --insecure if the network is trusted.", file=sys.stderr)
        return 2
    if "*" in args.allowed_origins and not (args.token or args.admin_token):
        print("chantilly: refusing --allowed-origins '*' without a token (--token): every web page "
              "its users open could then call the API on their behalf. Set --token (or "
              "CHANTILLY_TOKEN), or list the origins that may call it.", file=sys.stderr)
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
        # Two seconds in all: requests in flight, then the snapshots (a model call still
        # running by then is abandoned; see Deployment.close).
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        server.stop(grace=SHUTDOWN_SECONDS)
        service.close(timeout=max(0.1, deadline - time.monotonic()))
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
            f"access:    {access}"] + [f"warning:   model {name!r} {why}; it answers 503 until then, "
                                       f"and {_removal(name, args.db)} removes it"
                                       for name, why in service.unloadable().items()]


def _removal(name, db):
    base, _, challenger = name.partition("@")
    if challenger:
        return f"DELETE /api/model/{base}/challenger"
    return f"DELETE /api/model/{base} (or, server stopped, `chantilly delete-model {base} --db {db}`)"


def main(argv=None):
    """Entry point of ``python chantilly.py`` and of the installed ``chantilly`` command
    (``argv``: arguments, when another program calls it; it then never re-executes)."""
    program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "routes", "models", "add-model", "delete-model",
                                   "-h", "--help", "--version"):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    if program and hasattr(args, "db"):
        _use_the_databases_hash_seed(args.db)
    return args.func(args)


def _use_the_databases_hash_seed(db):
    """Run with the string-hash seed stored in the database, so that a restart replays models
    exactly: some iterate over sets of feature names (river's KMeans draws a random center
    coordinate for each new name, in set order), and Python picks a new random seed per
    process. A new database gets a random seed, kept secret in the file like its data (a
    known seed would let clients craft colliding keys). Re-executes this command once."""
    seed = stored_hash_seed(db) or str(random.SystemRandom().randrange(1, 2**32))
    if os.environ.get("PYTHONHASHSEED") == seed or os.environ.get("CHANTILLY_REEXECUTED"):
        return
    arguments = getattr(sys, "orig_argv", [sys.executable, *sys.argv])[1:]  # keeps -m, -X...
    if sys.flags.ignore_environment or not os.path.isfile(sys.argv[0]) and "-m" not in arguments:
        # python -I/-E ignores PYTHONHASHSEED; a script read from stdin cannot be read twice.
        sys.stderr.write("chantilly: running without the database's string-hash seed: models that "
                         "depend on set order (river's KMeans) may replay differently after a restart\n")
        return
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *arguments],
              dict(os.environ, PYTHONHASHSEED=seed, CHANTILLY_REEXECUTED="1"))


# ---------------------------------------------------------------------------------------
# The embedded dashboard: static/ packed by pack_dashboard (make embed), generated, not edited
# ---------------------------------------------------------------------------------------

DASHBOARD = """
UEsDBBQAAAAIAAAAIQDhxSHtxHQAAHabAQAGAAAAYXBwLmpzzL3LciRHkiB451d4ZmVXuDMdkUDy
IdWBAnOyMsEit/I1iSyyp1FohiPCAXghIjzK3QNINBgrfVqZc+/K7GVkj/0Be5nLnuZT6ktWX2am
Zm4RAIsskSnpZgbcze2hpqamb33yaTK5KBZdNZvdJNOivTiti2Y6Spazolok/9tRnizqZFouy8W0
XEyqsqUHp6tqNk3arlwOP0k+hf9LXhZdkZzN6mv8I0l+f/gheVIsqydtV3RtEvnfsp7NymlSXpXN
TXL04fmHox9eH43k73k9LWdJ2l2UybKaXJZNlif4R3tRXy94hLv/R50M2mRZLKCzYjGFLpp6dX6x
XHV5Mis6WNDNPva7oM4vymI6qxZlUp/dd4iymFzIZLuLoktmZdEsYFVttZiUIweFedk11aR9Rk0P
AhDRwxiMrqvuQgDCYESYjZLri8qM2iYXxVWZFLiHAM7FedmEnfPITy6qtqubG5kBtKgXyawupjn+
KGQNiAnnJYGqOOvKRgZvykm9WJSTbpS0ZTltEVr3hRB02cDMGfpl1STTpjrrknnRwK62vMXQZr6s
6sWA2uVJ0d639zfPXx/+J7f2PKlgLPf3oM3i4HBg8GBNWMCAGtEfk1XTlIsuuSpmK0R9XIaAnzui
Vgy8CzNtf2Of4ByfABxbWKHs8rVBOcJn+b5ugtnLdrQ8FdvDDCbIAx0dHZpD1pTFPLK4YAwAsJm3
7C/iLyFtkuLaQvDl990IQqIW8QTJAs4mGwGVODsrmxJ3FHa8bjtoVjJGACpXANclzAEaNMV1fEWA
fwuffCj6gEcbPq4mXfJEFvEkOasBW4sWHzXF4jIX4D4BGjYru3ujLQKDMHWUXJbLDvq6ZgoEvSNC
wEJamr1QqsID231HWQFRbUIkzvYj23YG545256oqr81puu8wXXE6K/tng4ahd/D7hUK7eraaE5V9
U3cX1eI8qdoE92jBKy7btjgH6rakk31ZlktAaNjhommqq5LPOp5v7H/eljN8Nq2a7obPD4AO+0Za
3HWzUvafZ0PNGLgGZXjD3x++fP/8e7ghmF7h/1XzooMDkZw1xbw019A7nFPOeI0d1gu41gCQMO/6
jCCAlJRJHP4FSDEnFCNCZO8/HB0flHjeq6ak2c2FmAB+KtgiDOvLcrEPl+XbN7CavwClQEgDOG4I
eN0+nI3Pd/fg0Qwo9mkxueSOhKriIqSj6zo5RJQ/qlfNBEZNzXE9A8pfX4eIIbfiDMCO+G7INI76
JIIcf/23/4DRp+eAC64tDE60D6dVn8nNRyv6um7m3hLxcM0t6E5XXVfLZVzOl93NEUGW2y/qHT4Z
dPnCvbGolssSvhI6CxjVls0VoWExnQKEYdcm9fJGupUjxJd//+hzNzgLe2kzpHICxr4QaSQ3OJLj
GoigvKrPI7RETjaTnBxP/Aj2jc5bDewPnD9kGRpEIMT7s6aeE1Zwx9TLO+I0YmR3WraTploSuBGA
k3q1gM5kmd7t0P/Yvk4RZrC7eaLvvCWQO40JdHyIasn1JXtqmR/4o4Gl6Fu5hcN8SXCkgzBDCvr6
+T/98P75h8OjpIX7eVa2QJmEaxoR7Il2qOV/h7Ciy6AkSqFWwR/wHuHOVzJ678JhMoCUF4HWAYbC
/RHBZaI4+DVMvJhW57AXTYFHxuyLbGSS2huhOAeWFv+ddKtilpsNLxb1vJjdRMZoJ/Bpmxkw4ZEm
5gdGxqWp3eexPiA8YhtI22IQq0eGi0V7jbzQadlW05J6zYGQrVo81O/LdjVHID/5ZIBPWoRgN9j/
5JM0zZKDr5LbT4iQwLo+vP3D4Zsf/nD4X5KDZGCZ+h06uvCBaYbb+u7tt28+HEG7vd3d3X1a7JMn
+mY2CDSrYNI7NK+0nuFtBTM/S87xKOPdAMci83p+//Z77PcL6VV6bmog8NXC4ahsjmCQ/p4QDib2
1PYA3yvcFVxM0v/9s2ReLVaAx/4MXr39PXz/5W4wA326eXH2+s6RsMXOutfv0Yu37w95baZr6Few
R3DFrJGYyHO4mLwe3v7u6PD9d4cvoY+n0gf0UJ/iqaa7zH5vcZa2xOvk25cyB7c+6KQCxIQLjtFO
uCLsMIeDUgPaMHsEtHBRd0J8pnwgbOe/+/YN9vz0833vEEDndjXJaYWUWT6wdzJ+9YXeLnN3f24v
dyIHxB7az43Mh5uNIFX9fnj/X354/e0bfvmFA5V3a8mFNUrOqga+gn0sgMM4J1TbG37xMVkt4dpi
Br34GPYOkKTeP9/VQ794++rte3x8PLgqmnRnZ7KXDfLE/PFU//GZ/uNz/ccX2eBELefb756/+oF6
xoPJbYBTKmbZYJ/B5dMDJo85cSPIPANO8E3VR4aX77/9ms7xU42Tvojl47pb6jfPX706fPP7Q5qV
4j8HBtpI4oALB8xaAIdlhMSBpl6jkHn9BPp/8mmy8zP+R1xG0REXA1TPTnhx9jnMdAFH9NtFNxu+
Wc1Py+ZrapsOysXOH49gC25xr6v5an5UnS+qs2oCVPBldQ40dwTYuM72VXef/bzuPgu6g25+Qodf
w22FaGx62w16+7osup+53DyBC+P3QDiXAEo4JsUMCAGOAsOcrRZ8is7mXXqVw4A42NnnGd0nSVKd
JelVcnAAD1ezWfLjjwn/hRLLWYVUH1CjWwFNGfz13/4vul34o+5mWQIh4taD07oGyrMY2NZHcH0t
ztOrLPLFA/xiQevc+gGDYli1b4o38MLNBP5WM3lg231dLaqu1E2vkq8A4s9g8v/1/xkkI/z33/En
f817UABEXhfdxbA4bb3xC5rpbvLrX+Pv3yZ75c7nCKEi+QpIWbn3VI0z7OrDj0tgiOAyLmbp02zY
lMsZMCqwh4+RZJQD6Vm+WJwNGf9lyLXFCdipF0i4YVrwDq/+ANgCOpxXf+mwWEJR1zstG/YuQIhl
MU0XcG0gUQFsCPZhkQ2hwRGywClIxINd+JzmqBHqxayeXKYdyN4t9EJ4Z/CKlzIVzH4Jl2zaAQeF
bEimgY8fjh/d4mSmQ+A2vgGBqE2zbD1SD1/z9R8+PqJ7hh6PPdjCdJ5hr+166PUym1Wt+SZPPoPP
ADatgb5e2ctVQxd12uqDItvQehiMGNFDwTaLnZvWYBoc5nQ3T1qFbC0g2Je79iuYPbU8m9V1A92t
k3bsN/4MOJ9NzYGfhL7WyDclwZt/4Ddhb7/58vOt3dFo6+TC747644m4Ef296HfFQ60BOfp9yTTc
eOPY7jw/rxHrFvV1ZHe6OH1R2+AwD3pIdpLOB8UX7ps/r5BG19eDcEk+itiz/iT50/Rx0j56Aidm
ANMvzuvoAr5DNePfkRyHi7fEP9v0RUvH3n1x5a0YNR5DblKd3SiKZRfV1csXIEy26bKpTwuznFnZ
obRDFxysZ997+A6e7ny7OMMTc8OvkD1PeXuOL0HgPUFe9+3pn4ETHAJlRXZJBjAjeGtZ9ujjEug/
jYUUTmZyuW+HXzJNS+S/slpuZ/bgGf8zSo7xec7fnvQAULXvcGJIb2/d7fPA9AJz8QFe06pokg+e
N01xA8SD/kXo+l2DYAg8HpAu5BVWIH2kZxG8P4tv5PHZEDm27gIg8Ztdpotnw3ZWAboCCfoNnLK/
/tt/ICE8A/HItQVGs98aH7r2J+oOPkNctTN5oFboZjLAe3Bwog+hbCpsRbDLZ/4tQeLOgWnuJvRZ
BrR0maaILVcndFnCjC/XB3RE1TFD0AG9zxwKduVHxAbqevhnkIXTQZIM1AExg1mQfJbxR4/hykqS
x49ugxY7yWfmIsIBznDf3Zw3zTOOFs/6Zw5AfgUrkLn+aaHnimP5e5eZ8emVv4PJ4wS+h2306dox
ri6nDwS/icn/NPkAohUpPXl2KKiMQdob52jLIPQmuXpxw1rkEvnP9LSY8kfVYjJbTYF0DZHN9ziQ
pi1531PozuB0BxKQOdy8/QAbBgd9QW33pYE9aRsP2DN4MFLkZ51Mim5yAfvbNI6KGK7MNTMAEEad
aMrb5g0DdTtj5oZUrD7RufKePWxi7VS/am9YMGbbFVLMgmxHSdEyvqYP92Dj4bAkjz9/mLFyHuQ4
bIk6KFGKdMDCd9Uy3CRLfF5Blyn2m7NSzC7BHbRMk6WAquGXmaIFeH31yIGcSWzbO+M4qEH+3B5U
gS3D1P8OUF2owx2bZUUPJGpqMf2jZmZPAzm6wHQSJ79GsqDfEk2Afvlo+d89tRQWpr+mA0l0tXf+
xktgk8asCx+L1Q9F9XGSwtaNf81PxrC1sGtkS5zSpi5qkujDLcV+XuMnKfabUxu9c6QF0DyIfdBn
Q7CHkDnCZ2v+ZyiHv00HzwaIwINfkxj2bLDmSSMRncCvP77/9kU9ZwGKJiA8vYXB8wXr9Air0V2A
lPPtRdGUSdWx2vmyQqsy/pqil8JqQfRiCj+6apa09bxEjfWCTNtVRwcBp/5pwgpmZOGMYq5upmxK
ImNXMRMYIl2XJ3hpKY0STe5wgcQLTgbPhIgaYt5tYh/kaFpfjEgkGgJrmSK3i2JRTpPm452jItX8
bMu/jJLHj+2wItnzsE4j8xZZSQadXC/4G/bBKYAYpIZqsIGl4N09LWf14hxAW7Oqh/CnZ3Uniw82
B3iVs7OkhgfNNRAHAQ/P6bQAsu7Phn7B5T5tvwfkS92USF7Fd/bY7riXclTwXFJPHtGjLcYNMoiB
F+1Nnsie14uJuoRG1AyNV3KH9S4j7O7tGV36N/ow0IMhDWaORJboh941xi9o3+Hc3K69o+G+cpj9
hNbCJrLkuqnQWsNKQFrUQFAZkP72YfdwNBwO84e0cQ9HD3+LQPnqYQ4P1yO1Ny1p87h3sZIUHSqL
z6qPdPjrVUezxsuabd2wa+mZcJdwPyIPnCBCAJiee9d61QqAh3a7D787fPPhh9dvXx6+Amg8+Zc/
0UyPdx4P/zQtD08euwmnx893/rnY+dfdnX8c/rBzcruXf/n5On020kbxZ9nDJ/t6Y+jjcGeE7NdA
kGBMNYNh+bGcqG1QLBI2dhIR/nW8590+sp8eJngbKBcINhjy6dEsN2CyeuNYjvUvoSt9+fZ1clHO
lqjo1crSR3jM4CzSKZvWkxVauYd/WQEGHZUzQEkUukvNhxx993vS/w8uum45evLk+vp6eP3ZsG7O
nyBz+KS9Oh/4mqKLbj57A4tKuwItkijmvQFEy+lS83cEmXQ7iwmgYVcesuUdP1a7YXvJksXQ/gFf
299KUkWu4IF//SyG+PRFvehK0pThX75+zYLesTJX524ZRdc1SMJv1z9tHW+OUoIgfGUXFIitVzGx
lcbLcOJt2T2HP6rTFXB12Dz7xZZKF6XwqiI0CRPI12L5sZgIo4gXHaLrDpySJB0MrK9SU7L5aFH2
aCT2yGxpisa0iP6inAWTDTUP0ABHBRjg8YQGV1rSHiBz4GmCf5HDY4xTxr5rPRImqMCU84Swe0GO
G2NsPY77n2gXp0kppHo8b8doRcG/YOth6QBtpsPkJALUMoAko9QHcY1J52gFUiIQshnoiYlkVxSr
Tq4km73wHgZfmxVirDMUk+NlrIPEfA6UhDTEsApmQ8x7nIf5y7+/nKxEq0qd9MTIKwMaGrtvX7qZ
dM2qdM8BCz5UwJStOrFxS8/PDcy/RpCnsDhgbbXilNbwGPW8O/2FZHYp69ytwhNmfQTIExgTR0S2
2XgVwAN4WsyXrchJxqQMO9siIzNMXqGB29jqkIsUizqypPbzcmp8WICTq/kqht5uEnLCWC17DomD
No4sRzRnVrlrPKnPzgCOhBB04wsvgRMA6LBhn/6C8WO7uUBOk8Hf40kBxtx9Lo3Zhl2mPMiHXPr/
oFGBMRK+Q+0Kt7MT+eA2387b2l7wkx15noF89AVQBHw2Mm0/TXaHv+E50e+nWzb651GM5+++Ndcs
3kfJ81V3cdg0QOeBuuHuJ/zXrUWr98YfTEzRhqUzu0veGTmek2Jxs5+M68UfFwX0WjfVv5bTMfo3
NYRqTFI+392Lo8HzZZX632pkYPctuNxFs0O6FPsUcKeYHQGSFeclWkS+7cp5ar1JiGWFD0MNCQKz
5Y+SadWiJ8cUpubrTM32n5tJpEoPKn5za4NFeO6pDd1EGnfMTOmFwxWtErJqcv7WW1MbrinnnrJ9
9THxsd5nTTmvr8oAGu6TCDyWKIt1LEM5WCRuiXAQlYMfstTokIGEgzzZgI1DpzP2fgVO4rJslftd
taDbmri4hLnLoQEdffHHhmV3DToNa1Yr3E8Opw/icji9YiuZk/PVIov2ZjHBLUcRqzchpgOyWqT9
MrNbOk2Iu0TjR8n4d4D7cFYe3VITGG8NIxrhSV1ypCgurgsgwWcl7IjoL27NIECOislFCeta1DuI
suVArO0ObRpUH3cg6bTEeMA5yzzU8s9W6mEOeiddk0HT0oN0sFLNBxprvGEf4Lj1pT+WaA6aRsyk
3KPZuVHyzYcP7wAqbspWgS2Y3DR2LYlr1Z8yNIxNTFAGv/xzWy/SbMMOA3hn3cWNd+GHR1L6SvX2
DMjFm78mJ4bY9mQAlo1nrT+Ax8sk4cH75W4A5YCk5S10Zvrj0Q8fDv/pAwoPTHiBD4BF4T+DXIii
89CFN/pP1LrnhnNzTWINNGZBEz4/qL0CRMMWa08fwkoQpg+O1SU3YOE6SmRugc1HJp95EORUcNpD
vI+GGCaSZmPEB9h19MwWvoavJDg6mYJKegbtLiRghVzBKVAlQwsZurXxLSjTQWc7uvSG4uhMSvxx
LgPgC6cDeK2bUNf4ntanFGtjums4MIc91YGfsyo/ksQRLjKC8a8Wigu8uZrMOzhusPCBBH7YAAfU
FvpTsy3R8XhmOifwis8dSTJp3zVUqTgw8OXSuOWhPBGFr1NOnt6IW3gKEtlbdHTvrNIfPckNkKfl
BP031Q4D2T4ncY5RVGJwbAAR9T6p5+Kje16XG3jPF3ZaKZxodM3XTIclQQqLB05ewdURq2wEEXNB
kgSFM8vRYoEylVp+W9y0yUN9ch7mBOCH6okdAw/KGzoZehR0uaPwF3LLp89NmAMK5UYxbE9ZmtkO
Db6I4Vp7qJa+6z4hAiG4XjHKAaHRm/S3QY+2T88zUEbPpXMrlVNIhT9DxEjVJ/R2Ta1t/A9sLA+M
xgc1SXqov3Zv4NMbFMya+KuX6IEJr7T/JpGiQFXgnGcShyP2djK6YqRPB8mjdPArt/vuHqX3VmXA
MR2qE37dVRhfcpDwlc6EGHmcIzoYuONWrBPJD3mfgenEH3sHFRiDLNBjKLp/3J6oL+dwhqG1miFN
RZQY4ipEM7JrYkcTN9VMHxEnIa8DA/irmgR3FtUIvvazZ/4dQ8tTf2bh7kybepm2hMC+I0X4DDaO
ngzrBWI4wtj8XZIApB4IFfZwRvUAonZbKhZD1uhPTBrZ8ZVmjbtBCenYHg8bw4G4fJJ56zIDuZNs
j6V3EP1mciDihyOcLZ+ogPH1Zit8naMXSD+HARNvpxrCGpilySVucK+BAf5ZUc0CUzi38SYMRCF9
X2bYqwQyerdhK77jOBmJRZzuK+kEbze+gPjrFjW1xsmYvdLZ+9hpOBa1uZTp9gHMHfqgw7mYez6E
3ZLhHt7P+vg8MCsAkZWa4zFTrTUGE1LIO8U++xuu5RuNM3qLe+89pE/Z0qVYHKZbAcZbBGEWg5YZ
8hceoeB2uD6HlLBq/cJ4GD1gb/Pe4vmxm34M/xMP57lzX3IKBoyJMhbr7QhbsZ97zDyZJkJOHGT7
PGIAY8HHF0hG2AZ+XtfTBJ3G5jXq9+AJB4gCv1oWC7pfMzGeoe5doq0xAJtZEAowG8YmaM6gr3UN
aekQbXESMockX0Fj+OLV26PDl7hzAq8DQ06zoL8kStq276cv61llric1Rckank19KH3C7Z1c89CS
Vjkvg35wr7v/FFFHdp5I+kBiWdC1g2JY8IeJjsHfGOSL/zI/DT94G+kXhkEMTjTMeMhhMZ0SvF/R
rMpGxAeHUFqoEFS664YyNLlHtqr2LZNte4viPc0nArb4bnR4++7wjUfkFFcLHXD/lpKpR7zaLNAG
bWLULCIjCxGwJuvg2vhAmqkaNZmWhTrFyBtiU1G+oYEc4RclNrGdIho2pUiUxirfsVSmlNUVR8sa
8QtjaFmcqvAjDOYDqCGe4GgVn2xkfoJLBW/D1GdoHAhDs0SA1obDSrVrWXNjLSEBGshLbyzFN2OU
wOaR2dosm+N2yhvY7B2bPapFSj8aNFunqsGnGAIFEqWOdvJXYBh5ZWxhrU5Itzaw/RaSpNhBAm7V
QZkR2LSajNSrHuxQO8PL9YHJ03Any/S1ifIQUWU5QnHVkZ3zdVM8cavfsHOymqbQjvUgLQnn0KQE
OGd1fey+pteVBDu7VjQywJxATy6LNXo2xFyrOv700+R1fVXGWbWu7jFGEm3fYyOS1IqPZr6fJk5D
BOeSADzN3fXnBYvDHS/qAKbarIJIbglIlgz594FTHaJ2ZiZ00vKmTvEqUhpyLe6kqM8RCkddvRR3
GBbce/L6vkQ7VRjznxQzoq7JRTFVE2/Ks5UnVGyiDKFu0VMq+JbLADMNMd2kCza6edWHU7G61Wik
7Ss0fgpt753LX1w/qhIFOPv5Bw5pFZmhaC9buuxV7oRxvTgqrtDg1awWLd8HBbGJEsOPvsVAZMYb
LOYmX4HRQ1FnoVcQTIA1CjToDj7w/UWrBUYY6zb0xG/ECQq8Vvxo4Nw+5n0WY9CuTucV8izCZphN
LYfLhm7ql+VZsZqpzSGu2NjEaCZDMlsN4VTN00wzTvPhRTWdEpuhsUkAYWmO/MvzjcxxMqsmyE75
d4Df/wP1p8eWqOcZg3J4Vk9WbTg6nTJYGpuRzGRs/wqrA+IIiOMdBn9ewWnY0i1NwoFT2UXdG2/m
f4dzwk6HrLjyDwqnq2ItMRNqlJrJecxkzZiOKDgXaP5qibcXHpKcLcwVpYu4EQ4qfloObbYO3AcD
UcV+n3YL5KrifmPPZ7N0cEw+Qpiw42SgGEz4cAtWxfkL8Qu4tDY87PUD3DqpHR/uDHGz+t3Nt9MU
RzGKNWzsKeUUecV2vroORnmWDF7US2AWSRvGi5KUHMubwRYnlNtIf9jVDZrG82TvSxvC6FB9HfeT
wbQ/R5IRJY34SDTVeWUM87hvQ34SGj7xMkCombMEa3uYG6Pnwe3As6cOYLViUP0ttf5qsH7o6TtZ
4ymZWnYEs9D429N6HivxcVDNl3UDfGtF/sni7jDIdROSETA5ELD03HqCxuS2zMndpWh+kDwMQAlB
JJ+AiI/6Sa8P/y9xszT9DN9VyxK7Sv1m5GWk+xwC2i+mRTM9mhQzwM0s73+gpzR8RX+8L88xRQ0a
OjL/A//PsVn/cImc5+DRLe/c2uUDG7BD9wHCazhdzZdtyrl8Ht3ifq7F+kX/O+lFGvR2CZicO7do
+6ychI3GXkCbagq48vlTFLTF9Rf+vh18hP+CULFeRyZ61xhGdO+NcE6Syw9wZ3UX8Oyz4d76nnCI
OnG9W4FkOUZIkJ8eGVBm1ZJyOhFPKPmXkFYWidwN2BzORSEWEvzohfmIPH6q1lgLK0KiJOXsiOgp
y+6A5PAONBktbxfFgt1I8E/glN+XbU05sGBMY4MDKnddN5fWAbAn8ggF1B6oWnphQrkorqrzAkjy
0C5ySL7i7ttACaysCBExR4Jtis3OugMDK7cPXWFvUeeBSo89h9YBsuCYjYuie/TXbXczKxFrKlo7
ENWz6iOQ516TellMqg6Z28GufWsnelpPb4bFEn0KX8CtOU2V+o8mM/MYX3KRuwz5AvaLoue2Y/Qc
f1HP50A34CpDep/1faFUV1bag1HZgygNt8F4Nqx/KW5C5doy3MST5LkJ5aCkhZQuKbkuWuEZ0NBM
zkbIZPMjtLeyRpTUfWgfbUC6owNTtRbNL8sb5+VPQ/yhpOiWOcd0zNnNaD6kQJMf8ZdksOI/zPg/
FB0/IF86/nk2K67qhlyL+vFs90uplff9eVdLdHSMM0OvbeKulLw+PQu2xJeKFVVMsnpgNGlCP+jC
15Q7fLMDZE9vkq5Ch0wlN5j5UXaZX9EqdmbVaVM0dCbkiQGOeiTAU084P5Z6oDL+2PvIjoG012vM
brcYYhcqr3D6uI23SvuFAJgH1tlG/PHwKuJO+REeDbY132hvR+vmBn+ZCCtGSaCJ09owj9SFEjQA
k37962Q+5BfO9svt/PvOawoIaH9qDkc2gmK03NQJ/RxJci8Qf3sXqwxEITXPzA89CNuhPK5u1oZ8
o2XpZbf3/cZiuA55M54Wn5HexAbom68+UPx8RUpSg4AZ9FVNe5+7xAH+cIJsWeCgP9jemICKIoCh
gYNrZAHuVJH1YSX0AXWnAm30R2UqsP9JH2iqvW/L3wo9Q3roMw0K96U5rD1Waz6UV3lif/4gp/Zk
eFbNAOrp7zgVjgkeBc7xfkPJqu6Yho/hq6X3haUpFvqrZT8eA7NneMQ5Zzd48Z7Xn8qcJO7J+ygM
orVpXvxWkvIF5JZXyCqV4heR9Rww+vQt60+d8uLACKpZ5DgLIdzyPbeIfGpI5raxJcqh/7Gh3+HH
FnzSIATd+EpfnWOTrycwF3CqxIPIGfQb8j3motVhytxQRXjgn5tWuAjb+eRgsSlep/edowxdfX4+
M5Qhhy6+SnZ7sxFc6/fP6VbM5Na4zAmmOqMPH93yB3um9aAdrG1CST8VIdlrKWM3PWQ0HW/T0vNF
matL8o/EYZBnE8tndPHtMOMRQxuVJibQbv+hLJcYIjSD91cSMZKkD59S1p7ivH6YwdWBWUCddogt
auixBytTKm7mQUQzT3d5Zi55/mv/l1ds2WSl2j32/dtXh9Y5NpEsprgp/GuQeznlBsrpLTcdwmNM
dDoI3FvjmVLzBJNVUnaFBjMTkAJiW17unF2TMSrngp3hPk1Ubu+NubmTlK1H2dAGEOHOmBNtM4eG
3pWUNZnIDQFCDCKXtPWckZVpEfUQ5Li1WclpVdcSOSQdqxTG1urRsn2slWTYkmQVs106n0ISVIvp
DopoI+sRSQIxpS2W7jHybYqICHJ7t4Gj/k5gSpkhSB/vMdaMEddNYS4pswc7+CzQtYNQF7TyGyBo
wm54RQOV04UTFcRcNoUJQ1XlNHCh9D6Q5sFODDg1ogvBg344oO34xKVjNDtkuGHO96rG47zQHKml
kmgupCUpKxaUGVkscteI2ox4nJu7BrlX9Sf44Z01ThqgjxkR0zUz7LeMbhIX065NcJtNKByICgYQ
lNfIT8rC6UYOkitjjdQ5WOyzu5IdDa0h8Zn6Sod/iKcIiZ6yY9rpSR4BqsqMnplHIxODC9+2HC/U
Zse7J4GQTj3rkFvoQVwMmbfM3asTzAMFHxj44e+Tk00uAkSAHdwQ7ZXUI0gkSQ7MpBDgIcvq5sKG
1oA1WFA2FsXDWQEKVSWSm4x0JTCldDgcmpEpOYrExUdU9TP2SBUsO6aGwwa425NQQX1Fnj/kiHqb
wADUNBfSxlRPeK7k2TOOvR8aRJQtl1ayh7BWbmUQAiOC6Ek4dIfeCjZCfdA1WvToGsu9WN7Lxheb
R/H2uE5CbvzRi0Til27YdlkgZzOmF/ifnUe3/Ol6nLtb8ZifneD67DTwifaBc0O8KCmtjVodqQuu
dvClJ2JJY9GLpdRl2COLw/3OArFYouuMfJORzCX99hYMn0M7vLxt+8wXceXLKyWsSTLKmCB8LO1y
/GWFraufIGxteuWr1gXBGSVjQAEOOrkSSQLZaXjqmFDNXV8ZYUIvnB8FnLMljWbYeBYi019gsjHp
BSztOcF5O+rcO5LFbMvChKTYhQVrIj3vM8585y0MM+GYVdk78gBJKF8vqP0hiyEPMGJHAMxQ3EZ4
kWi3PrBY4xyHFAeA+mDCngKxNdoHZl8rb9ajBM4pvmexqwdvSooQAyO+YNChOH3li9OYmFIBDds6
DNfBeQYjtsjVY6vFBVHHyNhX95KxZU15bES4+6omPqBcGMGA6oN7j3e/swhEt0deDJgN1WZERUH5
ygnKWW4JH7Kerblw6IDkBPYeVWPKTVlbRCTJcAK+CaNoqmJHrj2cB1pTou48zgy81dkLZRhkklu/
wI+wXsyajufjJMXzNvJybzg/OWID530jMjKVgFePHxN36a/XV08mHn+sHnvsrBdyyRzMfi8Mc1OY
qyjuiD9TWcW2D/PT2NjIyLIsHjz00ldk8u1ZOs+ZqAEbSJnNPEhQJBmx4ptDz4VVNz4MaJM3AdBj
JXRG46l5gtnaSqPjaJR5LO6VyWvPdT1JKa0Lh36iu3pbZ5SVkYRR58yHwgPIz8rRHdFpwyYSRuEW
sryC+Y1l1fjT59/5hTmTLu2xAqrd9aCtIQ6Sns9L4RhVlXkn0MdMT7HywcgzVpTUQrblN8e3kSor
yK5RTGlfUOJUl+pckjAf6aN/RltG0LTIk1O2nRW42lMgt4VmB07NH/CyMLwwv5A/0JBHDwLKhiOo
ufCJGsoD8hWnFjqZm2mkJt7fvcjZ1EvV5xGn4cs02fZ9YgWYUniJvmuTYmtj538H70ZXhwRxRqrh
KAeud04DzS1431z5C0PddeW31DyT3CB+cCeRfRMRjTIdufVeSSRvWKnH1glsN+cW4hW8KJqplzHG
VFYR7QVqBZZwd649XZoOPrw6F9ULVhPaoYw3sZjC4roXE3GbXOfJBdC2A+i1w7pBv6s/ptBhnnyG
KQ+/3A2016d119XovompM/dCOXfKszaJvAZI1DmxAAoNI3Qzqaby8OPeKIERPj4d4Rxu4C/uG34/
Nb/h4j7xx1iWxWWQpR3kWYEYC8wsLNsW0yEAD8RZxSfLgaRPbLbPPcpHjd2j9rtPIroS9WTXyZMk
ddsMMOhx9h93qd1ObwxsnHxKPTkjtiiRuGnS4nUhWqqmOr/oknJ6XoZTmXAM623ycQQXDC33I+YC
qqR3AOHIZH8VQO5g3vIntD6cQ2of732OGQEE2m4ptJfD5aq9YIXEokSf9Tb1IZ0nPPpxhSBenkBX
NDlbgkUMQdlA89t/S9+zft90pDf2bHGQwoVzBtY1QeY3yDLC051iMbmoG3TIA0o1QOfBMSEAGTRS
/ImZ0T4DhgA4gV6cIIwQU97QHIJTIzm9ZIHHfbywWI6dRpjdWXFKHmvYkV0tyAKOigSU6NGtP8ja
DD6S1WGr4TJb6yJFmjwicVMtZ9CyT0OBCo7tdACMajq2fCeWrcXEjTel9d+Oc+FIoPzoAkohy8FN
lL+a3V7ERXEsGXaZJ9duJpkXXADQTENe16OwnvXcXSw77aRe9k1G4m9g0rcm//N/MMD3dpOW5Cv7
lxJWdc42dcmullMU3rgGHKY67JOdZWgtpMbGwNrXmMSb81HxoyEkUaC9Noz7IZyz5R1N2YsQGuqg
VYNvdPpuk+UI5g78KGaDGyWUpni3l+ynR4QtZc1sf+1FdeYFMEWB2c8hZ3gCKm2WpMsvdgmnl//4
j1ztFO0mqqSccQriUqBVF97azMy84k7ZjOMbUsx4B3z3D+XvH+atTjWrnEFoBhuCK0+iIfZ/kdZf
7GJLWIkfVCnyJislH6XjX8EUdh7d0jhr+PEXLz2R0wx7CJPKvI/psxOee3b8lxP9KaoyQ9IXeCqi
6yMRYJth8jNPU8WVNFyw8sSpR9ltsK/LXC0obGMwbz2iT1/+pKSVOpLSOvKuTtGbDACxxTOBd1Y1
le6wg/LjEhUwd30szX655JlS2NmxvkfVvwI5GcNNgnlwJnXdTKsFkZiu5oKh9Uc0x7w4OkqW1Uey
Q47RJRf9C8cmO9CsuAEE2Bci3Sa3yCiuw1MRMo2mm+/dz29ylB++R7Ma/foGfwU2SM3RYeOc7kFO
Sfh9NeWIetu3b3gMvv1Gf/tNSTyU+vgb+bh/z17xOlCNtQuk6tHt9Rr+c2HPjLmthGP26M1LSl86
XnZwBaTHnQilRiQ98a3gGeZ8LTi/pPjGscNzYTK/tqxdEVHDpigk32hDn3LNPfJ3VGhuyk59/ISo
GyaaLD5i6qAxBaKPR8pM7aW14fyYpuCdqYNJwZkusQR25WnC9jEhK/qIQMe3qF2lWodr46pNk8Il
w90M4iIlupG6wmxgpwmCbCzlRl+jMrqf/hsgjCEALxDbGdeWHZWqndVN7kXY584X5/jER7QWjsYm
UWfvKfznC/j/z/0KWMboeIADWp3Isa0TooiYl/EVZ/TSfssTfMb/bu8FTZgnvvGdwktkIkP0rym6
VA+gAroeYGsrgt9u4VUDZ+h+Uhv2eDmg8aU8Ssez7TIzC/EOUoLXdNhlfnEYEVeIUFG4R4vix0VO
25EnxzaEGrhnGlNnk7XPTrxOrawJ7wnXn3+sQILA3jMSCR0uyRxFfBh+lB+ZKo9jQGvAtklCWdpu
BPMyBXm9IbGeKFYBcZhb2o5UXUpMlsBnj5ogi8Un/DXVkPSGiH2vp7NlTV6f06A7b13bZBwCM+6N
An3mkcXvJY6jwsoF5zVeOoUUtwVGZiwjj4XujKREaHNeLcg1pgGSwHQM1Uzw6GOK9ZWx1s7QJKZD
3gDoznEHB7fbO7GpgYFMVXj5oYqRYIERnSOVmI3VRq0pszvoURyNrhZGhvrnWKjZeKT7NOZ4VkOT
6sRkSX2P/kmmBw+H7aQPuDe4po6l3fHuCfxfbs78sb+ZJDHCe782S42ywpcB4VDKmi/3pQRwPXdR
vwZU3rEHYOPRgtntDr8AynginghNMZF6GUI5QLzDYR8rfQL8jQoGbJvbjNanWHiaZMkaG19U0HBW
kyJiD35Sx8wiCjfvU5BZedbpa57wDibJ08KfTJXgx5AGM0iPI3w5fApj7u1GVk9tW49oI7vA2psv
o6GvuP0Y4bnMrboKZwePaC9zQVVpjfqZTorb7BFP2mFJmZQW9JiHw1zOT4HmyzNYD0KRiuzhR/Sb
IMWT26GGWZa7LehpeoCxZvg+cbD2tT64SzHBySJvQfFgbA9jzTaxIVijhWCIhAkFc6xLcg3sEtco
koLiKt/iflLIUT2bFZ1pQGWri+SU0onwSMiYclB1cA4jh0jpSgGhDhK/SB0+hlVvLV5nigC4HkUg
+S3BjXq92pdnX0F3GXd5ZaKK8I2AliuP7j2FRVoM3ctd2mz4OAv1roSGB14bypi9+wUJysMvAh8o
2BcYiwEPwz6mnyf9K1v61ScMOv0yqI5UY4FUqptqu4VFIGbuIiJuGspiye9Fi2tVlUKfyTAj2dRb
wwOLhy8gbXRn6fK4NT3wWbpOrCbEmHLpuCMKvcYjf5vc5Hx6sSUqCR2fcz/NMw+klM83w67+GuPd
0r2MVdD6CQyTh0NoxSIdXqAZrHm9Aah9Nvwi87rcpHKkZUjvJ1lPjRHcVsyTsRAgDq1ND7D2Ur61
ZEkAS5dXqLdAIuip7cOV0arwDnmKE3aFZYEwKSYKiNUDonCZ9HmnIpa63AwZN9CeVR0IPvAAPWAp
CYmdJhel1fDQH1wXaUTJLLAmA+kyuwZdjpEcgDyzQ1oDpnkhXANGEFaSIyIa7bnhnTR5Yv+bgUq3
SnN0j7RCaLVQNOn9akHj9GgHiROrBeWQgX9zmoWLp8QRH4O0YJNX4HiPqYrvdP3q0e1H/OgY/j9g
JjS2rvNHt7wq98Xulkb/PI6E2Tt8wux83mGkyFXgbkY0O9jpCqVJgh6etGTzl3KEpyNaaI6bBxK0
+9YRKgtTSZmnYEX1t14/ukUgiFyjyz4imxmsk3hO9ciWeXw1oEJotrYLo9wM8Std1LQ8tK9sEfNB
fJ7M2nFSTKe2OAH74qUiDPR5UydKKES0CJiLK+Fg0K/2HCIXrx8reFB9jx5amXUGFfY2btCYAPDo
FmawHkt+FNiu/kb1a37wMeQKiTjhcrKiwAup2sE5MB3oJJdzT1EQLNCDAOW0cUp/ypi7WngeN+o8
LnEmqg+ponKMHHskyWLYE7qMULKtIHsVARtnwvSRPzvW+lXESxYZo+pKkxYeugiwnSTdV3QvAsJP
DUJPhwA8dtVQ+h7KwOE8BThLH1owXtIvFaVTdGwKYmqMAv5afLkSFfszHS78s+ApfAiwxCDQQCBD
WFURB5rMlxiblfzozRHuKhh8jIqGbEzONMJNfnS1TV22ABYtJchVygWixAh8w/k5r4NTHS253BJL
P8Y7AMRTVW2Q/QFTW3eTTQXOGLfvRpRMe8yPkCGh5cKdrHk4ogqdNxGVVk9Dgc6Jt1q6CC9r9tR0
GKywlTwaJJIsuDE+XjlvS+NQaKaBaIDghU31yrAysn70i1336qh/vOIkc121cMmOZFAY8+OVIpqh
SZSx1KFsOg2a4GJRNja05twjNIxG9N8dQXF0DhqQeysjs1X7I2qaV97jzj6Gz+EFdZMn2ug6soym
TUUM8zIukc78ZdkcRBycacDbbWdPeR2KQf3I3OlH5k4JJTy/iEinvcuSO0Xs5ysT77yPeJ1Bd+vZ
zuf5zhcXv/nXsRO3eW1CmPBnLH0ONQn0PJhNzB4Ghhe5u9VnXO6T0HKUPNwHFlK0s4a6UMWuvaej
3d3R7h6KxngU9/Ivnn4Ge/PXf/uPh9FzI4cq9RFe0vZQqLxoJo2q1SgnkRI+CCihp2wgpXTrOrBc
Etah1rEgRMy9Rq74u1fJnqOaMOsR9MB1NHe+yLTOdByhsAYUIYXNxv0qu6a2675u7eYLnUkwpnu2
JSqTK+RSnA0cKO8jLvo0sG4GnKh9bb4QD+O1cQp4TJUWEJzPgsnxY5iYRIB6dgiKBOWusn6ZwLj2
MuCBAp0c8XeO/Ynp0+L8zaRqJjM5qiC3BKwhDAZiTMAc5kmDCXSehmytXzKYJYyxGJ4pEnZ8Wi3g
SfmXFdyZ+NvmdMUwxJosPcwgwt8X1fkF1bs3fBNIObWJlywuqX7gmI7qGK+wUXKLnkRkMcELCuB0
imWMkot6RrXf6O1xdZL8Fs2nvzV/o+rshOtlGN8TrHiBSXfgw5ZO92qJYlRJhUzqGkuSYhTv+cxw
a1FtT3iqyV/kvCnmEgiWM53JGRAHye++fXP08xU/V4kJOGiNBYOGyf42DdADqwP66h46oL9ZCYQa
mQNqbqPQKhTp3BOtA6Kdg37ZERhRKL1NGNFHDE3YUzwo6Q/Gxyqt2GkVXz7DzkkLhMpIpUiqUJ+I
TXzlrDA8nEucnY6pEVLeWbqbbduDTL4+hi/enqGbAE0+O8HV7QV2Vw9/Iw4fiJRoVrgajzDvC1zh
3cW8BA6UTKWSGdqUdWFCL7BCZq0tMTeUS5QsUpogPNeaJBTHKiyK5+QeOIzb1uwE4D3hX7incBOG
2B6sN1DIkLMYvXEE6qnD8cogzdmsruFqI3Uvn1eQ0FHpy39IFUY4v+o16YHNG2svClwqrUUOG+a9
UvcVBoMikuyaDoyzO/pOol5RURCYUYXouxe0/C0vlBp/deDRG/yihwBVxOJeOLIxwIRiTU8Jydtj
0xJFd8j8oha5DbCeWvqZcgySXC3rrG/Njpmrv7EUjYzMPQQWCudv/haH3C/JSv0Z/Oc32jM37he7
R9Y5Hir7iWaimC3oVmw9ubLm8E3OLqVrXOCN8+GVVoPdQbI++eVtOdttNjJSbU6RjSkWl5HKvggO
mV9vGiUYsa1Y48wmy4pnnNGdUEKuSWCgmURdcdEo4+1LQXwobyLDZ2IodiDgocvxx9SeuLDkiOFm
mpKczHRGJJYUYCiUO0Yg8aEj8W6ovCYuZ+I9c+Fz6KAz8lDPTkWO8w7OEN2fvU4vyDtnpCCAY8QH
GcipdcKbXayR4C6q3kse3jQgQLo2E9v9OkiMa9j2Bd2jLBIZOYJzq80l15512uDt4Zc9Ke8TH9jY
oZHyUunJhwxJfvFXEWnQKdfmQ1YA+kbUmBFfpuR5T0SsMERFmK6KI0R7px2kZy1I0ahI/n9bv6Uj
dE+7ABw+7VIYXAtcBbdgn2ZSNBWTboUuF6ZixTpMTIIhWrMbtMNP0BxYcCggf0aYoK4Fyj3Hbhqk
2ZKoEdN3CxgzLVWVvTm7ZI0LjHMbMzMtjlvmG9M71Z07QxWuaLeyZAp7jFwLFUqzgpdaIvLbrAyp
Wutu1TlXB8PCuC9Y38XN0G5LXVuFWIpeXbpIIJug8CEnq4lddl/LQpR/ltQiRgEfF/7T3bL4wvsy
fuGhiG9G8MRyScnLO6fa0AFd6qiC5ZBb+Z5FZkvu+ta0C75eYaJWDKajjCjPkuPjBVI+zKr0zHbI
z05kfNG7ndAZo+94wCs74AKDO8hEcdLzDnP+aegLZRCdkjzwBPkPmtfJds+zYVvD5rkouAKjMHeS
U+Qbtc4j8Cz6WU5mMe8w55IEiBEkhp+WH59TmbXOuwdpYuRCI3pOC+rdk2HHGh8TQ42NgP30WljV
jdaAypgaE2Bi029xEoAPzKjwcMthEKiNwUTwDDjbXvLXSoztpFUdGbc04Kq9ou5/u5+bAMn4uRmi
64xGDjP8iJrJZ9nAuqBRIID9xOBV8MFeNtAmYMay7c5v3GbT0ETsBoH7D59GnsJ9PDApGJGiVu7w
fZvFgLDnYoqwo4WKe/WRyot9VfXat8cg8XbbixJRfNi3rfvI6YeuLUy0WjgroSqbZnbfuX1MqaMs
mN/GC1kFQ/fnb+aUZVFbVg9rcG3Z3RPFWV3fd4LJ+PGjW38UmNR6fB8vx1/OUd8kDSuaaeuSA38v
majneNuifcYmTAKBtoTT0OjgJhNEbl3YTP6dqpN0uKdlyx2n49Pq/LxsfqjaH7ijca4NZouy4hTY
aHfiOiDtBCfxl1WBZVxKdML+WoahyCvOV8a9m3G5L2jcuglz2eK6bUXyJnUuML4YMCXOYbCM5FWN
eWQOF8C7Lm+QD6EiPvknknSL+axiNtuZFMuqg2uymDT14mYuXWCpdpDmD9mwSLkD09fPD/Pk/esj
+O/R6+fv4B/6DU9eHWYuVzLqUptv29/xbOEu4fgwICVPcFI/ypx+pAn9+C/Hz3f++eTx4aMnww5I
Bze2Zs7xtGqk9C69GMsmSiI8G82OOSo4XQnttAVWLhVy6BXCkTfJOM0hG8gbFXJd3PNLM7rJXu9b
/AUlpqKeI+cpP0EAZ9dXSb68B8RtZEZYCGQgRYIkrwQn7iDxamC/UpLRMbfL3WchjnIXp5yPZMD5
g8Mmwi4FLkFuE1O77OFF0crzZw4YmBBCno6SBx4y8OMsMKt/8+2bD0cKhMfHuJtAbkgJ37jNHAAP
d0z7iZFc2HHwjuMTBoOTEz+jNmcxdDXcpHh0rRh+5TA9slkpSU4oTtt6hrFk9DnWBUUzuK0O/q9l
Uw+TcQcM/BinM6gvB4xuFYkMhpQYfBxc1gP78BpOLi6Gn5BkUDc6N6MhI9dwou1a+04ZDPoXF+zH
aZA2TwKXTmGiafXOWrN7cuxrZoQj2OYd7X8g8D2QrpFfYEdc7GjHxOU8cbp4eTJKdAtPOWOIh10M
9CfDfEV+lPIH8HqeYAI05Zr5XZqRzGTw1//j3wfeR/Twv/1/ZGH763/7fwdRd2Tc1JHfF3C3bkph
GJzM+hkjwYj22tzfeHeONIB0oPGjW5r4WmKCLZx46IxzDkm09D/omGD9pQIPzOAxL+2//jvaD2Od
SnfjTRGeZw3SHC7OjrcqiKdw82Au/QWAuasmIFiQIrjg9JQpmebRq3WBdn80kJVcT6FfzQq6+xq7
198o96qibd9wzpDQyUp69JJSyWQwtIzmKTc8eklJR9ZXSmia9CIFF9qyewcXUtl0N+lgR3J37dBk
BsbeGUnG6SbApWiQwcbxd/BPYzomcbOX3+niMyoPkbMbDOrqetGYCJGBADOYtekOuvZptDTwdvI5
7x2Sl9om9BxxmldJbiLad8n8CqjBv1n5QmHv1bzcx8xYlHCEmwt9MjFtgNxNkQELJO5kpyVaPfux
eoFeiBQ39O2Y84eSR5cXP9dwfQL0SeH4OrQXcGab3EydB12PerZupeihoSSSTnpXTlJryWzrGco9
AEl1Nva2Pkf2KB3ShHZkEuVHEKGclxPpRJviGv0TOdLPZrsaSPEGC2XMT0RSYTyZCUXmYRoTvt3l
mFgytOmEuFPG39E9S7ez+9THb4NhJtzXZYi1maXCJrLfqlhJ2IILK29stiUdg80CwPMYe6fQVGNx
R2daXVHaNHqxQA9YnWuRox/iyf1FV7I6jfUHj/EfzHeFOG2ubqbkEqvvm2AIOyI9yRvGGv7Dpe/F
v2LV7azTjXE87NMKVxg4C775rgck8w0mQoQGjLwBqOzn33YlGq54cvhHaubh4400NZTJDNyP2Ny+
hk0+Q/Tp9qWokxgsxn28dfOpWX+9btZhJGF7jfnKdow2Rw2mQeFG9zfaQQpb5+5DP7aTUg9ZER1+
kISOWfxGWJEM//Sd6cyR8RKDjAPTCxfliyAokdsdek2ArQ05V9lFLMfXdBu7sG0pfELWSkpn6jt+
nwkZheOWC5Ry7sDkWlLcvKPRQps1Yc6Jb6PqNKoQlZOfqXSVIsY2n4klu3jhvMcdMbGkKv1zeFK5
6rytBC5r6mf/t7PG3I4PHvhF6dlzmR5pl+e7UPcnkNstpUgY/00UNetBbWVNOe9B1oUxge7RrQia
/CE5BgbZNJOrR7f2rfFfS8aqe15ftGTEVdgdJbvIwgoR7oyGs3SYEkx1UykKN12vHoWestqU6KSb
2KSb+KRje7upGzGrNn7KVz0bP+/r9g4oU62YNvBwB2nIjPQV70tlKuy9cMKRzlLe0F9XSuRJtWDX
JKhmBrkbJLOr0FFaLVFLBuOA7D+6VSqOuFCWiFSWgFi2HuuzJ21ckoAeXB8f6I7SKCnJuPeUpPre
u3iadCQ1NE4/xTxWNNhwFszcryJ4iJ9tOioxJojb2wwuHnpdObB7xIy4qwfwZRbMRHAw0mcc42Lg
MGoMX3cRC7sHdHnqJZ5anQbACNrD3u3xnUZbtY2nux/ZvKW7JifpntyK7tbF+EdNAt2jDJFX2hCf
ewcAB7YvYeGhih0/AB5aSr5o/2cdBJ9Rji3tBe2bH9fCAoy3JheTSyj3CseghVUCqDYmECGYxTJz
bcwL8pGtUh9Dq1TAyr2jAfy8IMLMjIK8t5szimAnz+zP7bNQlmOT2Muca/9pwFhsvsmtaGXiKfyd
8ZM9CfOwnRswV0AklcbmadjdMtPwfPLVd8jaOb4oOHmPk8ioqKvq5em3KVfv5gI23WK9YAMaWxnS
yF/+l+MO0I0/sry1VY/4moRwuFiGduIa3OvoctdjtSQ/f/sdiQ6tZG31O7iEaXT2+73Zy99rWAcB
GH7Eoka8fGj3yTD0jrIj+dW6ktiVcHd2OtSqkOJL2/zY83jW1nQ/oTqMV8RhyuVSvErYzkWqTfj1
eA/DZESpg39fZJJKpQTKreBny3F2mNcXBmjnmEma3Aw3pb1j/c43WL26XigVD/Vxl6aH1ndwTx2R
CGRYO7cvoxTTaTq44FkMYk6SfaUITHAHX5rm+DsshVuTUpbkVF94LLkQEK2SDVj4M+J5OQlLgKjh
VeU3naLO6qwoEewnG5PYudNCUxchFBuGDiX4LObBSDlwNsEGX5oZ4u/NNUQGst3oi8DhS7iF1i83
36AsAenW4ezAuqFs6Z/Braw4seF8/QOAcrlpie0OvTaLpD/MKtmnEdcdQzyjEMAvjHAfZyhG3ocB
e4GBkapwtGbKMMtiywyZtFJXA/YoXXC7Y4TASW6aDjmNiuQcZ5ulaLi/rht7wHjwWOURLgwVw26K
myklF6QMji9P+v3EUzFLcE2YO953lDWWnjCNY4tOa4fF5CIlPA+dnf20lVLhqfJrFfTPkVxlajH4
0ckG6TNsFhYwkSHYMMMezAklV/AjZRk4YtxDa6AF0+d54ixdV5nyBN/b3UXjWW8sI7PAIGZaa5PG
9ypbqw/W/YSwJvaQN5vPE2W7y9zOGzjLAJFTZ+x+FuYqBYILQ9xAZuMXu0cecDkSQiiLVO5AT1Eq
olhQCTccb79fnxsNN5xIzEBcJKwK5QhuDk3opfZwGtWZUh9TKgX/UqtYBdsnY9zFDr73bxMZPVaP
Sl5RvgQuZhZaArmF4BtmsDznCLoDnmCkEccbmveuWjZ7LCMMxKWYvypbYn1MyIzXX38bmXsOi65U
SqHM35rYZz+EB5p5O2W8hqmiCPkZiduYIVI6Vmubf7V1nCDRWHghKrvR7icRf2vnaZ2k794eST1K
8zZz3tZzCVhi/Sz20pjcc992JmMmOTyZyCLx6SU44992yBSLkNCBDMpiZnGmy7pUI9MkvM/dlrTB
13aJAjueEJpquQ8UFMzPR7fyy9QG0l6QaFNCs6BZwWCDEU7YvIFt91OMTYOo2UEdx4Gdv3bQzPWJ
tSMzZpCnOpIWRpFB6GQaGEZyT2/OHQbosrGLmLvqT7eJbNozspF4wQwoVP2NthJ3vKQvEwRAZwfr
WYh2i4qN/vLGlPuYMAdxw4tnbCEDzHamLGDDbhNgjCalVetElDmW7hxw26F5kPZu1EK8K7gd/ZVu
UU7YQAQ8/UP2javObtIgtoDuXxOQkG3pT4Un3KtHS9O2zVGWFHTIjzEr5clmLUoQg0HOPZgp5AF9
7YvXPyFIJBzV8/uyzsXh4LqSgqvtU+HavMoJpF+ROgkuX4LfGfA8+rjsiysese1wFajaCLJpaxde
pN/aDQiVIbGzHU6eSkG5YJLxPj95dMthIqIHGdkHff6OGXBmFTXHtqGgHkX4vDQKNVTS/GVVNjdH
gDKTrm6eg1QwYIXbIAsqo96t09lI5rBaRYWsH67Og9NjCa2WKUkaCfXIprbwZt7LbcFxUZJTQutu
egp5QgvyePPm5EGrx3YKa9j+Z/GdFg24ciz+F3auXv5p+jhwJHZfY+b23pfEhpNLZ/s9sGhwoWC0
1EB9+J//+PzNh29fHbLlHx1Vj81t9TTrXV3yx+f6jy+ywYlL3LSo58XsRtKBUMVvKkdTTqiKGS6j
5RTmNvg69+pvhH7kxplpbJ+M816d98yErmE1tM4pq6BHLI3Qsp6MxUqTNCPONx3h6MQ0OU/2u9km
+iqZVi3jLmZGyvs0AutTHL14+/7wKKic4mpMjaM8FIPtLg5KWv0t/JOfH8qunIkAawRikcNGWAhw
6LhK/iF8Jsc9KMh0tc3rJfB0Cc17Ee+t7W5QgQymODYRK42NKTXn7QlxFWtMZCMCneHdKArX+Tco
CeZKecOEjGnlPGBUagpPpckQWfsKObSAuE0xcUl+330QzlcdeWMM+LTwSfn57GYf14nTlKP9M3lM
6QVj4uI12P4X5DcFlQ2piWGzefn3YlGZs8iZrYyxqEJ/DePJf6abtXvcQJQ8HJc+1MY8lZFljrvl
JaPoFQ9nrRiHb3gKNwlS7xc9ST1V4lWWxb6KFxXeVFA41MWtQ9a8s+H6KugEgEuDjaLKTVmS8TO1
MfQ6KZrp/8+r6TnbXhm2RslpwFvIzbnR8GsSER5IV5t66LNW4Y0hp+zAK7bc3m0rVTguX8pM7vyS
p1bpQWU5m4UDb1a+LZUSK3mTjiVN6WeFKrqfkorBpFDI8ENvcW25PV45IApuy3i2viihOAQDkzWe
KfXcB7PPPNj8lEgnDZRTliFMh8kTfwJByEW22dJqtjw4ovI40q7vTYNRInaWWB7RZ6BDIGp4+Hu8
luthTLaC1AD3GXCs6OWBheplFhzo3j+D5hL9wJKRPu1Kjc2n2miti+64OhFM2KS3vkN28Zbhb/5L
dY+aXBDCN3pfrRNDHxgGorVUsS9SA0VyYwGwutp7zely7Gu95Sgpwbo96IiwpJ8Zf4BHtw701Ej+
DBP4CTbdzTDcbfGezFYt8u7Exz8kIebNQzF8UwQqBRtwalUm/RjoioFsrflb+H3hEbi/t2cRaYmk
YBGUNGVz+bduXvDnkuzASxaIiQQxWeCxHSLFJM7ur9PMCy6D2ZXMxz75l51nIOClfxrCf7Nnj56o
MHJuxJLfR6r46z26scV9Jd0WNtoxv298RfrH5LfJDWzdzh7szkc4kfgH/t71wC5rJO065fQoGnIl
kJVwFA1BKTUbkttSzG1bnS8oqyAm0Y2LWjIACVuRtItRQUu+oXFbW/Gu1RMbOGZdntwpOdl2PycC
45eNsqhan4VdkQ5buyRgk21Ex4cVl9vSp22bfzp0naks1/V1qwJYs30VxM0lLXdAMoRWnLRSkpSF
vo/w3tiX+7kMr73FzipZ7A68cdQB/tgu/YlbFLC4l1E2HHukt4PATRGnvfELfOk+oO8N0PBV0BVn
itvUF79F4dZb1UYZDr8xG+pICMcZM7t/KeDuy5Xhhlip8m8QLWIyBUfkHyRvT/9cTrrhZXnTCl+c
GS7LaaUkPYwlnYF/H/VlWD1kxhDnhkRWfvyRRxpi+Zg05VzzD+g9BWjr1JgCT42t/C0rMiQfTs69
UyB3hv0b1MxOfEGDjlgktwPmU6EuxIcikxpHDefBx3e6o1DSoAMpqOtNLSZiLE5oirs9XqarOzIN
UG8wy+kKri2VfgfudDjKu/f0vKBedDFkmpt1qFhs9qaIIVpyoEG87+/OVg+LxR2uFYuITwUOLeZr
SifH3g60zmdJSivD3LSerwRed6G7BM49jLFQzKjpSPkUp7wJ/ij0TA1jA5vjrhYxCdg7DrZesOMF
hRT4j/uK63HoIH+Xy7vubqueuz9Bl5yZlr8OWYHx/T3SA+cTOf3GOPF0V4Q0i5Njwx2iJ4Slkcbt
JNy8DSz8XddpuOLgdlUeKF7Lr2C+PQ8U/OeO23kDLyzJ0j0HUJfJxZS1pohiicttdSwYfdiPI7Y6
duMiZkp9ulBkjH5KdU/yBm3ponxiv7K1H5NMziPsUh0wgYHHmXjR9+2swT1FrUbW9f3WTGTkezfT
jEcudCs3ahxxO5ZrTQoUi4ecKSXITSJ+ckDZRq68KhkmOTe9NjxukmH4vsRUHLRLaOpgX1qyzxXz
Gg4GvcKksdY1l51y6cTAL848UDfTfpoM6kyYA0FXn6FeNuVZ9ZGJGgm4j8eeXCAkX/QjfCMttPGI
OyDp48m/aFOUHE5+73wtTQ6XIDGcSCVF/Csntpxu6LYvHFJSJJc5h2B8NiuuMA88eUXDHV5jnWMB
rwPiiOPyzyquupEsi6aYVudzk0GH6FN6Fjc95mKr0qKtZdP4YGeSPhpPtzu0IK2YvIqcvolPb2pd
ublcnsIOyoJOHkUwPtfVbakvkK0OXQ6Lyhzl8a3h5ywn5x9T0RXDKVuPIwWCyFu7TRmIgk3K3zpP
IvmCeBsOggyDmE5+IfzYUWl1zs5C/UKMSCkhh1iQqC9DQ/8hidmQKPkXzU9qkjh3sEHGk+EcYBGH
KE5TZNyisniHonAZhNKKtcTYu8lyu9qCawm5s9w4doqz/yFoyDt94djF3sRjFkmvskY474kV3HVi
OX+iji3/m+akRXe7h2nmz8s4WSMWa+nxHrsXKV9PciZWWdOETSfeZL9Gnr/O3HSMysAYcfQlEOqg
l5WSXb/J+VXSPuU8lMfU8rf3gaQTBnQeu7uXSSXy/KX1S+dgI56sanTreYZ7u7ghMMNluMoTtbnq
+Evf2cZSVXdHcGzteD8259sNXvNC4EaJ85gH6Gs3eMPV/ALu8IpzjxTVotluuJ4wYVBT1924l31P
JeiTe4ruJ6TwdEdxeXNLlDdo015Tb0y2cZwoiVa5nTalgHNqH65KIEXJrCewUvvw1Hl515jJD+e4
YM9Y20t4KwTsXHuzmKS9M02YTMOjpjOUceiNeWAbUConJRUsXFvk+7Mg0DVx68PPA5TDwEx7C/Jt
cdddqCJqAfwxtQEjM6dix6vb4qmgchby/ttiQRTNMIIA9Z/FUL/f8QSFrtSLLtbb3YOGDv6Mrm+b
3PLzUl9SYic/I6LJgAknjPHeWK5VwNoY0x/NQYbBDRtxA6yqVV2VIIEFiZo6GAH+RA+dd28xkdDI
VMNxzksgMFEFtDOM0mhKSptH+0/OsTM8qdQES5bjKaAseTShU7S9ddvO7RERoVTXqLHxsccn+4Eq
FUdQeydVMfgDJ3i6xfSvS5qoVwjE//pJ8lQhtJ2KNLKyOHZjlX2uIgz6/zzlAJbMVMrxPqXvepQ0
Rh9wi98zqrWcrY0qwjOHPCYLb3Mz5lxX87XvGQ9w76R6q6sEafKV27QogPllOU2lqz6o0Br3ARW6
3MCpAOTBcfBCsuiOwkJCHiDNNz5wDCCN+y3N2+SC5onoy5HRoHe0yQ2P6oGqS4akI+oPqFdbnJeU
5R0zto/hSkoX7JwQ5ImnaWUKUnQRI6TjYLIYcuxjk+9ZK+/kUu9GtpRLh+WjyO0VLYvy4zHWRvoM
wInD8vGVfKjr+4FibNO0nVB6VZcnznhbqby2lSk9Tu6CqI0V86ECgqcQuA3yKJjVzbnSNE7aVJnu
XOZS5kF62UXCUjnSjhKryicmfelWLZGKjFHRLRzRMuIaN6xza4OYmSTlAKEfAMDIBhsNTlBpIBYo
gaDDEpvKNyFzjpgbI2i2R698QBnVo4rK1x7oInEl0RINHiVw5ZPFV11YGvM17+jaKNPCyRLgYsQJ
mfvLCj23piH3go95fxnSKqvMdKiBvDHdduK8491R4XZiIeAKlMYN2u/WgaL3kdog7wzxxPsu+XiP
vP3d0eH77w5fwu4/zfQm2OZSmlA31lIPSwg+ZGyADALHTyw8VaEHHkzMDm6CBm8lQsN0QEdRW1Yy
YwjzxDFDMsyCRqKQ2LpATWc+9DHHJPBq5Yr2nfaBt8IKsnIf5QwhVZXYLjfdSG3vGcsgaMuwA1g/
SA3JFSL7Fb/DSgbP5KdM3M8mEo+YDF2+IzTnPr6dUn2Lmk2F0rTFfDlDWjOhcrpc1PL0hvqrJP2B
6w1v8gV5hCbXhXiST7l50XmESbonLkI5int+4q5MmxpBUitscR7/HvC7vvaIlvW3I5Kl/of05yo3
rj1yr/0oSb1/JNBHKJlV5+KkvPTc2T52SaGCQsuqaQ/iCKS83+v9aZulYwouYY2MXrFfj+70hTFx
zaYq48OKCQSmleB0IJiW2DyV5FdS/yKIOsJW4p+wR6j1cO8hiGpnZ6xxjZBnmVVAennHDOG9GnmL
1RtmQGG8s8IM5O4Nn6QIxYV1PYhUBCdWyezxEMSfEovn+Yon3QIVVBVmB2yU/7mqPO4aolWdyfq3
L0E26A3iHpBNPxuisgb+8V3bfct2lMCLY4u3qGDFxN5GVtnHkPtvSg/OPf1U0ut97eseeCTvCuTI
Db4A7YGWhupukACPiCQ/Id0V3yobv9ti9DO2CbheZjM08ElaSKaxXknzhbUPYNgxHKDFRprFLBYr
N8xObVfOGmVXjFO7S5PufeuRS98UJXeOBcFbpQMg+wcR6quqvOZkz6KVMrYNfCR3sQhAubJE2lrF
pmL7QnIVg3QktSAodTKlGTBcLNmJMIICpU9sLiIcwbfdcB/ATEWDiInTNlg0qYGxJ0IzW+eMFjOK
6gls2DGpNMUmae8UxcTa5bN6p1A6u4EwJ0a2KxdTcvZzffldedIjJWtqCujypgRYrRaAnS1DVJC9
IiZqN3dXne6A65AUWJ+E0uWYVKaFhWuxaKUEAkkgcFywZLG1SMBHqvdE6n6Yr7oaft1YBYBZAWwf
ZaNu6uXSTtbYcO0lmmNfC3JqIzQIjqTdZLgiKWQwRYzMUdZb6BMkd0OkfhS/6F+a2I8kJDO+TQZZ
iCWQfA2qFVkl0HiOg3vxQl4rR/Ffvv/2a1QI6ddCdfWjzYRf5mMyOPtEyqSKOK05oz5SKSNy4+mN
HFY8XLnLkyD8FR1hlyXdJcRNVdbTMXfHOQmXfAkY54PoeceTzhUnrM+DO/Q5H3ESYQ2lJRupBB1R
QVgitWhlwaz86MiCb8ZM28c8JuYNqWzcotSwlw+JP2XEd8I1q4WT54SAHKVlql7jEyRyVFkYjhyp
vpizMxnqm/KqqletWL4nBdXnu4SVkuttyzFF7b505oCnh6Cdj2snsVesq8dKcMS0YlmhkbtGz0O4
fYEG5HK55br7tW95YN2yIousVGfiGFoedD7FfXW+e7XeceKf+J6fpR2GryStvPfDxESz3TefPEoH
vxK6ibkiwtn9ZVWuXLA/ZlDkgB6+zCVTIs2Xdt0gBJFM+oTS29nuplVD4XEuJzqZTWZ1S4Oog8+I
QhYTDG/3SJ92XkC1zrVYozhITlQ0SBJ5YaFCubgsX8FJEEo29w2PD+YhN0YIIy40B8ncM0Di7Yy3
PhZ71FPWbqJzp8akrsQGx7ZJRK3hAnkCnIlp1weTKIwL7F3l4oHjQwiGHYeme7w2oI/Hj2lUukR8
711zcf2OAXbA0zNPXVRnZ64p/UgSBzpP4RvFcho1sc2WiEECBTrEJe+AiFRtOYTppMda17Gs0BaL
Ik6KkiodxnRA2WYEP59Ir5gFDWcqnsE/rRP/YwBLh1ZsKYeEuWmA3IEADnTn+aq7oLpWgPVm1k2J
+5qWJrGxHl7pKRPqNkkjOtMw9yyiEe0U3o9up/CGlGMBvxjRHjCioRRh/+ZcoSHKitBsFPBG399X
PRnVPDfNnKLfJVh1Va1UXStR2itFX7yso6mW5XpQKTdYywcfkunKNtbxhPrAkOVCJrrf95kgBcnd
K5WclGqlcm9yEFUg/WOBW5/xmeJ0p8NFFk8iTKwbElrJs+kAZJOhIpBqog8oM5vHvu7JMjXmNNJn
/oHVcwWi+Kb2mVaXNqApgYpjNqhrHKhedeIIBu9ukrMSM1tNDevJzOPQGUo94serQ4T0bR7PNptC
hnP0SHG99OAGU//gnALgPr9CvdnKcvPW0Q2ue7xVzlDES1/V51iAjpRa2Fhk4x+WTX1a/ABMVTb6
xL9K6YJgaTKsByieCEMFfF6pOWl3kXhqnW0h34lwD0PZizTbkDO7xJQvcuenWo7iaREk/lDeyCuc
V2q8Q+079ujkFoZMRVjrxLIe2BRR0TEsjvF4e6a4l8zIdn1slaTF9kbyiyLcHyI9plt7frlpZXby
95q1+pC5FZwnq0vx1zdMCtIs2A4mDWl4s5rcERgagd4ZIkcEARJTQ+Sw9ixVJhpRWP58iSkzNJVT
8OMoTeINTOwF7+ZPGsIwjThICFcaYVtwDLsQKJZVngOmjxySMaNo3jHLab4S75HAXuAxs+T6lb55
/vrwP+lNZdGoY/OkCEcxU8G5YZzRrw/3xyzCzxJOowiu+obSI/L0jTPZ7MeAV8sYsZ0sxjMS50hi
Q/USYJEqRgnoQkmNp56dXZ1kq8HQuKbItz01SGSiycA3nKv1BqOMIW40836FclYcZEZQ4tuI10KX
Ai9HrcaoXsRMhB5J7GHr1+3QjVJ/K+QOEXrkme/NvcVTlvsL4zBnN1qhoWqtF0I8WL9RwHTcVOWS
TLFelwIxzlm0PhiwU1zve6/sPfv4INnTxqQ4jVrfvQBjlHDo1Z+k5I/3Z6oLyISaW0l+H18Hv/x5
KyE6I7Ic+5mwKMxWK5BzaVWVEcHrxsjd/TVSV+m0b8/jKxWYKO5DLlc+rM+IwzUhD1iERLVSh1rQ
qlcAwEpl8Gmcc+OVBJbW2P20DWoRWypbB5UYfOPDSkGG2qTUprfxJDT3N57lcL4Y+EN/zfLeU+K/
evt71uBbIV5aKU08tJEbUVJRINmb1aQarbluZAtYtrg/HlUL2JdqCsed6LIHWdfqbIYr2eDjZ5Te
hoIcU0wL/UXJDuDPk76hhZhMczQ2GZkC4Z8UuczJed9ngVHJ6zt0G/RMQ5t3xZ+KWq5FFm6emYSJ
0ylv9VBMk0VXAF/Du+/Nz+7vsZdwJo7U/gypTfwseKyiU8mYEAsPPuZ+cDcDRxvlPhRFyY+txHrh
bw4ln/Qe3RUBhRd0EAbFp80+M1PT11Bup6Kjn3oBT7Gwp9RTOKy3UQSS331/BqPo8reEASteqn83
11KCi7gnLKvJJRogRCvLRGtWnytfU+Qm0DmCa4faeCNWQzMbYUJ5VB1mJ8nZIuu5rQTqDPBoiLJy
V0ZJLY5ZPcrOa6ghltAO1dXUinuWvwHuf14O2sz0ZTTRyDvQzeRHHpItyyyKRd6q8b3eLPNv2sGZ
I0uVWJA21w0PvHoQM1W1cP33T6wPrurRGM0dLpYGFdeVZ15kupmp+44LLpmy3oYgCdN8bN9g4QK1
D9ivJDLvNUFKbJ0WglGGG0J0cJ1mbmZsl5Ait+uKxe704qFs43A15gXM1KxDPzvxnfOP7Uoxz6jR
EkqOZ3+B1v7DUWjMmFB+x644zU1e8FakIVsX1iKc8cQka015VqxmneRyzJWVg42X5HFIuUTL6X4y
rhcvLmokJyTQjrHPRhxdJ3CbX1J184XUzAYcGCbf8bIm9ZzLnSsfbx7BBrdWIAJQBEKaZWyhMlEb
FLFn0u/8/lCSfwuMnlEHB9QYnZmMvyRBhZyQTN5kp4oiV6ymJH0JUMa0q1cT/MESNcb8ZXj0uQ+u
SN0zjOG5lQyYKeUNd+UYc0lc//AKlvXmYXJaTM9RVvP5cNhdZUazljcDKLVQopha7dAKiKzTF1AP
LqA4dvYyT4eTZVuMTe+IDKdkZTI77NOXRYFJ5chIgx/sMOGO5k9xjfDBQBlxjFGml9bE5jPRBC5n
bPbchtdhedW254hl+vLlgYFnsnR2IMZ+SeHq2ClyIBOs77/oCqru4KIrRb8n+3R9AeCzV4OI5A75
bjhuRxSebipk2KfMmb6zmsS+8GFuXYC3HFzxLgBYid0JsfcTl60G2LdDxAjMPFAuYJcHdFCBqIi1
wdcpQT8wiXLYFQ2GTxCnAPz14BjTUx48hNcPTwaexggeZRZr8C+XL0YZ8dY6g05/TkAqpkAMtszK
KLqog36KY39+QcpTSjOIfQyBgy0/4k1aT1aciQcOw1V5KMFAel3w0W+T3bhJo6vJHfY5krn3WFFk
hGM8TvZyfvaSOEDv0avyjFvt2Ed/XLoH39So7drNk8PFdMRzddrrZH1c4o164sG99h32wpmW6KiF
UH7JmJIGSXN4p3GkY+zrsR40S/5B/2nHxd09A9C1rrN77Xxo+TzFML9A8DSZTUgLjNlM6H1szi5l
z+mq6+qFLVa9A+9V1iCYEHIzeKikoX4VryzV6yGSngIDvKA95cKSY77Tshuu/60HDlFwDyPJk+pl
NHkRdLED71Sf9XJz2iJsjX0PcjeOr9u1jwlxFO3r60bwYts4J/kS/zQ/lfyBn9oKOIMPmsdgxp0N
i3Qz02SQ3SEAndecu0ylJVErxn43WLuMDp6vBK5Hb0EQ2xB3VbvcmLECyr36yfeAjleV+V5FAJFL
iJYBVF1tAvDY3vFUkoc7oVQzVJ2m0HfgGn1hJKKLzfLEGlqn7WJWXZb7dHOyZpbrpJAQ05QTDIyd
joN53LviTGQ3Y3XI2mYHx8NU3spcQhYSA74eqLINaEHM7qZt4oPrZscqDpvibNtHfMyCLzen1cYP
TdCTykGGszPQ0IPDF5i6RvXqobB8AaDMN4zFnIIhAyIEUKkiTBxTLcpg5vYisFYyYEW40Kiv4jMW
MdNy3TNT+d8FpN1I1uiEoYRangRzfmrRbXRnIimRItsQJk4NPNufYYImSgyE6aS8gBaV9Vj393Oy
Hnvz8gtq36uHGJR7pkCTFw45JGGzxZ/whFPBhDWCLwq6GANX/mN1KeRJNI2b6Z3TjA0VjuWB6de0
yU6yE4+q8uCoGiWmV9NXwwVTkyBRVCS6uzdDxVq4SWZ9AqHUnoKWtE0nKMrKx5GaMyZynaPcjVTs
chSb4xSjiqY5nEvZ5drLUeE+hv//FtlUjDVasNuNFUWUB7+dCAEB6y5L4bqdvXC1IL25FM8GNuSg
SvHCcTxbrrrA8q/VxAceIvRvWzIi9EwLdmz9TS5Mnwsk6wUTkMhFmuj+SL1AA89BwVGXjDDO91xA
ywDKWOwBilcgJhsaYVgDJwnC1krPqulTRP++bZpa4+0mJUyhb0SxqJBtJMV3hW9rzZBShqLdONVK
h8xqh+Tka9MxupewTAt3ydms25yO0ojC3NrP5x2mF4kkXolQrb5dRRLlqTQr5hPxpd4I7l7ifJpl
Rhg+1wWFPW0Arrh3cUgEFL7zKyVttGTyHvx5BYNbLKOYXU9fowO+Df5oENjDeOeoTTmvr8pepPR2
WAm9jr9krI6/27J0hYIDrYrJo9qtgbCcCg5a3WW27DaccmCt2LzZITrdoezGt/Oh0vbp1uqxdqPL
zKSQvM2Nn/VQO/1EsHMLCG3SOl/riKU4NruEbHL+iATFaMHQm7xqGqTg34opG5ai/aFGKvW35hLo
2Y8/enYvvvZ6qKwVc4r/2zg8QEaPak6CJSQ6Dkjoom6f9j4AOuAxGGQXIGoeuJWc+ypG7SCkHmtz
NBqmrOeKd1M/28LbweUf92hh4iP6777ZyThdFiZi56PVirM1zdoABqzBN3FLlKfPBGig4l5jHSvT
w10zGYfZwdhsIZyqHngzdY/6N33oZeQbEHyfI30M0KagzUn9iyzG1ATI7TgairUVJgB++kzBwUFg
WgpZPMs98I+ffvVrKHxdckHYIO1Iqa9/3I6N1g9975BTv7OKbLrsEQ9ph07CxJXb9zYL7xTFOGzp
U/Pauou+H7+TBngp7gz3MygL8xU/x14+6rLr7VQYZ+AylNj4gvuFAIS80SaffYt/KXkUUXm5bsXY
9vnu55EjQ2wtU+kpYEaxIJfGkQuMStriBgMCfTeHXvzvuge5exwVhct0j8aY8YONzDh6V/sMuVuA
N9s7ztM2VUbgLZPdXQ1DElKJdc0/Y+Q4IPAYSYwsWkLhHGMihWWJzCO6fDQJp3a1drt53CrH1pH6
PPWtcLP6PFYUgI65sXvJNO5ONkA+XEr29RxBS3bDOKAhN1JDeJlxC8c08GdeKVB4tNljDF/G3cX6
HYceY1sivt317a9A6pSGPeVOL+Ca3vIUPF7nl/eHEYxiXGG/F2cpmaYTlL5QnwX/Re1RkP/V0zh2
UypZIB/ozA1OhhklKjkd2ZG414lTTuG/nm/CpB+HK8k7XpRAd+vL/qRg5oPJDlcUrC9J5fbf/09y
Z/jrf/+/rd1YJUVH0sUN60tqd1m7ZltyhPM3k7ppKJIFE543NXqr3LUCl8aAFsHObeWVjiaOpc0B
/HGPm2Jx2ctVe8y7hSnrUNUZ6+RZ0q7mc1hHW+Li0/LKps7JE1UBNtBNclZ7VA72PseZoMNgqKtV
2+CmFUkZi9BAon6l0jt4kZslRfG5/hQGwUc6FQclw6APRFlNGruIxQrrU1GtQ5OqQPX5oGrfYQwN
JcZQXrKq2xQgxLSd23jGUYkGa0Rp5pI9UQcG1UUTR98HkMN2fTCxqQ7++wIRV3/IXrP1Mpiqr4n2
CgNsGqj/GXQLLP7+JwEANsGVgo/QgmLqJSyP90786mPWZuKBQ3y35Arh1bEy5/gSFfemWNclFTC+
cmn9/7QIz1upk0k8AVGkKc+BrwR5BSNlG5uuiVwzOAGEhH5hZu+CWNVauFWqMIUORljX4KyiT6Bx
g4Z37h6+plM/RNdnr2iXeOIY/7uL4qrkxBxeWnwc36MCxt+iRw0eqPRiKAakA50BbEDR7ld0y8SS
cYTPvbTRkSMb1Lu84ROqR9Svl/EDTNlfzGnKQmoVYnSPgsD7Zx65l0PDSMmMnDy6IdrkLUAVa1qH
WRqWvUhNeXHTeyFAI+ifVouiuek9noM4XRGO9ChyadJuFqdtepPsJMttdBLPDAZryaLKfubvpbta
YUOXcT+MjXCQ1xGQLkNo9rjQM+AOV5LRqzBe/gV7/qDeOpF7AE7IqsXoIeT+elULsPHX0tPmi++B
uuFkznhPyXd+ZmEabYTv8QfXClSN1d7qp0EMqn41whoRMTYcy9Bydgta/CgZ42THSBAE8SVKRBV3
BxTBdQBFLK/GNujUKMVb9AMKC2Vg3+/r640EwSQ/QEWx8SUS3p19iYAbs/5xXWMtiMwNEFOgj24l
l69kaXLsGkp79rEwcwYx8bkfA9lLbaVGpiGq6X54CqEbF9rifH3Vl8Z9xbTUE8eFvNC8AT4w6zYv
t99XtIHUdgeuFvhnPc7pT79s8jHihmOrLAdkEXkDWrs9ELbBqKloupiO1flpwAq70CaL5WwwPQLC
u5NUX6bGj5UbzEpzr/MK+XE/hRp9Bp9j1rDgDT/O/C5w0UiT7Nrt+038q/89k59eZkxalgjG/oXC
pmfby5arsTdQMtkhlS5fXGHuGj9basU+QGXiFNTMY2IdETjkY3a7tWdVacDZUIBmFDzOuVNpZCPr
069Tojpf4sJQBvqEmA74P1NXlcaRXEZAUimjH1zn5NuLsUYBicAKWBQ4R9ChelzbiQUI5Fyjy3df
TAdDA7cswnFv2mbFvvlC1CDaG6/2YNt+KoYeG2keNLxQbV3l/mGmsXd4uEe33BNN8I2u9q45nCGQ
nHmarcfyI0/642vent+ebxIJgQeRurtbpMY7+7DeG2j0kP6sz5W/On6MiuBw2mvrLaXFFu4tIoMJ
7m0SGZWQCGc0EEL5vdz+ySgqyOEcfE8WM2LoHjPoZ3k0sbp9qWHci6rmtrl1GstJp8eUoJw+ulWf
P0vGf1roJ7agLY8Eh8YgDdVDwoZZPwnWsqgam6JhYFScNhJCzy4sxcVOccQPoAqNvBNzUYyaQAV8
QQC3yUvpEWZDbXIbDURh4valZWUo2yqiVU/XB0NZtahmvyTcrrxxjJd5os80Je7U0Xg9jmIaZSim
AT8x/tWj21hOT9kKKV1qZsDFrFxE4PrHR7cVpYfpORNZdi7vZUqeCqM4NRWBsEqcd2N4S/Z4wKjZ
BzV5799+f2RTM9pw7YR85Wjn3hUwavIkeV8C+1BSGSfKT9+YoJfLctlhNDNtGqfXY/9HCkoXLpvK
FixQ/0v+kRKvXq9a+Ag7ayj1PWEW7MV0KH0f0bRF3VfM2prS8GElPeAuxoojhUUhWzIE1JY0BKLj
vaAgH21KN2Ep+hatZ6v5QhLBSXo1d2eKUG1RnX0R3MRyOkoS4qaOgIE2LbYgNtwEvY/wBBlkzrYo
tNsPqONMb/1MZi5rGcWIMHgO4vm87K7OCpVh3EaCmG966RTu0YnnEqxiTvGdEdmDQJAlYlOk+WpB
OefQs0pyJBJKTCWtBH/Wy0UWdCJEz3Uv2RaVY5JZGJC01uJWfxBRDhDqc3gO/fb5A+jXvOU+d/DJ
wPju0xfbYkk8M5sFzAP+ta+fx67lJaqGtG8cf+euYf7S14rJKHBd8XEm5S+d8MGdAxo+IOzDla7Q
annX84b3dp5q643vHYBx48T518DzFyVFoqxfe0ZGo6g3hsH7oReAOe/ohoyfjFbda8bib1KDmzIt
mA5c1/ArTMeRg0auAqqwhcFWE89nqc8wcDmEObIYFzKcpohpz/hFNAxvpZ2vzCGQKDNzKxfUbcQe
Fg9+D4bXF7JEA4QlwKwoTHejf6kHBjNZBtnD8XrPzMLIzgVPct9yZt6e89ssZkbTGdzsAOgyEjog
qNUyETGBCb0yUPR6yBfB5vVSuD+sWE/SrJ56yHp1kCkQi797xv8OgSuZkrtravgg8dG5AZj8Jfkt
zxV/Z55vqx+ktWmOx+LWK6MO2yXZ/VCY3us535owEhpR5WVR0OgdQIUd9XUWCIX2RS6deBkUGEaB
+BW4drpK7pzuwO1UND1C79IInL45IyifeW0CRcYp8BCXO9JU8/Lqf+lKB+TXw21VuQ1eIT/PAp1K
xvf/UOonSCuSTFDBIn8iHfXEPndBZ5pQ7Lv8as8NW3K6qmZMsYgN40AySxg4psVSJROsyyzWZYml
E1309NAPNOI65wwMjK5rMLMCm0jKq8DVhB2GrhgxtC8HPzMbgVpGeOIn17jq44WytgkhCpDtijHN
vA97lK8i/a7DohXclUVI29RxByC1R9zxETyRxjvlfNndwCfWB50KlVur/wYHdITyC2Jm0VXeXQia
UasXkeHkTo5U3MY7weqo6kW2f4cbtaTnokRcHAYe8F8qxN44iBgm0zhWh0WfE1P4meZxyM3HvVTy
UYdOYJPKLrVD0Cy+luAL3V3SzzpjGWvrVbjh+CeOn069PvueEyRvfeqVLVOb5n1sVdLKU9dw1WoZ
7m2fkxLbi3BGEb7KsFOaPbL08J58U669Y/rxC0w5NzqzyHvPn8UCSW3BdgLsL1QA4afR+oncYDQ5
lCQG86XpaAotXC/nCOtBRHx4N0JE3scg8nnmMM34Hm/FrQ2c8S+WNivQLSTnNZmOZsj++ic5PL2o
L0b2is5nFvNh905DH4B/98P2NyJMPz+WpDzhY4XBSdwzVjgyQptlVmIIjS0ZpaNneCyt/uf/SMh7
4UW9WnSpfLBG5mD8d8tM5GfSZ1csvve/+/bw+x8+HP4T1iS8NeWDTXmOUXI8MCU5WNtHimAKDycR
StefUtG2Utdc13prucybre6WS7W3G/6XqkQNpNi9Lb1yPKCiHjSeKp15V+mn/eT92xfP//iCNGQo
1dJTjsumKll84bHq0gzqHBZw3BcuZc5APkd+Sxq5SnTuK+ekbIqGcs+0iQzr14cf3n/74siA+3jw
uvcJ+7iQPwmK4pLojfz22SuTa1Y5WKvMk3y0SedLBUh4dftav+jCpv74/hXQRLiJL8T7OeXUJgeS
z1Xu7F7KJviAHX59C5ApmP3kX6SbdPg4e/RkWH4sJynwxLQGFA4vtFMR174Oy7T4Psg2qmAC/f4R
4FfPl8A7wNGhr4/3jFQZ8y/u9bz29OtVI/rxJecqrc+pbMiob0hHj+LzGlvX9gNGKNZGVhvqsb40
hy6AF8kJLrcujcK22MxPQzVlc4bUILho6q4Ddu/94cv3z7//4fVRznTM+6hYVvaL58sqxZIyH+pL
K3TIDOrFwlZvljrs9hEnzLlVSVVH4kSfBqKACKPotW3YtnZDLnrtOM7u4vQVxm73X0nsVKZ1BsVy
Obsh7LNhU8HLI+wwlckEpas4sc/QRgGYzPS8oHX/hpAD/a7oLkzgSujv3nYAuLlyeyf/6Gf0j86N
m/UDhnS3KX2GqbvwO5t2Fzq614DuiywcTxrCQJQDFVdKR48iW+Rjlc51Pxba9Prefbhsq6ojcWap
F6Rgzb2cOaKhQiEKt85V2zi0jxAVvdYdojLcSnN3LMwTRlsfRV3nkljxaFEtl2XXeoHjgvfDYtWR
1cYWn/JnKln9DjalmJpwgql937Pdrco6v+sWhMrvikU5CzrGR1zAwmsv2SFctZHv5AF5zLqCKj7U
gHSszi+Wq86jJvzoBREob0ucVcOf/UZLh9PvXxcLjmFTl4Wq+G6vIHLjmlBKqZSsU1KBDK4m9AdG
iRGorUooL5Flfkn5P5Q3+zoNvaTNBSEbZl0uVAo9fVcKXdfJmlsZE7ldlE7tMHQ4deF6ExqWR7Jp
269oHodGLtrVAQ3IPLDrva3kI9WrCpNpS8zXXAcc7hlOV4fXPkbDBOqEkJV1h9PRaTqm0rBHEymM
zNIsISqcyDPVqk40DxhkS3tqWoUz/kiihbCCCMAeGSbB44HL/OUp3IXtSm31TykiPZtJbLfQtk+s
3sG25MXLVW2PC6VaMAKMq/DircmvVMP9xNJkSZCVwE/FVzowBlpHo4KVT7xM+v1vzKSpaHcq5QNu
BSYjzn9i6pya3ALerkVSrdqMz71bxnUsOVxjPasM5Kr7DVtMsiYdHFtesGsjojjITn14ZCOTNh3d
DurG7vCCHkigEXYopdI4S9yMYzlRaMz7O2+1VnyFEs/dxwaerc4ueF+M+Gn7azsb+pHM8Woz+mQF
cjeWNq/PhywZpRtGzfzN0ugFrF26FYtjtyRDKXK8N4S+I0NdAWsuxI1c1QsPC4D0j3X2hnFO1RIp
brG3SRE+MDCq6aSxMqiJ1mv1OrX7buytduO158hmgpVaEZEPdWLYpI8SrcsUqwrthJgX1x1bbj5A
TbU9wOKuUHufOV5pWLSXm3oUzkzc5rxc+X6oEB9fP06I7zGvKqu++XzdnmxO0RVkK3aZwYlljATl
ihsQ7lKqDDCRpAbP1IsR/9ap+gLP4EgGYK11wxOl4+VCQ4WN9j4tWkz0JIfMj2ols43CcRv4eVpS
+nVLEEeeJZmIphUq/eq8clt7FENPQbvDymYxXMLzvx3lttTg5V7Dpd5NAXtgVDpU3N1+GjnaQnlg
4meXcMHXHcf7m6AaiRGtr73OvT3szySYygbQMjMUAdw6ti2U3AQmHVnmA1JnIqe7SHt4ctc+aI7O
3t5eiqTsbnoeW/W6v9lBzvmfAEIrXbscLUGCfwWCuzL7i4zO0vxGQX1TwbcgmBsJEaqPbxSB2/8k
QmkIkwKPQ3XeD2zogT+sf0Aoh/0gVCubvdOHlRMq2HuWf0pJjw2FCOLrtUHIOuQ5PjtTQlt2S+Wz
2P/kfpgWSBS60MZ+YExifiXm1+EoywbFR2y8sFNttol6GARKz5pQkIktClMkeS5crdjyI3CJOpe+
iJthdv0+PzIRtLaTjSWCYqk4dyKDzZJysjGZiC1pzt+oPCKi2Nx00jeUziNp1xJo+rNXFUwaOR9a
SQwVGYqa9pnAI7q8WJ4jEHNoDenjjEtp0dn00UZg68NVk4xQpYvvWLdgoL+Bu5morO62E6ui6Kes
JZX4QTIWPTb6A/c0z9SZc4HnYH+l46bNI2W3rYEohiVWaXFNbEx/rzTiMRK5tk5u72nZrQdEg9oG
kim7e5gyv3hDRkqMZ8M+lBmS85CNZr8vV5HMpyolBzMaLUy8Ap5RcV2x1yTNC6NL5/hfR2AogR0n
EHaaHLGOiMBmBEnK5wMNFdBweAwuKG/2eyoQGkMKhcQltjlWV4zwLJLgLaiAJNqguS3np4oaby9o
PNKS2rxfOM8UYVmHQ1rmhJJG4chzT7kcExPZn2Lui4duRccnecIdia+CKdR+l1A5v5dE6WMK7X6m
VJBqdvGVmHQDGDYBAv/qFE0KnNjMGiyPzdxPKChZG9e054xJY019YUiOH3/uMkL4zWHMXmN4FvE4
PMaAt2XRXVCKzePjwa9m1eJyh20bcMqVpQOAbl47Db6fOUc1ccV440V6T7yL41FaTbPhBbBO6Lho
zQY4MbPVMUivtZMRqspp4qV2aXrwYB6FkMkLrlrOIz5LW9s53bcpezTPNpxhr7TfNqXEBgLi1SYl
UPTVjj+9cGZEM+EZoQDTbxb/f2/HrpswDNz7FdkgEkUsXUCqVImxCAmoOiIglWoVEgShEQP/3tzD
se/shHbpwiuOHXwP3/t2XfYJHDh0VgpWUcXPKp1Y2h/8kVHDA5a7dL1p/tYaZ8BPwgKLIlF0wiip
vtF4mlMFFDzcByvqdYG0CyW8a7DA2xGc5rwBF/yydj5Bj99cjtgu7UC1D09gxESKoE9j/ov4zQM2
LA4Gz3x3pTXSrlbhUmlRAN/aDuCecUQxu39woTb1Y61fAkwY3Oo45lylNBWU1aE0/BWT3b5ySlQn
QcMzcNg29DFfLMoEXoHw0I8Q31Qw9+sdVdYumMxnhLqAGW2jhM4kuK69w15AVUvdMlu1LNbQHFFe
lTRLU8GtNmYfDdvSiriH8qVx8QHizJUXbq5G5qqmiOJS9pttHCTL1ctquZ4tW8RlYn3zfPFxRi+o
CwIAz57Jyk+RAlJjAI2cU8jzqd9vikxH4gQqW64CM+bsUGh4taNTdgF8DZdRhrsKkZWuBMXc7HNV
k0DrZk7j90y8HyQmeIeqvZk20d31GXfYmLyXBsK6y247Qp9Sc+bejxA3ZA4ULsWdH7OCMkgvmMwN
HSO4LzzEcm/qm7Ix886hBhT8+F5rAph9pyBF6y2xMKKs5uz6wwQpT9/mbLZmb8oraRRB9hPXVLUz
0CKSKuTCU3C750UlKU6DTzZM9GeoycdNkTyK2Z+Tp9FoZE8UeA+YQvshk3Ts0K0zeBq9TyJu8BcR
BnclJxm82C09hWkaPUmDWKunMnlWoK9KErSP/QqDfIKCmyMoAvpqK3Ikcdf/wz0j4E3a/i0M+aM/
8lcsLRI/yVkiADpQJPC5gwCtIYMW7hJ4Xg/MbHwKWtFIqe6lXcQ0nc9Yc3hFs3+PHZc4PfL4Zrlb
Cq8/UEsDBBQAAAAIAAAAIQAYHx3t2wAAAEUBAAALAAAAZmF2aWNvbi5zdmdVkEFuwyAQRfc5xWiy
Njhg07gyWXTfVU9gYbBpXbAwDentC00dqRJC8DTz5kO/XSe4fS5ukzjHuD5TmlIiiRMfJsrquqa5
AuFqdXrxN4k11MBZXng5APRBqwjJjnGWmBnM2k5zvJ9DLj8jGLssEo+NaYRukf62rUOcYZT4KoCd
FCesWElXtfBUtRsnAjiIsr+xjKEDJqDbVc47jbDF4D90Fhtj9lv1l4QR8UCLdVoNq8Tgv9z4D797
63Z+z6VsUIsGlZOzrFDfEvPYUIzN4yVm1OI8lI6+fM7l8ANQSwMEFAAAAAgAAAAhACPSFPNNCwAA
HioAAAoAAABpbmRleC5odG1s3Rrbrty28d1fwerBTdCjXV/QoLZ3BQSuUxhwWiM5bZ65EnfFHEpU
SWrX+5aP6Df0F/reT8mXdIakJFLi2rtxgwINkOMlOTMczp1DbX5TydKcO0Zq04ji0Qb/IYK2h23G
2gwnGK2KR4RsGmYoKWuqNDPbrDf7/A/ZtNDShm2zI2enTiqTkVK2hrUAeOKVqbcVO/KS5XZwR3jL
Daci1yUVbPt0QaaUQipYrVnDAlKCH2pDKqoeFhgH1jJFjVQBOPDaGi7E2UEbbgQrxsnN2k3gkuDt
A1FMbDMO2BlBgcDvhh7YWh8Pv/vQiIzUiu232Vobani53tMjwq5gOZvR0OYsmK4ZM3Mku7IqtXYo
ulS8M0SrcgKhXbf6UWekYnumis3awYAe1k4Rm52szhYbx0yRUlCtt5mR3Y4qSxfWKn4cFnaKtpWf
hxXeHOINw4MQKkBuGXE6y559BQdgKHT7e6ShO9pG5HNUQhbKFkE+Aq/7XVbIFmTGSCMrJkCrut5J
qqoQd7OGgyyP5M6aK+Rs4mrXGyNbrzs3yAivEPyBtfkwM/BhWgL/54daatATVZzmgu5Qf98zQ75+
/5ZYPJAAryrWFvc42qwdmXFT5Ar3AAm2rDQ82CGcqqihOQqcTfMtyFtJsP8MF3o9MMGPMNVJwQ0b
DzcTYiUHlh1zcEbVA3Qs9wEp5i837ANIbeLi55/+OdNXIPXhpzM/sMhHONhL1QSixWE2KWea8qJL
KBBhOHCgslCUIedGyfZQ3NdcE83UESy9ZazShDq9rIBnB5IWUdMbBmb/1pATBQqGKhiDYZuabEqw
uCLPjdOoHa3Ifc0cZQI7PjDwSw7GhNvvlDwBC7/VREgIWEBMKogMq4tSQzdru94EIrLjIbB0wOFJ
qgp02BtZyqYTDC1D7vcZ0R0TAiJf+bDN9lRoCICdoCWrpQD5b7PAMkOjDaYV+3vPFavSngGu13Cz
8INOQbhT55kn0OMgFPBaIOytJiteux+xPwTWgvp3ttJQ7kwQItsQnlrqvMa6ft7x8oGpkaNhGDLy
LQLq2KAC73N0BNdmRsXPOTczdOeGS8p3hNGydubBjSZo7C44MaN4iZ4V+ASwb8+GJuecatj1oHgF
dtVNVg12x0vBxqAAEc5FvBx/hrwIVu3Ow1lsbgrdP472iJvjVAASu5iF8FQ29bNATH7SHhzc+lkx
RQkHYIP56EfT1BBeIkuPw4yD3gt6lKFChciKn3/6xyI8jUElOsFEyBKYseLn7CkgVxWt9BlESKBV
zZjbdAE5cGTrIBG9YdLZCNQjWL14O9usu5A3MWA+HBdyLzaVKd5xSG8K0h/83lRVZJt2xYuhqhJC
HIj8tRtPMqfS+6VryPyNKQ2WmaBydCujHNq+uYLgIHHw/BKjY6X4HjylgshVYmi10dJncwyVkMYI
UwrsoPijBU1w4mhEjLhUqegJdfvpU76HOMetC6bod9Pqjact3jGqkjSFXbiV3NcnyjHZEuvqKVZZ
W9mS4Da637vU2HeGNywi65Jm7lauIgtDkXBFby46PynajYRms3FgtvgYbtkcPBHwRkol7Wy1FFIB
On465mWAHehrlUM5Cf7lzV4TuXfZu3FxziPMaJvhdhPPqvmUBSW6lJ27nUxiGL1pcjhT34COYScr
voO/NyK6ODiE8ZtQrREMBn4zZqyIIUF+a/+9kdypxjvmFPCWyDA3UwZCLZS2MXgtijjDdGWGy1KA
jFYZ2XxQta19tvbZ/UL6hnsmu5S9Ta1kf6ih2PuFKdyn6iWd+3HGJu1k+g2wrLyzqBomuqGYiWHK
kKdPiL4yH3sa9thQCl8sORBg7rxz/CMVPSOjGdk5H6VToT+Oegl6VvZZEZX++kQNFHPun4n65ftS
kCbIGsUyj7ap8Pu5p7Z55Fc6s6d9+cQuiV1z2PkwYAYoqQcX/2NzPB6mY2LDaKrKLcpQa/HmENfi
k4lDPsFb1vklgfIORUTOzFjuj4fPc14BTLXl+ZL/Dsuf5bwzIu/cMO22KQf1qVvzit2R5ho3jXKt
3z5mLRk0VTELzTOjGpLqdxLYG6t/iNJztO73T9LzL164+VkYTwTxzSJYLzi0wcc7q9+uGgQ++HkO
rCSqHVOlgV+8uAC8zDsJXqwbLTixs9fx4UGv5WKR0Zb5LPDPvZSmlQZq8tC4kolD9ztsNO4gd4Y3
NVfFB4vk3/8KsNiHDvsMEYafg3X9ST91Q3+Fnt+o7QZNZ86ub5ZFXmwXhqpz6cUOL/bhUDJuHUWZ
pUXnAHhrlEx6eLTBn+MbKIaqha93U3MU+0t9Zxsqw6VgLxWhjsiKQEnPqeCaAch5bISVimGB70cE
EIYVBTpSy24Y/ufYCppeFTDgO16WAQ23DsINkUBiFd12Lc+2+9bRAyPYTtEICZzvztgjYWJ/h9FZ
MTy2bc6x6uV0BwS8Fv7uYUdAbO+IezwwhHYdWL22h8auS8yxLSOxeMc2jGsk3FlWGbB4JlOqtpPW
f4iu5cnK1N9BrdVax1gRV1wCS4qRvoWoGW2HfQ1NvnDCWdOOry3v68fCvMK1xwfzysvrS7shyoHQ
BiSNOzWEGrujkd1SfIMxDVqO3PCWfi52rVg7GkpLXB/ANm67y6lajv0KQO90bMiCz8Jb/bx424Kr
CWFPVArOWkMwB4ExP79ckuiWg0JNtqjclzDLjPnJTFgzNNg4/41oyY7/rK/pCLkyCyL3eWKGu9PG
JchrALHn96uklE1jH1BwZd7+v1ggOgMAk7PBdbZh4cyt4924i/Vhgt5pu7dMY7vEQoGGFZvfgJY1
YpcU3zdBmJgFkCerr1ZP78ip5lA21lSjK8N1jAnnmO/PpgbRPl+9cH4GERj8cNdzgfFidlJ6oHgQ
LHBBegj/2qHjLKj8JVmeuHQQDkUz03dGStjc8kAe06Z7Zf+QAGm2bZ63Mrcs5VxLYNE2YvGY2609
XlKgd6heYK3Bd0qyV7Lx3HkBueeAuTOvY39Juo8PNXRoOfzPvMYp71dyGxd7LniNWyTj6T7fafx2
3mducIqrVObbh94mXDax6RIPoyEBAC//t4rEp6WkFn2SDTPsf1Ghmv0CbV4McW/w3cYxiS+FpcTi
cwhIwWEwNjRQntnohrUFr8iO7bEsmEoWzaAasBUESuRudhQtHagrUWwxgy9FQAELEAKagjBzBxvK
g2JaQ0jHiz+vXGDqmMJHMdqW7OPRZbOWIvkU+5FC2fGkcz08OI8vXrYKSz0zeYzLRbKnNbfa8TEp
JuD6f9pWksQ1o8MSOHgiGljtd+n2VCA/MsnvpS8A56pO6xAV7Dvtl99ox7cmx1EWPeINk8W1KgD2
WhNoILquuLULPQe/OtPEpxsO42Ukwn9nH17s1EwF4f3Go2DKvXAl9CB4gUzqKfW1wjJSXf4qo6M2
AE3hylPsUPesGh+/wwj1HnGmEt+x6Cp9CJa4uIxNs8tn3DqJPkpAMvN2VtxZcRtmkdTd5le0Wh5d
1RQvc/teU9xbF0o0xC+hPXCsUt8gVzfhcfxKoroJZc8opIJv4G8PyroJ1bY3pke723H/pCRc4wjc
j0x9O/YbfJC8FY2UOdTnVIyPzj/U/toHOQCcuD0wvJXpE8OAZORUPJSw/NJ+NqHgcgzXZYxhMAa5
tdg3eT3iL3m6umUWWGPizSPdIQoM2LdS4sBgJ4n/huaHoEsRtsrH8kDbm2jkZqmYiQP8GmT4hggi
iwp7VYk+1dQ0wcYTdX0z3j7YnpAeP6/Di7ubKabfmzUt5mhjqA8Qx0gfjlLIviedQl4Pa0VqNiAW
orpvWoK2Q3JXsMkWIKJd/dzqR40Pj/jpD370qCjUbF/8BdZg5svlptNBg0P6r3VQF/iRoTMeCJP2
a9D/AFBLAwQUAAAACAAAACEAXvsS194UAAD4VQAACQAAAHN0eWxlLmNzc8U8a4/bOJLf+1fwMgi2
e9DySPJL7cYM9jB3iztgd3HY3N2XwX7Qg7I1LUuGJPdjg/z3rSo+REqUrU4CbBpJbIosFutdxVL/
9CNLD3HVFWX5xrK4PSR13GQL9j9lXFTs10+f7llZ7A8di6sMnjdPrDs09Xl/YKeG57xpvbQu68Zr
0wM/8gX78aebm11T1x37fMOY5yX7HfshX+XrPHqkgRTA4xD96Ye8EAej/CFPxGBSNxlvYJAv+Yan
YnDfFLiYp5znoRjq+GsHQ8EmiENfDB3PHcdpa76JtlsxlsNxcF4UPyzjQIzFacppcJWvNnxtDnpt
ncOTZp/Et9uHe7b171kYwgd/Efh3YiYQICtSXO/zeM0fxGjJ46bCjZJ1mm8k2nWN+ATryF9m/ZC5
SRjes2CzhJ1WtEkoN0liXJmGq8BP9Yi1cAkLoghWh9bCF4FGslovfYlae4iz+mXHfBacXlkIfwlC
sIGzAZCVjwD89d29nLGcmLGSWzRxVpzbHQv806vkZDCgZops9bOHVaTYv4SB7GG79SVt0hUOJOFW
cSpd45IwWqVyoCme4xLhbtfrzcMjY+ynH1mMYluWvNrz5g8ta3lTcEAFJZhnrC3jjrOEt0XGQWA5
O9YZL2EeCuu5QSlFyFlTIB1/yNJwE24kZBpkRxB1kG4181hX9Y6dC/rQnuKU37MPn/7E/gJfP9yz
T3/CD97f+P5cxs09+wuvyvqe/VpXbV3GLcz9c5HwJu6KulJrPvwH/z3+/zP7FFetGtPQ8eSmYu2E
Fj7efLm5+eMR5C5mty4F3JGO3pHy9WqoFdHPAj8g1hiqGKyDB6E6ljIGcZCHWzWs1REolS43algq
ZOjDcK4GpUryLX/gXA0qpXyI4jAJ1ahSy02yXUV6VCtmlESpMBxu1QyWoJIBimW4ikj8hWza6rmM
kqyHohQ03kZJHuuDCBVdxRmPfHPQsgQrtAKoqWFkKFuvp3nyEC5TY8zS1HWAyIIubUiPgqVeLZU1
T5I8XKlBpa5VXWkqkoLZVCEVC7NslWgGkJLZwEjN8tU2TDTvSNFs2ihVS5NszQM1qtQkj7bBVo6O
hQ7Hv6B8/sg+s6R+9driH0UFUidEByTo9REm3By6Y3kPg9kbzAM12xdwdJ8eiUGAk8Tp0x7cTAVE
fY6bWxTfO60TagzljEbzGsQij49F+bZj7Vvb8aN3Lu6ZF59OJffECCos39ec/d9/g6b9rU7qDlT0
w3/x8pl3RRqzv/IzR738Kzwgrfxg660c+vemiOEALXzz0OzkGgM4MNAiWAlrWBYV9w4c1RYGFyth
EV948lQAsjT/CAp6IBqhB47LIm55Rjq+qM6AcBcnJRiaBTDljP8DItyjL0A6AgGEKGCtB9MBlXSH
S9AE4UBLNE3B8t2js1ZLFJ0EDdHi3D2a+PuLh5Afce2uqju0MnfsF4ZgJlgjLAYxQlkJ9B5g+YpM
cY/GjSnad0hineIsI0L4YgQQjwFhi91C/QFZ5LuX8bQWjJEaAgjHu0P9zBtYOJoC+PIGWSJkMKSz
9NI3YOFSYEVDL5KFG5+mlbzrAH+00gJh8IdALnhCe3YNyEVeN0fY8nTiTQosHQku2cI7wWj6PDyq
nACoLtojuDnFO4keuG7xrPHqqhQqc6rbQhw1ToD0AOCRvRRZdyBuPDItifilJ/ejJoIXiEMjBfMS
Dc+hyDJePbK0LE5gw3ja3fqMfgC1l0MBwkjOChnw0sSnR81/H8/2m1j/d0A+K9pTGb8JTrF/K46n
uulAbokZ4HM9/Yd19QlkrDGHMKZcwDgO20dtQXGf3oj49Uny8R9eAbx+3TFSOL1zXnI6HmjZvvIA
9yNIHwoUb3D49zPAyt/AmcII+h46mZfw7oUDDWDGPoYdgo0gkqLmejOS31CKtKkowloei9dbCKpb
8Ab3vVmD4O0jqDrKzSluSMLl6qypT15elB2SNCnPzW10ejWVCExYVx8vqBvISNJg5P55QAgnGeQR
MZpjx6LypPiQbZZwiuPehJWUdfr0ONTprRRPWuJV8VHbHqVLW9AlS6JpyVC1PNCtQJgiCas9J1Oq
MlRft4COhZu0th/mJQh7W5DtlDIHXhEToHeTELUbxKkCvUH38dmUxqIi93BFKAlYZEvcUgbbBoOC
pZTCkRD3oAwBJfMxtsQPDw/m+GUj7nQCd3PM6FqYUac9ZE6moRQbdFxkMqqVp49M60ZfBgdb+x/d
OFPwKZAu0WCIQMva7bcs7mKv7cDx/vyhLJ75h78PBRCDxDu9qXw0qfA0my3XH+9tqgpjf3ljcXLH
QTQKr0aOJ36sCXFVHKU/PJ3LlrOwBUnMi6ro+KX9wfTLB9V+TAAMXucTgGZDJvkuAgwQmCSERMU4
ZwJ69sQCyBA7fmpvIXYHkE13N+vc5yo+d4e6AWnOxueG8P7uHasnkVZwbv74xN/yBsxlK9mDUu5/
VOH0gLNXRGy9HnoV2IKB5XXDAwtizhaTA39y98HcLybyguYQhNXwz3PRFklRFt1bb3O/wIphFgvZ
2jnlGQSkgnHiu8hkx+pvstgRU4yiiuQMnhLybPRhGJ21o/gi6b7KRF8wuWS9N1et9zYchRC2hX5P
OL0dxx4D+zydQeGRD5BFdO8x4+emRXCnuhDH/kKU1HH4dLbA5My8Ts+tR1KCuU5Rnc6dPQhg6nOH
zNhR0cqkhM4J5AyvzvOWdzRRbfEb5khYDmghu/r5Q9echRUf42YUGEYGbbCfe1RsCHuBcDZvF/aY
CR7LpEOoTtpOGgMJUQSZP/i+32O5P9Tt0CIN1JrmqQxEyXC4GQSIGwp3HAkKRlBPvPJQ40TyODNu
ZW4zKTlz80UBLsAsNLbaKn3F/z2MH3ZMRBGXoyylcsf4VYdVka+0VeWJDCx6bSkrrpMh/wCrXwCn
Zwx8KbYI4GcZyrjQmkcST2cYGgmJR7jxxxbC/xdbiJGFBeKDDg7N6hFvET5/BV2RVERXFf+6GZwV
jfALpALnY5+pEa0RTURB++WSawOwwAOjbcF0A72Tv9iGj0IDZHopH8GTJSUEk6D48dS9mbACGf7T
FpfJ/X4Wiufim3zeO2jxUHy7s0UVfXwQjRyQL2JetMsHHmdudfrGtDk0Gd7rf9gjY1kXqoxgbdnD
coCFEI4SXHoKhMdSvyeYD6gBKBC1W/+eBYtt3tyZA+OvI2kBmf5fdV3AiHvgTVq6Qmjqlz+0UkfZ
bQGjYIbbAqOKsgBDCux9gXCaClQwvYZ/Ggw7G96lB7oY60/0i5Y+6+jCbo5z1EHiOSH5aFioQkig
F2jGn8gCWkZoEyrrrbaVI6Cguka0VoYKiVulbxJkXtddVXdcF249KruQ8io5E0NUBGXGZYWp/z5S
W0Z2PZNncNTBQIpTLcIS7zxJXnogQOHxf2JeIMPVMV6b1dejJfFQRSrLVEtSoPSjMTQUUj+xyhtW
sUxGs4tWMHuuhiZxy6naOdRAh1vsrTD6ssC39O/Iu6ZI23fpYMNPPO5uUSy8vOjuFa3CCGALeo01
b+BOhAaeivSJj2uBYtgjtfvs1A7jhHZJRopHFycXwganV7HoS9Mok+wpPK7LrP1RUDF25hESHR3d
w9e69LE/uORtLriKmbkBlcyIHDtW8rybSgQ0qWemA/387xf/a5giCwCtAM7aacClONwkV1EBZJn+
InOGU6+kExj2xYk0KrNLiZGyzdp4+h81LFdpdbP2v0/tE+BnPI/PpQhOzRKZFYpu31tNvJqrrBzV
saF0KrIPUtVg6uJGnkg3DWTf7VCy5UAqIV6gXrupvIbrdBkUj5CX8XPdzCmDKx3AVcKOu+6RnGCc
AiRBWReQEtJaZ4CWHDqIMPfe0uUOhn6AjEdXdGQjLqmUdocXrziErXAqlT9xmG9XNPRmmF47Sk/i
dsXKioZuwiGal83QTD0K3y+bMu4q41ZEC5OXzYOt1tNbuXXIiYDj3lJ5KgfdHamISuHFMZIGM3Tr
ktjD9MnX1/u2//bfbexkHdxt6gbMlUVER9XdXalTJ5ZhUFy9vYDzFncbT89fnU8tL+ZT/uLhQoJF
dRJ1e2rcuwuMsu499gwXZBZvQmKN/w7R+h5ChMpLuCyQGcMTUNeMKOwvVKao0jGFN1HFw5wcTZDk
ukigBoEOsufOmaX1mIk87Eu/HexkhQ19qFPGp5ZTdEufHkWriSeKOGBCi1eeDYi/WEvya+jdAXtT
9DfBEq0XRu3GFTB+Hy2+UlAUVLuxkd7lRdN2EAoUZWYfwHzSJ2oeorwTlZPB+Xdg7dyQ+gcGoEYy
zgEJ07ru4G5vMJob5pbt+htVK+JYrKdK+SY2i2dPfu4FaBuNPbzv26eAdU1NvlhL3WZ4UpgDLt6A
S0ptCggRabQIDJiBTbSZjFyugOoyACad1Lx+KG12THTKIhmuVwmSGy3pbqQEjMjSNaKuiPT7+YMc
hvSku9QaJIntDhuG0aw7YBgFpG4W407Y7PYMAKfuv5230kbyQzD6pt0hGBlQXYusNaReQp3kuZhp
DluOREc7luF/YrLiNYo1qbLW1C8mwcl3TnlOcH/499Gov+gKnSOEDiN3CO1qiqH+vEF/YdBDL+OE
l7Md6uxUVFz7GHU/3Yb2EnfpwVR7syVj6RA+e2NbbjVA1cHrrBvIZ3fmfOrsdc6mJ3KuWRYdlkD7
s/U9djjf0fNkOVbNBvrWuypZwRBBgJKs+U65L8AKX6u/ZGYZEbSbmiZdpm+Wf7T3UZ7ogviYnsNp
KjU06uglaKMYwAFqytBZ5zZ1xh/rTOgPlyzOVdHNznzHWEmxEFGAOuFEKVzXvQfpq8i+0QSNOw9U
am7cAIaqo+sd9UkVZGheWzmJQG854L/YWtS+BlUYETZJ3MzboWHmpCttYuphabd1Dzuj3Q5G7XMo
quuskn1bk0UKBUxaWTsIWq5cScHa2durbO24m1u8RKG+r9SF7XdJKmz8F9WoEVqd35gqbg7mSbg+
RfSd2iS1kBziprMum0RGYl42+baZJRT6gLfhoLfFMzfALsySXa8g640ldgvqs6or9+yljrgVqhRN
gErveZUNVFjbMHpInpBhO/6ifpoIfVyTn+rJdjGJQ/u8/w5uRRDdkxfQE33gVLmWGcQcd3+hqWmW
Zl6qkKprDGeN48sNUgVlbTK6NhHwRU6aF2U51I15VUbcje65UL1hy7bDus/O9o5iUBfgYeAQnyAW
5PhKAdmJtAGi/me25z1QCVCgJi7yBnAWkR7Cyb/XaDAparHGUwy95LCEHTc8NpAV0I02hiDsz0Zh
jn0sRSK5CXInbhoUiZAtHcc1TrSQrPzsWLxmq/EZN4Pl4DMmlkNuypaL9RBEuOgPI65WTW5f9F9W
Z8daQzmKeG6wjYscKySHiT5ZjdHaYLHV06jo4zmlSdWDhovXrq2XxtYCZl7G+8Hp+wqTMc/IsFzY
WCTHTUwiXQVlIWFK9bVDhtZGkSNEgjAbLMH+KIKkHXZpguy33T2Tph2AtZzxpqmb9p61KTxHYwYC
kJzR4N2ztAS7BciidZgKsxYv+ErooDEAvF/FSM4cbQFbX7QFsEsQZOnNcEg9/gMXZfol37eczYzL
7On0bKUKrDPDANMra/9o+rHP7l7YaxniVFQ2dJETBQBneCgTPG19zAxPdBtQnQ5wBOO+R0ECtG4f
/Izv7/FqGvsZf8XNxPtlVmM0EW6LLDZ7iHWgYeW4njZg34JBOMQAq8DrmRhI8yWFc2m92mWH4loE
KTzs5ZBUp1Uxoxn6rPqyFCbXrYhiXBwBdLCf3kP16/uLhEUYxXdfxGyIgJp2Ru8KyTyISt8iMuih
XlmJzfXaL25uhaW+dflHZa9xzWC+b3GVN/SVhDq97oGwewQFZeLXoh0r/5XmunHtzpklOGLbm4Vg
BTWuAQ/fSm4zT9xqEfrmq4JXAnvHTQS9PvWOopnqFCIlRShTF05RP+P6m1halcKJRmXC83rZ7Eo8
6S49I2hQ9vTJMPxi3ws1yoFALd19gRJ6ThfIo1TCzh6+QcAjNz5y9xRgdoMCjzz9RD1n4PlF7kIv
zYyctmqs7W/AUTCXdJkYGoVFKcPCQRBqtNLTb5S/874zDKlVbSlaAqeaRtFzrOQdlyWDsjPMGU88
6HjCRHF2m6E+G8OXmEcvHQstnnyTclQ8c7ngQYFHZdpiV/P6MupvxM0epe0qPdCKl7joxI3B+/qd
jKVf9bbfhdcukFPG22GQSWGzLiQqLeNxyz04N7ax67fDBm82yfmfcRu7dzxcv/O9JjY44/CVJslr
8rMXTfXASJM+IkE4Jf243ubOxjeccst+AdCoYY4ijH0BuoyMIrn2upGQIrFnUaUNPwpfRftau+x2
CceYhPjZ1xbE2lucJxrWHRUMgYFvXoWqzG1lWfjV9Aug31j5uNbfN6utZjFulNrK61dBJ6t8KmKI
aOi0psuoAsairYrTiXfjWq2cpR9f6zUdUjK64rbGLmooLlr2BA6qpvxVvBmEQ1oJNqLzgP4PTIG4
9t6RSRzxGzNcOiZaWVamS/ZeVcwzqBOv144308ce8BnO04oejLELpIeqoX1Y5dfGWczq6rps3/Wq
utEkWHJ1L+YyBrrYvXK2nVxqXtH07VvNPZ1yysN/Y6tKD4huytTnQU/KxujV+lc3pRgJTSB7z/QJ
Bi0q+jTzGlR6MFZ7Sg9lVnOKhjKnNaX/rRvBt7ephNPvm7r6sfEXl+g33c1ffSFPsEi9rjiabSnL
0D4jzHgqqPyiYrRoNKEwHgf6Rb7+udXVIluz3AlBv0bVE0dvfMg5i5eiO8hZrulCE1KQPZtjaq7J
dGO9lE8pNZMFemwnoGsSqrnN7iewrkuVeTIAXbxHMedduEIxTyUIf5HUNE/KwNQdszm1yOY3B+m2
OBNADmHie0FcQ0xcpTcz36WQ8nytNyiQTXpzuoMcsYuKO3A3o13DOkrfqTHrhWU1HbTU8QsMxE6q
0cPaR/V4zNpFTAYvPrmHLp4NtkmXc/eAmZc2gMGRIqThbODhFHBZo3cozqV3qicEYNhENqNdzN3p
Nqn0bnmaUH3n5FNTJ/HXmaeVHT3paoMjAxEFUl/8niKZjDS69GWaHxVf9Z2wvujvdb8OqeoB+Bpg
7xqkBXG+C5jT73V0vFI9fKHablKnckUoj/xPUEsBAhQDFAAAAAgAAAAhAOHFIe3EdAAAdpsBAAYA
AAAAAAAAAAAAAIABAAAAAGFwcC5qc1BLAQIUAxQAAAAIAAAAIQAYHx3t2wAAAEUBAAALAAAAAAAA
AAAAAACAAeh0AABmYXZpY29uLnN2Z1BLAQIUAxQAAAAIAAAAIQAj0hTzTQsAAB4qAAAKAAAAAAAA
AAAAAACAAex1AABpbmRleC5odG1sUEsBAhQDFAAAAAgAAAAhAF77EtfeFAAA+FUAAAkAAAAAAAAA
AAAAAIABYYEAAHN0eWxlLmNzc1BLBQYAAAAABAAEANwAAABmlgAAAAA=
"""


if __name__ == "__main__":
    sys.exit(main())
