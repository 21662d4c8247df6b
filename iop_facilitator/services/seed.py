"""A fictional clinic for trials, demos and benchmarks (``iop seed``).

:func:`seed_clinic` fills an empty database with invented staff, groups,
members (with rolling enrollment and treatment-plan goals) and years of signed
meetings with attendance, check-in/check-out, story notes, individualized
progress notes and follow-ups. It refuses a database that already holds staff,
members, groups or meetings (so real records never mix with invented ones, and
a demo is seeded once), and marks the database as a demo
(``ProgramSettings.is_demo``; the clinic name says "fictional data").

Dates: history covers the ``weeks`` weeks *before* ``end`` (``end`` itself is
the seed's "today" and gets no meetings), so every meeting is in the past.
Meetings are signed 2-48 hours after they end; the few whose signature would
fall after the start of ``end`` stay ``completed`` and unsigned, as on a real
Monday morning.

Design (performance is a requirement: ``--groups 50 --weeks 520`` is about
1.9 million rows and must stay within 2x of a plain ``sqlite3`` writer):

* :func:`generate` is a pure-Python row generator with no SQLAlchemy import. It
  yields chunks (one group, up to :data:`CHUNK_MEETINGS` meetings) of plain
  tuples already in SQLite's storage form, exactly what SQLAlchemy writes:
  UUID -> 32 hex digits, aware UTC datetime -> ``'YYYY-MM-DD HH:MM:SS.ffffff'``,
  date -> ISO, JSON -> ``json.dumps`` text, enum -> its value, bool -> 0/1.
  No ORM objects are built for bulk rows.
* On SQLite the chunks go straight to the DB-API cursor's ``executemany``, one
  transaction per chunk; on PostgreSQL they are converted to Python values and
  written with SQLAlchemy Core ``executemany`` (also one transaction per chunk).
* Deterministic for a given ``seed`` and ``end``: every random choice and
  every UUID comes from ``random.Random(seed)`` (one derived generator per
  group), and every timestamp is derived from the meeting times, never the
  wall clock. Only the ``program_settings`` row (created by the app as usual)
  and the ``seed`` audit event carry real time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from iop_facilitator.services import fiction as fx
from iop_facilitator.services.integrity import StorageHasher, snapshot_hash

if TYPE_CHECKING:  # the heavy imports stay out of the generator's import path
    from iop_facilitator.db.engine import Database

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

# Column order of every tuple the generator yields, per table, in foreign-key-safe order.
# A test checks these against the models so a schema change cannot silently break seeding.
COLUMNS: dict[str, tuple[str, ...]] = {
    "staff": ("id", "created_at", "updated_at", "version", "name", "credentials", "role", "active", "requires_cosign"),
    "therapy_group": (
        "id", "created_at", "updated_at", "version", "name", "group_type", "enrollment",
        "weekdays", "start_time", "duration_minutes", "status", "level_of_care", "audience",
        "modality", "location", "capacity", "start_date", "end_date",
    ),
    "group_facilitator": ("id", "created_at", "group_id", "staff_id", "is_lead"),
    "member": ("id", "created_at", "updated_at", "version", "display_name", "external_chart_id", "status"),
    "enrollment": (
        "id", "created_at", "updated_at", "version", "group_id", "member_id", "start_date",
        "exit_date", "exit_reason", "exit_note",
    ),
    "goal": ("id", "created_at", "updated_at", "version", "member_id", "position", "text", "active"),
    "meeting": (
        "id", "created_at", "updated_at", "version", "group_id", "local_date", "scheduled_start",
        "scheduled_end", "actual_start", "actual_end", "modality", "location", "facilitator_id",
        "co_facilitator_id", "topic_id", "topic_version", "topic_hash", "status",
        "group_narrative", "note_format", "homework", "flow_step", "signed_by_id", "signed_at",
        "signer_credentials", "topic_notes", "prompts_done", "content_hash", "cosigned_by_id",
        "cosigned_at", "cosigner_credentials", "narrative_drafted",
    ),
    "attendance": (
        "id", "created_at", "updated_at", "version", "meeting_id", "member_id", "status",
        "arrived_at", "left_at", "minutes_attended", "drop_in", "checkin_mood", "checkin_urge",
        "checkin_feeling", "safety_concern", "checkout_mood", "checkout_takeaway", "updated_by_id",
    ),
    "story_note": (
        "id", "created_at", "updated_at", "version", "meeting_id", "member_id", "recorded_at",
        "text", "author_id",
    ),
    "progress_note": (
        "id", "created_at", "updated_at", "version", "meeting_id", "member_id", "goal_ids",
        "intervention", "response", "plan", "drafted",
    ),
    "follow_up": (
        "id", "created_at", "updated_at", "version", "member_id", "meeting_id", "reason",
        "due_date", "done", "done_at", "created_by_id",
    ),
    "signed_snapshot": (
        "id", "created_at", "meeting_id", "source", "clinic_name", "timezone", "disclosure_version",
        "group_name", "group_type", "level_of_care", "audience", "modality", "location", "local_start",
        "local_end", "facilitator_name", "facilitator_credentials", "co_facilitator_name",
        "co_facilitator_credentials", "signer_name", "requires_cosign", "topic_title", "service_code",
        "snapshot_hash", "anchor_id",
    ),
    "signed_member": ("id", "created_at", "meeting_id", "member_id", "display_name", "chart_id", "goals"),
}
TABLES = tuple(COLUMNS)

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


# --------------------------------------------------------------------------- generator


def bundled_topic_versions() -> dict[str, tuple[str, str | None]]:
    """Version and content hash of each bundled topic guide, as meetings record them.

    Only the bundled folder is read (not the user's), so a seed stays the same
    on every machine with the same version of the program.
    """
    from iop_facilitator.library.load import load_library
    from iop_facilitator.resources import topics_dir

    library = load_library([("bundled", topics_dir())])
    return {tid: (t.topic.version, t.content_hash) for tid, t in library.topics.items()}


def bundled_topic_titles() -> dict[str, str]:
    """Title of each bundled topic guide (frozen into the signed snapshots)."""
    from iop_facilitator.library.load import load_library
    from iop_facilitator.resources import topics_dir

    return {tid: t.topic.title for tid, t in load_library([("bundled", topics_dir())]).topics.items()}


def generate(
    *,
    groups: int,
    weeks: int,
    members_per_group: int,
    seed: int,
    end: dt.date,
    schedule: ScheduleFn,
    summary: SeedSummary | None = None,
    chunk_meetings: int = CHUNK_MEETINGS,
    topic_versions: dict[str, tuple[str, str | None]] | None = None,
    snapshot: SnapshotContext | None = None,
    anchored: list[str] | None = None,
) -> Iterator[Chunk]:
    """Yield the fictional clinic's rows, chunk by chunk, in SQLite storage form.

    Meetings fall on the groups' weekdays from ``end - weeks`` up to the day
    before ``end``. ``schedule`` turns a local start time and date into UTC
    (the app passes :func:`iop_facilitator.services.meetings.scheduled_times`).
    ``summary``, when given, is filled with the row counts as chunks are made.
    ``topic_versions`` maps topic ids to the (version, content hash) recorded
    with each meeting (see :func:`bundled_topic_versions`). Signed meetings get
    the snapshot ``snapshot`` describes; ``anchored`` (when given) receives each
    signed meeting's ``m:id:content hash:snapshot hash`` line for the seed's audit entry.
    """
    ctx = snapshot or SnapshotContext()
    anchored = anchored if anchored is not None else []
    counts = summary if summary is not None else SeedSummary()
    versions = topic_versions or {}
    rng = random.Random(seed)
    uid = _uid_factory(rng)
    stamp = _Stamps()
    first_ord = end.toordinal() - 7 * weeks
    end_ord = end.toordinal()
    first_secs = _day_secs(first_ord)

    cache: dict[tuple[str, int, int], tuple[int, int]] = {}

    def times(start_time: str, minutes: int, ordinal: int) -> tuple[int, int]:
        key = (start_time, minutes, ordinal)
        hit = cache.get(key)
        if hit is None:
            start, finish = schedule(start_time, minutes, dt.date.fromordinal(ordinal))
            hit = cache[key] = (_epoch(start), _epoch(finish))
        return hit

    now_secs = times("00:00", 1, end_ord)[0]  # the seed's "now": local midnight starting ``end``

    # ---- staff: leads (each leads up to three groups, one per time slot), interns, supervisors
    n_leads = max(1, math.ceil(groups / 3))
    n_interns = max(1, math.ceil(groups / 6))
    staff_rows: list[tuple[Any, ...]] = []
    staff_created = stamp(first_secs - 30 * 86400 + 13 * 3600)
    leads: list[tuple[str, str]] = []
    interns: list[str] = []
    people = [("facilitator", fx.LEAD_CREDENTIALS, n_leads), ("facilitator", fx.INTERN_CREDENTIALS, n_interns),
              ("supervisor", fx.SUPERVISOR_CREDENTIALS, 2)]
    index = 0
    for role, creds, how_many in people:
        for k in range(how_many):
            sid, cred = uid(), creds[(k + index) % len(creds)]
            staff_rows.append((sid, staff_created, staff_created, 1, fx.staff_name(index), cred, role, 1,
                               1 if creds is fx.INTERN_CREDENTIALS else 0))
            if creds is fx.LEAD_CREDENTIALS:
                leads.append((sid, cred))
            elif creds is fx.INTERN_CREDENTIALS:
                interns.append(sid)
            index += 1
    counts.staff = len(staff_rows)
    staff_names = {row[0]: (row[4], row[5]) for row in staff_rows}

    # ---- groups and their default facilitators
    plans: list[_GroupPlan] = []
    group_rows: list[tuple[Any, ...]] = []
    link_rows: list[tuple[Any, ...]] = []
    group_created = stamp(first_secs - 14 * 86400 + 14 * 3600)
    start_iso = dt.date.fromordinal(first_ord).isoformat()
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
            plan.id, group_created, group_created, 1, plan.name, group_type, "open",
            json.dumps(list(plan.weekdays)), start_time, duration, "active", level, audience,
            modality, location, max(15, members_per_group), start_iso, None,
        ))
        link_rows.append((uid(), group_created, plan.id, plan.lead[0], 1))
        if plan.co is not None:
            link_rows.append((uid(), group_created, plan.id, plan.co, 0))
    counts.groups = len(group_rows)
    yield Chunk([("staff", staff_rows), ("therapy_group", group_rows), ("group_facilitator", link_rows)], 0)

    chart_counter = 0
    for plan in plans:
        grng = random.Random(rng.getrandbits(64))
        chart_counter = yield from _generate_group(
            plan, grng, stamp, times, first_ord, end_ord, now_secs, members_per_group,
            chart_counter, counts, chunk_meetings, versions, ctx, anchored,
        )


def _draw_exit(r: Callable[[], float]) -> tuple[str, int]:
    x = r()
    for reason, share, low, high in EXIT_REASONS:
        x -= share
        if x < 0:
            break
    return reason, 7 * low + int(r() * 7 * (high - low + 1))


def _generate_group(  # one hot loop, kept flat for speed
    plan: _GroupPlan,
    rng: random.Random,
    stamp: _Stamps,
    times: Callable[[str, int, int], tuple[int, int]],
    first_ord: int,
    end_ord: int,
    now_secs: int,
    members_per_group: int,
    chart_counter: int,
    counts: SeedSummary,
    chunk_meetings: int,
    versions: dict[str, tuple[str, str | None]],
    ctx: SnapshotContext,
    anchored: list[str],
) -> Iterator[Chunk]:
    r = rng.random
    uid = _uid_factory(rng)
    pick = fx.pick

    # ---- rolling enrollment: each seat holds one member after another
    members: list[_Member] = []
    for _seat in range(members_per_group):
        start = first_ord
        first = True
        while start < end_ord:
            reason, length = _draw_exit(r)
            if first:  # members already part-way through when the period begins
                length = 7 + int(r() * length)
                first = False
            exit_ord: int | None = start + length
            if exit_ord >= end_ord:
                exit_ord, reason = None, None
            chart_counter += 1
            name = f"{pick(fx.FIRST_NAMES, r())} {pick(fx.LAST_INITIALS, r())}."
            goals = [(uid(), text, label, pos + 1)
                     for pos, (text, label) in enumerate(fx.goal_texts(r, 1 + int(r() * 3)))]
            choices = [(json.dumps([_dashed(g[0])]), g[3], g[2]) for g in goals]
            docs = [[[_dashed(g[0]), g[3], g[1]]] for g in goals]
            if len(goals) > 1:
                choices.append((json.dumps([_dashed(g[0]) for g in goals]), goals[0][3], "all goals"))
                docs.append([[_dashed(g[0]), g[3], g[1]] for g in goals])
            members.append(_Member(
                id=uid(), name=name, chart=f"{CHART_PREFIX}{chart_counter:06d}", start=start,
                exit=exit_ord, reason=reason, goals=goals, goal_json=choices, goal_docs=docs,
                mood=3.0 + r() * 4.0, urge=1.0 + r() * 5.0, length=length,
            ))
            if exit_ord is None:
                break
            start = exit_ord + int(r() * 4)  # the seat refills within a few days

    member_rows, enrollment_rows, goal_rows = [], [], []
    for m in members:
        created = stamp(_day_secs(m.start) + 12 * 3600)
        updated = stamp(_day_secs(m.exit) + 12 * 3600) if m.exit is not None else created
        member_rows.append((m.id, created, updated, 1, m.name, m.chart,
                            "discharged" if m.exit is not None else "active"))
        enrollment_rows.append((
            uid(), created, updated, 1, plan.id, m.id, dt.date.fromordinal(m.start).isoformat(),
            dt.date.fromordinal(m.exit).isoformat() if m.exit is not None else None,
            m.reason, EXIT_NOTES[m.reason] if m.reason else "",
        ))
        for gid, text, _label, pos in m.goals:
            goal_rows.append((gid, created, created, 1, m.id, pos, text, 1))
    counts.members += len(member_rows)

    # ---- meetings
    wanted = {_WEEKDAY_INDEX[d] for d in plan.weekdays}
    days = [o for o in range(first_ord, end_ord) if dt.date.fromordinal(o).weekday() in wanted]
    topic_order = list(CORE_TOPIC_IDS)
    rng.shuffle(topic_order)
    lead_id, lead_cred = plan.lead
    co_id = plan.co
    techniques = fx.GROUP_TYPE_TECHNIQUES.get(plan.group_type, fx.GROUP_TYPE_TECHNIQUES["other"])
    by_start = sorted(members, key=lambda m: m.start)
    waiting = 0  # index into by_start of the next member to join
    active: list[_Member] = []
    alumni: list[_Member] = []
    cuts = STATUS_CUTS
    hash_meeting = StorageHasher(COLUMNS)

    tables: list[tuple[str, list[tuple[Any, ...]]]] = [
        ("member", member_rows), ("enrollment", enrollment_rows), ("goal", goal_rows)
    ]
    meetings: list[tuple[Any, ...]] = []
    snapshots: list[tuple[Any, ...]] = []
    signed_members: list[tuple[Any, ...]] = []
    by_id = {m.id: m for m in members}
    zone = ZoneInfo(ctx.timezone)
    snap_uid = _uid_factory(random.Random(plan.id))  # its own stream: the clinic's data stays as before

    def local_minute(secs: int) -> str:
        return dt.datetime.fromtimestamp(secs, zone).strftime("%Y-%m-%d %H:%M")

    attendance: list[tuple[Any, ...]] = []
    stories: list[tuple[Any, ...]] = []
    notes: list[tuple[Any, ...]] = []
    follow_ups: list[tuple[Any, ...]] = []

    for k, day in enumerate(days):
        # roster on this day: start <= day < exit
        while waiting < len(by_start) and by_start[waiting].start <= day:
            active.append(by_start[waiting])
            waiting += 1
        if any(m.exit is not None and m.exit <= day for m in active):
            for m in active:
                if m.exit is not None and m.exit <= day and m.reason == "completed":
                    alumni.append(m)
            active = [m for m in active if m.exit is None or m.exit > day]
        roster = list(active)
        if alumni and r() < 0.02:  # an alumnus drops in
            recent = [m for m in alumni if m.exit is not None and day - m.exit <= 182]
            if recent:
                roster.append(recent[int(r() * len(recent))])

        ss, se = times(plan.start_time, plan.duration, day)
        a_start = ss - 60 + int(r() * 420)
        a_end = se - 300 + int(r() * 480)
        s_start, s_end = stamp(a_start), stamp(a_end)
        sign_secs = a_end + 7200 + int(r() * 165600)
        signed = sign_secs <= now_secs
        s_signed = stamp(sign_secs) if signed else None
        s_noted = s_signed or stamp(a_end + 1800)
        topic = topic_order[k % len(topic_order)]
        title, focus, homework, skill = fx.TOPICS[topic]
        mid = uid()
        local_iso = dt.date.fromordinal(day).isoformat()
        next_iso = dt.date.fromordinal(days[k + 1] if k + 1 < len(days) else day + 2).isoformat()
        opener = pick(fx.INTERVENTION_OPENERS, r()).format(technique=pick(techniques, r()), title=title)

        attended: list[tuple[_Member, int, int]] = []  # (member, in, out)
        picked_goals: dict[str, list[list[Any]]] = {}
        first_att, first_note, first_story = len(attendance), len(notes), len(stories)
        seen_notes: set[str] = set()
        for m in roster:
            drop_in = m.exit is not None and m.exit <= day
            x = r()
            status = "present" if drop_in else next(s for cut, s in cuts if x < cut)
            if status in ("present", "late", "left_early"):
                m.streak = 0
                if status == "present":
                    arrived = a_start - int(r() * 900)
                    left = a_end + int(r() * 300)
                    minutes = (a_end - a_start) // 60
                    status_text = ""
                elif status == "late":
                    arrived = a_start + 600 + int(r() * 3000)
                    left = a_end + int(r() * 300)
                    minutes = (a_end - arrived) // 60
                    status_text = f"Arrived {(arrived - a_start) // 60} minutes late. "
                else:
                    arrived = a_start - int(r() * 600)
                    left = a_end - 1200 - int(r() * 5400)
                    if left <= a_start + 600:
                        left = a_start + 600 + int(r() * 600)
                    minutes = (left - a_start) // 60
                    status_text = (f"Left {(a_end - left) // 60} minutes early "
                                   f"{pick(LEFT_EARLY_REASONS, r())}. ")
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
                attendance.append((
                    uid(), s_start, s_end, 1, mid, m.id, status, stamp(arrived), stamp(left), minutes,
                    1 if drop_in else 0, mood_v, urge_v, feeling, safety, out_mood, takeaway, lead_id,
                ))
                attended.append((m, arrived, left))

                # the member's own progress note (GIRP): goals, intervention, response, plan
                choice = int(r() * len(m.goal_json))
                goal_json, pos, label = m.goal_json[choice]
                picked_goals[m.id] = m.goal_docs[choice]
                intervention = (f"{opener}; "
                                + pick(fx.INTERVENTION_MEMBER, r()).format(name=m.name, pos=pos, label=label)
                                + ".")
                if missed:
                    checkin = f"{m.name} missed check-in. "
                else:
                    checkin = (f"{m.name} checked in feeling {feeling} (mood "
                               f"{'not rated' if mood_v is None else f'{mood_v}/10'}, urge "
                               f"{'not rated' if urge_v is None else f'{urge_v}/10'}"
                               f"{', reported a safety concern; screened privately after group' if safety else ''}). ")
                response = (f"{status_text}{checkin}{m.name} {pick(fx.PARTICIPATION, r())} and "
                            + pick(fx.INSIGHTS, r()).format(skill=skill) + ". "
                            + (f"Checked out at {out_mood}/10: \"{takeaway}\"." if takeaway
                               else "Left before check-out."))
                plan_text = (f"{pick(fx.PLANS, r())}; next group {next_iso}"
                             + ("; safety plan reviewed and primary clinician informed" if safety else "")
                             + ". (Fictional demo record.)")
                key = intervention + response + plan_text
                extra = 0
                while key in seen_notes:  # no two members' notes in one meeting may be identical
                    detail = (fx.DETAILS[extra] if extra < len(fx.DETAILS)
                              else f"Chart {m.chart}.")
                    response = f"{response} {detail}"
                    key = intervention + response + plan_text
                    extra += 1
                seen_notes.add(key)
                notes.append((uid(), s_end, s_noted, 1, mid, m.id, goal_json, intervention, response, plan_text, "{}"))

                if safety:
                    due = day + 1
                    done_secs = a_end + 3600 + int(r() * 20 * 3600)
                    done = done_secs <= now_secs
                    follow_ups.append((
                        uid(), s_end, stamp(done_secs) if done else s_end, 1, m.id, mid,
                        fx.FOLLOW_UP_SAFETY, dt.date.fromordinal(due).isoformat(), 1 if done else 0,
                        stamp(done_secs) if done else None, lead_id,
                    ))
            else:
                if status == "absent_unexcused":
                    m.streak += 1
                elif status == "absent_excused":
                    m.streak = 0
                attendance.append((
                    uid(), s_start, s_end, 1, mid, m.id, status, None, None, 0, 0,
                    None, None, "", 0, None, "", lead_id,
                ))
                if m.streak == 2:
                    done_secs = a_end + 86400 + int(r() * 2 * 86400)
                    done = done_secs <= now_secs and r() < 0.9
                    follow_ups.append((
                        uid(), s_end, stamp(done_secs) if done else s_end, 1, m.id, mid,
                        fx.FOLLOW_UP_ABSENCE, dt.date.fromordinal(day + 2).isoformat(), 1 if done else 0,
                        stamp(done_secs) if done else None, lead_id,
                    ))
        if attended and r() < 0.004:
            m = attended[int(r() * len(attended))][0]
            done_secs = a_end + 2 * 86400 + int(r() * 3 * 86400)
            done = done_secs <= now_secs and r() < 0.8
            follow_ups.append((
                uid(), s_end, stamp(done_secs) if done else s_end, 1, m.id, mid,
                pick(fx.FOLLOW_UP_OTHER, r()), dt.date.fromordinal(day + 7).isoformat(),
                1 if done else 0, stamp(done_secs) if done else None, lead_id,
            ))

        # story notes: a few members' shares, in time order, within the time they were in the room
        n_stories = min(len(attended), 2 + int(r() * 4))
        if n_stories:
            picks = rng.sample(attended, n_stories)
            moments = []
            for m, arrived, left in picks:
                lo = max(a_start, arrived) + 300
                hi = min(a_end, left) - 300
                moments.append((lo + int(r() * (hi - lo)) if hi > lo else max(a_start, arrived), m))
            moments.sort(key=lambda t: t[0])
            for when, m in moments:
                s_when = stamp(when)
                text = f"{m.name} {pick(fx.STORY_EVENTS, r())}. {pick(fx.STORY_RESPONSES, r())}".rstrip()
                stories.append((uid(), s_when, s_when, 1, mid, m.id, s_when, text, lead_id))

        narrative = (f"{pick(fx.NARRATIVE_OPENINGS, r())} Topic: {title}, covering {focus}. "
                     f"{pick(fx.NARRATIVE_MIDDLES, r())} {pick(fx.NARRATIVE_CLOSINGS, r())} "
                     f"{len(attended)} of {len(roster)} members on the roster attended. "
                     "Fictional demo record.")
        row = (
            mid, stamp(a_start - 900), s_signed or s_end, 1, plan.id, local_iso, stamp(ss), stamp(se),
            s_start, s_end, plan.modality, plan.location, lead_id, co_id, topic, *versions.get(topic, (TOPIC_VERSION, None)),
            "signed" if signed else "completed", narrative, "GIRP", homework, "",
            lead_id if signed else None, s_signed, lead_cred if signed else None, "", "[]",
        )
        content_hash = None
        if signed:  # the same snapshot, canonical content and hash the app computes when signing
            lead_name = plan.staff.get(lead_id, ("", ""))[0]
            co_name, co_cred = plan.staff.get(co_id, ("", "")) if co_id else ("", "")
            snap = {
                "meeting_id": mid, "source": "seed", "clinic_name": ctx.clinic_name, "timezone": ctx.timezone,
                "disclosure_version": ctx.disclosure_version, "group_name": plan.name,
                "group_type": plan.group_type, "level_of_care": plan.level, "audience": plan.audience,
                "modality": plan.modality, "location": plan.location,
                "local_start": local_minute(a_start), "local_end": local_minute(a_end),
                "facilitator_name": lead_name, "facilitator_credentials": lead_cred,
                "co_facilitator_name": co_name, "co_facilitator_credentials": co_cred,
                "signer_name": lead_name, "requires_cosign": False, "topic_title": ctx.titles.get(topic, ""),
                "service_code": ctx.codes.get((plan.level, plan.modality), ""),
            }
            roster_rows = [
                {"member_id": a[5], "display_name": by_id[a[5]].name, "chart_id": by_id[a[5]].chart,
                 "goals": picked_goals.get(a[5], [])}
                for a in attendance[first_att:]
            ]
            digest = snapshot_hash(snap, roster_rows)
            snapshots.append((
                snap_uid(), s_signed, mid, "seed", ctx.clinic_name, ctx.timezone, ctx.disclosure_version, plan.name,
                plan.group_type, plan.level, plan.audience, plan.modality, plan.location, snap["local_start"],
                snap["local_end"], lead_name, lead_cred, co_name, co_cred, lead_name, 0, snap["topic_title"],
                snap["service_code"], digest, ctx.anchor,
            ))
            signed_members.extend(
                (snap_uid(), s_signed, mid, m["member_id"], m["display_name"], m["chart_id"], json.dumps(m["goals"]))
                for m in roster_rows
            )
            content_hash = hash_meeting(
                row, digest, attendance=attendance[first_att:], progress_notes=notes[first_note:],
                story_notes=stories[first_story:],
            )
            anchored.append(f"m:{mid}:{content_hash}:{digest}")
        meetings.append((*row, content_hash, None, None, None, None))

        last = k + 1 == len(days)
        if len(meetings) >= chunk_meetings or last:
            # A signed meeting's parts cannot be inserted after it (the lock triggers refuse), so
            # they go first; SQLite checks their references at commit (defer_foreign_keys), and
            # the PostgreSQL writer inserts the meetings unsigned and signs them afterwards.
            tables += [("attendance", attendance), ("story_note", stories), ("progress_note", notes),
                       ("signed_snapshot", snapshots), ("signed_member", signed_members),
                       ("meeting", meetings), ("follow_up", follow_ups)]
            counts.meetings += len(meetings)
            counts.attendance += len(attendance)
            counts.story_notes += len(stories)
            counts.progress_notes += len(notes)
            counts.follow_ups += len(follow_ups)
            yield Chunk(tables, plan.index + 1 if last else plan.index)
            tables = []
            meetings, attendance, stories, notes, follow_ups = [], [], [], [], []
            snapshots, signed_members = [], []
    if not days:  # a group without meetings still needs its members written
        yield Chunk(tables, plan.index + 1)
    return chart_counter


# --------------------------------------------------------------------------- writing


def _insert_sql(table: str) -> str:
    columns = COLUMNS[table]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _converters(table: Any) -> list[Callable[[Any], Any] | None]:
    """Storage-form text -> the Python values SQLAlchemy Core expects (for PostgreSQL)."""
    import uuid

    import sqlalchemy as sa

    def as_uuid(v: Any) -> Any:
        return None if v is None else uuid.UUID(hex=v)

    def as_datetime(v: Any) -> Any:
        return None if v is None else dt.datetime.fromisoformat(v).replace(tzinfo=dt.UTC)

    def as_date(v: Any) -> Any:
        return None if v is None else dt.date.fromisoformat(v)

    def as_json(v: Any) -> Any:
        return None if v is None else json.loads(v)

    def as_bool(v: Any) -> Any:
        return None if v is None else bool(v)

    result: list[Callable[[Any], Any] | None] = []
    for name in COLUMNS[table.name]:
        kind = table.c[name].type
        kind = getattr(kind, "impl_instance", kind)  # TypeDecorators such as SQLModel's UTCDateTime
        if isinstance(kind, sa.Uuid):
            result.append(as_uuid)
        elif isinstance(kind, sa.Date):
            result.append(as_date)
        elif isinstance(kind, sa.DateTime):
            result.append(as_datetime)
        elif isinstance(kind, sa.JSON):
            result.append(as_json)
        elif isinstance(kind, sa.Boolean):
            result.append(as_bool)
        else:
            result.append(None)
    return result


def _write_sqlite(db: Database, chunks: Iterator[Chunk], progress: Callable[[int], None]) -> None:
    statements = {t: _insert_sql(t) for t in TABLES}
    with db.engine.connect() as conn:
        for chunk in chunks:
            with conn.begin():
                cursor = conn.connection.cursor()
                try:
                    cursor.execute("PRAGMA defer_foreign_keys=ON")  # parts before their meeting; reset at commit
                    for table, rows in chunk.tables:
                        if rows:
                            cursor.executemany(statements[table], rows)
                finally:
                    cursor.close()
            progress(chunk.groups_done)


def _write_core(db: Database, chunks: Iterator[Chunk], progress: Callable[[int], None]) -> None:
    import sqlalchemy as sa
    from sqlmodel import SQLModel

    import iop_facilitator.models  # noqa: F401 - registers the tables

    tables = {name: SQLModel.metadata.tables[name] for name in TABLES}
    converters = {name: _converters(tables[name]) for name in TABLES}
    meeting = tables["meeting"]
    sign = (
        meeting.update()
        .where(meeting.c.id == sa.bindparam("b_id"))
        .values({c: sa.bindparam(f"b_{c}") for c in _SIGN_COLUMNS})
    )
    with db.engine.connect() as conn:
        for chunk in chunks:
            signatures: list[dict[str, Any]] = []
            # Foreign keys are checked at once here: meetings go in first, unsigned, and are
            # signed (one UPDATE each, which the lock triggers allow) once their parts are in.
            ordered = sorted(chunk.tables, key=lambda t: t[0] != "meeting")
            with conn.begin():
                for name, rows in ordered:
                    if not rows:
                        continue
                    columns, funcs = COLUMNS[name], converters[name]
                    pairs = list(zip(columns, funcs))
                    payload = [
                        {c: (f(v) if f is not None else v) for (c, f), v in zip(pairs, row)} for row in rows
                    ]
                    if name == "meeting":
                        for values in payload:
                            if values["status"] == "signed":
                                signatures.append({"b_id": values["id"], **{f"b_{c}": values[c] for c in _SIGN_COLUMNS}})
                                values.update(status="completed", signed_by_id=None, signed_at=None,
                                              signer_credentials=None, content_hash=None)
                    conn.execute(tables[name].insert(), payload)
                if signatures:
                    conn.execute(sign, signatures)
            progress(chunk.groups_done)


_SIGN_COLUMNS = ("status", "signed_by_id", "signed_at", "signer_credentials", "content_hash", "updated_at")


# --------------------------------------------------------------------------- the service


def _schedule_fn(tz: str) -> ScheduleFn:
    from types import SimpleNamespace

    from iop_facilitator.services.meetings import scheduled_times

    def schedule(start_time: str, minutes: int, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        return scheduled_times(SimpleNamespace(start_time=start_time, duration_minutes=minutes), day, tz)  # type: ignore[arg-type]

    return schedule


def seed_clinic(
    db: Database,
    *,
    groups: int,
    weeks: int,
    members_per_group: int = 10,
    seed: int = 1,
    end: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SeedSummary:
    """Fill an empty database with a fictional clinic; see the module docstring.

    Raises :class:`~iop_facilitator.errors.Conflict` when the database already
    holds staff, members, groups or meetings (real data, or an earlier seed:
    seed a new, empty database instead) and
    :class:`~iop_facilitator.errors.InvalidInput` for impossible arguments.
    """
    from sqlmodel import select

    from iop_facilitator.clock import local_today
    from iop_facilitator.errors import Conflict, InvalidInput
    from iop_facilitator.models import Group, GroupMeeting, Member, Staff
    from iop_facilitator.services import audit
    from iop_facilitator.services.settings import get_settings

    if groups < 1:
        raise InvalidInput("seed at least one group (--groups 1 or more)")
    if weeks < 1:
        raise InvalidInput("seed at least one week (--weeks 1 or more)")
    if not 1 <= members_per_group <= MAX_MEMBERS_PER_GROUP:
        raise InvalidInput(f"members per group must be between 1 and {MAX_MEMBERS_PER_GROUP}")

    with db.begin() as session:
        settings = get_settings(session)
        holds_data = any(
            session.exec(select(model.id).limit(1)).first() is not None
            for model in (Member, Group, GroupMeeting, Staff)
        )
        if holds_data and not settings.is_demo:
            raise Conflict(
                "this database already holds real records; seed only a new, empty database "
                "(for example: iop --db demo.db seed ...)"
            )
        if holds_data:
            raise Conflict("this database already holds seeded demo data; seed a new, empty database instead")
        tz = settings.timezone
        today = local_today(tz)
        end = end or today
        if end > today:
            raise InvalidInput(f"the seed end date {end} is in the future; seeded meetings are all in the past")
        if weeks * 7 > end.toordinal() - dt.date(1900, 1, 1).toordinal():
            raise InvalidInput("too many weeks for the end date")
        # Marked as a demo before any row is written, so even a partial seed is never taken for real data.
        settings.is_demo = True
        settings.clinic_name = fx.CLINIC_NAME
        session.add(settings)

    import uuid

    from iop_facilitator.services.billing import codes_table
    from iop_facilitator.services.integrity import bulk_digest
    from iop_facilitator.services.snapshot import disclosure_version

    summary = SeedSummary()
    anchored: list[str] = []
    context = SnapshotContext(
        clinic_name=fx.CLINIC_NAME, timezone=tz, disclosure_version=disclosure_version(settings.disclosure_notice),
        codes=codes_table(settings.service_codes or {}), titles=bundled_topic_titles(),
        anchor=uuid.uuid5(uuid.NAMESPACE_URL, f"iop-seed:{seed}:{groups}:{weeks}:{members_per_group}:{end}").hex,
    )
    chunks = generate(
        groups=groups, weeks=weeks, members_per_group=members_per_group, seed=seed, end=end,
        schedule=_schedule_fn(tz), summary=summary, topic_versions=bundled_topic_versions(),
        snapshot=context, anchored=anchored,
    )
    last_reported = -1

    def report(done: int) -> None:
        nonlocal last_reported
        if progress is not None and done != last_reported:
            last_reported = done
            progress(done, groups)

    report(0)
    writer = _write_sqlite if db.backend == "sqlite" else _write_core
    writer(db, chunks, report)

    with db.begin() as session:
        audit.record(
            session, "seed", record_type="program_settings", record_id=get_settings(session).id,
            seed=seed, weeks=weeks, end=end, members_per_group=members_per_group,
            **{k: v for k, v in vars(summary).items()},
            # Anchors every seeded signature (see services.integrity: verify matches them both ways).
            anchor=context.anchor, signed=len(anchored), digest=bulk_digest(anchored),
        )
    return summary
