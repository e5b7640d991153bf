"""Package-manager commands in a container's command line: the "don't update your containers" pitfall.

A container that installs or upgrades packages when it starts (or by hand, through an exec shell) drifts
from its image: each replica may get different versions, and the change is lost on the next reschedule.
Pure functions of text; the command is untrusted cluster data, so what is shown of it is masked.
"""

from __future__ import annotations

import re

from pilothouse.providers.secrets import mask_command

# tool -> subcommands that change what is installed. Index refreshes (`apt-get update`, `apk update`) are
# not changes by themselves; the install that follows them is.
_SUBCOMMANDS: dict[str, frozenset[str]] = {
    "apt-get": frozenset({"install", "upgrade", "dist-upgrade", "full-upgrade", "reinstall"}),
    "apt": frozenset({"install", "upgrade", "dist-upgrade", "full-upgrade", "reinstall"}),
    "aptitude": frozenset({"install", "upgrade", "safe-upgrade", "full-upgrade", "reinstall"}),
    "yum": frozenset({"install", "update", "upgrade", "reinstall", "groupinstall", "localinstall", "distro-sync"}),
    "dnf": frozenset({"install", "update", "upgrade", "reinstall", "groupinstall", "distro-sync"}),
    "microdnf": frozenset({"install", "update", "upgrade", "reinstall"}),
    "tdnf": frozenset({"install", "update", "upgrade", "reinstall"}),
    "zypper": frozenset({"install", "in", "update", "up", "dist-upgrade", "dup", "patch"}),
    "apk": frozenset({"add", "upgrade", "fix"}),
    "pip": frozenset({"install"}),
    "pip3": frozenset({"install"}),
    "npm": frozenset({"install", "i", "ci", "update", "upgrade", "add"}),
    "yarn": frozenset({"install", "add", "upgrade"}),
    "pnpm": frozenset({"install", "i", "add", "update", "upgrade"}),
    "gem": frozenset({"install", "update"}),
    "bundle": frozenset({"install", "update"}),
    "composer": frozenset({"install", "require", "update"}),
    "conda": frozenset({"install", "update", "upgrade"}),
}
# pacman installs through options: -S, -Syu, -U.
_PACMAN = re.compile(r"^-[A-Za-z]*[SU]")
# Words before the command itself: `sudo`, `exec`, `env A=B`, `nohup`, VAR=value assignments, and the shell
# of `sh -c "..."` (its script is the rest of the words).
_PREFIXES = frozenset({"sudo", "exec", "env", "nohup", "command", "time", "doas", "nice",
                       "sh", "bash", "ash", "dash", "zsh"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Shell operators that separate simple commands.
_SEPARATORS = re.compile(r"&&|\|\||[;&|\n`]|\$\(|\)")


def _words(command: str) -> list[str]:
    return [word.strip("'\"()") for word in command.split()]


def _package_command(words: list[str]) -> int:
    """Where the package-manager command starts in `words` (after sudo, sh -c, ...), or -1 for none."""
    position = _tool_position(words)
    return position if position >= 0 and _changes_packages(words[position:]) else -1


def _tool_position(words: list[str]) -> int:
    position = 0
    while position < len(words) and (words[position].rsplit("/", 1)[-1] in _PREFIXES
                                      or _ASSIGNMENT.match(words[position])
                                      or (words[position].startswith("-") and position > 0)):
        position += 1
    return position if position < len(words) else -1


def _changes_packages(words: list[str]) -> bool:
    tool = words[0].rsplit("/", 1)[-1]
    rest = words[1:]
    if re.fullmatch(r"python[0-9.]*", tool) and rest[:2] == ["-m", "pip"]:
        tool, rest = "pip", rest[2:]
    elif tool == "uv" and rest[:1] == ["pip"]:
        tool, rest = "pip", rest[1:]
    elif re.fullmatch(r"pip[0-9.]*", tool):
        tool = "pip"
    if tool == "pacman":
        return any(_PACMAN.match(word) for word in rest)
    subcommands = _SUBCOMMANDS.get(tool)
    if subcommands is None:
        return False
    # The subcommand is the first word that is not an option (`apt-get -y install`, `apk --no-cache add`).
    subcommand = next((word for word in rest if not word.startswith("-")), "")
    return subcommand in subcommands


def package_commands(command: str) -> list[str]:
    """The simple commands in `command` that install or upgrade packages, masked, in order."""
    found = []
    for part in _SEPARATORS.split(command):
        words = _words(part)
        position = _package_command(words)
        if position >= 0:
            found.append(mask_command(" ".join(words[position:])))
    return found


def package_manager_warning(command: str) -> str | None:
    """A one-line warning for a package-manager command about to run in a live container, or None.

    For an exec shell: say it before the command is sent (issue 16 calls this on each typed line).
    """
    found = package_commands(command)
    if not found:
        return None
    shown = found[0] if len(found[0]) <= 60 else found[0][:59] + "…"
    return (f"{shown} changes this container only: it drifts from its image and the change is lost when the task "
            "is replaced; rebuild the image and roll it out instead")
