"""boto3/botocore errors as the provider contract's typed errors, one line each, never a secret.

Throttling is one of them (Throttled): the provider keeps its last data and cools down (see provider.py);
botocore's own `standard` retries have already run by then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pilothouse.providers.errors import (
    CredentialsError,
    Forbidden,
    InvalidInput,
    NotFound,
    ProviderError,
    Throttled,
    Unreachable,
)

THROTTLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded",
    "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown",
})
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
CREDENTIAL_CODES = frozenset({
    "ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException", "InvalidClientTokenId",
    "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure", "MissingAuthenticationToken",
    "IncompleteSignature", "RequestExpired",
})
NOT_FOUND_CODES = frozenset({"ClusterNotFoundException", "ServiceNotFoundException", "ResourceNotFoundException"})
ECS_PERMISSIONS = "ecs:List*/Describe* (and UpdateService to scale/roll back)"
LOGS_PERMISSIONS = "logs:GetLogEvents on the service's log groups"


@dataclass(frozen=True, slots=True)
class AwsIdentity:
    """What error messages may say about the credentials in use: the profile, never a secret."""

    profile: str = "default"
    sso: bool = False
    region: str = ""
    endpoint: str = ""

    def login_hint(self) -> str:
        if self.sso:
            return f"run `aws sso login --profile {self.profile}`"
        return (f"run `aws configure --profile {self.profile}` (or `aws sso login --profile {self.profile}`"
                " for an SSO profile), or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")


def translate_error(error: Exception, identity: AwsIdentity, operation: str = "", service: str = "ECS",
                    permissions: str = ECS_PERMISSIONS) -> ProviderError:
    """Any boto3/botocore exception as a one-line typed error. Never includes credentials."""
    from botocore import exceptions as bx

    where = f"{service} {operation}" if operation else service
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, bx.ProfileNotFound):
        return CredentialsError(f"AWS profile {identity.profile!r} is not configured",
                                f"run `aws configure --profile {identity.profile}` or fix the profile name")
    if isinstance(error, bx.SSOError | bx.TokenRetrievalError):
        return CredentialsError(f"the AWS SSO session for profile {identity.profile!r} is missing or expired",
                                f"run `aws sso login --profile {identity.profile}`")
    if isinstance(error, bx.NoCredentialsError | bx.PartialCredentialsError | bx.CredentialRetrievalError):
        return CredentialsError(f"no usable AWS credentials for profile {identity.profile!r}",
                                identity.login_hint())
    if isinstance(error, bx.NoRegionError):
        return InvalidInput("no AWS region for this ECS cluster",
                            "set region = \"...\" in the config, or AWS_REGION / the profile's region")
    if isinstance(error, bx.ConnectionError | bx.HTTPClientError):
        target = identity.endpoint or f"{service} in {identity.region or 'the configured region'}"
        return Unreachable(f"cannot reach {target}", "check the network, VPN/proxy and endpoint_url")
    if isinstance(error, bx.ParamValidationError):
        return InvalidInput(f"{where}: invalid request: {' '.join(str(error).split())}")
    if isinstance(error, bx.ClientError):
        details = error.response.get("Error", {}) if isinstance(error.response, Mapping) else {}
        code = str(details.get("Code", "") or "")
        message = " ".join(str(details.get("Message", "") or "").split())
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in THROTTLE_CODES:
            return Throttled(f"AWS throttled {where} ({code})", "refreshing less often until it recovers")
        if code in DENIED_CODES:
            return Forbidden(f"{where} denied for profile {identity.profile!r}: {message or code}",
                             f"the IAM policy needs {permissions}")
        if code in CREDENTIAL_CODES:
            return CredentialsError(f"AWS rejected the credentials of profile {identity.profile!r} ({code})",
                                    identity.login_hint())
        if code in NOT_FOUND_CODES:
            return NotFound(f"{where}: {message or code}")
        if code in ("InvalidParameterException", "ClientException", "ValidationException"):
            return InvalidInput(f"{where}: {message or code}")
        if isinstance(status, int) and status >= 500:
            return ProviderError(f"{where} failed on the AWS side (HTTP {status})", "retrying on the next refresh")
        return ProviderError(f"{where} failed: {code or 'error'}{': ' + message[:200] if message else ''}")
    if isinstance(error, bx.BotoCoreError):
        return ProviderError(f"{where} failed: {' '.join(str(error).split())[:300]}")
    return ProviderError(f"{where} failed unexpectedly: {type(error).__name__}")


def operation_name(method: str) -> str:
    """The API's own name of a boto3 method: list_services -> ListServices."""
    return "".join(part.capitalize() for part in method.split("_"))
