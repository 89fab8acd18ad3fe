"""
A journal file as the release at c5ab9a6 wrote it (schema 0: each body in its
job's row, no auto_vacuum), to test that the current journal upgrades it.

The schema and the statements are copied from that release's
hookdaemon/journal.py, not imported, so they stay as released.
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hook TEXT NOT NULL,
    delivery_id TEXT,
    forge TEXT NOT NULL,
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    branch TEXT NOT NULL,
    tag TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    repository TEXT NOT NULL,
    clone_url TEXT NOT NULL,
    pusher TEXT NOT NULL,
    commits INTEGER NOT NULL,
    payload BLOB NOT NULL,
    state TEXT NOT NULL,
    exit_code INTEGER,
    signal TEXT,
    queued_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    covered_by INTEGER REFERENCES jobs(id),
    retry_of INTEGER REFERENCES jobs(id),
    output_tail BLOB NOT NULL DEFAULT x'',
    process_group INTEGER
);
-- A forge's delivery id is accepted once per hook; a retry after a crash
-- carries the same id and must not count as a second acceptance.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_delivery
    ON jobs (hook, delivery_id) WHERE delivery_id IS NOT NULL AND retry_of IS NULL;
CREATE INDEX IF NOT EXISTS jobs_hook ON jobs (hook, id);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE INDEX IF NOT EXISTS jobs_covered_by ON jobs (covered_by);
-- Pruning spares the jobs retries name; few jobs are retries.
CREATE INDEX IF NOT EXISTS jobs_retry_of ON jobs (retry_of) WHERE retry_of IS NOT NULL;
"""


def open_old(path: str) -> sqlite3.Connection:
    """Open (or make) a schema-0 journal the way that release's Journal did."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(SCHEMA)
    return db


def add_old(
    db: sqlite3.Connection,
    payload: bytes,
    *,
    hook: str = "site",
    delivery_id: str | None = None,
    after: str = "a" * 40,
    state: str = "queued",
    covered_by: int | None = None,
    retry_of: int | None = None,
    output_tail: bytes = b"",
) -> int:
    """One job row as that release wrote it: a push to main, with its body."""
    cursor = db.execute(
        "INSERT INTO jobs (hook, delivery_id, forge, event, kind, ref, branch, tag, before,"
        " after, repository, clone_url, pusher, commits, payload, state, queued_at,"
        " started_at, finished_at, covered_by, retry_of, output_tail, exit_code)"
        " VALUES (?, ?, 'github', 'push', 'push', 'refs/heads/main', 'main', '', ?, ?,"
        " 'example/site', '', 'octocat', 1, ?, ?, 100.0, ?, ?, ?, ?, ?, ?)",
        (
            hook,
            delivery_id,
            "0" * 40,
            after,
            payload,
            state,
            None if state in ("queued", "superseded") else 101.0,
            None if state in ("queued", "running") else 102.0,
            covered_by,
            retry_of,
            output_tail,
            0 if state == "succeeded" else None,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid
