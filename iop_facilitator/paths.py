"""Where iop-facilitator keeps its files.

``IOP_HOME`` (used by the tests, and by anyone who wants a portable folder)
replaces the platform directories with ``$IOP_HOME/data`` and ``$IOP_HOME/config``.
Directories are created private (0700) because they hold health information.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "iop-facilitator"


def ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except OSError:  # pragma: no cover - e.g. a folder owned by someone else
        pass
    return path


def data_dir(create: bool = True) -> Path:
    home = os.environ.get("IOP_HOME")
    if home:
        path = Path(home).expanduser() / "data"
    else:
        from platformdirs import user_data_path

        path = user_data_path(APP_NAME, appauthor=False)
    return ensure_private_dir(path) if create else path


def config_dir(create: bool = True) -> Path:
    home = os.environ.get("IOP_HOME")
    if home:
        path = Path(home).expanduser() / "config"
    else:
        from platformdirs import user_config_path

        path = user_config_path(APP_NAME, appauthor=False)
    return ensure_private_dir(path) if create else path


def default_db_path() -> Path:
    return data_dir() / "iop.db"


def demo_db_path() -> Path:
    return data_dir() / "demo.db"
