"""chantilly: deploy an online machine-learning model behind a small, durable HTTP server.

Upload a model built with creme or river, ask it for predictions, send the true answer
later, and the model keeps learning while it serves. Metrics stream live over server-sent
events and to a dashboard at ``/``. Standard library only: copy this file anywhere with
Python 3.9+ and run ``python chantilly.py --port 5000``. creme/river and dill are needed
only to load the models users upload, and are imported lazily.

Endpoints (``python chantilly.py routes`` prints them; a test holds this list to the router).
``/api/model`` without a name is the default model; a call naming no ``"model"`` goes to it::

    GET    /api/health                     liveness probe; needs no token, says nothing else
    POST   /api/model[/<name>]             upload a model (dill bytes): the newest is the default
    GET    /api/model[/<name>]             download it with everything it has learned
    DELETE /api/model[/<name>]             remove it, its versions, metrics and stored ids
    GET    /api/model/<name>/versions      the versions kept: serving, challenger, past
    POST   /api/model/<name>/rollback      serve a past version again
    POST   /api/model/<name>/challenger    a challenger that sees every call, scored alike
    DELETE /api/model/<name>/challenger    drop the challenger
    POST   /api/model/<name>/promote       the challenger replaces the model
    GET    /api/models                     the default and every model's description
    POST   /api/models/default             choose the default model
    GET    /api/init                       chantilly 0.2's settings: flavor, storage
    POST   /api/init                       chantilly 0.2's first call: the fallback flavor
    POST   /api/predict                    {"features", "id"?} -> {"model", "prediction"}
    POST   /api/learn                      {"id" or "features", "ground_truth"}: scored, then learned
    POST   /api/forecast                   {"horizon"} -> {"forecast": [...]}
    POST   /api/rank                       {"user", "items"} -> {"ranking": [...]}
    POST   /api/stream                     NDJSON operations in, one answer line each out
    GET    /api/metrics                    a model's metrics now
    GET    /api/metrics/history            its metrics over time, for charts
    GET    /api/stats                      counters, throughput and latency
    GET    /api/cluster                    the nodes on the same PostgreSQL, each model's owner and lag
    GET    /api/stream/metrics             server-sent events: metrics after every learn
    GET    /api/stream/events              server-sent events: every call and model change
    GET    /api/openapi.json               the OpenAPI 3.1 contract, from the route table
    GET    /metrics                        Prometheus metrics
    GET    /  and /static/<path:name>      the dashboard

Durability: every acknowledged call is in the database given by ``--db`` (an SQLite file,
or a PostgreSQL URL) before its answer is written. The file holds a snapshot of each model (model, metrics and counters,
serialised with dill) plus an append-only log of the model calls since; a restart loads the
snapshot and replays the log, so the model after a crash equals the replay of every call
that was answered 2xx. A call that makes the model raise is undone from an in-memory copy
of the model taken at most CHECKPOINT_EVERY calls earlier (see Deployment).

Several servers on one PostgreSQL database form a cluster (see Node): each model has one
owner at a time, fenced by a lease with an epoch; the other nodes replay its log into
copies of their own, answer the predictions that change nothing, and forward the rest.

Sections, each under a banner, in dependency order (a test holds this list to the banners).
Nothing above the HTTP banners knows about sockets or HTTP::

    Constants
    Errors
    Helpers: JSON and server-sent events
    Models and flavors
    Metrics
    Telemetry: counters and histograms for /metrics
    Storage: the write protocol and the operations
    Storage: SQLite
    Storage: PostgreSQL
    Storage: what chantilly keeps about a model
    Event bus
    Operations: validated calls
    Replay: a model rebuilt from its snapshot and log
    Deployment: one model being served
    Stats
    Service: the registry of models being served
    Service: model lifecycle, from upload to deletion
    Service: a node of a cluster
    Service: chantilly without HTTP
    HTTP: router
    HTTP: what routes see and return
    HTTP: the dashboard's files
    HTTP: routes
    HTTP: the OpenAPI contract, written from the routes
    HTTP: who may call
    HTTP/1.1 wire format
    HTTP: handler
    HTTP: other nodes of a cluster
    HTTP: server
    Client: chantilly from another Python program
    Command line
    The embedded dashboard: static/ packed by pack_dashboard (make embed), generated, not edited

Performance tricks, with what each was measured to gain, so a simplifier knows which ones
matter (2-core machine, creme StandardScaler | LinearRegression):

- group commit (writes queue under the model lock; one committer runs them all, runs of
  the same statement as one executemany): +30% stream predicts, +15-20% stream learns;
- a lone statement commits itself, without BEGIN/COMMIT: +20% requests/s at 4 connections;
- our own request-head parser instead of http.server's email parser: -50 us per request;
  the head split at once when it is whole in the buffer, exact routes without regexes, the
  common answer and event written without json.dumps (the features encoded once): -9 to -14%
  server CPU per keep-alive request (bench/ab.py);
- a model's stored ids known in memory (KNOWN_IDS_BYTES, SQLite only), so a new id needs no
  query, which waited for the commit in progress under the model's lock: -10% server CPU
  and +10% requests/s for predictions with a new id at 4 connections;
- a call that stores or drops an id is one SQLite statement (a temporary view's trigger
  writes both rows), so it commits alone: -9 to -14% server CPU per prediction with an id;
- the write-ahead log folded every 64 MiB rather than 4 (two fsyncs per fold, commits
  waiting): about -25% wall time per commit of a prediction with an id;
- events written out only when read (``PlainEvent``), and of a stream nobody watches only
  the last ones each model keeps for ``?recent=``: budget.py's events step 21 -> 8 us per
  request, -4% server CPU per streamed learn (bench/ab.py, with the write-ahead log change);
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
import errno
import hashlib
import hmac
import http.client
import importlib
import importlib.metadata
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
# Constants
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
#: Pages (4 KiB) the SQLite write-ahead log grows to before a commit folds it into the file
#: (SQLite's default: 1,000). Each fold fsyncs twice while commits wait, and copies a page
#: once however many commits wrote it: folding 16 times less often, -25% wall time per
#: commit of a predict with an id. The log file is cut back to twice this after a fold.
WAL_PAGES = 16_000
#: Seconds a batch or stream chunk may hold a model's lock before letting other clients in.
SLICE_SECONDS = 0.01
#: Metrics history kept per model. When full, every other point is dropped and the
#: sampling interval doubles, so a long run keeps its whole shape at a coarser grain.
HISTORY_POINTS = 1000
HISTORY_INTERVAL = 1.0
#: Events of each model the event bus remembers for ?recent= on a new stream, and the bytes
#: they may take (per model: features of 1 MB each would otherwise keep 50 MB per model).
RECENT_EVENTS = 50
RECENT_BYTES = 64 * KiB
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
    # a cluster on PostgreSQL
    lease: float = 10.0            # seconds a node owns a model without renewing its lease
    lease_renew: float = 2.0       # seconds between renewals (and looks at the cluster)




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
    if "\n" not in data and "\r" not in data:  # one line: JSON from dumps always is
        return (head + "data: " + data + "\n\n").encode("utf-8")
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
    what differs; :data:`_METRICS_OF` names the :class:`Metrics` that score them.
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
        if isinstance(y, bool):
            return int(y)  # a number to creme and river, as chantilly 0.2 learned it: 1 or 0
        if isinstance(y, str) or not isinstance(y, (int, float)):
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


def detect_flavor(obj, library, fallback=None):
    """The paradigm of the final estimator, from the library's base classes; else the one
    named ``fallback`` (what POST /api/init set), if any."""
    est = final_estimator(obj)
    for flavor in PARADIGMS.values():
        try:
            if flavor.matches(est, library):
                return flavor
        except (ImportError, AttributeError):  # a module this library version does not have
            continue
    if fallback is not None:
        return PARADIGMS[fallback]
    raise BadRequest(
        f"cannot tell what kind of model {type(est).__name__} is: upload again with "
        f"?flavor= one of {', '.join(sorted(PARADIGMS))}")


class Model:
    """An uploaded estimator and what chantilly knows about it: library, flavor, how to call it.

    Accepts any object with ``learn_one`` (river) or ``fit_one`` (creme) and the method its
    flavor calls (``predict_one``, ``predict_proba_one``, ``score_one`` or ``forecast``).
    Classifiers answer with ``predict_proba_one`` when they have it.
    """

    def __init__(self, obj, flavor=None, max_classes=None, fallback=None):
        """``max_classes``: the most probable classes a probability answer keeps (None: all);
        ``fallback``: the flavor of a model whose flavor cannot be detected."""
        if isinstance(obj, type):
            raise BadRequest(f"this is a class, {obj.__name__}, not a model: upload an instance, "
                             f"e.g. dill.dumps({obj.__name__}())")
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
        self.paradigm = PARADIGMS[flavor] if flavor else detect_flavor(obj, self.library, fallback)
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


def load_model(data, flavor=None, fallback=None):
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
    return Model(obj, flavor, fallback=fallback)


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


def default_metric_names(model):
    """The metrics a :class:`Model` is scored with when its upload names none: its flavor's
    that its library offers, without those that need probabilities when it gives none."""
    module = importlib.import_module(f"{model.library}.metrics")
    offered = metric_names(model.library, model.paradigm)
    chosen = [n for n in model.paradigm.metrics if n in offered]
    if not model.proba and isinstance(model.paradigm, Classification):
        chosen = [n for n in chosen if getattr(getattr(module, n)(), "requires_labels", True)]
    return chosen


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
        chosen = default_metric_names(model) if names is None else names
        unknown = [n for n in chosen if n not in offered]
        if unknown:
            raise BadRequest(f"unknown metric{'s' * (len(unknown) > 1)} {', '.join(unknown)} for a "
                             f"{model.paradigm.name} model: {model.library} offers "
                             f"{', '.join(offered) or 'none'}")
        objs = [getattr(module, name)() for name in chosen]
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
        return {"scored": 0}

    def update(self, x, y, prediction, model):
        """Score one prediction: label metrics get the top class, the others the probabilities."""
        label = _top_label(prediction)
        for metric in self.objs:
            metric.update(y, label if getattr(metric, "requires_labels", True) else prediction)
        self.memory["scored"] = self.memory.get("scored", 0) + 1

    def after_learn(self, model):
        """What scoring does once the model learned (forecasters forecast the next values)."""

    def get(self):
        """``{name: value}``, with ``None`` for a value that is not a finite number yet, and
        for every value before the first prediction was scored (the libraries say MAE 0.0:
        a perfect score for a model that was never tried). Snapshots older than the count
        have no "scored": they scored before, or would not have been kept."""
        if self.memory.get("scored", 1) == 0:
            return {type(m).__name__: None for m in self.objs}
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

    def render_service(self, described, commits, started, **counts):
        """``/metrics``: what was recorded, the models ``described`` (see :func:`_service_gauges`),
        ``commits`` (the store's duration and size histograms) and the process's gauges."""
        seconds, writes = commits
        return self.render(_service_gauges(described, **counts) + process_gauges(started), [
            ("chantilly_commit_duration_seconds", "Time of one group commit to the database.", seconds),
            ("chantilly_commit_writes", "Writes (model calls and others) per group commit.", writes)])

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


def _service_gauges(described, expired, refused, connections, streams):
    """The gauges of the models ``described`` (``[(name, description, metrics, snapshots)]``)
    and of the server as a whole."""
    calls = [({"model": n, "kind": kind}, d[key]) for n, d, _, _ in described
             for kind, key in (("predict", "predictions"), ("learn", "learns"))]
    values = [({"model": n, "metric": metric}, value) for n, _, metrics, _ in described
              for metric, value in metrics.items()]
    return [
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
         [({}, refused)]),
        ("chantilly_open_connections", "Open HTTP connections.", [({}, connections)]),
        ("chantilly_open_streams", "Open event streams.", [({}, streams)]),
    ]


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
# Storage: the write protocol and the operations
# ---------------------------------------------------------------------------------------

#: A model in the catalog: its id (issued by the store, never reused), the name it serves
#: under, its role ('serving', 'challenger' or 'version': a past one kept for a rollback),
#: its version (1, 2, ... per name, in the order of upload) and its description.
Entry = collections.namedtuple("Entry", "id name role version info")


def _description(text):
    """A model's description from the catalog: ``{}`` for a damaged one, which loading the
    model then refuses with the reason, and which can still be listed and deleted."""
    try:
        info = json.loads(text)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


class Store:
    """Where chantilly keeps everything: the catalog of models, each model's snapshot and the
    log of its calls since, stored ids, metrics history and drifts. Callers see only named
    operations (below); the statements are the backend's (:attr:`SQL`, see
    :class:`SQLiteStore`), and nothing outside the store names a table.

    **The write protocol.** A write only queues its statements and returns a *ticket*, an
    int that grows with every write: callers hold a model's lock while they write, and must
    not wait on the disk (or hand the GIL to the database) meanwhile. :meth:`commit` runs
    everything queued so far in one transaction, other callers' writes included (group
    commit), and returns once the caller's ticket is settled. The rule callers rely on:

        a ticket at or below the settled mark is durable, unless it was refused.

    **Refusals are per model name** (a name's serving model, challenger and past versions
    together: the unit a cluster node will own). When the database refuses a write, the batch
    is run again a name at a time, each in a savepoint: only the names whose writes fail are
    refused, with every write of theirs not yet committed; :meth:`refusals_of` grows for
    them, and whoever built state in memory on those writes is *behind* and must rebuild. A
    write says which refusal count its state was built on (``basis``): one built before a
    refusal is refused at once, so nothing built on a refused write is ever committed.
    A failure of the whole transaction (disk full at commit, the file deleted) refuses
    every name that had writes in it. Reads run the queue first, inside the open
    transaction, so they see every write queued before them.
    """

    #: The backend's statements, by operation (see :class:`SQLiteStore`).
    SQL = {}
    #: What the backend raises when it refuses a statement.
    Error = Exception
    #: What ``GET /api/init`` calls this backend, as chantilly 0.2 did.
    kind = "?"
    #: Whether writes are fenced by leases (see PostgresStore._fenced): in a cluster.
    fencing = False
    #: Whether this process is the only writer (nothing changes the rows behind its back).
    sole_writer = False

    def __init__(self):
        self._commit_lock = threading.Lock()  # one committer at a time; the others wait here
        self._conn_lock = threading.Lock()    # guards the connection and its open transaction
        self._lock = threading.Lock()         # guards the queue, tickets and refusals
        self._queued = []    # (ticket, name, sql, params) written but not yet run
        self._pending = []   # the same, run in the open transaction: run again if it is redone
        self._written = 0    # ticket of the last write
        self._settled = 0    # tickets up to here are committed or refused
        self._refused = []   # sorted, disjoint (first, last) ticket ranges of whole refusals
        self._refused_tickets = set()  # tickets of the names refused alone
        self._refusals = collections.Counter()  # name -> times its writes were refused
        self.refusals = 0    # times writes were refused since the store opened, for /metrics
        self._refused_because = ""  # why the last writes were refused, for the callers' message
        # Of the commits, for /metrics; the commit lock guards them (it is held as they change).
        self.commit_seconds, self.commit_writes = Histogram(SECONDS_BUCKETS), Histogram(SIZE_BUCKETS)

    # -- the backend: a connection that runs statements ------------------------------------

    def _execute(self, sql, params=()):
        raise NotImplementedError

    def _execute_many(self, sql, rows):
        raise NotImplementedError

    def _begin(self):
        raise NotImplementedError

    def _in_transaction(self):
        raise NotImplementedError

    def _check_file(self):
        """Raise :class:`FileLost` when committing would be pointless (see SQLiteStore)."""

    def _pipelined(self):
        """A context in which statements are sent without waiting for each one's result."""
        return contextlib.nullcontext()

    def _announce(self, writes):
        """Tell the readers of the log that ``writes`` are about to commit (see PostgresStore)."""

    def _new_model_id(self):
        raise NotImplementedError

    # -- writes: each queues its statements and returns a ticket for commit() -----------

    def _write(self, name, statements, basis=None):
        """Queue ``[(operation, params), ...]`` of the model name ``name`` (None: the catalog's);
        ``basis``: the refusal count of ``name`` the writer's state was built on."""
        with self._lock:
            self._written += 1
            if basis is not None and self._refusals.get(name, 0) != basis:
                self._refused_tickets.add(self._written)  # built on a refused write
            else:
                self._queued.extend((self._written, name, self.SQL[op], params) for op, params in statements)
            return self._written

    def refusals_of(self, name):
        """How many times writes of the model name ``name`` were refused (see ``basis``)."""
        return self._refusals.get(name, 0)  # not [name]: Counter's __missing__ is a Python call

    # -- commit ---------------------------------------------------------------------------

    def commit(self, ticket):
        """Make every write up to ``ticket`` durable; raises :class:`Unavailable` if it was refused.

        The committer takes everything queued so far, other callers' writes included.
        """
        self.settle(ticket)
        if self.refused(ticket):
            raise self.unavailable()

    def settle(self, ticket):
        """Commit or refuse every write up to ``ticket``, raising nothing: see :meth:`refused`."""
        if ticket <= self._settled:  # read without the lock: it only grows
            return
        with self._commit_lock:
            if ticket > self._settled:
                with self._conn_lock:
                    self._commit_queued()

    def refused(self, ticket):
        """Whether the write of a settled ``ticket`` was refused."""
        if not self._refused and not self._refused_tickets:  # never refused (read without the lock)
            return False
        with self._lock:
            if ticket in self._refused_tickets:
                return True
            i = bisect.bisect_right(self._refused, (ticket, math.inf)) - 1
            return i >= 0 and self._refused[i][0] <= ticket <= self._refused[i][1]

    def unavailable(self):
        """The error a caller whose write was refused gets."""
        return Unavailable(f"the database refused the write ({self._refused_because}); "
                           "nothing was changed, retry when storage is available again")

    def _commit_queued(self):
        with self._lock:
            queued, self._queued = self._queued, []
            through = self._written
        started = time.perf_counter()
        try:
            self._check_file()
            if len(queued) == 1 and not self._in_transaction() and not self.fencing:
                # One statement commits itself: one call instead of BEGIN, run, COMMIT (+20%
                # requests/s at 4 connections, where most commits carry a lone log record).
                self._run_alone(queued[0])
            else:
                self._run(queued)
                self._announce(self._pending)
                self._execute("COMMIT")
            self._pending = []
        except (self.Error, FileLost) as e:
            self._fail(e, queued)
            return
        with self._lock:
            self._settled = max(self._settled, through)
        self.commit_seconds.observe(time.perf_counter() - started)
        self.commit_writes.observe(len(queued))

    def _run_alone(self, write):
        try:
            self._execute(write[2], write[3])
        except self.Error as e:
            if write[1] is None:
                raise
            self._refuse({write[1]}, [write], e)

    def _run(self, queued):
        """Run writes in the open transaction (opening one), consecutive same statements as
        one executemany. When the database refuses one, the transaction is run again a name
        at a time (see :meth:`_isolate`). Connection lock held."""
        if not self._in_transaction():
            self._begin()
        if self.fencing:
            queued = self._fence(queued)
        try:
            with self._pipelined():
                for sql, group in itertools.groupby(queued, key=operator.itemgetter(2)):
                    self._execute_many(sql, [w[3] for w in group])
            self._pending += queued
        except self.Error as e:
            self._pending = self._isolate(self._pending + queued, e)

    def _isolate(self, writes, error):
        """Roll back and run ``writes`` again, each name's in a savepoint, the catalog's last:
        refuse the names whose writes fail; returns the writes that stand. Raises when the
        catalog's fail (then everything is refused). Connection lock held."""
        self._rollback()
        self._begin()
        if self.fencing:  # the locks of the first try went with it
            writes = self._fence(writes)
        by_name = {}
        for write in writes:
            by_name.setdefault(write[1], []).append(write)
        catalog, refused = by_name.pop(None, []), set()
        for name, group in by_name.items():
            self._execute("SAVEPOINT one_name")
            try:
                for write in group:
                    self._execute(write[2], write[3])
            except self.Error:
                self._execute("ROLLBACK TO one_name")
                refused.add(name)
            self._execute("RELEASE one_name")
        for write in catalog:
            self._execute(write[2], write[3])
        if refused:
            self._refuse(refused, writes, error)
        return [w for w in writes if w[1] not in refused]

    def _fence(self, writes):
        """``writes`` without those of the names this node no longer owns, which are refused.
        Connection lock held, in the transaction that will commit them."""
        fenced = self._fenced({w[1] for w in writes} - {None})
        if not fenced:
            return writes
        self._refuse(fenced, writes, f"{', '.join(sorted(fenced))}: another node owns it now")
        return [w for w in writes if w[1] not in fenced]

    def _fenced(self, names):
        """The names among ``names`` whose writes must not commit (see PostgresStore)."""
        return set()

    def _refuse(self, names, writes, error):
        """Refuse the names ``names``: their ``writes`` and every later one. Connection lock held."""
        with self._lock:
            self._refused_tickets.update(w[0] for w in writes if w[1] in names)
            self._refused_tickets.update(w[0] for w in self._queued if w[1] in names)
            self._queued = [w for w in self._queued if w[1] not in names]
            self._note_refusal(names, error)

    def _note_refusal(self, names, error):
        self._refusals.update(names)
        self.refusals += 1
        self._refused_because = str(error)
        sys.stderr.write(f"chantilly: storage refused a write of {', '.join(map(repr, sorted(names, key=str)))}: {error}\n")

    def _rollback(self):
        try:
            self._execute("ROLLBACK")
        except self.Error:
            pass  # the database may already have rolled back on its own (e.g. disk full)

    def _flush(self):
        """Run the queue in the open transaction, so a read sees every write. Connection lock held."""
        with self._lock:
            queued, self._queued = self._queued, []
        if queued:
            try:
                self._run(queued)
            except self.Error as e:
                self._fail(e, queued)
                raise self.unavailable() from None

    def _fail(self, error, batch):
        """Roll back: every write not yet committed, queued ones too, is refused (they were made
        on top of the rolled-back ones), and every name they were of. Connection lock held."""
        self._rollback()
        with self._lock:
            names = {w[1] for w in (*self._pending, *batch, *self._queued)} - {None}
            first, last = self._settled + 1, self._written
            if self._refused and self._refused[-1][1] + 1 == first:
                first = self._refused.pop()[0]  # back-to-back refusals: one range, so the list stays short
            if first <= last:
                self._refused.append((first, last))
            self._settled = self._written
            self._queued, self._pending = [], []
            self._note_refusal(names, error)

    def commit_histograms(self):
        """Copies of the commits' duration and size histograms, consistent with each other."""
        with self._commit_lock:
            return self.commit_seconds.copy(), self.commit_writes.copy()

    # -- reads ----------------------------------------------------------------------------

    def _read(self, op, params=(), flush=True):
        """Rows of a query, after every write queued before it (without ``flush``: as the
        database has them, for a caller that knows no queued write changes the answer)."""
        with self._conn_lock:
            if flush:
                self._flush()
            try:
                return self._execute(self.SQL[op], params).fetchall()
            except self.Error as e:
                if self._pending:  # the transaction they were run in is gone with the error
                    self._fail(e, [])
                raise Unavailable(f"the database could not be read: {e}") from None

    # -- the catalog: which models there are (callers serialise its changes) ---------------

    def catalog(self, name=None):
        """``[Entry, ...]`` of every model (of ``name``), by name then version."""
        rows = self._read("catalog") if name is None else self._read("catalog_of", (name,))
        return [Entry(i, n, role, v, _description(info)) for i, n, role, v, info in rows]

    def install(self, name, role, info, state, initial, final=None, keep=None):
        """Add a model as ``name``'s next version, ``role`` 'serving' or 'challenger': the model
        serving it replaces is kept as a past version with ``final`` (its counters and metrics),
        a challenger it replaces is dropped, and past versions beyond the newest ``keep`` go.
        Returns ``(model id, version, ticket)``."""
        entries = self.catalog(name)
        replaced = [e for e in entries if e.role == role]
        statements = (self._retiring(replaced, final) if role == "serving" else
                      [s for e in replaced for s in self._dropping(e.id)])
        model_id = self._new_model_id()
        version = max((e.version for e in entries), default=0) + 1
        statements.append(("insert_model", (model_id, name, role, version, dumps(info), state, initial)))
        past = [e for e in entries if e.role == "version"] + (replaced if role == "serving" else [])
        return model_id, version, self._write(name, statements + self._pruning(past, keep))

    def serve(self, name, model_id, final, keep=None):
        """``model_id`` (a challenger, or a past version of ``name``) serves ``name``; the model
        serving it is kept as a past version with ``final``. Returns a ticket."""
        entries = self.catalog(name)
        serving = [e for e in entries if e.role == "serving"]
        past = [e for e in entries if e.role == "version" and e.id != model_id] + serving
        info = next((dict(e.info) for e in entries if e.id == model_id), {})
        info.pop("final", None)  # it serves again: its counters are live
        return self._write(name, self._retiring(serving, final) + [("serve", (dumps(info), model_id))]
                           + self._pruning(past, keep))

    def drop(self, name, role=None):
        """Remove every model of ``name`` (only its ``role``: 'challenger') with all their rows;
        returns a ticket."""
        return self._write(name, [s for e in self.catalog(name) if role in (None, e.role)
                                  for s in self._dropping(e.id)])

    def _retiring(self, entries, final):
        return [("retire", (dumps(dict(e.info, final=final or {})), e.id)) for e in entries] + \
               [("drop_ids", (e.id,)) for e in entries]  # no call can learn them any more

    def _dropping(self, model_id):
        return [(op, (model_id,)) for op in ("drop_log", "drop_ids", "drop_history", "drop_drifts", "drop_model")]

    def _pruning(self, past, keep):
        if keep is None:
            return []
        past = sorted(past, key=lambda e: e.version, reverse=True)[keep:]
        return [s for e in past for s in self._dropping(e.id)]

    def load(self, model_id):
        """``(info, snapshot bytes, seq, version, initial bytes)`` of a model, or ``None`` when
        it was deleted."""
        rows = self._read("load", (model_id,))
        return (json.loads(rows[0][0]), *rows[0][1:]) if rows else None

    # -- settings of the models as a whole: the default, the flavor, the hash seed ----------

    def setting(self, key):
        """A setting's value, or None."""
        rows = self._read("setting", (key,))
        return rows[0][0] if rows else None

    def put_setting(self, key, value):
        """Queue a setting (None: remove it); returns a ticket."""
        if value is None:
            return self._write(None, [("delete_setting", (key,))])
        return self._write(None, [("put_setting", (key, value))])

    # -- one model's rows (see ModelRows) ------------------------------------------------------

    def append(self, model, seq, body, keep_id=None, drop_id=None):
        """Log the model call ``body`` as record ``seq`` of the model (1, 2, ... without gaps),
        keeping ``(key, body, created)`` under an id or dropping one; returns a ticket.
        ``model``: a :class:`ModelRows`, for its id, name and basis."""
        statements = []
        if drop_id is not None:
            statements.append(("drop_id", (model.id, drop_id)))
        if keep_id is not None:
            statements.append(("keep_id", (model.id, *keep_id, seq)))  # ordered by that seq
        statements.append(("append", (model.id, seq, body)))
        return self._write(model.name, statements, model.basis)

    def log_since(self, model_id, seq):
        """``[(seq, body), ...]`` of a model's calls after ``seq``, in order."""
        return self._read("log_since", (model_id, seq))

    def last_seq(self, model_id):
        """The seq of the model's last log record (its snapshot's when the log is empty)."""
        return self._read("last_seq", (model_id, model_id))[0][0] or 0

    def save_snapshot(self, model, state, seq, history):
        """Replace the snapshot (it includes the log up to ``seq``), drop the log it covers and
        rewrite the history; returns a ticket."""
        statements = [("save_state", (state, seq, model.id)), ("truncate_log", (model.id, seq)),
                      ("drop_history", (model.id,))]
        statements += [("add_history", (model.id, t, n, m)) for t, n, m in history]
        return self._write(model.name, statements, model.basis)

    def read_id(self, model_id, key, flush=True):
        """``(body, created)`` stored under an id (``body`` is "" for a tombstone), or ``None``."""
        rows = self._read("read_id", (model_id, key), flush)
        return rows[0] if rows else None

    def count_ids(self, model_id):
        """Stored ids still waiting for their ground truth (tombstones excluded)."""
        return self._read("count_ids", (model_id,))[0][0]

    def stored_keys(self, model_id, limit):
        """The set of the keys stored under a model (tombstones included), or None when there
        are more than ``limit``."""
        rows = self._read("stored_keys", (model_id, limit + 1))
        return {key for key, in rows} if len(rows) <= limit else None

    def evict_ids(self, model, count):
        """Turn the ``count`` oldest stored ids into tombstones; returns a ticket."""
        return self._write(model.name, [("evict_ids", (model.id, model.id, count))], model.basis)

    def expire_ids(self, model, horizon, keep_tombstones_after):
        """Tombstone the ids stored before ``horizon``, drop tombstones older than
        ``keep_tombstones_after``: ``(ids expired, ticket)``."""
        count = self._read("count_expired", (model.id, horizon))[0][0]
        return count, self._write(model.name, [("expire_ids", (model.id, horizon)),
                                               ("drop_tombstones", (model.id, keep_tombstones_after))], model.basis)

    def add_history(self, model, t, n, metrics):
        """Append one metrics point; returns a ticket."""
        return self._write(model.name, [("add_history", (model.id, t, n, metrics))], model.basis)

    def history(self, model_id):
        """``[(t, n, metrics JSON), ...]`` oldest first."""
        return self._read("history", (model_id,))

    def add_drift(self, model, t, n):
        """Note a drift detected at learn ``n``; returns a ticket."""
        return self._write(model.name, [("add_drift", (model.id, t, n))], model.basis)

    def drifts(self, model_id):
        """``[(t, n), ...]`` of the drifts detected, oldest first."""
        return self._read("drifts", (model_id,))


# ---------------------------------------------------------------------------------------
# Storage: SQLite
# ---------------------------------------------------------------------------------------

#: ``PRAGMA application_id`` of a chantilly database ("chnt"): tells ours from a foreign file.
APPLICATION_ID = 0x63686E74
SCHEMA_VERSION = 3
SCHEMA = """
-- One row per uploaded model: its description and its latest snapshot. The id is what the
-- other tables refer to, so a model replaced while a call on it was still running can never
-- mix that call's rows with its successor's. AUTOINCREMENT: an id is never issued twice.
CREATE TABLE IF NOT EXISTS models (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name    TEXT NOT NULL,
    role    TEXT NOT NULL,     -- 'serving' answers the calls made to its name; 'challenger' sees
                               -- the same calls beside it; 'version' is kept for a rollback
    version INTEGER NOT NULL,  -- 1, 2, ... per name, in the order of upload
    info    TEXT NOT NULL,     -- JSON: class, flavor, library, uploaded_at, options; "final"
                               -- counters and metrics once it stopped serving
    state   BLOB NOT NULL,     -- see pack_state
    initial BLOB NOT NULL,     -- the model as uploaded (what ?on_drift=reset goes back to)
    seq     INTEGER NOT NULL   -- the last of its log records the snapshot includes
);
CREATE UNIQUE INDEX IF NOT EXISTS models_serving ON models (name) WHERE role = 'serving';
CREATE UNIQUE INDEX IF NOT EXISTS models_challenger ON models (name) WHERE role = 'challenger';
-- A name's versions, looked up by every upload, prune and rollback (a scan with 1,000s of models).
CREATE UNIQUE INDEX IF NOT EXISTS models_version ON models (name, version);
-- Model calls since each model's snapshot, replayed in seq order on start: 1, 2, ... per
-- model without gaps (a snapshot's seq counts too), so a reader can tell it missed none, and
-- two writers of one model cannot both commit the same record. One B-tree: a call writes a page.
CREATE TABLE IF NOT EXISTS log (
    model INTEGER NOT NULL,
    seq   INTEGER NOT NULL,
    body  TEXT NOT NULL,     -- JSON: see predict_record and learn_record
    PRIMARY KEY (model, seq)
) WITHOUT ROWID;
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
-- Settings of the served models as a whole: 'default', the model unnamed calls go to;
-- 'flavor', set by POST /api/init; 'hashseed' (see _use_the_databases_hash_seed).
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

# Each upgrade renames the tables it changes, creates the current schema and copies.
# Schema 1 (chantilly 0.1.0) keyed every table by the model's name.
_MIGRATE_FROM_1 = """
ALTER TABLE models RENAME TO models_1;
ALTER TABLE log RENAME TO log_old;
ALTER TABLE pending RENAME TO pending_1;
ALTER TABLE history RENAME TO history_1;
DROP INDEX IF EXISTS pending_created;
DROP INDEX IF EXISTS history_model;
{schema}
INSERT INTO models (id, name, role, version, info, state, initial, seq)
    SELECT seq, name, 'serving', 1, info, state, state, seq FROM models_1;
CREATE TABLE log_ids AS SELECT l.seq, m.id AS model, l.body FROM log_1 l JOIN models m ON m.name = l.model;
INSERT INTO stored_ids (model, id, body, created, seq)
    SELECT m.id, p.id, p.body, p.created, ROW_NUMBER() OVER (ORDER BY p.created)
    FROM pending_1 p JOIN models m ON m.name = p.model;
INSERT INTO history (model, t, n, metrics)
    SELECT m.id, h.t, h.n, h.metrics FROM history_1 h JOIN models m ON m.name = h.model;
DROP TABLE models_1; DROP TABLE pending_1; DROP TABLE history_1;
"""
# Schema 2 (chantilly 0.1.0 until the seams for a second store) numbered log records with
# one counter for every model, shared with the model ids; schema 3 numbers them per model.
_MIGRATE_FROM_2 = """
DROP INDEX IF EXISTS models_serving;
DROP INDEX IF EXISTS models_challenger;
DROP INDEX IF EXISTS models_versions;
ALTER TABLE models RENAME TO models_2;
ALTER TABLE log RENAME TO log_old;
{schema}
INSERT INTO models (id, name, role, version, info, state, initial, seq)
    SELECT id, name, role, version, info, state, initial, seq FROM models_2;
DROP TABLE models_2;
"""
# Both: each model's records since its snapshot become 1, 2, ... (its snapshot's seq 0), and
# stored ids keep their order, before every id stored from now on.
_RENUMBER = """
INSERT INTO log (model, seq, body)
    SELECT l.model, ROW_NUMBER() OVER (PARTITION BY l.model ORDER BY l.seq), l.body
    FROM log_old l JOIN models m ON m.id = l.model WHERE l.seq > m.seq;
UPDATE models SET seq = 0;
UPDATE stored_ids SET seq = seq - (SELECT MAX(seq) FROM stored_ids) - 1;
DROP TABLE log_old;
"""


def _migrate(conn):
    """Bring the file to :data:`SCHEMA_VERSION`: create it, or upgrade an older one, in one
    transaction; then drop rows left by a model replaced while a call on it was running."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version in (1, 2):
        migration = (_MIGRATE_FROM_1 if version == 1 else _MIGRATE_FROM_2).format(schema=SCHEMA)
        if version == 1:  # its log is keyed by name: the ids first, then the common renumbering
            migration = migration.replace("ALTER TABLE log RENAME TO log_old;", "ALTER TABLE log RENAME TO log_1;")
            migration += "ALTER TABLE log_ids RENAME TO log_old; DROP TABLE log_1;"
        conn.executescript("BEGIN;" + migration + _RENUMBER)
    else:
        conn.executescript("BEGIN;" + SCHEMA)  # IF NOT EXISTS: creates what a file lacks, only
    for pragma, value in (("application_id", APPLICATION_ID), ("user_version", SCHEMA_VERSION)):
        if conn.execute(f"PRAGMA {pragma}").fetchone()[0] != value:
            conn.execute(f"PRAGMA {pragma}={value}")
    for table in ("log", "stored_ids", "history", "drifts"):
        conn.execute(f"DELETE FROM {table} WHERE model NOT IN (SELECT id FROM models)")
    conn.execute("COMMIT")


def _drop(table):
    return f"DELETE FROM {table} WHERE model = ?"


#: A call that stores or drops an id writes two rows; through these views one statement
#: writes both (their triggers run in SQLite), so a lone call commits itself without BEGIN
#: and COMMIT: three fewer calls into SQLite, each of which hands the GIL to another
#: thread. Temporary: they live with the connection, never in the file.
_CALL_VIEWS = """
CREATE TEMP VIEW call_keeping_id (model, seq, body, id, kept, created) AS
    SELECT NULL, NULL, NULL, NULL, NULL, NULL;
CREATE TEMP TRIGGER call_keeping_id INSTEAD OF INSERT ON call_keeping_id BEGIN
    INSERT OR REPLACE INTO stored_ids (model, id, body, created, seq)
        VALUES (NEW.model, NEW.id, NEW.kept, NEW.created, NEW.seq);
    INSERT INTO log (model, seq, body) VALUES (NEW.model, NEW.seq, NEW.body);
END;
CREATE TEMP VIEW call_dropping_id (model, seq, body, id) AS SELECT NULL, NULL, NULL, NULL;
CREATE TEMP TRIGGER call_dropping_id INSTEAD OF INSERT ON call_dropping_id BEGIN
    DELETE FROM stored_ids WHERE model = NEW.model AND id = NEW.id;
    INSERT INTO log (model, seq, body) VALUES (NEW.model, NEW.seq, NEW.body);
END;
"""


def open_store(db, sync="normal"):
    """The store ``db`` names: a ``postgresql://`` URL, else an SQLite file's path."""
    return store_class(db)(str(db) if store_class(db) is PostgresStore else db, sync)


def store_class(db):
    """:class:`PostgresStore` for a ``postgresql://`` (or ``postgres://``) URL, else :class:`SQLiteStore`."""
    return PostgresStore if str(db).startswith(("postgresql://", "postgres://")) else SQLiteStore


class SQLiteStore(Store):
    """The embedded store: one SQLite file (``--db chantilly.db``), opened by one server
    at a time, its commits appended to a write-ahead log."""

    Error = sqlite3.Error
    kind = "sqlite"
    sole_writer = True  # the file is opened by one server at a time (see _claim)
    SQL = {
        # the catalog
        "catalog": "SELECT id, name, role, version, info FROM models ORDER BY name, version",
        "catalog_of": "SELECT id, name, role, version, info FROM models WHERE name = ? ORDER BY version",
        "insert_model": "INSERT INTO models (id, name, role, version, info, state, initial, seq) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        "retire": "UPDATE models SET role = 'version', info = ? WHERE id = ?",
        "serve": "UPDATE models SET role = 'serving', info = ? WHERE id = ?",
        "load": "SELECT info, state, seq, version, initial FROM models WHERE id = ?",
        "drop_model": "DELETE FROM models WHERE id = ?",
        "drop_log": _drop("log"), "drop_ids": _drop("stored_ids"),
        "drop_history": _drop("history"), "drop_drifts": _drop("drifts"),
        "setting": "SELECT value FROM meta WHERE key = ?",
        "put_setting": "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        "delete_setting": "DELETE FROM meta WHERE key = ?",
        # one model's log and snapshot
        "append": "INSERT INTO log (model, seq, body) VALUES (?, ?, ?)",
        "append_keeping_id": "INSERT INTO call_keeping_id (model, seq, body, id, kept, created) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
        "append_dropping_id": "INSERT INTO call_dropping_id (model, seq, body, id) VALUES (?, ?, ?, ?)",
        "log_since": "SELECT seq, body FROM log WHERE model = ? AND seq > ? ORDER BY seq",
        "last_seq": "SELECT MAX(s) FROM (SELECT seq AS s FROM models WHERE id = ? "
                    "UNION ALL SELECT MAX(seq) FROM log WHERE model = ?) AS seqs",
        "save_state": "UPDATE models SET state = ?, seq = ? WHERE id = ?",
        "truncate_log": "DELETE FROM log WHERE model = ? AND seq <= ?",
        # its stored ids
        "keep_id": "INSERT OR REPLACE INTO stored_ids (model, id, body, created, seq) VALUES (?, ?, ?, ?, ?)",
        "drop_id": "DELETE FROM stored_ids WHERE model = ? AND id = ?",
        "read_id": "SELECT body, created FROM stored_ids WHERE model = ? AND id = ?",
        "stored_keys": "SELECT id FROM stored_ids WHERE model = ? LIMIT ?",
        "count_ids": "SELECT COUNT(*) FROM stored_ids WHERE model = ? AND body != ''",
        "evict_ids": "UPDATE stored_ids SET body = '' WHERE model = ? AND id IN (SELECT id FROM "
                     "stored_ids WHERE model = ? AND body != '' ORDER BY seq LIMIT ?)",
        "count_expired": "SELECT COUNT(*) FROM stored_ids WHERE model = ? AND body != '' AND created < ?",
        "expire_ids": "UPDATE stored_ids SET body = '' WHERE model = ? AND body != '' AND created < ?",
        "drop_tombstones": "DELETE FROM stored_ids WHERE model = ? AND body = '' AND created < ?",
        # its charts
        "add_history": "INSERT INTO history (model, t, n, metrics) VALUES (?, ?, ?, ?)",
        "history": "SELECT t, n, metrics FROM history WHERE model = ? ORDER BY t",
        "add_drift": "INSERT INTO drifts (model, t, n) VALUES (?, ?, ?)",
        "drifts": "SELECT t, n FROM drifts WHERE model = ? ORDER BY t",
    }

    def __init__(self, path, sync="normal"):
        super().__init__()
        self.path = str(path)
        self._claim = _claim(self.path)  # held until close: one server per path
        self._conn = self._open(sync)
        # The files opened (the database and its write-ahead log): see _check_file.
        self._identity = [_identity(os.stat(self.path + suffix)) for suffix in ("", "-wal")]
        # Model ids: AUTOINCREMENT's counter, read once (the file is this process's alone),
        # handed out here so an upload queues its row like any write. Guarded by _lock.
        self._model_id = self._conn.execute(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'models'), 0), "
            "COALESCE((SELECT MAX(id) FROM models), 0))").fetchone()[0]

    def _new_model_id(self):
        with self._lock:
            self._model_id += 1
            return self._model_id

    def _execute(self, sql, params=()):
        return self._conn.execute(sql, params)

    def _execute_many(self, sql, rows):
        self._conn.executemany(sql, rows)

    def append(self, model, seq, body, keep_id=None, drop_id=None):
        """See :meth:`Store.append`: a call that stores or drops an id is one statement
        (see ``_CALL_VIEWS``)."""
        if keep_id is not None and drop_id is None:
            return self._write(model.name, [("append_keeping_id", (model.id, seq, body, *keep_id))], model.basis)
        if drop_id is not None and keep_id is None:
            return self._write(model.name, [("append_dropping_id", (model.id, seq, body, drop_id))], model.basis)
        return super().append(model, seq, body, keep_id, drop_id)

    def _begin(self):
        self._conn.execute("BEGIN")

    def _in_transaction(self):
        return self._conn.in_transaction

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
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={2 * WAL_PAGES * 4 * KiB}")  # after a huge commit
            _migrate(conn)
            conn.executescript(_CALL_VIEWS)
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

    @staticmethod
    def stored_hash_seed(path):
        """The string-hash seed kept in the database at ``path`` (see main), or None: no file,
        none stored yet, or a file that is not readable as chantilly's (opening it says why).
        Read before the store opens: the process restarts with it first."""
        try:
            _check_database_file(path)
            if not os.path.exists(path):
                return None
            with read_only(path) as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'hashseed'").fetchone()
        except (sqlite3.Error, StoreError):
            return None
        return row[0] if row else None

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
        for claim in self._claim or ():
            claim.close()

    def _check_file(self):
        """Raise :class:`FileLost` when the path no longer names the file this store holds
        open (deleted, or another file moved over it): a commit would then go to a file
        that nobody will ever read again, and the next start would serve another file's models.
        The write-ahead log likewise: deleted, the commits since the last checkpoint would be
        lost at the next crash. Two stats per commit (a microsecond each), under the commit lock."""
        for suffix, opened in zip(("", "-wal"), self._identity):
            try:
                identity = _identity(os.stat(self.path + suffix))
            except FileNotFoundError:
                raise FileLost(f"{self.path + suffix} was deleted while the server ran; writes are "
                               "refused from now on: restart the server") from None
            except OSError:
                return  # cannot tell (a permission changed on the folder): SQLite will say
            if identity != opened:
                raise FileLost(f"{self.path + suffix} was replaced by another file while the server ran; "
                               "writes are refused from now on: restart the server")


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
    """Claim ``path`` for this process: abstract Unix sockets named after the absolute path and
    after the file (device, inode), which the kernel frees when the process dies (even by
    kill -9). SQLite's lock is on the file and only while it is open, so a server started on
    the same path after the file was deleted or replaced, or on a hard link of it after a
    crash, would not see it. Linux only: elsewhere (None) SQLite's lock alone guards. Raises
    :class:`StoreError` when another process holds either."""
    if not sys.platform.startswith("linux"):
        return None
    names = [os.path.realpath(path)]
    with contextlib.suppress(OSError):  # and the file itself, whatever hard link names it
        names.append("%d:%d" % _identity(os.stat(path)))
    claims = []
    for name in names:
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        claims.append(claim)
        try:
            claim.bind("\0chantilly-db-" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest())
        except OSError:
            for held in claims:
                held.close()
            raise StoreError(f"{path} is in use by another chantilly server") from None
    return claims


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
# Storage: PostgreSQL
# ---------------------------------------------------------------------------------------

#: The tables of a PostgreSQL store, in a schema of their own so that they never meet the
#: tables of the database they share. The same rows as SQLite's (see SCHEMA), with the
#: types that hold: BIGINT ids and seqs, DOUBLE PRECISION times, log bodies as TEXT (jsonb
#: would refuse the "\u0000" the encoder writes for a NUL in a feature name).
PG_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS chantilly;
CREATE TABLE IF NOT EXISTS chantilly.models (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
    version BIGINT NOT NULL, info TEXT NOT NULL, state BYTEA NOT NULL, initial BYTEA NOT NULL,
    seq BIGINT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS models_serving ON chantilly.models (name) WHERE role = 'serving';
CREATE UNIQUE INDEX IF NOT EXISTS models_challenger ON chantilly.models (name) WHERE role = 'challenger';
CREATE UNIQUE INDEX IF NOT EXISTS models_version ON chantilly.models (name, version);
CREATE TABLE IF NOT EXISTS chantilly.log (
    model BIGINT NOT NULL, seq BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (model, seq));
CREATE TABLE IF NOT EXISTS chantilly.stored_ids (
    model BIGINT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
    seq BIGINT NOT NULL, PRIMARY KEY (model, id));
CREATE INDEX IF NOT EXISTS stored_ids_order ON chantilly.stored_ids (model, seq);
CREATE TABLE IF NOT EXISTS chantilly.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chantilly.drifts (model BIGINT NOT NULL, t DOUBLE PRECISION NOT NULL, n BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS chantilly.history (
    model BIGINT NOT NULL, t DOUBLE PRECISION NOT NULL, n BIGINT NOT NULL, metrics TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_model ON chantilly.history (model, t);
-- A cluster: who owns each model name until when (the database's clock), and the nodes.
-- The epoch (read FOR SHARE by every write) and the expiry (renewed every few seconds) in two
-- tables: a renewal never waits for this node's own write transactions.
CREATE TABLE IF NOT EXISTS chantilly.leases (name TEXT PRIMARY KEY, node TEXT, url TEXT, epoch BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS chantilly.lease_expiry (name TEXT PRIMARY KEY, expires DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS chantilly.nodes (
    node TEXT PRIMARY KEY, url TEXT NOT NULL, seen DOUBLE PRECISION NOT NULL, versions TEXT NOT NULL,
    lags TEXT NOT NULL);
"""
_NOW = "EXTRACT(EPOCH FROM clock_timestamp())"


class PostgresStore(Store):
    """``--db postgresql://user@host:port/dbname``: the store on a PostgreSQL database,
    for those who run one already (backups, replication and monitoring come with it).
    psycopg 3 is imported only here. Several servers may share one: each is a node of a
    cluster (see :class:`Node`), and owns the models whose leases it holds."""

    kind = "postgresql"
    SQL = {op: sql.replace("?", "%s") for op, sql in SQLiteStore.SQL.items()
           if op not in ("append_keeping_id", "append_dropping_id")}  # SQLite's temporary views
    SQL.update({
        "put_setting": "INSERT INTO meta (key, value) VALUES (%s, %s) "
                       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        "keep_id": "INSERT INTO stored_ids (model, id, body, created, seq) VALUES (%s, %s, %s, %s, %s) "
                   "ON CONFLICT (model, id) DO UPDATE SET body = EXCLUDED.body, created = EXCLUDED.created, "
                   "seq = EXCLUDED.seq",
        # the cluster's leases and nodes
        "heartbeat": f"INSERT INTO nodes (node, url, seen, versions, lags) VALUES (%s, %s, {_NOW}, %s, %s) "
                     "ON CONFLICT (node) DO UPDATE SET url = EXCLUDED.url, seen = EXCLUDED.seen, "
                     "versions = EXCLUDED.versions, lags = EXCLUDED.lags",
        "nodes": f"SELECT node, url, versions, lags FROM nodes WHERE seen > {_NOW} - %s ORDER BY node",
        "leases": f"SELECT l.name, l.node, l.url, l.epoch, e.expires - {_NOW} FROM leases l "
                  "JOIN lease_expiry e ON e.name = l.name ORDER BY l.name",
        "lease_row": "WITH made AS (INSERT INTO leases (name, node, url, epoch) VALUES (%s, NULL, NULL, 0) "
                     "ON CONFLICT (name) DO NOTHING) INSERT INTO lease_expiry (name, expires) VALUES (%s, 0) "
                     "ON CONFLICT (name) DO NOTHING",
        # One statement: the epoch grows (waiting for the former owner's open write, which read
        # it FOR SHARE) and the expiry moves, or neither.
        "take": f"WITH taken AS (UPDATE leases l SET node = %s, url = %s, epoch = l.epoch + 1 FROM lease_expiry e "
                f"WHERE l.name = %s AND e.name = l.name AND (l.node IS NULL OR e.expires < {_NOW} "
                f"OR (l.url = %s AND l.node != %s)) RETURNING l.name, l.epoch) "
                f"UPDATE lease_expiry e SET expires = {_NOW} + %s FROM taken WHERE e.name = taken.name "
                "RETURNING taken.epoch",
        "renew": f"UPDATE lease_expiry e SET expires = {_NOW} + %s FROM leases l WHERE l.name = e.name "
                 f"AND l.node = %s AND e.expires > {_NOW} RETURNING e.name, l.epoch",
        "release": "WITH gone AS (UPDATE leases SET node = NULL, url = NULL WHERE node = %s AND name = ANY(%s) "
                   "RETURNING name) UPDATE lease_expiry e SET expires = 0 FROM gone WHERE e.name = gone.name",
        "fence": "SELECT name, node, epoch FROM leases WHERE name = ANY(%s) FOR SHARE",
    })

    def __init__(self, dsn, sync="normal"):
        super().__init__()
        self.path = _without_password(dsn)  # what messages name: never the password
        self._dsn, self._sync, self._ttl = dsn, sync, 10.0
        psycopg = _import_psycopg()
        self.Error = psycopg.Error
        self._idle = psycopg.pq.TransactionStatus.IDLE
        try:
            self._conn = self._connect()
        except self.Error as e:
            reason = str(e).strip()
            raise StoreError(reason if "in use" in reason else f"cannot connect to {self.path}: {reason}") from None
        try:
            for statement in filter(None, (s.strip() for s in PG_SCHEMA.split(";\n"))):
                self._conn.execute(statement)
            for table in ("log", "stored_ids", "history", "drifts"):
                self._conn.execute(f"DELETE FROM {table} WHERE model NOT IN (SELECT id FROM models)")
        except self.Error as e:
            self._conn.close()
            raise StoreError(f"cannot set up {self.path}: {e}") from None

    def _connect(self):
        """A session on the database holding the server's lock; raises :attr:`Error`."""
        import psycopg
        conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        conn.execute("SET search_path TO chantilly, public")
        # --sync normal: a commit is acknowledged before its WAL reaches the disk (survives a
        # crash of chantilly, not of the database server); full: after (survives both).
        conn.execute("SET synchronous_commit TO " + ("on" if self._sync == "full" else "off"))
        # A node stopped inside a transaction must not hold its rows (and the leases it read
        # FOR SHARE) longer than a lease: a takeover waits for that transaction to end.
        conn.execute(f"SET idle_in_transaction_session_timeout TO '{max(1, int(self._ttl * 1000))}ms'")
        conn.execute("SET lock_timeout TO '5s'")  # a lease never waits longer than that
        return conn

    @staticmethod
    def stored_hash_seed(dsn):
        """The string-hash seed kept in the database (see SQLiteStore.stored_hash_seed), or None."""
        import psycopg
        try:
            with psycopg.connect(dsn, connect_timeout=10) as conn:
                row = conn.execute("SELECT value FROM chantilly.meta WHERE key = 'hashseed'").fetchone()
        except psycopg.Error:
            return None
        return row[0] if row else None

    def _new_model_id(self):
        with self._conn_lock:
            return self._execute("SELECT nextval(pg_get_serial_sequence('chantilly.models', 'id'))").fetchone()[0]

    def _execute(self, sql, params=()):
        if self._conn.closed:  # the database restarted, or ended an idle transaction
            self._conn = self._connect()
            if self._pending:  # they were in the transaction that ended: never committed
                raise self.Error("the connection to the database was lost with writes in flight")
        return self._conn.execute(sql, params or None)

    def _execute_many(self, sql, rows):
        with self._conn.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _begin(self):
        self._execute("BEGIN")

    def _pipelined(self):
        # A batch's statements in one round trip, not one each: the seed workflow's alternate
        # stored-id and log writes cannot be grouped into executemany runs.
        return self._conn.pipeline()

    def _announce(self, writes):
        """One NOTIFY per commit that logged calls, ``name:seq,...``: it wakes the nodes that
        follow those models (NOTIFY takes a lock at commit, so never one per call)."""
        if not self.fencing:
            return
        last = {}
        for write in writes:
            if write[2] == self.SQL["append"]:
                last[write[1]] = write[3][1]
        if last:
            payload = ",".join(f"{name}:{seq}" for name, seq in last.items())[:7900]
            self._execute("SELECT pg_notify('chantilly_log', %s)", (payload,))

    def wait_for_log(self, timeout):
        """Wait at most ``timeout`` seconds for a NOTIFY of logged calls; returns the names
        announced (empty: none came, or the listening session was lost and is made again)."""
        try:
            if self._listener is None or self._listener.closed:
                self._listener = self._connect()
                self._listener.execute("LISTEN chantilly_log")
            names = set()
            for note in self._listener.notifies(timeout=timeout, stop_after=1):
                names.update(part.rpartition(":")[0] for part in note.payload.split(","))
            return names
        except self.Error:
            self._listener = None
            return set()

    def _in_transaction(self):
        return not self._conn.closed and self._conn.info.transaction_status != self._idle

    # -- a cluster: leases of model names, fenced writes, nodes (this store only) -----------

    def join(self, node, url, ttl):
        """Take part in the cluster as ``node`` (answering at ``url``), on a session of its own:
        leases and heartbeats never wait behind a group commit. ``ttl``: seconds a lease
        lasts without renewal, judged by the database's clock."""
        self.node, self._ttl = node, ttl
        self._epochs = {}  # name -> the epoch of our lease on it; read by commits (see _fenced)
        self._listener = None  # the session that LISTENs for logged calls (see wait_for_log)
        self._lease_conn = self._connect()
        self._lease_lock = threading.Lock()
        with self._conn_lock:  # a paused owner's open transaction ends within a lease
            self._execute(f"SET idle_in_transaction_session_timeout TO '{max(1, int(ttl * 1000))}ms'")
        self.fencing = True

    def _lease_query(self, sql, params=()):
        with self._lease_lock:
            if self._lease_conn.closed:
                self._lease_conn = self._connect()
            cursor = self._lease_conn.execute(sql, params or None)
            return cursor.fetchall() if cursor.description else []

    def heartbeat(self, url, versions, lags):
        """Say this node is alive (where, with which libraries, how far behind the owners of
        the models it follows: JSON)."""
        self._lease_query(self.SQL["heartbeat"], (self.node, url, versions, lags))

    def nodes(self):
        """``{node: (url, versions, lags)}`` of the nodes seen within a lease."""
        return {node: (u, v, json.loads(g)) for node, u, v, g in self._lease_query(self.SQL["nodes"], (self._ttl,))}

    def leases(self):
        """``{name: (node, url, epoch, seconds left)}`` of every lease."""
        return {name: rest for name, *rest in self._lease_query(self.SQL["leases"])}

    def take(self, name, url):
        """Take the lease of ``name`` when nobody holds it (free, released or expired); returns
        True when this node now owns it. Its epoch grows: the former owner's writes are fenced
        out from the moment this commits (see :meth:`_fenced`)."""
        self._lease_query(self.SQL["lease_row"], (name, name))
        # A lease held at this node's own address is its former self's, dead since this one
        # bound the address: taken back at once (fencing keeps it safe either way).
        rows = self._lease_query(self.SQL["take"], (self.node, url, name, url or None, self.node, self._ttl))
        if rows:
            self._epochs[name] = rows[0][0]
        return bool(rows)

    def renew(self):
        """Extend every lease this node holds; returns the names it still holds (a lease it
        lost is forgotten: its writes are refused from now on)."""
        held = {name: epoch for name, epoch in self._lease_query(self.SQL["renew"], (self._ttl, self.node))}
        for name in list(self._epochs):
            if held.get(name) != self._epochs[name]:
                self._epochs.pop(name, None)
        return set(self._epochs)

    def release(self, names=None):
        """Give up leases (all of them by default), so that another node takes them at once."""
        names = list(self._epochs) if names is None else list(names)
        for name in names:
            self._epochs.pop(name, None)
        if names:
            self._lease_query(self.SQL["release"], (self.node, names))

    def _fenced(self, names):
        """The names among ``names`` whose writes this transaction must not commit: their
        lease is not ours, at the epoch we took it. Read FOR SHARE inside the transaction, so a
        takeover waits for it to end, and a paused owner resumed after one writes nothing."""
        if not self.fencing or not names:
            return set()
        rows = self._execute(self.SQL["fence"], (list(names),)).fetchall()
        held = {name for name, node, epoch in rows if node == self.node and self._epochs.get(name) == epoch}
        return set(names) - held

    def close(self):
        """Commit what is queued and close the connections."""
        with self._conn_lock:
            try:
                self._flush()
                if self._in_transaction():
                    self._execute("COMMIT")
            except (self.Error, Unavailable):
                pass  # never acknowledged; every acknowledged call is already in the log
            self._conn.close()
        if self.fencing:
            self._lease_conn.close()
            if self._listener is not None:
                self._listener.close()


def _import_psycopg():
    try:
        import psycopg
    except ImportError:
        raise StoreError('a postgresql:// database needs psycopg 3: pip install "psycopg[binary]"') from None
    return psycopg


def _without_password(dsn):
    """``dsn`` with its password (if any) masked, for messages and logs."""
    parts = urllib.parse.urlsplit(dsn)
    if parts.password is None:
        return dsn
    return parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@", 1)).geturl()


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
    """The bytes of a snapshot: pickle's when it takes the state, else dill's (both load with
    :func:`deserialize`). dill's pickler is pure Python: a 32 MiB creme pipeline took 32 s
    under the model's lock, where pickle's C one takes a tenth of that."""
    state = {"model": model_obj, "metrics": metrics.objs, "scoring": metrics.memory,
             "drift": metrics.detector, "predictions": predictions, "learns": learns}
    try:
        return pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
    except Exception:  # lambdas, closures, locks: what only dill saves
        return serialize(state)


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


def learn_record(x, y, prediction, fresh, xs=None):
    """The log record of a learn; ``fresh``: the learn made its prediction itself; ``xs``: the
    features' JSON when it was encoded already (the record is then the same text, spliced)."""
    if xs is None:
        return _store_encoder.encode({"x": x, "y": y, "p": encode_prediction(prediction), "f": int(fresh)})
    return '{"x":' + xs + ',"y":' + scalar_json(y) + ',"p":' + _prediction_json(prediction) + ',"f":' + str(int(fresh)) + '}'


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
    return '{"x":' + xs + ',"p":' + _prediction_json(prediction) + '}'


def _prediction_json(prediction):
    """``encode_prediction(prediction)``'s JSON."""
    if isinstance(prediction, dict):
        return _store_encoder.encode(encode_prediction(prediction))
    return '{"v":' + scalar_json(prediction) + '}'


#: Stored ids written through a ModelRows it remembers, so that reading one back needs no
#: query (a read first runs every queued write: the group commit would degrade to one flush
#: per call). Beyond this many it forgets them all; the store has them by then.
RECENT_IDS = 20_000
#: Bytes of memory the keys of one model's stored ids may take, when a ModelRows keeps all of
#: them (the store has no other writer): within it (100,000 short ids), a new id is known to
#: be new without a query. Counted as the key's length plus KEY_BYTES of Python's own.
KNOWN_IDS_BYTES = 8 * MiB
KEY_BYTES = 80


class ModelRows:
    """One stored model's handle on the :class:`Store`: its id, the name its writes are
    refused under, and the refusal count its state in memory was built on (``basis``).

    The caller (a :class:`Deployment`) holds its own lock, so the rows of one model change
    in the order of its calls; writes return the store's tickets.
    """

    def __init__(self, store, model_id, name):
        self.store, self.id, self.name = store, model_id, name.partition("@")[0]
        self.basis = store.refusals_of(self.name)
        # key -> (body, created) or (None, None) once dropped: what was written, as the store
        # will read it. Cleared whenever the store changes ids behind it (eviction, expiry) or
        # writes may have been refused (see Deployment._restore). While _complete, it holds
        # every queued write of a stored id, so a key it lacks is read without running the
        # queue. The model's lock guards both.
        self._recent, self._complete = {}, False
        # Every key with a row (queued writes included; one whose row went since may linger),
        # or None when not known: a key it lacks has no row, so a new id needs no query (which
        # waited for the commit in progress under the model's lock: a fifth of the server's
        # CPU per prediction with a new id at 4 connections, bench/ab.py). Known only where
        # this process is the store's one writer, within KNOWN_IDS_BYTES; taken again from
        # the store when rebuilt, and at an expiry sweep (which drops rows it does not name)
        # once they take half of it.
        self._keys, self._keys_bytes = None, 0

    def rebuilt(self):
        """State is being rebuilt from the store: it includes every refusal so far."""
        self.basis = self.store.refusals_of(self.name)
        self.forget_recent()
        self._know_keys()

    def fresh(self):
        """The model was just uploaded: no id is stored under it (ids are never reused)."""
        self._keys, self._keys_bytes = (set(), 0) if self.store.sole_writer else (None, 0)

    def _know_keys(self):
        """Take the keys stored under the model from the store (after every queued write)."""
        keys = self.store.stored_keys(self.id, KNOWN_IDS_BYTES // KEY_BYTES) if self.store.sole_writer else None
        size = sum(map(len, keys)) + KEY_BYTES * len(keys) if keys is not None else 0
        self._keys, self._keys_bytes = (keys, size) if size <= KNOWN_IDS_BYTES else (None, 0)

    def behind(self):
        """Whether writes the state in memory was built on were refused since."""
        return self.store.refusals_of(self.name) != self.basis

    def load(self):
        return self.store.load(self.id)

    def log_since(self, seq):
        return self.store.log_since(self.id, seq)

    def append(self, seq, body, store_id=None, drop_id=None):
        """Log model call ``seq``, storing ``(key, body, created)`` under an id or dropping one;
        returns a ticket."""
        if len(self._recent) > RECENT_IDS:
            self.forget_recent()
        if drop_id is not None:
            self._recent[drop_id] = (None, None)
        if store_id is not None:
            self._recent[store_id[0]] = store_id[1:]
        if self._keys is not None:
            self._track_keys(store_id[0] if store_id is not None else None, drop_id)
        return self.store.append(self, seq, body, store_id, drop_id)

    def _track_keys(self, kept, dropped):
        if dropped in self._keys:
            self._keys.remove(dropped)
            self._keys_bytes -= len(dropped) + KEY_BYTES
        if kept is not None and kept not in self._keys:
            self._keys.add(kept)
            self._keys_bytes += len(kept) + KEY_BYTES
            if self._keys_bytes > KNOWN_IDS_BYTES:
                self._keys, self._keys_bytes = None, 0  # looked up as they come, until the next sweep

    def forget_recent(self):
        """Read stored ids from the store again, after running the queue (it changed them
        behind our back, or writes were refused)."""
        self._recent.clear()
        self._complete = False

    def find_id(self, key):
        """``(body, created)`` stored under an id (``body`` is "" for a tombstone), or ``None``."""
        if key in self._recent:
            body, created = self._recent[key]
            return None if body is None else (body, created)
        if self._keys is not None and key not in self._keys:
            return None
        row = self.store.read_id(self.id, key, flush=not self._complete)
        self._complete = True  # the queue ran, or nothing in it was about ids we do not know
        return row

    def count_ids(self):
        return self.store.count_ids(self.id)

    def evict(self, count):
        self.forget_recent()
        return self.store.evict_ids(self, count)

    def expire(self, horizon, keep_tombstones_after):
        self.forget_recent()
        expired = self.store.expire_ids(self, horizon, keep_tombstones_after)
        if self._keys is None or self._keys_bytes > KNOWN_IDS_BYTES // 2:
            # Rows of old tombstones went: their keys would fill the budget by and by (a
            # read of all keys, so not while they are few), or it may fit again.
            self._know_keys()
        return expired

    def save_snapshot(self, state, seq, history):
        return self.store.save_snapshot(self, state, seq, history)

    def add_history(self, t, n, metrics):
        return self.store.add_history(self, t, n, metrics)

    def add_drift(self, t, n):
        return self.store.add_drift(self, t, n)

    def drifts(self):
        return self.store.drifts(self.id)

    def history(self):
        return self.store.history(self.id)


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
        """Queue ``items`` before everything queued (a new subscriber's recent events), the
        newest of them that fit in what is left of the backlog."""
        with self._cond:
            room, kept = self._backlog - self._bytes, []
            for item in reversed(items):
                if len(item) > room:
                    break
                room -= len(item)
                kept.append(item)
            self._items.extendleft(kept)
            self._bytes = self._backlog - room
            self._cond.notify()

    def close(self):
        """End the subscription; a waiting :meth:`take` wakes up at once."""
        with self._cond:
            self.closed = True
            self._items.clear()
            self._cond.notify_all()


class PlainEvent:
    """The common event of a call (one finite number answered, the features' JSON written
    for the log already), kept as its parts and written out only when read: by a subscriber
    as it is published, or by a dashboard asking for the recent ones. Most are never read,
    and building and framing each one cost about 5% of a request (bench/budget.py)."""

    __slots__ = ("model", "size", "_parts", "_message")

    def __init__(self, t, model, xs, prediction, y, key):
        self.model, self._parts, self._message = model, (t, xs, prediction, y, key), None
        # At least what it will take once framed, to bound the recent events in bytes unwritten.
        self.size = 160 + len(model) + len(xs) + len(key or "") + (len(y) if type(y) is str else 0)

    def message(self, name):
        """The server-sent event ``name`` of this data, framed once and then shared (by every
        subscriber, and every newcomer asking for the recent ones). Thread-safe."""
        message = self._message
        if message is None:
            parts = self._parts
            if parts is None:  # framed meanwhile by another thread
                return self._message
            t, xs, prediction, y, key = parts
            text = f'{{"t":{t!r},"model":"{self.model}","features":{xs},"prediction":{prediction!r}'
            if y is not _NO_LABEL:
                text += ',"ground_truth":' + scalar_json(y)
            if key is not None:
                text += ',"id":' + key  # the id's JSON (see check_id)
            message = self._message = sse_message(text + "}", name)
            self._parts = None  # kept once, framed
        return message


_NO_LABEL = object()  # a PlainEvent's label when the call was a prediction


def _model_of(event):
    return event.model if type(event) is PlainEvent else event["model"]


def _kept_unread(events):
    """Of ``events`` ``(topic, name, data)`` published while nobody listens, those the event
    bus would keep: the last RECENT_EVENTS of each model's (the others, forgotten as soon as
    kept, cost a stream of calls about 7% of its time). A stream that subscribes while they
    are published may miss some: of calls that were over before it came, as ?recent= gives."""
    kept, counts = [], collections.Counter()
    for event in reversed(events):
        if event[0] == "events":
            model = _model_of(event[2])
            if counts[model] < RECENT_EVENTS:
                counts[model] += 1
                kept.append(event)
    return kept[::-1]


def _framed(name, data):
    """The server-sent event ``name`` of ``data`` (framed already when bytes)."""
    if type(data) is bytes:
        return data
    return data.message(name) if type(data) is PlainEvent else sse_message(dumps(data), name)


def _newest_framed(items, room):
    """Kept ``(order, name, data)`` items framed from the newest back, as many as fit in
    ``room`` bytes (a newcomer's backlog: the dashboard asks for 50 of each model's)."""
    framed = []
    for _, name, data in reversed(items):
        message = _framed(name, data)
        room -= len(message)
        if room < 0:
            break
        framed.append(message)
    return framed[::-1]


def _size(data):
    return data.size if type(data) is PlainEvent else len(data)


class EventBus:
    """Fan-out of server-sent events to the subscribers of a topic, framed once and only when
    someone listens. The last :data:`RECENT_EVENTS` events of the topics a publisher says to
    keep are remembered, so a dashboard opened now can show the traffic before it."""

    def __init__(self, max_subscribers=Settings.max_streams, backlog=Settings.stream_backlog):
        self._lock = threading.Lock()  # guards _topics, _subscribers, _recent and _closed
        self._topics = collections.defaultdict(list)
        self._recent = {}  # topic -> deque of (order kept, name, framed message or PlainEvent)
        self._recent_bytes = {}  # topic -> bytes its recent events take
        self._published = 0  # events kept so far
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
            past = self._past(topic, recent) if recent > 0 else []
        if past:  # framed out of the lock (publishers wait for it); live events stay after them
            sub.prepend(_newest_framed(past, self.backlog))
        return sub

    def _past(self, topic, recent):
        """The ``recent`` last kept events of ``topic``; of a topic that kept none but whose
        subtopics (``events:<model>``) did, each one's last ``recent``, oldest first (so a
        model that was quiet lately still shows its events beside a busy one). Lock held."""
        if topic in self._recent:
            return list(self._recent[topic])[-recent:]
        prefix = topic + ":"
        merged = [item for key, kept in self._recent.items() if key.startswith(prefix)
                  for item in list(kept)[-recent:]]
        return sorted(merged, key=operator.itemgetter(0))

    def _keep(self, topic, order, name, data):
        """Remember an event among the topic's recent ones, at most RECENT_EVENTS of them and
        RECENT_BYTES in all (the oldest go first; one bigger than that is not kept): framed
        messages, or PlainEvents framed when read. Lock held."""
        kept = self._recent.get(topic)
        if kept is None:
            kept = self._recent[topic] = collections.deque()
            self._recent_bytes[topic] = 0
        size = self._recent_bytes[topic] + _size(data)
        kept.append((order, name, data))
        while kept and (len(kept) > RECENT_EVENTS or size > RECENT_BYTES):
            size -= _size(kept.popleft()[2])
        self._recent_bytes[topic] = size

    def forget(self, topic):
        """Drop the recent events of ``topic`` (its model was deleted: a new one of the same
        name must not show them)."""
        with self._lock:
            self._recent.pop(topic, None)
            self._recent_bytes.pop(topic, None)

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
        once; never blocks on them. ``keep``: remember it among the recent events of the most
        specific topic (the last; the others give theirs from it, see :meth:`_past`)."""
        message, subs = None, []
        if keep:
            if type(data) is not PlainEvent:
                # Framed now: kept as bytes, the recent events are bounded in bytes (the
                # features of a PlainEvent are a text already, of a known size).
                data = message = _framed(name, data)
            with self._lock:
                self._published += 1  # orders events across topics (model events have no time)
                self._keep(topics[-1], self._published, name, data)
                for topic in topics:
                    subs += self._topics.get(topic, ())
        else:
            # Subscriber lists are replaced, never mutated, so reading one needs no lock.
            for topic in topics:
                subs += self._topics.get(topic, ())
        for sub in subs:
            message = message or _framed(name, data)
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
    if x is None:
        raise BadRequest(f'{what} is missing: send {{"features": {{"name": value, ...}}}}')
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

    def wire(self, model):
        """The operation in the streaming protocol (what a node forwards to the model's owner)."""
        payload = {"op": self.kind, "model": model}
        for key, attr in (("features", "x"), ("id", "id"), ("ground_truth", "y"), ("horizon", "horizon"),
                          ("user", "user"), ("items", "items")):
            value = getattr(self, attr, None)
            if value is not None:
                payload[key] = value
        return payload

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


def _event(op, now, model, x, answer, xs=None):
    """The data of a ``predict``, ``learn``, ``forecast`` or ``rank`` event. ``xs``: the JSON of
    the features ``x``, encoded for the log already: the common event, one number answered,
    is then a :class:`PlainEvent`, the features spliced in rather than encoded twice (their
    floats were half of an event's encoding)."""
    if xs is not None and len(answer) == 1 and type(now) is float and _PLAIN_NAME.fullmatch(model):
        value = answer.get("prediction")
        if type(value) is float and math.isfinite(value):
            return PlainEvent(now, model, xs, value, op.y if op.kind == "learn" else _NO_LABEL,
                              op.key if op.id is not None else None)
    event = {"t": now, "model": model, "features": x, **answer}
    if op.kind == "learn":
        event["ground_truth"] = op.y
    if op.id is not None:
        event["id"] = op.id
    if op.kind == "rank":
        event["user"] = op.user
    return event


# ---------------------------------------------------------------------------------------
# Replay: a model rebuilt from its snapshot and log
# ---------------------------------------------------------------------------------------


class Replica:
    """A model with its scores and counters as of its log record :attr:`seq`: loaded from a
    snapshot, then moved on one log record at a time (:meth:`apply_record`), repeating the
    calls that were served in the same order. A :class:`Deployment` is a replica that also
    serves: it writes the records and undoes calls that raise; a node that follows another's
    log needs only this. Not thread-safe: its owner holds a lock."""

    def _load(self, info, unpacked, seq, version, initial, max_classes):
        """Start from a snapshot (see :func:`unpack_state`) that includes the log up to ``seq``."""
        info = {k: v for k, v in info.items() if k != "final"}  # a past version's, served again
        self.info, self.seq, self.version, self.initial = info, seq, version, initial
        obj, scoring, self.predictions, self.learns = unpacked
        self.model = Model(obj, info["flavor"], max_classes)
        self.scores = _METRICS_OF.get(self.model.paradigm.name, Metrics)(*scoring)

    def apply_record(self, seq, body):
        """Repeat the call of the log record ``seq`` (the next one: records have no gaps);
        returns how many model calls it made (a learn counts one), for the snapshot schedule."""
        if seq != self.seq + 1:
            raise StoreError(f"log record {self.seq + 1} of {self.info.get('class', 'a model')} is missing "
                             f"(the next one is {seq}): the log is damaged")
        calls = self._replay(body)
        if calls is True:
            self.learns += 1
        else:
            self.predictions += 1
        self.seq = seq
        return 1 if calls is True else calls

    def event_of(self, name, body, t):
        """``(kind, data)`` of the event the call logged as ``body`` published when it was
        served, for a node that did not serve it: the model's answer as it was scored (a
        prediction asked alone is not logged with its answer, nor an id with any call)."""
        record = json.loads(body)
        kind = record.get("k") or ("learn" if "y" in record else "predict")
        event = {"t": t, "model": name}
        if kind == "forecast":
            event.update(features=record["xs"], horizon=record["h"])
        elif kind == "rank":
            event.update(features=record["x"], user=record["u"], items=record["items"])
        else:
            event["features"] = record["x"]
        if kind == "learn":
            event.update(self.model.paradigm.answer(self.model, decode_prediction(record["p"])),
                         ground_truth=record["y"])
        return kind, event

    def _replay(self, body):
        """Repeat one logged model call on the model and its scores (the same calls, in the
        same order, as when it was served). Returns True for a learn, else how many model
        calls it made."""
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

    def _forecast_calls(self, xs, horizon):
        return self.model.paradigm.forecast(self.model, horizon, xs)

    def _rank_calls(self, x, user, items):
        return self.model.paradigm.rank(self.model, user, items, x)



# ---------------------------------------------------------------------------------------
# Deployment: one model being served
# ---------------------------------------------------------------------------------------


class Retired(Exception):
    """The deployment was replaced or deleted while the caller waited for it: look it up again."""


#: What a file that was damaged gives when read back: refused at start, never served broken.
_CORRUPT = (json.JSONDecodeError, pickle.UnpicklingError, EOFError)


def _suspects(x, error):
    """The features a type error most likely came from: those whose values are not numbers
    (a model that computes with them raises on a text, a None or a boolean)."""
    if not isinstance(error, (TypeError, ValueError)) or not isinstance(x, dict):
        return ""
    odd = [f"{name!r} ({describe_type(value)})" for name, value in x.items()
           if not isinstance(value, (int, float)) or isinstance(value, bool)]
    return f"; features that are not numbers: {', '.join(odd[:5])}" if odd else ""


class Deployment(Replica):
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
        self.follower = False  # a copy of a model another node owns (see Node): never writes
        self.in_step_at = time.monotonic()  # when a follower last read all of its owner's log
        self._drifts_seen = [tuple(d) for d in rows.drifts()] if fresh is None else []  # (time, learns)
        with self._lock:
            if fresh is None:
                try:
                    self._restore()
                except (Retired, ChantillyError, StoreError, *_CORRUPT):  # StoreError: a gap in the log
                    raise
                except Exception as e:  # its library is missing, or its calls do not repeat
                    if not tolerant:
                        raise
                    self._unloadable(e)
            else:
                info, (unpacked, saved), version, initial = fresh
                rows.fresh()
                self._install(info, unpacked, 0, version, initial, saved=saved)
        self.history = [(t, n, json.loads(m)) for t, n, m in rows.history()] if fresh is None else []
        self.history_interval = HISTORY_INTERVAL
        while len(self.history) > HISTORY_POINTS:
            self._thin_history()

    # -- rebuilding ----------------------------------------------------------------------

    def _restore(self):
        """Load the snapshot and replay the log since: the state of every write so far.

        The start-up path, and what follows a refused write. Lock held.
        """
        self.rows.rebuilt()  # writes may have been refused: the store is the truth
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
        self._load(info, unpacked, seq, version, initial, self.settings.max_classes)
        self.since_snapshot = self.logged_bytes = 0
        for seq, body in log:
            self.since_snapshot += self.apply_record(seq, body)
            self.logged_bytes += len(body)
        self.stored = stored
        self._described_metrics = self.scores.describe()
        self._checkpoint(saved)  # given only with no log: a copy of the state as it is
        self._publish()

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
                                f"({type(e).__name__}: {e}){_suspects(x, e)}") from None

    # -- calls -----------------------------------------------------------------------------

    def apply(self, ops, now, listening, deadline, then=None):
        """Run validated operations in order, until done or past ``deadline`` (perf_counter
        seconds; at least one runs), then ``then(ops, results)`` under the same lock (see
        :meth:`_acknowledged`: the operations it may pass on).
        Returns an :class:`Outcome`; raises :class:`Retired`."""
        outcome = Outcome()
        with self._lock:
            if self.retired:
                raise Retired(self.name)
            if self.broken:
                raise Unavailable(self.broken_message())
            if self.rows.behind():
                self._rebuild()  # writes were refused: the store is the truth
            learned = False
            for op in ops:
                if outcome.results and time.perf_counter() > deadline:
                    break
                try:
                    answer, x, xs = getattr(self, _CALLS[op.kind])(op, now, outcome)
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
                outcome.events.append(("events", op.kind, _event(op, now, self.name, x, answer, xs)))
                learned = learned or op.kind == "learn"
            self._after_run(learned, now, listening, outcome)
            if then is not None:
                then(ops, outcome.results)
        return outcome

    def _after_run(self, learned, now, listening, outcome):
        """What follows a run of calls: metrics and history after learns, a snapshot when
        one is due (never of a broken model's unknown state), the published view. Lock held."""
        if learned:
            self._after_learns(now, listening, outcome)
        if not self.broken and (self.since_snapshot >= SNAPSHOT_EVERY or self.logged_bytes >= SNAPSHOT_BYTES):
            outcome.ticket = self.snapshot()
        self._publish(learned)

    def _acknowledged(self, ops, results):
        """The operations among ``ops`` that ``results`` answered without an error: all that a
        second consumer (the challenger) may see. A refused call (an unknown id, features
        the model raised on, the call that broke it) may be sent again by its client, so
        passing it on would teach the challenger calls the model never took."""
        return [op for op, r in zip(ops, results) if not isinstance(r, ChantillyError)]

    def _predict(self, op, now, outcome):
        """Returns ``(answer, features, their JSON or None)``, as each call of _CALLS does."""
        self._check_fits(op, "predict")
        prediction = self._undo_on_error(self.model.predict, op.x)
        xs = None
        if op.key is not None or self.model.changes_on_predict:
            stored, xs = None, encode_features(op.x)
            if op.key is not None:
                stored = (op.key, stored_id_record(xs, prediction), now)
                known = self.rows.find_id(op.key)
                self.stored += known is None or not known[0]  # new, or over a tombstone
            body = predict_record(xs)
            outcome.ticket = self._append(body, stored)
            self._record(body)
            excess = self.stored - self.settings.max_ids
            if stored is not None and self.settings.max_ids and excess > 0:
                outcome.ticket = self.rows.evict(excess)  # enforced here, not by the sweeper
                self.stored -= excess
                self.evicted += excess
        self.predictions += 1
        return self.model.paradigm.answer(self.model, prediction), op.x, xs

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
        xs = encode_features(x) if stored is None and type(x) is dict else None  # for the record and the event
        body = (learn_record_of_stored(stored, y) if stored is not None
                else learn_record(x, y, prediction, fresh, xs))
        outcome.ticket = self._append(body, drop_id=key)
        self._record(body)
        if key is not None:
            self.stored -= 1
        self.learns += 1
        return self.model.paradigm.answer(self.model, prediction), x, xs

    def _forecast(self, op, now, outcome):
        self._check_fits(op, "forecast")
        forecast = self._undo_on_error(self._forecast_calls, op.x, op.horizon)
        if self.model.changes_on_predict:  # creme forecasters update their scalers as they forecast
            self._log(outcome, forecast_record(op.horizon, op.x), op.horizon)
        self.predictions += 1
        return {"forecast": json_safe(forecast)}, op.x, None

    def _rank(self, op, now, outcome):
        self._check_fits(op, "rank")
        ranking = self._undo_on_error(self._rank_calls, op.x, op.user, op.items)
        if self.model.changes_on_predict:
            self._log(outcome, rank_record(op.user, op.items, op.x), len(op.items))
        self.predictions += 1
        return {"ranking": ranking}, op.x, None

    def _log(self, outcome, body, calls):
        """Log a model call that changed the model (and nothing else). Lock held."""
        outcome.ticket = self._append(body)
        self._record(body, calls)

    def _append(self, body, store_id=None, drop_id=None):
        """Write a logged call as the model's next record; returns a ticket. Lock held."""
        self.seq += 1
        return self.rows.append(self.seq, body, store_id, drop_id)

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
        """``(features, prediction, key, stored record)`` stored under the operation's id: the
        id takes precedence over features sent with it, as in chantilly 0.2. Raises 400 for
        an id with nothing stored, 410 for an expired one."""
        row = self.rows.find_id(op.key)
        if row is None:
            raise BadRequest(f"No information stored for ID {str(op.id)!r}: it was never predicted "
                             "with this id, or was already learned. To learn from features, send "
                             'them without the "id"')
        body, created = row
        if not body or now - created > self.settings.id_ttl:
            kept = (f", and only the newest {self.settings.max_ids} are kept (--max-ids)"
                    if self.settings.max_ids else "")
            raise Gone(f"id {op.id!r} expired: stored ids wait at most {self.settings.id_ttl:g} s "
                       f"for their ground truth (--id-ttl){kept}; send \"features\" without the \"id\" instead")
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
        if self.follower or not self._lock.acquire(blocking=False):
            return 0  # a follower's history is its owner's to write
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
        if self.follower or not self._lock.acquire(timeout=1.0):
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
            if self.rows.behind() and not self.retired:
                try:
                    self._rebuild()
                except (ChantillyError, Retired):
                    pass  # unreadable now, or broken: the next call is told

    def follow(self):
        """Catch a follower's copy up with its owner's log; returns the events of the calls
        it applied, for this node's streams. A snapshot that truncated records it had not read
        yet makes it reload from that snapshot."""
        with self._lock:
            if self.retired or self.broken:
                return []
            events, now = [], time.time()
            try:
                records = self.rows.log_since(self.seq)
                if records and records[0][0] != self.seq + 1:
                    self._restore()
                    records = []
                for seq, body in records:
                    self.apply_record(seq, body)
                    kind, data = self.event_of(self.name, body, now)
                    events.append(("events", kind, data))
            except (Retired, Unavailable):
                return []  # deleted (the catalog's next look drops it), or the database is away
            except Exception as e:  # the owner's calls do not repeat here
                self.broken = f"cannot follow its owner ({type(e).__name__}: {e})"
            self.in_step_at = time.monotonic()
            self._publish(bool(records))
            return events

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
            if self.since_snapshot and not self.broken and not self.rows.behind() and not self.follower:
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
        self._totals = {kind: [0, 0.0, 0.0] for kind in self.KINDS}  # calls, mean and EWM seconds

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
            totals = self._totals[kind]
            each = seconds / count
            totals[0] += count
            totals[1] += count * (each - totals[1]) / totals[0]
            totals[2] = 0.3 * each + 0.7 * totals[2] if totals[2] else each  # as creme's EWMean(0.3)

    def since_start(self):
        """chantilly 0.2's ``{"predict": {...}, "learn": {...}}``: calls since the start and
        their mean and exponentially weighted mean durations, in ns and for people."""
        with self._lock:
            totals = {kind: list(t) for kind, t in self._totals.items()}
        out = {}
        for kind, (n, mean, ewm) in totals.items():
            mean_ns, ewm_ns = int(mean * 1e9), int(ewm * 1e9)
            out[kind] = {"n_calls": n, "mean_duration": mean_ns, "mean_duration_human": humanize_ns(mean_ns),
                         "ewm_duration": ewm_ns, "ewm_duration_human": humanize_ns(ewm_ns)}
        return out

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


def humanize_ns(ns):
    """A duration in nanoseconds as chantilly 0.2 wrote it.

    >>> humanize_ns(0), humanize_ns(1500), humanize_ns(1234567), humanize_ns(61000000123)
    ('0ns', '1μs500ns', '1ms234μs567ns', '1m1s123ns')
    """
    if ns == 0:
        return "0ns"
    text = ""
    for unit, size in (("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("μs", 1000)):
        count, ns = divmod(ns, size)
        if count:
            text += f"{count}{unit}"
    return text + (f"{ns}ns" if ns else "")


def _installed(package):
    """The version of an installed package, without importing it; None if it is missing."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _percentile(ordered, q):
    """Nearest-rank percentile of a sorted list.

    >>> _percentile([1, 2, 3, 4], 0.5), _percentile([1, 2, 3, 4], 0.99)
    (2, 4)
    """
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------
# Service: the registry of models being served
# ---------------------------------------------------------------------------------------


class Registry:
    """The models being served, by name: which deployment serves a name (and which
    challenges it), the default model, loading them from the store, and going back to what
    the store holds when a change of models is refused. Every call finds its model here:
    this is where a node that does not own a model will forward it instead."""

    def __init__(self, store, bus, settings):
        self.store = store
        self.bus = bus
        self.settings = settings
        self._lock = threading.Lock()  # guards _deployments, _challengers, _default and expired
        self._deployments = {}   # name -> Deployment serving under it
        self._challengers = {}   # name -> Deployment challenging it
        self._retired = weakref.WeakValueDictionary()  # model id -> Deployment replaced, while alive
        self._default = None
        self._closed = threading.Event()
        self.node = None  # this server's part in a cluster (see Node), when its store has one

    @property
    def default(self):
        """The name calls without a model name go to (None before the first upload)."""
        return self._default

    def _resolve(self, name):
        """``name``, or the default model's name; 404 when there is none."""
        if name is not None:
            return name
        if self._default is None and self.node is not None:
            self._default = self.store.setting("default")  # chosen through another node since
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

    def _claim(self, name):
        """In a cluster, own the model ``name`` before changing it: :class:`Moved` (the
        request goes to its owner) when another node does."""
        if self.node is not None:
            self.node.claim(name)

    def _check_open(self):
        if self._closed.is_set():
            raise Unavailable("the server is shutting down")

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

    def _load_models(self):
        """``({name: Deployment}, {name: challenger}, default name)`` as the file has them. A
        model this environment cannot rebuild (its library is missing, its calls no longer
        repeat) answers 503 saying so, alone: the others serve (see :meth:`unloadable`); a
        damaged one is a :class:`StoreError` (refusing to start beats serving a guess)."""
        loaded = {}
        for role, suffix in (("serving", ""), ("challenger", "@challenger")):
            loaded[role] = {}
            for entry in (e for e in self.store.catalog() if e.role == role):
                name = entry.name
                try:
                    loaded[role][name] = Deployment(name + suffix, ModelRows(self.store, entry.id, name),
                                                    self.settings, tolerant=True)
                except Exception as e:  # a snapshot or log record that was damaged
                    raise StoreError(
                        f"model {name + suffix!r} in {self.store.path} cannot be read ({type(e).__name__}: "
                        f"{e}): the file is corrupt; refusing to start. `chantilly delete-model {name} "
                        f"--db {self.store.path}` removes it") from None
        return loaded["serving"], loaded["challenger"], self._stored_default(loaded["serving"])

    def _stored_default(self, deployments):
        """The stored default model's name if it is served, else the newest model's (a file
        from schema 1 has one model and no default), else None."""
        stored = self.store.setting("default")
        if stored in deployments:
            return stored
        newest = max(deployments.values(), key=lambda d: d.rows.id, default=None)
        return newest.name if newest else None

    def _all_deployments(self):
        """The models serving and challenging. Lock held."""
        return [*self._deployments.values(), *self._challengers.values()]

    def _commit_or_reload(self, ticket):
        """Commit a change of models; if refused, serve again what the file holds."""
        try:
            self.store.commit(ticket)
        except Unavailable:
            with self._lock:
                for dep in self._all_deployments():
                    dep.retire()
                self._deployments, self._challengers, self._default = self._load_models()
                for dep in self._all_deployments():
                    dep.follower = self._owner_elsewhere(dep.name)
            raise

    def _publish(self, events):
        if len(events) > RECENT_EVENTS and not self.bus.has_subscribers():
            events = _kept_unread(events)
        for topic, name, data in events:
            if topic == "events":  # also to the streams that follow one model (kept for newcomers)
                self.bus.publish((topic, f"events:{_model_of(data)}"), name, data, keep=True)
            else:
                self.bus.publish((topic,), name, data)

    def _resync(self):
        with self._lock:
            deployments = self._all_deployments()
        for dep in deployments:
            dep.resync()

    # -- in a cluster: which models this node owns, and its copies of the others' ----------

    def start_node(self, url=None, lease=None, renew=None):
        """Take part in the cluster of this PostgreSQL database (see :class:`Node`): models
        loaded so far are followed until their leases are taken. ``url``: where the other
        nodes reach this one (None: they cannot; it then owns what it can and refuses the rest)."""
        with self._lock:
            for dep in self._all_deployments():
                dep.follower = True
        self.node = Node(self, url or "", lease or self.settings.lease, renew or self.settings.lease_renew)
        self.node.start()

    def _owner_elsewhere(self, name):
        """Whether another node owns the model ``name`` (calls that change it go there)."""
        return self.node is not None and not self.node.owns(name.partition("@")[0])

    def sync_catalog(self, owned):
        """Bring the copies of the models this node follows up to the catalog their owners
        changed (uploads, promotions, rollbacks, deletions, the default); returns the name of
        every model served."""
        entries = self.store.catalog()
        wanted = {(e.name, e.role): e for e in entries if e.role in ("serving", "challenger") and e.name not in owned}
        with self._lock:
            have = {(dep.name.partition("@")[0], "challenger" if "@" in dep.name else "serving"): dep
                    for dep in self._all_deployments() if dep.follower}
        for key in set(have) - set(wanted):
            self._replace(key, None)
        for key, entry in wanted.items():
            if key not in have or have[key].rows.id != entry.id:
                self._replace(key, self._copy_of(entry))
        default = self.store.setting("default")
        with self._lock:
            if default in self._deployments or default is None:
                self._default = default
        self.flavor = self.store.setting("flavor")  # POST /api/init through another node
        return {e.name for e in entries if e.role == "serving"}

    def _copy_of(self, entry, follower=True):
        suffix = "@challenger" if entry.role == "challenger" else ""
        dep = Deployment(entry.name + suffix, ModelRows(self.store, entry.id, entry.name), self.settings, tolerant=True)
        dep.follower = follower
        return dep

    def _replace(self, key, dep):
        """Serve ``dep`` as ``key`` = (name, role) (None: nothing), retiring what served it."""
        name, role = key
        table = self._challengers if role == "challenger" else self._deployments
        with self._lock:
            old = table.pop(name, None)
            if dep is not None:
                table[name] = dep
        if old is not None and old is not dep:
            old.retire()

    def serve_owned(self, name):
        """This node took the lease of ``name``: serve it from the store as it is now, every
        write of the former owner included (it is fenced out from now on)."""
        for entry in self.store.catalog(name):
            if entry.role in ("serving", "challenger"):
                self._replace((name, entry.role), self._copy_of(entry, follower=False))

    def serve_followed(self, name):
        """This node lost the lease of ``name``: follow its new owner from the store."""
        for entry in self.store.catalog(name):
            if entry.role in ("serving", "challenger"):
                self._replace((name, entry.role), self._copy_of(entry))

    def followed(self):
        """The deployments that are copies of models other nodes own."""
        with self._lock:
            return [dep for dep in self._all_deployments() if dep.follower]

    def follow(self, owned):
        """Catch every followed model up with its owner's log, publishing their calls' events."""
        with self._lock:
            followed = [dep for dep in self._all_deployments() if dep.follower]
        for dep in followed:
            events = dep.follow()
            if events:
                self._publish(events)


# ---------------------------------------------------------------------------------------
# Service: model lifecycle, from upload to deletion
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UploadOptions:
    """How an uploaded model is served, named once for every way in: ``POST /api/model``'s
    and ``POST /api/model/<name>/challenger``'s query, ``chantilly add-model``'s flags and
    :meth:`Client.upload`'s keywords. Build it with keywords, ``UploadOptions(horizon=7)``."""

    flavor: str = None     # what the model is, when that cannot be detected (see PARADIGMS)
    metrics: tuple = None  # metric names from the model's library (None: the flavor's)
    horizon: int = None    # steps ahead a forecaster is scored on after each learn
    on_drift: str = None   # "reset": go back to the model as uploaded when a drift is detected
    default: bool = None   # False keeps the default model as it is (else the newest upload is)

    FIELDS = ("flavor", "metrics", "horizon", "on_drift", "default")

    def __post_init__(self):
        if self.on_drift not in (None, "reset"):
            raise BadRequest('?on_drift= can only be "reset"')
        if self.metrics is not None:
            object.__setattr__(self, "metrics", tuple(self.metrics))

    def query(self):
        """The query string's parameters that say these options (see :func:`_upload_options`)."""
        values = {"flavor": self.flavor, "horizon": self.horizon, "on_drift": self.on_drift,
                  "metrics": None if self.metrics is None else ",".join(self.metrics),
                  "default": None if self.default is None else str(bool(self.default)).lower()}
        return {k: v for k, v in values.items() if v is not None}


class Lifecycle(Registry):
    """Changes of models: uploads, challengers, promotions, rollbacks, deletions, the
    default model and the fallback flavor. Each loads what it can before taking the
    registry's lock, writes one catalog change, commits it, and tells the event streams."""

    def __init__(self, store, bus, settings):
        super().__init__(store, bus, settings)
        # One upload is loaded at a time: two unpickled at once import a library's modules in
        # different orders, and Python's import deadlock avoidance then hands one of them a
        # partially initialized module ("cannot import name ... from partially initialized
        # module 'river.compose.pipeline'", seen with every paradigm uploaded at once).
        self._loading = threading.Lock()
        self.flavor = None  # what POST /api/init set: the flavor of uploads that cannot be detected

    def _prepare(self, data, options):
        """Load and check an upload, before anything is written: ``(info, snapshot bytes,
        (the snapshot loaded back, its copy for undo))``, served as a restart would serve it. A
        model that could not be saved, copied for undo or loaded back is refused here, with
        nothing changed."""
        with self._loading:
            return self._load(data, options)

    def _load(self, data, upload):
        model = load_model(data, upload.flavor, self.flavor)
        options = {k: v for k, v in (("horizon", upload.horizon), ("on_drift", upload.on_drift)) if v is not None}
        scores = Metrics.for_model(model, None if upload.metrics is None else list(upload.metrics), options)
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

    def upload(self, data, name=None, options=None, **changes):
        """Load, check and install a model under ``name`` (None: the model named "default")
        as its next version; returns its description.

        ``options``: an :class:`UploadOptions`, whose fields ``changes`` override
        (``upload(data, "m", horizon=7)``); the first model is the default whatever they say.
        The model it replaces is kept as a past version (``--keep-versions``).
        Never waits for a call running on that model: the call finishes on it.

        An upload without a name goes to the name "default", never to whichever model is the
        default: since the newest upload is the default, that would replace the model uploaded
        last, whatever its name.
        """
        name = check_name(name) if name is not None else DEFAULT_MODEL
        options = dataclasses.replace(options or UploadOptions(), **changes)
        self._claim(name)
        info, state, loaded = self._prepare(data, options)
        with self._lock:
            self._check_open()
            old = self._deployments.pop(name, None)
            final = None if old is None else self._retire(old)
            model_id, version, ticket = self.store.install(name, "serving", info, state, data, final,
                                                           self.settings.keep_versions)
            if options.default is not False or self._default is None:
                self._default, ticket = name, self.store.put_setting("default", name)
            dep = self._deployments[name] = Deployment(name, ModelRows(self.store, model_id, name), self.settings,
                                                       (info, loaded, version, data))
        return self._announce(ticket, dep, "upload")

    def _retire(self, dep):
        """Stop serving ``dep``; returns the counters and metrics its past version keeps. Lock held."""
        dep.retire()
        self._retired[dep.rows.id] = dep  # a call may still run on it (see rollback)
        final = dict(dep.describe(), metrics=dep.metrics(), retired_at=time.time())
        return {k: final[k] for k in ("learns", "predictions", "metrics", "retired_at")}

    def _announce(self, ticket, dep, cause):
        """Commit a change of models and tell the event streams why (upload, challenger,
        promote, rollback); returns the model's description."""
        self._commit_or_reload(ticket)
        description = dep.describe()
        self._publish([("events", "model", dict(description, model=dep.name, cause=cause))])
        return description

    def upload_challenger(self, name, data, options=None, **changes):
        """Install a challenger beside the model ``name``: it sees every call the model sees,
        and is scored the same way, but its answers are only recorded. It gets the model's
        next version number; a challenger already there is dropped. ``options`` as for
        :meth:`upload`; its flavor is the model's, and it never becomes the default."""
        champion = self._deployment(name)
        self._claim(champion.name)
        options = dataclasses.replace(options or UploadOptions(), **changes)
        info, state, loaded = self._prepare(data, dataclasses.replace(options, flavor=champion.info["flavor"]))
        with self._lock:
            self._check_open()
            if self._deployments.get(champion.name) is not champion:  # deleted or replaced meanwhile
                raise NotFound(f"model {champion.name!r} changed while its challenger loaded; retry")
            old = self._challengers.pop(champion.name, None)
            if old is not None:
                old.retire()
            model_id, version, ticket = self.store.install(champion.name, "challenger", info, state, data)
            rows = ModelRows(self.store, model_id, champion.name)
            dep = self._challengers[champion.name] = Deployment(f"{champion.name}@challenger", rows, self.settings,
                                                                (info, loaded, version, data))
        return self._announce(ticket, dep, "challenger")

    def delete_challenger(self, name):
        """Drop the challenger of ``name``."""
        self._claim(self._resolve(name))
        with self._lock:
            name = self._resolve(name)
            dep = self._challengers.pop(name, None)
            if dep is None:
                raise NotFound(f"{name!r} has no challenger")
            dep.retire()
            ticket = self.store.drop(name, "challenger")
        self._commit_or_reload(ticket)
        self._publish([("events", "delete", {"name": dep.name, "model": dep.name})])
        self.bus.forget(f"events:{dep.name}")
        return {"deleted": dep.name}

    def promote(self, name):
        """The challenger of ``name`` takes its place, at once, with everything it learned; the
        model it replaces is kept as a past version. Waits (a little) for the call running on
        the pair, so that none falls between them."""
        name = self._resolve(name)
        self._claim(name)
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
            if challenger.oversized:  # it stopped learning: it no longer saw what the model saw
                raise Unprocessable(f"{challenger.oversized}; the challenger stopped learning, so it "
                                    "cannot be promoted")
            ticket = self.store.serve(name, challenger.rows.id, self._retire(champion), self.settings.keep_versions)
            challenger.name = name  # the same object serves on: nothing to rebuild, nothing missed
            del self._challengers[name]
            self._deployments[name] = challenger
        return self._announce(ticket, challenger, "promote")

    def rollback(self, name, version):
        """Serve again the past version ``version`` of ``name``, from the state it had; the
        model it replaces is kept as a past version. The version is rebuilt before anything
        changes (a version that cannot be is refused), and without holding up other calls."""
        name = self._resolve(name)
        self._claim(name)
        model_id = self._past_version(name, version)
        still_running = self._retired.get(model_id)
        if still_running is not None:  # a call that began before it was replaced ends first
            with _holding(still_running._lock):
                pass
        try:
            dep = Deployment(name, ModelRows(self.store, model_id, name), self.settings)
        except (Retired, ChantillyError):
            raise
        except Exception as e:  # its snapshot or log cannot be replayed here
            raise Unprocessable(f"version {version} of {name!r} cannot be rebuilt ({type(e).__name__}: "
                                f"{e}); nothing was changed") from None
        with self._lock:
            current = self._deployments.get(name)
            if current is None or self._past_version(name, version) != model_id:
                raise NotFound(f"{name!r} changed meanwhile: GET /api/model/{name}/versions and retry")
            ticket = self.store.serve(name, model_id, self._retire(current), self.settings.keep_versions)
            self._deployments[name] = dep
        return self._announce(ticket, dep, "rollback")

    def _past_version(self, name, version):
        """The model id of a past version of ``name``; 404 for anything else."""
        found = [(e.id, e.role) for e in self.store.catalog(name) if e.version == version]
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
        for entry in self.store.catalog(name):
            live = self._deployments.get(name) if entry.role == "serving" else self._challengers.get(name)
            if entry.role != "version" and live is not None:
                info = dict(live.describe(), metrics=live.metrics())
            else:
                info = dict(entry.info, **(entry.info.pop("final", None) or {}))
            listing.append(dict(info, version=entry.version, role=entry.role, name=name))
        return {"name": name, "versions": listing}

    def download(self, name=None, version=None):
        """A model's bytes, loadable with ``dill.loads`` (a past ``version`` of it, if given)."""
        dep = self._deployment(name)
        if version is None or version == dep.version:
            return dep.download()
        base = dep.name.partition("@")[0]
        found = [e.id for e in self.store.catalog(base) if e.version == version]
        if not found:
            raise NotFound(f"{base!r} has no version {version}: GET /api/model/{base}/versions lists them")
        try:
            return Deployment(f"{base}@{version}", ModelRows(self.store, found[0], base), self.settings).download()
        except (Retired, ChantillyError):
            raise
        except Exception as e:  # its snapshot or log cannot be replayed here
            raise Unprocessable(f"version {version} of {base!r} cannot be rebuilt ({type(e).__name__}: {e})") from None

    def delete(self, name=None):
        """Remove a model with its challenger, past versions, metrics, history and stored ids.
        When it was the default, the most recently uploaded model left becomes the default."""
        self._claim(self._resolve(name))
        with self._lock:
            name = self._resolve(name)
            dep = self._deployments.pop(name, None)
            if dep is None:
                raise NotFound(f"no model named {name!r}")
            for retired in (dep, self._challengers.pop(name, None)):
                if retired is not None:
                    retired.retire()
            ticket = self.store.drop(name)
            if name == self._default:
                newest = max(self._deployments.values(), key=lambda d: d.rows.id, default=None)
                self._default = newest.name if newest else None
                ticket = self.store.put_setting("default", self._default)
        self._commit_or_reload(ticket)
        if self.node is not None:
            self.node.forget(name)
        self._publish([("events", "delete", {"name": name, "model": name})])
        for topic in (f"events:{name}", f"events:{name}@challenger"):
            self.bus.forget(topic)  # a new model of that name starts with no past events
        return {"deleted": name}

    def set_default(self, name):
        """Make ``name`` the model that calls without a model name go to."""
        self._deployment(name)
        with self._lock:
            self._default, ticket = name, self.store.put_setting("default", name)
        self._commit_or_reload(ticket)
        return {"default": name}

    def init(self, flavor):
        """chantilly 0.2's first call: the flavor that uploads are served as when it cannot be
        detected (it can for creme's and river's models). Erases nothing: 0.2 meant to erase
        every model, which on a server of many models is a trap (DELETE /api/model/<name>
        removes one)."""
        if not isinstance(flavor, str) or flavor not in PARADIGMS:
            raise BadRequest(f"Allowed flavors are {', '.join(repr(f) for f in sorted(PARADIGMS))}.")
        self.store.commit(self.store.put_setting("flavor", flavor))
        self.flavor = flavor
        return self.describe_init()

    def describe_init(self):
        """What GET /api/init answers: chantilly 0.2's keys, and the libraries installed."""
        return {"flavor": self.flavor, "storage": self.store.kind, "app": {"storage": self.store.kind},
                "creme_version": _installed("creme"), "river_version": _installed("river")}


# ---------------------------------------------------------------------------------------
# Service: a node of a cluster
# ---------------------------------------------------------------------------------------


class OutcomeUnknown(ChantillyError):
    """A call forwarded to its model's owner got no answer: it may or may not have been
    applied, so the client must look before sending it again."""

    status = HTTPStatus.GATEWAY_TIMEOUT


class Moved(ChantillyError):
    """The model is owned by another node of the cluster: the request goes there (the
    HTTP layer forwards it), or, when it cannot, the client is told to retry."""

    status = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self, name, url):
        where = f"node {url}" if url else "no node yet (its owner is changing)"
        super().__init__(f"model {name!r} is served by {where}; retry in a moment")
        self.url = url


#: Seconds a follower waits for a NOTIFY of its owners' commits before it looks anyway (a
#: notification sent while its session was down is lost).
FOLLOW_SECONDS = 1.0
#: Set while a thread answers a call another node forwarded to it: such a call is answered
#: here or refused, never forwarded again (ownership moving cannot make it loop).
FORWARDED_CALL = threading.local()


class Node:
    """This server's part in a cluster of chantilly servers sharing one PostgreSQL database.

    Each model name (its serving version, challenger and past versions together) has one
    owner at a time, through a lease row with an epoch in the database: the owner serves
    and writes it as a lone server would; every other node *follows* it, replaying the
    owner's log into a copy of its own (a :class:`Replica`: the same code a restart runs),
    answers the predictions that change nothing from that copy, and forwards every other
    call to the owner. Leases are taken and renewed by the database's clock, and every
    write transaction checks its names' epochs (see PostgresStore._fenced): an owner that
    was paused or cut off never writes after another node took its models over. A node
    takes at most its share of the models; one stopped with SIGTERM releases its leases at
    once, and one that dies loses them when they expire (``lease`` seconds).
    """

    def __init__(self, service, url, lease=10.0, renew=2.0):
        self.service, self.store, self.url = service, service.store, url
        self.id = f"{url}/{os.getpid()}-{random.SystemRandom().randrange(2**32):08x}"
        self.lease, self.renew_every = lease, renew
        self.peers = None  # how calls reach other nodes: set by the HTTP server (see Peers)
        self.owned = set()  # names whose lease this node holds
        self._deadlines = {}  # name -> monotonic time by which its lease must be renewed
        self._lost = set()    # names whose lease a renewal found gone, for maintain() to follow
        self._lags = {}       # name -> {"calls", "seconds"} behind its owner, as last measured
        self._leases = {}   # name -> (node, url, epoch, seconds left), as last read
        self._stop = threading.Event()
        self._threads = []
        self._lock = threading.Lock()  # one maintenance at a time (the loop, or a claim)
        # Guards owned and _deadlines against the renewals' thread: a lease taken while a
        # renewal runs must not be mistaken for one lost. Never held during a model's (re)load.
        self._owning = threading.Lock()
        self._serving = set()  # owned names whose own deployment is installed: owns() is true

    def start(self):
        """Join: take a share of the models; then renew the leases in a thread of its own (a
        slow replay or reload must never make a lease expire), and follow the others in another."""
        self.store.join(self.id, self.url, self.lease)
        self._check_versions()
        self.renew()
        self.maintain()
        self._threads = [threading.Thread(target=self._every, args=(self.renew_every, self.renew), daemon=True,
                                          name="chantilly-leases"),
                         threading.Thread(target=self._run, name="chantilly-node", daemon=True)]
        for thread in self._threads:
            thread.start()

    def _every(self, seconds, work):
        while not self._stop.wait(seconds):
            try:
                work()
            except Exception as e:  # the database is unreachable: the deadline stops the writes
                sys.stderr.write(f"chantilly: lease renewal failed ({type(e).__name__}: {e})\n")

    def _check_versions(self):
        """Refuse to take part with libraries other than the cluster's: a model replays the
        same way only under the same Python, creme and river."""
        mine = _library_versions()
        theirs = self.store.setting("versions")
        if theirs is None:
            self.store.commit(self.store.put_setting("versions", mine))
        elif theirs != mine:
            raise StoreError(f"this node runs {mine}, the cluster in {self.store.path} runs {theirs}: "
                             "a model replays the same only under the same versions; install those")

    def stop(self):
        """Leave: stop following and release every lease, so that others take over at once."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        with contextlib.suppress(Exception):  # the database may be gone: the leases expire then
            self.store.release()
        self._serving, self.owned = set(), set()

    def _run(self):
        next_renewal = time.monotonic() + self.renew_every
        while not self._stop.is_set():
            self.store.wait_for_log(min(FOLLOW_SECONDS, max(0.0, next_renewal - time.monotonic())))
            try:
                if time.monotonic() >= next_renewal:
                    next_renewal = time.monotonic() + self.renew_every
                    self.maintain()
                    self._lags = self._measure_lags()
                self.service.follow(self.owned)
            except Exception as e:  # the database is unreachable: retried at the next tick
                sys.stderr.write(f"chantilly: cluster upkeep failed ({type(e).__name__}: {e})\n")

    def maintain(self):
        """Heartbeat, renew the leases held (dropping those lost), bring the catalog up to
        date, and take over models nobody holds, up to this node's share."""
        with self._lock:
            self._lose(self._lost & self.owned)
            nodes = self.store.nodes()
            names = self.service.sync_catalog(self.owned) | self.owned  # owned: one being uploaded
            self._leases = self.store.leases()
            share = -(-len(names) // max(1, len(nodes)))  # ceil
            order = sorted(names, key=lambda n: hashlib.sha256((n + self.id).encode()).digest())
            for name in order:
                if len(self.owned) >= share:
                    break
                if name not in self.owned and self._free(name):
                    self._take(name)
            if len(self.owned) > share:  # a node joined: hand one over per round, so that
                self._lose({[n for n in order if n in self.owned][-1]})  # one model at a time waits

    def renew(self):
        """Heartbeat and renew the leases held. A lease found gone stops its model's changes at
        once (:meth:`maintain` then follows it); one that cannot be renewed by its deadline (the
        database away, the node paused) stops them too (see :meth:`owns`) until a renewal
        succeeds, and another node takes it once it expires."""
        self.store.heartbeat(self.url, _library_versions(), dumps(self._lags))
        with self._owning:
            started = time.monotonic()
            held = self.store.renew()
            for name in list(self.owned):
                if name in held:
                    self._deadlines[name] = started + self.lease * 0.8
                else:
                    self._deadlines.pop(name, None)
                    self._lost.add(name)

    def _free(self, name):
        lease = self._leases.get(name)
        return lease is None or lease[0] is None or lease[3] < 0 or (lease[1] == self.url and lease[0] != self.id)

    def claim(self, name):
        """Own ``name`` before changing it (an upload to a new name, say): take its lease when
        nobody holds it; raises :class:`Moved` when another node does."""
        if self.owns(name):
            return
        with self._lock:
            if name in self.owned:  # held, but not renewed in time: renew now
                self.renew()
                self._lose(self._lost & self.owned)
            self._leases = self.store.leases()
            if name not in self.owned and self._free(name):
                self._take(name)
        if not self.owns(name):
            raise Moved(name, self.owner_url(name))

    def owner_url(self, name, fresh=False):
        """The URL of the node that owns ``name`` (None when nobody does), as last read, or as
        the database says now when ``fresh`` (a model uploaded since, an owner that changed)."""
        if fresh:
            self._leases = self.store.leases()
        lease = self._leases.get(name)
        return None if lease is None or lease[0] is None or lease[3] < 0 else lease[1]

    def owns(self, name):
        """Whether this node owns ``name`` and may change it: its own deployment serves it, and
        its lease was renewed in time."""
        return name in self._serving and time.monotonic() < self._deadlines.get(name, 0.0)

    def _take(self, name):
        """Take the lease of ``name`` if nobody holds it, then serve it from the store."""
        with self._owning:
            taken = time.monotonic()
            if not self.store.take(name, self.url):
                return
            self.owned.add(name)
            self._deadlines[name] = taken + self.lease * 0.8
        try:
            self.service.serve_owned(name)
        except Exception:  # the database went away meanwhile: let another node try
            self._lose({name})
            raise
        self._serving.add(name)

    def _lose(self, names):
        for name in names:
            self._serving.discard(name)
            with self._owning:
                self.owned.discard(name)
                self._lost.discard(name)
                self._deadlines.pop(name, None)
            with contextlib.suppress(Exception):  # unreleased, it expires by itself
                self.store.release([name])
            self.service.serve_followed(name)

    def forget(self, name):
        """``name`` was deleted: its lease goes, so that it no longer counts in this node's share."""
        self._serving.discard(name)
        with self._owning:
            self.owned.discard(name)
            self._deadlines.pop(name, None)
        self.store.release([name])

    def forward(self, name, ops):
        """The answers of the owner of ``name`` to ``ops`` (errors as :class:`ChantillyError`)."""
        url = self.owner_url(name) or self.owner_url(name, fresh=True)
        if url is None or self.peers is None:
            return [Moved(name, url)] * len(ops)
        return self.peers.operations(url, [op.wire(name) for op in ops])

    def describe(self):
        """What ``GET /api/cluster`` answers: this node, the others, and per model its
        owner, epoch and this node's lag behind it."""
        nodes = self.store.nodes()
        models = {}
        for name, (node, url, epoch, left) in sorted(self.store.leases().items()):
            if node is not None:
                models[name] = {"owner": url, "epoch": epoch, "expires_in_s": round(left, 3), "followers": {
                    u: lags[name] for u, _, lags in nodes.values() if name in lags and u != url}}
        return {"node": self.url, "nodes": sorted(u for u, _, _ in nodes.values()), "models": models}

    def _measure_lags(self):
        """``{name: {"calls", "seconds"}}``: how far this node's copies are behind their owners."""
        now, lags = time.monotonic(), {}
        for dep in self.service.followed():
            behind = self.store.last_seq(dep.rows.id) - dep.seq
            lags[dep.name] = {"calls": behind, "seconds": round(now - dep.in_step_at, 3) if behind else 0.0}
        return lags


def _library_versions():
    return f"python {platform.python_version()}, creme {_installed('creme')}, river {_installed('river')}"


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


class Service(Lifecycle):
    """Ties the store, the deployments and the event bus together: chantilly without HTTP.

    Usable from plain Python::

        service = Service.open("example.db")
        service.upload(dill.dumps(model))
        service.predict({"features": {"x": 1}})
        service.close()
    """

    def __init__(self, store, bus, settings):
        super().__init__(store, bus, settings)
        self.stats = Stats()
        self.telemetry = _declare(Telemetry())
        self.expired = 0  # stored ids expired by the sweeper (the service's lock guards it)
        self._sweeper = None

    @classmethod
    def open(cls, path, settings=None, node=True, **changes):
        """Open the database, rebuild every stored model and start the expiry sweeper.

        ``changes`` override fields of ``settings`` (default :class:`Settings`). On PostgreSQL
        the service is a node of the database's cluster (see :class:`Node`), unless ``node``
        is False: the HTTP server starts it once it knows the address other nodes reach.
        """
        settings = dataclasses.replace(settings or Settings(), **changes)
        store = open_store(path, settings.sync)
        service = cls(store, EventBus(settings.max_streams, settings.stream_backlog), settings)
        try:
            service._deployments, service._challengers, service._default = service._load_models()
            service.flavor = store.setting("flavor")
            service._keep_hash_seed()  # after the models loaded: a refused file stays untouched
            if node and isinstance(store, PostgresStore):
                service.start_node()
        except BaseException:
            store.close()
            raise
        service._sweeper = threading.Thread(target=service._housekeeping, name="chantilly-housekeeping",
                                            daemon=True)
        service._sweeper.start()
        return service

    def _keep_hash_seed(self):
        """Store the seed this process hashes strings with, if the database has none yet."""
        seed = "" if sys.flags.ignore_environment else os.environ.get("PYTHONHASHSEED", "")
        if seed.isdigit() and self.store.setting("hashseed") is None:
            self.store.commit(self.store.put_setting("hashseed", seed))

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
        if self.node is not None:  # after the last snapshots: the next owner replays nothing
            self.node.stop()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        self.store.close()

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
        op = Operation(kind, payload)
        result = self.apply([op], name)[0]
        if isinstance(result, ChantillyError):
            raise result
        return self._named(result, op, name)

    def batch(self, kind, payloads, name=None):
        """A list of calls of one kind -> a list of answers or errors, in order."""
        ops = []
        for payload in payloads:
            try:
                ops.append(Operation(kind, payload))
            except ChantillyError as e:
                ops.append(detached(e))
        return [self._named(r, op, name) for r, op in zip(self.apply(ops, name), ops)]

    def _named(self, result, op, name):
        """An answer with the name of the model that gave it first, as chantilly 0.2 answered
        (operation streams answer without it: their lines come back in the order sent)."""
        if isinstance(result, dict):
            return {"model": op.model or name or self._default, **result}
        return result

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
        written = []  # (indexes, events, ticket) of each model
        for model, indexes in by_model.items():
            try:
                answers, model_events, ticket = self._apply_on(model, [ops[i] for i in indexes])
            except ChantillyError as e:  # no such model
                answers, model_events, ticket = [detached(e)] * len(indexes), [], 0
            for i, answer in zip(indexes, answers):
                results[i] = answer
            written.append((indexes, model_events, ticket))
        self.store.settle(written[0][2] if len(written) == 1 else max((t for _, _, t in written), default=0))
        events = []
        for indexes, model_events, ticket in written:
            if ticket and self.store.refused(ticket):  # that model's writes, and only its
                error = self.store.unavailable()
                results = [error if i in indexes and isinstance(r, dict) else r for i, r in enumerate(results)]
                self._resync()  # drop from memory what the store does not have
            else:
                events += model_events
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
        if self.node is not None:
            answers = self._elsewhere(name, ops)
            if answers is not None:
                return answers, [], 0
        results, events, ticket, replaced = [], [], 0, 0
        while len(results) < len(ops):
            try:
                dep = self._deployment(name)
                mirrored = []
                outcome = dep.apply(ops[len(results):] if results else ops, time.time(), self._listening(dep.name),
                                    time.perf_counter() + SLICE_SECONDS,
                                    then=lambda run, answers, dep=dep: self._challenge(dep, run, answers, mirrored))
            except Retired:  # the model was replaced while we waited for its lock: look again
                replaced += 1
                if replaced > 100:
                    raise Unavailable(f"model {name!r} keeps being replaced; retry") from None
                continue
            except ChantillyError as e:  # no such model, or it broke: the rest get the error
                results += [detached(e)] * (len(ops) - len(results))
                break
            results += outcome.results
            events += outcome.events
            last = outcome.ticket
            for m in mirrored:  # the challenger's run, when there is one
                events += m.events
                last = max(last, m.ticket)
            ticket = last or ticket  # the last covers the rest
            if len(results) < len(ops):
                time.sleep(0)  # hand over the GIL, so a waiting client takes the lock first
        return results, events, ticket

    def _elsewhere(self, name, ops):
        """In a cluster, the answers of the node that owns the model, when it must answer:
        None when this node does (it owns the model, or the calls are predictions that change
        nothing, which its copy answers). A call another node forwarded is never forwarded again."""
        name = self._resolve(name)
        if self.node.owns(name):
            return None
        with self._lock:
            dep = self._deployments.get(name)
        if dep is not None and dep.model is not None and not dep.model.changes_on_predict and all(
                op.kind == "predict" and op.key is None for op in ops):
            return None
        if self.node.owner_url(name) is None and self.node.owner_url(name, fresh=True) is None and dep is not None:
            with contextlib.suppress(Moved):  # nobody owns it (its owner died): take it now
                self.node.claim(name)
                return None
        if getattr(FORWARDED_CALL, "active", False):
            return [Moved(name, None)] * len(ops)
        return self.node.forward(name, ops)

    def _listening(self, name):
        if not self.bus.has_subscribers():
            return _NOBODY
        return {"metrics": self.bus.has_subscribers(f"metrics:{name}")}

    def _challenge(self, dep, ops, results, mirrored):
        """The challenger of ``dep`` runs the operations among ``ops`` that the model
        acknowledged (``results``) too, under the model's lock (so a promotion never falls
        between the two); its :class:`Outcome` goes into ``mirrored``. Its errors, like its
        answers, stay its own."""
        challenger = self._challengers.get(dep.name)
        if challenger is None:
            return
        try:
            mirrored.append(challenger.apply(dep._acknowledged(ops, results), time.time(),
                                             self._listening(challenger.name), math.inf))
        except Exception:  # whatever the challenger does, the model's answer stands
            pass

    def _record_stats(self, ops, by_model, elapsed):
        now = time.time()
        if len(ops) == 1 and isinstance(ops[0], Operation):  # a single call
            op = ops[0]
            self.stats.record(op.model or next(iter(by_model)) or self._default,
                              "learn" if op.kind == "learn" else "predict", 1, elapsed, now)
            return
        for model, indexes in by_model.items():
            learns = sum(1 for i in indexes if ops[i].kind == "learn")
            resolved = model or self._default
            for kind, count in (("learn", learns), ("predict", len(indexes) - learns)):
                if count:
                    self.stats.record(resolved, kind, count, elapsed, now)

    # -- metrics and stats ---------------------------------------------------------------------

    def metrics(self, name=None):
        """``{metric: value}`` of the model."""
        return self._deployment(name).metrics()

    def history(self, name=None):
        """Recent metrics points for charts; empty when there is no model yet (the dashboard
        asks before the first upload), 404 for a model that does not exist."""
        try:
            dep = self._deployment(name)
        except NotFound:
            if name is not None:
                raise
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
        return {**self.stats.since_start(), "now": now, "model": model, "models": per_model, "default": self._default,
                "uptime_s": now - self.stats.started, "rates": rates, "latency_ms": latency,
                "subscribers": self.bus.count(), "expired": expired}

    def cluster(self):
        """What ``GET /api/cluster`` answers (see Node.describe)."""
        if self.node is None:
            return {"node": None, "nodes": [], "models": {}}
        return self.node.describe()

    def prometheus(self, connections=0):
        """Everything ``/metrics`` shows, in the Prometheus text format; ``connections``: the
        open connections, which only the server knows."""
        with self._lock:
            deployments = sorted((dep.name, dep) for dep in self._all_deployments())
            expired = self.expired + sum(dep.evicted for _, dep in deployments)
        described = [(name, dep.describe(), dep.metrics(), dep.snapshots) for name, dep in deployments]
        return self.telemetry.render_service(
            described, expired=expired, refused=self.store.refusals, connections=connections,
            streams=self.bus.count(), commits=self.store.commit_histograms(), started=self.stats.started)

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
        exact = self._exact.get(path)
        if exact is not None and method in exact:  # what the loop below would find first
            return exact[method], {}
        candidates = [(exact, {})] if exact is not None else []
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
                 "connections", "_body")

    def __init__(self, method, path, query, headers, service, dashboard, reader, limit, connections=lambda: 0):
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.service, self.dashboard, self.reader, self.limit = service, dashboard, reader, limit
        self.connections = connections  # () -> open connections, for /metrics
        self._body = None

    def body(self):
        """The whole body, refused with 413 before it is read when it is over the route's limit
        (kept: a request for a model another node owns is sent on to it, body and all)."""
        if self._body is None:
            self._body = self.reader.read_all(self.limit)
        return self._body

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


_PLAIN_NAME = re.compile(r"[A-Za-z0-9._@-]*")  # a model name that JSON takes as it is


def _json_body(document):
    """A JSON answer's bytes. The common one, ``{"model": name, "prediction": number}``,
    is written directly (json_safe and the encoder were ~5 us of a ~400 us request).

    >>> _json_body({"model": "m", "prediction": 0.5}), _json_body({"model": "m", "prediction": 1e999})
    (b'{"model":"m","prediction":0.5}', b'{"model":"m","prediction":null}')
    """
    if type(document) is dict and len(document) == 2:
        model, value = document.get("model"), document.get("prediction")
        if (type(value) is float and math.isfinite(value) and type(model) is str
                and _PLAIN_NAME.fullmatch(model) and next(iter(document)) == "model"):
            return ('{"model":"' + model + '","prediction":' + repr(value) + '}').encode()
    return dumps(json_safe(document)).encode("utf-8")


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
_UPLOAD = UploadOptions.FIELDS
_CREATED = HTTPStatus.CREATED  # reading HTTPStatus.CREATED is a Python call (enum's __get__)


@ROUTER.route("GET", "/api/health", scope=None, gives="Health")
def get_health(request):
    """Liveness probe; needs no token and reveals nothing."""
    return {"status": "ok"}


@ROUTER.route("POST", "/api/model", scope="admin", body_limit="max_model", takes="bytes",
               gives="Model", params=_UPLOAD, status=201)
@ROUTER.route("POST", "/api/model/<name>", scope="admin", body_limit="max_model", takes="bytes",
               gives="Model", params=_UPLOAD, status=201)
def post_model(request, name=None):
    """Upload a model (dill bytes) under a name; ?flavor=, ?metrics=, ?horizon=, ?default=false."""
    _not_a_form(request)
    return request.service.upload(request.body(), name, _upload_options(request.query)), HTTPStatus.CREATED


def _upload_options(query):
    """The options of an upload's query string (400 for a value that cannot be)."""
    metrics = query.get("metrics")
    return UploadOptions(flavor=query.get("flavor"), on_drift=query.get("on_drift"), default=_flag(query, "default"),
                         metrics=None if metrics is None else [m.strip() for m in metrics.split(",") if m.strip()],
                         horizon=None if "horizon" not in query else _integer(query, "horizon", 1, MAX_HORIZON))


def _not_a_form(request):
    """Refuse a multipart form (requests' ``files=``, curl's ``-F``): the body is the model."""
    if request.headers.get("Content-Type", "").lower().startswith("multipart/form-data"):
        raise BadRequest("this is a multipart form upload: send the model's bytes as the whole body "
                         "(requests: data=dill.dumps(model), not files=; curl: --data-binary @model.dill)")


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
               takes="bytes", gives="Model", params=("metrics", "horizon", "on_drift"), status=201)
def post_challenger(request, name):
    """Upload a challenger (dill bytes) that sees every call of the model and is scored alike."""
    _not_a_form(request)
    options = _upload_options(request.query)
    return request.service.upload_challenger(check_name(name), request.body(), options), HTTPStatus.CREATED


@ROUTER.route("DELETE", "/api/model/<name>/challenger", scope="admin", gives="Deleted")
def delete_challenger(request, name):
    """Drop a model's challenger."""
    return request.service.delete_challenger(check_name(name))


@ROUTER.route("POST", "/api/model/<name>/promote", scope="admin", gives="Model")
def post_promote(request, name):
    """The challenger replaces the model, at once; the model is kept as a past version."""
    return request.service.promote(check_name(name))


@ROUTER.route("GET", "/api/init", gives="Init")
def get_init(request):
    """chantilly 0.2's settings: the flavor set by POST /api/init, the storage, the libraries."""
    return request.service.describe_init()


@ROUTER.route("POST", "/api/init", scope="admin", takes="SetFlavor", gives="Init", status=201)
def post_init(request):
    """chantilly 0.2's first call: {"flavor"} for uploads whose flavor cannot be detected."""
    payload = request.json()
    if not isinstance(payload, dict) or "flavor" not in payload:
        raise BadRequest('send {"flavor": "regression"} (or binary, multiclass...)')
    return request.service.init(payload["flavor"]), HTTPStatus.CREATED


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
    """One call of ``kind`` (a JSON object), or a JSON array of them answered by an array.
    A call that stores something (a learn, a prediction kept under an id) answers 201, as
    chantilly 0.2 did."""
    payload = request.json()
    if isinstance(payload, list):
        return [batch_item(r) for r in request.service.batch(kind, payload)]
    answer = getattr(request.service, kind)(payload)
    stored = kind == "learn" or (kind == "predict" and isinstance(payload, dict) and payload.get("id") is not None)
    return (answer, _CREATED) if stored else answer


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


@ROUTER.route("GET", "/api/cluster", gives="Cluster")
def get_cluster(request):
    """The nodes sharing this server's PostgreSQL database, and per model its owner, lease
    epoch and how far each follower is behind (a lone server: no nodes)."""
    return request.service.cluster()


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
    # More than the server keeps is not an error: a client asks for what it can show.
    recent = min(_integer(request.query, "recent", 0, 10**9), RECENT_EVENTS) if "recent" in request.query else 0
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
    "Prediction": _object(["prediction"], model=_NAME, prediction={}, anomaly={"type": "boolean"}),
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
    "Init": _object(["flavor", "storage"], flavor={"type": ["string", "null"]}, storage={"type": "string"}),
    "SetFlavor": _object(["flavor"], flavor={"enum": sorted(PARADIGMS)}),
    "Rollback": _object(["version"], version={"type": "integer"}),
    "SetDefault": _object(["name"], name=_NAME),
    "Default": _object(["default"], default=_NAME),
    "Deleted": _object(["deleted"], deleted={"type": "string"}),
    "Metrics": _NUMBERS,
    "History": _object(["flavor", "points", "drifts"], flavor={"type": ["string", "null"]},
                       points={"type": "array", "items": _object(["t", "n", "metrics"], metrics=_NUMBERS)},
                       drifts={"type": "array"}),
    "Cluster": _object(["node", "nodes", "models"], node={"type": ["string", "null"]},
                       nodes={"type": "array", "items": {"type": "string"}}, models={"type": "object"}),
    "Stats": _object(["model", "models", "rates", "latency_ms", "uptime_s"], model={"type": ["object", "null"]}),
}

#: Query parameters by name, as routes list them.
PARAMETERS = {
    "flavor": ({"enum": sorted(PARADIGMS)}, "force the flavor instead of detecting it"),
    "metrics": ({"type": "string"}, "comma-separated metric names of the model's library; empty for none"),
    "horizon": ({"type": "integer", "minimum": 1, "maximum": MAX_HORIZON}, "steps a forecaster is scored on"),
    "default": ({"enum": ["true", "false"]}, "false: keep the default model as it is (the newest upload becomes it)"),
    "on_drift": ({"enum": ["reset"]}, "go back to the model as uploaded when a drift is detected"),
    "version": ({"type": "integer", "minimum": 1}, "a past version"),
    "model": (_ANY_NAME, "the model (name@challenger for its challenger); the default when absent"),
    "recent": ({"type": "integer", "minimum": 0}, f"past events sent first (at most {RECENT_EVENTS} per model)"),
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
    if route.takes in ("Predict", "Learn"):  # see _calls
        operation["responses"]["201"] = {"description": "stored: a learn, or a prediction kept under an id",
                                         "content": _content(route.gives)}
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
        self._accepted = set()  # Host values accepted already: the same answer, without parsing

    def check(self, method, headers):
        """Raise :class:`Forbidden` for a request made on another site's behalf; return the
        CORS headers to add for an allowed cross-origin request (else ``()``)."""
        host = headers.get("Host")
        if host is not None and host not in self._accepted:
            if not self._host_ok(_hostname(host)):
                raise Forbidden(f"Host {_truncate(host)!r} is not an address of this server; a web page "
                                "may be trying to reach chantilly through a name it controls (DNS "
                                "rebinding). If you reach chantilly by this name, start it with "
                                f"--allowed-hosts {_truncate(_hostname(host))}")
            if len(self._accepted) < 64:  # bounded: clients choose what they send
                self._accepted.add(host)
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
_STATUS_CODES = {s: str(s.value) for s in HTTPStatus}  # /metrics' label: .value is a Python call
_OK = HTTPStatus.OK  # reading HTTPStatus.OK is a Python call (enum's __get__)


_BAD_LINE = (HTTPStatus.BAD_REQUEST, "bad header line: expected 'Name: value' (a line that "
                                  "begins with a space, an obsolete fold, is refused)")


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
    headers = _buffered_headers(rfile)
    if headers is not None:
        return headers
    headers = Headers()
    for _ in range(_MAX_HEADERS + 1):
        raw = rfile.readline(_MAX_LINE + 1)
        if raw in (b"\r\n", b"\n"):
            break
        if not raw.endswith(b"\n") and len(raw) <= _MAX_LINE:
            # The connection ended before the blank line: a head cut short is never run.
            return HTTPStatus.BAD_REQUEST, "the request head ended before its blank line"
        name, colon, value = raw.decode("latin-1").partition(":")
        if len(raw) > _MAX_LINE:
            return HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "a header line is too long"
        if not colon or not name or name != name.strip():
            # The line is not echoed: it may carry what a client hopes to see reflected.
            return _BAD_LINE
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


def _buffered_headers(rfile):
    """:func:`read_headers` in one piece when the whole head is in ``rfile``'s buffer already
    (the common case: a client sends it in one packet), else None (nothing read): one split
    instead of a readline per field. Only a head of CRLF lines ending in CRLF CRLF is taken
    here, so every line is what readline would give, less its CRLF; the checks are the same."""
    peek = getattr(rfile, "peek", None)
    if peek is None:
        return None
    data = peek(0)  # the buffered bytes: no read when there are some
    end = data.find(b"\r\n\r\n")
    if end <= 0 or data.startswith(b"\r\n") or data.count(b"\n", 0, end + 4) != data.count(b"\r\n", 0, end + 4):
        return None  # not all here, no fields, or bare LFs: read line by line
    lines = data[:end].decode("latin-1").split("\r\n")
    if len(lines) > _MAX_HEADERS:
        return None
    headers = Headers()
    fields = headers._fields
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            return _BAD_LINE  # (read_headers' message: nothing was consumed, the connection closes)
        key = name.lower()
        if key in fields and key in ("content-length", "transfer-encoding"):
            return HTTPStatus.BAD_REQUEST, f"{name} is given twice"
        value = value.strip()
        if "\r" in value or "\0" in value:
            return HTTPStatus.BAD_REQUEST, f"header {name[:40]!r} holds a CR or NUL character"
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    rfile.read(end + 4)  # from the buffer
    if "content-length" in fields and "transfer-encoding" in fields:
        return HTTPStatus.BAD_REQUEST, "Content-Length and Transfer-Encoding together"
    return headers


def _refused_request_line(words, line):
    """``(status, message)`` for a request line (split on spaces) that cannot be served, else None."""
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        return HTTPStatus.BAD_REQUEST, f"bad request line {line[:100]!r}"
    command, _, version = words
    if not _TOKEN.fullmatch(command):
        return HTTPStatus.BAD_REQUEST, f"bad method {command[:20]!r}"
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        return HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"{version[:20]} is not supported; use HTTP/1.1"
    return None


def _refused_head(version, headers):
    """``(status, message)`` for a head that cannot be served as it is, else None."""
    if version == "HTTP/1.1" and "host" not in headers:
        return HTTPStatus.BAD_REQUEST, "HTTP/1.1 requests need a Host header"
    expect = headers.get("Expect")
    if expect is not None and expect.lower() != "100-continue":
        # RFC 9110 10.1.1: an expectation the server cannot meet is answered 417 unprocessed.
        return HTTPStatus.EXPECTATION_FAILED, f"unsupported Expect {expect[:40]!r}: only 100-continue"
    return None


def _origin_form(target, headers):
    """The path (and query) of a request target. An absolute-form one (what proxies send) has
    its authority put in ``headers`` as the Host: RFC 9112 3.2.2 says it is the host,
    whatever the Host header says, so the guard judges that one."""
    if target[:7].lower() != "http://" and target[:8].lower() != "https://":
        return target
    parts = urllib.parse.urlsplit(target)
    headers.set("Host", parts.netloc)
    return (parts.path or "/") + ("?" + parts.query if parts.query else "")


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
        self._timed = False  # whether the socket's timeout was changed for the pace
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
            if self._timed:
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
            if self._received or left < seconds - 0.01:
                sock.settimeout(min(seconds, left))
                self._timed = True
            # else the first read, within 10 ms of the start: the timeout between requests
            # (``seconds``) is the time left already, and two settimeout calls (a system call
            # each) per request are saved.
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
        # What the logs show; only a query can hold a token to mask.
        self.requestline = " ".join(map(redact, words)) if "?" in line else line
        refused = _refused_request_line(words, line)
        if refused:
            self.send_error(*refused)
            return False
        command, path, version = words
        self.command, self.request_version = command, version
        headers = read_headers(self.rfile)
        if not isinstance(headers, Headers):
            self.send_error(*headers)
            return False
        self.headers = headers
        path = _origin_form(path, headers)
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        refused = _refused_head(version, headers)
        if refused:
            self.send_error(*refused)
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
        status = _STATUS_CODES[self._status] if self._status is not None else "aborted"
        method = self.command if self.command in _METHODS else "other"  # any token is a method: bound the labels
        self.server.service.telemetry.request(self._route, method, status, time.perf_counter() - self._began)

    def _route_request(self):
        request = None
        FORWARDED_CALL.active = FORWARDED in self.headers
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
        except Moved as moved:  # a change of a model another node owns: it goes there
            self._moved(moved, request)
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

    def _moved(self, moved, request):
        """Send a request about a model another node owns on to that node, and its answer
        back; or 503 (retry) when it cannot go: no owner known, or it was forwarded already."""
        error = moved
        if request is not None and moved.url is not None and not FORWARDED_CALL.active:
            try:
                status, headers, body = self.server.peers.request(
                    moved.url, self.command, self.path, request.body(),
                    {"Content-Type": self.headers.get("Content-Type", "application/octet-stream")})
            except ChantillyError as e:
                error = e
            else:
                kept = [(k, v) for k, v in headers if k.lower() == "content-disposition"]
                content_type = next((v for k, v in headers if k.lower() == "content-type"), "application/json")
                return self._send(HTTPStatus(status), body, content_type, kept)
        self._send_json(error.status, {"message": error.message}, error.headers)

    def _answer(self, result):
        if self.command == "HEAD" and isinstance(result, (EventStream, OperationStream)):
            self.close_connection = True
            return self._start_chunked("text/event-stream" if isinstance(result, EventStream)
                                       else "application/x-ndjson")  # a HEAD answer has no body
        if isinstance(result, EventStream):
            return self._run_event_stream(result.topic, result.recent)
        if isinstance(result, OperationStream):
            return self._run_operation_stream()
        status = _OK
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
        if scope is None or tokens.get("client" if scope == "client" else "admin") is None:
            return  # an open route, or no token configured for this scope
        accepted = [tokens.get("admin")] + ([tokens.get("client")] if scope == "client" else [])
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
        if type(status) is not HTTPStatus:
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
        self._send(status, _json_body(document), "application/json", headers)

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
# HTTP: other nodes of a cluster
# ---------------------------------------------------------------------------------------

#: The header a node adds to what it forwards: the node that receives it answers itself, or
#: says to retry, but never forwards it again (ownership moving between two nodes cannot loop).
FORWARDED = "X-Chantilly-Forwarded"


class Peers:
    """Keep-alive connections to the other nodes of a cluster, for the calls forwarded to a
    model's owner. Nodes share their tokens: a forwarded call carries this node's admin token
    (the caller was authorised here already)."""

    #: Seconds a connection is kept idle: well under the owner's --timeout for a request head,
    #: so that it is not closed by the owner just as a request goes out on it.
    IDLE_SECONDS = 5.0

    def __init__(self, token, timeout):
        self.token, self.timeout = token, timeout
        self._idle = collections.defaultdict(list)  # url -> [(connection, monotonic time idle since)]
        self._lock = threading.Lock()               # guards _idle

    def request(self, url, method, target, body=b"", headers=()):
        """``(status, headers, body)`` of one request to the node at ``url``. Sent at most once:
        only a request that could not be sent is tried again; one sent whose answer never came
        may have been applied, and says so (504) rather than "retry"."""
        sent = {"Content-Length": str(len(body)), FORWARDED: "1", **dict(headers)}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            conn = self._take(url)
            try:
                conn.request(method, target, body=body, headers=sent)
            except (OSError, http.client.HTTPException):
                conn.close()
                if attempt == 1:
                    continue
                raise Unavailable(f"the node that owns this model ({url}) cannot be reached; retry") from None
            try:
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise OutcomeUnknown(f"the node that owns this model ({url}) did not answer ({type(e).__name__}): "
                                     "the call may have been applied; look (GET /api/metrics, /api/stats) "
                                     "before sending it again") from None
            self._keep(url, conn, response)
            return response.status, response.getheaders(), data

    def _take(self, url):
        with self._lock:
            idle, now = self._idle[url], time.monotonic()
            while idle:
                conn, since = idle.pop()
                if now - since < self.IDLE_SECONDS:
                    return conn
                conn.close()
        parts = urllib.parse.urlsplit(url)
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)

    def _keep(self, url, conn, response):
        if response.will_close:
            conn.close()
        else:
            with self._lock:
                self._idle[url].append((conn, time.monotonic()))

    def operations(self, url, payloads):
        """The owner's answers to operations (``{"op": ...}`` objects), in order, over its
        operation stream: one request whatever their number."""
        body = "".join(dumps(p) + "\n" for p in payloads).encode()
        status, _, data = self.request(url, "POST", "/api/stream", body, {"Content-Type": "application/x-ndjson"})
        if status != 200:
            raise _error_of(status, _message_of(data))
        answers = [json.loads(line) for line in data.decode().splitlines() if line]
        return [_error_of(a["status"], a["message"]) if isinstance(a, dict) and "status" in a and "message" in a
                else a for a in answers]


def _message_of(data):
    try:
        return json.loads(data)["message"]
    except (ValueError, KeyError, TypeError):
        return data.decode(errors="replace")[:200]


def _error_of(status, message):
    """The :class:`ChantillyError` another node answered, as if raised here."""
    kinds = {int(c.status): c for c in (BadRequest, Unauthorized, Forbidden, NotFound, Gone, PayloadTooLarge,
                                        Unprocessable, InsufficientStorage, Unavailable, OutcomeUnknown)}
    return kinds.get(status, Unavailable)(message)


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

    def __init__(self, address, service, tokens=None, *, static_dir=None, **changes):
        """``tokens``: ``{"client": str, "admin": str}`` (None: no token); ``changes``:
        :class:`Settings` fields that differ from the service's."""
        self.settings = settings = dataclasses.replace(service.settings, **changes)
        self.service = service
        self.tokens = {k: (v.encode() if v else None) for k, v in (tokens or {}).items()}
        self.guard = Guard(address[0], settings.allowed_hosts, settings.allowed_origins)
        self.dashboard = Dashboard(static_dir)
        self._mutex = threading.Lock()
        self._lock = threading.Condition(self._mutex)  # guards the three below
        # (the per-request paths take _mutex, the same lock, without Condition's Python-level calls)
        self._connections = {}     # connection -> client address
        self._per_client = collections.Counter()
        self._head_deadlines = {}  # connection -> monotonic time its request head is due
        self._date = (0, "")
        self.stopping = False  # set once by stop(); read without the lock
        super().__init__(address, Handler)
        # What reaches the other nodes of a cluster: with this server's strongest token, since
        # nodes share theirs (a caller was authorised here before its call is sent on).
        token = tokens and (tokens.get("admin") or tokens.get("client"))
        self.peers = Peers(token, settings.idle_timeout)
        if service.node is not None:
            service.node.peers = self.peers

    def join_cluster(self, url=None):
        """On PostgreSQL, take part in the database's cluster, reached at ``url`` (default:
        this server's own address)."""
        url = url or self.url.rstrip("/")
        host = urllib.parse.urlsplit(url).hostname or ""
        if host in ("0.0.0.0", "::", ""):  # every node would advertise the same unreachable address
            raise StoreError(f"the other nodes cannot reach {url}: give this node's own address "
                             "with --advertise-url http://NAME-OR-IP:PORT")
        self.service.start_node(url)
        self.service.node.peers = self.peers

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
        with self._mutex:
            if connection in self._connections:  # not evicted meanwhile
                self._head_deadlines[connection] = time.monotonic() + self.settings.idle_timeout

    def head_received(self, connection):
        """The head arrived: the request itself runs under the socket timeout only."""
        with self._mutex:
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


#: The routes the server's messages suggest, and the client calls that do the same.
_CLIENT_CALLS = [
    (re.compile(r"DELETE /api/model/([A-Za-z0-9._-]+)(?![/A-Za-z0-9._-])"), r"client.delete('\1')"),
    (re.compile(r"POST /api/model(/<name>)?(?![/A-Za-z0-9._<-])"), "client.upload(model, name=...)"),
    (re.compile(r"GET /api/models\b"), "client.models()"),
    (re.compile(r"POST /api/forecast\b"), "client.forecast(horizon)"),
    (re.compile(r"\?(flavor|metrics|horizon)="), r"\1="),
]


def as_client_calls(message):
    """A server's message with the routes it suggests worded as :class:`Client` calls.

    >>> as_client_calls("no model yet: upload one with POST /api/model")
    'no model yet: upload one with client.upload(model, name=...)'
    """
    for pattern, call in _CLIENT_CALLS:
        message = pattern.sub(call, message)
    return message


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

    def upload(self, model, name=None, options=None, **changes):
        """Upload a model (a creme/river object, or its dill bytes); returns its description.
        ``options``: an :class:`UploadOptions`, or its fields as keywords (``horizon=7``). It
        becomes the default model unless ``default=False``; no ``name``: the model named
        "default"."""
        data = model if isinstance(model, bytes) else serialize(model)
        options = dataclasses.replace(options or UploadOptions(), **changes)
        return self._call("POST", self._model_path(name), data, options.query())

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
            except (ConnectionRefusedError, socket.gaierror) as e:  # nothing listens there
                self.close()
                raise ConnectionError(f"cannot reach chantilly at {self.url} ({e}): is the server "
                                      "running there? (python chantilly.py --port "
                                      f"{self._parts.port or 80})") from None
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        if response.status >= 300:
            message = json.loads(data).get("message", "") if is_json else data.decode("utf-8", "replace")
            raise ClientError(response.status, as_client_calls(message))
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
    commands = parser.add_subparsers(dest="command", metavar="{run,routes,models,add-model,delete-model,init}")
    run = commands.add_parser("run", help="start the server", description=(
        "Start the server. It prints the URL it serves and stops cleanly on SIGINT or SIGTERM."))
    _add_run_options(run)
    run.set_defaults(func=cmd_run)
    routes = commands.add_parser("routes", help="print every route with a one-line description")
    routes.set_defaults(func=cmd_routes)
    _add_model_commands(commands)
    return parser


#: --db: an SQLite file, or a PostgreSQL URL (its password better in PGPASSWORD or ~/.pgpass
#: than on a command line every user of the machine can read); CHANTILLY_DB sets the default.
_DB = os.environ.get("CHANTILLY_DB", "chantilly.db")
_DB_HELP = ("SQLite file, or postgresql://user@host:port/dbname (default: %(default)s; "
            "env CHANTILLY_DB)")


def _add_model_commands(commands):
    """The commands that work on the database directly, when no server holds it."""
    where = "(on the database itself: stop the server first, or use the API while it runs)"
    models = commands.add_parser("models", help="list the models in the database " + where)
    add = commands.add_parser("add-model", help="add a model from a dill/pickle file " + where)
    add.add_argument("path", help="file holding dill.dumps(model) or pickle.dumps(model)")
    add.add_argument("--name", help="the model's name (default: 'default')")
    add.add_argument("--flavor", help="force the flavor instead of detecting it")
    add.add_argument("--default", action="store_true", help="make it the default model")
    add.add_argument("--metrics", help="comma-separated metric names from the model's library")
    add.add_argument("--horizon", type=int, help="steps ahead a forecaster is scored on")
    add.add_argument("--on-drift", choices=["reset"], help="go back to the model as uploaded on a drift")
    delete = commands.add_parser("delete-model", help="remove a model " + where)
    delete.add_argument("name")
    init = commands.add_parser("init", help="set the flavor of uploads whose flavor cannot be "
                                            "detected, as chantilly 0.2's init " + where)
    init.add_argument("flavor", choices=sorted(PARADIGMS))
    for command, func in ((models, cmd_models), (add, cmd_add_model), (delete, cmd_delete_model),
                          (init, cmd_init)):
        command.add_argument("--db", default=_DB, help=_DB_HELP)
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
    store.add_argument("--db", default=_DB, help=_DB_HELP)
    store.add_argument("--sync", choices=("full", "normal", "off"), default=d.sync,
                       help="normal: acknowledged calls survive a crash of the server (kill -9); "
                            "full: also a power loss, at an fsync per commit; off: neither "
                            "guaranteed (default: %(default)s)")
    store.add_argument("--id-ttl", type=float, default=d.id_ttl,
                       help=f"seconds a stored id waits for its ground truth (default: {d.id_ttl / 86400:g} days)")
    store.add_argument("--keep-versions", type=int, default=d.keep_versions,
                       help="past versions of each model kept for a rollback (default: %(default)s)")
    store.add_argument("--max-classes", type=int, default=d.max_classes,
                       help="classes a probability answer keeps, the most probable: also what a "
                            "stored id and the log keep of it (default: %(default)s)")
    store.add_argument("--max-ids", type=int, default=d.max_ids,
                       help="keep at most this many stored ids per model, evicting the oldest "
                            "(default: no cap)")
    cluster = run.add_argument_group("cluster (--db postgresql://...: every server on it is a node)")
    cluster.add_argument("--advertise-url", help="where the other nodes reach this one (default: "
                                                 "http://HOST:PORT as bound)")
    cluster.add_argument("--lease", type=float, default=d.lease,
                         help="seconds a node owns its models without renewing (default: %(default)s)")
    cluster.add_argument("--lease-renew", type=float, default=d.lease_renew,
                         help="seconds between renewals (default: %(default)s)")


def _add_limit_options(run, d):
    lim = run.add_argument_group("limits")
    lim.add_argument("--max-body", type=int, default=d.max_body, help=f"largest JSON body in bytes (default: {_bytes(d.max_body)})")
    lim.add_argument("--max-model", type=int, default=d.max_model,
                     help=f"largest model upload in bytes (default: {_bytes(d.max_model)})")
    lim.add_argument("--timeout", dest="idle_timeout", type=float, default=d.idle_timeout,
                     help="seconds a connection may stay silent before it is closed (default: %(default)s)")
    lim.add_argument("--max-model-size", type=int, default=d.max_model_size,
                     help="bytes a model may take, pickled (measured every 64 calls): past it, it still "
                          f"answers but calls that would change it get 507 (default: {_bytes(d.max_model_size)})")
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
                          f"(default: {_bytes(d.stream_backlog)})")


def _bytes(n):
    """A size for people.

    >>> _bytes(1024 * 1024), _bytes(100 * 1024 * 1024), _bytes(1500)
    ('1 MiB', '100 MiB', '1500 bytes')
    """
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


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
    if store_class(args.db) is SQLiteStore and not os.path.exists(args.db):
        print(f"chantilly: there is no database {args.db}", file=sys.stderr)
        return 2
    try:
        store = open_store(args.db)
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
        entries, default = store.catalog(), store.setting("default")
        if not entries:
            print(f"no models in {args.db}")
        for e in entries:
            mark = "*" if e.name == default and e.role == "serving" else " "
            print(f"{mark} {e.name:<20} v{e.version:<3} {e.role:<10} {e.info.get('flavor', '?'):<15} "
                  f"{e.info.get('class', '?')}")
        return 0
    return _on_file(args, show)


def cmd_add_model(args):
    """Add a model from a file, as POST /api/model/<name> would."""
    try:
        data = pathlib.Path(args.path).read_bytes()
    except OSError as e:
        print(f"chantilly: cannot read {args.path}: {e.strerror}", file=sys.stderr)
        return 2
    # As chantilly 0.2's add-model: the default model changes only when asked (or when empty).
    options = UploadOptions(flavor=args.flavor, default=args.default, horizon=args.horizon, on_drift=args.on_drift,
                            metrics=None if args.metrics is None else args.metrics.split(","))
    return _on_database(args, lambda service: print(f"added {service.upload(data, args.name, options)['name']}"))


def cmd_init(args):
    """Set the flavor of uploads whose flavor cannot be detected, as POST /api/init would."""
    return _on_database(args, lambda service: print(f"flavor: {service.init(args.flavor)['flavor']}"))


def cmd_delete_model(args):
    """Remove a model with its challenger and versions, as DELETE /api/model/<name> would."""
    def delete(store):
        if not store.catalog(args.name):
            print(f"chantilly: no model named {args.name!r} in {args.db}", file=sys.stderr)
            return 2
        ticket = store.drop(args.name)
        if store.setting("default") == args.name:
            others = [e for e in store.catalog() if e.role == "serving" and e.name != args.name]
            newest = max(others, key=lambda e: e.id, default=None)
            ticket = store.put_setting("default", newest.name if newest else None)
        store.commit(ticket)
        print(f"deleted {args.name}")
        return 0
    return _on_file(args, delete)


def cmd_run(args):
    """Start the server and serve until SIGINT or SIGTERM."""
    refusal = _unsafe_without_a_token(args)
    if refusal:
        print(f"chantilly: {refusal}", file=sys.stderr)
        return 2
    started = _start(args)
    if isinstance(started, str):
        print(f"chantilly: {started}", file=sys.stderr)
        return 2
    service, server = started
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


def _unsafe_without_a_token(args):
    """Why the command line would serve without a token where it needs one, or None."""
    if not _is_loopback(args.host) and not args.token and not args.insecure:
        return (f"refusing to listen on {args.host} without a token (--token): anyone who can reach "
                "it could predict and learn" + ("" if args.admin_token else
                ", or upload a model, and loading a model runs its code") + ". Set --token (or "
                "CHANTILLY_TOKEN), or pass --insecure if the network is trusted.")
    if "*" in {o.strip().rstrip("/") for o in args.allowed_origins} and not (args.token or args.admin_token):
        return ("refusing --allowed-origins '*' without a token (--token): every web page "
                "its users open could then call the API on their behalf. Set --token (or "
                "CHANTILLY_TOKEN), or list the origins that may call it.")
    return None


def _start(args):
    """``(service, server)`` listening, or why it could not start (a start that failed
    leaves no new database file behind)."""
    tokens = {"client": args.token, "admin": args.admin_token or args.token}
    created = store_class(args.db) is SQLiteStore and not os.path.exists(args.db)
    try:
        service = Service.open(args.db, settings_from(args), node=False)
    except StoreError as e:
        hint = "; stop that server, or give this one another file with --db" if "in use" in str(e) else ""
        return f"{e}{hint}"
    try:
        server = Server((args.host, args.port), service, tokens, static_dir=find_static_dir())
    except OSError as e:
        service.close()
        if created:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(args.db + suffix)
        hint = ("; another program uses that port: choose another with --port (0 picks a free one)"
                if e.errno == errno.EADDRINUSE else "")
        return f"cannot listen on {args.host}:{args.port}: {e.strerror or e}{hint}"
    if isinstance(service.store, PostgresStore):
        try:
            server.join_cluster(args.advertise_url)
        except Exception as e:  # the database refused, or this node differs from the cluster
            server.server_close()
            service.close()
            return f"cannot join the cluster of {service.store.path}: {e}"
    return service, server


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
    if not argv or argv[0] not in ("run", "routes", "models", "add-model", "delete-model", "init",
                                   "-h", "--help", "--version"):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    if program and hasattr(args, "db"):
        _use_the_databases_hash_seed(args.db)
    try:
        status = args.func(args)
        sys.stdout.flush()  # here, not at exit, where a closed pipe could only be reported
        return status
    except BrokenPipeError:  # `chantilly routes | head -3`: the reader has what it wanted
        # Python's advice: point stdout at devnull, so the flush at exit raises nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _use_the_databases_hash_seed(db):
    """Run with the string-hash seed stored in the database, so that a restart replays models
    exactly: some iterate over sets of feature names (river's KMeans draws a random center
    coordinate for each new name, in set order), and Python picks a new random seed per
    process. A new database gets a random seed, kept secret in the file like its data (a
    known seed would let clients craft colliding keys). Re-executes this command once."""
    seed = store_class(db).stored_hash_seed(db) or str(random.SystemRandom().randrange(1, 2**32))
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
UEsDBBQAAAAIAAAAIQD5kzW2e38AAEC9AQAGAAAAYXBwLmpzzL3LdtxIliC4j6+AVKpyIAW6SMVj
spzJUCslRkZU6dWiMrOrmKxw0B0kkXJ3eDpAUiyG96lVn17XzOnZ9JllfcBsZjOr+ZT8krlPs2sG
uJOREXlO56kKOQGDPa5du3bf98kvkslFsWir2ewmmRbNxWldrKajZDkrqkXyD0d5sqiTabksF9Ny
ManKhh6cXlazadK05XL4WfIL+L/kZdEWydmsvsY/kuQ3hx+SJ8WyetK0Rds8m9fTcnaQ2P8t69ms
nCblVbm6SY4+PP9w9P1rGK1YTJPirC1X8oa+xN+LdsSPeIC7/8dfpu1FmSyrycdyleUJ/tFc1NcL
fjtokmWxKGf4YlVfnl8sL1ucwX2HmBUtAOUmSWWBIzNAvSgHzT4/KFcwcRjs+qKalQC/RZnt33cM
6GBBvVyUxXRWLcqkPkvKYnIhC2wvijaZlcVqAdBsqsWkHN23a7dJ87JdVRPdpmgH6WHT8/l11V7I
LtEu05aOcJE6uSa5KK7KpEAUg91enJeruHMe+clF1bT16sYjSr1IZnUxzfFHIUtFRD0vOyiyKif1
YlFOAEGaspw2CK37ggC6XMHMsUv4qlol01V11ibzYgUI0zD2QJv5sqoXA2oHKNrct/c3z18f/ie/
9jypYCz/96DJ+sHRPS8Ea8ICBhRj2uRytYKDkVwVs0s8mbgMAT93RK0YeBc67XBjn+AcnwAcG1ih
7PK1opw5Kkm9imYv29HwVFwPM5ggD3R0dKg0YFUW857FdY+jzlv2F9GccDtJcW0x+PL7bgQhUYN4
glQLZ5ONgIidnZWrEncUdrxuWjyzjBGAyhXAdQlzgAar4rp/RUSWmmeAgPAvrcgQLSQu8HE1aZMn
sognyVkNjYsGH62KxcdcgPsESOysbO+NtggMwlQmaTPs8f3hi8M3H74//B389yg5q1bwLC2AwMGR
qYF+A3lYKHm++3+4LYw+7ao4O6smyWmJk4c92JfdKfzJg53HmdQNErtyce9lzACM05ukgH6nq3q5
LKewLx/LZQvQuea1MXBxaxraDyHrxY844Q5fkku4xVbxscz2exDxDCgJ4tt9h7mqymslI0lbnM7K
7mn37+D3i4gk3mMl9exyvth35BBOJGMNX49Alz7yEEyNi3O4wbHvN3V7US3Ok6pJEJUXDMayaQAz
4KInAvixLJdw7uEgFKtVdVUySUQyiD3Om3KGz6bVqr1hMgP7gX3jvdm2s1KOCY9PzXjH9GTxuXh/
+PL989/TPY8nEv+vmheIPcnZqpiXyky8wznlfPyxw3oBzAnsDswbLj8EKy6RbwL8C6Awx5PI9Npx
MTg6PiiRLFarkmY3F5oLxzi4ZJO2/lgCdP/h6O0bWM2fgKDi9gE4bgh4iPbJF7t78GgGF9tpMfnI
HfkjIB0d4m4c1ZerCYyYKkU7g8uxvo4xTXiSGYAcSYI7TzDikx68+PO//QeMPD0H5LJnj68HnFJ9
dsaftRXssH6m9yTwKzgQvpNJpA+fJnNg9Irz+iHM5WxVz4kK4rnESQC4Aw5mMqt13QSvb+rVPAAg
Uri525jTy7athRyU82V7c0T7xu0X9Q4jMvFgcHkvKqAA8JVcdoCvbtxiOoX9A5yY1Msb6VbOJjN3
wUq5W+oGZ+E4J96LnMDNgJ+WZ8XlrGVyuS+XJwIAB0cIydxxS1/V50mXxgt94qsgR7o1AkQhciBU
F7nEFWIsHjSCMKIhd7wqgdG+cfcujs49AZrBJgnNDSmtcJl0BQGEFszxzP2BF973HYK195adls1k
VS0JdXCrJvXlAuYoAA2Yge7H7nWKuwNIkieWxVnCXWSxmsgAkXThVgR7PMPdN8gKYGbZsgbI1Efa
w9RdeK+f/5fv3z//cHiUNMCgzUrlppQr3zD/5Ze7cNSWf//3fL3Xl20ZsenN5SnC5xQ5QJxC+WkJ
1AMwetoY8P4Ot5h4i5J6MqOMCO0Y27DbStbS4V8YB/Eix01pYX+BHek590SZ8WsAAxzM8zneykhe
FJ0Ua1LHYBA24L+T9rKY5YqnxaKeF7M+IaqZwKdN5i4xIH2EWTAyLs0gLY/1AS+yPgDTtut56NyB
xaK5RsCelk01LanXHAj+ZYME8H3ZXM7xYnny2QCfNAjBdrD/2WdpmiUHXye3nxHBhXV9ePuPh2++
/8fDf0oOkoETYXeICMEH2gyR5N3b75AlOkj2dnd392mxT55YRk8RdFbBpHdoXmk9Q1YBZn6WnCNR
wjsUTnMW9Pz+7e+x3y+lV+l5haxTtfBnQDaHrn73fcivuU7ge21uTjkTD6JoqfKbFmvpAvfX7Ze7
mRnn3avn/4QjPHXLD8ZZweU5P2VOuK2JERNerkNnCKl62b8QLHQqAd5P3XgwnDnycmCT9L9+jtcP
HMEmBOyrt7+B77/ajQBraS3vmWMJc7x5+ihv0O/Ri7fvDxna2jX0K4dCjoBuHYla58CXBD28/fXR
4fvfHb5keOqW1ae4D8TKuO/dUSRMCzr57qXMIdgPoC944fJpEtkBO8zh/ON2sBABN9OiboVmT5Xq
S+e//u4N7fQX+8HZhs7dapLTCq9Ohx3CkuFXX9rtUlz6wvF2ROVIiHKfq+IGNxtB6l68ePX2xT9+
/w+/ff3ue1qqBbbwq3TDnxUrT8RCNgMY2gSYMOQQYZ3zGjnQqsV51YsJ3N+w3QgI5FlnMzfw89+8
lfnsdrDH8D+Aew/3niYNcz7UO/KkAKISZrLKaQwnNBpwfXj/T9+//u4Nj/Glx4CAHxNWbCRiGKBn
AXzzORGGveGXn5LLJR41ks6LT3HvgCDU+xe7AUTfvnr7Hh8fD66KVbqzM9nLBnmifzy1f3xu//jC
/vFlNjjxfb7/7nfPX31PPSMZ5TbA/xezbLDPuxVSb77McuKxkV5UC2GHujj+8v1333w4MseE+gv1
K+ER9kv99vmrV4dvfnNIszKi2kChjRcS8qhwFpBPKtzl49uOYjnvM+j/yS+SnZ/wP+Jui5b4c7ij
3IQXZ1/ATBdAeb5btLPhm0ukp99Q23RQLnZ+ewRbcIt7Xc0v50fV+aICkRrurJfVOdyQIzhk62zf
dPf5T+vu86g76OZHdPgN8BaIxtrbbtTbN2XR/sTl5glc77+B+2AJoIRjUsyAvuEoMMzZ5YJP0dm8
Ta9yGBAHO/sio9s/SaqzJL1KDg7g4eVslvzwQ8J/oXB/VuEdDajRXgKpHPz53/4P4gX4o/ZmWQJ9
5daD07oGgroYuNZHwGwsztOrrOeLB/jFgta59QMGxbBq3hRv4IWfCfxtZvLAtfumWlRtaZteJV8D
xJ/B5P/7/zVIRvjvv+NP/pr3oACIvC7ai2Fx2gTjFzTT3eTv/g5//yrZK3e+QAgVyddAEcu9p2ac
YVsffloC+wqsUzFLn2ZDkkYmJezhYyQZ5UB6li8WZ0PGfxly7XACduoF3kcwLXiHjFoEbAEdzqu7
dFgsoajvnZYNexchxLKYpgu4DZGoADZE+7DIhtDgCFml9Bqmvwuf0xwtQr3AmyVt82TeQC+Ed4pX
vJSpYPZLuHXSFvhdvEcyC3z8cPzoFiczHcJ18S2I+k2aZeuRefiauZr48RFdJ/R4HMAWpvMMe23W
w6CX2axq9Js8+Rw+A9g0Cn27speXK+I/0sYeFNmGJsBgxIgOCjZZ37lpFNPgMKe7edIYZGsAwb7a
dV/B7Knl2ayuV9DdOmnGYePPgaHb1By4f+hrTdqI6M3f8pu4t19+9cXW7mi0dXIRdkf98UT8iOFe
dLviodaAHN2+ZBp+vHHf7jw/rxHrFvV1z+60/fTFbIPHPOgh2UnaEBRf+m/+eIk0ur4exEsKUcSd
9SfJH6aPk+bREzgxA5g+8EO9C/gd2hj+iuQ4Xrwj/tmmLxo69v6Lq2DFqMcbcpPq7MZQLLeotl6+
mBVNky5X9Wmhy5mVLcqmdMHBevaDh+/g6c53izM8MTf8CqWOlLfn+GOeLE+QhX97+kfgBIdAWZFd
kgF0hGAtyw59XAL9p7GQwslMPu674ZdM0xL5r6yW2+kePON/RskxPs/525MOAKrmHU4M6e2tv30e
aC8wlxDgNa2KJvng+WpV3ADxoH8RumHXIMYDjwekC3mFSxCq0rMevD/r38jjsyFybCDrfp38cpfp
4tmwmVWArkCCfgmn7M//9h9ICM9A6vNtUb7ttMaHvv2JuYPPEFfdTB6YFfqZDPAeHJzYQyibClsR
7fJZeEuQFHegzf2EPs+Ali7TFLHl6oQuS5jxx/UBHVFzzBB0QO8zj4Jt+Qmxgboe/rGuFukgSQbm
gOhgDiSfZ/zRY7iykuTxo9uoxU7yuV5EOMAZ7ruf86Z59qPFs+6ZA5BfwQpkrn9Y2LniWOHeZTo+
vQp3MHmcwPewjSFdO8bV5fSB4Dcx+b9IPoBoRap8nh0KKmMQYscsNuIwpC5Y3LBtpET+Mz0tpvxR
tZjMLqdAuobI5gccyKoped9T6E5xugUJSA83bz/AhsFBX1DbfWngTtrGA/YMHowM+Vknk6KdXMD+
rlaeiihX5pspAIRRJ5rydvWGgbqdMfNDGlaf6Fx5zx42sXamX7M3LBiz4RopZkGGYxT5CV9BOIeN
h8OSPP4CDRNk84dJsD1iLrqeFlj4tlrGm+SIzyvoMsV+c1ZhuiX4g5ZZshRRNfwyM7QAr68OOZAz
iW07ZxwHVeTP3UEV2DJMw+8A1YU63LFZTvRAomYW0z1qOnsayNMFppM4+TWSBfuWaAL0y0cr/O6p
o7Aw/TUdSKKrnfM3XgKbNGaN5VhM/iiqj5MUtm78d/xkDFsLu0aOBFPa1EVNEn28pdjPa/wkxX5z
amN3jrQAlgdxD7psCPYQM0f4bM3/DOXwN+ng2QARePB3JIY9G6x50khEJ/Drt++/e1HPWYCiCQhP
72DwfOEss6TqYVNrc1GQGZ2NBB8rdCnBX1P0oLpcEL2Ywo+2miVNPS/RvrAgv5aqzdk7KUE1PJkD
kIVTfWO9mrKBlEy4xUxgiHRdnuClZTRKNLnDBRIvOBk8EyJqiHm3iXuQk1F/RCLREFjLFLldFIty
mjQf7xzV3vqzKf80Sh4/dsOKZM/Deo3MW2QlGXRyveBv2AevAGKQKtVgw17Bu3tazurFOYC2ZlUP
4U/H5YYsjdgc4FXOzpIa1XvXQBwEPDyn0wLIejgb+jVEtffvAflSPyWSV/GdO7Y7/qUcFTyX1FNA
9GiLcYMUMfCivckT2XNSObpLaETN0Ggqd1jnMsLu3p7RpX9jDwM9GNJgeiSyxD4MrjF+QfsO5+Z2
HRwN/5XH7Ce0FrE7XK8qtNSxEpAWNRBUBqS/fdg+HA2Hw/whbdzD0cNfIVC+fpjDw/XI7E1D2jzu
XdTBRYs68LPqEx3++rKlWeNlzW4h6N5yJtwl3I/IAyeIEACm58G1XjUC4KHbbjK6fP/67cvDVwCN
J//yB5rp8c7j4R+m5eHJYz/h9Pj5zj8XO/+6u/P3w+93Tm738q++WKfPRtZ/5Fn28Mm+3Rj6ON4Z
Ifs1ECQY08xgWH4qJ2YbDIuEjb1EhH8d7wW3j+xngAnBBsoFgg2GfHosyw2YbN54lmP9c+hKX759
nVyUsyUqeq2y9BEeMziLdMqm9eQSfTeGf7oEDDoqZ4CSKHSXlg85+t1vyKwxuGjb5ejJk+vr6+H1
58N6df4EmcMnzdX5INQUXbTz2RtYVNoWaJ9GMe8NIFpOl1q4I8iku1lMAA3b8pD9SfBjsxuulyxZ
DN0f8LX7bSRV5AoehNfPYohPX9SLtiRNGf4V6tcc6D0rc3Xul1G07QpJ+O36x63jzVFKEISv3IIi
sfWqT2yl8TKceFO2z+GP6vQSuDpsnv1sS6WLUnhVEZqECeRrsfxUTIRRxIsO0XUHTkmSDgbOUXFV
slVsUXZoJPbIbGmKNsIe/UU5iyYbax6gAY4KMMDjCQ2urKQ9QOYg0AT/LIdHbW5qjY9MY3yeEHYv
yB1pjK3H/V5V1r9xUgqpHs+bMVpR8C/Yelg62taIDpPrE1DLCJKMUh/E4SudoxXIiEDIZqCXOJJd
Uax6uZL8NYT3UHxdXSLGerM+OYX3dZDo50BJSEMMq2A2RN/jPPSv8P7yshKtKvXSEyOvDKg0dt+9
9DNpV5elfw5Y8KECpuyyFY8E6fm5wvwbBHkKiwPW1ipOaQ2PUc+7011I5payzv0qAmE2RIDcWEad
+ZTsmm0xXzbqtyWWcthZst8Pk1do/1RbHXKR4v+ALKn7vJyq7xRwcjVfxdDbTUIOOJfLjjfyQHyP
1cIqfaud9XKJrtzQq/E1oxHxzufpV+3QscvoKIkeatfCNsdWYel9XiNtUxcpt1pxYJyOyDGnQN8v
Bw0BWZ8tGT1/Z+TzUDv+Go749Lx0fDc1mvNgcMoCC/dpCfzGNGnQl2sh/pYpNKpnU55WLt5d5JtO
/fc4VhA9g3HRfaEZJerokfUfxSOCCxs07Cmsz84AS+m4ET8lnBrBdEecXOgv2N2+s7JAPp6Ru8Px
AwZz97k0ZseHMuVBPuTS/wd70Pi8w3eou+J2biIf9oPziI2+1hU8DmCc+YXBD/8Z83jxtztbvsUf
v0h2h7/k1dDvp1sP4GGPA2W9EKHuvLQ4/rn1p/QILgiG+Nuy86xBYuCEK9pER/WNqkNdEvypa5Dt
GMO2jD1e8s15WrbX5H8t52/ysUFDq7hx0SeoNBkaYYqcL901E7jx46dT9FOgZZBPGLt/Uu/knStu
aTg2z1388yoyQqhzhgt84YMh0Sqi1nH9DhrtOTyndCrUK7JGaWHBh5thzrN7uLcrzhzIJdDRh74f
/m/+oQIFJWWEJxMc5pDE3b0QwkOzhXOI3r8VUwplPaCzJDUnCi1i/cfzvWALXhdNSiu0p3RB+ih6
bC8zPivLomJjqnDJt71cCtqUHG/jeBSYYcaGpv0NlyFi9BEteNyOg9XgMhunIlUjLClPy9kYGbOH
6IKMEM0Dp87k9EZwWIChMQTEdbXxtevsXndpENvMfhrwYrgTB8p5tdm+aUXgS0WEkGPNdML2pc7z
QZf74WAhzI0By1tgHMlI9BT7QTZscsSAl3TY+yWh57NZOjhW1DsZADw6q+shWT+N+Xz+7juV2FC0
SZ5ftheHqxXMGMBB9xX/desI5Ht1mBevJtUOKMkit8wc975Y3Own43rx20UBvdar6l/L6RhdtFfE
tTB3+sXuXv+her6s0vBbe6bYAx32STaJ1PLuKexCMTsCmALFRuP6d205T50bKWk/4MNY2Y7AbPij
ZFo16MI5hamF5jfd8XOdRGpMahJY4LAEWUhqQ0KNRRedKb3wqGKtC87iyt8Ga2riNeXcUxYiNXoS
2s9WJdLZCBr25HTgsUS1Xss3iIeFOQjAdZgoCNTO4GWArA4548Mlg07ywgG1xceyMREE1YLuFDoG
CSsqhgo6+uK3K1YDW9BZWLOG+n4qXfqgX6VLr9jhwquMzSKL5mYxwS1HbV1nQny0ZbUoRsjMbuk0
Ie4W7Mw//jXgPpyVR7fUBMZbw4iqhzPyEtkci+sCbqOzEnZEVOG3OgjwXnAll7CuRb2DKFsOxHHL
o80KLZFt0V42RHrhnIX0NTxbaYA56L97Tb4xjh6kg0vTfJB1aaMYVnDc+mM4lhC/1Uo8brhH3blR
8u2HD+8AKn7KzhYqmLxaubUkvlV3ytCwb2KCMvjlH5t6kWYbdhjAO2svbgLCHh9J6Su12zOgUEH+
mvzh+rYnA7BsPGvdAQKxuHMD/Xw3gPFltao7dPf97dH3Hw7/ywfUQzHhBR4HFoX/DHIhij6MCd7Y
P9GAmyuj45v0NbCYBU34/KAhBBANW6wD1TrLfkwfvNaEYqVEgC1RTwK8JPHSJM6iCIrTHuJ9NERe
Ms3GiA+w6+hLr+woXUlwdDIDlfQM2l1oqB3GylHAc5ZbgVSng/IcXXpDiQYje/A4lwHwhVcnv7ZN
qGt8T+szNpox3TUcB86hfBTeKJYEUuoiXFTMkCA0obhVYyfzDo4bLFyFeBcoi0x0ODXXkllkx1EX
rXqlk1Is7caEGG05BlB/VMd1FBB64evtXMBZcuwc8pZvMRKwdfbj9rp2QJ6WEwzcMDvMslnVCIpK
LLeLuqTeUaDgDTyvgRD0Mh0v3LRSONGoLLBMhyNBBosHXvWFqyOti+q09IIkZRxHohVwIaNhzC+f
FAkP7cl5mBOAH5onbgw8KG/oZNhR0HtbIjWAzudO/AKAoH5XbYzulKWZ61DxRXygbAxHFN/IshIi
uF0ximqx/xSZAqMeXZ+Bk7mMnkvnTsErYrOdIWKk6RN6u6bWLo4ctVI0MIqkZpL00H7t38CnNyi0
rfpfvURnfnhlQwGIFEVaZ++HmXgccbeTmh2RPh0kj9LB3/jd9/covXfiCQe9mk74dVthAO5Bwlc6
E2LkcY7oYOCOxwEWyPs4OSYcewclnkEWCT6G7h83J+bLOZxhaG1mSFMRqUy8TmlGbk3ss+inmtkj
4pWt68iX6lVNOmDWS7FkqZ89C+8YWp75M4t3ByOc0oYQOPTJi5/BxtGTYb1ADEcY698lCUDmgVDh
AGdMD6RcNCyGrDGcmDRy4xsZkbtBCenYHQ8Xc4q4fJIF69KB/El2xzI4iGEzORD9hyOeLZ+oiPEN
Zit8nacXSD+HERPvphrDGpilyUfc4E4DBf5ZUc0irypuE0wYiEL6vsxIqcohN8Ft2Eh0FU5GclpM
9410grcbX0CN175pvArHbXEgi1eWL2q9lOn2AcwdhqDDueg9H8NuyXCP72d7fB7oCkBkpeZ4zExr
i8GEFPLOsM/hhlv5xuKM3eLO+wDpU3aaMCwO060I4x2CMItBy4z5i4BQcDtcn0dKWLV9oc6qDzhw
qbN4fuyn34f/SYDz3HkoOUUD9okyDuvdCFuxn3vMApmmh5x4yHZ5xAjGgo8vkIywO9V5XU8T9D+e
12gqcikjgF8tiwXdr5n4YaAZV7L2YCIfZkHIaDHsm6CewdCAF9PSISX44Kh/JPkGGsMXr94eHb7E
nRN4HSg5zaL+kl7Stn0/Q1nP2QUDqamXrOHZtIcyJNzByd336o4PGpUuZJb4U08ROnlYtiVYUXg7
ii3HcLw598yj2yCc2EjK5g5B6YFukIEEl6JTIinj8YeGq+JvzE2D/zL7Dj8Ya+gXBvANTuwW8VSG
xXRK2/uKZluuRFrx+GtlGMHcuy5EvQI6VLJq3vIt4S5tZAv4AAJG3Y19b98dvgloqmGioQPu3xFO
84hXm0XKp018oc2nk0ac0Dq6pT6QIqxGxanj2E4xZpS4YraxkL+YYpWYX4nLFUmUrKoowKo/mRgc
jSGw4uwlKu1hThOW3ir8CJMGiM0UR6uYkCCvFd1hePmmIf/kQRgb1KNTpAxdap2iVzfOhh+hgbwM
xjJsOsa3bR6Z/aRkc/xOBQPr3rHBvlqk9GOFDlepafALDN4FAdbG6YYrULnBuAmwEikmkxukDAdJ
0iPhfeG0T5nKh1YrR9rcAHaoDOLlhsDkafiTpX1tInREw1lsMUx8z86FqjCeuFOnuDk5xVZsCnqQ
loRz6AwBOOdUi+x4bdeVRDu7NiQ5wpxILS+LVbUeYm5ubGGvyczYxxm2dYcPE4trh2tJUiet6nyd
kZ/PJQF4mvvbNkjgAyyFMZ2pxiO5JSA5MhReP15TicqgmdBJxwp7Pa8Ihcgk+ZNiPieLYFsvxZGT
9QQd9cC+xOlWZ+Q7Icm7LoqpmfiqPLsMZJhNlCFWZQY6jNDnJsJMJaabVM9qCjB9eI2uX41F2q7+
5MfQ9s65/NnVsSa1kvf8+sA5JkREoexfeNmbXFbjenFUXKF9bXW5aDSlAXKlkuIIDbtAZMYbfL00
w5Oqvaiz2J8VJsAKDBp0Bx+EkQ7VAlN+2Db0JGzEKZ2CVvxo4B0W510WY9Bcns4r5FmEzdBNLYfL
Fd3ULznDk98cYsLVBEczGZKVbAinap5mlnGaDy+q6ZTYDItNAghHc+Rfnm/PHCezaoLsVHgHhP0/
MH8GbIl5njEoh2f15LKJR6dTBktjq5VOxvVvsDoijoA4wWEI5xWdhi3d0iQ8OI0Z1r8JZv5XOCfs
Ls96svCgsJsLK6XVG0U8YDTP2HREaSWA5otjCRySnA3aFaW9uhEOqv+0HLr8ZrgPClHDfp+2i3vZ
+THFGRn6dU/gwy1Y1c9fiM/VR2cyxF4/wK2TuvHhzhAH4V/ffDdNcRTV42HjQAdoyCu2C7WDMMqz
ZPCiXgKzSMo3XpSkFlveDLa4T9729Idd3aAlPk/2vnLB9x7V1/0enpjb8UhyyKU9/mer6rxSPwDc
tyE/ie2seBkg1PQswdoe5mpjPbgdBObbAaxW7Le/otZfD9YPA/UqK1glt92OYBbamjtK1mMjrQ6q
+bJeAd9aUWSNeFcMctuEZAT0dQSWnltP0HbdlDk5ahar7yUxElDC5aqelA1GT4R9hH9JgID2M3xX
LUvsKg2bkYuN7XMIaL+YFqvp0aSYAW5mefcDO6XhK/rjfXmOSf3QrpKFH4R/jnX9wyVynoNHt7xz
a5/GdsChSAcIr+H0cr5sUs6v+OgW93Mtxjb630knRq6zS8Dk3LlF22flJWy0LQPaVFPAlS+eoqAt
QSvw9+3gE/wXhIr1umeid42hontnhHOSXL6HO6u9gGefD/fW94RDr/fju8sWXcUAEmP1egTis6Qc
m8QTSj5MpJVFIncDNodzUYhBBj96oR+Rg1Gl7n7zipAoSTnnOMZ4sCM7uekBTUZDH3rcktcK/gmc
8vuyqSknKYypJj+gctf16qNzXe+IPEIBbeyElV6YUC6Kq+q8AJI8dIscUpST/zbSORujRY+YI2Gi
xeYwk4HCyu9DW7hb1MdO0OMgFGOALDhmR6W4VPt1097MSsSaitYORPWs+gTkudOkXhaTqkXmdrDr
3rqJntbTm2GxRG/4F3BrTlOjbaTJzALGl9yPP8Z8Abth0XPXMcY8vajnc6AbcJUhvc+6rlemKyft
wajssJTG26COFOufi5uwDrLCTTxJnmsQIuXaJv9X8lR3DsAF+TYhk82P0LzLCljSLlLiPJDu6MBU
jUPzj+WNj0+jIf6xpLjMOUcjztmraT6kEMkf8Jc46/IfOv73RcsPyHWPf57Niqt6RZ5M3Ujs+6UG
zbuRKJdLdBntZ4ZeuwSkKUUBhEKDdkrJzP6Ght6ZVaerYkWILE90ReaRrNg84eSZ5oHJm+cuETcG
EsygMUd5YER3rHFCbgJhHx7j05W46OF1wX3wI0RfNj/fWAdI5/kGf7k4AkIbzLRYK4NHXRhhAHYb
ZPX5kF94czC3C++koCkgiftpuRCBO0UA+6kTiniy4V8gjnUuPxmIAjaf6Q87CJumAs5r1sS8nWO7
ZXP3w8Ziy475J54W43FnYgOM/Br0utZWpMhUfMugr2qabffqJXwdkorBj+xwEV2rNUlCPD3BxSwK
F+tfi2tMm4BsvdK1wTVe63eqvbqwlTOP+lDZHXRp5ZO9/1kXyKZ96A6wFdpKTugzCzr/pZ7lDvs0
H8qrPHE/v5dDfTI8q2awS+mvOTGbpjIAbvB+Q8mq7phGeCIul8EXfpvd3eWx4XKJszZ01jW6XLrR
xbM9aBcnb3DpxcJWkmoMpI5XyOiU4kSRdbw1uoQu6wYHUD42GME06znoQhG3fM8tej5V2rltbImu
636shDz+2IFPGsSgG1/Zi2+seeIiZT8nVD7oOW1hwwXp3n2WFJgyNzSRhfjnphUu4nbhwV9sihPt
fOdpQFufn8+UBgCtwWSAndkIrnX75zRfOrk1LnOCURr04aNb/mBPWw+awdqlnQ4TFpNxl6rJ0ENG
0/E2HTvfmLkx8PyW+ANyg2Lpiq7EHWYb+tDGpCfb//l1Qy60yTq0vn/76tC5syaS0Bwhw78GeZBQ
dGDc1HLtEB5jzvNB5JDanzQ9x8NfNq3ah0mG31qRJeW4QTQBNz6EaY6Rha4fzNyPLscYuKm1W+6o
2pKkbKABUeoNzUj6Zr/K03JCGbldLBcwhTWKeeixSZnB8Vo9RSmzRJf+6vyijR0slWHUcEeGqEIi
l8IOGpuGN19OZhLOzMacEgKWG/EEKOfH9dAFxEKH0r3SCxdR5udBtS2IjNHeipmEE2ZzdnmmcfRt
VCtAvUQlyom261riYW2hCWcLadhq1khlF0nxjkmpvWMjFxyp1AXVxw5qbJUGvvkCSywjhAGIwlmj
LFxMd1AKHDkfT5S5de4kn2NY+BQjEynhfT/T/jvBOUqbRCr/Ht79elXonak4uoPPInU+yI1Rq7AB
xeVG3TB4BibhGWfx6XNCFR4StaHTyCk0+ECaR9s64LzBPj4d+uFo7+MTn6vYbbQw85y63ozHoOVA
28QmuOaWpA9ZULkKMfrR0eeDx+VYqOaN70/QLKBFnFHHkiGi+GuWN24ZdyXSp1lrrLOrvRAJNgoI
SvoXZizjXFwHyZUaPG2CMvfsrkyAQ2erfGa+sgEt4oxC0q3smHXjkkeAqjKjZ/popAkq4NuGI6Ca
7Hj3JNIDUM82HwX0IE6TzOrm/tUJJkmEDxR++PvkZJMXAsmEHm6I9kZoEySSDEA6KQR4zEH7ubAt
1/EvpG6RzJykb4Ex0+FwqF1TajDJCtOj7p+xE62g0TE1HALdLE9iJfcVeRWR7+xtAgNQ01wIIdNI
4fySZ88488xQMU32VFrJJsFiuJXuOAYx0ZN46BY9Hlx+lkG7sqJOu3I8lOMAXXYNfdTfHtdJ2Is/
OsFT/NIP2ywL5K/G9AL/s/Polj9dj3PPFhzzsxNcn5sGPrFue36IFyUldTOrI+3F1Q6+DEQ6aSy6
tZS6jHtkcb3bWSS2S0CgylMZyXjSb2fB8Dm0Q+7FtYeHiaovCqy0MilHorXFTFsrDKGa4MIQ35tA
XJdRrowgKWmb+4T6Y2mX4y8nCF79CEFw06tQlS+HgdG3D4DA8ydXIvugAABPPdts5YErFX/sdvOj
iNd3dFKH7c/Xp/1FJiJNxOMI0QnO25PqzvEtZlsWJvTFLSxaE+mVn3GO2GBhmDNOV+UuzAOkp4wc
qMkiCyUPMBLOrVhJ3bGQy+ntNgQWa7j7IcXxrSGYsKdI0O7tA/OUljfrUQJnGt+zoNiBN/HKfWDE
FwFV8koAfIU426cG4MqJHt1tIKKixxa1wNjxgSCpqYrg6l4qAllg3jci3IpYvahvQLlpogHNB/ce
734HE6h1hy4pzJXcM9ainH/l5XxMpSEUEzOMNHpT0WnJCewdcsgkn5KdiTCX4QRC+0mxqooduS9x
HmjK6fUl8jborZ5mKP0h+9yE2TSEKWOmdTwfJynnV7Apq7yTHjGI864FG9lNwKvHj4nvDNcb6l2T
gHM2jwNGNwgvZd5mvxNyuimkVzSMxLmZZJzbh/lxDG7PyLIsHjyOSDA08+1ZOhdNLTCIlBA0gARF
zRGTvjnMXph4daBAhwAN9h4bcb03dpwnmK2dHD/ujajvi/FlWttx009SyobGYa7omt9gmg/x9zKe
hChW1NcL49SP6LRhEwmjcAtZksGyALJq/Bly9vxCz6SvFmCA6nY9aqvEQbLaBpmPezV92bCpV22a
FnlySp+cumY7SdHDB8b4G3g2flB5yImiVuJ37Oz4tqegHXKDFGXbFbQ4SYo5vaRZ6Omje5IbRmO/
vrRAmJwCUS4sB3Gqf8DLQlltfiF/oK2RHkT0D0cwc+FzN5QH5M5OLWymVG1kJt7d454TbJdqTy1O
I5SJsk379DN6SgaFvF0tQO8M9s7rw7kFA9jXtnI1L03x4zSogxnHpRIV12BujO0gF+ErCUKOaxW6
UtnN5gx7vIIXxWoaZPbSsmmipkDxfwlX4TpQBtq4yatz0bFgPcUdyvvWFw5ZXHfiK26T6zy5AFJ1
AL22WOvw1/WnFDrMk88x8e9Xu5Eu/bRu2xpdQTGB9F6kZwcg0qw1neUAaTTnRECBYIQuK9VUHn7a
GyUwwqenI5zDDfzFfcPvp/ob7uGTcIxlWXyMapWAXCsQY8GZhWbXYjoE4IFYa3hgOTn0ict5vUdV
GbB71MV3z3JbokLsOnmSpH6bAQYdrv3TLrXb6YyBjZNfUE/7TmUl2iJumjRI/UUdtUJ1a1JOz8t4
KhMOv71NPo3gvqDlfsKcbZX0DiAcaQ50AeQOVu94QuvDOaTu8d4XmMxAoL1vUhrBXg6Xl80FKyYW
Jfq/N2kI6Tzh0Y8rBPHyBLqiyblCZGKWygZWAPlL+p51+6YjvbFnh4MU6ZwzsK4JMr9EDhCe7hSL
yUW9Quc+oFcDdEQcEwKQeSXFn5gf9HO43+Fi74Q4wgh9ShyaQ3RqJLOlLPC4ixcOy7HTHt51VpyS
9xt25FYLrL2nIhElenQbDrLWwUeyOmw1XGZrW4HQkkckbqblDFp2aShmmnPTATCa6bgK9oua0xff
lM4XvJ+pRgIVRipQInUOlKIqDqweF3fHseSZZxbbuqxkQaACQDONWdeAwgZWe3+x7DSTetk1YIlf
hCYxT/6//4cBjonpSFxCXksCLO07I5baPKaGh7lcTlEy45q4mP63S4SWsSWTGqvxt6sb6W/OByeM
s5AEc+4SUcdGOHXLO5qyfyI0tO4Sin10Fm+T5QjmDswmZkgdJZS6f7eTtahDkh2dzVx/zUV1FoRG
9QKzm1dVOQQqzjqi6sBkebL1gaMjhLuW97IJaDEQPsAZ9ejClwoIWv12X7++vkApNWArFrb8NAKv
+lgaO5phcKSErroVUV10RE2ASeXsuWisG3ANbLabOecrVIKT02SxKk1yRDslzQkDAgfIG/38yisG
YJdZoak4W0xgt5F6pgp6mSbHxOa+PIs/u335NeTz3nQJsm29sa4nUbSDfvMnaf/lLrYFBAhbOimc
dbyP0vHfwAx2Ht3SWGv48acoQZVXtQdnLdWZc7797Jg6ONG//nQSdoJa4vg2iRxJ0TOV7jSXuvrz
LIwr5yJdPnh94nXP7NfZVRRfLiiuZjBvBll3Rj8qI/aWsOu+1JR/MXnfZ/WzRK5VFIZ9zvUBauep
uIX4K8YGugUkZ7Jhfz3KbwehE2tyqphZha5aEggX+KMFgu9zl58KqY4mXtKTJdqo+swBMzxzGVco
UWRVkmSiG9HmLNGAVaTkcme6oqi0fVFTCOlBN4LFDTRo7K7IPSf28/osDiKsuV4YASSTHDvYdihT
/H7exA79vpL7Zj8l7sM0jTqR8u93dSDN/nqiLYlvjRFlj6p/BdQeA2eIKbkmdb2aVgtiEtqatu60
/oSgfnF0lCyrT+SNMEZ3ffQ9Hmu+gVlxA/RnX05ik9yi4LeOaX0sBGo3v/c/v80x9fHv0R5Ov77F
X5HzgJXQsHFOfC2ngv59NeXkHq7v0GMg+vZb++235IJiP/5WPu7yzVe8DtQy7wKz8ej2eg3/uXDE
W0mSSMABx/CS0jOPly0c7PS4FW2Q6oJO8tAtBxPmFpw1XXxy1awm9QwaVn7K7euypVLchF7PuZUG
+Tsqnzzlq5mfkNsLOoUUnzCL2ZhyYoxHhm8IMmxx1nct4+wZCQ3vIP0UdhUoqvexzAB6oEHHt1jM
kgqTrzWMgyaFSwba0VYTyrmFrjsstVaSYThtypL90V6j4ahb1AYgjOFBLxDbGdeWONVJPatXeZDs
I/eefscnIaI1cDQ2qS72nsJ/voT//yKs66reAgc4oFNZHrvqd+b+DOoY4Ixeum95gs/43+29oO/B
Seg1Q6FnMpEheu8VbWoHMMGeD7C1U6zdbpE9o0CJbn4tTtR/QONL0b+WZ9tmOgvxPTSKlOmwzcKS
h6J+IEJFoWANqhMuctqOPDl26RVAGmbXIlMjwT07CTp1uiN4T7j+/FPVpDRURioej0syR1EHDD/J
j8wUfVTQKtg2aRyWrhvBvMxA3m5IX08Ux4Q4zC1dR6baOiZS4bNHTcitnE74a6qMHgzR972dzpY1
BX1Oo+6CdW3TWRCYcW8M6LOALP5eYrwqrMd1XoubIKIBcgVjGXksdGckhe9X59WCHORWQBKYjlHK
+jz5lKJPI1aQHGqOTGRLge4ct3Bw270TV/ACyFSFlx/q9gkWGO09MjkiWQ2MMjINPuimazfo6mCk
1D9Hh4hFEiZ9EnP9rIYm1YkmbH6PjpXaQ4DDbtIH3BtcU8fS7nj3BP4v1zN/HG4maYDgfVhxsEZp
/6uIcBjl61csbq3qeu4zAiiogmOP9QHgaMHsdodfAmU8EQ+jVTGRKnBCOW5GNOxjox+Ev1FhiG1z
V6fltJxRQcJ0VmPjiwoazmpSLO7BT+qY5RPhjkIKMivPWnvNE97BJHla+JOpEvwY0mCK9DjCV8On
MObebs/qqW0TEG1kF1gb+1VvWDxuf86eqKp+xtnBI9rLXFBVWqO+tZWSjXvEpbZYKDGlBT3m4bCG
xlOg+fIM1oNQpNLR+BH9Jkjx5HaoYZblfgs6mluQ6Ri+TzysQy0u7lKf6sMhb0GxomyuZpMSsSFY
eZBgiIQJJTHyvAV2iStvgoRQqesuJw/ad4VZzoAd1wbnJYofySmlGuKRkDHlhAvROew5REadMMNs
/2HpZXwMq95akllLW/keRRb+FcGNer3al2dfQ3cZd3mlEYf4RkAL3+yVO3tPYZEOQ/fkBitOG2iW
ZbEdhdDwIGhD9UZ2vyRV1/DLyHkR9gXGYsDDsI/p50n3ypZ+7QmDTr+Kan7WydfAg6P9wnULi0DM
3EVE3DSUw5LfiFXGmR6EPpNFVGoENcoDS/wAIG3vztLlcas98Fm6TpwuUz0t6LgjCr3GI3+b3OR8
erElKv09n3M/SxIPZIxJN8O2/gZjYdO9jE1K9gkMk8dDWEMBHV6gGWxJuQGofT78Mgu63GRCoGVI
7ydZRxEZ3VbMk7EQIA7tqw5g3aV868iSAJYur/C+YiIYmOHildGq8A55ihNGAZeqCyFhMkwUEKsH
ROEy6fNOwwp1uRkyfqA9p7cSfOABOsAyEhJ7O0vBF/cHV/vkOjFYaYxsE+0KoySQHIA8s0PqKqZ5
MVwjRhBWkiMiqjVMeSdLnthXbmAyP9Mc/SOrnbxcGJr0/nJB43RoB4kTlwvKLwX/5jQLH2uNIz4G
acEltsHxsND3o9vp+tWj20/40TH8f8RMWGxd549ueVX+i90tjf553JOCw+MTJgoNDiNFtQN3M6LZ
wU5XKE0S9PCkJZu/lCM8HdFCc9w8kKD9t55QOZhK9k4DK6oq+/rRLQJB5BpbzBzZzGidxHOaR654
+asBlfd1FQsZ5WaIX+mipuWhvXSLmA/i82TWjJNiOnV1UthvNhVhoMubelHCIKJDwFxchAeD8KRP
vRDpkIvXj3XpqGpdB610nVHd6I0bNCYAPLqFGazHkjsJtqu7Ud1KdnwMue43TricXFJUi9SiY+OA
B52kle8oCqIFBhCgfFfeiEfJuy8XgUOcOY9LnInpQ2oDHiPH3pPvNe6pp7oQF71AYONMmD7yZ8dW
vY94ySJjJymkrVABXUTYTpLuK7oXAeGnitDTIQCPPamMvoey83gXHc7giXrpl/TLxAAWLZt2mRqj
gL8WV8vERBZOh4vwLAQKHwIsMQg0EMgQTlXEEXTzJUZ+Jj8Ec4S7CiuUoaIhG5Ovm3CTn1w5KpNJ
hEVLCa6XItgUBTcrzs95HZwGbclFRFn6UW8fXwyM36G7buqqyXOGP29c3/cjShZO5kdImd1wMB5r
Ho6o7vxNj0qro6Eo2pwqEy39pRIiMHtVeww22EoeShKnGt0Yn668Z7T6++o0EA0QvLCpptKvIuun
q6B8+oO4ENenK05A2VYLnwhNBoUxP10Zohm7ODCWepRNp1ETXCzKxkprzgNCw2hE/90RFEevvAG5
ojMyO3sToqa+Ch637jF8Di+omzyxThQjx2i6rOgwL/VY9jYXx+Yg4uBMI95uO3vK6zAM6ifmTj8x
d0ooEfg59XTauSy5U8R+vjLxzvuE1xl0t57tfJHvfHnxy38de3Gb1yaECX/2pdaiJpGeh3IZ62Fg
eJE3an3GRewJLUfJw31gIUU7q9SF6tDuPR3t7o5291A0xqO4l3/59HPYmz//23887D03cqjSEOEl
pdf1QhHLK2xVOYmU8EFECQNlAymlG9+B45Kg2yCIi4h50MglsVTmTuOvMBwRM6JBD1wdfufLzOpM
xz0UVkERU9jM8R55Et3K433b2s8XOpNQb/9sS8z3o1uZ8bMEDlTw0dfJl/iJ83ngmhFr/UICANbq
5POYir4gOJ9Fk+PHMDH1R7B2CIoz566ybvHrfu1lxANFOjni7zz706dP6+dvJtVqMpOjCnJLxBrC
YCDGRMxhnqwwudbTmK0NjsyYJYyxGD/JL2N8Wi3gSfmnS7gz8bfL94zByDVZephBhL8vqnPgldrc
8U1TX6MWS6dRh3RUqbbnKLlFz0CymOAFBXA6xYpqyUU9o4rG9Pa4Okl+hXb7X+nfqDo7keqdhQsH
x0/xw4ZO9+USxaiSairVNdxzzzFHwPlMubVebU98qsn/63xVzCWCM2c6kzMgDpJff/fm6Kcrfq4S
DQ5q1IJBw2R/mQbogdMBfX0PHdBfrARCjcwBNXfhoxWKdP6J1QHRzkG/7KePKJTeJozoI4Ym7Cke
lPR79ZlMK/YWx5fPsHPSAqEy0iiSKtQnYpNQOSsMD5c14JgAaoSUd5buZtv2IJOvj+GLt2foo0KT
z05wdXuR3TXA3x6XLURKNCtcjUdYHQqu8PZiXgIHSqZSyRqvFaaY0AuskFlrSswbZ1Pz0xQ/U5cG
jN8mFMeCUIbn5B5S9vfScrAAvCf8C/cUbsIY26P1RgoZcv6kN55APfU4XinSnM3qGq42UvfyeQUJ
HZW+/IfUFofza16THljfOHtR5CLtLHLYMO+UX60wihuRZFc70FgU9IVGvaKhIDCjCtF3L2r5K14o
Nf76IKA3+EUHAaoei3vhycYAkw2uOkpI3h6Xsqx3h/QXtVCrO1VYE/qZcrygXC3rrGvN7jNXf+so
GhmZOwgsFC7c/C0O9l+Rlfpz+M8vrad9v5/7HlnneKjsR5qJ+mxBt2LryY01h29ydhFf4wJvvE++
tBrsDpL1yc9vy9lus5GRaj1FLhmAuIxU7kV0yPaCdijBiG3FGWc2WVYC44zthJL1TSIDzaTXtR6N
MsG+FMSH8iYyfCZKsSMBD0MIPqXuxMXVj5SbWZXk8WgzsbGkAEOh3DECiQ8DA3Zj5TVxOZPgmY9u
RQedUYB6bipynHdwhhjOEHSqCWI8BHCM/kEGcmq98OYWqxLcRdV5ycNrAwKkbzNx3a+jpNnKti/o
HmWRSOUIzrs4lzyczmmDt4dfdqS8z0JgY4cq5aXSUwgZkvz6X/VIg165Nh+yAjA0ovYZ8WVKgfdE
jxWGqAjTVXGEaO60g3SsBSkaFcn5dOu3dITuaReAw2f9WaNroT5FV8WCYxRI0VRM2kt0udBqNuvQ
JYuLps1uOM3BlAg8eVzRZ4QJ5lrQJD/AS5BmSzwcte8GMGZamoKfc3bJGhfobT1mZlrzPck32rt6
YjrtVpZMYY+Ra6GajU7wMktEfpuVIVXj3K1a7+qgLIz/gvVd3AztttS1U4il5Gpu6pWyCQofsvN5
32X3jSzE+GfxgCTg48J/vFsWX3hf9V94KOLrCIFYLum6eedMGzqgSxsltBxyq9CzSLfkrm+1XfT1
JSZxxlhXSmX0LDk+xuBUrLMJf2iH/OxExhe92wmdMfqOB7xyAy4wWItMFCcd7zDvn4a+UIrolLyF
J8h/0LxOtnuexeG1BQZJ7ySnyDdanUfkWfSTnMz6vMO8SxIgRlQ0Ylp+ek4VH9vgHqSJkQuN6Dkd
qHdPhi1rfDTFATYC9jNo4VQ3VgMqY1pMgIlNv8NJAD4wo8LDLYdRHgUMDoRnwNl2EkNXYmwnrepI
3dKAq97/zJQk+8v93ARI6uemRNcbjTxmhBFyk8+zgXNBo1Ae94niVfTBXjawJmDGsu3Ob9xm09BE
7AaR+w+fRp7CfTwwKcSYotDu8H2b9QFhz8cIYkcLE5YeIlUQmu4w8a6YQt5ud1Eiig+7tvUQOcNQ
1IVGn8azEqqyaWb3ndunlDrKovltvJBNEEh3/jqnLOu1ZXWwBteW3T1RnNX1fSeYjB8/ug1HgUmt
x/fxcsx+Nkd9yUaB4Q+NTxz+e8lSP8fbFu0zLtMZCLQlnIaVjWbRHA8+WkPyalWt5Og+LRvuOB2f
Vufn5er7qvmeOxrn1mC2KCtOj492J64R1ExwEn+6LDBQhnIIfiPDUKgNZy3k3nVc7gsaN37CXEG9
bhqRvEmdC4wvhqqIcxhGjr2qMefT4QJ41+UN8iFU4Cv/TLLlMZ9VzGY7k2JZtXBNFpNVvbiZSxfl
gpSmh2xYpMyk6evnh3ny/vUR/Pfo9fN38A/9hievDjOfRx11qavvml/zbOEu4ZAfICVPcFI/yJx+
oAn98C/Hz3f++eTx4aMnwxZIBzd2Zs7xtFpJFXB6MZZNlAyfLo0EppDh1EK00w5YuVTPolcIR94k
dZpDNpA3Kua6uOeXOrpWtggt/oISU1HPkfNUmL+DK2+Y7HzBA+I2MhUWIhnIkCBJ+8J5dUi8Griv
jGR0zO1y/1mMo9zFKacLGnDe8riJsEuRS5DfxNQte3hRNPL8mQcG5muRp6PkQYAM/DiLzOrffvfm
w5EB4fEx7iaQG1LCr/xmDoCHO6b9xLBC7Dh6x/EJg8HJSZhtn9Ov+vqOUse+Ngy/cZgeuZSfJCcU
p009w8BG+hxLFKMZ3IWc/mu5qofJuAUGfozTGdQfB4xuHKClpETxcfCxHriH13BycTH8hCSDekVf
a2ILISPXxY1fa9cpg0H/4oL9OBVp8yRy6RQmmlbvrTW7J8ehZkY4gm3e0eEHAt8D6Rr5BXbExY52
NC7nidfFy5NRYlsEyhklHm4x0J8M8zX5UcofwOsFggklzjtwM5KZDP783/59EHxED//H/0sWtj//
j/970OuOjJs6CvsC7tZPKY6/lFk/YyQY0V7r/Y1358gCyCYOeHRLE19LjL+DEw+dcUowyX7wtzbG
335pwAMzeMxL++//jvbDvk6lu/GmGO2zFdIczoQrgcJw82CdjQWAua0mIFiQIrjgvLIpmebRq3WB
dn80kJVca6Vb6Q66+wa7t98Y96qiad5wsp7YyUp6DBLIyWQwtIzmKTc8eklJR85XSmia9CLFWJqy
fQcXUrlqb9LBjuTZ26HJDNTe2ZNF10+Ay1Qhg43j7+CfajomcbOTfu3icyodk7MbDOrqOoHACJGB
ADOatXYHXYc0WhoEO/mc9w7JS+0y8XKMqWYVEu27pKwG1ODfrHyhGPxqXu5j4jpKI8TNhT5pTBsg
96rIgAUSd7LTEq2e3Vi9SC9Eihv6dsyJf8mjK4ifA1pLEeojja9De4Gms5ap86DrUcfWbRQ9NJRE
0knvxklqnQ31pvCG8gBAUrmRva3PkT1KhzShHZlE+QlEKO/lRDrRVXGN/okc6efidDXA30EZ04eR
VLgh2B8j8zDSn293OSaODG06If6U8Xd0z9Lt7D8N8VsxTKOgfWpnF5wdN5H9NoWM4hZc431jsy3p
VVxsN89jHJxCrdTkj860uqKshvRigR6wNi8qRz/0FwkRXcnlaV9/8Bj/wXR0iNN6dTMll2wboQmG
sKOnJ3nDWMN/+Lzb+Fdf5UvndKOOh11a4YuGZ9E3v+sASb/BpKXQgJE3ApX7/Lu2RMMVTw7/SHUe
Id5IU6VMOnA3YnP7Gjb5DNGn25diTmK0GP/x1s2nZt31+lnHkYTNNaYT3FFtjhnMgsKPHm60hxS2
zv2HYWwnpRJzIjr8IAkdk2yOsFoh/hk60+mRCRL9jCPTCxfs7EFQIrc79JoAWys5N9mCHMe3ajd2
4dpS+ISslZTO1Hf/fSZkFI5bLlDKuQPNnWa4eU+jhTZbwpwT3zZFLwVTpM7Lz1TWzhBjlwwhyHTy
HndEY0lN3vb4pD6gJqp80TV1a4u4WWPq1Qf8VaB3kkfW5fku1P0R5HZLSSPGf42iZj2oq7or5z3K
wjAm0D26FUGTPyTHwCjZbXL16Na9Vf+1ZGy65/X1FqS5irujTCtZXH/Gn9F4lh5ToqluKnTjpxtU
u7FTNpvSO+lV36RX/ZPu29tN3YhZdRWmZ7azCXM0b++AskqLaQMPd5RWUKWv/r5MItHOCy8c2fIC
K/rryog8qRXsVgmqmUHuBsnsKnaUNku0ksE4IvuPbo2Ko18oS0QqS0AsW4/t2ZM2PklAB66PD2xH
aS8pybj3lKT6zrv++gZIamicbm0IrGuy4Szo3K968BA/23RU+pggbu9SBwXodeXBHhAz4q4ewJdZ
NBPBwZ4++zGuDxyqxgh1F31h94AuT4NcQpenETCi9rB3e3yn0VZt4+nuRzZv6a7JSbont6K7dTHh
UZNA916GKCh7is+DA4ADu5ew8FjFjh8ADy0Fpaz/sw2CzyhzkvWCDs2Pa2EBxluTBcollAdlqdDC
KgFUGxOIEMz6cuttzAvyia1Sn2KrVMTKvaMBwrwgwsyMorTUmzOKYCfP3M/tszCWY00Spec6fBox
FptvcidaaTxFuDNhtj5hHrZzA3oF9KTS2DwNt1s6jcAn33yHrJ3ni6KT9zjpGRV1VZ36Gy7X8d1c
wKZbrBNsQGMbQxr5y/983AG68fcsb+3UI6EmIR6ur5oCcQ3+de9y12OzpLDWwh2JS51k7fQ7uIRp
7+z3O7OXv9ewDgIw/OiLGgkS890nw9A7yo4U1gJM+q6Eu/NLolZFK6Y5mx97Hs+amu4nVIfxijhM
uVyKVwnbuUi1Cb8e72GYjCh18O+LTFKplEC5Dfxcqd4Wa5zBAM0cU9CRm6GmlerX73yLle3rhVHx
UB93aXpofQf31BGJQIZ1tbsySjGdpoMLnsWgz0myqxSBCe7gS22Ov+My2TUpZUlODYXHkit40SrZ
gIU/ezwvJ3FpHzO8qStpcyM6nRUldv5sY/ZEf1po6iKEYsPYoQSf9XkwUg6cTbDBlzpD/L25NtBA
tht9ETh8CbfQ+eXmG5QlIN16nB04N5Qt/TO4jRWnb7hQ/wCgXG5aYrNDr3WR9Ieukn0acd19iKcK
AfxChft+hmIUfBixFxgYaYrKW6YMcxM2zJBJK3M1YI/SBbc7Rgic5Np0yGlUJNk/2yxFw/1NvXIH
jAfvqxLEFd36sJviZkpJSSqD48uTbj/9qdUluCYu7RA6yqqlJ+gUzxw6rR0Wk4uU8Dx2dg6zp0pp
turkjiykcpWZxeBHJxukz7hZXGxIhmDDDHswJ5RcIYyUZeCIcQ+tgQ5MX+SJt3RdZcYTfG93F41n
nbFUZoFBdFprTct9la3NB+tuSmeNPeTN5vNE2e4yv/MKZxmg59Sp3c/B3KRA8GGIG8hs/8UekAdc
joQQyiKNO9BTlIooFlTCDcfb79fnquGGE4kZxYuEVaEcwc2hCZ3UHl6jOjPqY0qlEF5qFatgu2SM
u9jB9+FtIqP31ZmTV5QvgbO4xpZAbiH4hhkszzmC7oAn2NOI4w31vUuxLB7LCANxKeavyoZYHw2Z
CfrrbiNzz3FNpMoolPlbjX0OQ3igWbBT6jVMBX/Iz0jcxpRI2Vitbf7VznGCRGPhhagqTrOf9Phb
m5y36bu3R5KTW99m3tt6LgFLrJ/FXlaae+67VjNmksOTRhaJTy/BGf92Q6ZYI4gr9kYJQfuZLudS
jUyT8D53W9IG37glCux4Qmiq5T5QUNCfj27ll5busl6QaFNCs6CuYLDBCCds3sC1+zHGpkGv2cEc
x4Gbv3XQzO2JdSMzZpCnOpIWRpFB7GQaGUbyQG/OHUbosrGLPnfVH28T2bRnZCMJghlQqPoLbSX+
eElfGgRAZwfr04h2i6oE//zGlPuYMAf9hpfA2EIGmO1MWcSG3SbAGE1Kp9bpUeY4unPAbYf6IO3c
qIV4V3A7+ivdopxwgQh4+ofsG1ed3aRRbAHdvxqQkG3pz4Qn3KtHR9O2zVGWFHXIjzEr5clmLUoU
g0HOPZgp5AF9HYrXPyJIJB418PtyzsXx4LYyii+qVeHagkoopF+Ruic+X0LYGfA89rjsiysese1w
FZhaJ7Jpax9eZN+6DYiVIX1nO548VWrzwSTjfX7y6JbDREQPMnIPuvwdM+DMKlqObUPxS4rweakK
NVTS/OmyXN0cAcpM2nr1HKSCASvcBllU0vhunc5GMofVZypk/XB1AZweS2i1TEnSSJhHLrVFMPNO
bguOi5KcElZ301HIE1qQx1swpwBaHbZTWMPmP4vvtGjAjWPxv7Bz9fIP08eRI7H/GjO3d74kNpxc
OpvfA4sGFwpGSw3Mh//5t8/ffPju1SFb/tFR9Vhvq6dZ5+qSP76wf3yZDU584qZFPS9mN5IOBFCT
WTPYOioyiMtoOIW5C77Og4ILsR+5OjON3ZNxLkp//IwrmWYauobFCluvrIIesU5Hw3oyFis1aUY/
33SEoxPT5D3Z72ab6KtkWjWMu5gZKe/SCKwwc/Ti7fvDo6gSkq8ZN+7loRhsd3FQ0uov4Z/C/FBu
5UwEWCPQFzmswkKEQ8dV8rfxMznuUYG1q21eL5GnS2ze6/He2u4GFclghmMTsVJtTKmetyfEVawx
kY0IdMq7URSu928wEsyV8YaJGdPKe8CY1BSBSpMhsg4VcmgB8ZuicUlh310Qzi9b8sYY8Gnhk/LT
2c0urhOnKUf7J/KY0gvGxPXXVPxfkN8UVFZS04fN+vKvxaIyZ5EzW9nHogr9VcaT/0w3a/e4gSh5
OC59aI15JiPLHHcrSEYR69pEK8bhG4HCTYLUu0VQ0kCVeBUWC9Kv+guAbyr+Hevi1jFr3rpwfRN0
AsClwUa9yk1ZkvqZuhh6mxRN+//j5fScba8MW1VyKngLuTk3Gn41EeGBdLWphy5rFd8YcsoOgsLo
zd22UoPj8qXM5M4veWqVHVSWs1k4CGYV2lIpsVIw6b6kKd2sUEX7Y1IxaAqFDD8MFteU2+OVI6Lg
t4xnG4oShkNQmKzxTJnnIZhD5sHlp0Q6qVBOWYbQDpMn4QSikItss6VVtzw6ovK4p13XmwajRNws
sdxpyEDHQLTwCPd4LdfDmGwFqQL3GXCs6OUBo+gsONC9ewb1Ev3AkpE97UaNzadatdZFe1ydCCZs
0lvfIbsEywg3/6W5RzUXhPCNwVfrROkDw0C0lib2RWqgSG4sAFZbB685XY57bbccJSVYdwAdEZbs
M/UHeHTrQU+N5M84gZ9g090Mw90W78nsskHenfj4hyTEvHkohm+KQOWqYpRalUk/BrpiIFujfwu/
LzwC9/f2rEdaIilYBCVL2Xz+rZsX/LkkOwiSBWIiQUwWeOyGSDGJs//rNAuCy2B2JfOxT/5l5xkI
eOkfhvDf7NmjJyaMnBux5PeJSm0Hj25cVW1Jt4WNdvT3TahI/5T8KrmBrdvZg935BCcS/8DfuwHY
ZY2kXaecHsWKXAlkJRxFQ1BKdUNyVwO9aarzBWUVxCS6/aKWDEDCVk/axV5BS76hcRtXfrGxExt4
Zl2e3Ck5uXY/JQLj542yqJqQhb0kHbZ1ScAm24hOCCsut2VP2zb/dOg6M1mu6+vGBLBm+yaIm0sI
7oBkCK04aaUkKYt9H+G92pe7uQyvg8XOKlnsDrzx1AH+2C79iVsUsLgfe9lw7JHeDiI3RZz2xi/w
pf+Avleg4auoK84Ut6kvfovCbbCqjTIcfqMb6kkIxxkzu/9RwN2VK+MNcVLlXyBa9MkUHJF/kLw9
/WM5aYcfy5tG+OJMuSyvlZL0MI50Rv591JeyesiMIc4Niaz88AOPNMTyMWnKueYf0HsK0LapMQWe
Flv5W1ZkSD6cnHunQO4M+1fUzE5CQYOOWE9uB8ynQl2ID0UmNY5WnAcf32XZZkmDDqSgbjC1PhFj
cUJT3O3wMm3dkmmAeoNZTi/h2jLpd+BOh6O8e0/PC+rFFjenuTmHisVmb4o+REsOLIj3w93Z6mGx
uMO1YtHjU4FDi/ma0smxtwOt81mS0sowN23gK4HXXewugXOPYywMM6odGZ/ilDchHIWemWFcYHO/
q0WfBBwcB1cF1vOCQgrCx13F9Th2kL/L5d12t1XP3Z2gT85My1/HrMD4/h7pkfOJnH41TjzdFSHN
4eRYuUP0hHA0Ut1O4s3bwMLfdZ3GK45uV+OBErT8Gubb8UDBf+64nTfwwpIsPXAA9ZlctI4xRRRL
XG5jY8How24csdOxq4uYlvr0ocgY/ZTanuQN2tJF+cR+ZeswJpmcR9ilOmICI48z8aLv2lmje4pa
jZzr+61OZBR6N9OMRz50K1c1jrgdy7Um9bHFQ05LCXKTHj85oGwjX16VDJOcm94aHjfJMHxfYioO
2iU0dbAvLdnninkNB4NeYdJY55rLTrl0YuAXZx6oV9NumgzqTJgDQdeQoV6uyrPqExM1EnAfjwO5
QEi+6Ef4RlpY4xF3QNLHk3+xpig5nPze+1pqDpcoMZxIJUX/V15sOd3QbVc4pKRIPnMOwfhsVlxh
HnjyioY7vMY6xwJeD8QRx+WfVVx1I1kWq2Janc81gw7Rp/Ss3/SYi63KiraOTeODnUn6aDzd/tCC
tKJ5FTl9E5/e1Llyc7k8gx2UBZ08imB8rqvbUF8gWx36HBaVHuXxrfJzjpMLj6noiuGUrcc9BYLI
W7tJGYiCTcbfOk968gXxNhxEGQYxnfxC+LGj0umcvYX6hRiRUkIOsSBRX0pD/zbpsyFR8i+an9Qk
8e5gg4wnwznAehyiOE2RukVl/R2KwmUQSyvOEuPuJsftWguuI+TecuPZKc7+h6Ah7/SFZxc7E++z
SAaVNeJ5T5zgbhPLhRP1bPlfNCcrurs9TLNwXupkjVhspcd77J7O2pgZSM7EKmuWsNnEm+zXyPO3
mZuOURnYRxxDCYQ66GSlZNdvcn6VtE85DxUwtfztfSDphQGbx+7uZVKJvHBp3dI52IgnaxrdBp7h
wS5uCMzwGa7yxGyuOf7Sd7axVNXdERxbO97vm/PtBq95IXCjxHvMA/StG7xyNT+DO7zh3HuKatFs
N1xPmDBoVdftuJN9zyTok3uK7iek8HRHcXlzR5Q3aNNeU29MtnGcXhJtcjttSgHn1T5clUCKkjlP
YKP24anz8q4xkx/OccGesa6X+FaI2LnmZjFJO2eaMJmGR01nLOPQG33gGlAqJyMVLHxb5PuzKNA1
8evDzyOUw8BMdwvybXHXXWgiagH8fWoDRmZOxY5Xt8NTQeUs5v23xYIYmqGCAPWf9aF+t+MJCl1p
EF1st7sDDRv82bu+bXLLT0t9SYmdwoyImgETThjjvVquTcDaGNMfzUGGwQ0bcQOsqlVdlSCBRYma
WhgB/kQPnXdvMZHQSKvheOclEJioAtoZRmmsSkqbR/tPzrEzPKnUBEuW4ymgLHk0oVO0vbXbzu0R
EaHU1qhx8bHHJ/uRKhVHMHsnVTH4Ay94+sV0r0uaaFAIJPz6SfLUILSbijRysjh245R9viIM+v88
5QCWTCvlBJ/Sdx1K2kcfcIvfM6o1nK2NKsIzhzwmC+/qZsy5rubr0DMe4N5K9VZfCVLzlbu0KID5
ZTlNpasuqNAa9wEVutzAqwDkwXH0QrLojuJCQgEg9ZsQOApIdb+leWsuaJ6IvRwZDTpHm9zwqB6o
uWRIOqL+gHo1xXlJWd4xY/sYrqR0wc4JUZ54mlZmIEUXMUK6H0wOQ45DbAo9a+WdXOrtyJVyabF8
FLm9omVRfjzG2kifAzhxWD6+kg91fT9QjF2athNKr+rzxKm3lclrW2npcXIXRG2smA8NEAKFwG2U
R0FXN+dK0zhprTLd+sylzIN0sovEpXKkHSVWlU80felWLZGJjDHRLRzRMuIaN6xza6KYmSTlAKHv
AcDIBqsGJ6o00BcogaDDEpvGNyHzjpgbI2i2R698QBk1oIrG1x7oInElvSUaAkrgyyeLr7qwNPo1
7+halWnxZAlwfcQJmfuPFXpuTWPuBR/z/jKkTVaZ6dACeWO67cR7x/ujwu3EQsAVKNUNOuzWg6Lz
kdmg4AzxxLsu+XiPvP310eH73x2+hN1/mtlNcM2lNKFtbKUelhBCyLgAGQROmFh4akIPApjoDm6C
Bm8lQkM7oKNoLSuZGsICcUxJhi5oJAqJrQu0dOZDF3M0gVcjV3TotA+8FVaQlfsoZwiZqsRuuelG
anvPWAZBW4YdwPpBqiRXiOzX/A4rGTyTnzLxMJtIf8Rk7PLdQ3Pu49sp1beo2VQoTVPMlzOkNRMq
p8tFLU9vqL9K0h/43vAmX5BHaHJdiCf5lJsXbUCYpHviIoyjeOAn7su0mREktcIW5/HfA37X1wHR
cv52RLLM/5D+XOXq2iP32g+S1PsHAn0PJXPqXJxUkJ4728cuKVRQaFk17UAcgZR3e70/bXN0zMAl
rpHRKfYb0J2uMCau2VRlfFgxgcC0EpwOBNMS61NJfiX1L6KoI2wl/gl7hFoP9x6CqHZ2xhrXHvIs
s4pIL++YEt6rUbBYu2EKCvXOijOQ+zd8knooLqzrQU9FcGKVdI+HIP6UWDwvVDzZFqigqjA74Mr4
n5vK474hWtWZrH/3EmSDziD+Adn0syEqa+Cf0LU9tGz3EnhxbAkWFa2Y2NueVXYx5P6b0oFzRz+V
dHpfh7oHHim4Ajlygy9Ad6ClobkbJMCjR5KfkO6Kb5WN320x+qltAq6X2QwNfJIWkmlsUNJ84ewD
GHYMB2ixkWYxi8XKDd2p7cpZVXb1cWp3adKDbwNyGZqi5M5xIHhrdABk/yBCfVWV15zsWbRSatvA
R3IXiwCUG0ukq1WsFdsXkqsYpCOpBUGpkynNgHKxZCfCCAqUPrG5iHAE32bDfQAzFQ0iJk7bYNGk
BmpPhGauzhktZtSrJ3Bhx6TSFJuku1MME+uWz+qdwujsBsKcqGxXLqbk7Of7CrsKpEdK1rQqoMub
EmB1uQDsbBiiguwVMVG7ub/qbAdch6TA+iSULkdTmRYOrsWikRIIJIHAccGSxc4iAR+Z3hOp+6Ff
tTX8unEKAF0BbB9lo17Vy6WbrNpw3SWaY18LcmojNIiOpNtkuCIpZDBFjMxR1lvYEyR3Q0/9KH7R
vTSxH0lIpr5NiizEEki+BtOKrBJoPMfBg3ihoJWn+C/ff/cNKoTsa6G69tFmwi/z0QzOIZHSVBGn
NWfURyqlIjee3p7Diocr93kShL+iI+yzpPuEuKnJejrm7jgn4ZIvAXU+6D3veNK54oTzefCHPucj
TiKsUlqykUrQERWEJVKLVhbMyo+OLPhmzLR9zGNi3pDKxS1KDXv5kPhTRnwvXLNaOHlOCMhRWlr1
Gp8gkaPKwnDkSPXFnJ1mqF+VV1V92Yjle1JQfb6PsFJyvW04pqjZl8488OwQtPP92knsFevqsRIc
Ma1YVmjkrtHzEG5foAG5XG657X4dWh5Yt2zIIivVmTjGlgebT3HfnO9OrXecuPuKg58OgnvNqu7D
IDHRa3eNJ4/Swd8I1cRMEfHc/nRZXvpQf8yfyOE8fJVLnkSaLe25ogMRTPqEktv5pZLFp5wGqw1M
LY2lYELenJ3IG2DU9lIoxfuEEUPAKrmhptWK4vB88nWyz8zqhoY3FIYxkkwzGEcf0FjrJYH6o2sx
e3E0nuiCkPby7GPNdfGxfAVHTkjmPLRwPpjHbB9hpvjqHCTzwNKJbACyF1hV0k7Z+qPOvb6UuhJj
HxtBEYeHC2Q+cCbargsm0UwX2LtJ+gPnlDAZO459BPB+gj4eP6ZR6bYK3YT1hvw1A+yAp6dPffho
q/ehfSQZCr1L8o3hbVUf7dIyYjRCgZ53yTugVlVTDmE66bFVqiwrNPqiLJWiSEynPh1QWhtBwifS
K6Zbw5mKC/KP6yT8GMDSorlc6i5hEhygqyDpA4F7ftleUAEtOGA661WJ+5qWmkHZDm8Uogl1m6Q9
ytk4yS2iEe0UXsR+p/AqlmMBvxjRHjCiobji/uakpDHKinSumn41LHR1XGoD4KaZtyj4TK6+fJYp
oCXWAaNR7K8fqWW5fA8mtwerE+FDspG5xjZw0R4YMpHIRPe7zhmkibl7pZL80qxULmiO1orUDFhJ
N+Swpjjd6XCR9WcrJh4Rabok9PQAcllXEUg10QcUzvVxqORy3JOeRvosPLB2rkAU39Qhd+zzE6xK
uDAw7dQ1DlRftuJxBu9ukrMSU2hNlcdlGj/0FtmA+PHqECFD48qzzTaX4RxdX3wvHbjB1D947wNg
HK5QQXfpxAbnUQd8BV5gZyhLpq/qc6x0R9ozbCxC+PfLVX1afA/cWzb6LLyz6YJgsTUuPChXGdWn
uaFcWO4mQ2c7ZNnoGkMiTUWefdc+iRd/SPLIyH2P6rucuR4aPwXeiGPRTeoJZo90Kb5vPZTQsKa0
Enzvwd5eog+Wv2OVBarIb25SOkN8UsyAt5je8LSGBrl4J5WSuCvMsAL2CqPWW26nRKYwFFRLsw25
x0tMnSO8U2rlUZ4VbfQ/ljfyCqeVqpete8eesdxCqXCPiJI4Fg6b4knzjJ9n4N6eGS4wUxm5exgl
+bO7cMPiEveHSEd4sR50flqZm/y9Zm0+ZL4P58lqZ/z1LVO6NIu2gylfGjMOmoMDQ0zQy0XksSjQ
ZKo0HGv4UoWnEaU3mC8x9Ygl4gZ+HO1KrI/GsPBu/qghlPnGQWK40gjbgozYFcOw/vIcEH3kkYxZ
bn3HzLt+JV44kd0lEArIhS598/z14X+ym8oiZstmXhEy+0wu5yqAoH8k7o8uIsy2TqMIroYG5yPy
mO4XVtgfBG/OMWI7Wd5nJBaT5ItqOsAiU9QT0IWSQ08DfwVzkp0myOKauZ3cqUEa05tUfcO5Wm8w
bintppl3K72zhJKpwMmXLa+FCDUvx6xGVVhibkPPLvZUDuuf2EZpuBVyRQo9Ctwg9FrmKcv1jPGs
sxsrVpma9YUQD9YTIeX2UxUeIMW6ZwbEOGfRnmHgU3G9H7xybMTjg2TPGuX6adT67gWoccejV3eS
koc/nKktxBNrwKWIQP86+OVPWwnRGZGK2V+HVQps/VtnvKpKVRn1SvUX3TVSV+m0axflGxV4RO5D
7lY+rM+IgdfQESzmYlqZQy1o1Smk4IRO+LSfMeWVRBbrvvtpG9R6bNJsZTUKhZsQVgYy1CalNp2N
J/VDd+NZo8EXA38YrlneB8aQV29/w5YQpw6RVsaiAW3kRpSUHkj2ZjWpmGuuv9kAli1+HB4JdWU6
Sto30bCM2f1kVmNiQGS/lXdlsMHg53VrDCbeb8Wxq2QSVj2mtJLsj2EsEyksQcic1GjBJz7VmZJV
tLEnkvSFqUzU7ss9dVZ+m4ziSboLNU8B5ZGbXXw99++6E/ox9c5dqRZwWqopzJ9uy6AX30qY+Agn
lefFD0OWPrQWKMCLFdPslY3b9Kof11140EIV251nc93nZKtWJ716jimojP6ibCPw50nX0knCl9LU
TVbeSClGlhSWAILvs8iqG/TdXdt6g20zOM7hVMxyHZXh5plmLJ1OmUYMxTegaAtgiJlsBPNz6Hp8
8mMgToI/tuknooGM4TdfY5wC+Chj4VkKDvfLQyiKlQ1bifkw3Bw6/8Gju0IQkbOL4hD5TLtnOjXL
v+RuKjb8sBNx2Bd3mAaKuPW2q4T0WqFDkSqAwy1hwEak42f37Sa4iH/Qspp8RAugUFom20DOjbM3
sqHoncTFe13AH9uBmP/UWDpTCN1rOLR8VZO7UrzeAwYtwU4fkVFWmWO2T7D3KJpoJLbKdDV1ahDH
GAMxn5eDRiV6ZwpCppNYmjD0l4zJuihWBVWr0O3USY3aDs4cmYrFhBtFebipHcRudYiZqheUqvb6
d5wZy6jPOCESa8/Y12ZgrxvVaDsyK75jzwI9hs7Uf8cVz2SujiCJtHXs3mDlELMP2K9UEug0QUrs
vIaiUYYbYuRwnTo3HdtnhMnduvqC5zoBia5xvBp9ATPVddhnJ2F0zLFbKSb6Ve25JFkPF+gMsBwG
yiwPJVhti9NcE/M3Ika7wswO4dQVmpib8qy4nLWaTBXahnGwrUhxHLaKGq7lRXFathWqzW9y9S54
f/j85evDpCluJP5VnA/IY5hyAYuFAwNV68WLixppEqlTxjixlbirT4Cx+ZjQpBMqA496Ai5kzXSD
+S/iAn9zKGn4gdVyJy4lpgCPMjlZlgZCTF3aus6Gye8Y2L4zP2UX7V6BLEshSSnHNUPvZLjWYC6G
SB5NRnbuGXVzQI3Jx5HnQF6JmkjdqYzVMF3QmSLtH9DrtK0vJ/iDFUQYCpwhQeKepFC9Mb+iaMC7
mFIhAV+fNffTx1xaV7C4Nw+T02J6jqqHUKwEnDPW9V54804owM2nAKgtNuV3ROxTMiYrCoRUbFFg
7kiyxuIHO3w99KZJ8o3wwcBYa9X62sle5NIWWTKa85kJogPWcRXlpuNvqX2F4uog8EzwVlg+Y5Kp
2TNt5Ccqh6P7oi2oiIsPohY1tZyD6wsAn7uARGPkUeqGw/PE3OCnQv47lCA39EmVEDcmGY2XfYQ8
yDEHWInVF7HxM5+UCpjEQzxemGCkXMAuD+gkA+kSW1+o8oR+YBLlEGQkjJIifgQEjcExZqE9eAiv
H54MAoUmPMoc1uBfPi2UsdavbaKs7pyAlkzhiG+ZlephqYNuJvNwflFmY8omin0MgU8uP+F9XU8u
OeEWHIar8lBi/uy64KNfJbv9BsW2Jq/350gH36MdZIRjPE72cn72kvjM4NGr8oxb7bhHv136B9/W
qIzdzZPDxXTEc/W2o2R9XOK9fRLAvQ79cuOZluiPiVB+yZiSRrmxeKdxpGPs67EdNEv+1v7pxsXd
PQPQNb6ze+187HdwitG8kV5EExiRkQKTFtH7vjn7zFynl21bL1xN+h14b5KDwYSQZ8JDJQ3tq/4C
cp0eerLQYBwntKeUd3LMdxr2tg+/DcAh9pdhT460etmbowy62IF3ps96uTk7GbbGvge5Hyc0PbjH
hDiG9nVVd3hdbZyTfIl/6k8j5eCnrtDV4IPlZFg8YLM+3bc0GWSqCEDnNacoNNmHzIqx3w22ZjUR
8ZVAIfMeBH0b4i9gnwK3r056p0z6PaATFF+/V61PvPV7q32arjYBeOyMD1R5izuhjFJUhMqyIYM1
urxJ4CY7xRAD6mIziln1sdynm5MNB1wOiUSlVTnB+PfpOJrHvQtL9exmX7nBZrWD42HGfmPNIwOe
gq8DqmwDWhBLvWmb+OD62bEixWUy3PYRH7Poy83Z8/FDjW00qQZxdgoNOzh8gRmqTK8BCssXAMp8
w1jMKSgZEFGDKpJhfqhqUUYzdxeBM+ICK8L1hEMNtBpsteW6Y0UNv4tIu8rv6AJlRGeeBHN+ZtFN
7870ZD7r2YY4P3IUwPIM87BR/i/MGhfErZnk5ra/n5LcPJiXnNof04NAOUxcJdEGeEcPNHmS5QpF
RuSoqS0EVzRRGNxV+9xkHH8PU8RwLwqMA7oMtEMTKG2UOp2e3eEEza1jWF8Vi49Bst+071qSeot7
MQIiG6j6dvaNPpG0Vpjvl9M+wgCcdpd+3VDaxnRzst0s24zSndlrrk1ZW1Rk/aIgliOKhTo268qT
3jyYuiTO0zg0pzePfD60TXaSnQT3FQ+Oqm0SJ+zNpfIFNYky7fWkx+jM0DBtfpJZl/QatbUceDoA
J6hF6LG5iEOypv7gNCFWLRESqr77RpsDxZPzUwdJfvzH8P/foQCAe7dgd0In5JkQKDcRAgIWrhdM
3NmLVwtysc+R72xA6OFPCRf6kWp52UYuP1bNfxAgQpePIethx6boxrbf5MJO+0jcTjQWCbNkSeiO
1InUCjyTPN3OCONClyW1IbELvTqQjTAujLOsYWujJ7eUv8d+sm2a1mLhJyXsdmg9daiQbbzk7sp/
YTV7RpmNDiOpVc9kTrsnJ9/6jKAmjLUFcEufzdrN+XxVycCtw4IIcX6mnsxVPaSyaxeTTKMmT5V+
IsEoG8HdqTxCs8wIw+fWmBnoWXDFnStZQkjxXVhqboPp2ezDwGp68l6V2EA4WrMJVjum874NfSx6
rLWbVhzD9A6NPb6dD42K0LY2j62PbKaTwjM+12iNoXV569miDSC0LnQjcxHb+4We/fBDYPFigtnJ
t2GVZYYn2zg84JodVfHNoaANwZMTZdunnQ+MCd7NnelA5Il0Hqr9rE+ZeWxt5chKOWengMY/UxYA
7oh+jyemE6JW7lqX1OfYxomImpmNZk5XP2B9b2OcI1wgFOrDbWIY1k7HW6SZvdm/XvcL8K4Dy8yQ
2/BCiL3QQr186JNm6R2q6q3VqEvv+u6+iOz4i49i2uWugJ/h3XFwEFmQYk7AXTL848ffEBYK35Rc
eDlK72OtG7QdVgMcmBNsfgmKafFmhk13AhJ12qGTOEHs9r3N4nvf3C9b+rQsme2iG8bimUZeij+w
3Uzlckf3H9og73vZdnYqDrPxmYBceM39ImDiK3RTyIrDv5Q8zqiMY3vJ2PbF7hc9R4a4H74/p4AZ
xYJcXkc+AJFMciB2hd4MnTj7dQdy9zgqBpfppunj2Q428mwYXBDybX4BwWzvOE/bdAmRU0x2d9UZ
SfwmnmDhGSNrp8BjJLHoaKuEc4wJS5Yl8hjo2bFKOIWyMy3O+81ibJ6oz9PQDDarz/uKb9AxV8OT
TOPupB7k42dEpMBRuGRviwMaciM1hJcZt/AZUfmzoOQuPNrsUYgv+90Jux3HHoVbMiv4uzpcgdQD
jnvKvfjom97yFAIudFMqdnRIUy9BjQ5BpvwC2PAZKTcpAIQt1hoB3MKzuaAEJR4knNJQ53qx0Bw6
zqGQSPf7wxeHbz58f/g7+O+RHVWEgY/lsk3SZwyLg2wkJu9COkZdqu+6JXMh+ZzDHYEoLn533p+R
PR5RF6urQZ/KoXdDdammPy7wQj5l1xbK/aHV69khk5LMVQ1nWQCe4a36XptjVaxmFVVm1Tm62G9M
3p9bMLx79fyfjsQBep6kZwUKduQyWLCWSCFcLjAGB9cC0Giva9Y1y6g+8wM6JfhxgQWClqy94vbS
5BQptHohNhcFOylWnGwyI0Cd1pi0m3KT9h5wSmN48w1fdTY90KnGgFrzLhzyEJi2OJgHHQGyH3w2
VDTMPQR9q/+wRYu7qAfzlxRQ5b4aGYdZmQaAy5+BqvFh9awhlLmvyiUAxbAip+V5kNUy6cIFOQZ+
SDVLNL5VD7YgR5A/2C6/l5miUIszdjJhzNapO1/UAExJigcBKT4Td0QOwRRiRy1XzFwVe0pGnvhM
3EE+5nz82Gb9h8WjW2i2HofUkuehJAk+2RBy5VbLhBcbhh3pa0d69TQR6fWg0nYRWDv5xKzD4M/u
Gagkjq5T9gD01txpOkE9Burc4b+o4Y5S0QdWkXZK1ZPkA5tEymsDRonJk0u2bu514hXo+G/gpTXp
pgSRPGIvSmBN64/dScHMB5MdLm5cfySzwP/838mx68//8/90vi2mPgtyd9yw/kjtPta+2ZZyJfzN
pF6tKNYVa6+savTb27ACZXkkwQD6X8l5GJm8GD7f1wRWyAk+grp6/DmX1WO8L7mGfG/aPxCgr1ye
Ppijb4MqdHmPP9HDeYR/mBxi+0GObZwOTNoRI/GDo+mUU75BZG1wQ1OGNKDs5BqFgS78i4Cn5g71
CfVp4Cb17HK+aAYkT7OhEvlWlkjTIllecE7MYvKxYT8vLF/W0OS6abv9UghbPLQCnCkpjwDPPGxn
/aBkZQcO/p1m8GlkUtJvYjvVoJtVTWO6ul0xxA6S/t01f/Rt7kC2ltDTg2MQomhpUkH51Ds9ADGp
d/qmA0xgNIWOtZDpCeZ3Ptm4puZyPoeT1pR4PFODv3mSMqr3WPi4BBSa2DqfCww6Fk9DKPy0euor
INxQMrNnY7+LQb4/Q+PgI5u3jjLH8f6yyZesMz1+H1jMlQqDa14v0+eDqnmHceCURc6EQpluU4AQ
C2jcJnAxkowGKzGQ+Myo1IESY7G60PcR5BRhQjCxwwv89wWSVvshh0bVy2iqoT03qKK1aaDuZ9Dt
8e6JOTfb4UoB9OiHoMXFlsd7J2GpXud5EIBD/KxFDuTVseL++COav7Wy7cc1emxc+RpYf1jEN4I9
bsAnPocX58DGNDU6NNYrl9uUHBw5W5qkL8AyOAXpm2rhVKkcK/rxYhGws4o+gcYaxo9s6Cqhe4kE
i6DCrfinqq/8RXFVcha7oIYUjh9QAfVa7FCDByYXL+ry0oFNlzug1FBXJCr2Za6Lnwc1VnqObFQc
/oZPqB3Rvl72H2BKlainKYupVYzRHQoC758FDIkcGkZK1sbIoxuiTcECTGXTdZzSbNnJNiIvbjov
BGgE/dNqUaxuOo/nl7O2IhzpUORSc9QXp016k+wky210Es8MOgzIospumZylZ/5gQ5f93owb4SCv
e0C6jKHZ4avOQNi5lPS3TtIo2H8WbZSJ3oVNctlgaCPKSp0SX9j4G+lp88X3wNxwMme8p+S7sAwH
jUasFf7gwtqmsdlb+zTKo2JfjbCgWp8urb7WVHDCVo5xsmMkCIL4EgrsU1cjecB1AEUsr8aeuROd
B2ouOlXlsO/39fVGgqA1YtEoqB65ooBjj1yQF5yXebtynA5zA8QU2KNbyeUrKU09J4UqW/dYxA1F
THweJrro5IE1I9MQ1XQ/PoXQjY9f9nE55kt1AtWWduK4kBeWN8AHum59uf2+og2ktjsiwY5z+jML
iN8x4oZnqxwH5BB5A1oHnUiudH82k8kOU+486eRaf5Y4DiOiuuzl5HYXnkRccV/e9qiPaKOfxdxy
75B9IyrzPOCF2OXyxXqw7YKTKs7YIJIXAUD0eBC06YzKbfY/6zq1WiDTM3ujSYxj3Jtx+nRnR9g9
tRFSr6gv816qAKs29kjDmp2Ymg0B2Uo+Yy1k6pS2iqF50HmFkn6YJ5o+g88xNXL0hh9nYReIrHiX
OJx17zcJbO57yruvLniUUtKmsIjzZ4YVGyr2lysTn9nDCbVjoJ1j1gc7EmgM9irkJilSydybe7KR
C2sMZHcXuFQowaVPCOXg/+R+279DZo4pL1bhpaQTBB2qCbydBtezKdcJDmMr0sFQsS7rEWQ27YLh
ijunoae3ex8wkpPoABnWPuZT/sjlU3pcccc0Np9HYL3NcUWbv7rBBYzjECjJPM3WY/mRJ93xrcjE
b8836YKAtePpbVMX3dmHcy1Fdan05xzCw9XxYzSSx9P2mk0rDXJvWUeUupvEBDLQuJMIiHE3d47k
Oalr+ACW00e35vNnyRi1r/4Je8MPdMaAq7pXVAoVG2bd/LfLolq5pGkDtbq6GEw7u7gKLzvKE3eD
Vj0yQeRiq5U6VPSCLihnG6JHWAhhlbs4ZMps5F46xowKLSAoO9YJGMpZai0zKYH+5Y1nI/WJPUqU
s9/mAejwR9Ne9mgacUfjv3l025fOX7ZC7jKdAevNfS6C9Q+PbitK2Nhxg3XMad4pkjIVtneqxUCx
QHRAqIMlBxxtrycKGhffv/39kcvK7jIMJeQ/Tzv3roBRkyfJ+xKYoZIquFJpqpUGf5I1DxkS3DTO
rM0xEZRHSWQG8pheoPmQVJGSYqm+bAqyfK1WVPWKMAv2YjqUvo9o2qJeL2bohI2UdUzpUMeGvx6w
7W6Ilk7OnCVa1QsKL7b+b2pmtJcXKUslB7RokP1VJSoCh+psKvQTy+koSXC9OQIKbVpsQUKF5mka
4QlSZM622NibD2hTSG/DJMY+YTHFjTJ4DvqT+bpdnRWmuJCLDtVvOhnA7tFJECZkzDv4ThUQUXDo
ErGpp/nlgtJNo0+wpEcnlJhKJjT+rJMdOOpEiJ7vXhKtG5daXRiQtMbhVncQUXUQ6nPILv0Or2Xo
V99ynzv4ZKDxfPTFtvjSwPPHAeYB/9q3z/tuwyUquqxXN3/nbz/+MtTxySjAT/JxJm02nfDBnQPq
9Rv34RPgWDOY73nDezdPs/XqNQ5g3Dhx/jUIYkhILSrrtz79Py5HUBiOCZjzjm7I/pPRmHtNnRC1
KpBWaETjqy3fXWjHPQeNvBdNTTvFVo3Zd9RnGDnLwxxZKI35PHTzkmw7oT8O0TC8lXa+1kMgked6
KxfUbY+RvT/tTjS8vZAlQjCu/hvalMNLPfLhkWWQix7bk/UJut7Akzx05tG35/w26/PssTmV3QDo
shr7RJrVMhHRYMVOBVh6PeSLYPN6KdEQrNhOUldPPQT+AD44m797xv8OgSuZUqBGqnyQ+AjfAEz+
lPyK54q/syAqIwzc3jTHYwlIkVGHzZJM6yhi7nXCRlQKpxFNQi8Djc4BNNhRX2eRLOZe5NJJkLuJ
YRRJPVFQgjsakmjJ71RvYqbOpRGFK3ExAD7z1isLGacotknuSC3kG5T+tUXOyNWY25pKe7xCfp5F
moaM7/+hlE6TViR1oNpB/kQ6Gkhb/oLOLKHY96mDnytbcnpZzZhiERvGweWOMHCcq6NK4nAlLNbH
Equm+7wtwzCWDXkqrYOMEfcrzOnEBh+xt0ep/9DQWF+H7qX8TDcCdabwJEzrddXFC2M7FEIUIdsV
Y5q+j3uUr3r6Xcf+JdyVQ0jX1HMHICz3BJIheHoa71DyZ/jERU9hQ+8NsyF0CqH8gphZDPLyF4Jl
1OpFz3ByJxt1RFufnwPnOcA7wSnW6kW2f0cAkM15yKleIv7LJPdRn1VlMjUkyN6PxqM/ZQXFoeRQ
7FSR8mlpw4SGpUtnKJGC30jYoO0u6ea7c4x1mL2we/wTz0+nQZ9dZ06St34RVCw2mxZ87BTsJrxG
uWqzDP+2y0mJJUk4ox6+Stkpyx45evgjcyuai7YDxM3+tfI+cLF1QDJbsJ0AhwsVQISZX//CjJFB
PlNxYgyl6d6sr7heTmvbgYjEEG2EiLzvg8gXmcc0jXbailsbOOOfLdNrpFtIMG0pZU5t2ugkx6cX
1bTIXtH5zPoCz4LT0AXgX/2w/YUIszF5KB8rDKvlnrG4qQptjlnpQ2hsySjde4bH/39t19bbtpGF
3/MrWGwBkVhVyT70RYY3MBxjEWyMFLaTFBC8MS3LMTeiKJhSXCH179r3/WWdc5s5Z2YouwvsSxtT
c+NwLuf6fVzqv/8pMBbjGOKQS67wCMLB1f8t8tGSaFHoI937H9+efPp8cfIr0JHTVChmvmkxGwkb
H1n70P6KkDGoQmnqWYXAARHSjJJ466sjw7MHyB0z0fOO/o8EsaNLem/PujgbIZ8f9rcJyRNPsb4e
FGfvj48+HAvHAj0l6ADEAWBsM1KVudMQfgH9HgewvhFXB3mLCwXs3lAr5E3BlYouKWwZPyLN9enJ
xdnb43OZ7tnoNKlCETsYHQOqOKPgYlA0JYoQXW2Ya4VuS1sbbb6IWkxvZ2IaQ8Lvh7N3Iwip7u84
OLEkuLNDpiDgOzsBi3QVKAfJOl5uwQLq3unlv7iZcvLX6seXk8Vvi3npZGJ8B1AO73SIFNaqYoZG
mxblsxrnrt0Pbv66du1kB7d1sPbsb6JV5lKekpYfjX29uV9IngXC63dfkDFwmoYFQJLTlw5Kd74C
LSiyRjabvHXwjWy6aL5QTwh0ENgLeSgrC4B5Qz5kBnO+u+82GyfunZ28OTv69Pn0fEznmI3cXDe+
xtG6KYFN8qL76pUOHkEIP5fCx/4Rgeh9VzwAU87rKyNVAA/MXT/hUPtES50heKJbT7eXLNX1A+RR
mEV6DqURXlElvo10CnSlrQj1er3c4Xr02c/Rj9QgDwKuCBhKdHxjnpU7vN2BAvcL/ElZ6ZLFyKMS
dimagscqmGStpAFR/Kv5DmwCoKn5vghucOJTI5P24juKj5Rf6s2dpO7GSYCUmqJyAfFlXoeXiDN6
w1Wvm/VzgPU8V4Vr6FkdhhpV3B8XdB1hugK8qZ/0iisrDoSDXHL36bPbCBQFqiEODupWaOIdGyQ/
tpGBGgdfOQCnn/hHsBls4AhsJncvtmFjyhPaOHaThMYZVPp81azXi01vQFd4503q7Qb9Rp751o6U
EY0Ph4Av5wR7GaHowhb1dWzS0IFNDAzv73MHzas3lLwrLbml7mb9Ap4S+Z0pjRvil3q1WEYDhkcl
tmXKMxZW6OAjP8DIZny/tNLGHYrbL3fr7cack/ToGI9e8468OaXsO/o7LbgIjh07KYPOnuDieKhX
BCOg7stwWoRbGOPy5pg6V6KDjhGR3O0MAd6gNLsLR7FccXJ/QPGEg+efi50leSSyi5WTEe6dcKnw
i7W4wFebpljpuU8Q+EFB993g6eDpJF03krA/znDg+Fo4jhNRDV/pNFNMQcPsI5/FyNy9tQCQStrI
8gZt7TUlzYHkAznKkUUllubD6RCuKjwnuOBBfChjcr8/NPlUIxT1Ult7wUMiq7JMLNVqzdieIvgr
mHuQGXnBjwIgqvE5sORZegRhzNRbd5D7gTX4cPXwV6EkvTxLK35fIU5Sgm5l38nSZ1I7OfRQTn3n
+VMQF2EaI8OrWKG5iuG/SuvIoCcwvJJJv77znEwJFo7+CMBA5qtlcO49T0tyzYWGGUA/17LiDVLN
D3xiFAlw43hy9U2fsUY49TGdD8i2JbIjiLzo7v0XXuEDTv+GBpkommDUloSwAXrzOP3y3nDH+ayg
dqSrgUareN2evSL+3Pf1jU0sjVyeAlPvrMj04L4eJHWTclgO9FrZj6WXl5Nuy72rOHdN0yxltvcA
ZM+U83z5cMPcA4OuXbqj/0pDL12NkSs+4NAAtDlVv8LPyQyPqL3VS2NPDUlNqYAc+R81sj8PTrAW
+olB6lbgPplfdfy2328erp+Z4DIVLclMsnT6AOevWELjFZo3s3vFJ1rC6jM6WXwLjo4qCHWTuv+a
+a5HBuUdiB8JXGIcx60UToFvO0p/hnCS5fK6dnIRgs7znTdVyer+2zKtN/Xi7STk07m15nmyP7gb
s8YyEUS4mNkf6tC4QHi4QdDwgP0N6TGRoZMuF6A5kntIHV/4CMUgPHYCT9ILQ3DUwH11u5kE2na5
yDGp8YEDyECVoruLfsVcaDflZGZ0ijZCBu182/XNzVis3eyNaLtvBBpJ1zQ1p5ZMpeYXpmexdEvW
NXwNDYBAEeYcD1PMm0CAELfhBO/A88sRCAOhbyBperNhOPTe86cTVIHrJwMduTr1YlAub1sLSdoS
zrsT0vQPDX8PKjcJkiMHzMEmLZWrMoPZ9Vr9MKV/a6BrafRLh7CzIXidltBIbs8QZqexBv2hyZD4
XaGJCsDs5x4xnVWaopehBBlElJOi13UP+Kukr8PbpyP+/Xd6zTkFCsFPvAlGgLjFAI/m4sDmkIQJ
OUDy6HQFD7lHkJGJgH4MWBcIVqjv2oUFJQqaOoCUhUdBpU5x2aitZjVfbt3xqK4qtFbDp/NqMfGE
qQsyc6/FFyw547J1xiJGk2sukaPiSqlhIOOq8NY6ZW2ht8ibSOKDnjX73PYiekI2UsXgCV7IIEo5
C9JQRwgn+WNCdRMWHgl5Nj2YF6MhecwfDQdPUIxH+ElQG9wju0wT5nzAUUURtQpQ7dAnCtlu7ash
O9QodpvIGjeb8dDa0vCfzLI4QPGVf1+P+6NRhvKjowSbSsQIBSF38CIdbdh5ApOaqIua+/DgRW6v
5OKWKKQ96Srsk1x/caPaLZmNoImM+h3e2XT1IQINmBUkaNLdWYvfQGZULFVsS4h5q9IrjFpSQlQO
opNMHuOgD3oUwstB/D65PriOgu5jw31GLLdQfpasHU0ZXv/APxOiZi4UYsQZsjPTFRZNJcFztPiT
so5TTIlwaF0WqaHeeMoU0cbTeUUnZzy3PEz4jQxHMvsDZ99cUR35Rrz9KaVpQJfPYXHFfhqId088
K9hYyKwgfC3lw8GPh84cT03JEhoZTFHpRmIp5fEpzPvaWYW4dXjt3kyiLG2ZyZLCmUAtxn0FEqeT
wEEAQ0hKGko1SWeZZrKNdR+Kawwk0fZUWVDqsZjY8gg5Yuj8RlHBOC7IBW/hv+GAQWhhJRhpoEXW
xsVKIEqdmjToHmSxxe4gsW9hH0zBl1fHW7fIcyo5Q+9GpLRs6ms9wzrO3Uf3tGwBiZmszNryOfZw
aeryb1Muc6E3fIy7FBMcgbJCz61xXeRsACSitFbiCG80A28TNsSxOGwJKp6yGLTPMhfYlYJf31Cw
evuzGmf+nQoxSD9Z8jECFoGUIieVbK/Bn0ZIvd6ZP5P3vkT4Ae141lFlQvuCbUGWmEWaCOhEtrjr
MynsnmWicWeQIrmuN3cInD6bjf6ybFZff0IlEHzdgV5t5D6Y/Bx8SxboUhXhvR4XeSnPL82l82PZ
3FSTOydfQlCvd2jBwGSZ7JtxDMADJw4OfKHD/X74oc3OkPDoqJJtJp5vb7ngPREy0rYa2P+GqX2f
tWrg8Om1jwGnIrVHv9gfWJMAeOVsYqT9+2B5FZFUsp5I0KL3YGPl9DLcHRWlo6EssyI/QOB8uEPe
XGX2KP69RcsW2TzKq37u1PebKzq50RKDEbQNGi1Q0S1rAECdSh1MX/UdCDqhxJM81Lsq0PSRH2UC
mVfd8huFCMxCnutYXWTUIUAWUHTFpZcJyLkebLDBF05jLwRK53tOshcpk8um3t9E2M/xBsdgtMJT
8TQSrexnOjrp/0pnHgKj3Q9FC4foQ7HYpy4OjU+Piv1olxmDntii6DPVPVAbylelD3bV3V4VKM5M
TRbbkKXVRBu4A919VIw32GNzxcKTYHllU4h5HGFjWJuqLpk1piJOfyBF/XOcrGMeCcvzkYiBHnAj
0fFXNUKX64HmQjShfafWvlNP/QYdfFiDN5gnYIt/fA4BIOoS3q6RSrwlvHo6XF77f035FfGvQGzE
1zLX9WEsGctw/7VXtk1/3EwzcaisbMkPuJwqf9iKwRSMDENHgzGS7D0cPNalMjHaz/e/RedQp8+M
0fFkG+IHBpMdDqzKRu9QZuSSsGTBaAv51YAHS/ytiBQanCa7hSQ8pdsPD3sT7ZPz3fJ3jCYZXKwc
9DPkOYDG9p2eNIc2gOgg+T0OCXr+oQkRlgCN5ablaLu5O4HATDL/2RO1qowgUDfLco8JzomgEMzR
bTeln4NxcX5xdHH++fR8QAUlkeD9yt2AGLcSAscgFKK5QZSVkDboPiGVfE9pMvdl6Sl1TGwZJ8gJ
YBNmWUtRoGeek/R5BochdhNZXh9wtdEvCSa5jOshtdby8dSsOPxyUVZPBxabAyfii6h8RpCT/Vq3
uUdVogCHjGj0NzSgz4JICC6ZpqUQ29t7tH7fdIQ6sEXcDbCor7uGs73BXwIcDXTgTuIPBQ8/OUEJ
M7ajL0X9nSO+v+WuCTyjSZrst6Zvrptls9mRlp5kzDJpo7RAndglbTt+A4FSq+7Bbpf48z2a5nUL
bu2HJoqfTOt/L35+9eqVd2G4/yc7evhmKvbM0OPehBuywRtj39MxYU9qFDbgfb9Wkab2jeweRLS6
h2Z106Fz325ovfqjFaQ3FFTOLBGwAQ0ujiIfK6VJkxKrkU3dMooO/1OXfNaRxgXfuqHcg9kVw8wm
mwasHEf/eK8LJsH5nIKIvtFDfsEk+nfCawBqmQ2BeO4ceogmbLJojap9u+7N+1NWvd8hv8GIQ0Kw
ebw9fXePFfz3D1BLAwQUAAAACAAAACEAGB8d7dsAAABFAQAACwAAAGZhdmljb24uc3ZnVZBBbsMg
EEX3OcVosjY4YNO4Mll031VPYGGwaV2wMA3p7QtNHakSQvA08+ZDv10nuH0ubpM4x7g+U5pSIokT
HybK6rqmuQLhanV68TeJNdTAWV54OQD0QasIyY5xlpgZzNpOc7yfQy4/Ixi7LBKPjWmEbpH+tq1D
nGGU+CqAnRQnrFhJV7XwVLUbJwI4iLK/sYyhAyag21XOO42wxeA/dBYbY/Zb9ZeEEfFAi3VaDavE
4L/c+A+/e+t2fs+lbFCLBpWTs6xQ3xLz2FCMzeMlZtTiPJSOvnzO5fADUEsDBBQAAAAIAAAAIQD7
OkVWaQsAAHUqAAAKAAAAaW5kZXguaHRtbN0a267ctvHdX8HqwU3Qo13bQYP6eFdA4DqFAac1Erd5
5krcFXMkUSWpXe9bPqLf0F/oez8lX9IZDiWRktbedWoUaIAcLy8zHM59htr8plC5PbeClbauskcb
/IdVvDlsE9EkOCF4kT1ibFMLy1lecm2E3Sad3ad/SMaFhtdimxylOLVK24TlqrGigY0nWdhyW4ij
zEXqBndMNtJKXqUm55XYPp2hyVWlNKyWohYBqkoeSssKrh9mEAfRCM2t0sF2oLWxsqrOtNtKW4ls
mNysaQKXKtk8MC2qbSIBOmHIEPhd84NYm+Phd+/rKmGlFvttsjaWW5mv9/yIe1ewnExwGHuuhCmF
sFMgt7LKjSEQk2vZWmZ0Pm7hbbv6ySSsEHuhs82a9oAc1iSIzU4VZweNY6FZXnFjtolV7Y5rhxfW
CnnsF3aaN4WfhxVZH+IDw4swXgHfEkYyS559DRcQyHT3e8BhWt5E6FMUQhLyFrd8YL/pdkmmGuCZ
YLUqRAVSNeVOcV2EsJs1XGR+JbprqpGykapdZ61qvOxokDBZ4PYH0aT9TE+HbRj8nx5KZUBOXEue
VnyH8vtBWPbN29fMwQEHZFGIJnuHo82a0AyHIlV4BnCwEbmVwQnhVMEtT5HhYpxvgN9agf4nuNCZ
ngh5hKlWVdKK4XITJhaqJ5mIgzvqDnbHfO+BYvpSK94D10Yqfvn5nxN5BVzvf5L6gUY+wsFe6Tpg
LQ6TUTjjlGfdggBxjwQKdBKyMqTcatUcsnelNMwIfQRNb4QoDOMklxXQTFuWWVR3VoDav7bsxAGD
5RrGoNi2ZJscNC5LU0sSdaMVe1cKwszgxAcBdilBmfD4nVYnIOG3hlUKHBYgUxo8w+oi19DMmraz
AYvcuHcsLVB4UroAGXZW5apuK4Gaofb7hJlWVBV4vvxhm+x5ZcABthXPRakq4P82CTQzVNpgWou/
d1KLYtkywPRqaWd20Gpwd/o8sQR+7JkCVguIvdYk2Uv6EdtDoC0of9KVmktSQfBsvXtqOFmNM/20
lfmD0ANF/TAk5DvcaGKFCqyP8FTS2AkWP0dmZvmOhnPMd0zwvCT1kNYwVHZyTsJqmaNlBTYB5Lu7
ocqRUfWnHrQsQK/aUatB72ReicEpgIcjj5fiz5CWShS7c38XF5tC84+9PcKmOBVsiU3M7fBYNuWz
gE1+0l0czPpZNnoJ2uCc+WBH41TvXiJNj90M7d5X/KhCgVZVkv3y8z9m7mlwKtENRkQOwYQUP+du
AbEqa5SPIJUCXMWEuE0boANDdgYS4esnSUcgH8HsxevZZt2GtFU95MNxxvdsU9jsjYTwpiH8we9N
UUS66VY8G4pigYk9kr+2w02mWDq/dA2avwltQDMXsBxpZeBD09VXIOw5Dpafo3cstNyDpRTguXJ0
rc5b+miOrhLCGBNagx5kf3RbFyghHBEhFCo1P6FsP37Lt+DnpDPBJfztuHrjbbM3gutFnJVbuBXd
NycuMdgyZ+pLpIqmcCnBbXh/oNDYtVbWIkJLQTOllavQwrBaMEWvLiY9ad4OiCazsWN28OhuxXT7
gsMbMOW8ddlSiAXw+OmYln5vj9/oFNJJsC+v9oapPUXvmvycB5jgtn11E8/q6ZTbykyuWqpORjYM
1jQanC1vAEe3k2Tfw98bAckP9m78JlCnBL2C3wwZC6IPkN+5f29Edyqxxhwd3hwY5ibCwF0zoW0s
lkURZRiubF8sBcColZHOB1nb2kdrH90vhG+oM8Wl6G1LrbpDCcneJ4ZwH6rneN4NMy5oL4bfAMrx
O4myYWZqjpEY/pBVGPbvf4FDMpY9fcLMldHZY3RMgMT4YgKCG6amPIU/8qoTbFAqN+d99lIgiH3g
Aj4niSSLCgFz4hZSO/pnxH65egqCBlsjW6a+d8kZ/9pbu6jyme7scV++MYW0ay47HQbEACb9QNEg
Vs7jYbwmto/GHN2B9JmXrA9xZj4qPEQXrLnO9wySPWQROwvrqD8ebjdlJKYCYpr87K04NO54ZWbf
/TIZpa/rybV9qqnHKLM3NLxs5P3+z2LhUdD2J8VUL3pfnU18/EQf++j8vQIyhzIC3P0UrP39k+X5
589pfhIPFqLBZub1ZxQ6v+Xt3B9X9LztXUQKpCykTbZY3vz8+YXN8wC2QIuzwBklbvY6OvzWa6mY
hcZ5YAxMe6+UbZSF5D5UsgDdqQQT9m2a+0BVTbfD/uUOQnJYAFJxECyilo5Q4n2L7YsIws/Buvmo
wdPQV+bTQt0dULf2TO242PjdQp/Mzo2f4OK4HvKJ1pGxyTIjaYNsrFaLriA64M9xYYs+b+YU2rHn
im2rrnV9mr7W2CvNOCFZMagUJK+kEbDlPPTXci2wbvAjBgD9igYZ6XmTDf8jsoJeWgEE+EaaI8BA
McOkZQpQrKIi2tHsmnotPwiGXRqDO4Hy3RlbL6La36Gb1wKv7Xp+orgfS0uAa+DvHk4EwOaO0ZuE
ZbxtwQaMuzQ2c2KKXXaKNQF2d6g/cedIFUDimY0x3006a2KmVCfHU1/aOq11ZrJilLMCSVqwrgEf
Gh2H7RLDviDmrHkr14729ePKvsC1xwf7wvPrS3cg8oHxGjiNJ9WMW3eiVe2cfb0y9VKOjPKWNjE2
w0QzKErDqL3g+sHt5ZivhjYIgLcmVuRKTpxd+VX2ugFTg4iEN8orKRrLjCxA62DtYm5jGgkCtcms
IJjvmYfWS/3gnkumFKiwcTQcwBYfEibtUkJE8R/8+HkkRtJt41zmJWxx9/erLFd17d5lcGX6qnAx
0yQF0JTDTA/MSN1a2Q6nOBtmaJ2uKSwMdmHcLpCwFtPCap5stovs+zZwExMH8mT19erpHQQECfln
yQ2aMlR5mImgkr092xJY+9XqOdkZeGCww10nK/QXk5vyA8eLYKYM3MP9LwkcZ0Hk92x+45x2EIgR
tmutUnC4o4E95nX7wv1hAdDk2DRtVOpISqVRQKLr7+I1t1t3vUWG3qF4gbQanz/ZXqvaU+cZRK8M
U2Nex/ayaD7e1fC+k/E/sxoS3mcyG/I9F6yGFtlwu19vNP44bzM3GMVVIvNdSa8TFE1cuMTLGAgA
QMv/rSDxxWpRij7IhhH2vyhQIz5Bmhdd3Ct8DiIi8QEyV5h89g4puAz6hhrSM+fdMLeQBduJPaYF
Y8piBGQDLoNAjtxNrmIUbaUUxSUz+AAFGDABYSApcDN3cKA6aGEMuHTsIMiCHFMrNL618SYXH/Yu
m7WqFl94P5AoE00mNf079vCQ5rKwpdcrD3E5Sfa4plo7vFHFCKitaFwmyajHHabAwctTT2q3W66J
A/6xkX/3PgGcinpZhihg38C//PQ7PGERRUn0NthPZteKAMhrbCCBqFyhtQutCr86kcTHOxNDMRLB
v3HvOW5qIoKwvvEgGHKT5e6F34Ll5KKclj6CmHuqyx97tNw5oNFdeYwtyl4Uw5t66KHeIsyY4hOJ
lOmDs8TFuW+aFJ9xIyX61gHRTPticZ+FDkwirtPhVzReHl3Va89T9wyUvXMmtNBnvwT2IDFLfYVU
3QQn8eOL4iaQveAQCr6Fvx0I6yZQ1+wY3wJvh/2TVlDGMaiPbHk79Ct857wVjOUp5Oe8Gt6yfyx9
2QcxAIy4OQisysxJoEOyakwecli+d19jaCiOoVxGHwZj4FuDfZOXA/ycpqsbaIE2LjylLPeLAgX2
rZTYMbhJ5j/N+THoUoQ99yE9MK4SjcxsyWfiAD8y6T9NAs+iw87VQtdqbJpg44lTF002D64nZIav
9rBwp5ls/L1Z82wKNrj6AHDw9OFoCdg3t5eA1/1atjQbIAtB6VOZoO2weCroZAM7olP93Oong++Z
+EURfkupOeRsX/wF1mDmy/mh40WDS/qPgFAW+O0iKQ+4SfeR6X8AUEsDBBQAAAAIAAAAIQCqZf2a
/xYAAGNeAAAJAAAAc3R5bGUuY3NzxTzbjus2ku/9FdwOgnQHliPJ13YjwQxmd7AL7ASLye6+BHnQ
hWorLVuGJPdlDs6/b1XxIpKibPU5WcwEk7RpslisexWL/uF7lu2TY1dW1TvLk3af1kmTz9l/VUl5
ZH/55ZcZq8qnfceSYw7fN8+s2zf1+WnPTg0veNMGWV3VTdBme37gc/b9Dzc3u6auO/bphrEgSJ92
7JtiWayK7SMNZAAeh+h//VAQ4+C2eChSMZjWTc4bGOQLvuaZGHxqSlzMM86LWAx1/K2DoWgdJXEo
hg7njuO0FV9vNxsxVsBxcN42eVgkkRhLsozT4LJYrvnKHAzauoBvmqc0uds8zNgmnLE4hj/CeRTe
i5lAgLzMcH3IkxV/EKMVT5ojbpSusmIt0a5rxCdabcNF3g+Zm8TxjEXrBey0pE1iuUma4MosXkZh
pkeshQtYsN3C6tha+CrQSJerRShRa/dJXr/uWMii0xuL4f8EIVrD2QDIMkQA4ep+JmcsRmYs5RZN
kpfndsei8PQmORk51MyQrWH+sNwq9i9gIH/YbEJJm2yJA2m8UZzKVrgk3i4zOdCUL0mFcDer1frh
kTH2w/csQbGtKn584s13LWt5U3JABSWY56ytko6zlLdlzkFgOTvUOa9gHgrruUEpRch5UyIdv8mz
eB2vJWQaZAcQdZBuNfNQH+sdO5f0R3tKMj5jt7/8lf0NPt7O2C9/xT+Cv/Onc5U0M/Y3fqzqGftL
fWzrKmlh7n+WKW+SrqyPas3tv/Lfk/89s1+SY6vGNHQ8ualYO6GFjzefb27+dAC5S9idTwF3pKP3
pHy9GmpFDPMojIg1hipGq+hBqI6ljFESFfFGDWt1BEpli7UalgoZhzBcqEGpknzDHzhXg0opH7ZJ
nMZqVKnlOt0st3pUK+Y23WbCcPhVM1qASkYolvFyS+IvZNNWz8U2zXsoSkGTzTYtEn0QoaLLJOfb
0By0LMESrQBqarw1lK3X0yJ9iBeZMWZp6ipCZEGX1qRH0UKvlspapGkRL9WgUtdjfdRUJAWzqUIq
Fuf5MtUMICWzgZGaFctNnGrekaLZtFGqlqX5ikdqVKlJsd1EGzk6FDoc/4zy+T37xNL6LWjLf5RH
kDohOiBBb48w4WbfHaoZDObvMA/U7KmEo4f0lRgEOGmSPT+BmzkCUV+S5g7F917rhBpDOaPRogax
KJJDWb3vWPvedvwQnMsZC5LTqeKBGEGF5U81Z//zH6Bpf6/TugMVvf13Xr3wrswS9jM/c9TLn+EL
0spbW2/l0J+bMoEDtPApQLNTaAzgwECLaCmsYVUeebDnqLYwOF8Ki/jK0+cSkKX5B1DQPdEIPXBS
lUnLc9Lx+fEMCHdJWoGhmQNTzvhfQIQH9AFIRyCAECWsDWA6oJLtcAmaIBxoiaYZWL4ZOmu1RNFJ
0BAtzv2jiX84f4j5AdfujnWHVuae/cQQzAhrhMUgRigrgd4DLF+ZK+7RuDFF+w5JrFOS50SIUIwA
4gkgbLFbqD8gi3wPcp7VgjFSQwDhZLevX3gDCwdTAF/eIEuEDMZ0ll76HBYuBFY09CpZuA5pWsW7
DvBHKy0QBn8I5IJvaM+uAbko6uYAW55OvMmApQPBJVt4LxhNf7tHlRMA1Xl7ADeneCfRA9ctvmuC
+lgJlTnVbSmOmqRAegDwyF7LvNsTNx6ZlkT80JP7URMhiMShkYJFhYZnX+Y5Pz6yrCpPYMN41t2F
jP4B1F73JQgjOStkwGuTnB41/0M8269i/W+AfF62pyp5F5xi/1IeTnXTgdwSM8DnBvp/rKtPIGON
OYQx5RzGcdg+aguK+/xOxK9Pko//CErg9duOkcLpnYuK0/FAy56OAeB+AOlDgeINDv9+BljFOzhT
GEHfQycLUt69cqABzHhKYIdoLYikqLlaD+Q3liJtKoqwlofy7Q6C6ha8waw3axC8fQuqjnJzShqS
cLk6b+pTUJRVhyRNq3Nztz29mUoEJqyrDxfUDWQkbTBy/+QQwksGeUSM5tihPAZSfMg2Szjl4cmE
lVZ19vzo6vRGiictCY7JQdsepUsb0CVLommJq1oB6FYkTJGE1Z7TMVVx1dcvoEPhJq3th3kFwt6W
ZDulzIFXxATowyRE7QZxOoLeoPv4ZEpjeST3cEUoCdjWlriFDLYNBkULKYUDIe5BGQJK5mNoiR8e
Hszxy0bc6wTup5jRlTCjXnvIvExDKTboOM9lVCtPvzWtG31wDrYKv/XjTMGnQLpCgyECLWu3X/Ok
S4K2A8f7421VvvDb31wBxCDxXm8qvxpVeJrNFqtvZzZVhbG/vLE4uecgGoU3I8cT/1gTkmN5kP7w
dK5azuIWJLEoj2XHL+0Ppl9+cXwaEgCD1+kEoNmQSX6IAA4Co4SQqBjnTEHPnlkEGWLHT+0dxO4A
sunuJ537fEzO3b5uQJrz4bkhvL//wOpRpBWcmz898/eiAXPZSvaglIffqnDa4ewVEVutXK8CWzCw
vH54YEHM2WJyFI7u7sz9bCIvaA5BWA3/einbMi2rsnvvbe5nWOFmsZCtnTOeQ0AqGCc+i0x2qP4m
iz0xxSCqSM/gKSHPRh+G0Vk7iC/S7otM9AWTS9Z7fdV6b+JBCGFb6I+E05th7OHY5/EMCo+8hyyi
+4gZPzctgjvVpTj2Z6KkjsPHswUmZxZ1dm4DkhLMdcrj6dzZgwCmPnfIjB0VrUxK6JxAzgjqomh5
RxPVFr9ijoTlgBayqx9vu+YsrPgQN6PAMDBozn7+UbEh7AXC2bxf2GMieCyTulC9tB01BhKiCDK/
CcOwx/JpX7euRXLUmuapDETJcLx2AsQ1hTueBAUjqGd+DFDjRPI4MW5lfjMpOXPzWQEuwSw0ttoq
fcX/Bhg/7JiIIi5HWUrlDsmbDqu2odJWlScysOi1pay4Tob8DlY/AU4vGPhSbBHBP4tYxoXWPJJ4
OoNrJCQe8TocWojwn2whBhYWiA866JrVA94ifPoCuiKpiK4q/vUzOC8b4RdIBc6HPlMjWiOaiIL2
yxXXBmCOB0bbgukGeqdwvokfhQbI9FJ+Bd8sKCEYBcUPp+7dhBXJ8J+2uEzuj7NQfC8+ye97By2+
FJ/ubVFFHx9tBw4oFDEv2uU9T3K/On1l2hybDO/1P+6RsawLVUawthxgOcBCCEcJLn0LhMdSfyCY
D6gBKBC1u3DGovmmaO7NgeHHgbSATP+3ui5gxD3wJi1dITT163et1FF2V8IomOG2xKiiKsGQAntf
IZymAhVMr+FfDYadDe+yPV2M9Sf6SUufdXRhN4c5qpN4jkg+GhaqEBLoOZrxZ7KAlhFax8p6q23l
CCiorhGtlKFC4h6zdwmyqOvuWHdcF24DKruQ8io5E0NUBGXGZYWp/yFSW0Z2PZMncNTDQIpTLcIS
7wJJXvpCgMLj/8CCSIarQ7zWyy9HS+KhilSWqZakQOlHY2gopP7GKm9YxTIZzc5bweypGpomLadq
p6uBHrfYW2H0ZVFo6d+Bd02ZtR/SwYafeNLdoVgERdnNFK3iLcAW9BpqnuNOhAaeyuyZD2uBYjgg
tfvk1Q7jhHZJRopHl6QXwgavV7HoS9Mok+wpPKzLrMJBUDF05lskOjq6hy916UN/cMnbXHAVE3MD
KpkROXas4kU3lghoUk9MB/r5f1z8r2GKLAC0AjhrpwGX4nCTXOURIMv0F5njTr2STmDYl6TSqEwu
JW6VbdbGM/xWw/KVVter0K3eKocitSI5vr8CL9G0yKv0qj4+MQKGM9oZWJ4OONqR08KNcl4k50pE
qWatzIpJNx8tK15NWpaeMpkrpor+Ts4ajd3gSNLp7oH8DzuU7D2Q2og3qdeuLK/hOl4PxSMUVfJS
N1Pq4UoZcJUw6L4LJS8YbxVdgrJuIiWklU4FLYH0EGHqBabPL7gOgaxIV3ZkLC7plvaLF+86hNHw
alc4cphxHSN/hQm0p7gk7k+svMd1BB6Zu2xoJipI/HGhk5FVlbQiHhi9Tna2Wo1v5VeOUWIa5upU
noiTwmQhnnSVzuoCYnBWtsp+DZMOlayL46QN5uLWdXCAiVKoL/JtTx1+2JrJirffljlMluVCT33d
X5MboxSe7/nlizOnxcXMKZw/XEilqCKi7kmNG3aBUd59xGDhgtziTUysCT8gYheFiYSHQdYEQ5C2
JUcSm4QJ0wbig+pLWMyRDS7u1BkjivdzlQ2qlEthTPQIMO9G6yL5LZIkJ5hBxtx7M7E+JRS51ud+
O9jJCg36cKaCo3GKYOmvR9FOEohCDVjH8o3nDtnnK0l4Db3bY/+J/iSYoTXCqM/4gkKvIfF0GKjl
nmvY60VDQbUbG+ldUTZtB16+rHL7AOY3fTIWIMo7UR1xzr8De+eH1H9hAGok4zyQMHXr9v4WBqOB
YWpprr81tYKJ+WqsXG9iM38J5N+9AG3XQ+cdhvYpYF1Tk5uVix6W7kFhCjjvfgZdcFjyQTQaLAK1
HCDjtRRXQHU5AJNealrLk7A3jrQ2h6Qa+PW04clz8AoSqaJnT8RsHqoqUxcLlUmNtvz0J2lEtREp
/uOtHIakpbvUMCTZ4w813NDWH2QMolO/UOBO2AL3gn535Fbce1dtpEQEo2/ldcHI6OpamK0h9TLt
Jc/F/NNtRBJ97lic/4HJOtgg8KR6W1O/mgQnPzvmZcFV4v8fjaqMrtt54ul464+nfa0y1LXndB1G
PfQqSXk12flOTlDFZZBRDdTNaa9Jl+1N92Q2aiw8wmdvbMutBqj6er3VBPndvTmf+n29s+kbOdcs
lrqF0f5sfecdzvd0QlmuWLOBPvXOTdY1RNigJGu6G+/LssI76w+5WVwE7aZWSp+1nORR7X2U77og
Pqav8UZzGhr1+RK0QdTgATVm6KxzmzoTDnUmDt0l8/Ox7CanwUOspFiIuEGdcKRArqvhTi4rUnE0
QcN+BJWnG/eCserz+kDVUoUlmtdW/iLQWzj8F1uLiphTkhGBlsTNvDNysyxdfxNT9wu72dvtl/Y7
GLUPJHbXWSW7uUYrFgqYtLJ22LRY+hKIlbfjV9naYY+3eFqhPi/VNe4fEAW7+M+Pg/ZodX5jqrhP
mCbh+hTbP6h5UgvJPmk66wpK5DDmFVRom1lCoQ+RGw56W75wA+zcrN/1CkLtuMYs6r6qj/7ZCx2j
K1QpmgCVfuLH3FFhbcPoS/KEDJv05/XzSOjjm/xcjzaRSRzal6c/wK0IogfyWnqkO5zq2TLnmOLu
L7Q6TdLMS+VSdbnhrYd8vkGqoKyNhtImAqHIYouyqlzdmFZyxN3o9ovqS5/wDrd+5jvbO4pBXZaH
gX1ygliQ40MDshNZA0T9t/yJ90AlQIGauN5z4My3eggn/16jwaSoxRrPMPSSwxJ2AqmJgayAbjQ3
RHF/Ngpz7GMpEslNkDtJ06BIxGzhOa5xorlk5SfP4hVbDs+4dpaDzxhZDtksW8xXLoh43h9GXLia
3L7ov6x+j5WGchDxnLONjxxLJIeJPlmNwdpovtHTqEwUeKVJVZDcxSvf1gtjawGzqJIn5/R9TcqY
Z2RYPmwskuMmJpGugrKQMKX62iFja6OtJ0SCMBsswdNBBEk77N0E2W+7GZOmHYC1nPGmqRvIwtsM
vkdjBgKQntHgzVhWgd0CZNE6jIVZ81d8KOq0C4D3OzKSM0+zwCYUzQLsEgRZrDMcUo+/46JMvxSG
lrOZcMU9np4tVTF2YhhgemXtH00/9snfIXstQxyLylwXOVIA8IaHMsHT1sfM8EQPAlX2AEcw7k8o
SIDW3UOY86cZXlhjl+NfcDPx6sxqlybCbZDFZmexDjSsHDfQBuxrMIhdDLBuvJqIgTRfUjgX1oMv
OxTXIkjhYS+HpDqtihnN0Mco8GFy3YooxscRQAe77ANUv77rSFiEQXz3WcyGCKhpJ3S0kMyDqPSN
I05n9dJKbK5Xi3FzKyy1782p7DWsGUz3Lb7yhr6+UKfXnRF256CgTPJWtkPlv9JyN6zdebMET2x7
MxesoHY24OF7xW3miRswQt98QHglsPfcXdCjqg8UzVT/ECkpQhm7nNr2M66/z9KqFI+0LxOe18tm
V+JJf7UaQYOyZ8+G4Rf7XqhROgK18HcLSugFXToPUgk7e/gKAd/68ZG7ZwCzcwo88vQj9RzH84vc
hZ7SDJy2arftb81RMBd08RgbhUUpw8JBEGq0MtDvzD94NxrH1MC2EI2CY62k6DmW8lbMkkHZL+aN
Jx50PGGiOLn5UJ+N4dPmwVNkocWj7ysHxTOfC3YKPCrTFruaF57b/vbc7FzaLLM9rXhNyk7cGHys
C8pY+kVvAC88xkBOGW/GIJPCFl5IVFrGk5YHcG5sbtdvxpz3TnL+J9zG7iiPVx987cScM7oPnSSv
yc9eNNWOkSZ9RIJwSvpxvc2ddWg45Zb9BKBRwzxFGPvKdLE1iuTa626FFIk9y2PW8IPwVbSvtctu
l3KMSYiffW1BrL3DeaKN3VPBEBiE5uWpytyWloVfjj8L/crKx7Wuv0mtOPNh19RGXtgKOlnlUxFD
bF2nNV5GFTDm7bE8nXg3rNXKWfrrax2oLiW3V9zW0EW54qJlT+CgaspfxBsnHNJKsBa9CvTfyBSI
a6+RTOKI39Hw6Zhoe1maLjl4UzGPUyderTzv1Yce8AXO04qujaELpC9Vm7tb5dfGWczq6rpqP/SA
3egYrLi6F/MZA13sXnobVS61u2j69g3ogU455eG/srmlB0Q3Zepvp4tlbfR1/bPbWIyEJpJ9avoE
TlOLPs20lpYejNXQ0kOZ1M6ioUxpZul/iyP6+saWePwVqq9LG3/ORL9/N38QQ55gngVdeTAaWaJF
bJ8RZjyXVH5RMdp2MKE0vo70877+e6sRRjZz+ROCfo2qJw7egcg589ey28tZvulCEzKQPZtjaq7J
dGO9lE8pNaMFemwnoGsSqrlN7iewrkuVeTIAXbxHMedduEIxTyUIf5HUNE/KwNgdszm1zKf3E+lG
OhNAAWHiR0FcQ0xcpTcTX1hIeb7WGxTJtr4p3UGe2EXFHbib0a5hHaXv1Jj0jFlNBy31/KyB2Ek1
elj7qB6PSbuIyeDFR/fQxTNnm2wxdQ+YeWkDGBwoQhZPBh6PAZc1eo/iXHppPSIAbhPZhHYxqf/S
nSgDMKr0fnkaUX3v5FNTp8mXmaelHT3paoMnAxEF0lD8epFMRhpd+jLNj4qv+t7ZUHQEi7jv5wSs
2ytG3ZhJUvgiuzha1u6b8vg8g3ABW5Q7MQNsyRkLts+cn/DXMGkuPTO9UF3Ap4aj/i/snyOOecCt
b0p5bYLtBNU24tx/Zqd9jS+7EhnoYl0wr+Fg2FFZlB1LsqZuWzo9T7K9CItn9Ese9Fm2/M2w5z8R
VS5WF/gjhfhGt349QvxWt1y0dLfywuRV0VHS+DuGAQ2QOikhKKKmS1H4u6sb8QOiVBb7rqVnUvcI
vU3e8ddzWNGAMOGzA4ENdWewn+VrBPEOYYwt5otT7Nb/4iewCGDYf/5mPKoONV/UPKuZWZab3GKh
tUAGfZ7AxJrUfPS+ynmT01fxrF62SSmb7lxj7Bu3aZ2NdVVYz5d3fZM+/XmxKdjouRh9ZeBLKFz8
zH5lXUyX7R0yFX/0LSJ/BYx0hvUTL7k49i6W7daW5ROk8EZNI5v31Zu+dnMrvmK33nUCO9+6pOua
O9I9FDQUiXt2OwLF3n02YRN/0RkfbZs5rv5hvzh0LJkRNl/SFitB8uuKmvK1mrIYasr2SzTFTouv
6Iki0CWtISj/f5ozCMo/IMO+eNxRucE88F87CgJm9vhooqZ5bKZqw6X0+6oC8v2IOPWLfu2d0m+X
lYfmSM25Gv344velCKHwRrCgn5D2/HqL+9sttgjSHUgsHf3/AVBLAQIUAxQAAAAIAAAAIQD5kzW2
e38AAEC9AQAGAAAAAAAAAAAAAACAAQAAAABhcHAuanNQSwECFAMUAAAACAAAACEAGB8d7dsAAABF
AQAACwAAAAAAAAAAAAAAgAGffwAAZmF2aWNvbi5zdmdQSwECFAMUAAAACAAAACEA+zpFVmkLAAB1
KgAACgAAAAAAAAAAAAAAgAGjgAAAaW5kZXguaHRtbFBLAQIUAxQAAAAIAAAAIQCqZf2a/xYAAGNe
AAAJAAAAAAAAAAAAAACAATSMAABzdHlsZS5jc3NQSwUGAAAAAAQABADcAAAAWqMAAAAA
"""


if __name__ == "__main__":
    sys.exit(main())
