"""Which names look like they hold a secret, and how their values are shown: one rule for every screen,
export and check."""

from __future__ import annotations

import re

SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|SESSION_?KEY"
    r"|(?:^|_)AUTH(?:_|$)|(?:^|_)DSN$|CONNECTION_?STRING)",
    re.IGNORECASE,
)
# Masking may err on the safe side (KEYBOARD_LAYOUT masked is harmless); the doctor may not (noise).
MASK_WORDS = ("secret", "password", "passwd", "token", "key", "credential", "auth", "private", "cert", "dsn")
MASK = "••••••"


def looks_secret(name: str) -> bool:
    """A name that almost surely holds a credential: what the doctor flags when its value is literal."""
    return bool(SECRET_NAME.search(name))


def should_mask(name: str) -> bool:
    lowered = name.lower()
    return looks_secret(name) or any(word in lowered for word in MASK_WORDS)


def shown_value(name: str, value: str) -> str:
    """A value as it may be displayed: masked whenever the name might hold a secret, whatever the value."""
    return MASK if should_mask(name) else value
