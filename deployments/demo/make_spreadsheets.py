"""Write the demo spreadsheets of Moisson-sur-Lys, an imaginary commune (invented data).

`equipements-publics.xlsx` follows the SCDL schema `equipements` 0.1.5 the way a
department keeps it: a title and a blank row above the header. `salles-a-louer.csv` is
the same schema as a town-hall export (cp1252, `;`, decimal commas, `31/12/2023` style)
with deliberate mistakes, so the demo shows a dataset the quality gate blocks.

Run `python deployments/demo/make_spreadsheets.py` to rebuild them; the output is deterministic.
"""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
COLL = ("Commune de Moisson-sur-Lys", "21599999600014")
HEADER = [
    "COLL_NOM", "COLL_SIRET", "EQUIP_UID", "EQUIP_THEME", "EQUIP_CODE", "EQUIP_TYPE", "EQUIP_NOM",
    "ADR_NUMERO", "ADR_NOMVOIE", "ADR_CODEPOSTAL", "ADR_COMMUNE", "ADR_CLE_INTEROP", "ERP_ID",
    "ERP_TYPE", "ERP_CATEGORIE", "EQUIP_LAT", "EQUIP_LONG", "EQUIP_OUVERTURE", "EQUIP_TEL",
    "EQUIP_EMAIL", "EQUIP_WEB",
]
# (theme, code, type, name, number, street, erp type, category, lat, lon, opening hours)
EQUIPMENTS = [
    ("Equipement administratif", "01010401-001", "Mairie", "Hôtel de ville", "1", "Place de la Mairie",
     "W", 4, 50.6921, 2.9874, "Mo-Fr 08:30-12:00,13:30-17:30; Sa 09:00-12:00"),
    ("Equipement sportif et de loisirs", "04010101-001", "Salle de sports", "Salle Jean Bouin", "12",
     "Rue des Tisserands", "X", 3, 50.6934, 2.9911, "Mo-Su 08:00-22:00"),
    ("Equipement sportif et de loisirs", "04020101-001", "Stade", "Stade des Prés du Lys", "2",
     "Chemin du Halage", "PA", 4, 50.6889, 2.9802, "Mo-Su 08:00-21:00"),
    ("Equipement culturel", "07010101-001", "Médiathèque", "Médiathèque Marguerite Yourcenar", "8",
     "Rue de l'Église", "S", 4, 50.6917, 2.9866, "Tu-Sa 10:00-18:00"),
    ("Equipement d'enseignement", "06010101-001", "École maternelle", "École maternelle Les Tilleuls",
     "24", "Rue des Tilleuls", "R", 4, 50.6950, 2.9851, "Mo-Fr 08:30-16:30"),
    ("Equipement d'enseignement", "06010201-001", "École élémentaire", "École Jules Ferry", "26",
     "Rue des Tilleuls", "R", 3, 50.6952, 2.9855, "Mo-Fr 08:30-16:30"),
    ("Equipement social et d'animation", "05010101-001", "Centre social", "Maison des associations",
     "5", "Rue du Moulin", "L", 4, 50.6905, 2.9890, "Mo-Sa 09:00-19:00"),
    ("Equipement de mobilité", "09010101-001", "Gare", "Halte ferroviaire", "1", "Avenue de la Gare",
     "GA", 5, 50.6871, 2.9931, "Mo-Su 05:30-23:00"),
    ("Equipement cultuel", "08010101-001", "Église", "Église Saint-Vaast", "3", "Place de l'Église",
     "V", 3, 50.6915, 2.9863, "Mo-Su 09:00-18:00"),
    ("Equipement sanitaire", "03010101-001", "Maison de santé", "Maison de santé du Lys", "18",
     "Rue Pasteur", "U", 5, 50.6929, 2.9842, "Mo-Fr 08:00-20:00; Sa 08:00-12:00"),
]


def equipment_rows() -> list[list[object]]:
    """The valid rows, as typed values a spreadsheet holds."""
    rows = []
    for i, (theme, code, kind, name, num, street, erp, cat, lat, lon, hours) in enumerate(EQUIPMENTS, 1):
        rows.append([
            *COLL, f"59999-{code}", theme, code, kind, name, num, street, "59999", "Moisson-sur-Lys",
            f"59999_{1000 + i:04d}_{int(num):05d}", f"59999-{i:03d}", erp, cat, lat, lon, hours,
            "+33 320000000", "accueil@moisson-sur-lys.fr", "https://www.moisson-sur-lys.fr",
        ])
    return rows


def write_workbook(path: Path) -> None:
    """The equipment list as the department keeps it: title rows, then the table."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Équipements"
    ws.append(["Commune de Moisson-sur-Lys — équipements publics (mise à jour mensuelle)"])
    ws.append([])
    ws.append(HEADER)
    for row in equipment_rows():
        ws.append(row)
    wb.properties.creator = "Service SIG, Moisson-sur-Lys"
    wb.save(path)


def write_broken_csv(path: Path) -> None:
    """Rooms to rent, exported by hand with the usual mistakes (the demo's blocked dataset)."""
    rows = [[str(v).replace(".", ",") if isinstance(v, float) else str(v) for v in row]
            for row in equipment_rows()[:4]]
    rows[0][HEADER.index("COLL_SIRET")] = "2,15999996E+13"           # Excel turned the SIRET into a number
    rows[1][HEADER.index("EQUIP_THEME")] = "Equipement Sportif"        # not in the enum (case)
    rows[2][HEADER.index("EQUIP_LAT")] = ""                            # required coordinate missing
    rows[3][HEADER.index("EQUIP_UID")] = "MSL-salle-4"                 # does not follow the pattern
    rows[3][HEADER.index("ERP_CATEGORIE")] = "7"                       # categories go from 1 to 5
    with path.open("w", encoding="cp1252", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(rows)


if __name__ == "__main__":
    write_workbook(HERE / "equipements-publics.xlsx")
    write_broken_csv(HERE / "salles-a-louer.csv")
