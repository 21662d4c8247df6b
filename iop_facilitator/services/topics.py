"""Topics and the clinic's records: history, the curriculum matrix, rotation, versioning.

The topic files themselves are read by :mod:`iop_facilitator.library`; these
functions combine a loaded :class:`~iop_facilitator.library.load.Library` with
what the database says each group and member has covered.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from iop_facilitator.enums import ATTENDED, MeetingStatus
from iop_facilitator.errors import Conflict
from iop_facilitator.library.load import Library
from iop_facilitator.library.model import LoadedTopic
from iop_facilitator.models import Attendance, Group, GroupMeeting, Member
from iop_facilitator.services import audit
from iop_facilitator.services.members import roster
from iop_facilitator.services.resolve import row

DEFAULT_RECENT_MEETINGS = 12


@dataclass(frozen=True)
class TopicHistory:
    topic_id: str
    title: str | None  # None when the topic is no longer in the library
    last_covered: dt.date | None
    times_covered: int
    last_version: str | None


def history(session: Session, group: Group, library: Library) -> list[TopicHistory]:
    """When each topic was last covered by ``group`` (library topics, plus retired ones it used)."""
    rows = session.exec(
        select(GroupMeeting.topic_id, func.max(GroupMeeting.local_date), func.count())
        .where(GroupMeeting.group_id == group.id, col(GroupMeeting.topic_id).is_not(None))
        .where(GroupMeeting.status != MeetingStatus.draft)
        .group_by(col(GroupMeeting.topic_id))
    ).all()
    covered = {topic_id: (last, count) for topic_id, last, count in rows}
    versions: dict[str, str | None] = {}
    for topic_id, (last, _count) in covered.items():
        versions[topic_id] = session.exec(
            select(GroupMeeting.topic_version).where(
                GroupMeeting.group_id == group.id, GroupMeeting.topic_id == topic_id, GroupMeeting.local_date == last
            )
        ).first()
    result = []
    for loaded in library.sorted():
        last, count = covered.get(loaded.topic.id, (None, 0))
        result.append(TopicHistory(loaded.topic.id, loaded.topic.title, last, count, versions.get(loaded.topic.id)))
    for topic_id in sorted(set(covered) - set(library.topics)):
        last, count = covered[topic_id]
        result.append(TopicHistory(topic_id, None, last, count, versions.get(topic_id)))
    result.sort(key=lambda h: (h.last_covered is not None, h.last_covered or dt.date.min, h.topic_id))
    return result


def attended_topics(session: Session, member_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """For each member, the topic ids of meetings (any group) they attended."""
    out: dict[uuid.UUID, set[str]] = {m: set() for m in member_ids}
    if not member_ids:
        return out
    rows = session.exec(
        select(Attendance.member_id, GroupMeeting.topic_id)
        .join(GroupMeeting, col(GroupMeeting.id) == col(Attendance.meeting_id))
        .where(col(Attendance.member_id).in_(member_ids))
        .where(col(Attendance.status).in_(ATTENDED))
        .where(col(GroupMeeting.topic_id).is_not(None))
        .distinct()
    ).all()
    for member_id, topic_id in rows:
        out[member_id].add(topic_id)
    return out


@dataclass(frozen=True)
class Matrix:
    members: list[Member]
    topics: list[LoadedTopic]
    attended: dict[uuid.UUID, set[str]]

    def has(self, member: Member, topic_id: str) -> bool:
        return topic_id in self.attended.get(member.id, set())


def matrix(session: Session, group: Group, library: Library, on: dt.date) -> Matrix:
    """Currently enrolled members x library topics, with what each member has attended."""
    people = roster(session, group, on)
    return Matrix(people, library.sorted(), attended_topics(session, [m.id for m in people]))


@dataclass(frozen=True)
class Suggestion:
    topic: LoadedTopic
    covered_recently: bool
    last_covered: dt.date | None
    members_missing: int  # currently enrolled members who have not attended this topic
    members_total: int

    @property
    def reason(self) -> str:
        if self.last_covered is None:
            when = "never covered by this group"
        elif self.covered_recently:
            when = f"covered recently ({self.last_covered.isoformat()})"
        else:
            when = f"last covered {self.last_covered.isoformat()}"
        return f"{when}; {self.members_missing} of {self.members_total} current members have not had it"


def suggest(
    session: Session,
    group: Group | uuid.UUID,
    library: Library,
    on: dt.date,
    *,
    recent_meetings: int = DEFAULT_RECENT_MEETINGS,
) -> list[Suggestion]:
    """Every library topic, best choice for ``group`` on day ``on`` first.

    Topics not used in the group's last ``recent_meetings`` meetings come first;
    among those, the topics most currently enrolled members have not attended;
    then the one covered longest ago (never covered first); then by title.
    """
    group = row(session, Group, group, what="group")
    recent = set(
        session.exec(
            select(GroupMeeting.topic_id)
            .where(GroupMeeting.group_id == group.id, col(GroupMeeting.topic_id).is_not(None))
            .where(col(GroupMeeting.local_date) <= on, GroupMeeting.status != MeetingStatus.draft)
            .order_by(col(GroupMeeting.local_date).desc(), col(GroupMeeting.scheduled_start).desc())
            .limit(recent_meetings)
        ).all()
    )
    last = {h.topic_id: h.last_covered for h in history(session, group, library)}
    people = roster(session, group, on)
    seen = attended_topics(session, [m.id for m in people])
    out = []
    for loaded in library.topics.values():
        topic_id = loaded.topic.id
        missing = sum(1 for m in people if topic_id not in seen[m.id])
        out.append(Suggestion(loaded, topic_id in recent, last.get(topic_id), missing, len(people)))
    out.sort(
        key=lambda s: (
            s.covered_recently,
            -s.members_missing,
            s.last_covered is not None,
            s.last_covered or dt.date.min,
            s.topic.topic.title.lower(),
        )
    )
    return out


def use_topic(session: Session, meeting: GroupMeeting, loaded: LoadedTopic) -> GroupMeeting:
    """Record the topic, its version and content hash with the meeting (exports cite them)."""
    if meeting.status == MeetingStatus.signed:
        raise Conflict("this meeting is signed; its topic can no longer change")
    meeting.topic_id = loaded.topic.id
    meeting.topic_version = loaded.topic.version
    meeting.topic_hash = loaded.content_hash
    session.add(meeting)
    session.flush()
    audit.record(
        session,
        "meeting.topic",
        record_type="meeting",
        record_id=meeting.id,
        topic=loaded.topic.id,
        version=loaded.topic.version,
        hash=loaded.content_hash,
    )
    return meeting
