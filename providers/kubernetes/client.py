"""The connection to one cluster: the kubeconfig, the private ApiClient, exec credential plugins, requests.

Built on the official `kubernetes` client, imported only when a connection is loaded. Requests go through
the client's own ApiClient (auth, TLS, exec credential plugins and token refresh are the client's) but
return plain dicts (or the raw response of a stream); no SDK object leaves this package.

Decisions worth knowing:
- Credentials: the client's own (tokens, client certificates, exec credential plugins). After a 401 the
  kubeconfig is loaded again, which re-runs an exec plugin (client-go does the same), at most every
  AUTH_RELOAD_MIN_S; `credentials_renewed()` (after an interactive login) does it at once. The console
  runs plugins non-interactively in the background; `login_command()` is the interactive path, run with
  the TUI suspended.
- A configured `kubeconfig` that does not exist is a config error when the provider is built (exit 2
  before any request); the $KUBECONFIG/default path is looked at on connect.
- A token refresh never rewrites the user's kubeconfig (persist_config=False).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pilothouse.providers.base import LoginCommand
from pilothouse.providers.errors import InvalidInput, ProviderError
from pilothouse.providers.kubernetes.errors import translate_error
from pilothouse.providers.kubernetes.objects import WATCHED_KINDS, Obj, _dict, _list, _str

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

LOGIN_CACHE_S = 60.0
# After a 401 the kubeconfig is read again (re-running an exec plugin, as client-go does), at most this often.
AUTH_RELOAD_MIN_S = 2.0


class Request(Protocol):
    """One API call: a JSON dict back (or, with `stream`, the raw response); `doing` names the call in a
    translated error (without it the client's own exception is raised)."""

    def __call__(
        self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
        content_type: str = "", stream: bool = False, read_timeout: float | None = None, doing: str = "",
        accept: str = "application/json",
    ) -> Any: ...


class ClientSettings(Protocol):
    """The provider's values the connection reads, live (tests shorten the timeouts on the provider)."""

    @property
    def connect_timeout_s(self) -> float: ...
    @property
    def request_timeout_s(self) -> float: ...
    @property
    def max_log_follow_streams(self) -> int: ...


def interrupt_response(response: Any) -> None:
    """Unblock a read in progress on `response` from another thread (shutdown wakes a blocked recv)."""
    with contextlib.suppress(Exception):
        shutdown = getattr(response, "shutdown", None)
        if shutdown is not None:
            shutdown()
        response.close()


def close_response(response: Any) -> None:
    """Close a response that may be unread: its connection is closed, not handed back mid-stream."""
    with contextlib.suppress(Exception):
        response.close()
    with contextlib.suppress(Exception):
        response.release_conn()


def context_namespace(config_file: str, context: str) -> str:
    """The namespace a kubeconfig context names, else "default" (kubectl's rule)."""
    from kubernetes import config

    try:
        contexts, _active = config.list_kube_config_contexts(config_file=config_file)
    except Exception:  # already loaded once by the caller; a failure here only loses the namespace
        return "default"
    for entry in _list(contexts):
        if _str(_dict(entry).get("name")) == context:
            return _str(_dict(_dict(entry).get("context")).get("namespace")) or "default"
    return "default"


def exec_plugin(paths: list[Path], context: str) -> Obj:
    """The `users[].user.exec` block of `context` (or the current context), merged over kubeconfig files the
    way kubectl merges them: the first file that names a thing wins."""
    import yaml

    documents: list[Obj] = []
    for path in paths:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(loaded, dict):
            documents.append(loaded)
    if not context:
        context = next((_str(doc.get("current-context")) for doc in documents if doc.get("current-context")), "")

    def named(section: str, name: str) -> Obj:
        for doc in documents:
            for entry in map(_dict, _list(doc.get(section))):
                if _str(entry.get("name")) == name:
                    return entry
        return {}

    user = _str(_dict(named("contexts", context).get("context")).get("user"))
    return _dict(_dict(named("users", user).get("user")).get("exec")) if user else {}


class Connection:
    """The ApiClient of one cluster, loaded from the kubeconfig and loaded again after credentials were
    refused; replaced clients are kept until close(), as other threads may still use them."""

    def __init__(self, name: str, options: Mapping[str, Any], settings: ClientSettings) -> None:
        self.name, self.options, self.settings = name, options, settings
        self.endpoint = ""
        self.context_namespace = "default"  # the context's own, read with the kubeconfig
        self._login_cache: tuple[float, LoginCommand | None] | None = None
        self._api: ApiClient | None = None
        self._api_lock = threading.Lock()
        self._api_loaded_at = 0.0
        self._auth_refused = False  # a 401 since the client was loaded: load it again (new exec token)
        self._retired_apis: list[ApiClient] = []  # replaced while other threads may still use them
        if _str(options.get("kubeconfig")):
            # A configured path that does not exist is a config error (exit 2 before anything is sent),
            # not an outage to retry; the $KUBECONFIG/default path is looked at on connect.
            raw, paths = self.kubeconfig_paths()
            if not any(path.is_file() for path in paths):
                raise InvalidInput(f"kubeconfig {raw} not found",
                                   f"fix `kubeconfig` for cluster {self.name!r} in the config")

    @property
    def loaded(self) -> bool:
        return self._api is not None

    def kubeconfig_paths(self) -> tuple[str, list[Path]]:
        raw = _str(self.options.get("kubeconfig")) or os.environ.get("KUBECONFIG") or "~/.kube/config"
        paths = [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
        return raw, paths

    def login_command(self) -> LoginCommand | None:
        """The context's exec credential plugin, to run interactively (a browser or device-code login).

        In the console's worker threads the client runs plugins non-interactively (stdout is not a tty), so
        a plugin that must ask fails there; run here with the TUI suspended, it can ask, and caches its token
        for the next refresh. Its stdout carries the token itself, so the console hides it.
        """
        now = time.monotonic()
        cached = self._login_cache
        if cached is None or now - cached[0] > LOGIN_CACHE_S:
            # The console asks on every keystroke in its palette: read the kubeconfig at most once a minute.
            cached = self._login_cache = (now, self._read_login_command())
        return cached[1]

    def _read_login_command(self) -> LoginCommand | None:
        exec_config = exec_plugin(self.kubeconfig_paths()[1], _str(self.options.get("context")))
        if not exec_config:
            return None
        command = _str(exec_config.get("command"))
        if not command:
            return None
        args = tuple(_str(arg) for arg in _list(exec_config.get("args")))
        env = {_str(item.get("name")): _str(item.get("value")) for item in map(_dict, _list(exec_config.get("env")))
               if _str(item.get("name"))}
        info = {"apiVersion": _str(exec_config.get("apiVersion")) or "client.authentication.k8s.io/v1",
                "kind": "ExecCredential", "spec": {"interactive": True}}
        env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
        return LoginCommand((command, *args), env=env, hide_output=True)

    def load(self) -> ApiClient:
        """A new ApiClient from the kubeconfig (also reads the endpoint and the context's namespace)."""
        from kubernetes import client, config

        raw, paths = self.kubeconfig_paths()
        existing = [p for p in paths if p.is_file()]
        if not existing:
            raise InvalidInput(
                f"kubeconfig {raw} not found",
                f"set `kubeconfig` for cluster {self.name!r} or the KUBECONFIG variable",
            )
        config_file = os.pathsep.join(str(p) for p in existing)
        context = _str(self.options.get("context")) or None
        configuration = client.Configuration()
        try:
            # persist_config=False: a token refresh must never rewrite the user's kubeconfig.
            config.load_kube_config(
                config_file=config_file, context=context, client_configuration=configuration,
                persist_config=False,
            )
            if context is None:
                _, active = config.list_kube_config_contexts(config_file=config_file)
                context = _str(_dict(active).get("name"))
        except Exception as error:  # yaml, IO and ConfigException alike
            translated = translate_error(error, f"kubeconfig {raw}", raw)
            if type(translated) is ProviderError:
                translated = InvalidInput(f"kubeconfig {raw}: {error}")
            raise translated from error
        # One retry: a pooled keep-alive connection the server closed is retried, a dead host is not.
        configuration.retries = 1
        # Every watch and every followed log holds a connection; a pool smaller than that discards (and
        # warns about) connections as they come back.
        namespaces = len(_list(self.options.get("namespaces"))) or 1
        configuration.connection_pool_maxsize = max(
            configuration.connection_pool_maxsize or 0,
            len(WATCHED_KINDS) * namespaces + self.settings.max_log_follow_streams + 4,
        )
        self.endpoint = f"context {context} ({configuration.host})"
        self.context_namespace = context_namespace(config_file, context) if context else "default"
        return client.ApiClient(configuration)

    def client(self) -> ApiClient:
        """The API client, loaded again from the kubeconfig after credentials were refused."""
        with self._api_lock:
            stale = self._auth_refused and time.monotonic() - self._api_loaded_at >= AUTH_RELOAD_MIN_S
            if self._api is None or stale:
                api = self.load()
                if self._api is not None:
                    self._retired_apis.append(self._api)
                self._api, self._api_loaded_at, self._auth_refused = api, time.monotonic(), False
            return self._api

    def credentials_renewed(self) -> None:
        """Load the kubeconfig again at the next request (after an interactive login)."""
        # No lock: this runs on the UI thread, and a loader may hold the lock while an exec plugin runs.
        self._api_loaded_at, self._auth_refused = 0.0, True

    def request(
        self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
        content_type: str = "", stream: bool = False, read_timeout: float | None = None, doing: str = "",
        accept: str = "application/json",
    ) -> Any:
        """One API call through the client's transport and auth; JSON dict back (or the raw stream)."""
        api = self.client()
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        timeout = (self.settings.connect_timeout_s, read_timeout or self.settings.request_timeout_s)
        try:
            response = api.call_api(
                path, method, query_params=list((query or {}).items()), header_params=headers, body=body,
                auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True,
                _request_timeout=timeout,
            )
            if stream:
                return response
            data = response.data
            return json.loads(data) if data else {}
        except Exception as error:
            if getattr(error, "status", None) == 401:
                self._auth_refused = True
            if doing:
                raise translate_error(error, doing, self.endpoint) from error
            raise

    def close(self) -> None:
        with self._api_lock:
            apis, self._retired_apis = [*self._retired_apis, *([self._api] if self._api else [])], []
            self._api = None
        for api in apis:
            with contextlib.suppress(Exception):
                api.close()
