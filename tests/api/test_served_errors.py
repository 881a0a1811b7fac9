"""Errors a real ``screening serve`` sends (shared spec §4, §8): a chunked body past
64 KiB is 413 like a ``Content-Length`` above it. Raw requests over a socket, because
only the production server sees them as sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Flask

from tests.api import live_server
from tests.api.bodies import SUBMISSIONS, example
from tests.api.conftest import TenantCredentials
from tests.api.live_server import LiveService
from tests.api.test_submissions import stored

live_service = live_server.live_service  # the fixture, for this module

LIMIT = 64 * 1024
PROBLEM = "application/problem+json"


@dataclass(frozen=True, slots=True)
class Answer:
    """A parsed HTTP/1.1 response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, Any]:
        """The body as a problem document (after checking its media type)."""
        assert self.headers.get("content-type") == PROBLEM, (self.status, self.headers)
        parsed: dict[str, Any] = json.loads(self.body)
        assert parsed["status"] == self.status
        return parsed


def exchange(service: LiveService, raw: bytes) -> Answer:
    """Sends ``raw`` on a new connection and reads the whole response."""
    import socket

    with socket.create_connection((service.host, service.port), timeout=10) as conn:
        try:
            conn.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        data = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            length = _content_length(head) if sep else None
            if length is not None and len(body) >= length:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip()
               for k, _, v in (line.partition(":") for line in lines)}
    return Answer(int(status_line.split()[1]), headers, body)


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None


def chunked(body: bytes, size: int = 8192) -> bytes:
    """``body`` in chunked transfer coding."""
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def post_chunked(service: LiveService, clinic: TenantCredentials, body: bytes) -> Answer:
    head = (f"POST {SUBMISSIONS} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {clinic.headers('intake')['Authorization']}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n")
    return exchange(service, head.encode() + chunked(body))


def padded(size: int) -> bytes:
    """The spec example with a ``phone`` padding it to ``size`` bytes of JSON."""
    body = example()
    body["respondent"]["phone"] = ""
    bare = len(json.dumps(body).encode())
    body["respondent"]["phone"] = " " * (size - bare)
    encoded = json.dumps(body).encode()
    assert len(encoded) == size
    return encoded


def test_a_chunked_body_past_64_kib_is_413_like_a_content_length_past_it(
        app: Flask, live_service: LiveService, clinic: TenantCredentials) -> None:
    answer = post_chunked(live_service, clinic, padded(LIMIT + 1))
    assert answer.status == 413
    problem = answer.problem()
    assert problem["type"].endswith("/payload-too-large")
    assert problem["detail"] == "The request body is larger than the limit."
    body = padded(LIMIT + 1)
    head = (f"POST {SUBMISSIONS} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {clinic.headers('intake')['Authorization']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    by_length = exchange(live_service, head.encode() + body)
    assert by_length.status == 413
    assert by_length.problem() == problem
    assert stored(app) == []


def test_a_chunked_body_of_exactly_64_kib_is_read_whole(
        app: Flask, live_service: LiveService, clinic: TenantCredentials) -> None:
    # The padding is a phone number far above its length limit: 422 naming it, which
    # shows the body was parsed whole rather than cut at the limit.
    answer = post_chunked(live_service, clinic, padded(LIMIT))
    assert answer.status == 422
    assert list(answer.problem()["errors"]) == ["respondent.phone"]
    assert stored(app) == []


def test_a_small_chunked_body_is_accepted(
        app: Flask, live_service: LiveService, clinic: TenantCredentials) -> None:
    answer = post_chunked(live_service, clinic, json.dumps(example()).encode())
    assert answer.status == 201, answer.body
    assert len(stored(app)) == 1
