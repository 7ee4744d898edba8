"""Reading ahead in a forked process (or a thread): order, errors, stopping early."""

from __future__ import annotations

import csv
import itertools
import os

import pytest

from leadflow.lib.ahead import ProducerFailed, ahead


def counter(limit: int):
    numbers = itertools.count()

    def produce() -> tuple[int, int]:
        return next(numbers), os.getpid()

    return produce, (lambda item: item[0] >= limit)


def children() -> list[str]:
    found = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as handle:
            found += handle.read().split()
    return found


@pytest.mark.parametrize("fork", [True, False])
def test_items_arrive_in_order_until_the_last(fork):
    produce, last = counter(3)
    with ahead(produce, last=last, fork=fork) as take:
        assert [take()[0] for _ in range(4)] == [0, 1, 2, 3]


def test_the_producer_runs_in_another_process():
    produce, last = counter(1)
    with ahead(produce, last=last) as take:
        assert take()[1] != os.getpid()


def test_without_fork_the_producer_runs_in_this_process():
    produce, last = counter(1)
    with ahead(produce, last=last, fork=False) as take:
        assert take()[1] == os.getpid()


@pytest.mark.parametrize("fork", [True, False])
def test_an_error_of_the_producer_is_raised_by_take(fork):
    def produce():
        raise csv.Error("unexpected end of data")

    with (
        ahead(produce, last=lambda _item: True, fork=fork) as take,
        pytest.raises(csv.Error, match="unexpected end of data"),
    ):
        take()


def test_an_error_that_cannot_be_pickled_arrives_as_producer_failed():
    class Local(Exception):  # a local class cannot be pickled
        pass

    def produce():
        raise Local("no")

    with (
        ahead(produce, last=lambda _item: True) as take,
        pytest.raises(ProducerFailed, match="Local"),
    ):
        take()


def test_a_producer_that_dies_is_reported_not_waited_for():
    def produce():
        os._exit(3)

    with (
        ahead(produce, last=lambda _item: True) as take,
        pytest.raises(ProducerFailed, match="exit code 3"),
    ):
        take()


def test_leaving_early_stops_the_producer():
    produce, last = counter(10**9)
    before = children()
    with ahead(produce, last=last) as take:
        take()
        assert len(children()) == len(before) + 1
    assert children() == before


def test_a_celery_prefork_worker_still_reads_ahead_in_a_process(monkeypatch):
    # Celery's pool children look like daemons to multiprocessing, which then
    # refuses to start a process; a plain fork is not refused.
    import multiprocessing

    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    produce, last = counter(1)
    with ahead(produce, last=last) as take:
        assert take()[1] != os.getpid()


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_reading_process_never_talks_on_the_callers_database_session():
    from django.db import connection

    def backend() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    ours = backend()
    with ahead(backend, last=lambda _item: True) as take:
        assert take() != ours
    assert backend() == ours
