"""A scripted SMTP server on 127.0.0.1 for the pipelining tests: it answers from a table the
test gives, and records each read as it came off the socket, so a test sees which commands
a client sent before it had any reply (RFC 2920's groups)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

# The commands of one RFC 2920 group: a pipelining server answers them only once all have
# arrived, so a client that waited for a reply between them would wait forever.
GROUP = ("MAIL", "RCPT", "DATA")

Answer = Callable[[str], str]  # command line (without CRLF) -> reply line(s) to send


@dataclass
class Script:
    pipelining: bool = True
    answer: Answer = lambda line: "250 OK"
    # What the server saw: each read's command lines, in order; the message bodies; whether
    # a read in the command phase ever held more than one line.
    reads: list[list[str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    ahead: bool = False  # a command arrived before the previous one was answered


class ScriptedSmtp:
    """Serves connections one after the other until closed (`port`, `close()`)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._listener.close()
        self._thread.join(10)

    def __enter__(self) -> ScriptedSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            with conn:
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        script, buffer = self.script, b""
        conn.sendall(b"220 scripted.example ESMTP\r\n")
        waiting: list[str] = []  # a group's commands read, not answered yet
        while True:
            chunk = conn.recv(1 << 16)
            if not chunk:
                return
            buffer += chunk
            lines = []
            while b"\r\n" in buffer:
                line, buffer = buffer.split(b"\r\n", 1)
                lines.append(line.decode())
            script.reads.append(lines)
            if len(lines) > 1 or (waiting and lines):
                script.ahead = True
            for line in lines:
                verb = line[:4].upper()
                if verb == "EHLO":
                    extensions = ["250-PIPELINING"] if script.pipelining else []
                    conn.sendall(self._lines(["250-scripted.example", *extensions, "250 SIZE"]))
                    continue
                if script.pipelining and verb in GROUP:
                    waiting.append(line)
                    if verb != "DATA":
                        continue
                    replies, waiting = [script.answer(w) for w in waiting], []
                else:
                    replies = [script.answer(line)]
                conn.sendall(self._lines(replies))
                if any(reply.startswith("421") for reply in replies):
                    return
                if verb == "DATA" and replies[-1].startswith("354"):
                    buffer = self._body(conn, buffer)
                    conn.sendall(self._lines([script.answer(".")]))
                if verb == "QUIT":
                    return

    def _body(self, conn: socket.socket, buffer: bytes) -> bytes:
        """Read up to the lone dot; keep the body (as sent, dots doubled) and return the rest."""
        while not (buffer.startswith(b".\r\n") or b"\r\n.\r\n" in buffer):
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            buffer += chunk
        if buffer.startswith(b".\r\n"):
            self.script.bodies.append(b"")
            return buffer[3:]
        body, rest = buffer.split(b"\r\n.\r\n", 1)
        self.script.bodies.append(body + b"\r\n")
        return rest

    @staticmethod
    def _lines(replies: list[str]) -> bytes:
        return "".join(reply + "\r\n" for reply in replies).encode()
