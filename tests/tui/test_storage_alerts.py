"""The app and its database file (issue 11.4, 11.6): never a silent new clinic, a deleted or
replaced file noticed and rescued, a read-only database shown as such, upgrades with progress."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from textual.widgets import Static

from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.widgets.header import AppHeader
from tests.tui.test_home import seed, settle


def header_text(app: IopApp) -> str:
    return app.screen.query_one(AppHeader).render().plain


def messages_of(app: IopApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_missing_database_is_a_message_and_no_file_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "clinic"
    folder.mkdir()
    target = folder / "clinic.db"
    app = IopApp(db_target=str(target))  # what `iop` does: never create
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "failed"
        status = str(app.home.query_one("#status", Static).render())
        assert "no database at" in status and "iop --db" in status and "init" in status and "iop demo" in status
    assert not list(folder.iterdir())


def test_the_command_line_opens_the_app_without_creating(monkeypatch, tmp_path: Path) -> None:
    import iop_facilitator.cli as cli
    import iop_facilitator.tui.app as tui_app

    calls: list[tuple[str, dict]] = []
    def end_process(code: int) -> None:  # the real one ends the process (os._exit): the test's worker
        raise SystemExit(code)

    monkeypatch.setattr(tui_app, "run", lambda target, **kw: calls.append((target, kw)) or 0)
    monkeypatch.setattr(cli, "end_process", end_process)
    monkeypatch.setattr("sys.argv", ["iop", "--db", str(tmp_path / "x.db")])
    try:
        cli.main()
    except SystemExit as done:
        assert done.code == 0
    assert [(target, kw["demo"], "create" in kw) for target, kw in calls] == [(str(tmp_path / "x.db"), False, False)]
    # and run() defaults to create=False:
    import inspect

    assert inspect.signature(tui_app.IopApp.__init__).parameters["create"].default is False


async def test_a_deleted_database_stops_writing_and_is_rescued(tmp_path: Path) -> None:
    target = tmp_path / "clinic.db"
    seed(str(target))
    app = IopApp(db_target=str(target))
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        failures: list[str] = []

        def rename(session) -> None:  # noqa: ANN001
            from iop_facilitator.services.settings import update_settings

            update_settings(session, clinic_name="Renamed after the file was deleted")

        app.store.submit(rename, failed=failures.append)
        await settle(pilot)
        assert failures and "was deleted while it was open" in failures[0]
        assert header_text(app).strip().startswith("≡  DATABASE FILE GONE")
        rescued = sorted(tmp_path.glob("clinic.db.rescued-*"))
        assert len(rescued) == 1 and oct(rescued[0].stat().st_mode & 0o777) == "0o600"
        assert any(str(rescued[0]) in m for m in messages_of(app))
        app.store.submit(rename, failed=failures.append)  # later changes fail at once, the same way
        await settle(pilot)
        assert len(failures) == 2 and failures[1] == failures[0]
    assert not target.exists()  # nothing new was created at the old path
    copy = sqlite3.connect(rescued[0])
    try:  # everything saved before the deletion, nothing after
        assert copy.execute("SELECT clinic_name FROM program_settings").fetchone()[0] == "Riverside Recovery (fictional)"
    finally:
        copy.close()


async def test_a_replaced_database_is_noticed_without_a_write(tmp_path: Path) -> None:
    target = tmp_path / "clinic.db"
    seed(str(target))
    app = IopApp(db_target=str(target))
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        other = tmp_path / "other.db"
        other.write_bytes(b"")
        os.replace(other, target)  # someone copies another file over it
        app._watch_database_file()  # what the app's timer does every two seconds
        await settle(pilot)
        assert "replaced by another file" in " ".join(messages_of(app))
        assert app.store.gone and header_text(app).strip().startswith("≡  DATABASE FILE GONE")
        assert len(list(tmp_path.glob("clinic.db.rescued-*"))) == 1
    assert target.stat().st_size == 0  # the replacement was not written to


async def test_a_read_only_database_opens_with_a_banner_and_refuses_changes(tmp_path: Path, monkeypatch) -> None:
    """The real read-only mount is in tests/torture/test_disk_full.py; here the check is faked."""
    from iop_facilitator.db import engine

    target = tmp_path / "clinic.db"
    seed(str(target))
    monkeypatch.setattr(engine, "read_only_reason", lambda _path: "the file is read-only")
    app = IopApp(db_target=str(target))
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "ready"  # everything can be looked at
        assert app.database.read_only == "the file is read-only"
        assert "READ-ONLY: the file is read-only" in header_text(app)
        failures: list[str] = []
        app.store.submit(lambda session: None, failed=failures.append)
        await settle(pilot)
        assert failures == [f"{app.database.display} is open read-only (the file is read-only); nothing can be changed"]


async def opened_showing_progress(target: Path) -> tuple[IopApp, list[str]]:
    """Run the app on ``target`` until its home screen has data; every progress line it showed."""
    app = IopApp(db_target=str(target))
    seen: list[str] = []
    real = app.home.show_progress
    app.home.show_progress = lambda text: (seen.append(text), real(text))  # type: ignore[method-assign]
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "ready"
    return app, seen


async def test_an_upgrade_at_start_up_shows_its_progress(tmp_path: Path) -> None:
    from iop_facilitator.db import migrate
    from iop_facilitator.db.engine import open_database

    target = tmp_path / "clinic.db"
    old = open_database(target, create=True, migrate=False)
    migrate.upgrade(old.engine, "0003")
    old.dispose()
    app, seen = await opened_showing_progress(target)
    assert seen and seen[0].startswith("Upgrading the database to this version: step 1 of ")
    assert "record integrity and lock settings" in seen[0]
    assert "The database was upgraded to this version of the program." in messages_of(app)


async def test_a_long_upgrade_step_shows_its_rows_on_the_opening_screen(tmp_path: Path) -> None:
    """The opening worker's progress reaches the home screen as messages, rows included."""
    from tests.test_upgrades import signed_at_0005

    target = tmp_path / "clinic.db"
    signed_at_0005(str(target), 2).dispose()
    _app, seen = await opened_showing_progress(target)
    assert seen[0].startswith("Upgrading the database to this version: step 1 of ")
    assert any("(signed snapshots, reference-data history, lock triggers without bypasses, 2 of 2 rows)" in t
               for t in seen), seen
