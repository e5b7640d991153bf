#!/usr/bin/env bash
# Install everything the test suite needs and run all of it, on a fresh Debian machine or a used one:
#   apt packages (docker.io for the real test swarm, openssh-server for the ssh:// transport, zsh and fish for
#   the completion scripts, the system python3 for install.sh), the Python package with its test extras, the
#   three-node test swarm (tests/swarm/swarm.sh), a real kubectl from PyPI (tests/support/kubectl.py). moto
#   and the Kubernetes API test server are started by the tests' own fixtures on loopback. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

need=()
command -v dockerd >/dev/null || need+=(docker.io)
[[ -x /bin/busybox ]] || need+=(busybox-static)
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
# sshd: the Swarm provider's ssh:// transport is tested against a private sshd.
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
# zsh and fish: the completion scripts are loaded into the real shells; the system python3 with venv: the
# README's install.sh is run as a fresh machine would run it.
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
[[ -x /usr/bin/python3 ]] || need+=(python3)
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
if ((${#need[@]})); then
    echo "run.sh: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Two steps: the big SDK set resolves in seconds when pinned first (kubernetes<37, see pyproject.toml).
"$PYTHON" -m pip install -q --disable-pip-version-check "kubernetes>=29,<37" "boto3>=1.34" "docker[ssh]>=7" "textual>=0.80"
"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[test]'

# A real kubectl v1.36 from PyPI (the Kubernetes oracle tests), fetched once into ~/.cache, outside any test's
# timeout; without PyPI those tests skip, saying so.
"$PYTHON" tests/support/kubectl.py

cleanup() { bash tests/swarm/swarm.sh down >/dev/null 2>&1 || true; }
if [[ "${PILOTHOUSE_KEEP_SWARM:-}" != 1 ]]; then trap cleanup EXIT; fi
bash tests/swarm/swarm.sh up >/dev/null

"$PYTHON" -m pytest -p no:cacheprovider "$@"
