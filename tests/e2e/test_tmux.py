"""End to end: the real ``python -m iop_facilitator`` in a real terminal (tmux).

Each test runs its own tmux server (``tmux -L <unique socket>``, no user
config) with a fixed 100x30 window, ``IOP_HOME`` in a temporary folder and
``TERM=xterm-256color``, and kills that server afterwards.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("tmux"),  # one terminal at a time: keys typed at human speed need the CPU
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

WIDTH, HEIGHT = 100, 30
SESSION = "iop"


class Tmux:
    def __init__(self, socket: str, config: Path) -> None:
        self.socket = socket
        self.config = config

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(self.config), *args],
            capture_output=True, text=True, check=check, timeout=15,
        )

    def start(self, command: list[str], env: dict[str, str], width: int = WIDTH, height: int = HEIGHT) -> None:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        shell = f"exec env {exports} {shlex.join(command)}"
        self("new-session", "-d", "-s", SESSION, "-x", str(width), "-y", str(height), shell)

    def screen(self) -> str:
        result = self("capture-pane", "-p", "-t", SESSION, check=False)
        return result.stdout

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", SESSION, *keys)

    def pane(self) -> tuple[bool, str]:
        """(is the program finished, its exit status)."""
        result = self("display-message", "-p", "-t", SESSION, "#{pane_dead} #{pane_dead_status}", check=False)
        if result.returncode != 0:  # session gone
            return True, ""
        dead, _, status = result.stdout.strip().partition(" ")
        return dead == "1", status


def wait_until(check: Callable[[], bool], what: str, tmux: Tmux, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{tmux.screen()}")


def press(tmux: Tmux, *keys: str, until: Callable[[], object], what: str) -> None:
    """Send ``keys`` and wait until ``until()`` holds: what they do shows on the screen (or in the
    database). Never a fixed pause: the next key goes as soon as the program shows it handled
    this one; a key whose effect comes later (a dialog opened after a read) waits for that."""
    tmux.keys(*keys)
    wait_until(until, what, tmux)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    config = tmp_path / "tmux.conf"
    # Keep the pane after the program exits so its exit status can be read.
    config.write_text("set -g remain-on-exit on\nset -g status off\n", encoding="utf-8")
    server = Tmux(f"iop-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}", config)
    try:
        yield server
    finally:
        server("kill-server", check=False)
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (socket_dir / server.socket).unlink(missing_ok=True)


def seeded_database(path: Path) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import groups, settings

    database = open_database(path, create=True)
    try:
        with database.begin() as session:
            settings.update_settings(session, clinic_name="Harbor Light IOP (fictional)")
            groups.add_group(
                session, "Tuesday Relapse Prevention", weekdays="mon,tue,wed,thu,fri,sat,sun", start_time="17:30"
            )
    finally:
        database.dispose()


def app_env(home: Path) -> dict[str, str]:
    env = {"IOP_HOME": str(home), "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"}
    for name in ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "VIRTUAL_ENV"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.setdefault("LANG", "C.UTF-8")
    return env


def test_app_starts_shows_groups_help_and_quits(tmux: Tmux, tmp_path: Path) -> None:
    db = tmp_path / "clinic.db"
    seeded_database(db)
    tmux.start([sys.executable, "-m", "iop_facilitator", "--db", str(db)], app_env(tmp_path / "home"))

    wait_until(lambda: "Tuesday Relapse Prevention" in tmux.screen(), "the group list", tmux)
    # The header takes the clinic name from the same load, one frame later at most.
    wait_until(lambda: "Harbor Light IOP (fictional)" in tmux.screen(), "the clinic name in the header", tmux)
    screen = tmux.screen()
    assert "17:30" in screen  # today's groups, with their local start time

    tmux.keys("F1")
    wait_until(lambda: "Keys on this screen" in tmux.screen(), "the F1 help", tmux)
    assert "home.refresh" in tmux.screen()

    tmux.keys("Escape")
    wait_until(lambda: "Keys on this screen" not in tmux.screen(), "the help to close", tmux)

    tmux.keys("C-q")
    wait_until(lambda: tmux.pane()[0], "the program to exit", tmux, timeout=10)
    assert tmux.pane()[1] in ("0", ""), tmux("capture-pane", "-p", "-S", "-100", "-t", SESSION, check=False).stdout


def test_a_file_that_is_not_a_database_is_one_line_and_quits(tmux: Tmux, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n", encoding="utf-8")
    tmux.start([sys.executable, "-m", "iop_facilitator", "--db", str(notes)], app_env(tmp_path / "home"))

    wait_until(lambda: "not an iop-facilitator database" in " ".join(tmux.screen().split()),
               "the problem message", tmux)
    assert "Traceback" not in tmux.screen()
    tmux.keys("C-q")
    wait_until(lambda: tmux.pane()[0], "the program to exit", tmux, timeout=10)
    assert notes.read_text(encoding="utf-8") == "shopping list\n"  # untouched
