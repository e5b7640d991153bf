"""Engine, HTTP and transport (TLS, ssh) failures -> providers.errors: one typed line with a hint.

No certificate, key or secret content ever reaches the message.
"""

from __future__ import annotations

from collections.abc import Iterator

from pilothouse.providers.errors import (
    Conflict,
    ConnectionRefused,
    CredentialsError,
    Forbidden,
    InvalidInput,
    NotFound,
    NotSupported,
    ProviderError,
    Unreachable,
)
from pilothouse.providers.swarm.raw import as_str

NOT_A_MANAGER = "this engine is not a swarm manager"


class NotSwarmManager(ProviderError):
    """The engine answers, but cannot serve the swarm's state (not in a swarm, or a worker)."""


def paramiko_available() -> bool:
    """docker's ssh:// transport needs paramiko; both the client and the ssh error mapping ask."""
    try:
        import paramiko  # noqa: F401
    except ImportError:
        return False
    return True


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps: requests, urllib3 and docker nest the real cause several levels deep."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError keeps it here, not in __cause__
        current = current.__cause__ or current.__context__ or (reason if isinstance(reason, BaseException) else (
            current.args[0] if current.args and isinstance(current.args[0], BaseException) else None))


PLAIN_HTTP_TO_TLS = "client sent an http request to an https server"
# TLS alerts with which an engine refuses the client's certificate (missing, or signed by a CA it does not trust).
_CLIENT_CERT_REFUSED = ("CERTIFICATE_REQUIRED", "UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN",
                        "DECRYPT_ERROR", "HANDSHAKE_FAILURE")


def _tls_error(error: BaseException, endpoint: str) -> ProviderError | None:
    """A TLS failure anywhere in the chain -> what to fix, never the certificates' or keys' contents."""
    import ssl

    for cause in _causes(error):
        if PLAIN_HTTP_TO_TLS in str(cause).lower():
            return CredentialsError(
                f"the engine at {endpoint} speaks TLS, but the connection was plain HTTP",
                "set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to a directory with ca.pem, cert.pem and key.pem",
            )
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = as_str(cause.verify_message)
            if "mismatch" in detail.lower():
                return CredentialsError(f"the engine's TLS certificate does not name the host of {endpoint}",
                                        "connect by a name or address its certificate lists (subjectAltName)")
            return CredentialsError(
                f"the engine at {endpoint} presented a certificate that the CA in DOCKER_CERT_PATH did not sign"
                + (f" ({detail})" if detail else ""),
                "put the CA that signed the engine's certificate (dockerd --tlscacert) in DOCKER_CERT_PATH/ca.pem",
            )
        if isinstance(cause, ssl.SSLError):
            reason = as_str(getattr(cause, "reason", "")) or type(cause).__name__
            if any(alert in reason for alert in _CLIENT_CERT_REFUSED):
                return CredentialsError(
                    f"the engine at {endpoint} refused the client certificate ({reason})",
                    "DOCKER_CERT_PATH/cert.pem and key.pem must be signed by the CA the engine trusts",
                )
            if isinstance(cause, ssl.SSLEOFError):
                # TLS 1.3: the server checks the client certificate after the client's side of the handshake
                # is done; a refusal then reaches us as an alert or, depending on timing, as a bare EOF.
                return CredentialsError(
                    f"the engine at {endpoint} ended the TLS handshake ({reason}): it most likely refused the "
                    "client certificate",
                    "DOCKER_CERT_PATH/cert.pem and key.pem must be signed by the CA the engine trusts",
                )
            return CredentialsError(f"TLS handshake with {endpoint} failed ({reason})",
                                    "check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY")
    return None


def _ssh_error(error: BaseException, endpoint: str) -> ProviderError | None:
    """paramiko's failures (docker's ssh:// transport) -> one line naming the endpoint."""
    if not endpoint.startswith("ssh://") or not paramiko_available():
        return None
    import paramiko

    from pilothouse.providers.swarm.sshjump import JumpHostFailed

    jump = next((cause for cause in _causes(error) if isinstance(cause, JumpHostFailed)), None)
    if jump is not None:
        # The failure was at a jump host: name it, and judge by what went wrong there.
        endpoint = f"{endpoint} (ProxyJump {jump.hop.alias}, {jump.hop.hostname}:{jump.hop.port})"
        error = jump.__cause__ or jump
    for cause in _causes(error):
        if isinstance(cause, paramiko.BadHostKeyException):
            return CredentialsError(f"the ssh host key of {endpoint} does not match ~/.ssh/known_hosts",
                                    "if the host was reinstalled, replace its line in known_hosts")
        if isinstance(cause, paramiko.PasswordRequiredException):
            return CredentialsError(f"the ssh key for {endpoint} is protected by a passphrase",
                                    "load it into ssh-agent (ssh-add) first")
        if isinstance(cause, paramiko.AuthenticationException):
            return CredentialsError(
                f"ssh authentication to {endpoint} failed",
                "check the IdentityFile in ~/.ssh/config (or ssh-agent) and the remote authorized_keys",
            )
        if isinstance(cause, paramiko.SSHException):
            text = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
            if "known_hosts" in text:
                return CredentialsError(f"{endpoint}: the host is not in ~/.ssh/known_hosts",
                                        "connect once with ssh to check and record its host key")
            return Unreachable(f"ssh connection to {endpoint} failed ({text[:160]})",
                               "check that sshd runs there and that `docker` is installed on that host")
    if jump is not None:
        return Unreachable(f"ssh connection to {endpoint} failed ({str(jump).split(': ', 1)[-1][:160]})",
                           "check that jump host and its entry in ~/.ssh/config")
    return None


def _nothing_listens(error: BaseException) -> bool:
    """Refused, no such socket, unknown host: somewhere in the chain requests and urllib3 wrap around it."""
    import socket

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError | FileNotFoundError | socket.gaierror):
            return True
        text = str(current)
        if "Connection refused" in text or "No such file or directory" in text or "Name or service not known" in text:
            return True
        current = current.__cause__ or current.__context__ or (current.args[0] if current.args and isinstance(
            current.args[0], BaseException) else None)
    return False


def translate_error(error: Exception, endpoint: str) -> ProviderError:
    """Any docker/requests exception -> one typed, one-line error with a hint."""
    if isinstance(error, ProviderError):
        return error
    import docker.errors
    import requests.exceptions

    transport_error = _tls_error(error, endpoint) or _ssh_error(error, endpoint)
    if transport_error is not None:
        return transport_error

    if isinstance(error, docker.errors.APIError):
        explanation = as_str(getattr(error, "explanation", "")) or str(error)
        status = error.status_code or 0
        lowered = explanation.lower()
        if "update out of sequence" in lowered or status == 409:
            return Conflict(
                f"the service changed since it was read ({explanation})",
                "refresh and decide again; nothing was changed",
            )
        if "not a swarm manager" in lowered or "not part of a swarm" in lowered:
            return NotSwarmManager(NOT_A_MANAGER, f"{endpoint}: point docker_host at a manager node")
        if status == 503 or "code = unavailable" in lowered:
            # Any other 503: a manager starting or stopping, for a few seconds; an outage, not a wrong address.
            return Unreachable(f"the swarm manager at {endpoint} is not available ({explanation[:160]})",
                               "it may be restarting; pilothouse keeps retrying")
        if "does not have a previous spec" in lowered:
            return NotSupported("nothing to roll back to", "the service has no previous spec")
        if isinstance(error, docker.errors.NotFound) or status == 404:
            return NotFound(explanation, "refresh: it may have been removed")
        if status in (401, 403):
            return Forbidden(explanation, f"the credentials for {endpoint} are not allowed to do this")
        if status == 400:
            return InvalidInput(explanation)
        return ProviderError(f"docker engine error {status}: {explanation}")
    if isinstance(error, docker.errors.TLSParameterError):
        return CredentialsError(f"docker TLS settings are invalid ({error})", "check DOCKER_CERT_PATH")
    if isinstance(error, requests.exceptions.SSLError):
        return CredentialsError(f"TLS handshake with {endpoint} failed", "check DOCKER_CERT_PATH and the CA")
    if isinstance(error, requests.exceptions.Timeout):
        return Unreachable(f"docker engine at {endpoint} timed out", "is it overloaded or behind a firewall?")
    if _nothing_listens(error):
        return ConnectionRefused(
            f"nothing answers at {endpoint} (connection refused or no such socket)",
            "check docker_host in the config (or DOCKER_HOST), and that dockerd runs there",
        )
    if isinstance(error, requests.exceptions.ConnectionError | docker.errors.DockerException | OSError):
        return Unreachable(
            f"cannot reach the docker engine at {endpoint}",
            "is dockerd running there? set docker_host in the config or DOCKER_HOST",
        )
    return ProviderError(f"unexpected docker error: {error!r}")
