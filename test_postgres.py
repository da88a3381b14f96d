"""chantilly on PostgreSQL (``--db postgresql://...``): a real cluster started for the session
(conftest.postgres: initdb and pg_ctl in a temporary folder), a database of each test's own,
the real server over HTTP, kill -9 and a restart, compared with an in-process replay.

The store's operations are held to the same contract as SQLite's in test_store.py; these
tests are about the server a user starts with a PostgreSQL URL.
"""

import itertools
import time
import json
import os
import signal
import threading
from contextlib import ExitStack, closing

import dill
import pytest

import chantilly
from harness import (ROOT, TIMEOUT, ServerProcess, Simulator, creme_regressor, free_port, river_regressor,
                     run_python, trump_approval, wait_until)

pytestmark = pytest.mark.postgres


def test_the_server_on_postgresql_survives_kill_9_and_replays_exactly(pg_dsn, tmp_path):
    rows = trump_approval(60)
    first = ServerProcess(pg_dsn, "--lease", "2", "--lease-renew", "0.5")
    try:
        with first.client() as client:
            client.upload(creme_regressor())
            for x, y in rows[:40]:
                client.ok("POST", "/api/learn", {"features": x, "ground_truth": y})
            for i, (x, _) in enumerate(rows[40:50]):
                client.ok("POST", "/api/predict", {"features": x, "id": i})
            init = client.ok("GET", "/api/init")
    finally:
        first.kill()  # no snapshot at exit: the restart replays the log
    assert init["storage"] == "postgresql"
    sim = Simulator(creme_regressor(), "regression")
    for x, y in rows[:40]:
        sim.learn(y, x)
    for i, (x, _) in enumerate(rows[40:50]):
        sim.predict(x, i)
    second = ServerProcess(pg_dsn)
    try:
        with second.client() as client:
            assert client.ok("GET", "/api/metrics") == sim.values()  # its copy, read from the log
            # Changes wait for the dead node's lease to expire (2 s), then this node owns it.
            assert wait_until(lambda: client.request("POST", "/api/learn", {"id": 0, "ground_truth": rows[40][1]})[0] == 201)
            sim.learn(rows[40][1], id=0)
            for i, (_, y) in enumerate(rows[41:50], start=1):  # the ids stored before the crash
                client.ok("POST", "/api/learn", {"id": i, "ground_truth": y})
                sim.learn(y, id=i)
            assert client.ok("GET", "/api/metrics") == sim.values()
            assert client.ok("GET", "/api/models")["models"] == ["default"]
    finally:
        second.close()


def test_a_password_in_the_url_never_reaches_a_message(postgres):
    secret = postgres.replace("postgres@", "postgres:hunter2@").replace("/postgres", "/no_such_database")
    with pytest.raises(chantilly.StoreError) as refused:
        chantilly.open_store(secret)
    assert "hunter2" not in str(refused.value) and "***" in str(refused.value)
    assert "no_such_database" in str(refused.value)


def test_without_psycopg_a_postgresql_url_says_what_to_install(tmp_path, pg_dsn):
    # psycopg hidden the way a Python without it behaves: importing it fails.
    code = ("import sys; sys.modules['psycopg'] = None; import chantilly\n"
            f"try:\n    chantilly.open_store({pg_dsn!r})\n"
            "except chantilly.StoreError as e:\n    print(e)\n")
    done = run_python("-c", code, cwd=ROOT)
    assert 'pip install "psycopg[binary]"' in done.stdout, done.stdout + done.stderr


def test_chantilly_on_sqlite_imports_nothing_beyond_the_standard_library(tmp_path):
    code = ("import sys; before = set(sys.modules); import chantilly\n"
            f"service = chantilly.Service.open({str(tmp_path / 'c.db')!r}); service.close()\n"
            "extra = {m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)\n"
            "print(sorted(extra - {'chantilly'}))\n")
    done = run_python("-c", code, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().replace("'", '"')) == []


def test_upload_rollback_and_delete_on_postgresql_keep_the_catalog_exact(pg_dsn):
    service = chantilly.Service.open(pg_dsn, keep_versions=1)
    try:
        rows = trump_approval(20)
        for version in (1, 2, 3):
            service.upload(dill.dumps(creme_regressor()), "polls")
            for x, y in rows[:5 * version]:
                service.learn({"features": x, "ground_truth": y}, "polls")
        listed = [(v["version"], v["role"], v["learns"]) for v in service.versions("polls")["versions"]]
        assert listed == [(2, "version", 10), (3, "serving", 15)]  # version 1 pruned: keep 1
        service.rollback("polls", 2)
        assert service.describe("polls")["learns"] == 10
        service.delete("polls")
        assert service.models() == {"default": None, "models": [], "descriptions": {}}
    finally:
        service.close()
    reopened = chantilly.Service.open(pg_dsn)
    try:
        assert reopened.model_names() == [] and reopened.store.catalog() == []
    finally:
        reopened.close()


# ---------------------------------------------------------------------------------------
# A cluster: several nodes on one database
# ---------------------------------------------------------------------------------------

#: Short leases, so that a takeover after kill -9 takes about 3 s.
FAST = ("--lease", "3", "--lease-renew", "0.5")


def start_nodes(stack, dsn, count=3, *args):
    """``count`` nodes on ``dsn``, each stopped when ``stack`` closes; their clients."""
    nodes = [stack.enter_context(closing(ServerProcess(dsn, *FAST, *args))) for _ in range(count)]
    return nodes, [stack.enter_context(node.client()) for node in nodes]


def settle(clients, model, expected, timeout=TIMEOUT):
    """Wait until every node answers ``expected`` metrics for ``model`` (followers replay the
    owner's log within a tenth of a second or so); assert they do."""
    def everywhere():
        return all(c.request("GET", f"/api/metrics?model={model}")[2] == expected for c in clients)
    assert wait_until(everywhere, timeout), [c.request("GET", f"/api/metrics?model={model}")[2] for c in clients]


def owner_of(client, model):
    return client.ok("GET", "/api/cluster")["models"][model]["owner"]


def owners_metrics(nodes, clients, model):
    """The metrics of ``model`` as its owner has them (a follower's copy may lag a little)."""
    url = owner_of(clients[0], model)
    return next(c for n, c in zip(nodes, clients) if n.url == url).ok("GET", f"/api/metrics?model={model}")


def test_three_nodes_serve_every_model_alike_and_equal_a_replay(pg_dsn):
    """Three models (creme, river, river's KMeans, which replays alike only under the
    cluster's hash seed), each fed by a thread of its own through all three nodes at once:
    every node's copy equals the owner's and an in-process replay."""
    from river import cluster
    from test_models import replay_with_hash_seed
    rows = trump_approval(40)
    points = [{"a": x["gallup"] / 50, "b": x["ipsos"] / 50} for x, _ in rows]
    with ExitStack() as stack:
        nodes, clients = start_nodes(stack, pg_dsn)
        clients[0].upload(creme_regressor(), query="")  # the model named "default"
        clients[1].ok("POST", "/api/model/rivr?default=false", dill.dumps(river_regressor()), status=201)
        clients[2].ok("POST", "/api/model/km?default=false", dill.dumps(cluster.KMeans(n_clusters=3, seed=9)),
                      status=201)
        creme, river = Simulator(creme_regressor(), "regression"), Simulator(river_regressor(), "regression")
        mine = [[n.client() for n in nodes] for _ in range(3)]  # a connection per thread and node
        errors = []

        def feed(calls, connections):
            try:
                for i, (path, body) in enumerate(calls):
                    connections[i % 3].ok("POST", path, body)
            except AssertionError as e:
                errors.append(e)

        creme_calls = []
        for i, (x, y) in enumerate(rows[:30]):
            creme_calls.append(("/api/learn", {"features": x, "ground_truth": y}))
            creme.learn(y, x)
        for i, (x, y) in enumerate(rows[30:]):  # stored through one node, learned through another
            creme_calls += [("/api/predict", {"features": x, "id": i}), ("/api/learn", {"id": i, "ground_truth": y})]
            creme.predict(x, i)
            creme.learn(y, id=i)
        river_calls = [("/api/learn", {"model": "rivr", "features": x, "ground_truth": y}) for x, y in rows[:31]]
        for x, y in rows[:31]:
            river.learn(y, x)
        km_calls = [("/api/learn", {"model": "km", "features": p}) for p in points[:32]]
        threads = [threading.Thread(target=feed, args=(calls, connections))
                   for calls, connections in zip((creme_calls, river_calls, km_calls), mine)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(6 * TIMEOUT)
        for per_thread in mine:
            for client in per_thread:
                client.close()
        assert not errors and not any(t.is_alive() for t in threads), errors
        settle(clients, "default", creme.values())
        settle(clients, "rivr", river.values())
        with closing(psycopg_connect(pg_dsn)) as conn:
            seed = conn.execute("SELECT value FROM chantilly.meta WHERE key = 'hashseed'").fetchone()[0]
        km = replay_with_hash_seed(seed, [{"x": p} for p in points[:32]], [])
        settle(clients, "km", km["values"])
        # river's predictions change nothing: each node answers them from its own copy.
        x = rows[0][0]
        assert {c.ok("POST", "/api/predict", {"model": "rivr", "features": x})["prediction"]
                for c in clients} == {river.predict(x)}
        cluster_view = clients[2].ok("GET", "/api/cluster")
        assert sorted(cluster_view["nodes"]) == sorted(n.url for n in nodes)
        owners = {name: m["owner"] for name, m in cluster_view["models"].items()}
        assert set(owners) == {"default", "rivr", "km"} and set(owners.values()) == {n.url for n in nodes}
        assert wait_until(lambda: all(  # spread: a model each; every follower in step
            set(m["followers"]) == {n.url for n in nodes} - {m["owner"]} and
            all(lag == {"calls": 0, "seconds": 0.0} for lag in m["followers"].values())
            for m in clients[0].ok("GET", "/api/cluster")["models"].values()))


def test_catalog_changes_made_through_any_node_reach_every_node(pg_dsn):
    with ExitStack() as stack:
        nodes, clients = start_nodes(stack, pg_dsn)
        for version in (1, 2):  # two versions of "polls", uploaded through two nodes
            clients[version].ok("POST", "/api/model/polls", dill.dumps(creme_regressor()), status=201)
        clients[0].ok("POST", "/api/model/other", dill.dumps(river_regressor()), status=201)
        listing = {"default": "other", "models": ["other", "polls"]}
        assert wait_until(lambda: all({k: c.ok("GET", "/api/models")[k] for k in listing} == listing
                                      for c in clients))
        x, y = trump_approval(1)[0]
        clients[2].ok("POST", "/api/learn", {"model": "polls", "features": x, "ground_truth": y})
        clients[1].ok("POST", "/api/model/polls/rollback", {"version": 1})  # forwarded to the owner
        assert wait_until(lambda: all([v["role"] for v in c.ok("GET", "/api/model/polls/versions")["versions"]]
                                      == ["serving", "version"] for c in clients))
        clients[2].ok("POST", "/api/models/default", {"name": "polls"})
        clients[0].ok("DELETE", "/api/model/other")
        assert wait_until(lambda: all(c.ok("GET", "/api/models")["models"] == ["polls"] and
                                      c.ok("GET", "/api/models")["default"] == "polls" for c in clients))


def learn_through(client, rows, acked, failed, model="polls"):
    """Learn ``rows`` one at a time through ``client``, retrying refused calls (503, or a
    connection the node lost): ``acked`` gets each index answered 201, ``failed`` each index
    whose call got no answer or an error first (it may or may not have been applied)."""
    for i, (x, y) in enumerate(rows):
        while True:
            try:
                status, _, _ = client.request("POST", "/api/learn", {"model": model, "features": x, "ground_truth": y})
            except OSError:
                status = None
                client.close()
            if status == 201:
                acked.append(i)
                break
            failed.append(i)
            assert status in (None, 502, 503, 504), status  # 504: an answer lost on the way (may be applied)


def matches_a_replay(values, rows, failed):
    """Whether ``values`` are the metrics of a replay of every row, each row in ``failed``
    applied once more or not (a call whose answer was lost may have been applied, and was
    sent again): nothing acknowledged is missing, nothing beyond what was sent is there."""
    doubtful = sorted(set(failed))
    for extra in itertools.product((0, 1), repeat=len(doubtful)):
        sim = Simulator(creme_regressor(), "regression")
        twice = {i for i, e in zip(doubtful, extra) if e}
        for i, (x, y) in enumerate(rows):
            for _ in range(1 + (i in twice)):
                sim.learn(y, x)
        if sim.values() == values:
            return True
    return False


@pytest.mark.slow
def test_kill_9_of_an_owner_under_load_loses_nothing_acknowledged(pg_dsn):
    rows = trump_approval(120)
    for trial in range(2):
        model = f"polls{trial}"  # one database, a model per trial
        with ExitStack() as stack:
            nodes, clients = start_nodes(stack, pg_dsn)
            clients[0].ok("POST", f"/api/model/{model}", dill.dumps(creme_regressor()), status=201)
            owner = next(n for n in nodes if n.url == owner_of(clients[0], model))
            others = [c for n, c in zip(nodes, clients) if n is not owner]
            acked, failed = [], []
            worker = threading.Thread(target=learn_through, args=(others[0], rows, acked, failed, model))
            worker.start()
            assert wait_until(lambda: len(acked) >= 20 + 20 * trial)
            owner.kill()  # mid-traffic: its lease expires in 3 s, another node takes over
            worker.join(6 * TIMEOUT)
            assert not worker.is_alive() and len(acked) == len(rows)
            assert owner_of(others[1], model) != owner.url
            alive = [n for n in nodes if n is not owner]
            values = owners_metrics(alive, others, model)
            assert matches_a_replay(values, rows, failed), (failed, values)
            settle(others, model, values)


@pytest.mark.slow
def test_a_paused_owner_never_writes_after_its_models_were_taken_over(pg_dsn):
    rows = trump_approval(60)
    with ExitStack() as stack:
        nodes, clients = start_nodes(stack, pg_dsn, 2)
        clients[0].ok("POST", "/api/model/polls", dill.dumps(creme_regressor()), status=201)
        owner = next(n for n in nodes if n.url == owner_of(clients[0], "polls"))
        old, new = (clients[0], clients[1]) if owner is nodes[0] else (clients[1], clients[0])
        acked, failed = [], []
        learn_through(old, rows[:20], acked, failed)
        os.kill(owner.pid, signal.SIGSTOP)  # paused, holding its lease, idle
        try:
            learn_through(new, rows[20:40], acked, failed)  # waits for the takeover (3 s)
        finally:
            os.kill(owner.pid, signal.SIGCONT)
        # Resumed, it believes for a moment that it still owns the model: what it is sent now
        # is forwarded to the new owner, or refused; never written by itself.
        learn_through(old, rows[40:], acked, failed)
        assert owner_of(new, "polls") != owner.url
        values = new.ok("GET", "/api/metrics?model=polls")  # the owner's
        assert len(acked) == len(rows) and matches_a_replay(values, rows, failed), (failed, values)
        settle([old, new], "polls", values)


def test_a_node_fenced_out_of_one_model_still_commits_the_others_in_the_same_batch(pg_dsn):
    first, second = chantilly.open_store(pg_dsn), chantilly.open_store(pg_dsn)
    try:
        first.join("first", "http://first", ttl=30.0)
        second.join("second", "http://second", ttl=30.0)
        ids = {}
        for name in ("a", "b"):
            assert first.take(name, "http://first")
            ids[name] = first.install(name, "serving", {"flavor": "regression"}, b"s", b"i")[0]
        first.commit(first.put_setting("flavor", "regression"))
        rows = {name: chantilly.ModelRows(first, ids[name], name) for name in ids}
        rows["a"].append(1, '{"x":{}}')
        first.commit(rows["b"].append(1, '{"x":{}}'))
        # "a" is taken from under the first node (its lease forced to expire, as after a pause).
        with closing(psycopg_connect(pg_dsn)) as conn:
            conn.execute("UPDATE chantilly.lease_expiry SET expires = 0 WHERE name = 'a'")
        assert second.take("a", "http://second")
        ticket_a = rows["a"].append(2, '{"x":{}}')
        ticket_b = rows["b"].append(2, '{"x":{}}')
        first.settle(max(ticket_a, ticket_b))  # one batch: a's writes and b's together
        assert first.refused(ticket_a) and not first.refused(ticket_b)
        assert first.refusals_of("b") == 0 and first.refusals_of("a") >= 1
        assert [seq for seq, _ in second.log_since(ids["a"], 0)] == [1]  # committed before the takeover only
        assert [seq for seq, _ in second.log_since(ids["b"], 0)] == [1, 2]
    finally:
        first.close()
        second.close()


def psycopg_connect(dsn):
    import psycopg
    return psycopg.connect(dsn, autocommit=True, connect_timeout=10)


def haproxy_config(port, nodes):
    """examples/cluster/haproxy.cfg, as a user adapts it: its frontend on ``port``, its three
    servers the ``nodes``."""
    config = (ROOT / "examples" / "cluster" / "haproxy.cfg").read_text()
    config = config.replace("bind *:8080", f"bind 127.0.0.1:{port}")
    for i, node in enumerate(nodes, start=1):
        config = config.replace(f"node{i}.internal:5000", f"{node.host}:{node.port}")
    return config


@pytest.mark.slow
def test_behind_haproxy_a_client_loses_nothing_when_a_node_dies(pg_dsn, start_haproxy):
    rows = trump_approval(100)
    with ExitStack() as stack:
        nodes, clients = start_nodes(stack, pg_dsn, 3, "--allowed-hosts", "127.0.0.1")
        port = free_port()
        proxy = start_haproxy(haproxy_config(port, nodes))
        balanced = stack.enter_context(closing(harness_client(port)))
        balanced.ok("POST", "/api/model/polls", dill.dumps(creme_regressor()), status=201)
        acked, failed = [], []
        worker = threading.Thread(target=learn_through, args=(balanced, rows, acked, failed))
        worker.start()
        assert wait_until(lambda: len(acked) >= 30)
        victim = next(n for n in nodes if n.url == owner_of(clients[0], "polls"))
        victim.kill()  # the owner: every node's calls wait for the takeover
        worker.join(6 * TIMEOUT)
        assert not worker.is_alive() and len(acked) == len(rows), proxy.output()
        alive = [(n, c) for n, c in zip(nodes, clients) if n is not victim]
        values = owners_metrics([n for n, _ in alive], [c for _, c in alive], "polls")
        assert matches_a_replay(values, rows, failed), (failed, values)


def harness_client(port):
    from harness import Client
    return Client(port)


def test_a_node_stopped_with_sigterm_hands_its_models_over_at_once(pg_dsn):
    with ExitStack() as stack:
        # Leases of 30 s: a takeover that waited for one to expire would fail this test.
        nodes = [stack.enter_context(closing(ServerProcess(pg_dsn, "--lease", "30", "--lease-renew", "0.5")))
                 for _ in range(2)]
        clients = [stack.enter_context(n.client()) for n in nodes]
        clients[0].ok("POST", "/api/model/polls", dill.dumps(creme_regressor()), status=201)
        owner = next(n for n in nodes if n.url == owner_of(clients[0], "polls"))
        other = clients[1] if owner is nodes[0] else clients[0]
        x, y = trump_approval(1)[0]
        assert owner.terminate() == 0
        started = time.monotonic()
        assert wait_until(lambda: other.request("POST", "/api/learn", {"model": "polls", "features": x,
                                                                       "ground_truth": y})[0] == 201)
        assert time.monotonic() - started < 10  # not the 30 s of a lease
        sim = Simulator(creme_regressor(), "regression")
        sim.learn(y, x)
        assert other.ok("GET", "/api/metrics?model=polls") == sim.values()


@pytest.mark.slow
def test_a_follower_that_fell_behind_a_snapshot_reloads_from_it(pg_dsn):
    rows = trump_approval(200)
    with ExitStack() as stack:
        nodes, clients = start_nodes(stack, pg_dsn, 2)
        clients[0].ok("POST", "/api/model/polls", dill.dumps(creme_regressor()), status=201)
        owner_url = owner_of(clients[0], "polls")
        (follower,) = [n for n in nodes if n.url != owner_url]
        owner_client = clients[0] if nodes[0].url == owner_url else clients[1]
        follower_client = clients[1] if owner_client is clients[0] else clients[0]
        os.kill(follower.pid, signal.SIGSTOP)  # it reads nothing while the owner snapshots
        try:
            learns = [{"op": "learn", "model": "polls", "features": x, "ground_truth": y}
                      for x, y in rows * (chantilly.SNAPSHOT_EVERY // len(rows) + 1)]
            body = "".join(json.dumps(op) + "\n" for op in learns).encode()
            status, _, data = owner_client.request("POST", "/api/stream", body)
            assert status == 200 and data.count(b"\n") == len(learns)
        finally:
            os.kill(follower.pid, signal.SIGCONT)
        sim = Simulator(creme_regressor(), "regression")
        for op in learns:
            sim.learn(op["ground_truth"], op["features"])
        settle([owner_client, follower_client], "polls", sim.values(), timeout=3 * TIMEOUT)


def test_a_node_with_other_library_versions_refuses_to_join(pg_dsn):
    with closing(ServerProcess(pg_dsn, *FAST)) as first:
        with first.client() as client:
            client.ok("POST", "/api/model/polls", dill.dumps(creme_regressor()), status=201)
    with closing(psycopg_connect(pg_dsn)) as conn:  # as if the cluster ran another river
        conn.execute("UPDATE chantilly.meta SET value = replace(value, 'river ', 'river 0.0.0-') "
                     "WHERE key = 'versions'")
    done = run_python(str(ROOT / "chantilly.py"), "run", "--port", "0", "--db", pg_dsn)
    assert done.returncode == 2 and "river 0.0.0-" in done.stderr and "install those" in done.stderr, done.stderr


def test_a_commit_that_logs_calls_wakes_the_nodes_that_follow_them(pg_dsn):
    owner, follower = chantilly.open_store(pg_dsn), chantilly.open_store(pg_dsn)
    try:
        owner.join("owner", "http://owner", ttl=30.0)
        follower.join("follower", "http://follower", ttl=30.0)
        assert follower.wait_for_log(0) == set()  # listening from now on
        assert owner.take("a", "http://owner")
        model_id = owner.install("a", "serving", {"flavor": "regression"}, b"s", b"i")[0]
        owner.commit(owner.put_setting("flavor", "regression"))
        assert follower.wait_for_log(0.2) == set()  # a commit that logged no call is not announced
        rows = chantilly.ModelRows(owner, model_id, "a")
        rows.append(1, '{"x":{}}')
        owner.commit(rows.append(2, '{"x":{}}'))
        assert follower.wait_for_log(TIMEOUT) == {"a"}  # one notification for the commit
        assert [seq for seq, _ in follower.log_since(model_id, 0)] == [1, 2]
    finally:
        owner.close()
        follower.close()
