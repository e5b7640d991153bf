"""Hostile cluster text through every CLI text output: a provider plugin (tests/support/hostile.py, installed
through the entry-point group like any third-party provider) plants controls, escape sequences, markup, bidi
overrides and very long strings in every field; `status`, `events`, `doctor`, `logs`, `rollout`, a confirmed
`rollback` and an error line quoting cluster text must print none of them raw and no secret (logs aside);
`--json` stays exact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import run
from hostile import MARK, SECRETS, HostileDemo, hostile_config, install_plugin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff]")
PIECES = ["\x1b]0;pwned-title\x07", "\x1b]52;c;cHduZWQ=\x07", "\x1b[2J", "\x9b2J", "\x9d0;t\x9c", "\x1bP1$q\x1b\\",
          "\x1bc", "\x07", "\x00", "\r", "\n", "\t", "\x7f", "\x85", "\u202e", "\u2066", "[/]",
          "[link=http://evil.example/]", "[@click=app.quit]", "x" * 300]
HOSTILE = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), min_size=1, max_size=12).map("".join)


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from install_plugin(tmp_path, monkeypatch)


def clean_output(where: str, out: str, *, logs: bool = False) -> None:
    found = FORBIDDEN.search(out)
    assert found is None, f"{where}: {found.group(0)!r} printed"
    if not logs:
        shown = [secret for secret in SECRETS if secret in out]
        assert not shown, f"{where}: {shown} printed"


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                               HealthCheck.too_slow])
@given(hostile=HOSTILE)
def test_hostile_cluster_text_reaches_no_cli_text_output_raw(
        hostile: str, plugin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    HostileDemo.text = hostile
    config = str(hostile_config(tmp_path / "hostile.toml"))
    code, out, err = run(capsys, "--config", config, "status", "--json")
    assert code == 0, err
    (cluster,) = json.loads(out)["clusters"]
    planted = cluster["services"][0]
    ref = planted["ref"]
    # JSON is exact: the hostile text as the cluster sent it, escaped by JSON, not cleaned.
    assert planted["image"] == f"registry.local/bad:2{HostileDemo.markup}{MARK}{hostile}"
    assert cluster["scope"] == f"scope {MARK}{hostile}"

    for verb in (["status"], ["events"], ["doctor"], ["rollout", f"evil/{ref}"], ["rollback", f"evil/{ref}", "--yes"]):
        code, out, err = run(capsys, "--config", config, *verb)
        clean_output(verb[0], out + err)
        assert MARK in out, f"{verb[0]}: the planted field is printed"
    code, out, err = run(capsys, "--config", config, "status")
    assert HostileDemo.markup in out, "markup is printed as written"

    code, out, err = run(capsys, "--config", config, "doctor", "--json")
    # Doctor evidence is display text: masked in JSON too (the container's command holds a password).
    evidence = " ".join(finding["why"] for finding in json.loads(out)["findings"])
    assert not [secret for secret in SECRETS if secret in evidence]
    assert "--db-password=••••••" in evidence

    code, out, err = run(capsys, "--config", config, "logs", f"evil/{ref}", "--tail", "3")
    assert code == 0, err
    clean_output("logs", out + err, logs=True)
    assert out.count(MARK) >= 3

    code, out, err = run(capsys, "--config", config, "logs", f"evil/{ref}", "--task", "no-such-task")
    assert code != 0 and err.startswith("pilothouse: error: ")
    clean_output("error line", out + err)
    assert len(err.splitlines()) == 1, "one line, whatever newlines the quoted cluster text held"
