"""Write the sports department's export of Moisson-sur-Lys, an imaginary commune (invented data).

`equipements-sportifs-service-des-sports.csv` is the sports facilities list the way the sports department
keeps it: French headers of its own, decimal commas, `Oui`/`Non`, its own typology (`Gymnase`, `Stade`…),
one address column, no column about the commune, a facility listed twice (updated), one closed. The
catalog's `prepare:` recipe fits it to the SCDL schema `equipements` 0.1.5 (see the README, "Recipes").

Run `python deployments/demo/make_sports.py` to rebuild it; the output is deterministic.
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = ["Identifiant", "Nom de l'équipement", "Type d'équipement", "Adresse", "Code postal", "Commune",
          "Latitude", "Longitude", "Horaires d'ouverture", "Ouvert au public"]
# (code, name, type, address, lat, lon, hours, open)
FACILITIES = [
    ("04010101-001", "Gymnase Jean Bouin", "Gymnase", "12 Rue des Tisserands", "50,6934", "2,9911",
     "Mo-Su 08:00-22:00", "Oui"),
    ("04020101-001", "Stade des Prés du Lys", "Stade", "2 Chemin du Halage", "50,6889", "2,9802",
     "Mo-Su 08:00-21:00", "Oui"),
    ("04030101-001", "Piscine des Tilleuls", "Piscine", "30 Rue des Tilleuls", "50,6957", "2,9860",
     "Tu-Su 10:00-19:00", "Oui"),
    ("04040101-001", "Courts de tennis du Moulin", "Court de tennis", "7 Rue du Moulin", "50,6901", "2,9885",
     "Mo-Su 09:00-20:00", "Oui"),
    ("04050101-001", "Dojo municipal", "Dojo", "14 Rue Pasteur", "50,6927", "2,9846",
     "Mo-Sa 17:00-22:00", "Oui"),
    ("04020102-001", "Stade annexe", "Stade", "4 Chemin du Halage", "50,6885", "2,9797",
     "Sa-Su 09:00-18:00", "Non"),                                    # closed for works: filtered out
    ("05010201-001", "Salle polyvalente des Sports", "Salle polyvalente", "9 Rue des Tisserands", "50,6931",
     "2,9906", "Mo-Su 08:00-23:00", "Oui"),
    ("04010101-001", "Gymnase Jean Bouin", "Gymnase", "12 Rue des Tisserands", "50,6934", "2,9911",
     "Mo-Su 07:30-22:30", "Oui"),                                    # listed again with new hours: kept
]


def rows() -> list[list[str]]:
    """The export's rows, as text cells."""
    return [[f"59999-{code}", name, kind, address, "59999", "Moisson-sur-Lys", lat, lon, hours, opened]
            for code, name, kind, address, lat, lon, hours, opened in FACILITIES]


def write_export(path: Path) -> None:
    """The export as the department's spreadsheet saves it: `;`-separated, UTF-8."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(rows())


if __name__ == "__main__":
    write_export(HERE / "equipements-sportifs-service-des-sports.csv")
