"""Structured JSON logs, one object per line, with no secrets in them.

Only fields named here are written; query strings, headers, cookies and bodies never are.

Where the lines go (settings ``logs.*``, docs/operations.md "Logs"):

* standard error, always (a service manager's journal keeps it);
* a file per UTC day, ``LOGS_DIR/polaris-YYYY-MM-DD.log``, opened for appending. A day's file is
  never renamed or rewritten once the day is over: a rotation that renames files (the standard
  library's rotating handlers) is unsafe with several server processes writing at once and
  would touch the closed file an investigator may already have hashed. Files older than
  ``logs.retention_days`` (at least 180: the CERT-In direction of April 2022) are deleted when
  a new day's file is opened;
* optionally a SIEM, over syslog (RFC 5424; UDP, or TCP with octet-counting framing per
  RFC 6587). Shipping goes through a queue and a thread of its own, so a slow or absent SIEM
  never holds up a request; a line that cannot be sent is dropped (the file still has it).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import logging.handlers
import os
import queue
import re
import socket
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar, Literal

from polaris.config import LogSettings

_EXTRA_FIELDS = (
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "user_id",
    "client_ip",
    "code",
    "space",
    "version",
)

#: The id of the request being served, for every line logged while serving it (set by
#: ``polaris.web.middleware.RequestContextMiddleware``).
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "polaris_request_id", default=None
)

FILE_PREFIX = "polaris-"
FILE_SUFFIX = ".log"
_FILE_NAME = re.compile(r"polaris-(\d{4}-\d{2}-\d{2})\.log")


def utc_time(created: float) -> str:
    """ISO-8601 in UTC with its zone and milliseconds: ``2026-12-06T09:15:02.123+00:00``."""
    return dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds")


#: The record's attribute holding its JSON line once made.
_LINE = "_polaris_json_line"


class JsonFormatter(logging.Formatter):
    """A record as one JSON line, made once: the handlers (standard error, the day file, the
    SIEM's) each ask for it, and an access-log line a request was made three times."""

    def format(self, record: logging.LogRecord) -> str:
        made = record.__dict__.get(_LINE)
        if isinstance(made, str):
            return made
        line = self._line(record)
        setattr(record, _LINE, line)
        return line

    def _line(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if "request_id" not in entry:
            current = request_id_var.get()
            if current is not None:
                entry["request_id"] = current
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class DailyFileHandler(logging.Handler):
    """Append each line to the file of its UTC day; delete days past the retention.

    Each line is one ``write`` to a file opened with ``O_APPEND``, so several processes (``serve
    --workers N``, a CLI command) can share the directory without interleaving partial lines
    (lines are far shorter than a filesystem block in practice).
    """

    def __init__(self, directory: Path, *, retention_days: int | None) -> None:
        super().__init__()
        self.directory = directory
        self.retention_days = retention_days
        self._day: dt.date | None = None
        self._fd: int | None = None
        directory.mkdir(parents=True, exist_ok=True, mode=0o750)

    def path_for(self, day: dt.date) -> Path:
        return self.directory / f"{FILE_PREFIX}{day.isoformat()}{FILE_SUFFIX}"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8")
            day = dt.datetime.fromtimestamp(record.created, dt.UTC).date()
            with self.lock or threading.RLock():
                if day != self._day or self._fd is None:
                    self._open(day)
                assert self._fd is not None
                os.write(self._fd, line)
        except Exception:
            self.handleError(record)

    def _open(self, day: dt.date) -> None:
        if self._fd is not None:
            os.close(self._fd)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path_for(day), flags, 0o640)
        self._day = day
        self.remove_expired(today=day)

    def remove_expired(self, *, today: dt.date) -> list[Path]:
        """Delete day files older than the retention; the removed paths."""
        if self.retention_days is None:
            return []
        oldest = today - dt.timedelta(days=self.retention_days)
        removed = []
        for path in self.directory.iterdir():
            match = _FILE_NAME.fullmatch(path.name)
            if match is None:
                continue
            try:
                day = dt.date.fromisoformat(match.group(1))
            except ValueError:
                continue
            if day < oldest:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def close(self) -> None:
        with self.lock or threading.RLock():
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        super().close()


_SEVERITY = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}
_FACILITY_LOCAL0 = 16
_NILVALUE = "-"


def rfc5424(record: logging.LogRecord, body: str, *, app_name: str, hostname: str) -> bytes:
    """One syslog message: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG``.

    Facility local0; the MSG is the JSON line, UTF-8 with the BOM RFC 5424 §6.4 asks for.
    """
    severity = _SEVERITY.get(record.levelname, 6)
    header = " ".join(
        (
            f"<{_FACILITY_LOCAL0 * 8 + severity}>1",
            utc_time(record.created).replace("+00:00", "Z"),
            _printable(hostname, 255),
            _printable(app_name, 48),
            str(record.process or _NILVALUE),
            _printable(record.name, 32),
            _NILVALUE,  # no structured data: the JSON body carries the fields
        )
    )
    return header.encode("ascii") + b" \xef\xbb\xbf" + body.encode("utf-8")


def _printable(value: str, limit: int) -> str:
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return cleaned or _NILVALUE


class Rfc5424Handler(logging.Handler):
    """Ship lines to a syslog receiver. Called from the queue's own thread, never a request's.

    TCP frames each message with its length (RFC 6587 octet counting) and reconnects after a
    failure; a message that cannot be sent is dropped and counted in ``dropped``.
    """

    def __init__(
        self, host: str, port: int, *, protocol: Literal["udp", "tcp"], app_name: str
    ) -> None:
        super().__init__()
        self.address = (host, port)
        self.protocol = protocol
        self.app_name = app_name
        self.hostname = socket.gethostname()
        self.dropped = 0
        self._socket: socket.socket | None = None

    def _connect(self) -> socket.socket:
        kind = socket.SOCK_DGRAM if self.protocol == "udp" else socket.SOCK_STREAM
        family, _, proto, _, address = socket.getaddrinfo(*self.address, 0, kind)[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(5.0)
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = rfc5424(
                record, self.format(record), app_name=self.app_name, hostname=self.hostname
            )
            if self.protocol == "tcp":
                message = str(len(message)).encode("ascii") + b" " + message
            if self._socket is None:
                self._socket = self._connect()
            if self.protocol == "tcp":
                self._socket.sendall(message)
            else:
                self._socket.send(message)
        except OSError:
            self.dropped += 1
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        super().close()


class _State:
    """What :func:`configure` set up last, so that configuring again releases it."""

    handlers: ClassVar[list[logging.Handler]] = []
    listener: ClassVar[logging.handlers.QueueListener | None] = None


def configure(
    settings: LogSettings | None = None, *, directory: Path | None = None
) -> list[logging.Handler]:
    """Send the ``polaris`` loggers' lines to stderr, the day files in ``directory`` (when
    given) and the SIEM (when ``settings`` name one); the handlers, for tests."""
    _release()
    _skip_unused_record_fields()
    formatter = JsonFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if directory is not None:
        retention = settings.retention_days if settings is not None else 180
        handlers.append(DailyFileHandler(directory, retention_days=retention))
    for handler in handlers:
        handler.setFormatter(formatter)
    if settings is not None and settings.syslog_host:
        shipper = Rfc5424Handler(
            settings.syslog_host,
            settings.syslog_port,
            protocol=settings.syslog_protocol,
            app_name=settings.syslog_app_name,
        )
        shipper.setFormatter(formatter)
        lines: queue.Queue[logging.LogRecord] = queue.Queue(maxsize=10_000)
        # The queue handler keeps the default formatter: it only fills in the message text,
        # and the shipper writes the JSON line.
        handlers.append(_DroppingQueueHandler(lines))
        _State.listener = logging.handlers.QueueListener(lines, shipper)
        _State.listener.start()
        _State.handlers.append(shipper)
    root = logging.getLogger("polaris")
    root.handlers[:] = handlers
    root.setLevel(settings.level.upper() if settings else logging.INFO)
    root.propagate = False
    _State.handlers.extend(handlers)
    return handlers


def _skip_unused_record_fields() -> None:
    """Make no record find its caller's file and line, nor its thread's name and its
    multiprocessing name: no line Polaris writes has them (``JsonFormatter`` writes named fields
    only; a traceback comes from ``exc_info``), and they were a sixth of an access-log line's
    cost (34 µs a line with them, 29 µs without, measured with this module's handlers; a
    served request writes one). The process id stays: the SIEM's header carries it. The
    switches are the standard library's own, named in its logging HOWTO, "Optimization"."""
    logging._srcfile = None  # the HOWTO's documented switch
    logging.logThreads = False
    logging.logMultiprocessing = False


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """Hands records to the shipping thread; when the SIEM has fallen 10,000 lines behind, a
    new line is dropped rather than block the request that logged it."""

    def enqueue(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(record)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # Format in the logging thread: the request id lives in its context, not the shipper's.
        record.request_id = getattr(record, "request_id", None) or request_id_var.get()
        prepared: logging.LogRecord = super().prepare(record)
        return prepared


def _release() -> None:
    if _State.listener is not None:
        _State.listener.stop()
        _State.listener = None
    for handler in _State.handlers:
        handler.close()
    _State.handlers.clear()
