"""Where the bundled ``themes/`` and ``topics/`` folders are.

An installed wheel carries them inside the package as
``iop_facilitator/_bundled/themes`` and ``iop_facilitator/_bundled/topics``
(hatch ``force-include``, see ``pyproject.toml``). An editable install or a
source checkout has no ``_bundled`` folder: there the repository's top-level
``themes/`` and ``topics/`` folders are used.

Import-light: no Textual, no SQLAlchemy.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from iop_facilitator.errors import IopError

BUNDLED_PACKAGE_DIR = "_bundled"
KINDS = ("themes", "topics")


class ResourceMissing(IopError):
    """A bundled folder is missing: a broken installation."""


def _installed(kind: str) -> Path | None:
    try:
        candidate = resources.files("iop_facilitator") / BUNDLED_PACKAGE_DIR / kind
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - defensive
        return None
    # A zip import would give a non-filesystem Traversable; we only support real folders.
    if isinstance(candidate, Path) and candidate.is_dir():
        return candidate
    return None


def _checkout(kind: str) -> Path:
    return Path(__file__).resolve().parent.parent / kind


def bundled_dir(kind: str) -> Path:
    """The folder of bundled ``kind`` (``"themes"`` or ``"topics"``) files."""
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}; one of {', '.join(KINDS)}")
    installed = _installed(kind)
    if installed is not None:
        return installed
    checkout = _checkout(kind)
    if checkout.is_dir():
        return checkout
    raise ResourceMissing(
        f"the bundled {kind} folder is missing (looked in the package's {BUNDLED_PACKAGE_DIR}/{kind} "
        f"and in {checkout}); reinstall iop-facilitator"
    )


def themes_dir() -> Path:
    return bundled_dir("themes")


def topics_dir() -> Path:
    return bundled_dir("topics")
