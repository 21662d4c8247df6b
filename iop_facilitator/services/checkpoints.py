"""Verify checkpoints: how far ``iop db verify`` has checked the database, hash-chained.

A checkpoint (``models.VerifyCheckpoint``) is written after a verification that found
nothing wrong, in one transaction with its audit entry (``verify.checkpoint``, holding the
checkpoint's number and hash). It records the audit chain's position and head at that
point, how many signed meetings, snapshots, co-signatures and addenda there were, and the
row history written before its cut (count and a digest chained from the previous
checkpoint's). ``services.integrity.verify_database`` reads the newest one to check only
what was written after it, and checks every one of them again with ``full``.

Each checkpoint's ``checkpoint_hash`` is SHA-256 of its canonical fields and the previous
checkpoint's hash (:data:`GENESIS` for the first), so editing, removing or inserting a
checkpoint breaks the chain; removing the newest ones shows as an audit entry naming a
checkpoint that no longer exists; rewriting the chain and the audit log together is what
the anchor kept outside the database (``iop db verify --anchor``) is for.

This module imports only the standard library at load time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from iop_facilitator.services.canonical import norm

if TYPE_CHECKING:
    from sqlmodel import Session

GENESIS = "0" * 64
ACTION = "verify.checkpoint"
VERSION = 1
HISTORY_SETTLE = dt.timedelta(seconds=60)
"""Row history newer than this (by the database's clock) is left to the next checkpoint, so a
transaction still open while the checkpoint is taken (PostgreSQL) is never skipped."""


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint's values (as stored, in canonical form: ids hex, times in storage form)."""

    id: str
    seq: int
    mode: str
    verified_at: str
    audit_seq: int
    audit_head: str
    meetings: int
    snapshots: int
    cosignatures: int
    addenda: int
    history_cut: str | None
    history_rows: int
    history_digest: str
    prev_hash: str
    checkpoint_hash: str

    def body(self) -> bytes:
        """The canonical bytes hashed (every field but the hash itself, and the id)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("id", "checkpoint_hash")}
        values["v"] = VERSION
        return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def computed_hash(self) -> str:
        return hashlib.sha256(self.body()).hexdigest()


COLUMNS = tuple(f.name for f in fields(Checkpoint))


def from_row(row: Mapping[str, Any]) -> Checkpoint:
    """A checkpoint from a raw row mapping (either back end)."""
    return Checkpoint(
        id=norm("id", row["id"]),
        seq=int(row["seq"]),
        mode=str(row["mode"] or ""),
        verified_at=norm("dt", row["verified_at"]),
        audit_seq=int(row["audit_seq"] or 0),
        audit_head=str(row["audit_head"] or ""),
        meetings=int(row["meetings"] or 0),
        snapshots=int(row["snapshots"] or 0),
        cosignatures=int(row["cosignatures"] or 0),
        addenda=int(row["addenda"] or 0),
        history_cut=norm("dt", row["history_cut"]),
        history_rows=int(row["history_rows"] or 0),
        history_digest=str(row["history_digest"] or ""),
        prev_hash=str(row["prev_hash"] or ""),
        checkpoint_hash=str(row["checkpoint_hash"] or ""),
    )


def read_all(conn: Any) -> list[Checkpoint]:
    """Every checkpoint, oldest first (a handful of rows per day of use: read whole)."""
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table("verify_checkpoint"):
        return []
    rows = conn.execute(sa.text(f"SELECT {', '.join(COLUMNS)} FROM verify_checkpoint ORDER BY seq")).mappings()
    return [from_row(r) for r in rows]


def chain_problems(checkpoints: Iterable[Checkpoint]) -> list[tuple[int, str]]:
    """(seq, problem) for every checkpoint whose hash, link or number is not what it should be."""
    problems: list[tuple[int, str]] = []
    prev, expected = GENESIS, 1
    for cp in checkpoints:
        if cp.seq != expected:
            problems.append((cp.seq, f"checkpoints {expected}-{cp.seq - 1} are missing (removed?)"
                             if cp.seq > expected else "is out of order"))
        if cp.prev_hash != prev:
            problems.append((cp.seq, "does not link to the checkpoint before it"))
        if cp.computed_hash() != cp.checkpoint_hash:
            problems.append((cp.seq, "was changed after it was written"))
        prev, expected = cp.checkpoint_hash, cp.seq + 1
    return problems


# --------------------------------------------------------------------------- row history


HISTORY_COLUMNS = "id, table_name, row_id, operation, changed_at, old_row, created_at"


def history_line(row: Any) -> bytes:
    """One row-history row in canonical form (the same bytes on SQLite and PostgreSQL)."""
    old = row[5]
    old = json.loads(old) if isinstance(old, (str, bytes)) else old
    values = [norm("id", row[0]), str(row[1]), str(row[2]), str(row[3]), norm("dt", row[4]), old, norm("dt", row[6])]
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def history_segment(rows: Iterable[Any]) -> tuple[int, str]:
    """(rows, SHA-256) of row-history rows in (created_at, id) order."""
    digest = hashlib.sha256()
    count = 0
    for row in rows:
        digest.update(history_line(row))
        count += 1
    return count, digest.hexdigest()


def chain_digest(previous: str, segment: str) -> str:
    return hashlib.sha256(f"{previous or GENESIS}:{segment}".encode("ascii")).hexdigest()


def history_rows(conn: Any, since: str | None, until: str | None) -> Iterable[Any]:
    """Row history with ``since <= created_at < until`` (storage-form times; None: open), oldest first."""
    import sqlalchemy as sa

    where, params = [], {}
    if since is not None:
        where.append("created_at >= :since")
        params["since"] = _when(since)
    if until is not None:
        where.append("created_at < :until")
        params["until"] = _when(until)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    stmt = sa.text(f"SELECT {HISTORY_COLUMNS} FROM row_history{clause} ORDER BY created_at, id")
    if params:
        stmt = stmt.bindparams(*(sa.bindparam(k, type_=_datetime_type()) for k in params))
    return conn.execute(stmt, params)


def history_count_before(conn: Any, cut: str | None) -> int:
    import sqlalchemy as sa

    if cut is None:
        return 0
    stmt = sa.text("SELECT count(*) FROM row_history WHERE created_at < :cut").bindparams(
        sa.bindparam("cut", type_=_datetime_type())
    )
    return int(conn.execute(stmt, {"cut": _when(cut)}).scalar_one())


def database_now(conn: Any) -> dt.datetime:
    """The database's own clock (row history is stamped by triggers with it, not by ours)."""
    import sqlalchemy as sa

    if conn.dialect.name == "postgresql":
        value = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        return value.astimezone(dt.UTC)
    text = conn.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _datetime_type() -> Any:
    from sqlmodel.sql.sqltypes import UTCDateTime

    return UTCDateTime()


def _when(storage: str) -> dt.datetime:
    return dt.datetime.fromisoformat(storage).replace(tzinfo=dt.UTC)


# --------------------------------------------------------------------------- writing


def write(session: Session, values: dict[str, Any]) -> Checkpoint | None:
    """Append a checkpoint after the newest one (``values``: every field but seq, links and hash).

    Runs in the caller's write transaction, with the audit entry that records it. Returns None
    (writing nothing) when a newer verification already wrote a checkpoint covering more of
    the audit chain.
    """
    import sqlalchemy as sa

    from iop_facilitator.models import VerifyCheckpoint
    from iop_facilitator.services import audit

    audit.lock_chain(session)
    conn = session.connection()
    last = conn.execute(
        sa.text(f"SELECT {', '.join(COLUMNS)} FROM verify_checkpoint ORDER BY seq DESC LIMIT 1")
    ).mappings().first()
    previous = from_row(last) if last is not None else None
    if previous is not None and previous.audit_seq > values["audit_seq"]:
        return None
    record = VerifyCheckpoint(
        seq=(previous.seq + 1) if previous else 1,
        mode=values["mode"],
        verified_at=_when(values["verified_at"]),
        audit_seq=values["audit_seq"],
        audit_head=values["audit_head"],
        meetings=values["meetings"],
        snapshots=values["snapshots"],
        cosignatures=values["cosignatures"],
        addenda=values["addenda"],
        history_cut=_when(values["history_cut"]) if values["history_cut"] else None,
        history_rows=values["history_rows"],
        history_digest=values["history_digest"],
        prev_hash=previous.checkpoint_hash if previous else GENESIS,
        checkpoint_hash="",
    )
    cp = Checkpoint(
        id=record.id.hex, seq=record.seq, mode=record.mode, verified_at=values["verified_at"],
        audit_seq=record.audit_seq, audit_head=record.audit_head, meetings=record.meetings,
        snapshots=record.snapshots, cosignatures=record.cosignatures, addenda=record.addenda,
        history_cut=values["history_cut"], history_rows=record.history_rows,
        history_digest=record.history_digest, prev_hash=record.prev_hash, checkpoint_hash="",
    )
    digest = cp.computed_hash()
    record.checkpoint_hash = digest
    session.add(record)
    audit.record(session, ACTION, record_type="verify_checkpoint", record_id=record.id,
                 checkpoint=record.seq, hash=digest, mode=record.mode)
    return Checkpoint(**{**cp.__dict__, "checkpoint_hash": digest})
