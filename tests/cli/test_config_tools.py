"""`config init | check | path`, the shipped JSON schema, and the `theme` key."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cli_support import run

from pilothouse.console.schema import SCHEMA_PATH, config_schema, schema_text

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: prod
contexts:
- name: prod
  context: {cluster: prod-cluster, user: admin, namespace: shop}
clusters:
- name: prod-cluster
  cluster: {server: "https://prod.example.com:6443"}
users:
- name: admin
  user: {token: s3cr3t-token-value}
"""


@pytest.fixture
def detected_kubernetes(no_detected_clusters: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return kubeconfig


def test_init_writes_a_starter_from_what_is_detected_and_check_accepts_it(
        detected_kubernetes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "conf" / "config.toml"
    code, out, err = run(capsys, "config", "init", "--path", str(path))
    assert (code, err) == (0, "")
    assert "1 cluster(s) detected" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "s3cr3t" not in text and "prod.example.com" not in text  # nothing secret, nothing not needed
    data = tomllib.loads(text)
    assert data["clusters"] == [{"name": "k8s-prod", "provider": "kubernetes", "kubeconfig": str(detected_kubernetes),
                                 "context": "prod"}]
    assert "# theme = " in text and "# [keymap]" in text  # commented: the keys a user looks for
    assert text.splitlines()[0] == f"#:schema {SCHEMA_PATH}" and SCHEMA_PATH.is_file()  # taplo's directive
    assert run(capsys, "config", "check", "--path", str(path)) == (0, f"{path}: ok (1 cluster(s))\n", "")


def test_init_refuses_to_overwrite_without_force(detected_kubernetes: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("readonly = true\n")
    code, out, err = run(capsys, "config", "init", "--path", str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert path.read_text() == "readonly = true\n"
    assert run(capsys, "config", "init", "--path", str(path), "--force")[0] == 0
    assert "k8s-prod" in path.read_text()


def test_init_without_clusters_writes_commented_examples(no_detected_clusters: None, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    assert run(capsys, "config", "init", "--path", str(path))[0] == 0
    text = path.read_text()
    assert "clusters" not in tomllib.loads(text) and '# provider = "swarm"' in text
    assert run(capsys, "config", "check", "--path", str(path))[0] == 0


def test_init_writes_to_the_config_path_by_default(no_detected_clusters: None, isolated_home: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "config", "init")[0] == 0
    assert (isolated_home / "config" / "pilothouse" / "config.toml").exists()


def test_check_reports_one_line_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text('readonly = false\nrefresh_interval = "fast"\n')
    code, out, err = run(capsys, "config", "check", "--path", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"pilothouse: error: {path}:2: refresh_interval: ") and err.count("\n") == 1
    missing = tmp_path / "missing.toml"
    code, _, err = run(capsys, "config", "check", "--path", str(missing))
    assert code == 2 and "config file not found" in err


def test_check_uses_the_global_config_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("bogus = 1\n")
    code, _, err = run(capsys, "--config", str(path), "config", "check")
    assert code == 2 and f"{path}:1: bogus: unknown key" in err


def test_path_prints_where_the_config_is_read(isolated_home: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, "config", "path")
    assert (code, out) == (0, f"{isolated_home / 'config' / 'pilothouse' / 'config.toml'}\n")
    assert "does not exist yet" in err
    monkeypatch.setenv("PILOTHOUSE_CONFIG", str(tmp_path / "env.toml"))
    assert run(capsys, "config", "path")[1] == f"{tmp_path / 'env.toml'}\n"


def test_theme_is_checked_against_textual_themes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text('theme = "nord"\n')
    assert run(capsys, "config", "check", "--path", str(path))[0] == 0
    path.write_text('theme = "nrod"\n')
    code, _, err = run(capsys, "config", "check", "--path", str(path))
    assert code == 2 and f"{path}:1: theme: unknown theme 'nrod' (known: " in err and "nord" in err


def test_shipped_schema_is_generated_from_the_validator() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), \
        "regenerate: python -m pilothouse.console.schema"


def _validate(instance: Any, schema: dict[str, Any]) -> list[str]:
    try:
        import jsonschema
    except ImportError:  # a minimal check of our own: known keys and types at the top level
        wrong = [key for key in instance if key not in schema["properties"]]
        return [f"unknown key {key}" for key in wrong]
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(instance)]


def test_starter_config_validates_against_the_schema(detected_kubernetes: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    run(capsys, "config", "init", "--path", str(path))
    schema = json.loads(SCHEMA_PATH.read_text())
    assert _validate(tomllib.loads(path.read_text()), schema) == []
    assert _validate({"refresh_interval": 1, "bogus": True}, schema)


def test_schema_knows_each_provider_options() -> None:
    pytest.importorskip("jsonschema")
    schema = config_schema()
    good = {"clusters": [{"name": "a", "provider": "swarm", "docker_host": "ssh://ops@m"}]}
    assert _validate(good, schema) == []
    # docker_host belongs to swarm, not to kubernetes: the validator refuses it, so does the schema.
    bad = {"clusters": [{"name": "a", "provider": "kubernetes", "docker_host": "ssh://ops@m"}]}
    assert _validate(bad, schema)
    assert _validate({"theme": "nrod"}, schema)
