"""The swarm provider over real transports (issue 3): tcp:// with TLS and ssh://, against the test swarm.

The manager's dockerd is shared and never restarted: a TLS endpoint (client certificates required) and a
private sshd, both on loopback, stand in front of its unix socket (tests/swarm/transport_helpers.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarm_helpers import Services, SwarmInfo, run_cli, wait_until, write_config
from transport_helpers import PrivateSshd, TlsForwarder, TlsMaterial, ensure_sshd, make_tls_material

from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.errors import CredentialsError, ProviderError
from pilothouse.providers.model import Cluster, ConnectionState
from pilothouse.providers.refresh import ClusterRefresher
from pilothouse.providers.swarm import SwarmProvider

pytestmark = pytest.mark.swarm

NO_SUCH_SOCKET = "unix:///nonexistent/pilothouse/docker.sock"


def swarm_provider(docker_host: str | None, name: str = "remote") -> SwarmProvider:
    options = {"docker_host": docker_host} if docker_host else {}
    return SwarmProvider(ClusterConfig(name=name, provider="swarm", options=options))


def connect_error(provider: SwarmProvider) -> ProviderError:
    try:
        provider.connect()
    except ProviderError as error:
        return error
    finally:
        provider.close()
    raise AssertionError("connect() succeeded")


def assert_one_line_without_secrets(error: ProviderError, secret: bytes = b"") -> None:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text, text
    assert "PRIVATE KEY" not in text and "BEGIN" not in text, text
    if secret:
        body = b"".join(secret.splitlines()[1:-1]).decode()
        assert body[:24] not in text, "key material in the message"


# -- tcp:// with TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_engine(swarm: SwarmInfo, tls_material: TlsMaterial) -> Iterator[TlsForwarder]:
    with TlsForwarder(swarm.manager_socket, tls_material.server_cert, tls_material.server_key,
                      tls_material.ca_file) as forwarder:
        yield forwarder


@pytest.fixture
def tls_env(monkeypatch: pytest.MonkeyPatch, tls_material: TlsMaterial) -> TlsMaterial:
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tls_material.client_dir))
    # An operator whose Python trusts a corporate CA: requests would let it replace DOCKER_CERT_PATH's CA.
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(variable, str(tls_material.wrong_ca_dir / "ca.pem"))
    return tls_material


@pytest.mark.parametrize("how", ["docker_host", "docker_host over DOCKER_HOST", "DOCKER_HOST"])
def test_tls_connects_and_snapshots(how: str, tls_engine: TlsForwarder, tls_env: TlsMaterial,
                                    services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    name = services.create("--replicas", "0")
    if how == "docker_host":
        monkeypatch.delenv("DOCKER_HOST", raising=False)
    elif how == "docker_host over DOCKER_HOST":
        monkeypatch.setenv("DOCKER_HOST", NO_SUCH_SOCKET)
    else:
        monkeypatch.setenv("DOCKER_HOST", tls_engine.url)
    provider = swarm_provider(None if how == "DOCKER_HOST" else tls_engine.url)
    forwarded = tls_engine.forwarded_connections
    try:
        provider.connect()
        cluster = provider.snapshot()
    finally:
        provider.close()
    assert cluster.state is ConnectionState.CONNECTED
    assert cluster.service(name) is not None
    assert len(cluster.nodes) == 3
    assert f":{tls_engine.port}" in cluster.endpoint
    # It went through the TLS endpoint, with a verified client certificate, not some other way.
    assert tls_engine.forwarded_connections > forwarded


def test_a_tls_docker_context_brings_its_certificates(tls_engine: TlsForwarder, tls_material: TlsMaterial,
                                                      services: Services, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`docker context create --docker host=tcp://...,ca=...,cert=...,key=...`: the docker CLI's layout, read by
    name (the detected config names the context), with its certificates and nothing from the environment."""
    name = services.create("--replicas", "0")
    config_dir = tmp_path / "docker"
    digest = hashlib.sha256(b"tls-prod").hexdigest()
    meta = config_dir / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": "tls-prod", "Metadata": {}, "Endpoints": {
        "docker": {"Host": tls_engine.url, "SkipTLSVerify": False}}}))
    certificates = config_dir / "contexts" / "tls" / digest / "docker"
    certificates.mkdir(parents=True)
    for pem in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(tls_material.client_dir / pem, certificates / pem)
    (config_dir / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    for variable in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        monkeypatch.delenv(variable, raising=False)
    provider = SwarmProvider(ClusterConfig(name="ctx", provider="swarm", options={"docker_context": "tls-prod"}))
    forwarded = tls_engine.forwarded_connections
    try:
        provider.connect()
        cluster = provider.snapshot()
    finally:
        provider.close()
    assert cluster.state is ConnectionState.CONNECTED and cluster.service(name) is not None
    assert tls_engine.forwarded_connections > forwarded  # through the TLS endpoint, client certificate verified
    missing = SwarmProvider(ClusterConfig(name="ctx", provider="swarm", options={"docker_context": "nope"}))
    error = connect_error(missing)
    assert "docker context 'nope' does not exist" in str(error) and "\n" not in str(error)


def test_tls_server_not_signed_by_our_ca(tls_engine: TlsForwarder, tls_material: TlsMaterial,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tls_material.wrong_ca_dir))
    error = connect_error(swarm_provider(tls_engine.url))
    assert isinstance(error, CredentialsError)
    assert f":{tls_engine.port}" in str(error) and "DOCKER_CERT_PATH/ca.pem" in str(error)
    assert_one_line_without_secrets(error, tls_material.client_key_pem)


def test_tls_client_certificate_refused(tls_engine: TlsForwarder, tls_material: TlsMaterial,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tls_material.foreign_client_dir))
    refused = len(tls_engine.refused_handshakes)
    error = connect_error(swarm_provider(tls_engine.url))
    assert isinstance(error, CredentialsError)
    assert "refused the client certificate" in str(error) and "cert.pem" in str(error)
    assert_one_line_without_secrets(error, (tls_material.foreign_client_dir / "key.pem").read_bytes())
    # The server said no, not some client-side check. Its thread records the refusal after sending the
    # alert, so the client can see the alert first: wait for the record.
    wait_until(lambda: len(tls_engine.refused_handshakes) > refused, timeout=10,
               what="the TLS server to record the refused client certificate")


def test_tls_without_client_certificate_files(tls_engine: TlsForwarder, tls_material: TlsMaterial,
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    only_ca = tmp_path / "only-ca"
    only_ca.mkdir()
    (only_ca / "ca.pem").write_bytes((tls_material.client_dir / "ca.pem").read_bytes())
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(only_ca))
    error = connect_error(swarm_provider(tls_engine.url))
    assert isinstance(error, CredentialsError)
    assert "DOCKER_CERT_PATH" in str(error)
    assert_one_line_without_secrets(error)


def test_plain_http_against_the_tls_port(tls_engine: TlsForwarder, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for variable in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_HOST"):
        monkeypatch.delenv(variable, raising=False)
    plain = tls_engine.plain_http_clients
    error = connect_error(swarm_provider(tls_engine.url))
    assert isinstance(error, CredentialsError)
    assert "speaks TLS" in str(error) and "DOCKER_TLS_VERIFY=1" in str(error)
    assert_one_line_without_secrets(error)
    assert tls_engine.plain_http_clients > plain
    # The CLI says the same in one line, no traceback.
    result = run_cli(capsys, "--config", str(write_config(tmp_path / "plain.toml", tls_engine.url)),
                     "status", "--json")
    assert result.code != 0
    assert "speaks TLS" in result.out + result.err and "Traceback" not in result.out + result.err


def test_cli_status_json_over_tls(tls_engine: TlsForwarder, tls_env: TlsMaterial, services: Services,
                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = services.create("--replicas", "0")
    config = write_config(tmp_path / "tls.toml", tls_engine.url)
    result = run_cli(capsys, "--config", str(config), "status", "--json")
    assert result.code == 0, result.err
    [cluster] = json.loads(result.out)["clusters"]
    assert any(service["name"] == name for service in cluster["services"])


# -- ssh:// -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sshd(swarm: SwarmInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSshd]:
    server = PrivateSshd(tmp_path_factory.mktemp("sshd"), swarm.manager, ensure_sshd()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ssh_home(sshd: PrivateSshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An operator's HOME: ~/.ssh/config names the key, ~/.ssh/known_hosts the server; no agent."""
    home = sshd.client_home(tmp_path / "home", sshd.client_key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return home


def test_ssh_connects_and_snapshots_with_paramiko(sshd: PrivateSshd, ssh_home: Path, services: Services) -> None:
    name = services.create("--replicas", "0")
    provider = swarm_provider(sshd.url)
    try:
        provider.connect()
        cluster = provider.snapshot()
        # The production path: docker[ssh]'s paramiko transport, not a shelled-out ssh binary.
        adapter = provider._api().adapters["http+docker://ssh"]
        assert type(getattr(adapter, "ssh_client", None)).__module__.startswith("paramiko")
    finally:
        provider.close()
    assert cluster.state is ConnectionState.CONNECTED
    assert cluster.service(name) is not None
    assert len(cluster.nodes) == 3 and cluster.endpoint == sshd.url
    assert "Accepted publickey for root" in sshd.log.read_text()


def test_ssh_watch_sees_a_service_created_elsewhere(sshd: PrivateSshd, ssh_home: Path,
                                                    services: Services) -> None:
    seen: list[Cluster] = []
    lock = threading.Lock()

    def on_snapshot(cluster: Cluster) -> None:
        with lock:
            seen.append(cluster)

    def latest() -> Cluster | None:
        with lock:
            return seen[-1] if seen else None

    # A long interval: only the /events stream over ssh can bring the new service in time.
    refresher = ClusterRefresher(swarm_provider(sshd.url, "watched"), on_snapshot, interval=300)
    thread = threading.Thread(target=refresher.run, daemon=True)
    thread.start()
    try:
        first = wait_until(latest, 20, what="a first snapshot over ssh")
        assert first.state is ConnectionState.CONNECTED, first.error
        name = services.create("--replicas", "0")
        wait_until(lambda: (cluster := latest()) is not None and cluster.service(name), 5,
                   what="the new service, brought by the events watch over ssh")
    finally:
        refresher.stop()
        thread.join(15)
    assert not thread.is_alive()


def test_ssh_wrong_key(sshd: PrivateSshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(sshd.client_home(tmp_path / "home", sshd.stranger_key)))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    error = connect_error(swarm_provider(sshd.url))
    assert isinstance(error, CredentialsError)
    assert sshd.url in str(error) and "IdentityFile" in str(error)
    assert_one_line_without_secrets(error, sshd.stranger_key.read_bytes())


def test_ssh_unknown_host_key(sshd: PrivateSshd, ssh_home: Path) -> None:
    (ssh_home / ".ssh" / "known_hosts").write_text("")
    error = connect_error(swarm_provider(sshd.url))
    assert isinstance(error, CredentialsError)
    assert sshd.url in str(error) and "known_hosts" in str(error)
    assert_one_line_without_secrets(error)
