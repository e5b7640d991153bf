"""The benchmark suite (tests/benchmarks, not run by pytest) reuses the test harnesses; a harness that gains
an import the benchmarks' sys.path lacks must fail here, not at the next benchmark run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks"

# Harness -> the modules its benchmarks import from it.
HARNESS_MODULES = {
    "ecs": ("ecs_transport", "ecs_world"),
    "kubernetes": ("apiserver", "k8s_objects"),
    "swarm": ("swarm_helpers", "http_count_proxy"),
}


@pytest.mark.parametrize("harness", sorted(HARNESS_MODULES))
def test_benchmarks_can_import_their_harness(harness: str) -> None:
    imports = "; ".join(f"import {module}" for module in HARNESS_MODULES[harness])
    # A fresh interpreter with the benchmarks' own path setup, as `python tests/benchmarks/run.py` has.
    code = f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r}); from bench_common import use_harness; " \
           f"use_harness({harness!r}); {imports}"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=BENCH_DIR)
    assert ran.returncode == 0, ran.stderr.strip().splitlines()[-1:]
