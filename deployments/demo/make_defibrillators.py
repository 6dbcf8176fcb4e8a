"""Write the three sources of the defibrillators of Moisson-sur-Lys, an imaginary commune (invented data).

- `defibrillateurs-commune.xlsx`: the commune's own list, with addresses and no coordinates;
- `defibrillateurs-osm.csv`: an OpenStreetMap extract (`emergency=defibrillator`), in the columns the `osm`
  source writes (`id` as `osm:node/…`, tags as columns, `lat`/`lon`), so the demo runs offline;
- `defibrillateurs-geodae.csv`: the national base (GéoDAE) export, in the national DAE schema's columns;
- `geocodage-corrections.csv`: the coordinates of the commune's addresses (`adresse;lat;lon`), which the
  geocode step reads before any geocoder: the demo needs no addok and no network.

Three of the commune's six are also in GéoDAE, two in OpenStreetMap (a few metres off); each of the two
others has one the commune does not list. The merge gives eight defibrillators.

Run `python deployments/demo/make_defibrillators.py` to rebuild them; the output is deterministic.
"""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
TOWN = ("59999", "Moisson-sur-Lys")
WORKDAYS = "lundi|mardi|mercredi|jeudi|vendredi"
# (place, number, street, inside, days, hours, lat, lon)
COMMUNE = [
    ("Hôtel de ville", "1", "Place de la Mairie", "Intérieur", WORKDAYS, "heures ouvrables", 50.69214, 2.98752),
    ("Salle Jean Bouin", "12", "Rue des Tisserands", "Extérieur", "7j/7", "24h/24", 50.69336, 2.99104),
    ("Stade des Prés du Lys", "2", "Chemin du Halage", "Extérieur", "7j/7", "24h/24", 50.68895, 2.98028),
    ("Médiathèque Marguerite Yourcenar", "8", "Rue de l'Église", "Intérieur", "mardi|mercredi|jeudi|vendredi|samedi",
     "heures ouvrables", 50.69166, 2.98654),
    ("Maison de santé du Lys", "18", "Rue Pasteur", "Intérieur", f"{WORKDAYS}|samedi", "heures ouvrables",
     50.69287, 2.98416),
    ("Halte ferroviaire", "1", "Avenue de la Gare", "Extérieur", "7j/7", "24h/24", 50.68713, 2.99305),
]
# GéoDAE: (the same as the commune's row…, or None; name, lat, lon, inside, days, hours)
NATIONAL = [
    (0, "Mairie de Moisson-sur-Lys", 50.69218, 2.98749, "Intérieur", WORKDAYS, "heures ouvrables"),
    (1, "Complexe sportif Jean Bouin", 50.69339, 2.99110, "Extérieur", "7j/7", "24h/24"),
    (5, "Gare de Moisson-sur-Lys", 50.68709, 2.99311, "Extérieur", "7j/7", "heures ouvrables|heures de nuit"),
    (None, "Pharmacie du Centre", 50.69251, 2.98502, "Intérieur", f"{WORKDAYS}|samedi", "heures ouvrables"),
]
NATIONAL_ADDRESS = {None: ("3", "Rue Pasteur")}
# OpenStreetMap: (node id, name, lat, lon, indoor, opening_hours)
OSM = [
    (11000000021, "DAE stade", 50.68899, 2.98034, "no", "24/7"),
    (11000000022, "Défibrillateur gare", 50.68716, 2.99299, "no", "24/7"),
    (11000000023, "DAE parc du Moulin", 50.69044, 2.98957, "no", "24/7"),
]


def address(number: str, street: str) -> str:
    """The full address as the geocode step joins it: number and street, postcode, town."""
    return f"{number} {street} {TOWN[0]} {TOWN[1]}"


def write_commune(path: Path) -> None:
    """The list the commune keeps: where each defibrillator is, by address."""
    wb = Workbook()
    ws = wb.active
    ws.title = "DAE"
    ws.append(["Lieu", "Adresse", "Code postal", "Ville", "Emplacement", "Jours", "Heures"])
    for place, number, street, inside, days, hours, _, _ in COMMUNE:
        ws.append([place, f"{number} {street}", TOWN[0], TOWN[1], inside, days, hours])
    wb.properties.creator = "Services techniques, Moisson-sur-Lys"
    wb.save(path)


def write_national(path: Path) -> None:
    """The national base's export for the commune, with its own names and coordinates."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["nom", "lat_coor1", "long_coor1", "adr_num", "adr_voie", "com_cp", "com_insee", "com_nom",
                         "acc", "disp_j", "disp_h", "etat_fonct"])
        for row, name, lat, lon, inside, days, hours in NATIONAL:
            number, street = NATIONAL_ADDRESS[row] if row is None else COMMUNE[row][1:3]
            writer.writerow([name, f"{lat:.5f}", f"{lon:.5f}", number, street, TOWN[0], TOWN[0], TOWN[1], inside,
                             days, hours, "En fonctionnement"])


def write_osm(path: Path) -> None:
    """OpenStreetMap's defibrillators of the commune, as the `osm` source writes them."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "emergency", "indoor", "name", "opening_hours", "lat", "lon"])
        for node, name, lat, lon, indoor, hours in OSM:
            writer.writerow([f"osm:node/{node}", "defibrillator", indoor, name, hours, f"{lat:.5f}", f"{lon:.5f}"])


def write_overrides(path: Path) -> None:
    """Coordinates of the commune's addresses, so the demo geocodes without a geocoder."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\n")
        writer.writerow(["adresse", "lat", "lon"])
        for _, number, street, _, _, _, lat, lon in COMMUNE:
            writer.writerow([address(number, street), f"{lat:.5f}", f"{lon:.5f}"])


if __name__ == "__main__":
    write_commune(HERE / "defibrillateurs-commune.xlsx")
    write_national(HERE / "defibrillateurs-geodae.csv")
    write_osm(HERE / "defibrillateurs-osm.csv")
    write_overrides(HERE / "geocodage-corrections.csv")
