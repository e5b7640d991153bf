"""Kubernetes API and transport failures as typed provider errors, each with a one-line hint.

The SDK's exception types are imported only when an error is translated (the SDK loads lazily).
"""

from __future__ import annotations

import json
from typing import Any

from pilothouse.providers.errors import (
    Conflict,
    CredentialsError,
    Forbidden,
    InvalidInput,
    NotFound,
    ProviderError,
    Throttled,
    Unreachable,
)
from pilothouse.providers.kubernetes.objects import _dict, _str


def _status_message(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body.strip().splitlines()[0][:200] if body.strip() else ""
        return _str(_dict(parsed).get("message"))
    return ""


def translate_error(error: BaseException, doing: str, endpoint: str) -> ProviderError:
    """Any client/transport failure as a typed provider error with a one-line hint."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from urllib3.exceptions import HTTPError as Urllib3Error

    if isinstance(error, ProviderError):
        return error
    if isinstance(error, ApiException):
        status = error.status or 0
        message = _status_message(error.body) or _str(error.reason) or f"HTTP {status}"
        text = f"{doing}: {message}"
        if status == 401:
            return CredentialsError(text, f"the credentials for {endpoint} were refused; log in again")
        if status == 403:
            return Forbidden(text, "ask for RBAC permission, or limit `namespaces` to ones you may read")
        if status == 404:
            return NotFound(text)
        if status == 409:
            return Conflict(text, "the object changed meanwhile; refresh and decide again")
        if status == 429:
            return Throttled(text, "the API server asks to slow down; retrying later")
        if status in (400, 415, 422):
            return InvalidInput(text)
        if status == 0:
            return Unreachable(f"{doing}: {message}", f"check that {endpoint} is reachable")
        return ProviderError(f"{text} (HTTP {status})", "the API server failed; retrying with backoff")
    if isinstance(error, ConfigException):
        text = _str(error) or "invalid kubeconfig"
        if "exec" in text.lower() or "token" in text.lower():
            return CredentialsError(f"{doing}: {text}", "check the context's credential plugin and log in again")
        return InvalidInput(f"{doing}: {text}")
    if isinstance(error, Urllib3Error | OSError):
        return Unreachable(f"{doing}: cannot reach {endpoint} ({type(error).__name__})",
                           "check the network, VPN or cluster address")
    return ProviderError(f"{doing}: {error!r}")

