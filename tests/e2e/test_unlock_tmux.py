"""End to end: an encrypted database opens on the unlock screen in a real terminal (tmux).

A wrong passphrase shows one calm line and nothing else (SQLCipher's own stderr
logging would garble the screen); the right one shows the clinic.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.e2e.test_tmux import Tmux, app_env, pytestmark, seeded_database, tmux, wait_until  # noqa: F401

PASSPHRASE = "correct horse battery staple"


def test_encrypted_database_unlocks_in_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    from iop_facilitator.db.encryption import encrypt_file

    db = tmp_path / "clinic.db"
    seeded_database(db)
    encrypt_file(db, PASSPHRASE)
    tmux.start([sys.executable, "-m", "iop_facilitator", "--db", str(db)], app_env(tmp_path / "home"))

    wait_until(lambda: "The database is encrypted." in tmux.screen(), "the unlock screen", tmux)
    screen = tmux.screen()
    assert "Harbor Light" not in screen and "Tuesday Relapse" not in screen

    tmux.keys("-l", "not the passphrase")
    tmux.keys("Enter")
    wait_until(lambda: "Wrong passphrase" in tmux.screen(), "the wrong-passphrase line", tmux)
    screen = tmux.screen()
    assert "not the passphrase" not in screen  # masked, and cleared after the attempt
    for stray in ("ERROR", "hmac", "sqlcipher", "Traceback"):
        assert stray not in screen

    tmux.keys("-l", PASSPHRASE)
    tmux.keys("Enter")
    wait_until(lambda: "Tuesday Relapse Prevention" in tmux.screen(), "the group list after unlocking", tmux)
    assert PASSPHRASE not in tmux.screen()
    tmux.keys("C-q")
    wait_until(lambda: tmux.pane()[0], "the app to quit", tmux)
    # "" when the tmux session is already gone, as in test_tmux.py; any other status is a failure.
    assert tmux.pane()[1] in ("0", ""), tmux.screen()
