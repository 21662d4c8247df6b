"""The bundled themes/ and topics/ folders are found in a source checkout (editable install)."""

from __future__ import annotations

from pathlib import Path

import pytest

from iop_facilitator import resources

REPO = Path(__file__).resolve().parents[1]


def test_themes_dir_is_the_checkout_folder() -> None:
    folder = resources.themes_dir()
    assert folder.is_dir()
    assert folder.resolve() == (REPO / "themes").resolve()
    assert {p.name for p in folder.glob("*.toml")} >= {"dark.toml", "light.toml", "high-contrast.toml"}


def test_topics_dir_is_the_checkout_folder() -> None:
    folder = resources.topics_dir()
    assert folder.is_dir()
    assert folder.resolve() == (REPO / "topics").resolve()


def test_installed_bundle_wins_over_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = tmp_path / "iop_facilitator" / "_bundled" / "themes"
    bundled.mkdir(parents=True)
    monkeypatch.setattr(resources.resources, "files", lambda package: tmp_path / package)
    assert resources.themes_dir() == bundled


def test_missing_bundle_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources.resources, "files", lambda package: tmp_path / package)
    monkeypatch.setattr(resources, "_checkout", lambda kind: tmp_path / "nowhere" / kind)
    with pytest.raises(resources.ResourceMissing, match="bundled topics folder is missing"):
        resources.topics_dir()


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        resources.bundled_dir("secrets")
