"""Shared fixtures.

* Every test runs with ``IOP_HOME`` in a temporary folder: no test touches the
  real data or config directories.
* ``db`` is a freshly migrated database: SQLite always, and PostgreSQL as a
  second parameter whenever ``IOP_TEST_PG_URL`` names a server (``.ci/run``
  starts one). Each PostgreSQL test gets its own throwaway database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL = os.environ.get("IOP_TEST_PG_URL", "").strip()


def pytest_addoption(parser: pytest.Parser) -> None:
    # Registered here (an initial conftest); used by tests/torture/.
    parser.addoption(
        "--torture-full", action="store_true", default=False,
        help="run the torture suite in its full form (also: IOP_TORTURE_FULL=1); default: a bounded handful",
    )
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(autouse=True)
def iop_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "iop-home"
    monkeypatch.setenv("IOP_HOME", str(home))
    monkeypatch.delenv("IOP_DB", raising=False)
    monkeypatch.delenv("IOP_DEBUG", raising=False)
    monkeypatch.setenv("IOP_USER", "test-runner")
    return home


def _admin_engine():
    import sqlalchemy as sa

    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """A URL of a brand-new, empty PostgreSQL database, dropped after the test."""
    if not PG_URL:
        pytest.skip("IOP_TEST_PG_URL is not set")
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"iop_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A target (SQLite path or PostgreSQL URL) for a database that does not exist yet."""
    if request.param == "sqlite":
        return str(tmp_path / "clinic.db")
    return request.getfixturevalue("pg_database_url")


@pytest.fixture
def db(db_target: str):
    """An open database, migrated to the newest schema, on every configured back end."""
    from iop_facilitator.db.engine import open_database

    database = open_database(db_target, create=True)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def session(db):
    with db.session() as s:
        yield s
