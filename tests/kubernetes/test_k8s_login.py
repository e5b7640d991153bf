"""An exec credential plugin that must ask the operator: offered as a login command, run interactively with
its token kept off the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from apiserver import ApiServer
from k8s_objects import deployment
from k8s_support import ProviderFactory, wait_until, write_config

from pilothouse.providers.errors import CredentialsError
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.model import ConnectionState


def plugin(tmp_path: Path, token: str) -> list[str]:
    """A credential plugin that reports whether it was run interactively, and prints its token."""
    script = tmp_path / "plugin.py"
    script.write_text(
        "import json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "sys.stderr.write('interactive=%s\\n' % info['spec']['interactive'])\n"
        f"print(json.dumps({{'apiVersion': info['apiVersion'], 'kind': 'ExecCredential',"
        f" 'status': {{'token': {token!r}}}}}))\n"
    )
    return [sys.executable, str(script), "--login"]


def test_exec_plugin_is_the_login_command_and_its_token_stays_hidden(
    apiserver: ApiServer, tmp_path: Path, make_provider: ProviderFactory
) -> None:
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "exec-kubeconfig", exec_command=plugin(tmp_path, "t0ken"))
    provider = make_provider(kubeconfig=str(kubeconfig))
    command = provider.login_command()
    assert command is not None
    assert command.argv[1:] == (str(tmp_path / "plugin.py"), "--login")
    assert command.hide_output, "the plugin prints a bearer token"
    assert "t0ken" not in command.describe()
    ran = subprocess.run(command.argv, env={**command.env}, capture_output=True, text=True, check=True)
    assert ran.stderr.strip() == "interactive=True"
    assert json.loads(ran.stdout)["kind"] == "ExecCredential"


def test_a_token_user_needs_no_login(provider: KubernetesProvider) -> None:
    assert provider.login_command() is None


def token_file_plugin(tmp_path: Path) -> tuple[list[str], Path]:
    """A credential plugin that hands out the token a login left in a file, and fails without one."""
    token_file = tmp_path / "token-cache"
    script = tmp_path / "cached-plugin.py"
    script.write_text(
        "import json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        f"path = {str(token_file)!r}\n"
        "if not os.path.exists(path):\n"
        "    sys.stderr.write('no cached token: log in first\\n')\n"
        "    sys.exit(1)\n"
        "token = open(path).read().strip()\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential',"
        " 'status': {'token': token}}))\n"
    )
    return [sys.executable, str(script)], token_file


def test_a_login_is_picked_up_at_once_without_a_restart(
    apiserver: ApiServer, tmp_path: Path, make_provider: ProviderFactory
) -> None:
    apiserver.state.put(deployment("web", replicas=1))
    command, token_file = token_file_plugin(tmp_path)
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "exec-kubeconfig", exec_command=command)
    provider = make_provider(kubeconfig=str(kubeconfig))
    with pytest.raises(CredentialsError):
        provider.connect()  # the plugin failed: no token, and the server said 401

    token_file.write_text(apiserver.token)  # what the interactive login leaves behind
    provider.credentials_renewed()
    provider.connect()
    provider.backoff_initial_s = provider.backoff_max_s = 3600.0  # only credentials_renewed() can cut it short
    assert provider.snapshot().service("prod/web") is not None


def test_a_rotated_token_is_fetched_again_after_a_401(
    apiserver: ApiServer, tmp_path: Path, make_provider: ProviderFactory
) -> None:
    """As client-go: credentials refused -> the exec plugin runs again (EKS tokens last 15 minutes)."""
    apiserver.state.put(deployment("web", replicas=1))
    command, token_file = token_file_plugin(tmp_path)
    token_file.write_text(apiserver.token)
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "exec-kubeconfig", exec_command=command)
    provider = make_provider(kubeconfig=str(kubeconfig))
    provider.connect()
    provider.start_watch(lambda: None)
    assert provider.snapshot().state is ConnectionState.CONNECTED

    apiserver.token = "rotated-token"
    token_file.write_text("rotated-token")
    apiserver.state.drop_watches()  # the watches reconnect, are refused once, and come back with the new token
    apiserver.state.update("deployments", "prod", "web", lambda d: d["spec"].__setitem__("replicas", 4))
    wait_until(lambda: (web := provider.snapshot().service("prod/web")) is not None and web.desired == 4,
               timeout=15, what="the change seen with the rotated token")


def test_a_failing_plugin_leaves_nothing_on_stderr(apiserver: ApiServer, tmp_path: Path) -> None:
    """The client reports the plugin's failure on the root logger: that goes to the log file, not the terminal."""
    command, _token_file = token_file_plugin(tmp_path)
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "exec-kubeconfig", exec_command=command)
    config = write_config(tmp_path / "config.toml", kubeconfig, name="k8s")
    ran = subprocess.run([sys.executable, "-m", "pilothouse", "--config", str(config), "status"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert ran.returncode == 1, ran  # the cluster refused: status reports it and exits 1
    assert "log in again" in ran.stdout
    assert ran.stderr == ""
    log = (Path(os.environ["XDG_STATE_HOME"]) / "pilothouse" / "pilothouse.log").read_text()
    assert "no cached token: log in first" in log  # the plugin's own words, kept for the operator
