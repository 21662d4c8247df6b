"""A full disk and a read-only disk, on a real tmpfs mount (issue 11.6, 11.7).

The clinic lives on a small tmpfs; a filler file takes the rest of the space at a random
moment of a scripted meeting. Checked:

* the first write that does not fit fails as ``StorageFull`` ("the disk is full: the change
  was not saved"), atomically (the step is wholly absent), and every earlier step is there;
* while the disk is full, with the app's connection open and after it closed: the read-only
  commands work (``meeting list``, ``report attendance``, ``audit``, ``db check``,
  ``db verify``), and a command that writes fails with one line about the full disk (never
  "could not be read");
* once space is freed, the same database takes the rest of the meeting, the signature, and
  passes ``db check`` and ``db verify``;
* a read-only mount: the database opens read-only (reads work, a change is refused with one
  line naming the read-only mount).

Skipped with the reason where a tmpfs cannot be mounted (not root). Bounded form: 1 fill
point; full form: 12.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.torture import scripted
from tests.torture.conftest import check_database, child_env, mounted_tmpfs, remount, report

READS = (
    ("meeting", "list", "--json"),
    ("report", "attendance", "--since", "2026-11-01", "--until", "2026-11-30"),
    ("audit", "--json"),
    ("db", "check"),
    ("db", "verify"),
)


def iop(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iop_facilitator", "--db", str(target), *args],
                          capture_output=True, text=True, timeout=120, env=child_env())


def fill(folder: Path, leave: int = 0) -> Path:
    """Take every free byte of the mount but about ``leave``, with a filler file."""
    filler = folder / "filler"
    vfs = os.statvfs(folder)
    goal = max(0, vfs.f_bavail * vfs.f_frsize - leave)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        block = b"\0" * 65536
        written = 0
        while written < goal or not leave:
            try:
                written += os.write(fd, block[: max(4096, min(len(block), goal - written))])
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    finally:
        os.close(fd)
    return filler


def check_reads_and_a_refused_write(target: Path, failures: list[str], where: str, meetings_expected: int) -> None:
    for args in READS:
        result = iop(target, *args)
        if result.returncode != 0:
            failures.append(f"{where}: `iop {' '.join(args)}` failed on a full disk: {result.stderr.strip()}")
    meetings = json.loads(iop(target, "meeting", "list", "--json").stdout or "[]")
    if len(meetings) != meetings_expected:
        failures.append(f"{where}: meeting list shows {len(meetings)} meetings, not {meetings_expected}")
    write = iop(target, "staff", "add", "Robin Lee", "--credentials", "LPC")
    line = write.stderr.strip()
    if write.returncode != 1 or line.count("\n") or "disk is full" not in line or "could not be read" in line:
        failures.append(f"{where}: a write on a full disk said: {line!r} (exit {write.returncode})")


def test_a_full_disk_fails_saves_cleanly_and_reads_go_on(tmp_path: Path, full: bool, rng) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.db.failures import storage_error
    from iop_facilitator.errors import StorageFull

    steps = scripted.script()
    runs = 12 if full else 1
    failures: list[str] = []
    failed_at: list[int] = []
    for run in range(runs):
        with mounted_tmpfs(tmp_path / f"mnt-{run}", "3m") as folder:
            target = folder / "clinic.db"
            scripted.build_clinic(target)
            database = open_database(target)
            before = rng.randrange(0, len(steps) - 10)
            scripted.play(database, steps[:before])  # part of the meeting, then the disk fills up
            filler = fill(folder, leave=rng.choice((0, 0, 4096, 16384)))
            where = f"run {run} (filled after {before} steps)"
            stopped = None
            try:
                scripted.play(database, steps, before, report=lambda i: None)
                failures.append(f"{where}: the whole meeting fitted; no write failed")
            except Exception as exc:  # noqa: BLE001 - classified below
                stopped = storage_error(exc, writing=True)
                if not isinstance(stopped, StorageFull) or "the change was not saved" not in str(stopped):
                    failures.append(f"{where}: a write on a full disk failed as {type(exc).__name__}: {stopped}")
            with database.session() as s:
                done = len(scripted.committed_steps(s))
            failed_at.append(done)
            fill(folder)  # whatever the failed write left free: now nothing at all
            check_reads_and_a_refused_write(target, failures, f"{where}, app open", min(done, 1))
            database.dispose()  # the app quits on the full disk (a checkpoint may free the -wal's space...)
            fill(folder)  # (...which the disk, still full, takes back)
            check_reads_and_a_refused_write(target, failures, f"{where}, app closed", min(done, 1))
            filler.unlink()  # space is freed: the same database takes the rest of the meeting
            database = open_database(target)
            try:
                with database.session() as s:
                    steps_there = scripted.committed_steps(s)
                if steps_there != list(range(len(steps_there))) or len(steps_there) < done:
                    failures.append(f"{where}: steps lost or out of order after the full disk: {steps_there}")
                scripted.play(database, steps, len(steps_there))
                check_database(database, f"{where}, after freeing space", failures)
            finally:
                database.dispose()
    report(f"disk full (tmpfs 3 MB, filled at random points): {runs} runs, writes refused after "
           f"{min(failed_at, default=0)}-{max(failed_at, default=0)} steps, reads and a later signature checked; "
           f"{len(failures)} failures")
    assert not failures, "\n".join(failures)


def test_a_read_only_mount_opens_read_only(tmp_path: Path) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.errors import StorageReadOnly

    with mounted_tmpfs(tmp_path / "mnt", "4m") as folder:
        target = folder / "clinic.db"
        scripted.build_clinic(target)
        database = open_database(target)
        scripted.play(database, scripted.script()[:20])
        database.dispose()
        remount(folder, "ro")
        try:
            database = open_database(target)
            try:
                assert database.read_only == "it is on a read-only disk or mount"
                with database.session() as s:
                    assert len(scripted.committed_steps(s)) == 20
                with pytest.raises(StorageReadOnly, match="open read-only .it is on a read-only disk or mount."):
                    with database.begin():
                        pass
            finally:
                database.dispose()
            failures: list[str] = []
            for args in READS:
                result = iop(target, *args)
                if result.returncode != 0:
                    failures.append(f"`iop {' '.join(args)}` failed on a read-only mount: {result.stderr.strip()}")
            write = iop(target, "staff", "add", "Robin Lee")
            assert write.returncode == 1 and write.stderr.count("\n") == 1
            assert "is open read-only (it is on a read-only disk or mount); nothing can be changed" in write.stderr
            assert not failures, "\n".join(failures)
        finally:
            remount(folder, "rw")
    report("read-only mount: opens read-only, 5 read commands work, a write is refused in one line")
