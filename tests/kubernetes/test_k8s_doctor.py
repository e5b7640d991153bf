"""`pilothouse doctor --json` on the Kubernetes test server finds exactly the planted pitfalls.

Every rule has a positive case (a Deployment with that one defect) and a negative one (a near miss that
must not be reported); a clean Deployment has no finding at all. Everything goes through the real CLI,
the config file (doctor.trusted_registries) and the provider's mapping of real-shaped objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import deployment
from k8s_support import write_config

from pilothouse.console.cli import main
from pilothouse.console.doctor import RULES

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]
Change = Callable[[Obj, Obj], None]  # (container, deployment) -> None, edits in place
LITERAL_SECRET = "hunter2-do-not-print"


def clean_container(name: str) -> Obj:
    return {
        "name": "app", "image": f"registry.local/{name}:1.4.2", "command": ["/app/server"],
        "args": ["--port", "8080"],
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "MODE", "value": "prod"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        ],
        "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}, "requests": {"memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 10},
        "volumeMounts": [{"name": "settings", "mountPath": "/etc/app", "readOnly": True}],
    }


def workload(name: str, change: Change | None = None) -> Obj:
    obj = deployment(name, replicas=3)
    spec = obj["spec"]["template"]["spec"]
    spec["containers"] = [clean_container(name)]
    spec["volumes"] = [{"name": "settings", "configMap": {"name": f"{name}-settings"}}]
    if change is not None:
        change(spec["containers"][0], obj)
    return obj


def set_env(name: str, value: str) -> Change:
    return lambda c, _: c["env"].append({"name": name, "value": value})


def host_mount(host_path: str, mount_path: str) -> Change:
    def change(container: Obj, obj: Obj) -> None:
        obj["spec"]["template"]["spec"]["volumes"].append({"name": "src", "hostPath": {"path": host_path}})
        container["volumeMounts"].append({"name": "src", "mountPath": mount_path})
    return change


def without(key: str) -> Change:
    return lambda c, _: c.pop(key)


def update(**fields: Any) -> Change:
    return lambda c, _: c.update(fields)


def spec_change(change: Callable[[Obj], None]) -> Change:
    return lambda _, obj: change(obj["spec"])


def strategy(max_unavailable: Any) -> Callable[[Obj], None]:
    return lambda spec: spec["strategy"]["rollingUpdate"].__setitem__("maxUnavailable", max_unavailable)


def no_memory_limit(container: Obj, _: Obj) -> None:
    del container["resources"]["limits"]["memory"]


# name -> (change, the findings it must produce as (rule, severity)); an empty list is a negative case.
CASES: dict[str, tuple[Change | None, list[tuple[str, str]]]] = {
    "clean": (None, []),
    # image-unversioned
    "latest": (update(image="registry.local/latest:latest"), [("image-unversioned", "high")]),
    "untagged": (update(image="registry.local:5000/untagged"), [("image-unversioned", "high")]),
    "digest": (update(image="registry.local/digest@sha256:" + "a" * 64), []),
    # image-untrusted (doctor.trusted_registries = ["registry.local"])
    "thirdparty": (update(image="docker.io/someone/tool:2.1"), [("image-untrusted", "medium")]),
    "trustedport": (update(image="registry.local:5000/mirrored/tool:2.1"), []),
    # no-healthcheck: readiness and liveness separately
    "noready": (without("readinessProbe"), [("no-healthcheck", "medium")]),
    "nolive": (without("livenessProbe"), [("no-healthcheck", "low")]),
    # hardcoded-credential
    "literal": (lambda c, _: c["env"].__setitem__(1, {"name": "DB_PASSWORD", "value": LITERAL_SECRET}),
                [("hardcoded-credential", "high")]),
    "fromconfigmap": (lambda c, _: c["env"].append(
        {"name": "API_TOKEN", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "token"}}}), []),
    # shell-entrypoint
    "shell": (update(command=["sh", "-c", "/app/server --port 8080"], args=[]), [("shell-entrypoint", "medium")]),
    "shellexec": (update(command=["sh", "-c", "exec /app/server --port 8080"], args=[]), []),
    # multi-process
    "supervisor": (update(command=["supervisord"], args=["-c", "/etc/supervisor/supervisord.conf"]),
                   [("multi-process", "medium")]),
    # dev-leftovers: env, mounted source, debugger port
    "nodedev": (set_env("NODE_ENV", "development"), [("dev-leftovers", "medium")]),
    "nodeprod": (set_env("NODE_ENV", "production"), []),
    "srcmount": (host_mount("/home/dev/src", "/app"), [("dev-leftovers", "medium")]),
    "logmount": (host_mount("/var/log", "/var/log"), []),
    "debugger": (lambda c, _: c["ports"].append({"containerPort": 9229, "protocol": "TCP"}),
                 [("dev-leftovers", "high")]),
    "metrics": (lambda c, _: c["ports"].append({"containerPort": 9090, "protocol": "TCP"}), []),
    # single-replica
    "single": (spec_change(lambda spec: spec.__setitem__("replicas", 1)), [("single-replica", "low")]),
    "pair": (spec_change(lambda spec: spec.__setitem__("replicas", 2)), []),
    # unsafe-update
    "unsafe": (spec_change(strategy("100%")), [("unsafe-update", "high")]),
    "unsafecount": (spec_change(strategy(3)), [("unsafe-update", "high")]),
    "safe": (spec_change(strategy(1)), []),
    # no-limits
    "nolimit": (no_memory_limit, [("no-limits", "medium")]),
}


@pytest.fixture
def doctor_json(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                capsys: pytest.CaptureFixture[str]) -> tuple[Obj, str]:
    for name, (change, _) in CASES.items():
        apiserver.state.put(workload(name, change))
    config = write_config(tmp_path / "config.toml", kubeconfig,
                          extra='[doctor]\ntrusted_registries = ["registry.local/", "registry.local:5000/"]\n')
    code = main(["--config", str(config), "doctor", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), out + err


def test_doctor_finds_exactly_the_planted_pitfalls(doctor_json: tuple[Obj, str]) -> None:
    report, _ = doctor_json
    assert report["clusters"] == [{"name": "k8s", "kind": "kubernetes", "reachable": True, "error": None}]
    found = sorted((f["service"].removeprefix("prod/"), f["rule"], f["severity"]) for f in report["findings"])
    planted = sorted((name, rule, severity) for name, (_, expected) in CASES.items() for rule, severity in expected)
    assert found == planted
    assert all(f["cluster"] == "k8s" and f["fix"] for f in report["findings"])


# The near misses of each rule: cases that look like it but must not be reported.
NEAR_MISSES = {
    "image-unversioned": ["digest"],
    "image-untrusted": ["trustedport", "clean"],
    "no-healthcheck": ["clean"],
    "hardcoded-credential": ["clean", "fromconfigmap"],  # DB_PASSWORD from secretKeyRef; a configMapKeyRef
    "shell-entrypoint": ["shellexec"],
    "multi-process": ["clean"],
    "dev-leftovers": ["nodeprod", "logmount", "metrics"],
    "single-replica": ["pair"],
    "unsafe-update": ["safe", "clean"],
    "no-limits": ["clean"],
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_has_a_positive_and_a_negative_case(rule: str) -> None:
    assert any(r == rule for _, expected in CASES.values() for r, _ in expected), f"no positive case for {rule}"
    assert NEAR_MISSES.get(rule), f"no negative case for {rule}"
    assert all(CASES[name][1] == [] for name in NEAR_MISSES[rule])


def test_findings_say_which_container_and_why_without_the_secret(doctor_json: tuple[Obj, str]) -> None:
    report, everything = doctor_json
    by_service = {f["service"]: f for f in report["findings"]}
    literal = by_service["prod/literal"]
    assert literal["container"] == "app"
    assert literal["why"] == "environment variable DB_PASSWORD holds a literal value"
    assert "secretKeyRef" in literal["fix"]
    assert LITERAL_SECRET not in everything
    assert by_service["prod/srcmount"]["why"] == "source directory mounted (hostPath:/home/dev/src->/app)"
    assert by_service["prod/debugger"]["why"] == "debugger port 9229 (node --inspect) exposed"
    assert by_service["prod/unsafe"]["why"].startswith("maxUnavailable 100% can take every replica down")
