"""Hostile cluster text end to end on ECS (moto in server mode, through the real boto3 client): terminal
escapes, bidi overrides and markup in a task definition's image, command and env, a stopped task's reason and
the service's events; secrets in env values and the command. `pilothouse status/events/doctor` print none of
it raw and no secret; `status --json` keeps the image exact.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ecs_world import add_instances, moto_service, register, run_service_tasks

from pilothouse.console.cli import main

pytestmark = pytest.mark.ecs

HOSTILE = "\x1b]0;pwned-title\x07\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x9b2J\u202eevil[/][@click=app.quit]x[/]"
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SECRETS = ("hunter2", "IOSFODNN7EXAMPLE")
IMAGE = f"registry.example.com/web:2{HOSTILE}"


def test_cli_text_outputs_carry_no_escape_from_ecs(admin: Any, ec2: Any, write_config: Any,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 1)
    definition = register(admin, "web", IMAGE, extra={
        "command": ["sh", "-c", f"app --db-password=hunter2 {HOSTILE}"],
        "environment": [{"name": "DATABASE_URL", "value": "postgres://admin:hunter2@db:5432/app"},
                        {"name": "CONFIG_BLOB", "value": "AKIAIOSFODNN7EXAMPLE"},
                        {"name": "BANNER", "value": HOSTILE}],
    })
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=definition, desiredCount=2)
    arns = run_service_tasks(admin, "shop", "web", definition, 2)
    admin.stop_task(cluster="shop", task=arns[0], reason=f"Essential container exited {HOSTILE}")
    # ECS service events have no write API: moto's service holds them, as DescribeServices returns them.
    moto_service("shop", "web").events = [
        {"id": "e1", "createdAt": datetime.now(UTC) - timedelta(minutes=1), "message": f"(service web) {HOSTILE}"}]
    config = write_config()

    code = main(["--config", config, "status", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (web,) = json.loads(out)["clusters"][0]["services"]
    assert web["image"] == IMAGE  # JSON is exact

    for verb in (["status"], ["events"], ["doctor"]):
        main(["--config", config, *verb])
        out, err = capsys.readouterr()
        found = FORBIDDEN.search(out + err)
        assert found is None, f"{verb[0]}: {found.group(0)!r} printed"
        assert not [secret for secret in SECRETS if secret in out + err], f"{verb[0]}: a secret printed"
        assert "evil" in out, f"{verb[0]}: the planted text is shown, its escapes gone"
    main(["--config", config, "status"])
    out, _ = capsys.readouterr()
    assert "evil[/][@click=app.quit]x[/]" in out
    main(["--config", config, "doctor"])
    out, _ = capsys.readouterr()
    assert "--db-password=••••••" in out
