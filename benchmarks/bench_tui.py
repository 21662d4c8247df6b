#!/usr/bin/env python3
"""TUI benchmarks, side by side in one run, in a real terminal under tmux.

1. Start to first frame: ``iop`` vs a minimal Textual hello-world app (target <= 1.3x).
2. Start to the home screen showing data of a 10-year seeded clinic
   (``iop seed --groups 50 --weeks 520``) vs the hello-world's first frame (target <= 2x).
3. A status key in roll call, durably committed: p99 latency from the key press to the end
   of the commit (target <= 5 ms), beside a plain ``sqlite3`` durable single-row commit.
4. Peak memory (VmHWM) of ``iop`` on the home screen vs the hello-world app (target <= 3x).

Usage::

    python benchmarks/bench_tui.py                 # full: seeds the 10-year clinic once (about a minute)
    python benchmarks/bench_tui.py --quick         # a 2-year, 10-group clinic instead
    python benchmarks/bench_tui.py --db FILE       # reuse an already seeded clinic

Timing is wall time with ``time.perf_counter``; frames are detected by polling
``tmux capture-pane`` every 5 ms, for both apps alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

HELLO = textwrap.dedent(
    """
    from textual.app import App
    from textual.widgets import Static

    class Hello(App):
        def compose(self):
            yield Static("hello-world-ready")

    Hello().run()
    """
)


def tmux(sock: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True).stdout


def run_in_tmux(
    command: list[str], markers: list[str], env: dict[str, str], timeout: float = 60.0, settle: float = 0.0
) -> dict[str, float]:
    """Start ``command`` in a fresh tmux server; seconds until each marker first shows; peak memory."""
    sock = f"iopbench{uuid.uuid4().hex[:8]}"
    shell_cmd = " ".join(f"'{c}'" for c in command)
    exports = " ".join(f"{k}='{v}'" for k, v in env.items())
    found: dict[str, float] = {}
    start = time.perf_counter()
    subprocess.run(
        ["tmux", "-L", sock, "new-session", "-d", "-x", "120", "-y", "40", f"env {exports} {shell_cmd}"], check=True
    )
    try:
        while len(found) < len(markers):
            screen = tmux(sock, "capture-pane", "-p")
            now = time.perf_counter() - start
            for marker in markers:
                if marker not in found and marker in screen:
                    found[marker] = now
            if now > timeout:
                raise TimeoutError(f"markers {set(markers) - set(found)} never showed; screen:\n{screen}")
            time.sleep(0.005)
        time.sleep(settle)  # peak memory once the app has settled (database open, guides parsed)
        pid = tmux(sock, "display", "-p", "#{pane_pid}").strip()
        found["peak_kib"] = float(_peak_kib(pid))
        tmux(sock, "send-keys", "C-q")
        time.sleep(0.5)
    finally:
        tmux(sock, "kill-server")
    return found


def _peak_kib(pid: str) -> int:
    """The peak resident memory of ``pid`` and its children (the env wrapper execs python)."""
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


def seed(db: Path, groups: int, weeks: int) -> None:
    print(f"seeding {groups} groups x {weeks} weeks into {db} ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "iop_facilitator", "--db", str(db), "seed", "--groups", str(groups), "--weeks", str(weeks),
         "--quiet"],
        check=True,
    )


def clinic_marker(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT clinic_name FROM program_settings").fetchone()[0].split(" (")[0]
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
        async with app.run_test(size=(120, 40)) as pilot:
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


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 10-group, 2-year clinic instead of 50 x 10 years")
    parser.add_argument("--db", type=Path, help="an already seeded clinic to use (copied, never changed)")
    parser.add_argument("--runs", type=int, default=5, help="start-up runs of each app (median)")
    parser.add_argument("--presses", type=int, default=200, help="status keys pressed in roll call")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is needed for this benchmark")
        return 2
    from _bytecode import byte_compile_package

    byte_compile_package()
    work = Path(tempfile.mkdtemp(prefix="iop-bench-tui-"))
    try:
        hello = work / "hello.py"
        hello.write_text(HELLO)
        db = work / "clinic.db"
        if args.db:
            shutil.copy(args.db, db)
        else:
            seed(db, *((10, 104) if args.quick else (50, 520)))
        marker = clinic_marker(db)
        env = {"IOP_HOME": str(work / "home"), "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"}
        first, home, hello_first, mem_iop, mem_hello = [], [], [], [], []
        for _ in range(args.runs):
            h = run_in_tmux([sys.executable, str(hello)], ["hello-world-ready"], env)
            hello_first.append(h["hello-world-ready"])
            mem_hello.append(h["peak_kib"])
            r = run_in_tmux([sys.executable, "-m", "iop_facilitator", "--db", str(db)], ["Quit", marker], env, settle=3.0)
            first.append(r["Quit"])
            home.append(r[marker])
            mem_iop.append(r["peak_kib"])
        base = statistics.median(hello_first)
        print(f"start-up, median of {args.runs} runs in tmux (120x40):")
        rows = [
            ("hello-world first frame", base, None, None),
            ("iop first frame", statistics.median(first), statistics.median(first) / base, 1.3),
            ("iop home with data", statistics.median(home), statistics.median(home) / base, 2.0),
        ]
        ok = True
        for name, value, ratio, target in rows:
            verdict = "" if ratio is None else f"ratio {ratio:.2f}x (target <= {target}x) {'PASS' if ratio <= target else 'MISS'}"
            ok = ok and (ratio is None or ratio <= target)
            print(f"  {name:28s} {value * 1000:8.1f} ms  {verdict}")
        mem_ratio = statistics.median(mem_iop) / statistics.median(mem_hello)
        ok = ok and mem_ratio <= 3
        print(
            f"peak memory: iop {statistics.median(mem_iop) / 1024:.1f} MiB, hello-world "
            f"{statistics.median(mem_hello) / 1024:.1f} MiB: ratio {mem_ratio:.2f}x (target <= 3x) "
            f"{'PASS' if mem_ratio <= 3 else 'MISS'}"
        )
        os.environ.update(env)
        lat = roll_call_latencies(db, args.presses)
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
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
