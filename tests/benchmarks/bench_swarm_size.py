"""Swarm at size: 1,000 services / 10,000 tasks on the Engine API replay server (swarm_replay.py), benchmark only.

The replay is recorded afresh from the real test swarm on each run (tests/swarm/swarm.sh up, under the swarm
lock), or, without a swarm, read from the last recording (RECORDING below). The replay server runs in a
process of its own; pilothouse and the docker CLI reach it over TCP.
- swarm_replay_first_paint_10k_s, swarm_replay_refresh_ui_ms_10k, swarm_replay_rss_mb_10k: the real TUI
  (ui_child.py --config) through the real SwarmProvider, as bench_ui.py measures the demo fleet;
- swarm_replay_status_vs_cli: `pilothouse status --json` (median of STATUS_RUNS) against the docker CLI 28
  doing `docker service ls` and then `docker service ps` for every one of the 1,000 services, timed once as
  one loop (about a minute), every task row counted.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import BENCH_DIR, Metric, isolated_env, metric, prioritised, use_harness

SERVICES = 1_000
TASKS_EACH = 10
NODES = 30
PAINT_RUNS = 3
REFRESH_ROUNDS = 5
STATUS_RUNS = 3
HOLD_S = 8.0  # live refreshes after first paint, for RSS after sync (the refresh interval is 2 s)
RECORDING = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pilothouse-bench" / "swarm-recording.json"


def recording() -> tuple[dict[str, Any], str]:
    """A fresh recording from the test swarm when there is one here, else the last one kept."""
    use_harness("swarm", "support")
    import swarm_replay

    if sys.platform == "linux" and os.geteuid() == 0 and shutil.which("docker"):
        from swarm_helpers import parse_env, swarm_script

        with swarm_replay.swarm_lock():
            env = parse_env(swarm_script("up"))
        work = Path(tempfile.mkdtemp(prefix="pilothouse-bench-"))
        recorded = swarm_replay.record(env["DOCKER_HOST"].removeprefix("unix://"), work)
        RECORDING.parent.mkdir(parents=True, exist_ok=True)
        RECORDING.write_text(json.dumps(recorded))
        return recorded, f"recorded {recorded['recorded_at']}"
    if RECORDING.exists():
        recorded = json.loads(RECORDING.read_text())
        return recorded, f"kept recording of {recorded['recorded_at']}"
    raise RuntimeError("no test swarm here (Linux, root, docker) and no earlier recording at " + str(RECORDING))


class Replay:
    """swarm_replay.py in a child process, for as long as the `with` lasts."""

    def __init__(self, recorded: dict[str, Any]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pilothouse-bench-replay-"))
        path = self.dir / "recording.json"
        path.write_text(json.dumps(recorded))
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "swarm_replay.py"), "--recording", str(path), "--services",
             str(SERVICES), "--tasks-each", str(TASKS_EACH), "--nodes", str(NODES)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=isolated_env())
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"swarm_replay.py exited: {self.process.communicate()[1].strip()[-300:]}")
        self.info: dict[str, Any] = json.loads(line)
        self.url: str = self.info["url"]
        self.config = self.dir / "config.toml"
        self.config.write_text(f'refresh_interval = 2.0\n\n[[clusters]]\nname = "replay"\nprovider = "swarm"\n'
                               f'docker_host = "{self.url}"\n')

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, *exc: object) -> None:
        try:  # communicate() closes the child's stdin: that ends it
            _, errors = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return
        if errors.strip():
            print(f"swarm_replay.py: {errors.strip()[-500:]}", file=sys.stderr)


def paint_run(replay: Replay, refresh_rounds: int) -> dict[str, Any]:
    out = replay.dir / f"ui-{time.monotonic_ns()}.json"
    command = [sys.executable, str(BENCH_DIR / "ui_child.py"), "--config", str(replay.config), "--out", str(out)]
    if refresh_rounds:
        command += ["--refresh-rounds", str(refresh_rounds)]
    else:
        command += ["--hold", str(HOLD_S)]
    spawned = time.time()
    done = subprocess.run(command, env=isolated_env(), capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ui_child --config failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["first_paint_s"] = result["painted_wall"] - spawned
    result["phases_s"] = {name: round(when - spawned, 3)
                          for name, when in {"interpreter": result["started_wall"], **result["phases_wall"]}.items()}
    return result


def tui_metrics(replay: Replay, source: str) -> list[Metric]:
    from bench_ui import warm_bytecode

    warm_bytecode()
    runs = [paint_run(replay, REFRESH_ROUNDS if number == 0 else 0) for number in range(PAINT_RUNS)]
    paints = [run["first_paint_s"] for run in runs]
    size = f"{runs[0]['services']} services, {runs[0]['task_count']} tasks, {replay.info['nodes']} nodes"
    refresh = runs[0]["refresh_ms"]
    # The first run also holds the refresh rounds' ten copies of the fleet (the benchmark's, not the console's).
    held = runs[1:]
    return [
        metric("swarm_replay_first_paint_10k_s", round(statistics.median(paints), 3), "s", "<=", 2.0,
               f"median of {PAINT_RUNS}; {size}; {source}", samples=[round(p, 3) for p in paints],
               child_cpu_s_at_paint=[round(run["cpu_s_at_paint"], 3) for run in runs],
               phases_s=[run["phases_s"] for run in runs]),
        metric("swarm_replay_refresh_ui_ms_10k", round(statistics.median(refresh), 1), "ms", "<=", 20.0,
               f"UI-thread CPU, median of {len(refresh)}; {runs[0]['changed_tasks']} tasks changed per refresh; "
               f"wall median {statistics.median(runs[0]['refresh_wall_ms']):.1f} ms",
               samples=[round(s, 1) for s in refresh],
               wall_samples=[round(s, 1) for s in runs[0]["refresh_wall_ms"]]),
        metric("swarm_replay_rss_mb_10k", round(max(run["rss_kb"] for run in held) / 1024, 1), "MB", "<=", 150.0,
               f"peak RSS (VmHWM) after {HOLD_S:g} s of live refreshes, worst of {len(held)}",
               at_first_paint_mb=[round(run["rss_kb_at_paint"] / 1024, 1) for run in runs],
               with_refresh_rounds_mb=round(runs[0]["rss_kb"] / 1024, 1)),
    ]


def status_vs_cli(replay: Replay) -> Metric:
    env = isolated_env()
    command = [sys.executable, "-m", "pilothouse", "status", "--json", "--config", str(replay.config)]
    # Once untimed (.pyc, page cache), and to check it answers for every service and task.
    answer = json.loads(subprocess.run(command, env=env, capture_output=True, text=True, timeout=300).stdout)
    services = [service for cluster in answer["clusters"] for service in cluster.get("services", [])]
    if len(services) != replay.info["services"]:
        raise RuntimeError(f"pilothouse status showed {len(services)} services of {replay.info['services']}")

    def ours() -> float:
        started = time.perf_counter()
        # Exit 1 means "something is not healthy": still a full answer, not checked here.
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        return time.perf_counter() - started

    cli_env = {**env, "DOCKER_HOST": replay.url, "DOCKER_CONFIG": str(replay.dir / "docker-config")}

    def docker(*args: str) -> str:
        done = subprocess.run(["docker", *args], env=cli_env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    docker("service", "ls")  # warm: the binary in the page cache, as for ours
    pilothouse_samples = [ours() for _ in range(STATUS_RUNS)]
    # The docker CLI's way to the same answer, once: `service ls`, then `service ps` for every service.
    started = time.perf_counter()
    names = docker("service", "ls", "--format", "{{.Name}}").split()
    ls_s = time.perf_counter() - started
    rows = 0
    for name in names:
        rows += len(docker("service", "ps", name).splitlines()) - 1
    cli_s = time.perf_counter() - started
    if rows != replay.info["tasks"]:
        raise RuntimeError(f"docker service ps showed {rows} tasks of {replay.info['tasks']}")
    ours_s = statistics.median(pilothouse_samples)
    version = docker("version", "--format", "{{.Client.Version}} / API {{.Server.APIVersion}}").strip()
    return metric(
        "swarm_replay_status_vs_cli", round(ours_s / cli_s, 4), "x", "<=", 0.7,
        f"{ours_s:.2f} s (median of {STATUS_RUNS}) vs docker CLI {version} {cli_s:.1f} s (service ls {ls_s:.2f} s, "
        f"then service ps for each of {len(names)} services, {rows} tasks, once)",
        pilothouse_samples=[round(s, 3) for s in pilothouse_samples], docker_service_ls_s=round(ls_s, 3),
        docker_cli_s=round(cli_s, 2), services=len(names), tasks=rows, docker_cli=version)


def swarm_size_metrics(wanted: set[str] | None = None) -> list[Metric]:
    recorded, source = recording()
    metrics: list[Metric] = []
    # The replay server, the console and the docker CLI in the benchmark's prioritised scheduler group, as
    # bench_ui.py runs the demo fleet: on this shared machine the neighbours would otherwise set the figures.
    with prioritised(), Replay(recorded) as replay:
        if wanted is None or any(name.startswith("swarm_replay_") and "status" not in name for name in wanted):
            metrics += tui_metrics(replay, source)
        if wanted is None or "swarm_replay_status_vs_cli" in wanted:
            metrics.append(status_vs_cli(replay))
    return metrics


if __name__ == "__main__":
    for one in swarm_size_metrics():
        print(json.dumps(one.as_json()))
