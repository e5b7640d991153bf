"""The one rule for cluster text (providers/text.py) and secrets by value (providers/secrets.py)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

from pilothouse.providers.secrets import MASK, mask_secrets
from pilothouse.providers.text import PLACEHOLDER, clean_text, display_text, is_clean
from pilothouse.widgets.render import masked_env, safe_text

# What a terminal acts on: ESC, the C1 range (8-bit CSI, OSC, DCS, ST...), BEL, and the other C0 controls.
TERMINAL_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
HIDING = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff\u00ad]")


@pytest.mark.parametrize(("hostile", "shown"), [
    # 7-bit CSI: clear screen, colours, cursor moves
    ("before\x1b[2Jafter", "beforeafter"),
    ("\x1b[31;1mred\x1b[0m", "red"),
    ("a\x1b[?1049hb", "ab"),
    # 8-bit CSI
    ("a\x9b2Jb", "ab"),
    ("\x9b31mred\x9b0m", "red"),
    # OSC: window title, clipboard write, hyperlink; ended by BEL, ESC \, 8-bit ST, or nothing
    ("x\x1b]0;pwned\x07y", "xy"),
    ("x\x1b]52;c;ZWNobyBwd25lZA==\x07y", "xy"),
    ("x\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\y", "xlinky"),
    ("x\x9d0;title\x9cy", "xy"),
    ("x\x9d0;title\x07y", "xy"),
    ("x\x1b]0;unterminated", "x0;unterminated"),  # nothing after it hidden
    ("x\x9d0;unterminated", f"x{PLACEHOLDER}0;unterminated"),
    # DCS, SOS, PM, APC, 7-bit and 8-bit
    ("a\x1bP1$qm\x1b\\b", "ab"),
    ("a\x90q#0;2;0;0;0\x9cb", "ab"),
    ("a\x1bXsos\x1b\\b", "ab"),
    ("a\x1b^pm\x1b\\b", "ab"),
    ("a\x1b_apc\x07b", "ab"),
    ("a\x9fapc\x9cb", "ab"),
    # two-byte and charset sequences
    ("a\x1bcb", "ab"),
    ("a\x1b(0b", "ab"),
    ("a\x1b7b\x1b8", "ab"),
])
def test_escape_sequences_are_removed_whole(hostile: str, shown: str) -> None:
    assert clean_text(hostile) == shown
    assert display_text(hostile) == shown


# ESC and the 8-bit introducers (DCS, SOS, CSI, OSC, PM, APC) start a sequence: they take what follows.
INTRODUCERS = {"\x1b", "\x90", "\x98", "\x9b", "\x9d", "\x9e", "\x9f"}


@pytest.mark.parametrize("control", [*map(chr, range(0x00, 0x09)), *map(chr, range(0x0b, 0x20)), "\x7f",
                                     *map(chr, range(0x80, 0xa0))])
def test_every_other_control_becomes_a_visible_placeholder(control: str) -> None:
    shown = display_text(f"a{control}b")
    assert not TERMINAL_CONTROL.search(shown)
    if control in ("\r", "\x85"):  # line breaks: one line
        assert shown == "a b"
    elif control not in INTRODUCERS:
        assert shown == f"a{PLACEHOLDER}b"


def test_a_lone_escape_or_bell_is_shown_not_sent() -> None:
    assert display_text("a\x1b") == f"a{PLACEHOLDER}"
    assert display_text("ding\x07") == f"ding{PLACEHOLDER}"


@pytest.mark.parametrize("hider", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                   "\u2069", "\u200b", "\u200e", "\u200f", "\u2060", "\ufeff", "\u00ad",
                                   "\U000e0041"])
def test_bidi_overrides_and_hiding_characters_are_neutralised(hider: str) -> None:
    # "admin\u202Etxt.exe" would read "adminexe.txt": the override is shown instead of obeyed.
    shown = display_text(f"admin{hider}txt.exe")
    assert shown == f"admin{PLACEHOLDER}txt.exe"


def test_newlines_make_one_line_unless_the_field_is_multi_line() -> None:
    assert display_text("line one\nline two\r\nthree\rfour\u2028five") == "line one line two three four five"
    assert display_text("a\tb") == "a b"
    multi = display_text("panic: boom\r\n\tgoroutine 1\n\x1b[2Jmain()", multiline=True)
    assert multi == "panic: boom\n    goroutine 1\nmain()"


@pytest.mark.parametrize("markup", ["registry.local/bad:2[/]", "[link=http://evil/]x[/link]", "[@click=app.quit]x[/]",
                                    "[b]bold[/b]", "[$accent]x"])
def test_markup_is_text_it_passes_unchanged(markup: str) -> None:
    # Sanitising does not escape markup: cluster text is never parsed as markup in the first place.
    assert display_text(markup) == markup


@pytest.mark.parametrize("plain", ["registry.example.com/shop/api:1.4.2", "web-7d9f8c-x2x4k", "CrashLoopBackOff",
                                   "prod/web", "ünïcode ✓ 日本語", "emoji ❤️ with its variation selector"])
def test_ordinary_text_is_unchanged(plain: str) -> None:
    assert display_text(plain) == plain
    assert display_text(plain, multiline=True) == plain


def test_very_long_hostile_strings_are_cleaned_in_linear_time() -> None:
    chunks = ["x" * 1000, "\x1b[", "1;" * 500, "\x1b]0;", "t" * 1000, "\x9b", "[/]", "\u202e", "\x1b[" + "9" * 5000]
    hostile = "".join(chunks) * 20
    started = time.perf_counter()
    shown = display_text(hostile)
    elapsed = time.perf_counter() - started
    assert not TERMINAL_CONTROL.search(shown) and not HIDING.search(shown)
    # Generous: a quadratic pattern takes minutes on this input, a linear one milliseconds.
    assert elapsed < 2.0, elapsed


def test_plain_ascii_takes_the_fast_path() -> None:
    value = "registry.example.com/shop/api:1.4.2"
    assert is_clean(value) and display_text(value) is value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(["\x1b", "\x9b", "\x9d", "\x07", "[", "]", ";", "\x1b[",
                                                                "\x1b]", "\x1b\\", "\u202e", "\r\n", "\t", "2J"])),
                max_size=30).map("".join))
def test_no_control_or_hiding_character_survives_any_input(value: str) -> None:
    for multiline in (False, True):
        shown = display_text(value, multiline=multiline)
        assert not TERMINAL_CONTROL.search(shown)
        assert not HIDING.search(shown)
        assert ("\n" in shown) <= multiline
        # Idempotent: what is shown once is shown the same again.
        assert display_text(shown, multiline=multiline) == shown


# -- secrets by value -----------------------------------------------------------------------------------

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(("value", "shown", "hidden"), [
    ("postgres://admin:hunter2@db:5432/app", f"postgres://admin:{MASK}@db:5432/app", "hunter2"),
    ("redis://:s3cr3t@cache:6379", f"redis://:{MASK}@cache:6379", "s3cr3t"),
    ("AKIAIOSFODNN7EXAMPLE", f"AKIA{MASK}", "IOSFODNN7EXAMPLE"),
    ("ASIAIOSFODNN7EXAMPLE", f"ASIA{MASK}", "IOSFODNN7EXAMPLE"),
    (f"AKIAIOSFODNN7EXAMPLE:{SECRET_KEY}", f"AKIA{MASK}:{MASK}", SECRET_KEY),
    (f"aws_secret_access_key={SECRET_KEY}", f"aws_secret_access_key={MASK}", SECRET_KEY),
    (f"AWS_SECRET={SECRET_KEY}", f"AWS_SECRET={MASK}", SECRET_KEY),
    (f"--key={SECRET_KEY}", f"--key={MASK}", SECRET_KEY),
    (f"key: {SECRET_KEY}", f"key: {MASK}", SECRET_KEY),
    ("Authorization: Bearer abcdef0123456789", f"Authorization: Bearer {MASK}", "abcdef0123456789"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", MASK, "c2lnbmF0dXJl"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
     f"-----BEGIN PRIVATE KEY----- {MASK} -----END PRIVATE KEY-----", "MIIEpAIBAAKCAQEA"),
    ("-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXk",
     f"-----BEGIN PRIVATE KEY----- {MASK} -----END PRIVATE KEY-----", "b3BlbnNzaC1rZXk"),
    ("sh -c app --db-password=hunter2", f"sh -c app --db-password={MASK}", "hunter2"),
    ("app --password hunter2 --port 80", f"app --password {MASK} --port 80", "hunter2"),
    ("app --token abc.def --verbose", f"app --token {MASK} --verbose", "abc.def"),
    ("app --secret=shh", f"app --secret={MASK}", "shh"),
    ("app --client-secret 'a b c'", f"app --client-secret {MASK}", "a b c"),
    ("PASSWORD=hunter2 ./run", f"PASSWORD={MASK} ./run", "hunter2"),
    ("env DB_PASS=x MYSQL_ROOT_PASSWORD=hunter2 mysqld", f"env DB_PASS=x MYSQL_ROOT_PASSWORD={MASK} mysqld", "hunter2"),
    ('{"api_key": "k-123456"}', f'{{"api_key": {MASK}}}', "k-123456"),
    ("https://hooks.example.com/x?token=abc123&v=1", f"https://hooks.example.com/x?token={MASK}&v=1", "abc123"),
])
def test_secret_looking_values_are_masked(value: str, shown: str, hidden: str) -> None:
    assert mask_secrets(value) == shown
    assert hidden not in display_text(value)
    assert mask_secrets(shown) == shown  # masking twice changes nothing


@pytest.mark.parametrize("ordinary", [
    "registry.example.com/shop/api:1.4.2", "vault/token:1.2", "registry/secret-store:1.0", "nginx@sha256:abc123",
    "https://example.com/path?a=b", "http://host:8080/x@y", "postgres://db:5432/app", "--log-level=debug",
    "--port 8080", "key=value", "token expired", "the password is wrong", "password reset required",
    "--secret-file /run/secrets/db", "--token-path=/var/run/token", "--password", "app --password --verbose",
    "Back-off restarting failed container web in pod web-7d9f8c-x2x4k", "AKIA", "akiaiosfodnn7example",
    "TOKEN_URL=https://auth.example.com/token", "basic auth failed", "keyboard=us",
])
def test_ordinary_values_are_not_masked(ordinary: str) -> None:
    assert mask_secrets(ordinary) == ordinary


def test_env_values_are_masked_by_name_and_by_value() -> None:
    assert masked_env("DATABASE_URL", "postgres://admin:hunter2@db") == f"postgres://admin:{MASK}@db"
    assert masked_env("CONFIG_BLOB", "AKIAIOSFODNN7EXAMPLE") == f"AKIA{MASK}"
    assert masked_env("DB_PASSWORD", "anything") == MASK
    assert masked_env("LOG_LEVEL", "debug") == "debug"
    assert masked_env("BANNER", "\x1b]0;pwned\x07hi") == "hi"


def test_a_text_assembled_from_cluster_strings_is_cleaned_with_its_styles_kept() -> None:
    text = Text("image ")
    # (Rich itself drops BEL from appended strings, so the OSC here ends with ESC \\.)
    text.append("bad\x1b]0;t\x1b\\:2", style="bold")
    text.append(" --password=hunter2", style="dim")
    safe = safe_text(text)
    assert safe.plain == f"image bad:2 --password={MASK}"
    assert {(safe.plain[span.start:span.end], str(span.style)) for span in safe.spans} == {
        ("bad:2", "bold"), (f" --password={MASK}", "dim")}
    clean = Text("plain", style="bold")
    assert safe_text(clean) is clean
