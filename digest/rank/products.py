"""The similarity products of one subscriber: the day's paper matrix times a vector or a few.

Through numpy's own loops (einsum), not its threaded BLAS: one product per subscriber is
small (5,000 x 384 is 2 million multiply-adds, about 1 ms in one thread), and between two
products the ranking runs Python, so BLAS's worker threads go to sleep and must be woken for
each one. On a busy 2-core machine that costs 12-14 ms per product against 1 ms here
(bench/rank.py --semantic; a run's compose workers already use every core).

The product with several vectors (the papers a subscriber voted on) is the exception: there
numpy's einsum is 2-3 times slower than BLAS, so it goes through BLAS held to one thread for
the call (threadpoolctl, part of the semantic extra like the vectors themselves): 20 voted
papers against 5,000 took 22 ms through einsum and 10 ms so, on a busy 2-core machine.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray


def similarities(matrix: NDArray[Any], vector: NDArray[Any]) -> NDArray[Any]:
    """matrix @ vector: one value per row."""
    product: NDArray[Any] = np.einsum("ij,j->i", matrix, vector)
    return product


def similarities_to_each(matrix: NDArray[Any], rows: NDArray[Any]) -> NDArray[Any]:
    """matrix @ rows.T: one column per row of `rows`."""
    with _blas().limit(limits=1, user_api="blas"):
        product: NDArray[Any] = matrix @ rows.T
    return product


@cache
def _blas() -> Any:
    """The process's BLAS libraries, found once (finding them takes milliseconds)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
