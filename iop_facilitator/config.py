"""The user's settings file: ``<config dir>/config.toml``.

Example::

    theme = "iop-dark"        # or iop-light, iop-high-contrast, or a theme of your own
    facilitator_id = "..."    # the staff member using this laptop (chosen in Settings)

    [keys]                    # binding id = key(s); see F1 in the app for the ids
    "app.help" = "f1,question_mark"
    "home.refresh" = "f5"

A missing file means defaults. A malformed file never stops the program:
:func:`load_config` returns the defaults for whatever it could not read plus
a list of one-line problems for the caller to show. :func:`save_config`
writes the theme and the facilitator back (the Settings screen), keeping the
user's keymap and anything else in the file; comments are not kept.

Import-light (no Textual): the CLI may read it too.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iop_facilitator import paths

CONFIG_FILE_NAME = "config.toml"
DEFAULT_THEME = "iop-dark"
KNOWN_FIELDS = ("theme", "keys", "facilitator_id")


@dataclass
class Config:
    theme: str = DEFAULT_THEME
    keys: dict[str, str] = field(default_factory=dict)
    """Keymap: binding id -> comma-separated keys (Textual key names)."""
    facilitator_id: str = ""
    """The staff member using this laptop (their id): leads new meetings and signs notes."""


def config_path() -> Path:
    return paths.config_dir() / CONFIG_FILE_NAME


def user_themes_dir() -> Path:
    return paths.config_dir() / "themes"


def load_config(path: Path | None = None) -> tuple[Config, list[str]]:
    """Read the config file; never raises for a bad file.

    Returns the settings (defaults where the file is missing or wrong) and a
    list of problems, each one line naming the file.
    """
    path = config_path() if path is None else path
    config = Config()
    problems: list[str] = []
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return config, problems
    except OSError as exc:
        return config, [f"{path}: cannot be read ({exc.strerror or exc}); using default settings"]
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return config, [f"{path}: is not UTF-8 text; using default settings"]
    except tomllib.TOMLDecodeError as exc:
        return config, [f"{path}: is not valid TOML ({exc}); using default settings"]

    for key in data:
        if key not in KNOWN_FIELDS:
            problems.append(f"{path}: unknown setting {key!r} ignored")

    if "theme" in data:
        theme = data["theme"]
        if isinstance(theme, str) and theme.strip():
            config.theme = theme.strip()
        else:
            problems.append(f"{path}: theme must be a theme name in quotes; using {DEFAULT_THEME!r}")

    if "facilitator_id" in data:
        ident = data["facilitator_id"]
        if isinstance(ident, str):
            config.facilitator_id = ident.strip()
        else:
            problems.append(f"{path}: facilitator_id must be a staff id in quotes; ignored")

    if "keys" in data:
        keys = data["keys"]
        if not isinstance(keys, dict):
            problems.append(f"{path}: [keys] must be a table of binding-id = \"key\" lines; ignored")
        else:
            for binding_id, value in keys.items():
                parsed = _parse_keys(value)
                if parsed is None:
                    problems.append(
                        f"{path}: keys.{binding_id} must be a key such as \"f2\" or \"ctrl+r\" "
                        "(or a list of them); ignored"
                    )
                else:
                    config.keys[binding_id] = parsed
    return config, problems


def _parse_keys(value: object) -> str | None:
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        return None
    keys = [item.strip() for item in items if item.strip()]
    if not keys or any(" " in key for key in keys):
        return None
    return ",".join(keys)


# --------------------------------------------------------------------------- writing


def save_config(config: Config, path: Path | None = None) -> list[str]:
    """Write ``theme``, ``facilitator_id`` and ``[keys]`` to the config file.

    The file is replaced atomically (a private temporary file in the same
    folder, then ``os.replace``) and stays readable by its owner only (0600).
    Whatever else the file holds is kept: other settings, and ``[keys]``
    entries this program did not load (a typo the user may still fix). The
    keymap written is the user's own (``config.keys``). Comments are not kept.

    Returns problems worth telling the user (one line each); raises
    ``OSError`` when the file cannot be written.
    """
    path = config_path() if path is None else path
    problems: list[str] = []
    data: dict[str, Any] = {}
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = None
    if raw is not None:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            backup = path.with_name(path.name + ".bak")
            _write_private(backup, raw)
            problems.append(f"{path}: was not valid TOML; the old file is kept as {backup.name}")
            data = {}
    data["theme"] = config.theme
    if config.facilitator_id:
        data["facilitator_id"] = config.facilitator_id
    else:
        data.pop("facilitator_id", None)
    old_keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    keys = {k: config.keys.get(k, v) for k, v in old_keys.items()}  # the file's order
    keys.update((k, v) for k, v in config.keys.items() if k not in keys)
    data.pop("keys", None)
    if keys:
        data["keys"] = keys
    _write_private(path, dumps(data).encode("utf-8"))
    return problems


def dumps(data: dict[str, Any]) -> str:
    """``data`` as TOML: plain values first, then one ``[table]`` per dictionary."""
    lines = ["# iop-facilitator settings (see F1 in the app for the key ids)"]
    tables = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for name, table in tables:
        lines += ["", f"[{_toml_key(name)}]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F or 0xD800 <= ord(char) <= 0xDFFF:
            code = 0xFFFD if ord(char) >= 0xD800 else ord(char)  # a lone surrogate has no UTF-8 form
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (dt.date, dt.time)):  # TOML dates and times read from the file
        return value.isoformat()
    return _toml_string(str(value))


def _write_private(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` atomically; the file is 0600 (``files.write_private_bytes``)."""
    from iop_facilitator.files import DIRECTORY_MODE, write_private_bytes

    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    write_private_bytes(path, content)
