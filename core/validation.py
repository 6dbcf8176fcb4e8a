"""French wording of pydantic's validation errors, for the catalog and the connectors' own models."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from moisson.core.suggest import did_you_mean

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


def explain(err: Mapping[str, Any]) -> str:
    """One pydantic error in French; an unknown key is told with the keys of `err["known"]`, if given."""
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


def described(exc: ValidationError, known: Iterable[str] = (), *, root: str = "locator") -> str:
    """Every error of `exc` as `path : explanation`, joined with ` ; ` (`known`: the keys the model takes)."""
    keys = list(known)
    # The keys given are the model's own: an unknown key deeper down is told without them.
    return " ; ".join(f"{'.'.join(map(str, err['loc'])) or root} : "
                      f"{explain(err | {'known': keys if len(err['loc']) == 1 else []})}" for err in exc.errors())
