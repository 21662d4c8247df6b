"""Program settings: one row, created with sensible US defaults on first use."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from iop_facilitator.errors import InvalidInput
from iop_facilitator.models import ProgramSettings
from iop_facilitator.services import audit

# What ``iop settings set`` may change, and how to read a value typed on the command line.
EDITABLE: dict[str, type] = {
    "clinic_name": str,
    "timezone": str,
    "disclosure_notice": str,
    "max_absences": int,
    "absence_window_weeks": int,
    "weekly_hours_adult": float,
    "weekly_hours_adolescent": float,
    "per_diem_daily_hours": float,
    "crisis_resources": list,
    "crisis_steps": list,
    "service_codes": dict,
    "idle_lock_minutes": int,
    "no_change_limit": int,
}

# The automatic screen lock (tui/lock.py): minutes without a key press or click.
IDLE_LOCK_MINUTES = (1, 240)
# The payer lens (services.payer_lens): notes in a row with a goal rated "no change" before it flags.
NO_CHANGE_LIMIT = (2, 12)


def check_no_change_limit(value: int) -> int:
    low, high = NO_CHANGE_LIMIT
    if not low <= int(value) <= high:
        raise InvalidInput(f"setting no_change_limit needs a whole number of notes from {low} to {high}")
    return int(value)


def check_idle_lock_minutes(value: int) -> int:
    low, high = IDLE_LOCK_MINUTES
    if not low <= int(value) <= high:
        raise InvalidInput(f"setting idle_lock_minutes needs a whole number of minutes from {low} to {high}")
    return int(value)


def local_timezone_name() -> str:
    import pendulum

    try:
        name = pendulum.local_timezone().name
    except Exception:  # noqa: BLE001 - no zone information on this machine
        name = ""
    return name if name and "/" in name else "America/New_York"


def get_settings(session: Session) -> ProgramSettings:
    found = session.exec(select(ProgramSettings)).first()
    if found is None:
        found = ProgramSettings(timezone=local_timezone_name())
        session.add(found)
        session.flush()
    return found


def program_today(session: Session) -> dt.date:
    """Today's date in the program's timezone: the clinic's calendar day, never the machine's."""
    from iop_facilitator.clock import local_today

    return local_today(get_settings(session).timezone)


def validate_timezone(name: str) -> str:
    import pendulum

    try:
        pendulum.timezone(name)
    except Exception:  # noqa: BLE001 - pendulum raises several kinds
        raise InvalidInput(f"unknown timezone {name!r}; use an IANA name such as America/Chicago") from None
    return name


def parse_value(key: str, raw: str) -> Any:
    if key not in EDITABLE:
        raise InvalidInput(f"unknown setting {key!r}; one of: {', '.join(sorted(EDITABLE))}")
    kind = EDITABLE[key]
    try:
        if kind is int:
            value: Any = int(raw)
            if value < 0:
                raise ValueError
        elif kind is float:
            value = float(raw)
            if value < 0:
                raise ValueError
        elif kind in (list, dict):
            value = json.loads(raw)
            if not isinstance(value, kind):
                raise ValueError
        else:
            value = raw.strip()
    except ValueError:
        article = "a JSON " + kind.__name__ if kind in (list, dict) else f"a non-negative {kind.__name__}"
        raise InvalidInput(f"setting {key} needs {article}") from None
    if key == "timezone":
        validate_timezone(value)
    if key == "idle_lock_minutes":
        check_idle_lock_minutes(value)
    if key == "no_change_limit":
        check_no_change_limit(value)
    if key == "absence_window_weeks" and value < 1:
        raise InvalidInput("setting absence_window_weeks needs at least 1")
    return value


def _clean_value(key: str, value: Any) -> Any:
    """User text in a setting (strings, and strings inside lists and tables) without control sequences."""
    from iop_facilitator.services.text import clean, clean_line

    if isinstance(value, str):
        return clean(value).strip() if key == "disclosure_notice" else clean_line(value)
    if isinstance(value, list):
        return [_clean_value(key, v) for v in value]
    if isinstance(value, dict):
        return {clean_line(str(k)): _clean_value(key, v) for k, v in value.items()}
    return value


def update_settings(session: Session, **changes: Any) -> ProgramSettings:
    current = get_settings(session)
    for key, value in changes.items():
        if key not in EDITABLE:
            raise InvalidInput(f"unknown setting {key!r}")
        if key == "idle_lock_minutes":
            value = check_idle_lock_minutes(value)
        if key == "no_change_limit":
            value = check_no_change_limit(value)
        setattr(current, key, _clean_value(key, value))
    session.add(current)
    audit.record(session, "settings.update", record_type="program_settings", record_id=current.id, keys=sorted(changes))
    return current


@dataclass(frozen=True)
class StaffRow:
    staff_id: uuid.UUID
    name: str
    credentials: str
    role: str
    version: int


@dataclass(frozen=True)
class SettingsView:
    """The settings screen's read model: the program's settings and the active staff."""

    clinic_name: str
    timezone: str
    is_demo: bool
    staff: tuple[StaffRow, ...]  # active staff, by name
    idle_lock_minutes: int = 10  # the automatic screen lock (tui/lock.py)


def settings_view(session: Session) -> SettingsView:
    from iop_facilitator.services.staff import list_staff

    program = get_settings(session)
    return SettingsView(
        clinic_name=program.clinic_name,
        timezone=program.timezone,
        is_demo=bool(program.is_demo),
        staff=tuple(StaffRow(p.id, p.name, p.credentials, p.role.value, p.version) for p in list_staff(session)),
        idle_lock_minutes=int(program.idle_lock_minutes),
    )
