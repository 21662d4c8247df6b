"""The audit log's hash chain: pure, standard-library-only hashing (no SQLAlchemy import).

Every audit entry has a sequence number ``seq`` (1, 2, 3, ... with no gaps), the
previous entry's hash ``prev_hash`` (:data:`GENESIS` for the first) and its own
``entry_hash``::

    entry_hash = sha256( canonical(seq, occurred_at, actor, action, record_type, record_id, details)
                         + prev_hash )

``canonical`` is compact JSON with sorted keys; ``occurred_at`` is ISO 8601 UTC
with microseconds (``2026-11-27T14:05:09.123456Z``). Changing, removing or
inserting an entry breaks the chain from that point on; :func:`verify_rows`
names the first entry of every break.

:func:`append_sqlite` appends an entry through a plain :mod:`sqlite3` DB-API
connection (for code that does not load SQLAlchemy). It writes exactly the
storage form SQLModel writes on SQLite: UUID as 32 hex digits, datetimes as
``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC), JSON as text. It takes the database's
write lock *before* reading the last entry, so two processes appending at once
cannot fork the chain (``seq`` is also UNIQUE).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

GENESIS = "0" * 64
STORAGE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def iso_utc(value: dt.datetime | str) -> str:
    """``occurred_at`` as hashed: ISO UTC with microseconds; accepts SQLite's storage text too."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:  # storage form on SQLite is naive UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def jsonable(value: Any) -> Any:
    """``value`` as audit details hold it: ids, dates, times and paths as text, enums as their
    value, tuples as lists, mappings as dicts with text keys (every level)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (uuid.UUID, dt.date, dt.datetime, PurePath)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def plain_details(details: Any) -> Any:
    """``details`` as stored: parsed JSON (SQLite drivers may hand back the text)."""
    if details is None:
        return {}
    if isinstance(details, (str, bytes)):
        return json.loads(details)
    return details


def canonical(
    seq: int,
    occurred_at: dt.datetime | str,
    actor: str,
    action: str,
    record_type: str | None,
    record_id: str | None,
    details: Any,
) -> bytes:
    body = {
        "seq": int(seq),
        "occurred_at": iso_utc(occurred_at),
        "actor": actor or "",
        "action": action or "",
        "record_type": record_type or "",
        "record_id": None if record_id is None else str(record_id),
        "details": plain_details(details),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(
    seq: int,
    occurred_at: dt.datetime | str,
    actor: str,
    action: str,
    record_type: str | None,
    record_id: str | None,
    details: Any,
    prev_hash: str,
) -> str:
    digest = hashlib.sha256(canonical(seq, occurred_at, actor, action, record_type, record_id, details))
    digest.update(prev_hash.encode("ascii"))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    entry_id: str
    problem: str

    def line(self) -> str:
        where = f"audit entry seq {self.seq}" if self.seq is not None else f"audit entry {self.entry_id}"
        return f"{where}: {self.problem}"


def verify_rows(
    rows: Iterable[Mapping[str, Any]], *, start_seq: int = 1, prev_hash: str = GENESIS
) -> tuple[int, str, list[ChainProblem]]:
    """Check entries (mappings with the audit columns) ordered by ``seq``, NULL seq last.

    ``start_seq`` and ``prev_hash`` continue a chain already verified up to ``start_seq - 1``
    (whose hash was ``prev_hash``).

    Returns (entries checked, head hash, problems). A removed entry shows as a
    gap in ``seq``; an edited one as a hash mismatch; an inserted one as a
    missing sequence number, a duplicate position or a broken link.
    """
    problems: list[ChainProblem] = []
    expected_seq = start_seq
    prev = prev_hash
    count = 0
    for row in rows:
        count += 1
        seq, ident = row["seq"], _hex(row["id"])
        if seq is None:
            problems.append(ChainProblem(None, ident, "not in the hash chain (no sequence number: inserted outside the app?)"))
            continue
        if seq != expected_seq:
            if seq > expected_seq:
                missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
                problems.append(ChainProblem(seq, ident, f"entries {missing} are missing (removed?)"))
            else:  # pragma: no cover - seq is UNIQUE
                problems.append(ChainProblem(seq, ident, "duplicate sequence number"))
            expected_seq = seq
        if (row["prev_hash"] or "") != prev:
            problems.append(ChainProblem(seq, ident, "does not link to the entry before it"))
        recomputed = entry_hash(
            seq, row["occurred_at"], row["actor"], row["action"], row["record_type"], row["record_id"],
            row["details"], row["prev_hash"] or "",
        )
        if recomputed != (row["entry_hash"] or ""):
            problems.append(ChainProblem(seq, ident, "its contents changed after it was written"))
        prev = row["entry_hash"] or ""
        expected_seq = seq + 1
    return count, prev, problems


def _hex(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value).replace("-", "")


def storage_datetime(value: dt.datetime) -> str:
    """An aware datetime in SQLite's storage form (naive UTC text, microseconds)."""
    return value.astimezone(dt.UTC).strftime(STORAGE_FORMAT)


def append_sqlite(
    conn: Any,
    *,
    actor: str,
    action: str,
    record_type: str = "",
    record_id: str | uuid.UUID | None = None,
    details: Mapping[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> int:
    """Append one chained audit entry through a :mod:`sqlite3` (or sqlcipher3) connection.

    Outside a transaction it runs its own ``BEGIN IMMEDIATE`` ... ``COMMIT``.
    Inside the caller's transaction it first takes the write lock (a no-op
    UPDATE) and leaves the commit to the caller. ``details`` must be
    JSON-ready (ids and counts, never note text or names). Returns the new seq.
    """
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn.execute("UPDATE audit_event SET seq = seq WHERE 0")  # takes the write lock now
    try:
        row = conn.execute(
            "SELECT seq, entry_hash FROM audit_event WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, prev = (row[0] + 1, row[1] or "") if row else (1, GENESIS)
        # The program passes clock.utcnow(); this module imports the standard library only.
        when = (occurred_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        body = dict(details or {})
        rid = None if record_id is None else str(record_id)
        digest = entry_hash(seq, when, actor, action, record_type, rid, body, prev)
        stamp = storage_datetime(when)
        conn.execute(
            "INSERT INTO audit_event (id, created_at, occurred_at, actor, action, record_type, record_id, "
            "details, seq, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (uuid.uuid4().hex, stamp, stamp, actor, action, record_type or "", rid, json.dumps(body), seq, prev, digest),
        )
        if own:
            conn.execute("COMMIT")
    except BaseException:
        if own and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return seq
