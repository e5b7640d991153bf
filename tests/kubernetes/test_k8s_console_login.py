"""An interactive login from the console, end to end in a real pseudo-terminal, against the API test server.

The context's exec credential plugin needs a one-time code the first time (as kubelogin or an SSO device
flow do). In the background the console must run it non-interactively, keeping its prompt and stderr off
the screen; from the palette ("log in NAME") it runs with the TUI suspended, the operator answers on the
terminal, and the cluster connects without a restart. The token never reaches the terminal.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver import ApiServer
from k8s_objects import deployment
from k8s_support import wait_until, write_config
from terminal import drain, read_until

pytestmark = pytest.mark.kubernetes

TOKEN = "e2e-bearer-token-5f2c"
CODE = "424242"
ALT_SCREEN_ON = b"\x1b[?1049h"
ALT_SCREEN_OFF = b"\x1b[?1049l"

PLUGIN = """
import json, os, sys
info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])
interactive = info['spec']['interactive']
with open({runs!r}, 'a') as runs:
    runs.write('interactive=%s stdin_is_tty=%s\\n' % (interactive, os.isatty(0)))
if os.path.exists({cache!r}):
    token = open({cache!r}).read()
else:
    sys.stderr.write('PLUGIN-STDERR: no cached token\\n')
    sys.stderr.flush()
    if not interactive:
        sys.exit(1)
    sys.stderr.write('one-time code: ')
    sys.stderr.flush()
    if sys.stdin.readline().strip() != {code!r}:
        sys.exit(1)
    token = {token!r}
    open({cache!r}, 'w').write(token)
print(json.dumps({{'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': {{'token': token}}}}))
"""


@pytest.fixture
def token_server() -> Iterator[ApiServer]:
    server = ApiServer(token=TOKEN).start()
    yield server
    server.stop()


def test_log_in_from_the_palette_with_the_tui_suspended(token_server: ApiServer, tmp_path: Path) -> None:
    token_server.state.put(deployment("checkout", replicas=1))
    runs, cache = tmp_path / "plugin-runs", tmp_path / "token-cache"
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN.format(runs=str(runs), cache=str(cache), code=CODE, token=TOKEN))
    kubeconfig = token_server.write_kubeconfig(tmp_path / "kubeconfig", exec_command=[sys.executable, str(plugin)])
    config = write_config(tmp_path / "config.toml", kubeconfig, name="k8s")

    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "30"}
    child = subprocess.Popen([sys.executable, "-m", "pilothouse", "--config", str(config)], stdin=terminal,
                             stdout=terminal, stderr=terminal, env=env, start_new_session=True)
    os.close(terminal)
    screen = b""
    try:
        screen += read_until(controller, ALT_SCREEN_ON, timeout=20)
        assert ALT_SCREEN_ON in screen, "the console did not start"
        # The refresh thread ran the plugin non-interactively; its failure shows as refused credentials.
        wait_until(lambda: runs.exists() and "interactive=False" in runs.read_text(), timeout=20,
                   what="the plugin run by the refresh thread")
        hint = b"to log in: ctrl+p, then 'log in k8s'"
        screen += read_until(controller, hint, timeout=20)
        assert hint in screen, "the header does not say how to log in"
        screen += drain(controller)
        assert b"PLUGIN-STDERR" not in screen, "the plugin's stderr was drawn over the TUI"
        assert "interactive=True" not in runs.read_text()

        os.write(controller, b"\x10")  # ctrl+p: the command palette
        screen += read_until(controller, b"Search for commands", timeout=10)
        os.write(controller, b"log in k8s")
        screen += read_until(controller, b"console suspended", timeout=10)
        assert b"console suspended" in screen, "no log-in command in the palette"
        os.write(controller, b"\r")

        prompt = read_until(controller, b"one-time code: ", timeout=20)
        screen += prompt
        assert ALT_SCREEN_OFF in prompt, "the TUI was not suspended for the login"
        os.write(controller, CODE.encode() + b"\n")

        resumed = read_until(controller, b"checkout", timeout=30)
        screen += resumed
        assert ALT_SCREEN_ON in resumed and b"checkout" in resumed, "the cluster did not connect after the login"
        assert cache.read_text() == TOKEN
        assert "interactive=True stdin_is_tty=True" in runs.read_text()

        os.write(controller, b"q")
        assert child.wait(timeout=10) == 0
        screen += drain(controller)
    finally:
        if child.poll() is None:
            child.kill()
        os.close(controller)
    assert TOKEN.encode() not in screen, "the bearer token reached the terminal"
    assert b"Traceback" not in screen
