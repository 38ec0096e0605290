"""Peak memory of a benchmark's processes while it runs: proportional set size (PSS), summed
per group (this process, its forked workers, the sink) and over all of them.

Resident memory (RSS) summed over processes over-counts: a forked worker shares the pages
it inherited and did not write, and each process's RSS counts them in full. PSS divides
every shared page among the processes that map it, so the PSS of all the processes adds up
to the memory they really hold. Linux gives it in /proc/PID/smaps_rollup; it is read every
`interval` seconds by a thread, whose own CPU (the kernel walks the page tables for each
read) is measured so a caller can take it out of this process's figures.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from deliver import child_pids


def pss_mb(pid: int | str = "self") -> float:
    """The process's PSS in MB (0 when it is gone, or the kernel has no smaps_rollup)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return 0.0


@dataclass
class PeakPss:
    """The highest PSS each group reached, and the highest total at any one sample."""

    main: float = 0.0
    workers: float = 0.0
    sink: float = 0.0
    total: float = 0.0
    samples: int = 0
    cpu: float = 0.0  # the sampling thread's CPU seconds

    def line(self) -> str:
        return (
            f"peak PSS: this process {self.main:.0f} MB, compose workers together "
            f"{self.workers:.0f} MB, sink {self.sink:.0f} MB; all at once {self.total:.0f} MB "
            f"({self.samples} samples)"
        )


@dataclass
class PssSampler:
    """`start()`, then `stop()` -> PeakPss; `sink_pid` is told apart from the workers."""

    sink_pid: int
    interval: float = 1.0
    peak: PeakPss = field(default_factory=PeakPss)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)
        self._thread.start()

    def stop(self) -> PeakPss:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.peak

    def _sample_until_stopped(self) -> None:
        started = time.thread_time()
        while not self._stop.wait(self.interval):
            self.sample()
        self.peak.cpu = time.thread_time() - started

    def sample(self) -> None:
        main = pss_mb()
        children = [pid for pid in child_pids() if pid != self.sink_pid]
        workers = sum(pss_mb(pid) for pid in children)
        sink = pss_mb(self.sink_pid)
        peak = self.peak
        peak.main, peak.workers = max(peak.main, main), max(peak.workers, workers)
        peak.sink, peak.total = max(peak.sink, sink), max(peak.total, main + workers + sink)
        peak.samples += 1
