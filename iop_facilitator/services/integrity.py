"""Tamper evidence in the database: sealing a signed meeting, and ``iop db verify``.

The canonical content and its hashes are ``services.canonical``'s (pure). Here they
meet the database: :func:`canonical_meeting` / :func:`meeting_hash` read a meeting's
rows raw (``sa.text``, so SQLite and PostgreSQL give the same bytes), :func:`seal`
signs it in the one UPDATE the lock triggers allow, :func:`lock_meeting` takes the
lock signing runs under, and :func:`verify_database` checks every sealed record and
the audit chain, and matches them to their audit entries.

This module imports only the standard library at load time; the database functions
import SQLAlchemy lazily.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iop_facilitator.services import checkpoints
from iop_facilitator.services.canonical import (
    ADDENDUM_FIELDS,
    CANON_VERSION,
    CANON_VERSION_SNAPSHOT,
    MEETING_FIELDS,
    OBJECT_PARTS,
    PARTS,
    SIGNED_MEMBER_FIELDS,
    SNAPSHOT_FIELDS,
    SNAPSHOT_SOURCES,
    SnapshotHasher,
    StorageHasher,
    addendum_hash,
    bulk_digest,
    canonical_bytes,
    canonical_from_json,
    cosign_hash,
    hash_bytes,
    hash_content,
    norm,
    snapshot_from_json,
    snapshot_hash,
    sorted_json,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from iop_facilitator.db.engine import Database
    from iop_facilitator.models import GroupMeeting

Progress = Callable[[int, "int | None"], None]
"""``progress(done, total)``: signed meetings checked so far, of ``total``."""

# --------------------------------------------------------------------------- the database


def _select(table: str, fields: Sequence[tuple[str, str]], where: str) -> Any:
    import sqlalchemy as sa

    columns = ", ".join(name for name, _ in fields)
    return sa.text(f"SELECT {columns} FROM {table} WHERE {where}")


def _load_parts(conn: Any, meeting_ids: list[uuid.UUID]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{meeting hex: {part: [row mappings]}} for the given meetings, read raw (no ORM)."""
    import sqlalchemy as sa

    found: dict[str, dict[str, list[dict[str, Any]]]] = {m.hex: {k: [] for k in PARTS} for m in meeting_ids}
    for key, (table, fields) in PARTS.items():
        with_mid = (("meeting_id", "id"), *fields)
        stmt = _select(table, with_mid, "meeting_id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True, type_=sa.Uuid())
        )
        for row in conn.execute(stmt, {"ids": meeting_ids}).mappings():
            found[norm("id", row["meeting_id"])][key].append(dict(row))
    return found


def _meeting_rows(conn: Any, meeting_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    extra = (("content_hash", "str"), ("status", "str"), ("signed_at", "dt"))
    fields = MEETING_FIELDS + tuple(f for f in extra if f not in MEETING_FIELDS)
    stmt = _select("meeting", fields, "id IN :ids").bindparams(sa.bindparam("ids", expanding=True, type_=sa.Uuid()))
    return [dict(r) for r in conn.execute(stmt, {"ids": meeting_ids}).mappings()]


def canonical_meeting(
    session: Session, meeting_id: uuid.UUID, *, snapshot_hash: str | None = None, **overrides: Any
) -> bytes:
    """The canonical content of a meeting as stored now; ``overrides`` replace meeting columns.

    Pending changes in ``session`` are flushed first. :func:`seal` passes the
    signature columns as overrides, so the hash is computed before the single
    UPDATE that signs (a signed row can no longer be changed, not even to add its hash).
    """
    session.flush()
    conn = session.connection()
    rows = _meeting_rows(conn, [meeting_id])
    if not rows:
        from iop_facilitator.errors import NotFound

        raise NotFound("that meeting does not exist")
    meeting = {**rows[0], **overrides}
    parts = _load_parts(conn, [meeting_id])[norm("id", meeting_id)]
    return canonical_bytes(meeting, **parts, snapshot_hash=snapshot_hash)


_AUTO: Any = object()


def meeting_hash(session: Session, meeting_id: uuid.UUID, *, snapshot_hash: Any = _AUTO, **overrides: Any) -> str:
    """The meeting's content hash as stored now (with its snapshot's recomputed hash when it has one)."""
    if snapshot_hash is _AUTO:
        session.flush()
        found = _snapshots(session.connection(), [meeting_id]).get(norm("id", meeting_id))
        snapshot_hash = found.computed if found is not None and found.sealed else None
    return hash_bytes(canonical_meeting(session, meeting_id, snapshot_hash=snapshot_hash, **overrides))


PG_LOCK_MEETING = "SELECT id FROM meeting WHERE id = :id FOR UPDATE"


def lock_meeting(session: Session, meeting_id: uuid.UUID) -> None:
    """Take the write lock that signing and co-signing run under, before anything is read.

    SQLite: a no-op write as the transaction's first statement takes the database's
    write lock (the effect of ``BEGIN IMMEDIATE``), so every read after it sees the
    latest commits and no other writer can commit until this transaction ends.
    PostgreSQL: ``SELECT ... FOR UPDATE`` on the meeting row; the lock triggers of
    the meeting's parts take ``FOR SHARE`` on the same row, so a co-leader's write
    either commits before the reads here (and is in the hash) or waits and is
    refused once the meeting is signed.
    """
    import sqlalchemy as sa

    session.flush()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(PG_LOCK_MEETING).bindparams(sa.bindparam("id", type_=sa.Uuid())), {"id": meeting_id})
    else:
        conn.execute(sa.text("UPDATE audit_event SET seq = seq WHERE 0"))


def seal(
    session: Session,
    meeting: GroupMeeting,
    *,
    signer: Any,
    signed_at: dt.datetime,
    snapshot_hash: str,
) -> GroupMeeting:
    """Mark ``meeting`` signed (status, signer, time, credentials) with its content hash.

    ``snapshot_hash`` is that of the signed snapshot already written for it
    (``services.snapshot.take``: its rows go in first, while the meeting is not signed
    and the lock triggers let them in); it is sealed inside the content hash. Then
    everything is set on the meeting at once, so it reaches the database as the one
    UPDATE the lock triggers allow (unsigned -> signed). Call :func:`lock_meeting`
    first, before reading anything the hash covers.
    """
    from iop_facilitator.clock import plain_utc
    from iop_facilitator.enums import MeetingStatus

    signed_at = plain_utc(signed_at)
    credentials = signer.credentials
    digest = meeting_hash(
        session, meeting.id, snapshot_hash=snapshot_hash, status=MeetingStatus.signed.value,
        signed_by_id=signer.id, signed_at=signed_at, signer_credentials=credentials,
    )
    meeting.status = MeetingStatus.signed
    meeting.signed_by_id = signer.id
    meeting.signed_at = signed_at
    meeting.signer_credentials = credentials
    meeting.content_hash = digest
    session.add(meeting)
    return meeting


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class MeetingProblem:
    meeting_id: str
    local_date: str
    group_id: str
    problem: str

    def line(self) -> str:
        return f"meeting {self.meeting_id} ({self.local_date}, group {self.group_id}): {self.problem}"


@dataclass(frozen=True)
class RecordProblem:
    """A problem found by matching signed rows against the audit entries that sealed them."""

    what: str  # "meeting <id>", "addendum <id>", "audit entry seq N", "anchor"
    problem: str

    def line(self) -> str:
        return f"{self.what}: {self.problem}"


@dataclass(frozen=True)
class Anchor:
    """The audit chain's length and head, kept outside the database (``iop db verify --anchor``).

    Text form ``iop-anchor:v1:<entries>:<head hash>[:<hmac>]``; the HMAC-SHA256 (with a
    key the clinic keeps outside the database file) makes a stored anchor unforgeable by
    someone who can write the database and the anchor file but not read the key.
    """

    entries: int
    head: str
    mac: str = ""

    PREFIX = "iop-anchor:v1"

    def text(self) -> str:
        return ":".join([self.PREFIX, str(self.entries), self.head] + ([self.mac] if self.mac else []))

    @staticmethod
    def mac_for(entries: int, head: str, key: bytes) -> str:
        import hmac

        return hmac.new(key, f"{entries}:{head}".encode("ascii"), hashlib.sha256).hexdigest()

    @classmethod
    def parse(cls, text: str) -> Anchor:
        from iop_facilitator.errors import InvalidInput

        parts = text.strip().split(":")
        if len(parts) not in (4, 5) or ":".join(parts[:2]) != cls.PREFIX or not parts[2].isdigit():
            raise InvalidInput("not an iop anchor (expected iop-anchor:v1:ENTRIES:HEAD[:HMAC])")
        head = parts[3].lower()
        if len(head) != 64 or any(c not in "0123456789abcdef" for c in head):
            raise InvalidInput("not an iop anchor: the head must be 64 hex digits")
        return cls(int(parts[2]), head, parts[4].lower() if len(parts) == 5 else "")


@dataclass
class VerifyReport:
    meetings_checked: int = 0
    audit_entries: int = 0
    audit_head: str = ""
    meeting_problems: list[MeetingProblem] = field(default_factory=list)
    audit_problems: list[Any] = field(default_factory=list)  # audit_chain.ChainProblem
    record_problems: list[RecordProblem] = field(default_factory=list)
    snapshots_checked: int = 0
    cosignatures_checked: int = 0
    addenda_checked: int = 0
    anchor_checked: bool = False
    mode: str = "full"  # or "incremental": only what was written after checkpoint ``since_checkpoint``
    since_checkpoint: int | None = None
    entries_checked: int = 0  # audit entries whose hashes were recomputed in this run
    checkpoint_written: int | None = None
    checkpoint_note: str = ""
    counts: dict[str, int] | None = None

    @property
    def ok(self) -> bool:
        return not self.meeting_problems and not self.audit_problems and not self.record_problems

    def lines(self) -> list[str]:
        return (
            [p.line() for p in self.meeting_problems]
            + [p.line() for p in self.record_problems]
            + [p.line() for p in self.audit_problems]
        )

    def anchor(self, key: bytes | None = None) -> Anchor:
        mac = Anchor.mac_for(self.audit_entries, self.audit_head, key) if key else ""
        return Anchor(self.audit_entries, self.audit_head, mac)

    def summary(self) -> str:
        head = f", chain head {self.audit_head[:16]}" if self.audit_entries else ""
        anchored = "; the stored anchor matches" if self.anchor_checked else ""
        recorded = f"; recorded as verify checkpoint {self.checkpoint_written}" if self.checkpoint_written else ""
        if self.checkpoint_note:
            recorded = f"; {self.checkpoint_note}"
        if self.mode == "incremental":
            return (
                f"since verify checkpoint {self.since_checkpoint}: {self.meetings_checked} newly signed meeting(s) "
                f"and their snapshots match their signature hashes and audit entries "
                f"({self.cosignatures_checked} co-signature(s), {self.addenda_checked} addend(a)); "
                f"{self.entries_checked} new audit entries continue the chain ({self.audit_entries} in all{head})"
                f"{anchored}{recorded} (iop db verify --full checks everything again)"
            )
        return (
            f"{self.meetings_checked} signed meeting(s) and their snapshots match their signature hashes "
            f"and audit entries ({self.cosignatures_checked} co-signature(s), {self.addenda_checked} addend(a)); "
            f"{self.audit_entries} audit entries form an unbroken chain{head}{anchored}{recorded}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "mode": self.mode,
            "since_checkpoint": self.since_checkpoint,
            "checkpoint_written": self.checkpoint_written,
            "audit_entries_checked": self.entries_checked,
            "meetings_checked": self.meetings_checked,
            "snapshots_checked": self.snapshots_checked,
            "cosignatures_checked": self.cosignatures_checked,
            "addenda_checked": self.addenda_checked,
            "audit_entries": self.audit_entries,
            "audit_head": self.audit_head,
            "anchor": self.anchor().text() if self.audit_entries else None,
            "anchor_checked": self.anchor_checked,
            "meeting_problems": [vars(p) for p in self.meeting_problems],
            "record_problems": [vars(p) for p in self.record_problems],
            "audit_problems": [
                {"seq": p.seq, "entry_id": p.entry_id, "problem": p.problem} for p in self.audit_problems
            ],
        }


VERIFY_BATCH = 500


@dataclass
class _Snap:
    source: str
    stored: str  # snapshot_hash as stored
    computed: str  # recomputed from the rows
    anchor_id: str | None

    @property
    def sealed(self) -> bool:
        """Whether the meeting's content hash includes this snapshot's hash."""
        return SNAPSHOT_SOURCES.get(self.source, CANON_VERSION) == CANON_VERSION_SNAPSHOT


def _snapshots(conn: Any, meeting_ids: list[uuid.UUID]) -> dict[str, _Snap]:
    """{meeting hex: its snapshot (stored and recomputed hash)} for the given meetings."""
    import sqlalchemy as sa

    if not meeting_ids:
        return {}
    expand = sa.bindparam("ids", expanding=True, type_=sa.Uuid())
    members: dict[str, list[dict[str, Any]]] = {}
    names = ", ".join(name for name, _ in SIGNED_MEMBER_FIELDS)
    for row in conn.execute(
        sa.text(f"SELECT meeting_id, {names} FROM signed_member WHERE meeting_id IN :ids").bindparams(expand),
        {"ids": meeting_ids},
    ).mappings():
        members.setdefault(norm("id", row["meeting_id"]), []).append(dict(row))
    columns = ", ".join(name for name, _ in SNAPSHOT_FIELDS)
    out = {}
    for row in conn.execute(
        sa.text(
            f"SELECT {columns}, snapshot_hash, anchor_id FROM signed_snapshot WHERE meeting_id IN :ids"
        ).bindparams(expand),
        {"ids": meeting_ids},
    ).mappings():
        key = norm("id", row["meeting_id"])
        out[key] = _Snap(
            str(row["source"]), str(row["snapshot_hash"] or ""), snapshot_hash(row, members.get(key, ())),
            row["anchor_id"] or None,
        )
    return out


@dataclass
class _Seen:
    """What verification learnt about signed rows, to match against the audit entries."""

    meetings: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)  # hex -> (content, snapshot, anchor)
    cosigns: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # meeting hex -> (cosign hash, anchor)
    addenda: dict[str, str] = field(default_factory=dict)  # addendum hex -> hash
    where: dict[str, tuple[str, str]] = field(default_factory=dict)  # meeting hex -> (date, group)


SIGNED_OR_HASHED = "status = 'signed' OR signed_at IS NOT NULL OR content_hash IS NOT NULL"
_MEETING_COLUMNS = (*(name for name, _ in MEETING_FIELDS), "content_hash", "status", "signed_at")


def verify_meetings(
    conn: Any,
    report: VerifyReport,
    seen: _Seen | None = None,
    *,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> None:
    """Recompute every signed (or hashed) meeting's hash and snapshot; record mismatches in ``report``.

    ``only``: just these meetings (hex ids; those no longer signed are skipped). On SQLite the
    rows are read through the driver's own cursor and hashed from their storage form
    (:class:`StorageHasher`), with no SQLAlchemy row objects in between.
    """
    seen = seen if seen is not None else _Seen()
    if conn.dialect.name == "sqlite":
        batches = _sqlite_meeting_batches(conn, only)
        load: Any = _SqliteBatch(conn)
    else:
        batches = _server_meeting_batches(conn, only)
        load = _ServerBatch(conn)
    total = None
    if progress is not None:
        total = len(list(only)) if only is not None else _count(conn, f"SELECT count(*) FROM meeting WHERE {SIGNED_OR_HASHED}")
        progress(0, total)
    for batch in batches:
        digests, snaps = load(batch)
        for meeting in batch:
            report.meetings_checked += 1
            key = _hex(meeting[0])
            seen.where[key] = (norm("date", meeting[2]), _hex(meeting[1]))
            problems = []
            stored, status, signed_at = meeting[-3], norm("str", meeting[-2]), meeting[-1]
            snap = snaps.get(key)
            if snap is None:
                problems.append("signed but has no signed snapshot")
            else:
                report.snapshots_checked += 1
                if snap.computed != snap.stored:
                    problems.append("the signed snapshot (names, goals, settings as signed) no longer matches its hash")
            if not stored:
                problems.append("signed but has no content hash")
            elif status != "signed" or signed_at is None:
                problems.append("has a signature hash but is no longer marked signed")
            else:
                sealed = snap.computed if snap is not None and snap.sealed else None
                if digests(meeting, key, sealed) != stored:
                    problems.append("content no longer matches the hash taken at signing")
            seen.meetings[key] = (stored or "", snap.stored if snap else "", snap.anchor_id if snap else None)
            for problem in problems:
                report.meeting_problems.append(MeetingProblem(key, *seen.where[key], problem))
        if progress is not None:
            progress(report.meetings_checked, total)


def _hex(value: Any) -> str:
    return value if type(value) is str and len(value) == 32 else norm("id", value)


def _count(conn: Any, sql: str) -> int:
    import sqlalchemy as sa

    return int(conn.execute(sa.text(sql)).scalar_one())


def _in_chunks(values: Iterable[Any], size: int = VERIFY_BATCH) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _dbapi(conn: Any) -> Any:
    """The driver's connection under ``conn``, inside ``conn``'s transaction (one snapshot)."""
    conn.exec_driver_sql("SELECT 1 FROM audit_event LIMIT 0")  # begins the transaction (db/transactions.py)
    return conn.connection.dbapi_connection


def _sqlite_meeting_batches(conn: Any, only: Iterable[str] | None) -> Iterable[list[tuple[Any, ...]]]:
    raw = _dbapi(conn)
    # (id, group_id, local_date, canonical JSON, content_hash, status, signed_at): see verify_meetings
    select = (f"SELECT id, group_id, local_date, {_json_array(MEETING_FIELDS)}, content_hash, status, signed_at "
              f"FROM meeting WHERE ({SIGNED_OR_HASHED})")
    if only is None:  # table order (about the order they were written): neighbours share pages
        cursor = raw.execute(select)
        while batch := cursor.fetchmany(VERIFY_BATCH):
            yield batch
        return
    for chunk in _in_chunks(sorted(set(only))):
        yield raw.execute(f"{select} AND id IN ({', '.join('?' * len(chunk))})", chunk).fetchall()


def _server_meeting_batches(conn: Any, only: Iterable[str] | None) -> Iterable[list[tuple[Any, ...]]]:
    import sqlalchemy as sa

    if only is None:
        ids = [
            r[0] for r in conn.execute(
                sa.text(f"SELECT id FROM meeting WHERE {SIGNED_OR_HASHED} ORDER BY local_date, id").columns(
                    sa.column("id", sa.Uuid())
                )
            )
        ]
    else:
        ids = [uuid.UUID(hex=h) for h in sorted(set(only))]
    for chunk in _in_chunks(ids):
        rows = _meeting_rows(conn, chunk)
        yield [tuple(r[name] for name in _MEETING_COLUMNS) for r in rows if _signed_or_hashed(r)]


def _signed_or_hashed(row: Mapping[str, Any]) -> bool:
    return norm("str", row["status"]) == "signed" or row["signed_at"] is not None or bool(row["content_hash"])


class _ServerBatch:
    """Loads a batch's parts and snapshots through SQLAlchemy (PostgreSQL); hashes canonical values."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __call__(self, batch: list[tuple[Any, ...]]) -> tuple[Any, dict[str, _Snap]]:
        ids = [uuid.UUID(hex=_hex(row[0])) for row in batch]
        parts = _load_parts(self.conn, ids) if ids else {}

        def digest(meeting: tuple[Any, ...], key: str, sealed: str | None) -> str:
            return hash_content(dict(zip(_MEETING_COLUMNS, meeting, strict=True)), **parts[key], snapshot_hash=sealed)

        return digest, _snapshots(self.conn, ids)


def _json_array(fields: Sequence[tuple[str, str]]) -> str:
    """SQL building a row's canonical values as one compact JSON array (SQLite's ``json_array``)."""
    values = [f"CASE WHEN json_valid({name}) THEN json({name}) END" if kind == "json" else name for name, kind in fields]
    return f"json_array({', '.join(values)})"


class _SqliteBatch:
    """Hashes a batch of meetings from rows SQLite itself writes as canonical JSON arrays.

    Values as the app stores them are already canonical (ids as 32 hex digits, times in
    storage form, 0/1, JSON text), so SQLite builds each row's JSON (``json_array``, rows in id
    order) and Python only joins and hashes them (``canonical_from_json``). A record that does
    not match is read again value by value and hashed leniently (:class:`StorageHasher`,
    :class:`SnapshotHasher`: values raw SQL wrote in another form, JSON text escaped
    differently) before anything is reported.
    """

    def __init__(self, conn: Any) -> None:
        self.raw = _dbapi(conn)
        self.parts = {
            key: f"SELECT meeting_id, {_json_array(fields)} FROM {table} WHERE meeting_id IN ({{marks}}) "
                 "ORDER BY meeting_id, id"
            for key, (table, fields) in PARTS.items()
        }
        self.members = (f"SELECT meeting_id, {_json_array(SIGNED_MEMBER_FIELDS)} FROM signed_member "
                        "WHERE meeting_id IN ({marks}) ORDER BY meeting_id, member_id")
        self.snapshots = (f"SELECT meeting_id, source, snapshot_hash, anchor_id, {_json_array(SNAPSHOT_FIELDS)} "
                          "FROM signed_snapshot WHERE meeting_id IN ({marks})")
        self._lenient: StorageHasher | None = None

    def _grouped(self, sql: str, marks: str, ids: list[Any]) -> dict[Any, list[str]]:
        """{stored meeting id: row texts}; rows come ordered by meeting."""
        from itertools import groupby
        from operator import itemgetter

        found: dict[Any, list[str]] = {}
        second = itemgetter(1)
        for mid, rows in groupby(self.raw.execute(sql.format(marks=marks), ids), key=itemgetter(0)):
            found[mid] = list(map(second, rows))
        return found

    def __call__(self, batch: list[tuple[Any, ...]]) -> tuple[Any, dict[str, _Snap]]:
        ids = [row[0] for row in batch]
        marks = ", ".join("?" * len(ids))
        parts = {key: self._grouped(sql, marks, ids) for key, sql in self.parts.items()}
        for key in OBJECT_PARTS & parts.keys():
            parts[key] = {mid: [sorted_json(text) for text in rows] for mid, rows in parts[key].items()}
        members = self._grouped(self.members, marks, ids)
        snaps = {}
        for mid, source, stored, anchor, body in self.raw.execute(self.snapshots.format(marks=marks), ids):
            stored = str(stored or "")
            computed = hash_bytes(snapshot_from_json(body, members.get(mid, ())))
            if computed != stored:
                computed = self._lenient_snapshot(mid)
            snaps[_hex(mid)] = _Snap(str(source), stored, computed, anchor or None)

        def digest(meeting: tuple[Any, ...], key: str, sealed: str | None) -> str:
            mid = meeting[0]
            body = canonical_from_json(meeting[3], {k: rows.get(mid, ()) for k, rows in parts.items()}, sealed)
            computed = hash_bytes(body)
            return computed if computed == meeting[-3] else self._lenient_meeting(mid, sealed)

        return digest, snaps

    def _lenient_meeting(self, mid: Any, sealed: str | None) -> str:
        if self._lenient is None:
            columns = {"meeting": list(_MEETING_COLUMNS)}
            columns.update({table: [name for name, _ in fields] for table, fields in PARTS.values()})
            self._lenient = StorageHasher(columns, lenient=True)
        meeting = self.raw.execute(f"SELECT {', '.join(_MEETING_COLUMNS)} FROM meeting WHERE id = ?", (mid,)).fetchone()
        parts = {
            key: self.raw.execute(
                f"SELECT {', '.join(n for n, _ in fields)} FROM {table} WHERE meeting_id = ?", (mid,)
            ).fetchall()
            for key, (table, fields) in PARTS.items()
        }
        return self._lenient(meeting, sealed, **parts)

    def _lenient_snapshot(self, mid: Any) -> str:
        snapshot = self.raw.execute(
            f"SELECT {', '.join(n for n, _ in SNAPSHOT_FIELDS)} FROM signed_snapshot WHERE meeting_id = ?", (mid,)
        ).fetchone()
        members = self.raw.execute(
            f"SELECT meeting_id, {', '.join(n for n, _ in SIGNED_MEMBER_FIELDS)} FROM signed_member WHERE meeting_id = ?",
            (mid,),
        ).fetchall()
        return SnapshotHasher()(snapshot, members)


def _only(column: str, only: Iterable[str] | None) -> tuple[str, dict[str, Any], list[Any]]:
    """An ``AND column IN :only`` clause (hex ids, typed as UUIDs), or nothing."""
    import sqlalchemy as sa

    if only is None:
        return "", {}, []
    ids = [uuid.UUID(hex=h) for h in sorted(set(only))]
    return f" AND {column} IN :only", {"only": ids}, [sa.bindparam("only", expanding=True, type_=sa.Uuid())]


def _verify_cosigns(conn: Any, report: VerifyReport, seen: _Seen, only: Iterable[str] | None = None) -> None:
    """Every co-signature (or only those of the ``only`` meetings) against its frozen record."""
    import sqlalchemy as sa

    only = list(only) if only is not None else None
    if only is not None and not only:
        return
    clause, params, binds = _only("meeting_id", only)
    frozen = {}
    for row in conn.execute(
        sa.text(
            "SELECT meeting_id, cosigner_id, cosigner_name, cosigner_credentials, cosigned_at, cosign_hash, anchor_id "
            f"FROM signed_cosign WHERE 1 = 1{clause}"
        ).bindparams(*binds), params
    ).mappings():
        frozen[norm("id", row["meeting_id"])] = dict(row)
    clause, params, binds = _only("id", only)
    cosigned = {
        norm("id", r["id"]): dict(r)
        for r in conn.execute(
            sa.text(
                "SELECT id, local_date, group_id, cosigned_by_id, cosigned_at, cosigner_credentials FROM meeting "
                f"WHERE (cosigned_at IS NOT NULL OR cosigned_by_id IS NOT NULL){clause}"
            ).bindparams(*binds), params
        ).mappings()
    }
    for key in sorted(set(frozen) | set(cosigned)):
        row, meeting = frozen.get(key), cosigned.get(key)
        what = f"meeting {key}"
        report.cosignatures_checked += 1
        if row is None:
            report.record_problems.append(RecordProblem(what, "co-signed without the app's co-signature record (set by raw SQL?)"))
            continue
        if meeting is None:
            report.record_problems.append(RecordProblem(what, "has a co-signature record but the meeting is not co-signed"))
            continue
        if cosign_hash(row) != (row["cosign_hash"] or ""):
            report.record_problems.append(RecordProblem(what, "the co-signature record no longer matches its hash"))
        same = (
            norm("id", row["cosigner_id"]) == norm("id", meeting["cosigned_by_id"])
            and norm("dt", row["cosigned_at"]) == norm("dt", meeting["cosigned_at"])
            and (row["cosigner_credentials"] or "") == (meeting["cosigner_credentials"] or "")
        )
        if not same:
            report.record_problems.append(RecordProblem(what, "the co-signature differs from the one recorded at co-signing"))
        seen.cosigns[key] = (row["cosign_hash"] or "", row["anchor_id"] or None)


def _verify_addenda(conn: Any, seen: _Seen, only: Iterable[str] | None = None) -> None:
    import sqlalchemy as sa

    only = list(only) if only is not None else None
    if only is not None and not only:
        return
    clause, params, binds = _only("id", only)
    columns = ", ".join(name for name, _ in ADDENDUM_FIELDS)
    for row in conn.execute(sa.text(f"SELECT {columns} FROM addendum WHERE 1 = 1{clause}").bindparams(*binds), params).mappings():
        seen.addenda[norm("id", row["id"])] = addendum_hash(row)


SIGN_ACTIONS = ("meeting.sign", "meeting.cosign", "meeting.addendum", "integrity.backfill", "seed")


@dataclass
class _Entry:
    seq: int | None
    action: str
    record_id: str | None
    details: dict[str, Any]
    entry_id: str


def _match_entries(report: VerifyReport, seen: _Seen, entries: list[_Entry]) -> None:
    """Every signature, co-signature and addendum against the audit entry that sealed it, both ways."""
    problems = report.record_problems

    def entry_name(e: _Entry) -> str:
        return f"audit entry seq {e.seq}" if e.seq is not None else f"audit entry {e.entry_id}"

    bulk: dict[str, _Entry] = {}
    signed_by_entry: dict[str, list[_Entry]] = {}
    cosigned_by_entry: dict[str, list[_Entry]] = {}
    addendum_entries: dict[str, _Entry] = {}
    legacy_addenda: set[str] = set()
    for e in entries:
        if e.action in ("integrity.backfill", "seed") and e.details.get("digest"):
            bulk[str(e.details.get("anchor") or e.entry_id)] = e
            legacy_addenda.update(str(a) for a in e.details.get("addenda") or ())
        elif e.action == "meeting.sign" and e.record_id:
            signed_by_entry.setdefault(norm("id", e.record_id), []).append(e)
        elif e.action == "meeting.cosign" and e.record_id:
            cosigned_by_entry.setdefault(norm("id", e.record_id), []).append(e)
        elif e.action == "meeting.addendum" and e.record_id:
            addendum_entries[norm("id", e.record_id)] = e

    def meeting_what(key: str) -> str:
        date, group = seen.where.get(key, ("?", "?"))
        return f"meeting {key} ({date}, group {group})"

    groups: dict[str, list[str]] = {}
    # rows -> entries
    for key, (content, snap, anchor) in seen.meetings.items():
        if anchor:
            groups.setdefault(anchor, []).append(f"m:{key}:{content}:{snap}")
            continue
        sealed = [e for e in signed_by_entry.get(key, ()) if e.details.get("content_hash")]
        if not sealed:
            problems.append(RecordProblem(meeting_what(key), "signed, but no audit entry sealed this signature"))
        elif len(sealed) > 1:
            problems.append(RecordProblem(meeting_what(key), f"signed {len(sealed)} times in the audit log (re-sealed?)"))
    for key, (digest, anchor) in seen.cosigns.items():
        if anchor:
            groups.setdefault(anchor, []).append(f"c:{key}:{digest}")
            continue
        found = [e for e in cosigned_by_entry.get(key, ()) if e.details.get("cosign_hash")]
        if not found:
            problems.append(RecordProblem(meeting_what(key), "co-signed, but no audit entry sealed this co-signature"))
        elif len(found) > 1:
            problems.append(RecordProblem(meeting_what(key), f"co-signed {len(found)} times in the audit log"))
    for key, digest in seen.addenda.items():
        if key in legacy_addenda:
            for anchor, e in bulk.items():
                if key in (e.details.get("addenda") or ()):
                    groups.setdefault(anchor, []).append(f"a:{key}:{digest}")
            continue
        e = addendum_entries.get(key)
        if e is None or not e.details.get("addendum_hash"):
            problems.append(RecordProblem(f"addendum {key}", "no audit entry sealed this addendum"))
        elif e.details["addendum_hash"] != digest:
            problems.append(RecordProblem(f"addendum {key}", "changed since it was written (its hash no longer matches)"))
    # entries -> rows
    for key, found in signed_by_entry.items():
        row = seen.meetings.get(key)
        for e in found:
            sealed_hash = e.details.get("content_hash")
            if row is None:
                problems.append(RecordProblem(entry_name(e), f"signed meeting {key}, which is no longer signed or no longer exists"))
            elif sealed_hash and sealed_hash != row[0]:
                problems.append(RecordProblem(entry_name(e), f"sealed meeting {key} with a content hash it no longer has"))
            elif sealed_hash and e.details.get("snapshot_hash") and e.details["snapshot_hash"] != row[1]:
                problems.append(RecordProblem(entry_name(e), f"sealed meeting {key} with a snapshot it no longer has"))
    for key, found in cosigned_by_entry.items():
        row = seen.cosigns.get(key)
        for e in found:
            sealed_hash = e.details.get("cosign_hash")
            if row is None:
                problems.append(RecordProblem(entry_name(e), f"co-signed meeting {key}, which is no longer co-signed"))
            elif sealed_hash and sealed_hash != row[0]:
                problems.append(RecordProblem(entry_name(e), f"co-signed meeting {key} differently than it now shows"))
    for key, e in addendum_entries.items():
        if key not in seen.addenda:
            problems.append(RecordProblem(entry_name(e), f"recorded addendum {key}, which no longer exists"))
    for key in legacy_addenda:
        if key not in seen.addenda:
            problems.append(RecordProblem(f"addendum {key}", "anchored at the upgrade to snapshots, but no longer exists"))
    # batches anchored by one entry (the upgrade to snapshots, the demo seed)
    for anchor, lines in groups.items():
        e = bulk.get(anchor)
        if e is None:
            problems.append(RecordProblem(f"anchor {anchor}", f"{len(lines)} record(s) point to an audit entry that does not exist"))
        elif bulk_digest(lines) != e.details.get("digest"):
            problems.append(RecordProblem(entry_name(e), "the records it anchors were changed, added or removed since"))
    for anchor, e in bulk.items():
        if anchor not in groups and (e.details.get("meetings") or e.details.get("addenda")):
            problems.append(RecordProblem(entry_name(e), "every record it anchored is gone"))


def audit_rows(conn: Any, after: int | None = None) -> Iterable[Mapping[str, Any]]:
    """Audit entries in chain order (NULL seq last); ``after``: only those after that seq (and unchained ones)."""
    import sqlalchemy as sa

    where = "" if after is None else f" WHERE seq > {int(after)} OR seq IS NULL"
    stmt = sa.text(
        "SELECT id, seq, occurred_at, actor, action, record_type, record_id, details, prev_hash, entry_hash "
        f"FROM audit_event{where} ORDER BY CASE WHEN seq IS NULL THEN 1 ELSE 0 END, seq, occurred_at"
    )
    return conn.execute(stmt).mappings()


WATCHED = (*SIGN_ACTIONS, checkpoints.ACTION)
BULK = ("integrity.backfill", "seed")


@dataclass
class _Walk:
    """What the audit chain's walk collects for matching (entries of interest, hashes at positions)."""

    positions: set[int] = field(default_factory=set)
    entries: list[_Entry] = field(default_factory=list)
    hashes: dict[int, str] = field(default_factory=dict)
    last_seq: int = 0

    def watch(self, rows: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
        from iop_facilitator import audit_chain

        for row in rows:
            seq = row["seq"]
            if row["action"] in WATCHED:
                self.entries.append(
                    _Entry(seq, row["action"], row["record_id"], audit_chain.plain_details(row["details"]) or {},
                           norm("id", row["id"]))
                )
            if seq is not None:
                self.last_seq = max(self.last_seq, int(seq))
                if seq in self.positions:
                    self.hashes[int(seq)] = row["entry_hash"] or ""
            yield row


def _counts(conn: Any) -> dict[str, int]:
    return {
        "meetings": _count(conn, f"SELECT count(*) FROM meeting WHERE {SIGNED_OR_HASHED}"),
        "snapshots": _count(conn, "SELECT count(*) FROM signed_snapshot"),
        "cosignatures": _count(conn, "SELECT count(*) FROM signed_cosign"),
        "addenda": _count(conn, "SELECT count(*) FROM addendum"),
    }


def verify_database(
    database: Database,
    *,
    anchor: Anchor | None = None,
    key: bytes | None = None,
    full: bool = True,
    checkpoint: bool = False,
    progress: Progress | None = None,
    history_settle: dt.timedelta = checkpoints.HISTORY_SETTLE,
) -> VerifyReport:
    """Check the database's signed records and audit chain; reads only, unless ``checkpoint``.

    ``full``: recompute every signed meeting's hash and snapshot, match every signature,
    co-signature and addendum with the audit entry that sealed it (both ways), check the whole
    audit chain, every verify checkpoint and the row history they digested. Otherwise, when a
    checkpoint exists (and its chain holds), only what was written after the newest one: the
    checkpoint chain, the audit chain from the checkpoint's position (that entry recomputed),
    every record sealed by the new entries, counts of signed records against the checkpoint's
    plus the new ones, and the row history written since (see README, "Record integrity").

    ``anchor`` (a stored :class:`Anchor`) is checked against the chain. ``checkpoint``: when
    nothing is wrong and the database is writable, append a checkpoint (and its audit entry)
    recording what was verified, in one transaction after the reads.
    """
    report = VerifyReport()
    seen = _Seen()
    walk = _Walk()
    with database.engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for every read
            conn.execution_options(isolation_level="REPEATABLE READ")
        history = conn.dialect.has_table(conn, "verify_checkpoint")
        chain = checkpoints.read_all(conn) if history else []
        for seq, problem in checkpoints.chain_problems(chain):
            report.record_problems.append(RecordProblem(f"verify checkpoint {seq}", problem))
        last = chain[-1] if chain else None
        incremental = not full and last is not None and report.ok
        if incremental:
            incremental = _verify_since(conn, report, seen, walk, last, anchor)
            if not incremental:  # a bulk anchor since the checkpoint: start again, whole
                report, seen, walk = VerifyReport(), _Seen(), _Walk()
        if not incremental:
            _verify_everything(conn, report, seen, walk, chain, anchor, progress)
        report.mode = "incremental" if incremental else "full"
        report.since_checkpoint = last.seq if incremental and last is not None else None
        _match_entries(report, seen, walk.entries)
        if anchor is not None:
            hash_at = walk.hashes.get(anchor.entries)
            if hash_at is None and anchor.entries <= walk.last_seq:
                hash_at = _entry_hash_at(conn, anchor.entries)
            _check_anchor(report, anchor, hash_at, key)
        values = None
        if history:
            values = _history_and_values(conn, report, chain if not incremental else [last], walk, incremental,
                                         history_settle)
    if checkpoint and report.ok and values is not None:
        _write_checkpoint(database, report, values)
    return report


def _entry_hash_at(conn: Any, seq: int) -> str | None:
    import sqlalchemy as sa

    row = conn.execute(sa.text("SELECT entry_hash FROM audit_event WHERE seq = :seq"), {"seq": seq}).first()
    return (row[0] or "") if row is not None else None


def _verify_everything(
    conn: Any, report: VerifyReport, seen: _Seen, walk: _Walk, chain: list[checkpoints.Checkpoint],
    anchor: Anchor | None, progress: Progress | None,
) -> None:
    from iop_facilitator import audit_chain

    verify_meetings(conn, report, seen, progress=progress)
    _verify_cosigns(conn, report, seen)
    _verify_addenda(conn, seen)
    report.addenda_checked = len(seen.addenda)
    walk.positions = {cp.audit_seq for cp in chain} | ({anchor.entries} if anchor is not None else set())
    count, head, problems = audit_chain.verify_rows(walk.watch(audit_rows(conn)))
    report.audit_entries, report.audit_head, report.audit_problems = count, head, problems
    report.entries_checked = count
    for cp in chain:  # every checkpoint still describes the chain it verified
        if cp.audit_seq and walk.hashes.get(cp.audit_seq) != cp.audit_head:
            report.record_problems.append(RecordProblem(
                f"verify checkpoint {cp.seq}", f"audit entry seq {cp.audit_seq} is not the one it verified (the log was rewritten)"
            ))
    _match_checkpoint_entries(report, walk.entries, chain, every=True)


def _verify_since(
    conn: Any, report: VerifyReport, seen: _Seen, walk: _Walk, cp: checkpoints.Checkpoint, anchor: Anchor | None,
) -> bool:
    """Check what was written after checkpoint ``cp``; False when that needs a full verification."""
    import sqlalchemy as sa

    from iop_facilitator import audit_chain

    problems = report.record_problems
    what = f"verify checkpoint {cp.seq}"
    if cp.audit_seq:
        row = conn.execute(
            sa.text("SELECT id, seq, occurred_at, actor, action, record_type, record_id, details, prev_hash, entry_hash "
                    "FROM audit_event WHERE seq = :seq"), {"seq": cp.audit_seq}
        ).mappings().first()
        if row is None:
            problems.append(RecordProblem(what, f"audit entry seq {cp.audit_seq}, the last it verified, no longer exists"))
        else:
            recomputed = audit_chain.entry_hash(
                row["seq"], row["occurred_at"], row["actor"], row["action"], row["record_type"], row["record_id"],
                row["details"], row["prev_hash"] or "",
            )
            if recomputed != cp.audit_head or (row["entry_hash"] or "") != cp.audit_head:
                problems.append(RecordProblem(what, f"audit entry seq {cp.audit_seq} changed after it verified it"))
    walk.positions = {anchor.entries} if anchor is not None else set()
    walk.last_seq = cp.audit_seq
    count, head, chain_problems = audit_chain.verify_rows(
        walk.watch(audit_rows(conn, after=cp.audit_seq)), start_seq=cp.audit_seq + 1,
        prev_hash=cp.audit_head or audit_chain.GENESIS,
    )
    if any(e.action in BULK and e.details.get("digest") for e in walk.entries):
        return False
    report.audit_problems = chain_problems
    report.entries_checked = count
    report.audit_entries = cp.audit_seq + count
    report.audit_head = head if count else cp.audit_head
    signed = {norm("id", e.record_id) for e in walk.entries if e.action == "meeting.sign" and e.record_id}
    cosigned = {norm("id", e.record_id) for e in walk.entries if e.action == "meeting.cosign" and e.record_id}
    added = {norm("id", e.record_id) for e in walk.entries if e.action == "meeting.addendum" and e.record_id}
    verify_meetings(conn, report, seen, only=signed)
    _verify_cosigns(conn, report, seen, only=cosigned)
    _verify_addenda(conn, seen, only=added)
    report.addenda_checked = len(seen.addenda)
    now = _counts(conn)
    expected = {
        "meetings": cp.meetings + len(seen.meetings), "snapshots": cp.snapshots + report.snapshots_checked,
        "cosignatures": cp.cosignatures + len(seen.cosigns), "addenda": cp.addenda + len(seen.addenda),
    }
    names = {"meetings": "signed meeting(s)", "snapshots": "signed snapshot(s)", "cosignatures": "co-signature(s)",
             "addenda": "addend(a)"}
    for kind, want in expected.items():
        if now[kind] != want:
            problems.append(RecordProblem(
                what, f"{now[kind]} {names[kind]} now, {want} expected from it and the audit entries since "
                "(added or removed without an audit entry; iop db verify --full names them)"
            ))
    report.counts = now
    _match_checkpoint_entries(report, walk.entries, [cp], every=False)
    return True


def _match_checkpoint_entries(
    report: VerifyReport, entries: list[_Entry], chain: list[checkpoints.Checkpoint], *, every: bool
) -> None:
    """``verify.checkpoint`` entries against the checkpoints they recorded (both ways)."""
    problems = report.record_problems
    by_seq = {cp.seq: cp for cp in chain}
    newest = chain[-1].seq if chain else 0
    recorded: set[int] = set()
    for e in entries:
        if e.action != checkpoints.ACTION:
            continue
        number = e.details.get("checkpoint")
        name = f"audit entry seq {e.seq}" if e.seq is not None else f"audit entry {e.entry_id}"
        cp = by_seq.get(number) if isinstance(number, int) else None
        if cp is None:
            if every or (isinstance(number, int) and number > newest):
                problems.append(RecordProblem(name, f"records verify checkpoint {number}, which no longer exists"))
            continue
        recorded.add(cp.seq)
        if e.details.get("hash") != cp.checkpoint_hash:
            problems.append(RecordProblem(name, f"records verify checkpoint {cp.seq} with a hash it no longer has"))
    for cp in chain:
        if cp.seq not in recorded:
            problems.append(RecordProblem(f"verify checkpoint {cp.seq}", "has no audit entry (written outside the app?)"))


def _history_and_values(
    conn: Any, report: VerifyReport, chain: list[checkpoints.Checkpoint], walk: _Walk, incremental: bool,
    settle: dt.timedelta,
) -> dict[str, Any]:
    """Check the row history against the checkpoints, and the values of the next checkpoint."""
    from iop_facilitator import clock

    last = chain[-1] if chain else None
    cut = norm("dt", checkpoints.database_now(conn) - settle)
    if last is not None and last.history_cut is not None and cut < last.history_cut:
        cut = last.history_cut
    if incremental and last is not None:
        before = checkpoints.history_count_before(conn, last.history_cut)
        if before != last.history_rows:
            report.record_problems.append(RecordProblem(
                f"verify checkpoint {last.seq}",
                f"the row history written before it has {before} rows, it counted {last.history_rows} (changed behind the app)",
            ))
        rows, digest = checkpoints.history_segment(checkpoints.history_rows(conn, last.history_cut, cut))
        total, chained = last.history_rows + rows, checkpoints.chain_digest(last.history_digest, digest)
    else:
        total, chained = _history_everything(conn, report, chain, cut)
    counts = report.counts or _counts(conn)
    return {
        "mode": report.mode, "verified_at": norm("dt", clock.utcnow()),
        "audit_seq": walk.last_seq if report.audit_entries else 0, "audit_head": report.audit_head,
        **counts, "history_cut": cut, "history_rows": total, "history_digest": chained,
    }


def _history_everything(
    conn: Any, report: VerifyReport, chain: list[checkpoints.Checkpoint], cut: str
) -> tuple[int, str]:
    """Recompute the row-history digest of every checkpoint's segment, then up to ``cut``."""
    import hashlib

    marks = [(cp.history_cut or "", cp) for cp in chain] + [(cut, None)]
    index, total, chained = 0, 0, ""
    digest, rows = hashlib.sha256(), 0
    for row in checkpoints.history_rows(conn, None, cut):
        stamp = norm("dt", row[6])
        while index < len(marks) - 1 and stamp >= marks[index][0]:
            total, chained = total + rows, checkpoints.chain_digest(chained, digest.hexdigest())
            _compare_history(report, marks[index][1], total, chained)
            digest, rows, index = hashlib.sha256(), 0, index + 1
        digest.update(checkpoints.history_line(row))
        rows += 1
    while index < len(marks) - 1:
        total, chained = total + rows, checkpoints.chain_digest(chained, digest.hexdigest())
        _compare_history(report, marks[index][1], total, chained)
        digest, rows, index = hashlib.sha256(), 0, index + 1
    return total + rows, checkpoints.chain_digest(chained, digest.hexdigest())


def _compare_history(report: VerifyReport, cp: checkpoints.Checkpoint | None, total: int, chained: str) -> None:
    if cp is not None and (total != cp.history_rows or chained != cp.history_digest):
        report.record_problems.append(RecordProblem(
            f"verify checkpoint {cp.seq}", "the row history written before it was changed, added to or removed from"
        ))


def _write_checkpoint(database: Database, report: VerifyReport, values: dict[str, Any]) -> None:
    if getattr(database, "read_only", None):
        report.checkpoint_note = "not recorded: the database is read-only"
        return
    from iop_facilitator.db.failures import storage_error
    from iop_facilitator.errors import DatabaseProblem

    try:
        with database.begin() as session:
            written = checkpoints.write(session, values)
    except DatabaseProblem as exc:  # a full disk, a read-only mount: the verification still stands
        report.checkpoint_note = f"not recorded: {exc}"
        return
    except Exception as exc:
        problem = storage_error(exc, writing=True)
        if problem is None:
            raise
        report.checkpoint_note = f"not recorded: {problem}"
        return
    if written is None:
        report.checkpoint_note = "not recorded: a newer verification already recorded more"
    else:
        report.checkpoint_written = written.seq


def _check_anchor(report: VerifyReport, anchor: Anchor, hash_at: str | None, key: bytes | None) -> None:
    import hmac

    problems = report.record_problems
    if anchor.mac:
        if key is None:
            problems.append(RecordProblem("anchor", "the stored anchor is keyed (HMAC): give the key to check it"))
            return
        if not hmac.compare_digest(anchor.mac, Anchor.mac_for(anchor.entries, anchor.head, key)):
            problems.append(RecordProblem("anchor", "the stored anchor's HMAC does not match (wrong key, or a forged anchor)"))
            return
    if report.audit_entries < anchor.entries:
        problems.append(
            RecordProblem("anchor", f"the audit log has {report.audit_entries} entries, fewer than the {anchor.entries} anchored (entries removed)")
        )
    elif hash_at != anchor.head:
        problems.append(
            RecordProblem("anchor", f"audit entry seq {anchor.entries} is not the one anchored (the log was rewritten)")
        )
    else:
        report.anchor_checked = True
