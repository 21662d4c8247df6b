"""Disclosures are atomic and accounted for; other members' names never leak (issue 10, items 5 and 6).

* A per-member export on a filesystem that fills up publishes no file, leaves no
  temporary file and records no disclosure; the message is one plain line naming the
  path (a real tmpfs mount; skipped, saying why, where mounting is impossible).
* Disk full, quota, permission denied, read-only: one line each, never "internal error".
* ``iop audit --disclosures --member M`` lists exactly the exports that held M's records,
  with recipient, purpose and each file's SHA-256.
* Redaction hides every member the clinic ever had, from any group, in any case,
  with or without accents, in scripts written without spaces, with shared first names.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from iop_facilitator.errors import IopError
from iop_facilitator.exports import notes_data as nd
from iop_facilitator.exports import output
from tests.exports.test_notes_cli import audit_entries, clinic, export, iop, one_line_error  # noqa: F401 - fixture

# --------------------------------------------------------------------------- a real, tiny filesystem


@pytest.fixture
def tiny_mount(tmp_path: Path):
    """A tmpfs mounted for the test; the size is set by the test with ``remount``."""
    point = tmp_path / "tiny"
    point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; this test runs as an ordinary user here")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}); the disk-full case is untested")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def remount(point: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True)


def test_a_per_member_export_on_a_full_disk_publishes_nothing_and_says_so(clinic, tmp_path, tiny_mount) -> None:  # noqa: F811
    target, _c = clinic
    roomy = tmp_path / "roomy"
    assert export(target, "--format", "md", "--out", str(roomy), "--per-member", "--quiet").exit_code == 0
    sizes = sorted(p.stat().st_size for p in roomy.iterdir())
    assert len(sizes) == 4
    before = len(audit_entries(target))
    # Room for the smaller files but not all of them: it fills up part-way through.
    page = 4096
    room = sum(-(-s // page) * page for s in sizes[:-1])
    remount(tiny_mount, f"size={room}")
    out = tiny_mount / "for-the-court"
    result = export(target, "--format", "md", "--out", str(out), "--per-member", "--quiet")
    one_line_error(result, "disk full while writing")
    assert str(tiny_mount) in result.stderr and "internal error" not in result.stderr
    assert list(tiny_mount.iterdir()) == []  # no file, no temporary file, not even the folder it made
    assert len(audit_entries(target)) == before  # no disclosure recorded: none happened


def test_a_read_only_target_is_one_plain_line(clinic, tiny_mount) -> None:  # noqa: F811
    target, _c = clinic
    remount(tiny_mount, "ro")
    result = export(target, "--format", "md", "--out", str(tiny_mount / "n.md"), "--quiet")
    assert result.exit_code == 1 and "\n" not in result.stderr.strip() and str(tiny_mount) in result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize(
    "code,words",
    [(errno.ENOSPC, "disk full while writing"), (errno.EDQUOT, "disk quota exceeded"),
     (errno.EACCES, "permission denied writing"), (errno.EROFS, "read-only file system")],
)
def test_write_failures_are_one_plain_line_naming_the_path(tmp_path, code, words) -> None:
    recorded = []
    target = tmp_path / "out.md"
    with (
        pytest.raises(IopError) as caught,
        output.disclosure(force=False, record=recorded.append) as staging,
        staging.open(target) as fh,
    ):
        fh.write("first part")
        raise OSError(code, os.strerror(code))
    message = str(caught.value)
    assert words in message and str(target) in message and "\n" not in message
    assert recorded == [] and list(tmp_path.iterdir()) == []


def test_files_are_published_together_after_the_audit_entry(tmp_path) -> None:
    seen: list[list[str]] = []

    def record(staging: output.Staging) -> None:
        # The entry is written once everything is complete, before any file is visible.
        assert not any(f.target.exists() for f in staging.files)
        seen.append([f.sha256 for f in staging.files])

    with output.disclosure(force=False, record=record) as staging:
        for name in ("a.md", "b.md"):
            with staging.open(tmp_path / name, member_id=name) as fh:
                fh.write(f"notes {name}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.md"]
    assert seen == [[hashlib.sha256(b"notes a.md").hexdigest(), hashlib.sha256(b"notes b.md").hexdigest()]]
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in tmp_path.iterdir())


def test_a_failure_while_publishing_takes_back_what_was_published_and_says_so(tmp_path, monkeypatch) -> None:
    withdrawn: list[str] = []
    real_link = os.link
    calls = {"n": 0}

    def flaky_link(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", flaky_link)
    with (
        pytest.raises(IopError, match="disk full"),
        output.disclosure(force=False, record=lambda staging: None, withdrawn=withdrawn.append) as staging,
    ):
        for name in ("a.md", "b.md", "c.md"):
            with staging.open(tmp_path / name) as fh:
                fh.write(name)
    assert list(tmp_path.iterdir()) == [] and withdrawn == ["OSError"]


# --------------------------------------------------------------------------- the accounting of disclosures


def test_audit_disclosures_lists_what_held_a_members_records(clinic, tmp_path) -> None:  # noqa: F811
    target, _c = clinic
    assert export(target, "--format", "md", "--out", str(tmp_path / "all.md"), "--recipient", "Acme Health Plan",
                  "--purpose", "claims review", "--quiet").exit_code == 0
    assert export(target, "--format", "json", "--out", str(tmp_path / "tele.json"), "--group", "Tele IOP",
                  "--quiet").exit_code == 0
    assert export(target, "--format", "md", "--out", str(tmp_path / "sam"), "--per-member", "--group", "Evening IOP",
                  "--purpose", "subpoena", "--quiet").exit_code == 0
    assert iop("--db", target, "export", "attendance", "--out", str(tmp_path / "a.csv"), "--purpose", "billing",
               "--quiet").exit_code == 0

    def listed(member: str) -> list[dict]:
        result = iop("--db", target, "audit", "--disclosures", "--member", member, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    everything = json.loads(iop("--db", target, "audit", "--disclosures", "--json").stdout)
    assert [d["export"] for d in everything] == ["notes", "notes", "notes", "attendance"]
    first = everything[0]
    assert first["recipient"] == "Acme Health Plan" and first["purpose"] == "claims review"
    assert first["files"][0]["sha256"] == hashlib.sha256((tmp_path / "all.md").read_bytes()).hexdigest()
    assert str(tmp_path) not in json.dumps(everything)  # file names and folders only as hashes
    sam = listed("Sam K.")  # in Evening IOP only: not in the Tele IOP export
    assert [(d["export"], d["purpose"]) for d in sam] == [("notes", "claims review"), ("notes", "subpoena"),
                                                           ("attendance", "billing")]
    zoe = listed("Zo\u00eb W.")  # in Tele IOP only: not in the Evening IOP per-member export
    assert [(d["export"], d["format"]) for d in zoe] == [("notes", "md"), ("notes", "json"), ("attendance", "csv")]
    table = iop("--db", target, "audit", "--disclosures")
    assert table.exit_code == 0 and "Acme" in table.stdout and "claims" in table.stdout


# --------------------------------------------------------------------------- names never leak


def index(**names: list[str]) -> nd.NameIndex:
    return nd.NameIndex({key: set(value) for key, value in names.items()})


def test_peers_from_other_groups_and_past_members_are_hidden() -> None:
    # Everyone the clinic ever had, whatever the group: an index of all members.
    hide = index(me=["Sam K."], peer=["Jordan M."], other_group=["Priya N."], discharged=["Marcus T."]).redactor("me")
    text = "Sam met Jordan M. and priya n.; MARCUS T. (a past member) and Priya called."
    assert hide(text) == "Sam met J.M. and P.N.; M.T. (a past member) and P.N. called."


def test_shared_first_names_become_a_peer_and_the_subjects_own_stays() -> None:
    hide = index(me=["Sam K."], a=["Alex P."], b=["Alex R."], c=["Sam T."]).redactor("me")
    assert hide("Alex P. and Alex R. spoke; Alex too; Sam T. and Sam listened.") == (
        "A.P. and A.R. spoke; a peer too; S.T. and Sam listened."
    )


def test_accents_case_and_spacing_do_not_hide_a_name() -> None:
    hide = index(me=["Sam K."], zoe=["Zo\u00eb W."], jose=["Jos\u00e9 \u00c1lvarez"]).redactor("me")
    assert hide("zoe w. and ZO\u00cb; Jose \u00e1lvarez and JOS\u00c9   \u00c1LVAREZ.") == (
        "Z.W. and Z.W.; J.\u00c1. and J.\u00c1."
    )


def test_names_in_scripts_without_spaces_are_hidden() -> None:
    hide = index(me=["Sam K."], ming=["\u738b\u5c0f\u660e"], yuki=["\u3086\u304d"]).redactor("me")
    out = hide("\u4eca\u5929\u738b\u5c0f\u660e\u548c\u3086\u304d\u804a\u5929\u3002")
    assert "\u738b\u5c0f\u660e" not in out and "\u3086\u304d" not in out


def test_a_member_renamed_since_is_hidden_under_both_names(db) -> None:
    from iop_facilitator.services import members

    with db.begin() as s:
        sam = members.add_member(s, "Sam K.", goals=["Sleep"])
        peer = members.add_member(s, "Jordan M.", goals=["Sleep"])
        members.update_member(s, peer.id, display_name="Jordy M.")
    with db.session() as s:
        names = nd.name_index(s)
    hide = names.redactor(str(sam.id))
    assert hide("Jordan M. and Jordy M. and Jordan") == "J.M. and J.M. and J.M."
    assert str(uuid.UUID(str(peer.id))) in names.names
