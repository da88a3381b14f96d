"""Writes ``testdata/schema2.db``: a database as chantilly's schema 2 (commit 98ca102, the last
main before per-model log seqs) left it after a crash, for the upgrade test
(test_store.py::test_a_schema_2_file_upgrades_and_replays_exactly).

It must run against that revision's chantilly.py, not the current one::

    git show 98ca102:chantilly.py > /tmp/old/chantilly.py
    PYTHONPATH=/tmp/old:. .venv/bin/python testdata/make_schema2.py

The calls it makes are ``harness.schema2_calls()``, which the test replays in-process.
"""

import pathlib
import shutil
import sqlite3
import sys
import tempfile

import dill

import chantilly
import harness

OUT = pathlib.Path(__file__).with_name("schema2.db")


def main():
    assert chantilly.SCHEMA_VERSION == 2, "run against chantilly 98ca102 (see the docstring)"
    with tempfile.TemporaryDirectory() as tmp:
        db = pathlib.Path(tmp, "c.db")
        service = chantilly.Service.open(db)
        for step in harness.schema2_calls():
            if step[0] == "upload":
                service.upload(dill.dumps(step[2]()), step[1])
            elif step[0] == "snapshot":
                service.close()  # snapshots every model: what follows is replayed from the log
                service = chantilly.Service.open(db)
            else:
                kind, name, call = step
                payload = {"features": call[1]} if kind == "predict" else {"ground_truth": call[2]}
                if kind == "learn" and call[1] is not None:
                    payload["features"] = call[1]
                if call[-1] is not None:
                    payload["id"] = call[-1]
                getattr(service, kind)(payload, name)
        # What a kill -9 leaves: the file and its write-ahead log as they are now.
        crashed = pathlib.Path(tmp, "crashed")
        crashed.mkdir()
        for suffix in ("", "-wal"):
            shutil.copy(f"{db}{suffix}", crashed / f"c.db{suffix}")
        service.close()
        conn = sqlite3.connect(crashed / "c.db")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
        shutil.copy(crashed / "c.db", OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
