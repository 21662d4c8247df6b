"""How the app ends (issue 11.6): no terminal, an unexpected error. Signals: tests/e2e/test_exit_codes.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("IOP_DEBUG", "IOP_DB")}
    env.update(IOP_HOME=str(tmp_path / "home"), **extra)
    return env


def test_without_a_terminal_the_app_exits_2_with_one_line(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "iop_facilitator", "--db", str(tmp_path / "clinic.db")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=_env(tmp_path),
    )
    assert result.returncode == 2
    assert result.stdout == ""  # nothing drawn into the pipe
    assert result.stderr.startswith("iop: error: the app needs a terminal, but its input and output are not terminals")
    assert result.stderr.count("\n") == 1
    assert time.monotonic() - started < 30
    assert not (tmp_path / "clinic.db").exists()


def test_terminal_problem_names_what_is_missing() -> None:
    from iop_facilitator.tui.app import terminal_problem

    class Tty:
        def isatty(self) -> bool:
            return True

    assert terminal_problem(Tty(), Tty()) == ""
    assert "its output is not a terminal" in terminal_problem(Tty(), None)
    assert "its input is not a terminal" in terminal_problem(open(os.devnull), Tty())


CRASHING_APP = textwrap.dedent(
    '''
    import os, sys
    import iop_facilitator.tui.app as tui_app

    class Crashing(tui_app.IopApp):
        CSS_PATH = os.path.join(os.path.dirname(tui_app.__file__), "app.tcss")

        def on_ready(self) -> None:
            self.set_timer(0.2, self.boom)

        def boom(self) -> None:
            passphrase = "correct horse battery staple"
            note = "Avery shared SECRET-NOTE-TEXT"
            raise RuntimeError("boom " + note)

    app = Crashing(sys.argv[1])
    app.run(headless=True)
    sys.exit(app.return_code)
    '''
)


def test_an_unexpected_error_prints_one_line_and_never_locals(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_APP, encoding="utf-8")
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "none.db")], capture_output=True, text=True,
                            timeout=60, env=_env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "iop: internal error (RuntimeError)" in " ".join(output.split())
    assert "SECRET" not in output and "horse" not in output and "boom" not in output
    debug = subprocess.run([sys.executable, str(script), str(tmp_path / "none.db")], capture_output=True, text=True,
                           timeout=60, env=_env(tmp_path, IOP_DEBUG="1"))
    assert debug.returncode == 1 and "RuntimeError" in debug.stderr
    # The traceback shows code lines, never a locals panel (which would print the repr of each value):
    assert "'correct horse battery staple'" not in debug.stderr and "'Avery shared SECRET-NOTE-TEXT'" not in debug.stderr
