"""Make the next item while the caller uses this one: in a forked process, else a thread.

A long job that reads and checks its input (an import reads, validates and
scores a chunk of rows) and writes it (the database works on the previous
chunk) can do both at once. In a thread the two share one interpreter lock:
the Python work of both runs one at a time, and the writer waits for the
lock each time the database answers. A forked process has its own
interpreter and runs on the second core; what it makes is pickled to the
caller through a pipe. At most one item waits in the pipe and one is being
made, so memory stays flat however long the input.

The producer should need nothing but memory and files. The child inherits
the parent's database connections: it forgets them without closing them
(a query from it would open a session of its own instead of writing into
the parent's), and leaves with ``os._exit``, closing nothing. If the caller
dies, the child's next write to the pipe fails and it ends too. Where fork
is not available, or the system refuses a process, the same producer runs
in a thread.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ProducerFailed(Exception):
    """The producer raised something that cannot cross to the caller as it was."""


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


def _portable(error: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return ProducerFailed(repr(error))
    return error


def _produce_into(produce: Callable[[], T], last: Callable[[T], bool], sender) -> None:
    """The child: make items and send them until the last one (or the caller stops reading)."""
    try:
        while True:
            item = produce()
            sender.send_bytes(pickle.dumps(item, pickle.HIGHEST_PROTOCOL))
            if last(item):
                return
            del item  # sent: not kept alive while the next one is made
    except BrokenPipeError:
        return  # the caller stopped reading
    except BaseException as error:
        sender.send_bytes(pickle.dumps(_Failure(_portable(error)), pickle.HIGHEST_PROTOCOL))
    finally:
        sender.close()


class _InProcess(Generic[T]):
    """A child made with a plain ``os.fork``: ``multiprocessing`` refuses to start one from
    a process it takes for a daemon, which a Celery prefork worker is."""

    def __init__(self, produce: Callable[[], T], last: Callable[[T], bool]):
        readable, writable = os.pipe()
        # A collection writes to every object it scans: in either process it
        # would copy the heap the two share page by page (measured: the pair
        # held 30 MB more by the end of an import). Frozen, the objects of
        # before the fork are left out of collections until the child ends.
        gc.freeze()
        try:
            self._pid = os.fork()
        except OSError:
            gc.unfreeze()
            os.close(readable)
            os.close(writable)
            raise
        if self._pid == 0:  # the child
            code = 1
            try:
                os.close(readable)
                _forget_database_connections()
                _produce_into(produce, last, Connection(writable, readable=False))
                code = 0
            finally:
                os._exit(code)
        os.close(writable)
        self._receiver = Connection(readable, writable=False)
        self._exit_code: int | None = None

    def take(self) -> T:
        try:
            payload = self._receiver.recv_bytes()
        except EOFError:
            raise ProducerFailed(
                f"the reading process ended without an answer (exit code {self._reap()})"
            ) from None
        item = pickle.loads(payload)
        if isinstance(item, _Failure):
            raise item.error
        return item

    def _reap(self) -> int:
        if self._exit_code is None:
            _pid, status = os.waitpid(self._pid, 0)
            self._exit_code = os.waitstatus_to_exitcode(status)
        return self._exit_code

    def close(self) -> None:
        self._receiver.close()
        if self._exit_code is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)  # it holds nothing but the input file
            self._reap()
        gc.unfreeze()


def _forget_database_connections() -> None:
    """In the child: drop (never close) the parent's database connections.

    Their sockets are the parent's sessions; a query written to one from
    here would garble the parent's conversation with the server. Forgotten,
    a query the producer should not make opens a session of its own.
    """
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.connection = None


class _InThread(Generic[T]):
    def __init__(self, produce: Callable[[], T], last: Callable[[T], bool]):
        self._produce, self._last = produce, last
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._next: Future[T] | None = self._pool.submit(produce)

    def take(self) -> T:
        if self._next is None:
            raise ProducerFailed("nothing comes after the last item")
        item = self._next.result()
        self._next = None if self._last(item) else self._pool.submit(self._produce)
        return item

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def ahead(
    produce: Callable[[], T], *, last: Callable[[T], bool], fork: bool = True
) -> Iterator[Callable[[], T]]:
    """``take()`` returns the next item of ``produce``; the one after is made meanwhile.

    ``last(item)`` says an item is the final one: nothing is made after it.
    The caller may stop taking at any point; leaving the block stops the
    producer. An exception of the producer is raised by the ``take()`` that
    would have returned its item.
    """
    worker: _InProcess[T] | _InThread[T]
    if fork and hasattr(os, "fork"):
        try:
            worker = _InProcess(produce, last)
        except OSError as error:  # out of processes or memory
            logger.warning("reading ahead in a thread: no process (%s)", error)
            worker = _InThread(produce, last)
    else:
        worker = _InThread(produce, last)
    try:
        yield worker.take
    finally:
        worker.close()
