""""Vouliez-vous dire … ?": the closest known word to a typo, compared without accents, case or punctuation."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from moisson.core.ids import slugify


def closest(value: str, known: Iterable[str] | Mapping[str, str], *, cutoff: float = 0.6) -> str | None:
    """The known word `value` most likely stands for, or None when nothing is close enough.

    Args:
        value: What was written.
        known: The words that are accepted, or a mapping from spellings people use (labels,
            titles) to the word to suggest.
        cutoff: Least similarity (0–1) for a suggestion.
    """
    targets = dict(known) if isinstance(known, Mapping) else {word: word for word in known}
    folded = {slugify(spelling, default=""): word for spelling, word in targets.items()}
    key = slugify(value, default="")
    if key in folded:
        return folded[key]
    starts = [spelling for spelling in folded if spelling and (spelling.startswith(key) or key.startswith(spelling))]
    if key and len(starts) == 1:
        return folded[starts[0]]
    match = difflib.get_close_matches(key, list(folded), n=1, cutoff=cutoff)
    return folded[match[0]] if match else None


def did_you_mean(value: str, known: Iterable[str] | Mapping[str, str]) -> str:
    """` (vouliez-vous dire 'x' ?)` for a close known word, else an empty string."""
    word = closest(value, known)
    return f" (vouliez-vous dire {word!r} ?)" if word and word != value else ""
