"""Line-numbered YAML: read a file, remember the line of every key path, and turn validation errors into messages.

The catalog and the alert rules read their YAML through these helpers, so every error names
the file, the line and the key path (`datasets[2].locator.path`); so can any other YAML moisson
reads (preparation recipes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from moisson.core.errors import CatalogError
from moisson.core.suggest import did_you_mean

#: Key path (mapping keys and sequence indexes) → 1-based line of the YAML document.
Lines = dict[tuple[str | int, ...], int]


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
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CatalogError(f"YAML invalide : {getattr(exc, 'problem', exc)} "
                           "(vérifiez l'indentation et les deux-points)",
                           file=str(path), line=mark.line + 1 if mark else None) from exc
    return raw, line_index(node)


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
        problems.append(f"{where}{dotted(loc) or 'racine'} : {_explain(err)}")
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


#: pydantic's error types → French sentence; `{…}` are the error's `ctx` values.
_EXPLAIN = {
    "missing": "clé obligatoire absente : ajoutez-la",
    "string_type": "texte attendu",
    "int_type": "nombre entier attendu",
    "int_parsing": "nombre entier attendu",
    "int_from_float": "nombre entier attendu, sans partie décimale",
    "float_type": "nombre attendu",
    "float_parsing": "nombre attendu",
    "bool_type": "booléen attendu (`true` ou `false`)",
    "bool_parsing": "booléen attendu (`true` ou `false`)",
    "dict_type": "dictionnaire attendu (des lignes `clé: valeur` en retrait)",
    "model_type": "dictionnaire attendu (des lignes `clé: valeur` en retrait)",
    "model_attributes_type": "dictionnaire attendu (des lignes `clé: valeur` en retrait)",
    "list_type": "liste attendue (des lignes `- valeur` en retrait)",
    "tuple_type": "liste attendue (comme `[1, 2]`)",
    "date_type": "date attendue (AAAA-MM-JJ)",
    "date_parsing": "date attendue (AAAA-MM-JJ)",
    "date_from_datetime_parsing": "date attendue (AAAA-MM-JJ)",
    "datetime_type": "date et heure attendues (AAAA-MM-JJTHH:MM:SS)",
    "datetime_parsing": "date et heure attendues (AAAA-MM-JJTHH:MM:SS)",
    "datetime_from_date_parsing": "date et heure attendues (AAAA-MM-JJTHH:MM:SS)",
    "none_required": "aucune valeur attendue",
    "url_parsing": "adresse web invalide ({error})",
    "url_scheme": "adresse web invalide : elle doit commencer par {expected_schemes}",
    "greater_than": "la valeur doit être supérieure à {gt}",
    "greater_than_equal": "la valeur doit être supérieure ou égale à {ge}",
    "less_than": "la valeur doit être inférieure à {lt}",
    "less_than_equal": "la valeur doit être inférieure ou égale à {le}",
    "string_too_short": "texte trop court : au moins {min_length} caractère(s)",
    "string_too_long": "texte trop long : au plus {max_length} caractères",
    "too_short": "trop peu d'éléments : au moins {min_length}",
    "too_long": "trop d'éléments : au plus {max_length}",
    "string_pattern_mismatch": "la valeur n'a pas la forme attendue {pattern}",
}


def _explain(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        known = err.get("known") or []
        hint = did_you_mean(str(err["loc"][-1]), known) if err["loc"] else ""
        allowed = f" ; clés possibles : {', '.join(known)}" if known else ""
        return f"clé inconnue{hint} (vérifiez son orthographe{allowed} ; voir la référence du catalogue dans le README)"
    ctx = err.get("ctx") or {}
    if kind in ("literal_error", "enum"):
        # pydantic joins the choices as "'a', 'b' or 'c'": the quoted values are the choices.
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(str(err.get("input")), choices) if choices else ""
        listed = ", ".join(f"'{c}'" for c in choices) or str(ctx.get("expected", ""))
        return f"valeur {err.get('input')!r} non admise{hint} ; valeurs possibles : {listed}"
    if kind == "missing" and err["loc"] and isinstance(err["loc"][-1], int):
        return "valeur manquante à cette position de la liste"
    if kind in _EXPLAIN:
        try:
            text = _EXPLAIN[kind].format(**ctx)
        except (KeyError, IndexError):
            text = _EXPLAIN[kind].split(" : ")[0]
        value = err.get("input")
        # A wrong scalar is quoted back, so the reader sees what was read ("deux", "oui").
        shown = isinstance(value, str | int | float | bool) and kind.endswith(("_type", "_parsing"))
        if not shown:
            return text
        head, paren, tail = text.partition(" (")
        return f"{head}, pas {value!r}{paren}{tail}"
    # Our own validators raise French `ValueError`s; other pydantic wordings are passed on as they are.
    return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


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
