"""Expired credentials: the palette offers the provider's login command, run with the TUI suspended."""

from __future__ import annotations

from pathlib import Path

from ui_support import notifications, running_app, wait_until

from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.palette import FleetCommands
from pilothouse.providers.base import LoginCommand
from pilothouse.providers.demo import DemoProvider


class SsoDemo(DemoProvider):
    def login_command(self) -> LoginCommand | None:
        return LoginCommand(("aws", "sso", "login", "--profile", "ops"))


def use_sso_for_ecs(fleet: Fleet) -> None:
    fleet.providers["demo-ecs"] = SsoDemo(fleet.providers["demo-ecs"].config)


async def test_palette_offers_login_only_where_a_provider_has_one(tmp_path: Path) -> None:
    async with running_app(tmp_path, prepare=use_sso_for_ecs) as (app, pilot):
        commands = [name for name, _, _ in FleetCommands(app.screen)._commands()]
        assert "log in demo-ecs" in commands
        assert "log in demo-swarm" not in commands and "log in demo-k8s" not in commands
        # A headless terminal cannot be suspended: the operator is told, nothing crashes.
        app.log_in("demo-ecs")
        await wait_until(pilot, lambda: any("cannot run aws" in text for text in notifications(app)),
                         what="the refusal to suspend")
        app.log_in("demo-swarm")
        await wait_until(pilot, lambda: any("no login command" in text for text in notifications(app)),
                         what="nothing to run")
