"""ssh:// through a jump host: `ProxyJump bastion` in ~/.ssh/config, as the docker CLI honours it.

Two private sshd on loopback: the bastion (it forwards, runs nothing) and the manager's (its sessions reach
the test swarm's manager). The operator's ~/.ssh/config names the manager by an alias whose ProxyJump is the
bastion; the connection must go through it (its log shows the forwarded channel, and with the bastion down
nothing reaches the manager).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarm_helpers import SwarmInfo
from transport_helpers import LOOPBACK, PrivateSshd, ensure_sshd

from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.errors import CredentialsError, ProviderError, Unreachable
from pilothouse.providers.swarm import SwarmProvider
from pilothouse.providers.swarm.sshjump import jumps, ssh_config

pytestmark = pytest.mark.swarm


@pytest.fixture(scope="module")
def bastion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSshd]:
    server = PrivateSshd(tmp_path_factory.mktemp("bastion"), "unix:///nonexistent/docker.sock", ensure_sshd(),
                         log_level="DEBUG1").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def manager_sshd(swarm: SwarmInfo, bastion: PrivateSshd,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSshd]:
    server = PrivateSshd(tmp_path_factory.mktemp("manager-sshd"), swarm.manager, ensure_sshd()).start()
    # One operator key for both hops, as with an agent-less bastion setup.
    with (server.root / "authorized_keys").open("a") as keys:
        keys.write(bastion.client_key.with_suffix(".pub").read_text())
    try:
        yield server
    finally:
        server.stop()


def _known_host(server: PrivateSshd) -> str:
    key_type, key_body = server.host_public_key.split()[:2]
    return f"[{LOOPBACK}]:{server.port} {key_type} {key_body}"


@pytest.fixture
def jump_home(bastion: PrivateSshd, manager_sshd: PrivateSshd, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    dot_ssh = home / ".ssh"
    dot_ssh.mkdir(parents=True, mode=0o700)
    (dot_ssh / "known_hosts").write_text(f"{_known_host(bastion)}\n{_known_host(manager_sshd)}\n")
    (dot_ssh / "config").write_text(
        f"Host bastion\n  HostName {LOOPBACK}\n  Port {bastion.port}\n  User root\n"
        f"  IdentityFile {bastion.client_key}\n\n"
        f"Host manager-1\n  HostName {LOOPBACK}\n  Port {manager_sshd.port}\n  User root\n"
        f"  IdentityFile {bastion.client_key}\n  ProxyJump bastion\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return home


def _provider() -> SwarmProvider:
    return SwarmProvider(ClusterConfig(name="behind-bastion", provider="swarm",
                                       options={"docker_host": "ssh://manager-1"}))


def _forwarded(bastion: PrivateSshd, manager_sshd: PrivateSshd) -> list[str]:
    """The bastion's log lines for channels it opened to the manager's sshd."""
    return re.findall(rf"direct.tcpip.*\b{LOOPBACK}\D+{manager_sshd.port}\b.*", bastion.log.read_text())


def test_proxyjump_connects_through_the_bastion(bastion: PrivateSshd, manager_sshd: PrivateSshd,
                                                jump_home: Path) -> None:
    before = len(_forwarded(bastion, manager_sshd))
    provider = _provider()
    try:
        provider.connect()
        cluster = provider.snapshot()
    finally:
        provider.close()
    assert cluster.reachable, cluster.error
    assert len(cluster.nodes) == 3 and cluster.endpoint == "ssh://manager-1"
    assert len(_forwarded(bastion, manager_sshd)) > before, "the bastion forwarded nothing to the manager"
    assert "Accepted publickey for root" in manager_sshd.log.read_text()


def test_bastion_down_is_one_line_naming_it(bastion: PrivateSshd, manager_sshd: PrivateSshd, jump_home: Path,
                                            tmp_path: Path) -> None:
    config = jump_home / ".ssh" / "config"
    # The bastion's alias now points at a port nothing listens on: the manager must not be reached directly.
    config.write_text(config.read_text().replace(f"Port {bastion.port}\n", "Port 9\n", 1))
    accepted = manager_sshd.log.read_text().count("Accepted publickey")
    provider = _provider()
    with pytest.raises(ProviderError) as raised:
        provider.connect()
    provider.close()
    error = raised.value
    assert isinstance(error, Unreachable), repr(error)
    text = str(error)
    assert "\n" not in text and "ssh://manager-1" in text and "bastion" in text, text
    assert manager_sshd.log.read_text().count("Accepted publickey") == accepted


def test_bastion_refusing_the_key_is_a_credentials_error_naming_it(bastion: PrivateSshd, manager_sshd: PrivateSshd,
                                                                   jump_home: Path) -> None:
    config = jump_home / ".ssh" / "config"
    config.write_text(config.read_text().replace(f"IdentityFile {bastion.client_key}\n",
                                                 f"IdentityFile {bastion.stranger_key}\n", 1))
    provider = _provider()
    with pytest.raises(CredentialsError) as raised:
        provider.connect()
    provider.close()
    text = str(raised.value)
    assert "ssh authentication to ssh://manager-1 (ProxyJump bastion" in text and "\n" not in text, text


def test_proxyjump_chains_as_openssh_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        "Host inner\n  HostName 10.0.0.5\n  ProxyJump ops@outer:2222,mid\n\n"
        "Host outer\n  HostName outer.example.com\n  ProxyJump edge\n\n"
        "Host mid\n  User admin\n  Port 2200\n  IdentityFile ~/.ssh/mid_key\n\n"
        "Host edge\n  HostName 192.0.2.1\n\n"
        "Host direct\n  ProxyJump none\n\n"
        "Host piped\n  ProxyCommand ssh -W %h:%p edge\n  ProxyJump edge\n"
    )
    config = ssh_config(path)
    hops = jumps(config, "inner")
    # The first jump's own ProxyJump comes first; user and port on the line win over the config's.
    assert [(h.alias, h.hostname, h.port, h.username) for h in hops] == [
        ("edge", "192.0.2.1", 22, None), ("outer", "outer.example.com", 2222, "ops"), ("mid", "mid", 2200, "admin")]
    assert hops[2].key_filename == [str(Path("~/.ssh/mid_key").expanduser())]
    assert jumps(config, "direct") == [] and jumps(config, "edge") == []
    assert jumps(config, "piped") == []  # ProxyCommand: docker-py's own path


def test_a_proxyjump_loop_is_refused(tmp_path: Path) -> None:
    import paramiko

    path = tmp_path / "config"
    path.write_text("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n")
    with pytest.raises(paramiko.SSHException, match="loop"):
        jumps(ssh_config(path), "a")
