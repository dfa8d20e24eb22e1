"""The callback: a URL Batch jobs can post to, and a port for every Wove environment."""

from __future__ import annotations

import ipaddress
import socket
from typing import Optional
from urllib.parse import urlsplit

from ..topology import wove_environments
from ..spec import describe
from .context import Checks

LOOPBACK_HOSTS = ("localhost", "::1", "0.0.0.0")


def own_host_problem(hostname: str) -> Optional[str]:
    """Why a host names the job's own container or instance, not the submitter: localhost in any
    spelling (a trailing dot, *.localhost), loopback and unspecified addresses in any form a
    resolver takes (2130706433, 0x7f000001, 127.1, ::ffff:127.0.0.1), and link-local addresses
    (169.254.169.254 is the instance metadata service, 169.254.170.2 ECS's credentials)."""
    name = hostname.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    address: Optional[ipaddress.IPv4Address | ipaddress.IPv6Address] = None
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(name))  # the forms inet_aton reads: 127.1, 0x7f.1
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    return None

def check_callback(checks: Checks) -> None:
    callback = checks.args.callback
    if callback is None:
        return
    base_url = callback.base_url
    url = urlsplit(base_url)
    try:
        url.port  # noqa: B018 - raises for a port that is not a number or out of range
        bad_port = False
    except ValueError:
        bad_port = True
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment or bad_port:
        checks.fail("callback.base_url", f"expected an http:// or https:// URL with a host, got {describe(base_url)}")
    elif any(character.isspace() for character in base_url):
        checks.fail("callback.base_url", f"a URL has no white space, got {describe(base_url)}")
    elif url.username is not None or url.password is not None:
        checks.fail("callback.base_url", "credentials in the URL would be dropped (Wove posts to the URL's host and "
                                         "path only); put a proxy in front that adds them")
    elif url.hostname in LOOPBACK_HOSTS or url.hostname.startswith("127.") or own_host_problem(url.hostname) == "loopback":
        checks.fail("callback.base_url", f"{url.hostname} is each Batch job's own container, not the submitter; "
                                         "give an address the jobs' subnets reach, or use results: exchange")
    elif own_host_problem(url.hostname) == "link-local":
        checks.fail("callback.base_url", f"{url.hostname} is link-local: the instance's own metadata and credential "
                                         "services (169.254.169.254, 169.254.170.2), not the submitter; give an "
                                         "address the jobs' subnets reach, or use results: exchange")
    if not 1 <= callback.port <= 65535:
        checks.fail("callback.port", f"must be within 1..65535, got {callback.port}")
    else:
        count = len(wove_environments(checks.args))
        if callback.port + count - 1 > 65535:
            checks.fail(
                "callback.port",
                f"{count} Wove environments listen on ports {callback.port}..{callback.port + count - 1}, past 65535",
            )
