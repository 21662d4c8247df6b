"""Theme files: the bundled ones load; bad user files become problems, never exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from iop_facilitator.tui import themes
from iop_facilitator.config import load_config
from iop_facilitator.resources import themes_dir

BUNDLED = {"iop-dark", "iop-light", "iop-high-contrast"}

GOOD = """
name = "{name}"
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
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_themes_load_without_problems() -> None:
    loaded, problems = themes.load_all(None)
    assert problems == []
    assert {t.name for t in loaded} == BUNDLED
    assert {t.name for t in themes.bundled_themes()} == BUNDLED


@pytest.mark.parametrize("file_name", ["dark.toml", "light.toml", "high-contrast.toml"])
def test_each_bundled_file_is_a_valid_textual_theme(file_name: str) -> None:
    theme = themes.load_theme_file(themes_dir() / file_name)
    system = theme.to_color_system()  # raises on anything Textual cannot use
    assert system.generate()["primary"]


def test_high_contrast_theme_has_no_faded_text() -> None:
    theme = themes.load_theme_file(themes_dir() / "high-contrast.toml")
    colors = theme.to_color_system().generate()
    for variable in ("text-muted", "foreground-muted"):
        assert theme.variables[variable].upper() == "#FFFFFF"
        assert colors[variable].upper() == "#FFFFFF"


def test_light_theme_is_light_and_dark_is_dark() -> None:
    assert themes.load_theme_file(themes_dir() / "light.toml").dark is False
    assert themes.load_theme_file(themes_dir() / "dark.toml").dark is True


def test_user_theme_is_added_and_may_replace_a_bundled_one(tmp_path: Path) -> None:
    write(tmp_path, "mine.toml", GOOD.format(name="my-theme"))
    write(tmp_path, "override.toml", GOOD.format(name="iop-light"))
    loaded, problems = themes.load_all(tmp_path)
    assert problems == []
    by_name = {t.name: t for t in loaded}
    assert "my-theme" in by_name
    assert by_name["iop-light"].dark is True  # the user's file won


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'x\ndark = true", "not valid TOML"),
        ('name = "partial"\ndark = true\nprimary = "#ffffff"', "missing secondary"),
        (GOOD.format(name="bad-colour").replace('"#5BA4E6"', '"bluish"'), "primary = 'bluish' is not a colour"),
        (GOOD.format(name="bad-hex").replace('"#14171C"', '"#12345"'), "background = '#12345' is not a colour"),
        (GOOD.format(name="num").replace('"#E8B15A"', "12", 1), "accent = 12 is not a colour"),
        (GOOD.format(name="dark-str").replace("dark = true", 'dark = "yes"'), "dark must be true or false"),
        (GOOD.format(name="has space"), "name must be"),
        (GOOD.format(name="typo") + 'primay = "#ffffff"\n', "unknown field(s) primay"),
        (GOOD.format(name="vars") + '[variables]\ntext-muted = "grey-ish"\n', "text-muted = 'grey-ish' is not a colour"),
        (GOOD.format(name="vars2") + "variables = 3\n", "[variables] must be a table"),
        (GOOD.format(name="style") + '[variables]\nblock-cursor-text-style = "sparkly"\n', "not a text style"),
    ],
)
def test_bad_theme_file_is_a_problem_not_an_exception(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(themes.ThemeError) as info:
        themes.load_theme_file(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)

    loaded, problems = themes.load_all(tmp_path)
    assert {t.name for t in loaded} == BUNDLED  # the bad file is skipped, the rest load
    assert len(problems) == 1 and expected in problems[0]


def test_binary_and_unreadable_files_are_problems(tmp_path: Path) -> None:
    (tmp_path).mkdir(exist_ok=True)
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "folder.toml").mkdir()
    loaded, problems = themes.load_all(tmp_path)
    assert {t.name for t in loaded} == BUNDLED
    assert any("not UTF-8" in p for p in problems)
    assert any("cannot be read" in p for p in problems)


def test_missing_user_folder_is_fine(tmp_path: Path) -> None:
    loaded, problems = themes.load_all(tmp_path / "does-not-exist")
    assert problems == [] and len(loaded) == 3


def test_variables_accept_colours_auto_and_styles(tmp_path: Path) -> None:
    text = GOOD.format(name="rich-vars") + (
        "[variables]\n"
        'text = "auto 90%"\n'
        'border = "rgb(10, 20, 30)"\n'
        'link-background = "initial"\n'
        'block-cursor-text-style = "bold underline"\n'
    )
    theme = themes.load_theme_file(write(tmp_path, "ok.toml", text))
    assert theme.to_color_system().generate()["border"]


# -- config.toml -------------------------------------------------------------


def test_missing_config_gives_defaults(tmp_path: Path) -> None:
    config, problems = load_config(tmp_path / "config.toml")
    assert config.theme == "iop-dark" and config.keys == {} and problems == []


def test_config_reads_theme_and_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "config.toml",
        'theme = "iop-light"\n[keys]\n"home.refresh" = "f5"\n"app.help" = ["f1", "question_mark"]\n',
    )
    config, problems = load_config(path)
    assert problems == []
    assert config.theme == "iop-light"
    assert config.keys == {"home.refresh": "f5", "app.help": "f1,question_mark"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("theme = [", "not valid TOML"),
        ("theme = 3", "theme must be a theme name"),
        ("colour = 'red'", "unknown setting 'colour'"),
        ("keys = 'f5'", "[keys] must be a table"),
        ("[keys]\n'home.refresh' = 5", "keys.home.refresh must be a key"),
        ("[keys]\n'home.refresh' = 'ctrl r'", "keys.home.refresh must be a key"),
    ],
)
def test_malformed_config_gives_defaults_and_a_problem(tmp_path: Path, text: str, expected: str) -> None:
    config, problems = load_config(write(tmp_path, "config.toml", text))
    assert config.theme == "iop-dark"
    assert "home.refresh" not in config.keys
    assert len(problems) == 1 and expected in problems[0], problems


def test_config_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"theme = \"\xff\"")
    config, problems = load_config(path)
    assert config.theme == "iop-dark" and "not UTF-8" in problems[0]
