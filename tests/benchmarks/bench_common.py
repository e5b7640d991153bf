"""What every benchmark shares: the Metric record, timing helpers, and the paths to the test harnesses.

The benchmarks reuse the test suites' own backends (moto behind tests/ecs's counting proxy, the
Kubernetes API test server, the real test swarm); their directories are put on sys.path here, the way
pytest's prepend import mode does for the tests. Nothing here is collected by pytest (no test_ names).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
TESTS_DIR = BENCH_DIR.parent
REPO = TESTS_DIR.parent
HARNESS_DIRS = {
    "ecs": TESTS_DIR / "ecs",
    "kubernetes": TESTS_DIR / "kubernetes",
    "swarm": TESTS_DIR / "swarm",
    "support": TESTS_DIR / "support",
}


def use_harness(*names: str) -> None:
    """Make a test harness importable (ecs_transport, apiserver, swarm_helpers, http_count_proxy...), with
    tests/support, which every harness uses (waiting.wait_until)."""
    for name in (*names, "support"):
        path = str(HARNESS_DIRS[name])
        if path not in sys.path:
            sys.path.insert(0, path)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


@dataclass
class Metric:
    name: str
    value: float | None  # None: not measured (skipped or failed; see note)
    unit: str
    target: str  # human form: "<= 0.3", "= 0", "< 1.0"
    passed: bool | None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = data.pop("passed")
        return data


def check(value: float | None, op: str, bound: float) -> bool | None:
    if value is None:
        return None
    return {"<=": value <= bound, "<": value < bound, "=": abs(value - bound) < 1e-9,
            ">=": value >= bound}[op]


def metric(name: str, value: float | None, unit: str, op: str, bound: float, note: str = "",
           **details: Any) -> Metric:
    return Metric(name, value, unit, f"{op} {bound:g}", check(value, op, bound), note, details)


def not_run(name: str, unit: str, op: str, bound: float, why: str) -> Metric:
    return Metric(name, None, unit, f"{op} {bound:g}", None, why)


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    samples = [measure() for _ in range(runs)]
    return statistics.median(samples), samples


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02, what: str = "") -> Any:
    """Poll until predicate() is truthy and return its value; raise TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate!r}")
        time.sleep(interval)


def isolated_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child pilothouse: its own config and state dirs, never the developer's."""
    home = Path(tempfile.mkdtemp(prefix="pilothouse-bench-"))
    env = dict(os.environ)
    env.update({"XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))})
    env.pop("PILOTHOUSE_CONFIG", None)
    env.update(extra or {})
    return env


def set_group_nice(pid: int | str, nice: int) -> int | None:
    """Set the nice value of a process's scheduler autogroup (Linux gives every session one and shares the CPU
    between groups before nice values count); returns the previous one, None where there are no autogroups."""
    path = Path(f"/proc/{pid}/autogroup")
    try:
        before = int(path.read_text().split("nice")[1])
        path.write_text(str(nice))
    except (OSError, IndexError, ValueError):
        return None
    return before


# The machine is shared (2 cores, load 5 to 11 from other sessions, each in its own scheduler autogroup): at the
# default priority a console under test gets a quarter of a core and every wall-clock figure measures the
# neighbours. BENCH_NICE (default -10; 0: leave it) is the nice value of the autogroup the UI benchmarks run in.
BENCH_NICE = int(os.environ.get("BENCH_NICE", "-10"))


@contextmanager
def prioritised(nice: int = BENCH_NICE) -> Iterator[None]:
    """This process's autogroup (its session: the children it spawns without a new session) at `nice`."""
    before = set_group_nice("self", nice) if nice else None
    try:
        yield
    finally:
        if before is not None:
            set_group_nice("self", before)


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value)}"
    return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def table(metrics: Sequence[Metric]) -> str:
    rows = [("metric", "value", "unit", "target", "pass", "note")]
    for one in metrics:
        verdict = {True: "yes", False: "NO", None: "n/a"}[one.passed]
        rows.append((one.name, fmt(one.value), one.unit, one.target, verdict, one.note))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
        if index == 0:
            lines.append("  ".join("-" * width for width in widths) + "  ----")
    return "\n".join(lines)
