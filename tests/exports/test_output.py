"""The shared export plumbing: target checks, 0600 atomic writes, safe names, CSV cells, notice."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from iop_facilitator.errors import InvalidInput
from iop_facilitator.exports import output
from iop_facilitator.exports.output import (
    check_directory,
    check_target,
    csv_notice_row,
    disclosure_notice,
    member_file,
    neutralize_cell,
    private_file,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_check_target_refusals(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="directory does not exist"):
        check_target(tmp_path / "missing" / "a.csv", force=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match="not a directory"):
        check_target(tmp_path / "file" / "a.csv", force=False)
    (tmp_path / "dir").mkdir()
    with pytest.raises(InvalidInput, match="is a directory"):
        check_target(tmp_path / "dir", force=True)
    (tmp_path / "a.csv").write_text("old")
    with pytest.raises(InvalidInput, match="file exists.*--force"):
        check_target(tmp_path / "a.csv", force=False)
    assert check_target(tmp_path / "a.csv", force=True) == (tmp_path / "a.csv").resolve()
    assert check_target(tmp_path / "new.csv", force=False) == (tmp_path / "new.csv").resolve()
    with pytest.raises(InvalidInput, match="never to standard output"):
        check_target(Path("-"), force=True)


def test_check_target_unwritable_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root may write anywhere, so the permission check is simulated.
    real = os.access
    monkeypatch.setattr(output.os, "access", lambda p, m: False if Path(p) == tmp_path else real(p, m))
    with pytest.raises(InvalidInput, match="cannot write to directory"):
        check_target(tmp_path / "a.csv", force=False)


def test_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        check_target(tmp_path / "nope" / "x.csv", force=False)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_private_file_is_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        with private_file(tmp_path / "out.csv", force=False, newline="") as fh:
            fh.write("a,b\r\n")
    finally:
        os.umask(old)
    assert mode(tmp_path / "out.csv") == 0o600
    assert (tmp_path / "out.csv").read_bytes() == b"a,b\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_private_file_binary(tmp_path: Path) -> None:
    with private_file(tmp_path / "out.pdf", force=False, binary=True) as fh:
        fh.write(b"%PDF")
    assert (tmp_path / "out.pdf").read_bytes() == b"%PDF"


def test_private_file_never_overwrites_without_force(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("keep me")
    with pytest.raises(InvalidInput, match="file exists"), private_file(target, force=False) as fh:
        fh.write("new")
    assert target.read_text() == "keep me"
    with private_file(target, force=True) as fh:
        fh.write("new")
    assert target.read_text() == "new"
    assert mode(target) == 0o600


def test_private_file_refuses_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(InvalidInput, match="file exists"), private_file(target, force=False) as fh:
        fh.write("mine")
        target.write_text("someone else's")
    assert target.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_private_file_cleans_up_on_error(tmp_path: Path, error: BaseException) -> None:
    with pytest.raises(type(error)), private_file(tmp_path / "out.csv", force=False) as fh:
        fh.write("partial")
        raise error
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stem", ["../evil", "/etc/passwd", "..", ".", "a/b", "a\\b", "x\x00y", "", "..hidden"])
def test_member_file_refuses_escaping_names(tmp_path: Path, stem: str) -> None:
    with pytest.raises(InvalidInput) as info:
        member_file(tmp_path, stem, ".md")
    assert str(info.value) == "a per-member file name would leave the output directory"  # never the name


def test_member_file_sanitises(tmp_path: Path) -> None:
    assert member_file(tmp_path, "MRN 1042 (Jordan)", ".json") == tmp_path.resolve() / "MRN_1042_Jordan.json"
    assert member_file(tmp_path, ".profile", ".md").name == "profile.md"
    assert member_file(tmp_path, "\u00e9\u00e9", ".md").name == "member.md"
    with pytest.raises(InvalidInput, match="suffix"):
        member_file(tmp_path, "a", "/../x")


def test_check_directory(tmp_path: Path) -> None:
    out = check_directory(tmp_path / "per-member", force=False)
    assert out.is_dir() and mode(out) == 0o700
    (out / "a.md").write_text("x")
    with pytest.raises(InvalidInput, match="file exists"):
        check_directory(out, force=False, names=["a.md"])
    check_directory(out, force=True, names=["a.md"])
    with pytest.raises(InvalidInput, match="directory does not exist"):
        check_directory(tmp_path / "no" / "such", force=False)
    with pytest.raises(InvalidInput, match="would leave"):
        check_directory(out, force=True, names=["../x.md"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1-555", "'+1-555"),
        ("-CADC", "'-CADC"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("Jordan M.", "Jordan M."),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralize_cell(value: str, expected: str) -> None:
    assert neutralize_cell(value) == expected


def test_notice() -> None:
    from iop_facilitator.models import DEFAULT_DISCLOSURE_NOTICE

    assert output.DEFAULT_NOTICE == DEFAULT_DISCLOSURE_NOTICE
    assert disclosure_notice("") == DEFAULT_DISCLOSURE_NOTICE
    assert disclosure_notice("  Line one\n line\ttwo \x1b ") == "Line one line two"
    assert csv_notice_row("=custom notice", 4) == ["Notice: =custom notice", "", "", ""]


def test_output_imports_no_sqlalchemy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, iop_facilitator.exports.output, iop_facilitator.exports.attendance;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'pydantic', 'rich')];"
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
