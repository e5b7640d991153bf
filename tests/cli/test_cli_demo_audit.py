"""The demo's mutations are audited to the demo audit log, never to the real one (the config's audit_log or
the default): a simulated scale must not read as a change to a real cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import read_audit, run

from pilothouse.console.audit import default_audit_path, demo_audit_path


@pytest.mark.parametrize("configured", [True, False])
def test_a_demo_scale_is_audited_to_the_demo_file_only(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       configured: bool) -> None:
    real = tmp_path / "real-audit.jsonl" if configured else default_audit_path()
    config = tmp_path / "config.toml"
    config.write_text(f'audit_log = "{real}"\n' if configured else "")
    code, out, _ = run(capsys, "--config", str(config), "--demo", "scale", "demo-swarm/shop_web", "3", "--yes")
    assert code == 0, out
    assert not real.exists()
    lines = read_audit(demo_audit_path())
    assert [(line["cluster"], line["action"], line["after"], line["result"]) for line in lines] == [
        ("demo-swarm", "scale", "3", "pending"), ("demo-swarm", "scale", "3", "ok")]
    # the demo's own timeline shows it
    code, out, _ = run(capsys, "--config", str(config), "--demo", "events")
    assert code == 0 and any("shop_web" in line and "scale 7 -> 3: ok" in line for line in out.splitlines()), out


def test_a_demo_cluster_in_a_real_config_is_audited_apart(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    real = tmp_path / "real-audit.jsonl"
    config = tmp_path / "config.toml"
    config.write_text(f'audit_log = "{real}"\n[[clusters]]\nname = "sim"\nprovider = "demo"\n')
    code, out, err = run(capsys, "--config", str(config), "scale", "sim/shop_web", "3", "--yes")
    assert code == 0, (out, err)
    assert not real.exists()
    assert {line["cluster"] for line in read_audit(demo_audit_path())} == {"sim"}
