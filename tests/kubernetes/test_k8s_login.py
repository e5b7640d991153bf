"""An exec credential plugin that must ask the operator: offered as a login command, run interactively with
its token kept off the terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from apiserver import ApiServer
from k8s_support import ProviderFactory

from providers.kubernetes import KubernetesProvider


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
