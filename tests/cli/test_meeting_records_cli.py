"""``iop meeting show/addendum/cosign/check``, ``iop staff --requires-cosign``, and clean text on the CLI."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pendulum
import pytest

from tests.cli.test_cli import assert_one_line_error, clinic_db, iop  # noqa: F401 - fixture

DAY = dt.date(2026, 11, 23)
START = pendulum.datetime(2026, 11, 23, 18, 0, tz="America/New_York").in_tz("UTC")
EVIL = "\x1b]0;evil\x07"


def build_meeting(target: str, *, sign_as: str | None = "Dana Quinn", responses: dict[str, str] | None = None) -> uuid.UUID:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.enums import AttendanceStatus
    from iop_facilitator.library.load import load_library
    from iop_facilitator.services import groups, live, live_read, notes, staff

    topic = load_library().get("handling-stress")
    responses = responses or {
        "Avery T.": "Avery described the river trail walk she took instead of stopping at the store on payday.",
        "Blake S.": "Blake talked about fixing a bicycle with a neighbor to fill his Friday evenings this month.",
    }
    database = open_database(target)
    try:
        with database.begin() as s:
            group = groups.resolve_group(s, "Evening IOP")
            meeting = live.start_meeting(s, group, DAY, now=START)
            view = live_read.load_snapshot(s, meeting.id)
            for line in view.members:
                live.mark(s, meeting.id, line.member_id, AttendanceStatus.present, at=START)
            live.choose_topic(s, meeting.id, topic)
            live.set_narrative(s, meeting.id, "The group covered stress.")
            live.finish_meeting(s, meeting.id, at=START + dt.timedelta(hours=3))
            view = live_read.load_snapshot(s, meeting.id)
            for line in view.attended:
                notes.save_note(s, meeting.id, line.member_id, goal_ids=[line.goals[0].id],
                                intervention="Psychoeducation on stress.", response=responses[line.display_name],
                                plan="Continue IOP group per treatment plan.")
            if sign_as:
                notes.sign(s, meeting.id, staff.resolve_staff(s, sign_as).id, at=START + dt.timedelta(hours=4))
            return meeting.id
    finally:
        database.dispose()


def test_staff_requires_cosign_and_cosign_command(clinic_db: str) -> None:  # noqa: F811
    r = iop("--db", clinic_db, "staff", "add", "Sam Intern", "-c", "MSW-I", "--requires-cosign")
    assert r.exit_code == 0 and "co-signature" in r.stdout
    assert iop("--db", clinic_db, "staff", "add", "Riley Boss", "-c", "LCSW-S", "--role", "supervisor").exit_code == 0
    people = {p["name"]: p for p in json.loads(iop("--db", clinic_db, "staff", "list", "--json").stdout)}
    assert people["Sam Intern"]["requires_cosign"] is True and people["Dana Quinn"]["requires_cosign"] is False
    assert "needed" in iop("--db", clinic_db, "staff", "list").stdout

    meeting = build_meeting(clinic_db, sign_as="Sam Intern")
    short = meeting.hex[:8]
    rows = json.loads(iop("--db", clinic_db, "meeting", "list", "--json").stdout)
    assert rows[0]["awaiting_cosign"] is True
    assert "awaiting co-signature" in iop("--db", clinic_db, "meeting", "list", env={"COLUMNS": "200"}).stdout
    assert "awaiting co-signature" in iop("--db", clinic_db, "meeting", "show", short).stdout

    assert_one_line_error(iop("--db", clinic_db, "meeting", "cosign", short, "--by", "Dana Quinn"),
                          match="supervisor or an admin")
    r = iop("--db", clinic_db, "meeting", "cosign", short, "--by", "Riley Boss")
    assert r.exit_code == 0 and "co-signed by Riley Boss, LCSW-S" in r.stdout
    assert_one_line_error(iop("--db", clinic_db, "meeting", "cosign", short, "--by", "Riley Boss"),
                          match="already co-signed")
    shown = iop("--db", clinic_db, "meeting", "show", short).stdout
    assert "Co-signed" in shown and "Riley Boss, LCSW-S" in shown and "awaiting" not in shown

    r = iop("--db", clinic_db, "staff", "edit", "Sam Intern", "--no-requires-cosign")
    assert r.exit_code == 0, r.output
    people = {p["name"]: p for p in json.loads(iop("--db", clinic_db, "staff", "list", "--json").stdout)}
    assert people["Sam Intern"]["requires_cosign"] is False


def test_addendum_command_and_show(clinic_db: str, tmp_path) -> None:  # noqa: F811
    draft = build_meeting(clinic_db, sign_as=None)
    assert_one_line_error(
        iop("--db", clinic_db, "meeting", "addendum", draft.hex[:8], "--author", "Dana Quinn",
            "--reason", "typo", "--text", "x"),
        match="edit the draft",
    )
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import notes, staff

    database = open_database(clinic_db)
    with database.begin() as s:
        notes.sign(s, draft, staff.resolve_staff(s, "Dana Quinn").id)
    database.dispose()
    short = draft.hex[:8]
    r = iop("--db", clinic_db, "meeting", "addendum", short, "--author", "Dana Quinn", "--reason", f"Late entry{EVIL}",
            "--text", f"Avery also reported a new job.{EVIL}", "--member", "Avery T.")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Addendum ")
    r = runner_input(["--db", clinic_db, "meeting", "addendum", short, "--author", "Dana Quinn",
                      "--reason", "From stdin", "--text", "-"], "Read from standard input.\n")
    assert r.exit_code == 0, r.output
    path = tmp_path / "fix.txt"
    path.write_text("From a file.\n", encoding="utf-8")
    assert iop("--db", clinic_db, "meeting", "addendum", short, "--author", "Dana Quinn", "--reason", "File",
               "--file", str(path)).exit_code == 0
    assert iop("--db", clinic_db, "meeting", "addendum", short, "--author", "Dana Quinn",
               "--reason", "none").exit_code == 2  # no text given

    shown = iop("--db", clinic_db, "meeting", "show", short).stdout
    original = shown.index("Avery described the river trail")
    addenda = shown.index("Addenda")
    assert original < addenda  # the untouched original first, then the corrections
    assert "Reason: Late entry" in shown and "Avery also reported a new job." in shown
    assert "Read from standard input." in shown and "From a file." in shown
    assert "about Avery T." in shown and "Dana Quinn, LCSW" in shown
    assert "\x1b" not in shown and "\x07" not in shown
    data = json.loads(iop("--db", clinic_db, "meeting", "show", short, "--json").stdout)
    assert [a["reason"] for a in data["addenda"]] == ["Late entry", "From stdin", "File"]


def runner_input(args: list[str], text: str):
    from typer.testing import CliRunner

    from iop_facilitator.cli.app import app

    return CliRunner().invoke(app, args, input=text, catch_exceptions=False)


def test_check_command_reports_findings(clinic_db: str) -> None:  # noqa: F811
    cloned = "Member was engaged and receptive to feedback from peers throughout the whole discussion."
    meeting = build_meeting(clinic_db, sign_as=None, responses={
        "Avery T.": f"Avery thanked Blake for the ride. {cloned}",
        "Blake S.": f"Blake fixed his bicycle. {cloned}",
    })
    r = iop("--db", clinic_db, "meeting", "check", meeting.hex[:8])
    assert r.exit_code == 0, r.output
    assert "WARNING" in r.stdout and "the response is near-identical" in r.stdout
    assert f"repeated: {cloned}" in r.stdout
    assert "Blake" in r.stdout and "use initials" in r.stdout
    assert_one_line_error(iop("--db", clinic_db, "meeting", "show", "zzzzzz"), match="not a meeting id")


@pytest.mark.parametrize("command", ["member", "staff", "group"])
def test_escape_sequences_are_stripped_from_cli_input_and_output(clinic_db: str, command: str) -> None:  # noqa: F811
    name = {"member": "Evil N.", "staff": "Evil Name", "group": "Evil Group"}[command]
    poisoned = name.replace(" ", f" {EVIL}\x00", 1)
    args = {"member": ["member", "add", poisoned],
            "staff": ["staff", "add", poisoned, "-c", f"LPC{EVIL}"],
            "group": ["group", "add", poisoned, "--days", "mon"]}[command]
    r = iop("--db", clinic_db, *args)
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "\x00" not in r.stdout
    listing = iop("--db", clinic_db, command, "list", "--json").stdout
    stored = [row for row in json.loads(listing) if row.get("name", row.get("display_name", "")).startswith("Evil")]
    assert [row.get("name", row.get("display_name")) for row in stored] == [name]
    table = iop("--db", clinic_db, command, "list").stdout
    assert name.split()[0] in table and "\x1b" not in table and "\x07" not in table


def test_settings_text_is_cleaned(clinic_db: str) -> None:  # noqa: F811
    assert iop("--db", clinic_db, "settings", "set", "clinic_name", f"Sunrise{EVIL} IOP\x00").exit_code == 0
    steps = json.dumps([f"Call 988{EVIL}", "Stay with the member"])
    assert iop("--db", clinic_db, "settings", "set", "crisis_steps", steps).exit_code == 0
    data = json.loads(iop("--db", clinic_db, "settings", "show", "--json").stdout)
    assert data["clinic_name"] == "Sunrise IOP"
    assert data["crisis_steps"] == ["Call 988", "Stay with the member"]


def test_topic_file_with_escape_sequences_is_refused(tmp_path) -> None:
    from iop_facilitator.resources import topics_dir

    bundled = min(topics_dir().glob("*.md"))
    text = bundled.read_text(encoding="utf-8").replace("\n## ", f"\nEvil {EVIL} here\n\n## ", 1)
    bad = tmp_path / "bad-topic.md"
    bad.write_text(text, encoding="utf-8")
    r = iop("topics", "validate", str(bad))
    assert r.exit_code == 1
    assert "control character U+001B" in r.stderr and "\x1b" not in r.stderr
