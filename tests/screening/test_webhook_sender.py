"""The HTTP side of a delivery attempt (``screening.notify.sender``) against real local
servers: kept-alive connections are reused, a closed one is replaced, the 10 s are a
deadline for the whole attempt, redirects are not followed, and over TLS the certificate
is verified against the URL's host name, sent as SNI, on a connection to the checked
address."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from screening.notify.addresses import Destination
from screening.notify.hub import Hub
from screening.notify.sender import Outcome, Sender, _request

HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class RawServer:
    """A TCP server on 127.0.0.1 whose connections ``handle`` serves, one thread each;
    counts the connections it accepted and every request head it read."""

    def __init__(self, handle: Callable[[RawServer, socket.socket], None],
                 context: ssl.SSLContext | None = None) -> None:
        self.handle, self.context = handle, context
        self.connections = 0
        self.heads: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.context is not None:
                try:
                    sock = self.context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    sock.close()
                    continue
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            try:
                self.handle(self, sock)
            except OSError:
                pass

    def read_request(self, sock: socket.socket) -> bytes | None:
        """Reads one request (head and ``Content-Length`` body); None at end of stream."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += sock.recv(65536)
        self.heads.append(head)
        return head

    def close(self) -> None:
        self.listener.close()


def keep_alive(server: RawServer, sock: socket.socket) -> None:
    while server.read_request(sock) is not None:
        sock.sendall(NO_CONTENT)


def one_answer_then_close(server: RawServer, sock: socket.socket) -> None:
    if server.read_request(sock) is not None:
        sock.sendall(NO_CONTENT)  # keep-alive promised, then the receiver drops it


def dribble(server: RawServer, sock: socket.socket) -> None:
    server.read_request(sock)
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
        sock.sendall(bytes([byte]))
        time.sleep(0.1)


def redirect(server: RawServer, sock: socket.socket) -> None:
    while server.read_request(sock) is not None:
        sock.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\n"
                     b"Content-Length: 0\r\n\r\n")


@pytest.fixture
def serving() -> Iterator[Callable[..., RawServer]]:
    made: list[RawServer] = []

    def start(handle: Callable[[RawServer, socket.socket], None],
              context: ssl.SSLContext | None = None) -> RawServer:
        made.append(RawServer(handle, context))
        return made[-1]

    yield start
    for server in made:
        server.close()


def destination(port: int, *, scheme: str = "http", host: str = "127.0.0.1") -> Destination:
    return Destination(f"{scheme}://{host}:{port}/hooks", scheme, host, port, "127.0.0.1",
                       "/hooks")


def test_attempts_to_one_address_share_a_kept_alive_connection(
        serving: Callable[..., RawServer]) -> None:
    server = serving(keep_alive)
    sender = Sender()
    try:
        outcomes = [sender.send(destination(server.port), HEADERS, b"{}") for _ in range(5)]
    finally:
        sender.close()
    assert outcomes == [Outcome(204, None)] * 5
    assert server.connections == 1
    assert all(b"webhook-id: msg_1" in head for head in server.heads)


def test_a_connection_the_receiver_closed_is_replaced_and_the_attempt_delivers(
        serving: Callable[..., RawServer]) -> None:
    server = serving(one_answer_then_close)
    sender = Sender()
    try:
        first = sender.send(destination(server.port), HEADERS, b"{}")
        time.sleep(0.1)  # the receiver has closed the kept-alive connection by now
        second = sender.send(destination(server.port), HEADERS, b"{}")
    finally:
        sender.close()
    assert (first, second) == (Outcome(204, None), Outcome(204, None))
    assert server.connections == 2


def answer_then_reset_mid_answer(server: RawServer, sock: socket.socket) -> None:
    """Answers the first request; resets the connection halfway through the second's
    answer (the receiver got that request and began to answer it)."""
    server.read_request(sock)
    sock.sendall(NO_CONTENT)
    server.read_request(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
    time.sleep(0.1)  # the sender has read that much by now
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_kept_alive_connection_reset_after_part_of_the_answer_is_not_sent_again(
        serving: Callable[..., RawServer]) -> None:
    """Only a connection that ended before any byte of the answer is taken for one the
    receiver closed while idle, and the attempt sent again: once part of the answer has
    come, the receiver had the request, and sending it again would deliver it twice."""
    server = serving(answer_then_reset_mid_answer)
    sender = Sender()
    try:
        first = sender.send(destination(server.port), HEADERS, b"{}")
        second = sender.send(destination(server.port), HEADERS, b"{}")
    finally:
        sender.close()
    assert first == Outcome(204, None)
    assert second == Outcome(None, "connection_error")
    assert len(server.heads) == 2 and server.connections == 1


def test_a_receiver_dribbling_its_answer_is_cut_off_at_the_total_timeout(
        serving: Callable[..., RawServer]) -> None:
    server = serving(dribble)
    sender = Sender(timeout=1.0)
    try:
        started = time.monotonic()
        outcome = sender.send(destination(server.port), HEADERS, b"{}")
        took = time.monotonic() - started
    finally:
        sender.close()
    assert outcome == Outcome(None, "timeout")
    assert took < 1.5  # each byte came within any per-read timeout; the deadline held


def test_a_redirect_is_not_followed(serving: Callable[..., RawServer]) -> None:
    server = serving(redirect)
    sender = Sender()
    try:
        outcome = sender.send(destination(server.port), HEADERS, b"{}")
    finally:
        sender.close()
    assert outcome == Outcome(307, "http_status")
    assert len(server.heads) == 1 and server.heads[0].startswith(b"POST /hooks ")


def test_a_closed_port_is_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = Sender()
    try:
        assert sender.send(destination(port), HEADERS, b"{}") == Outcome(
            None, "connection_refused")
    finally:
        sender.close()


def test_an_address_that_refuses_the_connection_falls_over_to_the_next_checked_one(
        serving: Callable[..., RawServer]) -> None:
    """Nothing listens on 127.0.0.2 at the receiver's port: the attempt goes on to the
    name's next address, as ``socket.create_connection`` does for a name."""
    server = serving(keep_alive)
    two = Destination(f"http://hooks.example:{server.port}/hooks", "http", "hooks.example",
                      server.port, "127.0.0.2", "/hooks", ("127.0.0.1",))
    sender = Sender()
    try:
        outcomes = [sender.send(two, HEADERS, b"{}") for _ in range(3)]
    finally:
        sender.close()
    assert outcomes == [Outcome(204, None)] * 3
    assert len(server.heads) == 3
    assert server.connections == 1  # the kept-alive connection to the second address


def test_when_no_checked_address_accepts_the_attempt_is_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    none = Destination(f"http://hooks.example:{port}/hooks", "http", "hooks.example", port,
                       "127.0.0.2", "/hooks", ("127.0.0.1", "127.0.0.3"))
    sender = Sender()
    try:
        assert sender.send(none, HEADERS, b"{}") == Outcome(None, "connection_refused")
    finally:
        sender.close()


def answering(*answers: bytes) -> Callable[[RawServer, socket.socket], None]:
    """A receiver answering its requests, in order over all its connections, with
    ``answers`` (raw bytes), then ``204`` to any further request."""
    queue = list(answers)

    def handle(server: RawServer, sock: socket.socket) -> None:
        while server.read_request(sock) is not None:
            sock.sendall(queue.pop(0) if queue else NO_CONTENT)

    return handle


def two_attempts(server: RawServer) -> tuple[Outcome, Outcome]:
    sender = Sender(timeout=2.0)
    try:
        return (sender.send(destination(server.port), HEADERS, b"{}"),
                sender.send(destination(server.port), HEADERS, b"{}"))
    finally:
        sender.close()


# RFC 9112 §6–§7: how the body of an answer is framed decides whether the connection can
# carry the next attempt. Each case: the first answer, what it gives, and how many
# connections two attempts take.
@pytest.mark.parametrize(("answer", "outcome", "connections"), [
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}",
                 Outcome(200, None), 1, id="rfc9112-6.3-content-length-body-read-to-its-end"),
    pytest.param(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"4;ext=1\r\nabcd\r\n2\r\nef\r\n0\r\nTrailer: x\r\n\r\n",
                 Outcome(202, None), 1, id="rfc9112-7.1-chunked-body-and-trailer"),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
                 Outcome(204, None), 1, id="rfc9110-15.2-interim-answer-skipped"),
    pytest.param(b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", Outcome(200, None), 1,
                 id="rfc9112-2.2-bare-LF-line-ends-accepted"),
    pytest.param(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
                 Outcome(204, None), 2, id="rfc9112-9.6-connection-close"),
    pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", Outcome(200, None), 2,
                 id="rfc9112-9.3-http-1.0-without-keep-alive"),
    pytest.param(b"HTTP/1.1 500 Oops\r\nContent-Length: 99999999\r\n\r\n",
                 Outcome(500, "http_status"), 2, id="a-body-beyond-the-limit-is-not-read"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
                 Outcome(200, None), 2, id="bytes-beyond-the-answer-are-not-trusted"),
    pytest.param(b"SMTP ready\r\n\r\n", Outcome(None, "connection_error"), 2,
                 id="rfc9112-4-not-a-status-line"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
                 Outcome(None, "connection_error"), 2, id="rfc9112-6.3-unreadable-length"),
    pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x4\r\nabcd\r\n",
                 Outcome(None, "connection_error"), 2, id="rfc9112-7.1-unreadable-chunk-size"),
])
def test_the_answer_is_read_by_its_framing(
        serving: Callable[..., RawServer], answer: bytes, outcome: Outcome,
        connections: int) -> None:
    server = serving(answering(answer))
    first, second = two_attempts(server)
    assert first == outcome
    assert second == Outcome(204, None)
    assert server.connections == connections


def test_an_answer_framed_by_the_end_of_the_connection_is_read_to_it(
        serving: Callable[..., RawServer]) -> None:
    def until_close(server: RawServer, sock: socket.socket) -> None:
        server.read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\n\r\nthanks")

    server = serving(until_close)
    first, second = two_attempts(server)
    assert (first, second) == (Outcome(200, None), Outcome(200, None))
    assert server.connections == 2


def test_a_header_value_with_a_line_break_is_never_sent(
        serving: Callable[..., RawServer]) -> None:
    server = serving(keep_alive)
    sender = Sender()
    try:
        outcome = sender.send(destination(server.port),
                              {**HEADERS, "webhook-id": "msg_1\r\nX-Injected: 1"}, b"{}")
    finally:
        sender.close()
    assert outcome == Outcome(None, "connection_error")
    assert server.heads == []


def test_every_attempt_checks_its_own_header_fields_and_target() -> None:
    """The request line and fixed fields are built once per destination; the attempt's
    own fields are checked on every request, and a target or host that cannot be sent
    is refused every time, not only the first."""
    good = destination(8080)
    assert _request(good, HEADERS, b"{}").startswith(b"POST /hooks HTTP/1.1\r\n")
    for bad in ({**HEADERS, "webhook-id": "msg_1\r\nX-Injected: 1"},
                {**HEADERS, "X-Bad\nName": "1"}, {**HEADERS, "a:b": "1"}):
        with pytest.raises(ValueError):
            _request(good, bad, b"{}")
    assert b"X-Injected" not in _request(good, HEADERS, b"{}")
    unsendable = [
        Destination("http://h/x", "http", "h", 8080, "127.0.0.1", "/a b"),
        Destination("http://h/x", "http", "h\r\nX: 1", 8080, "127.0.0.1", "/"),
        Destination("http://h/x", "http", "a" * 64 + ".example", 8080, "127.0.0.1", "/"),
    ]
    for target in unsendable:
        for _ in range(2):
            with pytest.raises(ValueError):
                _request(target, HEADERS, b"{}")


def test_the_request_is_a_post_with_its_length_host_and_body(
        serving: Callable[..., RawServer]) -> None:
    server = serving(keep_alive)
    sender = Sender()
    try:
        assert sender.send(destination(server.port), HEADERS, b'{"a":1}') == Outcome(204, None)
    finally:
        sender.close()
    lines = server.heads[0].split(b"\r\n")
    assert lines[0] == b"POST /hooks HTTP/1.1"
    assert {b"Host: 127.0.0.1:%d" % server.port, b"Content-Length: 7",
            b"Content-Type: application/json", b"webhook-signature: v1,x"} <= set(lines)


def certificate_for(name: str, folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate it issued for ``name``: (CA, cert, key) PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - dt.timedelta(hours=1))
          .not_valid_after(now + dt.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_server(serving: Callable[..., RawServer], tmp_path: Path
               ) -> tuple[RawServer, Path, list[str | None]]:
    """A TLS receiver on 127.0.0.1 holding a certificate for ``hooks.clinic.test`` from a
    private CA; notes the SNI name of every handshake."""
    ca, cert, key = certificate_for("hooks.clinic.test", tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _context: names.append(name)
    return serving(keep_alive, context), ca, names


def test_tls_verifies_the_certificate_for_the_url_host_sent_as_sni(
        tls_server: tuple[RawServer, Path, list[str | None]]) -> None:
    server, ca, names = tls_server
    sender = Sender(context=ssl.create_default_context(cafile=str(ca)))
    try:
        outcome = sender.send(destination(server.port, scheme="https",
                                          host="hooks.clinic.test"), HEADERS, b"{}")
        wrong_name = sender.send(destination(server.port, scheme="https",
                                             host="other.clinic.test"), HEADERS, b"{}")
    finally:
        sender.close()
    assert outcome == Outcome(204, None)
    assert names[0] == "hooks.clinic.test"
    assert any(head.lower().startswith(b"post /hooks ") and b"host: hooks.clinic.test:"
               in head.lower() for head in server.heads)
    assert wrong_name == Outcome(None, "tls")


def test_tls_refuses_a_certificate_from_an_unknown_authority(
        tls_server: tuple[RawServer, Path, list[str | None]]) -> None:
    server, _, _ = tls_server
    sender = Sender()  # the default trust store does not know the test CA
    try:
        outcome = sender.send(destination(server.port, scheme="https",
                                          host="hooks.clinic.test"), HEADERS, b"{}")
    finally:
        sender.close()
    assert outcome == Outcome(None, "tls")
    assert server.heads == []


def test_bytes_a_receiver_sent_after_its_answer_are_never_read_as_a_later_attempts_answer(
        serving: Callable[..., RawServer]) -> None:
    def answers_twice(server: RawServer, sock: socket.socket) -> None:
        while server.read_request(sock) is not None:
            if len(server.heads) > 1:  # every later request fails
                sock.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
                continue
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            time.sleep(0.05)  # a second answer to the first request, after it was read
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    server = serving(answers_twice)
    sender = Sender(timeout=2.0)
    try:
        first = sender.send(destination(server.port), HEADERS, b"{}")
        time.sleep(0.2)  # the stray answer has reached the idle connection
        second = sender.send(destination(server.port), HEADERS, b"{}")
    finally:
        sender.close()
    assert first == Outcome(200, None)
    assert second == Outcome(500, "http_status")  # its own answer, not the stray 200
    assert server.connections == 2


def test_an_internationalised_host_name_is_sent_in_host_as_its_ascii_form(
        serving: Callable[..., RawServer]) -> None:
    # The name resolves and is sent as SNI in its IDNA form; Host must be the same name.
    server = serving(keep_alive)
    sender = Sender()
    try:
        outcomes = [sender.send(destination(server.port, host=host), HEADERS, b"{}")
                    for host in ("例え.jp", "bücher.example")]
    finally:
        sender.close()
    assert outcomes == [Outcome(204, None)] * 2
    hosts = [line for head in server.heads for line in head.split(b"\r\n")
             if line.startswith(b"Host: ")]
    assert hosts == [b"Host: xn--r8jz45g.jp:%d" % server.port,
                     b"Host: xn--bcher-kva.example:%d" % server.port]


def flood(server: RawServer, sock: socket.socket) -> None:
    """Reads the request, then sends interim answers without pause (never a final one)."""
    server.read_request(sock)
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" * 4096
    while True:
        sock.sendall(interim)


def answer_after(seconds: float) -> Callable[[RawServer, socket.socket], None]:
    def handle(server: RawServer, sock: socket.socket) -> None:
        while server.read_request(sock) is not None:
            time.sleep(seconds)
            sock.sendall(NO_CONTENT)
    return handle


def test_a_receiver_sending_without_pause_does_not_hold_up_the_other_lanes(
        serving: Callable[..., RawServer]) -> None:
    """Its socket is always readable, so its lane never waits: it still lets the others
    have their turn, and its attempt ends once its answer is longer than any real one."""
    flooder, other = serving(flood), serving(answer_after(0.1))
    sender, hub = Sender(timeout=3.0), Hub()
    ended: dict[str, tuple[Outcome, float]] = {}
    started = time.monotonic()

    def lane(name: str, port: int) -> None:
        outcome = sender.send(destination(port), HEADERS, b"{}")
        ended[name] = (outcome, time.monotonic() - started)

    try:
        hub.spawn(lane, "flooder", flooder.port)
        hub.spawn(lane, "other", other.port)
        hub.run(started + 10)
    finally:
        hub.close()
        sender.close()
    assert ended["other"][0] == Outcome(204, None)
    assert ended["other"][1] < 1.0
    assert ended["flooder"][0] == Outcome(None, "connection_error")  # cut off, not timed out
    assert ended["flooder"][1] < 3.0


def test_in_a_hub_an_answer_that_came_in_time_is_read_though_the_lane_resumes_late(
        serving: Callable[..., RawServer]) -> None:
    """The hub's thread was busy (a tick) past the attempt's deadline while the answer
    came: the receiver got the event and answered, so it is delivered, not a timeout
    (which would send it again)."""
    asked, answer = threading.Event(), threading.Event()

    def answers_when_told(server: RawServer, sock: socket.socket) -> None:
        server.read_request(sock)
        asked.set()
        answer.wait(5)
        sock.sendall(NO_CONTENT)
        time.sleep(1)

    server = serving(answers_when_told)
    sender, hub = Sender(timeout=0.3), Hub()
    outcomes: list[Outcome] = []
    try:
        hub.spawn(lambda: outcomes.append(sender.send(destination(server.port), HEADERS,
                                                      b"{}")))
        while not asked.is_set():
            hub.run(time.monotonic() + 0.01)
        answer.set()
        time.sleep(0.5)  # busy elsewhere until after the deadline; the answer is there
        hub.run(time.monotonic() + 5)
    finally:
        hub.close()
        sender.close()
    assert outcomes == [Outcome(204, None)]


def test_in_a_hub_a_request_is_never_sent_after_the_attempts_deadline(
        serving: Callable[..., RawServer]) -> None:
    """The lane resumes from its connect after the deadline (the hub's thread was busy):
    sending then would reach a receiver after the attempt was counted a timeout."""
    server = serving(keep_alive)
    sender, hub = Sender(timeout=0.3), Hub()
    outcomes: list[Outcome] = []
    try:
        hub.spawn(lambda: outcomes.append(sender.send(destination(server.port), HEADERS,
                                                      b"{}")))
        hub.run(time.monotonic())  # the lane starts connecting and waits
        time.sleep(0.5)
        hub.run(time.monotonic() + 5)
        time.sleep(0.2)
    finally:
        hub.close()
        sender.close()
    assert outcomes == [Outcome(None, "timeout")]
    assert server.heads == []


def test_a_receiver_flooding_its_answer_is_cut_off_outside_a_hub_too(
        serving: Callable[..., RawServer]) -> None:
    server = serving(flood)
    sender = Sender(timeout=5.0)
    started = time.monotonic()
    try:
        outcome = sender.send(destination(server.port), HEADERS, b"{}")
    finally:
        sender.close()
    assert outcome == Outcome(None, "connection_error")
    assert time.monotonic() - started < 3.0
