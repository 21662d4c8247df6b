"""Encryption at rest: ``iop init --encrypt``, ``iop db encrypt``, ``iop db rekey``, the passphrase paths.

Wrong-passphrase and stderr checks run ``iop`` in a subprocess: SQLCipher writes its
own errors straight to file descriptor 2, which CliRunner would not see.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iop_facilitator.cli.app import app

runner = CliRunner()
PASSPHRASE = "correct horse battery staple"
NEW_PASSPHRASE = "a different long passphrase"
KNOWN_NOTE = "Avery walked the quarry trail instead of stopping at the bar"


def iop(*args: str, env: dict[str, str] | None = None, input: str | None = None):
    return runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)


def iop_process(*args: str, passphrase: str | None, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("IOP_PASSPHRASE", "IOP_DB", "IOP_DEBUG")}
    env["IOP_HOME"] = str(home)
    if passphrase is not None:
        env["IOP_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, "-m", "iop_facilitator", *args],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )


def plain_clinic(path: Path) -> str:
    """A plain clinic with a group, two members and a known story note."""
    target = str(path)
    assert iop("--db", target, "init").exit_code == 0
    assert iop("--db", target, "staff", "add", "Dana Quinn", "-c", "LCSW").exit_code == 0
    r = iop("--db", target, "group", "add", "Evening IOP", "--days", "mon,wed,thu", "--start", "18:00",
            "-f", "Dana Quinn")
    assert r.exit_code == 0, r.output
    for name in ("Avery T.", "Blake S."):
        r = iop("--db", target, "member", "add", name, "-g", "Sleep seven hours", "--group", "Evening IOP",
                "--start", "2026-11-01")
        assert r.exit_code == 0, r.output
    add_story(target, KNOWN_NOTE, passphrase=None)
    return target


def add_story(target: str, text: str, *, passphrase: str | None, keep_open: bool = False):
    import datetime as dt

    from sqlmodel import select

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import Group, Member
    from iop_facilitator.services import live

    database = open_database(target, passphrase=passphrase)
    with database.begin() as session:
        group = session.exec(select(Group)).first()
        member = session.exec(select(Member).where(Member.display_name == "Avery T.")).one()
        meeting = live.start_meeting(session, group, dt.date(2026, 11, 4))
        live.add_story(session, meeting.id, member.id, text)
    if keep_open:
        return database
    database.dispose()
    return None


def table_counts_plain(path: str) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


def table_counts_encrypted(path: str, passphrase: str) -> dict[str, int]:
    from iop_facilitator.db.encryption import _table_counts
    from iop_facilitator.db.engine import open_cipher_connection

    conn = open_cipher_connection(Path(path), passphrase, read_only=True)
    try:
        return _table_counts(conn)
    finally:
        conn.close()


def file_bytes(path: str) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = Path(path + suffix)
        if candidate.exists():
            data += candidate.read_bytes()
    return data


def audit_actions(target: str, passphrase: str) -> list[str]:
    r = iop("--db", target, "audit", "--json", env={"IOP_PASSPHRASE": passphrase})
    if r.exit_code != 0:  # ``iop audit`` belongs to another part of issue 6; read the table directly
        from sqlmodel import select

        from iop_facilitator.db.engine import open_database
        from iop_facilitator.models import AuditEvent

        database = open_database(target, passphrase=passphrase)
        try:
            with database.session() as session:
                return [e.action for e in session.exec(select(AuditEvent))]
        finally:
            database.dispose()
    return [e["action"] for e in json.loads(r.stdout)]


# --------------------------------------------------------------------------- init --encrypt


def test_init_encrypt_with_environment_passphrase_holds_no_plaintext(tmp_path: Path) -> None:
    target = str(tmp_path / "enc.db")
    env = {"IOP_PASSPHRASE": PASSPHRASE}
    r = iop("--db", target, "init", "--encrypt", env=env)
    assert r.exit_code == 0, r.output
    assert "encrypted" in r.stdout
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert not Path(target).read_bytes().startswith(b"SQLite format 3")
    assert iop("--db", target, "staff", "add", "Dana Quinn", "-c", "LCSW", env=env).exit_code == 0
    assert iop("--db", target, "group", "add", "Evening IOP", "--days", "mon", "--start", "18:00",
               "-f", "Dana Quinn", env=env).exit_code == 0
    r = iop("--db", target, "member", "add", "Avery T.", "-g", "Sleep seven hours", "--group", "Evening IOP",
            "--start", "2026-11-01", env=env)
    assert r.exit_code == 0, r.output
    # A write still in the WAL (connection open, not checkpointed) is encrypted too.
    database = add_story(target, KNOWN_NOTE, passphrase=PASSPHRASE, keep_open=True)
    try:
        assert Path(target + "-wal").exists() and Path(target + "-wal").stat().st_size > 0
        data = file_bytes(target)
        for secret in (KNOWN_NOTE, "quarry trail", "Avery T.", "Dana Quinn", "Evening IOP", "Sleep seven"):
            assert secret.encode() not in data
            assert secret.encode("utf-16-le") not in data
    finally:
        database.dispose()
    r = iop("--db", target, "member", "list", "--json", env=env)
    assert r.exit_code == 0 and "Avery T." in r.stdout
    assert "db.init" in audit_actions(target, PASSPHRASE)


def test_init_encrypt_prompts_twice_and_refuses_a_short_or_mismatched_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IOP_PASSPHRASE", raising=False)
    monkeypatch.setattr("iop_facilitator.cli.common.stdin_is_terminal", lambda: True)
    target = str(tmp_path / "enc.db")
    r = runner.invoke(app, ["--db", target, "init", "--encrypt"], input="short\n")
    assert r.exit_code == 1 and "at least 12 characters" in r.stderr
    r = runner.invoke(app, ["--db", target, "init", "--encrypt"], input=f"{PASSPHRASE}\nsomething else entirely\n")
    assert r.exit_code == 1 and "differ" in r.stderr
    r = runner.invoke(app, ["--db", target, "init", "--encrypt"], input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert r.exit_code == 0, r.output
    assert PASSPHRASE not in r.output  # hidden input is never echoed
    r = runner.invoke(app, ["--db", target, "settings", "show", "--json"], input=f"{PASSPHRASE}\n")
    assert r.exit_code == 0, r.output


def test_encrypted_database_without_passphrase_or_terminal_is_one_line(tmp_path: Path) -> None:
    target = str(tmp_path / "enc.db")
    assert iop("--db", target, "init", "--encrypt", env={"IOP_PASSPHRASE": PASSPHRASE}).exit_code == 0
    result = iop_process("--db", target, "settings", "show", passphrase=None, home=tmp_path / "home")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "IOP_PASSPHRASE" in result.stderr


# --------------------------------------------------------------------------- wrong passphrase


def test_wrong_passphrase_is_one_line_and_nothing_else_on_stderr(tmp_path: Path) -> None:
    target = str(tmp_path / "enc.db")
    assert iop("--db", target, "init", "--encrypt", env={"IOP_PASSPHRASE": PASSPHRASE}).exit_code == 0
    before = Path(target).read_bytes()
    result = iop_process("--db", target, "member", "list", passphrase="not the passphrase!", home=tmp_path / "home")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "iop: error: wrong passphrase, or not an iop-facilitator database\n"
    assert "not the passphrase" not in result.stderr
    assert Path(target).read_bytes() == before  # the checks wrote nothing


def test_random_bytes_file_gets_the_same_line(tmp_path: Path) -> None:
    target = tmp_path / "noise.db"
    target.write_bytes(os.urandom(4096))
    result = iop_process("--db", str(target), "member", "list", passphrase=PASSPHRASE, home=tmp_path / "home")
    assert result.returncode == 1
    assert result.stderr == "iop: error: wrong passphrase, or not an iop-facilitator database\n"


def test_passphrase_never_in_repr_or_display(tmp_path: Path) -> None:
    from iop_facilitator.db.engine import open_database

    target = str(tmp_path / "enc.db")
    database = open_database(target, create=True, encrypt=True, passphrase=PASSPHRASE)
    try:
        for text in (repr(database), str(database.url), repr(database.url), database.display, repr(database.engine)):
            assert PASSPHRASE not in text
        assert database.encrypted and database.passphrase_matches(PASSPHRASE)
        assert not database.passphrase_matches(PASSPHRASE + "x")
    finally:
        database.dispose()


def test_encrypt_refuses_postgresql_and_plain_files(tmp_path: Path) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.errors import DatabaseProblem

    target = plain_clinic(tmp_path / "plain.db")
    with pytest.raises(DatabaseProblem, match="not encrypted"):
        open_database(target, create=True, encrypt=True, passphrase=PASSPHRASE)
    with pytest.raises(DatabaseProblem, match="PostgreSQL"):
        open_database("postgresql+psycopg://u@127.0.0.1:1/x", create=True, encrypt=True, passphrase=PASSPHRASE)


# --------------------------------------------------------------------------- db encrypt / rekey


def test_db_encrypt_keeps_every_row_and_removes_the_plaintext(tmp_path: Path) -> None:
    target = plain_clinic(tmp_path / "clinic.db")
    before = table_counts_plain(target)
    assert before["member"] == 2
    r = iop("--db", target, "db", "encrypt", env={"IOP_PASSPHRASE": PASSPHRASE})
    assert r.exit_code == 0, r.output
    assert "all checked" in r.stdout
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    after = table_counts_encrypted(target, PASSPHRASE)
    after["audit_event"] -= 1  # the conversion's own audit event
    assert after == before
    data = file_bytes(target)
    assert KNOWN_NOTE.encode() not in data and b"Avery T." not in data
    assert not any(p.name.startswith(".clinic.db.") or p.name.endswith(".plain") for p in tmp_path.iterdir())
    # The known note is still there, readable with the passphrase.
    from sqlmodel import select

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import StoryNote

    database = open_database(target, passphrase=PASSPHRASE)
    try:
        with database.session() as session:
            assert KNOWN_NOTE in [s.text for s in session.exec(select(StoryNote))]
    finally:
        database.dispose()
    assert "db.encrypt" in audit_actions(target, PASSPHRASE)
    r = iop("--db", target, "db", "check", env={"IOP_PASSPHRASE": PASSPHRASE})
    assert r.exit_code == 0, r.output + r.stderr  # integrity, foreign keys, schema and the lock triggers
    # Encrypting twice is refused with one line.
    r = iop("--db", target, "db", "encrypt", env={"IOP_PASSPHRASE": PASSPHRASE})
    assert r.exit_code == 1 and "already encrypted" in r.stderr


def test_db_encrypt_keep_plain_leaves_a_private_copy(tmp_path: Path) -> None:
    target = plain_clinic(tmp_path / "clinic.db")
    r = iop("--db", target, "db", "encrypt", "--keep-plain", env={"IOP_PASSPHRASE": PASSPHRASE})
    assert r.exit_code == 0, r.output
    copy = Path(target + ".plain")
    assert copy.exists() and stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert KNOWN_NOTE.encode() in copy.read_bytes()
    assert "UNENCRYPTED" in r.stdout


def test_db_encrypt_refuses_while_the_database_is_open_elsewhere(tmp_path: Path) -> None:
    target = plain_clinic(tmp_path / "clinic.db")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('pragma journal_mode=WAL');"
          "c.execute('select count(*) from sqlite_master').fetchall(); print('ready', flush=True); time.sleep(60)"),
         target],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        r = iop("--db", target, "db", "encrypt", env={"IOP_PASSPHRASE": PASSPHRASE})
        assert r.exit_code == 1 and "open in another program" in r.stderr
    finally:
        holder.kill()
        holder.wait()
    assert Path(target).read_bytes().startswith(b"SQLite format 3")
    r = iop("--db", target, "db", "encrypt", env={"IOP_PASSPHRASE": PASSPHRASE})
    assert r.exit_code == 0, r.output


def test_db_rekey_changes_the_passphrase(tmp_path: Path) -> None:
    target = str(tmp_path / "enc.db")
    assert iop("--db", target, "init", "--encrypt", env={"IOP_PASSPHRASE": PASSPHRASE}).exit_code == 0
    r = iop("--db", target, "db", "rekey", env={"IOP_PASSPHRASE": "wrong passphrase here", "IOP_NEW_PASSPHRASE": NEW_PASSPHRASE})
    assert r.exit_code == 1 and "wrong passphrase" in r.stderr
    r = iop("--db", target, "db", "rekey", env={"IOP_PASSPHRASE": PASSPHRASE, "IOP_NEW_PASSPHRASE": "short"})
    assert r.exit_code == 1 and "at least 12" in r.stderr
    r = iop("--db", target, "db", "rekey", env={"IOP_PASSPHRASE": PASSPHRASE, "IOP_NEW_PASSPHRASE": NEW_PASSPHRASE})
    assert r.exit_code == 0, r.output
    old = iop_process("--db", target, "settings", "show", passphrase=PASSPHRASE, home=tmp_path / "home")
    assert old.returncode == 1 and "wrong passphrase" in old.stderr
    r = iop("--db", target, "settings", "show", "--json", env={"IOP_PASSPHRASE": NEW_PASSPHRASE})
    assert r.exit_code == 0, r.output
    assert "db.rekey" in audit_actions(target, NEW_PASSPHRASE)


def test_seed_works_on_an_encrypted_database(tmp_path: Path) -> None:
    target = str(tmp_path / "enc.db")
    env = {"IOP_PASSPHRASE": PASSPHRASE}
    assert iop("--db", target, "init", "--encrypt", env=env).exit_code == 0
    r = iop("--db", target, "seed", "--groups", "1", "--weeks", "1", "--members-per-group", "3", "-q", env=env)
    assert r.exit_code == 0, r.output
    assert not Path(target).read_bytes().startswith(b"SQLite format 3")


def test_db_encrypt_keeps_signed_meetings_and_their_lock_triggers(tmp_path: Path) -> None:
    target = str(tmp_path / "seeded.db")
    r = iop("--db", target, "seed", "--groups", "1", "--weeks", "2", "--members-per-group", "4", "-q")
    assert r.exit_code == 0, r.output
    conn = sqlite3.connect(target)
    try:
        triggers = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'"))
    finally:
        conn.close()
    before = table_counts_plain(target)
    r = iop("--db", target, "db", "encrypt", env={"IOP_PASSPHRASE": PASSPHRASE})
    assert r.exit_code == 0, r.output
    after = table_counts_encrypted(target, PASSPHRASE)
    after["audit_event"] -= 1
    assert after == before and before["meeting"] > 0
    from iop_facilitator.db.engine import open_cipher_connection

    conn = open_cipher_connection(Path(target), PASSPHRASE, read_only=True)
    try:
        assert sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")) == triggers
    finally:
        conn.close()
    r = iop("--db", target, "db", "check", env={"IOP_PASSPHRASE": PASSPHRASE})
    assert r.exit_code == 0, r.output


def test_idle_lock_minutes_is_a_setting(tmp_path: Path) -> None:
    target = str(tmp_path / "clinic.db")
    assert iop("--db", target, "init").exit_code == 0
    assert iop("--db", target, "settings", "set", "idle_lock_minutes", "5").exit_code == 0
    r = iop("--db", target, "settings", "show", "--json")
    assert json.loads(r.stdout)["idle_lock_minutes"] == 5
    for bad in ("0", "241", "ten"):
        r = iop("--db", target, "settings", "set", "idle_lock_minutes", bad)
        assert r.exit_code == 1, bad


# --------------------------------------------------------------------------- backups


def test_backup_of_an_encrypted_database_stays_encrypted(tmp_path: Path) -> None:
    target = str(tmp_path / "enc.db")
    env = {"IOP_PASSPHRASE": PASSPHRASE}
    assert iop("--db", target, "init", "--encrypt", env=env).exit_code == 0
    assert iop("--db", target, "staff", "add", "Dana Quinn", "-c", "LCSW", env=env).exit_code == 0
    copy = tmp_path / "copy.db"
    r = iop("--db", target, "db", "backup", str(copy), env=env)
    assert r.exit_code == 0, r.output
    data = copy.read_bytes()
    assert not data.startswith(b"SQLite format 3") and b"Dana Quinn" not in data
    bad = iop_process("--db", str(copy), "staff", "list", passphrase="not the passphrase!", home=tmp_path / "home")
    assert bad.returncode == 1 and "wrong passphrase" in bad.stderr
    r = iop("--db", str(copy), "staff", "list", "--json", env=env)
    assert r.exit_code == 0 and "Dana Quinn" in r.stdout
