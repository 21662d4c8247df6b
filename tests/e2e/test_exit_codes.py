"""SIGTERM and SIGHUP in a real terminal (issue 11.6): what was typed is saved, and the app
exits at once with 128 + the signal's number (143, 129), not through the 3 s fallback."""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_meeting_e2e import type_a_story_unsaved
from tests.e2e.test_tmux import SESSION, Tmux, app_env, tmux, wait_until  # noqa: F401 - the fixture
from tests.tui.meeting_kit import make_clinic

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_saves_the_typing_and_exits_with_128_plus_its_number(tmux: Tmux, tmp_path: Path,  # noqa: F811
                                                                       monkeypatch, signum: int) -> None:
    env = app_env(tmp_path / "home")
    monkeypatch.setenv("IOP_HOME", env["IOP_HOME"])
    clinic = make_clinic(tmp_path)
    code_file = tmp_path / "exit-code"
    app = shlex.join([sys.executable, "-m", "iop_facilitator", "--db", clinic.target])
    tmux.start(["sh", "-c", f"{app}; echo $? > {shlex.quote(str(code_file))}"], env, 120, 36)
    wait_until(lambda: "Evening IOP" in tmux.screen(), "today's group on the home screen", tmux)
    type_a_story_unsaved(tmux, "Slept better this week")
    shell = int(tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").stdout.strip())
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    assert len(children) == 1
    started = time.monotonic()
    os.kill(int(children[0]), signum)
    deadline = started + 10
    while not code_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    assert code_file.read_text().strip() == str(128 + signum)
    assert elapsed < 2.5, f"the exit took {elapsed:.1f} s (the 3 s fallback?)"
    with sqlite3.connect(clinic.target) as conn:
        assert [r[0] for r in conn.execute("SELECT text FROM story_note")] == ["Slept better this week"]
