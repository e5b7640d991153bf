"""`pilothouse status`, problems first: the aligned table, `--attention` with reasons, and `--json`'s attention,
on the demo fleet (whose payments service always has a task failing its health check)."""

from __future__ import annotations

import json

import pytest
from cli_support import run

pytestmark = pytest.mark.usefixtures("no_detected_clusters")


def _table(out: str) -> tuple[list[str], list[list[str]]]:
    lines = out.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("CLUSTER "))
    return lines[start].split(), [line.split() for line in lines[start + 1:]]


def test_status_puts_problems_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--demo")
    assert code == 0
    header, rows = _table(out)
    levels = [row[header.index("ATTENTION")] for row in rows]
    rank = {"critical": 0, "warning": 1, "-": 2}
    assert levels == sorted(levels, key=rank.__getitem__)
    assert levels[0] != "-" and levels[-1] == "-"
    assert ["demo-swarm", "shop_payments"] in [row[:2] for row in rows if row[2] == "warning"]
    # Within a level, the configured order: the clusters as configured.
    plain = [row[0] for row in rows if row[2] == "-"]
    assert plain == sorted(plain, key=["demo-swarm", "demo-k8s", "demo-ecs"].index)


def test_status_attention_lists_only_those_with_their_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--demo", "--attention", "--cluster", "demo-k8s")
    assert code == 0
    header, rows = _table(out)
    assert header == ["CLUSTER", "SERVICE", "ATTENTION", "RUNNING", "REASONS"]
    services = [row[1] for row in rows if row[0] == "demo-k8s"]
    assert "prod/payments" in services and "prod/web" not in services
    text = out[out.index("prod/payments"):]
    assert "1 pod unhealthy" in text  # Kubernetes words
    assert "doctor: 1 high-severity finding (hardcoded-credential)" in out


def test_status_json_gives_each_service_its_attention(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--demo", "--json", "--cluster", "demo-swarm")
    assert code == 0
    services = {s["ref"]: s for s in json.loads(out)["clusters"][0]["services"]}
    payments = services["shop_payments"]["attention"]
    assert payments["level"] == "warning"
    assert any(reason.startswith("1 task unhealthy") for reason in payments["reasons"])
    assert services["shop_web"]["attention"] == {"level": "none", "reasons": []}
    code, out, _ = run(capsys, "status", "--demo", "--json", "--attention", "--cluster", "demo-swarm")
    only = json.loads(out)["clusters"][0]["services"]
    assert only and all(s["attention"]["level"] != "none" for s in only)
