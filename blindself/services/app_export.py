"""Reading another app's CSV export: the dated rows ``blindself import`` brings in.

Real exports differ in small ways, each handled here and nowhere else
(docs/design.md#imported-outcomes): a UTF-8 byte order mark or UTF-16 text, ``,`` ``;`` or tab
delimiters, a title line above the header, header names in another case or spacing, dates
as ISO dates, ISO date-times (with or without an offset) or in a ``--date-format``, decimal
commas in ``;``- and tab-separated files, and empty cells (no value). Anything else is
refused with one line naming the row.  Rows are numbered as a spreadsheet shows them (the
first record of the file is row 1).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from blindself.errors import DataError

DELIMITERS = (",", ";", "\t")
HEADER_SEARCH = 10  # records looked at for the header row (exports put a title line above it)
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+")
_ISO_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%X", "%c", "%T", "%R", "%p")


@dataclass(frozen=True)
class ExportRow:
    """One data row: its spreadsheet row number, its date cell read, its cells by column."""

    number: int
    when: date | datetime  # a datetime may be naive (local time of the trial)
    cells: dict[str, str]  # wanted column (as asked) -> the cell's text, stripped; "" if empty


@dataclass(frozen=True)
class ExportTable:
    header_row: int
    delimiter: str
    columns: dict[str, str]  # wanted column (as asked) -> the header's own spelling
    rows: tuple[ExportRow, ...]


def shown(text: str, limit: int = 40) -> str:
    """A cell or name from the file, printable and bounded, for a one-line message."""
    clean = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return repr(clean + ("..." if len(text) > limit else ""))


def decode(raw: bytes, name: str) -> str:
    """The file's text: UTF-8 (a byte order mark is dropped) or UTF-16 with its mark."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise DataError(
            f"{name} is not UTF-8 text; save or export it as UTF-8 (CSV UTF-8) and retry"
        ) from None


def _key(text: str) -> str:
    """A header name compared loosely: case, surrounding quotes, spacing and a BOM ignored."""
    return " ".join(text.replace("\ufeff", "").strip().strip('"').split()).casefold()


def _records(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, strict=True, skipinitialspace=True
    )


def _find_header(
    text: str, wanted: Sequence[str], delimiter: str | None
) -> tuple[str, int, list[str]]:
    """The delimiter, the header's row number and its cells: the first of the first rows
    holding every wanted column, read with the delimiter that finds it with most columns."""
    keys = {_key(w) for w in wanted}
    found: list[tuple[int, int, str, list[str]]] = []
    first_row: list[str] = []
    for delim in (delimiter,) if delimiter else DELIMITERS:
        try:
            for number, record in enumerate(_records(text, delim), start=1):
                if number == 1 and len(record) > len(first_row):
                    first_row = record
                if keys <= {_key(c) for c in record}:
                    found.append((number, -len(record), delim, record))
                    break
                if number >= HEADER_SEARCH:
                    break
        except csv.Error:
            continue  # that delimiter cannot read the top of the file; another may
    if not found:
        cols = ", ".join(shown(c, 30) for c in first_row[:12]) or "nothing"
        raise DataError(
            "no header row names " + ", ".join(shown(w, 30) for w in wanted) + " in the first "
            f"{HEADER_SEARCH} rows (the first row holds: {cols}); check --date-column and --map"
            + ("" if delimiter else ", or give --delimiter")
        )
    number, _, delim, record = min(found)
    return delim, number, record


def read_table(
    raw: bytes,
    name: str,
    date_column: str,
    value_columns: Sequence[str],
    *,
    delimiter: str | None = None,
    date_format: str | None = None,
) -> ExportTable:
    """The rows of an export that have a date or a value in the wanted columns."""
    text = decode(raw, name)
    if "\x00" in text:
        raise DataError(f"{name} holds NUL bytes: it is not a text (CSV) file")
    wanted = [date_column, *value_columns]
    delim, header_row, header = _find_header(text, wanted, delimiter)
    index: dict[str, int] = {}
    for w in dict.fromkeys(wanted):
        hits = [i for i, c in enumerate(header) if _key(c) == _key(w)]
        if len(hits) > 1:
            raise DataError(
                f"row {header_row}: the header names column {shown(w)} {len(hits)} times; "
                "rename one of them in the file"
            )
        index[w] = hits[0]
    rows: list[ExportRow] = []
    records = _records(text, delim)
    number = 0
    try:
        for number, record in enumerate(records, start=1):
            if number <= header_row:
                continue
            cells = {w: record[i].strip() if i < len(record) else "" for w, i in index.items()}
            if not any(cells.values()):
                continue  # a blank line or a row without anything wanted
            when_text = cells[date_column]
            if not when_text:
                raise DataError(f"row {number}: no date in column {shown(date_column)}")
            when = parse_when(when_text, date_format, number)
            rows.append(ExportRow(number, when, cells))
    except csv.Error as exc:
        raise DataError(f"row {number + 1}: not readable as CSV ({exc})") from None
    return ExportTable(
        header_row=header_row,
        delimiter=delim,
        columns={w: header[i].strip() for w, i in index.items()},
        rows=tuple(rows),
    )


def parse_when(text: str, date_format: str | None, number: int) -> date | datetime:
    """A date cell: an ISO date, an ISO date-time, or ``date_format`` (strptime) when given."""
    if date_format:
        try:
            parsed = datetime.strptime(text, date_format)
        except ValueError:
            raise DataError(
                f"row {number}: {shown(text)} does not match --date-format {shown(date_format)}"
            ) from None
        if not any(d in date_format for d in _TIME_DIRECTIVES) and parsed.tzinfo is None:
            return parsed.date()
        return parsed
    if _ISO_START.match(text):
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            pass
    raise DataError(
        f"row {number}: {shown(text)} is not an ISO date (YYYY-MM-DD) or date-time; "
        "give its form with --date-format, e.g. --date-format %d.%m.%Y"
    )


def parse_value(text: str, delimiter: str) -> float | None:
    """A number cell; a decimal comma only where the comma cannot be the delimiter.

    Returns None for text that is not a number (the caller names the row).
    """
    if _NUMBER.fullmatch(text):
        return float(text)
    if delimiter != "," and _DECIMAL_COMMA.fullmatch(text):
        return float(text.replace(",", "."))
    return None
