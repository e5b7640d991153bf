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
from k8s_objects import deployment, persistent_volume_claim, statefulset
from k8s_support import write_config

from pilothouse.console.cli import main
from pilothouse.providers.doctor import RULES

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


def host_mount(host_path: str, mount_path: str, read_only: bool = False) -> Change:
    def change(container: Obj, obj: Obj) -> None:
        obj["spec"]["template"]["spec"]["volumes"].append({"name": "src", "hostPath": {"path": host_path}})
        container["volumeMounts"].append({"name": "src", "mountPath": mount_path, "readOnly": read_only})
    return change


def claim_mount(claim: str, mount_path: str = "/var/lib/app") -> Change:
    def change(container: Obj, obj: Obj) -> None:
        volume = {"name": "data", "persistentVolumeClaim": {"claimName": claim}}
        obj["spec"]["template"]["spec"]["volumes"].append(volume)
        container["volumeMounts"].append({"name": "data", "mountPath": mount_path})
    return change


def replicas(count: int, *changes: Change) -> Change:
    def change(container: Obj, obj: Obj) -> None:
        obj["spec"]["replicas"] = count
        for one in changes:
            one(container, obj)
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
    # shared-data: a hostPath holding data, a ReadWriteOnce claim on several replicas (or on one, rolling)
    "hostdata": (host_mount("/srv/data", "/data"), [("shared-data", "high")]),
    "hostdataro": (host_mount("/srv/data", "/data", read_only=True), []),
    "rwo": (replicas(2, claim_mount("rwo-data")), [("shared-data", "high")]),
    "rwoalone": (replicas(1, claim_mount("rwoalone-data")), [("single-replica", "low"), ("shared-data", "medium")]),
    "rwx": (claim_mount("rwx-data"), []),
    # updates-in-place: packages upgraded at start vs. a read-only package query
    "aptupgrade": (update(command=["sh", "-c", "apt-get update && apt-get -y upgrade && exec /app/server"], args=[]),
                   [("updates-in-place", "medium")]),
    "aptquery": (update(command=["sh", "-c", "apt-cache policy openssl; exec /app/server"], args=[]), []),
}
CLAIMS = {"rwo-data": "ReadWriteOnce", "rwoalone-data": "ReadWriteOnce", "rwx-data": "ReadWriteMany"}


def database() -> Obj:
    """A StatefulSet whose pods each get their own ReadWriteOnce claim: not shared data."""
    obj = statefulset("database", replicas=3)
    spec = obj["spec"]
    container = clean_container("database")
    container["volumeMounts"].append({"name": "pgdata", "mountPath": "/var/lib/postgresql"})
    spec["template"]["spec"]["containers"] = [container]
    spec["template"]["spec"]["volumes"] = [{"name": "settings", "configMap": {"name": "database-settings"}}]
    spec["volumeClaimTemplates"] = [{
        "metadata": {"name": "pgdata"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
    }]
    return obj


@pytest.fixture
def doctor_json(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                capsys: pytest.CaptureFixture[str]) -> tuple[Obj, str]:
    for name, (change, _) in CASES.items():
        apiserver.state.put(workload(name, change))
    for claim, mode in CLAIMS.items():
        apiserver.state.put(persistent_volume_claim(claim, mode))
    apiserver.state.put(database())
    for ordinal in range(3):  # the claims the StatefulSet controller makes from its template
        apiserver.state.put(persistent_volume_claim(f"pgdata-database-{ordinal}", "ReadWriteOnce"))
    config = write_config(tmp_path / "config.toml", kubeconfig,
                          extra='[doctor]\ntrusted_registries = ["registry.local/", "registry.local:5000/"]\n')
    code = main(["--config", str(config), "doctor", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), out + err


def test_doctor_finds_exactly_the_planted_pitfalls(doctor_json: tuple[Obj, str]) -> None:
    report, _ = doctor_json
    assert report["clusters"] == [{"name": "k8s", "kind": "kubernetes", "reachable": True, "error": None,
                                   "complete": True, "missing": []}]
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
    "shared-data": ["clean", "hostdataro", "rwx", "logmount"],
    "updates-in-place": ["clean", "aptquery"],
}


# Rules judged on running pods, not on the spec: planted with their pods in test_k8s_drift_zone.py.
RUNTIME_RULES = {"image-drift", "single-zone"}


@pytest.mark.parametrize("rule", sorted(set(RULES) - RUNTIME_RULES))
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
    assert literal["fix"] == ('kubectl -n prod create secret generic literal-db-password '
                              '--from-literal=DB_PASSWORD="$DB_PASSWORD" && kubectl -n prod set env deployment/literal '
                              '-c app --from=secret/literal-db-password --keys=DB_PASSWORD')
    assert LITERAL_SECRET not in everything
    assert by_service["prod/srcmount"]["why"] == "source directory mounted (hostPath:/home/dev/src->/app)"
    assert by_service["prod/debugger"]["why"] == "debugger port 9229 (node --inspect) exposed"
    assert by_service["prod/unsafe"]["why"].startswith("maxUnavailable 100% can take every replica down")


def test_shared_data_and_updates_in_place_say_which_volume_why_and_the_kubectl_fix(
        doctor_json: tuple[Obj, str]) -> None:
    report, _ = doctor_json
    by_rule = {(f["service"], f["rule"]): f for f in report["findings"]}
    rwo = by_rule[("prod/rwo", "shared-data")]
    assert rwo["container"] == "app"
    assert rwo["why"] == ("PersistentVolumeClaim rwo-data (at /var/lib/app) is ReadWriteOnce: it attaches to one node "
                          "at a time, so replicas on other nodes stay Pending (Multi-Attach error)")
    assert rwo["fix"] == ("a StatefulSet with volumeClaimTemplates (a volume per pod), or ReadWriteMany storage; "
                          "until then: kubectl -n prod scale deployment/rwo --replicas=1")
    alone = by_rule[("prod/rwoalone", "shared-data")]
    assert "the rollout stalls" in alone["why"]
    assert alone["fix"] == ("kubectl -n prod patch deployment/rwoalone -p "
                            "'{\"spec\":{\"strategy\":{\"type\":\"Recreate\",\"rollingUpdate\":null}}}'")
    host = by_rule[("prod/hostdata", "shared-data")]
    assert host["why"] == ("hostPath /srv/data (at /data) is a directory of whichever node runs the pod: "
                           "the 3 replicas each write their own copy on their node")
    assert host["fix"].startswith("replace hostPath /srv/data with a PersistentVolumeClaim")
    assert host["fix"].endswith(": kubectl -n prod edit deployment/hostdata")
    upgrade = by_rule[("prod/aptupgrade", "updates-in-place")]
    assert upgrade["why"].startswith("installs packages when it starts (apt-get -y upgrade)")
    assert upgrade["fix"].endswith("then kubectl -n prod set image deployment/aptupgrade "
                                   "app=registry.local/aptupgrade:NEW-VERSION")
    single = by_rule[("prod/single", "single-replica")]
    assert single["fix"] == "kubectl -n prod scale deployment/single --replicas=2"
    assert "a rolling update starts the new pod first" in single["why"]
    assert by_rule[("prod/nolimit", "no-limits")]["fix"] == (
        "kubectl -n prod set resources deployment/nolimit -c app --limits=memory=512Mi")
    assert by_rule[("prod/unsafe", "unsafe-update")]["fix"] == (
        "kubectl -n prod patch deployment/unsafe -p '{\"spec\":{\"strategy\":{\"rollingUpdate\":"
        "{\"maxUnavailable\":\"25%\"}}}}'")


def test_forbidden_claims_are_said_and_leave_their_access_modes_unknown(
        apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without the right to list PersistentVolumeClaims a claim's modes are unknown: no guess, the kind is
    named as forbidden, and the rest of the doctor still works."""
    for name in ("rwo", "hostdata"):
        apiserver.state.put(workload(name, CASES[name][0]))
    apiserver.state.put(persistent_volume_claim("rwo-data", "ReadWriteOnce"))
    apiserver.state.forbid("persistentvolumeclaims")
    config = write_config(tmp_path / "config.toml", kubeconfig)
    # An incomplete look exits 1 and says what is missing; --allow-partial accepts it.
    assert main(["--config", str(config), "doctor", "--json", "--timeout", "1"]) == 1
    assert "persistentvolumeclaims" in capsys.readouterr().err
    assert main(["--config", str(config), "doctor", "--json", "--allow-partial"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(f["service"], f["rule"]) for f in report["findings"]] == [("prod/hostdata", "shared-data")]
    assert main(["--config", str(config), "status", "--json", "--allow-partial"]) == 0
    (cluster,) = json.loads(capsys.readouterr().out)["clusters"]
    # As for every namespaced kind: the context's namespace is tried, then the kind is named as forbidden.
    assert cluster["forbidden"] == ["persistentvolumeclaims in default"]
