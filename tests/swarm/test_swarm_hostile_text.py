"""Hostile cluster text end to end on the real swarm: a service whose env values, label and command hold
terminal escapes (title, clipboard, clear screen), bidi overrides, markup and secrets, as far as the engine
accepts them (an image tag cannot hold them). `pilothouse status/doctor/events` and the console's service
screen show none of it raw and no secret.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hostile import FORBIDDEN, screen_text, settle
from swarm_helpers import Services, SwarmInfo, run_cli, write_config

from pilothouse.console.app import PilothouseApp
from pilothouse.console.config import AppConfig
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.console.screens.service import ServiceScreen
from pilothouse.providers.base import ClusterConfig

HOSTILE = "\x1b]0;pwned-title\x07\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x9b2J\u202eevil[/][@click=app.quit]x[/]"
SECRETS = ("hunter2", "IOSFODNN7EXAMPLE")


def shown_clean(where: str, text: str) -> None:
    found = FORBIDDEN.search(text)
    assert found is None, f"{where}: {found.group(0)!r} shown"
    assert not [secret for secret in SECRETS if secret in text], f"{where}: a secret shown"


@pytest.fixture
def hostile_service(services: Services) -> str:
    return services.create(
        "--replicas", "0", "--env", f"BANNER={HOSTILE}", "--env", "DATABASE_URL=postgres://admin:hunter2@db:5432/app",
        "--env", "CONFIG_BLOB=AKIAIOSFODNN7EXAMPLE", "--label", f"note={HOSTILE}",
        command=("sh", "-c", f"app --db-password=hunter2 {HOSTILE}"))


def test_cli_text_outputs_carry_no_escape_from_the_swarm(swarm: SwarmInfo, hostile_service: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path / "config.toml", swarm.manager))
    for verb in ("status", "doctor", "events"):
        result = run_cli(capsys, "--config", config, verb)
        shown_clean(verb, result.out + result.err)
    result = run_cli(capsys, "--config", config, "doctor")
    assert "runs through a shell (sh -c app --db-password=•••••• " in result.out, result.out


async def test_service_screen_carries_no_escape_from_the_swarm(swarm: SwarmInfo, hostile_service: str) -> None:
    cluster = ClusterConfig(name="swarm", provider="swarm", refresh_interval=0.5,
                            options={"docker_host": swarm.manager})
    config = AppConfig(clusters=(cluster,))
    app = PilothouseApp(Fleet(config), config)
    async with app.run_test(size=(200, 40), notifications=True) as pilot:
        async def until(predicate: Callable[[], object], what: str) -> None:
            await settle(pilot, predicate, what)

        await until(lambda: app.state.clusters["swarm"].service(hostile_service) is not None, "the service")
        service = app.state.clusters["swarm"].service(hostile_service)
        assert service is not None
        await until(lambda: isinstance(app.screen, FleetScreen)
                    and app.screen.table.move_to_key(row_key("swarm", service.id)), "its fleet row")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ServiceScreen), "service screen")
        await pilot.pause()
        text = screen_text(app)
        shown_clean("service screen", text)
        assert "BANNER=" in text and "evil[/][@click=app.quit]x[/]" in text
        assert "postgres://admin:••••••@db" in text and "AKIA••••••" in text
        assert app.is_running
