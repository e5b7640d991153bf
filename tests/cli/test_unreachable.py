"""One cluster that cannot be reached never hides or blocks the others."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pilothouse.console.cli import main

pytestmark = pytest.mark.usefixtures("no_detected_clusters")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: a hung API server."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for connection in accepted:
        connection.close()
    listener.close()


def test_status_reports_each_cluster_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[[clusters]]\nname = "lab"\nprovider = "demo"\nflavor = "kubernetes"\n'
        f'[[clusters]]\nname = "gone"\nprovider = "swarm"\ndocker_host = "unix://{tmp_path}/no.sock"\n'
    )
    assert main(["--config", str(config), "status", "--json"]) == 1
    clusters = {c["name"]: c for c in json.loads(capsys.readouterr().out)["clusters"]}
    assert clusters["lab"]["reachable"] is True and clusters["lab"]["services"]
    assert clusters["gone"]["reachable"] is False
    assert "no.sock" in clusters["gone"]["error"]


def test_a_hung_cluster_does_not_delay_the_others_beyond_its_timeout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, silent_server: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[[clusters]]\nname = "lab"\nprovider = "demo"\nflavor = "ecs"\n'
        f'[[clusters]]\nname = "hung"\nprovider = "swarm"\ndocker_host = "{silent_server}"\n'
    )
    started = time.monotonic()
    assert main(["--config", str(config), "status", "--json"]) == 1
    elapsed = time.monotonic() - started
    clusters = {c["name"]: c for c in json.loads(capsys.readouterr().out)["clusters"]}
    assert clusters["lab"]["reachable"] is True
    assert clusters["hung"]["reachable"] is False and clusters["hung"]["error"]
    assert elapsed < 60, "a hung engine must time out, not hang the console"


def test_a_misconfigured_cluster_is_reported_and_the_others_still_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[[clusters]]\nname = "lab"\nprovider = "demo"\nflavor = "ecs"\n'
        f'[[clusters]]\nname = "eks"\nprovider = "kubernetes"\nkubeconfig = "{tmp_path}/missing"\n'
    )
    assert main(["--config", str(config), "status", "--json"]) == 2
    out, err = capsys.readouterr()
    clusters = {c["name"]: c for c in json.loads(out)["clusters"]}
    assert clusters["lab"]["reachable"] is True
    assert clusters["eks"]["reachable"] is False and "missing not found" in clusters["eks"]["error"]
    assert err.count("\n") == 1 and "kubeconfig" in err
    assert main(["--config", str(config), "scale", "lab/prod/web", "3", "--yes"]) == 0
    assert main(["--config", str(config), "scale", "eks/default/web", "3", "--yes"]) == 2


def test_a_mutation_on_an_unreachable_cluster_is_audited_as_failed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from cli_support import audit_lines

    config = tmp_path / "c.toml"
    config.write_text(f'[[clusters]]\nname = "gone"\nprovider = "swarm"\ndocker_host = "unix://{tmp_path}/no.sock"\n')
    for argv in (["scale", "gone/web", "3", "--yes"], ["rollback", "gone/web", "--yes"]):
        code = main(["--config", str(config), *argv])
        err = capsys.readouterr().err
        assert code == 2 and "no.sock" in err and len(err.strip().splitlines()) == 1, (argv, err)  # bad address
    audit = audit_lines()
    assert [(line["action"], line["after"]) for line in audit] == [("scale", "3"), ("rollback", "")]
    assert all(line["cluster"] == "gone" and line["service"] == "web" and line["result"].startswith("failed: ")
               and "no.sock" in line["result"] for line in audit)
