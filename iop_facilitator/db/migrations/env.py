"""Alembic environment: runs against the engine handed over by ``db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import iop_facilitator.models  # noqa: F401  (registers every table on the metadata)
from sqlmodel import SQLModel

target_metadata = SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    owned = engine is None
    if owned:  # the alembic command line: ``alembic -x url=... upgrade head``
        url = context.get_x_argument(as_dictionary=True).get("url")
        if not url:
            raise SystemExit("pass the database with: alembic -x url=sqlite:///PATH ...")
        engine = create_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild a table by copying it, dropping the old one and renaming
            # the copy; with foreign keys enforced, dropping a table other rows point at fails.
            # The pragma only takes effect outside a transaction, so set it before beginning,
            # and check every reference before committing instead.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # end SQLAlchemy's autobegun transaction; the pragma stays
        try:
            with connection.begin():
                context.configure(
                    connection=connection,
                    target_metadata=target_metadata,
                    render_as_batch=sqlite,
                    compare_type=True,
                )
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        tables = sorted({str(row[0]) for row in broken})
                        raise RuntimeError(f"migration left broken references in: {', '.join(tables)}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    if owned:
        engine.dispose()


if context.is_offline_mode():  # pragma: no cover - we never generate offline SQL
    raise SystemExit("offline migrations are not supported")
run_migrations_online()
