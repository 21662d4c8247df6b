"""Storage faults named and contained (issue 11.4, 11.6): fast tests; the real mounts and kills
are in tests/torture/."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest
from sqlmodel import select

from iop_facilitator.db.engine import open_database
from iop_facilitator.db.failures import storage_error
from iop_facilitator.errors import Conflict, DatabaseGone, DatabaseProblem, StorageFull, StorageReadOnly
from iop_facilitator.models import Staff
from iop_facilitator.services import staff


def _sqlite_error(name: str, message: str) -> sqlite3.Error:
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorname = name  # what the driver sets on a real error
    return exc


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("server said no")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (_sqlite_error("SQLITE_FULL", "database or disk is full"), StorageFull, "the disk is full: the change was not saved"),
        (OSError(errno.ENOSPC, "No space left on device"), StorageFull, "the disk is full"),
        (_PgError("53100"), StorageFull, "the disk is full"),
        (_sqlite_error("SQLITE_READONLY", "attempt to write a readonly database"), StorageReadOnly, "read-only"),
        (_PgError("25006"), StorageReadOnly, "read-only"),
        (_sqlite_error("SQLITE_READONLY_DBMOVED", "attempt to write a readonly database"), DatabaseGone, "moved or deleted"),
        (_sqlite_error("SQLITE_BUSY_SNAPSHOT", "database is locked"), Conflict, "changed by someone else"),
        (_sqlite_error("SQLITE_BUSY", "database is locked"), DatabaseProblem, "busy"),
        (_sqlite_error("SQLITE_IOERR_WRITE", "disk I/O error"), DatabaseProblem, "while saving (nothing was changed)"),
    ],
)
def test_storage_failures_are_named_in_one_line(error: BaseException, kind: type, words: str) -> None:
    import sqlalchemy as sa

    wrapped = sa.exc.OperationalError("UPDATE meeting SET group_narrative = ?", ("secret note",), error)
    found = storage_error(wrapped, writing=True)
    assert isinstance(found, kind) and words in str(found)
    assert "secret note" not in str(found) and "UPDATE" not in str(found)


def test_a_failed_save_is_never_reported_as_could_not_be_read() -> None:
    from iop_facilitator.tui.messages import describe_problem

    full = _sqlite_error("SQLITE_FULL", "database or disk is full")
    assert describe_problem(full, writing=True) == "the disk is full: the change was not saved; free some space and try again"
    assert "could not be read" in describe_problem(full, writing=False)
    import sqlalchemy as sa

    other = sa.exc.OperationalError("x", (), sqlite3.OperationalError("no such column: foo"))
    assert describe_problem(other, writing=True).startswith("the change was not saved")
    assert describe_problem(other, writing=False).startswith("the database could not be read")


def test_cli_one_line_for_a_full_disk() -> None:
    from iop_facilitator.cli.errors import one_line

    assert one_line(_sqlite_error("SQLITE_FULL", "database or disk is full")) == (
        "the disk is full; free some space and try again")


def test_commits_into_a_deleted_or_replaced_file_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "clinic.db"
    database = open_database(target, create=True)
    try:
        with database.begin() as s:
            staff.add_staff(s, "Dana Quinn", "LCSW")
        with pytest.raises(DatabaseGone, match="was deleted while it was open"):
            with database.session() as s:  # a session that began before the deletion
                staff.add_staff(s, "Robin Lee", "LPC")
                s.flush()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{target}{suffix}").unlink(missing_ok=True)
                s.commit()  # the commit hook sees the file gone: nothing is committed
        with pytest.raises(DatabaseGone):
            with database.begin():
                pass
        with database.session() as s:  # the open file can still be read (and rescued)
            assert [p.name for p in s.exec(select(Staff))] == ["Dana Quinn"]
        from iop_facilitator.services.maintenance import rescue_copy

        rescued = rescue_copy(database)
        assert rescued.parent == tmp_path and rescued.name.startswith("clinic.db.rescued-")
        assert not target.exists()  # no connection ever re-creates the deleted file
    finally:
        database.dispose()
    copy = sqlite3.connect(rescued)
    try:
        assert copy.execute("SELECT name FROM staff").fetchall() == [("Dana Quinn",)]
    finally:
        copy.close()

    other = tmp_path / "other.db"
    database = open_database(other, create=True)
    try:
        replacement = tmp_path / "replacement"
        replacement.write_bytes(b"")
        os.replace(replacement, other)
        with pytest.raises(DatabaseGone, match="replaced by another file"):
            database.check_file()
    finally:
        database.dispose()


def test_sidecar_files_are_private_whatever_the_main_files_mode(tmp_path: Path) -> None:
    from iop_facilitator.services.maintenance import integrity_problems

    target = tmp_path / "clinic.db"
    open_database(target, create=True).dispose()
    os.chmod(target, 0o644)  # e.g. copied in by another tool
    database = open_database(target)
    try:
        with database.begin() as s:
            staff.add_staff(s, "Dana Quinn", "LCSW")
        for suffix in ("-wal", "-shm"):
            assert os.stat(f"{target}{suffix}").st_mode & 0o777 == 0o600
        assert database.loose_permissions == 0o644
        assert any(p.startswith("permissions:") and "chmod 600" in p for p in integrity_problems(database))
    finally:
        database.dispose()


def test_a_read_only_database_refuses_changes_in_one_line(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from iop_facilitator.cli.app import app
    from iop_facilitator.db import engine

    target = tmp_path / "clinic.db"
    open_database(target, create=True).dispose()
    monkeypatch.setattr(engine, "read_only_reason", lambda _path: "the file is read-only")
    runner = CliRunner()
    listed = runner.invoke(app, ["--db", str(target), "staff", "list"])
    assert listed.exit_code == 0, listed.output
    added = runner.invoke(app, ["--db", str(target), "staff", "add", "Robin Lee"])
    assert added.exit_code == 1
    assert added.stderr == f"iop: error: {target} is open read-only (the file is read-only); nothing can be changed\n"


def test_an_old_read_only_database_says_it_needs_an_upgrade(tmp_path: Path, monkeypatch) -> None:
    from iop_facilitator.db import engine, migrate

    target = tmp_path / "clinic.db"
    old = open_database(target, create=True, migrate=False)
    migrate.upgrade(old.engine, "0003")
    old.dispose()
    monkeypatch.setattr(engine, "read_only_reason", lambda _path: "the file is read-only")
    with pytest.raises(StorageReadOnly, match="needs a schema upgrade"):
        open_database(target)


def test_a_file_deleted_just_before_a_new_connection_is_named_gone_not_a_driver_error(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    """The file can go between ``begin``'s own check and the connection SQLite opens for it (a race
    the torture suite met: "disk I/O error" from ``PRAGMA journal_mode``): still ``DatabaseGone``."""
    target = tmp_path / "clinic.db"
    database = open_database(target, create=True)
    try:
        with database.begin() as s:
            staff.add_staff(s, "Dana Quinn", "LCSW")
        database.engine.dispose()  # the next transaction needs a new connection
        real_check = database.check_file
        checks = []

        def check_late() -> None:  # the first check passes: the file goes right after it
            checks.append(1)
            if len(checks) > 1:
                real_check()

        monkeypatch.setattr(database, "check_file", check_late)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        with pytest.raises(DatabaseGone, match="deleted while it was open"):
            with database.begin() as s:
                list(s.exec(select(Staff)))
        assert len(checks) == 2
    finally:
        database.dispose()
