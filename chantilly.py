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
#: Seconds a batch or stream chunk may hold a model's lock before letting other clients in.
SLICE_SECONDS = 0.01
#: Metrics history kept per model. When full, every other point is dropped and the
#: sampling interval doubles, so a long run keeps its whole shape at a coarser grain.
HISTORY_POINTS = 1000
HISTORY_INTERVAL = 1.0
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
-- Settings of the served models as a whole: 'default', the model unnamed calls go to.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
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
    if version == 1:
        # Schema 1 used one seq counter for the log and snapshots, so seqs are unique ids.
        conn.executescript("BEGIN;" + _MIGRATE_FROM_1.format(schema=SCHEMA))
    else:
        conn.executescript("BEGIN;" + SCHEMA)  # IF NOT EXISTS: creates what a file lacks, only
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


def detached(error):
    """``error`` without the frames it was raised through: an error kept as an answer would
    otherwise keep them (and the model copies they hold) alive in a reference cycle until the
    cycle collector runs, which made a flood of bad items stall every client in long pauses."""
    error.__traceback__ = error.__context__ = error.__cause__ = None
    return error


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

    def __init__(self, obj, flavor=None):
        if not callable(_method(obj, "learn_one", "fit_one")):
            raise BadRequest(f"{type(obj).__name__} has neither learn_one (river) nor fit_one (creme)")
        if _method(obj, "predict_one", "predict_proba_one", "score_one", "forecast") is None:
            raise BadRequest(f"{type(obj).__name__} has neither predict_one nor predict_proba_one "
                             "(nor score_one or forecast): there is nothing to ask it")
        if flavor is not None and flavor not in PARADIGMS:
            raise BadRequest(f"unknown flavor {flavor!r}: use one of {', '.join(sorted(PARADIGMS))}")
        self.library = _library_of(obj)
        self.paradigm = PARADIGMS[flavor] if flavor else detect_flavor(obj, self.library)
        self.flavor = self.paradigm.name
        if _method(obj, *self.paradigm.requires) is None:
            raise BadRequest(f"{type(obj).__name__} has no {' or '.join(self.paradigm.requires)}, "
                             f"which a {self.paradigm.name} model needs")
        self.proba = isinstance(self.paradigm, Classification) and callable(_method(obj, "predict_proba_one"))
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
        """The flavor's prediction for ``x`` (given a copy: models may change their input)."""
        return self.paradigm.check_prediction(self, to_python(self.paradigm.predict(self, _copy_features(x))))

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
                and name not in _NOT_A_NUMBER and not inspect.signature(cls).parameters.get("beta")):
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

    def __init__(self, objs, memory=None):
        self.objs, self.memory = objs, memory if memory is not None else self.fresh_memory()

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
        return _METRICS_OF.get(model.paradigm.name, Metrics).build(model, objs, options)

    @classmethod
    def build(cls, model, objs, options):
        """The scores of a new model from the chosen metric objects and the upload's options."""
        return cls(objs)

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
            for metric in self.objs[:-1]:
                metric.update(y, score)

    def get(self):
        values = {type(m).__name__: _value(m) for m in self.objs[:-1]}
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
        for forecast in self.memory["open"]:
            step = forecast["seen"]
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
        for steps in self.objs:
            name = type(steps[0]).__name__
            each = [_value(m) for m in steps]
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

    def observe(self, name, value, *labels):
        """Count one observation in a histogram's series."""
        buckets = self._families[name][3]
        key = (name, labels)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = [0] * (len(buckets) + 3)  # buckets, +Inf, sum, count
            series[bisect.bisect_left(buckets, value)] += 1  # the first bucket with value <= le
            series[-2] += value
            series[-1] += 1

    def render(self, gauges=()):
        """The exposition text: every declared family, then ``gauges``, an iterable of
        ``(name, help, [(labels dict, value), ...])`` measured by the caller just now (a
        name ending in ``_total`` is a counter)."""
        with self._lock:
            series = {key: (list(v) if isinstance(v, list) else v) for key, v in self._series.items()}
        lines = []
        for name, (kind, help, label_names, buckets) in self._families.items():
            lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
            for (family, values), value in sorted(series.items(), key=lambda kv: (kv[0][0], kv[0][1])):
                if family != name:
                    continue
                labels = dict(zip(label_names, values))
                if kind == "counter":
                    lines.append(f"{name}{_labels(labels)} {_number(value)}")
                    continue
                cumulative = 0
                for le, count in zip((*buckets, math.inf), value):
                    cumulative += count
                    lines.append(f"{name}_bucket{_labels({**labels, 'le': _number(le)})} {cumulative}")
                lines += [f"{name}_sum{_labels(labels)} {_number(value[-2])}",
                          f"{name}_count{_labels(labels)} {value[-1]}"]
        for name, help, samples in gauges:
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
            lines += [f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples]
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
        self.commit_observer = None  # called with (seconds, writes) after each commit
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
        started = time.perf_counter()
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
        if self.commit_observer is not None:
            self.commit_observer(time.perf_counter() - started, len(queued))

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
            shm.unlink(missing_ok=True)


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
#   "predictions": int, "learns": int}``.
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


def pack_state(model_obj, metric_objs, memory, predictions, learns):
    """The bytes of a snapshot."""
    return serialize({"model": model_obj, "metrics": metric_objs, "scoring": memory,
                      "predictions": predictions, "learns": learns})


def unpack_state(data):
    """``(model object, metric objects, scoring memory, predictions, learns)`` from snapshot
    bytes (schema 1 snapshots have no scoring memory)."""
    snap = deserialize(data)
    return snap["model"], snap["metrics"], snap.get("scoring"), snap["predictions"], snap["learns"]


def predict_record(x):
    """The log record of a prediction that changed the model."""
    return _store_encoder.encode({"x": x})


def learn_record(x, y, prediction, fresh):
    """The log record of a learn; ``fresh``: the learn made its prediction itself."""
    return _store_encoder.encode({"x": x, "y": y, "p": encode_prediction(prediction), "f": int(fresh)})


def forecast_record(horizon, xs):
    """The log record of a forecast that changed the model."""
    return _store_encoder.encode({"k": "forecast", "h": horizon, "xs": xs})


def rank_record(user, items, x):
    """The log record of a ranking that changed the model."""
    return _store_encoder.encode({"k": "rank", "u": user, "items": items, "x": x})


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
    seed = os.environ.get("PYTHONHASHSEED", "")
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
            if self._count() >= self.max_subscribers:
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
        with self._lock:
            return self._count()

    def _count(self):
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

_MODEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def check_name(name):
    """A model's name: 1-64 letters, digits, ``-``, ``_`` or ``.``."""
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
    key = json.dumps(value)
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
        self.snapshots = 0    # snapshots written since the server started
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
        obj, metric_objs, memory, self.predictions, self.learns = unpack_state(state)
        self.model = Model(obj, self.info["flavor"])
        self.scores = _METRICS_OF.get(self.model.paradigm.name, Metrics)(metric_objs, memory)
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
        self._described_metrics = self.scores.describe()
        self._checkpoint()
        self._publish()

    def _replay(self, body):
        """Repeat one logged model call on the model and its scores (the same calls, in the
        same order, as when it was served); True for a learn. Lock held."""
        record = json.loads(body)
        kind = record.get("k")
        if kind == "forecast":
            self._forecast_calls(record["xs"], record["h"])
        elif kind == "rank":
            self._rank_calls(record["x"], record["u"], record["items"])
        elif "y" not in record:
            self.model.predict(record["x"])
        else:
            if record["f"]:
                self.model.predict(record["x"])
            self._learn_calls(record["x"], record["y"], decode_prediction(record["p"]))
            return True
        return False

    def _learn_calls(self, x, y, prediction):
        """What a learn does to the model and its scores, served or replayed. Lock held."""
        self.scores.update(x, y, prediction, self.model)
        self.model.learn(x, y)
        self.scores.after_learn(self.model)

    def _checkpoint(self):
        """Copy the model and scores, and start a new list of calls to redo from it. Lock held."""
        self._saved = _copy((self.model.obj, self.scores.objs, self.scores.memory))
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
        obj, metric_objs, memory = _copy(self._saved)
        self.model = self.model.rebind(obj)
        self.scores = type(self.scores)(metric_objs, memory)
        for body in self._redo:
            self._replay(body)
        if self._redo:
            self._checkpoint()  # a flood of bad calls then costs one copy each, not a replay

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
                    answer, x = getattr(self, f"_{op.kind}")(op, now, outcome)
                except Unavailable as e:  # a read was refused: memory may be ahead of the file
                    outcome.results.append(detached(e))
                    self._restore()
                    continue
                except ChantillyError as e:
                    outcome.results.append(detached(e))
                    continue
                outcome.results.append(answer)
                if listening["events"]:
                    outcome.events.append(("events", op.kind, _event(op, now, self.name, x, answer)))
                learned = learned or op.kind == "learn"
            if learned:
                self._after_learns(now, listening, outcome)
            if self.since_snapshot >= SNAPSHOT_EVERY or self.logged_bytes >= SNAPSHOT_BYTES:
                outcome.ticket = self.snapshot()
            self._publish(learned)
        return outcome

    def _predict(self, op, now, outcome):
        self._check_fits(op, "predict")
        prediction = self._undo_on_error(self.model.predict, op.x)
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
        return self.model.paradigm.answer(self.model, prediction), op.x

    def _learn(self, op, now, outcome):
        x, prediction, key = op.x, None, None
        if op.key is not None:
            x, prediction, key = self._stored(op, now)
        y = self._label(op.y)
        self._check_fits(op, "learn", x)
        forecasting = isinstance(self.model.paradigm, Forecasting)
        fresh = key is None and not forecasting  # progressive validation: predict, then learn
        if forecasting:
            prediction = self.scores.next_value()  # the forecast this observation is scored on
        elif fresh:
            prediction = self._undo_on_error(self.model.predict, x)
        y = as_class_of(y, prediction)
        self._undo_on_error(self._learn_calls, x, y, prediction)
        body = learn_record(x, y, prediction, fresh)
        outcome.ticket, self.seq = self.rows.append(body, drop_id=key)
        self._record(body)
        if key is not None:
            self.stored -= 1
        self.learns += 1
        return {"prediction": json_safe(prediction)}, x

    def _forecast(self, op, now, outcome):
        self._check_fits(op, "forecast")
        forecast = self._undo_on_error(self._forecast_calls, op.x, op.horizon)
        if self.model.changes_on_predict:  # creme forecasters update their scalers as they forecast
            self._log(outcome, forecast_record(op.horizon, op.x))
        self.predictions += 1
        return {"forecast": json_safe(forecast)}, op.x

    def _rank(self, op, now, outcome):
        self._check_fits(op, "rank")
        ranking = self._undo_on_error(self._rank_calls, op.x, op.user, op.items)
        if self.model.changes_on_predict:
            self._log(outcome, rank_record(op.user, op.items, op.x))
        self.predictions += 1
        return {"ranking": ranking}, op.x

    def _forecast_calls(self, xs, horizon):
        return self.model.paradigm.forecast(self.model, horizon, xs)

    def _rank_calls(self, x, user, items):
        return self.model.paradigm.rank(self.model, user, items, x)

    def _log(self, outcome, body):
        """Log a model call that changed the model (and nothing else). Lock held."""
        outcome.ticket, self.seq = self.rows.append(body)
        self._record(body)

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
        """Refuse an operation this model's paradigm does not have, or features it needs."""
        flavor = self.model.paradigm
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
        state = pack_state(self.model.obj, self.scores.objs, self.scores.memory, self.predictions, self.learns)
        ticket = self.rows.save_snapshot(state, self.seq, history)
        self.since_snapshot = self.logged_bytes = 0
        self.snapshots += 1
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
        metrics = self.scores.get() if metrics_changed else self._view[0]
        self._view = (metrics, self.predictions, self.learns, max(self.stored, 0))

    def describe(self):
        """The model's description with its counters, as of the last call."""
        metrics, predictions, learns, stored = self._view
        return dict(self.info, name=self.name, predictions=predictions, learns=learns, pending=stored,
                    metrics=self._described_metrics)

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


def _declare(telemetry):
    """The families the server records as it goes (the rest are measured when scraped)."""
    telemetry.counter("chantilly_http_requests_total", "HTTP requests answered, by route, method and status.",
                      ("route", "method", "status"))
    telemetry.histogram("chantilly_http_request_duration_seconds",
                        "Time to answer an HTTP request (to its head, for streams), by route.", ("route",))
    telemetry.histogram("chantilly_commit_duration_seconds", "Time of one group commit to SQLite.")
    telemetry.histogram("chantilly_commit_writes", "Writes (model calls and others) per group commit.",
                        buckets=SIZE_BUCKETS)
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
        store.commit_observer = self._observe_commit
        self.expired = 0
        self._lock = threading.Lock()  # guards _deployments, _default and expired
        self._deployments = {}
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
            service._deployments, service._default = service._load_models()
            keep_hash_seed(store)  # after the models loaded: a refused file stays untouched
        except Exception as e:  # a snapshot or log record this environment cannot replay
            store.close()
            raise StoreError(f"a model in {path} cannot be loaded ({type(e).__name__}: "
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
        if self._closed.is_set():
            raise Unavailable("the server is shutting down")
        name = self._resolve(name)
        with self._lock:
            dep = self._deployments.get(name)
        if dep is None:
            raise NotFound(f"no model named {name!r}: GET /api/models lists them, "
                           f"POST /api/model/{name} uploads one")
        return dep

    def upload(self, data, name=None, flavor=None, metrics=None, horizon=None, default=None):
        """Load, check and install a model under ``name`` (None: the default model, "default"
        if there is none), replacing any model of that name; returns its description.

        ``metrics``: names from the model's library (None: the flavor's); ``horizon``: the
        steps a forecaster is scored on; ``default``: make it the default model (the first
        model always is). Never waits for a call running on the model it replaces: that
        call finishes on the old model, whose rows are dropped.
        """
        name = check_name(name) if name is not None else (self._default or DEFAULT_MODEL)
        model = load_model(data, flavor)
        options = {} if horizon is None else {"horizon": horizon}
        scores = Metrics.for_model(model, metrics, options)
        info = dict(model.info(), uploaded_at=time.time(), **options)
        state = pack_state(model.obj, scores.objs, scores.memory, 0, 0)
        with self._lock:
            if self._closed.is_set():
                raise Unavailable("the server is shutting down")
            old = self._deployments.pop(name, None)
            if old is not None:
                old.retire()
            rows, ticket = ModelRows.create(self.store, name, dumps(info), state)
            if default or self._default is None:
                self._default, ticket = name, set_default_model(self.store, name)
            dep = Deployment(name, rows, self.settings)
            self._deployments[name] = dep
        self._commit_or_reload(ticket)
        description = dep.describe()
        self._publish([("events", "model", dict(description, model=name))])
        return description

    def set_default(self, name):
        """Make ``name`` the model that calls without a model name go to."""
        self._deployment(name)
        with self._lock:
            self._default, ticket = name, set_default_model(self.store, name)
        self._commit_or_reload(ticket)
        return {"default": name}

    def _commit_or_reload(self, ticket):
        """Commit an upload, deletion or default; if refused, serve again what the file holds."""
        try:
            self.store.commit(ticket)
        except Unavailable:
            with self._lock:
                for dep in self._deployments.values():
                    dep.retire()
                self._deployments, self._default = self._load_models()
            raise

    def _load_models(self):
        """``({name: Deployment}, default name)`` as the file has them."""
        deployments = {name: Deployment(name, ModelRows(self.store, model_id), self.settings)
                       for model_id, name in serving_models(self.store)}
        return deployments, default_model(self.store, deployments)

    def download(self, name=None):
        """The model's bytes, loadable with ``dill.loads``."""
        return self._deployment(name).download()

    def delete(self, name=None):
        """Remove a model with its metrics, history and stored ids. When it was the default,
        the most recently uploaded model left becomes the default."""
        with self._lock:
            name = self._resolve(name)
            dep = self._deployments.pop(name, None)
            if dep is None:
                raise NotFound(f"no model named {name!r}")
            dep.retire()
            ticket = dep.rows.delete()
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

    def models(self):
        """``{"default": name, "models": [description, ...]}``, by name."""
        with self._lock:
            deployments = sorted(self._deployments.items())
            default = self._default
        return {"default": default, "models": [dep.describe() for _, dep in deployments]}

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
        Returns ``(results, events, ticket)``."""
        results, events, ticket = [], [], 0
        while len(results) < len(ops):
            dep = self._deployment(name)
            listening = {"events": self.bus.has_subscribers("events")
                         or self.bus.has_subscribers(f"events:{dep.name}"),
                         "metrics": self.bus.has_subscribers(f"metrics:{dep.name}")}
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
        return results, events, ticket

    def _resync(self):
        with self._lock:
            deployments = list(self._deployments.values())
        for dep in deployments:
            dep.resync()

    def _record_stats(self, ops, by_model, elapsed):
        now = time.time()
        for model, indexes in by_model.items():
            counts = collections.Counter("learn" if ops[i].kind == "learn" else "predict" for i in indexes)
            resolved = model or self._default
            for kind, count in counts.items():
                self.stats.record(resolved, kind, count, elapsed, now)

    def _publish(self, events):
        for topic, name, data in events:
            message = sse_message(dumps(data), name)
            self.bus.publish(topic, message)
            if topic == "events":  # also to the streams that follow one model
                self.bus.publish(f"events:{data['model']}", message)

    # -- metrics and stats ---------------------------------------------------------------------

    def metrics(self, name=None):
        """``{metric: value}`` of the model."""
        return self._deployment(name).metrics()

    def history(self, name=None):
        """Recent metrics points for charts; empty when there is no model."""
        try:
            dep = self._deployment(name)
        except NotFound:
            return {"flavor": None, "points": []}
        return {"flavor": dep.info["flavor"], "points": dep.metrics_history()}

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
        per_model = {n: dict(dep.describe(), rates=self.stats.summary(now, n)[0])
                     for n, dep in sorted(deployments.items())}
        return {"model": model, "models": per_model, "default": self._default,
                "uptime_s": now - self.stats.started, "rates": rates, "latency_ms": latency,
                "subscribers": self.bus.count(), "expired": expired}

    def _observe_commit(self, seconds, writes):
        self.telemetry.observe("chantilly_commit_duration_seconds", seconds)
        self.telemetry.observe("chantilly_commit_writes", writes)

    def prometheus(self, connections=0):
        """Everything ``/metrics`` shows, in the Prometheus text format; ``connections``: the
        open connections, which only the server knows."""
        with self._lock:
            deployments = sorted(self._deployments.items())
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
        return self.telemetry.render(gauges + process_gauges(self.stats.started))

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

    __slots__ = ("method", "path", "query", "headers", "service", "dashboard", "reader", "limit",
                 "connections")

    def __init__(self, method, path, query, headers, service, dashboard, reader, limit, connections=0):
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.service, self.dashboard, self.reader, self.limit = service, dashboard, reader, limit
        self.connections = connections  # open connections, for /metrics

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
        return Blob(data, content_type, [("Cache-Control", "no-cache")])

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
@ROUTER.route("POST", "/api/model/<name>", scope="admin", body_limit="max_model")
def post_model(request, name=None):
    """Upload a model (dill bytes) under a name; ?flavor=, ?metrics=, ?horizon=, ?default=true."""
    q = request.query
    metrics = None if "metrics" not in q else [m.strip() for m in q["metrics"].split(",") if m.strip()]
    described = request.service.upload(
        request.body(), name, flavor=q.get("flavor"), metrics=metrics, default=_flag(q, "default"),
        horizon=None if "horizon" not in q else _integer(q, "horizon", 1, MAX_HORIZON))
    return described, HTTPStatus.CREATED


@ROUTER.route("GET", "/api/model", scope="admin")
@ROUTER.route("GET", "/api/model/<name>", scope="admin")
def get_model(request, name=None):
    """Download a model with everything it has learned, as dill bytes."""
    return Blob(request.service.download(name), "application/octet-stream",
                  [("Content-Disposition", f'attachment; filename="{name or "model"}.dill"')])


@ROUTER.route("DELETE", "/api/model", scope="admin")
@ROUTER.route("DELETE", "/api/model/<name>", scope="admin")
def delete_model(request, name=None):
    """Remove a model, its metrics, history and stored ids."""
    return request.service.delete(name)


@ROUTER.route("GET", "/api/models")
def get_models(request):
    """Every model with its description and counters, and which one is the default."""
    return request.service.models()


@ROUTER.route("POST", "/api/models/default", scope="admin")
def post_default_model(request):
    """Choose the default model: {"name": ...}; calls that name no model go to it."""
    payload = request.json()
    if not isinstance(payload, dict) or "name" not in payload:
        raise BadRequest('send {"name": "<model>"} to choose the default model')
    return request.service.set_default(check_name(payload["name"]))


def _calls(kind):
    """The route function of one kind of call: an object, or a JSON array of them."""
    def route(request):
        payload = request.json()
        if isinstance(payload, list):
            return [batch_item(r) for r in request.service.batch(kind, payload)]
        return getattr(request.service, kind)(payload)
    return route


post_predict = ROUTER.route("POST", "/api/predict")(_calls("predict"))
post_predict.__doc__ = 'Predict: {"features", "id"?, "model"?} -> {"prediction"}; an array gives an array.'
post_learn = ROUTER.route("POST", "/api/learn")(_calls("learn"))
post_learn.__doc__ = 'Learn: {"id" or "features", "ground_truth", "model"?}; an array gives an array.'
post_forecast = ROUTER.route("POST", "/api/forecast")(_calls("forecast"))
post_forecast.__doc__ = 'Forecast: {"horizon", "features"?: [x1..xh], "model"?} -> {"forecast": [...]}.'
post_rank = ROUTER.route("POST", "/api/rank")(_calls("rank"))
post_rank.__doc__ = 'Rank items for a user: {"user", "items", "model"?} -> {"ranking": [best first]}.'


@ROUTER.route("POST", "/api/stream", body_limit=None)
def post_stream(request):
    """Many operations on one connection: NDJSON lines in, one answer line each out."""
    return OperationStream()


@ROUTER.route("GET", "/api/metrics")
def get_metrics(request):
    """Current metrics of a model (?model=, else the default)."""
    return request.service.metrics(_model(request))


@ROUTER.route("GET", "/api/metrics/history")
def get_metrics_history(request):
    """Recent (time, learns, metrics) points of a model, oldest first, for charts."""
    return request.service.history(_model(request))


@ROUTER.route("GET", "/api/stats")
def get_stats(request):
    """Counters, operations per second and latency, of a model and of each model."""
    return request.service.summary(_model(request))


@ROUTER.route("GET", "/api/stream/metrics")
def stream_metrics(request):
    """Server-sent events: a model's metrics after every learn (?model=, else the default)."""
    name = _model(request)
    if name is not None:
        request.service.describe(name)  # 404 for an unknown model
    return EventStream(f"metrics:{name or request.service.default or DEFAULT_MODEL}")


@ROUTER.route("GET", "/api/stream/events")
def stream_events(request):
    """Server-sent events: predict, learn, forecast, rank, model and delete (?model= filters)."""
    name = _model(request)
    if name is not None:
        request.service.describe(name)
    return EventStream("events" if name is None else f"events:{name}")


def _model(request):
    """The ``?model=`` of a request, checked, or None."""
    return check_name(request.query["model"]) if "model" in request.query else None


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


@ROUTER.route("GET", "/metrics")
def get_prometheus_metrics(request):
    """Prometheus metrics (text exposition format): traffic, latency, models, storage, process."""
    return Blob(request.service.prometheus(request.connections).encode(),
                "text/plain; version=0.0.4; charset=utf-8")


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
        self._started, self._cors, self._route = False, (), "unmatched"
        self._status, self._began, self._counted = None, time.perf_counter(), False
        try:
            self._route_request()
        finally:
            self._count_request()

    def _count_request(self):
        """Count the request in /metrics once (a stream when its head went out)."""
        if self._counted:
            return
        self._counted = True
        status = str(self._status.value) if self._status is not None else "aborted"
        telemetry = self.server.service.telemetry
        telemetry.add("chantilly_http_requests_total", 1, self._route, self.command, status)
        telemetry.observe("chantilly_http_request_duration_seconds", time.perf_counter() - self._began,
                          self._route)

    def _route_request(self):
        try:
            self._cors = self.server.guard.check(self.command, self.headers)
            if self._cors and self.command == "OPTIONS" and "access-control-request-method" in self.headers:
                return self._send(HTTPStatus.NO_CONTENT, b"", "text/plain", _PREFLIGHT)
            path, _, query = self.path.partition("?")
            route, params = ROUTER.match(self.command, path)
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()} if query else {}
            self._authorize(route.scope, query)
            limit = getattr(self.server.settings, route.body_limit) if route.body_limit else None
            request = Request(self.command, path, query, self.headers, self.server.service,
                              self.server.dashboard, self._reader, limit, self.server.connection_count())
            self._route = route.pattern
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
        if isinstance(result, Blob):
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
        self._count_request()
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
                ops.append(detached(e))
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

    def connection_count(self):
        """Open connections."""
        with self._lock:
            return len(self._connections)

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
        """``{"default": name, "models": [description, ...]}``."""
        return self._call("GET", "/api/models")

    # -- calls ------------------------------------------------------------------------------

    def predict(self, features, id=None, model=None):
        """The model's prediction for ``features`` (stored under ``id`` until its label comes)."""
        return self._call("POST", "/api/predict", _body(features=features, id=id, model=model))["prediction"]

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
            status, _ = _read_head(reader)
            if status != 200:
                raise ClientError(status, "the stream was refused")
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
            status, _ = _read_head(reader)
            if status != 200:
                raise ClientError(status, "the event stream was refused")
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
        for attempt in (1, 2):  # a keep-alive connection the server closed is opened again once
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


def _body(**fields):
    """A JSON body without the fields left out (None)."""
    return {k: v for k, v in fields.items() if v is not None}


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
        size = int(reader.readline().split(b";")[0], 16)
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


def cmd_models(args):
    """Print the models in the database, the default first."""
    def show(service):
        listing = service.models()
        if not listing["models"]:
            print(f"no models in {args.db}")
        for model in listing["models"]:
            mark = "*" if model["name"] == listing["default"] else " "
            print(f"{mark} {model['name']:<20} {model['flavor']:<15} {model['class']} "
                  f"({model['learns']} learns, {model['predictions']} predictions)")
    return _on_database(args, show)


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
    """Remove a model, as DELETE /api/model/<name> would."""
    return _on_database(args, lambda service: print(f"deleted {service.delete(args.name)['deleted']}"))


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
            f"access:    {access}"]


def main(argv=None):
    """Entry point of ``python chantilly.py`` and of the installed ``chantilly`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "routes", "models", "add-model", "delete-model",
                                   "-h", "--help", "--version"):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    if hasattr(args, "db"):
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
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *arguments],
              dict(os.environ, PYTHONHASHSEED=seed, CHANTILLY_REEXECUTED="1"))


# ---------------------------------------------------------------------------------------
# The embedded dashboard: static/ packed by pack_dashboard (make embed), generated, not edited
# ---------------------------------------------------------------------------------------

DASHBOARD = """
UEsDBBQAAAAIAAAAIQDYME6zRjIAABGgAAAGAAAAYXBwLmpztX1dc9xGkuC7f0XJo3EDFhok9eGY
bZpSyJI89o6+QpRHu8vlqcFuNIkhGsAAaJI9dF/s08U+717svWzc4/2Ae7mXe7qfMr/k8qu+AHTL
jrEnPGIDqMrKysrKyszKytr7Us0ukqLN8nyt5klzcVYm9XyiqjzJCvX3x5EqSjVPq7SYp8UsSxt6
cbbK8rlq2rSKP1Nfwn/qedImapGX1/ig1O9fvFd7SZXtNW3SNsr5X1XmeTpX6VVar9Xx+6fvjz++
Op6oZTlPc1UlRZpHqr2oy9X5RbVqI5UnLTS87oBdpm2dzZq9i6xpSwCkykLlZTKP8AfDwm6dpyop
5ipZtGktTdbprCyKdNZOVJOm8wYaS7Fs3TbDbVjUr7P2gopLqxOuu6rrtGjVVZKvkDzY4PVFNrtQ
GgCWYpwuEmnk+PiFpk+dJkunrbKAwmnTJIB7BVjnaVIXE6D4YpHWKXQwaQFY01JBwhtImkH7WBgK
1Mn1cBPQ/YKHooJi2axVewwc/jJ2ezDQedqmbmttcpanArfotPG6bC+y4lxljbKfBXfgICSpukzT
CsgBSCd1nV2lDdFnmdSXSJZlk+b4bp7V7ZpJB91C2MgCbWuaZiJSMSzRGCrwoL578fzd0w/ASDT+
Cf6XLZM2g4dFnSxTzaVvEadIpcmMB7IsgOvL6wLwLhcqA3yRX5lp8AnIsSSqBdS8nh7YOr5Icaiz
OiXsliHTHUhuWQZLteVlWhzCXHrzGnrzZ2ASADgDcqyJeO2hStTD/QN4leeNOktmlwxI+BQ7IYCu
S/UCR/G4XNUz5DV8mwNVYegMXyPQPfXXf/lfAGp+nkbOF4BEPIxtlIsFN0PofVvWSw9ftcA3mg5n
q7YtCy6fLqt2fUxk4vJFOXZmL0yrIquqFGrJfAH2aNIaxmkEwzafA7kA81lZrQWsTAmC8RZBCFx6
AXXmaTOrs4rQR4Rm5aqA+SzVrKyAhxqwYg4DAFmtGmDCyzyDmUIDmCfAMa+e/sPHd0/fvzhWTbKs
8rQJD7WQmVBnieUdnP6YpddKZiZy+KpCSQMyjL5yHZ6/2M9MEIABnjdIfJCks3RuhQfVElLSlHxP
U8yOpUxUBPI2WTU4uO/SZrVEnPY+G+GbBltrR4effRYEoTp6rG4/I36B7r1/84cXrz/+4cU/qiM1
MqJ9TIMKFXQxpMLbN9+/fn8M5Q729/cPiV/39lyZgtO3atUszwCjcZPNgY5lPgcaXCT5Qp3jIKMI
KNJ56EF+9+YDwn0kUAVyXcI8hlWl21MhuFufxgcQu28gQH1nqGXoVPBfH6hlVqxg2C0GRhoAhPuP
XAhaajw0YgUHtMEJMjfV9aKE7T8Cwjhw37/7x4+vvn/NHx8J0fb2/Ckms2uiFlkNtWC0E5Bt59T7
g/jRDTAQzDHmheSmCx16T9Af7rtNP3vz8s07fH0yukrqYDyeHYSjSOmH++7DA/fhofvwKBydAs8A
yl+q8d/wPxIOSUuiBljSYFksHgKKBUyX74s2j1+vlmdp/S2VDUZpMf7hGJC5xV5ny9XyODsvskU2
AxZ9np3DLJrAuGzCQwfcg78N3IMOOADzMwB+Wyc0oBrafgfat2nS/o3djRTM5t8DV1dASmCYJIfJ
ja1AM4tVwfy0WLbBFahdC2xs8TCkya5UtlDBlTo6gperPFc//qj4aQWa2iLDKQls2a5gfR/99V/+
O019rtSuqxRWOy49OitL0AKKkSl9DLKlOA+uwoEad7BGQf3cWYFJEWfN6+Q1fLCYwLODyR1T7tus
yNrULXqlHgPFnwDy//o/R2qCf/8Nf3JtHoMEKPIqaS/i5Kzx2k8I0331xRf4+2t1kI4fIoUS9Rgm
dXpw32knbssXNxUId5CUSR7cD2OR2TCG93DypCOBLDWKRcz8L01uDE/ASD3DxQnQgm8olzvEFtIh
Xv2uQ2eJRS106jaMXYchqmQeFJG6RvEG3NAZhyKMoQAs0HUbXAP6+1CdcHQZ6llezi4DUK+XDUAh
vtN8xV2ZC2eDXp8GLaxWuEaELvGx4vTuLSIzj2Ep+A6UkiYIw83EefmKZXP39TFJXHo99WgL6DxB
qM0m9qDkedboOpF6ANWANo2mvtuz56uaFL+gcSeKDEPjcTByRI8Fm3Bo3jSa02AyB/uRahxma4DB
vto3tQB7KgnGUFkDuI1qpn7hB1/tby0Oiz3A2uCipjpffstfutB+99XDneCotY268MERPEbEtuiP
RR8UN7UB5ujDEjRse9Oh0Xl6XiLXFeX1wOi0w/LFGQbLeQBBjVXrk+KRrfOnFcro8nrU7ZLPImau
76l/nt9Tzd09mDEjQD85Lwc78Ee08n5FcdztvBH+4bYaDU17W+PK6zFaHTEXyRZrR2KZTrVl9QwU
4yao6vIs0d0BO1CdgaWiuD+H3su38Hb8fbHAGbPmTyCzVMDDc3IZqeoUDao3Z38CnSgGyYpqsTSg
W/D6UvXkYwXyn9pCCSeYXB6a5iuWaUr+ld5yOT0GT/jPRJ3g+4jrnvYIkDVvETGUt7d29bmjoQAu
PsFL6hUheedpXSdrEB70F6nrgwatHUxdEF2oK6zA8gkWLr/cWSCfCPQFc79AN8N5MsI1aHTqTgAh
KJChQ+GFL6EvwLSFQvI1bvIMOH0f5SfIsSoIcKSuTmmhgplxuTmi6eGwOKINsja0w9+mNzgSBDr+
ExgJwUipkcOcurE8Lc7B4nkMjXGle7BcKHXv7m2nxFg90IsANrBAmluct+E5PCRP+vwOw38FPRBc
/7lwccW2LKL3cYXT7dMnQzD+dE9BfTCsfZlygr2LqILwFinYX6r3oOCT0c/YoeUzBZtjGimYK8Ra
OGmSYs1elBR1vwBsdq6UFbN8BVZmGKOK7a3+dZPyuAcATvNTW6/NxOLhB9owOagGlT2UAobLtzL3
E3gxcab+BgzadnYB41vXdgZrjcgW0wQQJZnm85v6NRN1t1Jkmwx/ESPl+ZtX6iLNwcJrPCvlLmLS
pDnhMi9nK3TxxH9epfX6OM2h97japbmj6x//8fev0fgaXbRtNdnbu76+jq8fxGV9voecsddcnY98
Fe2iXeavwdAP2uQ8AgMa5OvrZJlGNBV8TQtnqMFiVsOMS1+w2wkrO9xqoISqiM0D1Da/nSUCZ9wd
f/kpYnz7rCzalFRUfPIVW8O+VoBdndtugMVXo9C53fy8frw+DoiC6E3UHeqsF1dD6wW1FyLiTdo+
hYfsDJTJAIuHv1hXcaY+FUYViZk0iuc0uQBvwApk5y7O4HnSJmOYSioYjdT1RUrejDpFH2gBNkRv
tiJEVjED9GwPKA5p3kG2u+RDAWwVaBBjw0fqyl3iRmgceSbY5peYPNo/Ir4068GboeUg8wlp94y8
llMsPR12vrou61kqHtvpspkqoA0+wdBD14HaSEXxkKbzLiWZpd6LXzhYNhF5nV2FBXcpUJSKRWMX
FXL8gUHoro71CjnWus/IMz4EQOnqIEnININexKBaBkacIh76aePxmRWU1KvAik5mXmlQr/aH5qPF
pK1XqX0PXPA+W6blqhXPn0B+qmn+LZI8gM6BneRaLNSHe2hgjfsdCU1XNpHthbeS+QwQKWgTW0zn
MMjlkh3HgFjTJsuqwclMDnJ28MHINtCfJlYv0e1HHkZs5kul/YxJ7VTX3tIMpmCDjjJ2t68VeXJX
VW8jZtQMM8sx4cy2rssn5WIBdCSGIPcd940QAOqwu5OeoP2h0QSaTYRz0D5mGoLpgzYy0JjBR1K4
PCPwATfyPhL4711WYI6EeqhacTmDyHs7+AZv4/TAKmN5H4IO8wgkAr6b6LJfqv34d4wT/b6/Y6D/
Nonx9O33epnF9Ug9XbUXL+oa5DxINxx9xU+3hq3e6c0Q8YbKMJjRJZ91hPMElKRDNS2LH4oEoJZ1
9pd0DuIjBcUGWY1FysP9g2E2eFplgV/XZQbe7oDFXdQ6UqTMW+CdJD8GJkvOU3RFfN+my8D42EPU
36FiVz1CYjZcSc2zBv3bc0DNN1b08J9rJALHAJFNo43mIpz3VIZWIpd3NKb0wfKKqw8a+5Tren1q
un2KGFJ46FQm3dSrVqfL8irtUMNWGaBHVWdXuGmE+x+WFsp2ESais7sFAIqiZMGBIz0HNW6iEsW7
maBJXPK2m/Q/K2i1Ji1Osf4fa9JRjR/qPKhg2rikc2nNficssXlCL47QUpkBsj+8+/5ZuWQPYUCf
2P2EZQ+7nUiadTHDIUXNu9cgz3PpDcp2afmWZgvyJsnwiZp+A7wNcwEMHSwC7W2gxdvNYQdUTVZg
cp2AiF2kQHFqEr3O0giIm2R2kU5AzS7HyJLpSNzYli1qtA1bMFAbUixgHoUe6/hzJ/A4A/dkrslT
aOZ7MFo5xUcuV3jN3sF2y0u/LTFw61r8jwxRj8xEfff+/VugikXZWKfCqXVt+qJsqT7KUHAIMWEJ
rPmnpiyCcMsIA3nz9mLtLejdKSewAnd4RrQlz7Vpd2BoeEIgy9a51G/A01VUd2L9chLe2eNy7Snc
L/vh+OP7F//wHo0DFqywzkOn8M8oEqFn96fhi/uIJnWkNTNbZKiAy1lQhOdPkaZgKFOJzaGrs+CG
OakgIgOsOktb46JZpKjAgiqPijzrGaiNIOoxrjmx4BFQKEs4FcWls/jAJAotfSJexBbARheKQ2Bg
jYMnZB3Ul2g1iyXqg0zzKeImsPEb4R1cZsU8Uvwd1wmKXJAQC9DFVgXZ9nMyS4YXv2cGqQA4D+Mj
3MXPTBWH2iOrN2PfSGXTCrEW1KTJI4lAuYeFAbjAYY4mWTfqc3eEP0eXb6s+d96YNnBAX9MIuq3g
Zi1F7VBsBFXXsSZoHM6h622WK8MNQWgA6lga8Vy6+8epFz+BYTp5qkrQtd0eoz7a9XrCTKvXqHjX
w5+e4yYvfHK3iIkVO6ag3ZVQlvZGOvF8Yt48UneD0W8sVa0cpe/GJOSAFQcIf24zDJ45UizSeSKi
tXhMEwEpadR20exxs2mkgfhtj9FAHYUdO9WZ9yfNqVNzmWSAroshoSJGquzBEEamT+zBt6iGLutZ
C2jT8W6+LMkwY1Wc6GuqPfFlDHXPeQy7owNmTZM64txxUDSskMBcPxHeioRPTrv2HBf1pTS/i8sC
GQ2HRD+npA87L3Tcl8tiHgxBckDWy1/L+wOMvOl0OQfrCTRKX0nxuixrsJ0zKEPijkJl0Ol2FBa2
2SUORq+A7vkiyfKOT5LLDCOMcJ0h6lDD9l06NhqIsBt1i3tkD1LiJEc080QzlQxVh5rgj7YFh4VQ
jhMDjST4Dp36FH2HPzjSCX5w/N3IYyuGGifzOY3DS2o4rWVpsBi7C4ZgbZWXQXKa8Qm6w581b3gI
DUPj/GKe+OILPY7Q6blEguHMddgkfvP2xWt3bt9xpDwAYPiBEDl0XnFvw46Wvk3AmumBU78jUrw+
g/R/TxZDiRamEX1nGJRDXg30+1FD1uWgY0tRZ+A1HPUCXsTTOS+BAETDF+s14xA+DmbkwD7yDbYZ
VsqAukA1ZAVsDRcy4BIUWrE/NjgzAn+rzJKw6y7qTAQtGQPX31+vjYeqwwby0WvLWe8wbGJ7yxws
IINjR8prWI8du6OyIqAfdbkq5oFT4EuMjgojLxDK74FegB0nGGvjvhdPbVuuDSVJIUdRZtT4UCsw
rnQls9ejHWrV3F2fmIyGnVka1jZZRWsFr//OajgwclpJM8u7b2QwX2oLEHukTc+RDb925oQxJboL
150gJeZEnyAwpzHmOBrCJYDqsIBeelg467c9vdkjV8cDIiW1hYW8HznOkVxElFkirK0qig1uxVom
ddwmaAkct2XVsJrOOmRPdTyUyKsMY4BVkpNgUxeJ9kEzyouVpyBsm5Rdc8zTb31nbm85Zzm2zXzW
7goHhrVKbW8cDAd0658jVntT4hc3KZ1YY7ulgKYbvSIxnDSXDS2lTiw1GEjHyRX6AOtV0bAoTkhX
wSDdjKJMp8D/0y2bCDrkWZtEBMzfziIEWAmnRsf4YuTtr2cFhqK6ZeiNX4hjnL1S/Gpkd8KW/dV9
1KzOlhmqCbLC60FN46qmRfJ5ukhWuTM4pJppNyFhEpMnL4Z1ZhmErlqyjC+y+ZxWeJebhBBmoZC/
jO8AjrM8m10iih6GPvw7zqOnETjvQyZlvChnq6bbOs0y6Bp73jQyBr7D1R2pAozjTQYfr85s2AGW
kLDkdFzF9ouH+a8wTyjoXg4n+BOFgu5l45Lt2aKU8xw68H4+wZ029EBw6DpOkoid7lCE3BesvAzP
lhcm4B/HQVPUUW7P2gIVmuGt9Kd5HoxOaNsUY/5PR45uBxV3cNXw0i5bJZdm0UOo78EwDUz7sGbI
zvM36+/nAbaibVEs7NmxjnjFcr6FC62AGfmsrEBPIwOSOyWnEKr1aMe+3O0APAS1xt2CSB18ZcIp
LatvhrcOi3laH8uhimBg26jOzjO9V4HjFvObrq8YFwOkmp5L0LfPI+0nProdeS7oEfRWfNBfU+nH
o83nnouAnQRy2GMsnIX+8p6j4MQxZEfZsiprUBmzPI/McZhR5BYh9RwPC4E2zaVn6H9vgGlxBzCp
PxJ/R3iQqarLGZhvaNJ7MPwnng9HGk78NqtSBBX4xeRwlIUZA9sX86SeH8+SHHgzjPoVXJTil/Tw
Lj3HUy7ocwv9Cv7jVPc/rlDpG9295ZHb8PkzsQqRd4+QXvF8tayagN6Hd29xPDfh1AI87QU59UYJ
lJxPDtFurKz9iv5xYJtsDrzy8D5YrwsJcoPn29EN/Av6/GYzgOin2tCGca+FczIaPsKa1V7Auwfx
weYn0mFwX/vtCpTnKVKCQhfoNF+eVXTGi3RCOY+FsjJRsjZgcZgXCbqMa7IA1TNdiTZBs0bcuMuM
mEgFfJgSg4c4QqIkV/MFOq9AxSl4Zw0fwxiP+pR0Jg7a1E5pkHLXZX1pYiJ61oZIQDcox7UTWFAW
yVV2noBIjk0n4+s6A3XI1O34YhzH24DhwFKlTbbHL400rew4tIlZRW1QDr32YnxGqILj6TwKfnRr
N+06T5FrMuo7CNVFdgPiuVekrJJZ1qJyO9o3Xw2iZ+V8HScVhlk8g1VzHjhOHkIm9xRfihq47OoF
vFVM7w3g9CadPSuXS5AbsJShvA/728MOKGM/Qau8qRp0h0FvBm1+KW3COa7n7eTQ+z+kSLNgyaF6
S94XXcZFskw3P+Ivff7tY9LyC9rv55+LPLkqa9oedQP5WFX51IG+qB9ttKowDGNYL3llDgwGFJPi
7WtI6KvsAIjz320YHfIABwMM6nTMiyyYSWdr1WYYLuKo8Bo/On71G+rFOM/O6qQm9pQ3mizOK5GV
0FzjvCXp5r6QWB85m+V5ZhArHIpbx7WD/Vr6DphZ3oiFwRBpRHzv+p2lpznkTVc3MWqjdOPQLyz7
Cd31n9vjYe+tKiMMiXMqODpjRj4wTdkQYGXzXnUbKL/d7dDviTAkOq6YbSlIg5nv8LN+l5zy/gbI
zr5pXqdqLqK2puaR3mK7jOVTpMzPj8DwqDGcxossB5oE3/DBLB25DLpDrykm5aryxt7woRn+VdWP
MMSDGN5UjjiwS+LB3KpCJgna9Sp1A3jNiSG/lJweArXzJa50qewEhb0tp/60Cfuo0xEraMEpFg4Q
n2fZjvpcYqCqno+72pa4vV1eLZ69kTNzfyBpRnuArJaRmBuzkBtqzjmp0nFq/SFNKwyWzOH7lcTO
qeDz+3RwKDkvPw9hNl+h9mGMQvYVggqMnj7Hs8XyDlAipyQKmFBLHn46/BX8PvYoL8p8OX/tmLZv
7eByCRos57guHSLijAFXvG/fO95N/cV8E832WFJG4hnoQoHv/9EnjGG6nvIKcluB/bFReAAa/UN4
uNctf3Uu0xAPoY8pxrG/y8iRoh0V6lZdgx0GSgKMedbicfNvypsAAEbqwf5+hMezOjvEZduW6J3C
0xMH/rcCWJiw1qHbIzRQONQExdwEtehsLi9vDiYKWri5P0Ec1vDEsOH3ff0bzNNTv40qTS47B+Li
OBaK8ZGNOakPpsQ8BuLN49yJNCVukyrmDMYBHf1B8I/Vft/UxYwj0PC12lOBHWigQdg1dm/2qdy4
1wYWVl8SJKsYgNxKzZirBiPJJMUDWCUXrUrn52kXlRnvat+qm4kKMuruDUZ/ZgIdSDjRJx6EkGM8
IrZH/UMcAvP64GEYGWrbrtBYxtWquQiAvjhkb4GgTeBTOlLc+kmGJK5OARQhZ859i6AMR2H4t8HO
+7BpXm6FbHiQAggiJtY1UeZ3AALfjpNidgHrK/AlyJwR+kamxAB0FinAnxgL/yDc7DXT7o6mwmmn
z/CRHg+CC/tDOHRmjURxSwdP+nxhuByB+uZIUmfJOE/OyCBHQKa3oB5bOdKRRXdv/UY2uvGJ9A5L
xVW4Uc5a5sg4Em9OyRxK9gQhysGpQQfI6KBjEtVgEh/M0LNOjXt6eNFCARWZxX+Oazkn1cBjH/0J
WZGObQ/5cGG9NPdmZT5cnJnI3waRQxNGoGq/A3Bg9Ymi7D6AgrlbUEaC+PJWVRPAHfQpjIyfKDqv
ud8LjOyJJyNzQgOvucgW3qahexhgRzy9XvI4wU5QPdqn0a7+7u84y04JfBcag8iYIHjIBR0C3RWN
F+yXDFS23Lz1TLd3xOtiLM8fl6T46shSR0MnDLbELJwOxsn8WUo/2seS0BM/kEFMlZSOgt0Npr8B
FMZ3b6mdDfz4sxfKac+weQwTCN4nVO2UcQ9P/nzqVoUmekKh46JAnweJJnPa5kEYdobfHgINGabr
LzAnvEYNGNLY4VVB+zWjZeOJQ6r5sw7wuNELxoO3OkPbFQixQ6flkXWKCjgEkN5UWY1Wwe7KUuyX
O0jEqbUcze44+wuIkynI2CmeJinLGjRpEjFtycmGyhvcv3t2fKyq7CbNG1gR0BeHnripOksxYALY
eQ0McCjiq1G3qEJturOiq05pMB/sz+8iVJk/4GEQ+vUd/vKnzrWr62DhiFYIPp7xIZuDaAA2NLC9
7b+LTt3v3LrfpaRdOJW/k8r9FeiK+wEMNt0HUXX39noD/1yYOaPluOiSnrx5Tke5plXbTFVw0kqE
vz6Gehp5Om2I598SPmtzVtNGAXs6E30KrqFqkXg5zXENcopq+RS5ehXXw6RflMAMZBq/IemGh26S
m7Sno6McRXf6M2QgHr6qpcxReVl3dHVgqW3K88F9+OcR/P+hn75CzgrisS5ge7G5gxNz0NiZ/E7C
EqklK4LjlxlQQzpuvIEIRlEhaYrQDkMTSAMR9clhhi5wAQ2qDpHy6U0GqhuCCEkXt/oc0Ux0NiZd
JMPyCsejdlr0CwEUHBsHcugx1Qdxf4PcatR5iVM2keRRsAxMBexUTnhNJN9RfZ4VlLisTlPhArQ/
4dVN0EKreGS7Z60N0Uczus8JJ3kJb7NTfR7mHeYA1JW88W/RQJAPJ/un8J/39cD56g86aYrd4iUq
Ql95+/6ejfbVoWTAglcmloE5n7cLNCCkBVpvwLD78SNg31PWxBd1MmOPrGY5TD8Izd5zzAh4RrsC
y0bm6OIZ5igjFbLEwhcZFMxLsj8O4CcB5vVPVJXQo1OeLlpXhhFbAJKMFv4ktPBHTI3puYEtfBXf
hzYP9gd6T2XdrrOlxUbbV4Mb+jjgkTFQETFgJCBUexAJE0lBtMhaOWp+QGtti6mEAurLPW4Jz+vd
h5VX3kFXkICUwQQr0W8iEuM1poJhGFnq92w7UBiYtHuWzL6dhwM0pBAatk1og4sIxPkkWbw26LRB
8uHcRRMDaFdewzJAGQR02jkKl+Fgw0OViHhegMKkC1DCtkSdUWgit4QLLkeJdCbdwPRx/OvAS0fK
zwCCr6HXOzOD6IPeFqIoWl8T3Qjq1aG8ewzgQgZ5pbdJ8IuQltM6HdyHThrmPIjs0UioHHY9LcSB
R14ZOhW5/4gMgPhRZ+cFxgXaYsJDs/fo52lfkgtcd3IBUJ+LEdZjSUplwEInkDP3kRG3NWW45Pfi
tzHOCZGcdChETsw2em2XNHvAtIMjS2L9VkPguXRtpaneAKSZjiz0Cmf7rVpHPHGxJLoF7PL303xN
3JDjblrHbfktbuAFByE7ndw30EzUbcJ1JdDkBXHBvpY1UO1B/Cj0QG5zMlA3BPpp2DPPOHcf+yab
VvyrrNyYhLFdwprl8taIJSHswErF8s9z1HV7Rr3C5eM+ImyzdoFgOnXyHxyQpoKii2F+0vVCILdT
xjZ0YEwi4QduoEcsR/Pj3I5FaixXegC+TPPFhKLz8Nw9eS/aGk/EoTgoymJM1hDLvC5dO8oM9CRC
RtT+so5KSOIJG7WbVXTMCHG0r1xDd1U4MundqqB2erIDVcXpK7BXV4VkpWndrDSovjiMt4nu3pIu
47wyWWhejkzeM44fweQ4cxPHh5jeo+Rq881LhAxNnmCzvgLSbY7pYWvs7yj0T9OBiCPLiXiuw5vG
tIkfqfmEsAMeyXLQKojuOEfV9poy+aEm/opw2MGmsHX7OXOEMdKGdwiLJp2taJNDcgVcX5RN6tgi
ZUtqes9+6IynN/sobJRc+/Yc16rwgsUdDqkQEweG5G44OTg1hrx3YKEDCcMnKJS8E3KNSRoIE56x
XO3E9WTgoNO3atAxoA+rAoh+6pZhJZ8nT2/SyPpMHL1b8/XkgRn2WVbPcpH8IGc6kwEaA7HTmQ6R
qjGC536XmX4xz4Pk5KVEvNr/sIdmC8XUgDFBDJbocnhwI21bjIK0+S44b4UugpvJDSWNPmRzRk4c
kX3M4AmsAcUnScumkaTAdO4JZgUDIn2tSdbqZYkpkV8UMDWqNZrlFHpvwiEYcpLn41lSZW2Sq2RW
l8V6KSDwhDxYXy+IZfloVfDq6YtIvXt1DP8ev3r6Fv7Qb3jz8kUYm4gP0CLT+vvmG8YWNJiC8guB
SNtDpH4UnH4khH78LydPx/90eu/F3b24xWwmVNgL8ZCk6+aADS+jkt+BVlLXNpyYDUzKiQUaWZmj
05Gq41F/NCYTnSrkL2ldxmrawiIyRRKPyktJwcOZY7RlwaSH9e2yHJmX10B33LXgNxiX0JcX7DV7
Rl2gvkWqo/pKaDh1yrMeDzxzUHYadtmPfgUh25GA5uSlaLAgoLH2y+xZxVXeTJRbwjM/9Yh6IyzD
+0Q3+DVpnvLw2M+Pk9R4TP7I4CY4jf763/5tZCt9LS//4/9yktb/+N+jQdsNR23Sg4V1BNMnPJ4T
Gjat9KGGMnGJ4m673L0lFDeyQ2Jow42EHHUge0e/dXdI3Jq274jBPZ1pdrQZBirgpkNG3FMSNcRf
nMQfhQOnB/fuCOC8UgyQf5MKUOoUNLGGZAIJp7eSiD7SG/MCiFdExEcvjmcp7vn3fXyei294O5yc
bbgRzqw/sD4IFujUMN5vmKIZi/4RIc3dHpncVVTD+L9FkB6RBBwuIh1xwvZ0CY7rgzJvQSaldbsO
RuMxQxwTtiONdafe9q08YAUKbBO0p77vFk/quX3lWGnd1TE+6o7ib9kfcLYGLh5Q/GJE3QXm6W8a
XEBncUtxcJaO6LVdTog7L7LzC++l76/R0ZW2qXl2xTnA8UOBapxOKoy12Pj39ydGfrrV1dkQPHiN
fzC0lI6Ti6DlySpbcIe9AAmjMWDOPFQX6jLHTBHZEh/dwZmYwfG2L6dml054kk5GDOBHJtqYPuMj
gBDOcvZAjfSt260gTFky+WSIyb9MsDu8plkgxbtIZJYCpSKuHg7lBJB8m1174yJpbNSVnypR64Jy
vMfbz8FqTziHnMkf7Zf3x5rLm/0nLySLy5Mmj8czQHk7P8+BPMREd6Bm2MFEQsUGYKKWrl3uOADD
R1GRHLL+dlZeVpk7K+nXlP/abvGuzjrE6JSHGXXAXEAzaRfrfjLsUCJ3Wj5LgzkIN9TgDiXCD0dA
CeAxnRYJI8muaKIR4L2X7xHbNB+hz929AawAok01GZ6Lo4WMDXrP3R1u1P/7P/KVNgA7exsbmS/T
nfECemHyYt5wQ9Uzlz656XLDdvRNd9NFb/HrOeKezd2ybAjbdXrjVMRZaw96dVjEKEGOeJDFe8tk
9GbbMJv/hJgSsxAZNSCCsfGR0yNy6OsTqMXws7eBvnv/zCdvZ859MniBbSpKaFuWLWa0lbtRZH13
srkBc5Z06Y5k6CrrOZpYL+jYmTW9tLtaEnE6VOCQ57O13pOc0eEMfYhCJ1Yg3eO6XOVzkD5XfCyj
wenSXCRVqvcqP6VHscl1hnZM2XBWMTxqEYRbItAJfdSZmgAJ4bqgmEScQAOdpyHvgTiWpBo/plJD
04paJStxIAhOYsBP4jimVuLLdN0ENkiPZSXV1myNDMs5m+XFF1+wERrTuegA7xPgSK/Clj3JTsN+
ZspuxxgMecRY3EnEmGiRQ6ol32Zykqnfyk/B6jQ8dSMnkKRDwV224+wvhK5z+/iSGscfsYx12E/h
JYOPoSSYF5x3RzpHRc2ehfQDIJ5qRoOy1IIHhwqeamgaNVLl+hjMcJXxz/L1+GU3HX69s6ZkvMhR
De3hsOEbzPN6d8qZp9NbvE5iokiOTbgA+tnBut9MPfPDJoS1txBNZIZSzGU6Q+FGdwwlkhG8Tsk3
QLm16OYuew2R3EDErgBC6Gw1P0/bXXP2mAbJSwpqFpCT3jkMbMEZLI6oDriCHxzGnRlI+YeIysYT
X5rg194DTcZJ/qpRkUImDzmCCc26+VHPNZxI99mqDjHtwixpA68q1RvOjNIRPJyXk1jNy5lA20tT
iSecqoAGe9MJHIF1zV7upDO7UhYvE7DGZ2VT0JAZVJ9U6NHARHJSwOpu8uKk8wHdKXELi29n39Ej
pK7jE0cTsiIqVjHhjQHIAO8xI+LKI2aD3lwm238uNwnqCUOeRYKnswslvIukpmDCBAVyqL6Y0PjG
CK3QoRT5fpHSw2QyHHLic5Mby6qJoAMfW/EZYeZ39fURPUB3n+gf93BX9QGQE5uNJJEfHgT0oiN3
kGJqnA+nUySD9YVonwRt9XBMUaY3rIFaNHipaAAOEVxJ2k/eKb1b8v4kIq33JjE6QM6ssGz+5B08
Ug5Nb12Fz7Gd7laJPkiGYueGQFxAG939n3FjHDp/cAngKiIUZd8e32MYGKUo0gnxJNMyJoXIylWj
L7/EU6UYRQ3EKbW/CdSwHSfpMHQqkIPVt4oSY0iqZ84F3t3AFMyPBuWqZ17LytbXmejIjc7LFbrp
ulvn6hE/gZ+ElJlEbDZlu9ZLR8IxA2nBHXg+OG+mkhJPF1qCCh+ZJItOxr9ZCuXnkkDawHOBNDhG
i6SedPJLJk5aqUacO2R7YqrIVOLKOZSCinF6dd0QbgMUuiYeSi7WRujqngDbfMd1YcmiqznLqnKw
50s03cQfpK5iKhonS0xnAUwuU0oUtvTtcTxU6OuHZujsCUVia1JoJb8/qatLJ28ca0wkoJxDaCj2
zLndHtLDiZf83vsOFbxfE0Dcu+eS1rfJ9ch+w0GmR+aFew5YqruvxP4aztGkF6xIFzs1uSve1uUy
a9IYMAncI/j9RE6dC29HYfRTio9AHcCDx4EkkdmS5AnkncakTulikTTUJ3idhk4/kUdq2FNCV1cg
6dG097j6xx+F7YazipnFW+sKKLL9C3f0si72m1UStDtggvupBsHugu9cf4JLfu8KIp0F0IFA60wl
kXi4mEJFUntNYRtAZzibFB7B0e8jZ4g9Mga9Rch4HfxbWfTribe/zCnbtFQ6OuowsjtIIEJel768
Yz8Ra96Skf0a2yhX0L9rk32fEhhjDrvGkTexAWxmPvcJBrej4z7ZrqzES9rKQgC9Ez6Yus+6E2BR
w+QIgJpRtRK75qHkXgCxVfCyPMcNTNJbsbAcYfhId1B9xJs6Jp95CwGvUosyx8A6V5PLWu3DiB1q
UyfDbcKNv+6QXkoW1dhcDLHLyQYwJ+ZwvuT/MMnS6BSyfJYzySb400pDT1nVw88dNDc2023IzlKC
qouE2ydaCdB3PXuZ0YjX3MuI/Bss4IPrThU2vXdkjy5uI4ejWmYFrOoZHUjCsEGPpLbUIsdFZMst
G85xDjc/q1nc3JuV9AFfL7l4R5HYktecUPOb0Nh2skrpxdHzI/CRFuOV2JrXW/VS1iq7infyzFEr
4nP49XJUObf5isPAKhBzWNmbSO7VoX0CX5ucea7wFrMomAruaRlzyQ9aKNZLToFwDHVmT6zjX283
etYPkwGhgoLhGWhpgU1Gb5FqMY3HGFYFwIjzQf31P/+dt4n/83+YvSFnkySZzwMuaPezTbEdHmCu
MytBvs9kf6IuOVPx7h7Ys4PUCXzsdIOPXNmeuCca9O13VM1RmfDUUu+kELvhq9rxEbuX+NWy+thb
DBmMjId45r3qulupe4OYH1bvXFBoKhLqFO6+A2Fv72tbQ/1qANaG93/62BetKOzBx30ArH1w2gk+
MFu0Ljl6tyPiZW+D993hcdHBS+w6ndpIjNNT+EAZqErMocIRQbJqzzNW/2xMDnAf3kBPDJwtMkq7
gvcwUdg7VCQujF2GI4DEa5Jt+CqSZci93JA885zclHbU6LbVwE/hhA721Ln0151sI3+Tdk05rWO3
uvu54s92Llg+MRzeC+ns8lcv/xF8f+JJCGFhZpGQmF1erUNUmb0OOLvsm88+eeGlfFj3PkieESLl
WVZgRpHu6+UqxygMSvrS6WPqxruv8fKnXi8dnJGDMVBBOmVc1xb/yrvjtNpyx+k2OuiLB/skrbrU
7G06YTiSOFRoqZmoKfIYxYLJuCO/ErfBdEyvpkZ5daL5em5hgvUODM5tzCy8Uu/Kc1XrDra12ZGk
CXBEO1Re1tA5s2o292+twzG1r2W50+OA70NP6SfOnjsqjdMyNZF5rSIWz9x1AF9opPXH3ZKOqE1l
xyCU4A+GHeFfPwDlBNPAyX2YGPDRuwIVOqMzxVmiSdyENqAJRcqKYpx4UK0d2HjlnW38GJHWYy/N
1mqS7l3kAc9Qxcjm3klcrAbVs3nvC78OfRDYC5wzpr/me2dJ9gRTBwjPEeYVR1g+scttR+pxiIaB
skMY+3OurXszSvR8OtX+5sOxl4XAJl2JrD2AElHuNnmbYDLBPcxXt8KYtRes/SUUCItOy8u0alH1
52PtfE0JWRi0T0NuuwnvAvGRJgyVlQsVy1WTYNhtUte0k2ByHcQC+5icfqJwgk5dkpdNTcl7NPVT
iHFI3ZRp8mYRhFO9FnJyVL3XtSX5KbXxHnXa4NZ3iGo6v1lY16h3hYhJHGNucUGtHjOO4USNFIUg
ardd0rSHHOSE9EJZh2HROs88kcs6NJH28/41h6sCwWtvIToLiYBz2bHiaj1HoANE1lIaWk5mQ7/9
lRiMbP2VuzrGNybXDdX4ycmCTVfu8K9D9/2QulyhXkNZ1vTCQfWsocY1fZVOWoGJzOxK6jVx8OiT
DWr9vAvD7nS5ho+FvOW7Ta1lB8tcK9huR5x/+be0kBYs/XeswCF3ww4L22Rb9n2+PGVB+vguX5BG
xKX24IN5411NDG/JIcDJJYgb9d3GE+u0TwoJ4AOG97WS9GrbbQVkK1ukBm3rzgXYfIUG74WOtbhj
ZZu72XHLyaTUcRBe5IS7uUZxFlzWanDiGKMrmdquPUTubX0lpFdSi1n0FhYdfPCaCnPrNl0XgYY/
GwspH0NFeoPQQLeb/Dyyqg280atDzLLHikMn7YWd0qNwKPAC0RgoLEGWoQ2qwoK9iKph3xZ5/e01
V/2LT2TfsiNDJ/2bN1msso5EwpV/9rK6CFw/qQsuf19iOKGR3luYxoelJ59MZt+n9TPn4W4fFgPD
iw50m3omDGGEBRmncEisTKWUHwAoFWhNmv56Kf+9fVIbWPIhq+VGx4oyhrTlOW2ZTfpaPN4vdl6m
5uJQrCCnaWjbNdsS+/FcN9vJ9cZ3Gh8N3Rrr3RjMLtCj7lXE7148f/f0w8dXxxGPnVcpqTJTAy8i
xcvqKEW/v0dqb0872nJxW+eyjInSWX5g8oP2nFOK9oZfiioc+VcdQRWaYpSdnM5YZyk84r+x68R1
/KliaJUFLeaRl5jfib+WS4CGE8b7iRLk5gVLRf8uBl87sMDjbhr0Q58cmPbcvdFjANOlyRdrN6O7
KWQ9XG0eraMtGQM9QlhN0VLip2iP+iphGg70N+B4iHUvm3CmJya37R/S9aG7fcFbICap7cSxK8WF
70wgfbgZt5FRvUcpqY9FmWYIGzeDLh0up/ADVifNxedYq3N7UUeEdZhNPvuXahGV/E/dtd/MnQ5o
hwf0NS2hZbWYLoLYcqMYM/bQAmR8WLSC6xRYuMB2jbX+osV96SxtPy2kXKeqt42wfYLbZ456Raj2
NwFtLblKjLLg0oYR8Q0xvOwgWTcQbVex+DAbxjwPNz7d9tDe44RLFBIk9ppmPz7TNFcB332l41WQ
R3Ariu5vBCbSoV9xP/hf8Os6sS4pJ7XdAfO8z/RRx6zC5+GLePRXJG26PhxmzM6FPDIFMAd2L1Bm
e5CMPyqkJqEYG9PtHa6WdOfO0ks+y1J63OgLH52SywGta2c5K+xik0V6S6e9mInd25NDmeE7M6q/
FPGNad0hXZpMdMw7wKddZr7jcQRoNHKBKvz6FPq7uu98c5PyEi6civej1XLtIhBLOkQuSIkLHar0
s+/tClPxp5zN029p94kLvSJm7p2NYObbbgsdaYnm6a4bjBkLH9uhi4nD3lXjW+8TIxU2oDDLVC5n
tpevIU58893Atmf3DL0zjpzCuJcb1N7JYmgR0bWlx/Zqub59iYz/pgAj379NC9fEa0r25prsICC4
5Bu26WowyHhDZ/DeGpNKjm+/k6In+6cYmYrK+TvcEqJmOnr9Nck4/tKLydd4XXcSGNpZ4m6ff9oW
8fi+k9AyNOarueq1t0h80AoCrFnnpCOwiMLzFdkyYR2hpkPwcwplpJwJCSUzNYHDGHYAleYTmfdx
d6Dw5QdYgcgb2Bkpbu+YIlv87Xrjw++7qK6yJjvL8qxd80rW81aJKaYh6NurXOb3G7ZG6mHv3u5t
8QMuBJgljp079qA/Vo/A6tXSEP/2ZvZ2Aal2UGizMxiFTuV75ulP0NI/ucL5NvLuVc4viyQb+XOQ
9hWvQRUqr8PehHa5v8NBvZvvMucaw3DwsqftgmXAdNZJrPm4KbNWzzKNhcBYy+O2znWrI1GpQP3c
wdLP37wSs/+lvp2C4BN4EqimuU2I//5/UEsDBBQAAAAIAAAAIQAYHx3t2wAAAEUBAAALAAAAZmF2
aWNvbi5zdmdVkEFuwyAQRfc5xWiyNjhg07gyWXTfVU9gYbBpXbAwDentC00dqRJC8DTz5kO/XSe4
fS5ukzjHuD5TmlIiiRMfJsrquqa5AuFqdXrxN4k11MBZXng5APRBqwjJjnGWmBnM2k5zvJ9DLj8j
GLssEo+NaYRukf62rUOcYZT4KoCdFCesWElXtfBUtRsnAjiIsr+xjKEDJqDbVc47jbDF4D90Fhtj
9lv1l4QR8UCLdVoNq8Tgv9z4D79763Z+z6VsUIsGlZOzrFDfEvPYUIzN4yVm1OI8lI6+fM7l8ANQ
SwMEFAAAAAgAAAAhAKyEs2BeCQAAryIAAAoAAABpbmRleC5odG1s3VrNjhu5Eb77KZg+JIdMj/yD
LGJHErAwvIEBb2BkJ8iZ6i6pmWE3GZKSrNs+xD5DXiH3PMo+SapIdjfZ3bI1cRYBYsAz4k8Vi1X1
FatKs/5VrSp30cAa18rtszX9YpJ3h00BXUETwOvtM8bWLTjOqoYbC25THN2+/H0xLnS8hU1xEnDW
yriCVapz0OHGs6hds6nhJCoo/eCOiU44wWVpKy5h82LGplJSGVxtoIWElRSHxrGam8dA4YSTsEWR
OiekvKxXYYKWpOgemQG5KQSSF4yuiJ9bfoCVPR1++6mVBWsM7DfFyjruRLXa8xPtvcflYsLDuosE
2wC4KZFfua+sDSS2MkI7Zk01buFa3//NFqyGPZjtehX2oGZXQbXrnaovnprGYFglubWbwim948bz
xbVanPqFneFdHedxRbSH/MD0IoxLVFzBghWKl9/gBYDU6D8PPKzmXca+JEMUqW5py2f22+Ou2KoO
dQasVTVItJNtdoqbOqVdr/Ai8yuFu5aGJBul2h2dU120XRgUTNS0/RG6sp/p5XAdw//loVEW7cSN
4KXkO7LfD+DYtx/fM0+HGhB1Dd32gUbrVWAzHEpS0RmowQ4qJ5IT0qmaO16SwmGc71DfRqFHF7Rw
tL0Q4oRTWknhYLjcRIm16kUOwuEdzRF353rviXL5SgefUGujFD//+I+JvRKt9x+D+6FHPqPBXpk2
US0Ni9E441RU3YIBaY9ACUyRqjKV3BnVHbYPjbDMgjmhp3cAtWU82OUeZQ5bllXUHh2g27937MyR
g+MGx+jYrmHrCj1uW5YuWNSP7tlDA4EzwxMfAXEp0Jno+J1RZxThN5ZJhSEImSmDkeH+qtYIZp0+
ukRFftwHFo0SnpWp0YZHpyrVagnkGWq/L5jVICXGsupxU+y5tBjStOQVNEqi/jdF4pmp0ybTBv5+
FAbqZWQg9FrhZjjQBsOduUyQwE+9UhC1yDh6TbF9Gz7keEi8hewffKXlIrggRrY+PNngir0MByNq
tIYefQGtJSoJA5QwLoQ4UdLHVEgJ9e6C5vaLPqKnoMljJNGWNJVsoU0vvXwZi+9pgE7/Mts5wCns
3Ut+UmZQpcbQV2x//vGnGQwH8AwzfdyIlyIGA59szsuDMXnbqRgppUJedeZuxFD25I+n/Hq0b127
7QeBsddgbMbP67pOjpdhJcpe19sJ84TJX/Rw/JTLMS7dwuYjuqfwPmAXOOlxdVBKd2xvYfwBuFnk
Kf3CU9l9e+aCYiTzvrYkKnS1j+RP4/tDiGhH7UQLGdsQ68qwchNbHMoxCEXkeOxdhZLBh+gaklxj
1PHQYLj6OjjN+TwMM8vASiM3sy0nNOGUYy+eM3sjpiIPf0EM2zMkpBuyxQX6E5dHYKR6fyE/F10z
vuiGnwmawTC5qRf4eS3jI51e1p65qxoWfo3cr7/tCTbYitQydbEln/vaW3vw/EJ3jryv3zgg95bL
zmLiKAxyMo/l2XCduwRmveM1qVwZX0ZP0qdomDbnT+PozJjlUEZwecMwRJOK2AUzf5L+dLgi240w
lShUV12uIbVf/iqYTph8CMPbARrjlRU13LH2Fpg6vhvvGY/PRXN9FZnOYTGEuZutlA4l39SpTIn1
BDL6s0LxohhY4zUzMv2758vzr1+H+ZUzuZPN5Fm7vgq7KqEPPhGs8bi6V3iP8xJFWQjxrl7e/Pr1
lc0TgZdl8TCaSeJnb5Mjbr1VChznSsIJsvwyPvdKuU45rAZT51rMvTCBpaJ4B8am2Rajwokli+xf
/0yo4JOmnDijiHO4br+I0zCMiWuE7ZDH+gNa7S6hxisyFPuFvhaaozjQ5RhONRPWSZXFsurCBtFh
NbSI8OyAP+VZJIWqGdb1WMhTLXTUPvnvMyHM7LEG80zuGeYxgkthAbdchqKtMkBZTRwxJOhXDNrI
zCs3+hfESgq0GgWI1ZkXwGKqxYRjCllg7aUnMvtKUWNdxrSoHi3tRMl3eAVnQe7vKDoboGv7QhLq
N1jd9d0HdAf8uccTkbC7Y6F15RjWLOj11l8aeNXkEoMzomJqT0ewUAzceVEBRbyw8an2kx4/zDZY
TJJkvrqE4LUeGPM79RbuVZ9h4ykNAbQQhtnBeh0Lubqv/PX191MNNQWSa5t7lxSTmNO82r7v0P+l
9BerpIDOMXoY0MNeXc8TbCdQy26SlyzumT9jX3yeGiAvyh+lgWyxZTQpjAOjkPtgOL2Mwohw2zwv
eItb/P3jKsPyvvUdOFqZ9o+uZm3BAQyEiDc5cBsAooUeTvHAYgQZX/6DdTZiBy1sYKL9hcRNL6rv
uwS7E1Q/v//m/sUdOzcCc7mGW8LXuQGQAS0fL65B1b66fx2cH8MigmN3FJJAPLkpP3C6CGWdqD3a
/zaQ0yya/A2b37gKOwKJBYcVk1J4uJeB/Zq3+g/+B0uIJseWZadKL1IprEIRfU+CrrnZ+OstKvSO
zIuitdS6Znuj2ihdVFDoJ03BvMrxsgifUFz30fV/iJpgvF8INiH2XEFNWGTD7b4eNPG4iJkngOIm
k8VGRvSJEOL9G0aXsbwlWf5vDUm9yUUrxpcvffb+iwa18B9Y82qIe4fPehSSWs2VooywD0jJZSg2
tJgz+ehGD76o2Q5wAEkeYQFseNZJI3eTq1gVtoa8wWcYljWAHCgrYGgpDDN3eKA6GLAWQzpV46IO
gUmDoa4q7yr4fHRZr5Rc7OV/JnsNMtnS9t9YzDusccf1TDXSTr106K/mDL4PQ5/OsdAGS/PQpNfa
i3bcFYsWTPTFRn29iVnY1LTLNiODxh7f9ab+0LQNEhVZ/7qf3N6qchSvc4nGs5ohrF0p/OPqxBJf
rvqHiiCj/0B6C1MTE6RFRiShJ/ZKXRa3UBW3aKelr7fmken613ia+4AzhqfIUZPtoR6+LUkj0kei
GfPsIGJItzE40uI8Fk0qwLx/kX2LRWymPaW8vREOvKm7MQ17eXdiMGvp+8LbBw8YLOZvJXsUlIO+
I3meRCfoS7T6SSR74Bjov8OfRzTNk0h9R2H8cuDptH806oiPDlY/rnk69TtjlJmT3dwRSnBAvn1T
AySBTuwU5JDzkyx+nfnXpAhPO8HDQ2t9TZc58FI0ogF9Mdd/nYuYNWkrZqENM/YEqK/C+79s4Fr4
vyTAC4+f1yu+nW8bImQ6+uzWVWyt5iT9LJHGLxtJfvobiaBwBK3/85R/A1BLAwQUAAAACAAAACEA
jVN74jgPAADgOAAACQAAAHN0eWxlLmNzc8Ub247bxvV9v2K6gYGVIcokdaO0SJAibdACTVDEaF+C
PAzJoTRZihRIai8x/O8958wMOUNSu5JjoDZsL8/czv024w/vWbLnRSPz/IWlvN7HJa/SGft3zmXB
fvj4ccpyuds3jBcpjFcPrNlX5Wm3Z8dKZKKqvaTMy8qrk704iBl7/+HmZluVZcM+3TDmefFuy77J
Ftkyi+4JkMD2CKJfHcgLERhlmyxWwLisUlEBUMzFSiQKuKskLhaJEFmoQI14bgAUrAIe+gp0ODUC
py3FKlqvFSwDcnBexDdzHigYTxJBwEW2WImlDfTqMoORahfzu/Vmytb+lIUh/ODPAn+iZgIDUpng
el/wpdgoaC54VeBB8TLJVhrtskR8gmXkz9MOZB8ShlMWrOZw0oIOCfUhMceVSbgI/KSFOAvnsCCK
YHXoLHxSaMSL5dzXqNV7npZPW+az4PjMQvhDOwQroA02Wfi4gb+cTPWM+ZkZC31ExVN5qrcs8I/P
WpJBj5sJitVPN4vIiH8OgHSzXvuaN8kCAXG4NpJKlrgkjBaJBhzKotyyk6Qf6iNPxJTdfvyR/QSf
t1P28Uf8wftF7E45r6bsJ1Hk5ZT9UBZ1mfMa5v5LxqLijSwLs+b2b+J3/t8T+8iL2sDa3fFUW6m3
ygLubz7f3Hx/AJlzdjem/FuyjwkpfmcCrRH4aeAHxBbLDIJlsFFq6xhCwIMsXBtwawrhKkzmKwPW
xhD6AM4MUJuDWIuNEAZoDGIT8TAODdSYxCpeL6IW2hpFFEeJMtpxswjmYA4BqkS4iEj1lF64pjGP
4rTbxRgHX0dxxltClHkseCoi3wY6VrhAC0QrCSNL0TsbyeJNOE8smGMlywCRBT1ekQ4H83a1NpQs
jrNwYYDGVIqyaLlIyu1yhdQ7TNNF3AqAFNzdjFQ8W6zDuJUdKbnNm6EiIfwz6tx79onF5bNXyz9k
AZqk1AG04vkeJtzsm0M+BWD6AvMOvNpJIMenIQWEfWKePOzAbRfAqEde3aFKTlo9NzDUHYJmJYg6
4weZv2xZ/VI34uCd5JR5/HjMhacgaIRiVwr2n3+C9fxSxmUDZnf7D5E/ikYmnP0sTgJt7WcYIEu7
dW1Rg/5aSQ4E1PDl1aKSWYsBEAy8CBbKu+SyEN5eoCkCcLZQHuZJxA8SkKX5BzC6PfEIIxrPJa9F
SnY7K06AcMPjHJzH7JHnJ/wXEBEefQDraAtghIS1HkwHVJItLkG3goCaeJqUKSwFBTdLDJ8UD9GL
TO5t/P3ZJhQHXLstygY9x4R9x3CbM6JRXoAEYSwfvTF4M5ka6RHcmtL6Ys2sI09TYoSvIIA4B4Qd
cSuTBmRR7l4qklIJRms9IMy3+/JRVLBwMAXwFRWKROlgSLR02tcT4VxhRaAnLcKVT9Ny0TSAP3pe
hTDEF2AXjNCZTQV6kZXVAY48HkWVgEgHikv+baIETT/3SdUTANVZfeB5bmSn0YNQqMYqryxyZTLH
spaKVB4D62GDe/Yk02ZP0rhnrSbiR8fu+5YJXqCIRg5mOTqTvUxTUdyzJJdH8Esiae58Rr8Btae9
BGWkAIQCeKr48b6Vv4+0/arW/wbIp7I+5vxFSYr9RR6OZdWA3pIwPrwHB2N+saY8go5VNghztBnA
EeySWoPhPrwQ88ujluMfngRZP28ZGVx7cpYLIg+sbFd4gPsBtA8VSlQI/v0Ee2UvECABgvGEKPNi
0TwJ4AHM2HE4IVgpJhluLlcD/Q21StuGorzlQT7fQZJag4efdm4NkqF3YOqoN0dekYbr1WlVHr1M
5g2yNM5P1V10fLaNCFxYUx5eMTfQkbjCTPhTjxGjbNAkYnbEDrLwtPqQb9b7yMPO3ivOy+Thvm/T
a62etMQr+KH1PcaW1mBLjkbTkr5peWBbgXJFeq/6FJ8zlb75jivoULnJajuwyEHZa0m+U+ucV1FB
cTUL0bpBnQqwGwwfn2xtlAWFhzeUkjaLXI2b6+TVElAw11o4UOJuK0tByX0MPfFms7Hhrzvx0SAw
ucSNLpUbHfWHbFRoqMUWH2epzlQ19ZHt3eijR9jSfzeOMyWUCukcHYZKnpzTfk15w726gcD77W0u
H8Xtb30FxMRv0h6qh84aPM1m8+W7qctV5exfP1hRPkJIi8KzVTOp384EXsiDjofHU14LFtagiZks
ZCNeOx9cvx4odkMGYEJ6OQNoNlRmVzGgh8BZRmhULDpjsLMHFtQQKsSxvoN8HLasmslFdJ8Kfmr2
ZQXanA7phpR9csXqs0ibfW6+fxAvWQXustbiQS3335l0uifZN1RsuexHFTiCgecd3w88iD1bTQ78
s6f35n62kVc8hySshL8eZS1jmcvmpfO5n2FFvzKFCuyUiBQSUiU49a2q06H52yIeySkGWUV8gkgJ
tTPGMMzO6kF+ETdf5KJfcbnkvVdveu91OEghXA99TTq9HuYePf98voJCkvdQRTTXuPFTVeN2x1Iq
sj8TJ9s8/Hy1wPTMrExOtUdagrWOLI6nxgXCNuWpQWFsqQlkc6KtCfQMr8yyWjQ00RzxK9ZIWOLX
UF19e9tUJ+XFh7hZTYOBQ+udNw5VB8JZoJzVyytnXLg9th37u47y9qwz0DuqJPMb3/c7LHf7su57
pJ5Z0zxTgRgdDle9BHFF6c5IgYIZ1IMoPLQ4VTxemLeycTepJXPz2WwswS1Urtkae8V/Pcwftkxl
Ea9nWcbkDvy5Tasi31irqRMZePTSMVZcp1P+HlbfAU6PmPhSbhHA73mo80JnHmk80dB3EhqPcOUP
PYT/f/YQAw8LzAcb7LvVA3blP30BX5FVxFeT/44LOJWVigtkAqdDV6kRrxFNRKGNy7loHcAMCUbf
guUGRid/tg7vlQXo8lIPwcicCoKzW4nDsXmx9wp0+k9HvM7u60WoxtWXHu8CtBpUXxNXVTHGB9Eg
APkq50W/vBc8HTenP1k2h7bAO/sPO2Qc70KdEewXe9gOcBBCKO1Lo8D4HJtiSviAGmwFqnbnT1kw
my+zamJDhp8DdelO/a7VkBY15deGNaTVaLf13MdNdQbTEXMB5iN4Uj7mIHcoU5F7GkUaUFuhr/nA
vECnZUO8VosvR0vjYZoxjktaKOeGUkajtxSvHXHKeKcppLO2Wa3M+VJNjHktqKvX17QR9995G/TZ
ge/o2UE0lUzqq3StEkfBmzv0XV4mm6nhVRjB3opfQwXruU2S4iAZPUqMuCPZqGq4OI4SaNm8UdC/
nuj0Xb5JQnpZYHi+J3quatcqmvNaMfZs/7l31PL8UePBaRSBkVam6dKO9HtGvJOJ6g+PX6IW82nP
diaOkratRKsJrc5Km0t6XCbBxQWp083Gzf1hT3t5pfyuZN+wkavu3TG5+cCQQ0XyMlB0utGoyifb
HRB7zzEXGIl/7i1rRy4Mb0YU1WHUpqYtzUt/vNVItx69W5ug2z3nscgvlszFvUKVTCvNoyZ229x/
4k2yhwPbcGI3uuYjjS73YMdjdBuau87R4kSPTez5dAc6OptG9FyoGR7I31rxchX2aetuLnD+SCe5
pdV/Z11Z0FendLouVCmW0axP7tquusr5sRaUHtJPdLxZ1OynrPtI7aAFeTJdRSmNJ/mBadPF+ltl
DKrupHcOhrNm/6r62KX1qKm3u9E9Ke1mI5eLrBnb6tzNkkO3bTP+0GZCv79kdipkM3YvdSGBWi0Q
6U7ns7JsirIR7c2wVhudQPRjJ8VshinQsJ+jB+26KjR98itqCa0PnaydwkuhN+/JXx2tKvteHa6K
V42bnXP3g4/hiJ66n7uX5f375qFbtxbP9rJ4W1S6Gz5+b2Jtpr2sG13mi7Hoshy9MTW+dnhHrp6b
mO+FKYO/SnRy8Z8Vg+tlQ781VeWpl2l4S0X0lS6fWiXZ86px+ghULDtFk++6WUKhuyWtBNitfBT2
tvXj7iu4X4Wcp8vfM7fQsqCOnD+0vPGw+EpL9SIN7tXU+EhQ9IvqfujURSdyBWXSfyth2h4OAv5s
SZYHuXpfhy57m4GnUfWBZgBH1k1VPoitG0UUsK0pAbDnR8iZBD5oIHtKKmDq39Od6DbVGyrUVHnV
22cWtSCc/HuJjoWiuwNPMEXRYL03rwS3kFW7W02UIOxoo3TAJcuwSB+C0uFVhSoRsvkIuQOvr5SN
7lgGTt/0YbrqKMJ3gZRuh1bGVDcvOT1bQtUgRaaVXvsA6cp2QxhSxTdXlfW5FgN2sxa6/+JoPl1J
3Y9X6xtfVevMQfHiar2ljeGbl8EbFSW9sxfvg6xgpPzqR66Vjlzq1KMVtyIqTFS8sihcL5I9rXji
Ei/4rrlpj/RhZukXXQ6/0qVHSVmXiaD6kMqB9axqJngtPKAbu57tZWLvIkzP/4THuK3GcHnlNRjr
0di/AdOypmtOGM1l3Rg1V8NW9mA//0mAbBR+JchL43pXOivTtFZbfwdbo4WNRBeTK6mcbh5Z2X+b
PkVKi9SZskgqcVB9QzrXOWW7jQVoqco1umCg1t7hPNXfHAk5CgOgrnsWZJrpC1sj1Nf4e4E/Gare
ul26qOWiI0z/6cxNyycnL1SFf9S/jDmfH6o9ZnUhj0fRDJNQPasdfqtV3eekMrjzV4DDhKivLq3u
KRxMsvxFsnFb050RrNQlA/0b2Arx1jWVzRz1wHLMxlSzZ2F3jj1I5FQS10uAl8uRh0zDCPgI9NTq
degwBNKg6Qv3y5fWOatZTVnm9VUvm0xdQoebgn/MGbRZPKXxlqgV4Xb9dJa/XcfWCyIH8yvKfYWp
up4CAuWzifiai9gCMD+rRpqjGabgG1TaX63teFE3wb4eDHRfsqVgm8kK3H2yl3lqU2PDLWVQ3rHP
Udgm56O7dGBrk8oud+xdTKdj7KGm8cfdI83gmsvI7p3YW41p/TzBvhijMoRUidzk8KWkpmCWeI2k
J4vt87rQpRFmPEh6VGmyjNVggrSGg/betxuHGsCasPTPdJosxqbtqrfnaQLOdX7sqTK99GG4CUe9
DTLIca7d4i3EVIOruvAZiRbGmc5n54j1ZfL4PYmDZjASeE3QxNOsJqpDStc/vehxhpkOKjbyWEud
ZNqvzjmm83rRKWoyhKCxM8qHM+8Zx2kvxx/BjU4+VmXML26YO/3AhRum2rJuJNUjj6JiTJv1VW1X
xDYVE8hahcBV+n+evFJ44bVlZ7da20fvLjP6P1QjTx36Dx06FCLzyiHUJP8PUEsBAhQDFAAAAAgA
AAAhANgwTrNGMgAAEaAAAAYAAAAAAAAAAAAAAIABAAAAAGFwcC5qc1BLAQIUAxQAAAAIAAAAIQAY
Hx3t2wAAAEUBAAALAAAAAAAAAAAAAACAAWoyAABmYXZpY29uLnN2Z1BLAQIUAxQAAAAIAAAAIQCs
hLNgXgkAAK8iAAAKAAAAAAAAAAAAAACAAW4zAABpbmRleC5odG1sUEsBAhQDFAAAAAgAAAAhAI1T
e+I4DwAA4DgAAAkAAAAAAAAAAAAAAIAB9DwAAHN0eWxlLmNzc1BLBQYAAAAABAAEANwAAABTTAAA
AAA=
"""


if __name__ == "__main__":
    sys.exit(main())
