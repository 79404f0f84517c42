"""Durable file writes on a local filesystem, and the mapping of OS errors to Polaris errors.

``write_all``, ``fsync_fd`` and ``fsync_dir`` are looked up through this module at call time: they
are the seam where tests inject ENOSPC, EIO or a failed fsync.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from polaris.errors import PolarisError, StorageFailure, StorageFull

TMP_PREFIX = ".tmp-"
_WRITE_PIECE = 1024 * 1024
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def translate(exc: OSError, what: str) -> PolarisError:
    """ENOSPC/EDQUOT become StorageFull; any other OS error (EIO, failed fsync) StorageFailure."""
    reason = exc.strerror or str(exc)
    name = errno.errorcode.get(exc.errno or 0, "")
    detail = f"{what}: {reason}" + (f" ({name})" if name else "")
    if exc.errno in _FULL_ERRNOS:
        return StorageFull(detail)
    return StorageFailure(detail)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:_WRITE_PIECE])
        view = view[written:]


def fsync_fd(fd: int) -> None:
    os.fsync(fd)


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (a new name, a rename) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fsync_fd(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents (mode 0700), fsyncing each parent that gained one."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    fsync_dir(path.parent)


def write_new_file(final: Path, data: bytes, *, tmp_dir: Path, what: str) -> bool:
    """Atomically create ``final`` holding ``data``; False (and nothing written) if it exists.

    Temporary file in ``tmp_dir`` (same filesystem), write, fsync, hard-link to the final name,
    fsync the directory. ``link`` fails with EEXIST instead of replacing, so an existing object is
    never overwritten, even by a concurrent writer. On any failure the temporary file is removed and
    nothing stays visible under ``final``; the error is StorageFull or StorageFailure.
    """
    if os.path.lexists(final):
        return False
    try:
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=TMP_PREFIX)
    except OSError as exc:
        raise translate(exc, what) from exc
    tmp = Path(tmp_name)
    linked = False
    try:
        try:
            write_all(fd, data)
            fsync_fd(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, final)
        except FileExistsError:
            return False
        linked = True
        fsync_dir(final.parent)
    except OSError as exc:
        if linked:
            # Not durable, so not stored: take our own new name back, never report half a success.
            _remove_quietly(final)
        raise translate(exc, what) from exc
    finally:
        _remove_quietly(tmp)
    return True


def replace_file(final: Path, data: bytes, *, what: str) -> None:
    """Atomically replace (or create) ``final`` with a mode-0600 file holding ``data``.

    Only for the master key file, which is not a blob and must change on rotation.
    """
    try:
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=TMP_PREFIX)
    except OSError as exc:
        raise translate(exc, what) from exc
    tmp = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, 0o600)
            write_all(fd, data)
            fsync_fd(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except OSError as exc:
        raise translate(exc, what) from exc
    finally:
        _remove_quietly(tmp)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
