"""The toasts a running app shows now, for any test folder (tests/support is on every test's sys.path)."""

from __future__ import annotations

from typing import Any

from textual.notifications import Notification


def toasts(app: Any) -> list[Notification]:
    # Textual has no public read of the toasts shown now (App.notify only adds). Allowed in
    # tests/core/test_contracts.py PRIVATE_TEXTUAL_ALLOWED.
    return list(app._notifications)
