"""mypy --strict over everything: `python tests/typecheck.py` (what .ci/run runs).

`python -m mypy` checks the package, the tests and the screenshot script in one run (pyproject.toml). It leaves
out what one run cannot model: the conftest.py files (one module name for several files) and the files directly in
tests/ (with tests/ on mypy's path, the folder tests/kubernetes/ would shadow the kubernetes SDK). Each of those
is checked here on its own, with its folder and tests/support on the path, as pytest imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"


def alone() -> list[Path]:
    """The files the one run leaves out."""
    return sorted({*TESTS.glob("*.py"), *TESTS.rglob("conftest.py")})


def mypy(*targets: str, path: list[Path]) -> bool:
    env = {**os.environ, "MYPYPATH": os.pathsep.join(str(folder) for folder in path),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    print(f"mypy {' '.join(targets) or '(pyproject.toml)'}", flush=True)
    return subprocess.run([sys.executable, "-m", "mypy", *targets], cwd=REPO, env=env).returncode == 0


def main() -> int:
    failed = [] if mypy(path=[]) else ["the package, tests and screenshots"]
    for file in alone():
        if not mypy(str(file.relative_to(REPO)), path=[TESTS / "support", file.parent]):
            failed.append(str(file.relative_to(REPO)))
    if failed:
        print(f"mypy failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
