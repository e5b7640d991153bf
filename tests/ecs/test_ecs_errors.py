"""Throttling, refused credentials, unreachable endpoints, denied calls: typed one-line errors, data kept."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from ecs_transport import THROTTLE, CountingProxy, Fault, Request
from ecs_world import ProviderFactory, build_fleet, wait_until

from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.ecs import EcsProvider
from pilothouse.providers.errors import CredentialsError, NotFound, Unreachable
from pilothouse.providers.model import ConnectionState
from pilothouse.providers.refresh import ClusterRefresher

pytestmark = pytest.mark.ecs


def _first_attempt_throttled(action: str) -> Any:
    """Throttle the first attempt of each distinct request, let its retry through."""
    seen: set[str] = set()
    lock = threading.Lock()

    def rule(request: Request) -> Fault | None:
        if request.action != action:
            return None
        key = json.dumps(request.body, sort_keys=True)
        with lock:
            if key in seen:
                return None
            seen.add(key)
        return THROTTLE
    return rule


def _always(action: str, fault: Fault = THROTTLE) -> Any:
    def rule(request: Request) -> Fault | None:
        return fault if request.action == action else None
    return rule


def test_throttling_is_absorbed_then_slows_the_cadence_and_keeps_data(
    admin: Any, ec2: Any, proxy: CountingProxy, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # botocore's standard mode, one retry: keeps the test quick
    build_fleet(admin, ec2, clusters=("alpha", "beta"), services=30, services_with_tasks=5, tasks_each=2)
    provider = make_provider(refresh_interval=0.2)
    provider.connect()

    # Half the DescribeServices calls throttled once: botocore's retries absorb them, nothing is lost.
    proxy.faults.append(_first_attempt_throttled("DescribeServices"))
    absorbed = provider.snapshot()
    assert absorbed.state is ConnectionState.CONNECTED
    assert len(absorbed.services) == 60
    assert proxy.snapshot_counts()["DescribeServices"] == 2 * 2 * 3  # every batch asked twice

    # Sustained throttling: retries give up; the last data stays, stale, each ECS cluster's gap named with
    # the data's age, and the cluster is not complete.
    proxy.reset()
    proxy.faults.append(_always("DescribeServices"))
    degraded = provider.snapshot()
    assert degraded.state is ConnectionState.DEGRADED and not degraded.complete
    assert [gap.what.split(" (")[0] for gap in degraded.missing] == ["ECS cluster alpha services",
                                                                     "ECS cluster beta services"]
    assert all(gap.reason.startswith("throttled by AWS") and gap.shown_from is not None for gap in degraded.missing)
    assert "showing data from" in degraded.missing[0].describe()
    assert {s.ref for s in degraded.services} == {s.ref for s in absorbed.services}
    assert all(s.stale and s.observed is not None and s.tasks_known for s in degraded.services)
    assert sum(len(s.tasks) for s in degraded.services) == 20
    assert provider.cooldown_remaining() > 0

    # During the cool-down the throttled calls are not made at all (the other APIs go on).
    proxy.reset()
    proxy.faults.append(_always("DescribeServices"))
    quiet = provider.snapshot()
    assert proxy.total(["DescribeServices", "ListServices"]) == 0
    assert quiet.state is ConnectionState.DEGRADED and len(quiet.services) == 60
    assert all("next try in" in gap.reason for gap in quiet.missing)

    # Throttled again after the cool-down: it grows.
    wait_until(lambda: provider.cooldown_remaining() == 0, timeout=5)
    first_cooldown = 0.2 * 2
    provider.snapshot()
    # Its length, not what is left of it: a slow snapshot must not make a doubled cool-down look short.
    assert provider.cooldown_length() > first_cooldown

    # AWS recovers: the next refresh after the cool-down is whole again.
    proxy.reset()
    wait_until(lambda: provider.cooldown_remaining() == 0, timeout=5)
    recovered = provider.snapshot()
    assert recovered.state is ConnectionState.CONNECTED and recovered.error == "" and recovered.complete
    assert not any(s.stale for s in recovered.services)
    assert len(recovered.services) == 60


def test_denied_container_instances_are_reported_not_fatal(
    admin: Any, ec2: Any, proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    build_fleet(admin, ec2, clusters=("alpha",), services=3, services_with_tasks=1, tasks_each=1)
    proxy.faults.append(_always("ListContainerInstances", Fault(400, "AccessDeniedException", "not allowed")))
    provider = make_provider()
    provider.connect()
    cluster = provider.snapshot()
    assert cluster.state is ConnectionState.DEGRADED
    assert cluster.forbidden == ("container instances (alpha)",)
    assert len(cluster.services) == 3 and cluster.nodes == ()


def test_expired_credentials_give_a_one_line_credentials_error(
    admin: Any, proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    admin.create_cluster(clusterName="alpha")
    proxy.faults.append(lambda request: Fault(
        400, "ExpiredTokenException", "The security token included in the request is expired"))
    provider = make_provider()
    with pytest.raises(CredentialsError) as raised:
        provider.connect()
    text = str(raised.value)
    assert "\n" not in text and "profile 'default'" in text and "ExpiredTokenException" in text
    assert "aws configure --profile default" in text
    assert "testing" not in text  # neither the key id nor the secret


def test_missing_credentials(aws_env: Path, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(CredentialsError, match="no AWS credentials found for profile 'default'"):
        make_provider().connect()


def test_unknown_profile(aws_env: Path, make_provider: ProviderFactory) -> None:
    with pytest.raises(CredentialsError, match="profile 'nope' is not configured") as raised:
        make_provider(profile="nope").connect()
    assert "aws configure --profile nope" in str(raised.value)


def test_sso_profile_without_a_login_says_what_to_run(
    aws_env: Path, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (aws_env / "aws-config").write_text(
        "[profile dev-sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
        "sso_account_id = 123456789012\nsso_role_name = ReadOnly\nregion = us-east-1\n"
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_PROFILE", "dev-sso")
    provider = make_provider()
    with pytest.raises(CredentialsError) as raised:
        provider.connect()
    assert str(raised.value) == ("the AWS SSO session for profile 'dev-sso' is missing or expired: "
                                 "run `aws sso login --profile dev-sso`")
    command = provider.login_command()
    assert command is not None and command.argv == ("aws", "sso", "login", "--profile", "dev-sso")
    assert not command.hide_output


def test_a_missing_configured_cluster_degrades_but_shows_the_others(
    admin: Any, ec2: Any, make_provider: ProviderFactory,
) -> None:
    build_fleet(admin, ec2, clusters=("alpha",), services=2, services_with_tasks=0)
    provider = make_provider(clusters=["alpha", "ghost"])
    provider.connect()
    cluster = provider.snapshot()
    assert cluster.state is ConnectionState.DEGRADED and not cluster.complete
    assert [(gap.what, gap.reason) for gap in cluster.missing] == [("ECS cluster ghost", "not found")]
    assert {s.ref for s in cluster.services} == {"alpha/svc-000", "alpha/svc-001"}
    with pytest.raises(NotFound, match="no such ECS cluster"):
        make_provider(clusters=["ghost"]).connect()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_refused_endpoint_is_unreachable(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore would retry a refused connection for seconds
    url = f"http://127.0.0.1:{_closed_port()}"
    config = ClusterConfig(name="gone", provider="ecs", options={"endpoint_url": url, "region": "us-east-1"})
    with pytest.raises(Unreachable, match=f"cannot reach {url}"):
        EcsProvider(config).connect()
    # Through the refresh loop: an unreachable snapshot with the same one line, no exception.
    snapshot = ClusterRefresher(EcsProvider(config), on_snapshot=lambda _: None).refresh_once()
    assert snapshot.state is ConnectionState.UNREACHABLE and snapshot.error.startswith(f"cannot reach {url}")


def test_renewed_credentials_are_read_again_after_a_login(
    admin: Any, aws_env: Path, proxy: CountingProxy, make_provider: ProviderFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keys that expire mid-session, renewed by the login command: the next refresh signs with the new ones."""
    admin.create_cluster(clusterName="alpha")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    credentials = aws_env / "aws-credentials"
    credentials.write_text("[ops]\naws_access_key_id = AKIDOLD\naws_secret_access_key = old-secret\n")
    provider = make_provider(profile="ops")
    provider.connect()
    assert provider.snapshot().state is ConnectionState.CONNECTED

    proxy.faults.append(lambda request: Fault(
        400, "ExpiredTokenException", "The security token included in the request is expired")
        if "Credential=AKIDOLD/" in request.authorization else None)
    with pytest.raises(CredentialsError, match="profile 'ops'"):
        provider.snapshot()
    credentials.write_text("[ops]\naws_access_key_id = AKIDNEW\naws_secret_access_key = new-secret\n")
    with pytest.raises(CredentialsError):
        provider.snapshot()  # botocore keeps the keys it read: without being told, still the old ones

    provider.credentials_renewed()
    assert provider.snapshot().state is ConnectionState.CONNECTED
