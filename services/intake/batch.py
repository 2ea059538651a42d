"""Pure parsing of batch uploads (NDJSON or CSV) into rows ready for `LeadIn`, streamed.

Parsers are push-style (`feed` a line, get the rows it completes) so an async request body
can drive them chunk by chunk; `iter_ndjson` and `iter_csv` wrap them for sync callers.
Memory stays bounded by the longest line and record, never by the file.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from services.intake.schemas import FieldError

BatchFormat = Literal["ndjson", "csv"]

MAX_LINE_BYTES = 1 << 20
"""No real lead needs a 1 MiB line; a body without newlines must not grow without limit."""

MAX_RECORD_CHARS = 1 << 20
"""A CSV record spanning lines (quoted newlines) is capped too, in case a quote never closes."""

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Row:
    """One record of the file: its line number and raw mapping, or why it could not be read."""

    number: int
    data: dict[str, Any] | None
    errors: list[FieldError] = field(default_factory=list)


def _row_error(number: int, message: str) -> Row:
    """A row that never reached validation; pointer "" means the row as a whole."""
    return Row(number, None, [FieldError(pointer="", message=message)])


class LineTooLong(ValueError):
    """A line over the limit: the upload is abusive or not line-delimited, so stop reading."""

    def __init__(self, line: int, limit: int) -> None:
        super().__init__(f"line {line} is longer than {limit} bytes")
        self.line = line
        self.limit = limit


class LineSplitter:
    """Arbitrary body chunks in, complete lines out (without "\\n" or "\\r\\n")."""

    def __init__(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._buffer = bytearray()
        self._max = max_line_bytes
        self._count = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines this chunk completes; the rest waits for the next chunk."""
        self._buffer += chunk
        lines: list[bytes] = []
        start = 0
        while (end := self._buffer.find(b"\n", start)) >= 0:
            lines.append(self._line(start, end))
            start = end + 1
        del self._buffer[:start]
        if len(self._buffer) > self._max:
            raise LineTooLong(self._count + 1, self._max)
        return lines

    def close(self) -> list[bytes]:
        """The final line when the body does not end with a newline."""
        if not self._buffer:
            return []
        line = self._line(0, len(self._buffer))
        self._buffer.clear()
        return [line]

    def _line(self, start: int, end: int) -> bytes:
        """Count the line and enforce the limit on lines that arrived whole in one chunk."""
        self._count += 1
        if end - start > self._max:
            raise LineTooLong(self._count, self._max)
        return bytes(self._buffer[start:end]).removesuffix(b"\r")


def _strip_newline(line: bytes) -> bytes:
    """Lines from a binary file keep their terminator; lines from LineSplitter do not."""
    return line.removesuffix(b"\n").removesuffix(b"\r")


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON, whatever Python's json module accepts by default."""
    raise ValueError(f"{name} is not allowed in JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""What `json.loads(text, parse_constant=...)` builds on every call, built once."""


class NdjsonParser:
    """One JSON object per line; blank lines are skipped."""

    def __init__(self) -> None:
        self._number = 0

    def feed(self, line: bytes) -> list[Row]:
        """The row this line holds, if it is not blank."""
        self._number += 1
        line = _strip_newline(line)
        if self._number == 1:
            line = line.removeprefix(_BOM)
        if not line.strip():
            return []
        return [self._parse(line)]

    def close(self) -> list[Row]:
        """NDJSON has no state across lines."""
        return []

    def _parse(self, line: bytes) -> Row:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return _row_error(self._number, "is not valid UTF-8")
        try:
            if text.startswith("\ufeff"):  # as json.loads says it
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
            data = _DECODER.decode(text)
        except json.JSONDecodeError as exc:
            return _row_error(self._number, f"is not valid JSON: {exc.msg} (column {exc.colno})")
        except ValueError as exc:
            return _row_error(self._number, f"is not valid JSON: {exc}")
        except RecursionError:
            return _row_error(self._number, "is not valid JSON: nested too deeply")
        if not isinstance(data, dict):
            return _row_error(self._number, "must be a JSON object")
        return Row(self._number, data, [])


# --- CSV ---------------------------------------------------------------------------------

# Header names reduced by _alias_key (lower-case, letters and digits only) -> lead field.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "workemail", "businessemail"),
    "first_name": ("firstname", "givenname", "forename", "first"),
    "last_name": ("lastname", "surname", "familyname", "last"),
    "company": ("company", "companyname", "organization", "organisation", "account"),
    "job_title": ("jobtitle", "title", "position", "role"),
    "phone": ("phone", "phonenumber", "mobile", "mobilephone", "telephone", "tel", "cell"),
    "country": ("country", "countrycode", "countryname"),
    "source": ("source", "leadsource"),
    "campaign_id": ("campaign", "campaignid"),
}
UTM_ALIASES = {f"utm{part}": f"utm_{part}" for part in ("source", "medium", "campaign", "term")}
UTM_ALIASES["utmcontent"] = "utm_content"
TOUCH_ALIASES = {"touchtype": "type", "touchat": "at", "touchdetail": "detail"}

_ALIAS_TO_FIELD = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,14})\.[0-9]{1,15}")
_DELIMITERS = (",", ";", "\t")

Column = tuple[Literal["field", "utm", "touch", "consent", "attribute"], str]


def _fold(header: str) -> str:
    """Lower-case ASCII approximation, so "Société" and "SOCIETE" read alike."""
    decomposed = unicodedata.normalize("NFKD", header.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _alias_key(header: str) -> str:
    """Case, space and punctuation do not matter in header names."""
    return _NON_ALNUM.sub("", _fold(header))


def slugify(header: str, index: int) -> str:
    """An attribute key (`^[a-z][a-z0-9_]{0,63}$`) for an unknown column's header."""
    slug = _NON_ALNUM.sub("_", _fold(header)).strip("_")
    if not slug:
        return f"column_{index + 1}"
    if not slug[0].isalpha():
        slug = f"column_{slug}"
    return slug[:64].rstrip("_")


def column_for(header: str, index: int) -> Column:
    """Where a column's cells go in the lead: a field, utm, the touch, consent or attributes."""
    key = _alias_key(header)
    if key in _ALIAS_TO_FIELD:
        return ("field", _ALIAS_TO_FIELD[key])
    if key in UTM_ALIASES:
        return ("utm", UTM_ALIASES[key])
    if key in TOUCH_ALIASES:
        return ("touch", TOUCH_ALIASES[key])
    slug = slugify(header, index)
    if slug.startswith("consent_") and len(slug) > len("consent_"):
        return ("consent", slug.removeprefix("consent_"))
    return ("attribute", slug)


def attribute_value(cell: str) -> str | int | float | bool:
    """Typed like JSON would be, so rules can compare numbers; zip codes like 01234 stay text."""
    if _INTEGER.fullmatch(cell):
        return int(cell)
    if _DECIMAL.fullmatch(cell):
        return float(cell)
    lowered = cell.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return cell


def guess_delimiter(header_line: str) -> str:
    """Excel writes ";" where "," is the decimal mark, and some tools write tabs."""
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _ends_inside_quotes(line: str, inside: bool, delimiter: str) -> bool:
    """Whether a quoted field is still open at the end of this line (RFC 4180 quoting)."""
    if not inside and '"' not in line:
        return False
    at_field_start = not inside
    after_quote = False
    for char in line:
        if inside:
            if char == '"':
                inside, after_quote = False, True
        elif after_quote and char == '"':
            inside, after_quote = True, False  # "" is an escaped quote
        else:
            after_quote = False
            if char == delimiter:
                at_field_start = True
            elif char == '"' and at_field_start:
                inside = True
            else:
                at_field_start = False
    return inside


class CsvParser:
    """A header line, then one lead per record; quoted fields may span lines."""

    def __init__(self) -> None:
        self._number = 0
        self._delimiter: str | None = None
        self._columns: list[Column] | None = None
        self._failed = False
        self._pending: list[str] = []
        self._pending_start = 0
        self._pending_chars = 0
        self._pending_bad_utf8 = False
        self._inside_quotes = False

    def feed(self, line: bytes) -> list[Row]:
        """The row this line completes, if any."""
        self._number += 1
        line = _strip_newline(line)
        if self._number == 1:
            line = line.removeprefix(_BOM)
        if self._failed or (not self._pending and not line.strip()):
            return []
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("utf-8", errors="replace")
            self._pending_bad_utf8 = True
        if self._delimiter is None:
            self._delimiter = guess_delimiter(text)
        if not self._pending:
            self._pending_start = self._number
        self._pending.append(text)
        self._pending_chars += len(text) + 1
        self._inside_quotes = _ends_inside_quotes(text, self._inside_quotes, self._delimiter)
        if self._pending_chars > MAX_RECORD_CHARS:
            self._inside_quotes = False
            return self._finish(f"is longer than {MAX_RECORD_CHARS} characters")
        return [] if self._inside_quotes else self._finish(None)

    def close(self) -> list[Row]:
        """A record still open at the end of the file has a quote that never closed."""
        if not self._pending or self._failed:
            return []
        return self._finish("has a quoted field that is never closed")

    def _finish(self, problem: str | None) -> list[Row]:
        """Parse the record collected so far and reset for the next one."""
        number, lines, bad_utf8 = self._pending_start, self._pending, self._pending_bad_utf8
        self._pending, self._pending_chars, self._pending_bad_utf8 = [], 0, False
        if problem is None and bad_utf8:
            problem = "is not valid UTF-8 (save the file as UTF-8)"
        if problem is not None:
            return self._header_or_row_error(number, problem)
        try:
            records = csv.reader(
                [f"{text}\n" for text in lines], delimiter=self._delimiter or ",", strict=True
            )
            cells = next(records)
        except csv.Error as exc:
            return self._header_or_row_error(number, f"is not valid CSV: {exc}")
        if self._columns is None:
            return self._read_header(number, cells)
        row = self._record(number, cells, self._columns)
        return [] if row is None else [row]

    def _header_or_row_error(self, number: int, message: str) -> list[Row]:
        """A broken header spoils every row after it, so the parse stops there."""
        if self._columns is None:
            self._failed = True
        return [_row_error(number, message)]

    def _read_header(self, number: int, headers: list[str]) -> list[Row]:
        """Map each header to a column; duplicates or no email column stop the upload."""
        columns = [column_for(header, i) for i, header in enumerate(headers)]
        first_header: dict[Column, str] = {}
        for header, column in zip(headers, columns, strict=True):
            if column in first_header:
                return self._header_or_row_error(
                    number,
                    f"columns {first_header[column]!r} and {header!r} both fill "
                    f"{column[1] if column[0] == 'field' else ' '.join(column)}",
                )
            first_header[column] = header
        if ("field", "email") not in first_header:
            aliases = ", ".join(FIELD_ALIASES["email"])
            return self._header_or_row_error(
                number, f"the header has no email column (accepted names: {aliases})"
            )
        self._columns = columns
        return []

    def _record(self, number: int, cells: list[str], columns: list[Column]) -> Row | None:
        """The raw mapping of one record; empty cells are left out."""
        if len(cells) > len(columns) and not any(c.strip() for c in cells[len(columns) :]):
            cells = cells[: len(columns)]  # trailing empty cells some spreadsheets write
        if not any(c.strip() for c in cells):
            return None  # a row of empty cells, as spreadsheets leave below the data
        if len(cells) != len(columns):
            return _row_error(number, f"has {len(cells)} columns; the header has {len(columns)}")
        data: dict[str, Any] = {}
        touch: dict[str, str] = {}
        for (kind, key), cell in zip(columns, cells, strict=True):
            value = cell.strip()
            if not value:
                continue
            if kind == "field":
                data[key] = value
            elif kind == "touch":
                touch[key] = value
            elif kind == "attribute":
                data.setdefault("attributes", {})[key] = attribute_value(value)
            else:
                data.setdefault(kind, {})[key] = value
        if touch:
            data["touches"] = [touch]
        return Row(number, data, [])


class BatchParser:
    """Body chunks in, rows out: what an upload endpoint drives from a streamed request."""

    def __init__(self, kind: BatchFormat, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._lines = LineSplitter(max_line_bytes=max_line_bytes)
        self._rows: NdjsonParser | CsvParser = NdjsonParser() if kind == "ndjson" else CsvParser()

    def feed(self, chunk: bytes) -> list[Row]:
        """Rows completed by this chunk; raises LineTooLong for an abusive line."""
        return [row for line in self._lines.feed(chunk) for row in self._rows.feed(line)]

    def close(self) -> list[Row]:
        """Rows completed by the end of the body."""
        rows = [row for line in self._lines.close() for row in self._rows.feed(line)]
        return rows + self._rows.close()


def batch_format(content_type: str | None) -> BatchFormat | None:
    """The parser for a Content-Type header, or None when the type is not a batch format."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        return "ndjson"
    if media in ("text/csv", "application/csv"):
        return "csv"
    return None


def _drive(parser: NdjsonParser | CsvParser, lines: Iterable[bytes]) -> Iterator[Row]:
    """Feed lines one at a time so only the current record is held."""
    for line in lines:
        yield from parser.feed(line)
    yield from parser.close()


def iter_ndjson(lines: Iterable[bytes]) -> Iterator[Row]:
    """Rows of an NDJSON body, given its lines (with or without their newlines)."""
    return _drive(NdjsonParser(), lines)


def iter_csv(lines: Iterable[bytes]) -> Iterator[Row]:
    """Rows of a CSV body, given its lines (with or without their newlines)."""
    return _drive(CsvParser(), lines)


def split_lines(
    chunks: Iterable[bytes], *, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[bytes]:
    """Sync convenience over LineSplitter, for files and tests."""
    splitter = LineSplitter(max_line_bytes=max_line_bytes)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.close()
