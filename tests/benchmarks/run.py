"""pilothouse benchmark suite (issue 6): `python tests/benchmarks/run.py [--json] [--only NAME,...] [--skip-swarm]
[--long]`.

Runs every benchmark with real processes and real backends, prints a table (or, with --json, one JSON
object per metric: name, value, unit, target, pass, plus note and details) and always exits 0: machines
here are noisy, so the suite informs, it does not gate. Not collected by pytest (no test_ files, no
conftest); see RESULTS.md for a recorded run and how to read it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import REPO, Metric, table

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

UI_METRICS = ("first_paint_1k_s", "first_paint_10k_s", "first_paint_50k_s", "refresh_ui_ms_10k",
              "rss_mb_10k", "rss_mb_50k")
SWARM_METRICS = ("swarm_calls_per_refresh", "swarm_change_to_model_s", "swarm_status_vs_cli")
STORM_METRICS = ("storm_key_p99_ms", "storm_keys_unanswered", "storm_cpu_cores", "storm_queue_max",
                 "storm_converge_refreshes")
SWARM_SIZE_METRICS = ("swarm_replay_first_paint_10k_s", "swarm_replay_refresh_ui_ms_10k", "swarm_replay_rss_mb_10k",
                      "swarm_replay_status_vs_cli")
ECS_METRICS = ("ecs_calls_ratio", "ecs_first_snapshot_2k_s", "ecs_calls_ratio_2k")
K8S_METRICS = ("k8s_list_calls_after_sync", "k8s_status_vs_kubectl_10k", "k8s_first_paint_vs_kubectl_10k",
               "k8s_tui_rss_mb_10k", "k8s_tui_rss_mb_churn_10k", "k8s_rss_mb_50k")
ALL = ("help_s", *UI_METRICS, "attention_ms_10k", "k8s_networks_ms_10k", *ECS_METRICS, *K8S_METRICS, *STORM_METRICS,
       *SWARM_METRICS, *SWARM_SIZE_METRICS)
UNITS = {"help_s": ("s", "<=", 0.3), "first_paint_1k_s": ("s", "<=", 1.0), "first_paint_10k_s": ("s", "<=", 1.0),
         "first_paint_50k_s": ("s", "<=", 2.0), "refresh_ui_ms_10k": ("ms", "<=", 20.0),
         "attention_ms_10k": ("ms", "<=", 15.0), "k8s_networks_ms_10k": ("ms", "<=", 100.0),
         "rss_mb_10k": ("MB", "<=", 150.0), "rss_mb_50k": ("MB", "<=", 400.0), "ecs_calls_ratio": ("x", "=", 1.0),
         "ecs_first_snapshot_2k_s": ("s", "<=", 15.0), "ecs_calls_ratio_2k": ("x", "=", 1.0),
         "k8s_list_calls_after_sync": ("lists", "=", 0), "k8s_status_vs_kubectl_10k": ("x", "<=", 0.7),
         "k8s_first_paint_vs_kubectl_10k": ("x", "<=", 0.7), "k8s_tui_rss_mb_10k": ("MB", "<=", 150.0),
         "k8s_tui_rss_mb_churn_10k": ("MB", "<=", 150.0), "k8s_rss_mb_50k": ("MB", "<=", 500.0),
         "swarm_calls_per_refresh": ("requests", "=", 3),
         "swarm_change_to_model_s": ("s", "<=", 1.0), "swarm_status_vs_cli": ("x", "<", 1.0),
         "storm_key_p99_ms": ("ms", "<=", 100.0), "storm_keys_unanswered": ("keys", "<=", 0),
         "storm_cpu_cores": ("cores", "<=", 1.0),
         "storm_queue_max": ("snapshots", "<=", 1), "storm_converge_refreshes": ("snapshots", "<=", 1),
         "swarm_replay_first_paint_10k_s": ("s", "<=", 2.0), "swarm_replay_refresh_ui_ms_10k": ("ms", "<=", 20.0),
         "swarm_replay_rss_mb_10k": ("MB", "<=", 150.0), "swarm_replay_status_vs_cli": ("x", "<=", 0.7)}


def _ui(wanted: set[str]) -> list[Metric]:
    from bench_ui import ui_metrics

    sizes = []
    if "first_paint_1k_s" in wanted:
        sizes.append(1_000)
    if wanted & {"first_paint_10k_s", "refresh_ui_ms_10k", "rss_mb_10k"}:
        sizes.append(10_000)
    if wanted & {"first_paint_50k_s", "rss_mb_50k"}:
        sizes.append(50_000)
    return ui_metrics(sizes)


def _help(wanted: set[str]) -> list[Metric]:
    from bench_common import prioritised
    from bench_ui import help_seconds

    with prioritised():
        return [help_seconds()]


def _attention(wanted: set[str]) -> list[Metric]:
    from bench_attention import attention_metrics

    return attention_metrics()


def _ecs(wanted: set[str]) -> list[Metric]:
    from bench_ecs import ecs_metrics

    return ecs_metrics(wanted)


LONG = False  # --long: the full 10 minutes of churn for k8s_tui_rss_mb_churn_10k


def _k8s_networks(wanted: set[str]) -> list[Metric]:
    from bench_k8s_networks import networks_metrics

    return networks_metrics()


def _k8s(wanted: set[str]) -> list[Metric]:
    from bench_k8s import k8s_metrics

    return k8s_metrics(wanted, long=LONG)


def _storm(wanted: set[str]) -> list[Metric]:
    from bench_storm import storm_metrics

    return storm_metrics()


def _swarm(wanted: set[str]) -> list[Metric]:
    if sys.platform != "linux" or os.geteuid() != 0:
        raise RuntimeError("the test swarm needs Linux and root (tests/swarm/swarm.sh)")
    from bench_swarm import swarm_metrics

    return swarm_metrics()


def _swarm_size(wanted: set[str]) -> list[Metric]:
    from bench_swarm_size import swarm_size_metrics

    return swarm_size_metrics(wanted)


GROUPS: list[tuple[tuple[str, ...], Callable[[set[str]], list[Metric]]]] = [
    (("help_s",), _help),
    (UI_METRICS, _ui),
    (("attention_ms_10k",), _attention),
    (("k8s_networks_ms_10k",), _k8s_networks),
    (ECS_METRICS, _ecs),
    (K8S_METRICS, _k8s),
    (STORM_METRICS, _storm),
    (SWARM_METRICS, _swarm),
    (SWARM_SIZE_METRICS, _swarm_size),
]


def _group_in_child(index: int, selected: set[str], long: bool) -> list[Metric]:
    global LONG
    LONG = long
    return GROUPS[index][1](selected)


def run_group(index: int, selected: set[str], long: bool) -> list[Metric]:
    """One group in a fresh interpreter. Linux hands the memory high-water mark of the process that spawns a
    child on to the child's peak RSS (ru_maxrss survives the exec), so once earlier groups had grown this
    process, kubectl and `status --json` both reported its 348 MB as their own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_group_in_child, index, selected, long).result()


def _load() -> str:
    # Other work on the machine shows in every wall-clock metric; the table is read with this beside it.
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def failed(names: tuple[str, ...], why: str) -> list[Metric]:
    result = []
    for name in names:
        unit, op, bound = UNITS[name]
        result.append(Metric(name, None, unit, f"{op} {bound:g}", False, why))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="one JSON object per metric on stdout")
    parser.add_argument("--only", default="", help=f"comma-separated metric names: {', '.join(ALL)}")
    parser.add_argument("--skip-swarm", action="store_true", help="leave out the real-swarm benchmarks")
    parser.add_argument("--long", action="store_true", help="churn the Kubernetes TUI 10 minutes, not 1")
    args = parser.parse_args(argv)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()} or set(ALL)
    unknown = wanted - set(ALL)
    if unknown:
        parser.error(f"unknown metric(s): {', '.join(sorted(unknown))}")
    if args.skip_swarm:
        wanted -= set(SWARM_METRICS)

    results: list[Metric] = []
    print(f"run.py: {os.cpu_count()} CPUs, load average {_load()}", file=sys.stderr, flush=True)
    for index, (names, _run) in enumerate(GROUPS):
        selected = wanted & set(names)
        if not selected:
            continue
        started = time.monotonic()
        print(f"run.py: {', '.join(n for n in names if n in selected)} ...", file=sys.stderr, flush=True)
        try:
            measured = [one for one in run_group(index, selected, args.long) if one.name in selected]
        except Exception as error:  # one broken benchmark must not hide the others
            traceback.print_exc(file=sys.stderr)
            measured = failed(tuple(n for n in names if n in selected), f"error: {' '.join(str(error).split())}"[:200])
        print(f"run.py:   done in {time.monotonic() - started:.1f} s; load average {_load()}", file=sys.stderr,
              flush=True)
        results += measured
        if args.json:
            for one in measured:
                print(json.dumps(one.as_json()), flush=True)
    if not args.json:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
