"""French first names, for finding private persons' names without a civility (`quality.personal`).

Derived from the `fr_FR`, `fr_BE`, `fr_CH`, `fr_CA` and `fr_QC` person providers of Faker 40.54.0
(MIT licence, © joke2k and contributors: the project's own licence family), plus common first names
those lists lack (Maghrebi, West African, Breton and recent INSEE favourites), written for moisson.
INSEE's *fichier des prénoms* would be larger but is not reachable offline, and `gender-guesser`'s
dictionary is GPL. 361 names.
"""

FIRST_NAMES: frozenset[str] = frozenset({
    "Adrien", "Adrienne", "Adèle", "Adélaïde", "Agathe", "Agnès", "Aimé", "Aimée", "Alain", "Albert", "Alex",
    "Alexandra", "Alexandre", "Alexandria", "Alexandrie", "Alexis", "Alfred", "Alice", "Alicia", "Alix", "Alphonse",
    "Ambre", "Aminata", "Amine", "Amélie", "Ana", "Anastasie", "Anaëlle", "Anaïs", "André", "Andrée", "Anna",
    "Anne", "Anouk", "Anthony", "Antoine", "Antoinette", "Antonio", "Arnaud", "Arnaude", "Arthur", "Astrid",
    "Audrey", "Auguste", "Augustin", "Aurore", "Aurélie", "Axelle", "Aïcha", "Bastien", "Benjamin", "Benoît",
    "Bernadette", "Bernard", "Bertrand", "Bilal", "Brigitte", "Bruno", "Béatrice", "Camille", "Capucine",
    "Caroline", "Catherine", "Chantal", "Charles", "Charlotte", "Chloé", "Christelle", "Christian", "Christiane",
    "Christine", "Christophe", "Claire", "Clara", "Claude", "Claudine", "Clémence", "Colette", "Constance",
    "Coralie", "Corentin", "Corinne", "Cécile", "Cédric", "Célina", "Céline", "Damien", "Daniel", "Danielle",
    "David", "Delphine", "Denis", "Denise", "Diane", "Djamel", "Dominique", "Dorothée", "Dylan", "Eliane", "Elisa",
    "Elisabeth", "Elodie", "Eléonore", "Emilie", "Emma", "Emmanuel", "Emmanuelle", "Enzo", "Eric", "Erwan", "Ethan",
    "Eugène", "Eva", "Fabienne", "Fabrice", "Farid", "Fatima", "Florence", "Florian", "Franck", "François",
    "Françoise", "Frédéric", "Frédérique", "Gabriel", "Gabrielle", "Gaëlle", "Geneviève", "Georges", "Georgette",
    "Germaine", "Gilbert", "Gilles", "Grégoire", "Grégory", "Guillaume", "Guy", "Gwenaël", "Gwendoline", "Gérard",
    "Hakim", "Henri", "Henriette", "Honoré", "Hortense", "Hugo", "Hugues", "Hélène", "Ibrahim", "Inès", "Isaac",
    "Isabelle", "Jacqueline", "Jacques", "Jade", "Jean", "Jean-Claude", "Jean-Pierre", "Jeanne", "Jeannine",
    "Jessica", "Jonathan", "Joseph", "Josette", "Josiane", "José", "Joséphine", "Jules", "Julie", "Julien",
    "Juliette", "Jérôme", "Karim", "Karine", "Kevin", "Khadija", "Killian", "Kévin", "Laetitia", "Lara", "Laura",
    "Laure", "Laurence", "Laurent", "Laurie", "Leïla", "Liam", "Liliane", "Lina", "Lisa", "Lola", "Lorraine", "Lou",
    "Louis", "Louise", "Loïc", "Luc", "Luca", "Lucas", "Luce", "Lucie", "Lucy", "Ludovic", "Lætitia", "Léa", "Léo",
    "Léon", "Madeleine", "Maggie", "Malik", "Mamadou", "Manon", "Manuel", "Marc", "Marcel", "Marcelle", "Margaret",
    "Margaud", "Margaux", "Margot", "Marguerite", "Maria", "Marianne", "Marie", "Marine", "Marthe", "Martin",
    "Martine", "Maryse", "Mathieu", "Mathilde", "Mathis", "Matteo", "Matthieu", "Mattéo", "Maude", "Maurice",
    "Maxime", "Maël", "Maëlle", "Mehdi", "Michael", "Michel", "Michelle", "Michèle", "Mickaël", "Mila", "Mohamed",
    "Mohammed", "Monique", "Moussa", "Mélanie", "Nabil", "Nadia", "Nath", "Nathalie", "Nathan", "Nelly", "Nicolas",
    "Nicole", "Noah", "Nolan", "Noémi", "Noémie", "Noël", "Océane", "Odette", "Olivia", "Olivie", "Olivier",
    "Pascal", "Patricia", "Patrick", "Paul", "Paulette", "Pauline", "Philippe", "Philippine", "Pierre", "Pénélope",
    "Quentin", "Rachid", "Raphaël", "Rayan", "Raymond", "René", "Renée", "Richard", "Robert", "Roger", "Roland",
    "Romain", "Romane", "Ronan", "Rosalie", "Rose", "Rémy", "Sabine", "Samir", "Samira", "Samuel", "Sandra",
    "Sandrine", "Sara", "Sarah", "Simone", "Sofiane", "Solène", "Sophie", "Stéphane", "Stéphanie", "Susan",
    "Susanne", "Suzanne", "Sylvie", "Sébastien", "Séverine", "Tanguy", "Thibault", "Thibaut", "Thierry", "Thomas",
    "Théo", "Théodore", "Théophile", "Thérèse", "Timothée", "Timéo", "Tom", "Tristan", "Valentine", "Valérie",
    "Vanessa", "Victoire", "Victor", "Vincent", "Virginie", "Véronique", "Walid", "William", "Xavier", "Yacine",
    "Yanis", "Yann", "Yannick", "Yasmina", "Yves", "Yvette", "Yvonne", "Zacharie", "Zoé", "Édith", "Édouard",
    "Élisabeth", "Élise", "Élodie", "Éléonore", "Émile", "Émilie", "Éric", "Étienne",
})
