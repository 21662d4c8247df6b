"""End to end in a real terminal: a whole meeting from the home screen to the signature,
checked afterwards through the CLI; and a terminal closed mid-typing loses nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import SESSION, Tmux, app_env, tmux, wait_until  # noqa: F401  (fixture)
from tests.tui.meeting_kit import make_clinic

pytestmark = [pytest.mark.e2e]


def squash(text: str) -> str:
    return " ".join(text.split())


def tab(text: str) -> str:
    """The step tabs in one form: "[ F6 Notes ]" (wide) and "[F6 Notes]" (under 100 columns) alike."""
    return text.replace("[ ", "[").replace(" ]", "]")


def start_app(tmux: Tmux, tmp_path: Path) -> tuple[str, dict[str, str]]:  # noqa: F811
    env = app_env(tmp_path / "home")
    os.environ["IOP_HOME"] = env["IOP_HOME"]  # make_clinic writes this laptop's config there
    clinic = make_clinic(tmp_path)
    tmux.start([sys.executable, "-m", "iop_facilitator", "--db", clinic.target], env, 120, 36)
    wait_until(lambda: "Evening IOP" in tmux.screen(), "today's group on the home screen", tmux)
    return clinic.target, env


def db_value(target: str, sql: str) -> object:
    with sqlite3.connect(target) as conn:
        row = conn.execute(sql).fetchone()
    return row[0] if row else None


def cli(target: str, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "iop_facilitator", "--db", target, *args],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_whole_meeting_in_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    target, env = start_app(tmux, tmp_path)

    tmux.keys("1")  # one key starts today's first group
    wait_until(lambda: "Not yet marked 5" in squash(tmux.screen()), "the roll call", tmux)
    for key in ("p", "Enter", "p", "Enter", "l", "Enter", "a", "Enter", "e"):  # a key, then Enter: next member
        tmux.keys(key)
        time.sleep(0.15)
    wait_until(lambda: "Present 2" in squash(tmux.screen()) and "Late 1" in squash(tmux.screen()), "the totals", tmux)
    tmux.keys("Up", "Up", "Up")  # back to Blake S.
    time.sleep(0.2)
    tmux.keys("7")  # mood 7
    time.sleep(0.3)

    tmux.keys("F3")  # stories
    time.sleep(0.5)
    tmux.keys("1")  # Avery T.
    time.sleep(0.5)
    tmux.keys("n")
    time.sleep(0.3)
    tmux.keys("-l", "Practised breathing before a hard phone call")
    tmux.keys("Enter")
    wait_until(lambda: "Practised breathing" in tmux.screen(), "the story note", tmux)

    tmux.keys("F4")  # topic: the first suggestion
    wait_until(lambda: "Suggested" in tmux.screen(), "the topic suggestions", tmux)
    time.sleep(0.5)
    tmux.keys("Enter")
    wait_until(lambda: db_value(target, "SELECT topic_id FROM meeting"), "the topic recorded", tmux)

    tmux.keys("F5")  # check-out, then finish the group
    time.sleep(0.5)
    tmux.keys("C-f")
    time.sleep(0.5)
    tmux.keys("y")
    wait_until(lambda: "[F6 Notes]" in tab(tmux.screen()), "the notes step after finishing", tmux)

    tmux.keys("C-g")  # draft every note and the narrative
    time.sleep(1.5)
    tmux.keys("F7")
    wait_until(lambda: "Ready to sign" in squash(tmux.screen()), "a complete checklist", tmux)
    tmux.keys("s")
    time.sleep(0.5)
    tmux.keys("y")
    wait_until(lambda: "SIGNED" in tmux.screen(), "the signature", tmux)

    tmux.keys("Escape")  # leaving asks first
    time.sleep(0.3)
    tmux.keys("y")
    time.sleep(0.3)
    tmux.keys("C-q")
    wait_until(lambda: tmux.pane()[0], "the program to exit", tmux, timeout=10)

    meetings = json.loads(cli(target, env, "meeting", "list", "--json"))
    assert len(meetings) == 1
    meeting = meetings[0]
    assert meeting["status"] == "signed" and meeting["signer_credentials"] == "LCSW"
    assert meeting["topic_id"] and meeting["topic_version"] and len(meeting["topic_hash"]) == 64
    assert meeting["present"] == 3 and meeting["absent"] == 2
    with sqlite3.connect(target) as conn:
        stories = [r[0] for r in conn.execute("SELECT text FROM story_note")]
        notes = conn.execute("SELECT count(*) FROM progress_note WHERE response != '' AND plan != ''").fetchone()[0]
        mood = conn.execute("SELECT checkin_mood FROM attendance WHERE checkin_mood IS NOT NULL").fetchall()
    assert stories == ["Practised breathing before a hard phone call"]
    assert notes == 3
    assert mood == [(7,)]


def type_a_story_unsaved(tmux: Tmux, text: str) -> None:  # noqa: F811
    """From the home screen: start today's meeting, mark the first member present, open a story
    note on Stories and type ``text``, pausing far less than the debounce (only the widget has it)."""
    tmux.keys("1")
    wait_until(lambda: "Not yet marked 5" in squash(tmux.screen()), "the roll call", tmux)
    tmux.keys("p")
    time.sleep(0.3)
    tmux.keys("F3")
    time.sleep(0.5)
    tmux.keys("1")
    time.sleep(0.3)
    tmux.keys("n")
    time.sleep(0.3)
    tmux.keys("-l", text)
    time.sleep(0.1)


def test_closing_the_terminal_mid_typing_keeps_the_text(tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    target, env = start_app(tmux, tmp_path)
    pid = int(tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").stdout.strip())
    type_a_story_unsaved(tmux, "Said the weekend felt safer than last month")
    tmux("kill-server", check=False)  # the terminal closes: SIGHUP
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "the app did not exit after SIGHUP"
    with sqlite3.connect(target) as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM story_note")]
    assert texts == ["Said the weekend felt safer than last month"]
    # Reopening resumes the in-progress meeting at the step where it was.
    tmux.start([sys.executable, "-m", "iop_facilitator", "--db", target], env, 120, 36)
    wait_until(lambda: "[F3 Stories]" in tab(tmux.screen()), "the meeting resumed on Stories", tmux)
