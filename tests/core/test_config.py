from __future__ import annotations

from pathlib import Path

import pytest

from pilothouse.console.config import ConfigError, demo_config, load_config, parse_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_full_config_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, """
refresh_interval = 3
readonly = true
[keymap]
scale = "S"
[[clusters]]
name = "prod-swarm"
provider = "swarm"
docker_host = "ssh://ops@manager-1"
readonly = true
[[clusters]]
name = "eks"
provider = "kubernetes"
context = "prod"
namespaces = ["shop", "payments"]
[[clusters]]
name = "ecs-eu"
provider = "ecs"
region = "eu-west-1"
clusters = ["prod"]
""")
    config = load_config(path)
    assert [c.name for c in config.clusters] == ["prod-swarm", "eks", "ecs-eu"]
    assert config.refresh_interval == 3.0
    assert config.readonly is True
    assert config.keymap == {"scale": "S"}
    assert config.clusters[0].readonly is True
    assert config.clusters[0].options == {"docker_host": "ssh://ops@manager-1"}
    assert config.clusters[1].options["namespaces"] == ["shop", "payments"]
    assert config.clusters[1].refresh_interval == 3.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("refresh_interval = [", "invalid TOML"),
        ("colour = 'red'", ":1: colour: unknown key"),
        ("readonly = 'yes'", ":1: readonly: expected true/false"),
        ("refresh_interval = true", ":1: refresh_interval: expected an integer or a number"),
        ("refresh_interval = 0.01", "must be between 0.2 and 3600 seconds"),
        ("[[clusters]]\nname = 'a'\nprovider = 'swarm'\ndocker_hots = 'x'", ":4: clusters.docker_hots: unknown key"),
        ("[[clusters]]\nname = 'a'\nprovider = 'swarm'\ndocker_host = 5",
         ":4: clusters.docker_host: expected a string"),
        ("[[clusters]]\nname = 'a'\nprovider = 'nomad'", ":3: clusters.provider: provider 'nomad' is not installed"),
        ("[[clusters]]\nname = 'a'", "has no 'provider'"),
        ("[[clusters]]\nname = 'a'\nprovider = 'swarm'\n[[clusters]]\nname = 'a'\nprovider = 'ecs'", "used twice"),
        ("[[clusters]]\nname = 'a b'\nprovider = 'swarm'", "not a usable name"),
        ("[[clusters]]\nname = 'k'\nprovider = 'kubernetes'\nnamespaces = [1]", "list of strings"),
    ],
)
def test_bad_config_is_one_line_naming_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected in message
    assert caught.value.exit_code == 2


def test_missing_default_config_is_empty_but_named_one_is_an_error(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.toml").clusters == ()
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml", required=True)


def test_demo_config_has_one_cluster_of_each_kind_and_splits_tasks() -> None:
    config = demo_config(tasks=1000)
    assert [c.options["flavor"] for c in config.clusters] == ["swarm", "kubernetes", "ecs"]
    assert sum(c.options["tasks"] for c in config.clusters) == 1000
    assert config.demo


def test_parse_config_keeps_keymap_strings_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"keymap\.scale: expected a string"):
        parse_config("[keymap]\nscale = 1", tmp_path / "c.toml")
