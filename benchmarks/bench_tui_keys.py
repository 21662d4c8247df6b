#!/usr/bin/env python3
"""A roll-call key in the live meeting, in a real terminal: key press to the changed cell on screen.

For each status key (``p``, ``l``, ``p``, ``e``, ``p``, ``a`` in turn, all on the first member of
today's first group) the benchmark measures, on one clock (``time.monotonic``, the same
``CLOCK_MONOTONIC`` in every process):

* **key to commit**: from sending the key to the end of its durable SQLite commit, as the app
  reports it (SQLAlchemy's ``after_commit``, recorded by a small launcher this script writes;
  the application itself is not changed);
* **key to cell**: from sending the key to the moment the terminal receives the member's new
  status cell ("✓ late 09:02", "✗ excused"...), read from a tmux control-mode client's
  ``%output`` notifications (no polling of ``capture-pane``);
* **cell after commit**: their difference for the same key. Target: p99 within one 60 Hz frame
  (16.7 ms) of the commit.

It also reports the app's CPU time per key (user + system, from ``/proc/PID/stat``, over the
measured keys) and runs two checkouts of the code side by side in the same run, round by
round: ``--old`` (by default the main checkout, /work/main) and ``--new`` (this checkout), so
the figures of the code before and after a change are measured under the same load.

One long-lived tmux server (120x40) runs every app in turn (``respawn-pane``); one control-mode
client (``tmux -C attach``) sends the keys and reads the output.

Usage::

    python benchmarks/bench_tui_keys.py --db COPY          # a COPY of the 10-year clinic at the current schema
    python benchmarks/bench_tui_keys.py --db COPY --presses 300 --rounds 3 --old /work/main --new .

The database is written to (today's meeting of its first group is started and marked): pass a
copy. ``main()`` returns 0 when every side of the newest code meets the target, else 1.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
FRAME_MS = 1000 / 60
WIDTH, HEIGHT = 120, 40
sys.path.insert(0, str(HERE))
from bench_tui import p99  # noqa: E402 - the same percentile as the start-up benchmark

WARM_UP = 12
"""Keys pressed first and not counted (pages of the meeting read from disk, statements compiled)."""

#: The keys pressed, in turn, and the start of the status cell each one shows.
KEYS = (("p", "✓ present"), ("l", "✓ late"), ("p", "✓ present"), ("e", "✗ excused"), ("p", "✓ present"),
        ("a", "✗ absent"))

LAUNCHER = textwrap.dedent(
    """
    import os, sys, time
    from sqlalchemy import event
    from sqlmodel import Session

    _out = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _committed(_session):
        os.write(_out, b"%.9f\\n" % time.monotonic())

    event.listen(Session, "after_commit", _committed)
    sys.argv = ["iop", *sys.argv[2:]]
    from iop_facilitator.cli import main
    main()
    """
)


def unescape(value: str) -> bytes:
    """A ``%output`` value: tmux writes bytes below 32 and backslashes as ``\\ooo``."""
    out = bytearray()
    raw = value.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C and raw[i + 1:i + 4].isdigit() and len(raw[i + 1:i + 4]) == 3:
            out.append(int(raw[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")


class Terminal:
    """One tmux server and one control-mode client on it."""

    def __init__(self, folder: Path) -> None:
        self.socket = f"iopkeys{uuid.uuid4().hex[:8]}"
        self.config = folder / "tmux.conf"
        self.config.write_text("set -g status off\nset -g remain-on-exit on\n")
        self._tmux("new-session", "-d", "-s", "bench", "-x", str(WIDTH), "-y", str(HEIGHT), "sleep 100000")
        self.client = subprocess.Popen(
            ["tmux", "-L", self.socket, "-f", str(self.config), "-C", "attach", "-t", "bench"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
        )
        self.client.stdin.write(f"refresh-client -C {WIDTH}x{HEIGHT}\n".encode())
        self.output: queue.Queue[tuple[float, bytes]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", str(self.config), *args], capture_output=True,
                              text=True, check=True).stdout

    def _read(self) -> None:
        assert self.client.stdout is not None
        for line in iter(self.client.stdout.readline, b""):
            now = time.monotonic()
            if line.startswith(b"%output "):
                _tag, _pane, value = line.rstrip(b"\n").split(b" ", 2)
                text = ANSI.sub(b"", unescape(value.decode("utf-8", "surrogateescape")))
                self.output.put((now, text))

    def command(self, line: str) -> None:
        assert self.client.stdin is not None
        self.client.stdin.write(line.encode() + b"\n")

    def key(self, key: str) -> float:
        """Send one key through the control client; the moment it was sent."""
        sent = time.monotonic()
        self.command(f"send-keys -t bench {key}")
        return sent

    def drain(self) -> None:
        while True:
            try:
                self.output.get_nowait()
            except queue.Empty:
                return

    def wait_for(self, text: str, timeout: float = 30.0) -> float:
        """The moment ``text`` arrived in the output (searched across notifications); TimeoutError if never."""
        wanted = text.encode()
        seen = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{text!r} never arrived on screen")
            try:
                at, chunk = self.output.get(timeout=left)
            except queue.Empty:
                continue
            seen = (seen + chunk)[-4096:]
            if wanted in seen:
                return at

    def run(self, command: list[str], env: dict[str, str]) -> int:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self._tmux("respawn-pane", "-k", "-t", "bench", f"exec env {exports} {shlex.join(command)}")
        return int(self._tmux("display-message", "-p", "-t", "bench", "#{pane_pid}").strip())

    def close(self) -> None:
        try:
            self.command("kill-server")
            self.client.wait(timeout=5)
        except Exception:  # noqa: BLE001 - the server is going away anyway
            self.client.kill()
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def commits_after(path: Path, since: float, timeout: float = 10.0) -> float:
    """The first commit recorded after ``since``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in path.read_text().split():
            if float(line) >= since:
                return float(line)
        time.sleep(0.001)
    raise TimeoutError("no commit recorded for the key")


def one_run(term: Terminal, code: Path, db: Path, work: Path, presses: int) -> dict[str, list[float] | float]:
    """Open today's first group in the app of checkout ``code``, press the keys; the figures."""
    commits = work / f"commits-{uuid.uuid4().hex[:6]}.txt"
    commits.write_text("")
    launcher = work / "launcher.py"
    env = {"PYTHONPATH": str(code), "IOP_HOME": str(work / "home"), "TERM": "xterm-256color",
           "TEXTUAL_ANIMATIONS": "none", "LANG": "C.UTF-8"}
    term.drain()
    pid = term.run([sys.executable, str(launcher), str(commits), "--db", str(db)], env)
    term.wait_for("Quit", timeout=60)
    time.sleep(1.5)  # the database opened, topic guides parsed (keys before would wait in line)
    term.drain()
    term.key("1")  # today's first group
    term.wait_for("Not yet marked", timeout=60)
    time.sleep(1.0)
    cells, commit_ms, after_ms = [], [], []
    cpu_before = 0.0
    for i in range(WARM_UP + presses):
        if i == WARM_UP:
            time.sleep(0.3)
            cpu_before = cpu_seconds(pid)
        key, shows = KEYS[i % len(KEYS)]
        term.drain()
        sent = term.key(key)
        shown = term.wait_for(shows)
        committed = commits_after(commits, sent)
        if i >= WARM_UP:
            cells.append((shown - sent) * 1000)
            commit_ms.append((committed - sent) * 1000)
            after_ms.append((shown - committed) * 1000)
        time.sleep(0.12)  # human speed: the next key 120 ms later
    cpu = (cpu_seconds(pid) - cpu_before) / presses * 1000
    term.key("C-q")
    time.sleep(0.5)
    return {"cell": cells, "commit": commit_ms, "after": after_ms, "cpu_ms": cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True,
                        help="a COPY of the 10-year clinic at the current schema (it is written to)")
    parser.add_argument("--old", type=Path, default=Path("/work/main"), help="the checkout before the change")
    parser.add_argument("--new", type=Path, default=HERE.parent, help="the checkout after the change")
    parser.add_argument("--presses", type=int, default=200, help="measured keys per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side, alternated")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is needed for this benchmark")
        return 2
    from _bytecode import byte_compile_package

    byte_compile_package()
    work = Path(tempfile.mkdtemp(prefix="iop-bench-keys-"))
    (work / "launcher.py").write_text(LAUNCHER)
    sides = {"old": args.old.resolve(), "new": args.new.resolve()}
    results: dict[str, dict[str, list[float]]] = {name: {"cell": [], "commit": [], "after": [], "cpu_ms": []}
                                                  for name in sides}
    term = Terminal(work)
    try:
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for name in order:
                got = one_run(term, sides[name], args.db, work, args.presses)
                for key, value in got.items():
                    results[name][key] += value if isinstance(value, list) else [value]
                print(f"round {round_ + 1} {name}: key to cell p99 {p99(got['cell']):.1f} ms, "
                      f"cpu {got['cpu_ms']:.2f} ms/key", flush=True)
    finally:
        term.close()
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(f"\nroll-call status key, {WIDTH}x{HEIGHT} tmux, {args.presses} keys x {args.rounds} runs per side, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    ok = True
    for name, code in sides.items():
        r = results[name]
        gap = p99(r["after"])
        meets = gap <= FRAME_MS
        if name == "new":
            ok = meets
        print(f"  {name} ({code}):")
        print(f"    key to commit   p50 {statistics.median(r['commit']):6.1f} ms  p99 {p99(r['commit']):6.1f} ms")
        print(f"    key to cell     p50 {statistics.median(r['cell']):6.1f} ms  p99 {p99(r['cell']):6.1f} ms")
        print(f"    cell after commit p50 {statistics.median(r['after']):6.1f} ms  p99 {gap:6.1f} ms "
              f"(target p99 <= {FRAME_MS:.1f} ms) {'PASS' if meets else 'MISS'}")
        print(f"    app CPU per key {statistics.median(r['cpu_ms']):.2f} ms (median of runs)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
