"""Read CSV and workbook files as text columns into Parquet: structure found on a sample, the bulk read in C.

A CSV's encoding, delimiter and header are detected on its first 64 KiB; pyarrow's streaming CSV
reader then parses the rest block by block (memory stays proportional to a block) and the clean-up
(blank rows, repeated headers, ragged rows, NUL bytes) is done on Arrow arrays. Workbooks are read by
calamine, after their zip members were measured against an inflation cap. Whatever does not fit the
header is kept and reported with its row numbers (`Extract.findings`), never dropped in silence.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import math
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from moisson.connectors.base import FindingKind, RowFinding
from moisson.core.errors import RejectedError, UnavailableError
from moisson.core.ids import fold_accents
from moisson.core.lazy import lazy
from moisson.core.notes import Note, rows_note

# `moisson check` loads the spreadsheet source for its `Config`: the readers are imported when a file is read.
if TYPE_CHECKING:
    from xml.etree import ElementTree

    import charset_normalizer
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    import python_calamine
else:
    charset_normalizer, python_calamine = lazy("charset_normalizer"), lazy("python_calamine")
    ElementTree = lazy("xml.etree.ElementTree")
    np, pa, pc, pacsv, pq = lazy("numpy"), lazy("pyarrow"), lazy("pyarrow.compute"), lazy("pyarrow.csv"), \
        lazy("pyarrow.parquet")

Kind = Literal["csv", "xlsx", "xls", "ods"]
Row = list[str | None]

#: Delimiters tried, in order of preference when two fit a file equally well.
DELIMITERS = (";", ",", "\t", "|")
#: Rows looked at to find the header below title lines.
HEADER_SCAN_ROWS = 30
#: Rows per Parquet row group (and per workbook chunk).
CHUNK_ROWS = 65_536
#: Bytes of CSV parsed per block. pyarrow's streaming reader reads up to a few dozen blocks ahead, so a
#: CSV read holds about 40 blocks in memory, whatever the file's size.
BLOCK_BYTES = 1 << 20
#: Bytes read to sniff a file's format, encoding, delimiter and header.
SAMPLE_BYTES = 64 * 1024
#: Row numbers kept per finding (the count is always exact).
FINDING_ROWS = 10_000
#: Default bound on what one workbook member may inflate to, and on its compression ratio.
MAX_MEMBER_BYTES = 1 << 30
MAX_RATIO = 200
#: Bytes a document-properties member may hold before its title is ignored.
MAX_METADATA_BYTES = 1 << 20
#: Tried when a file is neither UTF-8 nor cp1252; charset-normalizer picks among them.
LEGACY_ENCODINGS = ("mac_roman", "cp850", "iso8859_15")
#: Sheets that document a workbook rather than hold its data, skipped when no sheet is named.
NOTICE_SHEET = re.compile(r"\b(notice|lisez[- ]?moi|read[- ]?me|documentation|metadonnees|metadata|legende"
                          r"|sommaire|mode d.emploi|dictionnaire|a propos)\b")
#: Words a type row of a multi-row header holds (ministry "DiDo" exports: label, type, unit, name).
TYPE_WORDS = frozenset({
    "string", "integer", "number", "boolean", "date", "datetime", "time", "year", "yearmonth", "duration",
    "geopoint", "geojson", "object", "array", "any", "text", "texte", "entier", "nombre", "decimal", "reel",
    "booleen", "float", "int", "double", "str", "chaine", "caractere", "numeric", "numerique", "date/heure",
    "annee", "mois", "heure", "n_int", "n_float", "varchar", "char", "bigint", "smallint", "real",
})
_SIZED_TYPE = re.compile(r"^(varchar|char|numeric|decimal|number|n)\s*\(\s*\d+(\s*,\s*\d+)?\s*\)$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_GZIP_MAGIC = b"\x1f\x8b"
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "utf-8"), (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16", "utf-16"))
_NOT_TABULAR = ((b"%PDF", "un document PDF"), (b"\x89PNG", "une image PNG"), (b"\xff\xd8\xff", "une image JPEG"))
_MARKUP = re.compile(rb"^\s*<(\?xml|!doctype html|html|table)", re.IGNORECASE)
_XML_ENTITY = re.compile(rb"<!(DOCTYPE|ENTITY)")
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

    @property
    def note(self) -> Note:
        """The format's name in a note, said in the report's language."""
        kind = Note(f"format.{self.kind}")
        return Note("format.gzip", format=kind) if self.gzipped else kind


@dataclass(frozen=True)
class ReadOptions:
    """What the catalog says about how to read one file (all optional: detected otherwise).

    Attributes:
        sheet: Sheet name or number (workbooks).
        header_row: Row of the column names, from 1.
        encoding: Text encoding (CSV).
        delimiter: Delimiter (CSV).
        max_unpacked_bytes: Bound on what one workbook member may inflate to.
    """

    sheet: int | str | None = None
    header_row: int | None = None
    encoding: str | None = None
    delimiter: str | None = None
    max_unpacked_bytes: int = MAX_MEMBER_BYTES


@dataclass
class TableResult:
    """What `read_table` wrote.

    Attributes:
        rows: Data rows written.
        first_row: Row number, in the file, of the first data row.
        columns: Column names, after renaming duplicates and blanks.
        notes: What the data officer should know about the reading.
        row_gaps: `(position, skipped)` pairs: rows of the file left out before the data row at `position`.
        findings: Rows out of shape (extra or missing cells, blank rows, repeated headers, a cut last row).
        fields: What a multi-row header said of each column besides its name (title, description, type).
        title: Title from the workbook's document properties, if set.
    """

    rows: int
    first_row: int
    columns: list[str]
    notes: list[str] = field(default_factory=list)
    row_gaps: tuple[tuple[int, int], ...] = ()
    findings: tuple[RowFinding, ...] = ()
    fields: dict[str, dict[str, str]] = field(default_factory=dict)
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
        raise RejectedError(f"{name} est vide (0 octet) : exportez les données à nouveau et remplacez le fichier")
    if not head.startswith(_GZIP_MAGIC):
        return Sniffed(_sniff_bytes(head, name, lambda: zipfile.ZipFile(path)))
    with gzip.open(path, "rb") as gz:
        head = _gunzip(lambda: gz.read(SAMPLE_BYTES), name)
        if not head:
            raise RejectedError(f"{name} est un fichier compressé qui ne contient rien : "
                                "exportez les données à nouveau")
        return Sniffed(_sniff_bytes(head, name, lambda: zipfile.ZipFile(io.BytesIO(head + gz.read()))), True)


def _sniff_bytes(head: bytes, name: str, open_zip: Any) -> Kind:
    if head.startswith(_OLE2_MAGIC):
        return "xls"
    if head.startswith(_ZIP_MAGIC):
        try:
            with open_zip() as archive:
                names = set(archive.namelist())
                mimetype = archive.read("mimetype")[:200].decode("ascii", "replace") if "mimetype" in names else ""
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise RejectedError(f"{name} ressemble à un classeur mais il est abîmé : ouvrez-le dans Excel ou "
                                "LibreOffice, enregistrez-le à nouveau et remplacez le fichier") from exc
        if "content.xml" in names and "spreadsheet" in mimetype:
            return "ods"
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
        what = "un document texte, pas un tableur" if mimetype or any(n.startswith("word/") for n in names) \
            else "une archive zip"
        raise RejectedError(f"{name} est {what} : faites pointer `path` dans le catalogue sur le tableur lui-même "
                            "(décompressez l'archive d'abord si besoin)")
    for magic, what in _NOT_TABULAR:
        if head.startswith(magic):
            raise RejectedError(f"{name} est {what}, pas un tableur : faites pointer `path` sur le CSV ou le classeur")
    if _MARKUP.match(head):
        raise RejectedError(f"{name} est une page HTML ou XML enregistrée sous un nom de tableur : ouvrez-la dans "
                            "Excel ou LibreOffice et enregistrez-la en .xlsx, .ods ou .csv")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RejectedError(f"{name} n'est ni un tableur ni un fichier texte (contenu binaire) : "
                            "vérifiez le fichier, ou exportez les données à nouveau en .xlsx, .ods ou .csv")
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
    """Find the delimiter under which the header and the data lines agree, title lines above left aside.

    For each candidate the header is found as `read_table` finds it; the score is the share of
    non-blank lines, from the header on, having the header's field count (title and documentation
    lines above count against every candidate alike, so they do not choose the delimiter).

    Returns:
        The delimiter and its score, or None when no candidate gives a header of two fields or more.
    """
    best: tuple[str, float] | None = None
    best_score = (0.0, 0)
    for delimiter in DELIMITERS:
        records = [cells for _, cells, _ in _records(sample, delimiter)]
        filled = [cells for cells in records if not _is_blank(cells)]
        if not filled:
            continue
        at = _header_index(filled)
        width = len(filled[at])
        agreeing = sum(1 for cells in filled[at:] if len(cells) == width)
        score = (agreeing / len(filled), _filled(filled[at]))
        if score[1] >= 2 and score > best_score:
            best, best_score = (delimiter, score[0]), score
    return best


def read_table(path: Path, out: Path, options: ReadOptions, *, name: str,
               sniffed: Sniffed | None = None) -> TableResult:
    """Read a CSV or workbook as text and write it to `out` as Parquet (every column `string`).

    Args:
        path: The file.
        out: Parquet file to write (replaced if present; never left half-written).
        options: Sheet, header row, encoding, delimiter and limits from the catalog.
        name: How to call the file in messages.
        sniffed: The format, when the caller already sniffed it.

    Raises:
        RejectedError: Unreadable, damaged or oversized file, missing sheet, undecodable text, no header,
            a structure that cannot be told (the message names the evidence and the locator key to set).
    """
    sniffed = sniffed or sniff(path, name)
    notes: list[str] = [Note("read.as", format=sniffed.note)]
    tmp = out.with_name(f".{out.name}.part")
    try:
        if sniffed.kind == "csv":
            result = _read_csv(path, sniffed.gzipped, options, name, notes, tmp)
            ignored = ["sheet"] if options.sheet is not None else []
        else:
            result = _read_workbook(path, sniffed, options, name, notes, tmp)
            ignored = [key for key in ("encoding", "delimiter") if getattr(options, key) is not None]
        if ignored:
            result.notes.append(Note("read.ignored", keys=", ".join(ignored), name=name, format=sniffed.note))
        tmp.replace(out)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wide")):
            with suppress(FileNotFoundError):
                leftover.unlink()
    return result


# --- CSV -------------------------------------------------------------------------------------------------

def _open_bytes(path: Path, gzipped: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if gzipped else path.open("rb")


def _gunzip(read: Any, name: str) -> Any:
    try:
        return read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise RejectedError(f"{name} est un fichier compressé (gzip) abîmé : compressez-le à nouveau ou "
                            "mettez à sa place le fichier non compressé") from exc


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


def _detect_encoding(path: Path, gzipped: bool, head: bytes, name: str, *, whole_file: bool) -> tuple[str, str]:
    """Return the codec to read the file with and how it was chosen.

    UTF-8 is tried strictly first (on the sample only, unless `whole_file`: pyarrow checks the rest
    while parsing, and a failure there brings a whole-file detection), then cp1252 on the whole
    file (French Windows writes it: `€ œ ’` where latin-1 gives control characters); charset-normalizer
    only breaks ties among rarer legacy encodings, being unreliable on short French text.
    """
    for bom, codec, description in _BOMS:
        if head.startswith(bom):
            return codec, Note("encoding.bom", encoding=description)
    if not whole_file and len(head) >= SAMPLE_BYTES:
        with suppress(UnicodeDecodeError):
            _sample_text(head, "utf-8")
            return "utf-8", Note("encoding.detected", encoding="utf-8")
    for codec in ("utf-8", "cp1252"):
        if _first_bad_byte(path, gzipped, codec, name) is None:
            return codec, Note("encoding.detected", encoding=codec)
    guess = charset_normalizer.from_bytes(head, cp_isolation=list(LEGACY_ENCODINGS)).best()
    if guess is not None and _first_bad_byte(path, gzipped, guess.encoding, name) is None:
        return guess.encoding, Note("encoding.guessed", encoding=guess.encoding)
    return "latin-1", Note("encoding.fallback")


def _is_binary_text(sample: str) -> bool:
    control = sum(1 for char in sample if char < " " and char not in "\t\r\n\f")
    return control > max(2, len(sample) // 100)


def _records(sample: str, delimiter: str) -> Iterator[tuple[int, Row, int]]:
    """Yield (record number, cells, physical lines read so far) of a sample, the record cut at its end left out."""
    # Cells holding GeoJSON exceed the csv module's default 128 KiB field limit.
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    number = 0
    with suppress(csv.Error):  # a quoted cell cut by the end of the sample
        for number, record in enumerate(reader, start=1):
            yield number, [cell.rstrip("\r") or None for cell in record], reader.line_num


def _read_csv(path: Path, gzipped: bool, options: ReadOptions, name: str, notes: list[str],
              out: Path) -> TableResult:
    with _open_bytes(path, gzipped) as fh:
        head = _gunzip(lambda: fh.read(SAMPLE_BYTES), name)
    complete = len(head) < SAMPLE_BYTES
    encoding_note = len(notes)
    if options.encoding:
        encoding = options.encoding
        if codecs.lookup(encoding).name == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        bad = _first_bad_byte(path, gzipped, encoding, name)
        if bad:
            raise RejectedError(f"{name} ne peut pas être lu en {options.encoding} : l'octet 0x{bad[1]:02X} ligne "
                                f"{bad[0]} n'y est pas valide ; retirez `encoding` du catalogue pour que "
                                "moisson le détecte, ou enregistrez à nouveau le fichier en UTF-8")
        notes.append(Note("encoding.catalog", encoding=options.encoding))
    else:
        encoding, note = _detect_encoding(path, gzipped, head, name, whole_file=False)
        notes.append(note)
    sample = _sample_text(head, encoding)
    if _is_binary_text(sample):
        raise RejectedError(f"{name} n'est ni un tableur ni un fichier texte (caractères de contrôle) : "
                            "vérifiez le fichier, ou exportez les données à nouveau en .xlsx, .ods ou .csv")
    delimiter = options.delimiter
    if delimiter:
        notes.append(Note("delimiter.catalog", delimiter=repr(delimiter)))
    else:
        found = sniff_delimiter(sample)
        delimiter = found[0] if found else ","
        notes.append(Note("delimiter.detected", delimiter=repr(delimiter)) if found else Note("delimiter.none"))
    records = list(_records(sample, delimiter))
    if not complete and records:
        records.pop()  # may be cut by the end of the sample
    layout = _find_layout([(n, cells) for n, cells, _ in records], options.header_row, name, notes,
                          complete=complete)
    if options.header_row is None and options.delimiter is None:
        _refuse_unclear(records, layout, name, delimiter)
    lines = next(seen for number, _, seen in records if number == layout.end)
    width = max(len(cells) for number, cells, _ in records if number == layout.header)
    try:
        writer = _stream_csv(path, gzipped, encoding, delimiter, lines, width, layout, name, out, notes)
    except _NotUtf8:
        encoding, note = _detect_encoding(path, gzipped, head, name, whole_file=True)
        notes[encoding_note] = note
        writer = _stream_csv(path, gzipped, encoding, delimiter, lines, width, layout, name, out, notes)
    if not gzipped:
        writer.check_open_quote(_open_quote_at_end(path, encoding))
    return writer.close()


class _NotUtf8(Exception):
    """The file is not UTF-8 past its sample: detect the encoding on the whole file and read it again."""


def _stream_csv(path: Path, gzipped: bool, encoding: str, delimiter: str, lines: int, width: int,
                layout: _Layout, name: str, out: Path, notes: list[str]) -> _TableWriter:
    """Parse the data lines with pyarrow, block by block, rows out of shape merged back in file order."""
    names = [f"f{i}" for i in range(width)]
    ragged: list[tuple[int, str]] = []

    def keep_aside(row: Any) -> str:
        ragged.append((row.number - lines, row.text))
        return "skip"

    # A BOM sits on the header line, which pyarrow skips: utf-8-sig needs no transcoding either.
    arrow_encoding = "utf8" if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") else encoding
    writer = _TableWriter(out, layout, name, list(notes))
    start = 1  # data record number, from 1, of the batch's first row
    try:
        reader = pacsv.open_csv(
            pa.input_stream(str(path), compression="gzip" if gzipped else None),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES, skip_rows=lines,
                                           column_names=names, encoding=arrow_encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                              ignore_empty_lines=False, invalid_row_handler=keep_aside),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=True, null_values=[""]))
        for batch in reader:
            taken = 0
            while taken < len(ragged) and ragged[taken][0] < start + batch.num_rows + taken:
                taken += 1
            start = _add_records(writer, batch.columns, ragged[:taken], start, width, delimiter, layout)
            del ragged[:taken]
        if ragged:
            empty = [pa.array([], pa.string())] * width
            _add_records(writer, empty, ragged, start, width, delimiter, layout)
    except pa.ArrowInvalid as exc:
        writer.abort()
        if "invalid UTF8" in str(exc) and arrow_encoding == "utf8":
            raise _NotUtf8 from exc
        raise RejectedError(f"{name} ne peut pas être lu comme CSV ({exc}) : ouvrez-le dans un tableur "
                            "et enregistrez-le à nouveau en CSV") from exc
    except (OSError, EOFError, zlib.error) as exc:
        writer.abort()
        raise RejectedError(f"{name} est un fichier compressé (gzip) abîmé : compressez-le à nouveau ou mettez à sa "
                            "place le fichier non compressé") from exc
    return writer


def _add_records(writer: _TableWriter, columns: list[pa.Array], ragged: list[tuple[int, str]], start: int,
                 width: int, delimiter: str, layout: _Layout) -> int:
    """Write one block's rows, the ragged ones (re-parsed by `csv`) back at their place; return the next number."""
    count = len(columns[0]) + len(ragged)
    short = np.zeros(count, dtype=bool)
    far: list[tuple[int, int, str]] = []
    if ragged:
        at = np.array([number - start for number, _ in ragged], dtype=np.int64)
        texts = [next(csv.reader([text], delimiter=delimiter), []) for _, text in ragged]
        padded = [[cell or None for cell in cells[:width]] + [None] * (width - len(cells)) for cells in texts]
        for i, cells in enumerate(texts):
            short[at[i]] = len(cells) < len(layout.names)
            far.extend((int(at[i]), pos, cell) for pos, cell in enumerate(cells[width:], start=width) if cell)
        extra = [pa.array(values, pa.string()) for values in zip(*padded, strict=True)]
        order = np.empty(count, dtype=np.int64)
        aside = np.zeros(count, dtype=bool)
        aside[at] = True
        order[~aside] = np.arange(count - len(ragged))
        order[aside] = np.arange(len(ragged)) + count - len(ragged)
        columns = [pa.concat_arrays([col, more]).take(pa.array(order))
                   for col, more in zip(columns, extra, strict=True)]
    numbers = np.arange(start, start + count, dtype=np.int64) + layout.end
    writer.add(columns, numbers, short=short, far=far)
    return start + count


def _open_quote_at_end(path: Path, encoding: str) -> str | None:
    """Evidence that the file ends inside a quoted cell: its last line and the tail both hold an odd number of `"`."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - SAMPLE_BYTES))
        tail = fh.read().decode(encoding, "replace")
    if size > SAMPLE_BYTES and "\n" in tail:
        tail = tail[tail.index("\n") + 1:]
    lines = tail.rstrip("\r\n").splitlines()
    if lines and lines[-1].count('"') % 2 and tail.count('"') % 2:
        return Note("cut.open-quote", tail=repr(lines[-1][-60:]))
    return None


def _refuse_unclear(records: list[tuple[int, Row, int]], layout: _Layout, name: str, delimiter: str) -> None:
    """Refuse a file whose sampled data rows mostly have more values than the header found has labels."""
    data = [(n, cells) for n, cells, _ in records if n > layout.end and not _is_blank(cells)]
    longer = [n for n, cells in data if any(cells[len(layout.names):])]
    if len(data) >= 5 and len(longer) > len(data) / 2:
        raise RejectedError(
            f"structure de {name} incertaine : avec le séparateur {delimiter!r} et l'en-tête trouvé ligne "
            f"{layout.header} ({len(layout.names)} colonnes), {len(longer)} des {len(data)} premières lignes de "
            f"données ont plus de valeurs que l'en-tête (lignes {rows_note(longer[:5], len(longer))}) : "
            "indiquez dans le catalogue `header_row` (la ligne des noms de colonnes) et `delimiter`")


# --- Workbooks -------------------------------------------------------------------------------------------

def _read_workbook(path: Path, sniffed: Sniffed, options: ReadOptions, name: str, notes: list[str],
                   out: Path) -> TableResult:
    with _open_bytes(path, sniffed.gzipped) as fh:
        data = _gunzip(fh.read, name)
    if sniffed.kind != "xls":
        _check_members(data, name, options.max_unpacked_bytes)
    title = _document_title(data, sniffed.kind, notes)
    rows, where = _workbook_rows(data, sniffed.kind, options.sheet, name, notes)
    scanned: list[tuple[int, list[Any]]] = []
    filled = 0
    for number, row in rows:
        scanned.append((number, row))
        texts = [_cell_text(v) for v in row]
        filled += not _is_blank(texts)
        if filled >= HEADER_SCAN_ROWS and number > (options.header_row or 0) + 4:
            break
    layout = _find_layout([(n, [_cell_text(v) for v in row]) for n, row in scanned], options.header_row, where,
                          notes, complete=True)
    writer = _TableWriter(out, layout, where, notes)
    chunk = [(n, row) for n, row in scanned if n > layout.end]
    for number, row in rows:
        chunk.append((number, row))
        if len(chunk) >= CHUNK_ROWS:
            _add_workbook_rows(writer, chunk)
            chunk = []
    if chunk:
        _add_workbook_rows(writer, chunk)
    result = writer.close()
    result.title = title
    return result


def _add_workbook_rows(writer: _TableWriter, chunk: list[tuple[int, list[Any]]]) -> None:
    numbers = np.array([n for n, _ in chunk], dtype=np.int64)
    rows = [row for _, row in chunk]
    width = max(map(len, rows))
    if min(map(len, rows)) < width:  # calamine's rows span the sheet's range: all of a width, but be sure
        rows = [row + [""] * (width - len(row)) for row in rows]
    # The cells in one list, a column every `width` of them: twice as quick as transposing with zip.
    cells = list(chain.from_iterable(rows))
    writer.add([_text_column(cells[position::width]) for position in range(width)], numbers)


def _text_column(values: list[Any]) -> pa.Array:
    """One workbook column as Arrow text: strings as they are (empty → null), other cells as the officer sees them."""
    try:
        texts = pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # numbers, dates, booleans among the strings
        texts = _mixed_column(values)
    texts = pc.utf8_rtrim(texts, characters="\r")
    return pc.if_else(pc.equal(texts, ""), pa.scalar(None, pa.string()), texts)


def _mixed_column(values: list[Any]) -> pa.Array:
    """Text of a column holding numbers: floats converted by Arrow, the few it would write otherwise by `_cell_text`."""
    at = [i for i, v in enumerate(values) if type(v) is float]
    texts: list[str | None] = [None if type(v) is float else _cell_text(v) for v in values]
    if at:
        numbers = np.array([values[i] for i in at], dtype=np.float64)
        whole = np.isfinite(numbers) & (np.abs(numbers) < 1e15) & (numbers == np.trunc(numbers))
        shown = np.where(whole, pc.cast(pa.array(numbers, mask=~whole).cast(pa.int64()), pa.string())
                         .fill_null("").to_numpy(zero_copy_only=False),
                         pc.cast(pa.array(numbers), pa.string()).to_numpy(zero_copy_only=False))
        for i, text, number in zip(at, shown, numbers, strict=True):
            # Arrow writes the shortest text, Excel shows 15 digits: past 15, or in exponent form, ask `_cell_text`.
            texts[i] = text if len(text) <= 16 and "e" not in text and text != "nan" else _cell_text(float(number))
    return pa.array(texts, pa.string())


def _check_members(data: bytes, name: str, cap: int) -> None:
    """Inflate each member of a workbook once, in pieces: refuse bombs and XML entities before calamine runs."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > cap or (info.file_size > 1 << 20 and ratio > MAX_RATIO):
                    _refuse_inflated(name, info.filename, info.file_size, ratio, cap)
                inflated, tail = 0, b""
                markup = info.filename.endswith((".xml", ".rels"))
                with archive.open(info) as member:
                    while piece := member.read(1 << 20):
                        inflated += len(piece)
                        if inflated > cap:
                            _refuse_inflated(name, info.filename, inflated, inflated / max(info.compress_size, 1),
                                             cap)
                        if markup and _XML_ENTITY.search(tail + piece):
                            raise RejectedError(
                                f"{name} déclare des entités XML (<!DOCTYPE ou <!ENTITY dans {info.filename}), "
                                "ce qu'un classeur Excel ou LibreOffice ne fait pas : le fichier est refusé ; "
                                "ouvrez-le dans Excel ou LibreOffice, enregistrez-le à nouveau et remplacez-le")
                        tail = piece[-16:]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise RejectedError(f"{name} ne peut pas être lu comme classeur : il est abîmé ; ouvrez-le dans Excel ou "
                            "LibreOffice, enregistrez-le à nouveau et remplacez le fichier") from exc


def _refuse_inflated(name: str, member: str, size: int, ratio: float, cap: int) -> None:
    raise RejectedError(
        f"{name} est refusé : son élément {member} se décompresse en plus de {min(size, cap + 1) / 2**20:,.0f} Mo "
        f"(taux de compression {ratio:,.0f} pour 1, limite {cap / 2**20:,.0f} Mo et {MAX_RATIO} pour 1) ; "
        "si le classeur est légitime, relevez `max_unpacked_mb` dans le locator du jeu de données, "
        "sinon exportez les données à nouveau")


def _document_title(data: bytes, kind: Kind, notes: list[str]) -> str | None:
    """Title from the document properties (xlsx `docProps/core.xml`, ods `meta.xml`), read capped; none for xls."""
    member = {"xlsx": "docProps/core.xml", "ods": "meta.xml"}.get(kind)
    if member is None:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(member) as fh:
            text = fh.read(MAX_METADATA_BYTES + 1)
    except (KeyError, zipfile.BadZipFile, zlib.error):
        return None
    if len(text) > MAX_METADATA_BYTES:
        notes.append(Note("properties.too-large", member=member, mib=MAX_METADATA_BYTES >> 20))
        return None
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    title = root.findtext(".//{http://purl.org/dc/elements/1.1/}title")
    return title.strip() if title and title.strip() else None


def _workbook_rows(data: bytes, kind: Kind, sheet: int | str | None, name: str,
                   notes: list[str]) -> tuple[Iterator[tuple[int, list[Any]]], str]:
    label = Note(f"format.{kind}")
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
        raise RejectedError(f"{name} est protégé par un mot de passe : enregistrez-en une copie sans mot de passe "
                            "et remplacez le fichier") from exc
    except python_calamine.CalamineError as exc:
        raise RejectedError(f"{name} ne peut pas être lu comme {label} : il est abîmé ou protégé par un mot de "
                            "passe ; ouvrez-le dans Excel ou LibreOffice, enregistrez-le à nouveau et remplacez "
                            "le fichier") from exc
    others = [n for n in names if n != chosen]
    how = Note("sheet.catalog") if sheet is not None else Note("sheet.first")
    notes.append(Note("sheet.used-others", sheet=repr(chosen), how=how, others=", ".join(map(repr, others)))
                 if others else Note("sheet.used", sheet=repr(chosen), how=how))
    # calamine starts iter_rows at the sheet's first row even when it is empty: numbers are Excel's.
    return enumerate(rows, start=1), f"la feuille {chosen!r} de {name}"


def check_sheet(path: Path, sheet: int | str, name: str) -> None:
    """Raise the `_named_sheet` error when the workbook at `path` has no such sheet (its cells are not read)."""
    _named_sheet(python_calamine.CalamineWorkbook.from_path(str(path)).sheet_names, sheet, name)


def _named_sheet(names: list[str], sheet: int | str, name: str) -> str:
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        return names[sheet]
    if str(sheet) in names:  # `sheet: 2023` in YAML is an int but may name a sheet
        return str(sheet)
    listed = ", ".join(f"{i}: {n!r}" for i, n in enumerate(names))
    raise RejectedError(f"{name} n'a pas de feuille {sheet!r} ; ses feuilles sont {listed}. Corrigez `sheet` dans le "
                        "catalogue (le nom d'une feuille, ou son numéro compté à partir de 0)")


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
    raise RejectedError(f"{name} ne contient aucune donnée : toutes ses feuilles sont vides")


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


# --- Structure: header, multi-row header ------------------------------------------------------------------

def _is_blank(cells: Row) -> bool:
    return not any(cells) or all(cell is None or cell.isspace() for cell in cells)


def _filled(cells: Row) -> int:
    return sum(1 for c in cells if c is not None and not c.isspace())


def _header_index(rows: list[Row]) -> int:
    """Index of the header among the first non-blank rows: title lines fill one or two cells, the header most."""
    counts = [_filled(cells) for cells in rows[:HEADER_SCAN_ROWS]]
    widest = max(counts)
    needed = max(math.ceil(widest / 2), min(widest, 2))
    return next(i for i, count in enumerate(counts) if count >= needed)


@dataclass
class _Layout:
    """Where the header is and what it says.

    Attributes:
        header: Row number of the column names.
        end: Row number of the header's last row (a multi-row header spans several).
        names: Column names (unique, none blank).
        raw: The labels of the names row as written (for repeated-header detection).
        fields: What the other header rows say of each column (title, description, declared type).
    """

    header: int
    end: int
    names: list[str]
    raw: list[str]
    fields: dict[str, dict[str, str]] = field(default_factory=dict)


def _find_layout(scanned: list[tuple[int, Row]], header_row: int | None, where: str, notes: list[str],
                 *, complete: bool) -> _Layout:
    """Find the header (below title lines, or at `header_row`) and a multi-row header below or around it."""
    filled = [(n, cells) for n, cells in scanned if not _is_blank(cells)]
    if header_row is not None:
        at = next((i for i, (n, _) in enumerate(filled) if n == header_row), None)
        if at is None:
            if any(n == header_row for n, _ in scanned):
                raise RejectedError(f"la ligne {header_row} de {where} est vide, alors que `header_row` indique que "
                                    "les noms de colonnes s'y trouvent : corrigez `header_row` dans le catalogue")
            seen = f"n'a que {len(scanned)} lignes" if complete \
                else f"n'a pas de ligne {header_row} parmi ses premières lignes lues"
            raise RejectedError(f"{where} {seen}, mais `header_row` vaut {header_row} : corrigez `header_row` dans le "
                                "catalogue")
    else:
        if not filled:
            raise RejectedError(f"{where} ne contient aucune donnée : toutes ses lignes sont vides")
        at = _header_index([cells for _, cells in filled])
    number = filled[at][0]
    above = [(n, cells) for n, cells in scanned if n < number]
    if above:
        skipped = [" ".join(c.strip() for c in cells if c) for _, cells in above if not _is_blank(cells)]
        shown = Note("header.skipped", text=repr(skipped[0][:80])) if skipped else ""
        span = (Note("header.span-one", row=above[0][0]) if len(above) == 1
                else Note("header.span", first=above[0][0], last=above[-1][0]))
        notes.append(Note("header.found-below", row=number, span=span, shown=shown))
    else:
        notes.append(Note("header.found", row=number))
    block = filled[at:at + 5]
    if header_row is None and (layout := _multi_row_header(block, where, notes)):
        return layout
    names, raw = _labels(filled[at][1], notes)
    return _Layout(header=number, end=number, names=names, raw=raw)


def _is_type_row(cells: Row) -> bool:
    words = [fold_accents(c.strip()) for c in cells if c and c.strip()]
    typed = sum(1 for w in words if w in TYPE_WORDS or _SIZED_TYPE.match(w))
    return len(words) >= 2 and typed >= 0.8 * len(words)


def _is_name_row(cells: Row, width: int) -> bool:
    words = [c.strip() for c in cells if c and c.strip()]
    return (len(words) >= max(1, 0.8 * width) and len(set(words)) == len(words)
            and all(_IDENTIFIER.match(w) for w in words) and not _is_type_row(cells))


def _multi_row_header(block: list[tuple[int, Row]], where: str, notes: list[str]) -> _Layout | None:
    """A header on several rows (labels, types, units, column names, as ministry DiDo exports): the names row names.

    A row of type words (`integer`, `texte`, `date`…) within the first four rows tells it; the names
    row is the identifier-like row after the types (else the one before). Without one, refused.
    """
    typed = next((i for i, (_, cells) in enumerate(block[:4]) if _is_type_row(cells)), None)
    if typed is None or (typed == 0 and len(block) < 2):
        return None
    width = _filled(block[0][1])
    after = [i for i in range(typed + 1, min(typed + 3, len(block))) if _is_name_row(block[i][1], width)]
    before = [i for i in range(typed) if _is_name_row(block[i][1], width)]
    if not after and not before:
        shown = ", ".join(repr(c) for c in block[typed][1] if c)[:80]
        raise RejectedError(
            f"{where} : la ligne {block[typed][0]} ressemble à une ligne de types d'un en-tête sur plusieurs "
            f"lignes ({shown}), mais aucune ligne de noms de colonnes n'a été trouvée autour : indiquez dans le "
            "catalogue `header_row` (la ligne des noms de colonnes)")
    at = after[0] if after else before[-1]
    end = max(at, typed)
    names, raw = _labels(block[at][1], notes)
    others = [i for i in range(end + 1) if i not in (at, typed)]
    label = others[0] if others else None
    units = others[1:]
    fields: dict[str, dict[str, str]] = {}
    for position, column in enumerate(names):
        def cell(i: int, position: int = position) -> str:
            cells = block[i][1]
            return (cells[position] or "").strip() if position < len(cells) else ""
        doc = {"title": cell(label) if label is not None else "",
               "description": " ; ".join(filter(None, (cell(i) for i in units))),
               "declared_type": cell(typed)}
        fields[column] = {key: value for key, value in doc.items() if value}
    roles = [(block[i][0], "labels") for i in ([label] if label is not None else [])]
    roles += [(block[typed][0], "types"), *((block[i][0], "units") for i in units), (block[at][0], "column-names")]
    described = [Note("header.role", role=Note(f"header.role-{role}"), row=row) for row, role in sorted(roles)]
    notes.append(Note("header.multi-row", count=end + 1, first=block[0][0], last=block[end][0],
                      described=described, names=block[at][0]))
    return _Layout(header=block[at][0], end=block[end][0], names=names, raw=raw, fields=fields)


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
        notes.append(Note("labels.unnamed", positions=", ".join(map(str, unnamed)),
                          names=", ".join(f"column_{p}" for p in unnamed)))
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
        notes.append(Note("labels.duplicate", label=repr(label), position=len(result), renamed=repr(renamed)))
    return result


# --- Table -----------------------------------------------------------------------------------------------

def _blank_rows(columns: list[pa.Array]) -> np.ndarray:
    """Rows whose every cell is empty or spaces; the first column narrows the search, as most rows fill it."""
    def empty(column: pa.Array) -> np.ndarray:
        return pc.fill_null(pc.utf8_is_space(column), True).to_numpy(zero_copy_only=False)

    blank = empty(columns[0])
    candidates = np.flatnonzero(blank)
    if len(candidates) == 0:
        return blank
    rows = pa.array(candidates)
    for column in columns[1:]:
        still = empty(column.take(rows))
        candidates, rows = candidates[still], rows.filter(pa.array(still))
        if len(candidates) == 0:
            break
    blank[:] = False
    blank[candidates] = True
    return blank


def _holds_nul(column: pa.Array) -> bool:
    """Whether a text column holds a NUL byte, looked for in its data buffer (one pass, no copy)."""
    if column.null_count == len(column):
        return False
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)
    start, end = offsets[column.offset], offsets[column.offset + len(column)]
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)[start:end]
    return not data.all()


@dataclass
class _Rows:
    """File row numbers of one kind of finding: the first `FINDING_ROWS`, and the count."""

    numbers: list[int] = field(default_factory=list)
    count: int = 0

    def add(self, numbers: Iterable[int]) -> None:
        numbers = list(numbers)
        self.count += len(numbers)
        self.numbers.extend(numbers[: max(0, FINDING_ROWS - len(self.numbers))])


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A writer of the extract: snappy, no dictionaries, no statistics.

    The extract is read whole, chunk by chunk, never filtered on its row groups' min and max: their statistics
    would take a fifth of the writing for no reader.
    """
    return pq.ParquetWriter(path, schema, compression="snappy", use_dictionary=False, write_statistics=False)


class _TableWriter:
    """Writes text columns to Parquet, block by block, leaving out blank rows and repeated headers (noted).

    Values past the header's labels (a row longer than the header) are kept aside and added at the end
    as `column_N` columns (N: position from 1); each such row is an `extra-cell` finding.
    """

    def __init__(self, path: Path, layout: _Layout, where: str, notes: list[str]) -> None:
        self.path, self.layout, self.where, self.notes = path, layout, where, notes
        self.width = len(layout.names)
        self.schema = pa.schema([(c, pa.string()) for c in layout.names])
        self.writer = _parquet_writer(path, self.schema)
        # Arrow compresses and writes a row group without the GIL: a thread does it while the next rows are read,
        # one row group at a time, so one more at most waits in memory.
        self.background = ThreadPoolExecutor(max_workers=1)
        self.writing: Future[None] | None = None
        self.rows = 0
        self.pending: list[pa.RecordBatch] = []  # rows of the next row group
        self.pending_rows = 0
        self.first_row: int | None = None
        self.last_kept: int | None = None
        self.last_seen: tuple[int, bool] | None = None  # (number, short) of the last row read
        self.gaps: list[tuple[int, int]] = []
        self.found: dict[FindingKind, _Rows] = {k: _Rows() for k in ("extra-cell", "missing-cell", "blank-row",
                                                                      "repeated-header")}
        # Values past the labels, by position: (output row indices, values) pieces.
        self.overflow: dict[int, list[tuple[np.ndarray, pa.Array]]] = {}
        self.cut: str | None = None

    def add(self, columns: list[pa.Array], numbers: np.ndarray, *, short: np.ndarray | None = None,
            far: list[tuple[int, int, str]] = ()) -> None:
        """Add rows: `columns` (at least the header's width), their file row numbers, which were short, cells past."""
        count = len(numbers)
        if not count:
            return
        self.last_seen = (int(numbers[-1]), bool(short is not None and short[-1]))
        blank = _blank_rows(columns)
        for row, _, _ in far:
            blank[row] = False
        repeated = self._repeated(columns, blank)
        self.found["blank-row"].add(numbers[blank].tolist())
        self.found["repeated-header"].add(numbers[repeated].tolist())
        kept = ~(blank | repeated)
        if not kept.all():
            mask = pa.array(kept)
            columns = [c.filter(mask) for c in columns]
        kept_numbers = numbers[kept]
        if not len(kept_numbers):
            return
        self._gaps(kept_numbers)
        if short is not None and short.any():
            self.found["missing-cell"].add(numbers[short & kept].tolist())
        extra_rows = self._overflow(columns, kept, far)
        self.found["extra-cell"].add(kept_numbers[extra_rows].tolist())
        self._refuse_nul(columns[: self.width], kept_numbers)
        self.pending.append(pa.RecordBatch.from_arrays(columns[: self.width], schema=self.schema))
        self.pending_rows += len(kept_numbers)
        self.rows += len(kept_numbers)
        if self.pending_rows >= CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        """Write the rows added since the last row group as one row group."""
        if self.pending:
            table = pa.Table.from_batches(self.pending, schema=self.schema)
            self._written()
            self.writing = self.background.submit(self.writer.write_table, table, row_group_size=self.pending_rows)
            self.pending, self.pending_rows = [], 0

    def _written(self) -> None:
        """Wait for the row group being written; a write that failed is the disk's fault, said so, not the file's."""
        try:
            if self.writing:
                self.writing.result()
        except OSError as exc:
            raise UnavailableError(
                f"l'extrait de {self.where} ne peut pas être écrit dans {self.path.parent} ({exc.strerror or exc}) : "
                "libérez de la place sur ce disque, puis relancez") from exc

    def _repeated(self, columns: list[pa.Array], blank: np.ndarray) -> np.ndarray:
        first = self.layout.raw[0] if self.layout.raw else ""
        candidates = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(columns[0]), first), False)
        repeated = candidates.to_numpy(zero_copy_only=False) & ~blank
        for row in np.flatnonzero(repeated):
            cells = [(c[row].as_py() or "").strip() for c in columns]
            raw = self.layout.raw
            repeated[row] = cells[: len(raw)] == raw and not any(cells[len(raw):])
        return repeated

    def _gaps(self, numbers: np.ndarray) -> None:
        if self.first_row is None:
            self.first_row = int(numbers[0])
            self.last_kept = self.first_row - 1
        steps = np.diff(numbers, prepend=self.last_kept) - 1
        for at in np.flatnonzero(steps):
            self.gaps.append((self.rows + int(at), int(steps[at])))
        self.last_kept = int(numbers[-1])

    def _overflow(self, columns: list[pa.Array], kept: np.ndarray, far: list[tuple[int, int, str]]) -> np.ndarray:
        """Keep aside the values past the labels; return which of the kept rows have any."""
        extra = np.zeros(len(columns[0]), dtype=bool)
        for position in range(self.width, len(columns)):
            valid = pc.is_valid(columns[position]).to_numpy(zero_copy_only=False)
            if valid.any():
                rows = np.flatnonzero(valid)
                extra[rows] = True
                self.overflow.setdefault(position, []).append(
                    (rows + self.rows, columns[position].filter(pa.array(valid))))
        if far:
            index = np.cumsum(kept) - 1  # batch row → kept row
            for row, position, value in far:
                if kept[row]:
                    extra[index[row]] = True
                    self.overflow.setdefault(position, []).append(
                        (np.array([index[row] + self.rows]), pa.array([value], pa.string())))
        return extra

    def _refuse_nul(self, columns: list[pa.Array], numbers: np.ndarray) -> None:
        for name, column in zip(self.layout.names, columns, strict=True):
            if _holds_nul(column):
                row = int(np.flatnonzero(pc.fill_null(pc.match_substring(column, "\x00"), False)
                                         .to_numpy(zero_copy_only=False))[0])
                raise RejectedError(
                    f"{self.where} contient un octet nul (NUL, 0x00) ligne {numbers[row]}, colonne {name!r} : "
                    "c'est la trace d'un fichier abîmé ou d'un export binaire ; exportez les données à nouveau")

    def check_open_quote(self, evidence: str | None) -> None:
        """Record that the file ends inside a quoted cell."""
        self.cut = self.cut or evidence

    def abort(self) -> None:
        """Close the writer of a read that failed (the caller removes the file)."""
        self.background.shutdown()
        self.writer.close()

    def close(self) -> TableResult:
        """Finish the file (adding the overflow columns), write the notes, return what was written."""
        self._flush()
        self.background.shutdown()
        self._written()
        self.writer.close()
        columns = self._add_overflow_columns()
        found = self.found
        if found["extra-cell"].count:
            rows = found["extra-cell"]
            self.notes.append(Note("rows.extra-cells", rows=rows_note(rows.numbers[:5], rows.count),
                                   columns=", ".join(columns[self.width:])))
        if found["missing-cell"].count:
            rows = found["missing-cell"]
            self.notes.append(Note("rows.missing-cells", rows=rows_note(rows.numbers[:5], rows.count)))
        if found["repeated-header"].count:
            rows = found["repeated-header"]
            self.notes.append(Note("rows.repeated-header", rows=rows_note(rows.numbers[:5], rows.count),
                                   count=rows.count))
        if found["blank-row"].count:
            rows = found["blank-row"]
            self.notes.append(Note("rows.blank", count=rows.count, rows=rows_note(rows.numbers[:5], rows.count)))
        findings = [RowFinding(kind=kind, rows=tuple(rows.numbers), count=rows.count,
                               columns=tuple(columns[self.width:]) if kind == "extra-cell" else ())
                    for kind, rows in found.items() if rows.count]
        if self.last_seen and self.last_seen[1] and self.last_seen[0] == self.last_kept:
            self.cut = self.cut or Note("cut.short-row", row=self.last_seen[0])
        if self.cut:
            self.notes.append(Note("rows.cut", evidence=self.cut))
            last = self.last_kept or self.layout.end
            findings.append(RowFinding(kind="cut-last-row", rows=(last,), count=1, detail=self.cut))
        return TableResult(rows=self.rows, first_row=self.first_row or self.layout.end + 1, columns=columns,
                           notes=self.notes, row_gaps=tuple(self.gaps), findings=tuple(findings),
                           fields=self.layout.fields)

    def _add_overflow_columns(self) -> list[str]:
        """Rewrite the file with one column per position holding values past the labels, one row group at a time."""
        if not self.overflow:
            return self.layout.names
        last = max(self.overflow)
        names = _unique([*self.layout.names, *(f"column_{p + 1}" for p in range(self.width, last + 1))], [])
        full = []
        for position in range(self.width, last + 1):
            pieces = self.overflow.get(position, [])
            values = pa.concat_arrays([v for _, v in pieces] + [pa.array([None], pa.string())])
            lookup = np.full(self.rows, len(values) - 1, dtype=np.int64)
            if pieces:
                lookup[np.concatenate([rows for rows, _ in pieces])] = np.arange(len(values) - 1)
            full.append(values.take(pa.array(lookup)))
        wide = self.path.with_name(self.path.name + ".wide")
        schema = pa.schema([(c, pa.string()) for c in names])
        offset = 0
        with _parquet_writer(wide, schema) as writer:
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=CHUNK_ROWS):
                extra = [column.slice(offset, batch.num_rows) for column in full]
                writer.write_batch(pa.RecordBatch.from_arrays([*batch.columns, *extra], schema=schema))
                offset += batch.num_rows
        os.replace(wide, self.path)
        return names
