"""Connecting to an engine: which one (docker_host option > DOCKER_HOST > docker context > local socket),
over which transport (unix socket, TCP with TLS, ssh through paramiko), with docker's low-level APIClient.

The docker SDK is imported inside functions only: importing the provider stays cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pilothouse.providers.errors import CredentialsError, InvalidInput, ProviderError
from pilothouse.providers.swarm.errors import paramiko_available, translate_error

if TYPE_CHECKING:
    from docker.api.client import APIClient

API_TIMEOUT_S = 15
DEFAULT_LOCAL_SOCKET = "unix:///var/run/docker.sock"

# Runs one request with the provider's client; SDK errors come out translated (SwarmProvider._call).
ApiCall = Callable[[Callable[["APIClient"], Any]], Any]


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str
    source: str  # where it came from: "docker_host", "DOCKER_HOST", "context NAME", "local socket"
    tls: Any = None  # docker.tls.TLSConfig


def resolve_endpoint(option: str | None, environ: Mapping[str, str], context_name: str | None = None) -> Endpoint:
    """docker_host option, else a docker_context option, else DOCKER_HOST, else the current docker context, else
    the local socket. A context brings its own TLS material (contexts/tls/...), as with the docker CLI."""
    from docker.utils import kwargs_from_env

    if context_name and not option:
        return _named_context(context_name)
    if option or environ.get("DOCKER_HOST"):
        env = dict(environ)
        if option:
            env["DOCKER_HOST"] = option
        try:
            kwargs = kwargs_from_env(environment=env)
        except Exception as error:  # docker raises TLSParameterError and plain errors
            raise CredentialsError(
                f"docker TLS settings are invalid ({error})", "check DOCKER_CERT_PATH and DOCKER_TLS_VERIFY"
            ) from None
        return Endpoint(str(kwargs.get("base_url") or env["DOCKER_HOST"]),
                        "docker_host" if option else "DOCKER_HOST", kwargs.get("tls"))
    try:
        from docker.context import ContextAPI

        context = ContextAPI.get_current_context()
    except Exception:  # a broken ~/.docker/config.json falls back to the local socket
        context = None
    if context is not None and context.name != "default" and context.Host:
        return Endpoint(str(context.Host), f"context {context.name}", context.TLSConfig or None)
    return Endpoint(DEFAULT_LOCAL_SOCKET, "local socket")


def _named_context(name: str) -> Endpoint:
    from docker.context import ContextAPI

    try:
        context = ContextAPI.get_context(name)
    except Exception as error:  # a broken meta.json or TLS file
        raise InvalidInput(f"docker context {name!r} cannot be read ({error})",
                           "check it with: docker context inspect " + name) from None
    if context is None or not context.Host:
        raise InvalidInput(f"docker context {name!r} does not exist", "list them with: docker context ls")
    return Endpoint(str(context.Host), f"context {name}", context.TLSConfig or None)


@functools.cache
def client_class() -> type[APIClient]:
    from docker.api.client import APIClient

    class PinnedCaAPIClient(APIClient):  # type: ignore[misc]  # docker ships no type hints
        """requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE replace a session's CA bundle on every request;
        the engine's own CA (DOCKER_CERT_PATH/ca.pem) must win, as it does for the docker CLI."""

        def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                       cert: Any) -> dict[str, Any]:
            settings: dict[str, Any] = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if verify is None and isinstance(self.verify, str):
                settings["verify"] = self.verify
            return settings

    return PinnedCaAPIClient



def new_client(endpoint: Endpoint, version: str = "auto", timeout: int = API_TIMEOUT_S) -> APIClient:
    ssh = endpoint.base_url.startswith("ssh://")
    if ssh and not paramiko_available():
        # docker-py's ssh transport imports paramiko even when told to use the ssh binary.
        raise ProviderError(f"{endpoint.base_url}: ssh:// needs paramiko, which is not installed",
                            "pip install 'docker[ssh]'")
    try:
        if ssh:
            from pilothouse.providers.swarm.sshjump import jump_client, uses_proxyjump

            if uses_proxyjump(endpoint.base_url):
                return jump_client(client_class(), endpoint.base_url, version, timeout)
        return client_class()(
            base_url=endpoint.base_url,
            version=version,
            timeout=timeout,
            tls=endpoint.tls or False,
            # paramiko (docker[ssh]), not the ssh binary: its failures are exceptions we can translate,
            # its reads honour the timeout, and no ssh process writes over the console's screen.
            use_ssh_client=False,
        )
    except Exception as error:  # translated below
        raise translate_error(error, endpoint.base_url) from None
