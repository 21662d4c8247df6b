"""Tamper evidence: the canonical content of a signed meeting, its hash, and ``iop db verify``.

Signing stores ``GroupMeeting.content_hash`` = SHA-256 of :func:`canonical_bytes`:
compact JSON of the meeting's clinical fields, its attendance, individualized
progress notes, story notes and safety events. Each row is an array of its
values in the fixed field order below (:data:`MEETING_FIELDS` etc., format
version :data:`CANON_VERSION`); rows are sorted by id. Left out: ``created_at``/``updated_at``/``version`` (bookkeeping),
``flow_step`` (where the app's screen stood), the co-signature (added after
signing) and the hash itself. Addenda are separate, append-only rows.

Values are normalised to one form whatever produced them: ORM objects, raw
driver rows from SQLite or PostgreSQL, or the seeder's storage-form tuples
(UUID -> 32 hex digits, datetime -> ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC, date ->
ISO, JSON text -> parsed, booleans -> 0/1). So the seeder hashes its
generated rows with the same function the verifier uses on the database.

This module imports only the standard library at load time (the seeder's
generator must stay free of SQLAlchemy); the database functions import it lazily.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from iop_facilitator.db.engine import Database
    from iop_facilitator.models import GroupMeeting

CANON_VERSION = 1

# (column, kind) of each part of the canonical content, per table.
MEETING_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("group_id", "id"), ("local_date", "date"), ("scheduled_start", "dt"),
    ("scheduled_end", "dt"), ("actual_start", "dt"), ("actual_end", "dt"), ("modality", "str"),
    ("location", "str"), ("facilitator_id", "id"), ("co_facilitator_id", "id"), ("topic_id", "str"),
    ("topic_version", "str"), ("topic_hash", "str"), ("status", "str"), ("group_narrative", "str"),
    ("note_format", "str"), ("homework", "str"), ("topic_notes", "str"), ("prompts_done", "json"),
    ("signed_by_id", "id"), ("signed_at", "dt"), ("signer_credentials", "str"),
)
ATTENDANCE_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("member_id", "id"), ("status", "str"), ("arrived_at", "dt"), ("left_at", "dt"),
    ("minutes_attended", "int"), ("drop_in", "bool"), ("checkin_mood", "int"), ("checkin_urge", "int"),
    ("checkin_feeling", "str"), ("safety_concern", "bool"), ("checkout_mood", "int"),
    ("checkout_takeaway", "str"),
)
PROGRESS_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("member_id", "id"), ("goal_ids", "json"), ("intervention", "str"),
    ("response", "str"), ("plan", "str"),
)
STORY_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("member_id", "id"), ("recorded_at", "dt"), ("text", "str"), ("author_id", "id"),
)
SAFETY_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("member_id", "id"), ("occurred_at", "dt"), ("concern", "str"), ("risk_level", "str"),
    ("disposition", "str"), ("disposition_at", "dt"), ("recorded_by_id", "id"),
)
PARTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    # canonical key: (table, fields)
    "attendance": ("attendance", ATTENDANCE_FIELDS),
    "progress_notes": ("progress_note", PROGRESS_FIELDS),
    "story_notes": ("story_note", STORY_FIELDS),
    "safety_events": ("safety_event", SAFETY_FIELDS),
}
_STORAGE = "%Y-%m-%d %H:%M:%S.%f"


# --------------------------------------------------------------------------- pure part


def _norm(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "str":
        return value.value if isinstance(value, enum.Enum) else str(value)
    if kind == "id":
        return value.hex if isinstance(value, uuid.UUID) else str(value).replace("-", "").lower()
    if kind == "dt":
        if isinstance(value, str):
            if len(value) == 26 and value[10] == " ":
                return value  # already the storage form
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime(_STORAGE)
    if kind == "date":
        return value if isinstance(value, str) else value.isoformat()
    if kind == "json":
        return json.loads(value) if isinstance(value, (str, bytes)) else value
    if kind == "bool":
        return 1 if value else 0
    if kind == "int":
        return int(value)
    raise ValueError(kind)  # pragma: no cover


def _row(values: Mapping[str, Any], fields: tuple[tuple[str, str], ...]) -> list[Any]:
    return [_norm(kind, values.get(name)) for name, kind in fields]


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _first(row: Sequence[Any]) -> Any:
    return row[0]


def canonical_bytes(
    meeting: Mapping[str, Any],
    attendance: Iterable[Mapping[str, Any]] = (),
    progress_notes: Iterable[Mapping[str, Any]] = (),
    story_notes: Iterable[Mapping[str, Any]] = (),
    safety_events: Iterable[Mapping[str, Any]] = (),
) -> bytes:
    """The canonical content of one meeting, from plain mappings of column -> value."""
    parts: dict[str, Iterable[Mapping[str, Any]]] = {
        "attendance": attendance, "progress_notes": progress_notes,
        "story_notes": story_notes, "safety_events": safety_events,
    }
    body: dict[str, Any] = {"v": CANON_VERSION, "meeting": _row(meeting, MEETING_FIELDS)}
    for key, rows in parts.items():
        fields = PARTS[key][1]
        body[key] = sorted((_row(r, fields) for r in rows), key=_first)
    return _dump(body)


def hash_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def hash_content(*args: Any, **kwargs: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_bytes` with the same arguments."""
    return hash_bytes(canonical_bytes(*args, **kwargs))


class StorageHasher:
    """:func:`hash_content` for rows already in SQLite storage form (the seeder's tuples), faster.

    Built once from the seeder's column lists (table -> column names). Storage
    form is already canonical for ids, datetimes, dates, text and integers, so
    only JSON text and 0/1 booleans are converted; the bytes hashed are the same
    as :func:`canonical_bytes` would produce (a test holds the two together).
    """

    def __init__(self, columns: Mapping[str, Sequence[str]], *, lenient: bool = False) -> None:
        """``lenient`` also normalises ids and datetimes not in storage form (rows read back
        from a database, which raw SQL may have written in another form)."""
        from functools import lru_cache
        from operator import itemgetter

        def picker(table: str, fields: tuple[tuple[str, str], ...]) -> tuple[Any, list[tuple[int, Any]]]:
            index = {name: i for i, name in enumerate(columns[table])}
            # The seeder repeats a few JSON texts (each member's goal choices): parse each once.
            convert: dict[str, Any] = {"json": lru_cache(maxsize=65536)(json.loads), "bool": lambda v: 1 if v else 0}
            if lenient:
                convert["dt"] = lambda v: v if type(v) is str and len(v) == 26 and v[10] == " " else _norm("dt", v)
                convert["id"] = lambda v: v if type(v) is str and len(v) == 32 else _norm("id", v)
                convert["json"] = lambda v: json.loads(v) if isinstance(v, (str, bytes)) else v
            get = itemgetter(*(index[name] for name, _ in fields))
            fixes = [(pos, convert[kind]) for pos, (_, kind) in enumerate(fields) if kind in convert]
            return get, fixes

        self._meeting = picker("meeting", MEETING_FIELDS)
        self._parts = {key: picker(table, fields) for key, (table, fields) in PARTS.items() if table in columns}

    @staticmethod
    def _row(pick: tuple[Any, list[tuple[int, Any]]], row: Sequence[Any]) -> Any:
        get, fixes = pick
        values = get(row)
        if not fixes:
            return values
        values = list(values)
        for pos, conv in fixes:
            if values[pos] is not None:
                values[pos] = conv(values[pos])
        return values

    def __call__(self, meeting: Sequence[Any], **parts: Iterable[Sequence[Any]]) -> str:
        body: dict[str, Any] = {"v": CANON_VERSION, "meeting": self._row(self._meeting, meeting)}
        for key in PARTS:
            rows = parts.get(key, ())
            pick = self._parts.get(key)
            body[key] = sorted((self._row(pick, r) for r in rows), key=_first) if pick else []
        return hashlib.sha256(_dump(body)).hexdigest()


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
            found[_norm("id", row["meeting_id"])][key].append(dict(row))
    return found


def _meeting_rows(conn: Any, meeting_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    extra = (("content_hash", "str"), ("status", "str"), ("signed_at", "dt"))
    fields = MEETING_FIELDS + tuple(f for f in extra if f not in MEETING_FIELDS)
    stmt = _select("meeting", fields, "id IN :ids").bindparams(sa.bindparam("ids", expanding=True, type_=sa.Uuid()))
    return [dict(r) for r in conn.execute(stmt, {"ids": meeting_ids}).mappings()]


def canonical_meeting(session: Session, meeting_id: uuid.UUID, **overrides: Any) -> bytes:
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
    parts = _load_parts(conn, [meeting_id])[_norm("id", meeting_id)]
    return canonical_bytes(meeting, **parts)


def meeting_hash(session: Session, meeting_id: uuid.UUID, **overrides: Any) -> str:
    return hash_bytes(canonical_meeting(session, meeting_id, **overrides))


def seal(
    session: Session,
    meeting: GroupMeeting,
    *,
    signer_id: uuid.UUID,
    signer_credentials: str,
    signed_at: dt.datetime,
) -> GroupMeeting:
    """Mark ``meeting`` signed (status, signer, time, credentials) with its content hash.

    Everything is set on the object at once, so it reaches the database as the
    one UPDATE the lock triggers allow (unsigned -> signed).
    """
    from iop_facilitator.enums import MeetingStatus

    utc = signed_at.astimezone(dt.UTC)
    signed_at = dt.datetime(  # a plain aware UTC datetime, as the database hands it back
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=dt.UTC
    )
    digest = meeting_hash(
        session, meeting.id, status=MeetingStatus.signed.value, signed_by_id=signer_id,
        signed_at=signed_at, signer_credentials=signer_credentials,
    )
    meeting.status = MeetingStatus.signed
    meeting.signed_by_id = signer_id
    meeting.signed_at = signed_at
    meeting.signer_credentials = signer_credentials
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


@dataclass
class VerifyReport:
    meetings_checked: int = 0
    audit_entries: int = 0
    audit_head: str = ""
    meeting_problems: list[MeetingProblem] = field(default_factory=list)
    audit_problems: list[Any] = field(default_factory=list)  # audit_chain.ChainProblem

    @property
    def ok(self) -> bool:
        return not self.meeting_problems and not self.audit_problems

    def lines(self) -> list[str]:
        return [p.line() for p in self.meeting_problems] + [p.line() for p in self.audit_problems]

    def summary(self) -> str:
        head = f", chain head {self.audit_head[:16]}" if self.audit_entries else ""
        return (
            f"{self.meetings_checked} signed meeting(s) match their signature hashes; "
            f"{self.audit_entries} audit entries form an unbroken chain{head}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "meetings_checked": self.meetings_checked,
            "audit_entries": self.audit_entries,
            "audit_head": self.audit_head,
            "meeting_problems": [vars(p) for p in self.meeting_problems],
            "audit_problems": [
                {"seq": p.seq, "entry_id": p.entry_id, "problem": p.problem} for p in self.audit_problems
            ],
        }


VERIFY_BATCH = 500


def verify_meetings(conn: Any, report: VerifyReport) -> None:
    """Recompute the hash of every signed (or hashed) meeting; record mismatches in ``report``."""
    import sqlalchemy as sa

    ids = [
        r[0]
        for r in conn.execute(
            sa.text(
                "SELECT id FROM meeting WHERE status = 'signed' OR signed_at IS NOT NULL "
                "OR content_hash IS NOT NULL ORDER BY local_date, id"
            ).columns(sa.column("id", sa.Uuid()))
        )
    ]
    fast = _sqlite_hasher() if conn.dialect.name == "sqlite" else None
    for start in range(0, len(ids), VERIFY_BATCH):
        batch = ids[start : start + VERIFY_BATCH]
        if fast is not None:
            hasher, raw_parts = fast, _load_parts_sqlite(conn, batch)
        else:
            parts = _load_parts(conn, batch)
        for meeting in _meeting_rows(conn, batch):
            report.meetings_checked += 1
            key = _norm("id", meeting["id"])
            problem = None
            stored = meeting["content_hash"]
            status = _norm("str", meeting["status"])
            if not stored:
                problem = "signed but has no content hash"
            elif status != "signed" or meeting["signed_at"] is None:
                problem = "has a signature hash but is no longer marked signed"
            else:
                if fast is not None:
                    row = tuple(meeting[name] for name, _ in MEETING_FIELDS)
                    digest = hasher(row, **{k: rows.get(key, ()) for k, rows in raw_parts.items()})
                else:
                    digest = hash_content(meeting, **parts[key])
                if digest != stored:
                    problem = "content no longer matches the hash taken at signing"
            if problem:
                report.meeting_problems.append(
                    MeetingProblem(key, _norm("date", meeting["local_date"]), _norm("id", meeting["group_id"]), problem)
                )


def _sqlite_hasher() -> StorageHasher:
    columns = {"meeting": [name for name, _ in MEETING_FIELDS]}
    columns.update({table: [name for name, _ in fields] for table, fields in PARTS.values()})
    return StorageHasher(columns, lenient=True)


def _load_parts_sqlite(conn: Any, meeting_ids: list[uuid.UUID]) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    """{part: {meeting hex: [raw row tuples]}}: SQLite's raw values are (almost always) the storage form."""
    found: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    marks = ", ".join("?" * len(meeting_ids))
    hexes = tuple(m.hex for m in meeting_ids)
    for key, (table, fields) in PARTS.items():
        columns = ", ".join(name for name, _ in fields)
        by_meeting: dict[str, list[tuple[Any, ...]]] = {}
        sql = f"SELECT meeting_id, {columns} FROM {table} WHERE meeting_id IN ({marks})"
        for row in conn.exec_driver_sql(sql, hexes):
            mid = row[0] if type(row[0]) is str and len(row[0]) == 32 else _norm("id", row[0])
            by_meeting.setdefault(mid, []).append(tuple(row)[1:])
        found[key] = by_meeting
    return found


def audit_rows(conn: Any) -> Iterable[Mapping[str, Any]]:
    import sqlalchemy as sa

    stmt = sa.text(
        "SELECT id, seq, occurred_at, actor, action, record_type, record_id, details, prev_hash, entry_hash "
        "FROM audit_event ORDER BY CASE WHEN seq IS NULL THEN 1 ELSE 0 END, seq, occurred_at"
    )
    return conn.execute(stmt).mappings()


def verify_database(database: Database) -> VerifyReport:
    """Recompute every signed meeting's hash and the whole audit chain (reads only)."""
    from iop_facilitator import audit_chain

    report = VerifyReport()
    with database.engine.connect() as conn:
        verify_meetings(conn, report)
        count, head, problems = audit_chain.verify_rows(audit_rows(conn))
    report.audit_entries, report.audit_head, report.audit_problems = count, head, problems
    return report
