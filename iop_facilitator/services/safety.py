"""Safety events raised in a meeting: recorded at once, resolved with a disposition before signing."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from iop_facilitator.clock import utcnow
from iop_facilitator.db.transactions import lock_row
from iop_facilitator.enums import RiskLevel
from iop_facilitator.errors import InvalidInput, NotFound
from iop_facilitator.models import SafetyEvent
from iop_facilitator.services import audit
from iop_facilitator.services.live import check_base, editable_meeting
from iop_facilitator.services.text import clean


def record_event(
    session: Session,
    meeting_id: uuid.UUID,
    member_id: uuid.UUID | None,
    concern: str = "",
    *,
    recorded_by_id: uuid.UUID | None = None,
) -> SafetyEvent:
    editable_meeting(session, meeting_id)
    event = SafetyEvent(
        meeting_id=meeting_id, member_id=member_id, concern=clean(concern).strip(), recorded_by_id=recorded_by_id
    )
    session.add(event)
    session.flush()
    audit.record(session, "safety.event", record_type="safety_event", record_id=event.id, meeting=meeting_id, member=member_id)
    return event


def set_disposition(
    session: Session,
    event_id: uuid.UUID,
    *,
    risk_level: RiskLevel,
    disposition: str,
    concern: str | None = None,
    disposition_based_on: str | None = None,
    concern_based_on: str | None = None,
) -> SafetyEvent:
    """Risk level and disposition (and a corrected concern) of a safety event.

    ``disposition_based_on`` / ``concern_based_on``: the texts the edit started from; a
    change someone else saved meanwhile raises :class:`~iop_facilitator.errors.EditConflict`.
    """
    found = session.get(SafetyEvent, event_id)
    # The meeting's lock first, then the event's (the order every writer of a meeting follows).
    event = None
    if found is not None:
        editable_meeting(session, found.meeting_id)
        event = lock_row(session, SafetyEvent, event_id)
    if event is None:
        raise NotFound("that safety event no longer exists")
    text = clean(disposition).strip()
    if not text:
        raise InvalidInput("write the disposition: what was done and what happens next")
    check_base("safety.disposition", event.disposition, text,
               None if disposition_based_on is None else clean(disposition_based_on).strip())
    if concern is not None:
        check_base("safety.concern", event.concern, clean(concern).strip(),
                   None if concern_based_on is None else clean(concern_based_on).strip())
    event.risk_level = RiskLevel(risk_level)
    event.disposition = text
    event.disposition_at = utcnow()
    if concern is not None:
        event.concern = clean(concern).strip()
    session.add(event)
    audit.record(session, "safety.disposition", record_type="safety_event", record_id=event.id, risk=event.risk_level.value)
    return event


def open_events(session: Session, meeting_id: uuid.UUID) -> list[SafetyEvent]:
    return [e for e in session.exec(select(SafetyEvent).where(SafetyEvent.meeting_id == meeting_id)) if not e.disposition]
