"""Shell completion scripts for bash, zsh and fish, generated from the argparse parser itself.

The verbs, options and fixed choices are written into the script; cluster names and CLUSTER/ prefixes are
asked of `pilothouse __complete clusters|targets` at completion time, which reads only the config (never a
cluster), so names stay current without regenerating the script.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")

# What a value is, from its metavar: how the shell completes it.
_KIND_BY_METAVAR = {"PATH": "file", "CLUSTER/SERVICE": "targets", "NAME": "clusters"}


@dataclass(frozen=True, slots=True)
class Option:
    flags: tuple[str, ...]
    help: str
    kind: str | None  # None: a flag without a value; "file", "clusters", "targets", "words:a b", "any"


@dataclass(frozen=True, slots=True)
class Verb:
    path: str  # "" for the top level, "status", "config init"
    help: str
    options: tuple[Option, ...]
    positionals: tuple[str, ...]  # the kind of each positional, in order
    verbs: tuple[Verb, ...] = field(default=())


def _kind(action: argparse.Action) -> str:
    if action.choices:
        return "words:" + " ".join(str(choice) for choice in action.choices)
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    return _KIND_BY_METAVAR.get(metavar, "any")


def describe(parser: argparse.ArgumentParser, path: str = "", help_text: str = "") -> Verb:
    """The completion-relevant shape of a parser and its sub-commands."""
    options: list[Option] = []
    positionals: list[str] = []
    verbs: list[Verb] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: str(choice.help or "") for choice in action._choices_actions}
            for name, sub in action.choices.items():
                verbs.append(describe(sub, f"{path} {name}".strip(), helps.get(name, "")))
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            takes_value = action.nargs != 0
            options.append(Option(tuple(action.option_strings), str(action.help or ""),
                                  _kind(action) if takes_value else None))
        else:
            positionals.append(_kind(action))
    return Verb(path, help_text, tuple(options), tuple(positionals), tuple(verbs))


def _all_verbs(verb: Verb) -> list[Verb]:
    return [verb, *(inner for sub in verb.verbs for inner in _all_verbs(sub))]


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    root = describe(parser)
    if shell == "fish":
        return _fish(root)
    body = _bash(root)
    if shell == "zsh":
        # zsh runs bash completion functions through bashcompinit: one script, one behaviour.
        return ("#compdef pilothouse\n# zsh completion for pilothouse: eval \"$(pilothouse completion zsh)\" "
                "in ~/.zshrc\nautoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"
                + body)
    return body


def _case(entries: list[tuple[str, str]], indent: str) -> str:
    lines = [f"{indent}{pattern}) {action} ;;" for pattern, action in entries]
    return "\n".join(lines)


def _bash(root: Verb) -> str:
    verbs = _all_verbs(root)
    option_words = [(shlex.quote(v.path), " ".join(flag for o in v.options for flag in o.flags)) for v in verbs]
    takes = sorted({flag for v in verbs for o in v.options if o.kind for flag in o.flags})
    kinds = [(f"{shlex.quote(v.path)}:{flag}", shlex.quote(o.kind)) for v in verbs for o in v.options
             if o.kind for flag in o.flags]
    positions = [(f"{shlex.quote(v.path)}:{index}", shlex.quote(kind)) for v in verbs
                 for index, kind in enumerate(v.positionals)]
    subverbs = [(shlex.quote(v.path), "subs=" + shlex.quote(" ".join(s.path.rsplit(" ", 1)[-1] for s in v.verbs)))
                for v in verbs if v.verbs]
    return f"""# bash completion for pilothouse: eval "$(pilothouse completion bash)" in ~/.bashrc
_pilothouse_values() {{
    # $1: what the value is; $2: the word being completed; $3..: --config PATH if given
    [[ -n ${{ZSH_VERSION-}} ]] && setopt localoptions ksharrays  # zsh's bashcompinit: bash's 0-based arrays
    local kind=$1 cur=$2 found
    shift 2
    case $kind in
        file) COMPREPLY=($(compgen -f -- "$cur")) ;;
        clusters|targets)
            found=$("${{_pilothouse_cmd:-pilothouse}}" __complete "$kind" "$@" 2>/dev/null)
            COMPREPLY=($(compgen -W "$found" -- "$cur"))
            # CLUSTER/ is a prefix: no space after it, the service name follows.
            if [[ ${{#COMPREPLY[@]}} -eq 1 && ${{COMPREPLY[0]}} == */ ]] && type compopt &>/dev/null; then
                compopt -o nospace
            fi ;;
        words:*) COMPREPLY=($(compgen -W "${{kind#words:}}" -- "$cur")) ;;
        *) COMPREPLY=() ;;
    esac
}}

_pilothouse() {{
    [[ -n ${{ZSH_VERSION-}} ]] && setopt localoptions ksharrays
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local vpath="" npos=0 word i skip=0 subs kind
    local -a config=()
    _pilothouse_cmd=${{COMP_WORDS[0]}}
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        if ((skip)); then skip=0; continue; fi
        case " {' '.join(takes)} " in
            *" $word "*)
                skip=1
                if [[ $word == --config ]]; then config=(--config "${{COMP_WORDS[i+1]}}"); fi
                continue ;;
        esac
        [[ $word == -* ]] && continue
        subs=""
        case $vpath in
{_case(subverbs, "            ")}
        esac
        if [[ -n $subs && " $subs " == *" $word "* && $npos -eq 0 ]]; then
            vpath="${{vpath:+$vpath }}$word"
        else
            npos=$((npos + 1))
        fi
    done
    case "$vpath:$prev" in
{_case([(p, f'_pilothouse_values {k} "$cur" "${{config[@]}}"; return') for p, k in kinds], "        ")}
    esac
    if [[ $cur == -* ]]; then
        case $vpath in
{_case([(p, f'COMPREPLY=($(compgen -W {shlex.quote(w)} -- "$cur")); return') for p, w in option_words], "            ")}
        esac
    fi
    subs=""
    case $vpath in
{_case(subverbs, "        ")}
    esac
    if [[ -n $subs && $npos -eq 0 ]]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
        return
    fi
    kind=""
    case "$vpath:$npos" in
{_case([(p, f"kind={k}") for p, k in positions], "        ")}
    esac
    _pilothouse_values "$kind" "$cur" "${{config[@]}}"
}}
complete -F _pilothouse pilothouse
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(root: Verb) -> str:
    lines = ["# fish completion for pilothouse:",
             "#   pilothouse completion fish > ~/.config/fish/completions/pilothouse.fish",
             "complete -c pilothouse -f"]
    dynamic = {"clusters": "(pilothouse __complete clusters)", "targets": "(pilothouse __complete targets)"}
    for verb in _all_verbs(root):
        parts = verb.path.split()
        if not parts:
            condition = "__fish_use_subcommand"
        else:
            condition = f"__fish_seen_subcommand_from {parts[-1]}"
            if len(parts) > 1:
                condition = f"__fish_seen_subcommand_from {parts[0]}; and {condition}"
        if verb.verbs:
            names = " ".join(sub.path.split()[-1] for sub in verb.verbs)
            guard = condition if not parts else f"{condition}; and not __fish_seen_subcommand_from {names}"
            for sub in verb.verbs:
                lines.append(f"complete -c pilothouse -n {_fish_quote(guard)} -a {sub.path.split()[-1]} "
                             f"-d {_fish_quote(sub.help)}")
        for option in verb.options:
            flags = " ".join(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
                             for flag in option.flags)
            value = ""
            if option.kind == "file":
                value = " -r -F"
            elif option.kind in dynamic:
                value = f" -x -a {_fish_quote(dynamic[option.kind])}"
            elif option.kind and option.kind.startswith("words:"):
                value = f" -x -a {_fish_quote(option.kind.removeprefix('words:'))}"
            elif option.kind:
                value = " -x"
            lines.append(f"complete -c pilothouse -n {_fish_quote(condition)} {flags}{value} "
                         f"-d {_fish_quote(option.help)}")
        for kind in verb.positionals[:1]:
            if kind in dynamic:
                lines.append(f"complete -c pilothouse -n {_fish_quote(condition)} -a {_fish_quote(dynamic[kind])}")
            elif kind.startswith("words:"):
                words = kind.removeprefix("words:")
                lines.append(f"complete -c pilothouse -n {_fish_quote(condition)} -a {_fish_quote(words)}")
    return "\n".join(lines) + "\n"
