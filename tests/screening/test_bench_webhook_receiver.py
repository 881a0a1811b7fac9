"""``bench/webhooks.py``'s receiver (only the receiver: no benchmark runs here). It stands
in for a clinic's endpoint for a whole run, so one client's trouble must not stop it."""

from __future__ import annotations

import importlib
import socket
import struct
import sys
import time
from types import ModuleType

import pytest


@pytest.fixture
def bench_webhooks(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the module sets sys.path[0]
    return importlib.import_module("bench.webhooks")


def delivery(number: int) -> bytes:
    body = b'{"data":{"submission_id":"s%d"}}' % number
    return (b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nwebhook-id: msg_%d\r\n\r\n" % (len(body), number) + body)


def answers(sock: socket.socket, count: int) -> bytes:
    received = b""
    while received.count(b"HTTP/1.1 204") < count:
        chunk = sock.recv(4096)
        assert chunk, received
        received += chunk
    return received


def test_pipelined_deliveries_arriving_in_pieces_are_each_answered(
        bench_webhooks: ModuleType) -> None:
    arrivals = bench_webhooks.Arrivals()
    try:
        port = int(arrivals.url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            data = delivery(1) + delivery(2) + delivery(3)
            for start in range(0, len(data), 7):
                sock.sendall(data[start:start + 7])
                time.sleep(0.001)
            answers(sock, 3)
        assert arrivals.count == 3 and sorted(arrivals.at) == ["s1", "s2", "s3"]
    finally:
        arrivals.close()
    assert not arrivals._thread.is_alive()


def test_a_client_gone_before_its_answer_does_not_stop_the_receiver(
        bench_webhooks: ModuleType) -> None:
    """A client that resets its connection while the receiver handles its request (a
    sender past its deadline, a service stopped mid-delivery): that connection goes, and
    the next delivery is still answered."""

    class Slow(bench_webhooks.Arrivals):  # type: ignore[name-defined,misc]
        def arrived(self, body: bytes, now: float) -> None:
            time.sleep(0.2)  # the client goes away meanwhile
            super().arrived(body, now)

    arrivals = Slow()
    try:
        port = int(arrivals.url.rsplit(":", 1)[1].split("/")[0])
        gone = socket.create_connection(("127.0.0.1", port), timeout=5)
        gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        gone.sendall(delivery(1))
        time.sleep(0.05)
        gone.close()  # a reset, with the answer still to come
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(delivery(2))
            answers(sock, 1)
        assert arrivals.count == 2
    finally:
        arrivals.close()
