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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iop_facilitator.services.canonical import (
    ADDENDUM_FIELDS,
    CANON_VERSION,
    CANON_VERSION_SNAPSHOT,
    MEETING_FIELDS,
    PARTS,
    SIGNED_MEMBER_FIELDS,
    SNAPSHOT_FIELDS,
    SNAPSHOT_SOURCES,
    StorageHasher,
    addendum_hash,
    bulk_digest,
    canonical_bytes,
    cosign_hash,
    hash_bytes,
    hash_content,
    norm,
    snapshot_hash,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from iop_facilitator.db.engine import Database
    from iop_facilitator.models import GroupMeeting

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
        return (
            f"{self.meetings_checked} signed meeting(s) and their snapshots match their signature hashes "
            f"and audit entries ({self.cosignatures_checked} co-signature(s), {self.addenda_checked} addend(a)); "
            f"{self.audit_entries} audit entries form an unbroken chain{head}{anchored}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
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


def verify_meetings(conn: Any, report: VerifyReport, seen: _Seen | None = None) -> None:
    """Recompute every signed (or hashed) meeting's hash and snapshot; record mismatches in ``report``."""
    import sqlalchemy as sa

    seen = seen if seen is not None else _Seen()
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
        snaps = _snapshots(conn, batch)
        for meeting in _meeting_rows(conn, batch):
            report.meetings_checked += 1
            key = norm("id", meeting["id"])
            seen.where[key] = (norm("date", meeting["local_date"]), norm("id", meeting["group_id"]))
            problems = []
            stored = meeting["content_hash"]
            status = norm("str", meeting["status"])
            snap = snaps.get(key)
            if snap is None:
                problems.append("signed but has no signed snapshot")
            else:
                report.snapshots_checked += 1
                if snap.computed != snap.stored:
                    problems.append("the signed snapshot (names, goals, settings as signed) no longer matches its hash")
            if not stored:
                problems.append("signed but has no content hash")
            elif status != "signed" or meeting["signed_at"] is None:
                problems.append("has a signature hash but is no longer marked signed")
            else:
                sealed = snap.computed if snap is not None and snap.sealed else None
                if fast is not None:
                    row = tuple(meeting[name] for name, _ in MEETING_FIELDS)
                    digest = hasher(row, sealed, **{k: rows.get(key, ()) for k, rows in raw_parts.items()})
                else:
                    digest = hash_content(meeting, **parts[key], snapshot_hash=sealed)
                if digest != stored:
                    problems.append("content no longer matches the hash taken at signing")
            seen.meetings[key] = (stored or "", snap.stored if snap else "", snap.anchor_id if snap else None)
            for problem in problems:
                report.meeting_problems.append(MeetingProblem(key, *seen.where[key], problem))


def _verify_cosigns(conn: Any, report: VerifyReport, seen: _Seen) -> None:
    import sqlalchemy as sa

    frozen = {}
    for row in conn.execute(
        sa.text(
            "SELECT meeting_id, cosigner_id, cosigner_name, cosigner_credentials, cosigned_at, cosign_hash, anchor_id "
            "FROM signed_cosign"
        )
    ).mappings():
        frozen[norm("id", row["meeting_id"])] = dict(row)
    cosigned = {
        norm("id", r["id"]): dict(r)
        for r in conn.execute(
            sa.text(
                "SELECT id, local_date, group_id, cosigned_by_id, cosigned_at, cosigner_credentials FROM meeting "
                "WHERE cosigned_at IS NOT NULL OR cosigned_by_id IS NOT NULL"
            )
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


def _verify_addenda(conn: Any, seen: _Seen) -> None:
    import sqlalchemy as sa

    columns = ", ".join(name for name, _ in ADDENDUM_FIELDS)
    for row in conn.execute(sa.text(f"SELECT {columns} FROM addendum")).mappings():
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
            mid = row[0] if type(row[0]) is str and len(row[0]) == 32 else norm("id", row[0])
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


def verify_database(database: Database, *, anchor: Anchor | None = None, key: bytes | None = None) -> VerifyReport:
    """Recompute every signed meeting's hash and snapshot, match every signature, co-signature and
    addendum with the audit entry that sealed it (both ways), check the whole audit chain and,
    given a stored ``anchor``, that the chain still holds it (reads only)."""
    from iop_facilitator import audit_chain

    report = VerifyReport()
    seen = _Seen()
    entries: list[_Entry] = []
    at_anchor: dict[str, Any] = {}

    def watch(rows: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
        for row in rows:
            if row["action"] in SIGN_ACTIONS:
                entries.append(
                    _Entry(row["seq"], row["action"], row["record_id"], audit_chain.plain_details(row["details"]) or {},
                           norm("id", row["id"]))
                )
            if anchor is not None and row["seq"] == anchor.entries:
                at_anchor["hash"] = row["entry_hash"]
            yield row

    with database.engine.connect() as conn:
        verify_meetings(conn, report, seen)
        _verify_cosigns(conn, report, seen)
        _verify_addenda(conn, seen)
        report.addenda_checked = len(seen.addenda)
        count, head, problems = audit_chain.verify_rows(watch(audit_rows(conn)))
    report.audit_entries, report.audit_head, report.audit_problems = count, head, problems
    _match_entries(report, seen, entries)
    if anchor is not None:
        _check_anchor(report, anchor, at_anchor.get("hash"), key)
    return report


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
