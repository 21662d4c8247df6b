"""One of two leaders working on the same meeting at once (a child process of test_two_writers).

    python -m tests.torture.writer TARGET NAME ROUNDS

Waits for ``go`` on stdin (so both writers start together), presses "start" on today's group,
then for ``ROUNDS`` rounds: adds a story note, edits the group narrative based on the text it
last saw (as a screen does), and marks a member's attendance. On a stale edit
(:class:`~iop_facilitator.errors.EditConflict`) it takes the stored text as its new base (what
the conflict dialog will let the leader do) and goes on. Prints one JSON object at the end:
the meeting id it got, its successful narrative saves as ``[base, new]`` pairs, the conflicts
and any other error (by type and message; there should be none).
"""

from __future__ import annotations

import json
import sys
import uuid


def main(argv: list[str]) -> int:
    from sqlmodel import select

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.enums import AttendanceStatus
    from iop_facilitator.errors import EditConflict
    from iop_facilitator.models import Group, Member
    from iop_facilitator.services import live
    from tests.torture.scripted import DAY, START

    target, name, rounds = argv[0], argv[1], int(argv[2])
    database = open_database(target)
    with database.session() as s:
        group_id = s.exec(select(Group.id)).one()
        members = [m.id for m in s.exec(select(Member))]
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    result: dict = {"name": name, "saves": [], "conflicts": 0, "stories": 0, "errors": []}
    with database.begin() as s:
        result["meeting"] = str(live.start_meeting(s, s.get_one(Group, group_id), DAY, now=START).id)
    meeting = uuid.UUID(result["meeting"])
    base = ""
    statuses = (AttendanceStatus.present, AttendanceStatus.late)
    for k in range(rounds):
        try:
            with database.begin() as s:
                live.add_story(s, meeting, members[k % len(members)], f"{name} story {k}")
            result["stories"] += 1
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            result["errors"].append(f"story: {type(exc).__name__}: {exc}")
        text = f"{name} narrative {k}"
        try:
            with database.begin() as s:
                live.set_narrative(s, meeting, text, based_on=base)
            result["saves"].append([base, text])
            base = text
        except EditConflict as conflict:
            result["conflicts"] += 1
            base = conflict.theirs or ""
        except Exception as exc:  # noqa: BLE001
            result["errors"].append(f"narrative: {type(exc).__name__}: {exc}")
        try:
            with database.begin() as s:
                live.set_status(s, meeting, members[(k + len(name)) % len(members)], statuses[k % 2])
        except Exception as exc:  # noqa: BLE001
            result["errors"].append(f"status: {type(exc).__name__}: {exc}")
    database.dispose()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - a child process of the torture tests
    sys.exit(main(sys.argv[1:]))
