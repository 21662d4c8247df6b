"""``iop db verify``, ``iop audit``, ``iop db backup`` / ``restore`` / ``check`` through the CLI."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iop_facilitator import clock
from iop_facilitator.cli.app import app
from tests.cli.test_cli import assert_one_line_error, iop, runner

END = "2026-11-02"


@pytest.fixture
def seeded(db_target: str) -> str:
    r = iop("--db", db_target, "seed", "--groups", "1", "--weeks", "2", "--members-per-group", "5", "--end", END, "-q")
    assert r.exit_code == 0, r.output
    return db_target


def first_signed(target: str) -> tuple[str, str]:
    conn = sqlite3.connect(target)
    try:
        return conn.execute("SELECT id, local_date FROM meeting WHERE status = 'signed' ORDER BY local_date").fetchone()
    finally:
        conn.close()


def test_verify_ok_then_names_a_tampered_meeting_and_audit_entry(tmp_path: Path) -> None:
    target = str(tmp_path / "c.db")
    assert iop("--db", target, "seed", "--groups", "1", "--weeks", "2", "--end", END, "-q").exit_code == 0
    r = iop("--db", target, "db", "verify")
    assert r.exit_code == 0 and r.stdout.startswith("OK: ") and r.stdout.count("\n") == 1, r.output
    assert "recorded as verify checkpoint 1" in r.stdout
    data = json.loads(iop("--db", target, "db", "verify", "--json").stdout)  # since checkpoint 1
    assert data["ok"] and data["mode"] == "incremental" and data["since_checkpoint"] == 1
    assert data["meetings_checked"] == 0 and data["audit_entries"] == 2 and data["checkpoint_written"] == 2
    data = json.loads(iop("--db", target, "db", "verify", "--full", "--json", "--no-checkpoint").stdout)
    assert data["ok"] and data["mode"] == "full" and data["meetings_checked"] > 0 and data["audit_entries"] == 3
    assert data["checkpoint_written"] is None

    mid, day = first_signed(target)
    conn = sqlite3.connect(target)
    with pytest.raises(sqlite3.IntegrityError, match="iop-lock"):
        conn.execute("UPDATE progress_note SET plan = 'rewritten' WHERE meeting_id = ?", (mid,))
    conn.execute("DROP TRIGGER iop_lock_progress_note_update")
    conn.execute("DROP TRIGGER iop_lock_audit_event_update")
    conn.execute("UPDATE progress_note SET plan = 'rewritten' WHERE meeting_id = ?", (mid,))
    conn.execute("UPDATE audit_event SET actor = 'someone else' WHERE seq = 1")
    conn.commit()
    conn.close()

    # The note was sealed before the newest checkpoint: only --full reads it again.
    r = iop("--db", target, "db", "verify", "--full")
    assert r.exit_code == 1 and r.stdout == ""
    assert f"meeting {mid} ({day}, group " in r.stderr and "audit entry seq 1:" in r.stderr
    assert "rewritten" not in r.stderr  # names records, never contents
    data = json.loads(iop("--db", target, "db", "verify", "--full", "--json").stdout)
    assert not data["ok"] and [p["meeting_id"] for p in data["meeting_problems"]] == [mid]
    assert [p["seq"] for p in data["audit_problems"]] == [1]
    assert data["checkpoint_written"] is None

    r = iop("--db", target, "db", "check")
    assert r.exit_code == 1 and "iop_lock_progress_note_update is missing" in r.stderr


def test_verify_on_postgresql(seeded: str) -> None:
    r = iop("--db", seeded, "db", "verify")
    assert r.exit_code == 0, r.output


def test_audit_lists_who_when_what(seeded: str) -> None:
    assert iop("--db", seeded, "settings", "set", "max_absences", "4").exit_code == 0
    assert iop("--db", seeded, "staff", "add", "Robin Park", "-c", "LICSW").exit_code == 0
    rows = json.loads(iop("--db", seeded, "audit", "--json").stdout)
    assert [r["action"] for r in rows] == ["seed", "settings.update", "staff.add"]
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[1]["details"] == {"keys": ["max_absences"]} and rows[0]["actor"] == "test-runner"
    only = json.loads(iop("--db", seeded, "audit", "--action", "staff.add", "--json").stdout)
    assert [r["action"] for r in only] == ["staff.add"]
    assert json.loads(iop("--db", seeded, "audit", "--action", "settings.", "--json").stdout)[0]["seq"] == 2
    assert json.loads(iop("--db", seeded, "audit", "--until", "2000-01-01", "--json").stdout) == []
    assert len(json.loads(iop("--db", seeded, "audit", "--since", "today", "--json").stdout)) == 3
    table = iop("--db", seeded, "audit", env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "staff.add" in table.stdout and "test-runner" in table.stdout
    assert iop("--db", seeded, "audit", "--since", "nope").exit_code == 2


WRITER = """
import sqlite3, sys, time
from iop_facilitator import audit_chain
conn = sqlite3.connect(sys.argv[1], timeout=30)
deadline = time.monotonic() + 30
n = 0
while time.monotonic() < deadline:
    audit_chain.append_sqlite(conn, actor="os:writer", action="test.write", details={"n": n})
    n += 1
    time.sleep(0.005)  # a busy app, not a lock hog: SQLite's busy handler cannot beat a writer that never pauses
    if n == 5:
        open(sys.argv[2], "w").close()  # tell the test the writer is running
"""


def test_backup_is_consistent_while_another_process_writes(tmp_path: Path) -> None:
    target = tmp_path / "c.db"
    assert iop("--db", str(target), "seed", "--groups", "1", "--weeks", "2", "--end", END, "-q").exit_code == 0
    flag = tmp_path / "running"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(flag)])
    try:
        for _ in range(300):
            if flag.exists():
                break
            time.sleep(0.05)
        copies = []
        for n in range(3):
            copy = tmp_path / f"copy{n}.db"
            r = iop("--db", str(target), "db", "backup", str(copy))
            assert r.exit_code == 0, r.output
            copies.append(copy)
        assert writer.poll() is None, "the writer stopped before the backups finished"
    finally:
        writer.kill()
        writer.wait()
    for copy in copies:
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        conn = sqlite3.connect(copy)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        r = iop("--db", str(copy), "db", "verify")  # a snapshot: every chain entry it holds is whole
        assert r.exit_code == 0, r.output
    counts = [sqlite3.connect(c).execute("SELECT count(*) FROM audit_event").fetchone()[0] for c in copies]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    actions = [r["action"] for r in json.loads(iop("--db", str(target), "audit", "--action", "db.", "--json").stdout)]
    assert actions == ["db.backup"] * 3
    assert_one_line_error(iop("--db", str(target), "db", "backup", str(copies[0])), match="--force")


def test_restore_asks_keeps_a_safety_copy_and_is_audited(tmp_path: Path) -> None:
    target = tmp_path / "c.db"
    assert iop("--db", str(target), "init").exit_code == 0
    assert iop("--db", str(target), "staff", "add", "Dana Quinn", "-c", "LCSW").exit_code == 0
    backup = tmp_path / "b.db"
    assert iop("--db", str(target), "db", "backup", str(backup)).exit_code == 0
    assert iop("--db", str(target), "staff", "add", "Added Later", "-c", "CADC").exit_code == 0

    r = runner.invoke(app, ["--db", str(target), "db", "restore", str(backup)], input="n\n")  # declined: nothing changes
    assert r.exit_code == 1
    assert "Added Later" in iop("--db", str(target), "staff", "list").stdout
    assert not list(tmp_path.glob("c.db.before-restore-*"))

    r = runner.invoke(app, ["--db", str(target), "db", "restore", str(backup)], input="y\n")
    assert r.exit_code == 0, r.output
    assert "Added Later" not in iop("--db", str(target), "staff", "list").stdout
    [safety] = list(tmp_path.glob("c.db.before-restore-*"))
    assert stat.S_IMODE(safety.stat().st_mode) == 0o600
    assert sqlite3.connect(safety).execute("SELECT count(*) FROM staff WHERE name = 'Added Later'").fetchone()[0] == 1
    rows = json.loads(iop("--db", str(target), "audit", "--json").stdout)
    assert [r["action"] for r in rows][-2:] == ["staff.add", "db.restore"]  # the backup predates its own audit entry
    assert rows[-1]["details"]["safety_copy"] == safety.name
    assert iop("--db", str(target), "db", "verify").exit_code == 0
    assert iop("--db", str(target), "db", "check").exit_code == 0

    later = clock.ManualClock()
    with clock.use(later):
        later.advance(1.1)  # the safety copy's name has the time to the second: a new name
        assert iop("--db", str(target), "db", "restore", str(backup), "--yes").exit_code == 0
    assert len(list(tmp_path.glob("c.db.before-restore-*"))) == 2


HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT count(*) FROM staff").fetchone()
open(sys.argv[2], "w").close()
time.sleep(60)
"""


def test_restore_refuses_while_the_database_is_open_elsewhere(tmp_path: Path) -> None:
    target = tmp_path / "c.db"
    assert iop("--db", str(target), "init").exit_code == 0
    backup = tmp_path / "b.db"
    assert iop("--db", str(target), "db", "backup", str(backup)).exit_code == 0
    flag = tmp_path / "open"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(target), str(flag)])
    try:
        for _ in range(300):
            if flag.exists():
                break
            time.sleep(0.05)
        assert_one_line_error(iop("--db", str(target), "db", "restore", str(backup), "--yes"), match="open in another")
    finally:
        holder.kill()
        holder.wait()
    assert not list(tmp_path.glob("c.db.before-restore-*"))
    assert iop("--db", str(target), "db", "restore", str(backup), "--yes").exit_code == 0


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    target = tmp_path / "c.db"
    assert iop("--db", str(target), "init").exit_code == 0
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n")
    assert_one_line_error(iop("--db", str(target), "db", "restore", str(junk), "--yes"), match="not an iop-facilitator backup")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    assert_one_line_error(iop("--db", str(target), "db", "restore", str(other), "--yes"), match="not an iop-facilitator backup")
    assert_one_line_error(iop("--db", str(target), "db", "restore", str(tmp_path / "none.db"), "--yes"), match="no backup file")
    assert_one_line_error(iop("--db", str(target), "db", "restore", str(target), "--yes"), match="the database itself")
    assert not list(tmp_path.glob("c.db.before-restore-*"))


def test_backup_and_restore_point_postgresql_to_its_tools(pg_database_url: str, tmp_path: Path) -> None:
    assert iop("--db", pg_database_url, "init").exit_code == 0
    assert_one_line_error(iop("--db", pg_database_url, "db", "backup", str(tmp_path / "x.db")), match="pg_dump")
    assert_one_line_error(iop("--db", pg_database_url, "db", "restore", str(tmp_path / "x.db"), "--yes"), match="pg_restore")


def test_encrypted_backup_stays_encrypted_and_restores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sqlcipher3")
    monkeypatch.setenv("IOP_PASSPHRASE", "correct horse battery staple")
    target = tmp_path / "c.db"
    r = iop("--db", str(target), "init", "--encrypt")
    assert r.exit_code == 0, r.output
    assert iop("--db", str(target), "staff", "add", "Dana Quinn", "-c", "LCSW").exit_code == 0
    backup = tmp_path / "b.db"
    assert iop("--db", str(target), "db", "backup", str(backup)).exit_code == 0, "backup"
    raw = backup.read_bytes()
    assert not raw.startswith(b"SQLite format 3") and b"Dana Quinn" not in raw
    assert iop("--db", str(target), "staff", "add", "Added Later", "-c", "CADC").exit_code == 0
    r = iop("--db", str(target), "db", "restore", str(backup), "--yes")
    assert r.exit_code == 0, r.output
    listed = iop("--db", str(target), "staff", "list").stdout
    assert "Dana Quinn" in listed and "Added Later" not in listed
    assert iop("--db", str(target), "db", "verify").exit_code == 0
    [safety] = list(tmp_path.glob("c.db.before-restore-*"))
    assert b"Added Later" not in safety.read_bytes()

    plain = tmp_path / "plain.db"
    monkeypatch.delenv("IOP_PASSPHRASE")
    assert iop("--db", str(plain), "init").exit_code == 0
    assert_one_line_error(iop("--db", str(plain), "db", "restore", str(backup), "--yes"), match="encrypted")
