"""Helpers for the swarm tests: polling with a deadline, and the docker CLI against the test swarm."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import waiting
from waiting import Timeout as Timeout

from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.swarm import SwarmProvider

T = TypeVar("T")


def wait_until(predicate: Callable[[], T | None], timeout: float, interval: float = 0.1, what: str = "") -> T:
    """waiting.wait_until, polling a real engine a little less eagerly (predicates often run the docker CLI)."""
    result: T = waiting.wait_until(predicate, timeout, interval, what)
    return result


SWARM_SCRIPT = Path(__file__).with_name("swarm.sh")


def docker(host: str, *args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["docker", "-H", host, *args], capture_output=True, text=True, timeout=60, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def swarm_script(*args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(SWARM_SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"swarm.sh {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


def parse_env(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            env[key.strip()] = value.strip()
    return env


# Fast rollouts: tasks stop in a second, no delay between batches, a short monitor window.
FAST_SERVICE_FLAGS = (
    "--detach", "--no-resolve-image", "--stop-grace-period", "1s", "--update-delay", "0s",
    "--update-monitor", "2s", "--restart-delay", "1s", "--rollback-delay", "0s", "--rollback-monitor", "2s",
)


@dataclass(frozen=True)
class SwarmInfo:
    manager: str  # unix:// URL of the manager's socket
    manager_socket: str
    workers: dict[str, str]  # node hostname -> unix:// URL of its engine
    worker_numbers: dict[str, str]  # node hostname -> number for swarm.sh stop-worker/start-worker


def make_provider(url: str, name: str = "test-swarm") -> SwarmProvider:
    return SwarmProvider(ClusterConfig(name=name, provider="swarm", options={"docker_host": url}))


@dataclass
class Services:
    """Creates uniquely named services with the docker CLI and removes them after the test."""

    swarm: SwarmInfo
    prefix: str
    created: list[str] = field(default_factory=list)

    def create(self, *args: str, image: str = "pilothouse-test/app:1", name: str = "",
               command: tuple[str, ...] = ()) -> str:
        name = name or f"{self.prefix}-{uuid.uuid4().hex[:6]}"
        docker(self.swarm.manager, "service", "create", "--name", name, *FAST_SERVICE_FLAGS, *args, image,
               *command)
        self.created.append(name)
        return name

    def cli(self, *args: str, check: bool = True) -> str:
        return docker(self.swarm.manager, *args, check=check)

    def adopt(self, name: str) -> str:
        """A service created some other way, removed after the test too."""
        self.created.append(name)
        return name

    def remove_all(self) -> None:
        if self.created:
            docker(self.swarm.manager, "service", "rm", *self.created, check=False)


def write_config(path: Path, docker_host: str, *, name: str = "swarm", readonly: bool = False,
                 refresh_interval: float = 2.0, extra: str = "") -> Path:
    """A pilothouse config naming one swarm cluster; `extra` is appended verbatim (e.g. a [doctor] table)."""
    path.write_text(
        f'[[clusters]]\nname = "{name}"\nprovider = "swarm"\ndocker_host = "{docker_host}"\n'
        f"readonly = {'true' if readonly else 'false'}\nrefresh_interval = {refresh_interval}\n{extra}"
    )
    return path


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """`pilothouse ARGS` in this process, as a user runs it (console.cli.main), with its output."""
    from pilothouse.console.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


def mutating(requests: list[str]) -> list[str]:
    """The requests of a CountingProxy log that could change the cluster."""
    return [request for request in requests if request.split(" ", 1)[0] in ("POST", "PUT", "DELETE", "PATCH")]
