"""Helpers of the raw-SQL tamper catalogue and the sign race (tests/torture/test_tamper.py, test_sign_race.py).

Kept apart from any shared conftest: the fixtures come from the service tests
(``room``: a started meeting with four members; ``library``: the bundled topics).
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from iop_facilitator.enums import StaffRole
from iop_facilitator.models import Staff
from iop_facilitator.services import addenda, audit, integrity, staff
from iop_facilitator.services import cosign as cosign_service
from tests.test_integrity import U, allowed, bound, one_child, refused, sign, tamper
from tests.test_live_services import START

__all__ = [
    "START",
    "U",
    "allowed",
    "bound",
    "cosigned",
    "lines",
    "one_child",
    "refused",
    "scalar",
    "sign",
    "supervisor",
    "tamper",
    "verify",
    "with_addendum",
]


def supervisor(db, name: str = "Robin Park", credentials: str = "LICSW") -> uuid.UUID:
    with db.begin() as s:
        person = staff.add_staff(s, name, credentials)
        s.get(Staff, person.id).role = StaffRole.supervisor
        return person.id


def cosigned(db, room, library) -> tuple[uuid.UUID, uuid.UUID]:
    mid = sign(db, room, library)
    boss = supervisor(db)
    with db.begin() as s:
        cosign_service.cosign(s, mid, boss, at=START + dt.timedelta(days=1))
    return mid, boss


def with_addendum(db, mid: uuid.UUID, author: uuid.UUID) -> uuid.UUID:
    with db.begin() as s:
        row = addenda.add_addendum(s, mid, author, reason="Late entry", text="Called the sponsor after group.",
                                   at=START + dt.timedelta(days=2))
        return row.id


def verify(db, **kwargs) -> integrity.VerifyReport:
    return integrity.verify_database(db, **kwargs)


def lines(report: integrity.VerifyReport) -> str:
    return "\n".join(report.lines())


def scalar(db, sql: str, **params):
    with db.engine.connect() as conn:
        return conn.execute(bound(sql, params), params).scalar()


def record(db, action: str, **details) -> None:
    with db.begin() as s:
        audit.record(s, action, **details)


def sql_columns(db, table: str) -> list[str]:
    return [c["name"] for c in sa.inspect(db.engine).get_columns(table)]
