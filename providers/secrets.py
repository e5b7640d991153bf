"""Which names look like they hold a secret, and how their values are shown: one rule for every screen,
export and check."""

from __future__ import annotations

import re

SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|SESSION_?KEY"
    r"|(?:^|_)AUTH(?:_|$)|(?:^|_)DSN$|CONNECTION_?STRING)",
    re.IGNORECASE,
)
MASK = "••••••"


def looks_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def shown_value(name: str, value: str) -> str:
    """A value as it may be displayed: masked whenever the name looks secret, whatever the value."""
    return MASK if looks_secret(name) else value
