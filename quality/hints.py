"""Explain likely causes of a bad cell: Excel damage, lost zeros, near-miss spellings."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from moisson.quality.messages import DEFAULT_LANG, Lang, say
from moisson.quality.schema import FieldSpec

EXCEL_EPOCH = date(1899, 12, 30)
# Serials 20000-80000 are 1954-10-03 to 2119-01-10: the dates a spreadsheet of this kind holds.
EXCEL_SERIAL = re.compile(r"(\d{5})(?:\.0+)?")
EXCEL_NUMBER = re.compile(r"(\d+)\.0+|(\d(?:[.,]\d+)?)[eE]\+?(\d+)")
WHOLE_DECIMAL = re.compile(r"-?\d+\.0+")
DECIMAL_COMMA = re.compile(r"-?\d+,\d+")
YES = {"oui", "o", "yes", "y", "vrai", "true", "1", "x"}
NO = {"non", "n", "no", "faux", "false", "0"}
IDENTIFIERS = {14: "SIRET", 9: "SIREN"}


def type_hint(spec: FieldSpec, value: str, lang: Lang = DEFAULT_LANG) -> str | None:
    """Why `value` may have failed the type of `spec`, or None."""
    text = value.strip()
    if spec.type in ("date", "datetime"):
        serial = EXCEL_SERIAL.fullmatch(text)
        if serial and 20000 <= int(serial[1]) <= 80000:
            day = EXCEL_EPOCH + timedelta(days=int(serial[1]))
            return say("hint.excel-date", lang, serial=serial[1], day=day.isoformat())
        year = re.match(r"(\d{4})-\d{2}-\d{2}", text)
        if year and not 1678 <= int(year[1]) <= 2261:
            return say("hint.date-range", lang)
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2}", text):
            return say("hint.no-such-day", lang)
        return None
    if spec.type == "integer" and WHOLE_DECIMAL.fullmatch(text):
        return say("hint.whole-decimal", lang)
    if spec.type in ("integer", "number"):
        if re.search(r"\d", text) and re.fullmatch(r"[-+\d\s.,oO]+", text) and re.search("[oO]", text):
            return say("hint.letter-o", lang)
        if DECIMAL_COMMA.fullmatch(text):
            return say("hint.decimal-comma", lang)
        return None
    if spec.type == "boolean":
        folded = text.casefold()
        if folded in {v.casefold() for v in spec.true_values} or folded in YES:
            return say("hint.did-you-mean", lang, value=spec.true_values[0])
        if folded in {v.casefold() for v in spec.false_values} or folded in NO:
            return say("hint.did-you-mean", lang, value=spec.false_values[0])
    return None


def code_hint(value: str, fits: re.Pattern[str], lang: Lang = DEFAULT_LANG) -> str | None:
    """Why a code (SIRET, postal code…) fails `fits`, when its damage can be undone."""
    text = value.strip()
    number = EXCEL_NUMBER.fullmatch(text)
    if number:
        digits = number[1] or _expand(number[2], int(number[3]))
        if digits and fits.fullmatch(digits):
            kind = IDENTIFIERS.get(len(digits)) or say("kind.code", lang)
            return say("hint.excel-number", lang, kind=kind, digits=digits)
    if text.isdigit() and fits.fullmatch("0" + text):
        return say("hint.leading-zero", lang, value=text)
    if text != value and fits.fullmatch(text):
        return say("hint.strip", lang)
    squeezed = re.sub(r"[\s\u00a0\u202f.]", "", text)
    if squeezed != text and fits.fullmatch(squeezed):
        return say("hint.squeeze", lang, value=squeezed)
    return None


def enum_hint(value: str, allowed: Iterable[str], lang: Lang = DEFAULT_LANG) -> str | None:
    """Suggest the allowed value equal to `value` but for case and spaces."""
    key = _fold(value)
    for candidate in allowed:
        if _fold(candidate) == key:
            return say("hint.did-you-mean", lang, value=candidate)
    return None


def label_hint(name: str, candidates: Iterable[str]) -> str | None:
    """Name the candidate column equal to `name` but for case, spaces and punctuation."""
    key = re.sub(r"[\W_]+", "", name.casefold())
    for candidate in candidates:
        if re.sub(r"[\W_]+", "", candidate.casefold()) == key:
            return candidate
    return None


def with_hint(message: str, hint: str | None, lang: Lang = DEFAULT_LANG) -> str:
    """Append a hint in brackets, when there is one."""
    return say("hint", lang, message=message, hint=hint) if hint else message


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _expand(mantissa: str, exponent: int) -> str | None:
    """Digits of a number written in scientific notation (3,24021385E+13), if it is whole."""
    whole, _, fraction = mantissa.replace(",", ".").partition(".")
    if len(fraction) > exponent:
        return None
    return whole + fraction.ljust(exponent, "0")
