"""Two leaders on one meeting at once, as two processes, on SQLite and PostgreSQL (issue 11.7).

Both press "start" at the same moment, then each adds story notes, edits the group narrative
from the text it last saw, and marks attendance, as fast as it can. Checked:

* both get the **same** meeting, and the database holds one;
* no insert is lost (every story note of both writers is there);
* no edit is silently lost: every successful narrative save was based on the text stored
  at that moment, so the saves form one chain from the empty narrative to the final text
  (two saves from the same base would be a lost update); stale edits got ``EditConflict``;
* no other error (no "database is locked" reaching a leader: writers wait their turn);
* the database passes ``iop db check`` and ``iop db verify`` afterwards.

Bounded form: 1 round of 40 edits per writer and back end; full form: 5 rounds of 150.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.torture import scripted
from tests.torture.conftest import check_database, report, spawn


def _clinic(target: str, template: Path) -> None:
    if "://" in target:
        scripted.build_clinic(target)
    else:
        shutil.copy(template, target)


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("writers") / "clinic.db"
    scripted.build_clinic(path)
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_writers_on_one_meeting(backend: str, request: pytest.FixtureRequest, tmp_path: Path,
                                    sqlite_template: Path, full: bool) -> None:
    from sqlmodel import select

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import GroupMeeting, StoryNote

    rounds, edits = (5, 150) if full else (1, 40)
    totals = {"saves": 0, "conflicts": 0, "stories": 0}
    failures: list[str] = []
    for round_ in range(rounds):
        if backend == "sqlite":
            target = str(tmp_path / f"round-{round_}.db")
        else:
            target = request.getfixturevalue("pg_databases")()
        _clinic(target, sqlite_template)
        children = [spawn("-m", "tests.torture.writer", target, name, str(edits), stdin=-1) for name in ("A", "B")]
        for child in children:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
        for child in children:  # "go" to both at once: they press start together
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child in children:
            out, err = child.communicate(timeout=300)
            assert child.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        where = f"{backend} round {round_}"
        if results[0]["meeting"] != results[1]["meeting"]:
            failures.append(f"{where}: the two leaders got two meetings")
        for r in results:
            if r["errors"]:
                failures.append(f"{where}: writer {r['name']} saw errors: {r['errors'][:3]}")
            for key in totals:
                totals[key] += r[key] if key != "saves" else len(r["saves"])
        database = open_database(target)
        try:
            with database.session() as s:
                meetings = s.exec(select(GroupMeeting)).all()
                stories = s.exec(select(StoryNote.text)).all()
                narrative = meetings[0].group_narrative if meetings else None
            if len(meetings) != 1:
                failures.append(f"{where}: {len(meetings)} meetings in the database")
            if sorted(stories) != sorted(f"{r['name']} story {k}" for r in results for k in range(edits)):
                failures.append(f"{where}: story notes lost or duplicated ({len(stories)} of {2 * edits})")
            chain = _chain_problem([tuple(save) for r in results for save in r["saves"]], narrative)
            if chain:
                failures.append(f"{where}: {chain}")
            check_database(database, where, failures)
        finally:
            database.dispose()
    report(
        f"two writers on one meeting ({backend}): {rounds} rounds x 2 x {edits} edits; {totals['stories']} story notes, "
        f"{totals['saves']} narrative saves, {totals['conflicts']} stale edits refused; {len(failures)} failures"
    )
    assert not failures, "\n".join(failures)


def _chain_problem(saves: list[tuple[str, str]], final: str | None) -> str:
    """Every save's base must be the text the previous save wrote: one chain from "" to ``final``."""
    by_base: dict[str, str] = {}
    for base, new in saves:
        if base in by_base:
            return f"lost update: two saves were both based on {base!r}"
        by_base[base] = new
    text, seen = "", 0
    while text in by_base:
        text = by_base[text]
        seen += 1
    if seen != len(saves):
        return f"the narrative saves do not form one chain ({seen} of {len(saves)} reachable)"
    if text != (final or ""):
        return f"the stored narrative {final!r} is not the last save {text!r}"
    return ""
