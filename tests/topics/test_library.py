"""Topic files: the bundled library, validation messages, bad files, overrides, properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iop_facilitator.library.load import load_library, validate_paths
from iop_facilitator.library.model import LoadedTopic
from iop_facilitator.library.parse import Problem, parse_topic
from iop_facilitator.resources import topics_dir

BUNDLED = topics_dir()
EXEMPLAR = (BUNDLED / "handling-stress.md").read_bytes()
NAMED_BY_THE_CLIENT = {"handling-stress", "coping-with-triggers", "conflict-resolution", "what-to-expect-in-recovery"}


def bundled_files() -> list[Path]:
    return sorted(p for p in BUNDLED.glob("*.md") if p.name != "README.md")


@pytest.mark.parametrize("path", bundled_files(), ids=lambda p: p.stem)
def test_every_bundled_topic_validates(path: Path) -> None:
    result = parse_topic(path.read_bytes(), path)
    assert isinstance(result, LoadedTopic), "\n".join(map(str, result))
    assert result.topic.id == path.stem


def test_library_covers_the_core_curriculum() -> None:
    from iop_facilitator.demo.generate import CORE_TOPIC_IDS

    library = load_library([("bundled", BUNDLED)])
    assert library.problems == []
    assert len(library.topics) >= 24
    assert NAMED_BY_THE_CLIENT <= set(library.topics)
    assert set(CORE_TOPIC_IDS) <= set(library.topics)


def test_guides_have_realistic_shape() -> None:
    library = load_library([("bundled", BUNDLED)])
    for loaded in library.topics.values():
        topic = loaded.topic
        assert 45 <= topic.duration_minutes <= 90, topic.id
        assert all(5 <= s.minutes <= 30 for s in topic.segments), topic.id
        assert all(r.license.value == "public-domain" for r in topic.references[:1]) or topic.references, topic.id
        assert topic.authorship.written_originally


def write(folder: Path, name: str, data: bytes | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def variant(**replace: str) -> str:
    text = EXEMPLAR.decode("utf-8")
    for old, new in replace.items():
        old = old.replace("__", " ")
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def problems_of(data: bytes | str, name: str = "x.md") -> list[Problem]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    result = parse_topic(raw, name)
    assert isinstance(result, list), "expected problems"
    return result


def test_byte_order_mark_and_crlf_are_accepted_with_the_same_hash() -> None:
    plain = parse_topic(EXEMPLAR, "a.md")
    bom = parse_topic(b"\xef\xbb\xbf" + EXEMPLAR.replace(b"\n", b"\r\n"), "b.md")
    assert isinstance(plain, LoadedTopic) and isinstance(bom, LoadedTopic)
    assert plain.content_hash == bom.content_hash


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (b"", "file", "empty"),
        (b"   \n\n", "file", "empty"),
        (b"x" * (300 * 1024), "file", "too large"),
        (EXEMPLAR.replace(b"Methods of Handling", "M\xe9thodes".encode("latin-1")), "file", "not UTF-8"),
        ("\ufeff".encode("utf-16"), "file", "UTF-16"),
        (b"no header here\n## Objectives\n- a\n", "header", "'+++'"),
        (b"+++\nid = 'x'\n", "header", "not closed"),
        (b"+++\nid = = 'x'\n+++\n", "header", "TOML syntax error"),
        (b"bin\x00ary", "file", "NUL"),
    ],
)
def test_bad_files_give_one_clear_problem(data: bytes, field: str, words: str) -> None:
    found = problems_of(data)
    assert len(found) == 1, found
    assert found[0].field == field and words in found[0].message
    assert str(found[0]).startswith("x.md: ")


def test_minutes_that_do_not_add_up() -> None:
    found = problems_of(variant(**{"duration_minutes = 75": "duration_minutes = 80"}))
    assert [p.field for p in found] == ["topic"]
    assert "add up to 75 minutes, but duration_minutes is 80" in found[0].message


def test_missing_and_mistyped_fields_name_the_field() -> None:
    found = problems_of(variant(**{'version = "1.0"\n': "", "duration_minutes = 75": 'duration_minutes = "long"'}))
    fields = {p.field: p.message for p in found}
    assert fields["version"] == "missing from the TOML header"
    assert "integer" in fields["duration_minutes"]


def test_missing_section_names_the_heading() -> None:
    text = EXEMPLAR.decode()
    start = text.index("## Check-in hook")
    end = text.index("## Session plan")
    found = problems_of(text[:start] + text[end:])
    assert any(p.field == "check_in_hook" and "## Check-in hook" in p.message for p in found)


def test_bad_values_are_reported() -> None:
    found = problems_of(variant(**{'category = "emotions-and-stress"': 'category = "cooking"'}))
    assert [p.field for p in found] == ["category"]
    found = problems_of(variant(**{"written_originally = true": "written_originally = false"}))
    assert any("written originally" in p.message for p in found)


def test_crisis_numbers_are_refused() -> None:
    found = problems_of(variant(**{"follow the program's crisis steps": "call 988 and follow the program's crisis steps"}))
    assert any("crisis numbers come from the program settings" in p.message for p in found)


def test_unknown_sections_and_bad_segment_headings() -> None:
    found = problems_of(variant(**{"## Key points": "## Key pionts"}))
    assert any("unknown section '## Key pionts'" in p.message for p in found)
    found = problems_of(variant(**{"### Didactic: How stress builds and what it asks for (15 min)": "### Lecture (15 min)"}))
    assert any(p.field == "segments" and "Kind: Title (N min)" in p.message for p in found)


def test_too_few_prompts() -> None:
    text = EXEMPLAR.decode()
    start, end = text.index("\n## Discussion prompts"), text.index("\n## Activity: ")
    found = problems_of(text[:start] + "\n## Discussion prompts\n\n- Only one?\n" + text[end:])
    assert any(p.field == "discussion_prompts" and "at least 4" in p.message for p in found)


def test_library_keeps_good_topics_and_reports_each_bad_file_once(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "good-one.md", variant(**{'id = "handling-stress"': 'id = "good-one"'}))
    write(user, "broken.md", b"+++\nid = \n+++\n")
    write(user, "latin.md", "caf\xe9".encode("latin-1"))
    write(user, "empty.md", b"")
    write(user, "huge.md", b"a" * (400 * 1024))
    write(user, "twin.md", variant(**{'id = "handling-stress"': 'id = "good-one"'}))
    write(user, "notes.txt", b"ignored: not a .md file")
    library = load_library([("bundled", BUNDLED), ("user", user)])
    assert "good-one" in library.topics and "handling-stress" in library.topics
    bad_files = sorted(Path(p.path).name for p in library.problems)
    assert bad_files == ["broken.md", "empty.md", "huge.md", "latin.md", "twin.md"]
    assert any("duplicate id 'good-one'" in p.message for p in library.problems)


def test_user_topic_overrides_bundled_one(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "handling-stress.md", variant(**{'version = "1.0"': 'version = "1.1"'}))
    library = load_library([("bundled", BUNDLED), ("user", user)])
    assert library.get("handling-stress").topic.version == "1.1"
    assert library.get("handling-stress").source == "user"
    assert [o.topic_id for o in library.overrides] == ["handling-stress"]


def test_validate_paths_checks_files_and_folders(tmp_path: Path) -> None:
    good = write(tmp_path, "handling-stress.md", EXEMPLAR)
    bad = write(tmp_path / "more", "bad.md", b"+++\n+++\n")
    ok, problems = validate_paths([good, bad.parent, tmp_path / "missing.md"])
    assert [t.topic.id for t in ok] == ["handling-stress"]
    assert {Path(p.path).name for p in problems} == {"bad.md", "missing.md"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_parser_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    result = parse_topic(data, "fuzz.md")
    assert isinstance(result, (LoadedTopic, list))
    if isinstance(result, list):
        assert result and all(isinstance(p, Problem) for p in result)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=4096))
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    result = parse_topic(("+++\n" + text).encode("utf-8", "surrogatepass"), "fuzz.md")
    assert isinstance(result, (LoadedTopic, list))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_parser_never_raises_on_mutated_guides(data: st.DataObject) -> None:
    lines = EXEMPLAR.decode().split("\n")
    start = data.draw(st.integers(0, len(lines) - 1))
    length = data.draw(st.integers(0, 20))
    filler = data.draw(st.lists(st.sampled_from(["", "## ", "### ", "- ", "+++", "# x", "  - y", "[x]", "= 1"]), max_size=5))
    mutated = "\n".join(lines[:start] + filler + lines[start + length :])
    result = parse_topic(mutated.encode(), "mut.md")
    assert isinstance(result, (LoadedTopic, list))


# -- only regular files, read with a cap (issue 11.6): `topics validate /dev/zero` must not eat memory --


def test_devices_and_pipes_are_refused_without_reading_them(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "waiting.md"
    os.mkfifo(fifo)  # opening a FIFO for reading would block forever without O_NONBLOCK
    good, problems = validate_paths([Path("/dev/zero"), fifo])
    assert good == []
    assert [(p.path, p.field) for p in problems] == [("/dev/zero", "file"), (str(fifo), "file")]
    assert all("not a regular file" in p.message for p in problems)
    library = load_library([("extra", tmp_path)])  # in a topics folder too: skipped, never read
    assert library.topics == {}


def test_a_file_larger_than_the_cap_is_refused(tmp_path: Path) -> None:
    from iop_facilitator.library.load import read_capped
    from iop_facilitator.library.parse import MAX_BYTES

    big = tmp_path / "big.md"
    big.write_bytes(b"x" * (MAX_BYTES + 1))
    good, problems = validate_paths([big])
    assert good == [] and "too large" in problems[0].message
    assert read_capped(big, limit=MAX_BYTES + 1) == b"x" * (MAX_BYTES + 1)


def test_topics_validate_dev_zero_ends_at_once() -> None:
    import subprocess
    import sys
    import time

    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "iop_facilitator", "topics", "validate", "/dev/zero"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "/dev/zero: file: not a regular file" in result.stdout + result.stderr
    assert time.monotonic() - started < 15


# -- parsed once per process: a guide is parsed again only when its file changed --


def test_an_unchanged_guide_is_not_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iop_facilitator.library import load

    user = tmp_path / "user"
    write(user, "good-one.md", variant(**{'id = "handling-stress"': 'id = "good-one"'}))
    write(user, "broken.md", b"+++\nid = \n+++\n")
    first = load_library([("user", user)])
    parsed: list[str] = []
    monkeypatch.setattr(load, "parse_topic", lambda raw, path, source: parsed.append(Path(path).name) or [])
    again = load_library([("user", user)])
    assert parsed == []
    assert again.topics == first.topics and again.problems == first.problems
    again.problems.clear()  # each library owns its lists: the next one still reports the bad file
    assert [Path(p.path).name for p in load_library([("user", user)]).problems] == ["broken.md"]


def test_a_changed_guide_is_read_again(tmp_path: Path) -> None:
    import os

    user = tmp_path / "user"
    path = write(user, "good-one.md", variant(**{'id = "handling-stress"': 'id = "good-one"', 'version = "1.0"': 'version = "1.1"'}))
    assert load_library([("user", user)]).get("good-one").topic.version == "1.1"
    stamp = path.stat()
    # the same size, and the same modification time put back: the change time still moves
    path.write_bytes(path.read_bytes().replace(b'version = "1.1"', b'version = "1.2"'))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert load_library([("user", user)]).get("good-one").topic.version == "1.2"
    # replaced by another file (a new inode), broken now
    path.with_suffix(".tmp").write_bytes(b"+++\nid = \n+++\n")
    os.replace(path.with_suffix(".tmp"), path)
    library = load_library([("user", user)])
    assert library.topics == {} and [Path(p.path).name for p in library.problems] == ["good-one.md"]
    # fixed again, and the same file under another source is its own entry
    write(user, "good-one.md", variant(**{'id = "handling-stress"': 'id = "good-one"'}))
    assert load_library([("user", user)]).get("good-one").source == "user"
    assert load_library([("extra", user)]).get("good-one").source == "extra"
