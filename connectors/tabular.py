"""Read CSV and workbook files as text rows (format sniffing, decoding, header detection) into Parquet."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import itertools
import math
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal
from xml.etree import ElementTree

import charset_normalizer
import pyarrow as pa
import pyarrow.parquet as pq
import python_calamine

from moisson.core.errors import RejectedError
from moisson.core.ids import fold_accents

Kind = Literal["csv", "xlsx", "xls", "ods"]
Row = list[str | None]

#: Delimiters tried, in order of preference when two fit a file equally well.
DELIMITERS = (";", ",", "\t", "|")
#: Rows looked at to find the header below title lines.
HEADER_SCAN_ROWS = 30
#: Rows per Parquet row group: bounds memory on million-row files.
CHUNK_ROWS = 65_536
#: Bytes read to sniff a file's format, encoding and delimiter.
SAMPLE_BYTES = 64 * 1024
#: Tried when a file is neither UTF-8 nor cp1252; charset-normalizer picks among them.
LEGACY_ENCODINGS = ("mac_roman", "cp850", "iso8859_15")
#: Sheets that document a workbook rather than hold its data, skipped when no sheet is named.
NOTICE_SHEET = re.compile(r"\b(notice|lisez[- ]?moi|read[- ]?me|documentation|metadonnees|metadata|legende"
                          r"|sommaire|mode d.emploi|dictionnaire|a propos)\b")

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_GZIP_MAGIC = b"\x1f\x8b"
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "utf-8 with BOM"),
         (codecs.BOM_UTF16_LE, "utf-16", "utf-16 with BOM"),
         (codecs.BOM_UTF16_BE, "utf-16", "utf-16 with BOM"))
_NOT_TABULAR = ((b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"))
_MARKUP = re.compile(rb"^\s*<(\?xml|!doctype html|html|table)", re.IGNORECASE)
_KIND_LABELS: dict[Kind, str] = {"csv": "CSV", "xlsx": "Excel workbook (xlsx)",
                                  "xls": "Excel 97-2003 workbook (xls)", "ods": "OpenDocument spreadsheet (ods)"}


@dataclass(frozen=True)
class Sniffed:
    """The real format of a file, whatever its extension says.

    Attributes:
        kind: `csv` for delimited text, else the workbook format.
        gzipped: The file is gzip-compressed (`.csv.gz`).
    """

    kind: Kind
    gzipped: bool = False

    @property
    def label(self) -> str:
        """Human name of the format, for notes and messages."""
        return ("gzip-compressed " if self.gzipped else "") + _KIND_LABELS[self.kind]


@dataclass(frozen=True)
class ReadOptions:
    """What the catalog says about how to read one file (all optional: detected otherwise)."""

    sheet: int | str | None = None
    header_row: int | None = None
    encoding: str | None = None
    delimiter: str | None = None


@dataclass
class TableResult:
    """What `read_table` wrote.

    Attributes:
        rows: Data rows written.
        first_row: Row number, in the file, of the first data row.
        columns: Column names, after renaming duplicates and blanks.
        row_gaps: `(position, skipped)` pairs: rows of the file left out before the data row at `position`.
        notes: What the data officer should know about the reading.
        title: Title from the workbook's document properties, if set.
    """

    rows: int
    first_row: int
    columns: list[str]
    notes: list[str] = field(default_factory=list)
    row_gaps: tuple[tuple[int, int], ...] = ()
    title: str | None = None


def sniff(path: Path, name: str) -> Sniffed:
    """Tell the file's format from its first bytes (zip and OLE2 magic, gzip, text).

    Args:
        path: The file.
        name: How to call the file in messages (its path relative to the source root).

    Raises:
        RejectedError: The file is empty, or is not a workbook nor delimited text.
    """
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    if not head:
        raise RejectedError(f"{name} is empty (0 bytes): export the data again and replace the file")
    if not head.startswith(_GZIP_MAGIC):
        return Sniffed(_sniff_bytes(head, name, lambda: zipfile.ZipFile(path)))
    with gzip.open(path, "rb") as gz:
        head = _gunzip(lambda: gz.read(SAMPLE_BYTES), name)
        if not head:
            raise RejectedError(f"{name} is a compressed file holding nothing: export the data again")
        return Sniffed(_sniff_bytes(head, name, lambda: zipfile.ZipFile(io.BytesIO(head + gz.read()))), True)


def _sniff_bytes(head: bytes, name: str, open_zip: Any) -> Kind:
    if head.startswith(_OLE2_MAGIC):
        return "xls"
    if head.startswith(_ZIP_MAGIC):
        try:
            with open_zip() as archive:
                names = set(archive.namelist())
                mimetype = archive.read("mimetype").decode("ascii", "replace") if "mimetype" in names else ""
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise RejectedError(f"{name} looks like a workbook but is damaged: open it in Excel or LibreOffice, "
                                "save it again and replace the file") from exc
        if "content.xml" in names and "spreadsheet" in mimetype:
            return "ods"
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
        what = "a text document, not a spreadsheet" if mimetype or any(n.startswith("word/") for n in names) \
            else "a zip archive"
        raise RejectedError(f"{name} is {what}: point `path` in the catalog at the spreadsheet itself "
                            "(unzip it first if needed)")
    for magic, what in _NOT_TABULAR:
        if head.startswith(magic):
            raise RejectedError(f"{name} is {what}, not a spreadsheet: point `path` at the CSV or workbook")
    if _MARKUP.match(head):
        raise RejectedError(f"{name} is an HTML or XML page saved under a spreadsheet name: open it in Excel "
                            "or LibreOffice and save it as .xlsx, .ods or .csv")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RejectedError(f"{name} is neither a spreadsheet nor a text file (binary content): "
                            "check the file, or export the data again as .xlsx, .ods or .csv")
    return "csv"


def looks_delimited(path: Path, sniffed: Sniffed) -> bool:
    """Whether a text file of unknown purpose (`.txt`, no extension) holds a delimited table."""
    if sniffed.kind != "csv":
        return True
    with _open_bytes(path, sniffed.gzipped) as fh:
        head = fh.read(SAMPLE_BYTES)
    encoding = next((codec for bom, codec, _ in _BOMS if head.startswith(bom)), "utf-8")
    found = sniff_delimiter(_sample_text(head, encoding, errors="replace"))
    return found is not None and found[1] >= 0.8


def sniff_delimiter(sample: str) -> tuple[str, float] | None:
    """Find the delimiter that splits most lines of `sample` into the same number (≥ 2) of fields.

    Returns:
        The delimiter and the share of non-blank lines having the usual field count,
        or None when no candidate splits the lines.
    """
    best: tuple[str, float] | None = None
    best_score = (0.0, 0)
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter)
                  if any(cell.strip() for cell in row)]
        if not counts:
            continue
        usual, seen = Counter(counts).most_common(1)[0]
        score = (seen / len(counts), usual)
        if usual >= 2 and score > best_score:
            best, best_score = (delimiter, score[0]), score
    return best


def read_table(path: Path, out: Path, options: ReadOptions, *, name: str,
               sniffed: Sniffed | None = None) -> TableResult:
    """Read a CSV or workbook as text and write it to `out` as Parquet (every column `string`).

    Args:
        path: The file.
        out: Parquet file to write (replaced if present; never left half-written).
        options: Sheet, header row, encoding and delimiter from the catalog.
        name: How to call the file in messages.
        sniffed: The format, when the caller already sniffed it.

    Raises:
        RejectedError: Unreadable or damaged file, missing sheet, undecodable text, no header.
    """
    sniffed = sniffed or sniff(path, name)
    notes: list[str] = []
    title = None
    if sniffed.kind == "csv":
        ignored = ["sheet"] if options.sheet is not None else []
        rows, where = _csv_rows(path, sniffed.gzipped, options, name, notes)
    else:
        ignored = [key for key in ("encoding", "delimiter") if getattr(options, key) is not None]
        data = _workbook_bytes(path, sniffed.gzipped, name)
        title = _document_title(data, sniffed.kind)
        rows, where = _workbook_rows(data, sniffed.kind, options.sheet, name, notes)
    notes.insert(0, f"read as {sniffed.label}")
    if ignored:
        notes.append(f"{', '.join(ignored)} from the catalog ignored: {name} is {sniffed.label}")
    tmp = out.with_name(f".{out.name}.part")
    try:
        result = _write_table(rows, tmp, options.header_row, where, notes)
        tmp.replace(out)
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()
        with suppress(FileNotFoundError):
            tmp.with_name(tmp.name + ".wide").unlink()
    result.title = title
    return result


# --- CSV -------------------------------------------------------------------------------------------------

def _open_bytes(path: Path, gzipped: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if gzipped else path.open("rb")


def _gunzip(read: Any, name: str) -> Any:
    try:
        return read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise RejectedError(f"{name} is a damaged compressed (gzip) file: compress it again or "
                            "put the uncompressed file instead") from exc


def _sample_text(head: bytes, encoding: str, errors: str = "strict") -> str:
    """Decode the first bytes of a file, ignoring a character cut at the end of the sample."""
    text = codecs.getincrementaldecoder(encoding)(errors=errors).decode(head, final=False)
    if len(head) >= SAMPLE_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def _first_bad_byte(path: Path, gzipped: bool, encoding: str, name: str) -> tuple[int, int] | None:
    """Return (line, byte) of the first byte `encoding` cannot decode, or None if the whole file decodes."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    with _open_bytes(path, gzipped) as fh:
        while True:
            chunk = _gunzip(lambda: fh.read(1 << 20), name)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = max(exc.start - pending, 0)
                return line + chunk[:at].count(b"\n"), chunk[at] if at < len(chunk) else 0
            if not chunk:
                return None
            line += chunk.count(b"\n")


def _detect_encoding(path: Path, gzipped: bool, head: bytes, name: str) -> tuple[str, str]:
    """Return the codec to read the file with and how it was chosen.

    UTF-8 is tried strictly on the whole file first, then cp1252 (which French Windows writes, and
    which gives `€ œ ’` where latin-1 gives control characters); charset-normalizer only breaks ties
    among rarer legacy encodings, being unreliable on short French text.
    """
    for bom, codec, description in _BOMS:
        if head.startswith(bom):
            return codec, f"encoding {description} (detected)"
    for codec in ("utf-8", "cp1252"):
        if _first_bad_byte(path, gzipped, codec, name) is None:
            return codec, f"encoding {codec} (detected)"
    guess = charset_normalizer.from_bytes(head, cp_isolation=list(LEGACY_ENCODINGS)).best()
    if guess is not None and _first_bad_byte(path, gzipped, guess.encoding, name) is None:
        return guess.encoding, (f"encoding {guess.encoding} (guessed: check the accents, and set "
                                "`encoding` in the catalog if they look wrong)")
    return "latin-1", ("encoding latin-1 (fallback: the file is neither utf-8 nor cp1252; check the "
                       "accents and set `encoding` in the catalog if they look wrong)")


def _csv_rows(path: Path, gzipped: bool, options: ReadOptions, name: str,
              notes: list[str]) -> tuple[Iterator[tuple[int, Row]], str]:
    with _open_bytes(path, gzipped) as fh:
        head = _gunzip(lambda: fh.read(SAMPLE_BYTES), name)
    if options.encoding:
        encoding = options.encoding
        if codecs.lookup(encoding).name == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        bad = _first_bad_byte(path, gzipped, encoding, name)
        if bad:
            raise RejectedError(f"{name} cannot be read as {options.encoding}: byte 0x{bad[1]:02X} on line "
                                f"{bad[0]} is not valid in it; remove `encoding` from the catalog to let "
                                "moisson detect it, or save the file again as UTF-8")
        notes.append(f"encoding {options.encoding} (from the catalog)")
    else:
        encoding, note = _detect_encoding(path, gzipped, head, name)
        notes.append(note)
    sample = _sample_text(head, encoding)
    if _is_binary_text(sample):
        raise RejectedError(f"{name} is neither a spreadsheet nor a text file (control characters): "
                            "check the file, or export the data again as .xlsx, .ods or .csv")
    delimiter = options.delimiter
    if delimiter:
        notes.append(f"delimiter {delimiter!r} (from the catalog)")
    else:
        found = sniff_delimiter(sample)
        delimiter = found[0] if found else ","
        notes.append(f"delimiter {delimiter!r} (detected)" if found
                     else "no delimiter found (; , tab |): read as a single column")
    return _iter_csv(path, gzipped, encoding, delimiter, name), name


def _is_binary_text(sample: str) -> bool:
    control = sum(1 for char in sample if char < " " and char not in "\t\r\n\f")
    return control > max(2, len(sample) // 100)


def _iter_csv(path: Path, gzipped: bool, encoding: str, delimiter: str, name: str) -> Iterator[tuple[int, Row]]:
    """Yield (record number, cells): the record number is the row a spreadsheet program shows."""
    # Cells holding GeoJSON exceed the csv module's default 128 KiB field limit.
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    with _open_bytes(path, gzipped) as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        reader = csv.reader(text, delimiter=delimiter)
        number = 0
        try:
            for number, record in enumerate(reader, start=1):
                yield number, [cell.rstrip("\r") or None for cell in record]
        except csv.Error as exc:
            raise RejectedError(f"{name} cannot be read as CSV after row {number}: {exc}; open it in a "
                                "spreadsheet program and save it again as CSV") from exc
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise RejectedError(f"{name} is a damaged compressed (gzip) file (after row {number}): "
                                "compress it again or put the uncompressed file instead") from exc


# --- Workbooks -------------------------------------------------------------------------------------------

def _workbook_bytes(path: Path, gzipped: bool, name: str) -> bytes:
    with _open_bytes(path, gzipped) as fh:
        return _gunzip(fh.read, name)


def _document_title(data: bytes, kind: Kind) -> str | None:
    """Title from the document properties (xlsx `docProps/core.xml`, ods `meta.xml`); none for xls."""
    member = {"xlsx": "docProps/core.xml", "ods": "meta.xml"}.get(kind)
    if member is None:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            root = ElementTree.fromstring(archive.read(member))
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return None
    title = root.findtext(".//{http://purl.org/dc/elements/1.1/}title")
    return title.strip() if title and title.strip() else None


def _workbook_rows(data: bytes, kind: Kind, sheet: int | str | None, name: str,
                   notes: list[str]) -> tuple[Iterator[tuple[int, Row]], str]:
    label = _KIND_LABELS[kind]
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = book.sheet_names
        if sheet is None:
            chosen, loaded = _first_data_sheet(book, name)
        else:
            chosen = _named_sheet(names, sheet, name)
            loaded = book.get_sheet_by_name(chosen)
        rows = loaded.iter_rows()
    except python_calamine.PasswordError as exc:
        raise RejectedError(f"{name} is password-protected: save a copy without the password "
                            "and replace the file") from exc
    except python_calamine.CalamineError as exc:
        raise RejectedError(f"{name} cannot be read as an {label}: it is damaged or password-protected; "
                            "open it in Excel or LibreOffice, save it again and replace the file") from exc
    others = [n for n in names if n != chosen]
    how = "from the catalog" if sheet is not None else "first sheet with data"
    notes.append(f"sheet {chosen!r} used ({how})"
                 + (f"; other sheets: {', '.join(map(repr, others))}" if others else ""))
    # calamine starts iter_rows at the sheet's first row even when it is empty: numbers are Excel's.
    texts = ((number, [_cell_text(v) for v in row]) for number, row in enumerate(rows, start=1))
    return texts, f"sheet {chosen!r} of {name}"


def _named_sheet(names: list[str], sheet: int | str, name: str) -> str:
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        return names[sheet]
    if str(sheet) in names:  # `sheet: 2023` in YAML is an int but may name a sheet
        return str(sheet)
    listed = ", ".join(f"{i}: {n!r}" for i, n in enumerate(names))
    raise RejectedError(f"{name} has no sheet {sheet!r}; its sheets are {listed}. Fix `sheet` in the "
                        "catalog (a sheet name, or its number counted from 0)")


def _first_data_sheet(book: python_calamine.CalamineWorkbook, name: str) -> tuple[str, Any]:
    """Pick the first visible worksheet with data, after any notice or read-me sheet."""
    def rank(item: tuple[int, Any]) -> tuple[int, int]:
        index, meta = item
        hidden = meta.visible != python_calamine.SheetVisibleEnum.Visible
        notice = bool(NOTICE_SHEET.search(fold_accents(meta.name)))
        return (2 if hidden else int(notice), index)

    sheets = [m for m in book.sheets_metadata if m.typ == python_calamine.SheetTypeEnum.WorkSheet]
    for _, meta in sorted(enumerate(sheets), key=rank):
        loaded = book.get_sheet_by_name(meta.name)
        if loaded.start is not None:
            return meta.name, loaded
    raise RejectedError(f"{name} has no data: every sheet is empty")


def _cell_text(value: Any) -> str | None:
    """Text of a workbook cell as the officer sees it (`01001`, `32402138500000`, `2023-12-31`)."""
    if isinstance(value, str):
        return value.rstrip("\r") or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        # Excel keeps 15 significant digits: 0.1+0.2 is stored 0.30000000000000004 and shown 0.3.
        value = float(format(value, ".15g"))
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.timedelta):
        minutes, seconds = divmod(round(value.total_seconds()), 60)
        return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# --- Table -----------------------------------------------------------------------------------------------

def _is_blank(cells: Row) -> bool:
    return not any(cells) or all(cell is None or cell.isspace() for cell in cells)


def _find_header(rows: Iterator[tuple[int, Row]], header_row: int | None,
                 where: str) -> tuple[int, Row, list[tuple[int, Row]], list[tuple[int, Row]]]:
    """Return the header's row number and cells, the rows skipped above it and the rows read past it."""
    if header_row is not None:
        above = []
        for number, cells in rows:
            if number == header_row:
                if _is_blank(cells):
                    raise RejectedError(f"row {header_row} of {where} is empty, yet `header_row` says the "
                                        "column names are there: fix `header_row` in the catalog")
                return number, cells, above, []
            above.append((number, cells))
        raise RejectedError(f"{where} has only {len(above)} rows, but `header_row` is {header_row}: "
                            "fix `header_row` in the catalog")
    scanned: list[tuple[int, Row]] = []
    filled_rows = 0
    for number, cells in rows:
        scanned.append((number, cells))
        filled_rows += not _is_blank(cells)
        if filled_rows >= HEADER_SCAN_ROWS:
            break
    counts = [sum(1 for c in cells if c is not None and not c.isspace()) for _, cells in scanned]
    if not any(counts):
        raise RejectedError(f"{where} has no data: every row is empty")
    widest = max(counts)
    # Title lines ("Commune de X — subventions 2023") fill one or two cells; the header fills most.
    needed = max(math.ceil(widest / 2), min(widest, 2))
    at = next(i for i, count in enumerate(counts) if count >= needed)
    number, cells = scanned[at]
    return number, cells, scanned[:at], scanned[at + 1:]


def _labels(header: Row, notes: list[str]) -> tuple[list[str], list[str]]:
    """Return the column names (unique, none blank) and the raw labels, trailing blank labels cut."""
    raw = [(cell or "").strip().lstrip("\ufeff").strip() for cell in header]
    while raw and not raw[-1]:
        raw.pop()
    names: list[str] = []
    unnamed = []
    for position, label in enumerate(raw, start=1):
        if not label:
            unnamed.append(position)
        names.append(label or f"column_{position}")
    if unnamed:
        notes.append(f"column(s) {', '.join(map(str, unnamed))} have no label in the header: named "
                     f"{', '.join(f'column_{p}' for p in unnamed)}")
    names = _unique(names, notes)
    return names, raw


def _unique(names: list[str], notes: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    taken = set(names)
    result = []
    for label in names:
        seen[label] += 1
        if seen[label] == 1:
            result.append(label)
            continue
        copy = seen[label]
        while f"{label}.{copy}" in taken:
            copy += 1
        renamed = f"{label}.{copy}"
        taken.add(renamed)
        result.append(renamed)
        notes.append(f"duplicate column label {label!r}: the copy in column {len(result)} is renamed "
                     f"{renamed!r} (both are kept; the header must have unique labels)")
    return result


def _rows_text(numbers: list[int], count: int) -> str:
    shown = ", ".join(map(str, numbers))
    return f"{shown} and {count - len(numbers)} more" if count > len(numbers) else shown


class _ParquetTable:
    """Writes text rows to Parquet in row groups; values past the header go to `column_N` columns."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path, self.columns, self.width = path, columns, len(columns)
        self.schema = pa.schema([(c, pa.string()) for c in columns])
        self.writer = pq.ParquetWriter(path, self.schema)
        self.chunk: list[Row] = []
        self.rows = 0
        # Extra values of rows longer than the header, by data row index: usually a handful.
        self.overflow: dict[int, dict[int, str]] = {}
        self.long_rows: list[int] = []
        self.long_count = 0

    def add(self, number: int, cells: Row) -> None:
        if len(cells) > self.width:
            extra = {pos: value for pos, value in enumerate(cells[self.width:], start=self.width)
                     if value is not None}
            if extra:
                self.overflow[self.rows] = extra
                self.long_count += 1
                if len(self.long_rows) < 5:
                    self.long_rows.append(number)
            cells = cells[: self.width]
        elif len(cells) < self.width:
            cells = cells + [None] * (self.width - len(cells))
        self.chunk.append(cells)
        self.rows += 1
        if len(self.chunk) >= CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.chunk:
            columns = [pa.array(values, pa.string()) for values in zip(*self.chunk, strict=True)]
            self.writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))
            self.chunk = []

    def close(self, notes: list[str]) -> list[str]:
        """Finish the file; return the final column names."""
        self._flush()
        self.writer.close()
        if not self.overflow:
            return self.columns
        last = max(max(extra) for extra in self.overflow.values())
        names = _unique([*self.columns, *(f"column_{p + 1}" for p in range(self.width, last + 1))], [])
        added = names[self.width:]
        notes.append(f"row(s) {_rows_text(self.long_rows, self.long_count)} have more values than the header "
                     f"has columns: the extra values are kept in {', '.join(added)} (check for a missing "
                     "label or a delimiter inside an unquoted value)")
        self._add_columns(names)
        return names

    def _add_columns(self, names: list[str]) -> None:
        """Rewrite the file with the overflow columns, one row group at a time."""
        wide = self.path.with_name(self.path.name + ".wide")
        schema = pa.schema([(c, pa.string()) for c in names])
        offset = 0
        with pq.ParquetWriter(wide, schema) as writer:
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=CHUNK_ROWS):
                extra = [pa.array([self.overflow.get(offset + i, {}).get(pos) for i in range(batch.num_rows)],
                                  pa.string()) for pos in range(self.width, len(names))]
                writer.write_batch(pa.RecordBatch.from_arrays([*batch.columns, *extra], schema=schema))
                offset += batch.num_rows
        os.replace(wide, self.path)


def _write_table(rows: Iterator[tuple[int, Row]], out: Path, header_row: int | None, where: str,
                 notes: list[str]) -> TableResult:
    number, header, above, replay = _find_header(rows, header_row, where)
    if above:
        skipped = [" ".join(c.strip() for c in cells if c) for _, cells in above if not _is_blank(cells)]
        shown = f": {skipped[0][:80]!r}" if skipped else ""
        span = f"row {above[0][0]}" if len(above) == 1 else f"rows {above[0][0]}–{above[-1][0]}"
        notes.append(f"header found on row {number}; {span} above it skipped{shown} "
                     "(set `header_row` in the catalog if this is wrong)")
    else:
        notes.append(f"header found on row {number}")
    columns, raw = _labels(header, notes)
    table = _ParquetTable(out, columns)
    blank = 0
    repeated: list[int] = []
    repeated_count = 0
    first_row = None
    gaps: list[tuple[int, int]] = []
    skipped_so_far = 0
    for row_number, cells in itertools.chain(replay, rows):
        if _is_blank(cells):
            blank += 1
        elif cells[0] is not None and cells[0].strip() == raw[0] and _is_header_copy(cells, raw):
            repeated_count += 1
            if len(repeated) < 5:
                repeated.append(row_number)
        else:
            first_row = first_row or row_number
            expected = first_row + table.rows + skipped_so_far
            if row_number != expected:
                gaps.append((table.rows, row_number - expected))
                skipped_so_far += row_number - expected
            table.add(row_number, cells)
    columns = table.close(notes)
    if repeated_count:
        notes.append(f"header repeated on row(s) {_rows_text(repeated, repeated_count)}: "
                     f"{repeated_count} row(s) dropped")
    if blank:
        notes.append(f"{blank} blank row(s) dropped")
    return TableResult(rows=table.rows, first_row=first_row or number + 1, columns=columns, notes=notes,
                       row_gaps=tuple(gaps))


def _is_header_copy(cells: Row, raw: list[str]) -> bool:
    stripped = [(c or "").strip() for c in cells]
    return stripped[: len(raw)] == raw and not any(stripped[len(raw):])
