"""The worker's cooperative I/O (``screening.notify.hub``): lanes on one thread take turns
while they wait for sockets or for a blocking call on another thread, a wait ends at its
deadline, and what arrived in time is read even when the hub's thread was busy."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from screening.notify.hub import READ, Hub, cooperate, in_thread, wait_io


@pytest.fixture
def hub() -> Iterator[Hub]:
    made = Hub()
    yield made
    made.close()


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made: list[tuple[socket.socket, socket.socket]] = []
    yield made
    for ours, theirs in made:
        ours.close()
        theirs.close()


def pair(pairs: list[tuple[socket.socket, socket.socket]]) -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    pairs.append((ours, theirs))
    return ours, theirs


def reading(sock: socket.socket, deadline: float, log: list[object], name: str) -> None:
    """A lane: waits for ``sock`` and notes what it read, or that its wait timed out."""
    try:
        wait_io(sock, READ, deadline)
    except TimeoutError:
        log.append((name, "timeout"))
        return
    log.append((name, sock.recv(16)))


def test_lanes_take_turns_on_one_thread_in_the_order_their_sockets_become_ready(
        hub: Hub, pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    (first, first_peer), (second, second_peer) = pair(pairs), pair(pairs)
    log: list[object] = []
    threads: set[int] = set()
    deadline = time.monotonic() + 5

    def lane(sock: socket.socket, name: str) -> None:
        threads.add(threading.get_ident())
        reading(sock, deadline, log, name)
        threads.add(threading.get_ident())

    hub.spawn(lane, first, "first")
    hub.spawn(lane, second, "second")
    timer = threading.Timer(0.05, second_peer.send, (b"2",))
    timer.start()
    threading.Timer(0.15, first_peer.send, (b"1",)).start()
    hub.run(time.monotonic() + 5)
    assert log == [("second", b"2"), ("first", b"1")]
    assert threads == {threading.get_ident()}
    assert hub.lanes == 0


def test_a_wait_past_its_deadline_ends_in_timeout_and_the_others_go_on(
        hub: Hub, pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    (silent, _), (answered, peer) = pair(pairs), pair(pairs)
    log: list[object] = []
    started = time.monotonic()
    hub.spawn(reading, silent, started + 0.2, log, "silent")
    hub.spawn(reading, answered, started + 5, log, "answered")
    threading.Timer(0.05, peer.send, (b"ok",)).start()
    hub.run(started + 5)
    assert log == [("answered", b"ok"), ("silent", "timeout")]
    assert 0.2 <= time.monotonic() - started < 1.0


def test_what_arrived_before_the_deadline_is_read_though_the_hub_looks_after_it(
        hub: Hub, pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    """The hub's thread was busy (a tick's transaction) past a lane's deadline: the answer
    that came in time is taken, not counted as a timeout."""
    sock, peer = pair(pairs)
    log: list[object] = []
    hub.spawn(reading, sock, time.monotonic() + 0.05, log, "lane")
    hub.run(time.monotonic())  # the lane starts and waits
    peer.send(b"in time")
    time.sleep(0.1)  # busy elsewhere until after the deadline
    hub.run(time.monotonic() + 5)
    assert log == [("lane", b"in time")]


def test_run_returns_at_its_time_and_the_lanes_go_on_at_the_next_run(
        hub: Hub, pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    sock, peer = pair(pairs)
    log: list[object] = []
    hub.spawn(reading, sock, time.monotonic() + 5, log, "lane")
    hub.run(time.monotonic() + 0.05)
    assert log == [] and hub.lanes == 1
    peer.send(b"later")
    hub.run(time.monotonic() + 5)
    assert log == [("lane", b"later")] and hub.lanes == 0


def test_a_slow_blocking_call_holds_up_only_its_own_lane(
        hub: Hub, pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    """A DNS lookup that takes its time runs on one of the hub's threads: the other
    lanes' attempts go on meanwhile."""
    sock, peer = pair(pairs)
    log: list[object] = []
    release = threading.Event()

    def slow_lookup() -> str:
        release.wait(5)
        return "resolved"

    def looking_up() -> None:
        log.append(("lookup", in_thread(slow_lookup)))

    hub.spawn(looking_up)
    hub.spawn(reading, sock, time.monotonic() + 5, log, "reader")
    peer.send(b"x")
    threading.Timer(0.2, release.set).start()
    hub.run(time.monotonic() + 5)
    assert log == [("reader", b"x"), ("lookup", "resolved")]


def test_a_failing_lane_is_logged_and_the_others_finish(
        hub: Hub, pairs: list[tuple[socket.socket, socket.socket]],
        caplog: pytest.LogCaptureFixture) -> None:
    sock, peer = pair(pairs)
    log: list[object] = []

    def failing() -> None:
        raise RuntimeError("a bug")

    hub.spawn(failing)
    hub.spawn(reading, sock, time.monotonic() + 5, log, "lane")
    peer.send(b"ok")
    hub.run(time.monotonic() + 5)
    assert log == [("lane", b"ok")] and hub.lanes == 0
    assert "a webhook lane failed" in caplog.text


def test_outside_a_hub_a_wait_blocks_its_thread_until_ready_or_deadline(
        pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    sock, peer = pair(pairs)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        wait_io(sock, READ, started + 0.1)
    assert time.monotonic() - started >= 0.1
    threading.Timer(0.05, peer.send, (b"x",)).start()
    wait_io(sock, READ, time.monotonic() + 5)
    assert sock.recv(1) == b"x"
    assert in_thread(lambda: threading.get_ident()) == threading.get_ident()


def test_a_lane_that_never_waits_lets_the_others_go_on_when_it_cooperates(
        hub: Hub, pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    sock, peer = pair(pairs)
    log: list[object] = []
    started = time.monotonic()

    def busy() -> None:  # a lane whose socket always has more for it
        while time.monotonic() - started < 0.5:
            cooperate()
        log.append(("busy", "done"))

    hub.spawn(busy)
    hub.spawn(reading, sock, started + 5, log, "reader")
    peer.send(b"x")  # ready as soon as the reader waits, while the busy lane runs
    hub.run(started + 5)
    assert log == [("reader", b"x"), ("busy", "done")]


def test_lanes_calling_with_one_shared_key_wait_for_one_call(hub: Hub) -> None:
    calls: list[str] = []
    got: list[object] = []
    release = threading.Event()

    def lookup(name: str) -> str:
        calls.append(name)
        release.wait(5)
        return f"{name} resolved"

    def looking_up(name: str) -> None:
        got.append(in_thread(lookup, name, shared=name))

    for name in ("a", "a", "a", "b"):
        hub.spawn(looking_up, name)
    threading.Timer(0.1, release.set).start()
    hub.run(time.monotonic() + 5)
    assert sorted(calls) == ["a", "b"]
    assert sorted(got) == ["a resolved"] * 3 + ["b resolved"]
    hub.spawn(looking_up, "a")  # that call has ended: a new lookup, not its old result
    hub.run(time.monotonic() + 5)
    assert sorted(calls) == ["a", "a", "b"]
