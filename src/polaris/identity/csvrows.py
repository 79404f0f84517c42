"""Reading CSV imports strictly: UTF-8 only, exact columns, NFC text, errors that name the row."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from polaris.errors import ValidationFailed


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based line number in the file, the header being line 1
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


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
        raise ImportRejected([RowError(line, "the file is not valid UTF-8")]) from error
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in required if name not in header]
    unknown = [name for name in header if name not in required and name not in optional]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing columns: {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown columns: {', '.join(unknown)}")
        raise ImportRejected([RowError(1, "; ".join(parts))])
    reader.fieldnames = header
    for record in reader:
        line = reader.line_num
        if None in record:
            raise ImportRejected([RowError(line, "more values than columns")])
        yield (
            line,
            {
                key: unicodedata.normalize("NFC", (value or "").strip())
                for key, value in record.items()
            },
        )
