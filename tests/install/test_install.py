"""The README's first command on a fresh clone, with only the system Python on PATH (PEP 668-managed on
Debian 12 / Ubuntu 24.04: a plain `pip install` there fails), the launch replaced by `--version`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
README_COMMAND = re.compile(r"## Set up on a fresh machine.*?```sh\n(?P<command>[^\n]+)\n```", re.DOTALL)


def _system_python() -> Path:
    if not SYSTEM_PYTHON.exists():
        if os.environ.get("CI") == "true" or os.geteuid() == 0:
            subprocess.run(["apt-get", "install", "-y", "-qq", "python3", "python3-venv"], check=True,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, timeout=300)
        else:
            pytest.skip("no system Python at /usr/bin/python3 (apt-get install python3 python3-venv, as root)")
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import ensurepip, venv"], capture_output=True)
    if probe.returncode != 0 and os.geteuid() != 0:
        pytest.skip("the system Python has no venv module and install.sh may only apt-get it as root")
    return SYSTEM_PYTHON


def _fresh_clone(target: Path) -> Path:
    """The checkout's files as a clone would have them (tracked and new, not ignored; symlinks kept)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet committed
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)
    return target


def readme_first_command() -> str:
    match = README_COMMAND.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert match, "README has no set-up command"
    return match.group("command")


@pytest.mark.timeout(900)
def test_readme_first_command_installs_with_only_the_system_python(tmp_path: Path) -> None:
    python = _system_python()
    clone = _fresh_clone(tmp_path / "pilothouse")
    home = tmp_path / "home"
    home.mkdir()
    command = readme_first_command()
    assert command.startswith("sh install.sh"), command
    # Only the system's own directories on PATH: no pyenv, no venv of the test run. Pip's own settings
    # (local indexes, find-links) are kept: they stand for the network a fresh machine would have.
    env = {"HOME": str(home), "PATH": f"{python.parent}:/bin", "LANG": "C.UTF-8",
           **{key: value for key, value in os.environ.items() if key.startswith("PIP_")}}
    result = subprocess.run(["sh", "-c", f"{command} --version"], cwd=clone, env=env, capture_output=True,
                            text=True, timeout=840)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.fullmatch(r"pilothouse \d+\.\d+\S*\n", result.stdout), result.stdout
    link = home / ".local" / "bin" / "pilothouse"
    venv = home / ".local" / "share" / "pilothouse"
    assert link.is_symlink() and Path(os.readlink(link)) == venv / "bin" / "pilothouse"
    # The venv is the system Python's, not the test run's interpreter.
    assert f"home = {python.parent}" in (venv / "pyvenv.cfg").read_text()
    assert "add " in result.stderr and "to PATH" in result.stderr  # ~/.local/bin is not on this PATH

    again = subprocess.run([str(link), "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert again.stdout == result.stdout
    # What an index would show and what editors and type checkers find in the installed package.
    probe = ("from importlib.metadata import files, metadata; m = metadata('pilothouse'); "
             "print(m['License-Expression']); print(sorted(str(f) for f in files('pilothouse') "
             "if f.name in ('py.typed', 'config.schema.json', 'LICENSE')))")
    # -I: not the current directory's files (a checkout's pilothouse.egg-info would answer instead).
    installed = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", probe], env=env, capture_output=True,
                               text=True, timeout=60, check=True, cwd=tmp_path).stdout.splitlines()
    assert installed[0] == "Apache-2.0"
    expected = [f"pilothouse-{version('pilothouse')}.dist-info/licenses/LICENSE",
                "pilothouse/console/config.schema.json", "pilothouse/py.typed"]
    assert installed[1] == str(expected)

    removed = subprocess.run(["sh", "install.sh", "--uninstall"], cwd=clone, env=env, capture_output=True,
                             text=True, timeout=60)
    assert removed.returncode == 0, removed.stderr
    assert not link.exists() and not link.is_symlink() and not venv.exists()
