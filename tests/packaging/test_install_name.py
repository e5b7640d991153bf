"""Installed under the pilothouse name: the wheel's only top-level package is `pilothouse`, and distributions
that claim the generic names (PyPI has `console`, shipping console/cli.py, and `providers`, shipping
providers/__init__.py) install and uninstall beside it without touching it.

Offline: pilothouse's wheel is built from a copy of the checkout with the installed setuptools (the test extra
asks for the version pyproject.toml's build-system needs); the stand-ins
are two small wheels made here. A throwaway venv sees the outer site-packages (the dependencies) and gets
pilothouse and the stand-ins installed into it with --no-deps.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What a build does not need from the checkout (and what it must not see: an old build/ or egg-info).
NOT_SOURCE = (".git", "tests", "screenshots", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".*_cache")
STAND_INS = {
    "console": {"console/__init__.py": "", "console/cli.py": "def main() -> None:\n    print('stand-in')\n"},
    "providers": {"providers/__init__.py": "STAND_IN = True\n"},
}


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def stand_in_wheel(name: str, files: dict[str, str], out: Path) -> Path:
    """A minimal, valid wheel named `name` 1.0 that installs `files` (as the PyPI distribution of that name)."""
    info = f"{name}-1.0.dist-info"
    contents = {
        **{path: text.encode() for path, text in files.items()},
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: pilothouse-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/top_level.txt": f"{name}\n".encode(),
    }
    record = "".join(f"{path},{record_hash(data)},{len(data)}\n" for path, data in contents.items())
    wheel = out / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
        archive.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return wheel


def run(*command: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run from / : `python -c` and `-m` put the working directory first on sys.path (a checkout there wins)."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=120, env=env,
                            cwd="/")
    assert result.returncode == 0, f"{command}: {result.stdout[-1500:]}{result.stderr[-1500:]}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pilothouse's wheel, built from a copy of the checkout (a build writes build/ and egg-info beside it)."""
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    dist = work / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        "--disable-pip-version-check", "-w", dist, source)
    (wheel,) = dist.glob("pilothouse-*.whl")
    return wheel


def test_the_wheels_only_top_level_package_is_pilothouse(built: Path) -> None:
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
        (info,) = {name.split("/")[0] for name in names if name.split("/")[0].endswith(".dist-info")}
        top_level = archive.read(f"{info}/top_level.txt").decode().split()
        record = [line.split(",")[0] for line in archive.read(f"{info}/RECORD").decode().splitlines()]
    assert top_level == ["pilothouse"]
    assert {path.split("/")[0] for path in record} == {"pilothouse", info}
    # The card's folders are in it, under the one name (symlinks followed), with the UI's stylesheet.
    for path in ("pilothouse/console/cli.py", "pilothouse/providers/__init__.py", "pilothouse/widgets/__init__.py",
                 "pilothouse/console/app.tcss", "pilothouse/__main__.py"):
        assert path in names


def environment(venv: Path) -> dict[str, str]:
    """The venv's interpreter and scripts first, nothing from the checkout (no PYTHONPATH)."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


@pytest.fixture(scope="module")
def venv(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("venv")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv)
    # --ignore-installed: the outer site-packages may hold pilothouse too (an editable install of a checkout).
    pip_install(venv, "--ignore-installed", built)
    yield venv


def pip_install(venv: Path, *args: str | Path) -> None:
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet", "--no-deps",
        "--no-index", "--disable-pip-version-check", *args)


def check_pilothouse(venv: Path) -> None:
    env = environment(venv)
    where = run(venv / "bin" / "python", "-c", "import pilothouse.console.cli as c; print(c.__file__)", env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), "pilothouse was not imported from the venv"
    usage = run(venv / "bin" / "pilothouse", "--help", env=env)
    assert "status" in usage.stdout and "rollback" in usage.stdout
    status = run(venv / "bin" / "python", "-m", "pilothouse", "status", "--demo", env=env)
    assert "demo-swarm" in status.stdout and "demo-k8s" in status.stdout


def installed_files(venv: Path, distribution: str) -> set[str]:
    code = f"from importlib.metadata import files; print('\\n'.join(str(f) for f in files({distribution!r})))"
    listing = run(venv / "bin" / "python", "-c", code, env=environment(venv)).stdout
    return {line for line in listing.splitlines() if line and ".dist-info/" not in line}


def test_stand_ins_for_console_and_providers_install_and_uninstall_beside_pilothouse(
        venv: Path, tmp_path: Path) -> None:
    check_pilothouse(venv)
    wheels = [stand_in_wheel(name, files, tmp_path) for name, files in STAND_INS.items()]
    pip_install(venv, *wheels)
    env = environment(venv)
    # The stand-ins really are installed and importable under the generic names...
    probe = run(venv / "bin" / "python", "-c",
                "import console.cli, providers; print(console.cli.__file__, providers.STAND_IN)", env=env)
    assert str(venv) in probe.stdout and "True" in probe.stdout
    # ...and share no file with pilothouse (a shared file is what installing `console` overwrote, and what
    # uninstalling it deleted, when the wheel's top-level packages were console/, widgets/, providers/).
    ours = installed_files(venv, "pilothouse")
    for name in STAND_INS:
        assert not ours & installed_files(venv, name)
    check_pilothouse(venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "uninstall", "--yes", "--quiet",
        "--disable-pip-version-check", *STAND_INS)
    gone = subprocess.run([venv / "bin" / "python", "-c", "import console.cli"], capture_output=True, env=env, cwd="/")
    assert gone.returncode != 0, "the stand-in `console` is still importable: the uninstall proved nothing"
    check_pilothouse(venv)
