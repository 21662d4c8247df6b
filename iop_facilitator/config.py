"""The user's settings file: ``<config dir>/config.toml``.

Example::

    theme = "iop-dark"        # or iop-light, iop-high-contrast, or a theme of your own

    [keys]                    # binding id = key(s); see F1 in the app for the ids
    "app.help" = "f1,question_mark"
    "home.refresh" = "f5"

A missing file means defaults. A malformed file never stops the program:
:func:`load_config` returns the defaults for whatever it could not read plus
a list of one-line problems for the caller to show.

Import-light (no Textual): the CLI may read it too.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

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
