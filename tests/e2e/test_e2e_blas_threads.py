"""The `digest` command starts numpy's BLAS with one thread (its products are small and its
workers forked), unless the user chose a number of threads."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = (
    "import contextlib, threadpoolctl\n"
    "from digest.cli import main\n"
    "with contextlib.suppress(SystemExit):\n"
    "    main(['--help'])\n"
    "import numpy\n"
    "blas = [p for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas']\n"
    "print(sorted({p['num_threads'] for p in blas}))\n"
)


def blas_threads(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_command_starts_blas_with_one_thread() -> None:
    assert blas_threads(None) == "[1]"


def test_a_number_of_threads_the_user_set_is_kept() -> None:
    assert blas_threads("2") == "[2]"
