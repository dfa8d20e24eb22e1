"""moto's server for a local run: a real AWS API emulator on a free loopback port, over TLS
(the exchange bucket is TLS-only on AWS), started and stopped by its PID.

Its Batch holds submitted jobs (the local compute environment runs them, see compute.py); its
S3 is the exchange bucket, its CloudWatch Logs the jobs' log group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

import boto3

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def free_port(consecutive: int = 1) -> int:
    """A loopback port with `consecutive - 1` free ports after it."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + consecutive > 65535:
            continue
        try:
            sockets = []
            for offset in range(consecutive):
                s = socket.socket()
                sockets.append(s)
                s.bind(("0.0.0.0", port + offset))
            return port
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports")


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 (and its key), valid for a day."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "moto.crt", folder / "moto.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    cert_path.chmod(0o644)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class MotoServer:
    """moto's server on 127.0.0.1, in strict (default) Batch mode, over TLS: the exchange
    bucket's policy refuses plain HTTP, and moto enforces bucket policies."""

    def __init__(self, log_path: Path, region: str = REGION) -> None:
        self.port = free_port()
        self.region = region
        self.endpoint = f"https://127.0.0.1:{self.port}"
        self.log_path = log_path
        # Jobs read the certificate as whatever user they run as (the image's is 10001).
        certificates = log_path.parent / "certificates"
        certificates.mkdir(mode=0o755)
        certificates.chmod(0o755)
        self.certificate, self._key = self_signed_certificate(certificates)
        self.process: Optional[subprocess.Popen[bytes]] = None

    def _open(self, request: Any) -> Any:
        import ssl

        return urllib.request.urlopen(request, timeout=10, context=ssl.create_default_context(cafile=str(self.certificate)))

    def launcher(self) -> list[str]:
        """The command that starts moto's server (its arguments follow)."""
        executable = Path(sys.executable).parent / "moto_server"
        if not executable.exists():
            raise RuntimeError(f"{executable} not found: install the local backend with "
                               "pip install \"wove-batch[local]\" (moto's server)")
        return [str(executable)]

    def start(self) -> None:
        command = self.launcher()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*command, "-H", "127.0.0.1", "-p", str(self.port), "-c", str(self.certificate), "-k", str(self._key)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # AWS's managed policies exist in every account; moto loads them only when asked.
                env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log_path.read_text()}")
            try:
                self._open(f"{self.endpoint}/moto-api/").read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto_server did not start in 30 s")

    def stop(self) -> None:
        if self.process is None:
            return
        pid = self.process.pid
        os.killpg(pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def _post(self, path: str, body: Optional[dict] = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self._open(urllib.request.Request(f"{self.endpoint}{path}", data=data, method="POST")).read()

    def reset(self) -> None:
        # moto's reset joins each unfinished job's thread for 0.2 s; held jobs never finish, so
        # hundreds of them (array children) would take minutes. Let them end first.
        self.let_moto_run_jobs()
        time.sleep(1.5)  # each job thread looks at its status every 0.5 s
        self._post("/moto-api/reset")
        self.let_moto_run_jobs()

    def hold_jobs(self) -> None:
        """Keep submitted jobs SUBMITTED in moto: the harness, not moto, plays the compute
        environment (moto would try to run them in Docker, fail, and mark them FAILED)."""
        self._post("/moto-api/state-manager/set-transition",
                   {"model_name": "batch::job", "transition": {"progression": "time", "seconds": 3600}})

    def let_moto_run_jobs(self) -> None:
        """moto's default: a job moves on at once, and without Docker it ends FAILED."""
        self._post("/moto-api/state-manager/set-transition",
                   {"model_name": "batch::job", "transition": {"progression": "manual", "times": 1}})

    def client(self, service: str, **options: Any) -> Any:
        options.setdefault("region_name", self.region)
        return boto3.client(service, endpoint_url=self.endpoint, verify=str(self.certificate), **CREDENTIALS, **options)
