"""The boto3 session and clients of one ECS provider: profiles and SSO, endpoints, retries, credentials errors.

boto3 is imported here, in `connect`, and nowhere at module level: listing providers stays fast.
Unset options stay unset, so botocore resolves AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL(_ECS) itself.
ECS calls use botocore's `standard` retries; the rollback-history calls get one attempt (those APIs may be
missing), and CloudWatch Logs gets one client per region, built when first needed. A one-shot command
(`one_shot(deadline)`) switches to botocore's `adaptive` mode (client-side rate limiting after throttling)
with a larger attempt budget, every wait and attempt bounded by the command's deadline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from pilothouse.providers.base import LoginCommand
from pilothouse.providers.completeness import DeadlineExceeded
from pilothouse.providers.ecs.errors import (
    LOGS_PERMISSIONS,
    THROTTLE_CODES,
    AwsIdentity,
    operation_name,
    translate_error,
)
from pilothouse.providers.ecs.raw import as_list, as_str
from pilothouse.providers.errors import CredentialsError, ProviderError, Unreachable

LIST_PAGE = 100  # AWS's most items per List* page
DESCRIBE_WORKERS = 8  # the provider's thread pool for batched describes and log reads
ONE_SHOT_ATTEMPTS = 10  # per call, for a one-shot command (the console keeps botocore's default, 3)
MAX_BACKOFF_S = 20.0  # botocore's own cap on a throttling backoff


def _is_throttling(response: Any) -> bool:
    if not isinstance(response, tuple) or len(response) != 2 or not isinstance(response[1], dict):
        return False
    code = response[1].get("Error", {}).get("Code", "")
    return code in THROTTLE_CODES


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
        self.elbv2: Any = None
        self.autoscaling: Any = None  # Application Auto Scaling, at the same endpoint as ECS
        self._session: Any = None
        self._config: Any = None
        self._logs: dict[str, Any] = {}
        self._logs_lock = threading.Lock()
        self.deadline: float | None = None  # a one-shot command's time.monotonic() deadline

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
            retries: dict[str, Any] = (
                {"mode": "adaptive", "total_max_attempts": ONE_SHOT_ATTEMPTS} if self.deadline is not None
                else {"mode": "standard"})
            self._config = Config(retries=retries, **timeouts)
            self.ecs = session.client("ecs", endpoint_url=self.endpoint_url or None, config=self._config)
            self.autoscaling = session.client("application-autoscaling", endpoint_url=self.endpoint_url or None,
                                              config=self._config)
            if self.deadline is not None:
                self._bound_by_deadline(self.ecs)
                self._bound_by_deadline(self.autoscaling)
            # Load balancers' target health (networks.py); an explicit endpoint_url (moto, a proxy) serves it too.
            self.elbv2 = session.client("elbv2", endpoint_url=self.endpoint_url or None, config=self._config)
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

    def one_shot(self, deadline: float) -> None:
        """From now on, calls retry harder (adaptive mode, more attempts) but never past `deadline`."""
        self.deadline = deadline
        if self.ecs is not None:
            with contextlib.suppress(Exception):
                self.ecs.close()
                self.autoscaling.close()
            self.ecs = self.autoscaling = None
            self.connect()

    def _bound_by_deadline(self, client: Any) -> None:
        """No attempt starts after the deadline, and no backoff sleeps past it (botocore's own backoff may
        wait up to 20 s before an attempt)."""
        def before_send(**_: Any) -> None:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise DeadlineExceeded("no answer within the --timeout (still retrying when it ran out)")

        def needs_retry(attempts: int = 1, response: Any = None, **_: Any) -> float | None:
            # Throttling only (the standard handler decides the rest): the same jittered exponential backoff,
            # cut to the time left; at the deadline, 0 lets before_send end the call at once.
            if self.deadline is None or not _is_throttling(response) or attempts >= ONE_SHOT_ATTEMPTS:
                return None
            delay = random.random() * min(MAX_BACKOFF_S, 2.0 ** (attempts - 1))
            return max(0.0, min(delay, self.deadline - time.monotonic()))

        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"before-send.{service}", before_send)
        client.meta.events.register_first(f"needs-retry.{service}", needs_retry)

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
        for client in (self.ecs, self.history, self.elbv2, self.autoscaling, *logs_clients):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        self.ecs = self.history = self.elbv2 = self.autoscaling = None

    def call(self, operation: str, client: Any = None, **kwargs: Any) -> dict[str, Any]:
        """One ECS API call (boto3 method name), its errors translated."""
        if self.ecs is None:
            raise Unreachable("ECS provider is not connected", "connect first")
        try:
            result: dict[str, Any] = getattr(client or self.ecs, operation)(**kwargs)
        except Exception as error:
            translated = translate_error(error, self.identity, operation_name(operation))
            translated.operation = translated.operation or operation_name(operation)
            raise translated from None
        return result

    def pages(self, operation: str, key: str, **kwargs: Any) -> list[str]:
        """Every item of a paged List* call."""
        return [item for page in self.each_page(operation, key, **kwargs) for item in page]

    def each_page(self, operation: str, key: str, **kwargs: Any) -> Iterator[list[str]]:
        """A paged List* call's items, a page at a time, the next page asked only when this one is taken."""
        token = ""
        while True:
            page = self.call(operation, maxResults=LIST_PAGE, **({"nextToken": token} if token else {}), **kwargs)
            yield [str(x) for x in as_list(page.get(key))]
            token = as_str(page.get("nextToken"))
            if not token:
                return

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
