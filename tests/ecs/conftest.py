"""moto in server mode, in this process, on loopback; the provider talks to it over real HTTP."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest puts this directory on sys.path (rootdir-relative "prepend" import mode, no __init__.py).
from ecs_transport import CountingProxy
from ecs_world import REGION, ProviderFactory

from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.ecs import EcsProvider


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    # The server's per-request access log would drown the test output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_url: str) -> str:
    """A clean moto whose ECS tasks stay RUNNING however often they are described."""
    _post(f"{moto_url}/moto-api/reset", b"")
    transition = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000_000}}
    _post(f"{moto_url}/moto-api/state-manager/set-transition", json.dumps(transition).encode())
    return moto_url


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Fake credentials, no developer config, no instance metadata, console state in tmp."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-value")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_ECS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def proxy(moto: str) -> Iterator[CountingProxy]:
    server = CountingProxy(moto).start()
    yield server
    server.stop()


@pytest.fixture
def admin(moto: str, aws_env: Path) -> Any:
    """Arranges the world straight against moto, bypassing the counting proxy."""
    import boto3

    return boto3.client("ecs", endpoint_url=moto, region_name=REGION)


@pytest.fixture
def ec2(moto: str, aws_env: Path) -> Any:
    import boto3

    return boto3.client("ec2", endpoint_url=moto, region_name=REGION)


@pytest.fixture
def make_provider(proxy: CountingProxy, aws_env: Path, tmp_path: Path) -> Iterator[ProviderFactory]:
    """Providers with the state dir the console would give them (None with keep_state=False)."""
    made: list[EcsProvider] = []

    def make(name: str = "aws", refresh_interval: float = 2.0, keep_state: bool = True,
             **options: Any) -> EcsProvider:
        options.setdefault("endpoint_url", proxy.url)
        options.setdefault("region", REGION)
        options = {k: v for k, v in options.items() if v is not None}
        state_dir = tmp_path / "state" / "pilothouse" if keep_state else None
        provider = EcsProvider(ClusterConfig(name=name, provider="ecs", refresh_interval=refresh_interval,
                                             options=options, state_dir=state_dir))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def logs_admin(moto: str, aws_env: Path) -> Any:
    """CloudWatch Logs straight against moto, bypassing the counting proxy."""
    import boto3

    return boto3.client("logs", endpoint_url=moto, region_name=REGION)


@pytest.fixture
def write_config(proxy: CountingProxy, tmp_path: Path) -> Any:
    """A config file with one ECS cluster entry named `aws`, through the counting proxy."""

    def write(*, readonly: bool = False, extra: str = "", refresh_interval: float = 0.2) -> str:
        path = tmp_path / "config.toml"
        path.write_text(
            f"{extra}\n[[clusters]]\nname = \"aws\"\nprovider = \"ecs\"\nregion = \"{REGION}\"\n"
            f"endpoint_url = \"{proxy.url}\"\nreadonly = {'true' if readonly else 'false'}\n"
            f"refresh_interval = {refresh_interval}\n")
        return str(path)

    return write
