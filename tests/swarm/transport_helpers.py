"""Real transports in front of the test swarm's manager: a TLS endpoint and a private sshd, both on loopback.

The manager's dockerd listens on a unix socket only and is shared by other tests, so it is never restarted:
a small TLS server (client certificates required, as `dockerd --tlsverify` does) forwards bytes to its
socket, and a private sshd, whose sessions get DOCKER_HOST pointing at that socket, serves
`docker system dial-stdio` for ssh:// URLs.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import select
import selectors
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
# What a Go TLS server (dockerd with --tls) answers a client speaking plain HTTP to it.
GO_PLAIN_HTTP_REPLY = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
TLS_HANDSHAKE_RECORD = 0x16
POLL_S = 0.2  # how soon the forwarder's threads notice they must stop


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


# -- certificates -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def make_authority(common_name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(common_name, _name(common_name), key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def _leaf(authority: Authority, common_name: str, *, server: bool) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) signed by `authority`: a server's names loopback, a client's has clientAuth."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(common_name, authority.cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    cert = builder.sign(authority.key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _pem(authority: Authority) -> bytes:
    return authority.cert.public_bytes(serialization.Encoding.PEM)


def _write_cert_dir(directory: Path, ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> Path:
    """A DOCKER_CERT_PATH: ca.pem (whom to trust), cert.pem and key.pem (who we are)."""
    directory.mkdir(parents=True)
    (directory / "ca.pem").write_bytes(ca_pem)
    (directory / "cert.pem").write_bytes(cert_pem)
    key_file = directory / "key.pem"
    key_file.write_bytes(key_pem)
    key_file.chmod(0o600)
    return directory


@dataclass(frozen=True)
class TlsMaterial:
    ca_file: Path  # the CA the server trusts for client certificates (and that signed its own)
    server_cert: Path
    server_key: Path
    client_dir: Path  # a good DOCKER_CERT_PATH
    wrong_ca_dir: Path  # trusts a CA that did not sign the server's certificate
    foreign_client_dir: Path  # trusts the right CA, but its client certificate is from another CA
    client_key_pem: bytes  # to check that no error message ever shows key material


def make_tls_material(root: Path) -> TlsMaterial:
    authority = make_authority("pilothouse test CA")
    stranger = make_authority("some other CA")
    server_dir = root / "server"
    server_dir.mkdir(parents=True)
    server_cert, server_key = _leaf(authority, "manager", server=True)
    (server_dir / "cert.pem").write_bytes(server_cert)
    (server_dir / "key.pem").write_bytes(server_key)
    (server_dir / "ca.pem").write_bytes(_pem(authority))
    client_cert, client_key = _leaf(authority, "operator", server=False)
    foreign_cert, foreign_key = _leaf(stranger, "intruder", server=False)
    return TlsMaterial(
        ca_file=server_dir / "ca.pem",
        server_cert=server_dir / "cert.pem",
        server_key=server_dir / "key.pem",
        client_dir=_write_cert_dir(root / "client", _pem(authority), client_cert, client_key),
        wrong_ca_dir=_write_cert_dir(root / "wrong-ca", _pem(stranger), client_cert, client_key),
        foreign_client_dir=_write_cert_dir(root / "foreign-client", _pem(authority), foreign_cert, foreign_key),
        client_key_pem=client_key,
    )


# -- the TLS endpoint ---------------------------------------------------------------------------------------


@dataclass
class TlsForwarder:
    """TLS on 127.0.0.1:<port>, client certificates required, bytes forwarded to a unix socket.

    A thread per connection with a blocking SSL socket: OpenSSL then sends its alerts (a refused client
    certificate) the way a real `dockerd --tlsverify` does, and one thread pumps both directions, so an SSL
    object is never used by two threads at once. A client speaking plain HTTP gets Go's answer.
    """

    upstream: str  # unix socket path
    cert: Path
    key: Path
    client_ca: Path
    refused_handshakes: list[str] = field(default_factory=list)
    plain_http_clients: int = 0
    forwarded_connections: int = 0

    def __post_init__(self) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._context.load_cert_chain(self.cert, self.key)
        self._context.load_verify_locations(self.client_ca)
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        port: int = self._server.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"tcp://{LOOPBACK}:{self.port}"

    def __enter__(self) -> TlsForwarder:
        self._server.bind((LOOPBACK, 0))
        self._server.listen(64)
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(10)
        self._server.close()
        alive = [thread.name for thread in threads if thread.is_alive()]
        assert not alive, f"TLS forwarder threads still running: {alive}"

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="tls-forwarder", daemon=True)
        with self._lock:
            self._threads = [known for known in self._threads if known.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._server], [], [], POLL_S)
            if readable:
                connection, _address = self._server.accept()
                self._spawn(self._serve, connection)

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            try:
                first = connection.recv(1, socket.MSG_PEEK)  # a ClientHello must reach the handshake intact
            except OSError:
                return
            if not first:
                return
            if first[0] != TLS_HANDSHAKE_RECORD:
                self._answer_plain_http(connection)
                return
            try:
                tls = self._context.wrap_socket(connection, server_side=True)
            except (ssl.SSLError, OSError) as error:
                with self._lock:
                    self.refused_handshakes.append(getattr(error, "reason", None) or type(error).__name__)
                return
            with tls, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
                upstream.connect(self.upstream)
                with self._lock:
                    self.forwarded_connections += 1
                tls.settimeout(None)
                self._pump(tls, upstream)

    def _answer_plain_http(self, connection: socket.socket) -> None:
        with self._lock:
            self.plain_http_clients += 1
        with contextlib.suppress(OSError):
            connection.recv(65536)  # the request: unread bytes at close would reset the connection
            connection.sendall(GO_PLAIN_HTTP_REPLY)
            # Like Go: close our side, then let the client read the answer before the socket goes.
            connection.shutdown(socket.SHUT_WR)
            connection.settimeout(2)
            while connection.recv(65536):
                pass

    def _pump(self, tls: ssl.SSLSocket, upstream: socket.socket) -> None:
        """Both directions in one thread; HTTP never half-closes here, so the first EOF ends the connection."""
        peer = {tls.fileno(): upstream, upstream.fileno(): tls}
        sources = {tls.fileno(): tls, upstream.fileno(): upstream}
        with selectors.DefaultSelector() as selector:
            selector.register(tls, selectors.EVENT_READ)
            selector.register(upstream, selectors.EVENT_READ)
            while not self._stop.is_set():
                # Decrypted bytes already buffered in the SSL object do not make the socket readable.
                ready = [tls.fileno()] if tls.pending() else [key.fd for key, _ in selector.select(POLL_S)]
                for fd in ready:
                    try:
                        data = sources[fd].recv(65536)
                        if not data:
                            return
                        peer[fd].sendall(data)
                    except (OSError, ssl.SSLError):
                        return


# -- the private sshd ---------------------------------------------------------------------------------------


def ensure_sshd() -> str:
    """The sshd binary, installing openssh-server the way swarm.sh installs its packages when it is missing."""
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None)
    if found is None:
        print("transport tests: installing openssh-server", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "openssh-server"], check=True, env=env,
                       capture_output=True, timeout=600)
        found = "/usr/sbin/sshd"
    version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "openssh-server"], capture_output=True,
                             text=True, check=False).stdout.strip()
    print(f"transport tests: using {found} (openssh-server {version or 'unknown version'})", file=sys.stderr)
    return found


def ssh_keygen(path: Path, comment: str) -> str:
    """A new ed25519 key without passphrase; returns the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True,
                   capture_output=True, timeout=30)
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class PrivateSshd:
    """sshd on 127.0.0.1:<port> with its own host key, config and authorized_keys; root by key only.

    Every session gets DOCKER_HOST (sshd_config SetEnv), so the remote `docker system dial-stdio` that
    docker-py runs reaches the test swarm's manager.
    """

    root: Path
    docker_host: str
    sshd: str
    port: int = 0
    host_public_key: str = ""
    log_level: str = "VERBOSE"  # DEBUG1 also logs each direct-tcpip channel (a jump host's forwarding)
    client_key: Path = field(init=False)
    stranger_key: Path = field(init=False)
    _process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.client_key = self.root / "id_operator"
        self.stranger_key = self.root / "id_stranger"

    @property
    def log(self) -> Path:
        return self.root / "sshd.log"

    def start(self, attempts: int = 3) -> PrivateSshd:
        self.root.mkdir(parents=True, exist_ok=True)
        host_key = self.root / "ssh_host_ed25519_key"
        self.host_public_key = ssh_keygen(host_key, "test sshd host key")
        authorized = ssh_keygen(self.client_key, "operator")
        ssh_keygen(self.stranger_key, "stranger")  # a key the server does not know
        (self.root / "authorized_keys").write_text(authorized + "\n")
        # sshd refuses to start without its privilege separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        for _ in range(attempts):
            self.port = free_port()  # another process may take it before sshd binds: then try another
            config = self.root / "sshd_config"
            config.write_text(
                f"Port {self.port}\nListenAddress {LOOPBACK}\nHostKey {host_key}\nPidFile {self.root}/sshd.pid\n"
                "UsePAM no\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                f"AuthorizedKeysFile {self.root}/authorized_keys\nStrictModes no\nPrintMotd no\n"
                f"SetEnv DOCKER_HOST={self.docker_host}\nLogLevel {self.log_level}\n"
            )
            with self.log.open("ab") as log:
                self._process = subprocess.Popen([self.sshd, "-D", "-e", "-f", str(config)], stdout=log,
                                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._wait_banner(timeout=10):
                return self
            self.stop()
        raise AssertionError(f"sshd did not start; its log:\n{self.log.read_text()[-2000:]}")

    def _wait_banner(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, self.port), timeout=1) as probe:
                if probe.recv(64).startswith(b"SSH-2.0-"):
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    @property
    def url(self) -> str:
        return f"ssh://root@{LOOPBACK}:{self.port}"

    def client_home(self, home: Path, identity: Path) -> Path:
        """A HOME whose ~/.ssh names this server's host key and `identity`, as an operator's would."""
        dot_ssh = home / ".ssh"
        dot_ssh.mkdir(parents=True, exist_ok=True, mode=0o700)
        key_type, key_body = self.host_public_key.split()[:2]
        (dot_ssh / "known_hosts").write_text(f"[{LOOPBACK}]:{self.port} {key_type} {key_body}\n")
        (dot_ssh / "config").write_text(
            f"Host {LOOPBACK}\n  IdentityFile {identity}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {dot_ssh}/known_hosts\n  StrictHostKeyChecking yes\n  BatchMode yes\n"
        )
        return home
