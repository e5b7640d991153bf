"""The config file: $XDG_CONFIG_HOME/pilothouse/config.toml, or --config / PILOTHOUSE_CONFIG.

Validated strictly: every error is one line naming the file, the line and the key.

    refresh_interval = 2.0        # seconds between polls (watches push changes sooner)
    readonly = false              # true: no scale, no rollback, anywhere
    [keymap]                      # binding id = "key[,key]"; checked: known ids, no two on one key, none
                                  # a dialog's focused widget takes (enter on the confirmation's buttons)
    scale = "S"
    [[clusters]]
    name = "prod-swarm"
    provider = "swarm"            # swarm | kubernetes | ecs (or an installed plugin)
    readonly = false
    docker_host = "ssh://ops@manager-1"
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilothouse.console.keys import keymap_problem
from pilothouse.providers import registry
from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.demo import demo_cluster_configs
from pilothouse.providers.doctor import RULES, DoctorConfig, Silence
from pilothouse.providers.errors import InvalidInput, ProviderUnavailable

TOP_LEVEL_KEYS = {"refresh_interval": (int, float), "readonly": (bool,), "keymap": (dict,), "clusters": (list,),
                  "audit_log": (str,), "doctor": (dict,), "log_buffer_lines": (int,), "theme": (str,)}
LOG_BUFFER_RANGE = (100, 1_000_000)
DOCTOR_KEYS = {"trusted_registries": (list,), "silence": (list,)}
SILENCE_KEYS = {"rule": (str,), "service": (str,), "reason": (str,)}
CLUSTER_KEYS = {"name": (str,), "provider": (str,), "readonly": (bool,), "refresh_interval": (int, float)}
MIN_REFRESH_S = 0.2
# An hour between polls is already no live view; beyond that (1e308, inf) a timer overflows.
MAX_REFRESH_S = 3600.0
# A config is a few dozen lines; megabytes of it are a mistake (or an attack) that must not eat the memory.
MAX_CONFIG_BYTES = 1_000_000
DEMO_TRUSTED_REGISTRIES = ("registry.example.com/", "docker.io/library/", "docker.io/prom/")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class ConfigError(InvalidInput):
    """A broken config file; exit 2."""


@dataclass(frozen=True, slots=True)
class AppConfig:
    clusters: tuple[ClusterConfig, ...] = ()
    refresh_interval: float = 2.0
    readonly: bool = False
    keymap: Mapping[str, str] = field(default_factory=dict)
    source: Path | None = None
    demo: bool = False
    audit_log: Path | None = None
    doctor: DoctorConfig = field(default_factory=DoctorConfig)
    # A log view keeps at most this many lines: a long follow on a bastion must not eat its memory.
    log_buffer_lines: int = 10_000
    # A Textual theme name; None: the one last picked in the palette (state file), else Textual's default.
    theme: str | None = None

    def cluster(self, name: str) -> ClusterConfig | None:
        return next((cluster for cluster in self.clusters if cluster.name == name), None)


# XDG paths by hand, the same on every platform (no platformdirs): the README and the bastions' docs name
# $XDG_CONFIG_HOME / $XDG_STATE_HOME, and macOS's ~/Library would make them untrue there.
def config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pilothouse"


def state_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pilothouse"


def default_config_path() -> Path:
    return config_home() / "config.toml"


def resolve_config_path(explicit: str | None) -> tuple[Path, bool]:
    """(path, whether the user named it); a named file must exist, the default one may not."""
    if explicit:
        return Path(explicit).expanduser(), True
    env = os.environ.get("PILOTHOUSE_CONFIG")
    if env:
        return Path(env).expanduser(), True
    return default_config_path(), False


def _line_of(text: str, key: str, occurrence: int = 0) -> int | None:
    """Best effort: the line where `key = ` (or a [table] named key) stands; tomllib keeps no positions."""
    name = re.escape(key)
    pattern = re.compile(rf"^\s*(\"{name}\"|'{name}'|{name})\s*=|^\s*\[+\s*{name}\s*\]+")
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line):
            if seen == occurrence:
                return number
            seen += 1
    return None


class _Validator:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def fail(self, key: str, message: str, occurrence: int = 0) -> ConfigError:
        line = _line_of(self.text, key.split(".")[-1], occurrence)
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {key}: {message}")

    def typed(self, key: str, value: Any, types: tuple[type, ...], occurrence: int = 0) -> Any:
        # bool is an int in Python; a `true` where a number belongs is still a mistake.
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            wanted = " or ".join(_type_name(t) for t in types)
            raise self.fail(key, f"expected {wanted}, got {_type_name(type(value))} {value!r}", occurrence)
        if isinstance(value, float) and not math.isfinite(value):
            # TOML has nan and inf; no setting of ours means either (nan polls without delay, inf overflows).
            raise self.fail(key, f"must be a finite number, not {value!r}", occurrence)
        return value

    def interval(self, key: str, value: float, occurrence: int = 0) -> float:
        if not MIN_REFRESH_S <= value <= MAX_REFRESH_S:
            raise self.fail(key, f"must be between {MIN_REFRESH_S} and {MAX_REFRESH_S:g} seconds, not {value:g}",
                            occurrence)
        return value


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list",
            dict: "a table"}.get(kind, kind.__name__)


def parse_config(text: str, path: Path) -> AppConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply", "a config needs a few levels at most") from None
    check = _Validator(path, text)
    for key, value in data.items():
        if key not in TOP_LEVEL_KEYS:
            raise check.fail(key, f"unknown key (known: {', '.join(sorted(TOP_LEVEL_KEYS))})")
        check.typed(key, value, TOP_LEVEL_KEYS[key])
    interval = check.interval("refresh_interval", float(data.get("refresh_interval", 2.0)))
    keymap: dict[str, str] = {}
    for binding_id, keys in data.get("keymap", {}).items():
        keymap[binding_id] = check.typed(f"keymap.{binding_id}", keys, (str,))
    # Textual accepts any keymap silently: a clash would leave a binding (quit, say) without a key, and a key
    # a dialog's focused widget takes (enter presses the confirmation's focused button) would never fire.
    problem = keymap_problem(keymap)
    if problem is not None:
        raise check.fail(f"keymap.{problem.binding_id}", problem.message)
    clusters: list[ClusterConfig] = []
    names: set[str] = set()
    for position, entry in enumerate(data.get("clusters", [])):
        if not isinstance(entry, dict):
            raise check.fail("clusters", "each entry must be a [[clusters]] table")
        clusters.append(_cluster(check, entry, position, interval, names))
    audit = data.get("audit_log")
    log_lines = int(data.get("log_buffer_lines", 10_000))
    if not LOG_BUFFER_RANGE[0] <= log_lines <= LOG_BUFFER_RANGE[1]:
        raise check.fail("log_buffer_lines", f"must be between {LOG_BUFFER_RANGE[0]} and {LOG_BUFFER_RANGE[1]}")
    theme = data.get("theme")
    if theme is not None and theme not in theme_names():
        raise check.fail("theme", f"unknown theme {theme!r} (known: {', '.join(theme_names())})")
    return AppConfig(
        clusters=tuple(clusters), refresh_interval=interval, readonly=bool(data.get("readonly", False)),
        keymap=keymap, source=path, audit_log=Path(audit).expanduser() if audit else None,
        doctor=_doctor(check, data.get("doctor", {})), log_buffer_lines=log_lines, theme=theme,
    )


# The themes Textual ships, named here so config checks need no Textual (a layer contract, and textual.theme
# takes half a second to import); tests/core/test_contracts.py keeps the list equal to the installed Textual's.
TEXTUAL_THEMES = (
    "ansi-dark", "ansi-light", "atom-one-dark", "atom-one-light", "catppuccin-frappe", "catppuccin-latte",
    "catppuccin-macchiato", "catppuccin-mocha", "dracula", "flexoki", "gruvbox", "monokai", "nord", "rose-pine",
    "rose-pine-dawn", "rose-pine-moon", "solarized-dark", "solarized-light", "textual-dark", "textual-light",
    "tokyo-night",
)


def theme_names() -> list[str]:
    """The themes a config may name."""
    return sorted(TEXTUAL_THEMES)


def _doctor(check: _Validator, data: dict[str, Any]) -> DoctorConfig:
    for key, value in data.items():
        if key not in DOCTOR_KEYS:
            raise check.fail(f"doctor.{key}", f"unknown key (known: {', '.join(sorted(DOCTOR_KEYS))})")
        check.typed(f"doctor.{key}", value, DOCTOR_KEYS[key])
    registries = data.get("trusted_registries", [])
    if not all(isinstance(item, str) for item in registries):
        raise check.fail("doctor.trusted_registries", "expected a list of strings")
    silences = []
    for position, entry in enumerate(data.get("silence", [])):
        if not isinstance(entry, dict):
            raise check.fail("doctor.silence", "each entry must be a [[doctor.silence]] table")
        for key, value in entry.items():
            if key not in SILENCE_KEYS:
                raise check.fail(f"silence.{key}", "unknown key (known: reason, rule, service)", position)
            check.typed(f"silence.{key}", value, SILENCE_KEYS[key], position)
        rule = entry.get("rule", "*")
        if rule != "*" and rule not in RULES:
            raise check.fail("silence.rule", f"unknown rule {rule!r} (known: {', '.join(RULES)})", position)
        if not entry.get("reason"):
            raise check.fail("doctor.silence", f"entry {position + 1} needs a reason (the Doctor screen shows it)")
        silences.append(Silence(rule=rule, service=entry.get("service", "*"), reason=entry["reason"]))
    return DoctorConfig(trusted_registries=tuple(registries), silences=tuple(silences))


def _cluster(check: _Validator, entry: dict[str, Any], position: int, interval: float,
             names: set[str]) -> ClusterConfig:
    for key in ("name", "provider"):
        if key not in entry:
            raise check.fail("clusters", f"entry {position + 1} has no {key!r}", position)
    name = check.typed("clusters.name", entry["name"], (str,), position)
    if not NAME_PATTERN.match(name):
        raise check.fail("clusters.name", f"{name!r} is not a usable name (letters, digits, . _ -)", position)
    if name in names:
        raise check.fail("clusters.name", f"{name!r} is used twice", position)
    names.add(name)
    provider_name = check.typed("clusters.provider", entry["provider"], (str,), position)
    try:
        provider_class = registry.provider_class(provider_name)
    except ProviderUnavailable as error:
        raise check.fail("clusters.provider", str(error), position) from None
    options: dict[str, Any] = {}
    for key, value in entry.items():
        if key in CLUSTER_KEYS:
            check.typed(f"clusters.{key}", value, CLUSTER_KEYS[key], position)
            continue
        option = provider_class.OPTIONS.get(key)
        if option is None:
            known = ", ".join(sorted([*CLUSTER_KEYS, *provider_class.OPTIONS]))
            raise check.fail(f"clusters.{key}", f"unknown key for provider {provider_name!r} (known: {known})",
                             position)
        options[key] = check.typed(f"clusters.{key}", value, option.types, position)
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise check.fail(f"clusters.{key}", "expected a list of strings", position)
    cluster_interval = check.interval("clusters.refresh_interval", float(entry.get("refresh_interval", interval)),
                                      position)
    return ClusterConfig(name=name, provider=provider_name, readonly=bool(entry.get("readonly", False)),
                         refresh_interval=cluster_interval, options=options)


def load_config(path: Path | None, *, required: bool = False) -> AppConfig:
    """Read and validate a config file; a missing default file is an empty config, a missing named one an error."""
    if path is None:
        path = default_config_path()
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: config file is {size:,} bytes; at most {MAX_CONFIG_BYTES:,} are read",
                              "is this the right file?")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: config file not found", "check --config / PILOTHOUSE_CONFIG") from None
        return AppConfig(source=None)
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config: {error}") from None
    return parse_config(text, path)


def demo_config(tasks: int | None = None, frozen_at: float | None = None,
                base: AppConfig | None = None) -> AppConfig:
    """The built-in demo fleet, keeping the keymap and read-only flag of a user config if there is one."""
    base = base or AppConfig()
    doctor = base.doctor
    if not doctor.trusted_registries:
        # The demo plants a third-party image; with an allow-list the doctor has something to say about it.
        doctor = DoctorConfig(trusted_registries=DEMO_TRUSTED_REGISTRIES, silences=doctor.silences)
    return AppConfig(
        clusters=demo_cluster_configs(tasks, frozen_at), refresh_interval=1.0, readonly=base.readonly,
        # Not base.audit_log: the demo's simulated mutations go to the demo audit log (console/fleet.py).
        keymap=base.keymap, source=base.source, demo=True, audit_log=None, doctor=doctor,
        log_buffer_lines=base.log_buffer_lines, theme=base.theme,
    )
