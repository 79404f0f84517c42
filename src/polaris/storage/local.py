"""The local-directory backend (the embedded deployment shape).

Layout: the object ``data/chunks/ab/<id>`` is the file ``<root>/data/chunks/ab/<id>``; temporary
files live in ``<root>/tmp/`` (same filesystem, so a hard link publishes them). Requires a
filesystem with hard links (ext4, XFS, btrfs, ZFS): ``link`` is what gives "create, never replace"
atomically.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from polaris.storage import _fsio
from polaris.storage.backend import ObjectInfo, ObjectNotFound, ObjectTooLargeError
from polaris.storage.names import check_object_name, check_prefix

TMP_DIR = "tmp"


class LocalBackend:
    """Objects as files under ``root``; see :class:`polaris.storage.backend.Backend`."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / TMP_DIR
        try:
            _fsio.ensure_dir(self.tmp_dir)
        except OSError as exc:
            raise _fsio.translate(exc, f"creating blob store directory {self.root}") from exc

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.root)!r})"

    def path(self, name: str) -> Path:
        """The file that holds object ``name`` (validated: it cannot leave ``root``)."""
        check_object_name(name)
        if name.split("/", 1)[0] == TMP_DIR:
            raise ValueError(f"invalid object name {name!r}: {TMP_DIR}/ is reserved")
        return self.root / name

    def put(self, name: str, data: bytes) -> bool:
        final = self.path(name)
        what = f"writing {name}"
        try:
            _fsio.ensure_dir(final.parent)
        except OSError as exc:
            raise _fsio.translate(exc, what) from exc
        return _fsio.write_new_file(final, data, tmp_dir=self.tmp_dir, what=what)

    def get(self, name: str, *, max_size: int | None = None) -> bytes:
        with self._open(name) as handle:
            if max_size is None:
                return self._read(name, handle, -1)
            # Ask for no more than the file holds (and one byte past the limit to see it is
            # over): ``read(n)`` allocates ``n`` bytes first, which for a manifest's 64 MiB limit
            # was 64 MiB for every download of a few hundred bytes.
            size = os.fstat(handle.fileno()).st_size
            data = self._read(name, handle, min(max_size, size) + 1)
            if len(data) > max_size:
                raise ObjectTooLargeError(name, max(size, len(data)), max_size)
            return data

    def get_range(self, name: str, start: int, end: int) -> bytes:
        if start < 0 or end < start:
            raise ValueError(f"invalid range [{start}, {end})")
        with self._open(name) as handle:
            try:
                handle.seek(start)
            except OSError as exc:
                raise _fsio.translate(exc, f"reading {name}") from exc
            return self._read(name, handle, end - start)

    def exists(self, name: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.path(name)).st_mode)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _fsio.translate(exc, f"checking {name}") from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        for name, _entry in self._entries(prefix):
            yield name

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for name, entry in self._entries(prefix):
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since it was listed
            except OSError as exc:
                raise _fsio.translate(exc, f"checking {name}") from exc
            yield ObjectInfo(name, info.st_size, info.st_mtime)

    def touch(self, name: str) -> bool:
        try:
            os.utime(self.path(name), follow_symlinks=False)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _fsio.translate(exc, f"touching {name}") from exc
        return True

    def remove_unless_reused(self, name: str, cutoff: float) -> bool:
        """Move the file aside (``rename`` into ``tmp/``, atomic), then look at its modification
        time: a writer that touched it before the move made it young, and it is linked back; a
        touch after the move finds no file, and that writer stores the chunk anew."""
        final = self.path(name)
        held = self.tmp_dir / f"{_fsio.TMP_PREFIX}gc-{secrets.token_hex(8)}"
        try:
            os.rename(final, held)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _fsio.translate(exc, f"removing {name}") from exc
        try:
            if os.lstat(held).st_mtime > cutoff:
                # A writer may have stored it again meanwhile: either copy is correct.
                with contextlib.suppress(FileExistsError):
                    os.link(held, final)
                _fsio.fsync_dir(final.parent)
                return False
            _fsio.fsync_dir(final.parent)
            return True
        except OSError as exc:
            raise _fsio.translate(exc, f"removing {name}") from exc
        finally:
            held.unlink(missing_ok=True)

    def _entries(self, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        check_prefix(prefix)
        base = prefix.rpartition("/")[0]
        start = self.root / base if base else self.root
        yield from self._walk(start, f"{base}/" if base else "", prefix)

    def _walk(
        self, directory: Path, relative: str, prefix: str
    ) -> Iterator[tuple[str, os.DirEntry[str]]]:
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _fsio.translate(exc, f"listing {relative or '/'}") from exc
        for entry in entries:
            name = relative + entry.name
            if entry.name.startswith(".") or name == TMP_DIR:
                continue
            if entry.is_dir(follow_symlinks=False):
                child = name + "/"
                if child.startswith(prefix) or prefix.startswith(child):
                    yield from self._walk(Path(entry.path), child, prefix)
            elif entry.is_file(follow_symlinks=False) and name.startswith(prefix):
                yield name, entry

    def _open(self, name: str) -> io.FileIO:
        path = self.path(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ObjectNotFound(name) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ObjectNotFound(name) from None
            raise _fsio.translate(exc, f"reading {name}") from exc
        return io.FileIO(fd, "rb", closefd=True)

    @staticmethod
    def _read(name: str, handle: io.FileIO, size: int) -> bytes:
        chunks: list[bytes] = []
        remaining = size
        try:
            while remaining != 0:
                piece = handle.read(remaining if remaining > 0 else 1024 * 1024)
                if not piece:
                    break
                chunks.append(piece)
                if remaining > 0:
                    remaining -= len(piece)
        except OSError as exc:
            raise _fsio.translate(exc, f"reading {name}") from exc
        return b"".join(chunks)
