"""Office documents (DOCX, ODT, XLSX) to PDF with LibreOffice, so the PDF preview path draws them.

LibreOffice is a large C++ program reading untrusted files, so each conversion runs in a sandbox
of its own (none of it needs Polaris's privileges or the network):

- a fresh temporary directory that is its ``HOME``, ``TMPDIR`` and LibreOffice profile
  (``-env:UserInstallation``), removed afterwards: no state is shared between documents, and two
  conversions never meet on one profile's lock;
- no network: ``unshare --net`` gives it a network namespace with only a loopback that is down,
  so a document's linked images or fields cannot reach any server. Where that cannot be made,
  nothing is converted (the job fails with the reason): the sandbox is not optional;
- limits from ``prlimit``: address space (:data:`MEMORY_BYTES`), CPU seconds, and the size of a
  file it may write; a wall-clock limit (:data:`TIMEOUT_SECONDS`) after which its whole process
  group is killed;
- a package that unpacks past the readers' ZIP-bomb limits, or with a part bigger than
  :data:`PREVIEW_PART_BYTES`, is refused before LibreOffice starts: it would spend minutes and
  gigabytes on it (a 40 KB Word file unpacking to 40 MB of XML held it at 1 GB for a minute);
- only the bytes, under a fixed name (``document.docx``): the user's file name never reaches a
  command line.

The limits are plain command-line tools (util-linux) rather than ``preexec_fn``, which is not safe
in the job worker's threads.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from polaris.ingest._readers import CannotExtract, Limits, check_zip
from polaris.ingest.render import CannotRender

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: What is converted, and the suffix LibreOffice is given (it picks its filter by it).
SUFFIXES = {DOCX: ".docx", ODT: ".odt", XLSX: ".xlsx"}
#: A conversion taking longer is killed (a hostile or enormous document).
TIMEOUT_SECONDS = 120
#: Address space of the converter: LibreOffice needs about 1 GiB of it to start.
MEMORY_BYTES = 3 * 1024 * 1024 * 1024
#: The biggest file it may write (the PDF): far above any real document's.
MAX_OUTPUT_BYTES = 512 * 1024 * 1024
#: A part (the body's XML, a sheet) unpacking to more is not drawn: thousands of pages, which a
#: preview does not need and LibreOffice would take minutes over.
PREVIEW_PART_BYTES = 32 * 1024 * 1024


@functools.cache
def converter() -> str | None:
    """LibreOffice's ``soffice``, or None where it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _tool(name: str) -> str:
    """The full path of a util-linux tool (a bare name is refused: the ``PATH`` may change)."""
    return shutil.which(name) or f"/usr/bin/{name}"


@functools.cache
def _isolation_works() -> bool:
    """Whether a network namespace can be made here (root, or user namespaces allowed)."""
    try:
        done = subprocess.run(  # noqa: S603 (constant arguments)
            [_tool("unshare"), "--net", "--", _tool("true")],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def available() -> bool:
    """Whether office documents can be converted on this server (else they get no preview)."""
    return converter() is not None


def to_pdf(data: bytes, content_type: str, *, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """The PDF of an office document; :class:`CannotRender` with the reason when it fails."""
    suffix = SUFFIXES.get(content_type)
    soffice = converter()
    if suffix is None or soffice is None:
        raise CannotRender("this server has no converter for office documents")
    try:
        check_zip(data, Limits(zip_part_bytes=PREVIEW_PART_BYTES))
    except CannotExtract as error:
        raise CannotRender(str(error)) from error
    if not _isolation_works():
        raise CannotRender("the document converter cannot be isolated from the network here")
    with tempfile.TemporaryDirectory(prefix="polaris-office-") as work:
        home = Path(work)
        source = home / f"document{suffix}"
        source.write_bytes(data)
        out = home / "out"
        out.mkdir()
        command = [
            _tool("prlimit"),
            f"--as={MEMORY_BYTES}",
            f"--cpu={int(timeout) + 10}",
            f"--fsize={MAX_OUTPUT_BYTES}",
            "--",
            _tool("unshare"),
            "--net",
            "--",
            soffice,
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--nologo",
            "--nodefault",
            f"-env:UserInstallation={(home / 'profile').as_uri()}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(source),
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
        }
        _run(command, env, home, timeout)
        produced = out / "document.pdf"
        if not produced.is_file() or produced.stat().st_size == 0:
            raise CannotRender("LibreOffice could not read this document (damaged or not one)")
        return produced.read_bytes()


def _run(command: list[str], env: dict[str, str], cwd: Path, timeout: float) -> None:
    """Run the converter in a process group of its own; kill the group when it overruns."""
    process = subprocess.Popen(  # noqa: S603 (no user input: a fixed file name in our directory)
        command,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise CannotRender(
            f"converting the document took longer than {int(timeout)} seconds"
        ) from None
    finally:
        if process.poll() is None:
            _kill_group(process)
    # Helpers it started (soffice.bin under its launcher script) go with the group.
    _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
