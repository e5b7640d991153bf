"""Every number an operator types or configures is finite and in range: one line, exit 2, nothing sent."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest
from cli_support import audit_lines, run

from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.demo import DemoProvider, demo_cluster_configs
from pilothouse.providers.refresh import ClusterRefresher


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (argv, out, err)
    assert out == "" and err.count("\n") == 1 and err.startswith("pilothouse: error: "), (argv, err)
    return err


@pytest.mark.parametrize(("line", "key"), [
    ("refresh_interval = nan", "refresh_interval"), ("refresh_interval = inf", "refresh_interval"),
    ("refresh_interval = -inf", "refresh_interval"), ("refresh_interval = 1e308", "refresh_interval"),
    ("refresh_interval = 0", "refresh_interval"), ("refresh_interval = -1", "refresh_interval"),
    ("refresh_interval = 0.0", "refresh_interval"),
    ('[[clusters]]\nname = "d"\nprovider = "demo"\nrefresh_interval = nan', "clusters.refresh_interval"),
    ('[[clusters]]\nname = "d"\nprovider = "demo"\nrefresh_interval = 1e308', "clusters.refresh_interval"),
    ('[[clusters]]\nname = "d"\nprovider = "demo"\nfrozen_at = nan', "clusters.frozen_at"),  # a provider's float
    ('[[clusters]]\nname = "d"\nprovider = "demo"\nfrozen_at = inf', "clusters.frozen_at"),
])
def test_config_numbers_are_finite_and_in_range(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str,
                                                key: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"# pilothouse\n{line}\n")
    err = _one_line_exit_2(capsys, "--config", str(config), "status")
    assert f"{config}:" in err and f": {key}: " in err, err


def test_a_config_nested_too_deeply_or_too_big_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert "nested too deeply" in _one_line_exit_2(capsys, "--config", str(config), "status")
    config.write_text("# " + "x" * 2_000_000 + "\n")
    assert "at most 1,000,000" in _one_line_exit_2(capsys, "--config", str(config), "status")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e308", "NaN"])
def test_rollout_watch_timeout_is_finite(capsys: pytest.CaptureFixture[str], value: str) -> None:
    err = _one_line_exit_2(capsys, "rollout", "demo-swarm/shop_web", "--watch", f"--timeout={value}", "--demo")
    assert "--timeout must be between 0 and" in err


@pytest.mark.parametrize("value", ["", " ", "99999999d", "0s", "9" * 400 + "s", "\uff13h", "1e9d"])
def test_since_empty_zero_or_beyond_any_date_is_one_line(capsys: pytest.CaptureFixture[str], value: str) -> None:
    err = _one_line_exit_2(capsys, "events", "--demo", "--since", value)
    assert "--since" in err and "Traceback" not in err
    assert len(err) < 200


def test_since_up_to_a_century_works(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "events", "--demo", "--since", "36500d")
    assert code == 0, err


@pytest.mark.parametrize(("argv", "message"), [
    (("logs", "demo-swarm/shop_web", "--tail", "nan"), "--tail"),
    (("logs", "demo-swarm/shop_web", "--tail", "-1"), "--tail"),
    (("logs", "demo-swarm/shop_web", "--tail", "100001"), "--tail"),
    (("logs", "demo-swarm/shop_web", "--tail", "9" * 400), "--tail"),
    (("status", "--demo-tasks", "nan"), "--demo-tasks"),
    (("status", "--demo-tasks", "-1"), "--demo-tasks"),
    (("status", "--demo-tasks", "50001"), "--demo-tasks"),
    (("status", "--demo-tasks", "9" * 400), "--demo-tasks"),
])
def test_counts_on_the_command_line_are_bounded(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                                message: str) -> None:
    demo = () if "--demo-tasks" in argv else ("--demo",)
    err = _one_line_exit_2(capsys, *argv, *demo)
    assert message in err and len(err) < 300


@pytest.mark.parametrize("replicas", ["2147483648", "99999999999999999999", "9" * 5000, "nan", "inf", "1e9"])
def test_replicas_beyond_the_api_with_force_are_one_line_and_not_attempts(
    capsys: pytest.CaptureFixture[str], replicas: str,
) -> None:
    err = _one_line_exit_2(capsys, "scale", "demo-k8s/prod/web", replicas, "--force", "--yes", "--demo")
    assert len(err) < 300
    assert audit_lines() == []  # bad input: nothing was attempted


@pytest.mark.parametrize("interval", [math.nan, math.inf, 1e308, 0.0, -1.0])
def test_the_refresher_neither_spins_nor_overflows_on_a_bad_interval(interval: float) -> None:
    config = demo_cluster_configs(frozen_at=5)[0]
    provider = DemoProvider(ClusterConfig(name=config.name, provider=config.provider, options=config.options,
                                          refresh_interval=interval))
    refresher = ClusterRefresher(provider, lambda _cluster: None)
    for failures in (0, 1, 10, 10_000):
        refresher.failures = failures
        delay = refresher.next_delay()
        assert math.isfinite(delay) and 0 < delay <= 3600, (interval, failures, delay)
    # And a real wait with it neither raises nor returns at once: a poke ends it.
    waited = threading.Event()

    def wait() -> None:
        refresher.failures = 0
        refresher.wait_next()
        waited.set()

    thread = threading.Thread(target=wait)
    thread.start()
    assert not waited.wait(0.05)  # still waiting (nan would have returned at once)
    refresher.poke()
    thread.join(5)
    assert waited.is_set()
