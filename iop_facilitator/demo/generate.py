"""The fictional clinic's rows (``iop seed``, ``iop demo``): a pure-Python generator.

:func:`generate` yields invented staff, groups, members (rolling enrollment,
treatment-plan goals) and years of meetings with attendance, check-in and check-out,
story notes, individualized progress notes, follow-ups and, for meetings signed
before the seed's "today", the signed snapshot and content hash the app computes
when signing. ``demo.clinic.seed_clinic`` writes them into a database; the text
pools are ``demo.fiction``'s.

Dates: history covers the ``weeks`` weeks *before* ``end`` (``end`` itself is the
seed's "today" and gets no meetings), so every meeting is in the past. Meetings are
signed 2-48 hours after they end; the few whose signature would fall after the start
of ``end`` stay ``completed`` and unsigned, as on a real Monday morning.

Design (performance is a requirement: ``--groups 50 --weeks 520`` is about 1.9
million rows and must stay within 2x of a plain ``sqlite3`` writer):

* no SQLAlchemy import and no ORM objects: chunks (one group, up to
  :data:`CHUNK_MEETINGS` meetings) of plain tuples in the models' column order
  (``columns``, given by the caller), already in SQLite's storage form: UUID -> 32
  hex digits, aware UTC datetime -> ``'YYYY-MM-DD HH:MM:SS.ffffff'``, date -> ISO,
  JSON -> ``json.dumps`` text, enum -> its value, bool -> 0/1;
* deterministic for a given ``seed`` and ``end``: every random choice and every UUID
  comes from ``random.Random(seed)`` (one derived generator per group, drawn in a
  fixed order), every timestamp from the meeting times, never the wall clock.

Reading order: :func:`generate` (staff, groups), then :class:`_GroupHistory` (one
group: its members, then each meeting: :meth:`~_GroupHistory._meeting`, a member
in the room :meth:`~_GroupHistory._attended` or not :meth:`~_GroupHistory._absent`,
stories, the narrative, the signature :meth:`~_GroupHistory._sign`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from iop_facilitator.demo import fiction as fx
from iop_facilitator.services.canonical import StorageHasher, snapshot_hash
from iop_facilitator.services.formats import compose, draft_hash

Columns = Mapping[str, Sequence[str]]  # table -> its column names, in the models' order

CORE_TOPIC_IDS: tuple[str, ...] = (
    "what-to-expect-in-recovery",
    "healthy-lifestyle",
    "structure-and-scheduling",
    "motivation-and-ambivalence",
    "coping-with-triggers",
    "cravings-and-urges",
    "relapse-warning-signs",
    "refusal-skills",
    "lapse-vs-relapse",
    "boredom-and-free-time",
    "handling-stress",
    "anger-awareness",
    "guilt-shame-self-compassion",
    "distress-tolerance-grounding",
    "depression-anxiety-basics",
    "conflict-resolution",
    "communication-and-boundaries",
    "support-network",
    "honesty-and-trust",
    "family-roles",
    "medications-in-recovery",
    "safety-planning",
    "problem-solving-goal-setting",
    "work-money-recovery",
)
TOPIC_VERSION = "1.0"
CHART_PREFIX = "DEMO-"
CHUNK_MEETINGS = 520  # meetings per transaction (one group's ~3.3 years at 3 a week)
MAX_MEMBERS_PER_GROUP = 40


# The weekdays a group meets on; every group meets three days a week.
WEEKDAY_PATTERNS: tuple[tuple[str, ...], ...] = (
    ("mon", "wed", "fri"),
    ("tue", "wed", "thu"),
    ("mon", "tue", "thu"),
)
_WEEKDAY_INDEX = {d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}
TIME_SLOTS = ("09:00", "13:00", "18:00")
GROUP_TYPE_CYCLE = (
    "process", "psychoeducation", "relapse_prevention", "skills",
    "process", "support", "relapse_prevention", "family",
)
# Attendance status mix: cumulative probability thresholds.
STATUS_CUTS: tuple[tuple[float, str], ...] = (
    (0.75, "present"),
    (0.83, "late"),
    (0.87, "left_early"),
    (0.93, "absent_excused"),
    (0.99, "absent_unexcused"),
    (1.00, "cancelled"),
)
# (exit reason, share, min weeks, max weeks); "completed" dominates.
EXIT_REASONS: tuple[tuple[str, float, int, int], ...] = (
    ("completed", 0.70, 8, 16),
    ("left_treatment", 0.09, 1, 6),
    ("stepped_down", 0.07, 6, 12),
    ("stepped_up", 0.05, 1, 5),
    ("transferred", 0.04, 2, 10),
    ("administrative", 0.03, 2, 8),
    ("other", 0.02, 2, 10),
)
EXIT_NOTES = {
    "completed": "Completed the program; referred to continuing care.",
    "left_treatment": "Stopped attending; outreach attempts documented.",
    "stepped_down": "Stepped down to standard outpatient.",
    "stepped_up": "Stepped up to a higher level of care.",
    "transferred": "Transferred to a program closer to home.",
    "administrative": "Administrative discharge (insurance authorization ended).",
    "other": "Exited for personal reasons.",
}
NO_CHANGE_RUN = 3  # a goal is never rated "no change" this many notes in a row (the payer lens's default)
LEFT_EARLY_REASONS = ("for a medical appointment", "for childcare", "for a work shift",
                      "because of a ride", "for a court appointment", "feeling unwell")

ScheduleFn = Callable[[str, int, dt.date], tuple[dt.datetime, dt.datetime]]
"""(local start "HH:MM", minutes, local date) -> aware UTC (start, end)."""

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_UUID_AND = ((1 << 128) - 1) & ~((0xF000 << 64) | (0xC000 << 48))
_UUID_OR = (0x4000 << 64) | (0x8000 << 48)


@dataclass
class SeedSummary:
    groups: int = 0
    members: int = 0
    meetings: int = 0
    attendance: int = 0
    story_notes: int = 0
    progress_notes: int = 0
    follow_ups: int = 0
    staff: int = 0


@dataclass
class Chunk:
    """Rows to write in one transaction, table by table.

    Foreign-key order, except that a signed meeting's attendance, story notes
    and progress notes come *before* the meeting (the lock triggers refuse parts
    added to a signed meeting); see the writers.
    """

    tables: list[tuple[str, list[tuple[Any, ...]]]]
    groups_done: int  # groups completely generated once this chunk is written


# --------------------------------------------------------------------------- helpers


class _Stamps:
    """Epoch seconds -> SQLite's DateTime storage text, cheaply (a table per second of day)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._tod = [
            f"{h:02d}:{m:02d}:{s:02d}.000000" for h in range(24) for m in range(60) for s in range(60)
        ]

    def day(self, day_number: int) -> str:
        text = self._days.get(day_number)
        if text is None:
            text = self._days[day_number] = dt.date.fromordinal(_EPOCH_ORDINAL + day_number).isoformat() + " "
        return text

    def __call__(self, secs: int) -> str:
        d, s = divmod(secs, 86400)
        text = self._days.get(d)
        if text is None:
            text = self.day(d)
        return text + self._tod[s]


def _uid_factory(rng: random.Random) -> Callable[[], str]:
    """Random version-4 UUIDs as 32 hex digits (== ``uuid.UUID(int=n, version=4).hex``)."""
    bits = rng.getrandbits

    def uid() -> str:
        return "%032x" % ((bits(128) & _UUID_AND) | _UUID_OR)

    return uid


def _dashed(hex_id: str) -> str:
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def _epoch(value: dt.datetime) -> int:
    return int(value.timestamp())


def _day_secs(ordinal: int) -> int:
    return (ordinal - _EPOCH_ORDINAL) * 86400


@dataclass
class _Member:
    id: str
    name: str
    chart: str
    start: int  # date ordinals
    exit: int | None
    reason: str | None
    goals: list[tuple[str, str, str, int]]  # (hex id, text, short label, position)
    goal_json: list[tuple[str, int, str]]  # (goal_ids JSON, position, label) choices
    goal_docs: list[list[list[Any]]]  # per choice: [[goal id, position, text], ...] (the signed snapshot's)
    mood: float
    urge: float
    length: int  # planned days in the group
    streak: int = 0  # consecutive unexcused absences
    no_change: dict[str, int] = field(default_factory=dict)  # goal id -> notes in a row rated "no change"
    last_obs: tuple[int, int, int] | None = None  # the parts of the last observation written about them
    last_plan: str = ""


@dataclass(frozen=True)
class SnapshotContext:
    """What the seeder freezes into each signed meeting's snapshot (``services.snapshot``)."""

    clinic_name: str = ""
    timezone: str = "UTC"
    disclosure_version: str = ""
    codes: dict[tuple[str, str], str] = field(default_factory=dict)  # (level, modality) -> code
    titles: dict[str, str] = field(default_factory=dict)  # topic id -> title
    anchor: str = ""  # the seed audit entry's anchor id


@dataclass
class _GroupPlan:
    index: int
    id: str
    name: str
    weekdays: tuple[str, ...]
    start_time: str
    duration: int
    group_type: str
    audience: str
    level: str
    modality: str
    location: str
    lead: tuple[str, str]  # (staff id, credentials)
    co: str | None
    staff: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, credentials)
    members: list[_Member] = field(default_factory=list)


# --------------------------------------------------------------------------- the clinic


@dataclass
class _Clinic:
    """What every group's history shares: the calendar, the clock, the counts, what signing freezes."""

    stamp: _Stamps
    times: Callable[[str, int, int], tuple[int, int]]  # (local start, minutes, date ordinal) -> epoch secs
    first_ord: int  # the first day of history (a date ordinal)
    end_ord: int  # the seed's "today": no meetings on or after it
    now_secs: int  # the seed's "now": local midnight starting ``end``
    members_per_group: int
    counts: SeedSummary
    chunk_meetings: int
    versions: dict[str, tuple[str, str | None]]
    ctx: SnapshotContext
    anchored: list[str]
    hasher: StorageHasher
    chart_counter: int = 0  # chart numbers run on across groups


def generate(
    *,
    groups: int,
    weeks: int,
    members_per_group: int,
    seed: int,
    end: dt.date,
    schedule: ScheduleFn,
    columns: Columns,
    summary: SeedSummary | None = None,
    chunk_meetings: int = CHUNK_MEETINGS,
    topic_versions: dict[str, tuple[str, str | None]] | None = None,
    snapshot: SnapshotContext | None = None,
    anchored: list[str] | None = None,
) -> Iterator[Chunk]:
    """Yield the fictional clinic's rows, chunk by chunk, in SQLite storage form.

    Meetings fall on the groups' weekdays from ``end - weeks`` up to the day
    before ``end``. ``schedule`` turns a local start time and date into UTC
    (the app passes ``services.schedule.scheduled_times``). ``columns`` are the
    tables' column names in the models' order (``demo.clinic.table_columns``): every
    row is a tuple in that order. ``summary``, when given, is filled with the row
    counts as chunks are made. ``topic_versions`` maps topic ids to the (version,
    content hash) recorded with each meeting (``demo.clinic.bundled_topic_versions``).
    Signed meetings get the snapshot ``snapshot`` describes; ``anchored`` (when
    given) receives each signed meeting's ``m:id:content hash:snapshot hash`` line
    for the seed's audit entry.
    """
    rng = random.Random(seed)
    uid = _uid_factory(rng)
    stamp = _Stamps()
    first_ord = end.toordinal() - 7 * weeks
    end_ord = end.toordinal()
    cache: dict[tuple[str, int, int], tuple[int, int]] = {}

    def times(start_time: str, minutes: int, ordinal: int) -> tuple[int, int]:
        key = (start_time, minutes, ordinal)
        hit = cache.get(key)
        if hit is None:
            start, finish = schedule(start_time, minutes, dt.date.fromordinal(ordinal))
            hit = cache[key] = (_epoch(start), _epoch(finish))
        return hit

    clinic = _Clinic(
        stamp=stamp, times=times, first_ord=first_ord, end_ord=end_ord, now_secs=times("00:00", 1, end_ord)[0],
        members_per_group=members_per_group, counts=summary if summary is not None else SeedSummary(),
        chunk_meetings=chunk_meetings, versions=topic_versions or {}, ctx=snapshot or SnapshotContext(),
        anchored=anchored if anchored is not None else [], hasher=StorageHasher(columns),
    )
    staff_rows, leads, interns = _staff(uid, clinic, groups)
    plans, group_rows, link_rows = _groups(uid, clinic, groups, leads, interns, {r[0]: (r[4], r[5]) for r in staff_rows})
    yield Chunk([("staff", staff_rows), ("therapy_group", group_rows), ("group_facilitator", link_rows)], 0)
    for plan in plans:
        yield from _GroupHistory(plan, random.Random(rng.getrandbits(64)), clinic).chunks()


def _staff(uid: Callable[[], str], clinic: _Clinic, groups: int) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]], list[str]]:
    """Leads (each leads up to three groups, one per time slot), interns (co-lead, need a co-signature), supervisors."""
    rows: list[tuple[Any, ...]] = []
    created = clinic.stamp(_day_secs(clinic.first_ord) - 30 * 86400 + 13 * 3600)
    leads: list[tuple[str, str]] = []  # (staff id, credentials)
    interns: list[str] = []
    people = [("facilitator", fx.LEAD_CREDENTIALS, max(1, math.ceil(groups / 3))),
              ("facilitator", fx.INTERN_CREDENTIALS, max(1, math.ceil(groups / 6))),
              ("supervisor", fx.SUPERVISOR_CREDENTIALS, 2)]
    index = 0
    for role, creds, how_many in people:
        for k in range(how_many):
            sid, cred = uid(), creds[(k + index) % len(creds)]
            rows.append((sid, created, created, 1, fx.staff_name(index), cred, role, 1,
                         1 if creds is fx.INTERN_CREDENTIALS else 0))
            if creds is fx.LEAD_CREDENTIALS:
                leads.append((sid, cred))
            elif creds is fx.INTERN_CREDENTIALS:
                interns.append(sid)
            index += 1
    clinic.counts.staff = len(rows)
    return rows, leads, interns


def _groups(
    uid: Callable[[], str], clinic: _Clinic, groups: int, leads: list[tuple[str, str]], interns: list[str],
    staff_names: dict[str, tuple[str, str]],
) -> tuple[list[_GroupPlan], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The groups (a mix of types, times, audiences, levels of care) and their default facilitators."""
    plans: list[_GroupPlan] = []
    group_rows: list[tuple[Any, ...]] = []
    link_rows: list[tuple[Any, ...]] = []
    created = clinic.stamp(_day_secs(clinic.first_ord) - 14 * 86400 + 14 * 3600)
    start_iso = dt.date.fromordinal(clinic.first_ord).isoformat()
    for i in range(groups):
        audience = "adolescent" if i % 6 == 5 else "adult"
        level = "OP" if (i % 8 == 7 and audience == "adult") else "IOP"
        start_time, duration = TIME_SLOTS[i % 3], 180
        group_type = GROUP_TYPE_CYCLE[i % len(GROUP_TYPE_CYCLE)]
        if audience == "adolescent":
            start_time, duration = "16:00", 120
            group_type = "skills" if i % 12 == 5 else "process"
        elif level == "OP":
            duration = 90
        modality = "telehealth" if i % 10 == 4 else "in_person"
        location = "Telehealth (video)" if modality == "telehealth" else fx.ROOMS[i % len(fx.ROOMS)]
        plan = _GroupPlan(
            index=i, id=uid(), name=fx.group_name(i, start_time, group_type, audience, level),
            weekdays=WEEKDAY_PATTERNS[(i // 3) % len(WEEKDAY_PATTERNS)], start_time=start_time,
            duration=duration, group_type=group_type, audience=audience, level=level,
            modality=modality, location=location, lead=leads[i // 3],
            co=interns[i // 6] if i % 6 < 3 else None, staff=staff_names,
        )
        plans.append(plan)
        group_rows.append((
            plan.id, created, created, 1, plan.name, group_type, "open",
            json.dumps(list(plan.weekdays)), start_time, duration, "active", level, audience,
            modality, location, max(15, clinic.members_per_group), start_iso, None,
        ))
        link_rows.append((uid(), created, plan.id, plan.lead[0], 1))
        if plan.co is not None:
            link_rows.append((uid(), created, plan.id, plan.co, 0))
    clinic.counts.groups = len(group_rows)
    return plans, group_rows, link_rows


def _draw_exit(r: Callable[[], float]) -> tuple[str, int]:
    x = r()
    for reason, share, low, high in EXIT_REASONS:
        x -= share
        if x < 0:
            break
    return reason, 7 * low + int(r() * 7 * (high - low + 1))


# --------------------------------------------------------------------------- a member's note, as the app reads it
#
# services.formats.compose reads a member's line of the meeting and their facts by attribute;
# these plain classes give it what it reads, without the database's read model.


def _utc(secs: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(secs, dt.UTC)


@dataclass(frozen=True)
class _Goal:
    id: str
    position: int
    text: str


@dataclass(frozen=True)
class _Story:
    recorded_at: dt.datetime


@dataclass(frozen=True)
class _Event:
    id: str
    member_id: str
    risk_level: str


@dataclass(frozen=True)
class _Progress:
    progress: str | None
    measure: str


@dataclass(frozen=True)
class _Facts:
    goal_progress: dict[str, dict[str, str]]
    participation: str
    affect: tuple[str, ...]
    presentation: str
    risk_screen: str
    safety_event_id: str | None
    substance_use: str
    use_detail: str

    def progress_of(self, goal_id: str) -> _Progress | None:
        found = self.goal_progress.get(goal_id)
        return _Progress(found.get("progress"), found.get("measure", "")) if found else None


@dataclass
class _Line:
    member: _Member
    member_id: str
    status: str
    arrived_at: dt.datetime
    left_at: dt.datetime
    minutes: int
    mood: int | None
    urge: int | None
    feeling: str
    safety_concern: bool
    checkout_mood: int | None
    takeaway: str
    in_secs: int
    out_secs: int
    progress_f: float  # how far through their stay (0-1)
    stories: tuple[_Story, ...] = ()
    goals: tuple[_Goal, ...] = ()
    events: tuple[_Event, ...] = ()
    facts: _Facts | None = None
    near_limit: bool = False


@dataclass(frozen=True)
class _MeetingView:
    homework: str
    safety_events: tuple[_Event, ...]
    timezone: str = "UTC"  # only late arrival and departure times are worded, as local times below
    members: tuple[Any, ...] = ()  # the pools hold no member names: nothing to replace
    note_format: str = "GIRP"


def _fresh(size: int, r: float, used: set[int], avoid: int | None) -> int:
    """An index into a pool of ``size``: from a random start, the first not in ``used`` and not ``avoid``
    (the start itself when every one is taken)."""
    start = int(r * size)
    for step in range(size):
        index = (start + step) % size
        if index not in used and index != avoid:
            return index
    return start


@dataclass
class _Used:
    """What one meeting's notes already say, so no two members' leader-written parts are alike."""

    obs: tuple[set[int], set[int], set[int]] = field(default_factory=lambda: (set(), set(), set()))
    texts: set[str] = field(default_factory=set)
    plans: set[int] = field(default_factory=set)


# --------------------------------------------------------------------------- one group's history


@dataclass
class _Day:
    """One meeting being generated: its ids, times (epoch seconds and storage text) and texts."""

    ordinal: int
    id: str
    start: int  # actual start and end
    end: int
    s_start: str
    s_end: str
    s_noted: str  # when the notes were written (the signature, else half an hour after the end)
    opener: str  # the group's method, written once in the narrative
    skill: str
    next_iso: str  # the group's next meeting day


class _GroupHistory:
    """One group's years: its members (rolling enrollment), then its meetings, chunk by chunk.

    Every random draw comes from the group's own generator, in a fixed order, so a
    seed gives the same clinic on every machine.
    """

    def __init__(self, plan: _GroupPlan, rng: random.Random, clinic: _Clinic) -> None:
        self.plan, self.rng, self.clinic = plan, rng, clinic
        self.r = rng.random
        self.uid = _uid_factory(rng)
        self.stamp = clinic.stamp
        self.snap_uid = _uid_factory(random.Random(plan.id))  # its own stream: the clinic's data stays as before
        self.zone = ZoneInfo(clinic.ctx.timezone)
        self.by_id: dict[str, _Member] = {}
        self.tables: list[tuple[str, list[tuple[Any, ...]]]] = []
        self._clear()

    def _clear(self) -> None:
        self.meetings: list[tuple[Any, ...]] = []
        self.attendance: list[tuple[Any, ...]] = []
        self.stories: list[tuple[Any, ...]] = []
        self.notes: list[tuple[Any, ...]] = []
        self.facts: list[tuple[Any, ...]] = []
        self.events: list[tuple[Any, ...]] = []
        self.follow_ups: list[tuple[Any, ...]] = []
        self.snapshots: list[tuple[Any, ...]] = []
        self.signed_members: list[tuple[Any, ...]] = []

    def chunks(self) -> Iterator[Chunk]:
        plan, clinic = self.plan, self.clinic
        members = self._enroll()
        self.by_id = {m.id: m for m in members}
        self.tables = self._people(members)
        wanted = {_WEEKDAY_INDEX[d] for d in plan.weekdays}
        days = [o for o in range(clinic.first_ord, clinic.end_ord) if dt.date.fromordinal(o).weekday() in wanted]
        topic_order = list(CORE_TOPIC_IDS)
        self.rng.shuffle(topic_order)
        self.techniques = fx.GROUP_TYPE_TECHNIQUES.get(plan.group_type, fx.GROUP_TYPE_TECHNIQUES["other"])
        by_start = sorted(members, key=lambda m: m.start)
        waiting = 0  # index into by_start of the next member to join
        active: list[_Member] = []
        alumni: list[_Member] = []
        for k, day in enumerate(days):
            # the roster on this day: start <= day < exit
            while waiting < len(by_start) and by_start[waiting].start <= day:
                active.append(by_start[waiting])
                waiting += 1
            if any(m.exit is not None and m.exit <= day for m in active):
                for m in active:
                    if m.exit is not None and m.exit <= day and m.reason == "completed":
                        alumni.append(m)
                active = [m for m in active if m.exit is None or m.exit > day]
            roster = list(active)
            if alumni and self.r() < 0.02:  # an alumnus drops in
                recent = [m for m in alumni if m.exit is not None and day - m.exit <= 182]
                if recent:
                    roster.append(recent[int(self.r() * len(recent))])
            next_day = days[k + 1] if k + 1 < len(days) else day + 2
            self._meeting(day, next_day, roster, topic_order[k % len(topic_order)])
            last = k + 1 == len(days)
            if len(self.meetings) >= clinic.chunk_meetings or last:
                yield self._chunk(last)
        if not days:  # a group without meetings still needs its members written
            yield Chunk(self.tables, plan.index + 1)

    # ---- members

    def _enroll(self) -> list[_Member]:
        """Rolling enrollment: each seat holds one member after another, refilled within a few days."""
        r, uid, pick, clinic = self.r, self.uid, fx.pick, self.clinic
        members: list[_Member] = []
        names: set[str] = set()
        for _seat in range(clinic.members_per_group):
            start = clinic.first_ord
            first = True
            while start < clinic.end_ord:
                reason, length = _draw_exit(r)
                if first:  # members already part-way through when the period begins
                    length = 7 + int(r() * length)
                    first = False
                exit_ord: int | None = start + length
                if exit_ord >= clinic.end_ord:
                    exit_ord, reason = None, None
                clinic.chart_counter += 1
                name = f"{pick(fx.FIRST_NAMES, r())} {pick(fx.LAST_INITIALS, r())}."
                for _retry in range(20):  # two members of one group never share a display name
                    if name not in names:
                        break
                    name = f"{pick(fx.FIRST_NAMES, r())} {pick(fx.LAST_INITIALS, r())}."
                names.add(name)
                goals = [(uid(), text, label, pos + 1)
                         for pos, (text, label) in enumerate(fx.goal_texts(r, 1 + int(r() * 3)))]
                choices = [(json.dumps([_dashed(g[0])]), g[3], g[2]) for g in goals]
                docs = [[[_dashed(g[0]), g[3], g[1]]] for g in goals]
                if len(goals) > 1:
                    choices.append((json.dumps([_dashed(g[0]) for g in goals]), goals[0][3], "all goals"))
                    docs.append([[_dashed(g[0]), g[3], g[1]] for g in goals])
                members.append(_Member(
                    id=uid(), name=name, chart=f"{CHART_PREFIX}{clinic.chart_counter:06d}", start=start,
                    exit=exit_ord, reason=reason, goals=goals, goal_json=choices, goal_docs=docs,
                    mood=3.0 + r() * 4.0, urge=1.0 + r() * 5.0, length=length,
                ))
                if exit_ord is None:
                    break
                start = exit_ord + int(r() * 4)
        return members

    def _people(self, members: list[_Member]) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """The members, their enrollments in this group and their treatment-plan goals."""
        stamp, uid = self.stamp, self.uid
        member_rows, enrollment_rows, goal_rows = [], [], []
        for m in members:
            created = stamp(_day_secs(m.start) + 12 * 3600)
            updated = stamp(_day_secs(m.exit) + 12 * 3600) if m.exit is not None else created
            member_rows.append((m.id, created, updated, 1, m.name, m.chart,
                                "discharged" if m.exit is not None else "active"))
            enrollment_rows.append((
                uid(), created, updated, 1, self.plan.id, m.id, dt.date.fromordinal(m.start).isoformat(),
                dt.date.fromordinal(m.exit).isoformat() if m.exit is not None else None,
                m.reason, EXIT_NOTES[m.reason] if m.reason else "",
            ))
            for gid, text, _label, pos in m.goals:
                goal_rows.append((gid, created, created, 1, m.id, pos, text, 1))
        self.clinic.counts.members += len(member_rows)
        return [("member", member_rows), ("enrollment", enrollment_rows), ("goal", goal_rows)]

    # ---- a meeting

    def _meeting(self, day: int, next_day: int, roster: list[_Member], topic: str) -> None:
        """One meeting: attendance, notes and follow-ups per member, stories, the narrative, maybe a signature."""
        r, uid, stamp, plan, clinic = self.r, self.uid, self.stamp, self.plan, self.clinic
        ss, se = clinic.times(plan.start_time, plan.duration, day)
        a_start = ss - 60 + int(r() * 420)
        a_end = se - 300 + int(r() * 480)
        sign_secs = a_end + 7200 + int(r() * 165600)
        signed = sign_secs <= clinic.now_secs
        s_signed = stamp(sign_secs) if signed else None
        s_start, s_end = stamp(a_start), stamp(a_end)
        title, focus, homework, skill = fx.TOPICS[topic]
        mid = uid()
        opener = fx.pick(fx.INTERVENTION_OPENERS, r()).format(technique=fx.pick(self.techniques, r()), title=title)
        meeting = _Day(
            ordinal=day, id=mid, start=a_start, end=a_end, s_start=s_start, s_end=s_end,
            s_noted=s_signed or stamp(a_end + 1800), opener=opener, skill=skill,
            next_iso=dt.date.fromordinal(next_day).isoformat(),
        )
        attended: list[tuple[_Member, int, int]] = []  # (member, in, out)
        lines: list[_Line] = []
        picked_goals: dict[str, list[list[Any]]] = {}
        first = (len(self.attendance), len(self.notes), len(self.stories), len(self.facts), len(self.events))
        for m in roster:
            drop_in = m.exit is not None and m.exit <= day
            x = r()
            status = "present" if drop_in else next(s for cut, s in STATUS_CUTS if x < cut)
            if status in ("present", "late", "left_early"):
                line = self._attended(m, meeting, status, drop_in)
                lines.append(line)
                attended.append((m, line.in_secs, line.out_secs))
            else:
                self._absent(m, meeting, status)
        if attended and r() < 0.004:
            self._other_follow_up(attended[int(r() * len(attended))][0], meeting)
        self._stories(meeting, attended, lines)
        used: _Used = _Used()
        for line in lines:
            self._note(line, meeting, homework, picked_goals, used)
        narrative = (f"{fx.pick(fx.NARRATIVE_OPENINGS, r())} Topic: {title}, covering {focus}. {opener}. "
                     f"{fx.pick(fx.NARRATIVE_MIDDLES, r())} {fx.pick(fx.NARRATIVE_CLOSINGS, r())} "
                     f"{len(attended)} of {len(roster)} members on the roster attended. "
                     "Fictional demo record.")
        lead_id, lead_cred = plan.lead
        row = (  # the models' column order, up to the content hash
            mid, stamp(a_start - 900), s_signed or s_end, 1, plan.id, dt.date.fromordinal(day).isoformat(),
            stamp(ss), stamp(se), s_start, s_end, plan.modality, plan.location, lead_id, plan.co, topic,
            *clinic.versions.get(topic, (TOPIC_VERSION, None)), "signed" if signed else "completed", narrative,
            "GIRP", homework, "", "", "[]", lead_id if signed else None, s_signed, lead_cred if signed else None,
        )
        content_hash = None
        if signed:
            content_hash = self._sign(row, meeting, topic, s_signed, picked_goals, first)
        self.meetings.append((*row, content_hash, None, None, None, None))

    def _attended(self, m: _Member, meeting: _Day, status: str, drop_in: bool) -> _Line:
        """A member in the room: arrival and departure, check-in and check-out (their note comes after the stories)."""
        r, uid, stamp, pick = self.r, self.uid, self.stamp, fx.pick
        a_start, a_end, day = meeting.start, meeting.end, meeting.ordinal
        m.streak = 0
        if status == "present":
            arrived = a_start - int(r() * 900)
            left = a_end + int(r() * 300)
            minutes = (a_end - a_start) // 60
        elif status == "late":
            arrived = a_start + 600 + int(r() * 3000)
            left = a_end + int(r() * 300)
            minutes = (a_end - arrived) // 60
        else:
            arrived = a_start - int(r() * 600)
            left = a_end - 1200 - int(r() * 5400)
            if left <= a_start + 600:
                left = a_start + 600 + int(r() * 600)
            minutes = (left - a_start) // 60
        # check-in: mood improves and urges ease over the stay, with day-to-day noise
        f = min(1.0, (day - m.start) / (m.length or 1))
        mood = int(m.mood + 2.0 * f + (r() + r() - 1.0) * 2.5 + 0.5)
        mood = 0 if mood < 0 else min(mood, 10)
        urge = int(m.urge * (1.0 - 0.6 * f) + (r() + r() - 1.0) * 2.0 + 0.5)
        urge = 0 if urge < 0 else min(urge, 10)
        missed = status == "late" and r() < 0.3
        mood_v: int | None = None if missed or r() < 0.03 else mood
        urge_v: int | None = None if missed or r() < 0.10 else urge
        feeling = "" if missed else fx.feeling_for(mood, r())
        safety = 1 if (mood_v is not None and r() < (0.03 if mood <= 2 else 0.002)) else 0
        if status == "left_early":
            out_mood, takeaway = None, ""
        else:
            out_mood = min(mood + int(r() * 3), 10)
            takeaway = pick(fx.TAKEAWAYS, r())
        self.attendance.append((
            uid(), meeting.s_start, meeting.s_end, 1, meeting.id, m.id, status, stamp(arrived), stamp(left), minutes,
            1 if drop_in else 0, mood_v, urge_v, feeling, safety, out_mood, takeaway, self.plan.lead[0],
        ))
        if safety:
            done_secs = a_end + 3600 + int(r() * 20 * 3600)
            self._follow_up(uid(), m, meeting, fx.FOLLOW_UP_SAFETY, day + 1, done_secs, done_secs <= self.clinic.now_secs)
        return _Line(
            member=m, member_id=m.id, status=status, arrived_at=_utc(arrived), left_at=_utc(left), minutes=minutes,
            mood=mood_v, urge=urge_v, feeling=feeling, safety_concern=bool(safety), checkout_mood=out_mood,
            takeaway=takeaway, in_secs=arrived, out_secs=left, progress_f=f,
        )

    def _note(
        self, line: _Line, meeting: _Day, homework: str, picked_goals: dict[str, list[list[Any]]], used: _Used,
    ) -> None:
        """The member's note as the app drafts it from their facts (services.formats, GIRP), completed by the
        leader: an observation of their own, and a plan step where the draft alone would repeat last time's."""
        r, uid, pick, m = self.r, self.uid, fx.pick, line.member
        # the goals addressed, and progress on each (a goal stuck at "no change" gets a new approach)
        choice = int(r() * len(m.goal_json))
        goal_json, _pos, _label = m.goal_json[choice]
        picked_goals[m.id] = m.goal_docs[choice]
        line.goals = tuple(_Goal(str(g[0]), int(g[1]), str(g[2])) for g in m.goal_docs[choice])
        progress: dict[str, dict[str, str]] = {}
        for goal in line.goals:
            x = r()
            rated = "improved" if x < 0.35 + 0.25 * line.progress_f else "no_change" if x < 0.85 else "worse"
            if rated == "no_change" and m.no_change.get(goal.id, 0) >= NO_CHANGE_RUN - 1:
                rated = "improved" if r() < 0.6 else "worse"  # the leader changed the approach last time
            m.no_change[goal.id] = m.no_change.get(goal.id, 0) + 1 if rated == "no_change" else 0
            entry = {"progress": rated}
            if r() < 0.4:
                entry["measure"] = pick(fx.MEASURES, r()).format(n=1 + int(r() * 6))
            progress[goal.id] = entry
        x = r()
        participation = next(p for cut, p in fx.PARTICIPATION_MIX if x < cut)
        if line.stories and participation == "listened":  # shared a story: they did speak
            participation = "engaged_when_prompted"
        mood = line.mood if line.mood is not None else 5
        pool = fx.AFFECT_LOW if mood <= 3 else fx.AFFECT_MID if mood <= 6 else fx.AFFECT_HIGH
        affect = [pick(pool, r())]
        presentation = pick(fx.PRESENTATIONS, r()) if r() < 0.25 else ""
        x = r()
        use = "none" if x < 0.84 else "used" if x < 0.94 else "declined"
        weekday = dt.date.fromordinal(meeting.ordinal - 1 - int(r() * 2)).strftime("%A")
        use_detail = pick(fx.USE_DETAILS, r()).format(day=weekday) if use == "used" and r() < 0.8 else ""
        event_id = None
        if line.safety_concern:  # the F9 event, screened and dispositioned before signing
            event_id = uid()
            when = self.stamp(max(meeting.start, line.in_secs) + 600)
            done = self.stamp(meeting.end + 600)
            self.events.append((
                event_id, when, done, 1, meeting.id, m.id, when, "Raised at check-in (fictional demo record).",
                "low" if r() < 0.7 else "moderate", pick(fx.SAFETY_DISPOSITIONS, r()), done, self.plan.lead[0],
            ))
            line.events = (_Event(_dashed(event_id), m.id, "low"),)
        line.facts = _Facts(progress, participation, tuple(affect), presentation,
                            "endorsed" if event_id else "denied", _dashed(event_id) if event_id else None,
                            use, use_detail)
        observation = self._observation(m, used)
        goal_ids = [g.id for g in line.goals]
        view = _MeetingView(homework, line.events, timezone=self.clinic.ctx.timezone)
        drafted = compose(line, view, goal_ids, line.facts, "GIRP")  # type: ignore[arg-type]
        plan_text = drafted["plan"]
        if (use == "used" or any(v["progress"] == "worse" for v in progress.values())):
            own = self._leader_plan(meeting, used)  # the leader's own next step: never last time's plan
            plan_text = f"{plan_text} {own}"
        m.last_plan = plan_text
        marks = {"goal_ids": draft_hash(goal_ids), "intervention": draft_hash(drafted["intervention"]),
                 "response": draft_hash(drafted["response"])}
        if plan_text == drafted["plan"]:
            marks["plan"] = draft_hash(plan_text)
        self.notes.append((uid(), meeting.s_end, meeting.s_noted, 1, meeting.id, m.id, goal_json,
                           drafted["intervention"], drafted["response"], plan_text, json.dumps(marks)))
        self.facts.append((
            uid(), meeting.s_end, meeting.s_noted, 1, meeting.id, m.id, json.dumps(progress), participation,
            json.dumps(affect), presentation, line.facts.risk_screen, event_id, use, use_detail, observation,
            "", "", "", "", "", "{}",
        ))

    def _observation(self, m: _Member, used: _Used) -> str:
        """The leader's sentence about this member: no part shared with another member's in this meeting,
        nor with the one written about this member last time (while the pools allow)."""
        pools = (fx.OBS_OPENINGS, fx.OBS_MOMENTS, fx.OBS_CLOSINGS)
        parts = tuple(
            _fresh(len(pool), self.r(), used.obs[i], None if m.last_obs is None else m.last_obs[i])
            for i, pool in enumerate(pools)
        )
        for i, p in enumerate(parts):
            used.obs[i].add(p)
        m.last_obs = parts  # type: ignore[assignment]
        text = f"{pools[0][parts[0]]}; {pools[1][parts[1]]}, {pools[2][parts[2]]}."
        if text in used.texts:  # tiny pools (tests): still never two alike
            text = f"{text[:-1]} ({m.chart})."
        used.texts.add(text)
        return text

    def _leader_plan(self, meeting: _Day, used: _Used) -> str:
        index = _fresh(len(fx.LEADER_PLANS), self.r(), used.plans, None)
        used.plans.add(index)
        day = dt.date.fromisoformat(meeting.next_iso).strftime("%A %B %-d")
        return f"{fx.LEADER_PLANS[index].format(day=day)}."

    def _absent(self, m: _Member, meeting: _Day, status: str) -> None:
        """An absence (or a cancellation); the second unexcused absence in a row gets an outreach follow-up."""
        if status == "absent_unexcused":
            m.streak += 1
        elif status == "absent_excused":
            m.streak = 0
        self.attendance.append((
            self.uid(), meeting.s_start, meeting.s_end, 1, meeting.id, m.id, status, None, None, 0, 0,
            None, None, "", 0, None, "", self.plan.lead[0],
        ))
        if m.streak == 2:
            done_secs = meeting.end + 86400 + int(self.r() * 2 * 86400)
            done = done_secs <= self.clinic.now_secs and self.r() < 0.9
            self._follow_up(self.uid(), m, meeting, fx.FOLLOW_UP_ABSENCE, meeting.ordinal + 2, done_secs, done)

    def _other_follow_up(self, m: _Member, meeting: _Day) -> None:
        """Now and then a follow-up for another reason (a referral, a document, a call back)."""
        done_secs = meeting.end + 2 * 86400 + int(self.r() * 3 * 86400)
        done = done_secs <= self.clinic.now_secs and self.r() < 0.8
        follow_up_id = self.uid()  # drawn before the reason: the order of draws is the clinic's
        reason = fx.pick(fx.FOLLOW_UP_OTHER, self.r())
        self._follow_up(follow_up_id, m, meeting, reason, meeting.ordinal + 7, done_secs, done)

    def _follow_up(
        self, follow_up_id: str, m: _Member, meeting: _Day, reason: str, due: int, done_secs: int, done: bool
    ) -> None:
        stamp = self.stamp
        self.follow_ups.append((
            follow_up_id, meeting.s_end, stamp(done_secs) if done else meeting.s_end, 1, m.id, meeting.id, reason,
            dt.date.fromordinal(due).isoformat(), 1 if done else 0, stamp(done_secs) if done else None,
            self.plan.lead[0],
        ))

    def _stories(self, meeting: _Day, attended: list[tuple[_Member, int, int]], lines: list[_Line]) -> None:
        """A few members' shares, in time order, within the time they were in the room."""
        by_member = {line.member_id: line for line in lines}
        r = self.r
        n_stories = min(len(attended), 2 + int(r() * 4))
        if not n_stories:
            return
        moments = []
        for m, arrived, left in self.rng.sample(attended, n_stories):
            lo = max(meeting.start, arrived) + 300
            hi = min(meeting.end, left) - 300
            moments.append((lo + int(r() * (hi - lo)) if hi > lo else max(meeting.start, arrived), m))
        moments.sort(key=lambda t: t[0])
        for when, m in moments:
            s_when = self.stamp(when)
            text = f"{m.name} {fx.pick(fx.STORY_EVENTS, r())}. {fx.pick(fx.STORY_RESPONSES, r())}".rstrip()
            self.stories.append((self.uid(), s_when, s_when, 1, meeting.id, m.id, s_when, text, self.plan.lead[0]))
            by_member[m.id].stories += (_Story(_utc(when)),)

    def _sign(
        self, row: tuple[Any, ...], meeting: _Day, topic: str, s_signed: str, picked_goals: dict[str, list[list[Any]]],
        first: tuple[int, int, int, int, int],
    ) -> str:
        """The signed snapshot, canonical content and hash the app computes when signing; returns the content hash."""
        plan, ctx = self.plan, self.clinic.ctx
        lead_id, lead_cred = plan.lead
        lead_name = plan.staff.get(lead_id, ("", ""))[0]
        co_name, co_cred = plan.staff.get(plan.co, ("", "")) if plan.co else ("", "")
        snap = {
            "meeting_id": meeting.id, "source": "seed", "clinic_name": ctx.clinic_name, "timezone": ctx.timezone,
            "disclosure_version": ctx.disclosure_version, "group_name": plan.name,
            "group_type": plan.group_type, "level_of_care": plan.level, "audience": plan.audience,
            "modality": plan.modality, "location": plan.location,
            "local_start": self._local_minute(meeting.start), "local_end": self._local_minute(meeting.end),
            "facilitator_name": lead_name, "facilitator_credentials": lead_cred,
            "co_facilitator_name": co_name, "co_facilitator_credentials": co_cred,
            "signer_name": lead_name, "requires_cosign": False, "topic_title": ctx.titles.get(topic, ""),
            "service_code": ctx.codes.get((plan.level, plan.modality), ""),
        }
        first_att, first_note, first_story, first_facts, first_event = first
        roster_rows = [
            {"member_id": a[5], "display_name": self.by_id[a[5]].name, "chart_id": self.by_id[a[5]].chart,
             "goals": picked_goals.get(a[5], [])}
            for a in self.attendance[first_att:]
        ]
        digest = snapshot_hash(snap, roster_rows)
        self.snapshots.append((
            self.snap_uid(), s_signed, meeting.id, "seed", ctx.clinic_name, ctx.timezone, ctx.disclosure_version,
            plan.name, plan.group_type, plan.level, plan.audience, plan.modality, plan.location, snap["local_start"],
            snap["local_end"], lead_name, lead_cred, co_name, co_cred, lead_name, 0, snap["topic_title"],
            snap["service_code"], digest, ctx.anchor,
        ))
        self.signed_members.extend(
            (self.snap_uid(), s_signed, meeting.id, m["member_id"], m["display_name"], m["chart_id"],
             json.dumps(m["goals"]))
            for m in roster_rows
        )
        content_hash = self.clinic.hasher(
            (*row, None, None, None, None, None), digest, attendance=self.attendance[first_att:],
            progress_notes=self.notes[first_note:], story_notes=self.stories[first_story:],
            note_facts=self.facts[first_facts:], safety_events=self.events[first_event:],
        )
        self.clinic.anchored.append(f"m:{meeting.id}:{content_hash}:{digest}")
        return content_hash

    def _local_minute(self, secs: int) -> str:
        return dt.datetime.fromtimestamp(secs, self.zone).strftime("%Y-%m-%d %H:%M")

    def _chunk(self, last: bool) -> Chunk:
        """The rows made since the last chunk (one transaction).

        A signed meeting's parts cannot be inserted after it (the lock triggers refuse), so
        they go first; SQLite checks their references at commit (defer_foreign_keys), and
        the PostgreSQL writer inserts the meetings unsigned and signs them afterwards.
        """
        counts = self.clinic.counts
        tables = self.tables + [
            ("attendance", self.attendance), ("story_note", self.stories), ("progress_note", self.notes),
            ("safety_event", self.events), ("note_facts", self.facts),
            ("signed_snapshot", self.snapshots), ("signed_member", self.signed_members),
            ("meeting", self.meetings), ("follow_up", self.follow_ups),
        ]
        counts.meetings += len(self.meetings)
        counts.attendance += len(self.attendance)
        counts.story_notes += len(self.stories)
        counts.progress_notes += len(self.notes)
        counts.follow_ups += len(self.follow_ups)
        self.tables = []
        self._clear()
        return Chunk(tables, self.plan.index + 1 if last else self.plan.index)
