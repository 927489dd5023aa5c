"""Seeded generator of realistic, messy B2B leads with ground truth for dedup benchmarks.

`generate_leads` builds people (entities) across US, GB, DE, FR, CA, AU, NL, ES and IN, places
them at companies, and emits 1..k duplicate rows per person with realistic corruption: typos,
case changes, nicknames, swapped/"Last, First" names, honorifics and suffixes, dropped accents
and mojibake, Gmail dots/+tags/googlemail, the same phone number in many national and
international formats (with extensions), company legal-suffix variants, website variants,
country/city/state/postcode spellings and missing fields. Hard cases are planted on purpose:
colleagues sharing a surname and the switchboard, namesakes at other companies and family
members sharing a home phone (all distinct people), and job changers (same person, new company
and work email, linked by personal mobile or personal email). `true_entity_id` is the truth.

`write_messy_files` splits a frame into CSV/TSV/pipe files in several encodings, XLSX (some with
two sheets), JSON and NDJSON, with headers spelled from pipeline/header_aliases.yaml and the
ground truth carried along as `_true_entity_id` / `_record_id` columns.

    python benchmarks/generate_leads.py --rows 1000000 --seed 7 --noise standard \
        --out benchmarks/data/leads_1m_standard.parquet [--files DIR --n-files 20]
"""

from __future__ import annotations

import argparse
import functools
import json
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from pipeline.schema import LEAD_FIELDS

# The canonical lead fields the ingester maps headers onto, less the free-text ones.
OUTPUT_COLUMNS: tuple[str, ...] = tuple(
    f for f in LEAD_FIELDS if f not in ("linkedin_url", "notes")
)

# created_at spans the three years up to this date (fixed, so a seed always gives the same data).
AS_OF = date(2026, 11, 1)
WINDOW_DAYS = 3 * 365

ALIASES_PATH = Path(__file__).resolve().parents[1] / "pipeline" / "header_aliases.yaml"

# --------------------------------------------------------------------------------------------
# Names. Lists are in rough frequency order; sampling applies a Zipf-like skew on the rank.
# --------------------------------------------------------------------------------------------

_EN_MALE = """James John Robert Michael William David Richard Joseph Thomas Charles Christopher
Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy
Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott
Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry Tyler Aaron
Adam Nathan Henry Douglas Zachary Peter Kyle Ethan Walter Noah Jeremy Christian Keith Roger
Terry Gerald Harold Sean Austin Carl Arthur Lawrence Dylan Jesse Jordan Bryan Bruce Gabriel
Logan Albert Alan Wayne Elijah Randy Roy Vincent Ralph Eugene Russell Mason Philip Louis Oliver
Harry Charlie Theodore Frederick Nathaniel Phillip Liam Lucas Owen Connor Callum Francis Stuart
Graham Neil Ian Colin Martin Simon Alistair Rory Hamish Declan""".split()
_EN_FEMALE = """Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy
Betty Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah
Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma
Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine Maria Heather
Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan Evelyn Judith Megan
Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara Madison Frances Kathryn Janice
Jean Abigail Alice Judy Sophia Grace Denise Amber Doris Marilyn Danielle Beverly Isabella
Theresa Diana Natalie Brittany Charlotte Marie Kayla Alexis Lori Alexandra Chloe Sophie Lucy
Georgia Eleanor Harriet Zoe Fiona Siobhan Gemma Kirsty Niamh""".split()
_DE_MALE = """Thomas Michael Andreas Stefan Christian Peter Wolfgang Klaus Jürgen Frank Markus
Alexander Martin Matthias Daniel Sebastian Tobias Jan Florian Maximilian Lukas Jonas Felix Paul
Leon Uwe Dieter Hans Günter Helmut Werner Karl Heinz Manfred Bernd Ralf Sven Jens Dirk Torsten
Johannes Friedrich Moritz Niklas Tim Philipp Julian Björn Jörg Dominik Marcel""".split()
_DE_FEMALE = """Sabine Petra Claudia Susanne Andrea Nicole Stefanie Julia Katharina Anna Laura Lena
Lea Sarah Hannah Sophie Marie Ursula Monika Renate Karin Birgit Heike Anja Silke Jana Franziska
Christina Melanie Johanna Charlotte Emilia Mia Greta Jutta Gisela Elke Ute Kerstin Tanja Bärbel
Lisa Katrin Miriam Ines Jülide Dörte""".split()
_FR_MALE = """Jean Pierre Michel Philippe Alain Nicolas Christophe Patrick Daniel Laurent Frédéric
Stéphane Julien Sébastien Olivier David Thomas Antoine Maxime Alexandre Hugo Louis Lucas Théo
Mathieu Guillaume Romain François Jérôme Bernard Éric Vincent Cédric Jean-Pierre Jean-Luc
Jean-Marc Benoît Yves Gaël Loïc Hervé Rémi Jacques Léo Arnaud Émile""".split()
_FR_FEMALE = """Marie Nathalie Isabelle Sylvie Catherine Françoise Valérie Christine Sandrine Sophie
Céline Stéphanie Aurélie Julie Camille Léa Manon Chloé Emma Inès Sarah Claire Hélène Élodie
Pauline Mathilde Lucie Juliette Anaïs Margaux Océane Amélie Anne Brigitte Monique Nicole
Véronique Agnès Cécile Marie-Claire Noémie Zoé Joëlle Laetitia""".split()
_ES_MALE = """José Antonio Manuel Francisco Juan David Javier Jesús Carlos Daniel Miguel Rafael
Pedro Ángel Alejandro Fernando Pablo Luis Sergio Jorge Alberto Diego Álvaro Raúl Adrián Iván
Rubén Enrique Óscar Andrés Ramón Vicente Joaquín Santiago Mateo Hugo Gonzalo Emilio Guillermo
Ignacio Víctor""".split()
_ES_FEMALE = """María Carmen Ana Isabel Dolores Pilar Teresa Rosa Josefa Cristina Laura Lucía Marta
Elena Sara Paula Andrea Raquel Beatriz Sofía Alba Julia Irene Silvia Patricia Nuria Rocío
Mercedes Inmaculada Montserrat Alicia Claudia Natalia Eva Lorena Noelia Ainhoa Begoña
Verónica""".split()
_NL_MALE = """Jan Pieter Hendrik Johannes Cornelis Willem Dirk Gerrit Jeroen Bas Sander Thijs Ruben
Daan Sem Lars Bram Joost Maarten Niels Kees Wouter Koen Stijn Tim Mark Rik Erik Arjen
Floris""".split()
_NL_FEMALE = """Anna Maria Johanna Cornelia Sanne Lotte Femke Anouk Eva Emma Sophie Lieke Marloes
Fleur Iris Ingrid Esther Annemieke Linda Marieke Ilse Noor Julia Tessa Yvonne Wilma Petra
Mirjam Saskia Lisa""".split()
_IN_MALE = """Rahul Amit Rajesh Suresh Vijay Sanjay Anil Sunil Ravi Arjun Vikram Rohit Ankit Deepak
Manoj Pradeep Karthik Arun Nikhil Siddharth Aditya Varun Rakesh Ashok Gaurav Harish Prakash
Srinivas Venkatesh Abhishek Aarav Vivek Mohit Naveen Kiran Sandeep Praveen Ramesh
Mahesh""".split()
_IN_FEMALE = """Priya Anjali Pooja Neha Sneha Divya Kavya Anita Sunita Lakshmi Deepika Shreya
Aishwarya Meera Nisha Swati Ritu Sonia Asha Radha Geeta Pallavi Ananya Isha Nandini Aarti Rekha
Shalini Jyoti Madhuri""".split()
_AS_MALE = """Wei Jun Ming Hao Jian Hiroshi Takeshi Kenji Min-jun Ji-hoon Minh Tuan Duc Kevin Jason
Eric Daniel Andrew David Michael""".split()
_AS_FEMALE = """Mei Li Xin Yan Ying Hui Yuki Akiko Sakura Ji-woo Seo-yeon Linh Mai Thao Jenny Grace
Amy Michelle Christina Tiffany""".split()

_EN_LAST = """Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore
Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott
Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans
Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Bailey Reed Kelly
Howard Cox Ward Richardson Watson Brooks Wood James Bennett Gray Hughes Price Sanders Myers
Long Ross Foster Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes
Fisher Simmons Patterson Jordan Reynolds Hamilton Graham Wallace West Cole Hayes Gibson Bryant
Ellis Stevens Murray Ford Marshall Owens McDonald Harrison Kennedy Wells Alexander Tucker
Porter Hunter Hicks Crawford Henry Boyd Mason Warren Dixon Burns Gordon Shaw Holmes Rice
Robertson Hunt Black Daniels Palmer Mills Grant Knight Ferguson Stone Hawkins Dunn Perkins
Hudson Spencer Stephens Pierce Hansen Wagner Snyder Lawrence Hart Elliott Cunningham Bradley
Carroll Duncan Armstrong Berry Andrews Johnston Ray Lane Riley Carpenter Fox Webb Weaver Lynch
Dean Austin Chapman Burke Bishop O'Brien O'Connor Walsh Byrne Ryan Doyle McCarthy Gallagher
Quinn Kavanagh Fitzgerald McLaughlin Davies Lloyd Griffiths Owen Rees Clarke Hall Lee
Wilkinson Atkinson Barker Pearson Fletcher Mackenzie Fraser Sinclair Douglas Cameron MacLeod
Reid Paterson Bruce Kerr Barclay Muir Ogilvie Drummond Lindsay Munro Hay Gillespie Baxter
Howell Pratt Norris Lowe Lambert Payne Chambers Dawson Barrett Fuller Sutton Goodwin Bates
Newman Gardner Nash Little Page Hale Rhodes Wade Hopkins Bowen Curtis Frost Walters Holland
Sharp Potter Reeves Abbott Day Bird Barton Hammond Cross Hodges Stanley Tyler Oliver Francis
Benson Jennings Manning Harvey Bradshaw Greenwood Slater Parsons Rowe Lucas Mann Sims
Whitaker Blake Gregory Cartwright Sheppard Swift Norton Booth Higgins Burton Pope Steele Dyer
Moss Hardy Griffin Cohen Wolfe Schwartz Kaplan Levy Stein Weiss Klein Friedman Shapiro
Greenberg Rosen Bernstein Goldberg Katz Fischer Hoffman Becker Meyer Schneider Kramer Keller
Zimmerman Hartman Baldwin Burgess Holt Rowland Whitehead Dalton Finch Gates Hogan Hurst Kemp
Kirby Lamb Lyons McKenzie Norman Osborne Pugh Rowley Savage Shepherd Stokes Summers Thornton
Tomlinson Townsend Vaughan Walton Warner Watts Wheeler Whitfield Wilkins Winter Woodward Yates
Hawthorne Ashworth Pemberton Fairbanks Lancaster Kingsley Radcliffe Sutherland Montgomery
Chandler Prescott Whitmore Hargreaves Blackwood Ellsworth Cavanaugh Donovan Gilmore Hendricks
Lockhart Maddox Mercer Nolan Pruitt Quincy Rutherford Stanton Thatcher Underwood Vance
Waverly Bishop Conway Doherty Farrell Hanley Keane Lennon Madden Nugent Rafferty Sheridan
Tierney Whelan Brennan Costello Dempsey Flanagan Gorman Hennessy Lynam Moran Regan""".split()
_DE_LAST = """Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer
Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann
Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler
Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn
Schubert Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke
Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger
Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn
Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer Ernst Schütz Hübner
Lindner Marx Fiedler Fricke Gerlach Hesse Jansen Lenz Maurer Nowak Paul Petersen Rieger Ritter
Schilling Seifert Stahl Thiel Ulrich Vetter Witt Wendt Wirth Zander Brinkmann Böttcher Dörr
Eckert Götz Heller Jakob Kirchner Kolb Kurz Lutz Mohr Nagel Probst Reuter Sander Schade Schwab
Sturm Thiele Wenzel Wiedemann Wolter Ahrens Bach Bartsch Bock Brenner Büttner Dietz Ebert
Fink Frey Geiger Gärtner Haupt Heinz Hess Hoppe Jahn Kessler Kern Köster Kunz Langer Lohmann
Mayr Menzel Michel Nickel Oswald Pieper Rausch Reichert Rösler Sattler Scherer Schlüter
Schott Stark Strauß Thomsen Voss Wilhelm Zimmer Öztürk Yilmaz Kaya Demir Çelik""".split()
_FR_LAST = [
    *"""Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel
Lefebvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine
Rousseau Vincent Muller Lefèvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier
François Legrand Gauthier Garcia Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu
Gautier Masson Marchand Duval Denis Dumont Marie Lemaire Noël Meyer Dufour Meunier Brun
Blanchard Giraud Joly Rivière Lucas Brunet Gaillard Barbier Arnaud Martinez Gérard Roche
Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre Aubert Lemoine Renaud Dumas
Lacroix Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet Rolland Leclercq Guillaume
Lecomte Lopez Jean Dupuy Guillot Hubert Berger Carpentier Sanchez Dupuis Moulin Louis
Deschamps Huet Vasseur Perez Boucher Fleury Royer Klein Jacquet Adam Paris Poirier Marty
Aubry Guyot Carré Charles Renault Charpentier Ménard Maillard Baron Bertin Bailly Hervé
Schneider Fernandez Collet Léger Bouvier Julien Prévost Millet Perrot Daniel Cousin Germain
Breton Besson Langlois Rémy Pelletier Lévêque Perrier Leblanc Barré Lebrun Marchal Weber
Mallet Hamon Boulanger Jacob Monnier Michaud Rodriguez Guichard Gillet Étienne Grondin Poulain
Tessier Chevallier Collin Chauvin Bouchet Gay Lemaître Bénard Maréchal Humbert Reynaud
Antoine Hoarau Perret Barthélemy Cordier Pichon Lejeune Gilbert Lamy Delaunay Pasquier
Carlier Laporte""".split(),
    "Le Gall",
    "Le Roux",
    "Le Goff",
    "Da Silva",
]
_ES_LAST = """García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín
Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres
Domínguez Vázquez Ramos Gil Ramírez Serrano Blanco Molina Morales Suárez Ortega Delgado Castro
Ortiz Rubio Marín Sanz Núñez Iglesias Medina Garrido Cortés Castillo Santos Lozano Guerrero
Cano Prieto Méndez Cruz Calvo Gallego Vidal León Márquez Herrera Peña Flores Cabrera Campos
Vega Fuentes Carrasco Diez Caballero Reyes Nieto Aguilar Pascual Santana Herrero Lorenzo
Montero Hidalgo Giménez Ibáñez Ferrer Durán Santiago Benítez Mora Vicente Vargas Arias Carmona
Crespo Román Pastor Soto Sáez Velasco Moya Soler Parra Esteban Bravo Gallardo Rojas Pardo
Merino Franco Espinosa Izquierdo Lara Rivas Silva Rivera Casado Arroyo Redondo Camacho Rey
Vera Otero Luque Galán Montes Ríos Sierra Segura Carrillo Marcos Soriano Mendoza Robles Bernal
Vila Valero Palacios Pineda Acosta Salazar Guzmán Ávila Aguirre""".split()
_NL_LAST = [
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser",
    "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks",
    "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf",
    "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn", "de Bruin",
    "van der Heijden", "Schouten", "van Beek", "Willems", "van Vliet", "van de Ven",
    "Hoekstra", "Maas", "Verhoeven", "Koster", "van Dam", "van der Wal", "Prins", "Blom",
    "Huisman", "Peeters", "de Jonge", "Kuipers", "van Veen", "Post", "Kuiper", "Veenstra",
    "Kramer", "van den Brink", "Scholten", "van Wijk", "Postma", "Martens", "Vink",
    "de Ruiter", "Timmermans", "Groen", "Gerritsen", "Jonker", "van Loon", "Boer",
    "van der Velde", "Willemsen", "Smeets", "de Lange", "de Vos", "Bosch", "van Dongen",
    "Schipper", "de Koning", "van der Laan", "Koning", "van der Velden", "Driessen",
    "van Doorn", "Hermans", "Evers", "van den Bosch", "van der Meulen", "Hofman", "Bosman",
    "Wolters", "Sanders", "van der Horst", "Mertens", "Verbeek", "Kuijpers", "Verschuren",
    "Claassen", "Zwart", "Brink", "Molenaar", "Aarts", "Wouters", "Hoogendoorn", "Bouwman",
]  # fmt: skip
_IN_LAST = """Sharma Patel Singh Kumar Gupta Verma Reddy Rao Iyer Nair Mehta Shah Joshi Desai
Agarwal Jain Chopra Malhotra Kapoor Bhat Menon Pillai Mishra Pandey Tiwari Yadav Das Banerjee
Chatterjee Mukherjee Ghosh Bose Sen Dutta Chaudhary Thakur Saxena Srivastava Sinha Mahajan
Kulkarni Patil Pawar Naidu Krishnan Subramanian Venkataraman Raman Chandra Bhatia Arora Khanna
Sethi Ahuja Bajaj Goel Mittal Bansal Garg Aggarwal Sood Kohli Gill Sandhu Grewal Dhillon Sidhu
Bhatt Trivedi Dubey Shukla Tripathi Awasthi Dwivedi Chauhan Rathore Rajput Hegde Shetty
Kamath Pai Gowda Murthy Prasad Naik Jadhav Shinde More Gaikwad Chavan Deshmukh Deshpande Apte
Gokhale Ranade Sawant Khan Ahmed Hussain Ali Sheikh Qureshi Ansari Siddiqui Mirza Fernandes
D'Souza Pereira Rodrigues Mathew George Varghese Kurian Joseph Abraham""".split()
_AS_LAST = """Nguyen Kim Lee Chen Wang Li Zhang Liu Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo
Lin He Gao Luo Park Choi Jung Kang Cho Yoon Jang Lim Tran Le Pham Hoang Phan Vu Vo Dang Bui
Do Ho Ngo Duong Ly Wong Chan Cheung Lau Leung Ng Tan Goh Tanaka Suzuki Takahashi Watanabe Ito
Yamamoto Nakamura Kobayashi Sato Kato""".split()


def _fold(text: str) -> str:
    """Drop diacritics ("Müller" -> "Muller")."""
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).replace("ß", "ss")


def _translit(text: str) -> str:
    """German-style transliteration ("Müller" -> "Mueller"), then drop other diacritics."""
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue")):
        text = text.replace(a, b)
    return _fold(text)


# origin -> (male first names, female first names, surnames, strip accents?)
_ORIGINS: dict[str, tuple[list[str], list[str], list[str], bool]] = {
    "english": (_EN_MALE, _EN_FEMALE, _EN_LAST, False),
    "german": (_DE_MALE, _DE_FEMALE, _DE_LAST, False),
    "french": (_FR_MALE, _FR_FEMALE, _FR_LAST, False),
    "spanish": (_ES_MALE, _ES_FEMALE, _ES_LAST, False),
    "latino": (_ES_MALE, _ES_FEMALE, _ES_LAST, True),  # US/CA forms usually lose the accents
    "dutch": (_NL_MALE, _NL_FEMALE, _NL_LAST, False),
    "indian": (_IN_MALE, _IN_FEMALE, _IN_LAST, False),
    "asian": (_AS_MALE, _AS_FEMALE, _AS_LAST, False),
}
_ORIGIN_NAMES = list(_ORIGINS)

_NICKNAMES: dict[str, list[str]] = {
    "Robert": ["Bob", "Rob", "Bobby"], "William": ["Bill", "Will", "Billy"],
    "Elizabeth": ["Liz", "Beth", "Betty", "Eliza"], "Katherine": ["Kate", "Katie", "Kathy"],
    "Catherine": ["Cathy", "Kate", "Cat"], "Kathryn": ["Kate", "Kathy"],
    "Kathleen": ["Kathy", "Kate"], "Michael": ["Mike", "Mick"], "James": ["Jim", "Jimmy", "Jamie"],
    "John": ["Jack", "Johnny"], "Richard": ["Rick", "Rich", "Dick"], "Thomas": ["Tom", "Tommy"],
    "Christopher": ["Chris"], "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"],
    "Anthony": ["Tony"], "Joseph": ["Joe", "Joey"], "Charles": ["Charlie", "Chuck"],
    "Steven": ["Steve"], "Stephen": ["Steve"], "Edward": ["Ed", "Eddie", "Ted"],
    "Andrew": ["Andy", "Drew"], "Joshua": ["Josh"], "Benjamin": ["Ben"], "Samuel": ["Sam"],
    "Alexander": ["Alex"], "Nicholas": ["Nick"], "Jonathan": ["Jon"], "Timothy": ["Tim"],
    "Gregory": ["Greg"], "Patrick": ["Pat", "Paddy"], "Peter": ["Pete"], "Douglas": ["Doug"],
    "Kenneth": ["Ken", "Kenny"], "Ronald": ["Ron", "Ronnie"], "Donald": ["Don"],
    "Raymond": ["Ray"], "Lawrence": ["Larry"], "Gerald": ["Jerry", "Gerry"],
    "Frederick": ["Fred", "Freddie"], "Jeffrey": ["Jeff"], "Phillip": ["Phil"],
    "Philip": ["Phil"], "Zachary": ["Zach", "Zack"], "Nathaniel": ["Nate", "Nat"],
    "Nathan": ["Nate"], "Jacob": ["Jake"], "Vincent": ["Vince"], "Theodore": ["Ted", "Theo"],
    "Albert": ["Al", "Bert"], "Eugene": ["Gene"], "Walter": ["Walt"], "Harold": ["Harry"],
    "Henry": ["Harry", "Hank"], "Francis": ["Frank"], "Jennifer": ["Jen", "Jenny"],
    "Margaret": ["Maggie", "Peggy", "Meg"], "Patricia": ["Pat", "Trish", "Patty"],
    "Susan": ["Sue", "Suzy"], "Deborah": ["Deb", "Debbie"], "Debra": ["Deb", "Debbie"],
    "Jessica": ["Jess"], "Rebecca": ["Becky", "Becca"], "Victoria": ["Vicky", "Tori"],
    "Christina": ["Tina", "Chris"], "Christine": ["Chris", "Tina"], "Samantha": ["Sam"],
    "Alexandra": ["Alex", "Lexi"], "Abigail": ["Abby"], "Kimberly": ["Kim"], "Pamela": ["Pam"],
    "Barbara": ["Barb"], "Dorothy": ["Dot"], "Cynthia": ["Cindy"], "Amanda": ["Mandy"],
    "Judith": ["Judy"], "Stephanie": ["Steph"], "Jacqueline": ["Jackie"],
    "Theresa": ["Terri", "Tess"], "Teresa": ["Terri", "Tess"], "Nicole": ["Nikki"],
    "Melissa": ["Mel"], "Isabella": ["Bella", "Izzy"], "Eleanor": ["Ellie", "Nell"],
    "Johannes": ["Hans", "Jo"], "Wolfgang": ["Wolf"], "Friedrich": ["Fritz"],
    "Katharina": ["Kathi", "Katja"], "Maximilian": ["Max"], "Sebastian": ["Basti"],
    "Christian": ["Chris"], "Franziska": ["Franzi"], "Stefanie": ["Steffi"], "Andreas": ["Andi"],
    "Hendrik": ["Henk"], "Cornelis": ["Kees"], "Willem": ["Wim"], "Pieter": ["Piet"],
    "Francisco": ["Paco", "Fran"], "José": ["Pepe"], "Jose": ["Pepe"], "Manuel": ["Manolo"],
    "Guillermo": ["Memo"], "Alejandro": ["Alex"], "Ignacio": ["Nacho"], "Dolores": ["Lola"],
    "Josefa": ["Pepa"], "Frédéric": ["Fred"], "Alexandre": ["Alex"], "Maxime": ["Max"],
    "Srinivas": ["Srini"], "Venkatesh": ["Venky"],
}  # fmt: skip

_HONORIFICS_M = ["Mr.", "Mr", "Dr.", "Dr", "Prof."]
_HONORIFICS_F = ["Ms.", "Mrs.", "Ms", "Dr.", "Prof."]
_NAME_SUFFIXES = ["Jr.", "Jr", "Sr.", "II", "III", "PhD", "MBA"]

# --------------------------------------------------------------------------------------------
# Countries, cities, phone numbering plans.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Country:
    code: str
    cc: str  # calling code
    trunk: str  # national trunk prefix
    weight: float
    names: tuple[str, ...]  # spellings seen in the wild; first is ISO code
    origins: dict[str, float]
    # Phone plans are "prefix n_digits allowed_first_digits display-groups", e.g. the GB mobile
    # "77 8 23456789 4-6" gives 077xxxxxxxx rendered as "07712 345678". Empty: use city plans.
    mobile: str
    freemail: dict[str, float]
    suffixes: dict[str, float]
    tlds: dict[str, float]
    # One city per line: "name|variants; state abbr; state; postcode prefixes; landline plan;
    # weight"
    cities: str


_COUNTRIES: tuple[_Country, ...] = (
    _Country(
        code="US",
        cc="1",
        trunk="",
        weight=0.34,
        names=("US", "USA", "United States", "United States of America", "U.S.", "us"),
        origins={"english": 0.68, "latino": 0.16, "asian": 0.08, "indian": 0.05, "german": 0.03},
        mobile="",
        freemail={
            "gmail.com": 0.45,
            "yahoo.com": 0.16,
            "hotmail.com": 0.1,
            "outlook.com": 0.12,
            "aol.com": 0.05,
            "icloud.com": 0.12,
        },
        suffixes={"Inc": 0.45, "LLC": 0.3, "Corp": 0.1, "": 0.15},
        tlds={".com": 0.85, ".io": 0.08, ".co": 0.04, ".net": 0.03},
        cities="""
New York|NYC|New York City|new york; NY; New York; 100 101 102; 212 7 23456789 3-3-4; 3.0
San Francisco|SF|San Fran; CA; California; 941; 415 7 23456789 3-3-4; 2.0
Los Angeles|LA|L.A.; CA; California; 900; 213 7 23456789 3-3-4; 2.0
Chicago; IL; Illinois; 606; 312 7 23456789 3-3-4; 2.0
Boston; MA; Massachusetts; 021; 617 7 23456789 3-3-4; 1.5
Seattle; WA; Washington; 981; 206 7 23456789 3-3-4; 1.2
Austin; TX; Texas; 787; 512 7 23456789 3-3-4; 1.2
Dallas; TX; Texas; 752; 214 7 23456789 3-3-4; 1.0
Denver; CO; Colorado; 802; 303 7 23456789 3-3-4; 1.0
Atlanta; GA; Georgia; 303; 404 7 23456789 3-3-4; 1.0
Miami; FL; Florida; 331; 305 7 23456789 3-3-4; 1.0
Philadelphia|Philly; PA; Pennsylvania; 191; 215 7 23456789 3-3-4; 1.0
Newark; NJ; New Jersey; 071; 973 7 23456789 3-3-4; 0.6
""",
    ),
    _Country(
        code="GB",
        cc="44",
        trunk="0",
        weight=0.12,
        names=("GB", "UK", "United Kingdom", "Great Britain", "England", "U.K."),
        origins={"english": 0.84, "indian": 0.08, "asian": 0.03, "french": 0.02, "spanish": 0.03},
        mobile=(
            "74 8 23456789 4-6, 75 8 23456789 4-6, 77 8 23456789 4-6, 78 8 23456789 4-6, "
            "79 8 23456789 4-6"
        ),
        freemail={
            "gmail.com": 0.4,
            "hotmail.co.uk": 0.2,
            "yahoo.co.uk": 0.12,
            "outlook.com": 0.13,
            "btinternet.com": 0.08,
            "icloud.com": 0.07,
        },
        suffixes={"Ltd": 0.75, "PLC": 0.05, "": 0.2},
        tlds={".co.uk": 0.6, ".com": 0.35, ".io": 0.05},
        cities="""
London; ; Greater London; EC1A EC2M SW1A W1D WC2H N1 E1 E14 SE1 NW1; 207 7 0123456789 2-4-4; 4.0
Manchester; ; Greater Manchester; M1 M2 M3 M4 M15; 161 7 23456789 3-3-4; 1.2
Birmingham; ; West Midlands; B1 B2 B3 B4 B5; 121 7 234567 3-3-4; 1.0
Leeds; ; West Yorkshire; LS1 LS2 LS11; 113 7 23458 3-3-4; 0.7
Bristol; ; Bristol; BS1 BS2 BS8; 117 7 2349 3-3-4; 0.7
Edinburgh; ; Scotland; EH1 EH2 EH3; 131 7 2345678 3-3-4; 0.7
Glasgow; ; Scotland; G1 G2 G3; 141 7 23456789 3-3-4; 0.6
""",
    ),
    _Country(
        code="DE",
        cc="49",
        trunk="0",
        weight=0.12,
        names=("DE", "Germany", "Deutschland", "GER", "germany"),
        origins={"german": 0.9, "english": 0.04, "french": 0.03, "spanish": 0.03},
        mobile=(
            "151 8 0123456789 3-4-4, 152 8 0123456789 3-4-4, 157 8 0123456789 3-4-4, "
            "160 8 0123456789 3-4-4, 170 8 0123456789 3-4-4, 171 8 0123456789 3-4-4, "
            "176 8 0123456789 3-4-4, 177 8 0123456789 3-4-4, 179 8 0123456789 3-4-4"
        ),
        freemail={
            "gmx.de": 0.3,
            "web.de": 0.28,
            "gmail.com": 0.25,
            "t-online.de": 0.12,
            "outlook.de": 0.05,
        },
        suffixes={"GmbH": 0.7, "AG": 0.1, "GmbH & Co. KG": 0.1, "": 0.1},
        tlds={".de": 0.7, ".com": 0.3},
        cities="""
Berlin; BE; Berlin; 10 12 13; 30 8 23456789 2-4-4; 2.5
München|Munich|Muenchen|Munchen; BY; Bayern; 80 81; 89 8 23456789 2-4-4; 2.0
Hamburg; HH; Hamburg; 20 22; 40 8 23456789 2-4-4; 1.8
Frankfurt am Main|Frankfurt|Frankfurt a.M.; HE; Hessen; 60; 69 8 23456789 2-4-4; 1.5
Köln|Cologne|Koeln; NW; Nordrhein-Westfalen; 50 51; 221 7 23456789 3-3-4; 1.3
Stuttgart; BW; Baden-Württemberg; 70; 711 7 23456789 3-3-4; 1.0
Düsseldorf|Duesseldorf|Dusseldorf; NW; Nordrhein-Westfalen; 40; 211 7 23456789 3-3-4; 1.0
Leipzig; SN; Sachsen; 04; 341 7 23456789 3-3-4; 0.7
""",
    ),
    _Country(
        code="FR",
        cc="33",
        trunk="0",
        weight=0.09,
        names=("FR", "France", "france", "FRA"),
        origins={"french": 0.9, "spanish": 0.05, "english": 0.05},
        mobile="6 8 01245678 1-2-2-2-2, 7 8 3456789 1-2-2-2-2",
        freemail={
            "gmail.com": 0.35,
            "orange.fr": 0.22,
            "free.fr": 0.12,
            "hotmail.fr": 0.14,
            "laposte.net": 0.08,
            "sfr.fr": 0.09,
        },
        suffixes={"SAS": 0.4, "SARL": 0.3, "S.A.": 0.15, "": 0.15},
        tlds={".fr": 0.6, ".com": 0.4},
        cities="""
Paris; IDF; Île-de-France; 7500 7501; 1 8 123456789 1-2-2-2-2; 4.0
Lyon; ARA; Auvergne-Rhône-Alpes; 6900; 47 7 0123456789 1-2-2-2-2; 1.2
Marseille; PACA; Provence-Alpes-Côte d'Azur; 130; 49 7 0123456789 1-2-2-2-2; 1.0
Toulouse; OCC; Occitanie; 310; 56 7 0123456789 1-2-2-2-2; 0.8
Bordeaux; NAQ; Nouvelle-Aquitaine; 330; 55 7 0123456789 1-2-2-2-2; 0.7
Lille; HDF; Hauts-de-France; 590; 32 7 0123456789 1-2-2-2-2; 0.7
Nantes; PDL; Pays de la Loire; 440; 24 7 0123456789 1-2-2-2-2; 0.6
Nice; PACA; Provence-Alpes-Côte d'Azur; 060; 49 7 0123456789 1-2-2-2-2; 0.5
""",
    ),
    _Country(
        code="CA",
        cc="1",
        trunk="",
        weight=0.06,
        names=("CA", "Canada", "CAN", "canada"),
        origins={"english": 0.68, "french": 0.15, "asian": 0.09, "indian": 0.08},
        mobile="",
        freemail={
            "gmail.com": 0.5,
            "hotmail.com": 0.15,
            "yahoo.ca": 0.1,
            "outlook.com": 0.15,
            "icloud.com": 0.1,
        },
        suffixes={"Inc": 0.5, "Ltd": 0.25, "Corp": 0.1, "": 0.15},
        tlds={".ca": 0.5, ".com": 0.5},
        cities="""
Toronto; ON; Ontario; M5V M5H M4W M5J; 416 7 23456789 3-3-4; 3.0
Vancouver; BC; British Columbia; V6B V6C V6E; 604 7 23456789 3-3-4; 1.5
Montréal|Montreal; QC; Québec; H2X H3B H3A; 514 7 23456789 3-3-4; 1.5
Calgary; AB; Alberta; T2P T2R; 403 7 23456789 3-3-4; 1.0
Ottawa; ON; Ontario; K1P K1R; 613 7 23456789 3-3-4; 0.8
""",
    ),
    _Country(
        code="AU",
        cc="61",
        trunk="0",
        weight=0.05,
        names=("AU", "Australia", "AUS"),
        origins={"english": 0.8, "asian": 0.12, "indian": 0.05, "spanish": 0.03},
        mobile=(
            "41 7 0123456789 3-3-3, 42 7 0123456789 3-3-3, 43 7 0123456789 3-3-3, "
            "46 7 0123456789 3-3-3"
        ),
        freemail={
            "gmail.com": 0.45,
            "bigpond.com": 0.15,
            "hotmail.com": 0.15,
            "outlook.com": 0.15,
            "icloud.com": 0.1,
        },
        suffixes={"Pty Ltd": 0.8, "Ltd": 0.05, "": 0.15},
        tlds={".com.au": 0.7, ".com": 0.3},
        cities="""
Sydney; NSW; New South Wales; 20; 29 7 0123456789 1-4-4; 2.5
Melbourne; VIC; Victoria; 30; 39 7 0123456789 1-4-4; 2.2
Brisbane; QLD; Queensland; 40; 73 7 0123456789 1-4-4; 1.2
Perth; WA; Western Australia; 60; 89 7 0123456789 1-4-4; 0.9
Adelaide; SA; South Australia; 50; 88 7 0123456789 1-4-4; 0.7
""",
    ),
    _Country(
        code="NL",
        cc="31",
        trunk="0",
        weight=0.05,
        names=("NL", "Netherlands", "The Netherlands", "Nederland", "Holland"),
        origins={"dutch": 0.88, "german": 0.06, "english": 0.06},
        mobile=(
            "61 7 0123456789 1-8, 62 7 0123456789 1-8, 63 7 0123456789 1-8, "
            "64 7 0123456789 1-8, 65 7 0123456789 1-8"
        ),
        freemail={
            "gmail.com": 0.45,
            "hotmail.com": 0.2,
            "ziggo.nl": 0.12,
            "outlook.com": 0.13,
            "kpnmail.nl": 0.1,
        },
        suffixes={"BV": 0.8, "NV": 0.05, "": 0.15},
        tlds={".nl": 0.7, ".com": 0.3},
        cities="""
Amsterdam; NH; Noord-Holland; 10; 20 7 23456789 2-3-4; 2.5
Rotterdam; ZH; Zuid-Holland; 30; 10 7 23456789 2-3-4; 1.5
Utrecht; UT; Utrecht; 35; 30 7 23456789 2-3-4; 1.0
Den Haag|The Hague|'s-Gravenhage; ZH; Zuid-Holland; 25; 70 7 23456789 2-3-4; 1.0
Eindhoven; NB; Noord-Brabant; 56; 40 7 23456789 2-3-4; 0.8
""",
    ),
    _Country(
        code="ES",
        cc="34",
        trunk="",
        weight=0.07,
        names=("ES", "Spain", "España", "ESP", "Espana"),
        origins={"spanish": 0.95, "english": 0.05},
        mobile="6 8 0123456789 3-3-3, 7 8 1234 3-3-3",
        freemail={
            "gmail.com": 0.5,
            "hotmail.es": 0.2,
            "yahoo.es": 0.1,
            "outlook.es": 0.12,
            "telefonica.net": 0.08,
        },
        suffixes={"S.L.": 0.6, "S.A. (ES)": 0.25, "": 0.15},
        tlds={".es": 0.6, ".com": 0.4},
        cities="""
Madrid; MD; Comunidad de Madrid; 280; 91 7 0123456789 3-3-3; 3.0
Barcelona; CT; Cataluña; 080; 93 7 0123456789 3-3-3; 2.5
Valencia|València; VC; Comunidad Valenciana; 460; 96 7 0123456789 3-3-3; 1.0
Sevilla|Seville; AN; Andalucía; 410; 95 7 0123456789 3-3-3; 0.8
Bilbao; PV; País Vasco; 480; 94 7 123456789 3-3-3; 0.7
""",
    ),
    _Country(
        code="IN",
        cc="91",
        trunk="0",
        weight=0.1,
        names=("IN", "India", "IND", "india"),
        origins={"indian": 1.0},
        mobile="9 9 0123456789 5-5, 8 9 0123456789 5-5, 7 9 0123456789 5-5",
        freemail={
            "gmail.com": 0.65,
            "yahoo.co.in": 0.15,
            "rediffmail.com": 0.1,
            "outlook.com": 0.1,
        },
        suffixes={"Pvt Ltd": 0.7, "Ltd": 0.15, "": 0.15},
        tlds={".in": 0.3, ".co.in": 0.2, ".com": 0.5},
        cities="""
Mumbai|Bombay; MH; Maharashtra; 400; 22 8 234567 2-4-4; 2.5
New Delhi|Delhi; DL; Delhi; 110; 11 8 234567 2-4-4; 2.0
Bengaluru|Bangalore; KA; Karnataka; 560; 80 8 234567 2-4-4; 2.5
Chennai|Madras; TN; Tamil Nadu; 600; 44 8 234567 2-4-4; 1.2
Hyderabad; TG; Telangana; 500; 40 8 234567 2-4-4; 1.2
Pune; MH; Maharashtra; 411; 20 8 234567 2-4-4; 1.0
""",
    ),
)
_CODES = [c.code for c in _COUNTRIES]

# Legal suffix -> renderings appended to the base name; the first one is the canonical form.
_SUFFIX_VARIANTS: dict[str, list[str]] = {
    "": [""],
    "Inc": [" Inc", " Inc.", ", Inc.", ", Inc", " Incorporated", " INC"],
    "LLC": [" LLC", " L.L.C.", ", LLC", " llc"],
    "Corp": [" Corp", " Corp.", " Corporation", ", Corp."],
    "Ltd": [" Ltd", " Ltd.", " Limited", " LTD"],
    "PLC": [" PLC", " plc", " Plc"],
    "GmbH": [" GmbH", " G.m.b.H.", " Gmbh", " GMBH"],
    "AG": [" AG", " A.G."],
    "GmbH & Co. KG": [" GmbH & Co. KG", " GmbH & Co KG", " GmbH u. Co. KG"],
    "SARL": [" SARL", " S.A.R.L.", " Sarl"],
    "S.A.": [" S.A.", " SA", " S.A"],
    "SAS": [" SAS", " S.A.S.", " Sas"],
    "Pty Ltd": [" Pty Ltd", " Pty. Ltd.", " Pty Limited", " PTY LTD", " Proprietary Limited"],
    "BV": [" BV", " B.V.", " bv", " B.V"],
    "NV": [" NV", " N.V."],
    "S.L.": [" S.L.", " SL", " S.L", " Sociedad Limitada"],
    "S.A. (ES)": [" S.A.", " SA", " Sociedad Anónima"],
    "Pvt Ltd": [" Pvt Ltd", " Pvt. Ltd.", " Private Limited", " Pvt. Limited"],
}
_SUFFIX_KEYS = list(_SUFFIX_VARIANTS)

_ADJ = """Acme Apex Summit Blue Red Green North South East West Pacific Atlantic Silver Golden Iron
Granite Cedar Maple Oak Pine Willow River Lake Harbor Bay Bright Clear Swift Rapid Quantum
Vertex Nova Stellar Polar Alpine Coastal Metro Urban Prime Core Keystone Pioneer Frontier
Liberty Eagle Falcon Hawk Fox Wolf Bear Lion Orion Atlas Titan Zenith Horizon Crescent Sterling
Royal Crown Noble Vanguard Sentinel Beacon Lighthouse Anchor Compass Meridian Equinox Solstice
Aurora Nimbus Cirrus Cobalt Indigo Scarlet Amber Jade Onyx Ruby Sapphire Emerald Crystal
Diamond Evergreen Highland Riverside Lakeside Hillside Oakwood Redwood Blackstone Whitewater
Greenfield Brightwater Northwind Southgate Westbrook Eastwood Kingston Ashford Brookfield
Fairview Clearwater Stonebridge Ironclad Silverline Bluewave Redline Greenleaf Sunrise Skyline
Cloud Cyber Digital Smart Next Future Global Infinite Unity Synergy Fusion Vector Matrix Pixel
Logic Vivid Bold True Open Deep High Wide Little Grand""".split()
_NOUN = """Systems Solutions Technologies Analytics Labs Software Networks Consulting Partners
Group Holdings Industries Logistics Dynamics Ventures Capital Media Health Energy Foods
Manufacturing Robotics Security Cloud Data Digital Designs Engineering Services Supply Trading
Retail Marketing Studios Works Interactive Innovations Insights Brands Advisors Finance Pharma
Biotech Medical Motors Aerospace Materials Chemicals Textiles Construction Properties Realty
Hospitality Travel Education Learning Commerce Payments Telecom Mobile Apps Devices Instruments
Electronics Semiconductors Automation Machines Tools Outfitters Collective""".split()
_LOCAL_NOUN: dict[str, list[str]] = {
    "DE": ["Logistik", "Technik", "Maschinenbau", "Beratung", "Systeme", "Software", "Handel",
           "Bau", "Elektronik", "Medien", "Immobilien", "Automation"],
    "FR": ["Conseil", "Technologies", "Services", "Solutions", "Industrie", "Distribution",
           "Ingénierie", "Logistique", "Médias", "Immobilier"],
    "ES": ["Soluciones", "Consultores", "Tecnología", "Servicios", "Distribuciones",
           "Ingeniería", "Logística", "Inversiones"],
    "NL": ["Techniek", "Advies", "Groep", "Logistiek", "Installaties", "Bouw", "Media"],
    "IN": ["Infotech", "Technologies", "Infosystems", "Softech", "Exports", "Enterprises",
           "Industries", "Solutions"],
}  # fmt: skip
_AND_PARTNERS = {
    "DE": ["& Partner", "& Söhne", "& Co."],
    "FR": ["& Fils", "& Associés", "& Cie"],
    "ES": ["e Hijos", "& Asociados"],
    "NL": ["& Zonen", "& Partners"],
}
_SYL_A = "Zen Nov Tek Vex Lum Qua Syn Ori Xel Vir Cor Pro Ax Ev Om Ul Tri Ka Lo Mi Ra Sol".split()
_SYL_B = "ix ia ora ify ly io um eon ant era ex o a ics sys ara ent is".split()
_BRAND_TAIL = "soft tech works labs hub stack base point path line gate ware".split()

_TITLES: list[list[str]] = [
    ["Account Executive", "AE", "Account Exec", "Sr. Account Executive"],
    ["Software Engineer", "Software Developer", "SWE", "Developer"],
    ["Senior Software Engineer", "Sr. Software Engineer", "Sr Software Engineer", "Senior SWE"],
    ["Marketing Manager", "Mktg Manager", "Manager, Marketing"],
    ["Sales Manager", "Manager Sales", "Sales Mgr"],
    ["Product Manager", "PM", "Product Mgr"],
    ["Head of Marketing", "Marketing Head", "Head Of Marketing"],
    ["VP Sales", "Vice President of Sales", "VP, Sales", "Vice President Sales"],
    ["CEO", "Chief Executive Officer", "Chief Executive"],
    ["CTO", "Chief Technology Officer"],
    ["CFO", "Chief Financial Officer"],
    ["COO", "Chief Operating Officer"],
    ["CMO", "Chief Marketing Officer"],
    ["Founder", "Founder & CEO"],
    ["Co-Founder", "Cofounder", "Co-founder"],
    ["Managing Director", "MD", "Geschäftsführer"],
    ["Director of Operations", "Operations Director", "Dir. Operations"],
    ["Sales Development Representative", "SDR", "Sales Development Rep"],
    ["Business Development Manager", "BDM", "Biz Dev Manager"],
    ["Customer Success Manager", "CSM", "Customer Success Mgr"],
    ["Data Scientist", "Sr. Data Scientist"],
    ["Data Engineer", "Big Data Engineer"],
    ["IT Manager", "IT Mgr", "Manager IT"],
    ["HR Manager", "Human Resources Manager", "HR Mgr"],
    ["Procurement Manager", "Purchasing Manager", "Head of Procurement"],
    ["Office Manager", "Office Mgr"],
    ["Head of Sales", "Sales Director", "Director of Sales"],
    ["VP Engineering", "Vice President of Engineering", "VP Eng"],
    ["Financial Analyst", "Finance Analyst"],
    ["Operations Manager", "Ops Manager"],
    ["Consultant", "Senior Consultant", "Sr. Consultant"],
    ["Project Manager", "Project Mgr", "PMP Project Manager"],
    ["Marketing Coordinator", "Mktg Coordinator"],
    ["Solutions Architect", "Solution Architect"],
    ["Directeur Commercial", "Sales Director"],
    ["Chief Information Officer", "CIO"],
]
_LEAD_SOURCES: list[list[str]] = [
    ["Website", "website", "Web", "Inbound - Website"],
    ["Webinar", "webinar", "WEBINAR"],
    ["Trade Show", "Tradeshow", "trade-show", "TRADE SHOW"],
    ["Referral", "referral", "Customer Referral"],
    ["LinkedIn", "Linkedin", "linkedin ads"],
    ["Google Ads", "google", "Paid Search", "adwords"],
    ["Content Download", "Whitepaper", "Ebook Download"],
    ["Partner", "Partner Referral", "partner"],
    ["Cold Outreach", "Outbound", "cold call"],
    ["Event", "event", "Conference"],
    ["Newsletter", "newsletter"],
    ["Purchased List", "List Import", "list"],
]

# Street names and types per country; types are (long, short).
_STREETS: dict[str, tuple[list[str], list[tuple[str, str]], str]] = {
    "EN": (
        "Main Oak Maple Cedar Pine Elm Washington Lake Hill Park Market Mission Broadway Sunset "
        "Madison Franklin Jefferson King Queen George Collins Pitt Bay Front Harbour".split(),
        [("Street", "St."), ("Avenue", "Ave"), ("Road", "Rd."), ("Boulevard", "Blvd"),
         ("Drive", "Dr.")],
        "{num} {name} {type}",
    ),
    "GB": (
        "High Station Church Victoria Park London Mill King Queen Oxford Regent Baker Fleet "
        "Cannon Deansgate Princes George Castle Bridge".split(),
        [("Street", "St"), ("Road", "Rd"), ("Lane", "Ln"), ("Square", "Sq")],
        "{num} {name} {type}",
    ),
    "DE": (
        "Haupt Bahnhof Schiller Goethe Garten Berliner Friedrich Kant Linden Park Mozart "
        "Wilhelm Leipziger Kaiser Königs Markt".split(),
        [("straße", "str."), ("weg", "weg"), ("allee", "allee"), ("platz", "pl.")],
        "{name}{type} {num}",
    ),
    "FR": (
        ["de Rivoli", "Saint-Honoré", "de la Paix", "Victor Hugo", "de la République",
         "Lafayette", "du Faubourg Saint-Antoine", "Jean Jaurès", "Gambetta", "Voltaire",
         "de la Liberté", "Pasteur", "du Général de Gaulle"],
        [("rue", "r."), ("avenue", "av."), ("boulevard", "bd"), ("place", "pl.")],
        "{num} {type} {name}",
    ),
    "NL": (
        "Kalver Prinsen Keizers Heren Leidse Stations Kerk Dorps Molen Haven Nieuwe".split(),
        [("straat", "str."), ("gracht", "gr."), ("weg", "weg"), ("laan", "ln.")],
        "{name}{type} {num}",
    ),
    "ES": (
        ["Mayor", "de Alcalá", "Gran Vía", "de Serrano", "del Prado", "de la Castellana",
         "Real", "de Velázquez", "de Goya", "Diagonal", "de Colón", "del Sol"],
        [("Calle", "C/"), ("Avenida", "Avda."), ("Paseo", "Pº"), ("Plaza", "Pza.")],
        "{type} {name}, {num}",
    ),
    "IN": (
        ["MG", "Linking", "Nehru", "Gandhi", "Station", "Church", "Brigade", "Residency",
         "Park", "Hill", "Marine", "Anna Salai"],
        [("Road", "Rd"), ("Marg", "Marg"), ("Street", "St"), ("Nagar", "Ngr")],
        "{num}, {name} {type}",
    ),
}  # fmt: skip
_STREET_STYLE = {"US": "EN", "CA": "EN", "AU": "EN", "GB": "GB", "DE": "DE", "FR": "FR",
                 "NL": "NL", "ES": "ES", "IN": "IN"}  # fmt: skip

_KEY_NEIGHBORS = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}  # fmt: skip
_GMAIL_TAGS = ["promo", "news", "leads", "work", "2024", "spam", "shop", "crm", "x"]
_PERMUTE_A = 1_000_003  # prime not dividing any plan size: `(rank * A + B) % size` is a bijection


# --------------------------------------------------------------------------------------------
# Noise levels.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Noise:
    count_p: tuple[float, ...]  # P(an entity appears 1, 2, ... times)
    name_mode_p: tuple[float, float, float]  # first+last only, full only, both
    p_typo: float  # per name field and row
    p_typo2: float  # share of typo'd values with a second edit
    p_nick: float
    p_case: float
    p_swap: float
    p_accent: float  # accented names written without accents
    p_moji: float  # UTF-8 read as cp1252
    p_honorific: float
    p_company_typo: float
    p_email_typo: float
    p_pad: float  # stray whitespace
    p_exact_copy: float  # duplicate row copied verbatim from the previous sighting
    p_personal: float  # entity has a personal (free-mail) address
    p_use_personal: float  # row shows the personal address instead of the work one
    p_gmail_variant: float
    p_changer: float  # entity with >= 2 rows changes jobs between sightings
    p_colleague: float
    p_family: float
    p_namesake: float
    miss: dict[str, float]


_NOISE: dict[str, _Noise] = {
    "standard": _Noise(
        count_p=(0.55, 0.24, 0.10, 0.05, 0.035, 0.025),
        name_mode_p=(0.45, 0.25, 0.30),
        p_typo=0.04, p_typo2=0.1, p_nick=0.10, p_case=0.10, p_swap=0.01, p_accent=0.25,
        p_moji=0.003, p_honorific=0.06, p_company_typo=0.015, p_email_typo=0.005, p_pad=0.02,
        p_exact_copy=0.05, p_personal=0.35, p_use_personal=0.25, p_gmail_variant=0.45,
        p_changer=0.06, p_colleague=0.03, p_family=0.02, p_namesake=0.02,
        miss={"email": 0.10, "company": 0.08, "website": 0.55, "phone": 0.35,
              "mobile_phone": 0.60, "job_title": 0.25, "country": 0.12, "city": 0.30,
              "state": 0.50, "postcode": 0.55, "address": 0.65, "lead_source": 0.15,
              "created_at": 0.02, "name": 0.02},
    ),
    "hard": _Noise(
        count_p=(0.35, 0.25, 0.15, 0.10, 0.07, 0.05, 0.03),
        name_mode_p=(0.40, 0.35, 0.25),
        p_typo=0.12, p_typo2=0.4, p_nick=0.25, p_case=0.20, p_swap=0.03, p_accent=0.40,
        p_moji=0.01, p_honorific=0.10, p_company_typo=0.04, p_email_typo=0.02, p_pad=0.05,
        p_exact_copy=0.02, p_personal=0.45, p_use_personal=0.40, p_gmail_variant=0.65,
        p_changer=0.15, p_colleague=0.05, p_family=0.03, p_namesake=0.03,
        miss={"email": 0.22, "company": 0.18, "website": 0.65, "phone": 0.50,
              "mobile_phone": 0.72, "job_title": 0.40, "country": 0.25, "city": 0.45,
              "state": 0.65, "postcode": 0.70, "address": 0.75, "lead_source": 0.30,
              "created_at": 0.05, "name": 0.06},
    ),
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Lookup tables built once.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    first: list[str]  # first-name vocabulary incl. nicknames
    last: list[str]
    first_ascii: list[str]  # email-safe forms
    last_ascii: list[str]
    pools: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]  # (origin, gender) -> ids, p
    last_pools: dict[int, tuple[np.ndarray, np.ndarray]]
    nick: np.ndarray  # (n_first, max_nicks) nickname ids, -1 padded
    nick_n: np.ndarray
    cities: list[dict]
    plans: list[tuple[str, str, str, int, str, tuple[int, ...]]]  # country, cc, prefix, n, lead, g
    city_plan: np.ndarray
    mobile_plans: list[np.ndarray]  # per country; empty -> use the city plan


def _zipf(n: int, offset: float, a: float) -> np.ndarray:
    w = 1.0 / (np.arange(n) + offset) ** a
    return w / w.sum()


def _unique(seq: list[str]) -> list[str]:
    return list(dict.fromkeys(seq))


def _email_part(name: str) -> str:
    s = _translit(name).lower()
    return "".join(ch for ch in s if ch.isalnum() or ch == "-")


def _parse_plan(spec: str) -> tuple[str, int, str, tuple[int, ...]]:
    prefix, n, lead, groups = spec.split()
    return prefix, int(n), lead, tuple(int(g) for g in groups.split("-"))


@functools.cache
def _tables() -> _Tables:
    first: dict[str, int] = {}
    last: dict[str, int] = {}

    def fid(n: str) -> int:
        return first.setdefault(n, len(first))

    def lid(n: str) -> int:
        return last.setdefault(n, len(last))

    pools: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    last_pools: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for o, (male, female, surnames, strip) in enumerate(_ORIGINS.values()):
        for g, names in enumerate((male, female)):
            names = _unique([_fold(n) if strip else n for n in names])
            pools[(o, g)] = (np.array([fid(n) for n in names]), _zipf(len(names), 8, 1.0))
        surnames = _unique([_fold(n) if strip else n for n in surnames])
        last_pools[o] = (np.array([lid(n) for n in surnames]), _zipf(len(surnames), 10, 0.9))
    base_first = list(first)
    max_n = max(len(v) for v in _NICKNAMES.values())
    nick = np.full((len(base_first), max_n), -1, dtype=np.int64)
    nick_n = np.zeros(len(base_first), dtype=np.int64)
    for name, i in list(first.items())[: len(base_first)]:
        for k, nn in enumerate(_NICKNAMES.get(name, [])):
            nick[i, k] = fid(nn)
        nick_n[i] = len(_NICKNAMES.get(name, []))

    plans: list[tuple[str, str, str, int, int, tuple[int, ...]]] = []
    plan_ix: dict[tuple[str, str, int], int] = {}

    def pid(country: _Country, plan: tuple) -> int:
        key = (country.code, plan[0], plan[1])
        if key not in plan_ix:
            plan_ix[key] = len(plans)
            plans.append((country.code, country.cc, *plan))
        return plan_ix[key]

    cities: list[dict] = []
    city_plan: list[int] = []
    mobile_plans: list[np.ndarray] = []
    for ci, country in enumerate(_COUNTRIES):
        for line in country.cities.strip().splitlines():
            variants, abbr, state, pcs, plan, weight = (x.strip() for x in line.split(";"))
            cities.append(
                {"country": ci, "variants": tuple(variants.split("|")), "abbr": abbr,
                 "state": state, "pcs": tuple(pcs.split()), "weight": float(weight)}
            )  # fmt: skip
            city_plan.append(pid(country, _parse_plan(plan)))
        mobile = [_parse_plan(p) for p in country.mobile.split(",") if p.strip()]
        mobile_plans.append(np.array([pid(country, p) for p in mobile], dtype=np.int64))
    return _Tables(
        first=list(first),
        last=list(last),
        first_ascii=[_email_part(n) for n in first],
        last_ascii=[_email_part(n) for n in last],
        pools=pools,
        last_pools=last_pools,
        nick=nick,
        nick_n=nick_n,
        cities=cities,
        plans=plans,
        city_plan=np.array(city_plan),
        mobile_plans=mobile_plans,
    )


# --------------------------------------------------------------------------------------------
# Small vectorized helpers.
# --------------------------------------------------------------------------------------------


def _take(values: list[str] | pl.Series, idx: np.ndarray) -> pl.Series:
    """values[idx] as a String series; idx < 0 gives null."""
    s = values if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.String)
    neg = idx < 0
    out = s.gather(np.where(neg, 0, idx))
    if neg.any():
        out = out.scatter(np.flatnonzero(neg), None)
    return out


def _choice(rng: np.random.Generator, weights: dict | list | np.ndarray, size: int) -> np.ndarray:
    w = np.asarray(list(weights.values()) if isinstance(weights, dict) else weights, dtype=float)
    return rng.choice(len(w), size=size, p=w / w.sum())


def _rank_in_group(keys: np.ndarray) -> np.ndarray:
    """0-based position of each element among the elements with the same key."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sk)) + 1]
    lens = np.diff(np.r_[starts, len(keys)])
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - np.repeat(starts, lens)
    return rank


def _case(expr: pl.Expr, code: pl.Expr) -> pl.Expr:
    """code 1: UPPER, 2: lower, 3: Title Case, else unchanged."""
    return (
        pl.when(code == 1)
        .then(expr.str.to_uppercase())
        .when(code == 2)
        .then(expr.str.to_lowercase())
        .when(code == 3)
        .then(expr.str.to_titlecase())
        .otherwise(expr)
    )


def _typo(s: pl.Expr, u_pos: pl.Expr, u_kind: pl.Expr, u_ch: pl.Expr) -> pl.Expr:
    """One keyboard edit (insert / delete / substitute a neighbour key / transpose), never at
    the first character; strings shorter than 3 characters are left alone."""
    n = s.str.len_chars().cast(pl.Int64)
    pos = pl.min_horizontal((1 + (u_pos * (n - 1)).floor()).cast(pl.Int64), n - 1)
    nb = (
        s.str.slice(pos, 1)
        .str.to_lowercase()
        .replace_strict(_KEY_NEIGHBORS, default="e", return_dtype=pl.String)
    )
    ch = nb.str.slice((u_ch * nb.str.len_chars()).floor().cast(pl.Int64), 1)
    head = s.str.slice(0, pos)
    p2 = pl.min_horizontal(pos, n - 2)
    kind = (u_kind * 4).floor()
    return (
        pl.when(n < 3)
        .then(s)
        .when(kind == 0)
        .then(pl.concat_str(head, ch, s.str.slice(pos)))
        .when(kind == 1)
        .then(pl.concat_str(head, s.str.slice(pos + 1)))
        .when(kind == 2)
        .then(pl.concat_str(head, ch, s.str.slice(pos + 1)))
        .otherwise(
            pl.concat_str(
                s.str.slice(0, p2), s.str.slice(p2 + 1, 1), s.str.slice(p2, 1), s.str.slice(p2 + 2)
            )
        )
    )


def _maybe_typo(
    frame: pl.DataFrame, col: str, p: float, p2: float, rng, eligible: np.ndarray | None = None
) -> pl.DataFrame:
    """Apply one (or, with probability p2, two) typos to `col` in a share p of (eligible) rows."""
    n = frame.height
    hit = rng.random(n) < p
    hit = np.flatnonzero(hit if eligible is None else hit & eligible)
    two = hit[rng.random(len(hit)) < p2]
    values = frame[col]
    for ix in (hit, two):
        if not len(ix):
            continue
        u = rng.random((3, len(ix)))
        sub = pl.DataFrame({"s": values.gather(ix), "a": u[0], "b": u[1], "c": u[2]})
        new = sub.select(_typo(pl.col("s"), pl.col("a"), pl.col("b"), pl.col("c"))).to_series()
        values = values.scatter(ix, new)
    return frame.with_columns(values.alias(col))


# --------------------------------------------------------------------------------------------
# Phones.
# --------------------------------------------------------------------------------------------


def _alloc_phones(rng: np.random.Generator, plan: np.ndarray) -> pl.DataFrame:
    """A distinct number for each request (one row per element of `plan`)."""
    t = _tables()
    n_rand = np.array([p[3] for p in t.plans], dtype=np.int64)
    n_lead = np.array([len(p[4]) for p in t.plans], dtype=np.int64)
    base = 10 ** (n_rand - 1)
    size = n_lead * base
    offset = rng.integers(0, size)
    rank = _rank_in_group(plan)
    val = (rank * _PERMUTE_A + offset[plan]) % size[plan]
    lead_tbl = _variant_table([list(p[4]) for p in t.plans])
    _, lead_start, _ = lead_tbl
    lead = _take(lead_tbl[0], lead_start[plan] + val // base[plan])
    groups = np.zeros((len(t.plans), 5), dtype=np.int64)
    for i, p in enumerate(t.plans):
        groups[i, : len(p[5])] = p[5]
    g = groups[plan]
    frame = pl.DataFrame(
        {
            "cc": _take([p[1] for p in t.plans], plan),
            "country": _take([p[0] for p in t.plans], plan),
            "prefix": _take([p[2] for p in t.plans], plan),
            "lead": lead,
            "rest": pl.Series(val % base[plan]).cast(pl.String),
            "n": n_rand[plan] - 1,
            **{f"g{k}": g[:, k] for k in range(5)},
        }
    )
    return frame.select(
        "cc",
        "country",
        pl.concat_str("prefix", "lead", pl.col("rest").str.zfill(pl.col("n"))).alias("nsn"),
        *[f"g{k}" for k in range(5)],
    )


_PHONE_FORMAT_P = (0.28, 0.08, 0.05, 0.10, 0.22, 0.08, 0.04, 0.07, 0.04, 0.04)


def _phone_format(fmt: int) -> pl.Expr:
    """Render one phone format from columns cc, country, nsn, g0..g4 (group lengths)."""
    cc, nsn, country = pl.col("cc"), pl.col("nsn"), pl.col("country")
    nanp = cc == "1"
    trunk = (
        pl.when(country.is_in(["GB", "DE", "FR", "AU", "NL", "IN"]))
        .then(pl.lit("0"))
        .otherwise(pl.lit(""))
    )
    groups, off = [], pl.lit(0, dtype=pl.Int64)
    for k in range(5):
        ln = pl.col(f"g{k}")
        groups.append(pl.when(ln > 0).then(nsn.str.slice(off, ln)))
        off = off + ln
    first = pl.concat_str(trunk, groups[0])
    plus = pl.concat_str(pl.lit("+"), cc)

    def join(sep: str, parts: list[pl.Expr]) -> pl.Expr:
        return pl.concat_str(parts, separator=sep, ignore_nulls=True)

    def nanp_style(a: str, b: str, c: str) -> pl.Expr:
        return pl.concat_str(pl.lit(a), groups[0], pl.lit(b), groups[1], pl.lit(c), groups[2])

    national = [first, *groups[1:]]
    if fmt == 0:  # 020 7946 0123 / 415 555 0123
        return join(" ", national)
    if fmt == 1:
        return join("-", national)
    if fmt == 2:
        return join(".", national)
    if fmt == 3:  # 02079460123
        return pl.concat_str(trunk, nsn)
    if fmt == 4:  # +44 20 7946 0123
        return join(" ", [plus, *groups])
    if fmt == 5:  # E.164
        return pl.concat_str(plus, nsn)
    if fmt == 6:
        return join("-", [plus, *groups])
    if fmt == 7:  # (415) 555-0123 / +44 (0)20 7946 0123 / (+34) 912 345 678
        return (
            pl.when(nanp)
            .then(nanp_style("(", ") ", "-"))
            .when(trunk == "0")
            .then(pl.concat_str(plus, pl.lit(" (0)"), join(" ", groups)))
            .otherwise(pl.concat_str(pl.lit("(+"), cc, pl.lit(") "), join(" ", groups)))
        )
    if fmt == 8:  # 1-415-555-0123 / 0044 20 7946 0123
        return (
            pl.when(nanp)
            .then(pl.concat_str(pl.lit("1-"), join("-", groups)))
            .otherwise(pl.concat_str(pl.lit("00"), cc, pl.lit(" "), join(" ", groups)))
        )
    # 9: 030/12345678 (DE), +1 (415) 555-0123, else national with one space
    return (
        pl.when(country == "DE")
        .then(pl.concat_str(first, pl.lit("/"), join("", groups[1:])))
        .when(nanp)
        .then(nanp_style("+1 (", ") ", "-"))
        .otherwise(join(" ", [first, join("", groups[1:])]))
    )


_EXT_STYLES = (" x", " ext. ", " ext ", " #")


def _format_phones(
    rng: np.random.Generator, phones: pl.DataFrame, ids: np.ndarray, ext: np.ndarray
) -> pl.Series:
    """Render phones[ids] in a random format per row, with an extension where ext >= 0."""
    n = len(ids)
    fmt = _choice(rng, _PHONE_FORMAT_P, n)
    out = pl.Series([None] * n, dtype=pl.String)
    for k in range(len(_PHONE_FORMAT_P)):
        ix = np.flatnonzero(fmt == k)
        if len(ix):
            out = out.scatter(ix, phones[ids[ix]].select(_phone_format(k)).to_series())
    has_ext = np.flatnonzero(ext >= 0)
    if len(has_ext):
        style = _take(list(_EXT_STYLES), rng.integers(0, len(_EXT_STYLES), len(has_ext)))
        tail = style + pl.Series(ext[has_ext]).cast(pl.String)
        out = out.scatter(has_ext, out.gather(has_ext) + tail)
    return out


# --------------------------------------------------------------------------------------------
# Companies and locations.
# --------------------------------------------------------------------------------------------


def _company_names(rng: np.random.Generator, country_idx: np.ndarray) -> tuple[list, list]:
    """Unique base names and domains (without TLD) for companies of the given countries."""
    t = _tables()
    n = len(country_idx)
    seen: set[str] = set()
    seen_slug: set[str] = set()
    names: list[str] = []
    slugs: list[str] = []
    m = 4 * n + 64
    tmpl = _choice(rng, [0.45, 0.2, 0.13, 0.07, 0.05, 0.1], m)
    a, b, c, d = (rng.integers(0, 1 << 30, m) for _ in range(4))
    hyph = rng.random(m) < 0.15
    cdfs = {o: np.cumsum(p) for o, (_, p) in t.last_pools.items()}
    j = 0
    for ci in country_idx:
        code = _CODES[ci]
        origin = _ORIGIN_NAMES.index(max(_COUNTRIES[ci].origins, key=_COUNTRIES[ci].origins.get))
        ids, cdf = t.last_pools[origin][0], cdfs[origin]
        while True:
            k = j % m
            j += 1
            sur = t.last[ids[min(int(np.searchsorted(cdf, (a[k] % 10007) / 10007)), len(ids) - 1)]]
            sur2 = t.last[ids[b[k] % len(ids)]]
            local = _LOCAL_NOUN.get(code)
            noun = local[c[k] % len(local)] if local and d[k] % 10 < 6 else _NOUN[c[k] % len(_NOUN)]
            kind = tmpl[k]
            if kind == 0:
                name = f"{_ADJ[a[k] % len(_ADJ)]} {_NOUN[b[k] % len(_NOUN)]}"
            elif kind == 1:
                name = f"{sur} {noun}"
            elif kind == 2:
                brand = _SYL_A[a[k] % len(_SYL_A)] + _SYL_B[b[k] % len(_SYL_B)]
                name = brand if d[k] % 2 else f"{brand} {_NOUN[c[k] % len(_NOUN)]}"
            elif kind == 3:
                name = f"{sur} & {sur2}" if sur != sur2 else f"{sur} Brothers"
            elif kind == 4:
                tails = _AND_PARTNERS.get(code, ["& Partners", "& Sons", "& Associates", "& Co."])
                name = f"{sur} {tails[c[k] % len(tails)]}"
            else:
                name = _ADJ[a[k] % len(_ADJ)] + _BRAND_TAIL[b[k] % len(_BRAND_TAIL)]
            key = name.lower()
            if key in seen:
                continue
            words = [w for w in _fold(name.replace("&", " ")).lower().split() if w.isalnum()]
            if not words:
                continue
            slug = "-".join(words) if hyph[k] and len(words) > 1 else "".join(words)
            if len(slug) > 24:
                slug = words[0] + (words[1][:3] if len(words) > 1 else "")
            base_slug, extra = slug, 2
            while slug in seen_slug:
                slug = f"{base_slug}{['hq', 'group', 'global', 'online'][extra % 4]}"
                slug = slug if slug not in seen_slug else f"{base_slug}{extra}"
                extra += 1
            seen.add(key)
            seen_slug.add(slug)
            names.append(name)
            slugs.append(slug)
            break
    return names, slugs


def _template(pattern: str) -> list[pl.Expr]:
    """ "{num} {name}" -> [col("num"), lit(" "), col("name")] for concat_str."""
    parts: list[pl.Expr] = []
    for k, chunk in enumerate(pattern.replace("}", "{").split("{")):
        if chunk:
            parts.append(pl.col(chunk) if k % 2 else pl.lit(chunk))
    return parts


def _locations(rng: np.random.Generator, city: np.ndarray) -> pl.DataFrame:
    """Street address (long and abbreviated) and postcode for each city index."""
    t = _tables()
    n = len(city)
    country = np.array([c["country"] for c in t.cities])[city]
    letters = list("ABDEFGHJLNPQRSTUWXYZ")
    parts = []
    for ci, c in enumerate(_COUNTRIES):
        ix = np.flatnonzero(country == ci)
        if not len(ix):
            continue
        m = len(ix)
        names, types, pattern = _STREETS[_STREET_STYLE[c.code]]
        ty = rng.integers(0, len(types), m)
        num = np.where(rng.random(m) < 0.7, rng.integers(1, 200, m), rng.integers(200, 2500, m))
        suite = rng.random(m) < (0.25 if c.code in ("US", "CA", "AU") else 0.0)
        suite_no = (rng.integers(1, 40, m) * 10).astype(str)
        pcs_tbl = _variant_table([list(t.cities[k]["pcs"]) for k in range(len(t.cities))])
        frame = pl.DataFrame(
            {
                "ix": ix,
                "num": num.astype(str),
                "name": _take(names, rng.integers(0, len(names), m)),
                "long": _take([a for a, _ in types], ty),
                "short": _take([b for _, b in types], ty),
                "pre": _pick_variant(rng, city[ix], 0.0, pcs_tbl),
                "d": pl.Series(rng.integers(0, 10_000, m)).cast(pl.String).str.zfill(4),
                "l1": _take(letters, rng.integers(0, len(letters), m)),
                "l2": _take(letters, rng.integers(0, len(letters), m)),
            }
        )
        d1, d2 = pl.col("d").str.slice(1, 1), pl.col("d").str.slice(2, 1)
        l1, l2 = pl.col("l1"), pl.col("l2")
        if c.code == "GB":
            pc = pl.concat_str("pre", pl.lit(" "), d1, l1, l2)
        elif c.code == "CA":
            pc = pl.concat_str("pre", pl.lit(" "), d1, l1, d2)
        elif c.code == "NL":
            pc = pl.concat_str("pre", d1, d2.replace("0", "1"), pl.lit(" "), l1, l2)
        else:
            pc = pl.concat_str("pre", "d").str.slice(0, {"IN": 6, "AU": 4}.get(c.code, 5))
        tail = pl.lit(suite_no)
        parts.append(
            frame.select(
                "ix",
                pl.concat_str(_template(pattern.replace("{type}", "{long}")))
                .add(pl.when(pl.lit(suite)).then(pl.lit(", Suite ") + tail).otherwise(pl.lit("")))
                .alias("addr_long"),
                pl.concat_str(_template(pattern.replace("{type}", "{short}")))
                .add(pl.when(pl.lit(suite)).then(pl.lit(" Ste ") + tail).otherwise(pl.lit("")))
                .alias("addr_short"),
                pc.alias("postcode"),
            )
        )
    out = pl.concat(parts).sort("ix")
    assert out.height == n
    return out.drop("ix")


def _pick_city(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    t = _tables()
    city_country = np.array([c["country"] for c in t.cities])
    weights = np.array([c["weight"] for c in t.cities])
    out = np.empty(len(country), dtype=np.int64)
    for ci in range(len(_COUNTRIES)):
        ix = np.flatnonzero(country == ci)
        cand = np.flatnonzero(city_country == ci)
        out[ix] = cand[_choice(rng, weights[cand], len(ix))]
    return out


# --------------------------------------------------------------------------------------------
# Entities.
# --------------------------------------------------------------------------------------------


def _dedupe_emails(local: pl.Series, domain: pl.Series) -> pl.Series:
    """Make addresses unique (Gmail-dot insensitive) by appending a number to later holders."""
    frame = pl.DataFrame({"local": local, "domain": domain})
    for _ in range(5):
        key = pl.concat_str(
            pl.when(pl.col("domain") == "gmail.com")
            .then(pl.col("local").str.replace_all(".", "", literal=True))
            .otherwise(pl.col("local")),
            pl.lit("@"),
            pl.col("domain"),
        )
        frame = frame.with_columns(_k=pl.int_range(pl.len()).over(key))
        if frame["_k"].max() == 0:
            break
        frame = frame.with_columns(
            local=pl.when(pl.col("_k") > 0)
            .then(pl.concat_str("local", (pl.col("_k") + 1).cast(pl.String)))
            .otherwise("local")
        )
    return frame.select(pl.concat_str("local", pl.lit("@"), "domain")).to_series()


def _work_local(first: pl.Expr, last: pl.Expr, pattern: pl.Expr) -> pl.Expr:
    f1, l1 = first.str.slice(0, 1), last.str.slice(0, 1)
    return (
        pl.when(pattern == 0)
        .then(pl.concat_str(first, pl.lit("."), last))
        .when(pattern == 1)
        .then(pl.concat_str(f1, last))
        .when(pattern == 2)
        .then(first)
        .when(pattern == 3)
        .then(pl.concat_str(first, l1))
        .when(pattern == 4)
        .then(pl.concat_str(first, pl.lit("_"), last))
        .when(pattern == 5)
        .then(pl.concat_str(f1, pl.lit("."), last))
        .otherwise(pl.concat_str(last, f1))
    )


def _sample_names(rng, origin, gender, first_id=None, last_id=None):
    t = _tables()
    n = len(origin)
    first_id = np.empty(n, dtype=np.int64) if first_id is None else first_id
    last_id = np.empty(n, dtype=np.int64) if last_id is None else last_id
    for o in range(len(_ORIGIN_NAMES)):
        om = origin == o
        ids, p = t.last_pools[o]
        last_id[om] = ids[rng.choice(len(ids), size=int(om.sum()), p=p)]
        for g in (0, 1):
            m = om & (gender == g)
            ids, p = t.pools[(o, g)]
            first_id[m] = ids[rng.choice(len(ids), size=int(m.sum()), p=p)]
    return first_id, last_id


def _entities(rng: np.random.Generator, counts: np.ndarray, cfg: _Noise):
    """Per-person attributes (numpy arrays / series) and the company table."""
    t = _tables()
    E = len(counts)
    cw = np.array([c.weight for c in _COUNTRIES])
    country = _choice(rng, cw, E)
    origin = np.empty(E, dtype=np.int64)
    for ci, c in enumerate(_COUNTRIES):
        m = country == ci
        oi = np.array([_ORIGIN_NAMES.index(o) for o in c.origins])
        origin[m] = oi[_choice(rng, c.origins, int(m.sum()))]
    gender = rng.integers(0, 2, E)
    first_id, last_id = _sample_names(rng, origin, gender)

    # Planted look-alikes: each copies parts of a "partner" drawn from the ordinary entities.
    perm = rng.permutation(E)
    n_col, n_fam, n_ns = (int(p * E) for p in (cfg.p_colleague, cfg.p_family, cfg.p_namesake))
    colleague = perm[:n_col]
    family = perm[n_col : n_col + n_fam]
    namesake = perm[n_col + n_fam : n_col + n_fam + n_ns]
    ordinary = perm[n_col + n_fam + n_ns :]
    partner = np.full(E, -1, dtype=np.int64)
    for group in (colleague, family, namesake):
        if len(group) and len(ordinary):
            partner[group] = ordinary[rng.integers(0, len(ordinary), len(group))]
    kind = np.zeros(E, dtype=np.int8)  # 0 ordinary, 1 colleague, 2 family, 3 namesake
    kind[colleague], kind[family], kind[namesake] = 1, 2, 3
    for group in (colleague, family):
        p = partner[group]
        country[group], origin[group], last_id[group] = country[p], origin[p], last_id[p]
        # A different first name (re-draw from the partner's origin until it differs).
        for _ in range(10):
            same = first_id[group] == first_id[p]
            if not same.any():
                break
            sub = group[same]
            first_id[sub], _ = _sample_names(rng, origin[sub], gender[sub])
    p = partner[namesake]
    first_id[namesake], last_id[namesake] = first_id[p], last_id[p]
    gender[namesake], origin[namesake] = gender[p], origin[p]
    keep_country = rng.random(len(namesake)) < 0.7
    country[namesake] = np.where(keep_country, country[p], country[namesake])

    # Companies: about one per 28 people, sizes Zipf-skewed within each country.
    C_total = max(len(_COUNTRIES), E // 28)
    comp_country = np.repeat(
        np.arange(len(_COUNTRIES)), np.maximum(1, np.round(cw / cw.sum() * C_total)).astype(int)
    )
    comp_country = comp_country[rng.permutation(len(comp_country))]
    C = len(comp_country)
    base, slug = _company_names(rng, comp_country)
    suffix = np.empty(C, dtype=np.int64)
    tld = np.empty(C, dtype=object)
    for ci, c in enumerate(_COUNTRIES):
        m = comp_country == ci
        keys = list(c.suffixes)
        suffix[m] = np.array([_SUFFIX_KEYS.index(k) for k in keys])[
            _choice(rng, c.suffixes, int(m.sum()))
        ]
        tld[m] = np.array(list(c.tlds))[_choice(rng, c.tlds, int(m.sum()))]
    comp_city = _pick_city(rng, comp_country)
    comp_loc = _locations(rng, comp_city)
    companies = pl.DataFrame(
        {
            "base": pl.Series(base, dtype=pl.String),
            "suffix": suffix,
            "domain": pl.Series([s + d for s, d in zip(slug, tld, strict=True)], dtype=pl.String),
            "pattern": _choice(rng, [0.45, 0.2, 0.08, 0.07, 0.07, 0.08, 0.05], C),
            "city": comp_city,
            "country": comp_country,
        }
    ).hstack(comp_loc)

    def pick_company(cty: np.ndarray) -> np.ndarray:
        out = np.empty(len(cty), dtype=np.int64)
        for ci in range(len(_COUNTRIES)):
            m = cty == ci
            cand = np.flatnonzero(comp_country == ci)
            out[m] = cand[rng.choice(len(cand), size=int(m.sum()), p=_zipf(len(cand), 10, 1.0))]
        return out

    comp = pick_company(country)
    comp[colleague] = comp[partner[colleague]]
    clash = comp[namesake] == comp[partner[namesake]]
    for _ in range(10):
        if not clash.any():
            break
        sub = namesake[clash]
        comp[sub] = pick_company(country[sub])
        clash = comp[namesake] == comp[partner[namesake]]

    # Job changers: second company in the same country, switch at a later sighting.
    changer = (counts >= 2) & (rng.random(E) < cfg.p_changer) & (kind != 1)
    ch = np.flatnonzero(changer)
    comp2 = np.full(E, -1, dtype=np.int64)
    comp2[ch] = pick_company(country[ch])
    same = comp2[ch] == comp[ch]
    comp2[ch[same]] = pick_company(country[ch[same]])
    changer &= comp2 != comp
    comp2[~changer] = -1
    switch_at = np.full(E, 1 << 30, dtype=np.int64)
    ch = np.flatnonzero(changer)
    switch_at[ch] = rng.integers(1, counts[ch])
    link = np.full(E, -1, dtype=np.int64)  # 0 personal mobile, 1 personal email, 2 both
    link[ch] = _choice(rng, [0.5, 0.3, 0.2], len(ch))

    # Cities and home locations; family members share their partner's home.
    city = np.where(rng.random(E) < 0.75, comp_city[comp], _pick_city(rng, country))
    at_company = city == comp_city[comp]
    fam_p = partner[family]
    city[family] = city[fam_p]
    home = _locations(rng, city)
    home_ix = np.arange(E)
    home_ix[family] = fam_p
    at_company[family] = False
    at_company[fam_p] = False

    # Phones: personal mobile, direct dials (current and post-switch), home, switchboards.
    mob_plan = t.city_plan[city].copy()
    for ci in range(len(_COUNTRIES)):
        plans = t.mobile_plans[ci]
        m = country == ci
        if len(plans):
            mob_plan[m] = plans[rng.integers(0, len(plans), int(m.sum()))]
    fam_home = np.unique(fam_p)
    requests = [
        mob_plan,  # E mobiles
        t.city_plan[comp_city[comp]],  # E direct dials
        t.city_plan[comp_city[comp2[ch]]],  # direct dials at the new job
        t.city_plan[city[fam_home]],  # shared home lines
        t.city_plan[comp_city],  # C switchboards
    ]
    sizes = np.cumsum([0] + [len(r) for r in requests])
    phones = _alloc_phones(rng, np.concatenate(requests))
    mobile_id = np.arange(E)
    direct_id = sizes[1] + np.arange(E)
    direct2_id = np.full(E, -1, dtype=np.int64)
    direct2_id[ch] = sizes[2] + np.arange(len(ch))
    home_phone = np.full(E, -1, dtype=np.int64)
    home_phone[fam_home] = sizes[3] + np.arange(len(fam_home))
    home_phone[family] = home_phone[fam_p]
    switch_id = sizes[4] + np.arange(C)
    # Which number a person gives as "phone": 0 direct, 1 switchboard, 2 home, 3 mobile.
    phone_kind = _choice(rng, [0.45, 0.3, 0.0, 0.25], E)
    phone_kind[colleague] = 1
    phone_kind[partner[colleague]] = 1
    phone_kind[family] = 2
    phone_kind[fam_p] = 2
    ext = np.where(rng.random(E) < 0.5, rng.integers(100, 1000, E), -1)

    # Emails: work address per company (pattern from the company) and optional personal one.
    first_a = _take(t.first_ascii, first_id)
    last_a = _take(t.last_ascii, last_id).str.replace_all("-", "")
    pattern = companies["pattern"].to_numpy()
    domain_s = companies["domain"]
    ents = np.concatenate([np.arange(E), ch])
    comps = np.concatenate([comp, comp2[ch]])
    local = pl.select(
        _work_local(pl.lit(first_a[ents]), pl.lit(last_a[ents]), pl.lit(pattern[comps]))
    ).to_series()
    work_all = _dedupe_emails(local, _take(domain_s, comps))
    work1 = work_all[:E]
    work2 = _take(work_all, np.where(changer, 0, -1))
    if len(ch):
        work2 = work2.scatter(ch, work_all[E:])

    has_personal = (rng.random(E) < cfg.p_personal) | (link >= 1)
    pers_ix = np.flatnonzero(has_personal)
    pdomain = np.empty(len(pers_ix), dtype=object)
    for ci, c in enumerate(_COUNTRIES):
        m = country[pers_ix] == ci
        pdomain[m] = np.array(list(c.freemail))[_choice(rng, c.freemail, int(m.sum()))]
    fa, la = first_a[pers_ix], last_a[pers_ix]
    pat = _choice(rng, [0.3, 0.15, 0.15, 0.1, 0.08, 0.07, 0.05, 0.1], len(pers_ix))
    nn = pl.Series(rng.integers(1, 100, len(pers_ix))).cast(pl.String).str.zfill(2)
    yy = pl.Series(rng.integers(1960, 2003, len(pers_ix))).cast(pl.String)
    plocal = pl.select(
        pl.when(pl.lit(pat) == 0)
        .then(pl.concat_str(pl.lit(fa), pl.lit("."), pl.lit(la)))
        .when(pl.lit(pat) == 1)
        .then(pl.concat_str(pl.lit(fa), pl.lit(la)))
        .when(pl.lit(pat) == 2)
        .then(pl.concat_str(pl.lit(fa), pl.lit("."), pl.lit(la), pl.lit(nn)))
        .when(pl.lit(pat) == 3)
        .then(pl.concat_str(pl.lit(fa).str.slice(0, 1), pl.lit(la), pl.lit(yy)))
        .when(pl.lit(pat) == 4)
        .then(pl.concat_str(pl.lit(fa), pl.lit("_"), pl.lit(la)))
        .when(pl.lit(pat) == 5)
        .then(pl.concat_str(pl.lit(fa), pl.lit(nn)))
        .when(pl.lit(pat) == 6)
        .then(pl.concat_str(pl.lit(la), pl.lit("."), pl.lit(fa)))
        .otherwise(pl.concat_str(pl.lit(fa), pl.lit("."), pl.lit(la), pl.lit(yy).str.slice(2)))
    ).to_series()
    personal = pl.Series("personal", [None] * E, dtype=pl.String)
    if len(pers_ix):
        personal = personal.scatter(
            pers_ix, _dedupe_emails(plocal, pl.Series(pdomain, dtype=pl.String))
        )

    middle = np.where(rng.random(E) < 0.15, rng.integers(0, 26, E), -1)
    name_suffix = np.where(
        (rng.random(E) < 0.015) & (gender == 0), rng.integers(0, len(_NAME_SUFFIXES), E), -1
    )
    name_suffix = np.where(
        (rng.random(E) < 0.004) & (gender == 1),
        rng.integers(5, len(_NAME_SUFFIXES), E),
        name_suffix,
    )
    n_titles = len(_TITLES)
    title = rng.choice(n_titles, size=E, p=_zipf(n_titles, 4, 1.0))
    title2 = rng.integers(0, n_titles, E)
    source = rng.choice(len(_LEAD_SOURCES), size=E, p=_zipf(len(_LEAD_SOURCES), 2, 1.0))

    ent = {
        "country": country,
        "gender": gender,
        "first_id": first_id,
        "last_id": last_id,
        "middle": middle,
        "name_suffix": name_suffix,
        "comp": comp,
        "comp2": comp2,
        "switch_at": switch_at,
        "link": link,
        "city": city,
        "at_company": at_company,
        "home_ix": home_ix,
        "mobile_id": mobile_id,
        "direct_id": direct_id,
        "direct2_id": direct2_id,
        "home_phone": home_phone,
        "phone_kind": phone_kind,
        "ext": ext,
        "title": title,
        "title2": title2,
        "source": source,
        "first_day": rng.integers(0, WINDOW_DAYS, E),
    }
    return ent, work1, work2, personal, companies, home, phones, switch_id


# --------------------------------------------------------------------------------------------
# Rows.
# --------------------------------------------------------------------------------------------


def _variant_table(lists: list[list[str]]) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    flat = [v for vs in lists for v in vs]
    starts = np.cumsum([0] + [len(vs) for vs in lists])[:-1]
    return pl.Series(flat, dtype=pl.String), starts, np.array([len(vs) for vs in lists])


def _pick_variant(rng, item: np.ndarray, p_canonical: float, tables) -> pl.Series:
    """Choose a rendering of item: its canonical (first) variant with p_canonical, else any."""
    flat, starts, lens = tables
    n = len(item)
    k = np.where(
        rng.random(n) < p_canonical, 0, (rng.random(n) * lens[np.maximum(item, 0)]).astype(int)
    )
    return _take(flat, np.where(item < 0, -1, starts[np.maximum(item, 0)] + k))


def generate_leads(
    n_rows: int,
    seed: int = 7,
    noise: Literal["standard", "hard"] = "standard",
    *,
    as_of: date = AS_OF,
) -> pl.DataFrame:
    """Messy lead rows with ground truth: canonical lead columns (strings) plus `true_entity_id`
    (rows of one real person share it) and `record_id` (unique per row). Deterministic per
    (n_rows, seed, noise, as_of)."""
    if noise not in _NOISE:
        raise ValueError(f"noise must be one of {sorted(_NOISE)}, got {noise!r}")
    cfg = _NOISE[noise]
    t = _tables()
    rng = np.random.default_rng(seed)

    # Appearances per person, cut to exactly n_rows.
    cp = np.array(cfg.count_p)
    mean = float((np.arange(1, len(cp) + 1) * cp).sum())
    counts = 1 + _choice(rng, cp, int(n_rows / mean * 1.1) + 10)
    cum = np.cumsum(counts)
    E = int(np.searchsorted(cum, n_rows)) + 1
    counts = counts[:E]
    counts[-1] -= int(cum[E - 1] - n_rows)
    ent, work1, work2, personal, companies, home, phones, switch_id = _entities(rng, counts, cfg)

    R = n_rows
    e = np.repeat(np.arange(E), counts)
    starts = np.cumsum(counts) - counts
    dup = np.arange(R) - np.repeat(starts, counts)
    last_dup = dup == (counts[e] - 1)
    g = {k: v[e] for k, v in ent.items()}
    after = dup >= g["switch_at"]
    comp = np.where(after, g["comp2"], g["comp"])
    u = lambda: rng.random(R)  # noqa: E731

    # --- names -------------------------------------------------------------------------------
    first_id = g["first_id"]
    n_nicks = t.nick_n[first_id]  # sampled ids are base names, so they index the nick table
    use_nick = (n_nicks > 0) & (u() < cfg.p_nick)
    nick_k = (u() * np.maximum(n_nicks, 1)).astype(int)
    first_id = np.where(use_nick, t.nick[first_id, nick_k], first_id)
    n_first, n_last = len(t.first), len(t.last)
    first_vocab = pl.Series(
        t.first + [_fold(n) for n in t.first] + [_translit(n) for n in t.first]
        + [n.encode("utf-8").decode("cp1252", "replace") for n in t.first]
    )  # fmt: skip
    last_vocab = pl.Series(
        t.last + [_fold(n) for n in t.last] + [_translit(n) for n in t.last]
        + [n.encode("utf-8").decode("cp1252", "replace") for n in t.last]
    )  # fmt: skip

    def accent_variant() -> np.ndarray:
        r = u()
        v = np.where(r < cfg.p_accent, np.where(u() < 0.6, 1, 2), 0)
        return np.where(r > 1 - cfg.p_moji, 3, v)

    acc = accent_variant()  # one choice per row, for both parts of the name
    frame = pl.DataFrame(
        {
            "first": _take(first_vocab, acc * n_first + first_id),
            "last": _take(last_vocab, acc * n_last + g["last_id"]),
        }
    )
    frame = _maybe_typo(frame, "first", cfg.p_typo, cfg.p_typo2, rng)
    frame = _maybe_typo(frame, "last", cfg.p_typo, cfg.p_typo2, rng)
    swap = pl.Series(u() < cfg.p_swap)
    case = np.where(u() < cfg.p_case, _choice(rng, [0.5, 0.3, 0.2], R) + 1, 0)
    middle = _take([chr(65 + i) for i in range(26)], g["middle"])
    sfx = _take(_NAME_SUFFIXES, g["name_suffix"])
    hon = np.where(
        u() < cfg.p_honorific, (u() * len(_HONORIFICS_M)).astype(int) + g["gender"] * 100, -1
    )
    hon_s = _take(_HONORIFICS_M + [""] * 95 + _HONORIFICS_F, hon)
    mode = _choice(rng, cfg.name_mode_p, R)  # 0 first+last, 1 full only, 2 both
    full_fmt = _choice(rng, [0.66, 0.12, 0.1, 0.06, 0.03, 0.03], R)
    frame = frame.with_columns(
        pl.when(swap).then("last").otherwise("first").alias("first"),
        pl.when(swap).then("first").otherwise("last").alias("last"),
    ).with_columns(
        _case(pl.col("first"), pl.lit(case)).alias("first"),
        _case(pl.col("last"), pl.lit(case)).alias("last"),
        pl.lit(middle).alias("middle"),
        pl.lit(sfx).alias("sfx"),
        pl.lit(hon_s).alias("hon"),
        pl.lit(full_fmt).alias("ff"),
        pl.lit(u() < 0.6).alias("show_sfx"),
    )
    F, L = pl.col("first"), pl.col("last")
    with_sfx = pl.when(pl.col("show_sfx") & pl.col("sfx").is_not_null())
    core = pl.concat_str(F, pl.lit(" "), L)
    full = (
        pl.when(pl.col("ff") == 1)
        .then(pl.concat_str(L, pl.lit(", "), F))
        .when(pl.col("ff") == 2)
        .then(pl.concat_str(pl.col("hon").fill_null("Dr."), pl.lit(" "), core))
        .when((pl.col("ff") == 3) & pl.col("middle").is_not_null())
        .then(pl.concat_str(F, pl.lit(" "), pl.col("middle"), pl.lit(". "), L))
        .when(pl.col("ff") == 4)
        .then(pl.concat_str(L.str.to_uppercase(), pl.lit(" "), F))
        .when(pl.col("ff") == 5)
        .then(pl.concat_str(pl.lit(" "), F, pl.lit("  "), L, pl.lit(" ")))
        .otherwise(core)
    )
    full = with_sfx.then(pl.concat_str(full, pl.lit(" "), pl.col("sfx"))).otherwise(full)
    last_col = (
        pl.when(pl.col("show_sfx") & pl.col("sfx").is_not_null() & (pl.lit(u()) < 0.4))
        .then(pl.concat_str(L, pl.lit(" "), pl.col("sfx")))
        .otherwise(L)
    )
    first_col = (
        pl.when(pl.col("hon").is_not_null() & (pl.col("ff") != 2) & (pl.lit(u()) < 0.3))
        .then(pl.concat_str("hon", pl.lit(" "), F))
        .otherwise(F)
    )
    frame = frame.select(
        pl.when(pl.lit(mode) != 1).then(first_col).alias("first_name"),
        pl.when(pl.lit(mode) != 1).then(last_col).alias("last_name"),
        pl.when(pl.lit(mode) != 0).then(full).alias("full_name"),
    )

    # --- emails ------------------------------------------------------------------------------
    pers = personal.gather(e)
    work = pl.select(pl.when(pl.lit(after)).then(work2.gather(e)).otherwise(work1.gather(e)))
    work = work.to_series()
    use_pers = pers.is_not_null().to_numpy() & (u() < cfg.p_use_personal)
    link = g["link"]
    force_pers = (link >= 1) & ((dup == 0) | last_dup)
    use_pers |= force_pers
    no_email = (u() < cfg.miss["email"]) & ~force_pers
    em = pl.DataFrame(
        {"email": pl.select(pl.when(pl.lit(use_pers)).then(pers).otherwise(work)).to_series()}
    )
    em = em.with_columns(
        local=pl.col("email").str.extract(r"^([^@]+)@", 1),
        domain=pl.col("email").str.extract(r"@(.+)$", 1),
    )
    gv = np.where(
        u() < cfg.p_gmail_variant, _choice(rng, [0.22, 0.22, 0.08, 0.3, 0.13, 0.05], R) + 1, 0
    )
    gmail = (em["domain"] == "gmail.com").fill_null(False).to_numpy()
    ix = np.flatnonzero(gmail & (gv > 0))  # only Gmail rows get Gmail-style variants
    sub = em[ix].with_columns(
        gv=pl.lit(gv[ix]),
        tag=_take(_GMAIL_TAGS, rng.integers(0, len(_GMAIL_TAGS), len(ix))),
        ins=pl.lit(rng.random(len(ix))),
    )
    lc, v = pl.col("local"), pl.col("gv")
    nodot = lc.str.replace_all(".", "", literal=True)
    n_lc = lc.str.len_chars().cast(pl.Int64)
    dot_pos = pl.min_horizontal((1 + pl.col("ins") * (n_lc - 1)).floor().cast(pl.Int64), n_lc - 1)
    sub = sub.select(
        local=pl.when(v == 1)
        .then(nodot)
        .when(v == 2)
        .then(pl.concat_str(lc.str.slice(0, dot_pos), pl.lit("."), lc.str.slice(dot_pos)))
        .when(v == 3)
        .then(nodot.str.replace_all(r"(.)", "$1.").str.strip_chars_end("."))
        .when(v == 4)
        .then(pl.concat_str(lc, pl.lit("+"), "tag"))
        .when(v == 6)
        .then(pl.concat_str(nodot, pl.lit("+"), "tag"))
        .otherwise(lc),
        domain=pl.when(v == 5).then(pl.lit("googlemail.com")).otherwise("domain"),
    )
    em = em.with_columns(
        em["local"].scatter(ix, sub["local"]), em["domain"].scatter(ix, sub["domain"])
    )
    em = em.with_columns(local=pl.col("local").str.replace_all("..", ".", literal=True))
    # Typos never touch locals with digits: deleting the "2" of "jsmith2" forges a real address.
    no_digit = ~em["local"].str.contains(r"\d").fill_null(True).to_numpy()
    em = _maybe_typo(em, "local", cfg.p_email_typo, 0.0, rng, no_digit)
    ecase = np.where(u() < 0.06, np.where(u() < 0.4, 1, 3), 0)
    email = pl.concat_str("local", pl.lit("@"), "domain")
    email = (
        pl.when(pl.lit(ecase) == 1)
        .then(email.str.to_uppercase())
        .when(pl.lit(ecase) == 3)
        .then(
            pl.concat_str(
                pl.col("local").str.to_titlecase().str.replace_all(" ", ""), pl.lit("@"), "domain"
            )
        )
        .otherwise(email)
    )
    frame = frame.with_columns(em.select(pl.when(pl.lit(~no_email)).then(email).alias("email")))

    # --- company, website, title, source -----------------------------------------------------
    cg = companies[comp]
    sv = _variant_table([_SUFFIX_VARIANTS[k] for k in _SUFFIX_KEYS])
    cmode = _choice(rng, [0.45, 0.25, 0.22, 0.08], R)  # canonical, variant, bare, bare+case
    suffix_txt = _pick_variant(rng, cg["suffix"].to_numpy(), 0.0, sv)
    canon_txt = _pick_variant(rng, cg["suffix"].to_numpy(), 1.0, sv)
    ccase = np.where(u() < cfg.p_case * 0.7, _choice(rng, [0.6, 0.4], R) + 1, 0)
    company = pl.DataFrame(
        {
            "company": pl.select(
                pl.when(pl.lit(cmode) == 0)
                .then(pl.concat_str(pl.lit(cg["base"]), pl.lit(canon_txt)))
                .when(pl.lit(cmode) == 1)
                .then(pl.concat_str(pl.lit(cg["base"]), pl.lit(suffix_txt)))
                .otherwise(pl.lit(cg["base"]))
            ).to_series()
        }
    )
    company = _maybe_typo(company, "company", cfg.p_company_typo, 0.0, rng)
    company = company.select(
        _case(pl.col("company"), pl.lit(np.where(cmode == 3, np.maximum(ccase, 1), ccase)))
    ).to_series()
    wmode = _choice(rng, [0.3, 0.3, 0.15, 0.15, 0.07, 0.03], R)
    site = _take(["", "www.", "http://", "https://www.", "https://", "HTTP://WWW."], wmode)
    website = pl.select(
        pl.concat_str(
            pl.lit(site),
            pl.lit(cg["domain"]),
            pl.when(pl.lit(u() < 0.2) & (pl.lit(wmode) >= 2))
            .then(pl.lit("/"))
            .otherwise(pl.lit("")),
        )
    ).to_series()
    title = np.where(after, g["title2"], g["title"])
    job = _pick_variant(rng, title, 0.55, _variant_table(_TITLES))
    src = np.where(u() < 0.5, g["source"], rng.integers(0, len(_LEAD_SOURCES), R))
    source = _pick_variant(rng, src, 0.6, _variant_table(_LEAD_SOURCES))

    # --- location ----------------------------------------------------------------------------
    cvar = _variant_table([list(c.names) for c in _COUNTRIES])
    country_s = _pick_variant(rng, g["country"], 0.4, cvar)
    at_comp = g["at_company"]
    row_city = np.where(at_comp, companies["city"].to_numpy()[comp], g["city"])
    city_s = _pick_variant(
        rng, row_city, 0.7, _variant_table([list(c["variants"]) for c in t.cities])
    )
    st_tbl = _variant_table(
        [[c["state"], c["abbr"]] if c["abbr"] else [c["state"]] for c in t.cities]
    )
    state_s = _pick_variant(rng, row_city, 0.0, st_tbl)
    home_loc = home[g["home_ix"]]
    comp_loc = cg.select("addr_long", "addr_short", "postcode")
    loc = pl.DataFrame(
        {
            k: pl.select(
                pl.when(pl.lit(at_comp)).then(comp_loc[k]).otherwise(home_loc[k])
            ).to_series()
            for k in ("addr_long", "addr_short", "postcode")
        }
    )
    code = _take(_CODES, g["country"])
    pc_r = u()
    loc = loc.with_columns(code=code).select(
        pl.when(pl.lit(u() < 0.3)).then("addr_short").otherwise("addr_long").alias("address"),
        pl.when(pl.col("code").is_in(["US", "DE", "FR", "ES"]) & (pl.lit(pc_r) < 0.3))
        .then(pl.col("postcode").str.strip_chars_start("0"))
        .when((pl.col("code") == "US") & (pl.lit(pc_r) > 0.95))
        .then(
            pl.concat_str(
                "postcode", pl.lit("-"), pl.lit((u() * 9000 + 1000).astype(int)).cast(pl.String)
            )
        )
        .when(pl.col("code").is_in(["GB", "CA", "NL"]) & (pl.lit(pc_r) < 0.15))
        .then(pl.col("postcode").str.replace_all(" ", ""))
        .when(pl.col("code").is_in(["GB", "CA"]) & (pl.lit(pc_r) > 0.95))
        .then(pl.col("postcode").str.to_lowercase())
        .when((pl.col("code") == "IN") & (pl.lit(pc_r) < 0.1))
        .then(
            pl.concat_str(
                pl.col("postcode").str.slice(0, 3), pl.lit(" "), pl.col("postcode").str.slice(3)
            )
        )
        .otherwise("postcode")
        .alias("postcode"),
    )

    # --- phones ------------------------------------------------------------------------------
    kind = g["phone_kind"]
    comp_switch = switch_id[comp]
    direct = np.where(after, g["direct2_id"], g["direct_id"])
    primary = np.select(
        [kind == 0, kind == 1, kind == 2], [direct, comp_switch, g["home_phone"]], g["mobile_id"]
    )
    alt = u() < 0.15
    ph_id = np.where(alt, np.where(kind == 3, direct, g["mobile_id"]), primary)
    ph_ext = np.where((ph_id == comp_switch) & (u() < 0.6), g["ext"], -1)
    ph_ext = np.where((ph_id == direct) & (u() < 0.05), g["ext"], ph_ext)
    force_mob = (link == 0) | (link == 2)
    force_mob &= (dup == 0) | last_dup
    no_phone = (u() < cfg.miss["phone"]) & ~(force_mob & (kind == 3))
    no_mob = (u() < cfg.miss["mobile_phone"]) & ~force_mob
    phone = _format_phones(rng, phones, ph_id, ph_ext)
    mobile = _format_phones(rng, phones, g["mobile_id"], np.full(R, -1))
    ph = pl.DataFrame({"phone": phone, "mobile_phone": mobile}).select(
        pl.when(pl.lit(~no_phone)).then("phone").alias("phone"),
        pl.when(pl.lit(~no_mob)).then("mobile_phone").alias("mobile_phone"),
    )

    # --- dates -------------------------------------------------------------------------------
    gaps = rng.exponential(75.0, R)
    gaps[dup == 0] = 0.0
    cs = np.cumsum(gaps)
    day = g["first_day"] + (cs - np.repeat(cs[starts], counts)).astype(int)
    day = np.minimum(day, WINDOW_DAYS - 1)
    t0 = np.datetime64(as_of, "s") - np.timedelta64(WINDOW_DAYS, "D")
    secs = rng.integers(7 * 3600, 20 * 3600, R)
    ts = t0 + day.astype("timedelta64[D]") + secs.astype("timedelta64[s]")
    created = pl.Series(ts.astype("datetime64[ms]")).dt.strftime("%Y-%m-%dT%H:%M:%S")

    # --- assemble, blank out, pad ------------------------------------------------------------
    out = pl.DataFrame(
        {
            "email": frame["email"],
            "first_name": frame["first_name"],
            "last_name": frame["last_name"],
            "full_name": frame["full_name"],
            "company": company,
            "website": website,
            "phone": ph["phone"],
            "mobile_phone": ph["mobile_phone"],
            "job_title": job,
            "country": country_s,
            "city": city_s,
            "state": state_s,
            "postcode": loc["postcode"],
            "address": loc["address"],
            "lead_source": source,
            "created_at": created,
        }
    )
    blank = []
    for col in OUTPUT_COLUMNS:
        if col in ("email", "phone", "mobile_phone", "first_name", "last_name", "full_name"):
            continue
        p = cfg.miss[col]
        blank.append(pl.when(pl.lit(u() >= p)).then(pl.col(col)).alias(col))
    out = out.with_columns(blank)
    # Some rows carry no name at all, but only when an email or phone identifies them.
    no_name = u() < cfg.miss["name"]
    out = out.with_columns(
        [
            pl.when(
                pl.lit(no_name) & (pl.col("email").is_not_null() | pl.col("phone").is_not_null())
            )
            .then(None)
            .otherwise(pl.col(c))
            .alias(c)
            for c in ("first_name", "last_name", "full_name")
        ]
    )
    # A row must name someone or carry an email: restore the name where both went missing.
    out = out.with_columns(
        [
            pl.when(
                pl.all_horizontal(
                    pl.col(c).is_null() for c in ("email", "first_name", "last_name", "full_name")
                )
            )
            .then(frame[c])
            .otherwise(pl.col(c))
            .alias(c)
            for c in ("first_name", "last_name", "full_name")
        ]
    )
    # Stray whitespace around one value of some rows.
    pad = u() < cfg.p_pad
    pad_col = rng.integers(0, len(OUTPUT_COLUMNS) - 1, R)
    padded = []
    for k, c in enumerate(OUTPUT_COLUMNS[:-1]):
        ix = np.flatnonzero(pad & (pad_col == k))
        padded.append(out[c].scatter(ix, " " + out[c].gather(ix) + "  "))
    out = out.with_columns(padded)
    # Verbatim re-imports of the previous sighting (rows are still grouped by person here).
    src = np.arange(R)
    copy = (dup > 0) & (u() < cfg.p_exact_copy)
    src[copy] -= 1
    out = out[src]
    out = out.with_columns(true_entity_id=pl.lit(e.astype(np.int64)))
    out = out[rng.permutation(R)]
    return out.with_columns(
        record_id=pl.concat_str(pl.lit("R"), pl.int_range(1, R + 1).cast(pl.String).str.zfill(8))
    )


# --------------------------------------------------------------------------------------------
# Messy files.
# --------------------------------------------------------------------------------------------

# (extension, options); files cycle through this list so any 12 consecutive files cover all.
_FILE_FORMATS: tuple[tuple[str, dict], ...] = (
    ("csv", {"sep": ",", "enc": "utf-8"}),
    ("csv", {"sep": ";", "enc": "cp1252"}),
    ("tsv", {"sep": "\t", "enc": "utf-8-sig"}),
    ("xlsx", {"sheets": 1}),
    ("json", {}),
    ("txt", {"sep": "|", "enc": "utf-8"}),
    ("csv", {"sep": ",", "enc": "utf-16"}),
    ("ndjson", {}),
    ("xlsx", {"sheets": 2}),
    ("csv", {"sep": ";", "enc": "utf-8-sig"}),
    ("csv", {"sep": ",", "enc": "cp1252", "crlf": True}),
    ("csv", {"sep": ",", "enc": "utf-8-sig", "quote_all": True}),
)
_FILE_STEMS = (
    "crm_export", "tradeshow_scans", "webinar_attendees", "partner_leads", "purchased_list",
    "salesnav_export", "event_badges", "newsletter_signups", "sdr_prospects", "legacy_crm_dump",
    "inbound_forms", "conference_contacts",
)  # fmt: skip
_DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y %H:%M", "%d.%m.%Y %H:%M",
    "%Y-%m-%d %H:%M:%S", "%d-%b-%Y",
)  # fmt: skip
_NOTES = (
    "Met at booth 12", "Asked for pricing", "Interested in a demo\nFollow up in Q3",
    "Do not call before 10am", "Budget approved for next year", "Requested case studies",
    "Call back; assistant said \"next week\"", "Left voicemail\nSent follow-up email",
    "Competitor customer - contract ends in March", "Hot lead!!", "Unsubscribed from newsletter",
    "Prefers email; travelling, back on the 14th\nCC her colleague on replies",
)  # fmt: skip
# Columns a source may simply not have (identity columns are always kept).
_OPTIONAL_FIELDS = (
    "website", "mobile_phone", "job_title", "country", "city", "state", "postcode", "address",
    "lead_source", "created_at",
)  # fmt: skip


def _load_aliases() -> dict[str, list[str]]:
    import yaml

    with ALIASES_PATH.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return {k: [str(v) for v in vs] for k, vs in raw.items()}


def _header_key(header: str) -> str:
    return "".join(ch for ch in _fold(header).lower() if ch.isalnum())


def _style_header(alias: str, style: int) -> str:
    if style == 0:
        return " ".join(w[:1].upper() + w[1:] for w in alias.split(" "))
    if style == 1:
        return alias.upper()
    if style == 2:
        return alias.replace(" ", "_").replace("-", "_")
    return alias


def write_messy_files(df: pl.DataFrame, out_dir: Path, n_files: int, seed: int) -> list[Path]:
    """Split `df` (from generate_leads) into n_files lead files of varied formats, encodings and
    header spellings; ground truth travels as `_true_entity_id` / `_record_id` columns."""
    import xlsxwriter

    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    aliases = _load_aliases()
    n_files = max(1, min(n_files, df.height or 1))
    perm = rng.permutation(df.height)
    shares = rng.dirichlet(np.full(n_files, 4.0))
    # XLSX is slow to write and read; give those files a smaller share.
    kinds = [_FILE_FORMATS[i % len(_FILE_FORMATS)] for i in range(n_files)]
    shares *= np.array([0.4 if ext == "xlsx" else 1.0 for ext, _ in kinds])
    bounds = np.r_[0, np.round(np.cumsum(shares / shares.sum()) * df.height).astype(int)]
    bounds[-1] = df.height
    paths: list[Path] = []
    for i, (ext, opt) in enumerate(kinds):
        part = df[perm[bounds[i] : bounds[i + 1]]]
        fields = [
            f
            for f in OUTPUT_COLUMNS
            if f in part.columns and not (f in _OPTIONAL_FIELDS and rng.random() < 0.2)
        ]
        if rng.random() < 0.5:  # some sources order columns their own way
            fields = [fields[j] for j in rng.permutation(len(fields))]
        style = int(rng.integers(0, 4))
        used: set[str] = set()
        headers: dict[str, str] = {}
        for f in fields:
            options = aliases.get(f) or [f.replace("_", " ")]
            for j in rng.permutation(len(options)):
                h = _style_header(options[j], style)
                if _header_key(h) not in used:
                    break
            used.add(_header_key(h))
            headers[f] = h
        real_dates = ext == "xlsx" and rng.random() < 0.5
        date_fmt = _DATE_FORMATS[int(rng.integers(0, len(_DATE_FORMATS)))]
        cols = []
        for f in fields:
            c = pl.col(f)
            if f == "created_at":
                parsed = c.str.strip_chars().str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False)
                c = parsed if real_dates else parsed.dt.strftime(date_fmt)
            cols.append(c.alias(headers[f]))
        if rng.random() < 0.5:
            note_ix = np.where(
                rng.random(part.height) < 0.15, rng.integers(0, len(_NOTES), part.height), -1
            )
            part = part.with_columns(_notes=_take(list(_NOTES), note_ix))
            cols.append(pl.col("_notes").alias(_style_header("notes", style)))
        cols += [
            pl.col("true_entity_id").alias("_true_entity_id"),
            pl.col("record_id").alias("_record_id"),
        ]
        table = part.select(cols)
        name = f"{i + 1:02d}_{_FILE_STEMS[i % len(_FILE_STEMS)]}"
        path = out_dir / f"{name}.{ext}"
        if ext in ("csv", "tsv", "txt"):
            text = table.write_csv(
                separator=opt["sep"],
                quote_style="always" if opt.get("quote_all") else "necessary",
                line_terminator="\r\n" if opt.get("crlf") else "\n",
            )
            path.write_bytes(text.encode(opt["enc"], errors="replace"))
        elif ext == "json":
            if rng.random() < 0.5:  # form tools often omit empty keys
                rows = [{k: v for k, v in r.items() if v is not None} for r in table.to_dicts()]
                path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            else:
                table.write_json(path)
        elif ext == "ndjson":
            table.write_ndjson(path)
        else:
            wb = xlsxwriter.Workbook(
                str(path),
                {
                    "constant_memory": True,
                    "strings_to_numbers": False,
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                    "default_date_format": "yyyy-mm-dd hh:mm",
                },
            )
            wb.set_properties({"created": datetime(2026, 1, 1)})
            cut = int(table.height * 0.65) if opt["sheets"] == 2 else table.height
            for sheet, chunk in (("Leads", table[:cut]), ("Leads (2)", table[cut:])):
                if sheet != "Leads" and opt["sheets"] == 1:
                    continue
                ws = wb.add_worksheet(sheet)
                ws.write_row(0, 0, chunk.columns)
                for r, row in enumerate(chunk.iter_rows(), start=1):
                    ws.write_row(r, 0, row)
            wb.close()
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# CLI.
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Generate leads to parquet and/or messy files."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--noise", choices=sorted(_NOISE), default="standard")
    ap.add_argument("--out", type=Path, help="parquet path for the whole frame")
    ap.add_argument("--files", type=Path, help="directory for messy lead files")
    ap.add_argument("--n-files", type=int, default=20)
    args = ap.parse_args(argv)
    if args.out is None and args.files is None:
        args.out = Path(__file__).parent / "data" / f"leads_{args.rows}_{args.noise}.parquet"

    t0 = time.perf_counter()
    df = generate_leads(args.rows, seed=args.seed, noise=args.noise)
    t_gen = time.perf_counter() - t0
    print(
        f"generated {df.height:,} rows for {df['true_entity_id'].n_unique():,} people "
        f"(seed={args.seed}, noise={args.noise}) in {t_gen:.1f}s"
    )
    if args.out is not None:
        t1 = time.perf_counter()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        df.write_parquet(args.out)
        size = args.out.stat().st_size / 1e6
        print(f"wrote {args.out} ({size:.1f} MB) in {time.perf_counter() - t1:.1f}s")
    if args.files is not None:
        t1 = time.perf_counter()
        paths = write_messy_files(df, args.files, args.n_files, args.seed)
        for p in paths:
            print(f"  {p} ({p.stat().st_size / 1e6:.2f} MB)")
        print(f"wrote {len(paths)} files to {args.files} in {time.perf_counter() - t1:.1f}s")
    print(f"total {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
