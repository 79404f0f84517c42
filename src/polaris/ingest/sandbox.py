"""Readers of untrusted files run in a child process with a memory limit and a deadline.

A 1.5 MB Word file that unpacks to 500 MB of XML took the server from 210 MB to a 2.8 GB peak
and kept 2 GB: python-docx, odfdo and openpyxl hold a whole part's XML tree in memory, and
CPython seldom gives freed memory back. The size and ratio checks in ``polaris.ingest._readers``
stop the known bombs cheaply; this module bounds whatever gets past them, as ``polaris.ingest.ocr``
does for OCR:

- **memory**: the child's address space is limited (``RLIMIT_AS``); a reader that needs more gets
  ``MemoryError`` (or is killed) and the document fails with that reason. The memory goes back to
  the system when the child exits, whatever the reader did;
- **time**: at the deadline the child's process group is killed;
- **XML**: lxml's default parser in the child resolves no entities, loads no DTD and touches no
  network, so odfdo (which parses with the default parser) is as safe as python-docx and openpyxl
  (their own parsers resolve no entities; openpyxl uses defusedxml's iterparse when it is
  installed, which it is, as a dependency of Polaris).

Children start from one fork server with the readers already imported (``fork_server``), which
OCR shares: importing python-docx, odfdo and openpyxl afresh would cost more than most documents.
The bytes go to the child through a file and the result comes back through one (JSON), in a
private directory under the caller's ``workdir`` that is removed afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import multiprocessing.context
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from polaris.ingest._readers import CannotExtract, Limits

#: How often a caller waiting for the child hears from it (to renew a job's lease).
WAIT_TICK_SECONDS = 20.0
_PRELOAD = [
    "__main__",
    "ocrmypdf",
    # What OCRmyPDF imports only when it reads its first document: every OCR child imported them
    # anew, 0.2 s of CPU a document (a tenth of Tesseract's time on a page). Missing ones (another
    # OCRmyPDF release) are skipped by the fork server.
    "ocrmypdf.optimize",
    "ocrmypdf._validation_coordinator",
    "ocrmypdf.builtin_plugins.concurrency",
    "ocrmypdf.builtin_plugins.default_filters",
    "ocrmypdf.builtin_plugins.ghostscript",
    "ocrmypdf.builtin_plugins.null_ocr",
    "ocrmypdf.builtin_plugins.optimize",
    "ocrmypdf.builtin_plugins.pypdfium",
    "ocrmypdf.builtin_plugins.tesseract_ocr",
    "pikepdf.pdfa",
    "PIL.JpegImagePlugin",
    "PIL.BmpImagePlugin",
    "PIL.PpmImagePlugin",
    "pikepdf",
    "pypdfium2",
    "polaris.ingest.ocr",
    "docx",
    "odfdo",
    "openpyxl",
    "charset_normalizer",
    "polaris.ingest._readers",
]
_NO_MEMORY = 12  # the child's exit code when a reader ran out of its memory
#: A reader that fails after its address space grew past this share of the limit is taken to
#: have run out of memory (a failed allocation may ask for as much as is already in use).
MEMORY_FAILURE_SHARE = 0.5


@functools.cache
def fork_server() -> multiprocessing.context.ForkServerContext:
    """The fork server that OCR and reader processes start from (started on first use).

    The fork server is itself a fresh interpreter, so it holds none of the server's threads or
    open database connections. ``__main__`` is preloaded too: a child would otherwise import the
    program's main module (the ``polaris`` command, pytest) again before it could start.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def run_reader(
    reader: str,
    data: bytes,
    *,
    workdir: Path,
    limits: Limits,
    on_wait: Callable[[], None] | None = None,
) -> Any:
    """Run ``polaris.ingest._readers.<reader>(data, limits)`` in a child process; its result.

    Raises :class:`CannotExtract` with the reader's reason, or saying that the document needed
    more memory or time than ``limits`` allow.
    """
    private = Path(tempfile.mkdtemp(prefix="reader-", dir=workdir))
    try:
        source, output = private / "input", private / "output.json"
        source.write_bytes(data)
        request: dict[str, Any] = {
            "reader": reader,
            "input": str(source),
            "output": str(output),
            "limits": asdict(limits),
        }
        exitcode = _run(request, limits, on_wait)
        outcome: dict[str, Any] = {}
        if output.exists():
            with contextlib.suppress(ValueError):
                outcome = json.loads(output.read_text("utf-8"))
    finally:
        shutil.rmtree(private, ignore_errors=True)
    if exitcode == 0 and "result" in outcome:
        return outcome["result"]
    if "error" in outcome:
        raise CannotExtract(str(outcome["error"]))
    if exitcode == _NO_MEMORY or exitcode == -signal.SIGKILL:
        raise CannotExtract(_too_big(limits))
    stop = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else exitcode
    raise CannotExtract(f"reading the file stopped unexpectedly ({stop})")


def _peak_bytes() -> int:
    """The child's peak address space (Linux's ``VmPeak``), 0 where it cannot be read."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    return 0


def _too_big(limits: Limits) -> str:
    return (
        f"reading the file needs more than {limits.extract_memory_bytes // 2**20} MiB"
        " of memory (a decompression bomb?)"
    )


def _run(request: dict[str, Any], limits: Limits, on_wait: Callable[[], None] | None) -> int | None:
    process = fork_server().Process(target=_child, args=(request,), daemon=True)
    process.start()
    deadline = time.monotonic() + limits.extract_timeout_seconds
    try:
        while True:
            process.join(max(0.0, min(WAIT_TICK_SECONDS, deadline - time.monotonic())))
            if process.exitcode is not None:
                return process.exitcode
            if time.monotonic() >= deadline:
                raise CannotExtract(
                    f"reading the file took longer than {limits.extract_timeout_seconds:.0f} s"
                    " and was stopped"
                )
            if on_wait is not None:
                on_wait()
    finally:
        if process.exitcode is None:
            kill(process)
        process.close()


def kill(process: multiprocessing.process.BaseProcess) -> None:
    """End the child and everything it started (it leads a process group of its own)."""
    pid = process.pid
    if pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    process.kill()
    process.join()


def _child(request: dict[str, Any]) -> None:
    """Run in the child: limit memory, make XML parsing safe, read, report, exit."""
    os.setsid()
    limits = Limits(**request["limits"])
    resource.setrlimit(
        resource.RLIMIT_AS, (limits.extract_memory_bytes, limits.extract_memory_bytes)
    )
    from lxml import etree  # type: ignore[import-untyped]

    from polaris.ingest import _readers

    etree.set_default_parser(
        etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
    )
    output = Path(request["output"])
    code = 0
    try:
        data = Path(request["input"]).read_bytes()
        result = getattr(_readers, request["reader"])(data, limits)
        del data
        if isinstance(result, tuple) and len(result[0]) > 2 * limits.text_chars:
            result = (result[0][: 2 * limits.text_chars], True)  # the caller cuts at text_chars
        outcome: dict[str, Any] = {"result": result}
    except MemoryError:
        code, outcome = _NO_MEMORY, {"error": _too_big(limits)}
    except Exception as error:  # the parent must hear why, whatever it is
        code, outcome = 1, {"error": f"the file cannot be read ({type(error).__name__})"}
        if isinstance(error, CannotExtract):
            outcome = {"error": str(error)}
        if _peak_bytes() >= limits.extract_memory_bytes * MEMORY_FAILURE_SHARE:
            # libxml2 reports a failed allocation as a syntax error ("unknown error"): a reader
            # that failed after taking most of its memory ran out of it.
            code, outcome = _NO_MEMORY, {"error": _too_big(limits)}
    try:
        output.write_text(json.dumps(outcome), "utf-8")
    except MemoryError:
        os._exit(_NO_MEMORY)
    sys.exit(code)
