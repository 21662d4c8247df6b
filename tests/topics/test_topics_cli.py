"""``iop topics list|show|validate`` and the --topics-dir override, through CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from iop_facilitator.cli.app import app
from iop_facilitator.resources import topics_dir

runner = CliRunner()
EXEMPLAR = (topics_dir() / "handling-stress.md").read_text()


def iop(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_list_json_and_category_filter() -> None:
    data = json.loads(iop("topics", "list", "--json").stdout)
    assert any(t["id"] == "handling-stress" for t in data)
    stress = next(t for t in data if t["id"] == "handling-stress")
    assert stress["category"] == "emotions-and-stress" and stress["source"] == "bundled"
    assert len(stress["content_hash"]) == 64
    only = json.loads(iop("topics", "list", "--category", "emotions-and-stress", "--json").stdout)
    assert only and all(t["category"] == "emotions-and-stress" for t in only)
    assert iop("topics", "list", "--category", "cooking").exit_code == 2


def test_show_renders_the_guide() -> None:
    result = iop("topics", "show", "handling-stress")
    assert result.exit_code == 0
    out = result.stdout
    for words in ("Methods of Handling Stress", "Objectives", "Session plan", "Stress signals map", "References", "public-domain"):
        assert words in out
    assert iop("topics", "show", "no-such-topic").exit_code == 1
    data = json.loads(iop("topics", "show", "handling-stress", "--json").stdout)
    assert data["duration_minutes"] == sum(s["minutes"] for s in data["segments"])


def test_validate_bundled_and_paths(tmp_path: Path) -> None:
    ok = iop("topics", "validate")
    assert ok.exit_code == 0 and "valid" in ok.stdout
    bad = tmp_path / "bad.md"
    bad.write_text(EXEMPLAR.replace("duration_minutes = 75", "duration_minutes = 70").replace('version = "1.0"\n', ""))
    result = iop("topics", "validate", str(bad), str(topics_dir() / "handling-stress.md"))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert f"{bad}: version: missing from the TOML header" in lines
    assert any(line.startswith(f"{bad}: topic: segments add up to 75 minutes") for line in lines)
    assert lines[-1] == "2 problem(s); 1 valid topic(s)"
    assert "Traceback" not in result.output


def test_topics_dir_overrides_and_cli_says_so(tmp_path: Path) -> None:
    extra = tmp_path / "mine"
    extra.mkdir()
    (extra / "handling-stress.md").write_text(EXEMPLAR.replace('version = "1.0"', 'version = "2.0"'))
    (extra / "broken.md").write_text("+++\n")
    result = iop("topics", "list", "--json", "--topics-dir", str(extra))
    assert result.exit_code == 0
    data = {t["id"]: t for t in json.loads(result.stdout)}
    assert data["handling-stress"]["version"] == "2.0" and data["handling-stress"]["source"] == "extra"
    assert "replaces" in result.stderr and "handling-stress" in result.stderr
    assert result.stderr.count("broken.md") == 1


def test_user_config_topics_folder(iop_home: Path) -> None:
    user = iop_home / "config" / "topics"
    user.mkdir(parents=True)
    (user / "handling-stress.md").write_text(EXEMPLAR.replace('version = "1.0"', 'version = "1.5"'))
    data = {t["id"]: t for t in json.loads(iop("topics", "list", "--json").stdout)}
    assert data["handling-stress"]["source"] == "user" and data["handling-stress"]["version"] == "1.5"
