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


# user:password@ in a URL (pip's --index-url, a git remote).
_URL_CREDENTIAL = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?P<tail>@)")
# NAME=value and --name=value / --name value, where the name might hold a secret.
_ASSIGNED = re.compile(r"(?P<name>(?:--?)?[A-Za-z_][A-Za-z0-9_.-]*)(?P<sep>=|\s+)(?P<value>\"[^\"]*\"|'[^']*'|\S+)")
_BEARER = re.compile(r"(?i)(?P<head>\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{8,}")


def mask_command(text: str) -> str:
    """A command line as it may be shown: values of secret-looking options and assignments, URL passwords
    and bearer tokens masked."""
    text = _URL_CREDENTIAL.sub(lambda m: f"{m['head']}{MASK}{m['tail']}", text)
    text = _BEARER.sub(lambda m: f"{m['head']}{MASK}", text)

    def assigned(match: re.Match[str]) -> str:
        name = match["name"]
        option = name.startswith("-")
        # "--token abc" masks abc; "apk add x" is not an assignment (a space only follows an option).
        if match["sep"] != "=" and not option:
            return match[0]
        if not should_mask(name.lstrip("-").replace("-", "_")):
            return match[0]
        return f"{name}{match['sep']}{MASK}"

    return _ASSIGNED.sub(assigned, text)
