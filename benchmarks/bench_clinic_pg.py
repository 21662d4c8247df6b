"""Fifty leaders, one PostgreSQL server: a busy Monday morning, simulated (issue 14, point 4).

The benchmark starts its own throwaway PostgreSQL server (``initdb`` into a temporary
folder owned by the ``postgres`` user, ``runuser -u postgres --`` when run as root, on
127.0.0.1 and a free port, with the server's durability defaults: ``fsync=on``,
``synchronous_commit=on``), migrates and seeds a fictional clinic into it (``iop seed``:
``--leaders`` groups of ``--members`` members, a few weeks of history for the staff's
exports), then runs at the same time:

* **one process per leader** (``multiprocessing``, spawned), each running today's meeting of
  its group through the services the TUI's store runs (``services.live``, ``note_facts``,
  ``notes``), one write transaction per key or save as the store commits them: start, roll
  call, check-in (mood, urge, feeling word, safety), stories (typed, saved, edited), the
  topic (chosen, prompts ticked, topic notes), check-out (rating, takeaway), finish, the
  drafted notes, the facts of each member (participation, affect, an observation; each
  followed by the member's redraft, in the same transaction as the notes step does), the
  narrative and the signature;
* **a second device on one meeting** (a co-leader's laptop on the first group): it edits
  the same takeaways, topic notes and narrative the leader edits, each edit based on what it
  last saw, so the edits cross. Every crossing is an ``EditConflict`` (the services'
  optimistic check: nothing is written); the device (and the leader, when its own later edit
  crosses the device's) resolves it as the conflict dialog's "merge" does: it saves
  "theirs + mine" based on theirs. Conflicts are counted; afterwards every text either
  device saved must be in the final value;
* **staff processes** running ``iop export notes --format pdf`` (last week),
  ``iop export attendance`` (this week, CSV), ``iop report hours`` and ``iop report
  attendance`` in a loop against the same server until the leaders are done.

"Realistic" pauses (seconds in the room, divided by ``--compress``, default 100): meetings
start within 5 minutes of each other; roll call 3 s per member; check-in: each member speaks
for about 4 minutes while the leader types mood, urge, feeling word and safety flag 8 s
apart; stories: half the members tell one, typed in two saves 30 s apart, plus a correction
a minute later; topic: chosen, then three prompts ticked 10 minutes apart and topic notes;
check-out: about 1 minute per member (rating, then takeaway 20 s later); notes: facts of each
member 15 s apart (three saves per member), the narrative, then the signature. About two and
a half hours of group per leader: about 90 s of wall time at 100x.

Reported: transaction latency (a service call and its commit, what the leader's key waits
for) and the ``COMMIT`` round trip alone, p50/p99/max, overall and per kind of change;
lost updates (every leader's intended final state compared with the database afterwards:
must be 0); deadlocks (``pg_stat_database.deadlocks``); serialization, lock and stale-row
errors (retried, counted); other errors; edit conflicts and how they were resolved; the
staff jobs' times; the load average before, during and after.

    python benchmarks/bench_clinic_pg.py                        # 50 leaders x 12 members, 100x
    python benchmarks/bench_clinic_pg.py --leaders 5 --members 6 --compress 400   # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_P99_MS = 20.0
SEED_WEEKS = 3

# Seconds in the room (divided by --compress).
PAUSE = {
    "stagger": 300.0,  # meetings start within 5 minutes of each other
    "roll": 3.0,  # between roll-call keys
    "checkin_field": 8.0,  # between mood, urge, feeling word and safety flag
    "checkin_member": 240.0,  # each member's check-in
    "story_save": 30.0,  # typing saved, then more typing saved
    "story_fix": 60.0,  # a correction a minute later
    "topic_prompt": 600.0,  # a prompt ticked every 10 minutes
    "checkout_field": 20.0,  # rating, then takeaway
    "checkout_member": 40.0,
    "fact": 15.0,  # between facts of a member
    "sign": 60.0,  # reading the review before signing
}


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayServer:
    """A PostgreSQL server in a temporary folder, stopped and removed by :meth:`stop`."""

    def __init__(self, settings: list[str]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="iop-bench-clinic-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.settings = settings
        self.started = False

    def _as_pg(self, *argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)

    def start(self) -> str:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        subprocess.run(self._as_pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                   "--locale=C"), check=True, stdout=subprocess.DEVNULL)
        options = " ".join([f"-k {self.folder} -h 127.0.0.1 -p {self.port}", *(f"-c {s}" for s in self.settings)])
        subprocess.run(self._as_pg("pg_ctl", "-D", str(self.data), "-o", options,
                                   "-l", str(self.folder / "server.log"), "-w", "start"),
                       check=True, stdout=subprocess.DEVNULL)
        self.started = True
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the server (fast, then immediate, then the postmaster killed) and remove its folder."""
        pid_file = self.data / "postmaster.pid"
        for mode in ("fast", "immediate"):
            if not pid_file.exists():
                break
            subprocess.run(self._as_pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"),
                           check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if pid_file.exists():
            with contextlib.suppress(Exception):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            print(f"warning: the server in {self.data} did not stop; its postmaster was killed", file=sys.stderr)
        self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO) + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    out.update(COLUMNS="120", NO_COLOR="1")
    for key in ("IOP_DEBUG", "IOP_PASSPHRASE"):
        out.pop(key, None)
    return out


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- measuring one process


@dataclasses.dataclass
class Tally:
    """What one process measured and met; sent back to the parent."""

    who: str
    # kind, transaction ms, COMMIT ms, statements, this process's CPU ms during the transaction
    latencies: list[tuple[str, float, float, int, float]] = dataclasses.field(default_factory=list)
    retried: dict[str, int] = dataclasses.field(default_factory=dict)  # sqlstate / kind -> count
    errors: list[str] = dataclasses.field(default_factory=list)  # one line each, PHI-free
    conflicts: int = 0
    merged: int = 0
    intended: dict[str, Any] = dataclasses.field(default_factory=dict)
    meeting_id: str = ""
    jobs: list[tuple[str, float, int]] = dataclasses.field(default_factory=list)  # staff: job, seconds, exit


RETRY_STATES = {"40001": "serialization failure", "40P01": "deadlock", "55P03": "lock not available"}


class Writer:
    """One device's writes: one transaction per change, timed, retried only where the store retries."""

    def __init__(self, url: str, tally: Tally) -> None:
        import sqlalchemy as sa
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        from iop_facilitator.db.engine import open_database

        self.db = open_database(url)
        self.tally = tally
        self._commit_at = 0.0
        self._commit_ms = 0.0
        self.statements = 0

        @event.listens_for(self.db.engine, "before_cursor_execute")
        def _count(*_args: Any) -> None:
            self.statements += 1

        @event.listens_for(self.db.engine, "commit")
        def _before_commit(_conn: Any) -> None:
            self._commit_at = time.perf_counter()

        @event.listens_for(Session, "after_commit")
        def _after_commit(_session: Any) -> None:
            self._commit_ms = (time.perf_counter() - self._commit_at) * 1000

        self.sa = sa

    def tx(self, kind: str, op: Any) -> Any:
        """Run ``op(session)`` in one write transaction; EditConflict goes to the caller."""
        from sqlalchemy.exc import DBAPIError
        from sqlalchemy.orm.exc import StaleDataError

        from iop_facilitator.errors import EditConflict

        for _attempt in range(10):
            start, cpu = time.perf_counter(), time.process_time()
            self.statements = 0
            try:
                with self.db.begin() as session:
                    result = op(session)
            except EditConflict:
                raise
            except StaleDataError:
                self.tally.retried["stale row (optimistic lock)"] = self.tally.retried.get(
                    "stale row (optimistic lock)", 0) + 1
                continue
            except DBAPIError as exc:
                state = getattr(exc.orig, "sqlstate", None)
                if state in RETRY_STATES:
                    self.tally.retried[RETRY_STATES[state]] = self.tally.retried.get(RETRY_STATES[state], 0) + 1
                    continue
                self.tally.errors.append(f"{kind}: {type(exc.orig).__name__} {state}")
                return None
            except Exception as exc:  # noqa: BLE001 - counted and reported
                self.tally.errors.append(f"{kind}: {type(exc).__name__}: {str(exc)[:120]}")
                return None
            self.tally.latencies.append((kind, (time.perf_counter() - start) * 1000, self._commit_ms, self.statements,
                                        (time.process_time() - cpu) * 1000))
            return result
        self.tally.errors.append(f"{kind}: gave up after 10 retries")
        return None

    def edit_text(self, kind: str, save: Any, read: Any, mine: str, base: str | None) -> str:
        """Save ``mine`` based on ``base``; on a crossing edit merge as the conflict dialog does. Returns what was saved."""
        from iop_facilitator.errors import EditConflict

        for _attempt in range(10):
            try:
                self.tx(kind, lambda s, text=mine, based=base: save(s, text, based))
                return mine
            except EditConflict as exc:
                self.tally.conflicts += 1
                theirs = exc.theirs or ""
                mine = merge(theirs, exc.mine)
                base = theirs
                self.tally.merged += 1
        self.tally.errors.append(f"{kind}: conflict not resolved after 10 merges")
        return read()


def merge(theirs: str, mine: str) -> str:
    """The conflict dialog's merge: both texts, theirs first (nothing dropped)."""
    if mine in theirs:
        return theirs
    if theirs in mine:
        return mine
    return f"{theirs}\n{mine}" if theirs else mine


def wait_for_go(go: tuple[Any, Any]) -> None:
    """Say this process is ready (imported, connected), then wait until every process is."""
    ready, event = go
    ready.put(1)
    event.wait()


class Pacer:
    def __init__(self, compress: float, rng: random.Random) -> None:
        self.compress = compress
        self.rng = rng

    def pause(self, key: str, scale: float = 1.0) -> None:
        seconds = PAUSE[key] * scale * self.rng.uniform(0.6, 1.4) / self.compress
        time.sleep(seconds)


# --------------------------------------------------------------------------- a leader


def leader(index: int, url: str, group_id: str, lead_id: str, compress: float, go: Any, out: Any,
           co_device: Any) -> None:
    """Run today's meeting of one group; put a :class:`Tally` (with the intended final state) on ``out``."""
    tally = Tally(f"leader {index}")
    try:
        _leader(index, url, group_id, lead_id, compress, go, tally, co_device)
    except Exception:  # noqa: BLE001 - reported by the parent
        tally.errors.append("crashed: " + traceback.format_exc().strip().splitlines()[-1][:160])
    out.put(tally)


def _leader(index: int, url: str, group_id: str, lead_id: str, compress: float, go: Any, tally: Tally,
            co_device: Any) -> None:
    """``co_device``: None, or the event the co-leader's device sets when its last edit is saved."""
    import uuid

    from iop_facilitator.enums import AttendanceStatus
    from iop_facilitator.library.load import load_library
    from iop_facilitator.models import Attendance, GroupMeeting, NoteFacts, StoryNote
    from iop_facilitator.resources import topics_dir
    from iop_facilitator.services import live, live_read, note_facts, notes

    rng = random.Random(index)
    pace = Pacer(compress, rng)
    writer = Writer(url, tally)
    library = load_library([("bundled", topics_dir())])
    topics = library.sorted()
    group, lead = uuid.UUID(group_id), uuid.UUID(lead_id)
    wait_for_go(go)
    pace.pause("stagger")

    meeting = writer.tx("start meeting", lambda s: live.start_meeting(s, group, facilitator=lead).id)
    if meeting is None:
        return
    tally.meeting_id = str(meeting)
    with writer.db.session() as s:
        view = live_read.load_snapshot(s, meeting)
    members = [m.member_id for m in view.members]
    want: dict[str, Any] = {"members": {}, "stories": [], "meeting": {}}
    rows = {m: want["members"].setdefault(str(m), {}) for m in members}

    # Roll call: most present, some late, one excused absence in larger groups.
    absent = {members[-1]} if len(members) >= 6 and rng.random() < 0.7 else set()
    for m in members:
        status = AttendanceStatus.absent_excused if m in absent else (
            AttendanceStatus.late if rng.random() < 0.1 else AttendanceStatus.present)
        writer.tx("roll call key", lambda s, m=m, st=status: live.set_status(s, meeting, m, st, by=lead))
        rows[m]["status"] = status.value
        pace.pause("roll")
    here = [m for m in members if m not in absent]

    # Check-in round.
    for m in here:
        mood, urge = rng.randint(2, 9), rng.randint(0, 7)
        writer.tx("check-in rating", lambda s, m=m, v=mood: live.set_checkin(s, meeting, m, mood=v, by=lead))
        pace.pause("checkin_field")
        writer.tx("check-in rating", lambda s, m=m, v=urge: live.set_checkin(s, meeting, m, urge=v, by=lead))
        pace.pause("checkin_field")
        feeling = rng.choice(["tired", "hopeful", "anxious", "calm", "restless", "grateful", "flat", "okay"])
        writer.tx("check-in feeling", lambda s, m=m, f=feeling: live.set_checkin(
            s, meeting, m, feeling=f, feeling_based_on="", by=lead))
        pace.pause("checkin_field")
        safety = rng.random() < 0.03
        writer.tx("check-in safety", lambda s, m=m, v=safety: live.set_checkin(s, meeting, m, safety_concern=v, by=lead))
        rows[m].update(mood=mood, urge=urge, feeling=feeling, safety=safety)
        pace.pause("checkin_member")

    # Stories: half the members; typed in two saves, then corrected.
    for n, m in enumerate(here[::2]):
        first = f"Fictional story {n + 1}: talked about a hard weekend"
        story = writer.tx("story add", lambda s, m=m, t=first: live.add_story(s, meeting, m, t, author_id=lead).id)
        pace.pause("story_save")
        second = first + " and the plan that helped on Sunday."
        writer.tx("story edit", lambda s, sid=story, t=second, b=first: live.update_story(s, sid, t, based_on=b))
        pace.pause("story_fix")
        third = second.replace("hard weekend", "hard, long weekend")
        writer.tx("story edit", lambda s, sid=story, t=third, b=second: live.update_story(s, sid, t, based_on=b))
        want["stories"].append([str(m), third])

    # Topic.
    loaded = rng.choice(topics)
    writer.tx("topic", lambda s: live.choose_topic(s, meeting, loaded).id)
    want["meeting"]["topic_id"] = loaded.topic.id
    ticked: set[int] = set()
    for prompt in range(3):
        pace.pause("topic_prompt")
        writer.tx("topic prompt", lambda s, i=prompt: live.toggle_prompt(s, meeting, i))
        ticked ^= {prompt}
    want["meeting"]["prompts_done"] = sorted(ticked)
    topic_text = "Fictional topic notes: the group practised the stress plan."

    def save_topic(s: Any, text: str, based: str | None) -> None:
        live.set_topic_notes(s, meeting, text, based_on=based)

    def read_topic() -> str:
        with writer.db.session() as s:
            return s.get(GroupMeeting, meeting).topic_notes or ""

    saved = writer.edit_text("topic notes", save_topic, read_topic, topic_text, "")
    want["meeting"]["topic_notes"] = [topic_text]

    # Check-out.
    for m in here:
        closing = rng.randint(3, 10)
        writer.tx("check-out rating", lambda s, m=m, v=closing: live.set_checkout(s, meeting, m, mood=v, by=lead))
        pace.pause("checkout_field")
        takeaway = f"Fictional takeaway {rng.randint(1, 99)}: call my sponsor tonight"

        def save_takeaway(s: Any, text: str, based: str | None, m: uuid.UUID = m) -> None:
            live.set_checkout(s, meeting, m, takeaway=text, takeaway_based_on=based, by=lead)

        def read_takeaway(m: uuid.UUID = m) -> str:
            with writer.db.session() as s:
                return live._attendance(s, meeting, m).checkout_takeaway or ""

        saved = writer.edit_text("check-out takeaway", save_takeaway, read_takeaway, takeaway, "")
        rows[m].update(closing=closing, takeaway=[takeaway])
        if co_device is not None and m in here[:4]:
            # A typo fixed a little later, based on what this screen saved: crosses the co-leader's edit.
            pace.pause("checkout_field")
            fixed = takeaway + " (and go to a meeting)"
            writer.edit_text("check-out takeaway", save_takeaway, read_takeaway, fixed, saved)
            rows[m]["takeaway"] = [fixed]
        pace.pause("checkout_member")

    writer.tx("finish", lambda s: live.finish_meeting(s, meeting).id)
    topic = library.get(loaded.topic.id)
    writer.tx("draft notes", lambda s: notes.draft_notes(s, meeting, topic).changed)

    # The facts of each member, each save followed by that member's redraft (as the notes step does).
    for m in here:
        with writer.db.session() as s:
            shown = note_facts.load_facts(s, meeting).get(m)
        participation = rng.choice(["active", "engaged_when_prompted", "minimal", "listened"])
        affect = sorted(rng.sample(["euthymic", "bright", "anxious", "depressed", "irritable", "flat"], 2))
        observation = f"Fictional observation: member {members.index(m) + 1} gave peers feedback."
        for name, value, based in (
            ("participation", participation, getattr(shown, "participation", None) if shown else None),
            ("affect", affect, list(getattr(shown, "affect", ()) or []) if shown else None),
            ("observation", observation, getattr(shown, "observation", None) if shown else None),
        ):
            def op(s: Any, name: str = name, value: Any = value, based: Any = based, m: uuid.UUID = m) -> None:
                note_facts.save_facts(s, meeting, m, **{name: value}, based_on={name: based})
                notes.draft_notes(s, meeting, topic, member_ids=[m], narrative=False, fill_empty=False)
            writer.tx("note fact (+ redraft)", op)
            pace.pause("fact")
        rows[m].update(participation=participation, affect=affect, observation=observation)

    # The narrative, edited from the draft.
    with writer.db.session() as s:
        drafted = s.get(GroupMeeting, meeting).group_narrative or ""
    narrative = drafted + " Fictional: the group agreed on next week's check-in."

    def save_narrative(s: Any, text: str, based: str | None) -> None:
        live.set_narrative(s, meeting, text, based_on=based)

    def read_narrative() -> str:
        with writer.db.session() as s:
            return s.get(GroupMeeting, meeting).group_narrative or ""

    writer.edit_text("narrative", save_narrative, read_narrative, narrative, drafted)
    want["meeting"]["narrative"] = [narrative]
    pace.pause("sign")
    if co_device is not None:
        co_device.wait(60)  # the co-leader's last edit lands before signing (as two people would agree)
    signed = writer.tx("sign", lambda s: notes.sign(s, meeting, lead).status.value)
    if signed is None:
        with writer.db.session() as s:
            gaps = notes.missing(live_read.load_snapshot(s, meeting))
        tally.errors.append("sign refused: " + "; ".join(g.key.split(":")[0] for g in gaps[:5]))
    want["meeting"]["status"] = "signed"
    tally.intended = want
    del Attendance, NoteFacts, StoryNote  # imported for the parent's check (same names)


# --------------------------------------------------------------------------- the co-leader's device


def co_leader(url: str, group_id: str, lead_id: str, today: str, go: Any, out: Any, done: Any) -> None:
    tally = Tally("co-leader device")
    try:
        _co_leader(url, group_id, lead_id, dt.date.fromisoformat(today), go, tally)
    except Exception:  # noqa: BLE001
        tally.errors.append("crashed: " + traceback.format_exc().strip().splitlines()[-1][:160])
    done.set()
    out.put(tally)


def _co_leader(url: str, group_id: str, lead_id: str, today: dt.date, go: Any, tally: Tally) -> None:
    import uuid

    from iop_facilitator.enums import MeetingStatus
    from iop_facilitator.models import GroupMeeting
    from iop_facilitator.services import live, live_read

    writer = Writer(url, tally)
    group, lead = uuid.UUID(group_id), uuid.UUID(lead_id)
    wait_for_go(go)
    deadline = time.monotonic() + 3600

    def meeting_now() -> GroupMeeting | None:
        import sqlmodel

        with writer.db.session() as s:
            return s.exec(sqlmodel.select(GroupMeeting).where(GroupMeeting.group_id == group)
                          .where(GroupMeeting.local_date == today)).first()

    meeting = None
    while meeting is None or meeting.status == MeetingStatus.draft:
        time.sleep(0.05)
        meeting = meeting_now()
        if time.monotonic() > deadline:
            raise RuntimeError("the leader never started the meeting")
    mid = meeting.id
    tally.meeting_id = str(mid)
    typed: dict[str, list[str]] = {}

    def read_row(m: uuid.UUID) -> str:
        with writer.db.session() as s:
            row = live._attendance(s, mid, m)
            return (row.checkout_takeaway or "") if row is not None else ""

    def wait_for(read: Any, than: str, seconds: float = 20.0) -> None:
        end = time.monotonic() + seconds
        while read() == than and time.monotonic() < end:
            time.sleep(0.02)

    # Topic notes: the co-leader starts typing before the leader's save lands.
    def read_topic() -> str:
        with writer.db.session() as s:
            return s.get(GroupMeeting, mid, populate_existing=True).topic_notes or ""

    base = ""
    wait_for(read_topic, base, 600)
    mine = "Fictional co-leader addition: two members asked for the worksheet."
    writer.edit_text("topic notes (co-leader)", lambda s, t, b: live.set_topic_notes(s, mid, t, based_on=b),
                     read_topic, mine, base)
    typed["topic_notes"] = [mine]
    with writer.db.session() as s:  # the roll call is over: the members here, in the roll's order
        view = live_read.load_snapshot(s, mid)
    members = [m.member_id for m in view.members if m.member_id in {a.member_id for a in view.attended}]
    # The first four takeaways: the co-leader adds what the member said, from the empty field it showed.
    for m in members[:4]:
        wait_for(lambda m=m: read_row(m), "", 600)
        mine = "Fictional co-leader: also wants to journal"
        writer.edit_text("check-out takeaway (co-leader)",
                         lambda s, t, b, m=m: live.set_checkout(s, mid, m, takeaway=t, takeaway_based_on=b, by=lead),
                         lambda m=m: read_row(m), mine, "")
        typed[str(m)] = [mine]

    # The narrative: the co-leader edits the draft it showed while the leader edits it too.
    def read_narrative() -> str:
        with writer.db.session() as s:
            return s.get(GroupMeeting, mid, populate_existing=True).group_narrative or ""

    wait_for(read_narrative, "", 600)
    drafted = read_narrative()
    mine = drafted + " Fictional co-leader: homework sheets handed out."
    writer.edit_text("narrative (co-leader)", lambda s, t, b: live.set_narrative(s, mid, t, based_on=b),
                     read_narrative, mine, drafted)
    typed["narrative"] = [mine]
    tally.intended = {"co": typed}


# --------------------------------------------------------------------------- staff


def staff(index: int, url: str, today: str, go: Any, stop: Any, out: Any, folder: str) -> None:
    tally = Tally(f"staff {index}")
    day = dt.date.fromisoformat(today)
    monday = day - dt.timedelta(days=day.weekday())
    last_mon, last_sun = monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)
    iso_year, iso_week, _ = last_mon.isocalendar()
    jobs = [
        ("export notes PDF (last week)", ["export", "notes", "--format", "pdf", "--since", last_mon.isoformat(),
                                          "--until", last_sun.isoformat(), "--out", f"{folder}/notes{index}.pdf",
                                          "--force", "-q"]),
        ("export attendance CSV (this week)", ["export", "attendance", "--since", monday.isoformat(), "--until",
                                               today, "--out", f"{folder}/att{index}.csv", "--force", "-q"]),
        ("report hours (last week)", ["report", "hours", "--week", f"{iso_year}-W{iso_week:02d}"]),
        ("report attendance (this week)", ["report", "attendance", "--since", monday.isoformat(), "--until", today]),
    ]
    wait_for_go(go)
    n = index
    while not stop.is_set():
        name, argv = jobs[n % len(jobs)]
        n += 1
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "iop_facilitator", "--db", url, *argv], check=False, env=env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        tally.jobs.append((name, time.perf_counter() - start, proc.returncode))
        if proc.returncode != 0:
            tally.errors.append(f"{name}: exit {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1][:160]}")
    out.put(tally)


# --------------------------------------------------------------------------- checking afterwards


def check(url: str, tallies: list[Tally]) -> tuple[int, list[str]]:
    """Compare every leader's intended final state with the database; (fields checked, mismatches)."""
    import uuid

    import sqlmodel

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import Attendance, GroupMeeting, NoteFacts, StoryNote

    db = open_database(url)
    co = next((t.intended.get("co", {}) for t in tallies if t.who == "co-leader device"), {})
    co_meeting = next((t.meeting_id for t in tallies if t.who == "co-leader device"), "")
    checked, lost = 0, []

    def same(where: str, stored: Any, wanted: Any, fragments: bool = False) -> None:
        nonlocal checked
        checked += 1
        ok = all(f in (stored or "") for f in wanted) if fragments else stored == wanted
        if not ok:
            lost.append(where)

    with db.session() as s:
        for t in tallies:
            if not t.who.startswith("leader") or not t.intended:
                continue
            mid = uuid.UUID(t.meeting_id)
            mine_co = co if t.meeting_id == co_meeting else {}
            meeting = s.get(GroupMeeting, mid)
            want = t.intended["meeting"]
            same(f"{t.who} status", meeting.status.value, want["status"])
            same(f"{t.who} topic", meeting.topic_id, want["topic_id"])
            same(f"{t.who} prompts", sorted(meeting.prompts_done or []), want["prompts_done"])
            same(f"{t.who} topic notes", meeting.topic_notes, want["topic_notes"] + mine_co.get("topic_notes", []),
                 fragments=True)
            same(f"{t.who} narrative", meeting.group_narrative, want["narrative"] + mine_co.get("narrative", []),
                 fragments=True)
            rows = {str(r.member_id): r for r in s.exec(sqlmodel.select(Attendance).where(Attendance.meeting_id == mid))}
            facts = {str(f.member_id): f for f in s.exec(sqlmodel.select(NoteFacts).where(NoteFacts.meeting_id == mid))}
            for member, w in t.intended["members"].items():
                r = rows.get(member)
                if r is None:
                    lost.append(f"{t.who} attendance row")
                    continue
                same(f"{t.who} status", r.status.value, w["status"])
                if "mood" not in w:
                    continue
                same(f"{t.who} mood", r.checkin_mood, w["mood"])
                same(f"{t.who} urge", r.checkin_urge, w["urge"])
                same(f"{t.who} feeling", r.checkin_feeling, w["feeling"])
                same(f"{t.who} safety", bool(r.safety_concern), w["safety"])
                same(f"{t.who} closing", r.checkout_mood, w["closing"])
                same(f"{t.who} takeaway", r.checkout_takeaway, w["takeaway"] + mine_co.get(member, []), fragments=True)
                f = facts.get(member)
                same(f"{t.who} participation", f.participation.value if f and f.participation else None,
                     w["participation"])
                same(f"{t.who} affect", sorted(f.affect or []) if f else None, w["affect"])
                same(f"{t.who} observation", f.observation if f else None, w["observation"])
            stories = sorted([str(n.member_id), n.text] for n in s.exec(
                sqlmodel.select(StoryNote).where(StoryNote.meeting_id == mid)))
            same(f"{t.who} stories", stories, sorted(t.intended["stories"]))
    db.engine.dispose()
    return checked, lost


# --------------------------------------------------------------------------- main


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def server_stats(url: str, dbname: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url + "/postgres")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT deadlocks, xact_commit, xact_rollback, conflicts FROM pg_stat_database "
                                   "WHERE datname = :d"), {"d": dbname}).one()
    engine.dispose()
    return dict(row._mapping)


def settings_line(url: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(url + "/postgres")
    names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes",
             "shared_buffers", "max_connections", "default_transaction_isolation")
    with engine.connect() as conn:
        values = [f"{n}={conn.execute(sa.text(f'SHOW {n}')).scalar()}" for n in names]
    engine.dispose()
    return ", ".join(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaders", type=int, default=50, help="concurrent leaders (one group each; default 50)")
    parser.add_argument("--members", type=int, default=12, help="members per group (default 12)")
    parser.add_argument("--compress", type=float, default=100.0, help="divide the room's pauses by this (default 100)")
    parser.add_argument("--staff", type=int, default=2, help="staff processes running exports and reports (default 2)")
    parser.add_argument("--no-conflict", action="store_true", help="no second device on the first meeting")
    parser.add_argument("--server-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="extra postgres -c setting (default: none; fsync and synchronous_commit stay on)")
    args = parser.parse_args()

    print(f"load average before: {loadavg()}  ({os.cpu_count()} CPUs)", flush=True)
    server = ThrowawayServer(args.server_setting)
    folder = Path(tempfile.mkdtemp(prefix="iop-bench-clinic-out-"))
    procs: list[mp.process.BaseProcess] = []
    # Ctrl-C and SIGTERM both stop everything and remove the server (also when started in the background,
    # where the shell leaves SIGINT ignored).
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_term = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        base = server.start()
        print(f"server: {settings_line(base)}", flush=True)
        dbname = "iop_clinic"
        import sqlalchemy as sa

        admin = sa.create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {dbname}"))
        admin.dispose()
        url = f"{base}/{dbname}"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "iop_facilitator", "--db", url, "seed", "--groups", str(args.leaders),
                        "--weeks", str(SEED_WEEKS), "--members-per-group", str(args.members), "--quiet"],
                       env=env(), check=True, stdout=subprocess.DEVNULL)
        print(f"seeded {args.leaders} groups x {args.members} members, {SEED_WEEKS} weeks of history "
              f"(fictional) in {time.perf_counter() - start:.0f} s", flush=True)

        from iop_facilitator.clock import local_today
        from iop_facilitator.db.engine import open_database
        from iop_facilitator.services import groups as group_service
        from iop_facilitator.services.settings import get_settings

        db = open_database(url)
        with db.session() as s:
            today = local_today(get_settings(s).timezone)
            pairs = []
            for g in sorted(group_service.list_groups(s), key=lambda g: g.name):
                people = [p for p in group_service.facilitators_of(s, g) if p.credentials.strip()]
                pairs.append((str(g.id), str(people[0].id)))
        db.engine.dispose()
        with contextlib.suppress(Exception):
            sa.create_engine(url).dispose()
        before = server_stats(base, dbname)

        ctx = mp.get_context("spawn")
        go, stop, out = (ctx.Queue(), ctx.Event()), ctx.Event(), ctx.Queue()
        co_done = None if args.no_conflict else ctx.Event()
        for i, (gid, lid) in enumerate(pairs[: args.leaders]):
            procs.append(ctx.Process(target=leader, args=(i, url, gid, lid, args.compress, go, out,
                                                          co_done if i == 0 else None), name=f"leader-{i}"))
        if co_done is not None:
            procs.append(ctx.Process(target=co_leader, args=(url, pairs[0][0], pairs[0][1], today.isoformat(), go, out,
                                                             co_done), name="co-leader"))
        staff_procs = [ctx.Process(target=staff, args=(i, url, today.isoformat(), go, stop, out, str(folder)))
                       for i in range(args.staff)]
        print(f"starting {len(procs)} writer processes and {len(staff_procs)} staff processes ...", flush=True)
        for p in [*procs, *staff_procs]:
            p.start()
        for _ in range(len(procs) + len(staff_procs)):  # every process imported and connected
            go[0].get(timeout=900)
        print(f"load average at the start: {loadavg()}", flush=True)
        wall = time.perf_counter()
        go[1].set()
        tallies: list[Tally] = []
        loads = []
        waits: dict[str, int] = {}
        watcher = sa.create_engine(base + "/postgres")
        while len(tallies) < len(procs):
            with watcher.connect() as conn:  # what the server's backends are doing: running, or waiting on what
                for state, event_type, event, n in conn.execute(sa.text(
                        "SELECT state, wait_event_type, wait_event, count(*) FROM pg_stat_activity "
                        "WHERE datname = :d AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                        "GROUP BY 1, 2, 3"), {"d": dbname}):
                    if state == "active":
                        key = f"{event_type}:{event}" if event_type else "running (CPU)"
                        waits[key] = waits.get(key, 0) + n
            with contextlib.suppress(Exception):
                tallies.append(out.get(timeout=1))
                print(f"  {tallies[-1].who} done ({time.perf_counter() - wall:.0f} s)", flush=True)
            loads.append(os.getloadavg()[0])
            if len(tallies) < len(procs) and not any(p.is_alive() for p in procs) and out.empty():
                dead = [f"{p.name} exit {p.exitcode}" for p in procs]
                raise SystemExit(f"writer processes ended without reporting: {dead}")
        elapsed = time.perf_counter() - wall
        stop.set()
        for _ in staff_procs:
            tallies.append(out.get(timeout=600))
        for p in [*procs, *staff_procs]:
            p.join(60)
        after = server_stats(base, dbname)
        watcher.dispose()
        print(f"meetings done in {elapsed:.0f} s; load average during: max {max(loads):.2f}, "
              f"now {loadavg()}", flush=True)
        total = sum(waits.values()) or 1
        print("active backends, sampled about once a second: " + ", ".join(
            f"{k} {100 * v / total:.0f}%" for k, v in sorted(waits.items(), key=lambda kv: -kv[1])[:8]), flush=True)
        checked, lost = check(url, tallies)
        return report(tallies, before, after, checked, lost)
    except KeyboardInterrupt:
        print("interrupted: stopping the processes and the server", file=sys.stderr)
        return 130
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(10)
        with contextlib.suppress(Exception):
            for p in staff_procs:  # type: ignore[possibly-undefined]
                if p.is_alive():
                    p.terminate()
                p.join(10)
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


def report(tallies: list[Tally], before: dict[str, int], after: dict[str, int], checked: int, lost: list[str]) -> int:
    writers = [t for t in tallies if not t.who.startswith("staff")]
    lat = [x for t in writers for x in t.latencies]
    txs, commits = [x[1] for x in lat], [x[2] for x in lat]
    print()
    print(f"{len(lat)} write transactions by {len(writers)} devices")
    print(f"{'kind':<32} {'n':>6} {'tx p50':>8} {'tx p99':>8} {'tx max':>8} {'COMMIT p50':>11} {'p99':>7} "
          f"{'statements':>10} {'CPU p50':>8}")
    kinds = sorted({x[0] for x in lat}, key=lambda k: -sum(1 for x in lat if x[0] == k))
    for kind in ["all", *kinds]:
        rows = lat if kind == "all" else [x for x in lat if x[0] == kind]
        t = [x[1] for x in rows]
        c = [x[2] for x in rows]
        n = [x[3] for x in rows]
        print(f"{kind:<32} {len(rows):>6} {pct(t, .5):>8.1f} {pct(t, .99):>8.1f} {max(t):>8.1f} "
              f"{pct(c, .5):>11.1f} {pct(c, .99):>7.1f} {statistics.median(n):>10.0f} {pct([x[4] for x in rows], .5):>8.1f}")
    retried: dict[str, int] = {}
    for t in writers:
        for k, v in t.retried.items():
            retried[k] = retried.get(k, 0) + v
    errors = [f"{t.who}: {e}" for t in tallies for e in t.errors]
    conflicts = sum(t.conflicts for t in writers)
    merged = sum(t.merged for t in writers)
    deadlocks = after["deadlocks"] - before["deadlocks"]
    print()
    print(f"edit conflicts (two devices, one meeting): {conflicts}, resolved by merging: {merged}")
    print(f"lost updates: {len(lost)} of {checked} fields checked" + (f" ({'; '.join(lost[:8])})" if lost else ""))
    print(f"deadlocks (pg_stat_database): {deadlocks}; rolled back transactions: "
          f"{after['xact_rollback'] - before['xact_rollback']}; committed: {after['xact_commit'] - before['xact_commit']}")
    print(f"serialization / lock / stale-row errors (retried): {retried or 0}")
    print(f"other errors: {len(errors)}")
    for e in errors[:20]:
        print(f"  {e}")
    jobs = [j for t in tallies if t.who.startswith("staff") for j in t.jobs]
    for name in sorted({j[0] for j in jobs}):
        times = [j[1] for j in jobs if j[0] == name]
        print(f"staff: {name}: {len(times)} runs, median {statistics.median(times):.1f} s, max {max(times):.1f} s")
    p99 = pct(txs, .99)
    ok = p99 < TARGET_P99_MS and not lost and not errors and deadlocks == 0 and not retried
    print()
    print(f"commit latency (transaction) p50 {pct(txs, .5):.1f} ms, p99 {p99:.1f} ms; COMMIT alone p50 "
          f"{pct(commits, .5):.1f} ms, p99 {pct(commits, .99):.1f} ms; target p99 < {TARGET_P99_MS:.0f} ms, "
          f"zero errors: {'PASS' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
