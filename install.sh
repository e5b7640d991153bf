#!/bin/sh
# Install pilothouse from this checkout for the current user, then launch it.
#
#   sh install.sh [ARGS...]     install (or upgrade) into a private venv, then run `pilothouse ARGS...`
#   sh install.sh --uninstall   remove the venv and the command link
#
# Debian 12 and Ubuntu 24.04 refuse `pip install` into the system Python (PEP 668: externally-managed-
# environment), so everything goes into a venv of its own and only a link is put on PATH:
#   venv:    ${PILOTHOUSE_HOME:-${XDG_DATA_HOME:-~/.local/share}/pilothouse}
#   command: ${PILOTHOUSE_BIN_DIR:-~/.local/bin}/pilothouse
# PYTHON picks the interpreter (default python3, 3.11 or newer). Nothing outside those two paths is touched,
# except that as root a missing venv module is installed with apt-get (python3-venv).
set -eu

PYTHON=${PYTHON:-python3}
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
VENV=${PILOTHOUSE_HOME:-$DATA_HOME/pilothouse}
BIN_DIR=${PILOTHOUSE_BIN_DIR:-$HOME/.local/bin}
LINK=$BIN_DIR/pilothouse
SRC=$(cd "$(dirname "$0")" && pwd)

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if [ "${1:-}" = "--uninstall" ]; then
    # Only our own link: a `pilothouse` someone else put there is left alone.
    if [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$VENV/bin/pilothouse" ]; then
        rm -f "$LINK"
    fi
    rm -rf "$VENV"
    say "removed $VENV and $LINK (your config in ~/.config/pilothouse and audit log in ~/.local/state/pilothouse are kept)"
    exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON found: install Python 3.11 or newer (apt-get install python3 python3-venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$("$PYTHON" -V 2>&1) is too old: pilothouse needs Python 3.11 or newer (set PYTHON=python3.12, say)"

# Debian splits the venv module's pip bootstrap (ensurepip) into python3-venv (python3.12-venv on Ubuntu 24.04).
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    minor=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing python3-venv (the venv module's pip is not installed)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
            || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$minor-venv" >/dev/null
    else
        die "the venv module is missing: run 'sudo apt-get install python3-venv' (or python$minor-venv), then again 'sh install.sh'"
    fi
fi

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
    say "creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
say "installing pilothouse from $SRC into $VENV"
# Two steps: the SDK set resolves in seconds when pinned first (kubernetes<37, see pyproject.toml).
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "kubernetes>=29,<37" "boto3>=1.34" \
    "docker[ssh]>=7" "textual>=0.80"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "$SRC"

mkdir -p "$BIN_DIR"
ln -sfn "$VENV/bin/pilothouse" "$LINK"
case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) say "add $BIN_DIR to PATH to run 'pilothouse' from anywhere: export PATH=\"$BIN_DIR:\$PATH\"" ;;
esac

exec "$LINK" "$@"
