"""``iop db``: schema upgrades, integrity checks and backups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iop_facilitator.cli.common import open_db, say

app = typer.Typer(help="The database: upgrade, check, verify, back up, restore.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the database's schema up to this version (also done on every open)."""
    from iop_facilitator.db.migrate import head_revision

    database = open_db(ctx)
    if database.migrated_from is not None:
        say(f"Upgraded {database.display} from schema {database.migrated_from} to {head_revision()}")
    else:
        say(f"{database.display} is already at schema {head_revision()}")


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Run the database's integrity checks; exit 1 if anything is wrong."""
    from iop_facilitator.services.maintenance import integrity_problems

    database = open_db(ctx)
    problems = integrity_problems(database)
    if problems:
        for line in problems:
            typer.echo(f"iop: problem: {line}", err=True)
        raise typer.Exit(1)
    say(f"{database.display}: integrity check passed")


@app.command("backup")
def backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a consistent copy of the database, safe while the app is running."""
    from iop_facilitator.services.maintenance import backup_to

    database = open_db(ctx)
    written = backup_to(database, path, force=force)
    say(f"Backed up {database.display} to {written}")


# -- record integrity: verify and restore (see README "Record integrity") -----------------
@app.command("verify")
def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    anchor: Annotated[
        bool,
        typer.Option("--anchor", help="When everything matches, print the audit chain's anchor (keep it outside the database)."),
    ] = False,
    against: Annotated[
        str | None,
        typer.Option("--against", metavar="ANCHOR|@FILE", help="Check the chain still holds a stored anchor (text, or @file)."),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", metavar="FILE", help="HMAC key kept outside the database (or IOP_ANCHOR_KEY_FILE)."),
    ] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Check everything again, not only what was written since the last verified point."),
    ] = False,
    no_checkpoint: Annotated[
        bool,
        typer.Option("--no-checkpoint", help="Record nothing (by default a clean result is stored as a verify checkpoint)."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Check signed records and the audit hash chain; exit 1 naming what no longer matches.

    By default only what was written since the last verify checkpoint (the newest clean run):
    the checkpoints' own chain, the new audit entries and every record they sealed. --full
    recomputes every signed meeting's hash and snapshot, matches each signature, co-signature
    and addendum with its audit entry and checks the whole chain and every checkpoint."""
    import os

    from iop_facilitator.cli.common import print_json
    from iop_facilitator.cli.progress import LazyProgress
    from iop_facilitator.errors import InvalidInput
    from iop_facilitator.services.integrity import Anchor, verify_database

    key = None
    key_path = key_file or (Path(os.environ["IOP_ANCHOR_KEY_FILE"]) if os.environ.get("IOP_ANCHOR_KEY_FILE") else None)
    if key_path is not None:
        try:
            key = key_path.expanduser().read_bytes().strip()
        except OSError as exc:
            raise InvalidInput(f"cannot read the anchor key file {key_path}: {exc.strerror or exc}") from None
        if len(key) < 16:
            raise InvalidInput(f"the anchor key in {key_path} is too short (use 16 bytes or more)")
    stored = None
    if against is not None:
        text = against
        if against.startswith("@"):
            try:
                text = Path(against[1:]).expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(f"cannot read the anchor file {against[1:]}: {exc.strerror or exc}") from None
        stored = Anchor.parse(text)
    database = open_db(ctx)
    with LazyProgress("Verifying signed meetings", quiet=quiet, unit="meetings") as progress:
        report = verify_database(database, anchor=stored, key=key, full=full, checkpoint=not no_checkpoint,
                                 progress=progress)
    if as_json:
        payload = report.as_dict()
        if key is not None:
            payload["anchor"] = report.anchor(key).text()
        print_json(payload)
    else:
        for line in report.lines():
            typer.echo(f"iop: mismatch: {line}", err=True)
        if report.ok:
            say(f"OK: {report.summary()}")
            if anchor:
                typer.echo(report.anchor(key).text())
        else:
            typer.echo(f"iop: {len(report.lines())} record(s) no longer match their hashes", err=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command("restore")
def restore(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The backup file to restore (made with iop db backup).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (for scripts).")] = False,
) -> None:
    """Replace the database with a backup, keeping a safety copy of the current one first."""
    from iop_facilitator.services.maintenance import check_backup, restore_from

    database = open_db(ctx)
    info = check_backup(database, path)
    if not yes:
        typer.confirm(
            f"Replace ALL records in {database.display} with the backup {info.path} "
            f"({info.meetings} meetings, schema {info.revision})? Close the app on every computer using "
            "this database first; a safety copy of the current database is kept",
            abort=True,
        )
    result = restore_from(database, info.path)
    state_ = ctx.find_root().obj
    state_._db = result.database
    ctx.find_root().call_on_close(result.database.dispose)
    say(f"Restored {database.display} from {info.path}; the previous database was kept at {result.safety_copy}")


# -- encryption at rest (SQLCipher) -------------------------------------------------------
@app.command("encrypt")
def encrypt(
    ctx: typer.Context,
    keep_plain: Annotated[
        bool,
        typer.Option(
            "--keep-plain",
            help="Keep the unencrypted original as FILE.plain (0600). By default its bytes are overwritten.",
        ),
    ] = False,
) -> None:
    """Encrypt a plain SQLite database in place (SQLCipher); asks for a new passphrase (or IOP_PASSPHRASE)."""
    from iop_facilitator.cli.common import ask_passphrase
    from iop_facilitator.db.encryption import encrypt_file
    from iop_facilitator.db.engine import check_new_passphrase, open_database, resolve_passphrase
    from iop_facilitator.errors import InvalidInput
    from iop_facilitator.services import audit

    database = open_db(ctx)  # checks it is ours and brings it to the newest schema first
    if database.encrypted:
        raise InvalidInput(f"{database.display} is already encrypted (change its passphrase with: iop db rekey)")
    if database.path is None:
        raise InvalidInput(
            "encryption at rest is for SQLite files; for PostgreSQL use the server's own disk encryption "
            "and TLS (sslmode=verify-full)"
        )
    path = database.path
    database.dispose()
    state_ = ctx.find_root().obj
    state_._db = None
    secret = resolve_passphrase(ask_passphrase, new=True)
    if not secret:
        raise InvalidInput("no passphrase given; nothing was changed")
    check_new_passphrase(secret)
    result = encrypt_file(path, secret, keep_plain=keep_plain)
    encrypted = open_database(path, passphrase=secret)
    try:
        with encrypted.begin() as session:
            audit.record(session, "db.encrypt", record_type="database", tables=result.tables, rows=result.rows,
                         plain_copy_kept=result.plain_copy is not None)
    finally:
        encrypted.dispose()
    say(f"Encrypted {path}: {result.tables} tables, {result.rows} rows, all checked.")
    if result.plain_copy is not None:
        say(f"An UNENCRYPTED copy was kept at {result.plain_copy}: delete it as soon as you can.")
    else:
        say("The unencrypted bytes were overwritten. Older backups and copies of the plain file are not encrypted.")


@app.command("rekey")
def rekey(ctx: typer.Context) -> None:
    """Change an encrypted database's passphrase (asks for the current one, then the new one twice)."""
    import os

    from iop_facilitator.cli.common import ask_passphrase
    from iop_facilitator.db.encryption import rekey_file
    from iop_facilitator.db.engine import PASSPHRASE_ENV, check_new_passphrase, open_database
    from iop_facilitator.errors import InvalidInput
    from iop_facilitator.services import audit

    database = open_db(ctx)  # asks for (or reads) the current passphrase and checks it
    if not database.encrypted or database.path is None:
        raise InvalidInput(f"{database.display} is not encrypted (encrypt it with: iop db encrypt)")
    path, old = database.path, database.url.password or ""
    database.dispose()
    ctx.find_root().obj._db = None
    new = os.environ.get("IOP_NEW_PASSPHRASE", "")
    if not new:
        from iop_facilitator.cli.common import stdin_is_terminal

        if not stdin_is_terminal():
            raise InvalidInput("no terminal to ask for the new passphrase: set IOP_NEW_PASSPHRASE for scripts")
        new = ask_passphrase(new=True)
    check_new_passphrase(new)
    if new == old:
        raise InvalidInput("the new passphrase is the same as the current one; nothing was changed")
    rekey_file(path, old, new)
    rekeyed = open_database(path, passphrase=new)
    try:
        with rekeyed.begin() as session:
            audit.record(session, "db.rekey", record_type="database")
    finally:
        rekeyed.dispose()
    say(f"Changed the passphrase of {path}.")
    if os.environ.get(PASSPHRASE_ENV):
        say(f"Remember to update {PASSPHRASE_ENV} wherever your scripts set it.")
