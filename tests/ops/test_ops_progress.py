"""The progress line an operator sees while a run sends: on a terminal only."""

from __future__ import annotations

import io

from digest.util.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_only_on_a_terminal() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress("sending", 2, stream=stream)
        progress.step("a@example.org")
        progress.step("b@example.org")
        progress.finish()
    assert "\rsending 1/2 a@example.org" in terminal.getvalue()
    assert "\rsending 2/2 b@example.org" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r")
    assert pipe.getvalue() == ""
