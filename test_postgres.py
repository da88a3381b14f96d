"""chantilly on PostgreSQL (``--db postgresql://...``): a real cluster started for the session
(conftest.postgres: initdb and pg_ctl in a temporary folder), a database of each test's own,
the real server over HTTP, kill -9 and a restart, compared with an in-process replay.

The store's operations are held to the same contract as SQLite's in test_store.py; these
tests are about the server a user starts with a PostgreSQL URL.
"""

import json
import subprocess
import sys

import dill
import pytest

import chantilly
from harness import ROOT, TIMEOUT, ServerProcess, Simulator, creme_regressor, run_python, trump_approval

pytestmark = pytest.mark.postgres


def test_the_server_on_postgresql_survives_kill_9_and_replays_exactly(pg_dsn, tmp_path):
    rows = trump_approval(60)
    first = ServerProcess(pg_dsn)
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
            assert client.ok("GET", "/api/metrics") == sim.values()
            for i, (_, y) in enumerate(rows[40:50]):  # the ids stored before the crash
                client.ok("POST", "/api/learn", {"id": i, "ground_truth": y})
                sim.learn(y, id=i)
            assert client.ok("GET", "/api/metrics") == sim.values()
            assert client.ok("GET", "/api/models")["models"] == ["default"]
    finally:
        second.close()


def test_a_second_server_on_the_same_postgresql_database_is_refused(pg_dsn):
    first = ServerProcess(pg_dsn)
    try:
        second = subprocess.run([sys.executable, str(ROOT / "chantilly.py"), "run", "--port", "0", "--db", pg_dsn],
                                capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)
        assert second.returncode == 2, second.stderr
        assert "in use by another chantilly server" in second.stderr
        with first.client() as client:  # the first serves on, untouched
            client.upload(creme_regressor())
    finally:
        first.close()


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
