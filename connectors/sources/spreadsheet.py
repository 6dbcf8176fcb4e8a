"""Source connector for the spreadsheets town halls send: xlsx, xls, ods and CSV files in a directory."""

from __future__ import annotations

import codecs
import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Extract
from moisson.connectors.tabular import MAX_MEMBER_BYTES, ReadOptions, check_sheet, looks_delimited, read_table, sniff
from moisson.core.errors import ConfigError, ConnectorError, NotFoundError, RejectedError
from moisson.core.ids import slugify
from moisson.core.metadata import DatasetMetadata
from moisson.core.validation import described

KIND = "spreadsheet"
#: Extensions taken as tables without looking inside (a wrong one surfaces at extraction, clearly).
TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
#: Extensions of files kept only when their content sniffs as a table.
MAYBE_SUFFIXES = frozenset({".txt", ".tab", ""})
_DELIMITER_ALIASES = {"tab": "\t", "\\t": "\t", "tabulation": "\t"}


class SpreadsheetLocator(BaseModel):
    """Where a dataset is, in a catalog entry of a spreadsheet source.

    Attributes:
        path: File, relative to the source's `root`.
        sheet: Sheet name, or its number counted from 0 (a number no sheet has is taken as a
            name, for `sheet: 2023`). Default: the first visible sheet with data, after any
            notice or read-me sheet.
        header_row: Row of the column names, counted from 1 as the spreadsheet shows it
            (default: detected below title lines).
        encoding: Text encoding of a CSV file (default: detected).
        delimiter: Delimiter of a CSV file: `;`, `,`, `tab` or `|` (default: detected).
        max_unpacked_mb: Bound, in MiB, on what one member of an xlsx or ods file may inflate to
            (default 1024): a file past it is refused as a zip bomb.
    """

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    sheet: int | str | None = None
    header_row: int | None = Field(None, ge=1)
    encoding: str | None = None
    delimiter: str | None = None
    max_unpacked_mb: int = Field(MAX_MEMBER_BYTES >> 20, ge=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"encodage {value!r} inconnu ; écrivez utf-8, cp1252 ou latin-1") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _DELIMITER_ALIASES.get(value.lower(), value)
        if len(value) != 1:
            raise ValueError(f"un séparateur est un seul caractère comme ';' ',' '|' ou le mot tab, pas {value!r}")
        return value


class SpreadsheetSource:
    """Reads xlsx, xls, ods and CSV files (gzip-compressed or not) under a directory, every cell as text.

    The format is sniffed from the content, not the extension. CSV files are streamed in row
    groups. Rows longer than the header keep their extra values in `column_N` columns (N: position,
    from 1) and a note names the rows, so nothing is lost and moisson.quality reports the unexpected column.
    """

    kind: ClassVar[str] = KIND
    #: The keys of a dataset's `locator:`, checked when the catalog is loaded.
    Locator: ClassVar[type[BaseModel]] = SpreadsheetLocator

    class Config(ConnectorConfig):
        """Settings of a spreadsheet source.

        Attributes:
            root: Directory holding the files (a relative path is taken from the current directory).
            pattern: Glob, relative to `root`, of the files `discover()` offers.
        """

        root: Path
        pattern: str = "**/*"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = config.root.expanduser().resolve()

    def check(self) -> None:
        """Make sure the root directory exists and can be read.

        Raises:
            ConfigError: The directory is missing, is a file, or cannot be read.
        """
        if not self.root.is_dir():
            what = "est un fichier, pas un dossier" if self.root.exists() else "n'existe pas"
            raise ConfigError(f"le dossier des tableurs {self.root} {what} : corrigez `root` dans le catalogue",
                              connector=KIND)
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise ConfigError(f"le dossier des tableurs {self.root} n'est pas lisible par le compte qui exécute "
                              "moisson : demandez un accès en lecture", connector=KIND)

    def discover(self) -> Iterator[DatasetDescriptor]:
        """Yield one dataset per table file under `root` matching `pattern`, in path order.

        Ids are slugs of the relative path without extension, made unique with `-2`, `-3`…;
        hidden files and office lock files (`~$x.xlsx`, `.~lock.x.ods#`) are skipped.
        """
        self.check()
        used: set[str] = set()
        for path in sorted(p for p in self.root.glob(self.config.pattern) if p.is_file()):
            relative = path.relative_to(self.root)
            if not _is_table_file(path, relative):
                continue
            stem = _strip_suffixes(relative.as_posix())
            dataset_id = base = slugify(stem)
            copy = 2
            while dataset_id in used:
                dataset_id, copy = f"{base}-{copy}", copy + 1
            used.add(dataset_id)
            yield DatasetDescriptor(id=dataset_id, locator={"path": relative.as_posix()},
                                    metadata=DatasetMetadata(title=humanize(Path(stem).name)))

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        """Write the dataset's rows, every cell as text or null, to `dest/<id>.parquet`.

        Args:
            dataset: The dataset; its locator follows `SpreadsheetLocator`.
            dest: Directory to write into (created if missing).

        Returns:
            The Parquet path, row count, first data row, notes on the reading, and the file's
            modification time (plus the workbook title when its properties have one).

        Raises:
            ConfigError: The locator is wrong or leaves the root directory.
            NotFoundError: The file does not exist.
            RejectedError: The file cannot be read (damaged, empty, missing sheet, bad encoding).
        """
        locator = self._locator(dataset)
        path = self._file(dataset, locator.path)
        options = ReadOptions(sheet=locator.sheet, header_row=locator.header_row,
                              encoding=locator.encoding, delimiter=locator.delimiter,
                              max_unpacked_bytes=locator.max_unpacked_mb << 20)
        dest.mkdir(parents=True, exist_ok=True)
        out = dest / f"{dataset.id}.parquet"
        try:
            result = read_table(path, out, options, name=locator.path)
        except ConnectorError as exc:
            exc.dataset_id, exc.connector = exc.dataset_id or dataset.id, exc.connector or KIND
            raise
        except OSError as exc:
            raise RejectedError(f"{locator.path} ne peut pas être lu ({exc.strerror or exc}) : vérifiez le fichier et "
                                "ses droits d'accès", dataset_id=dataset.id, connector=KIND) from exc
        metadata: dict[str, Any] = {
            "modified": dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)}
        if result.title:
            metadata["title"] = result.title
        return Extract(path=out, rows=result.rows, metadata=metadata, notes=result.notes,
                       first_row=result.first_row, row_gaps=result.row_gaps, findings=result.findings,
                       fields=result.fields)

    def _locator(self, dataset: DatasetDescriptor) -> SpreadsheetLocator:
        try:
            return SpreadsheetLocator.model_validate(dict(dataset.locator))
        except ValidationError as exc:
            raise ConfigError(f"le `locator` de ce jeu de données est incorrect : "
                              f"{described(exc, SpreadsheetLocator.model_fields)} ; corrigez-le dans le catalogue",
                              dataset_id=dataset.id, connector=KIND) from exc

    def check_dataset(self, dataset: DatasetDescriptor) -> None:
        """The file exists inside the root and, for a workbook, has the sheet the locator names.

        Raises:
            ConfigError: The locator is wrong or leaves the root directory.
            NotFoundError: No such file.
            RejectedError: No such sheet (the message lists the sheets).
        """
        locator = self._locator(dataset)
        path = self._file(dataset, locator.path)
        if locator.sheet is not None and path.suffix.lower() in {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}:
            check_sheet(path, locator.sheet, locator.path)

    def _file(self, dataset: DatasetDescriptor, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise ConfigError(f"`path` {relative!r} pointe hors du dossier des tableurs {self.root} : "
                              "indiquez un chemin à l'intérieur", dataset_id=dataset.id, connector=KIND)
        if not path.is_file():
            what = "est un dossier, pas un fichier" if path.is_dir() else "n'existe pas"
            raise NotFoundError(f"{relative} {what} dans {self.root} : remettez le fichier en place ou corrigez "
                                "`path` dans le catalogue", dataset_id=dataset.id, connector=KIND)
        return path


def humanize(stem: str) -> str:
    """Title from a file name: `subventions_2023-v2` → `Subventions 2023 v2`."""
    words = " ".join(re.sub(r"[_\-.]+", " ", stem).split())
    return words[:1].upper() + words[1:] if words else stem


def _strip_suffixes(relative: str) -> str:
    """Drop `.gz` and one table extension: `2023/budget.csv.gz` → `2023/budget`."""
    path = Path(relative)
    if path.suffix.lower() == ".gz":
        path = path.with_suffix("")
    if path.suffix.lower() in TABLE_SUFFIXES | MAYBE_SUFFIXES:
        path = path.with_suffix("")
    return path.as_posix()


def _is_table_file(path: Path, relative: Path) -> bool:
    if any(part.startswith((".", "~$")) for part in relative.parts):
        return False
    suffixes = [s.lower() for s in relative.suffixes[-2:]]
    last = suffixes[-1] if suffixes else ""
    if last == ".gz":
        last = suffixes[-2] if len(suffixes) == 2 else ""
    if last in TABLE_SUFFIXES:
        return True
    if last not in MAYBE_SUFFIXES:
        return False
    try:
        return looks_delimited(path, sniff(path, relative.as_posix()))
    except (RejectedError, OSError):
        return False
