"""
The job journal: every accepted delivery and what became of it, in SQLite.

This is the synchronous store. It is meant to be driven from one worker thread
so SQLite never stalls the reactor; several deliveries can share one commit
(L{Journal.add_many}), and a delivery is answered only after its commit.

A job's body (the raw request) lives in a table of its own, so reading or
updating a job never walks a megabyte of overflow pages. The body is needed
while the job is queued or running; a superseded job's body goes at once, and
finished jobs keep theirs as long as their record (so any job listed can be
replayed), or, where C{payload_budget} is set, only within that many bytes, the
oldest going first. Freed pages are given back to the file system a bounded number at
a time (L{Journal.upkeep}): the file has C{auto_vacuum = INCREMENTAL}.

It needs SQLite 3.20.0 or newer (L{MIN_SQLITE}) and refuses an older one: RHEL 9
has 3.34 and Ubuntu 20.04 3.31, so nothing of 3.35 (C{RETURNING}, C{DROP COLUMN})
is used.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypedDict

import attrs
from attrs import frozen
from twisted.logger import Logger

from hookdaemon.delivery import JOURNALED_FIELDS, Delivery
from hookdaemon.job_state import FINAL_STATES, QUEUED_ENDS, JobState

log = Logger()

SCHEMA_VERSION = 7
"""
C{PRAGMA user_version}: 0 is the release before bodies had a table of their
own, 1 the one before delivery ids were remembered apart from jobs and jobs
counted their attempts, 2 the one before jobs could be replays, 3 the one
before jobs said why they ended, 4 the one before hooks files' invocations,
5 the one before the outbox of reports, 6 the one before reports' outcomes.
"""

MIN_SQLITE = (3, 20, 0)
"""
The oldest SQLite the journal runs on, for the newest of what it uses:
C{secure_delete = FAST} (3.20.0); besides, write-ahead logging (3.7.0),
partial indexes (3.8.0), C{WITH RECURSIVE} (3.8.3), C{wal_checkpoint(TRUNCATE)}
(3.8.8). See https://www.sqlite.org/changes.html
"""

DROPPED_SUPERSEDED = JobState.SUPERSEDED.value
DROPPED_BUDGET = "payload_budget"
INTERRUPTED_BY_A_CRASH = "the daemon ended while it ran (killed, or the machine went down)"
"""The reason of a job a start finds running: no daemon is left to say more."""

WAL_LIMIT = 4 * 1024 * 1024
"""
C{journal_size_limit}: the write-ahead log is cut back to this once checkpointed.
About SQLite's automatic checkpoint (1000 pages), so a steady load never regrows it.
"""
RECLAIM_MIN_BYTES = 1024 * 1024
"""Fewer free bytes than this stay in the file: SQLite reuses them for the next rows."""
RECLAIM_PASS_BYTES = 4 * 1024 * 1024
"""
Free bytes given back per L{Journal.upkeep} pass, so a delivery arriving during
one waits a few milliseconds, not for the whole file.
"""

_PAYLOADS = """
-- Bodies apart from the jobs: reading or updating a job then never walks a
-- megabyte of overflow pages (README: Why the code is as it is).
CREATE TABLE IF NOT EXISTS payloads (
    job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    body BLOB NOT NULL,
    -- A hooks-file hook's arguments, environment and files (Invocation.to_json),
    -- decided from its call; NULL for tap.cfg hooks. Kept and dropped with the body.
    invocation BLOB
);
"""

_JOBS = """
CREATE TABLE IF NOT EXISTS {name} (
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
    payload_dropped TEXT,   -- why none is kept: superseded or payload_budget
    attempt INTEGER NOT NULL DEFAULT 1, -- 1, or which retry of retry_of's delivery
    -- The job whose delivery a person ran again; no reference: the history may
    -- forget that job first.
    replay_of INTEGER,
    reason TEXT             -- why it ended as it did (failed, timed out, ...); NULL for a success
);
"""

_DELIVERIES = """
-- Each hook's delivery ids, remembered apart from the jobs (whose history is
-- pruned far sooner) so that a forge's redelivery of an old one by hand does
-- not run again; job_id is the delivery's first job, which may be gone.
CREATE TABLE IF NOT EXISTS deliveries (
    hook TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    accepted_at REAL NOT NULL,
    PRIMARY KEY (hook, delivery_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_age ON deliveries (hook, accepted_at);
"""

_OUTBOX = """
-- Commit statuses and notifications not yet sent, so a restart loses none.
-- No reference to jobs: a report outlives its job's pruned record. Credentials
-- are not here: the hook's configuration gives them when the entry is sent.
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hook TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    channel TEXT NOT NULL,  -- report, or notify and the URL's fingerprint: sent in order
    subject TEXT,           -- a status's commit and context, which a newer status replaces
    message BLOB NOT NULL,  -- what to send (JSON), as hookdaemon.reports wrote it
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    what TEXT NOT NULL DEFAULT '',       -- the report as a person reads it
    last_error TEXT NOT NULL DEFAULT ''  -- why its last try failed
);
CREATE INDEX IF NOT EXISTS outbox_subject ON outbox (hook, channel, subject);
CREATE INDEX IF NOT EXISTS outbox_job ON outbox (job_id);

-- What became of each report that left the outbox, for its job's API: kept
-- while the job is (pruned with it), never for a job already gone.
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,  -- the outbox entry's id
    job_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    what TEXT NOT NULL,
    outcome TEXT NOT NULL,   -- sent, refused, given up, dropped, replaced
    detail TEXT NOT NULL,    -- the answer, the forge's words, the last failure
    attempts INTEGER NOT NULL,
    settled_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_job ON reports (job_id);
"""

_SCHEMA = f"""
{_JOBS.format(name="jobs")}
{_PAYLOADS}
{_DELIVERIES}
{_OUTBOX}
CREATE INDEX IF NOT EXISTS jobs_hook ON jobs (hook, id);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE INDEX IF NOT EXISTS jobs_covered_by ON jobs (covered_by);
-- Pruning spares the jobs retries name; few jobs are retries.
CREATE INDEX IF NOT EXISTS jobs_retry_of ON jobs (retry_of) WHERE retry_of IS NOT NULL;
"""

_DELIVERY_COLUMNS = tuple(name for name in JOURNALED_FIELDS if name != "delivery_id")
"""
The delivery's columns but its id, which has a column of its own: NULL when
the forge sent none, so the unique index on it (C{jobs_delivery}) skips them.
"""


class JournalLimits(TypedDict, total=False):
    """What L{Journal} takes besides its path and budget, for those that pass it on."""

    max_attempts: int
    id_memory: float
    id_max: int


@frozen
class NewDelivery:
    """A delivery to journal for a hook, with the raw body its job will see."""

    hook: str
    delivery: Delivery
    payload: bytes
    queued_at: float
    invocation: bytes | None = None
    """What a hooks-file hook's command gets from this call (L{Invocation.to_json})."""


@frozen
class Added:
    """
    The journal's answer: the new job, or the job that already has this delivery
    id (None if that job has been pruned since: the id outlives it).
    """

    job_id: int | None
    duplicate: bool


@frozen
class JobRecord:
    """One job as the journal holds it: its delivery, its state, its times and how it ended."""

    id: int
    hook: str
    delivery: Delivery
    state: JobState
    exit_code: int | None
    signal: str | None
    queued_at: float
    started_at: float | None
    finished_at: float | None
    covered_by: int | None
    retry_of: int | None
    output_tail: bytes
    payload_dropped: str | None = None
    """Why the journal no longer holds the job's body (C{superseded}, C{payload_budget})."""
    attempt: int = 1
    """1 for a delivery's first job; N for its retry after N - 1 interrupted attempts."""
    replay_of: int | None = None
    """The job whose delivery this one runs again, by a person's request (POST .../replay)."""
    reason: str | None = None
    """Why it ended as it did (C{step 2/3 (make) exit 2}, C{superseded by job 9 ...})."""

    @property
    def payload_kept(self) -> bool:
        return self.payload_dropped is None


@frozen
class OutboxEntry:
    """A report to send: a commit status or a notification, without its credentials."""

    hook: str
    job_id: int
    channel: str
    """Entries of one hook's channel go out in order, one at a time."""
    subject: str | None
    """A status's commit and context: a newer entry for it replaces one not yet sent."""
    message: bytes
    created_at: float
    id: int | None = None
    attempts: int = 0
    """Failed tries so far."""
    next_at: float = 0.0
    what: str = ""
    """The report as a person reads it: C{commit status success for 1a2b3c4d5e6f (github)}."""
    last_error: str = ""
    """Why its last try failed; empty before a first failure."""


WAITING = "waiting"
"""The outcome of a report still in the outbox: not yet tried, or to be tried again."""


@frozen
class ReportRecord:
    """What became of one of a job's reports, as its job API shows it."""

    channel: str
    what: str
    outcome: str
    """C{sent}, C{refused}, C{given up}, C{dropped}, C{replaced}; or L{WAITING}."""
    detail: str
    """The answer's status, the forge's message, or the last failure; never a credential."""
    attempts: int
    at: float
    """When it was settled; for one waiting, when it is tried next."""


class PayloadDroppedError(LookupError):
    """The job is in the journal but its body is not: a replay cannot run it again."""

    def __init__(self, job_id: int, reason: str) -> None:
        super().__init__(f"the body of job {job_id} was dropped ({reason})")
        self.job_id = job_id
        self.reason = reason


class JournalUnusableError(Exception):
    """The journal cannot be opened as it is; the message says why and what to do."""


class NewerSchemaError(JournalUnusableError):
    """The journal was written by a newer hookdaemon; this one would misread it."""


class SQLiteTooOldError(JournalUnusableError):
    """Python's SQLite lacks what the journal uses (L{MIN_SQLITE})."""


class UpgradeError(JournalUnusableError):
    """An older file could not be brought to L{SCHEMA_VERSION}; it is left as it was."""


def _check_sqlite(found: tuple[int, int, int]) -> None:
    if found < MIN_SQLITE:
        raise SQLiteTooOldError(
            f"the journal needs SQLite {_dotted(MIN_SQLITE)} or newer and this Python"
            f" has {_dotted(found)}: run hookdaemon with a Python built on a newer SQLite"
        )


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


class Journal:
    """
    An SQLite file of jobs. Not thread-safe: use it from one thread only.

    C{payload_budget}: bytes of finished jobs' bodies to keep; None keeps each
    as long as its job (L{prune} takes both). Queued and running jobs' bodies are never
    dropped, so they may take the file past the budget.
    """

    def __init__(
        self,
        path: str,
        payload_budget: int | None = None,
        max_attempts: int = 3,
        id_memory: float = 30 * 86400,
        id_max: int = 100000,
    ) -> None:
        self._path = path
        self._budget = payload_budget
        self._max_attempts = max_attempts
        """Runs a delivery gets in all when they are interrupted: the first and its retries."""
        self._id_memory = id_memory
        """Seconds a delivery id is remembered for."""
        self._id_max = id_max
        """Delivery ids remembered per hook at most."""
        self._ids: dict[str, int] = {}
        """Delivery ids remembered per hook, counted once when first needed."""
        self._kept_bytes: int | None = None
        """Finished jobs' bodies in bytes; None: count them again when needed."""
        self._in_part = False
        """Within a savepoint: a transaction() there is part of it, not one of its own."""
        self.needs_upkeep = False
        """Pages may be free or the write-ahead log large: L{upkeep} has work."""
        self._checkpoint_due = False
        """Pages were given back, but the main file shrinks only at a checkpoint."""
        self.checkpoint_blocked = False
        """The last L{upkeep}'s checkpoint gave up: another connection reads an older state."""
        _check_sqlite(sqlite3.sqlite_version_info)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Only a file with no table yet takes this at once (and only before
        # journal_mode writes its header); an older file gets it from a VACUUM below.
        self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self._db.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk (WAL fsynced) before we answer 202.
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")
        # Debian's SQLite is built with SECURE_DELETE: every freed page is zeroed
        # and written, so dropping a body writes as much again (README: Why the
        # code is as it is). The freed pages leave the file at the next upkeep anyway.
        self._db.execute("PRAGMA secure_delete = FAST")
        page_size = self._pragma("page_size")
        self._reclaim_min = RECLAIM_MIN_BYTES // page_size
        self._reclaim_pass = RECLAIM_PASS_BYTES // page_size
        self._upgrade()
        if self._budget is not None:
            with self.transaction():
                self._enforce_budget()
        if self._pragma("auto_vacuum") != 2:  # 2: INCREMENTAL
            try:
                _vacuum_into_incremental(self._db)
            except sqlite3.Error as e:
                # VACUUM needs room for a copy of the file; without it the journal
                # still works, it only keeps its free pages until the next start.
                log.warn(
                    "journal: cannot rewrite {path} to give free pages back ({error});"
                    " trying again at the next start",
                    path=path,
                    error=e,
                )
        if self._pragma("freelist_count") >= self._reclaim_min:
            self.needs_upkeep = True

    def _pragma(self, name: str) -> int:
        return int(self._db.execute(f"PRAGMA {name}").fetchone()[0])

    def _upgrade(self) -> None:
        """Bring a new or older file to L{SCHEMA_VERSION}, keeping every job."""
        version = self._pragma("user_version")
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise NewerSchemaError(
                f"{self._path} has journal schema {version}; this hookdaemon reads"
                f" {SCHEMA_VERSION}: run the newer release, or move the file away"
            )
        # SQLite's procedure for a change ALTER TABLE cannot make: foreign keys
        # off outside the transaction (inside it the pragma does nothing), the
        # table rebuilt, then checked. https://www.sqlite.org/lang_altertable.html#otheralter
        self._db.execute("PRAGMA foreign_keys = OFF")
        try:
            with self.transaction():
                exists = self._db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'"
                ).fetchone()
                if exists and version < 1:
                    _bodies_into_their_table(self._db)
                if exists:
                    _ids_apart_and_attempts(self._db)
                    _replays(self._db)
                    _reasons(self._db)
                    _invocations(self._db)
                    _report_outcomes(self._db)
                for statement in _statements(_SCHEMA):
                    self._db.execute(statement)
                broken = self._db.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise UpgradeError(
                        f"{self._path}: {len(broken)} row(s) would name a job that is not"
                        " there (PRAGMA foreign_key_check lists them), so the journal is"
                        " left as it was: delete those rows, or move the file away"
                    )
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            self._db.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """
        One atomic unit: a transaction, or inside one a savepoint, so a failing
        part of a grouped commit is undone alone.
        """
        if self._in_part:
            # Within a part already: its savepoint undoes this with the rest of
            # it (nothing here catches a failing part to go on without it).
            yield
            return
        if self._db.in_transaction:
            self._db.execute("SAVEPOINT part")
            self._in_part = True
            try:
                yield
            except BaseException:
                self._kept_bytes = None  # it may count what was just undone
                self._ids.clear()
                self._db.execute("ROLLBACK TO part")
                self._db.execute("RELEASE part")
                raise
            finally:
                self._in_part = False
            self._db.execute("RELEASE part")
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            self._kept_bytes = None
            self._ids.clear()
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

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
                "SELECT job_id, accepted_at, EXISTS (SELECT 1 FROM jobs WHERE id = job_id)"
                " FROM deliveries WHERE hook = ? AND delivery_id = ?",
                (new.hook, delivery_id),
            ).fetchone()
            if row is not None and row[1] >= new.queued_at - self._id_memory:
                return Added(job_id=row[0] if row[2] else None, duplicate=True)
        job_id = self._insert(
            new.hook, new.delivery, new.payload, new.queued_at, None, invocation=new.invocation
        )
        if delivery_id is not None:
            self._remember(new.hook, delivery_id, job_id, new.queued_at, new_id=row is None)
        return Added(job_id=job_id, duplicate=False)

    def _remember(
        self, hook: str, delivery_id: str, job_id: int, now: float, new_id: bool
    ) -> None:
        """Remember a hook's delivery id, forgetting its oldest beyond C{id_max}."""
        self._db.execute(
            "INSERT OR REPLACE INTO deliveries (hook, delivery_id, job_id, accepted_at)"
            " VALUES (?, ?, ?, ?)",
            (hook, delivery_id, job_id, now),
        )
        count = self._ids.get(hook)
        if count is None:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM deliveries WHERE hook = ?", (hook,)
            ).fetchone()
        elif new_id:
            count += 1  # not an expired id's row replaced: one more
        if count > self._id_max:
            self._db.execute(
                "DELETE FROM deliveries WHERE hook = ? AND delivery_id IN (SELECT delivery_id"
                " FROM deliveries WHERE hook = ? ORDER BY accepted_at LIMIT ?)",
                (hook, hook, count - self._id_max),
            )
            count = self._id_max
        self._ids[hook] = count

    def forget_ids(self, hook: str, now: float) -> int:
        """Forget C{hook}'s delivery ids older than C{id_memory}; how many went."""
        cursor = self._db.execute(
            "DELETE FROM deliveries WHERE hook = ? AND accepted_at < ?",
            (hook, now - self._id_memory),
        )
        if cursor.rowcount:
            self._ids.pop(hook, None)
        return cursor.rowcount

    def _insert(
        self,
        hook: str,
        delivery: Delivery,
        payload: bytes,
        queued_at: float,
        retry_of: int | None,
        attempt: int = 1,
        replay_of: int | None = None,
        invocation: bytes | None = None,
    ) -> int:
        job_id = self._insert_row(
            hook,
            delivery,
            state=JobState.QUEUED,
            queued_at=queued_at,
            retry_of=retry_of,
            payload_size=len(payload),
            attempt=attempt,
            replay_of=replay_of,
        )
        self._db.execute(
            "INSERT INTO payloads (job_id, body, invocation) VALUES (?, ?, ?)",
            (job_id, payload, invocation),
        )
        return job_id

    def _insert_row(self, hook: str, delivery: Delivery, **columns: object) -> int:
        """A new row of C{jobs} for C{delivery}, with the job's own C{columns}; its id."""
        names = ["hook", "delivery_id", *_DELIVERY_COLUMNS, *columns]
        cursor = self._db.execute(
            f"INSERT INTO jobs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            (
                hook,
                delivery.delivery_id or None,
                *(getattr(delivery, column) for column in _DELIVERY_COLUMNS),
                *columns.values(),
            ),
        )
        row_id = cursor.lastrowid
        assert row_id is not None
        return row_id

    def touch(self) -> None:
        """
        A write of nothing that still needs a page on disk: the journal's probe,
        while it cannot commit, for when it can again.
        """
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def step_started(self, job_id: int, process_group: int) -> None:
        """The process group of the job's current step, to end it if the daemon dies."""
        self._db.execute("UPDATE jobs SET process_group = ? WHERE id = ?", (process_group, job_id))

    def leftovers(self) -> list[tuple[int, int]]:
        """(job, process group) of jobs a dead daemon left running."""
        rows = self._db.execute(
            "SELECT id, process_group FROM jobs"
            " WHERE state = ? AND process_group IS NOT NULL ORDER BY id",
            (JobState.RUNNING,),
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def started(self, job_id: int, now: float) -> None:
        self._db.execute(
            "UPDATE jobs SET state = ?, started_at = ? WHERE id = ?",
            (JobState.RUNNING, now, job_id),
        )

    def finished(
        self,
        job_id: int,
        state: JobState,
        exit_code: int | None,
        signal: str | None,
        output_tail: bytes,
        now: float,
        reason: str | None = None,
    ) -> None:
        """Record a job's end and why; its body now counts against C{payload_budget}."""
        if state not in FINAL_STATES:
            raise ValueError(f"{state!r} is not a final state")
        before = self._db.execute(
            "SELECT state, payload_size FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        self._db.execute(
            "UPDATE jobs SET state = ?, exit_code = ?, signal = ?, output_tail = ?,"
            " finished_at = ?, reason = ? WHERE id = ?",
            (state, exit_code, signal, output_tail, now, reason, job_id),
        )
        if before is None or before[0] in FINAL_STATES:
            return
        if state is JobState.INTERRUPTED:
            self._retry(job_id, now)
        if before[1] is None:
            return
        if self._kept_bytes is not None:
            self._kept_bytes += before[1]
        self._enforce_budget()

    def superseded(self, job_id: int, covered_by: int, now: float) -> None:
        """
        A queued job replaced by a newer delivery's job; its body goes with it,
        since it will never run. Replacements chain (each names the job that
        replaced it); L{covers} and L{covering} follow the chain.
        """
        reason = f"superseded by job {covered_by}, a newer delivery (burst = coalesce)"
        cursor = self._db.execute(
            "UPDATE jobs SET state = ?, covered_by = ?, finished_at = ?, reason = ?,"
            " payload_size = NULL, payload_dropped = ? WHERE id = ? AND state = ?",
            (
                JobState.SUPERSEDED,
                covered_by,
                now,
                reason,
                DROPPED_SUPERSEDED,
                job_id,
                JobState.QUEUED,
            ),
        )
        if cursor.rowcount:
            self._db.execute("DELETE FROM payloads WHERE job_id = ?", (job_id,))
            self.needs_upkeep = True

    def recover(self, now: float, interrupted: list[int] | None = None) -> list[JobRecord]:
        """
        After a crash: jobs left running become C{interrupted} and are queued
        again (L{_retry}); return every queued job in the order its delivery
        was accepted. The ids of the jobs interrupted go into C{interrupted}.
        """
        with self.transaction():
            for record in self._select("WHERE state = ? ORDER BY id", (JobState.RUNNING,)):
                if interrupted is not None:
                    interrupted.append(record.id)
                self._db.execute(
                    "UPDATE jobs SET state = ?, finished_at = ?, reason = ? WHERE id = ?",
                    (JobState.INTERRUPTED, now, INTERRUPTED_BY_A_CRASH, record.id),
                )
                self._retry(record.id, now)
            self._kept_bytes = None  # the interrupted jobs' bodies count now
            self._enforce_budget()
        # In the order deliveries were first accepted: a retry takes its original's place.
        return self._select(
            "WHERE state = ? ORDER BY COALESCE(retry_of, id), id", (JobState.QUEUED,)
        )

    def _retry(self, job_id: int, now: float) -> int | None:
        """
        An interrupted job (by a stop or a crash) is queued again as a new job
        with a copy of its body, naming its delivery's first job (C{retry_of}),
        unless it was its delivery's C{max_attempts}-th; the new job's id, or None.
        """
        record = self.get(job_id)
        assert record is not None
        if record.attempt >= self._max_attempts:
            log.warn(
                "job {job}: interrupted on attempt {attempt} of max_attempts ({max});"
                " not run again",
                job=job_id,
                attempt=record.attempt,
                max=self._max_attempts,
            )
            return None
        return self._insert(
            record.hook,
            record.delivery,
            self.payload(job_id),
            now,
            record.retry_of or record.id,
            record.attempt + 1,
            invocation=self.invocation(job_id),
        )

    def post(self, entries: Sequence[OutboxEntry]) -> list[OutboxEntry]:
        """
        Put reports in the outbox, each replacing the entries of its subject not
        yet sent (a status the forge would only overwrite); returns them with ids.
        """
        posted = []
        for entry in entries:
            if entry.subject is not None:
                replaced = self._db.execute(
                    "SELECT id FROM outbox WHERE hook = ? AND channel = ? AND subject = ?",
                    (entry.hook, entry.channel, entry.subject),
                ).fetchall()
                for (entry_id,) in replaced:
                    self.settled(
                        entry_id,
                        "replaced",
                        f"by job {entry.job_id}'s {entry.what or 'newer status'}",
                        entry.created_at,
                    )
            cursor = self._db.execute(
                "INSERT INTO outbox (hook, job_id, channel, subject, message, created_at,"
                " attempts, next_at, what) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (
                    entry.hook,
                    entry.job_id,
                    entry.channel,
                    entry.subject,
                    entry.message,
                    entry.created_at,
                    entry.created_at,
                    entry.what,
                ),
            )
            assert cursor.lastrowid is not None
            posted.append(attrs.evolve(entry, id=cursor.lastrowid, next_at=entry.created_at))
        return posted

    def outbox(self) -> list[OutboxEntry]:
        """Every report not yet sent, oldest first: what a start sends."""
        return self._outbox("")

    def _outbox(self, where: str, parameters: tuple[object, ...] = ()) -> list[OutboxEntry]:
        rows = self._db.execute(
            "SELECT hook, job_id, channel, subject, message, created_at, id, attempts, next_at,"
            f" what, last_error FROM outbox {where} ORDER BY id",
            parameters,
        ).fetchall()
        return [
            OutboxEntry(hook, job, channel, subject, bytes(message), *rest)
            for hook, job, channel, subject, message, *rest in rows
        ]

    def settled(
        self, entry_id: int, outcome: str, detail: str, now: float, attempts: int | None = None
    ) -> bool:
        """
        An entry is done with (sent, refused, given up on, dropped, replaced): out of
        the outbox, its outcome kept for its job's API if the job is still kept.
        C{attempts}: the tries made in all; None, those the outbox counted.
        False: it was not in the outbox.
        """
        self._db.execute(
            "INSERT OR REPLACE INTO reports"
            " (id, job_id, channel, what, outcome, detail, attempts, settled_at)"
            " SELECT id, job_id, channel, what, ?, ?, COALESCE(?, attempts), ?"
            " FROM outbox WHERE id = ? AND job_id IN (SELECT id FROM jobs)",
            (outcome, detail, attempts, now, entry_id),
        )
        cursor = self._db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))
        if cursor.rowcount:
            return True
        # Replaced by a newer status while its call was under way (L{post}): the
        # call's own outcome is the truer one.
        self._db.execute(
            "UPDATE reports SET outcome = ?, detail = ?, attempts = COALESCE(?, attempts),"
            " settled_at = ? WHERE id = ? AND outcome = 'replaced'",
            (outcome, detail, attempts, now, entry_id),
        )
        return False

    def postponed(self, entry_id: int, attempts: int, next_at: float, error: str = "") -> None:
        """An entry failed for now (C{error} says why): it is tried again at C{next_at}."""
        self._db.execute(
            "UPDATE outbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?",
            (attempts, next_at, error, entry_id),
        )

    def reports_of(self, job_id: int) -> list[ReportRecord]:
        """A job's reports: those settled, then those still in the outbox, each in order."""
        rows = self._db.execute(
            "SELECT channel, what, outcome, detail, attempts, settled_at FROM reports"
            " WHERE job_id = ? ORDER BY id",
            (job_id,),
        ).fetchall()
        found = [ReportRecord(*row) for row in rows]
        found += [
            ReportRecord(e.channel, e.what, WAITING, e.last_error, e.attempts, e.next_at)
            for e in self._outbox("WHERE job_id = ?", (job_id,))
        ]
        return found

    def retried_as(self, record: JobRecord) -> int | None:
        """The job an interrupted job's delivery runs again as, if it does."""
        row = self._db.execute(
            "SELECT id FROM jobs WHERE retry_of = ? AND attempt = ?",
            (record.retry_of or record.id, record.attempt + 1),
        ).fetchone()
        return None if row is None else int(row[0])

    def previous_end(self, hook: str, job_id: int) -> JobState | None:
        """
        How the hook's last deploy before C{job_id} ended, for C{notify_on = change}:
        superseded, ignored and interrupted jobs are no deploy's end.
        """
        row = self._db.execute(
            "SELECT state FROM jobs WHERE hook = ? AND id < ? AND state IN (?, ?, ?, ?)"
            " ORDER BY id DESC LIMIT 1",
            (
                hook,
                job_id,
                JobState.SUCCEEDED,
                JobState.FAILED,
                JobState.TIMED_OUT,
                JobState.CANCELLED,
            ),
        ).fetchone()
        return None if row is None else JobState(row[0])

    def payload(self, job_id: int) -> bytes:
        """
        The raw body of the job's delivery. KeyError: no such job; L{PayloadDroppedError}:
        the job is known, its body no longer kept.
        """
        row = self._db.execute("SELECT body FROM payloads WHERE job_id = ?", (job_id,)).fetchone()
        if row is not None:
            return bytes(row[0])
        job = self._db.execute(
            "SELECT payload_dropped FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        if job is None:
            raise KeyError(job_id)
        raise PayloadDroppedError(job_id, job[0] or "unknown")

    def invocation(self, job_id: int) -> bytes | None:
        """
        What a hooks-file hook's job gives its command (L{Invocation.to_json});
        None for a tap.cfg hook's job, or one whose body is no longer kept.
        """
        row = self._db.execute(
            "SELECT invocation FROM payloads WHERE job_id = ?", (job_id,)
        ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def _enforce_budget(self) -> None:
        """Drop the oldest finished jobs' bodies until the rest fit C{payload_budget}."""
        if self._budget is None:
            return
        if self._kept_bytes is None:
            row = self._db.execute(
                "SELECT COALESCE(SUM(jobs.payload_size), 0) FROM payloads"
                " CROSS JOIN jobs ON jobs.id = payloads.job_id"
                f" WHERE jobs.state IN ({_FINAL_LIST})"
            ).fetchone()
            self._kept_bytes = int(row[0])
        if self._kept_bytes <= self._budget:
            return
        # CROSS JOIN: walk payloads in id order (oldest first) and stop early,
        # instead of sorting every finished job.
        rows = self._db.execute(
            "SELECT jobs.id, jobs.payload_size FROM payloads"
            " CROSS JOIN jobs ON jobs.id = payloads.job_id"
            f" WHERE jobs.state IN ({_FINAL_LIST}) ORDER BY payloads.job_id"
        )
        dropped: list[tuple[int]] = []
        kept = self._kept_bytes
        for job_id, size in rows:
            if kept <= self._budget:
                break
            dropped.append((job_id,))
            kept -= size
        rows.close()
        self._db.executemany("DELETE FROM payloads WHERE job_id = ?", dropped)
        self._db.executemany(
            "UPDATE jobs SET payload_size = NULL, payload_dropped = ? WHERE id = ?",
            [(DROPPED_BUDGET, job_id) for (job_id,) in dropped],
        )
        self._kept_bytes = kept
        self.needs_upkeep = True

    def upkeep(self) -> bool:
        """
        Give back up to L{RECLAIM_PASS_BYTES} of free pages and checkpoint the
        write-ahead log so the file on disk shrinks; True if more remains.
        Runs outside any transaction: a checkpoint cannot run inside one.
        """
        assert not self._db.in_transaction
        self.needs_upkeep = False
        if self._pragma("freelist_count") >= self._reclaim_min:
            # executescript steps the pragma to its end; execute() would free one page.
            self._db.executescript(f"PRAGMA incremental_vacuum({self._reclaim_pass})")
            self._checkpoint_due = True
        self.checkpoint_blocked = False
        if self._checkpoint_due or _size(self._path + "-wal") > WAL_LIMIT:
            self.checkpoint_blocked = not self._checkpoint()
            self._checkpoint_due = self.checkpoint_blocked
        more = self._pragma("freelist_count") >= self._reclaim_min
        self.needs_upkeep = more or self._checkpoint_due
        return more

    def _checkpoint(self) -> bool:
        """
        Copy the log back, so the main file shrinks, and empty it; False if a
        reader (an operator's sqlite3 shell) is in the way. A TRUNCATE checkpoint
        would wait for it for the busy timeout, 5 s, with every delivery behind
        it: here it gives up at once, and a later upkeep tries again.
        """
        timeout = self._pragma("busy_timeout")
        self._db.execute("PRAGMA busy_timeout = 0")
        try:
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {timeout}")
        return not busy

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

    def recent(
        self,
        hook: str | None = None,
        limit: int = 50,
        state: JobState | None = None,
        before: int | None = None,
        since: float | None = None,
    ) -> list[JobRecord]:
        """Newest first: of C{hook}, in C{state}, ids below C{before}, queued from C{since}."""
        conditions: list[str] = []
        values: list[object] = []
        for column, test, value in (
            ("hook", "=", hook),
            ("state", "=", state),
            ("id", "<", before),
            ("queued_at", ">=", since),
        ):
            if value is not None:
                conditions.append(f"{column} {test} ?")
                values.append(value)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        return self._select(f"{where}ORDER BY id DESC LIMIT ?", (*values, limit))

    def replay(self, job_id: int, now: float) -> JobRecord:
        """
        A new queued job running C{job_id}'s delivery again, with its body, as a
        replay of it (not a duplicate: its delivery id is not looked at). Raises
        L{LookupError} for a job the journal does not hold, L{PayloadDroppedError}
        for one whose body it no longer keeps.
        """
        record = self.get(job_id)
        if record is None:
            raise LookupError(f"no job {job_id}")
        body = self.payload(job_id)
        new = self._insert(
            record.hook,
            record.delivery,
            body,
            now,
            None,
            replay_of=job_id,
            invocation=self.invocation(job_id),
        )
        found = self.get(new)
        assert found is not None
        return found

    def ignored(self, hook: str, delivery: Delivery, reason: str, now: float, keep: int) -> int:
        """
        Record a delivery the hook's filters did not want, and why (no body: it
        never runs), keeping the newest C{keep} such records of the hook apart
        from its jobs' history, so a burst of unwanted pushes never pushes the
        record of a deploy out. The new record's id.
        """
        record_id = self._insert_row(
            hook,
            delivery,
            state=JobState.IGNORED,
            queued_at=now,
            finished_at=now,
            reason=reason,
            payload_dropped=JobState.IGNORED.value,
        )
        # A walk of at most keep + 1 entries of jobs_state (state, id), newest first.
        self._db.execute(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = ? AND hook = ?"
            " ORDER BY id DESC LIMIT -1 OFFSET ?)",
            (JobState.IGNORED, hook, keep),
        )
        return record_id

    def prune(self, hook: str, keep: int) -> int:
        """
        Forget all but the newest C{keep} finished jobs of C{hook}, bodies and all;
        return how many went. Ignored deliveries' records are kept apart (L{ignored}).

        A job a retry names (C{retry_of}) stays while the retry does. Superseded jobs
        go like any other: C{covered_by} names a newer job, which outlives them, and
        L{covers} then lists only the replaced jobs still kept. (Sparing every job
        some C{covered_by} named kept all but the first of each burst for ever.)
        """
        with self.transaction():
            rows = self._db.execute(
                "SELECT id, payload_size FROM jobs WHERE hook = ?"
                f" AND state IN ({_QUEUED_ENDS_LIST}) AND id NOT IN"
                f" (SELECT id FROM jobs WHERE hook = ? AND state IN ({_QUEUED_ENDS_LIST})"
                " ORDER BY id DESC LIMIT ?)"
                " AND id NOT IN (SELECT retry_of FROM jobs WHERE retry_of IS NOT NULL)",
                (hook, hook, keep),
            ).fetchall()
            self._db.executemany(
                "DELETE FROM jobs WHERE id = ?", [(job_id,) for job_id, _ in rows]
            )
            self._db.executemany(
                "DELETE FROM reports WHERE job_id = ?", [(job_id,) for job_id, _ in rows]
            )
        if rows:
            self.needs_upkeep = True
            if self._kept_bytes is not None:
                self._kept_bytes -= sum(size for _, size in rows if size is not None)
        return len(rows)

    def _select(self, where: str, parameters: Iterable[object] = ()) -> list[JobRecord]:
        rows = self._db.execute(
            f"SELECT id, hook, delivery_id, {', '.join(_DELIVERY_COLUMNS)}, state, exit_code,"
            " signal, queued_at, started_at, finished_at, covered_by, retry_of, output_tail,"
            f" payload_dropped, attempt, replay_of, reason FROM jobs {where}",
            tuple(parameters),
        ).fetchall()
        return [_record(row) for row in rows]


_FINAL_LIST = ", ".join(f"'{state}'" for state in sorted(FINAL_STATES))
"""The final states as SQL literals: fixed names, so no parameters to repeat."""
_QUEUED_ENDS_LIST = ", ".join(f"'{state}'" for state in sorted(QUEUED_ENDS))
"""The same for the final states of queued jobs: all but C{ignored}."""


def _statements(script: str) -> Iterator[str]:
    """
    A script's statements one by one, for a transaction that executescript()
    would commit first.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def _bodies_into_their_table(db: sqlite3.Connection) -> None:
    """
    Schema 0 -> 1, inside the caller's transaction with foreign keys off: bodies
    move from C{jobs.payload} to C{payloads} (superseded jobs' bodies are dropped,
    as they would be now) and C{jobs} is rebuilt without the column, every job
    kept with its id. The indexes went with the old table; the schema makes them.
    """
    for statement in _statements(_PAYLOADS):
        db.execute(statement)
    db.execute(
        "INSERT INTO payloads (job_id, body) SELECT id, payload FROM jobs WHERE state != ?",
        (JobState.SUPERSEDED,),
    )
    db.execute(_JOBS.format(name="jobs_new"))
    # What schema 0's table has and schema 1's still has (all but the body) moves as it is.
    new_columns = set(_columns(db, "jobs_new"))
    kept = ", ".join(column for column in _columns(db, "jobs") if column in new_columns)
    db.execute(
        f"INSERT INTO jobs_new ({kept}, payload_size, payload_dropped)"
        f" SELECT {kept},"
        " CASE WHEN state = ? THEN NULL ELSE length(payload) END,"
        " CASE WHEN state = ? THEN ? END"
        " FROM jobs ORDER BY id",
        (JobState.SUPERSEDED, JobState.SUPERSEDED, DROPPED_SUPERSEDED),
    )
    # AUTOINCREMENT: ids of jobs already pruned are never given again, so the
    # counter goes with the rows (DROP TABLE forgets it).
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").fetchone()
    db.execute("DROP TABLE jobs")
    db.execute("ALTER TABLE jobs_new RENAME TO jobs")
    if row is not None:
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'jobs'")
        db.execute(
            "INSERT INTO sqlite_sequence (name, seq)"
            " SELECT 'jobs', MAX(?, COALESCE(MAX(id), 0)) FROM jobs",
            row,
        )


def _ids_apart_and_attempts(db: sqlite3.Connection) -> None:
    """
    Schema 1 -> 2, in the caller's transaction: jobs count their attempts (a
    retry was always the second), and each delivery id the jobs hold is
    remembered in C{deliveries}, from when its first job was queued; the unique
    index that kept ids in the jobs table goes (an id now outlives its job).
    """
    if "attempt" not in _columns(db, "jobs"):
        db.execute("ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1")
    db.execute("UPDATE jobs SET attempt = 2 WHERE retry_of IS NOT NULL")
    db.execute("DROP INDEX IF EXISTS jobs_delivery")
    for statement in _statements(_DELIVERIES):
        db.execute(statement)
    db.execute(
        "INSERT OR IGNORE INTO deliveries (hook, delivery_id, job_id, accepted_at)"
        " SELECT hook, delivery_id, id, queued_at FROM jobs"
        " WHERE delivery_id IS NOT NULL AND retry_of IS NULL ORDER BY id"
    )


def _replays(db: sqlite3.Connection) -> None:
    """Schema 2 -> 3, in the caller's transaction: a job may name the job it replays."""
    if "replay_of" not in _columns(db, "jobs"):
        db.execute("ALTER TABLE jobs ADD COLUMN replay_of INTEGER")


def _reasons(db: sqlite3.Connection) -> None:
    """Schema 3 -> 4, in the caller's transaction: a job says why it ended as it did."""
    if "reason" not in _columns(db, "jobs"):
        db.execute("ALTER TABLE jobs ADD COLUMN reason TEXT")


def _invocations(db: sqlite3.Connection) -> None:
    """Schema 4 -> 5, in the caller's transaction: a body may come with a hooks-file invocation."""
    if "invocation" not in _columns(db, "payloads"):
        db.execute("ALTER TABLE payloads ADD COLUMN invocation BLOB")


def _report_outcomes(db: sqlite3.Connection) -> None:
    """Schema 6 -> 7, in the caller's transaction: outbox entries say what they are and why
    they wait (the reports table itself is new, made with the rest of the schema)."""
    columns = _columns(db, "outbox")
    if columns and "what" not in columns:
        db.execute("ALTER TABLE outbox ADD COLUMN what TEXT NOT NULL DEFAULT ''")
        db.execute("ALTER TABLE outbox ADD COLUMN last_error TEXT NOT NULL DEFAULT ''")


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    """The column names of C{table}, in the order the table has them."""
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _vacuum_into_incremental(db: sqlite3.Connection) -> None:
    """
    A file made before C{auto_vacuum = INCREMENTAL} takes it only by a VACUUM,
    which rewrites it once (through the write-ahead log, hence the checkpoint).
    """
    db.execute("PRAGMA auto_vacuum = INCREMENTAL")
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _record(row: Any) -> JobRecord:
    job_id, hook, delivery_id, *rest = row
    count = len(_DELIVERY_COLUMNS)
    fields = dict(zip(_DELIVERY_COLUMNS, rest[:count], strict=True))
    (
        state,
        exit_code,
        signal,
        queued_at,
        started_at,
        finished_at,
        covered_by,
        retry_of,
        tail,
        payload_dropped,
        attempt,
        replay_of,
        reason,
    ) = rest[count:]
    return JobRecord(
        id=job_id,
        hook=hook,
        delivery=Delivery(delivery_id=delivery_id or "", **fields),
        state=JobState(state),
        exit_code=exit_code,
        signal=signal,
        queued_at=queued_at,
        started_at=started_at,
        finished_at=finished_at,
        covered_by=covered_by,
        retry_of=retry_of,
        output_tail=bytes(tail),
        payload_dropped=payload_dropped,
        attempt=attempt,
        replay_of=replay_of,
        reason=reason,
    )
