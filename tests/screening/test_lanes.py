"""A threaded worker's two lanes: clinicians' requests before bulk intake, intake never
starved (``screening.server.lanes``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from gunicorn.http.unreader import SocketUnreader

from screening.server.gunicorn_errors import ProblemThreadWorker
from screening.server.lanes import INTERACTIVE_RUN, LanePool, is_intake, request_start

JOIN_S = 10.0


@pytest.fixture
def lane_pool() -> Iterator[Callable[[int], LanePool]]:
    """Makes pools of N threads, shut down after the test."""
    made: list[LanePool] = []

    def make(threads: int) -> LanePool:
        made.append(LanePool(threads))
        return made[-1]

    yield make
    for pool in made:
        pool.shutdown()


@pytest.mark.parametrize(("line", "intake"), [
    (b"POST /api/v1/submissions HTTP/1.1\r\n", True),
    (b"POST /api/v1/submissions?x=1 HTTP/1.1\r\n", True),
    (b"POST /fhir/QuestionnaireResponse HTTP/1.1\r\n", True),
    (b"POST /api/v1/queue/next HTTP/1.1\r\n", False),
    (b"GET /api/v1/submissions HTTP/1.1\r\n", False),  # a clinician's listing
    (b"GET /api/v1/submissions/abc HTTP/1.1\r\n", False),
    (b"POST /api/v1/submissions/abc/decision HTTP/1.1\r\n", False),
    (b"POST /api/v1/submissions/validate HTTP/1.1\r\n", False),
    (b"", False),  # nothing arrived yet
])
def test_only_posting_an_intake_goes_to_the_intake_lane(line: bytes, intake: bool) -> None:
    assert is_intake(line[:40]) is intake


def run_in_order(pool: LanePool, lanes: str) -> list[str]:
    """Blocks the pool's one thread, queues one task per letter of ``lanes`` (upper case:
    intake), lets it go and returns the order the tasks ran in."""
    ran: list[str] = []
    started, gate = threading.Event(), threading.Event()
    pool.submit(lambda: (started.set(), gate.wait(JOIN_S)))
    assert started.wait(JOIN_S)  # the thread is busy before anything else is queued
    futures = [pool.submit(ran.append, name, intake=name.isupper()) for name in lanes]
    gate.set()
    for future in futures:
        future.result(JOIN_S)
    return ran


def test_interactive_requests_go_first_but_intake_waits_at_most_a_short_run(
        lane_pool: Callable[[int], LanePool]) -> None:
    assert INTERACTIVE_RUN == 3
    # Three interactive requests, then the oldest intake, then the fourth.
    assert run_in_order(lane_pool(1), "ABCDEwxyz") == list("wxyAzBCDE")


def test_with_one_lane_waiting_requests_run_in_arrival_order(
        lane_pool: Callable[[int], LanePool]) -> None:
    pool = lane_pool(1)
    assert run_in_order(pool, "ABCDEFG") == list("ABCDEFG")
    assert run_in_order(pool, "abcdefg") == list("abcdefg")


def test_a_future_carries_the_result_or_the_error(
        lane_pool: Callable[[int], LanePool]) -> None:
    pool = lane_pool(2)
    assert pool.submit(lambda: 42).result(JOIN_S) == 42
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0, intake=True).result(JOIN_S)


def test_shutdown_finishes_what_is_queued_and_refuses_more() -> None:
    pool = LanePool(1)
    ran: list[str] = []
    gate = threading.Event()
    pool.submit(gate.wait, JOIN_S)
    queued = pool.submit(ran.append, "queued", intake=True)
    stopper = threading.Thread(target=pool.shutdown)
    stopper.start()
    gate.set()
    stopper.join(JOIN_S)
    assert not stopper.is_alive()
    assert queued.done() and ran == ["queued"]
    with pytest.raises(RuntimeError):
        pool.submit(ran.append, "late")


def connection(sock: socket.socket, parser: object = None) -> SimpleNamespace:
    return SimpleNamespace(sock=sock, parser=parser)


def test_the_lane_is_read_without_consuming_the_request() -> None:
    client, server = socket.socketpair()
    with client, server:
        server.setblocking(False)
        assert request_start(connection(server)) == b""  # nothing yet
        client.sendall(b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\n\r\n")
        assert is_intake(request_start(connection(server)))
        server.setblocking(True)
        assert server.recv(4) == b"POST"  # still all there for the parser


def test_bytes_the_parser_read_ahead_on_a_kept_alive_connection_decide_the_lane() -> None:
    client, server = socket.socketpair()
    with client, server:
        unreader = SocketUnreader(server)
        unreader.unread(b"POST /fhir/QuestionnaireResponse HTTP/1.1\r\n")
        parser = SimpleNamespace(unreader=unreader)
        assert is_intake(request_start(connection(server, parser)))


def test_the_served_threaded_worker_uses_the_lanes() -> None:
    worker = ProblemThreadWorker.__new__(ProblemThreadWorker)
    worker.cfg = SimpleNamespace(threads=2)
    pool = worker.get_thread_pool()
    try:
        assert isinstance(pool, LanePool)
    finally:
        pool.shutdown()
