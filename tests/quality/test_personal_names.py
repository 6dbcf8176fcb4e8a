"""Private persons' names without a civility: precision and recall on a labelled set.

The set: every distinct text of the reference CSV files (SCDL and Wallonia examples: equipment,
grant beneficiaries, street names, descriptions; one fictitious contact, `Pierre Dupont`, is a
person) plus texts written here: names in the shapes the issue reports and the public figures
streets, schools and associations are named after. Measured on this set (printed with -s):
precision and recall both ≥ 0.95.
"""

from __future__ import annotations

import pandas as pd
import pytest

from moisson.quality.personal import named_persons
from tests.data import REFERENCE, reference

PERSONS = [
    ("contact", "Jean Dupont"), ("contact", "Marie-Claire Martin"), ("observations", "Référent : Paul Durand"),
    ("responsable", "DURAND Paul"), ("responsable", "Jean-Pierre Lefèvre"), ("contact", "Nathalie Roux (mairie)"),
    ("referent", "Sophie Bernard"), ("agent", "Thomas Petit"), ("nom", "Isabelle Moreau"),
    ("description", "Salle gérée par Michel Garnier, joignable en mairie"), ("commentaire", "voir avec Julie Fontaine"),
    ("gestionnaire", "LEROY Camille"), ("interlocuteur", "Yasmina Benali"), ("contact", "BENALI Yasmina"),
    ("contact", "Kévin Da Silva"), ("responsable", "Anne-Sophie Girard"), ("nom_referent", "Mohamed Haddad"),
    ("prenom", "Claire"), ("prénom", "Lucas"), ("contact_name", "Céline Mercier"),
    ("notes", "Clés chez Philippe Robert"), ("titulaire", "Christophe Lambert"), ("agent", "Aurélie Faure"),
    ("contact", "Samir Cherif"), ("responsable", "Élodie Rousseau"), ("beneficiaire", "Patrick Blanc"),
    ("contact", "Gwenaël Le Goff"), ("responsable", "Laurent de la Tour"),
]
NOT_PERSONS = [
    ("adresse", "rue Jean Jaurès"), ("nom", "École Jules Ferry"), ("nom", "Association Les Amis de Jean Moulin"),
    ("adresse", "12 avenue Victor Hugo"), ("nom", "Salle Marie Curie"), ("nom", "Collège Jean Moulin"),
    ("nom", "Lycée Louis Pasteur"), ("nom", "Gymnase Pierre de Coubertin"), ("nom", "Stade Jean Bouin"),
    ("adresse", "Place Charles de Gaulle"), ("nom", "Médiathèque Louise Michel"), ("nom", "Parc Paul Mistral"),
    ("nom", "Groupe scolaire Jacques Prévert"), ("nom", "Espace Jean Vilar"), ("adresse", "allée Simone Veil"),
    ("nom", "Centre social Françoise Dolto"), ("nom", "Piscine Jean Macé"), ("nom", "Maison de quartier Paul Bert"),
    ("nom", "Crèche Les Petits Loups"), ("nom", "Salle des fêtes"), ("contact", "Service Urbanisme"),
    ("contact", "Mairie de Moisson-sur-Lys"), ("responsable", "Direction des sports"), ("contact", "Pôle Jeunesse"),
    ("nom", "Jean Jaurès"), ("nom", "Victor Hugo"), ("description", "Statue de Jeanne d'Arc"),
    ("adresse", "boulevard Anatole France"), ("nom", "Église Saint-Pierre"), ("nom", "Théâtre Jean Vilar"),
    ("nom", "Bibliothèque Émile Zola"), ("nom", "Complexe sportif Léo Lagrange"), ("adresse", "quai Louis Blériot"),
    ("nom", "Résidence Les Tilleuls"), ("commentaire", "Ouvert le Samedi Matin"), ("contact", "Accueil Mairie"),
]


def reference_texts() -> list[tuple[str, str, bool]]:
    labelled = []
    for path in sorted(reference(REFERENCE).rglob("*.csv")):
        frame = pd.read_csv(path, dtype="string", sep=None, engine="python", encoding_errors="replace")
        for column in frame.columns:
            values = frame[column].dropna().drop_duplicates()
            for value in values[values.str.contains(r"[A-Za-z]{3}", regex=True)]:
                labelled.append((str(column), value, value == "Pierre Dupont"))
    return labelled


def predict(labelled):
    return [bool(named_persons(pd.Series([text], dtype="string"), column)[0]) for column, text, _ in labelled]


def test_precision_and_recall_on_the_labelled_set():
    labelled = reference_texts() + [(c, t, True) for c, t in PERSONS] + [(c, t, False) for c, t in NOT_PERSONS]
    predicted = predict(labelled)
    truth = [label for _, _, label in labelled]
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"\n{len(labelled)} texts, {sum(truth)} persons: precision {precision:.3f}, recall {recall:.3f} "
          f"(tp {tp}, fp {fp}, fn {fn})")
    assert len(labelled) > 1000
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


@pytest.mark.parametrize(("column", "text"), NOT_PERSONS[:3])
def test_the_issue_s_public_figures_pass(column, text):
    assert not named_persons(pd.Series([text], dtype="string"), column)[0]


@pytest.mark.parametrize(("column", "text"), PERSONS[:3])
def test_the_issue_s_private_names_are_found(column, text):
    assert named_persons(pd.Series([text], dtype="string"), column)[0]


def test_one_text_is_read_once_and_nulls_are_not_names():
    cells = pd.Series(["Jean Dupont", None, "Jean Dupont", "Salle des fêtes"], dtype="string")
    assert named_persons(cells, "contact").tolist() == [True, False, True, False]
