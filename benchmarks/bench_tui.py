#!/usr/bin/env python3
"""TUI benchmarks, side by side in one run, measured from the pane's spawn in one tmux server.

Every app runs in the same pane of ONE long-lived tmux server (its own ``-L`` socket), each
run started with ``respawn-pane -k``; the screen is watched through ONE control-mode client
(``tmux -C attach``): the time of a marker is the time of the ``%output`` notification that
put it on screen, confirmed with ``capture-pane`` sent through the same client. The apps run
round-robin (the order rotates every round), so a load drift on this shared machine hits
every side alike; medians and p90 over many rounds.

Apps and what is timed (all from the ``respawn-pane`` command; quits from the quit key to the
shell's line printed after the process ended):

* ``floor``: ``sh -c 'printf ...'``: the cost of spawning a pane at all;
* ``hello``: a hello-world Textual app: its first frame, and its quit (Ctrl+Q);
* ``iop-new``: ``iop`` on a new, empty database: first frame (target <= 1.3x hello);
* ``iop``: ``iop`` on a copy of the 10-year clinic: first frame, home screen with data
  (target <= 2x hello), peak memory (<= 3x hello), quit (<= 1.5x hello's quit);
* ``demo``: ``iop demo`` (its demo clinic built once before the clock starts): home screen
  with data (target <= 2x hello);
* ``open``: ``iop`` on the 10-year clinic again, then the key that starts today's first
  group: key to roll call drawn (target <= 1.5x the home screen's own start-up, ``iop``).

After the rounds, the roll-call status key to its durable commit runs headless (Textual's
``run_test``) on the same clinic, beside a plain ``sqlite3`` durable single-row commit.

Usage::

    python benchmarks/bench_tui.py --db /tmp/x/clinic10.db   # a COPY of the 10-year clinic (at the current schema)
    python benchmarks/bench_tui.py --quick                     # seeds a 10-group, 2-year clinic instead
    python benchmarks/bench_tui.py --rounds 25 --only hello,iop

The clinic given with ``--db`` is used in place: the open-meeting runs start today's meeting
of one group and set it back to ``draft`` after each run (an audit entry per run remains).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

WIDTH, HEIGHT = 120, 40
EXIT_MARK = "IOPBENCH-EXITED"
FLOOR_MARK = "iopbench-floor-ready"
HELLO_MARK = "hello-world-ready"
FIRST_FRAME = "Quit"  # the footer's last key, drawn with the first complete frame of every iop screen
ROLL_CALL = "gets the next key"  # the check-in step's pointer line: roll call drawn with its members

HELLO = textwrap.dedent(
    f"""
    from textual.app import App
    from textual.widgets import Static

    class Hello(App):
        def compose(self):
            yield Static("{HELLO_MARK}")

    Hello().run()
    """
)

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[P^_X][^\x1b]*\x1b\\"  # DCS, PM, APC, SOS
    r"|\x1b[()*+][0-9A-Za-z]"  # character set
    r"|\x1b[ -/]*[0-~]"  # other two-character escapes
    r"|[\x00-\x08\x0b-\x1f\x7f]"  # control characters but \t and \n
)
_OCTAL = re.compile(rb"\\([0-7]{3}|\\)")


def _unescape(data: bytes) -> bytes:
    """tmux control mode writes bytes < 32 and the backslash as ``\\ooo``."""
    return _OCTAL.sub(lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1), 8)]), data)


class ControlTmux:
    """One tmux server, one window of WIDTHxHEIGHT, one pane, one control-mode client.

    Every run respawns the same pane (``respawn-pane -k``). Every command ends in ``exec sleep``
    so the pane never dies on its own: tmux 3.3a does not always send a dying pane's last
    output to control clients (the screen has it, ``%output`` not), and the pane's output
    offsets then carried over into the next respawn, losing that process's first output too.
    tmux also, now and then, starts a control client that receives no ``%output`` at all:
    :meth:`start` probes and starts another server then.
    """

    @classmethod
    def start(cls, attempts: int = 8) -> ControlTmux:
        for _ in range(attempts):
            tmux = cls()
            try:
                t0 = tmux.spawn("printf iopbench-probe; exec sleep 3600", "iopbench-probe")
                tmux.wait(t0, ("iopbench-probe",), timeout=2.0, confirm=False)
                return tmux
            except (TimeoutError, OSError, queue.Empty):
                tmux.close()
        raise RuntimeError("tmux never delivered the pane's output to its control client")

    def __init__(self) -> None:
        self.sock = f"iopbench{uuid.uuid4().hex[:8]}"
        base = ["tmux", "-L", self.sock, "-f", "/dev/null"]
        subprocess.run([*base, "new-session", "-d", "-s", "bench", "-x", str(WIDTH), "-y", str(HEIGHT),
                        "sleep 86400"], check=True)
        # (``window-size manual`` crashed tmux 3.3a's server at the next ``new-window``.)
        for option in (["remain-on-exit", "on"], ["default-size", f"{WIDTH}x{HEIGHT}"], ["status", "off"]):
            subprocess.run([*base, "set", "-g", *option], check=True)
        self.pane = ""  # the current run's pane; the session's first window (a sleep) only keeps it alive
        self.proc = subprocess.Popen([*base, "-C", "attach", "-t", "bench"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._lock = threading.Condition()
        self._raw = ""  # the pane's output since the last reset, escapes included
        self._seen: dict[str, float] = {}  # marker -> time of the %output that completed it
        self._watch: tuple[str, ...] = ()
        self._last_output = 0.0
        self._outputs = 0
        self._replies: queue.Queue[list[str]] = queue.Queue()
        self._decoder = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._replies.get(timeout=30)  # the attach command's own (empty) reply

    # -- the control client's stream ------------------------------------------------------
    def _read(self) -> None:
        import codecs

        stream = self.proc.stdout
        assert stream is not None
        block: list[str] | None = None
        for line in iter(stream.readline, b""):
            now = time.perf_counter()
            if line.startswith(b"%output "):
                _tag, _pane, data = line.rstrip(b"\n").split(b" ", 2)  # one run's pane at a time
                with self._lock:
                    if self._decoder is None:
                        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
                    chunk = self._decoder.decode(_unescape(data))
                    window = self._raw[-400:] + chunk
                    self._raw += chunk
                    self._last_output = now
                    self._outputs += 1
                    if self._watch:
                        plain = _ESCAPES.sub("", window)
                        for marker in self._watch:
                            if marker not in self._seen and marker in plain:
                                self._seen[marker] = now
                    self._lock.notify_all()
            elif line.startswith(b"%begin"):
                block = []
            elif line.startswith((b"%end", b"%error")):
                self._replies.put(block or [])
                block = None
            elif block is not None:
                block.append(line.decode("utf-8", "replace").rstrip("\n"))

    def command(self, text: str) -> list[str]:
        """Send one tmux command through the control client; its output lines."""
        self.send(text)
        return self._replies.get(timeout=30)

    def send(self, text: str) -> float:
        """Send a command without waiting for its reply; the time it was written."""
        assert self.proc.stdin is not None
        t = time.perf_counter()
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()
        return t

    def screen(self) -> str:
        return "\n".join(self.command(f"capture-pane -p -t {self.pane}"))

    # -- runs --------------------------------------------------------------------------------
    def watch(self, *markers: str) -> None:
        with self._lock:
            self._watch = tuple(markers)
            self._seen = {}
            self._raw = ""
            self._decoder = None
            self._last_output = 0.0

    def spawn(self, shell_command: str, *markers: str) -> float:
        """Run ``shell_command`` (by ``sh -c``) in a new pane; the time the command was sent."""
        if not self.pane:
            self.pane = self.command("new-window -d -P -F '#{pane_id}' -t bench: 'exec sleep 3600'")[0].strip()
        self.watch(*markers)
        t0 = self.send(f"respawn-pane -k -t {self.pane} {_tmux_quote(shell_command)}")
        self._replies.get(timeout=30)
        return t0

    def keys(self, *keys: str, markers: tuple[str, ...]) -> float:
        self.watch(*markers)
        t0 = self.send(f"send-keys -t {self.pane} {' '.join(keys)}")
        self._replies.get(timeout=30)
        return t0

    def wait(self, t0: float, markers: tuple[str, ...], timeout: float = 60.0, *, confirm: bool = True
             ) -> dict[str, float]:
        """Seconds from ``t0`` until each marker was drawn (and the screen shows it)."""
        deadline = time.perf_counter() + timeout
        found: dict[str, float] = {}
        last_capture = 0.0
        while len(found) < len(markers):
            with self._lock:
                self._lock.wait(0.01)
                seen = dict(self._seen)
                last_output = self._last_output
            screen = None
            for marker in markers:
                if marker in found:
                    continue
                if marker in seen:
                    if not confirm or marker in (EXIT_MARK, FLOOR_MARK):  # a shell's line, not a frame
                        found[marker] = seen[marker] - t0
                        continue
                    screen = screen if screen is not None else self.screen()
                    if marker in screen:
                        found[marker] = seen[marker] - t0
                elif last_output > last_capture and time.perf_counter() - last_capture > 0.03:
                    # Drawn in pieces (a cursor move inside the word): the screen itself says so.
                    last_capture = time.perf_counter()
                    screen = screen if screen is not None else self.screen()
                    if marker in screen:
                        found[marker] = last_output - t0
            if time.perf_counter() > deadline:
                Path(tempfile.gettempdir(), "iopbench-last-output.txt").write_text(repr(self._raw[-3000:]))
                raise TimeoutError(f"{set(markers) - set(found)} never showed; screen:\n{self.screen()}")
        return found

    def pane_pid(self) -> str:
        return self.command(f"display -p -t {self.pane} '#{{pane_pid}}'")[0].strip()

    def close(self) -> None:
        try:
            self.send("kill-server")
        except Exception:  # noqa: BLE001 - the server is going away either way
            pass
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _tmux_quote(text: str) -> str:
    assert "'" not in text, text
    return f"'{text}'"


def _peak_kib(pid: str) -> int:
    """The peak resident memory of ``pid``'s children (the ``sh -c`` around the app)."""
    best = 0
    pids = [pid] + subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]))
        except OSError:
            continue
    return best


def _cpu_ticks(pid: str) -> int:
    """CPU time (user + system, in clock ticks) of ``pid``'s children: the app under ``sh -c``."""
    total = 0
    for child in subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split():
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total


def _wait_idle(pid: str, quiet: float = 0.3, limit: float = 15.0) -> None:
    """Wait until the app used no CPU for ``quiet`` seconds (its start-up work done: database
    open, topic guides parsed), so keys and quits are timed from an idle app on every side."""
    deadline = time.perf_counter() + limit
    before = _cpu_ticks(pid)
    while time.perf_counter() < deadline:
        time.sleep(quiet)
        now = _cpu_ticks(pid)
        if now == before:
            return
        before = now


@dataclass
class App:
    name: str
    argv: list[str]
    ready: str  # the marker of "home screen with data" (or the app's only frame)
    first: str | None = None  # a first-frame marker drawn before the data, if any
    settle: float = 0.0  # seconds after ``ready``, then until the app is idle, before memory, keys and quit
    quit: bool = False
    memory: bool = False
    open_key: str | None = None  # open today's first meeting with this key after settling
    results: dict[str, list[float]] = field(default_factory=dict)

    def add(self, what: str, value: float) -> None:
        self.results.setdefault(what, []).append(value)


def one_run(tmux: ControlTmux, app: App, env: dict[str, str], after_run=None) -> None:  # noqa: ANN001
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if v)
    # The shell stays (``exec sleep``) after its line: tmux 3.3a does not always send a dying
    # pane's last output to control clients (the screen has it, ``%output`` not).
    command = (f"env {exports} {' '.join(shlex.quote(a) for a in app.argv)}; "
               f"printf \"\\n{EXIT_MARK}-%s\" $?; exec sleep 3600")
    markers = tuple(m for m in (app.first, app.ready) if m)
    t0 = tmux.spawn(command, *markers, EXIT_MARK)
    found = tmux.wait(t0, markers)
    if app.first:
        app.add("first", found[app.first])
    app.add("ready", found[app.ready])
    if app.settle:
        time.sleep(app.settle)
        _wait_idle(tmux.pane_pid())
    if app.memory:
        app.add("peak_kib", float(_peak_kib(tmux.pane_pid())))
    if app.open_key:
        t1 = tmux.keys(app.open_key, markers=(ROLL_CALL,))
        app.add("open", tmux.wait(t1, (ROLL_CALL,))[ROLL_CALL])
        time.sleep(0.5)
    if app.quit or app.open_key:
        t2 = tmux.keys("C-q", markers=(EXIT_MARK,))
        gone = tmux.wait(t2, (EXIT_MARK,), timeout=30)[EXIT_MARK]
        if app.quit:
            app.add("quit", gone)
    if after_run is not None:
        after_run()


def seed(db: Path, groups: int, weeks: int) -> None:
    print(f"seeding {groups} groups x {weeks} weeks into {db} ...", flush=True)
    subprocess.run([sys.executable, "-m", "iop_facilitator", "--db", str(db), "seed", "--groups", str(groups),
                    "--weeks", str(weeks), "--quiet"], check=True)


def data_marker(db: Path) -> str:
    """Text only the home screen's lists show: today's first group (else the first meeting
    waiting for a signature); the clinic's name, in the header, may come a frame earlier."""
    from iop_facilitator.services.home import overview_from_sqlite_file

    overview = overview_from_sqlite_file(str(db))
    if overview is None:
        raise SystemExit(f"{db}: not a plain SQLite file at the current schema (run `iop db upgrade` on a copy)")
    if overview.groups_today:
        return overview.groups_today[0].name
    if overview.open_meetings:
        return overview.open_meetings[0].group_name
    raise SystemExit(f"{db}: no group meets today and nothing waits for a signature: nothing to time")


class MeetingReset:
    """Set today's meetings started by open-meeting runs back to ``draft``.

    The seeded history ends the day before it was seeded, so a meeting of today (or later) under
    way was started by this benchmark (or an earlier, interrupted run of it); left under way, the
    next start-up would resume it instead of showing the home screen.
    """

    def __init__(self, db: Path) -> None:
        self.db = db

    def __call__(self) -> None:
        import datetime as dt

        yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()  # any timezone's today
        conn = sqlite3.connect(self.db, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("UPDATE meeting SET status = 'draft', actual_start = NULL "
                         "WHERE status = 'in_progress' AND local_date >= ?", (yesterday,))
        finally:
            conn.close()


WARM_UP = 10
"""Status keys pressed first and not counted: the first ones pay one-time costs (the meeting's
pages read from disk, SQLAlchemy compiling the statement once per process)."""


def roll_call_latencies(db: Path, presses: int) -> list[float]:
    """Seconds from pressing a status key in roll call to the end of its commit (headless app)."""
    from sqlalchemy import event
    from sqlmodel import Session

    from iop_facilitator.tui.app import IopApp
    from iop_facilitator.tui.screens.meeting import MeetingScreen

    commits: list[float] = []
    event.listen(Session, "after_commit", lambda _s: commits.append(time.perf_counter()))

    async def main() -> list[float]:
        app = IopApp(str(db))
        out: list[float] = []
        async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
            while app.store is None:
                await pilot.pause(0.05)
            app.store.flush(30)
            group_id = app.store.database.engine.connect().exec_driver_sql(
                "SELECT id FROM therapy_group ORDER BY name LIMIT 1"
            ).scalar()
            app.start_meeting(uuid.UUID(hex=group_id))
            while not (isinstance(app.screen, MeetingScreen) and app.screen.snapshot is not None):
                await pilot.pause(0.05)
            await pilot.pause(0.5)
            app.store.flush(30)
            keys = ["p", "l", "p", "e", "p", "a"]
            for i in range(WARM_UP + presses):
                if i % 10 == 0:
                    await pilot.press("home")
                before = len(commits)
                pressed = time.perf_counter()
                await pilot.press(keys[i % len(keys)])
                deadline = time.perf_counter() + 5
                while len(commits) == before and time.perf_counter() < deadline:
                    await asyncio.sleep(0.0002)
                if len(commits) > before and i >= WARM_UP:
                    out.append(commits[before] - pressed)
                app.store.flush(5)
                await pilot.pause(0.01)
        return out

    return asyncio.run(main())


def sqlite_commit_latencies(db: Path, count: int) -> list[float]:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_mark (id INTEGER PRIMARY KEY, status TEXT)")
    out = []
    for i in range(count):
        t = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT OR REPLACE INTO bench_mark (id, status) VALUES (?, ?)", (i % 12, "present"))
        conn.execute("COMMIT")
        out.append(time.perf_counter() - t)
    conn.execute("DROP TABLE bench_mark")
    conn.close()
    return out


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def p99(values: list[float]) -> float:
    return quantile(values, 0.99)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:  # noqa: C901, PLR0915 - one report
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="seed a 10-group, 2-year clinic instead of 50 x 10 years")
    parser.add_argument("--db", type=Path, help="a COPY of a seeded clinic at the current schema (used in place)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds of every app, round-robin (medians, p90)")
    parser.add_argument("--presses", type=int, default=200, help="status keys pressed in roll call")
    parser.add_argument("--only", default="", help="comma-separated apps to run (floor,hello,iop-new,iop,demo,open)")
    parser.add_argument("--no-keys", action="store_true", help="skip the headless roll-call latencies")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is needed for this benchmark")
        return 2
    from _bytecode import byte_compile_package

    byte_compile_package()
    work = Path(tempfile.mkdtemp(prefix="iop-bench-tui-"))
    tmux = None
    try:
        hello = work / "hello.py"
        hello.write_text(HELLO)
        if args.db:
            db = args.db
        else:
            db = work / "clinic.db"
            seed(db, *((10, 104) if args.quick else (50, 520)))
        marker = data_marker(db)
        home = work / "home"
        env = {"IOP_HOME": str(home), "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none",
               "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        run_env = {**os.environ, **env}
        empty = work / "empty.db"
        subprocess.run([sys.executable, "-m", "iop_facilitator", "--db", str(empty), "init"], check=True, env=run_env,
                       capture_output=True)
        os.environ.update(env)
        # The demo clinic is built once, before the clock starts (iop demo's "first use only").
        from iop_facilitator.db.engine import open_database
        from iop_facilitator.paths import demo_db_path

        demo_path = demo_db_path()
        if not demo_path.exists():
            from iop_facilitator.demo.clinic import seed_clinic

            database = open_database(demo_path, create=True)
            try:
                seed_clinic(database, groups=4, weeks=12, members_per_group=10, seed=2026)
            finally:
                database.dispose()
        py = sys.executable
        iop = [py, "-m", "iop_facilitator"]
        apps = [
            App("floor", ["printf", FLOOR_MARK], EXIT_MARK),
            App("hello", [py, str(hello)], HELLO_MARK, settle=0.3, quit=True, memory=True),
            App("iop-new", [*iop, "--db", str(empty)], "No groups yet", first=FIRST_FRAME, settle=0.3, quit=True),
            App("iop", [*iop, "--db", str(db)], marker, first=FIRST_FRAME, settle=0.3, quit=True, memory=True),
            App("demo", [*iop, "demo"], data_marker(demo_path), first=FIRST_FRAME, settle=0.3, quit=True),
            App("open", [*iop, "--db", str(db)], marker, first=FIRST_FRAME, settle=0.3, open_key="1"),
        ]
        if args.only:
            wanted = set(args.only.split(","))
            apps = [a for a in apps if a.name in wanted]
        reset = MeetingReset(db)
        reset()
        tmux = ControlTmux.start()
        print(f"load average before: {load_average()}", flush=True)
        start = time.perf_counter()
        # One warm-up round, not counted: files into the page cache, today's meeting created once.
        for app in apps:
            one_run(tmux, app, env, reset if app.open_key else None)
            app.results.clear()
        for r in range(args.rounds):
            order = apps[r % len(apps):] + apps[: r % len(apps)]
            for app in order:
                one_run(tmux, app, env, reset if app.open_key else None)
            print(f"  round {r + 1}/{args.rounds} done, load {load_average()}", flush=True)
        print(f"load average after: {load_average()} ({time.perf_counter() - start:.0f} s)")
        tmux.close()
        tmux = None
        by = {a.name: a for a in apps}

        def med(name: str, what: str) -> float | None:
            a = by.get(name)
            return statistics.median(a.results[what]) if a and what in a.results else None

        print(f"\nfrom the pane's spawn, {args.rounds} rounds round-robin in one tmux server ({WIDTH}x{HEIGHT}); "
              "median / p90 in ms:")
        for a in apps:
            for what, values in a.results.items():
                if what == "peak_kib":
                    continue
                print(f"  {a.name:8s} {what:6s} {statistics.median(values) * 1000:8.1f} / "
                      f"{quantile(values, 0.9) * 1000:8.1f}")
        floor = med("floor", "ready") or 0.0
        hello_first, hello_quit = med("hello", "ready"), med("hello", "quit")
        checks = [
            ("first frame, new database", med("iop-new", "first"), hello_first, 1.3),
            ("first frame, 10-year clinic", med("iop", "first"), hello_first, 1.3),
            ("home with 10-year data", med("iop", "ready"), hello_first, 2.0),
            ("iop demo, home with data", med("demo", "ready"), hello_first, 2.0),
            ("open meeting vs home start-up", med("open", "open"), med("iop", "ready"), 1.5),
            ("quit vs hello-world quit", med("iop", "quit"), hello_quit, 1.5),
        ]
        ok = True
        print("\nratios (targets from issue 14); 'above floor' subtracts the floor from both sides where both "
              "are spawns:")
        for name, value, base, target in checks:
            if value is None or base is None:
                continue
            ratio = value / base
            ok = ok and ratio <= target
            extra = ""
            if name.startswith(("first", "home", "iop demo")) and floor:
                extra = f"  (above floor {(value - floor) / (base - floor):.2f}x)"
            print(f"  {name:32s} {value * 1000:7.1f} ms vs {base * 1000:7.1f} ms: {ratio:.2f}x "
                  f"(target <= {target}x) {'PASS' if ratio <= target else 'MISS'}{extra}")
        mem_iop, mem_hello = med("iop", "peak_kib"), med("hello", "peak_kib")
        if mem_iop and mem_hello:
            mem_ratio = mem_iop / mem_hello
            ok = ok and mem_ratio <= 3
            print(f"  peak memory: iop {mem_iop / 1024:.1f} MiB, hello-world {mem_hello / 1024:.1f} MiB: "
                  f"{mem_ratio:.2f}x (target <= 3x) {'PASS' if mem_ratio <= 3 else 'MISS'}")
        if not args.no_keys:
            lat = roll_call_latencies(db, args.presses)
            reset()
            raw = sqlite_commit_latencies(work / "raw.db", args.presses)
            p = p99(lat) * 1000
            ok = ok and p <= 5
            print(
                f"roll-call status key to durable commit: p50 {statistics.median(lat) * 1000:.2f} ms, p99 {p:.2f} ms "
                f"over {len(lat)} presses (target p99 <= 5 ms) {'PASS' if p <= 5 else 'MISS'}; "
                f"plain sqlite3 durable commit p99 {p99(raw) * 1000:.2f} ms (ratio {p / (p99(raw) * 1000):.1f}x)"
            )
        return 0 if ok else 1
    finally:
        if tmux is not None:
            tmux.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
