"""The database file deleted (or replaced) in the middle of a meeting (issue 11.4, 11.7).

A child plays the scripted meeting; the parent removes ``clinic.db`` with its ``-wal`` and
``-shm`` (or moves another file over it) at a random moment. Checked:

* the child's next commit is refused (``DatabaseGone``): nothing is "saved" into a file no one
  will read again, and it exits after writing a rescue copy;
* the rescue copy holds every step the child confirmed, and only whole steps;
* nothing was created at the old path (a deleted clinic never comes back as an empty one),
  and the replacing file was not written to;
* the next start on the old path says there is no database (it creates none), and the rescue
  copy put back in place opens and takes the rest of the meeting and the signature.

Bounded form: 4 runs; full form: 30.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.torture import scripted
from tests.torture.conftest import check_database, report, spawn


def test_a_database_deleted_mid_meeting_is_noticed_and_rescued(tmp_path: Path, full: bool, rng) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.errors import DatabaseProblem

    template = tmp_path / "template.db"
    scripted.build_clinic(template)
    total = len(scripted.script())
    runs = 30 if full else 4
    failures: list[str] = []
    outcomes = {"deleted": 0, "replaced": 0, "after the end": 0}
    for run in range(runs):
        folder = tmp_path / f"run-{run}"
        folder.mkdir()
        target = folder / "clinic.db"
        shutil.copy(template, target)
        replace = rng.random() < 0.3
        child = spawn("-m", "tests.torture.scripted", str(target), "--rescue")
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.35))
        if replace:
            other = tmp_path / f"other-{run}.db"
            other.write_bytes(b"another file")
            os.replace(other, target)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        out, err = child.communicate(timeout=60)
        lines = out.splitlines()
        confirmed = [int(line.split()[1]) for line in lines if line.startswith("step ")]
        where = f"run {run} ({'replaced' if replace else 'deleted'} after {len(confirmed)} confirmed steps)"
        if child.returncode == 0:  # the file went after the last step: nothing more to write
            outcomes["after the end"] += 1
            continue
        outcomes["replaced" if replace else "deleted"] += 1
        if child.returncode != 3 or not lines or not lines[-1].startswith("gone "):
            failures.append(f"{where}: the writer did not stop on the missing file: exit {child.returncode}, {err[-300:]}")
            continue
        rescued = Path(lines[-1][len("gone "):])
        if replace:
            if target.read_bytes() != b"another file":
                failures.append(f"{where}: the replacing file was written to")
        elif any(Path(f"{target}{suffix}").exists() for suffix in ("", "-wal", "-shm")):
            failures.append(f"{where}: a file appeared at the deleted database's path")
        if not replace:
            with pytest.raises(DatabaseProblem, match="no database at"):
                open_database(target)  # the next start: a message, not a new empty clinic
            if target.exists():
                failures.append(f"{where}: opening the old path created a file")
        os.replace(rescued, target)  # the leader puts the rescue copy back
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        database = open_database(target)
        try:
            with database.session() as s:
                steps = scripted.committed_steps(s)
            if steps != list(range(len(steps))) or not set(confirmed) <= set(steps) or len(steps) > len(confirmed) + 1:
                failures.append(f"{where}: the rescue copy holds steps {steps[:3]}...{steps[-3:]} of {len(steps)}")
            scripted.play(database, scripted.script(), len(steps))
            check_database(database, f"{where}, finished from the rescue copy", failures)
        finally:
            database.dispose()
    report(
        f"database deleted or replaced mid-meeting ({total} steps): {runs} runs ({outcomes['deleted']} deleted, "
        f"{outcomes['replaced']} replaced, {outcomes['after the end']} after the last step); every confirmed step "
        f"in the rescue copy; {len(failures)} failures"
    )
    assert not failures, "\n".join(failures)
