"""
The job journal: every accepted delivery and what became of it, in SQLite.

This is the synchronous store. It is meant to be driven from one worker thread
so SQLite never stalls the reactor; several deliveries can share one commit
(L{Journal.add_many}), and a delivery is answered only after its commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from attrs import frozen

from hookdaemon.delivery import Delivery

STATES = ("queued", "running", "succeeded", "failed", "timed_out", "interrupted", "superseded")
FINAL_STATES = frozenset(STATES) - {"queued", "running"}

_SCHEMA = """
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

_DELIVERY_COLUMNS = (
    "forge",
    "event",
    "kind",
    "ref",
    "branch",
    "tag",
    "before",
    "after",
    "repository",
    "clone_url",
    "pusher",
    "commits",
)


@frozen
class NewDelivery:
    """A delivery to journal for a hook, with the raw body its job will see."""

    hook: str
    delivery: Delivery
    payload: bytes
    queued_at: float


@frozen
class Added:
    """The journal's answer: the new job, or the job that already has this delivery id."""

    job_id: int
    duplicate: bool


@frozen
class JobRecord:
    id: int
    hook: str
    delivery: Delivery
    state: str
    exit_code: int | None
    signal: str | None
    queued_at: float
    started_at: float | None
    finished_at: float | None
    covered_by: int | None
    retry_of: int | None
    output_tail: bytes


class Journal:
    """An SQLite file of jobs. Not thread-safe: use it from one thread only."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk (WAL fsynced) before we answer 202.
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """
        One atomic unit: a transaction, or inside one a savepoint, so a failing
        part of a grouped commit is undone alone.
        """
        if self._db.in_transaction:
            self._db.execute("SAVEPOINT part")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK TO part")
                self._db.execute("RELEASE part")
                raise
            self._db.execute("RELEASE part")
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def add_many(self, deliveries: Sequence[NewDelivery]) -> list[Added]:
        """Journal several deliveries in one transaction, so they share one fsync."""
        with self.transaction():
            return [self._add(new) for new in deliveries]

    def add(self, new: NewDelivery) -> Added:
        return self.add_many([new])[0]

    def _add(self, new: NewDelivery) -> Added:
        delivery_id = new.delivery.delivery_id or None
        if delivery_id is not None:
            row = self._db.execute(
                "SELECT id FROM jobs WHERE hook = ? AND delivery_id = ? AND retry_of IS NULL",
                (new.hook, delivery_id),
            ).fetchone()
            if row is not None:
                return Added(job_id=row[0], duplicate=True)
        job_id = self._insert(new.hook, new.delivery, new.payload, new.queued_at, None)
        return Added(job_id=job_id, duplicate=False)

    def _insert(
        self,
        hook: str,
        delivery: Delivery,
        payload: bytes,
        queued_at: float,
        retry_of: int | None,
    ) -> int:
        values = [getattr(delivery, column) for column in _DELIVERY_COLUMNS]
        cursor = self._db.execute(
            f"INSERT INTO jobs (hook, delivery_id, {', '.join(_DELIVERY_COLUMNS)}, payload,"
            " state, queued_at, retry_of)"
            f" VALUES (?, ?, {', '.join('?' * len(values))}, ?, 'queued', ?, ?)",
            (hook, delivery.delivery_id or None, *values, payload, queued_at, retry_of),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def step_started(self, job_id: int, process_group: int) -> None:
        """The process group of the job's current step, to end it if the daemon dies."""
        self._db.execute("UPDATE jobs SET process_group = ? WHERE id = ?", (process_group, job_id))

    def leftovers(self) -> list[tuple[int, int]]:
        """(job, process group) of jobs a dead daemon left running."""
        rows = self._db.execute(
            "SELECT id, process_group FROM jobs"
            " WHERE state = 'running' AND process_group IS NOT NULL ORDER BY id"
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def started(self, job_id: int, now: float) -> None:
        self._db.execute(
            "UPDATE jobs SET state = 'running', started_at = ? WHERE id = ?", (now, job_id)
        )

    def finished(
        self,
        job_id: int,
        state: str,
        exit_code: int | None,
        signal: str | None,
        output_tail: bytes,
        now: float,
    ) -> None:
        if state not in FINAL_STATES:
            raise ValueError(f"{state!r} is not a final state")
        self._db.execute(
            "UPDATE jobs SET state = ?, exit_code = ?, signal = ?, output_tail = ?,"
            " finished_at = ? WHERE id = ?",
            (state, exit_code, signal, output_tail, now, job_id),
        )

    def superseded(self, job_id: int, covered_by: int, now: float) -> None:
        """
        A queued job replaced by a newer delivery's job. Replacements chain (each
        names the job that replaced it); L{covers} and L{covering} follow the chain.
        """
        self._db.execute(
            "UPDATE jobs SET state = 'superseded', covered_by = ?, finished_at = ?"
            " WHERE id = ? AND state = 'queued'",
            (covered_by, now, job_id),
        )

    def recover(self, now: float) -> list[JobRecord]:
        """
        After a crash: jobs left running become C{interrupted} and are queued
        again once (never a retry of a retry); return every queued job in the order
        its delivery was accepted.
        """
        with self.transaction():
            for record in self._select("WHERE state = 'running' ORDER BY id"):
                self._db.execute(
                    "UPDATE jobs SET state = 'interrupted', finished_at = ? WHERE id = ?",
                    (now, record.id),
                )
                if record.retry_of is None:
                    payload = self.payload(record.id)
                    self._insert(record.hook, record.delivery, payload, now, record.id)
        # In the order deliveries were first accepted: a retry takes its original's place.
        return self._select("WHERE state = 'queued' ORDER BY COALESCE(retry_of, id), id")

    def payload(self, job_id: int) -> bytes:
        row = self._db.execute("SELECT payload FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return bytes(row[0])

    def get(self, job_id: int) -> JobRecord | None:
        found = self._select("WHERE id = ?", (job_id,))
        return found[0] if found else None

    def covers(self, job_id: int) -> list[int]:
        """Every superseded job whose delivery this job's run stood in for, oldest first."""
        rows = self._db.execute(
            "WITH RECURSIVE covered(id) AS ("
            " SELECT id FROM jobs WHERE covered_by = ?"
            " UNION SELECT jobs.id FROM jobs JOIN covered ON jobs.covered_by = covered.id)"
            " SELECT id FROM covered ORDER BY id",
            (job_id,),
        ).fetchall()
        return [row[0] for row in rows]

    def covering(self, job_id: int) -> int | None:
        """The job that finally stood in for a superseded one: the end of its chain."""
        row = self._db.execute(
            "WITH RECURSIVE chain(id, next) AS ("
            " SELECT id, covered_by FROM jobs WHERE id = ?"
            " UNION SELECT jobs.id, jobs.covered_by FROM jobs JOIN chain ON jobs.id = chain.next)"
            " SELECT id FROM chain WHERE next IS NULL",
            (job_id,),
        ).fetchone()
        return None if row is None or row[0] == job_id else int(row[0])

    def recent(self, hook: str | None = None, limit: int = 50) -> list[JobRecord]:
        """Newest first."""
        if hook is None:
            return self._select("ORDER BY id DESC LIMIT ?", (limit,))
        return self._select("WHERE hook = ? ORDER BY id DESC LIMIT ?", (hook, limit))

    def prune(self, hook: str, keep: int) -> int:
        """
        Forget all but the newest C{keep} finished jobs of C{hook}; return how many went.

        A job a retry names (C{retry_of}) stays while the retry does. Superseded jobs
        go like any other: C{covered_by} names a newer job, which outlives them, and
        L{covers} then lists only the replaced jobs still kept. (Sparing every job
        some C{covered_by} named kept all but the first of each burst for ever.)
        """
        cursor = self._db.execute(
            "DELETE FROM jobs WHERE hook = ? AND state IN ({}) AND id NOT IN"
            " (SELECT id FROM jobs WHERE hook = ? AND state IN ({}) ORDER BY id DESC LIMIT ?)"
            " AND id NOT IN (SELECT retry_of FROM jobs WHERE retry_of IS NOT NULL)".format(
                *(", ".join("?" * len(FINAL_STATES)),) * 2
            ),
            (hook, *sorted(FINAL_STATES), hook, *sorted(FINAL_STATES), keep),
        )
        return cursor.rowcount

    def _select(self, where: str, parameters: Iterable[object] = ()) -> list[JobRecord]:
        rows = self._db.execute(
            f"SELECT id, hook, delivery_id, {', '.join(_DELIVERY_COLUMNS)}, state, exit_code,"
            " signal, queued_at, started_at, finished_at, covered_by, retry_of, output_tail"
            f" FROM jobs {where}",
            tuple(parameters),
        ).fetchall()
        return [_record(row) for row in rows]


def _record(row: Any) -> JobRecord:
    job_id, hook, delivery_id, *rest = row
    count = len(_DELIVERY_COLUMNS)
    fields = dict(zip(_DELIVERY_COLUMNS, rest[:count], strict=True))
    state, exit_code, signal, queued_at, started_at, finished_at, covered_by, retry_of, tail = (
        rest[count:]
    )
    return JobRecord(
        id=job_id,
        hook=hook,
        delivery=Delivery(delivery_id=delivery_id or "", **fields),
        state=state,
        exit_code=exit_code,
        signal=signal,
        queued_at=queued_at,
        started_at=started_at,
        finished_at=finished_at,
        covered_by=covered_by,
        retry_of=retry_of,
        output_tail=bytes(tail),
    )
