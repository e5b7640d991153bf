"""ProxyJump for ssh:// engines, over paramiko.

docker-py's paramiko transport reads only HostName, Port, User, IdentityFile and ProxyCommand from
~/.ssh/config; a `ProxyJump bastion` (the usual way to reach a manager behind a bastion) is ignored and the
connection goes straight to a host that cannot be reached. Here each jump host is connected in turn with the
same rules (its own HostName, Port, User, IdentityFile, ProxyJump; host keys from known_hosts, unknown ones
refused) and the next hop is reached through a `direct-tcpip` channel of the previous one, as `ssh -J` does.
The system ssh client is not used: its prompts and errors would be drawn over the console's screen, and its
failures could not be told apart.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

CONNECT_TIMEOUT_S = 10.0
MAX_HOPS = 8  # a ProxyJump loop in ~/.ssh/config must not recurse forever


@dataclass(frozen=True, slots=True)
class Hop:
    alias: str  # the name as written (looked up in ~/.ssh/config)
    hostname: str
    port: int
    username: str | None
    key_filename: list[str] | None
    known_hosts: tuple[str, ...]


def ssh_config(path: Path | None = None) -> paramiko.SSHConfig:
    path = path or Path("~/.ssh/config").expanduser()
    config = paramiko.SSHConfig()
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            config.parse(handle)
    return config


def _split(spec: str) -> tuple[str | None, str, int | None]:
    """`[user@]host[:port]` or `ssh://[user@]host[:port]` -> (user, host, port)."""
    parsed = urllib.parse.urlsplit(spec if "://" in spec else f"ssh://{spec}")
    return parsed.username, parsed.hostname or "", parsed.port


def hop(config: paramiko.SSHConfig, spec: str) -> Hop:
    user, alias, port = _split(spec)
    found = config.lookup(alias)
    known = found.get("userknownhostsfile", "")
    return Hop(alias=alias, hostname=found.get("hostname", alias), port=port or int(found.get("port", 22)),
               username=user or found.get("user"), key_filename=found.get("identityfile"),
               known_hosts=tuple(os.path.expanduser(item) for item in known.split()) if known else ())


def jumps(config: paramiko.SSHConfig, alias: str, depth: int = 0) -> list[Hop]:
    """The jump hosts in front of `alias`, first hop first (a jump host's own ProxyJump comes before it)."""
    found = config.lookup(alias)
    value = found.get("proxyjump", "")
    if not value or value.lower() == "none" or "proxycommand" in found:
        return []  # ProxyCommand is honoured by docker-py itself
    if depth >= MAX_HOPS:
        raise paramiko.SSHException(f"ProxyJump of {alias} goes deeper than {MAX_HOPS} hops (a loop?)")
    hops: list[Hop] = []
    for position, spec in enumerate(part.strip() for part in value.split(",") if part.strip()):
        current = hop(config, spec)
        if position == 0:
            hops.extend(jumps(config, current.alias, depth + 1))
        hops.append(current)
    return hops


def _client(hop: Hop) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    for path in hop.known_hosts:
        if Path(path).exists():
            client.load_host_keys(path)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


class JumpHostFailed(paramiko.SSHException):  # type: ignore[misc]  # paramiko ships no type hints
    """A jump host could not be reached, authenticated or asked to forward; the cause says why."""

    def __init__(self, hop: Hop, text: str) -> None:
        super().__init__(f"jump host {hop.alias} ({hop.hostname}:{hop.port}): {text}")
        self.hop = hop


@dataclass
class JumpChain:
    """The connected jump hosts; the last one's transport carries the channel to the target."""

    clients: list[paramiko.SSHClient] = field(default_factory=list)

    def close(self) -> None:
        for client in reversed(self.clients):
            client.close()
        self.clients.clear()


def open_through(hops: list[Hop], host: str, port: int, timeout: float = CONNECT_TIMEOUT_S
                 ) -> tuple[paramiko.Channel, JumpChain]:
    """Connect each hop through the previous one; a channel to host:port from the last (resolved there)."""
    chain = JumpChain()
    sock: paramiko.Channel | None = None
    targets = [(following.hostname, following.port) for following in hops[1:]] + [(host, port)]
    try:
        for current, (next_host, next_port) in zip(hops, targets, strict=True):
            client = _client(current)
            chain.clients.append(client)
            try:
                client.connect(current.hostname, current.port, username=current.username,
                               key_filename=current.key_filename, sock=sock, timeout=timeout,
                               banner_timeout=timeout, auth_timeout=timeout)
                transport = client.get_transport()
                if transport is None:  # connect() returned without a transport: nothing to tunnel through
                    raise paramiko.SSHException("no ssh transport")
                transport.set_keepalive(30)
                # The next hop's name is resolved by the jump host, as with `ssh -J` (it may be a private name).
                sock = transport.open_channel("direct-tcpip", (next_host, next_port), ("127.0.0.1", 0),
                                              timeout=timeout)
            except (OSError, paramiko.SSHException) as error:
                text = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise JumpHostFailed(current, text) from error
    except BaseException:
        chain.close()
        raise
    if sock is None:
        raise ValueError("no jump host to go through")
    return sock, chain


def jump_adapter_class() -> type[Any]:
    """docker-py's SSHHTTPAdapter that reaches its host through the ProxyJump hosts of ~/.ssh/config."""
    from docker.transport.sshconn import SSHHTTPAdapter

    class ProxyJumpSSHHTTPAdapter(SSHHTTPAdapter):  # type: ignore[misc]  # docker ships no type hints
        _chain: JumpChain | None = None
        _hops: list[Hop]

        def _create_paramiko_client(self, base_url: str) -> None:
            super()._create_paramiko_client(base_url)
            self._hops = jumps(ssh_config(), urllib.parse.urlsplit(base_url).hostname or "")

        def _connect(self) -> None:
            # Also on a reconnect (docker-py reconnects when the transport dropped): a fresh chain each time.
            if self.ssh_client and self._hops:
                self._close_chain()
                host, port = self.ssh_params["hostname"], int(self.ssh_params.get("port") or 22)
                self.ssh_params["sock"], self._chain = open_through(self._hops, host, port)
            super()._connect()

        def _close_chain(self) -> None:
            if self._chain is not None:
                self._chain.close()
                self._chain = None

        def close(self) -> None:
            super().close()
            self._close_chain()

    return ProxyJumpSSHHTTPAdapter


def uses_proxyjump(base_url: str) -> bool:
    """Whether ~/.ssh/config gives this ssh:// URL's host a ProxyJump (and no ProxyCommand)."""
    if not base_url.startswith("ssh://"):
        return False
    return bool(jumps(ssh_config(), urllib.parse.urlsplit(base_url).hostname or ""))


def jump_client(client_class: type[Any], base_url: str, version: str, timeout: int) -> Any:
    """An APIClient for an ssh:// URL whose host has a ProxyJump: the same client, its ssh adapter replaced.

    docker-py's own adapter connects in its constructor (directly, which is what must not happen), so the client
    is built with the inert shell-out adapter and a pinned version, then given the jumping adapter, and the
    version negotiated through it.
    """
    from docker import constants

    client = client_class(base_url=base_url, version=constants.MINIMUM_DOCKER_API_VERSION, timeout=timeout,
                          use_ssh_client=True)
    adapter = jump_adapter_class()(base_url, timeout, pool_connections=constants.DEFAULT_NUM_POOLS_SSH,
                                   max_pool_size=constants.DEFAULT_MAX_POOL_SIZE)
    client._custom_adapter = adapter
    client.mount("http+docker://ssh", adapter)
    client._version = client._retrieve_server_version() if version in ("auto", None) else version
    return client
