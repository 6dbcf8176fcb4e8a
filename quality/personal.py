"""Personal data gate: find what looks like personal data and apply the catalog's per-column policy.

Opening data must not open personal data (RGPD; CRPA art. L312-1-2). What is found, vectorised over
whole columns with `Series.str` regexes (RE2-compatible, so pyarrow runs them):

- `email`: an address whose local part is not a role (`contact@`, `mairie@`…) and whose domain is
  neither public-sector nor the producer's own. Webmail (gmail, orange…) and nominative shapes
  (`prenom.nom@company.fr`) block; in a column the schema declares as an e-mail contact only webmail
  blocks and the rest warns (an association's or agent's contact is what a commune publishes).
- `phone`: a French number (08 service numbers excepted) outside a declared phone column blocks; in
  one, only mobiles (06/07) warn: a town hall switchboard is fine in an equipment list.
- `nir`: a social security number whose key (97 − body mod 97) holds.
- `iban`: an IBAN whose ISO 13616 mod-97 check holds.
- `person-name`: a civility followed by a name (`M. Dupont`, `Mme Anne Roy`), not inside a street or
  building name (`rue Madame de Staël`); `M. le Maire` is a function, not a name. Without a civility:
  a known first name (`quality.first_names`) and a capitalised surname, either order (`Jean Dupont`,
  `Marie-Claire Martin`, `DURAND Paul`, `Référent : Paul Durand`), unless a street, building or
  association word comes just before (`rue Jean Jaurès`, `École Jules Ferry`, `Association Les Amis
  de Jean Moulin`) or it is a public figure streets are named after (`Victor Hugo`). In a column
  whose name says it holds people (`contact`, `responsable`, `référent`, `agent`…) any first name +
  surname shape counts, the first name known or not; in a `prénom` column a known first name alone.

Policy per column (`quality.personal_data` in the catalog): `block` (default on a finding), `drop` the
column, `hash` it (salted SHA-256, the salt from `quality.hash_salt`, by default the environment variable
`MOISSON_HASH_SALT`) or `keep` it. `drop` and `hash` apply whether or not anything was found, so a run
never publishes a column the catalog asked to hide.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from moisson.core.errors import ConfigError
from moisson.core.metadata import DatasetMetadata
from moisson.core.secrets import Secret, reveal
from moisson.quality.cast import SAMPLE_ROWS
from moisson.quality.checks import Issues
from moisson.quality.first_names import FIRST_NAMES

PERSONAL = "personal-data"
Kind = Literal["email", "phone", "nir", "iban", "person-name"]
KINDS: tuple[Kind, ...] = get_args(Kind)
SHOWN_ROWS = 5
TEXT_TYPES = {"string", "any"}

_SEP = r"[._+-]"
# Role accounts: an address holding one of these words is a service's, not a person's.
ROLE_WORDS = (
    "contact", "contacts", "accueil", "mairie", "ville", "info", "infos", "information", "informations",
    "secretariat", "direction", "dg", "dgs", "cabinet", "communication", "presse", "rh", "drh", "courrier",
    "service", "services", "administration", "admin", "webmaster", "postmaster", "noreply", "no-reply",
    "ne-pas-repondre", "dpo", "rgpd", "opendata", "data", "donnees", "sig", "urbanisme", "etat-civil",
    "etatcivil", "population", "elus", "maire", "support", "reservation", "reservations", "billetterie",
    "inscription", "inscriptions", "culture", "sport", "sports", "jeunesse", "enfance", "scolaire",
    "education", "social", "ccas", "technique", "techniques", "travaux", "voirie", "environnement",
    "dechets", "eau", "assainissement", "police", "police-municipale", "mediatheque", "bibliotheque",
    "piscine", "ecole", "college", "lycee", "office", "tourisme", "association", "asso", "club", "bureau",
    "standard", "bonjour", "hello", "commande", "commandes", "facturation", "comptabilite", "finances",
    "marches", "marchespublics", "achats", "juridique", "archives", "agenda", "evenements", "animation",
    "fetes", "salle", "salles", "location", "locations", "mail", "email", "courriel", "secours", "sdis",
    "urgence", "securite", "marche", "halles", "camping", "musee", "theatre", "cinema", "crematorium",
    "cimetiere", "ordures", "proprete", "espaces-verts", "mobilite", "transport", "transports", "velo",
)
ROLE = (rf"(?:^|{_SEP})(?:{'|'.join(map(re.escape, ROLE_WORDS))})(?:$|{_SEP}|[0-9])")
# Personal mailboxes of French and common international providers.
WEBMAIL = (
    r"(?:^|\.)(?:g(?:oogle)?mail\.com|hotmail\.[a-z.]+|outlook\.[a-z.]+|live\.[a-z.]+|msn\.com|yahoo\.[a-z.]+"
    r"|ymail\.com|orange\.fr|wanadoo\.fr|free\.fr|sfr\.fr|neuf\.fr|laposte\.net|bbox\.fr|numericable\.fr"
    r"|aliceadsl\.fr|club-internet\.fr|cegetel\.net|voila\.fr|libertysurf\.fr|icloud\.com|me\.com|mac\.com"
    r"|aol\.[a-z.]+|gmx\.[a-z.]+|protonmail\.[a-z]+|proton\.me|tutanota\.[a-z]+|mail\.com|yandex\.[a-z]+"
    r"|skynet\.be|telenet\.be)$")
# Public bodies: the State, its agencies and local governments (a nominative address there is an
# agent's professional one, which the law lets a public body publish).
PUBLIC_DOMAIN = (
    r"(?:^|\.)(?:gouv\.fr|education\.fr|ac-[a-z-]+\.fr|sante\.fr|assurance-maladie\.fr|caf\.fr"
    r"|francetravail\.fr|pole-emploi\.fr|ign\.fr|insee\.fr|meteo\.fr|onf\.fr|ofb\.fr|ademe\.fr|cerema\.fr"
    r"|brgm\.fr|shom\.fr|cnrs\.fr|inrae\.fr|inserm\.fr|univ-[a-z0-9-]+\.fr|chu-[a-z0-9-]+\.fr"
    r"|europa\.eu|wallonie\.be|belgium\.be)$"
    r"|(?:^|[.-])(?:mairie|ville|commune|communes|agglo|metropole|departement|region|cc|ca|cu|communaute"
    r"|sdis|cdg[0-9]*|sivom|sivu|sictom|smictom|syndicat|pnr|ccas|cd[0-9]{2}|cg[0-9]{2})(?:[.-])")
EMAIL = r"([A-Za-z0-9._%+'-]+)@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})"
_BEFORE, _AFTER = r"(?:^|[^0-9.,+])", r"(?:$|[^0-9])"
_PHONE = r"{before}(?:0|(?:\+|00)33[ .-]?(?:\(0\)[ .-]?)?){first}(?:[ .-]?[0-9]{{2}}){{4}}{after}"
PHONE = _PHONE.format(before=_BEFORE, first="[1-79]", after=_AFTER)
MOBILE = _PHONE.format(before=_BEFORE, first="[67]", after=_AFTER)
NIR = (r"(?:^|[^0-9A-Za-z])([12] ?[0-9]{2} ?[0-9]{2} ?(?:[0-9]{2}|2[ABab]) ?[0-9]{3} ?[0-9]{3})"
       r" ?([0-9]{2})(?:$|[^0-9A-Za-z])")
IBAN = r"(?:^|[^0-9A-Za-z])([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?)(?:$|[^0-9A-Za-z])"
CIVILITY = r"(?:M\.|MM\.|Mr\.?|Mme\.?|Mmes|Mlle\.?|Monsieur|Madame|Mademoiselle)"
PERSON = (rf"(?:^|[^A-Za-zÀ-ÿ]){CIVILITY}[ \t]+[A-ZÀ-Þ][A-Za-zÀ-ÿ'’-]+")
# `rue Madame de Staël`, `école Monsieur Pierre`: a civility naming a place is no one's personal data.
PLACE_CIVILITY = (
    rf"(?i:rue|avenue|av\.|boulevard|bd|place|all[ée]e|impasse|chemin|quai|square|cours|passage|route"
    rf"|r[ée]sidence|[ée]cole|coll[èe]ge|lyc[ée]e|salle|stade|gymnase|espace|centre|maison|parc|jardin"
    rf"|cr[èe]che|halle|m[ée]diath[èe]que|biblioth[èe]que|fondation|prix|h[ôo]pital|clinique|pont)"
    rf"[ \t]+(?i:(?:de[ \t]+la|de|du|des|l')[ \t]*)?{CIVILITY}")
_UPPER, _LOWER = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
_FIRST = "(?:" + "|".join(sorted(map(re.escape, FIRST_NAMES), key=len, reverse=True)) + ")"
_GIVEN = rf"{_FIRST}(?:-{_FIRST})?"
_PARTICLE = r"(?:(?:(?i:de|du|des|da|di|le|la|van|von|der))[ \t]+|d['’]){0,2}"
_SURNAME = rf"{_PARTICLE}[{_UPPER}][{_LOWER}{_UPPER}'’]+(?:-[{_UPPER}][{_LOWER}{_UPPER}'’]+)?"
_CAPS_SURNAME = rf"[{_UPPER}]{{2,}}(?:[-' ][{_UPPER}]{{2,}})?"
_CAPITALISED = rf"[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)?"
_EDGE_BEFORE, _EDGE_AFTER = rf"(?:^|[^{_LOWER}{_UPPER}0-9])", rf"(?:$|[^{_LOWER}{_UPPER}0-9])"
#: `Jean Dupont`, `Marie-Claire Martin`, `DURAND Paul`: a known first name with a surname, either order.
NAMED = re.compile(rf"{_EDGE_BEFORE}(?:(?P<given>{_GIVEN})[ \t]+(?P<surname>{_SURNAME})"
                   rf"|(?P<caps>{_CAPS_SURNAME})[ \t]+(?P<after>{_GIVEN})(?={_EDGE_AFTER}))")
#: In a column of people, any `Prénom Nom` / `NOM Prénom` shape, two or three words.
PERSON_SHAPE = re.compile(rf"{_EDGE_BEFORE}(?:{_CAPITALISED}[ \t]+(?:{_SURNAME}|{_CAPS_SURNAME})"
                          rf"|{_CAPS_SURNAME}[ \t]+{_CAPITALISED})(?={_EDGE_AFTER})")
#: What every `PERSON_SHAPE` match holds: a capitalised word, blanks, a letter.
_TWO_WORDS = rf"[{_UPPER}][{_LOWER}{_UPPER}]+[ \t]+[{_LOWER}{_UPPER}]"
ALONE_FIRST_NAME = re.compile(rf"^[ \t]*{_GIVEN}[ \t]*$")
# A name right after one of these words names a place, a building or a body, after a public figure.
NAMED_AFTER = re.compile(
    r"(?i:rue|avenue|av\.?|boulevard|bd|place|pl\.|all[ée]e|impasse|chemin|quai|square|cours|passage|route|sentier"
    r"|voie|parvis|esplanade|rond-point|cit[ée]|quartier|lotissement|r[ée]sidence|hameau|pont|port|[ée]cole|coll[èe]ge"
    r"|lyc[ée]e|groupe[ \t]+scolaire|universit[ée]|institut|salle|stade|gymnase|piscine|complexe|espace|centre|maison"
    r"|foyer|parc|jardin|bois|cr[èe]che|halle|m[ée]diath[èe]que|biblioth[èe]que|ludoth[èe]que|mus[ée]e|th[ée][âa]tre"
    r"|cin[ée]ma|auditorium|conservatoire|fondation|association|amicale|club|comit[ée]|cercle|soci[ée]t[ée]|prix"
    r"|troph[ée]e|h[ôo]pital|clinique|ehpad|caserne|gare|a[ée]roport|[ée]glise|chapelle|temple|mosqu[ée]e|statue"
    r"|monument|buste|plaque|promotion|saint|sainte|st|ste|troph[ée]e|challenge|tournoi|coupe|m[ée]morial|course"
    r"|festival|[\"«“])"
    # Between the word and the name, only what a place's or a body's name puts there (`Les Amis de`).
    r"(?:[ \t]*(?i:de|du|des|la|le|les|l['’]|d['’]|aux?|amis|scolaire|sportif|sportive|sociale?|culturel(?:le)?"
    r"|municipale?|communale?|intercommunale?|de[ \t]+quartier|maternelle|[ée]l[ée]mentaire|primaire|publique?"
    r"|priv[ée]e?|polyvalente?|omnisports?|[ée]cole|mixte)\b){0,4}[ \t]*$")
#: Whose name gives a street or a school its name so often that it names no private person.
PUBLIC_FIGURES = frozenset({
    "Jean Jaurès", "Victor Hugo", "Jules Ferry", "Jean Moulin", "Charles de Gaulle", "Louis Pasteur", "Marie Curie",
    "Pierre Curie", "Jean Monnet", "Léon Blum", "Georges Clemenceau", "Émile Zola", "Jean Macé", "Paul Bert",
    "Anatole France", "Albert Camus", "Jacques Prévert", "Louise Michel", "Simone Veil", "Gustave Eiffel", "Jean Zay",
    "Pierre Brossolette", "Jean Mermoz", "Frédéric Mistral", "Paul Éluard", "Marcel Pagnol", "George Sand",
    "Jules Verne", "Claude Debussy", "Maurice Ravel", "Hector Berlioz", "Jean Rostand", "Paul Langevin",
    "Henri Barbusse", "Romain Rolland", "Danielle Casanova", "Lucie Aubrac", "Olympe de Gouges", "Jean Vilar",
    "Camille Claudel", "Auguste Renoir", "Claude Monet", "Paul Cézanne", "Édouard Herriot", "Aristide Briand",
    "François Mitterrand", "Jacques Chirac", "Joséphine Baker", "Gisèle Halimi", "Germaine Tillion", "Louis Aragon",
    "Paul Valéry", "Pierre Mendès", "Jean Giono", "Antoine de Saint-Exupéry", "Henri Matisse", "Guy Môquet",
    "Gabriel Péri", "Marcel Cachin", "Maurice Thorez", "Jean Bart", "Robert Schuman", "Charles Péguy", "Louis Blériot",
    "Alfred de Musset", "Alphonse Daudet", "Jean Racine", "Pierre Corneille", "Jean Giraudoux", "Paul Verlaine",
    "Arthur Rimbaud", "Albert Schweitzer", "Pierre de Coubertin", "Jean Bouin", "Louis Lumière",
    "Jean Renoir", "Françoise Dolto", "Marie Marvingt", "Jean-Jacques Rousseau", "Jean de la Fontaine",
})
#: A column named with one of these words holds people.
PEOPLE_COLUMN = re.compile(
    r"contact|responsable|r[ée]f[ée]rent|agent|interlocut|correspondant|gestionnaire|titulaire|propri[ée]taire"
    r"|demandeur|pr[ée]sident|directeur|directrice|signataire|exploitant|locataire|b[ée]n[ée]ficiaire|[ée]lu"
    r"|animateur|animatrice|charg[ée]_de|instructeur|redacteur|r[ée]dacteur|auteur|dirigeant|g[ée]rant|personne")
FIRST_NAME_COLUMN = re.compile(r"pr[ée]nom|first_?name|given_?name")
#: What a cell holding any kind of personal data holds: an `@`, a phone number, a NIR, an IBAN, a civility, a known
#: first name (and in a column of people two words). Each kind's own patterns then read only the cells RE2 finds
#: this in, most columns none: one pass over a column instead of one per pattern (each costs about the same).
_ANY = "|".join(f"(?:{pattern})" for pattern in ("@", PHONE, NIR, IBAN, CIVILITY, _FIRST))
_ANY_IN_PEOPLE = f"{_ANY}|(?:{_TWO_WORDS})"
# Words of a body or a service: `Service Urbanisme` in a contact column is no one's name.
SERVICE_WORD = re.compile(
    r"(?i)\b(?:service|mairie|ville|commune|direction|p[ôo]le|bureau|accueil|secr[ée]tariat|cabinet|mission|office"
    r"|d[ée]partement|agence|centre|syndicat|association|communaut[ée]|m[ée]tropole|r[ée]gion|conseil|police|pompiers"
    r"|sdis|ccas|standard|h[ôo]tel|guichet|point|maison|espace|cellule|unit[ée]|division|d[ée]l[ée]gation|antenne"
    r"|r[ée]gie|soci[ée]t[ée]|sarl|sas|sa|eurl|sci|gie|groupe|club|comit[ée]|f[ée]d[ée]ration|[ée]quipe|la|le|les)\b")
PHONE_COLUMN = re.compile(r"t[ée]l[ée]phone|(?:^|[^a-z])tel(?:$|[^a-z])|^tel|phone|fax|mobile|portable|gsm")
EMAIL_COLUMN = re.compile(r"e?-?mail|courriel")


@dataclass(frozen=True)
class Finding:
    """Rows of one column holding one kind of personal data."""

    column: str
    kind: Kind
    rows: np.ndarray
    warning: bool = False


def find_personal(text: pd.DataFrame, fields: Sequence[Mapping[str, Any]] = (), *,
                  own_domains: Iterable[str] = ()) -> list[Finding]:
    """Look for personal data in the text columns of a table.

    Args:
        text: The cells as text (nulls for empty cells).
        fields: Table Schema field descriptors: their type skips non-text columns, their name, title,
            description and format say which columns are declared phone or e-mail contacts.
        own_domains: E-mail domains of the producer (its addresses are never personal).

    Returns:
        One finding per column and kind with at least one row.
    """
    described = {str(f.get("name")): f for f in fields}
    domains = {d.lower() for d in own_domains if d}
    found = []
    for column in text.columns:
        spec = described.get(str(column), {})
        if spec and spec.get("type", "string") not in TEXT_TYPES:
            continue
        cells = text[column]
        if not pd.api.types.is_string_dtype(cells) or not cells.notna().any():
            continue
        role = _declared_role(str(column), spec)
        # A cell's kinds depend on its text alone: most columns repeat a few texts, read each once. A column
        # whose first rows already all differ (references, identifiers) is not worth the factorising.
        head = cells.iloc[:SAMPLE_ROWS]
        codes, uniques = pd.factorize(cells, use_na_sentinel=True) if head.nunique() <= len(head) // 2 else (None, ())
        distinct = codes is not None and len(uniques) <= len(cells) // 2
        looked = pd.Series(uniques, dtype=cells.dtype) if distinct else cells
        maybe = _contains(looked, _ANY_IN_PEOPLE if PEOPLE_COLUMN.search(str(column).lower()) else _ANY)
        if not maybe.any():
            continue
        part = looked[maybe].reset_index(drop=True)
        for kind, part_rows, warning in _scan(part, role, domains):
            if kind == "person-name":
                part_rows = part_rows | named_persons(part, str(column))
            rows = np.zeros(len(looked), dtype=bool)
            rows[maybe] = part_rows
            if distinct:
                rows = np.append(rows, False)[codes]  # a null cell (code -1) takes the appended False
            if rows.any():
                found.append(Finding(str(column), kind, rows, warning))
    return found


def protect(text: pd.DataFrame, clean: pd.DataFrame, issues: Issues, *, fields: Sequence[Mapping[str, Any]] = (),
            actions: Mapping[str, str], salt: Secret | None = None,
            own_domains: Iterable[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Find personal data, record what blocks or warns, and drop or hash the columns the catalog names.

    Args:
        text: The text of the columns to inspect.
        clean: The typed table to publish.
        issues: Where errors (`personal-data`, which always block) and warnings go.
        fields: Table Schema field descriptors (see `find_personal`).
        actions: The catalog's `personal_data`: column → keep | drop | hash | block.
        salt: Salt for `hash` (resolved secret).
        own_domains: The producer's e-mail domains.

    Returns:
        The table to publish and notes saying what was dropped or hashed.

    Raises:
        ConfigError: A column is to be hashed and the salt is not set.
    """
    evidence = Evidence(actions)
    evidence.add(text, clean, issues, fields=fields, own_domains=own_domains)
    evidence.record(issues)
    return apply_actions(clean, issues, actions=actions, salt=salt)


class Evidence:
    """The personal data found in a table checked chunk by chunk: per column and kind, how many rows and the first.

    Each cell is judged on its own text, so the chunks' findings add up to the whole table's.
    """

    def __init__(self, actions: Mapping[str, str]) -> None:
        self.actions = actions
        self._columns: dict[str, None] = {}
        self._found: dict[tuple[str, Kind, bool], tuple[int, list[int]]] = {}

    def add(self, text: pd.DataFrame, clean: pd.DataFrame, issues: Issues, *,
            fields: Sequence[Mapping[str, Any]] = (), own_domains: Iterable[str] = ()) -> None:
        """Look at a chunk (`issues.offset` is its first row's table position)."""
        self._columns.update(dict.fromkeys([*map(str, text.columns), *map(str, clean.columns)]))
        for finding in find_personal(text, fields, own_domains=own_domains):
            if self.actions.get(finding.column, "block") in ("keep", "drop", "hash"):
                continue
            key = (finding.column, finding.kind, finding.warning)
            count, first = self._found.get(key, (0, []))
            positions = np.flatnonzero(finding.rows)
            room = SHOWN_ROWS - len(first)
            self._found[key] = (count + len(positions), first + (issues.offset + positions[:room]).tolist())

    def record(self, issues: Issues) -> None:
        """Record what blocks or warns (`issues` in whole-table positions), columns and kinds in table order."""
        for column in [c for c in self.actions if c not in self._columns]:
            issues.table(field=column, type=PERSONAL, warning=True,
                         message=issues.say("personal.unknown-column", column=column))
        order = {column: i for i, column in enumerate(self._columns)}
        ranks = {kind: i for i, kind in enumerate(KINDS)}
        for (column, kind, warning), (count, first) in sorted(
                self._found.items(), key=lambda item: (order[item[0][0]], ranks[item[0][1]], item[0][2])):
            _record(column, kind, warning, count, first, issues)


def apply_actions(clean: pd.DataFrame, issues: Issues, *, actions: Mapping[str, str],
                  salt: Secret | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Drop or hash the columns the catalog names (`actions`); notes saying so.

    Raises:
        ConfigError: A column is to be hashed and the salt is not set.
    """
    notes = []
    published = clean
    dropped = [c for c, a in actions.items() if a == "drop" and c in published.columns]
    if dropped:
        published = published.drop(columns=dropped)
        notes += [issues.say("personal.dropped", column=c) for c in dropped]
    hashed = [c for c, a in actions.items() if a == "hash" and c in published.columns]
    if hashed:
        key = _salt(salt).encode()
        published = published.assign(**{c: hash_column(published[c], key) for c in hashed})
        notes += [issues.say("personal.hashed", column=c) for c in hashed]
    return published, notes


def producer_domains(metadata: DatasetMetadata | None) -> list[str]:
    """The producer's own domains, from its contact address and web pages (its agents' addresses are public)."""
    if metadata is None:
        return []
    contact = metadata.contact
    domains = [contact.email.rsplit("@", 1)[-1]] if contact and contact.email and "@" in contact.email else []
    for url in (metadata.landing_page, contact.url if contact else None):
        host = urlsplit(url).hostname if url else None
        if host:
            domains.append(host.removeprefix("www."))
    return [d.lower() for d in domains]


def hash_column(values: pd.Series, salt: bytes) -> pd.Series:
    """Salted SHA-256 (hex) of each value's text; nulls stay null. Each distinct value is hashed once."""
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    digests = np.array([hashlib.sha256(salt + str(u).encode()).hexdigest() for u in uniques] + [None],
                       dtype=object)
    return pd.Series(digests[codes], index=values.index, dtype="string")


def nir_key_valid(body: pd.Series, key: pd.Series) -> np.ndarray:
    """NIR key check: key = 97 − (13-digit body mod 97), Corsica's 2A/2B read as 19/18."""
    digits = body.str.replace(" ", "", regex=False).str.upper()
    corsica = digits.str.slice(5, 7)
    digits = digits.where(~corsica.isin(["2A", "2B"]), digits.str.slice(0, 5)
                          + corsica.map({"2A": "19", "2B": "18"}) + digits.str.slice(7))
    number = pd.to_numeric(digits, errors="coerce").astype("Float64").to_numpy(float, na_value=np.nan)
    keys = pd.to_numeric(key, errors="coerce").astype("Float64").to_numpy(float, na_value=np.nan)
    ok = ~np.isnan(number) & ~np.isnan(keys)
    result = np.zeros(len(body), dtype=bool)
    # 13 digits fit in int64 exactly; float64 does not round them (< 2**53).
    result[ok] = (97 - number[ok].astype(np.int64) % 97) == keys[ok].astype(np.int64)
    return result


def iban_valid(candidates: pd.Series) -> np.ndarray:
    """ISO 13616 mod-97 check of each IBAN text (spaces allowed), over all rows at once."""
    compact = candidates.str.replace(" ", "", regex=False).fillna("")
    rearranged = (compact.str.slice(4) + compact.str.slice(0, 4)).to_numpy(str)
    width = max((len(s) for s in rearranged), default=0)
    valid = compact.str.len().between(15, 34).fillna(False).to_numpy(bool)
    if not width:
        return valid
    chars = np.frombuffer(np.char.rjust(rearranged.astype(f"<U{width}"), width).astype(f"S{width}").tobytes(),
                          dtype=np.uint8).reshape(len(rearranged), width).astype(np.int64)
    remainder = np.zeros(len(rearranged), dtype=np.int64)
    for column in chars.T:
        letter = column >= ord("A")
        digit = (column >= ord("0")) & (column <= ord("9"))
        # A letter is two digits (A = 10 … Z = 35); padding spaces count for nothing.
        remainder = np.where(letter, (remainder * 100 + column - ord("A") + 10) % 97,
                             np.where(digit, (remainder * 10 + column - ord("0")) % 97, remainder))
    return valid & (remainder == 1)


def _scan(cells: pd.Series, role: str | None, own_domains: set[str]) -> list[tuple[Kind, np.ndarray, bool]]:
    found: list[tuple[Kind, np.ndarray, bool]] = []
    webmail, nominative, other = _emails(cells, own_domains)
    # In a declared e-mail contact column only private mailboxes block; elsewhere named addresses too.
    blocking = webmail if role == "email" else webmail | nominative
    found += [("email", blocking, False), ("email", (webmail | nominative | other) & ~blocking, True)]
    phone = _mask(cells.str.contains(PHONE, regex=True))
    if role == "phone":
        found.append(("phone", _mask(cells.str.contains(MOBILE, regex=True)), True))
    else:
        found.append(("phone", phone, False))
    found.append(("nir", _where(cells, NIR, lambda nir: _mask(nir[0].notna()) & nir_key_valid(
        nir[0].fillna(""), nir[1])), False))
    found.append(("iban", _where(cells, IBAN, lambda iban: _mask(iban[0].notna()) & iban_valid(
        iban[0].fillna(""))), False))
    unplaced = cells.str.replace(PLACE_CIVILITY, " ", regex=True)
    found.append(("person-name", _mask(unplaced.str.contains(PERSON, regex=True)), False))
    return found


def named_persons(cells: pd.Series, column: str = "") -> np.ndarray:
    """Rows naming a private person without a civility (see the module docstring); each distinct text read once."""
    name = column.lower()
    people = bool(PEOPLE_COLUMN.search(name))
    first_names = bool(FIRST_NAME_COLUMN.search(name))
    # Python's `re` reads only the cells RE2 finds a known first name in (or, in a column of people, two
    # words the first capitalised): every text the patterns below accept holds one.
    candidates = _contains(cells, _FIRST)
    if people:
        candidates |= _contains(cells, _TWO_WORDS)
    verdicts = np.zeros(len(cells), dtype=bool)
    if candidates.any():
        codes, uniques = pd.factorize(cells[candidates], use_na_sentinel=True)
        found = np.array([_names_a_person(str(text), people, first_names) for text in uniques] + [False], dtype=bool)
        verdicts[candidates] = found[codes]
    return verdicts


def _names_a_person(text: str, people: bool, first_names: bool) -> bool:
    if first_names and ALONE_FIRST_NAME.match(text):
        return True
    for match in NAMED.finditer(text):
        start = match.start("given") if match["given"] else match.start("caps")
        if NAMED_AFTER.search(text[:start]) or _public_figure(text[start:match.end()]):
            continue
        if not SERVICE_WORD.fullmatch((match["surname"] or match["caps"]).strip()):
            return True
    if people:
        for match in PERSON_SHAPE.finditer(text):
            words = match.group(0).strip(" \t:;,.-(")
            if not (SERVICE_WORD.search(words) or NAMED_AFTER.search(text[:match.start()]) or _public_figure(words)):
                return True
    return False


def _public_figure(words: str) -> bool:
    words = " ".join(words.split())
    return any(words.startswith(figure) for figure in PUBLIC_FIGURES)


def _emails(cells: pd.Series, own_domains: set[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with an address that is neither a role account nor public-sector nor the producer's.

    Returns:
        Rows with a webmail address, rows with a nominative one elsewhere (`prenom.nom@company.fr`),
        rows with any other such address.
    """
    masks = tuple(np.zeros(len(cells), dtype=bool) for _ in range(3))
    has_at = _mask(cells.str.contains("@", regex=False))
    if not has_at.any():
        return masks
    matches = cells[has_at].reset_index(drop=True).str.extractall(EMAIL)
    if matches.empty:
        return masks
    local, domain = matches[0].str.lower(), matches[1].str.lower()
    private = ~_mask(local.str.contains(ROLE, regex=True)) & ~(
        _mask(domain.str.contains(PUBLIC_DOMAIN, regex=True)) | domain.isin(own_domains).to_numpy(bool))
    webmail = private & _mask(domain.str.contains(WEBMAIL, regex=True))
    # `prenom.nom`, `p.nom`, `prenom-nom`: the shapes of a person's address at a company or association.
    nominative = private & ~webmail & _mask(local.str.fullmatch(r"[a-z]+[._-][a-z]+(?:[._-][a-z]+)?[0-9]*"))
    kinds = (webmail, nominative, private & ~webmail & ~nominative)
    row = matches.index.get_level_values(0).to_numpy()
    positions = np.flatnonzero(has_at)
    for mask, kind in zip(masks, kinds, strict=True):
        mask[positions[np.unique(row[kind])]] = True
    return masks


def _declared_role(column: str, spec: Mapping[str, Any]) -> str | None:
    """`phone` or `email` when the column is declared a contact of that kind (schema or column name)."""
    if spec.get("format") == "email":
        return "email"
    name = column.lower()
    described = " ".join(str(spec.get(k, "")) for k in ("title", "description")).lower()
    if PHONE_COLUMN.search(name) or (not EMAIL_COLUMN.search(name) and "téléphone" in described):
        return "phone"
    if EMAIL_COLUMN.search(name):
        return "email"
    return None


def _record(column: str, kind: Kind, warning: bool, count: int, first: Sequence[int], issues: Issues) -> None:
    rows = ", ".join(str(issues.file_row(int(p))) for p in first[:SHOWN_ROWS])
    rows += ", …" if count > SHOWN_ROWS else ""
    key = "personal.warn" if warning else "personal.block"
    # Rows only, never the values: the report must not spread what it protects.
    message = issues.say(key, column=column, count=count, rows=rows, what=issues.say(f"personal.{kind}"))
    issues.table(field=column, type=PERSONAL, rule=kind, message=message, warning=warning)


def _salt(salt: Secret | None) -> str:
    if salt is None:
        raise ConfigError("quality.personal_data demande de hacher une colonne mais aucun sel n'est défini : exportez "
                          "MOISSON_HASH_SALT (une longue chaîne aléatoire, gardée secrète et stable d'une exécution "
                          "à l'autre)")
    value = reveal(salt, what="quality.hash_salt")
    if not value:
        raise ConfigError("quality.hash_salt est vide : donnez-lui pour valeur une longue chaîne aléatoire")
    return value


def _where(cells: pd.Series, pattern: str, verdict: Callable[[pd.DataFrame], np.ndarray]) -> np.ndarray:
    """`verdict` of the groups Python's `re` extracts with `pattern`, run only on the cells RE2 finds it in."""
    rows = _contains(cells, pattern)
    found = np.zeros(len(cells), dtype=bool)
    if rows.any():
        found[rows] = verdict(cells[rows].str.extract(pattern))
    return found


def _contains(cells: pd.Series, pattern: str) -> np.ndarray:
    """Cells in which RE2 finds `pattern` (groups allowed, unlike `Series.str.contains`)."""
    found = pc.match_substring_regex(pa.array(cells, from_pandas=True), pattern)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def _mask(values: pd.Series) -> np.ndarray:
    return values.fillna(False).to_numpy(bool)
