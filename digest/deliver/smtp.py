"""Delivery: the only code that talks SMTP or writes outgoing messages to disk.

`SmtpSender.send` returns only once the server has accepted the message for that recipient;
anything else raises DeliveryError, with `permanent=True` when retrying cannot help (a 5xx
reply). The pipeline marks papers as sent only after `send` returned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from digest.config.settings import SmtpSettings
from digest.errors import DeliveryError
from digest.util.private import private_folder

_MAX_BACKOFF_SECONDS = 300.0

if TYPE_CHECKING:
    from typing_extensions import Buffer  # typeshed's name for smtplib's message argument


class Sender(Protocol):
    """Something that delivers one finished message to one recipient, inside a `with`."""

    def send(self, sender: str, recipient: str, message: bytes) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


# A bare dot-atom address (what validate_address lets through): smtplib's quoteaddr would
# parse it with the email package only to return `<address>`, a cost per command.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def dot_stuffed(message: bytes) -> bytes:
    """The DATA payload for `message`: a dot doubled at the start of every line (RFC 5321
    4.5.2), then the line ending and the lone dot that close it. Byte for byte what smtplib
    sends for a bytes message, but with two C-level passes instead of a regex over the whole
    message, which cost about half a millisecond for a 64 kB digest."""
    stuffed = message.replace(b"\n.", b"\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


class _LeanSmtp(smtplib.SMTP):
    """smtplib with cheaper per-message steps for the common case and the very same replies,
    exceptions and bytes on the wire; anything unusual goes to smtplib's own code."""

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        wants_utf8 = any(option.lower() == "smtputf8" for option in options)
        if wants_utf8 or not _PLAIN_ADDRESS.fullmatch(sender):
            return super().mail(sender, options)
        extra = " " + " ".join(options) if options and self.does_esmtp else ""
        self.putcmd("mail", f"FROM:<{sender}>{extra}")
        return self.getreply()

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        if not _PLAIN_ADDRESS.fullmatch(recip):
            return super().rcpt(recip, options)
        extra = " " + " ".join(options) if options and self.does_esmtp else ""
        self.putcmd("rcpt", f"TO:<{recip}>{extra}")
        return self.getreply()

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        if not isinstance(msg, bytes):
            return super().data(msg)
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        self.send(dot_stuffed(msg))
        return self.getreply()

    def send_one(self, sender: str, recipient: str, message: bytes) -> None:
        """One message to one recipient, returning once the server accepted it; otherwise
        the exception smtplib's sendmail raises for that refusal. When the server advertises
        PIPELINING (RFC 2920), MAIL, RCPT and DATA go in one write and their three replies
        are read together: two round trips per message instead of four."""
        self.ehlo_or_helo_if_needed()
        plain = _PLAIN_ADDRESS.fullmatch(sender) and _PLAIN_ADDRESS.fullmatch(recipient)
        if not (plain and self.does_esmtp and self.has_extn("pipelining")):
            self.sendmail(sender, [recipient], message)  # one recipient: refused raises
            return
        size = f" size={len(message)}" if self.has_extn("size") else ""
        self.send(f"mail FROM:<{sender}>{size}\r\nrcpt TO:<{recipient}>\r\ndata\r\n")
        mail, rcpt, data = self._group_replies(3)
        if mail[0] != 250:
            self._end_group(data)
            raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
        if rcpt[0] not in (250, 251):
            self._end_group(data)
            raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
        if data[0] != 354:
            self._end_group(data)
            raise smtplib.SMTPDataError(data[0], data[1])
        self.send(dot_stuffed(message))
        code, reply = self.getreply()
        if code != 250:
            self._end_group((code, reply))
            raise smtplib.SMTPDataError(code, reply)

    def _group_replies(self, count: int) -> list[tuple[int, bytes]]:
        """The replies to `count` pipelined commands, in order. After a 421 the server is
        closing: the rest read as 421 too, without waiting for what will not come."""
        replies: list[tuple[int, bytes]] = []
        while len(replies) < count:
            replies.append(self.getreply())
            if replies[-1][0] == 421:
                replies.extend([replies[-1]] * (count - len(replies)))
        return replies

    def _end_group(self, data: tuple[int, bytes]) -> None:
        """After a refusal in a pipelined group: a DATA the server still took (354) ends with
        a lone dot, an empty message it refuses for lack of recipients (RFC 2920 3.1); then
        RSET, as smtplib does, or close on a 421."""
        if data[0] == 421:
            self.close()
            return
        if data[0] == 354:
            self.send(b".\r\n")
            if self.getreply()[0] == 421:
                self.close()
                return
        with contextlib.suppress(smtplib.SMTPServerDisconnected):  # said by the next command
            self.rset()


class _LeanSmtpSsl(_LeanSmtp, smtplib.SMTP_SSL):
    pass


class _Retry(Exception):
    """Internal: this attempt failed in a way a later attempt may not."""

    def __init__(self, reason: str, *, reconnect: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reconnect = reconnect


def _reply_text(code: int, resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp
    return f"{code} {' '.join(text.split())}"


class SmtpSender(Sender):
    """Delivers over one SMTP connection, reused for a whole batch and reopened when lost.

    Temporary failures (network errors, dropped connections, 4xx replies) are retried up to
    `max_attempts` with exponential backoff; a 5xx for one recipient raises a permanent
    DeliveryError and leaves the connection ready for the next recipient.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        local_hostname: str | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._local_hostname = local_hostname or settings.ehlo_name
        self._conn: _LeanSmtp | None = None
        self.connections_opened = 0  # for logs and tests: how often we had to (re)connect

    # -- connection --------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.ca_file:
            context.load_verify_locations(cafile=self.settings.ca_file)
        return context

    def _open(self) -> _LeanSmtp:
        s = self.settings
        conn: _LeanSmtp
        if s.security == "ssl":
            conn = _LeanSmtpSsl(
                s.host,
                s.port,
                local_hostname=self._local_hostname,
                timeout=s.timeout,
                context=self._tls_context(),
            )
        else:
            conn = _LeanSmtp(s.host, s.port, local_hostname=self._local_hostname, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if s.username is not None and s.password is not None:
                conn.login(s.username, s.password)
        except BaseException:
            self._close_quietly(conn)
            raise
        self.connections_opened += 1
        return conn

    @staticmethod
    def _close_quietly(conn: smtplib.SMTP) -> None:
        with contextlib.suppress(OSError):
            conn.close()

    def _drop(self) -> None:
        if self._conn is not None:
            self._close_quietly(self._conn)
            self._conn = None

    def close(self) -> None:
        """Say QUIT if the connection is still alive; never raises."""
        if self._conn is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self._conn.quit()
        self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- sending -----------------------------------------------------------------------

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        last_reason = "no attempt made"
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                self._attempt(sender, recipient, message)
                return
            except _Retry as retry:
                last_reason = retry.reason
                if retry.reconnect:
                    self._drop()
            if attempt < self.settings.max_attempts:
                delay = self.settings.backoff_seconds * 2 ** (attempt - 1)
                self._sleep(min(delay, _MAX_BACKOFF_SECONDS))
        tries = self.settings.max_attempts
        # Failed for this run only; what happens next is the Delivery's to say.
        raise DeliveryError(
            f"{tries} attempt{'s' if tries != 1 else ''} failed, the last: {last_reason}",
            recipient=recipient,
        )

    def _connection(self, recipient: str) -> _LeanSmtp:
        if self._conn is None:
            try:
                self._conn = self._open()
            except smtplib.SMTPAuthenticationError as err:
                # Retrying a refused login only risks locking the account.
                raise DeliveryError(
                    f"SMTP login refused by {self.settings.host}: "
                    f"{_reply_text(err.smtp_code, err.smtp_error)}",
                    recipient=recipient,
                ) from err
            except smtplib.SMTPNotSupportedError as err:
                raise DeliveryError(f"{self.settings.host}: {err}", recipient=recipient) from err
            except ssl.SSLCertVerificationError as err:
                raise DeliveryError(
                    f"TLS certificate of {self.settings.host} not trusted: {err.verify_message}",
                    recipient=recipient,
                ) from err
            except smtplib.SMTPResponseException as err:
                # A refusal while greeting/EHLO is about the server, not this recipient:
                # never permanent, but a 5xx is not worth retrying within this run.
                reply = _reply_text(err.smtp_code, err.smtp_error)
                if err.smtp_code >= 500:
                    raise DeliveryError(
                        f"{self.settings.host} refused the session: {reply}", recipient=recipient
                    ) from err
                raise _Retry(
                    f"{self.settings.host} refused the session: {reply}", reconnect=True
                ) from err
        return self._conn

    def _attempt(self, sender: str, recipient: str, message: bytes) -> None:
        """One try. Returns on acceptance; raises _Retry or a final DeliveryError."""
        try:
            conn = self._connection(recipient)
            conn.send_one(sender, recipient, message)
        except smtplib.SMTPRecipientsRefused as err:
            code, resp = err.recipients.get(recipient, (0, b"refused"))
            self._classify(code, resp, recipient, "recipient refused")
        except smtplib.SMTPSenderRefused as err:
            # MAIL FROM refusals are about our configuration, not this recipient: a 5xx is
            # final for this run but never marks the message as permanently undeliverable.
            reply = _reply_text(err.smtp_code, err.smtp_error)
            if err.smtp_code >= 500:
                raise DeliveryError(
                    f"sender {sender} refused: {reply}", recipient=recipient
                ) from err
            raise _Retry(f"sender {sender} refused: {reply}", reconnect=self._is_closed()) from err
        except smtplib.SMTPDataError as err:
            self._classify(err.smtp_code, err.smtp_error, recipient, "message refused")
        except smtplib.SMTPServerDisconnected as err:
            raise _Retry(f"server closed the connection: {err}", reconnect=True) from err
        except smtplib.SMTPResponseException as err:  # e.g. a 421 greeting or a failing RSET
            self._classify(err.smtp_code, err.smtp_error, recipient, "server error")
        except OSError as err:
            # ssl.SSLError is an OSError too; certificate failures were turned final above.
            raise _Retry(
                f"connection to {self.settings.host} failed: {err}", reconnect=True
            ) from err

    def _classify(self, code: int, resp: bytes | str, recipient: str, what: str) -> None:
        reply = _reply_text(code, resp)
        if 500 <= code < 600:
            raise DeliveryError(f"{what}: {reply}", recipient=recipient, permanent=True)
        # 421 means the server is closing this session; smtplib may already have closed it.
        raise _Retry(f"{what}: {reply}", reconnect=code == 421 or self._is_closed())

    def _is_closed(self) -> bool:
        return self._conn is None or getattr(self._conn, "sock", None) is None


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class OutboxDirSender(Sender):
    """Writes each message to `<directory>/<UTC time>-<recipient>-<random>.eml` atomically.

    Used when no SMTP server is configured: the files can be opened in any mail client.
    """

    def __init__(self, directory: Path, *, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.directory = directory
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def __enter__(self) -> Self:
        try:
            private_folder(self.directory)
        except OSError as err:
            raise DeliveryError(
                f"cannot create {self.directory}: {err.strerror}", recipient="-"
            ) from err
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def path_for(self, recipient: str) -> Path:
        stamp = self._clock().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        safe = _UNSAFE_FILENAME.sub("_", recipient).strip("._")[:80] or "recipient"
        return self.directory / f"{stamp}-{safe}-{uuid.uuid4().hex[:12]}.eml"

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        final = self.path_for(recipient)
        partial = final.with_name("." + final.name + ".part")
        try:
            private_folder(self.directory)
            # 0600 from the start: a digest is one reader's mail.
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(message)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, final)  # readers never see a half-written .eml
        except OSError as err:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            raise DeliveryError(f"cannot write {final}: {err}", recipient=recipient) from err
