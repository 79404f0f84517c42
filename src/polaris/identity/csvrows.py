"""Reading CSV imports strictly: UTF-8 only, exact columns, NFC text, errors that name the row."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from polaris.errors import ValidationFailed
from polaris.web.messages import N_


@dataclass(frozen=True)
class RowError:
    """A bad row: ``reason`` is a catalogue text (``%(name)s`` placeholders filled from
    ``values``), so that a page shows it in the reader's language; ``text`` is it in English."""

    row: int  # 1-based line number in the file, the header being line 1
    reason: str
    values: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        return self.reason % dict(self.values) if self.values else self.reason

    def __str__(self) -> str:
        return f"row {self.row}: {self.text}"


def row_error(line: int, reason: str, /, **values: object) -> RowError:
    """A :class:`RowError` whose ``reason`` is a catalogue text with these values."""
    return RowError(line, reason, tuple(sorted((k, str(v)) for k, v in values.items())))


class ImportRejected(ValidationFailed):
    """A bad import: nothing was imported. ``errors`` lists every bad row found."""

    code = "import_rejected"

    def __init__(self, errors: list[RowError]) -> None:
        shown = "; ".join(str(error) for error in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"import rejected, nothing imported: {shown}{more}")
        self.errors = errors


def read_rows(
    data: bytes, *, required: Sequence[str], optional: Sequence[str] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with every value NFC-normalised and stripped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportRejected([RowError(line, N_("the file is not valid UTF-8"))]) from error
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in required if name not in header]
    unknown = [name for name in header if name not in required and name not in optional]
    if missing or unknown:
        found = []
        if missing:
            found.append(row_error(1, N_("missing columns: %(names)s"), names=", ".join(missing)))
        if unknown:
            found.append(row_error(1, N_("unknown columns: %(names)s"), names=", ".join(unknown)))
        raise ImportRejected(found)
    reader.fieldnames = header
    for record in reader:
        line = reader.line_num
        if None in record:
            raise ImportRejected([RowError(line, N_("more values than columns"))])
        yield (
            line,
            {
                key: unicodedata.normalize("NFC", (value or "").strip())
                for key, value in record.items()
            },
        )
