"""Alembic, driven from code (no alembic.ini is needed at run time)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

# The revisions this program ships (db.revisions, no Alembic); callers may ask here too.
from iop_facilitator.db.revisions import MIGRATIONS_DIR, head_revision, is_at_head, known_revisions  # noqa: F401
from iop_facilitator.errors import DatabaseProblem

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Engine


def alembic_config(engine: Engine | None = None) -> Config:
    import sys

    from alembic.config import Config

    # Pass the stream now: Alembic's default is whatever sys.stdout was when it was first imported.
    cfg = Config(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def check_known_revision(revision: str | None, where: str) -> None:
    """Refuse a database whose schema is newer than this program (written by a later version)."""
    if revision is None:
        return
    if revision not in known_revisions()[0]:
        raise DatabaseProblem(
            f"{where} has schema version {revision}, newer than this program knows; "
            "upgrade iop-facilitator to open it"
        )


Progress = Callable[..., None]
"""``progress(done, total, label)``: ``done`` of ``total`` migration steps applied; ``label``
describes the step running now. Called before the first step and after each one; a step that
rewrites many rows (0006's signed snapshots) also calls ``progress(done, total, label, (rows
done, rows in all))`` as it goes."""


def upgrade(engine: Engine, revision: str = "head", *, progress: Progress | None = None) -> None:
    """Bring the schema to ``revision`` in one transaction (see ``migrations/env.py``)."""
    from alembic import command

    config = alembic_config(engine)
    if progress is not None:
        config.attributes["progress"] = progress
    command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
