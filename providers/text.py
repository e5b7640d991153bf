"""Cluster text as it may reach a terminal: one rule for every screen and every CLI text output.

Everything a cluster returns (event messages, waiting and stopped reasons, images, annotations, errors) is
untrusted: a workload owner must not be able to set the operator's terminal title, write their clipboard,
blank the screen or hide text. So escape sequences (7-bit `ESC ...` and 8-bit C1 forms) are removed, every
other C0/C1 control and every character that reorders or hides text (bidi overrides and isolates, zero-width
and other format characters) becomes a visible PLACEHOLDER, and newlines survive only where a field is shown
on several lines. `display_text` also masks secret-looking values (providers/secrets.py); `clean_text` does
not, for log lines the operator asked for. JSON output is never passed through here: json.dumps escapes.
"""

from __future__ import annotations

import re

from pilothouse.providers.secrets import mask_secrets, may_hold_secret

PLACEHOLDER = "\N{REPLACEMENT CHARACTER}"

# Escape sequences, removed whole, in the forms terminals act on:
# - CSI: ESC [ or 8-bit \x9b, parameters, intermediates, a final byte (ESC[2J, \x9b31m);
# - strings: OSC (ESC ] / \x9d), DCS (ESC P / \x90), SOS (ESC X / \x98), PM (ESC ^ / \x9e), APC (ESC _ / \x9f),
#   up to BEL, ST (ESC \ or \x9c) or the next ESC; unterminated, only the introducer goes (the rest is shown:
#   a hostile field must not hide what follows it on the line);
# - the rest: ESC, intermediate bytes, one final byte (ESC c reset, ESC ( B charset, ESC 7).
_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x90\x98\x9c-\x9f]*(?:\x07|\x1b\\|\x9c|(?=\x1b))"
    r"|\x1b[ -/]*[0-~]"
)
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
# Controls (tab and newline are handled before) and format characters that reorder or hide text: bidi
# embeddings, overrides and isolates, zero-width characters, the BOM, soft hyphen, invisible operators, tags.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff0-\ufffb\U000e0000-\U000e007f]"
)
# Anything the slow path would change (tab and newlines included).
_NOT_PLAIN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u2028\u2029"
    "\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff0-\ufffb\U000e0000-\U000e007f]"
)
TAB = "    "


def is_clean(value: str) -> bool:
    """True when clean_text would return the value unchanged (plain printable ASCII is the fast case)."""
    if value.isascii():
        return value.isprintable()
    return _NOT_PLAIN.search(value) is None


def without_escapes(value: str) -> str:
    """The value with its escape sequences removed (before tabs are expanded: they take no columns)."""
    return value if is_clean(value) else _ESCAPE.sub("", value)


def clean_text(value: str, *, multiline: bool = False) -> str:
    """The value with no escape sequence, control or hiding character left; one line unless `multiline`."""
    if is_clean(value):
        return value
    text = _ESCAPE.sub("", value)
    text = _LINE_BREAK.sub("\n" if multiline else " ", text)
    text = text.replace("\t", TAB if multiline else " ")
    return _UNSAFE.sub(PLACEHOLDER, text)


def display_text(value: str, *, multiline: bool = False) -> str:
    """Cluster text as any screen or CLI text output shows it: cleaned, then secret-looking values masked."""
    text = clean_text(value, multiline=multiline)
    return mask_secrets(text) if may_hold_secret(text) else text
