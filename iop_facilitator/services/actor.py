"""Who is acting, for the audit log (a staff id when known, else the OS login)."""

from __future__ import annotations

import getpass
import os


def current_actor() -> str:
    explicit = os.environ.get("IOP_USER")
    if explicit:
        return explicit[:200]
    try:
        return f"os:{getpass.getuser()}"[:200]
    except Exception:  # noqa: BLE001 - no login name (containers, services)
        return "os:unknown"
