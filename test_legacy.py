"""chantilly 0.2.0's own test suite, ported test by test to run against this server over HTTP.

Where they come from: the ``tests/`` folder that the chantilly 0.2.0 wheel on PyPI ships
(``pip download --no-deps chantilly==0.2.0``): ``test_api.py`` (29 tests), ``test_scenarios.py``
(2), ``test_cli.py`` (1) and ``test_factory.py`` (2). Every test of those files is here, in
their order, under a name that says what it checks; each docstring names the 0.2.0 test it
ports. The calls are 0.2.0's (same routes, same JSON bodies sent as ``application/json``,
same models sent as ``pickle.dumps(model)`` bytes, which 0.2.0 read with ``dill.loads`` and
this server reads alike, same data) and so are the assertions, except where this server
differs from 0.2.0 on purpose (README, "Coming from chantilly 0.2"; the lead's decisions of
issue 18): there only the assertion changed, to what this server does, each marked by a
``# chantilly: ...`` comment saying what differs. Those differences: messages are always
strings, in this server's words (0.2.0's marshmallow errors were objects); an unknown model
and no model yet are 404 (0.2.0: 400); there is no "No flavor has been set." state (a fresh
server takes uploads, ``GET /api/init`` answers 200 with ``"flavor": null``, the stats answer
200; metrics belong to a model, so without one they are 404 even once a flavor is set);
answers carry more keys (compared on 0.2.0's keys only); ``GET /api/models`` lists names
sorted; the allowed flavors are more; the storage is "sqlite". A test whose assertion
changed says what it now checks in its name, and its docstring gives 0.2.0's answer where
the comment does not.

What was replaced, and by what:

- Flask's test client and the ``app`` fixture (parametrised over a shelve and a redis
  backend) -> a real server per test (:class:`harness.ServerThread`, port 0, its SQLite file
  in ``tmp_path``) and :class:`LegacyClient` (0.2.0's ``client.get/post/delete`` on one
  keep-alive connection, every call with a timeout). The redis
  variant has no counterpart: this server has one storage.
- Looks into the storage through ``storage.get_db()`` -> the same fact read over HTTP:
  ``db['flavor'].name`` -> ``GET /api/init``'s ``flavor``; ``'models/<name>' in db`` ->
  ``<name>`` in ``GET /api/models``'s ``models``; ``db['models/<name>']`` -> the model
  downloaded from ``GET /api/model/<name>``; ``'#<id>' in db`` (a prediction stored under
  that id) -> a learn by that id *without features* is accepted (201); ``'#<id>' not in db``
  -> the same learn is refused with 400 ``No information stored for ID '<id>'`` (this server
  goes on to say why and what to do);
  the stored record ``{'features': {'x': 1}, 'model': ..., 'prediction': ...}`` -> once
  learned by id, the model equals a local replay that learned ``{'x': 1}``, and the metrics
  scored the stored prediction.
- ``GET /api/init``'s ``{"app": {"storage": "shelve"}}`` names the backend that serves:
  :data:`STORAGE` ("sqlite" here) replaces "shelve".
- Assertions that an error answer would also have passed gained a status (and a body):
  ``test_metrics_with_flavor``'s ``len(r.json) > 0`` (0.2.0 answered 200; here 404, see
  above), and the messages of ``test_predict_no_model``, ``test_predict_unknown_model``,
  ``test_learn_no_model`` and ``test_metrics_no_flavor`` are checked with their 404.
- test_cli.py drove Flask's CLI runner in-process -> ``python chantilly.py add-model FILE
  --name banana --db DB`` (:func:`harness.run_cli`), the model then read back from a server
  on that file; its ``tmp.pkl`` in the working folder -> a file in ``tmp_path``.
- test_factory.py::test_config checks Flask's ``create_app(...).testing`` flag: there is no
  such app here, so it is not ported (test_index is).

The first port (before the ``# chantilly:`` changes) was checked against 0.2.0 itself: with
the ``server`` fixture swapped for 0.2.0's Flask app behind werkzeug's server (Flask 1.1.4,
creme 0.6.1, shelve) and ``STORAGE = "shelve"``, every test but the CLI one (0.2.0's CLI is
Flask's) passed; the assertions not marked ``# chantilly:`` are unchanged since.

No 0.2.0 test needs a download (``datasets.SMSSpam`` is imported by none; Phishing ships
inside creme).
"""

import http.client
import json
import json as _json  # LegacyClient.post takes a ``json=`` argument, as Flask's client did
import math
import pickle
import uuid

import pytest

from harness import START_TIMEOUT, TIMEOUT, ServerThread, run_cli

pytest.importorskip("creme")

from creme import datasets, linear_model, preprocessing  # noqa: E402

#: What ``GET /api/init`` names as the storage backend (0.2.0 said "shelve", its default).
STORAGE = "sqlite"

JSON = {"Content-Type": "application/json"}


class Answer:
    """An HTTP answer seen the way 0.2.0's tests saw Flask's: ``status_code``, ``json`` (the
    decoded body of an ``application/json`` answer, else None; None for an empty body, as
    0.2.0's 204 had) and ``data`` (the raw body)."""

    def __init__(self, response):
        self.status_code = response.status
        self.content_type = response.getheader("Content-Type")
        self.data = response.read()
        self.json = json.loads(self.data) if self.content_type == "application/json" and self.data else None

    def __repr__(self):
        return f"<{self.status_code} {self.content_type} {self.data[:300]!r}>"


class LegacyClient:
    """0.2.0's ``client.get/post/delete`` over real HTTP: one keep-alive connection to the
    server, every call with a timeout of :data:`harness.TIMEOUT` seconds."""

    def __init__(self, port, host="127.0.0.1"):
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)

    def request(self, method, path, body=None, headers=None):
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            return Answer(self.conn.getresponse())
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise

    def get(self, path):
        return self.request("GET", path)

    def delete(self, path):
        return self.request("DELETE", path)

    def post(self, path, data=None, json=None):
        """``data`` (bytes) as is; ``json`` (or ``data`` given as a str, which 0.2.0's tests
        built with ``json.dumps`` and sent as ``content_type='application/json'``) as JSON."""
        if json is not None:
            data = _json.dumps(json)
        if isinstance(data, str):
            return self.request("POST", path, data.encode(), JSON)
        return self.request("POST", path, data)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def server(tmp_path):
    """A fresh server on an empty database: 0.2.0's ``app`` with a new shelf."""
    with ServerThread(tmp_path / "chantilly.db") as running:
        yield running


@pytest.fixture
def client(server):
    with LegacyClient(server.port) as legacy:
        yield legacy


@pytest.fixture
def regression(client):
    """0.2.0's fixture: the flavor set to regression (its answer is not checked, as in 0.2.0)."""
    client.post('/api/init', data=json.dumps({'flavor': 'regression'}))


@pytest.fixture
def lin_reg(client):
    """0.2.0's fixture: ``StandardScaler | LinearRegression`` uploaded as ``lin-reg``."""
    model = preprocessing.StandardScaler() | linear_model.LinearRegression()
    client.post('/api/model/lin-reg', data=pickle.dumps(model))


def model_names(client):
    """The names ``GET /api/models`` lists: what 0.2.0 read as ``models/<name>`` keys."""
    r = client.get('/api/models')
    assert r.status_code == 200, r
    return r.json['models']


def learn_by_stored_id(client, id, ground_truth):
    """A learn by ``id`` alone: accepted only if a prediction is stored under ``id``."""
    return client.post('/api/learn', data=json.dumps({'id': id, 'ground_truth': ground_truth}))


# ---------------------------------------------------------------------------------------
# tests/test_api.py
# ---------------------------------------------------------------------------------------


def test_get_init_before_any_flavor_is_200_with_a_null_flavor(client):
    """0.2.0: test_api.py::test_init_no_flavor (0.2.0: 400 ``No flavor has been set.``)."""
    r = client.get('/api/init')
    # chantilly: no "No flavor has been set." state: 200 with "flavor": null (README "Coming from chantilly 0.2")
    assert r.status_code == 200
    # chantilly: (same) the body has extra keys: 0.2.0's keys only (README "Coming from chantilly 0.2")
    assert {k: r.json[k] for k in ('app', 'flavor')} == {'app': {'storage': STORAGE}, 'flavor': None}


def test_init_with_unknown_flavor_is_400_listing_the_allowed_flavors(client):
    """0.2.0: test_api.py::test_init_bad_flavor (0.2.0 allowed 'regression', 'binary', 'multiclass')."""
    r = client.post('/api/init', data=json.dumps({'flavor': 'zugzug'}))
    assert r.status_code == 400
    # chantilly: the message lists more flavors, sorted (README "Coming from chantilly 0.2")
    assert r.json == {'message': "Allowed flavors are 'anomaly', 'binary', 'clustering', 'forecasting', "
                                 "'multiclass', 'recommendation', 'regression'."}


def test_init_sets_the_flavor_that_get_init_reports(client):
    """0.2.0: test_api.py::test_init (``storage.get_db()['flavor'].name`` read over GET /api/init)."""
    r = client.post('/api/init', data=json.dumps({'flavor': 'regression'}))
    assert r.status_code == 201

    assert client.get('/api/init').json['flavor'] == 'regression'

    r = client.get('/api/init')
    # chantilly: extra keys, so 0.2.0's keys only; storage "sqlite" (README "Coming from chantilly 0.2")
    assert {k: r.json[k] for k in ('app', 'flavor')} == {'app': {'storage': STORAGE}, 'flavor': 'regression'}


def test_upload_before_any_flavor_is_accepted_as_the_model_named_default(client):
    """0.2.0: test_api.py::test_model_no_flavor (0.2.0: 400 ``No flavor has been set.``)."""
    model = linear_model.LinearRegression()
    r = client.post('/api/model', data=pickle.dumps(model))
    # chantilly: no "No flavor has been set." state: a fresh server takes uploads (README "Coming from chantilly 0.2")
    assert r.status_code == 201
    # chantilly: (same) it becomes the model "default"; extra keys unchecked (README "Coming from chantilly 0.2")
    assert r.json['name'] == 'default'


class ModelWithoutFit:
    def predict_one(self, x):
        return True


def test_upload_of_a_model_without_fit_one_says_so(client, regression):
    """0.2.0: test_api.py::test_model_without_fit (0.2.0: ``The model does not implement fit_one.``)."""
    r = client.post('/api/model', data=pickle.dumps(ModelWithoutFit()))
    # chantilly: this server's wording (README "Coming from chantilly 0.2")
    assert r.json == {'message': 'ModelWithoutFit has neither learn_one (river) nor fit_one (creme)'}


class ModelWithoutPredict:
    def fit_one(self, x, y):
        return self


def test_upload_of_a_model_without_predict_one_says_so(client, regression):
    """0.2.0: test_api.py::test_model_without_predict (0.2.0: ``The model does not implement predict_one.``)."""
    r = client.post('/api/model', data=pickle.dumps(ModelWithoutPredict()))
    # chantilly: this server's wording (README "Coming from chantilly 0.2")
    assert r.json == {'message': 'ModelWithoutPredict has neither predict_one nor predict_proba_one '
                                 '(nor score_one or forecast): there is nothing to ask it'}


def test_upload_answers_its_name_and_the_model_downloads_by_name_and_as_default(client, regression):
    """0.2.0: test_api.py::test_model_upload (the shelf's ``models/healthy-banana`` read as
    GET /api/models and GET /api/model/healthy-banana)."""

    # Instantiate a model
    model = linear_model.LinearRegression()
    probe = uuid.uuid4()
    model.probe = probe

    # Upload the model
    r = client.post('/api/model/healthy-banana', data=pickle.dumps(model))
    assert r.status_code == 201
    # chantilly: the answer has extra keys: 0.2.0's key only (README "Coming from chantilly 0.2")
    assert {k: r.json[k] for k in ('name',)} == {'name': 'healthy-banana'}

    # Check that the model has been added to the storage
    assert 'healthy-banana' in model_names(client)

    # Check that the model can be retrieved via the API with it's name
    model = pickle.loads(client.get('/api/model/healthy-banana').data)
    assert isinstance(model, linear_model.LinearRegression)
    assert model.probe == probe

    # Check that the model can be retrieved via the API by default
    model = pickle.loads(client.get('/api/model').data)
    assert isinstance(model, linear_model.LinearRegression)
    assert model.probe == probe


def test_delete_of_an_unknown_model_is_404(client, regression):
    """0.2.0: test_api.py::test_delete_unknown_model."""
    assert client.delete('/api/model/kayser-soze').status_code == 404


def test_delete_removes_the_model(client, regression):
    """0.2.0: test_api.py::test_delete_model (``'models/healthy-banana' in db`` read as
    GET /api/models)."""

    # Upload a model
    model = linear_model.LinearRegression()
    client.post('/api/model/healthy-banana', data=pickle.dumps(model))

    assert 'healthy-banana' in model_names(client)

    # Delete it
    client.delete('/api/model/healthy-banana')

    assert 'healthy-banana' not in model_names(client)


def test_models_lists_names_sorted_and_the_latest_upload_is_default(client, regression):
    """0.2.0: test_api.py::test_models (0.2.0 listed the names in upload order)."""

    model = linear_model.LinearRegression()
    client.post('/api/model/ted-mosby', data=pickle.dumps(model))
    client.post('/api/model/barney-stinson', data=pickle.dumps(model))

    r = client.get('/api/models')
    # chantilly: names sorted (0.2.0: upload order); extra key: 0.2.0's keys only (README "Coming from chantilly 0.2")
    assert {k: r.json[k] for k in ('default', 'models')} == {'default': 'barney-stinson',
                                                             'models': ['barney-stinson', 'ted-mosby']}


def test_predict_without_any_model_is_404_no_model_yet(client, regression):
    """0.2.0: test_api.py::test_predict_no_model (0.2.0: 400 ``No default model has been set.``)."""
    r = client.post('/api/predict', data=json.dumps({'features': {}}))
    # chantilly: no model yet is 404, in this server's words (README "Coming from chantilly 0.2")
    assert r.status_code == 404
    assert r.json == {'message': 'no model yet: upload one with POST /api/model'}


def test_predict_without_features_names_the_missing_field(client, regression, lin_reg):
    """0.2.0: test_api.py::test_predict_no_features (0.2.0: marshmallow's message, a JSON object:
    ``{'features': ['Missing data for required field.']}``)."""
    r = client.post('/api/predict', data=json.dumps({'id': 42}))
    # chantilly: messages are strings, in this server's words (README "Coming from chantilly 0.2")
    assert r.json == {'message': '"features" is missing: send {"features": {"name": value, ...}}'}


def test_predict_with_an_unknown_model_name_is_404_naming_it(client, regression, lin_reg):
    """0.2.0: test_api.py::test_predict_unknown_model (0.2.0: 400 ``No model named 'healthy-banana'.``)."""
    r = client.post('/api/predict', data=json.dumps({'features': {}, 'model': 'healthy-banana'}))
    # chantilly: an unknown model is 404, in this server's words (README "Coming from chantilly 0.2")
    assert r.status_code == 404
    assert r.json == {'message': "no model named 'healthy-banana': GET /api/models lists them, "
                                 "POST /api/model/healthy-banana uploads one"}


def test_predict_answers_200_with_a_prediction(client, regression, lin_reg):
    """0.2.0: test_api.py::test_predict."""
    r = client.post('/api/predict', data=json.dumps({'features': {}}))
    assert r.status_code == 200
    assert 'prediction' in r.json


def test_predict_with_an_id_answers_201_with_the_model_and_stores_it(client, regression, lin_reg):
    """0.2.0: test_api.py::test_predict_with_id (``'#90210' in shelf`` read as: a learn by
    that id alone is accepted)."""

    r = client.post('/api/predict', data=json.dumps({'features': {}, 'id': '90210'}))
    assert r.status_code == 201
    assert r.json == {'model': 'lin-reg', 'prediction': 0}

    assert learn_by_stored_id(client, '90210', 0).status_code == 201


def test_predict_naming_the_model_answers_with_its_name(client, regression, lin_reg):
    """0.2.0: test_api.py::test_predict_model_name."""
    r = client.post('/api/predict', data=json.dumps({'features': {}, 'model': 'lin-reg'}))
    assert r.status_code == 200
    assert r.json == {'model': 'lin-reg', 'prediction': 0.0}


def test_learn_without_ground_truth_names_the_missing_field(client, regression, lin_reg):
    """0.2.0: test_api.py::test_learn_no_ground_truth (0.2.0: marshmallow's message, a JSON object:
    ``{'ground_truth': ['Missing data for required field.']}``)."""
    r = client.post('/api/learn', data=json.dumps({'features': {'x': 1}}))
    # chantilly: messages are strings, in this server's words (README "Coming from chantilly 0.2")
    assert r.json == {'message': '"ground_truth" is required to learn: '
                                 'a regression model learns from labelled features'}


def test_learn_without_any_model_is_404_no_model_yet(client, regression):
    """0.2.0: test_api.py::test_learn_no_model (0.2.0: 400 ``No default model has been set.``)."""
    r = client.post('/api/learn', data=json.dumps({'features': {'x': 1}, 'ground_truth': True}))
    # chantilly: no model yet is 404, in this server's words (README "Coming from chantilly 0.2")
    assert r.status_code == 404
    assert r.json == {'message': 'no model yet: upload one with POST /api/model'}


def test_learn_without_features_or_id_says_it_needs_one_of_them(client, regression, lin_reg):
    """0.2.0: test_api.py::test_learn_no_features (0.2.0: ``No features are stored and none were provided.``)."""
    r = client.post('/api/learn', data=json.dumps({'ground_truth': True}))
    # chantilly: this server's wording (README "Coming from chantilly 0.2")
    assert r.json == {'message': 'a learn needs "features", or the "id" of an earlier prediction'}


def test_learn_with_features_and_a_boolean_ground_truth_answers_201(client, regression, lin_reg):
    """0.2.0: test_api.py::test_learn (a regression model, ``ground_truth: true``)."""
    r = client.post('/api/learn', data=json.dumps({'features': {'x': 1}, 'ground_truth': True}))
    assert r.status_code == 201


def test_learn_by_id_uses_the_stored_features_and_prediction_then_forgets_them(client, regression, lin_reg):
    """0.2.0: test_api.py::test_learn_with_id. 0.2.0 read the stored record
    (``sorted(shelf['#42']) == ['features', 'model', 'prediction']``, ``features == {'x': 1}``)
    and its removal (``'#42' not in shelf``) in the shelf; here: the learn by id alone is
    accepted (the features were stored), the model then equals a local replay that learned
    ``{'x': 1}`` (those features), the metrics scored the prediction served for 42 (the
    stored prediction), and a second learn by 42 alone is refused (removed)."""

    r = client.post('/api/predict', data=json.dumps({'id': 42, 'features': {'x': 1}}))
    stored_prediction = r.json['prediction']

    r = client.post('/api/learn', data=json.dumps({'id': 42, 'ground_truth': True}))
    assert r.status_code == 201

    # What was stored under 42, as the model and the metrics show it
    replay = preprocessing.StandardScaler() | linear_model.LinearRegression()
    assert replay.predict_one({'x': 1}) == stored_prediction
    replay.fit_one({'x': 1}, True)
    learned = pickle.loads(client.get('/api/model/lin-reg').data)
    assert dict(learned['LinearRegression'].weights) == dict(replay['LinearRegression'].weights) != {}
    assert learned['LinearRegression'].intercept == replay['LinearRegression'].intercept
    assert client.get('/api/metrics').json['MAE'] == abs(1 - stored_prediction)

    # Check the sample has now been removed
    r = learn_by_stored_id(client, 42, True)
    assert r.status_code == 400
    # chantilly: 0.2.0's message, then why and what to do (README "Coming from chantilly 0.2")
    assert r.json == {'message': "No information stored for ID '42': it was never predicted with this id, "
                                 'or was already learned. To learn from features, send them without the "id"'}


def test_learn_with_an_id_never_stored_is_400_even_with_features(client, regression, lin_reg):
    """0.2.0: test_api.py::test_learn_unknown_id (0.2.0: 400 ``No information stored for ID '42'.``)."""
    r = client.post('/api/learn', data=json.dumps({'id': 42, 'features': {'x': 1}, 'ground_truth': True}))
    assert r.status_code == 400
    # chantilly: 0.2.0's message, then why and what to do (README "Coming from chantilly 0.2")
    assert r.json == {'message': "No information stored for ID '42': it was never predicted with this id, "
                                 'or was already learned. To learn from features, send them without the "id"'}


def test_learn_naming_the_model_answers_201(client, regression, lin_reg):
    """0.2.0: test_api.py::test_learn_model_name."""
    r = client.post('/api/learn', data=json.dumps({'features': {}, 'ground_truth': 7, 'model': 'lin-reg'}))
    assert r.status_code == 201


def test_stats_before_any_flavor_are_200_with_the_predict_and_learn_stats(client):
    """0.2.0: test_api.py::test_stats_no_flavor (0.2.0: 400 ``No flavor has been set.``)."""
    r = client.get('/api/stats')
    # chantilly: no "No flavor has been set." state: 200 (README "Coming from chantilly 0.2")
    assert r.status_code == 200
    # chantilly: (same) the stats, not a message: 0.2.0's keys are there (README "Coming from chantilly 0.2")
    assert 'message' not in r.json and {'predict', 'learn'} <= r.json.keys()


def test_stats_after_init_are_zero_calls_and_0ns_durations(client, regression):
    """0.2.0: test_api.py::test_stats."""
    r = client.get('/api/stats')
    assert r.status_code == 200
    # chantilly: the stats have extra keys: 0.2.0's keys only (README "Coming from chantilly 0.2")
    assert {k: r.json[k] for k in ('learn', 'predict')} == {
        'learn': {
            'ewm_duration': 0,
            'ewm_duration_human': '0ns',
            'mean_duration': 0,
            'mean_duration_human': '0ns',
            'n_calls': 0
        },
        'predict': {
            'ewm_duration': 0,
            'ewm_duration_human': '0ns',
            'mean_duration': 0.0,
            'mean_duration_human': '0ns',
            'n_calls': 0
        }
    }


def test_stats_count_a_predict_and_time_it(client, regression, lin_reg):
    """0.2.0: test_api.py::test_stats_predict."""
    client.post('/api/predict', data=json.dumps({'features': {}}))
    stats = client.get('/api/stats').json
    assert stats['predict']['n_calls'] == 1
    assert stats['predict']['mean_duration'] > 0
    assert stats['predict']['ewm_duration'] > 0


def test_stats_count_a_learn_and_time_it(client, regression, lin_reg):
    """0.2.0: test_api.py::test_stats_learn."""
    client.post('/api/learn', data=json.dumps({'features': {}, 'ground_truth': True}))
    stats = client.get('/api/stats').json
    assert stats['learn']['n_calls'] == 1
    assert stats['learn']['mean_duration'] > 0
    assert stats['learn']['ewm_duration'] > 0


def test_metrics_before_any_flavor_are_404_no_model_yet(client):
    """0.2.0: test_api.py::test_metrics_no_flavor (0.2.0: ``No flavor has been set.``)."""
    r = client.get('/api/metrics')
    # chantilly: no flavor state; metrics are a model's, and no model yet is 404 (README "Coming from chantilly 0.2")
    assert r.status_code == 404
    assert r.json == {'message': 'no model yet: upload one with POST /api/model'}


def test_metrics_once_a_flavor_is_set_but_no_model_are_404_no_model_yet(client, regression):
    """0.2.0: test_api.py::test_metrics_with_flavor (0.2.0 answered 200 ``{"MAE": 0.0,
    "RMSE": 0.0, "SMAPE": 0.0}``: the flavor's metrics, before any model; its ``len(r.json) > 0``
    alone an error would pass too, so the port pins the status and the body)."""
    r = client.get('/api/metrics')
    # chantilly: metrics are a model's: no model yet is 404 (0.2.0: 200) (README "Coming from chantilly 0.2")
    assert r.status_code == 404
    assert len(r.json) > 0
    # chantilly: (same) what that answer says (README "Coming from chantilly 0.2")
    assert r.json == {'message': 'no model yet: upload one with POST /api/model'}


# ---------------------------------------------------------------------------------------
# tests/test_scenarios.py
# ---------------------------------------------------------------------------------------


def test_phishing_predictions_by_id_match_creme_predict_then_learn(client):
    """0.2.0: test_scenarios.py::test_phishing."""

    r = client.post('/api/init', json={'flavor': 'binary'})

    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    client.post('/api/model', data=pickle.dumps(model))

    for i, (x, y) in enumerate(datasets.Phishing().take(30)):

        # Predict/learn via chantilly
        r = client.post('/api/predict', data=json.dumps({'id': i, 'features': x}))

        client.post('/api/learn', data=json.dumps({'id': i, 'ground_truth': y}))

        # Predict/learn directly via creme
        y_pred = model.predict_proba_one(x)
        model.fit_one(x, y)

        # Compare the predictions from both sides
        assert math.isclose(y_pred[True], r.json['prediction']['true'])


def test_phishing_predictions_without_id_match_creme_predicting_twice_then_learning(client):
    """0.2.0: test_scenarios.py::test_phishing_without_id."""

    r = client.post('/api/init', json={'flavor': 'binary'})

    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    client.post('/api/model', data=pickle.dumps(model))

    for x, y in datasets.Phishing().take(30):

        # Predict/learn via chantilly
        r = client.post('/api/predict', data=json.dumps({'features': x}))
        client.post('/api/learn', data=json.dumps({'features': x, 'ground_truth': y}))

        # Predict/learn directly via creme
        y_pred = model.predict_proba_one(x)

        # Because no ID is provided, chantilly will ask the model to make a prediction a second
        # time in order to update the metric
        model.predict_proba_one(x)

        model.fit_one(x, y)

        # Compare the predictions from both sides
        assert math.isclose(y_pred[True], r.json['prediction']['true'])


# ---------------------------------------------------------------------------------------
# tests/test_cli.py
# ---------------------------------------------------------------------------------------


def test_cli_add_model_stores_the_pickled_model_under_its_name(tmp_path):
    """0.2.0: test_cli.py::test_add_model (Flask's CLI runner -> ``python chantilly.py
    add-model``; ``db['models/banana']`` read from a server on that database)."""
    db = tmp_path / "chantilly.db"

    # Pickle a model
    model = linear_model.LinearRegression()
    probe = uuid.uuid4()
    model.probe = probe
    path = tmp_path / 'tmp.pkl'
    with open(path, 'wb') as f:
        pickle.dump(model, f)

    # Add the model to the storage through the CLI
    result = run_cli('add-model', path, '--name', 'banana', '--db', db, timeout=START_TIMEOUT)
    assert result.returncode == 0, result.stderr

    # Check that the model has been added to the storage
    with ServerThread(db) as running, LegacyClient(running.port) as client:
        assert 'banana' in model_names(client)
        stored = pickle.loads(client.get('/api/model/banana').data)
        assert isinstance(stored, linear_model.LinearRegression)
        assert stored.probe == probe


# ---------------------------------------------------------------------------------------
# tests/test_factory.py (test_config checks Flask's app.testing flag: nothing to port)
# ---------------------------------------------------------------------------------------


def test_index_serves_the_dashboard(client):
    """0.2.0: test_factory.py::test_index."""
    r = client.get('/')
    assert r.status_code == 200
