"""
A journal file as the release at 60858ad wrote it (schema 1: bodies in a table
of their own, delivery ids only in the jobs' rows, no attempt count), to test
that the current journal upgrades it.

The schema is copied from that release's hookdaemon/journal.py, not imported,
so it stays as released.
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
    state TEXT NOT NULL,
    exit_code INTEGER,
    signal TEXT,
    queued_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    covered_by INTEGER REFERENCES jobs(id),
    retry_of INTEGER REFERENCES jobs(id),
    output_tail BLOB NOT NULL DEFAULT x'',
    process_group INTEGER,
    payload_size INTEGER,   -- the bytes of the body in payloads, NULL if none is kept
    payload_dropped TEXT    -- why none is kept: superseded or payload_budget
);
-- Bodies apart from the jobs: reading or updating a job then never walks a
-- megabyte of overflow pages (README: Why the code is as it is).
CREATE TABLE IF NOT EXISTS payloads (
    job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    body BLOB NOT NULL
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


def open_v1(path: str) -> sqlite3.Connection:
    """Make a schema-1 journal the way that release's Journal did."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA auto_vacuum = INCREMENTAL")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(SCHEMA)
    db.execute("PRAGMA user_version = 1")
    return db


def add_v1(
    db: sqlite3.Connection,
    payload: bytes,
    *,
    delivery_id: str | None = None,
    state: str = "queued",
    retry_of: int | None = None,
    queued_at: float = 100.0,
) -> int:
    """One job of hook C{site} as that release wrote it: a push to main, and its body."""
    cursor = db.execute(
        "INSERT INTO jobs (hook, delivery_id, forge, event, kind, ref, branch, tag, before,"
        " after, repository, clone_url, pusher, commits, state, queued_at, retry_of,"
        " payload_size) VALUES ('site', ?, 'github', 'push', 'push', 'refs/heads/main',"
        " 'main', '', ?, ?, 'example/site', '', 'octocat', 1, ?, ?, ?, ?)",
        (delivery_id, "0" * 40, "a" * 40, state, queued_at, retry_of, len(payload)),
    )
    job_id = cursor.lastrowid
    assert job_id is not None
    db.execute("INSERT INTO payloads (job_id, body) VALUES (?, ?)", (job_id, payload))
    return job_id
