"""Kubernetes at 10k and 50k pods through the real provider, beside the real kubectl in the same run.

The fleet (k8s_fleet.py: 10,012 realistic pods, 1,005 Deployments and ReplicaSets, 53 nodes) is served by
the API test server in a process of its own. In each round, one after the other on the same server:
- `kubectl get pods -A -o wide` (kubectl v1.36 from tests/support/kubectl.py; it asks for server-side
  Tables, 500 rows a page, as it does against a real API server: checked once with -v=8);
- `pilothouse status --json` (every kind listed and mapped, as the CLI does);
- the TUI (k8s_ui_child.py) until its first frame holding a row for every workload.
Walls are from the spawn to the exit (kubectl, status) or to the painted frame (TUI); peak RSS is the child's
ru_maxrss from wait4 (kubectl, status) or VmHWM (TUI). Interleaving the three makes the ratios fair on a
machine whose load moves; the load average is recorded before and after. Then the TUI follows a churn
(k8s_fleet.py: pod status flips, pods replaced, scales, Events) for CHURN_S (600 s with --long) and its
RSS is read again. The 50k run serves 50,000 pods and runs status, the TUI and kubectl once each.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from bench_common import BENCH_DIR, Metric, isolated_env, metric

PODS_10K = 10_012
PODS_50K = 50_000
ROUNDS = 3
CHURN_S = 60.0  # the default run; --long: LONG_CHURN_S
LONG_CHURN_S = 600.0
CHURN_RATE = 20.0  # changes a second
RATIO_TARGET = 0.7
RSS_TARGET_MB = 150.0
RSS_50K_TARGET_MB = 500.0


class FleetServer:
    """k8s_fleet.py in a child process: the API test server holding the fleet."""

    def __init__(self, pods: int, folder: Path) -> None:
        self.kubeconfig = folder / "kubeconfig"
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "k8s_fleet.py"), "--pods", str(pods), "--kubeconfig",
             str(self.kubeconfig)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=isolated_env())
        line = self._out.readline()
        if not line:
            raise RuntimeError(f"the fleet server for {pods} pods exited {self.process.wait()}")
        self.info: dict[str, Any] = json.loads(line)

    @property
    def _out(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def command(self, text: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self._out.readline().strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.command("quit")
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def run_to_exit(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One process to its exit: wall (from spawn), peak RSS (its own ru_maxrss, from wait4), CPU, bytes out."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv[:4])} exited {process.returncode}: {err.read().decode()[-400:]}")
        size = out.tell()
    return {"wall_s": round(wall, 3), "rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "bytes": size}


class Tui:
    """k8s_ui_child.py: the console until first paint, then kept following the watches."""

    def __init__(self, env: dict[str, str], config: Path) -> None:
        self.spawned = time.time()
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "k8s_ui_child.py"), "--config", str(config)], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=BENCH_DIR)
        self.painted = self._read()
        self.first_paint_s = round(self.painted["painted_wall"] - self.spawned, 3)

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the TUI child exited {self.process.wait()} before answering")
        return dict(json.loads(line))

    def memory(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("rss\n")
        self.process.stdin.flush()
        return self._read()

    def quit(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


class Setup:
    """A fleet server, a pilothouse config naming it, and the environments for pilothouse and kubectl."""

    def __init__(self, pods: int) -> None:
        sys.path.insert(0, str(BENCH_DIR.parent / "support"))
        from kubectl import obtain

        self.folder = Path(tempfile.mkdtemp(prefix="pilothouse-bench-k8s-scale-"))
        self.server = FleetServer(pods, self.folder)
        self.config = self.folder / "config.toml"
        self.config.write_text(f'[[clusters]]\nname = "bench"\nprovider = "kubernetes"\n'
                               f'kubeconfig = "{self.server.kubeconfig}"\n')
        self.env = isolated_env({"PILOTHOUSE_CONFIG": str(self.config)})
        self.kubectl_env = {"HOME": str(self.folder / "kubectl-home"), "PATH": os.environ.get("PATH", "/usr/bin"),
                            "KUBECONFIG": str(self.server.kubeconfig)}
        self.kubectl = [str(obtain()), "get", "pods", "-A", "-o", "wide"]
        self.status = [sys.executable, "-m", "pilothouse", "status", "--json"]

    def kubectl_requests(self) -> dict[str, Any]:
        """What kubectl asks the server for (its -v=8 log): Tables, and in pages of how many."""
        result = subprocess.run([*self.kubectl, "-v=8"], env=self.kubectl_env, capture_output=True, text=True,
                                timeout=300, check=True)
        log = result.stderr
        pages = re.findall(r'verb="GET" url="[^"]*/api/v1/pods\?[^"]*limit=(\d+)', log)
        accepts = re.findall(r"Accept: (application/json;as=Table[^\s\"]*)", log)
        return {"pod_list_pages": len(pages), "limit": int(pages[0]) if pages else None,
                "asks_for_table": bool(accepts), "accept": accepts[0] if accepts else "",
                "rows_printed": max(0, len(result.stdout.splitlines()) - 1)}


def ratio(ours: list[float], theirs: list[float]) -> float:
    return round(statistics.median(ours) / statistics.median(theirs), 3)


def scale_10k(*, long: bool = False, rounds: int = ROUNDS) -> list[Metric]:
    setup = Setup(PODS_10K)
    churn_s = LONG_CHURN_S if long else CHURN_S
    try:
        info = setup.server.info
        loads = {"start": load()}
        asked = setup.kubectl_requests()  # also warms kubectl's discovery cache, as any second run has it
        run_to_exit(setup.status, setup.env)  # warm-up: bytecode written once, as an installed package ships it
        kubectl_runs, status_runs, paints, painted_rss, painted_peak = [], [], [], [], []
        tui: Tui | None = None
        for number in range(rounds):
            kubectl_runs.append(run_to_exit(setup.kubectl, setup.kubectl_env))
            status_runs.append(run_to_exit(setup.status, setup.env))
            tui = Tui(setup.env, setup.config)
            paints.append(tui.first_paint_s)
            painted_rss.append(round(tui.painted["rss_kb"] / 1024, 1))
            painted_peak.append(round(tui.painted["peak_kb"] / 1024, 1))
            if number < rounds - 1:
                tui.quit()
        loads["after_rounds"] = load()
        assert tui is not None
        churned = setup.server.command(f"churn {churn_s:g} {CHURN_RATE:g}")
        after = tui.memory()
        tui.quit()
        loads["after_churn"] = load()
    finally:
        setup.server.stop()
    kubectl_walls = [run["wall_s"] for run in kubectl_runs]
    status_walls = [run["wall_s"] for run in status_runs]
    common = {"pods": info["pods"], "deployments": info["deployments"], "pod_list_mb": round(
        info["pod_list_bytes"] / 1e6, 1), "load_average": loads, "kubectl": asked}
    kubectl_note = (f"kubectl {statistics.median(kubectl_walls):.2f} s, "
                    f"{max(run['rss_mb'] for run in kubectl_runs):.0f} MB")
    return [
        metric("k8s_status_vs_kubectl_10k", ratio(status_walls, kubectl_walls), "x", "<=", RATIO_TARGET,
               f"status --json {statistics.median(status_walls):.2f} s, "
               f"{max(run['rss_mb'] for run in status_runs):.0f} MB vs {kubectl_note}; medians of {rounds}",
               status=status_runs, kubectl_runs=kubectl_runs, **common),
        metric("k8s_first_paint_vs_kubectl_10k", ratio(paints, kubectl_walls), "x", "<=", RATIO_TARGET,
               f"first paint {statistics.median(paints):.2f} s vs {kubectl_note}; medians of {rounds}",
               first_paint_s=paints, kubectl_wall_s=kubectl_walls, rows=tui.painted["rows"],
               tasks=tui.painted["tasks"], **common),
        metric("k8s_tui_rss_mb_10k", max(painted_peak), "MB", "<=", RSS_TARGET_MB,
               f"peak (VmHWM) at first paint, worst of {rounds}; RSS then {max(painted_rss):.0f} MB",
               peak_mb=painted_peak, rss_mb=painted_rss),
        metric("k8s_tui_rss_mb_churn_10k", round(after["peak_kb"] / 1024, 1), "MB", "<=", RSS_TARGET_MB,
               f"peak (VmHWM) after {churn_s:g} s of churn at {CHURN_RATE:g}/s"
               f"{'' if long else ' (shortened; --long runs 600 s)'}; RSS then {after['rss_kb'] / 1024:.0f} MB",
               churn_s=churn_s, churn_rate=CHURN_RATE, churned=churned, tasks_after=after["tasks"],
               rss_mb_after=round(after["rss_kb"] / 1024, 1)),
    ]


def scale_50k() -> list[Metric]:
    setup = Setup(PODS_50K)
    try:
        info = setup.server.info
        loads = {"start": load()}
        setup.kubectl_requests()
        run_to_exit(setup.status, setup.env)
        kubectl_run = run_to_exit(setup.kubectl, setup.kubectl_env)
        status_run = run_to_exit(setup.status, setup.env)
        tui = Tui(setup.env, setup.config)
        tui.quit()
        loads["end"] = load()
    finally:
        setup.server.stop()
    tui_peak = round(tui.painted["peak_kb"] / 1024, 1)
    worst = max(tui_peak, status_run["rss_mb"])
    return [metric(
        "k8s_rss_mb_50k", worst, "MB", "<=", RSS_50K_TARGET_MB,
        f"worst peak of TUI ({tui_peak:.0f} MB, paint {tui.first_paint_s:.1f} s, {tui.painted['tasks']} pods) and "
        f"status --json ({status_run['rss_mb']:.0f} MB, {status_run['wall_s']:.1f} s); kubectl "
        f"{kubectl_run['wall_s']:.1f} s, {kubectl_run['rss_mb']:.0f} MB",
        pods=info["pods"], tui_first_paint_s=tui.first_paint_s, tui_peak_mb=tui_peak, status=status_run,
        kubectl=kubectl_run, pod_list_mb=round(info["pod_list_bytes"] / 1e6, 1), load_average=loads)]
