"""Alembic, driven from code (no alembic.ini is needed at run time)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Engine

from iop_facilitator.errors import DatabaseProblem

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None
    return head


def is_at_head(revision: str | None) -> bool:
    return revision == head_revision()


def check_known_revision(revision: str | None, where: str) -> None:
    """Refuse a database whose schema is newer than this program (written by a later version)."""
    if revision is None:
        return
    try:
        known = _script().get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise DatabaseProblem(
            f"{where} has schema version {revision}, newer than this program knows; "
            "upgrade iop-facilitator to open it"
        )


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
