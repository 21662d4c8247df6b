"""The signed snapshot: what a signed meeting shows and bills, frozen when it is signed.

A signed meeting's own rows (attendance, notes, stories, safety events) are locked by
the database. Everything else its record shows comes from tables that stay editable
(member names and chart ids, goal texts, staff names and credentials, the group's
settings, the program's timezone, service codes and notice), so signing copies those
values into ``signed_snapshot`` and ``signed_member`` (:func:`take`), and every
export of a signed meeting renders from them (:func:`load`), never from live tables.
The snapshot's hash is sealed inside the meeting's content hash
(``services.canonical``, ``services.integrity``), so ``iop db verify`` covers it.

Co-signing freezes the co-signer's name and credentials in ``signed_cosign``
(:func:`take_cosign`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from iop_facilitator.clock import to_local
from iop_facilitator.models import (
    Attendance,
    Goal,
    Group,
    GroupMeeting,
    Member,
    ProgressNote,
    SignedCosign,
    SignedMember,
    SignedSnapshot,
    Staff,
)
from iop_facilitator.services import canonical
from iop_facilitator.services.billing import service_codes


def disclosure_version(notice: str) -> str:
    """A short, stable version of the disclosure notice text (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(" ".join((notice or "").split()).encode("utf-8")).hexdigest()[:16]


def local_minute(value: dt.datetime | None, tz: str) -> str:
    local = to_local(value, tz)
    return local.format("YYYY-MM-DD HH:mm") if local else ""


def topic_title(topic_id: str | None) -> str:
    if not topic_id:
        return ""
    try:
        from iop_facilitator.library.load import load_library

        loaded = load_library().topics.get(topic_id)
    except Exception:  # noqa: BLE001 - a broken library must not stop signing; the id and hash identify the guide
        return ""
    return loaded.topic.title if loaded is not None else ""


def _value(v: Any) -> str:
    return str(getattr(v, "value", v) or "")


def take(
    session: Session,
    meeting: GroupMeeting,
    *,
    signer: Staff,
    source: str = "signing",
    title: str | None = None,
) -> tuple[SignedSnapshot, list[SignedMember]]:
    """Build (and add to ``session``) the snapshot of ``meeting`` as it is being signed.

    Reads the reference data as it stands inside the signing transaction: the
    program settings, the group, the facilitators, every member with an
    attendance row and the goals their notes address.
    """
    from iop_facilitator.services.settings import get_settings

    program = get_settings(session)
    group = session.get(Group, meeting.group_id)
    staff_ids = {i for i in (meeting.facilitator_id, meeting.co_facilitator_id) if i}
    staff = {s.id: s for s in session.exec(select(Staff).where(col(Staff.id).in_(staff_ids)))} if staff_ids else {}
    lead, co = staff.get(meeting.facilitator_id), staff.get(meeting.co_facilitator_id)
    level = _value(group.level_of_care) if group else ""
    modality = _value(meeting.modality)
    codes = service_codes(program.service_codes or {}, level_of_care=level, modality=modality, attended=True)
    snap = SignedSnapshot(
        meeting_id=meeting.id,
        source=source,
        clinic_name=program.clinic_name,
        timezone=program.timezone,
        disclosure_version=disclosure_version(program.disclosure_notice),
        group_name=group.name if group else "",
        group_type=_value(group.group_type) if group else "",
        level_of_care=level,
        audience=_value(group.audience) if group else "",
        modality=modality,
        location=meeting.location or "",
        local_start=local_minute(meeting.actual_start, program.timezone),
        local_end=local_minute(meeting.actual_end, program.timezone),
        facilitator_name=lead.name if lead else "",
        facilitator_credentials=lead.credentials if lead else "",
        co_facilitator_name=co.name if co else "",
        co_facilitator_credentials=co.credentials if co else "",
        signer_name=signer.name,
        requires_cosign=bool(signer.requires_cosign or (lead is not None and lead.requires_cosign)),
        topic_title=topic_title(meeting.topic_id) if title is None else title,
        service_code=" ".join(codes),
    )
    rows = session.exec(
        select(Attendance.member_id, Member.display_name, Member.external_chart_id)
        .join(Member, col(Member.id) == col(Attendance.member_id))
        .where(Attendance.meeting_id == meeting.id)
    ).all()
    notes = {
        n.member_id: n for n in session.exec(select(ProgressNote).where(ProgressNote.meeting_id == meeting.id))
    }
    wanted: set[uuid.UUID] = set()
    for note in notes.values():
        for g in note.goal_ids or ():
            try:
                wanted.add(uuid.UUID(str(g)))
            except ValueError:
                continue
    goals = {str(g.id): g for g in session.exec(select(Goal).where(col(Goal.id).in_(wanted)))} if wanted else {}
    members = []
    for member_id, name, chart in rows:
        note = notes.get(member_id)
        picked = [goals[str(g)] for g in (note.goal_ids if note else ()) if str(g) in goals]
        members.append(
            SignedMember(
                meeting_id=meeting.id,
                member_id=member_id,
                display_name=name,
                chart_id=chart,
                goals=[[str(g.id), g.position, g.text] for g in picked],
            )
        )
    snap.snapshot_hash = canonical.snapshot_hash(_mapping(snap), [_mapping(m) for m in members])
    session.add(snap)
    session.add_all(members)
    return snap, members


def take_cosign(session: Session, meeting: GroupMeeting, person: Staff, at: dt.datetime, credentials: str) -> SignedCosign:
    row = SignedCosign(
        meeting_id=meeting.id, cosigner_id=person.id, cosigner_name=person.name,
        cosigner_credentials=credentials, cosigned_at=at,
    )
    row.cosign_hash = canonical.cosign_hash(_mapping(row))
    session.add(row)
    return row


def _mapping(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__class__.model_fields}


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class SnapshotMember:
    display_name: str
    chart_id: str | None
    goals: tuple[tuple[str, int, str], ...]


@dataclass(frozen=True)
class Snapshot:
    """A signed meeting's frozen values (plain data; no ORM object leaves :func:`load`)."""

    meeting_id: uuid.UUID
    source: str
    clinic_name: str
    timezone: str
    disclosure_version: str
    group_name: str
    group_type: str
    level_of_care: str
    audience: str
    modality: str
    location: str
    local_start: str
    local_end: str
    facilitator_name: str
    facilitator_credentials: str
    co_facilitator_name: str
    co_facilitator_credentials: str
    signer_name: str
    requires_cosign: bool
    topic_title: str
    service_code: str
    members: dict[uuid.UUID, SnapshotMember]
    cosigner_name: str | None = None
    cosigner_credentials: str | None = None


def load(session: Session, meeting_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Snapshot]:
    """The snapshots of the given meetings (signed ones have one), by meeting id."""
    ids = list(meeting_ids)
    if not ids:
        return {}
    members: dict[uuid.UUID, dict[uuid.UUID, SnapshotMember]] = {}
    for m in session.exec(select(SignedMember).where(col(SignedMember.meeting_id).in_(ids))):
        members.setdefault(m.meeting_id, {})[m.member_id] = SnapshotMember(
            m.display_name, m.chart_id, tuple((str(g[0]), int(g[1]), str(g[2])) for g in (m.goals or ()))
        )
    cosigns = {c.meeting_id: c for c in session.exec(select(SignedCosign).where(col(SignedCosign.meeting_id).in_(ids)))}
    out = {}
    for s in session.exec(select(SignedSnapshot).where(col(SignedSnapshot.meeting_id).in_(ids))):
        c = cosigns.get(s.meeting_id)
        out[s.meeting_id] = Snapshot(
            meeting_id=s.meeting_id, source=s.source, clinic_name=s.clinic_name, timezone=s.timezone,
            disclosure_version=s.disclosure_version, group_name=s.group_name, group_type=s.group_type,
            level_of_care=s.level_of_care, audience=s.audience, modality=s.modality, location=s.location,
            local_start=s.local_start, local_end=s.local_end, facilitator_name=s.facilitator_name,
            facilitator_credentials=s.facilitator_credentials, co_facilitator_name=s.co_facilitator_name,
            co_facilitator_credentials=s.co_facilitator_credentials, signer_name=s.signer_name,
            requires_cosign=bool(s.requires_cosign), topic_title=s.topic_title, service_code=s.service_code,
            members=members.get(s.meeting_id, {}),
            cosigner_name=c.cosigner_name if c else None,
            cosigner_credentials=c.cosigner_credentials if c else None,
        )
    return out


def awaiting_cosign(snapshot: Snapshot | None, cosigned_at: dt.datetime | None) -> bool:
    """Signed with a co-signature required at signing, and none yet."""
    return bool(snapshot is not None and snapshot.requires_cosign and cosigned_at is None)

