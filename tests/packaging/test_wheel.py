"""The wheel carries themes/ and topics/, and an installed wheel finds them inside itself."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (found,) = out.glob("iop_facilitator-*.whl")
    return found


def test_wheel_contains_bundled_folders_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for theme in ("dark.toml", "light.toml", "high-contrast.toml"):
        assert f"iop_facilitator/_bundled/themes/{theme}" in names
    assert "iop_facilitator/_bundled/topics/README.md" in names
    assert "iop_facilitator/db/migrations/env.py" in names
    assert "iop_facilitator/db/migrations/script.py.mako" in names
    assert any(n.startswith("iop_facilitator/db/migrations/versions/0001") for n in names)
    assert any(n.endswith(".tcss") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)


def dependencies_visible_to(env_dir: Path) -> None:
    """Let the new environment import the dependencies from the one running the tests
    (a plain virtualenv or the base interpreter alike), behind its own packages.

    A ``.pth`` file lists this interpreter's package folders: they come after the new
    environment's own, so ``iop_facilitator`` is the installed wheel, and their own ``.pth``
    files (an editable install of this checkout) are not read.
    """
    paths = sysconfig.get_paths()
    folders = dict.fromkeys([paths["purelib"], paths["platlib"]])
    (site_packages,) = env_dir.glob("lib/python*/site-packages")
    (site_packages / "_test_dependencies.pth").write_text("\n".join(folders) + "\n", encoding="utf-8")


def test_installed_wheel_finds_its_own_resources(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    dependencies_visible_to(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=300,
    )
    probe = (
        "import iop_facilitator.resources as r; "
        "print(r.themes_dir()); print(r.topics_dir()); print(sorted(p.name for p in r.themes_dir().glob('*.toml')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True, env=env, cwd=tmp_path).stdout
    themes, topics, listing = out.splitlines()
    assert themes.startswith(str(env_dir)) and themes.endswith("_bundled/themes")
    assert topics.startswith(str(env_dir)) and topics.endswith("_bundled/topics")
    assert "dark.toml" in listing
    result = subprocess.run(
        [str(env_dir / "bin" / "iop"), "--version"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0 and "iop-facilitator" in result.stdout
