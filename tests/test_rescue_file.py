"""The rescue file (services/rescue.py): typed text the database could not take, kept privately."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from iop_facilitator.errors import DatabaseProblem
from iop_facilitator.services.rescue import render, rescue_folders, write_rescue_file


@dataclass
class Item:
    label: str
    text: str


ITEMS = [Item("Story note · Avery T. · Evening IOP 2026-05-04 09:12", "Walked the river trail at dawn\n"),
         Item("Group narrative · Evening IOP 2026-05-04", "Group practised urge surfing.")]


def test_the_file_names_each_text_under_its_place_and_is_private(tmp_path: Path) -> None:
    path = write_rescue_file(ITEMS, reason="the disk is full", database="clinic.db", folders=[tmp_path / "rescued"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    body = path.read_text(encoding="utf-8")
    assert "because: the disk is full" in body and "Database: clinic.db" in body
    assert "=== 1. Story note · Avery T. · Evening IOP 2026-05-04 09:12 ===\nWalked the river trail at dawn\n" in body
    assert "=== 2. Group narrative · Evening IOP 2026-05-04 ===\nGroup practised urge surfing.\n" in body
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left
    second = write_rescue_file(ITEMS[:1], folders=[tmp_path / "rescued"])
    assert second != path and path.read_text(encoding="utf-8") == body  # never overwrites an earlier one


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_folder_that_refuses_moves_on_to_the_next(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    path = write_rescue_file(ITEMS, folders=[locked / "rescued", tmp_path / "next"])
    assert path.parent == tmp_path / "next"


def test_a_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    path = write_rescue_file(ITEMS, folders=[link, tmp_path / "fallback"])
    assert path.parent == tmp_path / "fallback" and not list(real.iterdir())
    with pytest.raises(DatabaseProblem, match="no rescue file could be written"):
        write_rescue_file(ITEMS, folders=[link])


def test_the_folders_go_from_the_data_folder_to_memory(iop_home: Path) -> None:
    folders = rescue_folders()
    assert folders[0] == iop_home / "data" / "rescued"
    assert any(f.name == f"iop-facilitator-rescue-{os.getuid()}" for f in folders[1:])
    assert render([], reason="", database="").startswith("iop-facilitator: text typed but not saved")
