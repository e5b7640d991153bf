"""Helpers for the CLI tests (module name unique: pytest puts this directory on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilothouse.console.audit import default_audit_path, demo_audit_path
from pilothouse.console.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI in this process: exit code, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def read_audit(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def audit_lines() -> list[dict[str, str]]:
    """This test's audit lines: the real log's, then the demo's (--demo mutations are audited there only)."""
    return read_audit(default_audit_path()) + read_audit(demo_audit_path())
