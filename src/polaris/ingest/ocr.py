"""OCR of scans through OCRmyPDF and Debian's Tesseract, each document in a process of its own.

Why a child process rather than calling ``ocrmypdf.ocr`` in the worker thread:

- **a hard deadline**: a hostile or huge scan can keep Tesseract or Ghostscript busy for hours,
  and a library call cannot be interrupted. The child runs in a process group of its own; at the
  deadline the whole group (OCRmyPDF, Tesseract, Ghostscript) is killed and the worker moves on;
- **isolation**: qpdf, PDFium, Leptonica and Ghostscript parse untrusted files in native code; a
  crash there ends the child, not the server. OCRmyPDF's process-wide state (Pillow's pixel limit,
  its plugin manager, its loggers) stays out of the server, and the memory of a big scan goes back
  to the system when the child exits.

Why a fork server with OCRmyPDF already imported rather than ``python -m ocrmypdf`` per document:
importing OCRmyPDF costs 0.6–1 s of CPU, a third of what Tesseract spends on a page. Children forked
from the warm server start at once (measured in docs/ingest.md).

Why Tesseract is asked its version and languages once: OCRmyPDF asks for each document
(``tesseract --version`` four times, ``--list-langs`` once: 0.2 s of a one-page document's time).
The first child tells the server what Tesseract answered, and later children start with the answer
(``_TesseractFacts``). Languages are asked again whenever a document wants one the answer lacks, so
installing a language package mends a failing job without a restart.

The child's temporary files (OCRmyPDF's and Tesseract's) live in the caller's ``workdir``, so a
killed child leaves nothing behind once the caller removes it.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import multiprocessing.context
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from polaris.ingest import sandbox

#: Measured on rendered police pages (docs/ingest.md): ``hin+eng`` drops leading 1s of FIR numbers
#: and dates on half of the pages; ``eng+hin`` reads them all and Hindi as well.
DEFAULT_LANGUAGES = "eng+hin"
#: Tesseract's own text-only PDF under the page image: its text reads back whole (the hOCR
#: renderers put stray characters inside Hindi words) and it costs no Python work per page.
PDF_RENDERER = "sandwich"
#: Assumed for a picture that does not say how it was scanned.
DEFAULT_IMAGE_DPI = 300
#: Below this a picture's stated resolution is taken for a mistake (the page would be metres wide).
MIN_IMAGE_DPI = 50
#: How often a caller waiting for OCR hears from it (to renew a job's lease).
WAIT_TICK_SECONDS = 20.0
#: OCRmyPDF writes this in the sidecar for a page it was told not to read.
SKIPPED_MARK = "[OCR skipped on page"
#: Tesseract often sets a slash between digits apart ("1191 / 2024"); FIR numbers and dates are
#: written without the spaces, and the text view and exact-match checks should see them so.
_SPACED_SLASH = regex.compile(r"(?<=\p{Nd})[ \t]*/[ \t]*(?=\p{Nd})")

_INPUT_FILE = 2
_MISSING_DEPENDENCY = 3
_ENCRYPTED_PDF = 8
_INVALID_CONFIG = 9
_BAD_ARGS = 1


class OcrFailed(Exception):
    """This file cannot be read by OCR (corrupt, encrypted, too slow); retrying will not help."""


class OcrUnavailable(Exception):
    """OCR is not usable on this server (a program or language missing): worth retrying later."""


@dataclass(frozen=True)
class OcrOptions:
    languages: str = DEFAULT_LANGUAGES
    #: Pages of this document read side by side.
    jobs: int = 1
    timeout_seconds: float = 1800.0


@dataclass(frozen=True)
class OcrOutput:
    #: Tesseract's text of each page read, in page order (the sidecar, split at form feeds).
    pages: list[str]
    #: The searchable PDF (PDF/A-2b when OCRmyPDF could make it so).
    pdf: bytes


def run_ocr(
    source: Path,
    *,
    workdir: Path,
    options: OcrOptions,
    pages: Sequence[int] | None = None,
    image_dpi: int | None = None,
    on_wait: Callable[[], None] | None = None,
) -> OcrOutput:
    """OCR a PDF or a picture (PNG, JPEG, TIFF of one or more pages) into text and a searchable PDF.

    ``pages`` (1-based) limits OCR to those pages of a PDF; the others are copied unchanged and
    their text is not in the result. ``image_dpi`` is the resolution to assume for a picture.
    ``on_wait`` is called every few seconds while Tesseract works. Raises :class:`OcrFailed` or
    :class:`OcrUnavailable`.
    """
    output = workdir / "ocr-output.pdf"
    sidecar = workdir / "ocr-sidecar.txt"
    failure = workdir / "ocr-error.json"
    request: dict[str, Any] = {
        "input": str(source),
        "output": str(output),
        "sidecar": str(sidecar),
        "error": str(failure),
        "tmp": str(workdir / "ocr-tmp"),
        "languages": options.languages.split("+"),
        "jobs": options.jobs,
        "pages": ",".join(str(number) for number in pages) if pages else None,
        "image_dpi": image_dpi,
        "tesseract": _TESSERACT.known(options.languages.split("+")),
        "tesseract_out": str(workdir / "ocr-tesseract.json"),
    }
    process = _processes().Process(target=_child, args=(request,), daemon=True)
    process.start()
    deadline = time.monotonic() + options.timeout_seconds
    try:
        while True:
            process.join(max(0.0, min(WAIT_TICK_SECONDS, deadline - time.monotonic())))
            if process.exitcode is not None:
                break
            if time.monotonic() >= deadline:
                raise OcrFailed(
                    f"OCR took longer than {options.timeout_seconds:.0f} s and was stopped"
                )
            if on_wait is not None:
                on_wait()
    finally:
        if process.exitcode is None:
            sandbox.kill(process)
        exitcode = process.exitcode
        process.close()
    if exitcode != 0:
        _raise_failure(exitcode, failure)
    _TESSERACT.learn(Path(request["tesseract_out"]))
    text = sidecar.read_text("utf-8", errors="replace") if sidecar.exists() else ""
    return OcrOutput(pages=split_sidecar(text), pdf=output.read_bytes())


def split_sidecar(text: str) -> list[str]:
    """The text of each page read: OCRmyPDF ends pages with a form feed and marks skipped ones.
    A slash between digits loses the spaces Tesseract puts around it (``1191 / 2024``)."""
    pieces = text.split("\f")
    if pieces and not pieces[-1].strip():
        pieces.pop()  # after the last page's form feed
    return [
        _SPACED_SLASH.sub("/", piece)
        for piece in pieces
        if not piece.lstrip().startswith(SKIPPED_MARK)
    ]


class _TesseractFacts:
    """What Tesseract said of itself (``version``, ``languages``), kept for the server's life."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: dict[str, Any] = {}

    def known(self, languages: Sequence[str]) -> dict[str, Any]:
        """The answers a child may take as given: the version, and the languages only when they
        include every one this document wants (else the child asks again)."""
        with self._lock:
            facts = dict(self._facts)
        if not set(languages) <= set(facts.get("languages", ())):
            facts.pop("languages", None)
        return facts

    def learn(self, answers: Path) -> None:
        """Keep what a child that succeeded heard from Tesseract (its file of answers)."""
        with contextlib.suppress(OSError, ValueError):
            facts = json.loads(answers.read_text("utf-8"))
            if isinstance(facts, dict):
                self.learn_answers(facts)

    def learn_answers(self, facts: dict[str, Any]) -> None:
        with self._lock:
            self._facts.update(
                (key, facts[key]) for key in ("version", "languages") if key in facts
            )


_TESSERACT = _TesseractFacts()


def _processes() -> multiprocessing.context.ForkServerContext:
    """The fork server OCR processes start from, with OCRmyPDF imported once (shared with the
    readers of ``polaris.ingest.sandbox``)."""
    return sandbox.fork_server()


def _raise_failure(exitcode: int | None, failure: Path) -> None:
    detail: dict[str, Any] = {}
    if failure.exists():
        with contextlib.suppress(ValueError):
            detail = json.loads(failure.read_text("utf-8"))
    code = int(detail.get("code", exitcode or 0))
    message = str(detail.get("message", "")).strip()
    if not detail:
        stop = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else exitcode
        raise OcrFailed(f"the OCR process stopped unexpectedly ({stop})")
    if code in (_MISSING_DEPENDENCY, _INVALID_CONFIG, _BAD_ARGS):
        raise OcrUnavailable(f"OCR is not usable on this server: {message}")
    if code == _ENCRYPTED_PDF:
        raise OcrFailed("the PDF is encrypted; OCR needs a copy without the protection")
    if code == _INPUT_FILE:
        raise OcrFailed(f"the scan cannot be read ({message})")
    raise OcrFailed(f"OCR failed ({message or code})")


def _child(request: dict[str, Any]) -> None:
    """Run in the OCR process: OCRmyPDF on one file; the outcome in its exit code and files."""
    os.setsid()  # a process group of our own, so that the parent can stop all of it at once
    tmp = Path(request["tmp"])
    tmp.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    import logging

    import ocrmypdf
    from ocrmypdf.exceptions import ExitCodeException

    # OCRmyPDF's own warnings are not the server's business; its errors come back as exceptions.
    logging.getLogger("ocrmypdf").handlers[:] = [logging.NullHandler()]
    logging.getLogger("ocrmypdf").propagate = False
    facts = _ask_tesseract_once(request["tesseract"])
    _store_pngs()
    extra: dict[str, Any] = {}
    if request["pages"]:
        # Pages with a (too short) text layer are read again as pictures; the others are kept.
        extra.update(pages=request["pages"], mode="force")
    if request["image_dpi"]:
        extra["image_dpi"] = request["image_dpi"]
    try:
        code = ocrmypdf.ocr(
            request["input"],
            request["output"],
            sidecar=request["sidecar"],
            language=request["languages"],
            jobs=request["jobs"],
            output_type="auto",
            pdf_renderer=PDF_RENDERER,
            # Lossless optimisation saved nothing on PNG, TIFF and JPEG scans (their images go
            # into the PDF as they are) and cost 0.17 s of CPU a page.
            optimize=0,
            progress_bar=False,
            # The rendition is a copy: the original, with its signature, is never changed.
            invalidate_digital_signatures=True,
            **extra,
        )
    except ExitCodeException as error:
        _report(request, int(error.exit_code), str(error))
        sys.exit(int(error.exit_code))
    except Exception as error:  # whatever it is, the parent must hear why
        _report(request, 15, f"{type(error).__name__}: {error}")
        sys.exit(15)
    if int(code) != 0:
        _report(request, int(code), f"OCRmyPDF ended with exit code {int(code)}")
    else:
        Path(request["tesseract_out"]).write_text(json.dumps(facts), "utf-8")
    sys.exit(int(code))


def _store_pngs() -> None:
    """PNGs this child writes are stored, not compressed. The one it writes is OCRmyPDF's
    rendering of the page, written once and read once by Tesseract a moment later, in this job's
    private directory: zlib's default level cost 0.075 s of CPU for an A4 page at 300 dpi to write
    and 0.03 s to read, the stored form 0.03 s and 0.015 s. The pixels are the same either way, so
    is what Tesseract reads."""
    from PIL import Image

    Image.preinit()  # registers the PNG plugin
    save_png = Image.SAVE["PNG"]

    def save(image: Image.Image, fp: Any, filename: str | bytes) -> None:
        image.encoderinfo.setdefault("compress_level", 0)
        save_png(image, fp, filename)

    Image.register_save("PNG", save)


def _ask_tesseract_once(known: dict[str, Any]) -> dict[str, Any]:
    """Make OCRmyPDF ask Tesseract its version and languages at most once in this child, and not
    at all for what the server already ``known``; the answers, filled in as they are asked."""
    facts = dict(known)
    try:
        from ocrmypdf._exec import tesseract

        ask_version, ask_languages = tesseract.version, tesseract.get_languages
    except (ImportError, AttributeError):  # another OCRmyPDF release: it asks as it always did
        return facts

    def version() -> Any:
        if "version" not in facts:
            facts["version"] = str(ask_version())
        return tesseract.TesseractVersion(facts["version"])

    def get_languages() -> set[str]:
        if "languages" not in facts:
            facts["languages"] = sorted(ask_languages())
        return set(facts["languages"])

    tesseract.version = version
    tesseract.get_languages = get_languages
    return facts


def _report(request: dict[str, Any], code: int, message: str) -> None:
    Path(request["error"]).write_text(
        json.dumps({"code": code, "message": message[:1000]}), "utf-8"
    )
