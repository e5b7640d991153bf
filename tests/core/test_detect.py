"""Detection reads the native tools' own settings: merged KUBECONFIG, docker contexts, AWS profile regions."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from pilothouse.console.detect import detect_clusters
from pilothouse.providers.base import ClusterConfig


@pytest.fixture
def home(no_detected_clusters: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME in a temporary directory, with nothing of the machine's own settings reachable."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("KUBECONFIG", "DOCKER_CONFIG", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return home


def _only(provider: str) -> list[ClusterConfig]:
    return [cluster for cluster in detect_clusters(probe=False) if cluster.provider == provider]


def _kubeconfig(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> str:
    value = os.pathsep.join(str(path) for path in paths)
    monkeypatch.setenv("KUBECONFIG", value)
    return value


# -- Kubernetes -----------------------------------------------------------------------------------------------


def test_default_kubeconfig_with_a_trailing_comment(home: Path) -> None:
    (home / ".kube").mkdir()
    (home / ".kube" / "config").write_text(
        "current-context: 'prod'   # the one we work on\ncontexts:\n- name: prod\n  context: {cluster: k}\n")
    assert _only("kubernetes") == [ClusterConfig(
        name="k8s-prod", provider="kubernetes", options={"kubeconfig": str(home / ".kube" / "config"),
                                                         "context": "prod"})]


def test_json_kubeconfig(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig.json"
    path.write_text(json.dumps({"apiVersion": "v1", "current-context": "gke_proj_europe-west1_main",
                                "contexts": [{"name": "gke_proj_europe-west1_main", "context": {"cluster": "c"}}]}))
    _kubeconfig(monkeypatch, path)
    (cluster,) = _only("kubernetes")
    assert cluster.name == "k8s-gke_proj_europe-west1_main"
    assert cluster.options["context"] == "gke_proj_europe-west1_main"


def test_split_kubeconfig_is_merged_as_kubectl_merges_it(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    # a: no current-context; b: sets it (the first that does wins), c: sets another and defines the context.
    a = tmp_path / "a.yaml"
    a.write_text("apiVersion: v1\nclusters:\n- name: k1\n  cluster: {server: 'https://k1:6443'}\n")
    b = tmp_path / "b.yaml"
    b.write_text("current-context: c1\nusers:\n- name: u1\n  user: {token: t}\n")
    c = tmp_path / "c.yaml"
    c.write_text("current-context: c2\ncontexts:\n- name: c1\n  context: {cluster: k1, user: u1}\n"
                 "- name: c2\n  context: {cluster: k1, user: u1}\n")
    missing = tmp_path / "missing.yaml"  # kubectl skips a listed file that does not exist
    value = _kubeconfig(monkeypatch, missing, a, b, c)
    (cluster,) = _only("kubernetes")
    assert cluster.name == "k8s-c1"
    # The whole list goes to the provider, which merges it the same way to find c1's cluster and user.
    assert cluster.options == {"kubeconfig": value, "context": "c1"}


def test_a_current_context_no_file_defines_is_not_detected(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("current-context: gone\ncontexts:\n- name: other\n  context: {cluster: k}\n")
    _kubeconfig(monkeypatch, path)
    assert _only("kubernetes") == []


def test_a_broken_kubeconfig_detects_nothing(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("current-context: [unclosed\n")
    _kubeconfig(monkeypatch, path)
    assert _only("kubernetes") == []


# -- Docker ---------------------------------------------------------------------------------------------------


def _docker_context(home: Path, name: str, host: str) -> None:
    meta = home / ".docker" / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {},
                                                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))


def test_docker_context_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST")
    _docker_context(home, "prod", "ssh://ops@manager-1")
    _docker_context(home, "staging", "ssh://ops@staging-1")
    monkeypatch.setenv("DOCKER_CONTEXT", "prod")
    assert _only("swarm") == [ClusterConfig(name="docker-prod", provider="swarm",
                                            options={"docker_context": "prod"})]


def test_current_docker_context_from_config_json(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST")
    _docker_context(home, "staging", "tcp://10.0.0.5:2376")
    (home / ".docker" / "config.json").write_text(json.dumps({"auths": {}, "currentContext": "staging"}))
    # The context is named, not copied as a host: its TLS material comes with it (contexts/tls/...).
    assert _only("swarm") == [ClusterConfig(name="docker-staging", provider="swarm",
                                            options={"docker_context": "staging"})]
    # DOCKER_CONTEXT wins over `docker context use`; DOCKER_HOST over both, as in the docker CLI.
    _docker_context(home, "prod", "ssh://ops@manager-1")
    monkeypatch.setenv("DOCKER_CONTEXT", "prod")
    assert _only("swarm")[0].options == {"docker_context": "prod"}
    monkeypatch.setenv("DOCKER_HOST", "ssh://ops@elsewhere")
    assert _only("swarm")[0].options == {"docker_host": "ssh://ops@elsewhere"}


def test_default_docker_context_is_the_local_engine(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert _only("swarm") == []  # probe=False: the local socket is not asked


# -- AWS ------------------------------------------------------------------------------------------------------


def test_profile_region_from_aws_config(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text("[default]\nregion = us-east-1\n\n[profile ops]\nregion = eu-west-1\n"
                                          "sso_session = corp\n")
    monkeypatch.setenv("AWS_PROFILE", "ops")
    assert _only("ecs") == [ClusterConfig(name="ecs-eu-west-1", provider="ecs",
                                          options={"region": "eu-west-1", "profile": "ops"})]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")  # the environment wins over the profile, as in boto3
    assert _only("ecs")[0].options == {"region": "ap-south-1", "profile": "ops"}


def test_default_profile_with_keys_in_credentials_file(home: Path) -> None:
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text("[default]\nregion = eu-central-1\n")
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAEXAMPLE\n"
                                               "aws_secret_access_key = not-copied\n")
    (cluster,) = _only("ecs")
    assert cluster.options == {"region": "eu-central-1"}  # no key, no secret carried


def test_no_profile_no_aws(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # a region alone is no account to look at
    assert _only("ecs") == []
