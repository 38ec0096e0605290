"""fork_map: every item comes back exactly once, as a result or as a failure, on any number
of forked workers; a dying worker or an early stop leaves no item unaccounted and no child
behind."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.util.forkmap import Done, Failed, fork_map

# Built before forking and only read by the children: what fork_map exists to share.
TABLE = {n: n * n for n in range(200)}


def square(n: int) -> int:
    return TABLE[n]


def fussy(n: int) -> int:
    if n % 7 == 3:
        raise ValueError(f"no {n}")
    return n


def children_of_this_process() -> list[int]:
    mine = os.getpid()
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone while we looked
        if int(fields[1]) == mine:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_every_item_comes_back_once_with_its_result(workers: int) -> None:
    items = list(range(50))

    outcomes = list(fork_map(square, items, workers))

    assert sorted(o.position for o in outcomes) == items
    assert all(isinstance(o, Done) and o.result == items[o.position] ** 2 for o in outcomes)
    assert children_of_this_process() == []


def test_in_process_keeps_the_order() -> None:
    assert [o.position for o in fork_map(square, list(range(10)), 1)] == list(range(10))


@pytest.mark.parametrize("workers", [1, 3])
def test_an_item_that_raises_fails_alone(workers: int) -> None:
    outcomes = {o.position: o for o in fork_map(fussy, list(range(30)), workers)}

    assert len(outcomes) == 30
    failed = {p for p, o in outcomes.items() if isinstance(o, Failed)}
    assert failed == {3, 10, 17, 24}
    failure = outcomes[10]
    assert isinstance(failure, Failed) and failure.error == "ValueError: no 10"


def test_a_worker_that_dies_fails_its_unfinished_items_and_the_others_finish() -> None:
    parent = os.getpid()

    def dies_at_five(n: int) -> int:
        if n == 5 and os.getpid() != parent:
            os._exit(3)  # as if killed: no result, no cleanup
        return n

    # two workers: one takes the even items, the other the odd ones (and dies at 5)
    outcomes = {o.position: o for o in fork_map(dies_at_five, list(range(12)), 2)}

    assert sorted(outcomes) == list(range(12))
    assert all(isinstance(outcomes[p], Done) for p in range(0, 12, 2))
    assert all(isinstance(outcomes[p], Done) for p in (1, 3))
    for position in (5, 7, 9, 11):
        failure = outcomes[position]
        assert isinstance(failure, Failed) and "worker exited (status 3)" in failure.error
    assert children_of_this_process() == []


def test_a_result_that_cannot_be_pickled_is_that_items_failure() -> None:
    outcomes = {o.position: o for o in fork_map(lambda n: lambda: n, [1, 2], 2)}

    assert sorted(outcomes) == [0, 1]
    assert all(isinstance(o, Failed) and "not picklable" in o.error for o in outcomes.values())


def _render_or_refuse(n: int) -> int:
    if n == 1:
        raise ConfigError("profile says nonsense", path="p.toml", line=3)
    if n == 2:
        return {"a": 1}["b"]  # a bug
    return n


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bug_comes_back_with_its_traceback_and_a_digest_error_as_expected(workers: int) -> None:
    outcomes = {o.position: o for o in fork_map(_render_or_refuse, [0, 1, 2, 3], workers)}

    assert sorted(outcomes) == [0, 1, 2, 3]
    refused, bug = outcomes[1], outcomes[2]
    assert isinstance(refused, Failed) and refused.expected
    assert refused.error == "p.toml:3: profile says nonsense" and refused.traceback == ""
    assert isinstance(bug, Failed) and not bug.expected
    assert bug.error == "KeyError: 'b'"
    assert "_render_or_refuse" in bug.traceback and "KeyError" in bug.traceback
    assert isinstance(outcomes[3], Done) and outcomes[3].result == 3


def test_stopping_early_leaves_no_child_behind() -> None:
    never, held_open = os.pipe()  # nothing is ever written: a read waits until it is closed

    def stuck_after_the_first(n: int) -> int:
        if n > 0:
            with contextlib.suppress(OSError):  # this worker's copy, closed on its first wait
                os.close(held_open)
            os.read(never, 1)  # busy with an item when the caller stops
        return n

    try:
        results = fork_map(stuck_after_the_first, list(range(400)), 2)
        first = next(results)
        results.close()  # the caller stops: e.g. the run was asked to stop

        assert isinstance(first, Done) and first.position == 0
        assert children_of_this_process() == []  # the busy workers were ended, not waited for
    finally:
        os.close(held_open)  # a worker left behind by a broken fork_map ends here
        os.close(never)


# Results from empty to several times the parent's read area, in an order that leaves frames
# split across reads, across the end of the area and bigger than it.
SIZES = [0, 1, 3, 70_000, 1_048_570, 5, 3_000_000, 95_000, 2, 1_048_576, 400_000, 64_000]


def sized(n: int) -> bytes:
    return bytes([n % 251]) * SIZES[n] + n.to_bytes(4, "big")


@pytest.mark.parametrize("workers", [2, 3])
def test_results_of_any_size_come_back_byte_for_byte(workers: int) -> None:
    items = list(range(len(SIZES))) * 3

    outcomes = list(fork_map(lambda i: sized(items[i]), list(range(len(items))), workers))

    assert sorted(o.position for o in outcomes) == list(range(len(items)))
    for outcome in outcomes:
        assert isinstance(outcome, Done)
        assert outcome.result == sized(items[outcome.position])
    assert children_of_this_process() == []
