"""Notes export as JSON: a stable, documented schema (``schema_version``), streamed.

Top level (in this order): ``schema_version``, ``kind``, ``program``, ``disclosure_notice``,
``exported_at`` (UTC, ISO 8601), ``timezone``, ``filters``, ``subject_member_id`` (set in
per-member files), ``records`` (one object per meeting, oldest first), ``record_count``.
Times inside records are local ISO 8601 with their UTC offset, in the program's timezone.
Unsigned meetings (only with ``--include-unsigned``) carry ``"draft": true`` and
``"signed": false``. ``signature_state`` is ``signed``, ``awaiting co-signature`` (signed,
a required supervisor co-signature not given yet; ``awaiting_cosign`` true) or
``unsigned``. ``snapshot`` (1.1) says where a signed meeting's names and settings come
from (``source``: ``signing``, ``seed`` or ``migration``), the disclosure notice's
version and the service code frozen at signing. Keys are only ever added in a minor
schema version; a renamed or removed key bumps the major version.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any

from iop_facilitator.exports.notes_data import (
    AddendumDoc,
    ExportContext,
    FactsDoc,
    MemberSection,
    NoteDocument,
    Person,
    SafetyDoc,
    Signature,
    local_iso,
)

SCHEMA_VERSION = "1.2"  # 1.2: note_sections (the note in its format) and facts, per member
KIND = "iop-facilitator.notes"


def _person(p: Person | None) -> dict[str, Any] | None:
    return None if p is None else {"id": p.id, "name": p.name, "credentials": p.credentials}


def _signature(s: Signature | None, tz: str) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"name": s.person.name, "staff_id": s.person.id, "credentials": s.credentials, "signed_at": local_iso(s.at, tz)}


def _addendum(a: AddendumDoc, tz: str) -> dict[str, Any]:
    return {
        "id": a.id,
        "member_id": a.member_id,
        "author": a.author.name if a.author else None,
        "author_credentials": a.credentials,
        "written_at": local_iso(a.written_at, tz),
        "reason": a.reason,
        "text": a.text,
    }


def _safety(e: SafetyDoc, tz: str) -> dict[str, Any]:
    return {
        "id": e.id,
        "member_id": e.member_id,
        "occurred_at": local_iso(e.occurred_at, tz),
        "concern": e.concern,
        "risk_level": e.risk_level,
        "disposition": e.disposition,
        "disposition_at": local_iso(e.disposition_at, tz),
    }


def _facts(facts: FactsDoc | None) -> dict[str, Any] | None:
    if facts is None:
        return None
    return {
        "participation": facts.participation,
        "affect": list(facts.affect),
        "presentation": facts.presentation,
        "risk_screen": facts.risk_screen,
        "safety_event_id": facts.safety_event_id,
        "substance_use": facts.substance_use,
        "use_detail": facts.use_detail,
        "goal_progress": [{"goal_id": g, "progress": p, "measure": m} for g, p, m in facts.goal_progress],
    }


def _member(m: MemberSection, tz: str) -> dict[str, Any]:
    return {
        "member_id": m.member_id,
        "display_name": m.display_name,
        "initials": m.initials,
        "chart_id": m.chart_id,
        "attendance": {
            "status": m.status,
            "attended": m.attended,
            "drop_in": m.drop_in,
            "arrived_at": local_iso(m.arrived_at, tz),
            "left_at": local_iso(m.left_at, tz),
            "minutes": m.minutes,
        },
        "checkin": {"mood": m.checkin_mood, "urge": m.checkin_urge, "feeling": m.checkin_feeling},
        "checkout": {"rating": m.checkout_mood, "takeaway": m.takeaway},
        "goals_addressed": [{"id": g.id, "position": g.position, "text": g.text} for g in m.goals],
        "intervention": m.intervention,
        "response": m.response,
        "plan": m.plan,
        "note_sections": [{"key": p.key, "heading": p.heading, "paragraphs": list(p.paragraphs)} for p in m.parts],
        "facts": _facts(m.facts),
        "session_notes": [{"recorded_at": local_iso(s.recorded_at, tz), "text": s.text} for s in m.stories],
        "addenda": [_addendum(a, tz) for a in m.addenda],
        "safety_events": [_safety(e, tz) for e in m.safety_events],
    }


def record(doc: NoteDocument) -> dict[str, Any]:
    """One meeting as a JSON-ready dict (the ``records[]`` item of the schema)."""
    tz = doc.timezone
    return {
        "meeting_id": doc.meeting_id,
        "draft": not doc.signed,
        "status": doc.status,
        "signed": doc.signed,
        "signature_state": doc.signature_state,
        "awaiting_cosign": doc.awaiting_cosign,
        "date": doc.local_date.isoformat(),
        "timezone": tz,
        "scheduled_start": local_iso(doc.scheduled_start, tz),
        "scheduled_end": local_iso(doc.scheduled_end, tz),
        "actual_start": local_iso(doc.actual_start, tz),
        "actual_end": local_iso(doc.actual_end, tz),
        "duration_minutes": doc.duration_minutes,
        "modality": doc.modality,
        "location": doc.location,
        "group": {
            "id": doc.group_id,
            "name": doc.group_name,
            "type": doc.group_type,
            "level_of_care": doc.level_of_care,
            "audience": doc.audience,
        },
        "topic": None
        if doc.topic_id is None
        else {"id": doc.topic_id, "title": doc.topic_title, "version": doc.topic_version, "content_hash": doc.topic_hash},
        "note_format": doc.note_format,
        "count_present": doc.count_present,
        "facilitator": _person(doc.facilitator),
        "co_facilitator": _person(doc.co_facilitator),
        "signature": _signature(doc.signature, tz),
        "cosignature": _signature(doc.cosignature, tz),
        "content_hash": doc.content_hash,
        "snapshot": None
        if doc.snapshot_source is None
        else {
            "source": doc.snapshot_source,
            "disclosure_version": doc.disclosure_version,
            "service_code": doc.service_code,
        },
        "narrative": doc.narrative,
        "homework": doc.homework,
        "members": [_member(m, tz) for m in doc.members],
        "addenda": [_addendum(a, tz) for a in doc.addenda],
        "safety_events": [_safety(e, tz) for e in doc.safety_events],
    }


def _dumps(value: Any, indent: int) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    pad = " " * indent
    return text.replace("\n", "\n" + pad)


def render(docs: Iterable[NoteDocument], context: ExportContext) -> Iterator[str]:
    """The JSON document, in pieces (stream them to a file; memory holds one record)."""
    head = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "program": context.program_name,
        "disclosure_notice": context.disclosure_notice,
        "exported_at": context.exported_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "timezone": context.timezone,
        "filters": context.filters,
        "subject_member_id": context.subject_member_id,
    }
    yield "{\n"
    for key, value in head.items():
        yield f"  {json.dumps(key)}: {_dumps(value, 2)},\n"
    yield '  "records": ['
    count = 0
    for doc in docs:
        yield ("," if count else "") + "\n    " + _dumps(record(doc), 4)
        count += 1
    yield ("\n  ]" if count else "]") + f',\n  "record_count": {count}\n}}\n'


def to_text(docs: Iterable[NoteDocument], context: ExportContext) -> str:
    return "".join(render(docs, context))
