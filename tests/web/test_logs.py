"""JSON log lines: their fields, the day files and their retention, shipping over syslog."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from polaris.config import LogSettings
from polaris.web import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    logs.configure()  # releases the files, sockets and the shipping thread


def _record(
    message: str = "hello", *, created: float | None = None, **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord("polaris.test", logging.WARNING, __file__, 1, message, None, None)
    if created is not None:
        record.created = created
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_a_line_is_one_json_object_with_utc_time_level_logger_and_request_id() -> None:
    token = logs.request_id_var.set("abc123")
    try:
        line = logs.JsonFormatter().format(_record("disk low", path="/api/v1/me", status=200))
    finally:
        logs.request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "polaris.test"
    assert entry["message"] == "disk low" and entry["request_id"] == "abc123"
    assert entry["path"] == "/api/v1/me" and entry["status"] == 200
    when = dt.datetime.fromisoformat(entry["time"])
    assert when.utcoffset() == dt.timedelta(0)
    assert entry["time"].endswith("+00:00")


def test_lines_go_to_the_file_of_their_utc_day(tmp_path: Path, restore_logging: None) -> None:
    handlers = logs.configure(LogSettings(), directory=tmp_path)
    logging.getLogger("polaris.test").warning("first", extra={"code": "storage_full"})
    logging.getLogger("polaris.test").info("second")
    for handler in handlers:
        handler.flush()
    today = dt.datetime.now(dt.UTC).date()
    lines = (tmp_path / f"polaris-{today.isoformat()}.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["message"] for e in entries] == ["first", "second"]
    assert entries[0]["code"] == "storage_full"


def test_a_new_day_opens_a_new_file_and_leaves_the_old_one_as_it_was(tmp_path: Path) -> None:
    handler = logs.DailyFileHandler(tmp_path, retention_days=180)
    handler.setFormatter(logs.JsonFormatter())
    day1 = dt.datetime(2026, 12, 5, 23, 59, tzinfo=dt.UTC).timestamp()
    day2 = dt.datetime(2026, 12, 6, 0, 1, tzinfo=dt.UTC).timestamp()
    handler.emit(_record("late", created=day1))
    closed = tmp_path / "polaris-2026-12-05.log"
    before = closed.read_bytes()
    handler.emit(_record("early", created=day2))
    handler.close()
    assert closed.read_bytes() == before and json.loads(before)["message"] == "late"
    assert json.loads((tmp_path / "polaris-2026-12-06.log").read_text())["message"] == "early"


def test_files_past_the_retention_are_deleted_and_younger_ones_kept(tmp_path: Path) -> None:
    for name in ("polaris-2026-01-01.log", "polaris-2026-06-09.log", "polaris-2026-06-10.log"):
        (tmp_path / name).write_text("{}\n")
    (tmp_path / "notes.txt").write_text("not a log")
    handler = logs.DailyFileHandler(tmp_path, retention_days=180)
    removed = handler.remove_expired(today=dt.date(2026, 12, 7))  # 180 days back: 2026-06-10
    assert sorted(p.name for p in removed) == ["polaris-2026-01-01.log", "polaris-2026-06-09.log"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "polaris-2026-06-10.log"]
    keep_all = logs.DailyFileHandler(tmp_path, retention_days=None)
    assert keep_all.remove_expired(today=dt.date(2030, 1, 1)) == []


def test_the_retention_cannot_be_set_below_180_days() -> None:
    with pytest.raises(ValueError):
        LogSettings(retention_days=90)


RFC5424 = re.compile(
    rb"<(?P<pri>\d+)>1 (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) - "
    rb"\xef\xbb\xbf(?P<msg>.*)",
    re.DOTALL,
)


class _Collect:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.arrived = threading.Event()

    def add(self, message: bytes) -> None:
        self.messages.append(message)
        self.arrived.set()


def _udp_receiver(collect: _Collect) -> socketserver.UDPServer:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            collect.add(self.request[0])

    return socketserver.UDPServer(("127.0.0.1", 0), Handler)


def _tcp_receiver(collect: _Collect) -> socketserver.TCPServer:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:  # RFC 6587 octet counting: "LEN SP MSG"
            while True:
                length = b""
                while not length.endswith(b" "):
                    byte = self.rfile.read(1)
                    if not byte:
                        return
                    length += byte
                collect.add(self.rfile.read(int(length)))

    return socketserver.TCPServer(("127.0.0.1", 0), Handler)


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_a_syslog_receiver_gets_rfc5424_messages_with_the_json_line(
    protocol: Literal["udp", "tcp"], tmp_path: Path, restore_logging: None
) -> None:
    collect = _Collect()
    server = _udp_receiver(collect) if protocol == "udp" else _tcp_receiver(collect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        settings = LogSettings(syslog_host="127.0.0.1", syslog_port=port, syslog_protocol=protocol)
        logs.configure(settings, directory=tmp_path)
        logging.getLogger("polaris.access_log").error("request", extra={"status": 500})
        assert collect.arrived.wait(timeout=30)
    finally:
        logs.configure()
        server.shutdown()
        server.server_close()
    match = RFC5424.fullmatch(collect.messages[0])
    assert match is not None, collect.messages[0]
    assert int(match["pri"]) == 16 * 8 + 3  # local0, error
    assert match["app"] == b"polaris" and match["msgid"] == b"polaris.access_log"
    assert match["host"] == socket.gethostname().encode()
    assert dt.datetime.fromisoformat(match["time"].decode().replace("Z", "+00:00")).tzinfo
    entry = json.loads(match["msg"])
    assert entry["message"] == "request" and entry["status"] == 500


def test_an_unreachable_siem_drops_lines_without_raising() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = logs.Rfc5424Handler("127.0.0.1", port, protocol="tcp", app_name="polaris")
    handler.setFormatter(logs.JsonFormatter())
    handler.emit(_record())
    assert handler.dropped == 1
    handler.close()


def test_a_line_is_made_once_for_every_handler(
    tmp_path: Path, restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    real = logs.JsonFormatter._line

    def counting(self: logs.JsonFormatter, record: logging.LogRecord) -> str:
        made.append(record.getMessage())
        return real(self, record)

    monkeypatch.setattr(logs.JsonFormatter, "_line", counting)
    handlers = logs.configure(directory=tmp_path)
    assert len(handlers) == 2  # standard error and the day file
    logging.getLogger("polaris.test").warning("एक बार")
    assert made == ["एक बार"]
    (day_file,) = tmp_path.glob("polaris-*.log")
    assert json.loads(day_file.read_text(encoding="utf-8"))["message"] == "एक बार"


def test_records_skip_the_caller_and_thread_lookups_but_keep_the_process(
    restore_logging: None,
) -> None:
    """``logs.configure`` turns off what no line uses (the caller's file and line, the
    thread's name); the process id stays, for the SIEM's header."""
    logs.configure()
    record = _record()
    assert logging._srcfile is None  # Logger._log then does not walk the stack for the caller
    assert record.threadName is None and record.process == os.getpid()
