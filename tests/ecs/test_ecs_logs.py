"""Logs through CloudWatch Logs (moto): streams named prefix/container/task, tail, follow, --task, refusals."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ecs_transport import CountingProxy
from ecs_world import ProviderFactory, add_instances, awslogs, put_lines, register, run_service_tasks, wait_until

import pilothouse.providers.ecs.logs
from pilothouse.providers.base import Capability, LogLine
from pilothouse.providers.ecs import EcsProvider
from pilothouse.providers.errors import InvalidInput, NotFound, NotSupported
from pilothouse.providers.model import Service

pytestmark = pytest.mark.ecs

GROUP = "/ecs/web"
BASE_MS = int(time.time() * 1000) - 60_000  # a minute ago: well inside any retention


@pytest.fixture
def web(admin: Any, ec2: Any, logs_admin: Any) -> dict[str, Any]:
    """shop/web with two tasks whose `app` containers log to CloudWatch, lines interleaved in time."""
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 1)
    definition = register(admin, "web", "registry.example.com/web:1",
                          extra={"logConfiguration": awslogs(GROUP, "web")})
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=definition, desiredCount=2)
    first, second = (arn.rsplit("/", 1)[-1] for arn in run_service_tasks(admin, "shop", "web", definition, 2))
    put_lines(logs_admin, GROUP, f"web/app/{first}", [(BASE_MS + 10 * i, f"first {i}") for i in range(4)])
    put_lines(logs_admin, GROUP, f"web/app/{second}", [(BASE_MS + 10 * i + 5, f"second {i}") for i in range(4)])
    return {"first": first, "second": second, "definition": definition}


def _service(provider: EcsProvider, ref: str = "shop/web") -> Service:
    service = provider.snapshot().service(ref)
    assert service is not None
    return service


def _texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


def test_tail_is_the_last_lines_over_all_tasks(web: dict[str, Any], make_provider: ProviderFactory) -> None:
    provider = make_provider()
    provider.connect()
    assert Capability.LOGS in provider.CAPABILITIES
    service = _service(provider)
    lines = list(provider.logs(service, tail=5))
    # Interleaved by time across the two streams, the newest five.
    assert _texts(lines) == ["second 1", "first 2", "second 2", "first 3", "second 3"]
    sources = {line.text.split()[0]: line.source for line in lines}
    assert sources == {"first": f"{web['first'][:12]}/app", "second": f"{web['second'][:12]}/app"}
    assert lines[0].time is not None and int(lines[0].time.timestamp() * 1000) == BASE_MS + 15

    assert len(list(provider.logs(service, tail=100))) == 8
    assert list(provider.logs(service, tail=0)) == []
    # --task: an id prefix is enough, and only that task's lines come back.
    only = list(provider.logs(service, task_id=web["second"][:8], tail=3))
    assert _texts(only) == ["second 1", "second 2", "second 3"]
    with pytest.raises(NotFound, match="no task 'feedface'"):
        provider.logs(service, task_id="feedface")
    with pytest.raises(InvalidInput):
        provider.logs(service, tail=-1)


def test_follow_picks_up_lines_written_after_it_started(
    web: dict[str, Any], admin: Any, logs_admin: Any, proxy: CountingProxy, make_provider: ProviderFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Look for the service's new tasks often, so a task started mid-follow is found within the test.
    monkeypatch.setattr(pilothouse.providers.ecs.logs, "LOG_TASK_RESCAN_S", 0.5)
    provider = make_provider(refresh_interval=0.2)
    provider.connect()
    service = _service(provider)
    stop = threading.Event()
    received: list[LogLine] = []

    def consume(lines: Iterator[LogLine]) -> None:
        received.extend(lines)

    proxy.reset()
    started = time.monotonic()
    reader = threading.Thread(target=consume, args=(provider.logs(service, tail=2, follow=True, stop=stop),))
    reader.start()
    try:
        wait_until(lambda: len(received) >= 2)
        assert _texts(received) == ["first 3", "second 3"]
        put_lines(logs_admin, GROUP, f"web/app/{web['first']}", [(BASE_MS + 1000, "first after follow")])
        wait_until(lambda: "first after follow" in _texts(received))
        # A task the follow did not know about (a replacement, a rollout) is picked up with its whole stream.
        (late,) = (arn.rsplit("/", 1)[-1] for arn in run_service_tasks(admin, "shop", "web", web["definition"], 1))
        put_lines(logs_admin, GROUP, f"web/app/{late}", [(BASE_MS + 2000, "late 0"), (BASE_MS + 2001, "late 1")])
        wait_until(lambda: "late 1" in _texts(received))
    finally:
        stop.set()
        reader.join(timeout=10)
    assert not reader.is_alive(), "follow did not end when stop was set"
    assert _texts(received) == ["first 3", "second 3", "first after follow", "late 0", "late 1"]
    assert received[-1].source == f"{late[:12]}/app"
    # A bounded poll, not a busy loop: at most one read per stream per 0.5 s (plus the tail's reads).
    elapsed = time.monotonic() - started
    reads = proxy.snapshot_counts().get("GetLogEvents", 0)
    assert reads <= 3 * (elapsed / pilothouse.providers.ecs.logs.LOG_POLL_MIN_S + 2), (reads, elapsed)


def test_other_log_drivers_are_refused_by_name(
    admin: Any, ec2: Any, logs_admin: Any, proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 1)
    splunk = register(admin, "api", "registry.example.com/api:1", extra={
        "logConfiguration": {"logDriver": "splunk", "options": {"splunk-url": "https://splunk.example.com"}}})
    admin.create_service(cluster="shop", serviceName="api", taskDefinition=splunk, desiredCount=1)
    run_service_tasks(admin, "shop", "api", splunk, 1)
    # A task definition with one readable container and a sidecar that is not.
    mixed = admin.register_task_definition(family="shop-mixed", containerDefinitions=[
        {"name": "app", "image": "registry.example.com/web:1", "memory": 32, "logConfiguration": awslogs(GROUP, "mx")},
        {"name": "router", "image": "registry.example.com/router:1", "memory": 32,
         "logConfiguration": {"logDriver": "fluentd"}},
    ])["taskDefinition"]["taskDefinitionArn"]
    admin.create_service(cluster="shop", serviceName="mixed", taskDefinition=mixed, desiredCount=1)
    (task,) = (arn.rsplit("/", 1)[-1] for arn in run_service_tasks(admin, "shop", "mixed", mixed, 1))
    put_lines(logs_admin, GROUP, f"mx/app/{task}", [(BASE_MS, "hello from app")])

    provider = make_provider()
    provider.connect()
    cluster = provider.snapshot()
    proxy.reset()
    with pytest.raises(NotSupported) as refused:
        provider.logs(cluster.service("shop/api"))  # type: ignore[arg-type]
    assert "container app uses the splunk log driver" in str(refused.value)
    assert "GetLogEvents" not in proxy.snapshot_counts()

    lines = list(provider.logs(cluster.service("shop/mixed"), tail=10))  # type: ignore[arg-type]
    assert [(line.source, line.text) for line in lines] == [
        ("pilothouse", "container router uses the fluentd log driver; only awslogs (CloudWatch Logs) can be read here"),
        (f"{task[:12]}/app", "hello from app"),
    ]


def test_logs_cli_prints_the_tail_and_refuses_clearly(
    web: dict[str, Any], admin: Any, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    from pilothouse.console.cli import main

    config = write_config()
    assert main(["--config", config, "logs", "aws/shop/web", "--tail", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" | ", 1)[1] for line in out] == ["second 1", "first 2", "second 2", "first 3", "second 3"]
    assert out[0].split(" ", 2)[2].startswith(f"{web['second'][:12]}/app | ")

    assert main(["--config", config, "logs", "aws/shop/web", "--tail", "2", "--task", web["first"]]) == 0
    assert [line.split(" | ", 1)[1] for line in capsys.readouterr().out.splitlines()] == ["first 2", "first 3"]

    plain = register(admin, "plain", "registry.example.com/plain:1")  # no logConfiguration at all
    admin.create_service(cluster="shop", serviceName="plain", taskDefinition=plain, desiredCount=0)
    assert main(["--config", config, "logs", "aws/shop/plain"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("pilothouse: error: cannot read the logs of shop/plain: container app has no log")
    assert "\n" not in error
