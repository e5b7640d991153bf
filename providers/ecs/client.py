"""The boto3 session and clients of one ECS provider: profiles and SSO, endpoints, retries, credentials errors.

boto3 is imported here, in `connect`, and nowhere at module level: listing providers stays fast.
Unset options stay unset, so botocore resolves AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL(_ECS) itself.
ECS calls use botocore's `standard` retries; the rollback-history calls get one attempt (those APIs may be
missing), and CloudWatch Logs gets one client per region, built when first needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from typing import Any

from pilothouse.providers.base import LoginCommand
from pilothouse.providers.ecs.errors import LOGS_PERMISSIONS, AwsIdentity, operation_name, translate_error
from pilothouse.providers.ecs.raw import as_list, as_str
from pilothouse.providers.errors import CredentialsError, ProviderError, Unreachable

LIST_PAGE = 100  # AWS's most items per List* page
DESCRIBE_WORKERS = 8  # the provider's thread pool for batched describes and log reads


class AwsClients:
    """One session's ECS and CloudWatch Logs clients, and the identity error messages may name."""

    def __init__(self, *, profile: str, region: str, endpoint_url: str, logs_endpoint_url: str) -> None:
        self.profile = profile
        self.region = region
        self.endpoint_url = endpoint_url
        self.logs_endpoint_url = logs_endpoint_url
        self.identity = AwsIdentity(profile=profile or os.environ.get("AWS_PROFILE", "") or "default")
        self.ecs: Any = None
        self.history: Any = None
        self._session: Any = None
        self._config: Any = None
        self._logs: dict[str, Any] = {}
        self._logs_lock = threading.Lock()

    @property
    def connected(self) -> bool:
        return self.ecs is not None

    def connect(self) -> None:
        try:
            import boto3
            import botocore.session
            from botocore.config import Config
        except ImportError as error:  # pragma: no cover - boto3 is a dependency
            raise Unreachable("boto3 is not installed", "pip install boto3") from error
        try:
            core = botocore.session.Session(profile=self.profile or None)
            profile = str(core.get_config_variable("profile") or "default")
            profile_config = core.full_config.get("profiles", {}).get(profile, {})
            is_sso = bool(profile_config.get("sso_start_url") or profile_config.get("sso_session"))
            session = boto3.session.Session(botocore_session=core, region_name=self.region or None)
            self.identity = AwsIdentity(profile=profile, sso=is_sso, region=session.region_name or "",
                                        endpoint=self.endpoint_url)
            timeouts = {"connect_timeout": 5, "read_timeout": 20, "max_pool_connections": DESCRIBE_WORKERS + 2,
                        "user_agent_extra": "pilothouse"}
            self._session = session
            self._config = Config(retries={"mode": "standard"}, **timeouts)
            self.ecs = session.client("ecs", endpoint_url=self.endpoint_url or None, config=self._config)
            # Rollback history is a best effort: one attempt, no retries on the APIs that may not exist.
            self.history = session.client(
                "ecs", endpoint_url=self.endpoint_url or None,
                config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **timeouts))
            if not self.endpoint_url:
                self.identity = dataclasses.replace(self.identity, endpoint=str(self.ecs.meta.endpoint_url))
            if session.get_credentials() is None:
                raise CredentialsError(f"no AWS credentials found for profile {profile!r}",
                                       self.identity.login_hint())
        except ProviderError:
            raise
        except Exception as error:
            raise translate_error(error, self.identity) from None

    def forget_logs_clients(self) -> None:
        """After a login: the logs clients are built again from the new session when needed.

        The old ones are left to the garbage collector: a log follow may still be using one.
        """
        with self._logs_lock:
            self._logs.clear()

    def close(self) -> None:
        with self._logs_lock:
            logs_clients = list(self._logs.values())
            self._logs.clear()
        for client in (self.ecs, self.history, *logs_clients):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        self.ecs = self.history = None

    def call(self, operation: str, client: Any = None, **kwargs: Any) -> dict[str, Any]:
        """One ECS API call (boto3 method name), its errors translated."""
        if self.ecs is None:
            raise Unreachable("ECS provider is not connected", "connect first")
        try:
            result: dict[str, Any] = getattr(client or self.ecs, operation)(**kwargs)
        except Exception as error:
            raise translate_error(error, self.identity, operation_name(operation)) from None
        return result

    def pages(self, operation: str, key: str, **kwargs: Any) -> list[str]:
        """Every item of a paged List* call."""
        items: list[str] = []
        token = ""
        while True:
            page = self.call(operation, maxResults=LIST_PAGE, **({"nextToken": token} if token else {}), **kwargs)
            items.extend(str(x) for x in as_list(page.get(key)))
            token = as_str(page.get("nextToken"))
            if not token:
                return items

    def get_log_events(self, region: str, group: str, stream: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = self._logs_client(region).get_log_events(
                logGroupName=group, logStreamName=stream, **kwargs)
        except Exception as error:
            raise translate_error(error, self.identity, "GetLogEvents", "CloudWatch Logs",
                                  LOGS_PERMISSIONS) from None
        return result

    def _logs_client(self, region: str) -> Any:
        with self._logs_lock:
            client = self._logs.get(region)
            if client is None:
                if self._session is None:
                    raise Unreachable("ECS provider is not connected", "connect first")
                client = self._session.client("logs", region_name=region or None,
                                              endpoint_url=self.logs_endpoint_url or None, config=self._config)
                self._logs[region] = client
            return client

    def login_command(self) -> LoginCommand | None:
        """What the console should run (with the TUI suspended) to renew an SSO session, if SSO is in use."""
        if not self.identity.sso:
            return None
        return LoginCommand(("aws", "sso", "login", "--profile", self.identity.profile))
