"""Errors a real ``screening serve`` sends (shared spec §4, §8): a chunked body past
64 KiB is 413 like a ``Content-Length`` above it, and what gunicorn refuses itself
(oversized header, overlong request line, malformed request) is problem details without
internals, like every other error. Raw requests over a socket, because only the
production server sees them as sent."""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from gunicorn.http import errors as http

from screening.server.gunicorn import server_options
from screening.server.gunicorn_errors import answer_for, problem_bytes
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


# -- errors gunicorn meets before the application ---------------------------------------

SECRET = "patient-ada-byron-1990-04-12"  # stands for anything a client might send


def assert_bare_problem(answer: Answer, status: int, slug: str) -> None:
    """A problem document with a fixed detail: no HTML, no echo of the input."""
    assert answer.status == status, answer.body
    problem = answer.problem()
    assert set(problem) == {"type", "title", "status", "detail", "instance"}
    assert problem["type"] == f"https://screening.example/problems/{slug}"
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", problem["instance"])
    assert answer.headers["x-request-id"] == problem["instance"].removeprefix(
        "urn:uuid:").replace("-", "")
    assert answer.headers["cache-control"] == "no-store"
    assert b"<" not in answer.body and SECRET.encode() not in answer.body
    assert "gunicorn" not in json.dumps(problem).lower()


def submission_head(clinic: TenantCredentials, *extra: str) -> str:
    lines = [f"POST {SUBMISSIONS} HTTP/1.1", "Host: 127.0.0.1",
             f"Authorization: {clinic.headers('intake')['Authorization']}",
             "Content-Type: application/json", *extra, "Connection: close"]
    return "\r\n".join(lines) + "\r\n"


def test_an_oversized_idempotency_key_is_431_problem_json_and_nothing_is_stored(
        app: Flask, live_service: LiveService, clinic: TenantCredentials) -> None:
    body = json.dumps(example()).encode()
    key = (SECRET * 1000)[:16_500]
    head = submission_head(clinic, f"Idempotency-Key: {key}", f"Content-Length: {len(body)}")
    answer = exchange(live_service, head.encode() + b"\r\n" + body)
    assert_bare_problem(answer, 431, "header-fields-too-large")
    assert stored(app) == []
    assert SECRET not in live_service.output()


@pytest.mark.parametrize("head", [
    pytest.param("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n", id="header field"),
    pytest.param("POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n", id="trailer field"),
])
def test_a_field_that_never_ends_is_431_once_past_the_limits(
        live_service: LiveService, head: str) -> None:
    """The limits hold while a field is still arriving, not only once it is whole: a
    client streaming one endless field value is refused, not buffered."""
    raw = f"{head}X-Padding: {SECRET}"
    answer = exchange(live_service, raw.encode() + b"a" * (2 << 20))
    assert_bare_problem(answer, 431, "header-fields-too-large")
    assert SECRET not in live_service.output()


@pytest.mark.parametrize("length", [256, 8_000])
def test_an_idempotency_key_above_255_characters_is_422_naming_the_header(
        app: Flask, live_service: LiveService, clinic: TenantCredentials, length: int) -> None:
    body = json.dumps(example()).encode()
    head = submission_head(clinic, f"Idempotency-Key: {'k' * length}",
                           f"Content-Length: {len(body)}")
    answer = exchange(live_service, head.encode() + b"\r\n" + body)
    assert answer.status == 422
    assert answer.problem()["errors"] == {
        "Idempotency-Key": ["Must be 1 to 255 printable ASCII characters without spaces."]}
    assert stored(app) == []


def test_an_overlong_request_line_is_414_problem_json(live_service: LiveService) -> None:
    raw = f"GET /api/v1/queue?q={SECRET * 400} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    assert_bare_problem(exchange(live_service, raw.encode()), 414, "uri-too-long")
    assert SECRET not in live_service.output()


@pytest.mark.parametrize("raw", [
    pytest.param(f"{SECRET} / HTTP/1.1\r\n\r\n", id="not a request line"),
    pytest.param(f"GET / HTTP/1.1\r\nHost: x\r\nBad Name{SECRET}: x\r\n\r\n",
                 id="invalid header name"),
    pytest.param(f"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: {SECRET}\r\n\r\n",
                 id="invalid Content-Length"),
    pytest.param(f"GET / HTTP/1.1\r\nHost: x\r\n{SECRET}\r\n\r\n",
                 id="header line without a colon"),
    pytest.param("GET / HTTP/7.0\r\nHost: x\r\n\r\n", id="unknown HTTP version"),
    pytest.param(f"GET http://{SECRET}:99999/ HTTP/1.1\r\nHost: x\r\n\r\n",
                 id="request target with an invalid port"),
    pytest.param(f"CONNECT {SECRET}:443 HTTP/1.1\r\nHost: x\r\n\r\n",
                 id="CONNECT to an authority"),
    pytest.param(f"GET http://user:{SECRET}@a.example/health HTTP/1.1\r\nHost: x\r\n\r\n",
                 id="a target with user information"),
    # RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, and
    # to any request with more than one Host field line or an invalid Host value.
    pytest.param(f"GET /health?{SECRET} HTTP/1.1\r\n\r\n", id="HTTP/1.1 without Host"),
    pytest.param("GET /health HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
                 id="two Host field lines"),
    pytest.param("GET /health HTTP/1.0\r\nHost: a.example\r\nHost: a.example\r\n\r\n",
                 id="two Host field lines in HTTP/1.0"),
    pytest.param(f"GET /health HTTP/1.1\r\nHost: a.example/{SECRET}\r\n\r\n",
                 id="a Host value that is not a host"),
    pytest.param("GET /health HTTP/1.1\r\nHost: a.example:80x\r\n\r\n",
                 id="a Host value with a port that is not digits"),
    # RFC 3986 §2.1, §3.2.2: "%" only begins a percent-encoded octet, and what is in
    # brackets is an IPv6 address or an IPvFuture ("v" version "." ...), nothing else.
    pytest.param("GET /health HTTP/1.1\r\nHost: a%zz.example\r\n\r\n",
                 id="a Host value with a stray percent sign"),
    pytest.param("GET /health HTTP/1.1\r\nHost: [1.2.3.4]\r\n\r\n",
                 id="an IPv4 address in brackets"),
    pytest.param("GET /health HTTP/1.1\r\nHost: [1::2::3]\r\n\r\n",
                 id="an IPv6 literal with two double colons"),
])
def test_a_malformed_request_is_400_problem_json(live_service: LiveService, raw: str) -> None:
    assert_bare_problem(exchange(live_service, raw.encode()), 400, "bad-request")
    assert SECRET not in live_service.output()


@pytest.mark.parametrize("raw", [
    pytest.param("GET /health HTTP/1.0\r\n\r\n", id="HTTP/1.0 without Host"),
    pytest.param("GET /health HTTP/1.1\r\nHost:\r\n\r\n", id="an empty Host"),
    pytest.param("GET /health HTTP/1.1\r\nHost: [2001:db8::1]:8000\r\n\r\n",
                 id="an IPv6 literal with a port"),
    pytest.param("GET /health HTTP/1.1\r\nhOsT: clinic.example\r\n\r\n",
                 id="Host in any case"),
    pytest.param("GET /health HTTP/1.1\r\nHost: CLINIC.example.:\r\n\r\n",
                 id="a fully qualified name with an empty port"),
    pytest.param("GET /health HTTP/1.1\r\nHost: caf%C3%A9.example\r\n\r\n",
                 id="a percent-encoded name"),
    pytest.param("GET /health HTTP/1.1\r\nHost: [::ffff:192.0.2.1]:8000\r\n\r\n",
                 id="an IPv6 literal ending in IPv4 form"),
    pytest.param("GET /health HTTP/1.1\r\nHost: [v1.fe80::a+en1]\r\n\r\n",
                 id="an IPvFuture literal"),
])
def test_requests_whose_host_is_valid_are_served(live_service: LiveService, raw: str) -> None:
    """RFC 9112 §3.2: Host may be empty, is optional in HTTP/1.0, and its name is
    case-insensitive."""
    assert exchange(live_service, raw.encode()).status == 200


def test_errors_of_the_application_met_by_the_server_are_500_without_internals() -> None:
    assert answer_for(RuntimeError("a value"))[0] == 500
    assert answer_for(OSError())[3] == "An unexpected error occurred."
    assert answer_for(http.InvalidResponseHeader(SECRET))[0] == 500
    assert answer_for(http.ConfigurationProblem(SECRET))[0] == 500
    worker = server_options("127.0.0.1", 8000, 2)["worker_class"]
    assert worker == "screening.server.loop_worker.LoopWorker"


@pytest.mark.parametrize(("error", "status"), [
    (http.LimitRequestHeaders(SECRET), 431),
    (http.LimitRequestLine(5000, 4094), 414),
    (http.UnsupportedTransferCoding(SECRET), 501),
    (http.ExpectationFailed(SECRET), 417),
    (http.ForbiddenProxyRequest(SECRET), 403),
    (http.InvalidHeader(SECRET), 400),
    (http.InvalidChunkSize(SECRET), 400),
    (http.InvalidProxyLine(SECRET), 400),
])
def test_each_error_gunicorn_raises_has_its_status_and_a_fixed_detail(
        error: Exception, status: int) -> None:
    answered, title, slug, detail = answer_for(error)
    assert answered == status
    raw = problem_bytes(answered, title, slug, detail, "0" * 32)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("ascii").split("\r\n")
    assert lines[0] == f"HTTP/1.1 {status} {title}"
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body)["instance"] == "urn:uuid:00000000-0000-0000-0000-000000000000"
    assert SECRET.encode() not in raw
