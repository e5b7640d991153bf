"""mypy --strict over the package and every test folder: `python tests/typecheck.py` (what .ci/run runs).

One mypy run cannot check the tests: each folder has its own conftest.py (four modules named `conftest`), and
pytest puts each test's own folder on sys.path (prepend import mode, no __init__.py), so `from k8s_support
import ...` resolves per folder. So: the package as configured in pyproject.toml, then one run per folder with
that folder and tests/support on MYPYPATH, sharing one cache. A folder whose helpers come from other folders
says so in EXTRA_PATHS (the benchmarks reuse the provider tests' worlds, as bench_common.py does at run time).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
EXTRA_PATHS = {"benchmarks": ("ecs", "kubernetes", "swarm")}


def groups() -> list[tuple[str, list[str], list[Path]]]:
    """(name, targets, mypy path) for the package and each test folder."""
    found: list[tuple[str, list[str], list[Path]]] = [
        ("pilothouse", [], []),
        ("tests (top) and screenshots", ["tests/conftest.py", "tests/typecheck.py", "screenshots"],
         [TESTS / "support"]),
    ]
    for folder in sorted(path for path in TESTS.iterdir() if path.is_dir() and any(path.glob("*.py"))):
        paths = [TESTS / "support", folder, *(TESTS / extra for extra in EXTRA_PATHS.get(folder.name, ()))]
        found.append((f"tests/{folder.name}", [str(folder.relative_to(REPO))], paths))
    return found


def main() -> int:
    failed = []
    for name, targets, paths in groups():
        env = {**os.environ, "MYPYPATH": os.pathsep.join(str(path) for path in paths),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        print(f"mypy: {name}", flush=True)
        if subprocess.run([sys.executable, "-m", "mypy", *targets], cwd=REPO, env=env).returncode != 0:
            failed.append(name)
    if failed:
        print(f"mypy failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
