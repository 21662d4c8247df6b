"""Theme files (TOML) -> Textual ``Theme`` objects, validated.

A theme file::

    name = "iop-dark"
    dark = true
    primary = "#5BA4E6"
    secondary = "#8A9BC4"
    accent = "#E8B15A"
    foreground = "#E4E6EB"
    background = "#14171C"
    surface = "#1C2028"
    panel = "#262C38"
    success = "#62C385"
    warning = "#E8B15A"
    error = "#EE7B84"

    [variables]                 # optional: any Textual design variable
    text-muted = "#FFFFFF"

Bundled themes live in the top-level ``themes/`` folder (shipped in the
wheel, see :mod:`iop_facilitator.resources`); users add their own in
``<config dir>/themes/*.toml``. A bad file is a problem to report, never a
crash. Part of the TUI (it builds Textual themes); Textual is imported inside the
functions that need it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iop_facilitator.errors import IopError

if TYPE_CHECKING:
    from textual.theme import Theme

COLOR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "success",
    "warning",
    "error",
)
REQUIRED_FIELDS = ("name", "dark", *COLOR_FIELDS)
OPTIONAL_FIELDS = ("variables",)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VARIABLE = re.compile(r"^[a-z][a-z0-9-]*$")
_AUTO = re.compile(r"^auto( \d{1,3}%)?$")
_STYLE_WORDS = {"bold", "b", "italic", "i", "underline", "u", "reverse", "strike", "dim", "not", "none", "blink"}


class ThemeError(IopError):
    """A theme file that cannot be used; the message names the file and the reason."""


def _is_color(value: str) -> bool:
    from textual.color import Color, ColorParseError

    try:
        Color.parse(value)
    except ColorParseError:
        return False
    return True


def _check_variable(name: str, value: Any) -> str | None:
    """A reason why ``name = value`` is not a usable design variable, else None."""
    if not _VARIABLE.match(name):
        return f"variable name {name!r} is not a Textual design variable name (e.g. text-muted)"
    if not isinstance(value, str) or not value.strip():
        return f"variable {name} must be a string"
    value = value.strip()
    if name.endswith("-style"):
        words = value.replace(",", " ").split()
        if all(word in _STYLE_WORDS for word in words):
            return None
        return f"variable {name} = {value!r} is not a text style (e.g. \"bold\", \"underline\")"
    if value in ("initial", "transparent") or _AUTO.match(value) or _is_color(value):
        return None
    return f"variable {name} = {value!r} is not a colour"


def theme_from_data(data: dict[str, Any], source: str) -> Theme:
    """Build a ``Theme`` from parsed TOML, or raise :class:`ThemeError` listing every fault."""
    from textual.theme import Theme

    faults: list[str] = []
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        faults.append("missing " + ", ".join(missing))
    unknown = [key for key in data if key not in REQUIRED_FIELDS and key not in OPTIONAL_FIELDS]
    if unknown:
        faults.append("unknown field(s) " + ", ".join(unknown))
    name = data.get("name")
    if "name" in data and (not isinstance(name, str) or not _NAME.match(name)):
        faults.append("name must be letters, digits, '-', '_' or '.' (at most 64)")
    if "dark" in data and not isinstance(data["dark"], bool):
        faults.append("dark must be true or false")
    for field_name in COLOR_FIELDS:
        if field_name not in data:
            continue
        value = data[field_name]
        if not isinstance(value, str) or not _is_color(value.strip()):
            faults.append(f"{field_name} = {value!r} is not a colour (use e.g. \"#1E90FF\")")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        faults.append("[variables] must be a table")
        variables = {}
    for var_name, value in variables.items():
        reason = _check_variable(var_name, value)
        if reason:
            faults.append(reason)
    if faults:
        raise ThemeError(f"{source}: " + "; ".join(faults))
    return Theme(
        name=name,
        dark=data["dark"],
        variables={key: value.strip() for key, value in variables.items()},
        **{field_name: data[field_name].strip() for field_name in COLOR_FIELDS},
    )


def load_theme_file(path: Path) -> Theme:
    """Read one theme file; raises :class:`ThemeError` with a one-line reason."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ThemeError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ThemeError(f"{path}: is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path}: is not valid TOML ({exc})") from None
    return theme_from_data(data, str(path))


def _load_folder(folder: Path, themes: dict[str, Theme], problems: list[str]) -> None:
    try:
        files = sorted(folder.glob("*.toml"))
    except OSError as exc:  # pragma: no cover - unreadable folder
        problems.append(f"{folder}: cannot be listed ({exc.strerror or exc})")
        return
    for path in files:
        try:
            theme = load_theme_file(path)
        except ThemeError as exc:
            problems.append(str(exc))
            continue
        themes[theme.name] = theme


def bundled_themes() -> list[Theme]:
    """The themes shipped with the program (a broken bundle raises :class:`ThemeError`)."""
    from iop_facilitator.resources import themes_dir

    themes: dict[str, Theme] = {}
    problems: list[str] = []
    _load_folder(themes_dir(), themes, problems)
    if problems:
        raise ThemeError("; ".join(problems))
    return list(themes.values())


def load_all(user_dir: Path | None) -> tuple[list[Theme], list[str]]:
    """Bundled themes plus the user's ``*.toml`` themes (a user theme may replace a bundled one).

    Never raises for a bad file: each becomes a one-line problem string.
    """
    from iop_facilitator.resources import ResourceMissing, themes_dir

    themes: dict[str, Theme] = {}
    problems: list[str] = []
    try:
        _load_folder(themes_dir(), themes, problems)
    except ResourceMissing as exc:
        problems.append(str(exc))
    if user_dir is not None and user_dir.is_dir():
        _load_folder(user_dir, themes, problems)
    return list(themes.values()), problems
