"""The benchmarks' SMTP sinks: real SMTP servers on 127.0.0.1, each in its own process, that
count the messages and bytes they accept and the CPU they spend doing it.

    Sink("aiosmtpd")   aiosmtpd, a Python server that reads a message line by line
    Sink("lean")       this module's server: a selectors loop that finds the end of DATA in
                       bulk reads, standing for a production MTA, which spends far less per
                       message than a line-by-line Python server

    python bench/sink.py [--port 2525]   # the lean sink in the foreground, until Ctrl-C

The lean server speaks what an SMTP client sending digests needs: EHLO/HELO, MAIL FROM, RCPT
TO, DATA (the end, CRLF.CRLF, is looked for in each read with one `find`, never line by
line, and the dots doubled at line starts are undone with one `replace`), RSET, NOOP, QUIT.
It advertises PIPELINING (commands are taken from the buffer one after the other, however
many a read brought), 8BITMIME (bytes pass as they are) and SIZE (a MAIL FROM declaring more,
or a message longer, is refused with 552). A command out of sequence gets 503, a malformed
one 501, an unknown one 500, an unknown MAIL parameter 555. Nothing is kept: a message is
counted (its bytes after un-stuffing, as aiosmtpd counts them) and dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import re
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

KINDS = ("aiosmtpd", "lean")
HOSTNAME = "sink.localhost"
MAX_SIZE = 32 * 1024 * 1024  # what SIZE advertises: larger messages are refused
MAX_LINE = 2048  # a command line longer than this (RFC 5321's is 512) is refused
MAX_RECIPIENTS = 100
READ_BYTES = 256 * 1024
END_OF_DATA = b"\r\n.\r\n"

_PATH = re.compile(r"\s*<([^<>]*)>\s*(.*)", re.DOTALL)


@dataclass
class Counts:
    messages: int = 0
    bytes: int = 0


@dataclass
class Session:
    """One connection's SMTP dialogue, without the socket: `feed` takes what was read and
    returns the replies to write. `closing` is set once QUIT was answered."""

    counts: Counts
    greeted: bool = False
    extended: bool = False  # EHLO, not HELO: MAIL parameters allowed
    mail_from: str | None = None
    recipients: list[str] = field(default_factory=list)
    in_data: bool = False
    closing: bool = False
    _buffer: bytearray = field(default_factory=bytearray)
    _scanned: int = 0  # in DATA: where the next search for the end may start
    _too_big: bool = False  # in DATA: over MAX_SIZE, the bytes are being thrown away

    def greeting(self) -> bytes:
        return f"220 {HOSTNAME} lean benchmark sink ESMTP\r\n".encode()

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        replies = bytearray()
        while self._buffer and not self.closing:
            if self.in_data:
                if not self._take_data(replies):
                    break
            elif not self._take_command(replies):
                break
        return bytes(replies)

    # -- DATA ---------------------------------------------------------------------------

    def _take_data(self, replies: bytearray) -> bool:
        """The message if its end is in the buffer (then True), else keep waiting. The buffer
        starts with the CRLF that ended the DATA line (put back when DATA was answered), so
        the end of an empty message is found like any other."""
        buffer = self._buffer
        found = buffer.find(END_OF_DATA, max(0, self._scanned - len(END_OF_DATA) + 1))
        if found < 0:
            self._scanned = len(buffer)
            if len(buffer) > MAX_SIZE + len(END_OF_DATA):
                # Keep only what could begin the end marker: memory stays bounded.
                del buffer[: len(buffer) - len(END_OF_DATA)]
                self._scanned = len(END_OF_DATA)
                self._too_big = True
            return False
        end = found + 2  # the message keeps its last line's CRLF
        # Its length once the dots doubled at line starts are undone, without a copy.
        size = end - 2 - buffer.count(b"\r\n..", 0, end)
        del buffer[: found + len(END_OF_DATA)]
        self.in_data, self._scanned = False, 0
        too_big, self._too_big = self._too_big, False
        if too_big or size > MAX_SIZE:
            replies += b"552 5.3.4 message exceeds the fixed maximum size\r\n"
        else:
            self.counts.messages += 1
            self.counts.bytes += size
            replies += b"250 2.0.0 OK: counted\r\n"
        self._reset()
        return True

    # -- commands -----------------------------------------------------------------------

    def _take_command(self, replies: bytearray) -> bool:
        """One command line if the buffer holds a whole one (then True)."""
        buffer = self._buffer
        newline = buffer.find(b"\r\n")
        if newline < 0:
            if len(buffer) > MAX_LINE:
                buffer.clear()
                replies += b"500 5.5.6 line too long\r\n"
            return False
        line = bytes(buffer[:newline])
        del buffer[: newline + 2]
        if len(line) > MAX_LINE:
            replies += b"500 5.5.6 line too long\r\n"
            return True
        verb, _, rest = line.decode("utf-8", "replace").partition(" ")
        handler = self._handlers.get(verb.upper())
        reply = handler(rest.strip()) if handler else "500 5.5.2 command not recognized"
        replies += reply.encode() + b"\r\n"
        return True

    def __post_init__(self) -> None:
        self._handlers: dict[str, Callable[[str], str]] = {
            "EHLO": self._ehlo,
            "HELO": self._helo,
            "MAIL": self._mail,
            "RCPT": self._rcpt,
            "DATA": self._data,
            "RSET": self._rset,
            "NOOP": lambda _: "250 2.0.0 OK",
            "QUIT": self._quit,
        }

    def _reset(self) -> None:
        self.mail_from, self.recipients = None, []

    def _ehlo(self, name: str) -> str:
        if not name:
            return "501 5.5.4 EHLO needs a domain"
        self.greeted, self.extended = True, True
        self._reset()
        return f"250-{HOSTNAME}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE {MAX_SIZE}"

    def _helo(self, name: str) -> str:
        if not name:
            return "501 5.5.4 HELO needs a domain"
        self.greeted, self.extended = True, False
        self._reset()
        return f"250 {HOSTNAME}"

    def _mail(self, rest: str) -> str:
        if not self.greeted:
            return "503 5.5.1 say EHLO or HELO first"
        if self.mail_from is not None:
            return "503 5.5.1 MAIL already given: RSET first"
        if not rest.upper().startswith("FROM:"):
            return "501 5.5.4 syntax: MAIL FROM:<address>"
        path = _PATH.fullmatch(rest[5:])
        if path is None:
            return "501 5.5.4 syntax: MAIL FROM:<address>"
        for parameter in path.group(2).split():
            key, _, value = parameter.partition("=")
            key = key.upper()
            if not self.extended:
                return "555 5.5.4 MAIL parameters need EHLO"
            if key == "BODY" and value.upper() in ("7BIT", "8BITMIME"):
                continue
            if key == "SIZE" and value.isdigit():
                if int(value) > MAX_SIZE:
                    return "552 5.3.4 message size exceeds the fixed maximum"
                continue
            return f"555 5.5.4 parameter not recognized: {parameter}"
        self.mail_from = path.group(1)
        return "250 2.1.0 OK"

    def _rcpt(self, rest: str) -> str:
        if self.mail_from is None:
            return "503 5.5.1 need MAIL before RCPT"
        if not rest.upper().startswith("TO:"):
            return "501 5.5.4 syntax: RCPT TO:<address>"
        path = _PATH.fullmatch(rest[3:])
        if path is None or not path.group(1) or path.group(2):
            return "501 5.5.4 syntax: RCPT TO:<address>"
        if len(self.recipients) >= MAX_RECIPIENTS:
            return "452 4.5.3 too many recipients"
        self.recipients.append(path.group(1))
        return "250 2.1.5 OK"

    def _data(self, rest: str) -> str:
        if rest:
            return "501 5.5.4 DATA takes no argument"
        if not self.recipients:
            return "503 5.5.1 need RCPT before DATA"
        self.in_data = True
        self._buffer[:0] = b"\r\n"  # the DATA line's own end: see _take_data
        return "354 end data with <CR><LF>.<CR><LF>"

    def _rset(self, rest: str) -> str:
        self._reset()
        return "250 2.0.0 OK"

    def _quit(self, rest: str) -> str:
        self.closing = True
        return f"221 2.0.0 {HOSTNAME} closing"


@dataclass
class _Client:
    session: Session
    unsent: bytearray = field(default_factory=bytearray)


def serve_lean(listener: socket.socket, counts: Counts, control: Connection | None = None) -> None:
    """Serve SMTP on `listener` until `control` becomes readable (or forever), counting
    into `counts`: every connection in one selectors loop, non-blocking."""
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    if control is not None:
        selector.register(control.fileno(), selectors.EVENT_READ, "control")
    clients: dict[socket.socket, _Client] = {}

    def drop(sock: socket.socket) -> None:
        selector.unregister(sock)
        clients.pop(sock, None)
        sock.close()

    def write(sock: socket.socket, client: _Client) -> None:
        try:
            sent = sock.send(client.unsent)
        except BlockingIOError:
            sent = 0
        except OSError:
            drop(sock)
            return
        del client.unsent[:sent]
        if client.unsent:
            selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
        elif client.session.closing:
            drop(sock)
        else:
            selector.modify(sock, selectors.EVENT_READ, client)

    running = True
    while running:
        for key, events in selector.select():
            if key.data == "control":
                running = False
            elif key.data is None:
                try:
                    accepted, _ = listener.accept()
                except BlockingIOError:
                    continue
                accepted.setblocking(False)
                client = _Client(Session(counts))
                clients[accepted] = client
                selector.register(accepted, selectors.EVENT_READ, client)
                client.unsent += client.session.greeting()
                write(accepted, client)
            else:
                sock, client = key.fileobj, key.data
                assert isinstance(sock, socket.socket) and isinstance(client, _Client)
                if events & selectors.EVENT_READ:
                    try:
                        data = sock.recv(READ_BYTES)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        drop(sock)
                        continue
                    client.unsent += client.session.feed(data)
                if client.unsent or client.session.closing:
                    write(sock, client)
    for sock in list(clients):
        drop(sock)
    selector.close()


def _run_lean(ready: Connection, stop: Connection) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    ready.send(listener.getsockname()[1])
    cpu0 = time.process_time()
    counts = Counts()
    serve_lean(listener, counts, stop)
    stop.recv()
    ready.send((counts.messages, counts.bytes, time.process_time() - cpu0))


def _run_aiosmtpd(ready: Connection, stop: Connection, port: int) -> None:
    from aiosmtpd.controller import Controller

    counts = Counts()

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            counts.messages += 1
            counts.bytes += len(envelope.content)
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.send(port)
    cpu0 = time.process_time()
    stop.recv()
    cpu = time.process_time() - cpu0
    controller.stop()
    ready.send((counts.messages, counts.bytes, cpu))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Sink:
    """A sink of `kind` in its own process: `port` to send to, `pid`, and `finish()` ->
    (messages, bytes, the sink's CPU seconds while it served)."""

    def __init__(self, kind: str = "aiosmtpd") -> None:
        if kind not in KINDS:
            raise ValueError(f"sink must be one of {', '.join(KINDS)}, not {kind!r}")
        self.kind = kind
        self._results, ready = mp.Pipe(duplex=False)
        stop, self._stop = mp.Pipe(duplex=False)
        if kind == "lean":
            target: Callable[..., None] = _run_lean
            args: tuple[Any, ...] = (ready, stop)
        else:
            target, args = _run_aiosmtpd, (ready, stop, free_port())
        self._process = mp.Process(target=target, args=args, daemon=True)
        self._process.start()
        if not self._results.poll(30):
            raise RuntimeError(f"the {kind} sink did not start within 30 s")
        self.port: int = self._results.recv()
        assert self._process.pid is not None
        self.pid: int = self._process.pid

    @property
    def label(self) -> str:
        return f"{self.kind} sink"

    def finish(self) -> tuple[int, int, float]:
        self._stop.send("stop")
        counted: tuple[int, int, float] = self._results.recv()
        self._process.join(10)
        return counted


def main() -> int:
    parser = argparse.ArgumentParser(description="the lean SMTP sink, in the foreground")
    parser.add_argument("--port", type=int, default=2525)
    args = parser.parse_args()
    listener = socket.create_server(("127.0.0.1", args.port))
    print(f"lean sink on 127.0.0.1:{args.port}; Ctrl-C stops it")
    cpu0 = time.process_time()
    counts = Counts()
    with contextlib.suppress(KeyboardInterrupt):
        serve_lean(listener, counts)
    cpu = time.process_time() - cpu0
    print(f"\n{counts.messages} messages, {counts.bytes} bytes; CPU {cpu:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
