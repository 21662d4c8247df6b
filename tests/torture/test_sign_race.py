"""Signing racing a co-leader's write (issue 11, "What was seen" 4), on SQLite and PostgreSQL.

Signing runs in one write transaction whose first statement takes the lock
(``integrity.lock_meeting``: the write lock on SQLite, ``SELECT ... FOR UPDATE`` on
PostgreSQL, where the parts' lock trigger takes ``FOR SHARE`` on the meeting row),
and computes the hash from reads taken under it. So a write racing the signature
either commits first and is in the signed content, or waits and is refused once
the meeting is signed; ``iop db verify`` agrees either way (no false alarm).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from iop_facilitator.errors import Conflict
from iop_facilitator.services import integrity, live, notes
from tests.test_live_services import START, complete_meeting, library, room  # noqa: F401 - fixtures
from tests.torture.tamper_helpers import one_child, scalar, verify

WAIT = 20.0  # seconds: generous upper bounds of condition waits, never fixed pauses


class Worker(threading.Thread):
    """Runs ``fn`` on its own thread; keeps its result or exception."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.fn, self.result, self.error = fn, None, None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc


def blocked_on_a_lock(db, *, timeout: float = WAIT) -> bool:
    """PostgreSQL: wait until another backend of this database waits on a lock (True), or time out."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if scalar(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"):
            return True
        time.sleep(0.02)  # polling a condition, not a pause standing in for one
    return False


def test_a_write_that_commits_before_the_signature_is_in_the_signed_content(db, room, library, monkeypatch) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    mid, member = room["meeting"], room["people"]["Avery T."]
    written, go, locking = threading.Event(), threading.Event(), threading.Event()

    def co_leader() -> None:
        with db.begin() as s:
            live.add_story(s, mid, member, "said something important just before the signature")
            s.flush()  # holds the write lock (SQLite) / the meeting row FOR SHARE (PostgreSQL)
            written.set()
            assert go.wait(WAIT)

    original = integrity.lock_meeting

    def lock_meeting(session, meeting_id) -> None:
        locking.set()
        original(session, meeting_id)

    monkeypatch.setattr(integrity, "lock_meeting", lock_meeting)

    def leader() -> None:
        with db.begin() as s:
            notes.sign(s, mid, room["lead"], at=START + dt.timedelta(hours=4))

    writer = Worker(co_leader)
    writer.start()
    assert written.wait(WAIT)
    signer = Worker(leader)
    signer.start()
    assert locking.wait(WAIT)
    if db.backend == "postgresql":
        assert blocked_on_a_lock(db)  # the signature waits for the co-leader's transaction
    go.set()
    writer.join(WAIT)
    signer.join(WAIT)
    assert writer.error is None and signer.error is None, (writer.error, signer.error)
    report = verify(db)
    assert report.ok, report.lines()
    with db.session() as s:
        content = integrity.canonical_meeting(s, mid).decode()
    assert "said something important just before the signature" in content


@pytest.mark.parametrize("how", ["service", "raw"])
def test_a_write_racing_an_open_signature_is_refused_after_it(db, room, library, how) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    mid, member = room["meeting"], room["people"]["Avery T."]
    note = one_child(db, "progress_note", mid)
    signed, go = threading.Event(), threading.Event()

    def leader() -> None:
        with db.begin() as s:
            notes.sign(s, mid, room["lead"], at=START + dt.timedelta(hours=4))
            signed.set()  # signed, not yet committed: the lock is held
            assert go.wait(WAIT)

    def co_leader() -> None:
        if how == "service":  # the screen's save: its own check saw a draft a moment ago
            with db.begin() as s:
                live.add_story(s, mid, member, "typed while the leader was signing")
        else:  # a stale writer whose check passed before the signature: only the database stands in the way
            with db.engine.begin() as conn:
                conn.execute(
                    sa.text("UPDATE progress_note SET response = 'overwritten' WHERE id = :nid").bindparams(
                        sa.bindparam("nid", type_=sa.Uuid())
                    ),
                    {"nid": note},
                )

    signer = Worker(leader)
    signer.start()
    assert signed.wait(WAIT)
    writer = Worker(co_leader)
    writer.start()
    if db.backend == "postgresql":
        assert blocked_on_a_lock(db)  # the co-leader's write waits for the signature
    go.set()
    signer.join(WAIT)
    writer.join(WAIT)
    assert signer.error is None, signer.error
    assert isinstance(writer.error, (IntegrityError, Conflict)), writer.error
    if isinstance(writer.error, IntegrityError):
        assert "iop-lock" in str(writer.error)
    report = verify(db)
    assert report.ok, report.lines()
