"""Which destinations a webhook may reach: the guard against server-side request forgery.

A delivery must not let a clinic admin probe or attack the service's own network: the
host is resolved and *every* address it resolves to must be public (not loopback, private,
link-local, multicast, reserved, unspecified, shared or the cloud metadata address). The
check happens at registration and again before every attempt (DNS can change), and the
attempt connects to an address that was checked (the next when one refuses the
connection), never resolving the name a second time.
``WEBHOOK_ALLOW_PRIVATE=1`` allows private addresses and ``http://`` for receivers inside
a clinic's own network.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, urlsplit

Resolver = Callable[[str, int], list[str]]
_ASCII = "".join(map(chr, range(128)))


class ForbiddenDestination(ValueError):
    """The URL may not be delivered to; the message names why (never the URL)."""


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked URL: where to connect (``address``, then the other checked
    ``fallbacks`` in turn when it cannot be reached) and what to ask for."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    target: str  # path and query, as sent in the request line
    fallbacks: tuple[str, ...] = ()

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every checked address, in the order to try them."""
        return (self.address, *self.fallbacks)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in resolver order; an address
    written as one is itself (no resolver call: this runs before every attempt)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# The checks below are pure functions of their text, run before every attempt: they are
# remembered (a name's resolution never is: DNS can change).
@functools.lru_cache(maxsize=1024)
def _literal(host: str) -> str | None:
    """``host`` in its canonical spelling when it is an IP address, else None."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a network's own translator


@functools.lru_cache(maxsize=4096)
def is_public(address: str) -> bool:
    """True for an address on the public internet (``ipaddress``'s ``is_global``, minus
    multicast, which ``is_global`` lets through for some ranges). An IPv6 address that
    reaches an IPv4 one (IPv4-mapped, NAT64, 6to4) is judged by that IPv4 address; one in
    the reserved or site-local ranges, which ``is_global`` lets through, is not public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        embedded = (ip.ipv4_mapped or ip.sixtofour
                    or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None))
        if embedded is not None:
            ip = embedded
        elif ip.is_reserved or ip.is_site_local:
            return False
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> Destination:
    """The ``Destination`` for ``url``; raises ``ForbiddenDestination`` when it is not
    ``https://`` (``http://`` too with ``allow_private``) or resolves to a forbidden
    address. The addresses are tried in the resolver's order."""
    scheme, host, port, target = _parsed(url, allow_private)
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError):
        raise ForbiddenDestination("The host name does not resolve.") from None
    if not addresses:
        raise ForbiddenDestination("The host name does not resolve.")
    for address in addresses:
        if not allow_private and not is_public(address):
            raise ForbiddenDestination("The host resolves to a non-public address.")
    return Destination(url, scheme, host, port, addresses[0], target, tuple(addresses[1:]))


def needs_lookup(url: str, *, allow_private: bool) -> bool:
    """Whether ``check_url`` would ask the resolver (the host is a name, not an address,
    and the URL is not refused before that): a call that may take seconds."""
    try:
        host = _parsed(url, allow_private)[1]
    except ForbiddenDestination:
        return False
    return _literal(host) is None


@functools.lru_cache(maxsize=1024)
def _parsed(url: str, allow_private: bool) -> tuple[str, str, int, str]:
    """The scheme, host, port and request target of an allowed ``url``."""
    parts = _split(url, allow_private)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    # A request line is ASCII: other characters go as their UTF-8 bytes percent-encoded,
    # as a browser sends them (the rest, already-encoded sequences included, as written).
    return parts.scheme, parts.hostname or "", port, quote(target, safe=_ASCII)


def _split(url: str, allow_private: bool) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ForbiddenDestination("Must be an absolute https:// URL.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise ForbiddenDestination(
            "Must be an absolute https:// URL." if not allow_private
            else "Must be an absolute https:// or http:// URL."
        )
    if parts.username is not None or parts.password is not None:
        raise ForbiddenDestination("Must not carry a user name or password.")
    if parts.fragment:
        raise ForbiddenDestination("Must not carry a fragment.")
    return parts
