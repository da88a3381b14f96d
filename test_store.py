"""The store (issue: per-model log seqs and refusals): what every backend must do, and what
the service builds on it.

(A) The store contract: tests written against the store's operations (``open_store``,
``install``, ``serve``, ``drop``, ``load``, settings, and one model's rows through
:class:`chantilly.ModelRows`), never its statements, run on every backend by the ``store``
fixture: on SQLite and on PostgreSQL (each an entry of :data:`LOCATIONS`).
Tests that reach into the SQLite file (a trigger that makes inserts fail for real, the
file read with sqlite3) are marked ``sqlite_file``.

(B) Behaviour through the service: a model whose writes are refused leaves another model's
acknowledged calls and state untouched, without a rebuild; a file written by schema 2 (one
seq for every model's log) upgrades and serves exactly what its calls computed.

(C) A log with a record missing is refused, saying so, never served wrong.

Real SQLite files in tmp_path, real creme and river models, real servers over HTTP; expected
values come from :class:`harness.Simulator`, replaying the same calls in-process.
"""

import contextlib
import json
import shutil
import sqlite3
import threading

import dill
import pytest

import chantilly
import harness
from harness import (PROBES, TIMEOUT, ServerProcess, ServerThread, Simulator, assert_error, creme_regressor,
                     phishing, schema2_calls, trump_approval)

SCHEMA2_DB = harness.ROOT / "testdata" / "schema2.db"


# ---------------------------------------------------------------------------------------
# The store fixture: one entry per backend
# ---------------------------------------------------------------------------------------

#: Where each backend's store lives for one test, given the test's ``request`` and
#: ``tmp_path``. PostgreSQL is one more entry (conftest.py's ``pg_dsn``: a database of its own):
#: ``"postgres": lambda request, tmp_path: request.getfixturevalue("pg_dsn"),``
LOCATIONS = {
    "sqlite": lambda request, tmp_path: tmp_path / "c.db",
    "postgres": lambda request, tmp_path: request.getfixturevalue("pg_dsn"),
}


class Backend:
    """One test's storage: :meth:`open` a store on it, :meth:`reopen` it (closed first, as
    a restart would), every store closed at teardown."""

    def __init__(self, kind, location):
        self.kind, self.location, self.store = kind, location, None

    def open(self):
        self.store = chantilly.open_store(self.location)
        return self.store

    def reopen(self):
        self.close()
        return self.open()

    def close(self):
        if self.store is not None:
            store, self.store = self.store, None
            store.close()


@pytest.fixture(params=sorted(LOCATIONS))
def backend(request, tmp_path):
    """The test's :class:`Backend`, one per entry of :data:`LOCATIONS`; a test marked
    ``sqlite_file`` (it reaches into SQLite itself) runs on SQLite only."""
    if request.param != "sqlite" and request.node.get_closest_marker("sqlite_file"):
        pytest.skip("reaches into the SQLite file itself")
    opened = Backend(request.param, LOCATIONS[request.param](request, tmp_path))
    yield opened
    opened.close()


@pytest.fixture
def store(backend):
    """A store, open on an empty database of the test's own (``backend.reopen()`` for a restart)."""
    return backend.open()


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def info(n):
    """A model's description, as the store keeps it (any JSON object)."""
    return {"class": f"Model{n}", "flavor": "regression", "n": n}


def body(model, seq):
    """A log record's body: the store keeps text, whatever it says."""
    return json.dumps({"x": {"model": model, "seq": seq}})


def predict(seq):
    """A prediction's log record."""
    return json.dumps({"x": {"i": seq}})


def install(store, name, role="serving", n=1, final=None, keep=None):
    """Install a model and commit; returns its id and version."""
    model_id, version, ticket = store.install(name, role, info(n), b"state %d" % n, b"initial %d" % n, final, keep)
    store.commit(ticket)
    return model_id, version


def fill(store, rows, count, start=1):
    """Append ``count`` records to ``rows`` from seq ``start`` and commit; returns the bodies."""
    bodies = [(seq, body(rows.id, seq)) for seq in range(start, start + count)]
    ticket = 0
    for seq, text in bodies:
        ticket = rows.append(seq, text)
    store.commit(ticket)
    return bodies


def roles(store, name=None):
    return [(e.name, e.version, e.role) for e in store.catalog(name)]


def gone(store, model_id, name):
    """Whether nothing is left of a model: no catalog row, no log, ids, history or drifts."""
    rows = chantilly.ModelRows(store, model_id, name)
    return (store.load(model_id) is None and rows.log_since(0) == [] and rows.count_ids() == 0
            and rows.history() == [] and rows.drifts() == [] and rows.find_id('"k"') is None)


def refuses(store, ticket):
    """Whether committing ``ticket`` raises Unavailable (and says so in words a user reads)."""
    try:
        store.commit(ticket)
    except chantilly.Unavailable as e:
        assert "refused" in e.message, e.message
        return True
    return False


@contextlib.contextmanager
def failing_inserts(store, table, model_id=None, meanwhile=None):
    """Make SQLite refuse every insert into ``table`` (of ``model_id`` when given), for real:
    a temporary trigger on the store's own connection, dropped on the way out. ``meanwhile``:
    a function SQLite calls as it refuses, in the middle of the commit (what another thread
    does at that moment)."""
    when = f"WHEN NEW.model = {int(model_id)} " if model_id is not None else ""
    call = ""
    with store._conn_lock:
        if meanwhile is not None:
            store._conn.create_function("meanwhile", 0, meanwhile)
            call = "SELECT meanwhile(); "
        store._conn.execute(f"CREATE TEMP TRIGGER refuse_for_the_test BEFORE INSERT ON {table} {when}"
                            f"BEGIN {call}SELECT RAISE(ABORT, 'refused for the test'); END")
    try:
        yield
    finally:
        with store._conn_lock:
            store._conn.execute("DROP TRIGGER IF EXISTS temp.refuse_for_the_test")


def probe(model, flavor="regression"):
    """What a model answers for :data:`harness.PROBES`, asked of a copy (creme pipelines
    change as they predict), as text (a NaN compares equal to itself)."""
    copy = dill.loads(dill.dumps(model))
    ask = copy.predict_one if flavor == "regression" else copy.predict_proba_one
    return repr([ask(dict(p)) for p in PROBES])


# ---------------------------------------------------------------------------------------
# (A) The contract: the catalog
# ---------------------------------------------------------------------------------------


def test_install_numbers_versions_per_name_and_keeps_the_replaced_model_as_a_past_version(store):
    a1, v = install(store, "a", n=1)
    assert v == 1
    b1, v = install(store, "b", n=2)
    assert v == 1  # versions count per name
    final = {"learns": 3, "metrics": {"MAE": 0.5}}
    a2, v = install(store, "a", n=3, final=final)
    assert v == 2
    assert len({a1, b1, a2}) == 3 and a1 < b1 < a2  # ids issued by the store, growing
    assert roles(store) == [("a", 1, "version"), ("a", 2, "serving"), ("b", 1, "serving")]  # by name, version
    assert store.catalog() == sorted(store.catalog(), key=lambda e: (e.name, e.version))
    assert [e.id for e in store.catalog("a")] == [a1, a2]
    retired = store.catalog("a")[0]
    assert retired.info == dict(info(1), final=final)  # its description, and how it ended
    assert store.catalog("a")[1].info == info(3)
    assert store.load(a1) == (dict(info(1), final=final), b"state 1", 0, 1, b"initial 1")
    assert store.load(a2) == (info(3), b"state 3", 0, 2, b"initial 3")
    assert store.catalog("nobody") == [] and store.load(a2 + 100) is None

    c3, v = install(store, "a", "challenger", n=4)
    assert v == 3 and roles(store, "a")[-1] == ("a", 3, "challenger")
    rows = chantilly.ModelRows(store, c3, "a")
    fill(store, rows, 3)
    c4, v = install(store, "a", "challenger", n=5)  # replaces the challenger, whose rows go
    assert v == 4
    assert roles(store, "a") == [("a", 1, "version"), ("a", 2, "serving"), ("a", 4, "challenger")]
    assert gone(store, c3, "a")
    assert store.catalog("a")[1].info == info(3)  # a challenger retires nothing


def test_a_retired_model_keeps_its_log_but_its_stored_ids_go(store):
    a1, _ = install(store, "a")
    rows = chantilly.ModelRows(store, a1, "a")
    store.commit(rows.append(1, body(a1, 1), ('"k"', '{"x":{},"p":{"v":1}}', 5.0)))
    store.commit(rows.append(2, body(a1, 2)))
    install(store, "a", n=2, final={"learns": 1})
    fresh = chantilly.ModelRows(store, a1, "a")
    assert fresh.log_since(0) == [(1, body(a1, 1)), (2, body(a1, 2))]  # a rollback replays it
    assert fresh.find_id('"k"') is None and fresh.count_ids() == 0  # no call can learn them now


def test_serve_promotes_a_challenger_and_rolls_back_to_a_past_version(store):
    v1, _ = install(store, "a", n=1)
    rows1 = chantilly.ModelRows(store, v1, "a")
    log1 = fill(store, rows1, 4)
    v2, _ = install(store, "a", "challenger", n=2)
    fill(store, chantilly.ModelRows(store, v2, "a"), 2)

    store.commit(store.serve("a", v2, {"learns": 4}))  # promote
    assert roles(store) == [("a", 1, "version"), ("a", 2, "serving")]
    assert store.catalog("a")[0].info == dict(info(1), final={"learns": 4})
    assert store.load(v2)[:4] == (info(2), b"state 2", 0, 2)  # the same model, now serving

    store.commit(store.serve("a", v1, {"learns": 2}))  # roll back
    assert roles(store) == [("a", 1, "serving"), ("a", 2, "version")]
    assert store.catalog("a")[1].info == dict(info(2), final={"learns": 2})
    assert store.load(v1)[1:4] == (b"state 1", 0, 1)  # the state and log it had
    assert chantilly.ModelRows(store, v1, "a").log_since(0) == log1


def test_keep_prunes_the_oldest_past_versions_with_their_rows(store):
    ids = []
    for n in range(1, 4):
        model_id, _ = install(store, "a", n=n, final={"n": n})
        rows = chantilly.ModelRows(store, model_id, "a")
        fill(store, rows, 2)
        store.commit(rows.add_history(1.0, 1, '{"MAE": 1}'))
        store.commit(rows.add_drift(1.0, 1))
        ids.append(model_id)
    assert roles(store, "a") == [("a", 1, "version"), ("a", 2, "version"), ("a", 3, "serving")]
    v4, _ = install(store, "a", n=4, final={"n": 3}, keep=1)  # one past version kept: 3
    assert roles(store, "a") == [("a", 3, "version"), ("a", 4, "serving")]
    assert gone(store, ids[0], "a") and gone(store, ids[1], "a")
    kept = chantilly.ModelRows(store, ids[2], "a")
    assert len(kept.log_since(0)) == 2 and kept.history() and kept.drifts()
    v5, _ = install(store, "a", n=5, final={"n": 4})
    store.commit(store.serve("a", ids[2], {"n": 5}, keep=1))  # a rollback prunes too
    assert roles(store, "a") == [("a", 3, "serving"), ("a", 5, "version")]
    assert gone(store, v4, "a")
    store.commit(store.serve("a", v5, {"n": 6}, keep=0))  # keep=0: no past version at all
    assert roles(store, "a") == [("a", 5, "serving")]
    assert gone(store, ids[2], "a")


def test_drop_removes_a_challenger_or_a_whole_name_with_all_their_rows(store):
    def populated(name, role="serving", n=1):
        model_id, _ = install(store, name, role, n=n, final={})
        rows = chantilly.ModelRows(store, model_id, name)
        fill(store, rows, 3)
        store.commit(rows.append(4, body(model_id, 4), ('"k"', '{"x":{},"p":{"v":1}}', 1.0)))
        store.commit(rows.add_history(1.0, 1, "{}"))
        store.commit(rows.add_drift(1.0, 1))
        return model_id

    past, serving, challenger = populated("a", n=1), populated("a", n=2), populated("a", "challenger", n=3)
    other = populated("b")
    store.commit(store.drop("a", "challenger"))
    assert gone(store, challenger, "a")
    assert roles(store) == [("a", 1, "version"), ("a", 2, "serving"), ("b", 1, "serving")]
    assert len(chantilly.ModelRows(store, serving, "a").log_since(0)) == 4
    store.commit(store.drop("a"))
    assert roles(store) == [("b", 1, "serving")]
    assert all(gone(store, model_id, "a") for model_id in (past, serving, challenger))
    rows = chantilly.ModelRows(store, other, "b")  # another name's rows are untouched
    assert [seq for seq, _ in rows.log_since(0)] == [1, 2, 3, 4]
    assert rows.find_id('"k"') == ('{"x":{},"p":{"v":1}}', 1.0) and rows.history() and rows.drifts()
    store.commit(store.drop("nobody"))  # nothing to drop: nothing happens
    assert roles(store) == [("b", 1, "serving")]


def test_model_ids_are_never_reused_after_a_drop_even_across_a_reopen(backend, store):
    a, _ = install(store, "a")
    b, _ = install(store, "b")
    store.commit(store.drop("b"))  # the newest id is dropped
    c, _ = install(store, "c")
    assert c > b
    store.commit(store.drop("c"))
    store = backend.reopen()
    d, _ = install(store, "d")
    assert d > c, "an id dropped before the restart was issued again"
    store.commit(store.drop("d"))
    store.commit(store.drop("a"))  # no model left at all
    store = backend.reopen()
    e, _ = install(store, "e")
    assert e > d


# ---------------------------------------------------------------------------------------
# (A) The contract: one model's rows
# ---------------------------------------------------------------------------------------


def test_each_model_numbers_its_log_from_1_and_reads_it_back_in_order(store):
    a, _ = install(store, "a")
    c, _ = install(store, "a", "challenger", n=2)
    b, _ = install(store, "b")
    handles = {m: chantilly.ModelRows(store, m, name) for m, name in ((a, "a"), (c, "a"), (b, "b"))}
    written = {m: [] for m in handles}
    ticket = 0
    for seq in range(1, 8):  # interleaved: every model has its own 1, 2, 3...
        for m, rows in handles.items():
            if m != c or seq <= 3:
                ticket = rows.append(seq, body(m, seq))
                written[m].append((seq, body(m, seq)))
    store.commit(ticket)
    for m, rows in handles.items():
        assert rows.log_since(0) == written[m]
        assert rows.log_since(3) == written[m][3:]
        assert rows.log_since(len(written[m])) == []


def test_a_duplicate_seq_is_refused_at_commit_with_every_write_of_its_name_and_only_them(store):
    a, _ = install(store, "a")
    c, _ = install(store, "a", "challenger", n=2)
    b, _ = install(store, "b")
    rows_a, rows_c, rows_b = (chantilly.ModelRows(store, m, n) for m, n in ((a, "a"), (c, "a"), (b, "b")))
    log_a = fill(store, rows_a, 2)
    # One batch: the challenger's good record, a's record 2 again, b's record, a setting.
    t_c = rows_c.append(1, body(c, 1))
    t_dup = rows_a.append(2, "a duplicate")
    t_b = rows_b.append(1, body(b, 1))
    t_set = store.put_setting("k", "v")
    store.commit(t_set)  # one commit settles the batch: the catalog's write and b's stand
    assert not refuses(store, t_b)
    assert refuses(store, t_dup) and refuses(store, t_c)  # the name is refused: its challenger too
    assert (store.refusals_of("a"), store.refusals_of("b")) == (1, 0)
    assert rows_a.behind() and rows_c.behind() and not rows_b.behind()
    assert rows_a.log_since(0) == log_a and rows_c.log_since(0) == []
    assert rows_b.log_since(0) == [(1, body(b, 1))] and store.setting("k") == "v"

    # Later writes built on the refused ones are refused at once, fine as they are...
    assert refuses(store, rows_a.append(3, body(a, 3)))
    assert refuses(store, rows_a.add_history(1.0, 1, "{}"))
    assert rows_a.log_since(0) == log_a and rows_a.history() == []
    assert store.refusals_of("a") == 1  # ... without counting as new refusals
    # ... until the model's state is rebuilt from the store: it then writes again.
    rows_a.rebuilt()
    assert not rows_a.behind()
    store.commit(rows_a.append(3, body(a, 3)))
    assert rows_a.log_since(0) == log_a + [(3, body(a, 3))]
    store.commit(rows_b.append(2, body(b, 2)))  # b never noticed
    assert not rows_b.behind() and [s for s, _ in rows_b.log_since(0)] == [1, 2]


def test_a_lone_refused_write_refuses_its_name(store):
    a, _ = install(store, "a")
    rows = chantilly.ModelRows(store, a, "a")
    fill(store, rows, 1)
    assert refuses(store, rows.append(1, "again"))  # the only write of its commit
    assert store.refusals_of("a") == 1 and rows.behind()
    assert rows.log_since(0) == [(1, body(a, 1))]


def test_a_batch_whose_every_name_fails_is_refused_whole(store):
    a, _ = install(store, "a")
    b, _ = install(store, "b")
    rows_a, rows_b = chantilly.ModelRows(store, a, "a"), chantilly.ModelRows(store, b, "b")
    fill(store, rows_a, 1)
    fill(store, rows_b, 1)
    tickets = [rows_a.append(2, body(a, 2)), rows_a.append(1, "dup"), rows_b.append(1, "dup"),
               rows_b.append(2, body(b, 2))]
    store.settle(tickets[-1])
    assert [store.refused(t) for t in tickets] == [True] * 4
    assert (store.refusals_of("a"), store.refusals_of("b")) == (1, 1)
    assert [s for s, _ in rows_a.log_since(0)] == [1] and [s for s, _ in rows_b.log_since(0)] == [1]
    rows_a.rebuilt()
    rows_b.rebuilt()
    store.commit(rows_a.append(2, body(a, 2)))
    store.commit(rows_b.append(2, body(b, 2)))
    assert [s for s, _ in rows_a.log_since(0)] == [1, 2] == [s for s, _ in rows_b.log_since(0)]


def test_a_refused_name_does_not_take_a_catalog_change_of_its_batch_down_with_it(store):
    """Only the names whose writes fail are refused: a catalog change (a setting, an upload
    of another model) queued beside them stands, whether or not another name had writes in
    the same batch."""
    a, _ = install(store, "a")
    rows_a = chantilly.ModelRows(store, a, "a")
    fill(store, rows_a, 1)
    t_dup = rows_a.append(1, "dup")
    t_set = store.put_setting("k", "v")
    store.settle(t_set)
    assert store.refused(t_dup)
    assert not store.refused(t_set), "a setting was refused because model 'a' had a duplicate seq"
    assert store.setting("k") == "v"


def test_a_read_that_runs_a_refused_write_answers_and_refuses_only_its_name(store):
    a, _ = install(store, "a")
    b, _ = install(store, "b")
    rows_a, rows_b = chantilly.ModelRows(store, a, "a"), chantilly.ModelRows(store, b, "b")
    fill(store, rows_a, 1)
    t_dup, t_b = rows_a.append(1, "dup"), rows_b.append(1, body(b, 1))
    assert rows_b.log_since(0) == [(1, body(b, 1))]  # the read ran the queue, and answers
    assert store.refusals_of("a") == 1 and store.refusals_of("b") == 0
    assert refuses(store, t_dup)
    assert not refuses(store, t_b)
    assert rows_a.log_since(0) == [(1, body(a, 1))]


def test_a_read_answers_when_the_writes_it_runs_are_another_names_refused_ones(store):
    a, _ = install(store, "a")
    b, _ = install(store, "b")
    rows_a, rows_b = chantilly.ModelRows(store, a, "a"), chantilly.ModelRows(store, b, "b")
    log_b = fill(store, rows_b, 1)
    fill(store, rows_a, 1)
    t_dup = rows_a.append(1, "dup")  # the only write queued: a read of b runs it
    assert rows_b.log_since(0) == log_b, "a read of b failed because a's write was refused"
    assert store.refusals_of("b") == 0 and not rows_b.behind()
    assert refuses(store, t_dup)
    store.commit(rows_b.append(2, body(b, 2)))
    assert rows_b.log_since(0) == log_b + [(2, body(b, 2))]


def test_stored_ids_are_found_counted_dropped_evicted_oldest_first_and_expired_to_tombstones(store):
    a, _ = install(store, "a")
    rows = chantilly.ModelRows(store, a, "a")
    stored = {f'"id{i}"': (f'{{"x":{{"i":{i}}},"p":{{"v":{i}}}}}', 100.0 * i) for i in range(1, 7)}
    ticket = 0
    for seq, (key, (text, created)) in enumerate(stored.items(), start=1):
        ticket = rows.append(seq, predict(seq), (key, text, created))
    store.commit(ticket)

    def check(expected):
        """Every key's (body, created) or None, through this handle and through a fresh one
        (which knows nothing but what the store holds)."""
        fresh = chantilly.ModelRows(store, a, "a")
        for handle in (rows, fresh):
            assert {key: handle.find_id(key) for key in stored} == expected
        assert rows.count_ids() == sum(1 for found in expected.values() if found and found[0])

    expected = dict(stored)
    check(expected)
    assert rows.find_id('"never"') is None and rows.find_id("id1") is None  # keys are exact text
    store.commit(rows.append(7, body(a, 7), drop_id='"id2"'))  # a learn by id drops it
    expected['"id2"'] = None
    check(expected)

    store.commit(rows.evict(2))  # the two oldest left (by the order stored): id1 and id3
    expected['"id1"'], expected['"id3"'] = ("", 100.0), ("", 300.0)
    check(expected)
    count, ticket = rows.expire(450.0, 0.0)  # stored before 450: id4 (id1, id3 are tombstones already)
    store.commit(ticket)
    assert count == 1
    expected['"id4"'] = ("", 400.0)
    check(expected)
    count, ticket = rows.expire(550.0, 350.0)  # id5 expires; tombstones created before 350 go
    store.commit(ticket)
    assert count == 1
    expected.update({'"id1"': None, '"id3"': None, '"id5"': ("", 500.0)})
    check(expected)
    # A tombstone's key stored again holds the new prediction.
    store.commit(rows.append(8, predict(8), ('"id4"', '{"x":{},"p":{"v":8}}', 800.0)))
    expected['"id4"'] = ('{"x":{},"p":{"v":8}}', 800.0)
    check(expected)
    assert [seq for seq, _ in rows.log_since(0)] == list(range(1, 9))


def test_a_snapshot_truncates_the_log_and_load_returns_its_seq(store):
    a, _ = install(store, "a")
    rows = chantilly.ModelRows(store, a, "a")
    log = fill(store, rows, 5)
    store.commit(rows.add_history(1.0, 1, '{"MAE": 1}'))
    history = [(2.0, 3, '{"MAE": 0.5}'), (3.0, 5, '{"MAE": 0.25}')]
    store.commit(rows.save_snapshot(b"state at 3", 3, history))
    assert store.load(a) == (info(1), b"state at 3", 3, 1, b"initial 1")
    assert rows.log_since(3) == log[3:] and rows.log_since(0) == log[3:]  # 1..3 are in the snapshot
    assert rows.history() == history  # replaced, not appended to
    store.commit(rows.append(6, body(a, 6)))
    assert rows.log_since(3) == log[3:] + [(6, body(a, 6))]
    store.commit(rows.save_snapshot(b"state at 6", 6, []))
    assert store.load(a)[1:3] == (b"state at 6", 6) and rows.log_since(0) == [] and rows.history() == []


def test_settings_are_put_read_and_removed(store):
    assert store.setting("default") is None
    store.commit(store.put_setting("default", "a"))
    store.commit(store.put_setting("flavor", "binary"))
    store.commit(store.put_setting("default", "b"))  # replaced
    assert (store.setting("default"), store.setting("flavor")) == ("b", "binary")
    store.commit(store.put_setting("default", None))
    assert (store.setting("default"), store.setting("flavor")) == (None, "binary")


def test_history_and_drifts_are_kept_oldest_first(store):
    a, _ = install(store, "a")
    rows = chantilly.ModelRows(store, a, "a")
    for t in (2.0, 1.0, 3.0):
        store.commit(rows.add_history(t, int(t), json.dumps({"MAE": t})))
        store.commit(rows.add_drift(t, int(t) * 10))
    assert rows.history() == [(1.0, 1, '{"MAE": 1.0}'), (2.0, 2, '{"MAE": 2.0}'), (3.0, 3, '{"MAE": 3.0}')]
    assert rows.drifts() == [(1.0, 10), (2.0, 20), (3.0, 30)]


# ---------------------------------------------------------------------------------------
# (A) The contract: the write protocol
# ---------------------------------------------------------------------------------------


def test_one_commit_settles_every_earlier_ticket(store):
    models = [chantilly.ModelRows(store, install(store, name)[0], name) for name in ("a", "b", "c")]
    commits_before = store.commit_histograms()[1].count
    tickets = []
    for seq in range(1, 11):
        for rows in models:
            tickets.append(rows.append(seq, body(rows.id, seq)))
    tickets.append(store.put_setting("default", "b"))
    assert tickets == sorted(tickets) and len(set(tickets)) == len(tickets)  # tickets grow
    store.commit(tickets[-1])
    seconds, writes = store.commit_histograms()
    assert writes.count == commits_before + 1  # one transaction carried them all
    assert writes.sum >= len(tickets)
    for ticket in tickets:
        store.commit(ticket)  # settled already: returns, nothing refused, nothing run
        assert not store.refused(ticket)
    assert store.commit_histograms()[1].count == commits_before + 1
    assert all([s for s, _ in rows.log_since(0)] == list(range(1, 11)) for rows in models)
    assert store.setting("default") == "b"


def test_reads_see_queued_writes_before_they_are_committed(store):
    a, version, t_install = store.install("a", "serving", info(1), b"s", b"i")  # queued only
    assert [(e.id, e.name, e.role, e.version) for e in store.catalog()] == [(a, "a", "serving", version)]
    assert store.load(a) == (info(1), b"s", 0, 1, b"i")
    rows = chantilly.ModelRows(store, a, "a")
    rows.append(1, body(a, 1), ('"k"', '{"x":{},"p":{"v":1}}', 1.0))
    rows.append(2, body(a, 2))
    rows.add_history(1.0, 2, "{}")
    t_last = store.put_setting("default", "a")
    assert store.setting("default") == "a"
    assert rows.log_since(0) == [(1, body(a, 1)), (2, body(a, 2))]
    assert chantilly.ModelRows(store, a, "a").find_id('"k"') == ('{"x":{},"p":{"v":1}}', 1.0)
    assert rows.count_ids() == 1 and rows.history() == [(1.0, 2, "{}")]
    store.commit(t_last)
    assert not store.refused(t_install)


def test_everything_committed_is_there_after_a_reopen(backend, store):
    a, _ = install(store, "a", n=1)
    a2, _ = install(store, "a", n=2, final={"learns": 0})
    b, _ = install(store, "b", "serving", n=3)
    rows = chantilly.ModelRows(store, a2, "a")
    log = fill(store, rows, 4)
    store.commit(rows.append(5, predict(5), ('"k"', '{"x":{},"p":{"v":5}}', 5.0)))
    store.commit(rows.save_snapshot(b"state at 2", 2, [(1.0, 2, "{}")]))
    store.commit(rows.add_drift(2.0, 2))
    store.commit(store.put_setting("default", "a"))
    rows.append(6, body(a2, 6))  # queued, never committed: close commits it
    catalog = store.catalog()
    store = backend.reopen()
    assert store.catalog() == catalog
    assert store.load(a2) == (info(2), b"state at 2", 2, 2, b"initial 2")
    assert store.load(a)[1:] == (b"state 1", 0, 1, b"initial 1") and store.load(b)[3] == 1
    again = chantilly.ModelRows(store, a2, "a")
    assert again.log_since(2) == log[2:] + [(5, predict(5)), (6, body(a2, 6))]
    assert again.find_id('"k"') == ('{"x":{},"p":{"v":5}}', 5.0) and again.count_ids() == 1
    assert again.history() == [(1.0, 2, "{}")] and again.drifts() == [(2.0, 2)]
    assert store.setting("default") == "a"
    assert store.refusals_of("a") == 0  # refusals belong to a run, not to the file
    store.commit(again.append(7, body(a2, 7)))  # the next record follows on
    assert [s for s, _ in again.log_since(0)] == [3, 4, 5, 6, 7]


# ---------------------------------------------------------------------------------------
# (A) SQLite: inserts that fail for real
# ---------------------------------------------------------------------------------------


@pytest.mark.sqlite_file
def test_a_name_whose_inserts_fail_is_refused_alone_and_the_rest_of_its_batch_is_durable(backend, store):
    a, _ = install(store, "a")
    b, _ = install(store, "b")
    rows_a, rows_b = chantilly.ModelRows(store, a, "a"), chantilly.ModelRows(store, b, "b")
    log_a, log_b = fill(store, rows_a, 2), fill(store, rows_b, 2)
    with failing_inserts(store, "log", a):
        # A commit of one write (committed on its own) ...
        assert refuses(store, rows_a.append(3, body(a, 3)))
        assert store.refusals_of("a") == 1
        rows_a.rebuilt()
        # ... and a batch of both names, with stored ids, history and a setting.
        tickets_a = [rows_a.append(3, body(a, 3), ('"ka"', "{}", 1.0)), rows_a.add_history(1.0, 1, "{}")]
        tickets_b = [rows_b.append(3, body(b, 3), ('"kb"', "{}", 1.0)), rows_b.add_history(1.0, 1, "{}"),
                     rows_b.append(4, body(b, 4))]
        t_set = store.put_setting("default", "b")
        store.settle(t_set)
        assert [store.refused(t) for t in tickets_a] == [True, True]
        assert [store.refused(t) for t in tickets_b + [t_set]] == [False] * 4
        assert (store.refusals_of("a"), store.refusals_of("b")) == (2, 0)
        # b writes on; a's writes on the refused state are refused without reaching SQLite.
        store.commit(rows_b.append(5, body(b, 5)))
        assert refuses(store, rows_a.append(3, body(a, 3)))
    rows_a.rebuilt()
    store.commit(rows_a.append(3, body(a, 3)))  # the trigger is gone: a writes again
    store = backend.reopen()
    rows_a, rows_b = chantilly.ModelRows(store, a, "a"), chantilly.ModelRows(store, b, "b")
    assert rows_a.log_since(0) == log_a + [(3, body(a, 3))]
    assert rows_a.find_id('"ka"') is None and rows_a.history() == []
    assert rows_b.log_since(0) == log_b + [(s, body(b, s)) for s in (3, 4, 5)]
    assert rows_b.find_id('"kb"') == ("{}", 1.0) and rows_b.history() == [(1.0, 1, "{}")]
    assert store.setting("default") == "b"


@pytest.mark.sqlite_file
def test_a_write_of_another_name_queued_while_a_refused_batch_commits_stands(store):
    a, _ = install(store, "a")
    b, _ = install(store, "b")
    rows_a, rows_b = chantilly.ModelRows(store, a, "a"), chantilly.ModelRows(store, b, "b")
    log_b = fill(store, rows_b, 1)
    queued = []

    def b_writes():  # b's client, writing as a's commit runs (once: the batch is run twice)
        if not queued:
            queued.append(rows_b.append(2, body(b, 2)))

    with failing_inserts(store, "log", a, meanwhile=b_writes):
        t_a = rows_a.append(1, body(a, 1), ('"k"', "{}", 1.0))  # two statements: a batch of a's alone
        assert refuses(store, t_a)
        assert len(queued) == 1
        assert store.refusals_of("b") == 0 and not rows_b.behind(), "b was refused because a's writes were"
        assert not refuses(store, queued[0])
    assert rows_b.log_since(0) == log_b + [(2, body(b, 2))]
    assert rows_a.log_since(0) == [] and store.refusals_of("a") == 1


@pytest.mark.sqlite_file
def test_a_failing_catalog_write_refuses_every_name_of_its_batch(backend, store):
    a, _ = install(store, "a")
    b, _ = install(store, "b")
    rows_a, rows_b = chantilly.ModelRows(store, a, "a"), chantilly.ModelRows(store, b, "b")
    with failing_inserts(store, "meta"):
        tickets = [rows_a.append(1, body(a, 1)), rows_b.append(1, body(b, 1)), store.put_setting("k", "v")]
        store.settle(tickets[-1])
        assert [store.refused(t) for t in tickets] == [True] * 3
        assert (store.refusals_of("a"), store.refusals_of("b")) == (1, 1)
        assert rows_a.behind() and rows_b.behind()
    assert rows_a.log_since(0) == [] and rows_b.log_since(0) == [] and store.setting("k") is None
    store = backend.reopen()
    assert chantilly.ModelRows(store, a, "a").log_since(0) == [] and store.setting("k") is None
    assert roles(store) == [("a", 1, "serving"), ("b", 1, "serving")]


# ---------------------------------------------------------------------------------------
# (B1) Per-model refusal through the service
# ---------------------------------------------------------------------------------------


def learn_payload(x, y, name):
    return {"features": x, "ground_truth": y, "model": name}


@pytest.mark.sqlite_file
def test_a_refused_write_of_one_model_leaves_another_models_calls_and_state_untouched(tmp_path):
    rows = trump_approval(120)
    db = tmp_path / "c.db"
    sims = {name: Simulator(creme_regressor(), "regression") for name in "ab"}
    service = chantilly.Service.open(db)
    try:
        for name in "ab":
            service.upload(dill.dumps(creme_regressor()), name)

        def learn(name, x, y):
            """One learn through the service, acknowledged; the simulator follows it."""
            answer = service.learn({"features": x, "ground_truth": y}, name)
            assert answer["prediction"] == sims[name].learn(y, x)  # the same prediction, in order
            return answer

        for x, y in rows[:20]:
            learn("a", x, y)
            learn("b", x, y)
        b_dep, a_dep = service._deployments["b"], service._deployments["a"]
        b_model, a_model = b_dep.model.obj, a_dep.model.obj
        store = service.store
        a_id = a_dep.rows.id

        with failing_inserts(store, "log", a_id):
            # Alternately: every commit carries one call.
            for x, y in rows[20:30]:
                with pytest.raises(chantilly.Unavailable, match="refused"):
                    service.learn({"features": x, "ground_truth": y}, "a")
                learn("b", x, y)
            # In one batch, a's and b's calls in one commit: only a's are refused.
            batch = [learn_payload(x, y, name) for x, y in rows[30:40] for name in "ab"]
            results = service.batch("learn", batch)
            for payload, result in zip(batch, results):
                if payload["model"] == "a":
                    assert isinstance(result, chantilly.Unavailable), result
                else:
                    assert isinstance(result, dict), result
                    assert result["prediction"] == sims["b"].learn(payload["ground_truth"], payload["features"])
            # Concurrently: a client per model.
            outcomes = {"a": [], "b": []}

            def client(name, part):
                for x, y in part:
                    try:
                        outcomes[name].append((service.learn({"features": x, "ground_truth": y}, name), x, y))
                    except chantilly.Unavailable as e:
                        outcomes[name].append((e, x, y))

            threads = [threading.Thread(target=client, args=(name, rows[40:70])) for name in "ab"]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(TIMEOUT)
            assert not any(thread.is_alive() for thread in threads)
            assert len(outcomes["a"]) == len(outcomes["b"]) == 30  # every call answered, none raised otherwise
            assert all(isinstance(answer, chantilly.Unavailable) for answer, _, _ in outcomes["a"])
            for answer, x, y in outcomes["b"]:  # b's calls in the order its client made them
                assert isinstance(answer, dict), answer
                assert answer["prediction"] == sims["b"].learn(y, x)

            # b: the same object, never rebuilt, every acknowledged call in its state.
            assert service._deployments["b"] is b_dep and b_dep.model.obj is b_model
            assert b_dep.rows.basis == 0 and store.refusals_of("b") == 0 and not b_dep.rows.behind()
            assert service.metrics("b") == sims["b"].values()
            assert b_dep.describe()["learns"] == 20 + 10 + 10 + 30
            # a: rebuilt from the store (its state in memory had taken the refused calls).
            assert store.refusals_of("a") >= 3 and a_dep.rows.basis == store.refusals_of("a")
            assert service._deployments["a"] is a_dep and a_dep.model.obj is not a_model
            assert service.metrics("a") == sims["a"].values()

        for x, y in rows[70:80]:  # the trigger is gone: a learns again, from its acknowledged state
            learn("a", x, y)
            learn("b", x, y)
        for name in "ab":
            assert service.metrics(name) == sims[name].values()
            assert probe(dill.loads(service.download(name))) == probe(sims[name].model)
        assert service._deployments["b"].model.obj is b_model
        assert service.describe("a")["learns"] == 30 and service.describe("b")["learns"] == 80
    finally:
        service.close()
    service = chantilly.Service.open(db)  # through a restart: both as their replays
    try:
        for name in "ab":
            assert service.metrics(name) == sims[name].values()
            assert probe(dill.loads(service.download(name))) == probe(sims[name].model)
        for x, y in rows[80:90]:
            for name in "ab":
                assert service.learn({"features": x, "ground_truth": y}, name)["prediction"] == sims[name].learn(y, x)
        assert all(service.metrics(name) == sims[name].values() for name in "ab")
    finally:
        service.close()


@pytest.mark.sqlite_file
def test_a_refused_write_of_one_model_never_fails_another_models_call_in_the_same_batch(tmp_path):
    rows = trump_approval(20)
    db = tmp_path / "c.db"
    sims = {name: Simulator(creme_regressor(), "regression") for name in "ab"}
    service = chantilly.Service.open(db)
    try:
        for name in "ab":
            service.upload(dill.dumps(creme_regressor()), name)
        for x, y in rows[:5]:
            for name in "ab":
                service.learn({"features": x, "ground_truth": y}, name)
                sims[name].learn(y, x)
        service.predict({"features": rows[5][0], "id": "k"}, "b")
        sims["b"].predict(rows[5][0], "k")
    finally:
        service.close()
    service = chantilly.Service.open(db)  # b reads its stored id back from the store
    try:
        b_dep = service._deployments["b"]
        b_model = b_dep.model.obj
        with failing_inserts(service.store, "log", service._deployments["a"].rows.id):
            results = service.batch("learn", [learn_payload(rows[6][0], rows[6][1], "a"),
                                              {"id": "k", "ground_truth": rows[5][1], "model": "b"}])
            assert isinstance(results[0], chantilly.Unavailable), results[0]
            assert isinstance(results[1], dict), f"b's learn failed because a's write was refused: {results[1]!r}"
            assert results[1]["prediction"] == sims["b"].learn(rows[5][1], id="k")
            assert service._deployments["b"] is b_dep and b_dep.model.obj is b_model  # not rebuilt
            assert service.store.refusals_of("b") == 0
        for name in "ab":
            assert service.metrics(name) == sims[name].values()
    finally:
        service.close()


# ---------------------------------------------------------------------------------------
# (B2) A schema 2 file upgrades and replays exactly
# ---------------------------------------------------------------------------------------


FLAVORS = {"polls": "regression", "phish": "binary"}


def schema2_replays():
    """``{(name, version): Simulator}`` of every model schema2.db holds, having replayed the
    calls that wrote it (see testdata/make_schema2.py)."""
    sims, versions = {}, {}
    for step in schema2_calls():
        if step[0] == "upload":
            name = step[1]
            versions[name] = versions.get(name, 0) + 1
            sims[(name, versions[name])] = Simulator(step[2](), FLAVORS[name])
        elif step[0] != "snapshot":
            _, name, call = step
            sims[(name, versions[name])].run([call])
    return sims


def upgraded_copy(tmp_path):
    db = tmp_path / "c.db"
    shutil.copy(SCHEMA2_DB, db)
    return db


def start(db):
    """The server as a user starts it (``chantilly.py run``), stored ids kept for ever (the
    file's were stored on the day it was written)."""
    return ServerProcess(db, "--id-ttl", "1e10")


def check_serving(client, sims, serving, pending):
    """Every model serves the state of its simulator: ``serving`` is ``{name: version}``,
    ``pending`` ``{name: stored ids}``."""
    models = client.ok("GET", "/api/models")
    assert models["models"] == sorted(serving) and models["default"] == "phish"
    for name, version in serving.items():
        sim = sims[(name, version)]
        assert client.ok("GET", f"/api/metrics?model={name}") == sim.values(), name
        stats = client.ok("GET", f"/api/stats?model={name}")["model"]
        assert (stats["version"], stats["pending"]) == (version, pending[name]), (name, stats)
        status, response, data = client.request("GET", f"/api/model/{name}")
        assert status == 200, (status, data)
        assert probe(dill.loads(data), FLAVORS[name]) == probe(sim.model, FLAVORS[name]), name


def versions_of(client, name):
    return [(v["version"], v["role"], v["learns"]) for v in client.ok("GET", f"/api/model/{name}/versions")["versions"]]


def test_a_schema_2_file_upgrades_and_replays_exactly(tmp_path):
    db = upgraded_copy(tmp_path)
    sims = schema2_replays()
    polls, phish = trump_approval(70), phishing(60)
    serving, pending = {"polls": 2, "phish": 1}, {"polls": 5, "phish": 5}
    with start(db) as server, server.client() as client:
        check_serving(client, sims, serving, pending)
        assert versions_of(client, "polls") == [(1, "version", 10), (2, "serving", 35)]
        assert versions_of(client, "phish") == [(1, "serving", 35)]
        listed = client.ok("GET", "/api/model/polls/versions")["versions"][0]
        assert listed["metrics"] == sims[("polls", 1)].values()  # as it was when replaced

        # The ids still stored before the upgrade are learned; those learned before are gone.
        for i in range(5, 10):
            answer = client.ok("POST", "/api/learn", {"id": f"p{i}", "ground_truth": polls[30 + i][1],
                                                      "model": "polls"})
            assert answer["prediction"] == sims[("polls", 2)].learn(polls[30 + i][1], id=f"p{i}")
            client.ok("POST", "/api/learn", {"id": i, "ground_truth": phish[20 + i][1], "model": "phish"})
            sims[("phish", 1)].learn(phish[20 + i][1], id=i)
        assert_error(client.request("POST", "/api/learn", {"id": "p0", "ground_truth": 1.0, "model": "polls"}),
                     400, "No information stored")
        pending = {"polls": 0, "phish": 0}
        check_serving(client, sims, serving, pending)
        # Learns by features, and new ids stored after the upgraded ones, learned in turn.
        for i in range(10):
            for name, (x, y) in (("polls", polls[50 + i]), ("phish", phish[40 + i])):
                client.ok("POST", "/api/learn", {"features": x, "ground_truth": y, "model": name})
                sims[(name, serving[name])].learn(y, x)
        for i in range(3):
            for name, (x, y) in (("polls", polls[60 + i]), ("phish", phish[50 + i])):
                client.ok("POST", "/api/predict", {"features": x, "id": f"new{i}", "model": name})
                sims[(name, serving[name])].predict(x, f"new{i}")
        client.ok("POST", "/api/learn", {"id": "new0", "ground_truth": polls[60][1], "model": "polls"})
        sims[("polls", 2)].learn(polls[60][1], id="new0")
        pending = {"polls": 2, "phish": 3}
        check_serving(client, sims, serving, pending)

        # polls version 1 comes back from its snapshot and its 10 logged learns, and goes on.
        back = client.ok("POST", "/api/model/polls/rollback", {"version": 1})
        assert (back["version"], back["learns"]) == (1, 10)
        serving, pending = {"polls": 1, "phish": 1}, {"polls": 0, "phish": 3}
        check_serving(client, sims, serving, pending)
        for x, y in polls[63:68]:
            client.ok("POST", "/api/learn", {"features": x, "ground_truth": y, "model": "polls"})
            sims[("polls", 1)].learn(y, x)
        check_serving(client, sims, serving, pending)
        assert versions_of(client, "polls") == [(1, "serving", 15), (2, "version", 51)]
    # killed (-9): the next start replays the logs written since the upgrade
    with start(db) as server, server.client() as client:
        check_serving(client, sims, serving, pending)
        assert versions_of(client, "polls") == [(1, "serving", 15), (2, "version", 51)]
        assert client.ok("GET", "/api/model/polls/versions")["versions"][1]["metrics"] == sims[("polls", 2)].values()
        back = client.ok("POST", "/api/model/polls/rollback", {"version": 2})  # the upgraded log, then the new
        assert (back["version"], back["learns"]) == (2, 51)
        serving = {"polls": 2, "phish": 1}
        check_serving(client, sims, serving, {"polls": 0, "phish": 3})  # a retired model's ids are gone
        for i in range(3):
            client.ok("POST", "/api/learn", {"id": f"new{i}", "ground_truth": phish[50 + i][1], "model": "phish"})
            sims[("phish", 1)].learn(phish[50 + i][1], id=f"new{i}")
        check_serving(client, sims, serving, {"polls": 0, "phish": 0})


@pytest.mark.sqlite_file
def test_a_schema_2_file_becomes_schema_3_with_each_models_log_numbered_from_1(tmp_path):
    db = upgraded_copy(tmp_path)
    with contextlib.closing(sqlite3.connect(f"file:{SCHEMA2_DB}?immutable=1", uri=True)) as old:
        before = {m: [b for _, b in old.execute("SELECT seq, body FROM log WHERE model = ? AND seq > ? ORDER BY seq",
                                                (m, s))]
                  for m, s in old.execute("SELECT id, seq FROM models")}
        ids_before = old.execute("SELECT model, id, body, created FROM stored_ids ORDER BY seq").fetchall()
        models_before = old.execute("SELECT id, name, role, version, info, state, initial FROM models "
                                    "ORDER BY id").fetchall()
    assert {m: len(b) for m, b in before.items()} == {1: 10, 12: 25, 13: 25}
    store = chantilly.open_store(db)
    new_id, _ = install(store, "other")
    store.close()
    fresh = tmp_path / "fresh.db"
    chantilly.open_store(fresh).close()
    with contextlib.closing(sqlite3.connect(db)) as conn, contextlib.closing(sqlite3.connect(fresh)) as new:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == chantilly.SCHEMA_VERSION == 3
        assert conn.execute("PRAGMA application_id").fetchone()[0] == chantilly.APPLICATION_ID
        schema = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name != 'sqlite_sequence' ORDER BY name"
        assert conn.execute(schema).fetchall() == new.execute(schema).fetchall()  # as a new file's
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT id, name, role, version, info, state, initial FROM models WHERE id != ? "
                            "ORDER BY id", (new_id,)).fetchall() == models_before
        assert new_id > max(m[0] for m in models_before)  # ids go on from the old ones
        for model, bodies in before.items():
            seq = conn.execute("SELECT seq FROM models WHERE id = ?", (model,)).fetchone()[0]
            log = conn.execute("SELECT seq, body FROM log WHERE model = ? ORDER BY seq", (model,)).fetchall()
            assert seq == 0 and log == list(enumerate(bodies, start=1))  # 1..n, no gap, same records
        assert conn.execute("SELECT model, id, body, created FROM stored_ids ORDER BY seq").fetchall() == ids_before
        assert conn.execute("SELECT MAX(seq) FROM stored_ids").fetchone()[0] < 1  # before any new one


# ---------------------------------------------------------------------------------------
# (C) A log with a missing record
# ---------------------------------------------------------------------------------------


def log_of(db, model_id):
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT seq, body FROM log WHERE model = ? ORDER BY seq", (model_id,)).fetchall()


def delete_record(db, model_id, seq):
    """Delete one log record of a closed file; returns the log left."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("DELETE FROM log WHERE model = ? AND seq = ?", (model_id, seq)).rowcount == 1
        conn.commit()
    return log_of(db, model_id)


@pytest.mark.sqlite_file
def test_a_serving_model_whose_log_misses_a_record_refuses_the_start_and_says_how_to_fix_it(tmp_path):
    db, crashed = tmp_path / "c.db", tmp_path / "crashed"
    rows = trump_approval(10)
    sim = Simulator(creme_regressor(), "regression")
    service = chantilly.Service.open(db)
    try:
        for name in ("gap", "whole"):
            service.upload(dill.dumps(creme_regressor()), name)
        for x, y in rows:
            service.learn({"features": x, "ground_truth": y}, "gap")
            service.learn({"features": x, "ground_truth": y}, "whole")
            sim.learn(y, x)
        gap_id = service._deployments["gap"].rows.id
        # The files as a kill -9 leaves them: the log since the upload, no snapshot.
        crashed.mkdir()
        for suffix in ("", "-wal"):
            shutil.copy(f"{db}{suffix}", crashed / f"c.db{suffix}")
    finally:
        service.close()
    damaged = crashed / "c.db"
    assert [seq for seq, _ in log_of(damaged, gap_id)] == list(range(1, 11))
    left = delete_record(damaged, gap_id, 4)
    with pytest.raises(chantilly.StoreError) as refused:
        chantilly.Service.open(damaged)
    for fragment in ("'gap'", "log record 4", "missing", "refusing to start", f"delete-model gap --db {damaged}"):
        assert fragment in str(refused.value), (fragment, str(refused.value))
    started = harness.run_cli("run", "--port", "0", "--db", damaged, timeout=harness.START_TIMEOUT)
    assert started.returncode == 2 and "log record 4" in started.stderr, (started.returncode, started.stderr)
    assert "chantilly serving" not in started.stdout
    assert log_of(damaged, gap_id) == left  # refused, not repaired by a guess
    removed = harness.run_cli("delete-model", "gap", "--db", damaged, timeout=harness.START_TIMEOUT)
    assert removed.returncode == 0, removed.stderr
    with ServerThread(damaged) as server, server.client() as client:  # what the message says works
        assert client.ok("GET", "/api/models")["models"] == ["whole"]
        assert client.ok("GET", "/api/metrics?model=whole") == sim.values()


@pytest.mark.sqlite_file
def test_a_past_version_whose_log_misses_a_record_is_refused_never_served_wrong(tmp_path):
    db = tmp_path / "c.db"
    rows = trump_approval(10)
    v2 = Simulator(creme_regressor(), "regression")
    service = chantilly.Service.open(db)
    try:
        service.upload(dill.dumps(creme_regressor()), "polls")
        for x, y in rows[:5]:
            service.learn({"features": x, "ground_truth": y}, "polls")
        v1_id = service._deployments["polls"].rows.id
        service.upload(dill.dumps(creme_regressor()), "polls")  # version 1 is kept with its log
        for x, y in rows[5:]:
            service.learn({"features": x, "ground_truth": y}, "polls")
            v2.learn(y, x)
    finally:
        service.close()
    left = delete_record(db, v1_id, 2)
    with ServerThread(db) as server, server.client() as client:
        listing = client.ok("GET", "/api/model/polls/versions")
        assert_error(client.request("POST", "/api/model/polls/rollback", {"version": 1}), 422, "log record 2")
        assert client.ok("GET", "/api/model/polls/versions") == listing  # nothing changed
        assert client.ok("GET", "/api/metrics?model=polls") == v2.values()
        status, _, data = result = client.request("GET", "/api/model/polls?version=1")
        assert status != 500, data
        assert_error(result, fragment="log record 2")
    assert log_of(db, v1_id) == left
