"""Line-numbered YAML: read a file, remember the line of every key path, and turn validation errors into messages.

The catalog and the alert rules read their YAML through these helpers, so every error names
the file, the line and the key path (`datasets[2].locator.path`); so can any other YAML moisson
reads (preparation recipes).
"""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from moisson.core.errors import CatalogError
from moisson.core.validation import explain

#: Key path (mapping keys and sequence indexes) → 1-based line of the YAML document.
Lines = dict[tuple[str | int, ...], int]
#: libyaml's parser when PyYAML was built with it (the same nodes and marks, ten times faster than Python's).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: Path, *, what: str, hint: str) -> str:
    """A UTF-8 file's text.

    Raises:
        CatalogError: Missing or unreadable; says what to do (`hint`).
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"fichier {what} introuvable ; {hint}", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"impossible de lire le fichier {what} ({exc}) ; enregistrez-le en texte UTF-8",
                           file=str(path)) from exc


def read_yaml(path: Path, *, what: str, hint: str, text: str | None = None) -> tuple[Any, Lines]:
    """Read a UTF-8 YAML file and the line of each of its key paths.

    Args:
        path: The file.
        what: What the file is, for messages, after "fichier" ("catalogue", "automatisations").
        hint: What to do when it is missing ("indiquez `--catalog CHEMIN` ou définissez `MOISSON_CATALOG`").
        text: The file's text as read before, to read that version again rather than the file now.

    Raises:
        CatalogError: Missing, unreadable or not YAML; names the file and, for YAML errors, the line.
    """
    text = read_text(path, what=what, hint=hint) if text is None else text
    try:
        try:
            raw, node = _parsed(text, _LOADER)
        except yaml.YAMLError:
            raw, node = _parsed(text, yaml.SafeLoader)  # Python's messages name the character at fault (a tab)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CatalogError(f"YAML invalide : {getattr(exc, 'problem', exc)} "
                           "(vérifiez l'indentation et les deux-points)",
                           file=str(path), line=mark.line + 1 if mark else None) from exc
    return raw, line_index(node)


def _parsed(text: str, loader: type[yaml.SafeLoader]) -> tuple[Any, yaml.Node | None]:
    """The document's values and its root node, in one parse: the values are built from the nodes."""
    parser = loader(text)
    try:
        node = parser.get_single_node()
        return (parser.construct_document(node) if node is not None else None), node
    finally:
        parser.dispose()


def validation_error(exc: ValidationError, path: Path, lines: Lines, prefix: tuple[str | int, ...] = (),
                     model: type[BaseModel] | None = None) -> CatalogError:
    """Turn pydantic's report on a YAML file into one `CatalogError`; the first error gives the line.

    Args:
        exc: What pydantic found.
        path: The YAML file.
        lines: Its key paths' lines (`read_yaml`).
        prefix: Where in the file the validated value sits (a connector's `config`, a `locator`).
        model: The model that was validated, to suggest the key an unknown one stands for.
    """
    # A union (credential: value or reference) reports one error per branch: keep the last per place.
    by_loc = {prefix + _clean_loc(err["loc"]): err | {"known": _keys_at(model, _clean_loc(err["loc"])[:-1])}
              for err in exc.errors()}
    problems = []
    first_line = None
    first_path = None
    for loc, err in by_loc.items():
        line = line_of(lines, loc)
        if first_line is None:
            first_line, first_path = line, dotted(loc)
        where = f"ligne {line}, " if line else ""
        problems.append(f"{where}{dotted(loc) or 'racine'} : {explain(err)}")
    message = problems[0] if len(problems) == 1 else "\n  " + "\n  ".join(problems)
    if len(problems) == 1:
        message = message.split(" : ", 1)[1] if " : " in message else message
        return CatalogError(message, file=str(path), line=first_line, path=first_path)
    return CatalogError(f"{len(problems)} problèmes :{message}", file=str(path))


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # pydantic inserts union branch names ("list[str]", "function-after[…]") into locations.
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _keys_at(model: type[BaseModel] | None, loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model nested at `loc` of `model` accepts (none when the path leaves the models)."""
    kind: Any = model
    for part in loc:
        while get_origin(kind) in (Union, UnionType, list, dict) or isinstance(kind, UnionType):
            args = [a for a in get_args(kind) if a is not type(None)]
            kind = args[-1] if args else None
        if not (isinstance(kind, type) and issubclass(kind, BaseModel)) or isinstance(part, int):
            continue
        field = kind.model_fields.get(str(part))
        kind = field.annotation if field else None
    while get_origin(kind) in (Union, UnionType) or isinstance(kind, UnionType):
        kind = next((a for a in get_args(kind) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [f.alias or name for name, f in kind.model_fields.items()]
    return []


def dotted(loc: tuple[str | int, ...]) -> str:
    """A key path as people write it: `datasets[2].locator.path`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_index(node: yaml.Node | None) -> Lines:
    """Map every key path of the YAML document to its 1-based line."""
    index: Lines = {}

    def walk(n: yaml.Node, path: tuple) -> None:
        index[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                child = (*path, key.value)
                walk(value, child)
                index[child] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return index


def line_of(lines: Lines, loc: tuple[str | int, ...]) -> int | None:
    """Line of the deepest existing prefix of `loc` (a missing key points at its parent)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
