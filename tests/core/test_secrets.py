from __future__ import annotations

from pathlib import Path

import pytest

from pilothouse.console.cli import main
from pilothouse.providers.secrets import MASK, looks_secret, shown_value

DEMO_SECRET = "demo-not-a-real-key"  # the literal PAYMENTS_API_KEY planted in the demo fleet


@pytest.mark.parametrize("name", ["DB_PASSWORD", "API_KEY", "GITHUB_TOKEN", "aws_secret_access_key", "BASIC_AUTH",
                                  "SENTRY_DSN", "SERVICE_CREDENTIALS", "PRIVATE_KEY"])
def test_secret_names_are_masked(name: str) -> None:
    assert looks_secret(name) and shown_value(name, "x") == MASK


@pytest.mark.parametrize("name", ["LOG_LEVEL", "PORT", "REGION"])
def test_ordinary_names_are_shown(name: str) -> None:
    assert not looks_secret(name) and shown_value(name, "x") == "x"


@pytest.mark.parametrize("name", ["AUTHOR", "KEYBOARD_LAYOUT", "TLS_CERT_PATH"])
def test_masking_errs_on_the_safe_side_but_the_doctor_does_not(name: str) -> None:
    assert shown_value(name, "x") == MASK and not looks_secret(name)


def test_no_secret_value_in_output_log_or_audit_after_a_cli_session(
    capsys: pytest.CaptureFixture[str], isolated_home: Path, no_detected_clusters: None
) -> None:
    sessions = [
        ["status", "--demo", "--json"], ["status", "--demo"], ["doctor", "--demo", "--json"], ["doctor", "--demo"],
        ["events", "--demo", "--json"], ["scale", "demo-swarm/shop_payments", "4", "--yes", "--demo"],
        ["rollback", "demo-swarm/shop_payments", "--yes", "--demo"], ["logs", "demo-swarm/shop_payments", "--demo"],
    ]
    printed = []
    for argv in sessions:
        main(argv)
        out, err = capsys.readouterr()
        printed.append(out + err)
    assert all(DEMO_SECRET not in text for text in printed)
    state = isolated_home / "state" / "pilothouse"
    files = [path for path in state.rglob("*") if path.is_file()]
    # The demo's mutations are audited to their own file, never the real audit log.
    names = {path.name for path in files}
    assert {"demo-audit.jsonl", "pilothouse.log"} <= names
    assert "audit.jsonl" not in names
    for path in files:
        assert DEMO_SECRET not in path.read_text(errors="replace"), path
