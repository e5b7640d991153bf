"""Hostile cluster text end to end on Kubernetes: a workload owner writes terminal escapes (title, clipboard,
clear screen, 8-bit CSI), bidi overrides and markup into an Event message, a pod's waiting reason, an image,
an annotation, and secrets into env values and a command. Through the real client and the API test server,
`pilothouse status/events/doctor/rollout` and the console's service screen show none of it raw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from apiserver import ApiServer
from hostile import FORBIDDEN, screen_text, settle
from k8s_objects import deployment, event, node, pod, replicaset
from k8s_support import write_config

from pilothouse.console.app import PilothouseApp
from pilothouse.console.cli import main
from pilothouse.console.config import AppConfig
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.console.screens.service import ServiceScreen
from pilothouse.providers.base import ClusterConfig
from pilothouse.widgets.diff_table import DiffTable

pytestmark = pytest.mark.kubernetes

TITLE = "\x1b]0;pwned-title\x07"
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"
CLEAR = "\x1b[2J"
CSI8 = "\x9b2J"
HOSTILE = f"{TITLE}{CLIPBOARD}{CLEAR}{CSI8}\u202eevil[/][@click=app.quit]x[/]"
SECRETS = ("hunter2", "IOSFODNN7EXAMPLE")


def plant(api: ApiServer) -> None:
    state = api.state
    web = deployment("web", f"registry.local/web:1.1{HOSTILE}", 2, revision=2)
    web["metadata"]["annotations"]["kubernetes.io/change-cause"] = f"deploy {HOSTILE}"
    web["metadata"]["annotations"]["note"] = HOSTILE
    app_container = web["spec"]["template"]["spec"]["containers"][0]
    app_container["env"] += [{"name": "DATABASE_URL", "value": "postgres://admin:hunter2@db:5432/app"},
                             {"name": "CONFIG_BLOB", "value": "AKIAIOSFODNN7EXAMPLE"},
                             {"name": "BANNER", "value": HOSTILE}]
    app_container["command"] = ["sh", "-c", f"app --db-password=hunter2 {HOSTILE}"]
    web = state.put(web)
    rs = state.put(replicaset(web, f"registry.local/web:1.1{HOSTILE}", 2, "7d9f8c", 2))
    state.put(pod(rs, "web-7d9f8c-aaaaa", version_label=("pod-template-hash", "7d9f8c"), ready=False, restarts=3,
                  waiting=(f"CrashLoopBackOff{HOSTILE}", f"back-off {HOSTILE}")))
    state.put(pod(rs, "web-7d9f8c-bbbbb", version_label=("pod-template-hash", "7d9f8c")))
    state.put(node("node-1"))
    state.put(event("Pod", "web-7d9f8c-aaaaa", "BackOff", f"Back-off restarting {HOSTILE}", warning=True))
    state.put(event("Deployment", "web", "ScalingReplicaSet", f"Scaled up {HOSTILE}"))


def printed_clean(where: str, text: str) -> None:
    found = FORBIDDEN.search(text)
    assert found is None, f"{where}: {found.group(0)!r} printed"
    assert not [secret for secret in SECRETS if secret in text], f"{where}: a secret printed"


def test_cli_text_outputs_carry_no_escape_from_the_cluster(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    plant(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    for verb in (["status"], ["events"], ["doctor"], ["rollout", "k8s/prod/web"]):
        code = main(["--config", config, *verb])
        out, err = capsys.readouterr()
        printed_clean(verb[0], out + err)
        assert "evil[/][@click=app.quit]x[/]" in out or verb[0] != "status", "markup printed as written"
        assert code in (0, 1), err
    main(["--config", config, "events"])
    out, _ = capsys.readouterr()
    assert "Back-off restarting" in out and "evil" in out  # the message is there, only its escapes are gone
    main(["--config", config, "doctor"])
    out, _ = capsys.readouterr()
    assert "--db-password=••••••" in out


async def test_service_screen_carries_no_escape_from_the_cluster(apiserver: ApiServer, kubeconfig: Path) -> None:
    plant(apiserver)
    cluster = ClusterConfig(name="k8s", provider="kubernetes", refresh_interval=0.5,
                            options={"kubeconfig": str(kubeconfig)})
    config = AppConfig(clusters=(cluster,))
    app = PilothouseApp(Fleet(config), config)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        async def until(predicate: Callable[[], object], what: str) -> None:
            await settle(pilot, predicate, what)

        await until(lambda: isinstance(app.screen, FleetScreen) and app.screen.table.row_count >= 1, "fleet")
        web = app.state.clusters["k8s"].service("prod/web")
        assert web is not None
        fleet = app.screen
        assert isinstance(fleet, FleetScreen) and fleet.table.move_to_key(row_key("k8s", web.id))
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ServiceScreen) and app.screen.query_one(DiffTable).row_count == 2,
                    "service screen")
        text = screen_text(app)
        printed_clean("service screen", text)
        assert "evil[/][@click=app.quit]x[/]" in text
        assert "postgres://admin:••••••@db" in text and "AKIA••••••" in text
        assert app.is_running

