"""End to end in a real terminal: a whole meeting from the home screen to the signature,
checked afterwards through the CLI; and a terminal closed mid-typing loses nothing."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import SESSION, Tmux, app_env, press, tmux, wait_until  # noqa: F401  (fixture)
from tests.tui.meeting_kit import make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("tmux")]


TOP_SUGGESTION = re.compile(r"\(([a-z0-9-]+) ·")  # "(id · version ...": the picker's first line


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
    screen = lambda: squash(tmux.screen())  # noqa: E731

    press(tmux, "1", until=lambda: "Not yet marked 5" in screen(), what="the roll call")  # one key starts today's group
    left = 5
    for number, key in enumerate("ppla", start=1):  # a key, then Enter: the next member
        left -= 1
        press(tmux, key, until=lambda left=left: f"Not yet marked {left}" in screen(), what=f"{left} left to mark")
        press(tmux, "Enter", until=lambda n=number + 1: f"▶ #{n} " in screen(), what=f"the cursor on #{number + 1}")
    press(tmux, "e", until=lambda: "Not yet marked 0" in screen(), what="everyone marked")
    assert "Present 2" in screen() and "Late 1" in screen()
    press(tmux, "Up", "Up", "Up", until=lambda: "▶ #2 Blake S." in screen(), what="the cursor back on Blake S.")
    press(tmux, "7", until=lambda: db_value(target, "SELECT checkin_mood FROM attendance WHERE checkin_mood IS NOT NULL"),
          what="mood 7 saved")

    press(tmux, "F3", until=lambda: "New note for" in tmux.screen(), what="the stories step")
    write_for_the_first_member(tmux)
    tmux.keys("-l", "Practised breathing before a hard phone call")
    press(tmux, "Enter", until=lambda: db_value(target, "SELECT count(*) FROM story_note"), what="the story saved")
    assert db_value(target, "SELECT text FROM story_note") == "Practised breathing before a hard phone call"

    press(tmux, "F4", until=lambda: TOP_SUGGESTION.search(tmux.screen()), what="the topic suggestions")
    press(tmux, "Enter", until=lambda: db_value(target, "SELECT topic_id FROM meeting"), what="the topic recorded")

    press(tmux, "F5", until=lambda: "Closing ratings:" in tmux.screen(), what="the check-out step")
    press(tmux, "C-f", until=lambda: "Finish the group now?" in tmux.screen(), what="the finish question")
    press(tmux, "y", until=lambda: "[F6 Notes]" in tab(tmux.screen()), what="the notes step after finishing")

    drafted = "SELECT count(*) FROM progress_note WHERE response != '' AND plan != ''"
    press(tmux, "C-g", until=lambda: db_value(target, drafted) == 3, what="every note drafted")  # and the narrative
    press(tmux, "F7", until=lambda: "Ready to sign" in screen(), what="a complete checklist")
    press(tmux, "s", until=lambda: "y signs · n or esc cancels" in tmux.screen().lower(), what="the signature question")
    press(tmux, "y", until=lambda: "SIGNED" in tmux.screen(), what="the signature")

    press(tmux, "Escape", until=lambda: "y: leave" in tmux.screen().lower(), what="the question before leaving")
    press(tmux, "y", until=lambda: "Evening IOP" in tmux.screen() and "Check-in" not in tmux.screen(), what="home")
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


def write_for_the_first_member(tmux: Tmux) -> None:  # noqa: F811
    """On Stories (open on the first member, the list has the keys and its footer offers
    "n Write"): n moves into the new note (the footer's list keys go)."""
    wait_until(lambda: "New note for Avery T." in squash(tmux.screen()) and "n Write" in tmux.screen(),
               "the stories step on Avery T.", tmux)
    press(tmux, "n", until=lambda: "n Write" not in tmux.screen(), what="the new note field")


def type_a_story_unsaved(tmux: Tmux, text: str) -> None:  # noqa: F811
    """From the home screen: start today's meeting, mark the first member present, open a story
    note on Stories and type ``text``; it is on the screen, well inside the debounce (only the
    widget has it)."""
    press(tmux, "1", until=lambda: "Not yet marked 5" in squash(tmux.screen()), what="the roll call")
    press(tmux, "p", until=lambda: "Not yet marked 4" in squash(tmux.screen()), what="the first member marked")
    press(tmux, "F3", until=lambda: "New note for" in tmux.screen(), what="the stories step")
    write_for_the_first_member(tmux)
    press(tmux, "-l", text, until=lambda: text[-12:] in tmux.screen(), what="the typed text (its end)")


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
