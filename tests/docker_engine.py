"""A private Docker engine for the tests, and the worker image built with it.

dockerd runs as root with its data, exec root, socket and pid file under a temporary folder,
without a bridge, iptables rules, masquerading or IP forwarding (containers use the host's
network), so it changes nothing on the machine; it is stopped by its PID and the machine's network state is
compared before and after. No registry is reachable here, so the base image is made from
Debian's packages with mmdebstrap (cached across runs) and `docker import`ed; the host's CA
bundle goes into it so that pip inside the build trusts what the host trusts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

BASE_PACKAGES = "python3,python3-venv,passwd,ca-certificates"
BASE_TAG = "wove-batch-test-base:bookworm"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CACHE = Path(os.environ.get("WOVE_BATCH_CACHE", Path.home() / ".cache" / "wove-batch"))


def unavailable_reason() -> Optional[str]:
    """Why the engine cannot run here, or None."""
    if os.geteuid() != 0:
        return "dockerd must run as root"
    for tool in ("dockerd", "mmdebstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install docker.io mmdebstrap)"
    if docker_cli() is None:
        return "no docker client"
    return None


def docker_cli() -> Optional[str]:
    """Debian's client matches Debian's daemon; any other client is the fallback."""
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")


def machine_state() -> dict[str, str]:
    """What a careless daemon would change: links, iptables rules, IP forwarding."""
    def read(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout
        except FileNotFoundError:
            return ""

    links = read(["ip", "-o", "link", "show"])
    return {
        "links": "\n".join(sorted(line.split(":")[1].strip() for line in links.splitlines() if ":" in line)),
        "iptables": read(["iptables", "-S"]) + read(["iptables", "-t", "nat", "-S"]),
        "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text() if Path("/proc/sys/net/ipv4/ip_forward").exists() else "",
    }


@dataclass
class BuiltImage:
    tag: str
    size_bytes: int
    build_seconds: float


class DockerEngine:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wove-dockerd-"))
        self.socket = self.root / "docker.sock"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.state_before = machine_state()

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_BUILDKIT": "0"}

    def docker(self, *args: str, timeout: float = 600, input: Optional[bytes] = None) -> subprocess.CompletedProcess[bytes]:
        cli = docker_cli()
        assert cli is not None
        return subprocess.run([cli, *args], env=self.env, capture_output=True, timeout=timeout, input=input, check=True)

    def start(self) -> None:
        log = open(self.root / "dockerd.log", "wb")
        self.process = subprocess.Popen(
            [
                "dockerd",
                "--data-root", str(self.root / "data"),
                "--exec-root", str(self.root / "exec"),
                "--host", f"unix://{self.socket}",
                "--pidfile", str(self.root / "docker.pid"),
                # --ip-forward=false: dockerd otherwise turns net.ipv4.ip_forward on, which a
                # fresh machine (and CI) has off.
                "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--ip-forward=false",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd exited: {(self.root / 'dockerd.log').read_text()[-2000:]}")
            if self.socket.exists():
                try:
                    self.docker("version", timeout=10)
                    return
                except subprocess.CalledProcessError:
                    pass
            time.sleep(0.2)
        raise RuntimeError("dockerd did not start in 60 s")

    def stop(self) -> None:
        """Stop the daemon by its PID, remove its folder, and check the machine is as found."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
            self.process = None
        for mount in reversed(Path("/proc/mounts").read_text().splitlines()):
            target = mount.split()[1]
            if target.startswith(str(self.root)):
                subprocess.run(["umount", "-l", target], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def changed_state(self) -> dict[str, tuple[str, str]]:
        after = machine_state()
        return {key: (self.state_before[key], after[key]) for key in after if after[key] != self.state_before[key]}

    def base_image(self) -> str:
        """The Debian base, built once with mmdebstrap and cached as a tarball."""
        key = hashlib.sha256((BASE_PACKAGES + HOST_CA_BUNDLE.read_text()).encode()).hexdigest()[:16]
        tarball = CACHE / f"base-bookworm-{key}.tar"
        if not tarball.exists():
            CACHE.mkdir(parents=True, exist_ok=True)
            partial = tarball.with_name(tarball.stem + ".partial.tar")  # mmdebstrap picks the format by suffix
            subprocess.run(
                ["mmdebstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
                 f"--customize-hook=copy-in {HOST_CA_BUNDLE} /etc/ssl/certs", "bookworm", str(partial)],
                check=True, capture_output=True, timeout=900,
            )
            partial.rename(tarball)
        self.docker("import", "--change", f"ENV PIP_CERT={HOST_CA_BUNDLE}", str(tarball), BASE_TAG)
        return BASE_TAG

    def build_worker(self, context: Path, dockerfile: Path, tag: str, python_version: str) -> BuiltImage:
        base = self.base_image()
        started = time.monotonic()
        self.docker("build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}",
                    "--build-arg", f"PYTHON_VERSION={python_version}", "-f", str(dockerfile), "-t", tag, str(context),
                    timeout=900)
        seconds = time.monotonic() - started
        size = int(self.docker("image", "inspect", "--format", "{{.Size}}", tag).stdout.decode().strip())
        return BuiltImage(tag, size, seconds)

    def run_command(self, image: str, command: list[str], environment: dict[str, str], app_dir: Path,
                    timeout: float = 120, mounts: tuple[Path, ...] = (),
                    container_properties: Optional[dict[str, Any]] = None) -> subprocess.CompletedProcess[bytes]:
        """`docker run` as Batch would: the job's command and environment; host network here.
        `mounts`: host folders the job sees at the same path, read-only (a CA bundle).
        `container_properties`: the job definition's; its linuxParameters and ulimits become the
        Docker options the ECS agent gives them (--shm-size, --tmpfs, --ulimit, --init)."""
        args = ["run", "--rm", "--network", "host", "-v", f"{app_dir}:/opt/app:ro"]
        args += docker_options(container_properties or {})
        for folder in mounts:
            args += ["-v", f"{folder}:{folder}:ro"]
        for name, value in environment.items():
            args += ["-e", f"{name}={value}"]
        cli = docker_cli()
        assert cli is not None
        return subprocess.run([cli, *args, image, *command], env=self.env, capture_output=True, timeout=timeout)


def docker_options(container_properties: dict[str, Any]) -> list[str]:
    """The `docker run` options the ECS agent makes of a job definition's linuxParameters and
    ulimits (the agent's own translation: sharedMemorySize MiB -> ShmSize, tmpfs -> Tmpfs,
    ulimits -> Ulimits, initProcessEnabled -> Init)."""
    linux = container_properties.get("linuxParameters") or {}
    options: list[str] = []
    if "sharedMemorySize" in linux:
        options += ["--shm-size", f"{linux['sharedMemorySize']}m"]
    for mount in linux.get("tmpfs") or []:
        flags = ",".join([*(mount.get("mountOptions") or []), f"size={mount['size']}m"])
        options += ["--tmpfs", f"{mount['containerPath']}:{flags}"]
    if linux.get("initProcessEnabled"):
        options.append("--init")
    for limit in container_properties.get("ulimits") or []:
        options += ["--ulimit", f"{limit['name']}={limit['softLimit']}:{limit['hardLimit']}"]
    return options
