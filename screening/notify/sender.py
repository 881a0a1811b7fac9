"""One delivery attempt over HTTP: a pooled ``httpx`` client, no redirects, 10 s in total.

The request goes to the address ``addresses.check_url`` approved (the URL's host is sent
in ``Host`` and, over TLS, as the SNI name the certificate is checked against), so a name
that resolves differently a moment later cannot steer it elsewhere.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from dataclasses import dataclass

import httpx

from screening.notify.addresses import Destination

TOTAL_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024  # a receiver's answer is read (for the pool) but not kept
USER_AGENT = "screening-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: the HTTP status (None without a response) and, unless it
    delivered, a short error class (``timeout``, ``connection_refused``, ``tls``,
    ``connection_error``, ``http_status``)."""

    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        """True when the receiver answered 2xx."""
        return self.error is None


class Sender:
    """A pooled HTTP client for deliveries (one per worker process, thread-safe)."""

    def __init__(self, timeout: float = TOTAL_TIMEOUT_S) -> None:
        self.timeout = timeout
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would bypass the address check
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            headers={"User-Agent": USER_AGENT},
        )

    def send(self, destination: Destination, headers: dict[str, str], body: bytes) -> Outcome:
        """POSTs ``body`` to ``destination``; any 2xx within the timeout delivers."""
        deadline = time.monotonic() + self.timeout
        request = self._client.build_request(
            "POST", _address_url(destination), content=body,
            headers={**headers, "Host": _host_header(destination),
                     "Content-Type": "application/json"},
            extensions=_tls_name(destination),
        )
        try:
            response = self._client.send(request, stream=True)
            try:
                _drain(response, deadline)
            finally:
                response.close()
        except httpx.TimeoutException:
            return Outcome(None, "timeout")
        except httpx.ConnectError as error:
            return Outcome(None, _connect_error(error))
        except httpx.HTTPError:
            return Outcome(None, "connection_error")
        if 200 <= response.status_code < 300:
            return Outcome(response.status_code, None)
        return Outcome(response.status_code, "http_status")

    def close(self) -> None:
        """Closes the pooled connections."""
        self._client.close()


def _drain(response: httpx.Response, deadline: float) -> None:
    """Reads the answer up to ``MAX_RESPONSE_BYTES`` and the deadline (the per-read
    timeout alone would let a receiver dribble bytes for ever)."""
    read = 0
    for chunk in response.iter_raw():
        read += len(chunk)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("total timeout")
        if read >= MAX_RESPONSE_BYTES:
            return


def _address_url(destination: Destination) -> str:
    address = destination.address
    if ipaddress.ip_address(address.split("%", 1)[0]).version == 6:
        address = f"[{address}]"
    return f"{destination.scheme}://{address}:{destination.port}{destination.target}"


def _host_header(destination: Destination) -> str:
    default = 443 if destination.scheme == "https" else 80
    host = f"[{destination.host}]" if ":" in destination.host else destination.host
    return host if destination.port == default else f"{host}:{destination.port}"


def _tls_name(destination: Destination) -> dict[str, str]:
    return {"sni_hostname": destination.host} if destination.scheme == "https" else {}


def _connect_error(error: httpx.ConnectError) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection_refused"
        if isinstance(cause, ssl.SSLError):
            return "tls"
        cause = cause.__cause__ or cause.__context__
    text = str(error).lower()
    if "refused" in text:
        return "connection_refused"
    if "ssl" in text or "certificate" in text:
        return "tls"
    return "connection_error"
