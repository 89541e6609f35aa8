"""The pool's pipe protocol: framed reads of any size and number, report decoding, the start
guard, and leaving the main module out of jobengine's own process launches."""

from __future__ import annotations

import marshal
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from multiprocess import spawn

from jobengine.events import JobFinished, JobMessage, JobStarted
from jobengine.pool.backoff import StartGuard
from jobengine.pool.mainless import without_main
from jobengine.pool.protocol import FrameReader, decode_report, frame
from jobengine.state import JobState


@pytest.fixture
def pipe() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    with left, right:
        yield left, right


def read_all(reader: FrameReader, sock: socket.socket, count: int) -> list[bytearray]:
    """Read until `count` frames arrived, waiting on the socket as the pool does."""
    frames: list[bytearray] = []
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        while len(frames) < count:
            assert selector.select(10), "no data and not all frames"
            frames += reader.read()
    return frames


def test_reader_returns_every_whole_frame_of_a_burst_in_one_read(
    pipe: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pipe
    burst = b"".join(frame(marshal.dumps(("M", "u", f"message {i}"))) for i in range(5000))
    theirs.sendall(burst[:100_000])  # fits the socket buffer: no writer thread needed yet
    reader = FrameReader(ours)
    first = reader.read()
    assert len(first) > 3000  # every whole frame that arrived, not a batch of them
    writer = threading.Thread(target=theirs.sendall, args=(burst[100_000:],))
    writer.start()
    rest = read_all(reader, ours, 5000 - len(first))
    writer.join()
    texts = [marshal.loads(f)[2] for f in first + rest]
    assert texts == [f"message {i}" for i in range(5000)]
    assert reader.read() == []


def test_reader_reads_a_50_mb_frame_quickly_and_the_frame_after_it(
    pipe: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pipe
    big = b"x" * (50 * 1024 * 1024)
    data = frame(big) + frame(b"after")
    writer = threading.Thread(target=theirs.sendall, args=(data,))
    started = time.monotonic()
    writer.start()
    frames = read_all(FrameReader(ours), ours, 2)
    writer.join()
    assert [len(f) for f in frames] == [len(big), 5]
    assert frames[0] == big and frames[1] == b"after"
    assert time.monotonic() - started < 5


def test_reader_reads_a_large_frame_over_several_wake_ups_without_spinning(
    pipe: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pipe
    writer = threading.Thread(target=theirs.sendall, args=(frame(b"y" * 3_000_000),))
    writer.start()
    reader = FrameReader(ours)
    reads = 0
    frames: list[bytearray] = []
    with selectors.DefaultSelector() as selector:
        selector.register(ours, selectors.EVENT_READ)
        while not frames:
            assert selector.select(10)
            frames = reader.read(budget=1_000_000)
            reads += 1
    writer.join()
    assert len(frames[0]) == 3_000_000
    assert 3 <= reads <= 200  # each wake-up read data: no spinning on a half-read frame


def test_frame_header_for_large_sizes_round_trips(
    pipe: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pipe
    theirs.sendall(b"\xff\xff\xff\xff" + (3).to_bytes(8, "big") + b"abc" + frame(b"d"))
    assert FrameReader(ours).read() == [b"abc", b"d"]


def test_reader_sees_the_end_of_the_pipe(pipe: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pipe
    theirs.sendall(frame(b"last"))
    theirs.shutdown(socket.SHUT_WR)
    reader = FrameReader(ours)
    assert reader.read() == [b"last"]
    assert not reader.is_open


def test_reports_carry_the_instant_the_pool_gives_them() -> None:
    assert decode_report(marshal.dumps(("S", "u", 42)), 5.0) == JobStarted("u", 42, 5.0)
    assert decode_report(marshal.dumps(("M", "u", "hi")), 6.0) == JobMessage("u", "hi", 6.0)
    done = decode_report(marshal.dumps(("F", "u", "FAILED", None, "E", "m", "tb", 2.0)), 7.0)
    assert isinstance(done, JobFinished)
    assert (done.state, done.at, done.retry_delay_s) == (JobState.FAILED, 7.0, 2.0)
    assert done.error is not None and done.error.traceback == "tb"


def test_start_guard_doubles_the_delay_up_to_its_cap_and_resets_once_a_worker_takes_a_job() -> None:
    guard = StartGuard(first_delay_s=0.1, max_delay_s=30)
    assert guard.may_start(0.0, starting=5)
    delays = [guard.failed(0.0) for _ in range(12)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 30
    assert not guard.may_start(29.9, starting=0)
    assert guard.may_start(30.0, starting=0)
    assert not guard.may_start(30.0, starting=1)  # one probe at a time while failing
    assert guard.succeeded() == 12
    assert guard.may_start(0.0, starting=3)


def test_launches_inside_without_main_leave_the_main_module_out() -> None:
    main_keys = {"init_main_from_name", "init_main_from_path"}
    outside = set(spawn.get_preparation_data("probe"))
    seen_by_other_thread: set[str] = set()
    inside_entered, other_done = threading.Event(), threading.Event()

    def other() -> None:
        inside_entered.wait(10)
        seen_by_other_thread.update(spawn.get_preparation_data("other"))
        other_done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with without_main():
        inside = set(spawn.get_preparation_data("probe"))
        inside_entered.set()
        other_done.wait(10)
    thread.join()
    assert not inside & main_keys
    assert {"sys_path", "dir"} <= inside
    assert seen_by_other_thread == outside  # another thread's launches are unchanged
    assert set(spawn.get_preparation_data("probe")) == outside
