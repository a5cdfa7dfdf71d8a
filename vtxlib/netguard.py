"""Which links the service may download: http(s) only, no credentials, public addresses only.

:func:`check_url` refuses a link before anything is fetched (scheme, credentials, host, port, and
every address the host resolves to). :func:`url_policy` makes a policy active for the current
thread; :func:`guard_connections` then checks each address the downloader resolves while it runs,
so a redirect to a private address (or a host that re-resolves to one) is refused before a
connection is made. Addresses are judged with :mod:`ipaddress`: only globally routable unicast
addresses pass, unless an allow-list names them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional
from urllib.parse import urlsplit, urlunsplit

from .errors import InputError

log = logging.getLogger("vtxlib.netguard")

SCHEMES = ("http", "https")
POLICY_REFUSAL = "refused by the URL policy"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedAddress(OSError):
    """A resolved address the policy refuses (raised before any connection is made)."""


@dataclass(frozen=True)
class UrlPolicy:
    """Public addresses only, plus the networks in ``allow`` (e.g. ``10.0.0.0/8``)."""

    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_strings(cls, networks: Iterable[str]) -> "UrlPolicy":
        parsed = []
        for text in networks:
            try:
                parsed.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError as e:
                raise InputError(f"--allow-url-network {text!r}: expected an address or network "
                                 f"such as 10.0.0.0/8 or 192.168.1.20") from e
        return cls(tuple(parsed))

    def permits(self, address: str) -> bool:
        ip = unwrap(ipaddress.ip_address(address.split("%", 1)[0]))
        if any(ip.version == net.version and ip in net for net in self.allow):
            return True
        return is_public(ip)


def unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address; else ``ip``."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, unique-local, shared,
    multicast, reserved or unspecified."""
    ip = unwrap(ip)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                 or ip.is_loopback or ip.is_link_local)


# A query string may hold a secret (a pre-signed link's X-Amz-Signature, a token), so messages and
# outputs drop it; only these parameters of YouTube links, which name the video, are kept.
SHAREABLE_QUERY = {("youtube.com", "v"), ("youtube.com", "list"), ("youtube.com", "index"), ("youtube.com", "t"),
                   ("youtu.be", "t")}


def redact(url: str) -> str:
    """``url`` as a message, a log or an output may show it: without any ``user:password@`` part,
    query string (a signature or token may be there) or fragment; a YouTube link keeps the
    parameters that name its video (``v``, ``list``, ``index``, ``t``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("@")[-1].split("?")[0].split("#")[0][:200]
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, _shareable_query(parts), ""))[:200]


def _shareable_query(parts) -> str:
    from urllib.parse import parse_qsl, urlencode

    site = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.").removeprefix("music.")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return ""
    return urlencode([(key, value) for key, value in pairs if (site, key) in SHAREABLE_QUERY])


def share_safe_source(source: str) -> str:
    """A media source as an output may show it: a URL without credentials, query string or
    fragment (see :func:`redact`), a local file by its name only (never a folder of this machine)."""
    source = str(source or "")
    return redact(source) if "://" in source else Path(source).name


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) link; InputError names what is wrong with it."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise InputError(f"invalid URL {redact(text)!r}: {e}") from e
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InputError(f"{redact(text)!r}: unsupported scheme (expected http or https or a local file)")
    if parts.username is not None or parts.password is not None:
        raise InputError("URLs with a user name or password (user:pass@host) are refused; "
                         "give a link that needs no credentials")
    if not parts.hostname:
        raise InputError(f"invalid URL {redact(text)!r}: it names no host")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def check_url(url: str, policy: UrlPolicy) -> str:
    """Refuse ``url`` unless it is http(s), has no credentials, and every address its host
    resolves to is allowed by ``policy``. Returns the stripped URL."""
    _, host, port = split_url(url)
    for address in resolve(host, port):
        if not policy.permits(address):
            raise InputError(f"{redact(url)!r} points to {address}, a loopback, private, link-local or "
                             f"reserved address; {POLICY_REFUSAL} (see --allow-url-network)")
    return url.strip()


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise InputError(f"cannot resolve the host {host!r} of the URL ({e})") from e
    return sorted({info[4][0] for info in infos})


# -- the policy of the current thread, enforced while a downloader resolves hosts ------------

_local = threading.local()
_install_lock = threading.Lock()
_installed = {"count": 0, "original": None}


@contextlib.contextmanager
def url_policy(policy: Optional[UrlPolicy]) -> Iterator[None]:
    """Make ``policy`` the current thread's policy (None: no restriction) for the block."""
    previous = getattr(_local, "policy", None)
    _local.policy = policy
    try:
        yield
    finally:
        _local.policy = previous


def current_policy() -> Optional[UrlPolicy]:
    return getattr(_local, "policy", None)


@contextlib.contextmanager
def guard_connections() -> Iterator[None]:
    """While the block runs, every host this thread resolves is checked against its policy
    (a no-op when the thread has none). Other threads are not affected."""
    if current_policy() is None:
        yield
        return
    _install()
    try:
        yield
    finally:
        _uninstall()


def _install() -> None:
    with _install_lock:
        if _installed["count"] == 0:
            original = socket.getaddrinfo
            _installed["original"] = original

            def guarded_getaddrinfo(host, port, *args, **kwargs):
                infos = original(host, port, *args, **kwargs)
                _check_resolved(host, infos)
                return infos

            socket.getaddrinfo = guarded_getaddrinfo
        _installed["count"] += 1


def _uninstall() -> None:
    with _install_lock:
        _installed["count"] -= 1
        if _installed["count"] == 0:
            socket.getaddrinfo = _installed["original"]
            _installed["original"] = None


def _check_resolved(host, infos) -> None:
    policy = current_policy()
    if policy is None:
        return
    for info in infos:
        address = info[4][0]
        if not policy.permits(address):
            log.warning("refused a connection to %s (%s): %s", host, address, POLICY_REFUSAL)
            raise BlockedAddress(f"{host} resolves to {address}, a loopback, private, link-local or "
                                 f"reserved address: {POLICY_REFUSAL}")
