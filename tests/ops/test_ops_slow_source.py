"""A source that trickles its answer a byte at a time, as a real `digest run` meets it: the
run gives up on it at the `[fetch] deadline` and delivers the rest; SIGTERM or Ctrl-C while
it downloads stops the run within moments, saying what it stopped.

The server is real (127.0.0.1) and signals when the request arrives; the bounds on how long
a child may take are hang guards, not timing claims."""

from __future__ import annotations

import datetime as dt
import re
import signal
import threading

import pytest
from support.children import DATA, run_digest, serve_today, start_digest
from support.http_server import Reply, Seen
from support.installation import (
    ALICE,
    ALICE_WORDS,
    ARXIV_PATH,
    HF_PATH,
    Installation,
    arxiv_ids,
)
from support.stores import opened_store

from digest.cli import main

HANG_GUARD = 10.0  # seconds for a stopped child to exit; it needs well under one
TRICKLE = 0.5  # seconds between two bytes: every read succeeds, the response never ends
SLOW_BODY = b'[{"paper": {"id": "2401.00001"}}' + b" " * 4000 + b"]"


def set_fetch(inst: Installation, line: str) -> None:
    text = inst.config.read_text(encoding="utf-8")
    inst.config.write_text(text.replace("max_attempts = 1\n", f"max_attempts = 1\n{line}\n"))


def trickle_huggingface(inst: Installation) -> tuple[threading.Event, list[str]]:
    """Both Hugging Face days trickle; the event is set when the first request arrives."""
    arrived = threading.Event()
    paths: list[str] = []

    def respond(seen: Seen) -> Reply:
        paths.append(seen.path)
        arrived.set()
        return Reply(200, SLOW_BODY, [("Content-Type", "application/json")], trickle=TRICKLE)

    today = dt.datetime.now(dt.UTC).date()
    for offset in (0, 1):
        inst.http.route(HF_PATH.format(date=today - dt.timedelta(days=offset)), respond)
    return arrived, paths


def test_a_trickling_source_fails_at_its_deadline_and_the_others_are_delivered(
    ops_installation: Installation,
) -> None:
    inst = ops_installation
    set_fetch(inst, "deadline = 2")
    inst.subscribe(ALICE, ALICE_WORDS)
    serve_today(inst)
    trickle_huggingface(inst)

    done = run_digest(inst.config, "run", timeout=60)

    assert done.returncode == 1, done.stderr  # a source failed: the run had problems
    [line] = [x for x in done.stdout.splitlines() if "source huggingface" in x]
    assert re.fullmatch(
        r"  source huggingface FAILED: http://127\.0\.0\.1:\d+/api/daily_papers\?date=[\d-]+: "
        r"gave up after 2 s: the response was still arriving \(\d+ bytes\)",
        line,
    ), line
    assert "source arxiv ok" in done.stdout
    [mail] = inst.smtp.handler.to(ALICE)  # the other source's papers still went out
    assert arxiv_ids(mail)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_a_slow_download_stops_the_run_and_says_what_it_stopped(
    ops_installation: Installation, sig: signal.Signals
) -> None:
    inst = ops_installation  # no deadline set: the default (120 s) is far away
    inst.subscribe(ALICE, ALICE_WORDS)
    serve_today(inst)
    arrived, paths = trickle_huggingface(inst)

    child = start_digest(inst.config, "run")
    try:
        assert arrived.wait(30), "the run never asked for the slow listing"
        child.send_signal(sig)
        out, err = child.communicate(timeout=HANG_GUARD)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()

    assert child.returncode == 130, out + err  # the usual status of a run stopped on request
    url = inst.http.url(paths[0])
    # Said at once, and true: the download is what is stopped; no message was in flight.
    assert f"{sig.name}: stopping: the download of {url} is stopped (" in err
    assert "finishing the message" not in err
    assert "source huggingface: stopped" in err
    assert (
        f"  source huggingface 0 of 2 listings read; {url}: stopped on request while the "
        "response was arriving (" in out
    )
    assert "  source arxiv http://127.0.0.1:" in out and "not fetched: stopped on request" in out
    assert inst.smtp.handler.received == []

    # A stopped fetch is no failure of the source: nothing is recorded against it, and the
    # next run reads it as usual.
    with opened_store(inst.database) as store:
        assert store.source_record("huggingface") is None
        assert store.source_record("arxiv") is None
    serve_today(inst)
    assert main(["--config", str(inst.config), "run"]) == 0
    [mail] = inst.smtp.handler.to(ALICE)
    assert arxiv_ids(mail)


def test_retried_answers_are_logged_and_counted_in_the_report(
    ops_installation: Installation,
) -> None:
    inst = ops_installation
    text = inst.config.read_text(encoding="utf-8")
    inst.config.write_text(text.replace("max_attempts = 1\n", "max_attempts = 3\n"))
    inst.subscribe(ALICE, ALICE_WORDS)
    serve_today(inst)
    now = [("Retry-After", "0")]
    listing = (DATA / "arxiv_small.xml").read_bytes()
    inst.http.script(
        ARXIV_PATH,
        Reply(503, b"busy", now),
        Reply(429, b"slow down", now),
        Reply(200, listing, [("Content-Type", "application/rss+xml")]),
    )

    done = run_digest(inst.config, "run", timeout=60)

    assert done.returncode == 0, done.stderr
    url = inst.http.url(ARXIV_PATH)
    assert (
        f"WARNING digest.fetch: {url}: HTTP 503 Service Unavailable; retrying in 0.0 s "
        "(attempt 2 of 3)" in done.stderr
    )
    assert (
        f"WARNING digest.fetch: {url}: HTTP 429 Too Many Requests; retrying in 0.0 s "
        "(attempt 3 of 3)" in done.stderr
    )
    assert "  note: source arxiv: 2 requests retried (the log says which, and why)" in done.stdout
    assert "source huggingface: " not in done.stdout.split("note:", 1)[1]  # none retried
    [mail] = inst.smtp.handler.to(ALICE)
    assert arxiv_ids(mail)
