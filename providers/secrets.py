"""Which names look like they hold a secret, and how their values are shown: one rule for every screen,
export and check."""

from __future__ import annotations

import re
from collections.abc import Callable

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


# -- secrets by value: what a credential looks like wherever it appears (env values, commands, messages) -----
# Each rule runs only when a cheap substring test says it might match: most display text (names, images,
# states) passes none of them, and masking then costs a lowercase copy and a few `in` tests.

_WORDS = r"(?:password|passwd|passphrase|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential)"
_SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "credential")
# A flag or pair whose name says it holds a file or a reference, not the secret itself: shown.
_REFERENCE_NAME = re.compile(r"(?:file|path|dir|ref|arn|name|env|id|length|ttl|expiry|expires|url|uri|host|port)$",
                             re.IGNORECASE)
_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s\"',;&|]+)"
_KEY_ID = r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"
_SECRET_KEY = r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"

_PEM = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)", re.DOTALL)
_URL = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@\"']*:)[^\s/?#\"']+(?=@)")
_KEY_PAIR = re.compile(rf"({_KEY_ID})([\s:,;/|]+){_SECRET_KEY}")
_KEY_ID_RE = re.compile(_KEY_ID)
# --db-password=x, --token x, PASSWORD=x, db.password: x, "token": "x" (not an image's `vault/token:1.2`)
_NAMED = re.compile(
    rf"(?<![\w.-])(?P<lead>--?)?(?P<quote>[\"']?)(?P<name>[\w.-]*?{_WORDS}[\w.-]*)(?P=quote)"
    rf"(?P<sep>\s*=\s*|\s*:(?:\s+|(?=[\"']))|\s+)(?P<value>(?!-)(?:(?:bearer|basic)\s+)?{_VALUE})",
    re.IGNORECASE,
)
# a 40-character secret access key beside an AWS-ish or key= name
_KEY_NAMED = re.compile(rf"(?<![\w.-])([\"']?(?:[\w.-]*key|aws[\w.-]*)[\"']?\s*[=:]\s*[\"']?){_SECRET_KEY}",
                        re.IGNORECASE)
_SCHEME = re.compile(r"\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def _named(match: re.Match[str]) -> str:
    name, sep, value = match.group("name"), match.group("sep"), match.group("value")
    plain_word = not match.group("lead") and not sep.strip()  # "password reset": prose, not a pair
    if plain_word or _REFERENCE_NAME.search(name) or value.strip("\"'").startswith(MASK):
        return match.group(0)
    return match.group(0)[: match.start("value") - match.start()] + MASK


_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (("-----begin",), _PEM, f"-----BEGIN PRIVATE KEY----- {MASK} -----END PRIVATE KEY-----"),
    (("://",), _URL, rf"\1{MASK}"),
    (("akia", "asia"), _KEY_PAIR,
     lambda found: f"{found.group(1)[:4]}{MASK}{found.group(2)}{MASK}"),
    (("akia", "asia"), _KEY_ID_RE,
     lambda found: found.group(0)[:4] + MASK),
    (_SECRET_WORDS, _NAMED, _named),
    (("key", "aws"), _KEY_NAMED, rf"\1{MASK}"),
    (("bearer", "basic"), _SCHEME, rf"\1{MASK}"),
    (("eyj",), _JWT, MASK),
)
_HINTS = tuple(sorted({hint for hints, _, _ in _RULES for hint in hints}))


def may_hold_secret(text: str) -> bool:
    lowered = text.lower()
    for hint in _HINTS:  # noqa: SIM110 - a loop: any() over a generator costs twice as much, on every cell
        if hint in lowered:
            return True
    return False


def mask_secrets(text: str) -> str:
    """`text` with every secret-looking value masked: the passwords of URLs, access key ids and secret keys,
    bearer and JSON web tokens, private key blocks, `--password=...`-style flags and `PASSWORD=...` pairs in
    commands. Masking errs on the safe side; names, image references and plain URLs stay as they are."""
    lowered = text.lower()
    for hints, pattern, replacement in _RULES:
        if any(hint in lowered for hint in hints):
            text = pattern.sub(replacement, text)
    return text


def mask_command(text: str) -> str:
    """A command line as it may be shown (doctor evidence, package installs): the same rule as any text."""
    return mask_secrets(text)
