"""--version, examples in every verb's --help, and the completion scripts loaded into a real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from cli_support import run

from pilothouse.console.cli import build_parser

CONFIG = """\
[[clusters]]
name = "prod-swarm"
provider = "swarm"

[[clusters]]
name = "prod-eks"
provider = "kubernetes"

[[doctor.silence]]
rule = "single-replica"
service = "prod-swarm/shop_cache"
reason = "a singleton by design"
"""


def test_version_is_the_installed_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"pilothouse {version('pilothouse')}\n"


@pytest.mark.parametrize("verb", ["status", "scale", "rollback", "rollout", "events", "logs", "doctor", "nodes",
                                  "inspect", "diff", "exec", "completion", "config"])
def test_every_verb_help_has_examples(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([verb, "--help"])
    out = capsys.readouterr().out
    examples = out.split("examples:\n", 1)[1]
    lines = examples.splitlines()
    # Laid out as written (RawDescriptionHelpFormatter), one runnable command per line.
    assert lines and all(line.startswith("  ") for line in lines if line)
    assert any(f"pilothouse {verb}" in line for line in lines)


@pytest.fixture
def completion_env(tmp_path: Path) -> dict[str, str]:
    """A `pilothouse` on PATH that runs this checkout, and a config naming two clusters."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    launcher = bindir / "pilothouse"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} -m pilothouse \"$@\"\n")
    launcher.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "PILOTHOUSE_CONFIG": str(config)}


def _bash_complete(env: dict[str, str], script: str, *words: str) -> list[str]:
    """COMPREPLY for the command line `words` (the last word is the one being completed), in a real bash."""
    program = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _pilothouse; ' \
              'printf "%s\\n" "${COMPREPLY[@]}"'
    result = subprocess.run(["bash", "-c", program, "_", script, *words], env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    return [line for line in result.stdout.splitlines() if line]


@pytest.fixture
def bash_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, _ = run(capsys, "completion", "bash")
    assert code == 0
    path = tmp_path / "pilothouse.bash"
    path.write_text(out)
    # The script registers itself for the command, as `eval "$(pilothouse completion bash)"` would.
    registered = subprocess.run(["bash", "-c", f'source {path}; complete -p pilothouse'], capture_output=True,
                                text=True, check=True)
    assert registered.stdout.strip() == "complete -F _pilothouse pilothouse"
    return str(path)


def test_bash_completes_verbs_and_options(completion_env: dict[str, str], bash_script: str) -> None:
    assert _bash_complete(completion_env, bash_script, "pilothouse", "") == [
        "status", "scale", "autoscale", "doctor", "events", "rollout", "logs", "rollback", "nodes", "inspect", "diff",
        "restart", "node", "exec", "networks", "completion", "config"]
    assert _bash_complete(completion_env, bash_script, "pilothouse", "ro") == ["rollout", "rollback"]
    assert set(_bash_complete(completion_env, bash_script, "pilothouse", "doctor", "--")) >= {
        "--json", "--cluster", "--fail-on", "--readonly", "--config"}
    assert "--version" in _bash_complete(completion_env, bash_script, "pilothouse", "--v")
    assert _bash_complete(completion_env, bash_script, "pilothouse", "doctor", "--fail-on", "") == [
        "high", "medium", "low"]
    assert _bash_complete(completion_env, bash_script, "pilothouse", "config", "") == ["init", "check", "path"]
    assert _bash_complete(completion_env, bash_script, "pilothouse", "config", "init", "--f") == ["--force"]
    assert _bash_complete(completion_env, bash_script, "pilothouse", "completion", "") == ["bash", "zsh", "fish"]


def test_bash_completes_cluster_names_and_targets_from_the_config(completion_env: dict[str, str],
                                                                  bash_script: str) -> None:
    assert _bash_complete(completion_env, bash_script, "pilothouse", "status", "--cluster", "") == [
        "prod-swarm", "prod-eks"]
    assert _bash_complete(completion_env, bash_script, "pilothouse", "scale", "prod-s") == [
        "prod-swarm/", "prod-swarm/shop_cache"]
    assert _bash_complete(completion_env, bash_script, "pilothouse", "rollback", "prod-e") == ["prod-eks/"]
    # An option's value is not taken for the verb or a positional.
    assert _bash_complete(completion_env, bash_script, "pilothouse", "--demo-tasks", "5", "logs", "prod-e") == [
        "prod-eks/"]
    assert _bash_complete(completion_env, bash_script, "pilothouse", "exec", "prod-s") == [
        "prod-swarm/", "prod-swarm/shop_cache"]
    assert set(_bash_complete(completion_env, bash_script, "pilothouse", "exec", "prod-swarm/shop_cache", "--")) >= {
        "--task", "--container", "--yes"}
    # The second positional of scale (N) is not a target.
    assert _bash_complete(completion_env, bash_script, "pilothouse", "scale", "prod-eks/web", "") == []


def test_completion_reads_the_config_named_on_the_line(completion_env: dict[str, str], bash_script: str,
                                                       tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text('[[clusters]]\nname = "ecs-eu"\nprovider = "ecs"\nregion = "eu-west-1"\n')
    assert _bash_complete(completion_env, bash_script, "pilothouse", "--config", str(other), "status",
                          "--cluster", "") == ["ecs-eu"]


def test_complete_helper_never_fails_loudly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("clusters = 3\n")
    assert run(capsys, "__complete", "clusters", "--config", str(broken)) == (0, "\n", "")


def _script(capsys: pytest.CaptureFixture[str], tmp_path: Path, shell: str) -> tuple[str, str]:
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    code, out, _ = run(capsys, "completion", shell)
    assert code == 0
    path = tmp_path / f"pilothouse.{shell}"
    path.write_text(out)
    return binary, str(path)


def test_zsh_completes_through_bashcompinit(completion_env: dict[str, str], capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    zsh, script = _script(capsys, tmp_path, "zsh")
    # As zsh's bashcompinit calls the function: COMP_WORDS a zsh array, COMP_CWORD = CURRENT - 1.
    program = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _pilothouse; print -l -- $COMPREPLY'

    def complete(*words: str) -> list[str]:
        result = subprocess.run([zsh, "-c", program, "_", script, *words], capture_output=True, text=True,
                                env={**completion_env, "HOME": str(tmp_path)}, timeout=60, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return [line for line in result.stdout.splitlines() if line]

    assert complete("pilothouse", "status", "--cluster", "") == ["prod-swarm", "prod-eks"]
    assert complete("pilothouse", "config", "") == ["init", "check", "path"]
    # zsh's compgen leaves the prefix filtering to compadd: the candidates are the targets.
    assert complete("pilothouse", "scale", "prod-s") == ["prod-swarm/", "prod-eks/", "prod-swarm/shop_cache"]


def test_fish_completes_verbs_options_and_clusters(completion_env: dict[str, str],
                                                   capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fish, script = _script(capsys, tmp_path, "fish")

    def complete(line: str) -> list[str]:
        result = subprocess.run([fish, "-c", f"source {script}; complete -C'{line}'"],
                                env={**completion_env, "HOME": str(tmp_path)}, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return [entry.split("\t")[0] for entry in result.stdout.splitlines()]

    assert complete("pilothouse ro") == ["rollback", "rollout"]
    assert complete("pilothouse doctor --fail") == ["--fail-on"]
    assert complete("pilothouse doctor --fail-on ") == ["high", "low", "medium"]
    assert complete("pilothouse status --cluster ") == ["prod-eks", "prod-swarm"]
    assert complete("pilothouse rollback prod-s") == ["prod-swarm/", "prod-swarm/shop_cache"]
    assert complete("pilothouse config ") == ["check", "init", "path"]
