"""Write the committed demo folder `data/sample_drive/` from hand-curated rows (deterministic).

Run: `python data/make_sample_drive.py [OUT_DIR]`. Every file in the folder is ingested by the
pipeline, which is why this description lives here and not in a README inside the folder.

Files:
- hubspot_export_2026-10.csv: CRM export, comma, UTF-8, HubSpot headers (40 rows).
- tradeshow_leads_paris.csv: badge scans, semicolon, cp1252, French headers, French and
  German names with accents, French phone formats (30 rows incl. one blank line of `;`).
- partner_list.xlsx: sheet "Leads" (25 rows) and a "Notes" sheet with free text.
- webform_submissions.json: JSON array from a form tool (20 objects, nested consent, nulls).
- webinar_signups.ndjson: one JSON object per line (15 lines, a nested answers object).
- linkedin_export.tsv: tab, UTF-8 with BOM, one note with an embedded newline (15 rows).
- contacts_utf16.csv: Outlook-style contacts export, UTF-16 with BOM (10 rows).
- corrupt_export.xlsx: a truncated workbook; the ingester must quarantine it.

Planted cases (see `expected_people()` for the exact rows of each person):
- Same person across files, formatted differently: case, Gmail dots/+tags, phone formats,
  legal suffixes, nicknames (Robert/Bob, Katherine/Kate, William/Bill, Elizabeth/Liz,
  James/Jim, Michael/Mike, Samuel/Sam, Benjamin/Ben, Victoria/Vicky, Stefanie/Steffi),
  dropped accents (Jürgen Weiß / Juergen Weiss), "Last, First" and ALL CAPS.
- Job changer Sarah Kim (Globex -> Initech, same mobile 212-555-0173): one person.
- Must stay apart: Anna and Thomas Schneider (Brightwater Logistik, same switchboard
  +49 40 1234 5600, also shared by Ursula Meyer); Jean-Pierre and Claire Dubois (same family
  firm); David and Emily Miller (family, same home phone 303-555-0164, different employers);
  John Smith at Initech vs John Smith at Vandelay; colleagues sharing a switchboard at
  Northwind, Globex, Pemberton & Hale, Kookaburra and Brûlerie Rousseau.
- Rows with no usable identity (no name, no valid email, no valid phone) — rejected as
  `no_identity`: 8 across the lead files (+3 notes rows if all workbook sheets are read),
  and one all-empty row (`empty_row`) in the trade-show file.
- Invalid values on rows that still name a person (flagged, not rejected): emails
  `tom.baker@globex`, `helene.faure@@groupe-cedre.fr`, `chris.doyle@gmail`; phones `12345`,
  `12 34`, `n/a`, `TBD`.

Phone numbers use fictional ranges where they exist (US 555-01xx, UK Ofcom drama numbers,
AU 5550/491 570, FR 01 99 00) and are otherwise made up; all parse as valid numbers.
"""

# One hand-curated row per line reads far better than rows wrapped over a dozen lines.
# ruff: noqa: E501

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime
from pathlib import Path

import xlsxwriter

OUT_DIR = Path(__file__).resolve().parent / "sample_drive"

# Each row is (person key or None for a row that names nobody, *values in header order).

HUBSPOT_HEADERS = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
    "Company Name", "Website URL", "Job Title", "Country/Region", "State/Region", "City",
    "Create Date", "Lead Source",
]  # fmt: skip
HUBSPOT_ROWS = [
    ("walsh_jennifer", "51234001", "Jennifer", "Walsh", "jennifer.walsh@northwind-analytics.com", "(415) 555-0142", "", "Northwind Analytics, Inc.", "https://www.northwind-analytics.com", "VP Sales", "United States", "California", "San Francisco", "2026-10-01 09:14", "Organic Search"),
    ("chen_robert", "51234002", "Robert", "Chen", "robert.chen@northwind-analytics.com", "+1 415 555 0100", "+1 415 555 0187", "Northwind Analytics, Inc.", "northwind-analytics.com", "CTO", "United States", "CA", "San Francisco", "2026-10-01 11:02", "Referrals"),
    ("obrien_michael", "51234003", "Michael", "O'Brien", "mobrien@acmerobotics.com", "(617) 555-0110", "", "Acme Robotics LLC", "www.acmerobotics.com", "Head of Marketing", "United States", "Massachusetts", "Boston", "2026-10-02 16:40", "Paid Social"),
    ("kim_sarah", "51234004", "Sarah", "Kim", "sarah.kim@globex.com", "212-555-0150", "212-555-0173", "Globex Corporation", "globex.com", "Account Executive", "United States", "NY", "New York", "2025-03-18 10:05", "Offline Sources"),
    ("miller_david", "51234005", "David", "Miller", "dmiller@ridgelineconstruction.com", "303-555-0164", "", "Ridgeline Construction Inc", "ridgelineconstruction.com", "Project Manager", "United States", "CO", "Denver", "2026-10-03 08:30", "Direct Traffic"),
    ("smith_john_initech", "51234006", "John", "Smith", "john.smith@initech.io", "(512) 555-0131", "", "Initech Inc", "https://initech.io", "Software Engineer", "United States", "TX", "Austin", "2026-10-03 13:15", "Organic Search"),
    ("johnson_katherine", "51234007", "Katherine", "Johnson", "katherine.johnson@umbrellahealth.ca", "416-555-0123", "", "Umbrella Health Inc.", "umbrellahealth.ca", "Director of Operations", "Canada", "ON", "Toronto", "2026-10-04 09:00", "Referrals"),
    ("turner_william", "51234008", "William", "Turner", "william.turner@pembertonhale.co.uk", "+44 20 7946 0321", "", "Pemberton & Hale Ltd", "pembertonhale.co.uk", "CFO", "United Kingdom", "", "London", "2026-10-04 10:45", "Offline Sources"),
    ("sharma_priya", "51234009", "Priya", "Sharma", "priya.sharma@kestrelsoft.in", "", "+91 98765 43210", "Kestrel Software Pvt Ltd", "kestrelsoft.in", "Data Scientist", "India", "Karnataka", "Bengaluru", "2026-10-05 05:30", "Organic Search"),
    ("grant_elizabeth", "51234010", "Elizabeth", "Grant", "egrant@meridianbio.com", "617-555-0177", "", "Meridian Biotech Inc", "meridianbio.com", "Chief Medical Officer", "United States", "MA", "Boston", "2026-10-05 14:20", "Email Marketing"),
    ("whitaker_james", "51234011", "James", "Whitaker Jr.", "james.whitaker@bluewavecap.com", "212 555 0119", "", "Bluewave Capital LLC", "bluewavecap.com", "Managing Director", "United States", "NY", "New York", "2026-10-06 12:00", "Referrals"),
    ("garcia_maria", "51234012", "Maria", "Garcia", "maria.garcia@sunrisefoods.com", "305-555-0148", "", "Sunrise Foods Inc", "sunrisefoods.com", "Marketing Manager", "United States", "FL", "Miami", "2026-10-06 15:30", "Paid Search"),
    ("dubois_jean_pierre", "51234013", "Jean-Pierre", "Dubois", "jean-pierre.dubois@duboisconseil.fr", "", "+33 6 12 34 56 78", "Dubois Conseil", "duboisconseil.fr", "Directeur Commercial", "France", "", "Paris", "2026-09-24 17:05", "Offline Sources"),
    ("lefevre_amelie", "51234014", "Amelie", "Lefevre", "AmelieLefevre+salon@gmail.com", "", "", "Lumiere Medias", "", "Responsable Marketing", "France", "", "Lyon", "2026-09-25 09:12", "Offline Sources"),
    ("brooks_ethan", "51234015", "Ethan", "Brooks", "ethan.brooks@cascadecloud.com", "206-555-0133", "", "Cascade Cloud Inc", "cascadecloud.com", "Solutions Architect", "United States", "WA", "Seattle", "2026-10-07 11:11", "Organic Search"),
    ("martin_olivia", "51234016", "Olivia", "Martin", "omartin@peachtreepay.com", "404-555-0105", "", "Peachtree Payments LLC", "peachtreepay.com", "Product Manager", "United States", "GA", "Atlanta", "2026-10-07 13:40", "Paid Search"),
    ("patel_noah", "51234017", "Noah", "Patel", "noah.patel@gmail.com", "", "(973) 555-0191", "", "", "Freelance Consultant", "United States", "NJ", "Newark", "2026-10-08 19:22", "Organic Search"),
    ("baker_tom", "51234018", "Tom", "Baker", "tom.baker@globex", "212-555-0150", "", "Globex Corporation", "globex.com", "Procurement Manager", "United States", "NY", "New York", "2026-10-08 10:10", "Offline Sources"),
    ("liu_grace", "51234019", "Grace", "Liu", "grace.liu@cascadecloud.com", "206-555-0138", "", "Cascade Cloud", "cascadecloud.com", "Engineering Manager", "United States", "WA", "Seattle", "2026-10-09 09:09", "Referrals"),
    (None, "51234020", "", "", "", "", "", "Hollis & Finch Partners", "hollisfinch.com", "", "United States", "", "", "2026-10-09 14:00", "Offline Sources"),
    ("okafor_daniel", "51234021", "Daniel", "Okafor", "daniel.okafor@brightlinemedia.co.uk", "+44 161 496 0123", "", "Brightline Media Ltd", "brightlinemedia.co.uk", "Head of Content", "United Kingdom", "", "Manchester", "2026-10-10 10:30", "Social Media"),
    ("bennett_chloe", "51234022", "Chloe", "Bennett", "chloe.bennett@pembertonhale.co.uk", "+44 20 7946 0300", "", "Pemberton & Hale Limited", "pembertonhale.co.uk", "Associate", "United Kingdom", "", "London", "2026-10-10 11:45", "Offline Sources"),
    ("ferreira_lucas", "51234023", "Lucas", "Ferreira", "lucas.ferreira@tidewater.io", "(305) 555-0112", "", "Tidewater Labs Inc", "tidewater.io", "Founder & CEO", "United States", "FL", "Miami", "2026-10-11 08:05", "Organic Search"),
    ("schultz_hannah", "51234024", "Hannah", "Schultz", "hannah.schultz@northwind-analytics.com", "+1 415 555 0100 x214", "", "Northwind Analytics, Inc.", "northwind-analytics.com", "Customer Success Manager", "United States", "CA", "San Francisco", "2026-10-11 15:20", "Referrals"),
    ("walsh_kevin", "51234025", "Kevin", "Walsh", "kevin.walsh@peachtreepay.com", "404-555-0107", "", "Peachtree Payments LLC", "peachtreepay.com", "Sales Development Representative", "United States", "GA", "Atlanta", "2026-10-12 09:30", "Paid Search"),
    ("rahman_aisha", "51234026", "Aisha", "Rahman", "aisha.rahman@meridianbio.com", "617-555-0160", "", "Meridian Biotech Inc", "meridianbio.com", "Research Scientist", "United States", "MA", "Boston", "2026-10-12 10:10", "Email Marketing"),
    ("clarke_benjamin", "51234027", "Benjamin", "Clarke", "ben.clarke@kookaburra.com.au", "+61 2 5550 1234", "", "Kookaburra Software Pty Ltd", "kookaburra.com.au", "Sales Director", "Australia", "NSW", "Sydney", "2026-10-12 23:40", "Paid Social"),
    ("wagner_sophie", "51234028", "Sophie", "Wagner", "s.wagner@alpenblick-software.de", "+49 30 23125 456", "", "Alpenblick Software GmbH", "alpenblick-software.de", "Product Owner", "Germany", "Berlin", "Berlin", "2026-10-13 08:00", "Organic Search"),
    ("nguyen_emily", "51234029", "Emily", "Nguyen", "emily.nguyen@initech.io", "(512) 555-0100", "", "Initech", "initech.io", "HR Manager", "United States", "TX", "Austin", "2026-10-13 12:12", "Direct Traffic"),
    ("reid_marcus", "51234030", "Marcus", "Reid", "marcus.reid@gmail.com", "", "720 555 0102", "", "", "", "United States", "CO", "Denver", "2026-10-13 18:45", "Paid Search"),
    ("rossi_isabella", "51234031", "Isabella", "Rossi", "isabella.rossi@vandelay.com", "312-555-0100 ext. 31", "", "Vandelay Industries", "vandelay.com", "Import Manager", "United States", "IL", "Chicago", "2026-10-14 09:50", "Offline Sources"),
    ("petrov_alexander", "51234032", "ALEXANDER", "PETROV", "ALEX.PETROV@CASCADECLOUD.COM", "206.555.0145", "", "CASCADE CLOUD INC.", "cascadecloud.com", "DEVOPS ENGINEER", "UNITED STATES", "WA", "SEATTLE", "2026-10-14 11:00", "Organic Search"),
    ("adler_rachel", "51234033", "Rachel", "Adler", "radler@bluewavecap.com", "212 555 0118", "", "Bluewave Capital", "bluewavecap.com", "Analyst", "United States", "NY", "New York", "2026-10-15 08:20", "Referrals"),
    ("hughes_victoria", "51234034", "Victoria", "Hughes", "victoria.hughes@harrowgate.co.uk", "0161 496 0456", "", "Harrowgate Consulting Ltd", "harrowgate.co.uk", "Partner", "United Kingdom", "", "Manchester", "2026-10-15 13:30", "Offline Sources"),
    ("ortiz_samuel", "51234035", "Samuel", "Ortiz", "sam.ortiz@sunrisefoods.com", "305 555 0140", "", "Sunrise Foods Inc", "sunrisefoods.com", "Supply Chain Lead", "United States", "FL", "Miami", "2026-10-16 10:00", "Paid Search"),
    ("kowalski_nina", "51234036", "Nina", "Kowalski", "nina.k@ridgelineconstruction.com", "12345", "", "Ridgeline Construction Inc", "ridgelineconstruction.com", "Site Engineer", "United States", "CO", "Denver", "2026-10-16 14:00", "Direct Traffic"),
    (None, "51234037", "", "", "", "", "", "", "", "", "Canada", "ON", "Toronto", "2026-10-17 09:00", "Offline Sources"),
    ("doyle_patrick", "51234038", "Patrick", "Doyle", "patrick.doyle@tidewater.io", "305-555-0113", "", "Tidewater Labs Inc", "tidewater.io", "CTO", "United States", "FL", "Miami", "2026-10-17 16:25", "Organic Search"),
    ("foster_megan", "51234039", "Megan", "Foster", "megan.foster@umbrellahealth.ca", "+1 416 555 0100", "", "Umbrella Health Inc.", "umbrellahealth.ca", "Clinical Lead", "Canada", "ON", "Toronto", "2026-10-18 10:40", "Referrals"),
    ("cooper_ryan", "51234040", "Ryan", "Cooper", "ryan.cooper@acmerobotics.com", "(617) 555-0100 x22", "", "Acme Robotics LLC", "acmerobotics.com", "Mechanical Engineer", "United States", "MA", "Boston", "2026-10-18 15:15", "Paid Social"),
]  # fmt: skip

TRADESHOW_HEADERS = [
    "Nom", "Prénom", "Société", "E-mail", "Téléphone", "Portable", "Poste", "Pays", "Ville",
    "Code postal", "Date", "Commentaires",
]  # fmt: skip
TRADESHOW_ROWS = [
    ("dubois_jean_pierre", "DUBOIS", "Jean-Pierre", "Dubois Conseil SARL", "JEAN-PIERRE.DUBOIS@DUBOISCONSEIL.FR", "01 99 00 12 34", "06 12 34 56 78", "Directeur commercial", "France", "Paris", "75008", "24/09/2026", "Intéressé par l'offre « Entreprise »; rappeler en octobre"),
    ("lefevre_amelie", "Lefèvre", "Amélie", "Lumière Médias SAS", "amelie.lefevre@gmail.com", "", "+33 6 98 76 54 32", "Responsable marketing", "France", "Lyon", "69002", "24/09/2026", ""),
    ("weiss_juergen", "Weiß", "Jürgen", "Weiß Maschinenbau GmbH", "j.weiss@weiss-maschinenbau.de", "+49 89 1234 5670", "", "Geschäftsführer", "Allemagne", "München", "80331", "24/09/2026", ""),
    ("schneider_anna", "Schneider", "Anna", "Brightwater Logistik GmbH", "a.schneider@brightwater-logistik.de", "+49 40 1234 5600", "", "Leiterin Einkauf", "Allemagne", "Hamburg", "20457", "24/09/2026", ""),
    ("schneider_thomas", "Schneider", "Thomas", "Brightwater Logistik GmbH", "t.schneider@brightwater-logistik.de", "+49 40 1234 5600", "", "Key Account Manager", "Allemagne", "Hamburg", "20457", "24/09/2026", "Collègue d'Anna, même standard"),
    ("girard_sebastien", "Girard", "Sébastien", "Ardoise Technologies SA", "sebastien.girard@ardoise-tech.fr", "02 40 12 34 56", "", "Ingénieur avant-vente", "France", "Nantes", "44000", "24/09/2026", ""),
    ("belanger_francoise", "Bélanger", "Françoise", "Érable Numérique Inc.", "francoise.belanger@erablenumerique.ca", "+1 514 555 0168", "", "Directrice générale", "Canada", "Montréal", "H2X 1Y4", "25/09/2026", ""),
    ("faure_helene", "Faure", "Hélène", "Groupe Cèdre SA", "helene.faure@@groupe-cedre.fr", "01 99 00 45 67", "", "Directrice des achats", "France", "Paris", "75009", "25/09/2026", "E-mail mal saisi sur la borne"),
    ("koehler_bjoern", "Köhler", "Björn", "Köhler Automation AG", "b.koehler@koehler-automation.de", "0711 123 4567", "", "Technischer Leiter", "Allemagne", "Stuttgart", "70173", "25/09/2026", ""),
    ("gross_guenther", "Groß", "Günther", "Rhein Medien GmbH", "g.gross@rheinmedien.de", "0211/9876543", "", "Prokurist", "Allemagne", "Düsseldorf", "40213", "25/09/2026", ""),
    ("lemaitre_francois", "Lemaître", "François", "Comté Horlogerie SARL", "f.lemaitre@comte-horlogerie.fr", "03 81 12 34 56", "", "Gérant", "France", "Besançon", "25000", "25/09/2026", ""),
    ("martinez_jose", "Martínez", "José", "Soluciones Íbero S.L.", "jose.martinez@solucionesibero.es", "+34 912 345 678", "+34 612 345 678", "Director de Ventas", "Espagne", "Madrid", "28013", "25/09/2026", ""),
    ("vandijk_zoe", "van Dijk", "Zoë", "Tulp Data BV", "zoe.vandijk@tulpdata.nl", "+31 20 123 4567", "", "Data Engineer", "Pays-Bas", "Amsterdam", "1012 AB", "25/09/2026", ""),
    ("mueller_stefanie", "Müller", "Stefanie", "Müller & Söhne GmbH", "stefanie.mueller@mueller-soehne.de", "+49 30 23125 789", "0152 23456789", "Vertriebsleiterin", "Allemagne", "Berlin", "10115", "25/09/2026", ""),
    ("rousseau_lea", "Rousseau", "Léa", "Brûlerie Rousseau SARL", "lea.rousseau@brulerie-rousseau.fr", "04 72 00 12 34", "06 11 22 33 44", "Fondatrice", "France", "Lyon", "69001", "26/09/2026", "Torréfaction artisanale — veut une démo"),
    ("leroy_mathieu", "Leroy", "Mathieu", "Dubois Conseil SARL", "mathieu.leroy@duboisconseil.fr", "01 99 00 12 00", "", "Consultant senior", "France", "Paris", "75008", "26/09/2026", ""),
    ("garcon_cecile", "Garçon", "Cécile", "Atelier Garçon & Fils", "cecile@ateliergarcon.fr", "", "07 81 23 45 67", "Artisane", "France", "Bordeaux", "33000", "26/09/2026", ""),
    ("chevalier_benoit", "Chevalier", "Benoît", "Ardoise Technologies SA", "benoit.chevalier@ardoise-tech.fr", "12 34", "", "Responsable R&D", "France", "Nantes", "44000", "26/09/2026", "Numéro incomplet"),
    ("dupont_marie", "Dupont", "Marie", "", "marie.dupont@orange.fr", "01 99 00 78 90", "", "", "France", "Paris", "75011", "26/09/2026", "Visiteuse, pas de société"),
    ("fischer_joerg", "Fischer", "Jörg", "Nordlicht Energie AG", "joerg.fischer@nordlicht-energie.de", "+49 40 9876 5432", "", "CFO", "Allemagne", "Hamburg", "20095", "26/09/2026", ""),
    ("blanc_noemie", "Blanc", "Noémie", "Lumière Médias SAS", "noemie.blanc@lumiere-medias.fr", "04 72 00 56 78", "", "Cheffe de projet", "France", "Lyon", "69002", "26/09/2026", ""),
    ("michel_olivier", "Michel", "Olivier", "Aéro Précision SAS", "olivier.michel@aeroprecision.fr", "05 61 12 34 56", "", "Acheteur", "France", "Toulouse", "31000", "27/09/2026", ""),
    ("petit_julien", "Petit", "Julien", "Océan Logistique SAS", "julien.petit@ocean-logistique.fr", "02 40 98 76 54", "06 55 44 33 22", "Directeur logistique", "France", "Nantes", "44200", "27/09/2026", ""),
    ("meyer_ursula", "Meyer", "Ursula", "Brightwater Logistik GmbH", "u.meyer@brightwater-logistik.de", "+49 40 1234 5600", "", "Assistentin der Geschäftsführung", "Allemagne", "Hamburg", "20457", "27/09/2026", ""),
    ("walsh_jennifer", "Walsh", "Jennifer", "Northwind Analytics Inc", "jennifer.walsh@northwind-analytics.com", "+1 415 555 0142", "", "VP Sales", "États-Unis", "San Francisco", "", "27/09/2026", "Visiteuse américaine"),
    (None, "", "", "Salon stand B12", "", "", "", "", "France", "Paris", "", "27/09/2026", "Carte de visite illisible"),
    (None, "", "", "", "", "", "", "", "", "", "", "", ""),
    ("bernard_camille", "Bernard", "Camille", "Groupe Cèdre SA", "camille.bernard@groupe-cedre.fr", "01 99 00 45 00", "", "Juriste", "France", "Paris", "75009", "27/09/2026", ""),
    ("moreau_theo", "Moreau", "Théo", "Startup Étoile SAS", "theo@startup-etoile.fr", "", "+33 7 66 55 44 33", "CEO", "France", "Paris", "75002", "27/09/2026", ""),
    ("roux_ines", "Roux", "Inès", "Brûlerie Rousseau SARL", "ines.roux@brulerie-rousseau.fr", "04 72 00 12 34", "", "Responsable boutique", "France", "Lyon", "69001", "27/09/2026", ""),
]  # fmt: skip

PARTNER_HEADERS = ["Full Name", "Organisation", "E-mail Address", "Tel", "Position", "Country"]
PARTNER_ROWS = [
    ("chen_robert", "Chen, Robert", "Northwind Analytics", "robert.chen@northwind-analytics.com", "415.555.0187", "Chief Technology Officer", "USA"),
    ("johnson_katherine", "Kate Johnson", "Umbrella Health", "kate.johnson@umbrellahealth.ca", "+1 (416) 555-0123", "Director, Operations", "Canada"),
    ("weiss_juergen", "Juergen Weiss", "Weiss Maschinenbau", "j.weiss@weiss-maschinenbau.de", "089/12345670", "CEO", "Germany"),
    ("schneider_anna", "Anna Schneider", "Brightwater Logistik", "a.schneider@brightwater-logistik.de", "040 1234 5600", "Head of Procurement", "DE"),
    ("grant_elizabeth", "Dr. Liz Grant", "Meridian Biotech", "egrant@meridianbio.com", "", "CMO", "US"),
    ("smith_john_vandelay", "John Smith", "Vandelay Industries", "jsmith@vandelay.com", "312-555-0100", "Import/Export Manager", "US"),
    ("nguyen_liam", "Liam Nguyen", "Kookaburra Software", "liam.nguyen@kookaburra.com.au", "0491 570 156", "Developer", "Australia"),
    ("evans_charlotte", "Charlotte Evans", "Kookaburra Software Pty Ltd", "charlotte.evans@kookaburra.com.au", "+61 2 5550 1234", "Office Manager", "AU"),
    ("mehta_arjun", "Arjun Mehta", "Kestrel Software Pvt. Ltd.", "arjun.mehta@kestrelsoft.in", "+91 80 4123 4567", "Engineering Manager", "India"),
    ("devries_pieter", "Pieter de Vries", "Tulp Data B.V.", "pieter.devries@tulpdata.nl", "020-1234567", "CTO", "Netherlands"),
    ("vandijk_zoe", "Zoe van Dijk", "Tulp Data", "zoe.vandijk@tulpdata.nl", "+31 6 12345678", "Data Engineer", "NL"),
    ("lopez_carmen", "Carmen López", "Soluciones Íbero", "carmen.lopez@solucionesibero.es", "912 345 600", "CMO", "Spain"),
    ("martinez_jose", "Jose Martinez", "Soluciones Ibero SL", "jose.martinez@solucionesibero.es", "612 34 56 78", "Sales Director", "ES"),
    ("obrien_michael", "Mike O'Brien", "Acme Robotics", "mobrien@acmerobotics.com", "617-555-0110", "Marketing", "US"),
    ("zhang_wei", "Wei Zhang", "Cascade Cloud", "wei.zhang@cascadecloud.com", "206 555 0150", "Staff Engineer", "US"),
    ("khan_fatima", "Fatima Khan", "Harrowgate Consulting", "fatima.khan@harrowgate.co.uk", "0161 496 0789", "Consultant", "UK"),
    ("wright_oliver", "Oliver Wright", "Brightline Media", "oliver.wright@brightlinemedia.co.uk", "n/a", "Producer", "UK"),
    (None, "", "Globex Corporation", "", "", "", "USA"),
    (None, "", "", "", "n/a", "Purchasing", ""),
    ("tanaka_hiroshi", "Hiroshi Tanaka", "Sakura Devices", "h.tanaka@sakuradevices.jp", "+81 3 1234 5678", "Director", "Japan"),
    ("wagner_sophie", "Sophie Wagner", "Alpenblick Software", "sophie.wagner@alpenblick-software.de", "+49 30 23125 456", "Product Owner", "Germany"),
    ("brooks_ethan", "Ethan Brooks", "Cascade Cloud Inc.", "ethan.brooks@cascadecloud.com", "", "Solutions Architect", "United States"),
    ("patel_raj", "Raj Patel", "Kestrel Software", "raj.patel@kestrelsoft.in", "+91 98765 43211", "Sales", "India"),
    ("wilson_emma", "Emma Wilson", "Pemberton & Hale", "emma.wilson@pembertonhale.co.uk", "020 7946 0300", "Paralegal", "UK"),
    ("garcia_maria", "GARCIA, MARIA", "SUNRISE FOODS", "maria.garcia@sunrisefoods.com", "", "MARKETING MANAGER", "US"),
]  # fmt: skip
PARTNER_NOTES_HEADERS = ["Note", "Added By"]
PARTNER_NOTES = [
    ("List shared by Harbour Channel Partners under NDA; do not upload to ad platforms.", "mk"),
    ("Two rows came from an unreadable business-card scan and are incomplete.", "mk"),
    ("All contacts opted in at the partner summit, September 2026.", "jb"),
]

WEBFORM = [
    ("chen_robert", {"email": "Robert.Chen@northwind-analytics.com", "name": "BOB CHEN", "company": "Northwind", "phone": "415-555-0187", "submitted_at": "2026-10-14T09:12:44Z", "utm_source": "google", "consent": {"marketing": True, "terms": True}}),
    ("miller_emily", {"email": "emily.miller@gmail.com", "name": "Emily Miller", "company": "Larkspur Design Studio", "phone": "303-555-0164", "submitted_at": "2026-10-14T18:02:10Z", "utm_source": "facebook", "consent": {"marketing": False, "terms": True}}),
    ("kim_sarah", {"email": "sarah.kim@initech.io", "name": "Sarah Kim", "company": "Initech", "phone": "212.555.0173", "submitted_at": "2026-10-15T08:45:00Z", "utm_source": "linkedin", "consent": {"marketing": True, "terms": True}}),
    ("patel_noah", {"email": "noah.patel+webform@gmail.com", "name": "Noah Patel", "company": None, "phone": None, "submitted_at": "2026-10-15T21:30:12Z", "utm_source": "google"}),
    ("doyle_chris", {"email": "chris.doyle@gmail", "name": "Chris Doyle", "company": "Doyle Landscaping", "phone": None, "submitted_at": "2026-10-16T07:55:31Z", "utm_source": "bing"}),
    (None, {"email": None, "name": None, "company": "Hollis & Finch Partners", "phone": None, "submitted_at": "2026-10-16T10:00:00Z", "utm_source": "newsletter"}),
    ("liu_grace", {"email": "grace.liu@cascadecloud.com", "name": "Grace Liu", "company": "Cascade Cloud", "phone": "+1 206 555 0138", "submitted_at": "2026-10-16T12:40:02Z", "utm_source": "google"}),
    ("souza_ana", {"email": "ana.souza@tidewater.io", "name": "Ana Souza", "company": "Tidewater Labs", "phone": "(305) 555-0114", "submitted_at": "2026-10-17T09:01:45Z", "utm_source": "twitter"}),
    ("ferreira_lucas", {"email": "lucas@tidewater.io", "name": "Lucas Ferreira", "company": "Tidewater Labs", "phone": "+1 305 555 0112", "submitted_at": "2026-10-17T09:03:12Z", "utm_source": "twitter"}),
    ("reid_marcus", {"email": "m.a.r.c.u.s.reid@gmail.com", "name": "Marcus Reid", "company": None, "phone": "720-555-0102", "submitted_at": "2026-10-17T22:15:00Z", "utm_source": "google"}),
    ("schultz_hannah", {"email": "hannah.schultz@northwind-analytics.com", "name": "Hannah Schultz", "company": "Northwind Analytics", "phone": "(415) 555-0100", "submitted_at": "2026-10-18T14:22:09Z", "utm_source": "partner"}),
    ("volkov_dmitri", {"email": "dmitri.volkov@outlook.com", "name": "Dmitri Volkov", "company": "Volkov Consulting", "phone": "+44 20 7946 0555", "submitted_at": "2026-10-19T11:11:11Z", "utm_source": "google", "consent": None}),
    ("bianchi_laura", {"email": "laura.bianchi@peachtreepay.com", "name": "Laura Bianchi", "company": "Peachtree Payments", "phone": "404 555 0106", "submitted_at": "2026-10-19T16:48:27Z", "utm_source": "capterra"}),
    ("baker_tom", {"email": "tom.baker@globex.com", "name": "Tom Baker", "company": "Globex", "phone": "212-555-0150", "submitted_at": "2026-10-20T08:30:00Z", "utm_source": "google"}),
    ("rahman_aisha", {"email": "aisha.rahman@meridianbio.com", "name": "Dr. Aisha Rahman", "company": "Meridian Biotech", "phone": None, "submitted_at": "2026-10-20T13:05:55Z", "utm_source": "newsletter"}),
    ("sato_yuki", {"email": "yuki.sato@sakuradevices.jp", "name": "Yuki Sato", "company": "Sakura Devices", "phone": "+81 3 1234 5679", "submitted_at": "2026-10-21T02:20:40Z", "utm_source": "google"}),
    ("ortiz_samuel", {"email": "sam.ortiz@sunrisefoods.com", "name": "Sam Ortiz", "company": "Sunrise Foods", "phone": None, "submitted_at": "2026-10-21T15:00:00Z", "utm_source": "google"}),
    ("clarke_benjamin", {"email": "ben.clarke@kookaburra.com.au", "name": "Ben Clarke", "company": "Kookaburra Software", "phone": "+61 2 5550 1234", "submitted_at": "2026-10-22T00:10:10Z", "utm_source": "linkedin"}),
    ("rossi_isabella", {"email": "isabella.rossi@vandelay.com", "name": "Isabella Rossi", "company": "Vandelay Industries", "phone": "+1 312 555 0100 ext 31", "submitted_at": "2026-10-22T14:45:30Z", "utm_source": "google"}),
    ("hart_jordan", {"email": "jordan.hart@yahoo.com", "name": "Jordan Hart", "company": "", "phone": "+1 (206) 555-0177", "submitted_at": "2026-10-23T19:19:19Z", "utm_source": None}),
]  # fmt: skip

WEBINAR = [
    ("walsh_jennifer", {"first_name": "Jennifer", "last_name": "Walsh", "email": "JENNIFER.WALSH@NORTHWIND-ANALYTICS.COM", "company": "Northwind Analytics", "job_title": "VP of Sales", "country": "US", "phone": None, "signup_date": "2026-10-20", "event": "Q4 Product Webinar", "attended": True}),
    ("obrien_michael", {"first_name": "Michael", "last_name": "O'Brien", "email": "m.obrien77+webinar@gmail.com", "company": "Acme Robotics", "job_title": "Head of Marketing", "country": "US", "phone": "+1-617-555-0110", "signup_date": "2026-10-20", "event": "Q4 Product Webinar", "attended": False}),
    ("sharma_priya", {"first_name": "Priya", "last_name": "Sharma", "email": "Priya.Sharma@KestrelSoft.in", "company": "Kestrel Software", "job_title": "Data Scientist", "country": "IN", "phone": "+91-98765-43210", "signup_date": "2026-10-21", "event": "Q4 Product Webinar", "attended": True}),
    ("wagner_sophie", {"first_name": "Sophie", "last_name": "Wagner", "email": None, "company": "Alpenblick Software GmbH", "job_title": "Product Owner", "country": "DE", "phone": "030 23125456", "signup_date": "2026-10-21", "event": "Q4 Product Webinar", "attended": True}),
    ("mehta_arjun", {"first_name": "Arjun", "last_name": "Mehta", "email": "arjun.mehta@kestrelsoft.in", "company": "Kestrel", "job_title": "Eng Manager", "country": "India", "phone": None, "signup_date": "2026-10-22", "event": "Q4 Product Webinar", "attended": True, "answers": {"team_size": "51-200", "use_case": "lead routing"}}),
    ("okafor_daniel", {"first_name": "Dan", "last_name": "Okafor", "email": "dan.okafor@brightlinemedia.co.uk", "company": "Brightline Media", "job_title": "Head of Content", "country": "GB", "phone": "0161 496 0123", "signup_date": "2026-10-22", "event": "Q4 Product Webinar", "attended": False}),
    ("macleod_fiona", {"first_name": "Fiona", "last_name": "MacLeod", "email": "fiona.macleod@thistlebank.co.uk", "company": "Thistle Bank plc", "job_title": "Risk Analyst", "country": "GB", "phone": "+44 131 496 0111", "signup_date": "2026-10-23", "event": "Q4 Product Webinar", "attended": True}),
    ("jansen_lars", {"first_name": "Lars", "last_name": "Jansen", "email": "lars.jansen@tulpdata.nl", "company": "Tulp Data", "job_title": "Analyst", "country": "NL", "phone": None, "signup_date": "2026-10-23", "event": "Q4 Product Webinar", "attended": True}),
    (None, {"company": "Hooli", "event": "Q4 Product Webinar", "attended": False}),
    ("iyer_ravi", {"first_name": "Ravi", "last_name": "Iyer", "email": "ravi.iyer@gmail.com", "company": None, "job_title": "Student", "country": "IN", "phone": "+91 99887 76655", "signup_date": "2026-10-24", "event": "Q4 Product Webinar", "attended": False}),
    ("liu_grace", {"first_name": "Grace", "last_name": "Liu", "email": "grace.liu@cascadecloud.com", "company": "Cascade Cloud Inc", "job_title": "Engineering Manager", "country": "US", "phone": None, "signup_date": "2026-10-24", "event": "Q4 Product Webinar", "attended": True}),
    ("foster_megan", {"first_name": "Megan", "last_name": "Foster", "email": "megan.foster@umbrellahealth.ca", "company": "Umbrella Health", "job_title": "Clinical Lead", "country": "CA", "phone": None, "signup_date": "2026-10-25", "event": "Q4 Product Webinar", "attended": True}),
    ("walsh_kevin", {"first_name": "Kevin", "last_name": "Walsh", "email": "kevin.walsh@peachtreepay.com", "company": "Peachtree Payments", "job_title": "SDR", "country": "US", "phone": None, "signup_date": "2026-10-25", "event": "Q4 Product Webinar", "attended": False}),
    ("becker_julia", {"first_name": "Julia", "last_name": "Becker", "email": "julia.becker@alpenblick-software.de", "company": "Alpenblick Software", "job_title": "UX Designer", "country": "DE", "phone": "+49 30 23125 457", "signup_date": "2026-10-26", "event": "Q4 Product Webinar", "attended": True}),
    ("brooks_ethan", {"first_name": "Ethan", "last_name": "Brooks", "email": "ethan.brooks@cascadecloud.com", "company": "Cascade Cloud", "job_title": "Solutions Architect", "country": "US", "phone": "206-555-0133", "signup_date": "2026-10-26", "event": "Q4 Product Webinar", "attended": True, "answers": {"team_size": "201-500", "use_case": None}}),
]  # fmt: skip

LINKEDIN_HEADERS = [
    "First Name", "Last Name", "Email Address", "Company", "Position", "Connected On",
    "LinkedIn Profile", "Notes",
]  # fmt: skip
LINKEDIN_ROWS = [
    ("turner_william", "Bill", "Turner", "", "Pemberton & Hale", "Chief Financial Officer", "04 Oct 2026", "https://www.linkedin.com/in/bill-turner-ph", ""),
    ("whitaker_james", "Jim", "Whitaker", "james.whitaker@bluewavecap.com", "Bluewave Capital", "Managing Director", "06 Oct 2026", "https://www.linkedin.com/in/jimwhitaker", ""),
    ("kim_sarah", "Sarah", "Kim", "", "Initech", "Account Executive", "15 Oct 2026", "https://www.linkedin.com/in/sarahkim-ae", "Moved from Globex in September"),
    ("belanger_francoise", "Françoise", "Bélanger", "francoise.belanger@erablenumerique.ca", "Érable Numérique", "CEO", "02 Oct 2026", "https://www.linkedin.com/in/fbelanger", ""),
    ("hartmann_tobias", "Tobias", "Hartmann", "tobias.hartmann@nordlicht-energie.de", "Nordlicht Energie AG", "Head of IT", "08 Oct 2026", "https://www.linkedin.com/in/tobias-hartmann", ""),
    ("hernandez_sofia", "Sofía", "Hernández", "sofia.hernandez@solucionesibero.es", "Soluciones Íbero", "Marketing Lead", "09 Oct 2026", "https://www.linkedin.com/in/sofiahernandez", ""),
    ("gupta_aarav", "Aarav", "Gupta", "aarav.gupta@kestrelsoft.in", "Kestrel Software", "Backend Engineer", "10 Oct 2026", "https://www.linkedin.com/in/aaravgupta", ""),
    (None, "", "", "", "Globex Corporation", "Talent Acquisition", "10 Oct 2026", "", "Recruiter, no contact details shared"),
    ("schultz_hannah", "Hannah", "Schultz", "hannah.schultz@northwind-analytics.com", "Northwind Analytics", "Customer Success Manager", "11 Oct 2026", "https://www.linkedin.com/in/hannahschultz", "Met at SaaStr.\nWants an intro to Jennifer Walsh."),
    ("patel_noah", "Noah", "Patel", "noah.patel@gmail.com", "Self-employed", "Independent Consultant", "12 Oct 2026", "https://www.linkedin.com/in/noahpatel", ""),
    ("dubois_claire", "Claire", "Dubois", "claire.dubois@duboisconseil.fr", "Dubois Conseil", "Consultante", "13 Oct 2026", "https://www.linkedin.com/in/clairedubois", "Fille de Jean-Pierre"),
    ("silva_mateo", "Mateo", "Silva", "mateo.silva@tidewater.io", "Tidewater Labs", "Growth Marketer", "14 Oct 2026", "https://www.linkedin.com/in/mateosilva", ""),
    ("hughes_victoria", "Vicky", "Hughes", "", "Harrowgate Consulting", "Partner", "16 Oct 2026", "https://www.linkedin.com/in/vickyhughes", ""),
    ("adeyemi_olumide", "Olumide", "Adeyemi", "olumide.adeyemi@brightlinemedia.co.uk", "Brightline Media", "Video Editor", "17 Oct 2026", "https://www.linkedin.com/in/oadeyemi", ""),
    ("walsh_jennifer", "Jen", "Walsh", "", "Northwind Analytics", "VP Sales", "18 Oct 2026", "https://www.linkedin.com/in/jenwalsh", ""),
]  # fmt: skip

OUTLOOK_HEADERS = [
    "First Name", "Last Name", "Company", "Job Title", "Business Phone", "Mobile Phone",
    "E-mail Address", "Business City", "Business Country/Region",
]  # fmt: skip
OUTLOOK_ROWS = [
    ("weiss_juergen", "Jürgen", "Weiß", "Weiß Maschinenbau GmbH", "Geschäftsführer", "+49 (89) 1234-5670", "", "j.weiss@weiss-maschinenbau.de", "München", "Deutschland"),
    ("schneider_thomas", "Thomas", "Schneider", "Brightwater Logistik GmbH", "Key Account Manager", "+49 (40) 1234-5600", "+49 171 3920012", "t.schneider@brightwater-logistik.de", "Hamburg", "Germany"),
    ("bennett_chloe", "Chloe", "Bennett", "Pemberton & Hale", "Associate", "+44 (0)20 7946 0300", "", "chloe.bennett@pembertonhale.co.uk", "London", "United Kingdom"),
    ("wilson_emma", "Emma", "Wilson", "Pemberton and Hale Ltd.", "Paralegal", "+44 20 7946 0300", "", "Emma.Wilson@PembertonHale.co.uk", "London", "UK"),
    ("rousseau_lea", "Lea", "Rousseau", "Brulerie Rousseau", "Fondatrice", "+33 4 72 00 12 34", "+33 6 11 22 33 44", "lea.rousseau@brulerie-rousseau.fr", "Lyon", "France"),
    ("okonkwo_ngozi", "Ngozi", "Okonkwo", "Harrowgate Consulting Ltd", "Analyst", "+44 161 496 0790", "", "ngozi.okonkwo@harrowgate.co.uk", "Manchester", "United Kingdom"),
    ("kjaer_soeren", "Søren", "Kjær", "Tulp Data BV", "Solutions Engineer", "+31 20 123 4568", "", "soren.kjaer@tulpdata.nl", "Amsterdam", "Netherlands"),
    ("mueller_stefanie", "Steffi", "Mueller", "Mueller & Soehne GmbH", "Head of Sales", "", "+49 152 23456789", "", "Berlin", "Germany"),
    ("quinn_pat", "Pat", "Quinn", "Bluewave Capital", "Operations", "TBD", "", "pat.quinn@bluewavecap.com", "New York", "United States"),
    ("fischer_joerg", "Joerg", "Fischer", "Nordlicht Energie", "Chief Financial Officer", "+49 40 98765432", "", "joerg.fischer@nordlicht-energie.de", "Hamburg", "Germany"),
]  # fmt: skip

FILES = {
    "hubspot_export_2026-10.csv": HUBSPOT_ROWS,
    "tradeshow_leads_paris.csv": TRADESHOW_ROWS,
    "partner_list.xlsx": PARTNER_ROWS,
    "webform_submissions.json": WEBFORM,
    "webinar_signups.ndjson": WEBINAR,
    "linkedin_export.tsv": LINKEDIN_ROWS,
    "contacts_utf16.csv": OUTLOOK_ROWS,
}

# Different people who share a surname, company, phone or full name; a dedupe must keep them
# apart (each pair is two person keys).
MUST_STAY_APART: tuple[tuple[str, str], ...] = (
    ("schneider_anna", "schneider_thomas"),  # same company, surname and switchboard
    ("schneider_anna", "meyer_ursula"),  # same switchboard
    ("dubois_jean_pierre", "dubois_claire"),  # same family firm and surname
    ("miller_david", "miller_emily"),  # family: same home phone, different employers
    ("smith_john_initech", "smith_john_vandelay"),  # same common name, different companies
    ("walsh_jennifer", "walsh_kevin"),  # same surname, different companies
    ("chen_robert", "schultz_hannah"),  # Northwind switchboard
    ("kim_sarah", "baker_tom"),  # Globex switchboard (Sarah's old job)
    ("bennett_chloe", "wilson_emma"),  # Pemberton & Hale switchboard
    ("clarke_benjamin", "evans_charlotte"),  # Kookaburra switchboard
    ("rousseau_lea", "roux_ines"),  # same shop landline
)


def expected_people() -> dict[str, list[tuple[str, int]]]:
    """person key -> [(file name, 1-based data row)], the ground truth for the sample; rows
    that name nobody (expected rejects) are left out."""
    people: dict[str, list[tuple[str, int]]] = {}
    for name, rows in FILES.items():
        for i, (key, *_rest) in enumerate(rows, start=1):
            if key is not None:
                people.setdefault(key, []).append((name, i))
    return people


def _csv_text(headers: list[str], rows: list[tuple], delimiter: str, newline: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    writer.writerow(headers)
    writer.writerows(values for _key, *values in rows)
    return buf.getvalue()


def _workbook_bytes(sheets: dict[str, tuple[list[str], list[tuple]]]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    wb.set_properties({"author": "Harbour Channel Partners", "created": datetime(2026, 9, 30)})
    bold = wb.add_format({"bold": True})
    for sheet, (headers, rows) in sheets.items():
        ws = wb.add_worksheet(sheet)
        ws.write_row(0, 0, headers, bold)
        for r, values in enumerate(rows, start=1):
            ws.write_row(r, 0, [v if v != "" else None for v in values])
        ws.set_column(0, len(headers) - 1, 24)
    wb.close()
    return buf.getvalue()


def write_sample_drive(out_dir: Path = OUT_DIR) -> list[Path]:
    """Write every sample file into out_dir (overwriting them) and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    blobs: dict[str, bytes] = {
        "hubspot_export_2026-10.csv": _csv_text(HUBSPOT_HEADERS, HUBSPOT_ROWS, ",", "\n").encode(
            "utf-8"
        ),
        "tradeshow_leads_paris.csv": _csv_text(
            TRADESHOW_HEADERS, TRADESHOW_ROWS, ";", "\r\n"
        ).encode("cp1252"),
        "partner_list.xlsx": _workbook_bytes(
            {
                "Leads": (PARTNER_HEADERS, [values for _key, *values in PARTNER_ROWS]),
                "Notes": (PARTNER_NOTES_HEADERS, PARTNER_NOTES),
            }
        ),
        "webform_submissions.json": (
            json.dumps([r for _key, r in WEBFORM], indent=2, ensure_ascii=False) + "\n"
        ).encode("utf-8"),
        "webinar_signups.ndjson": "".join(
            json.dumps(r, ensure_ascii=False) + "\n" for _key, r in WEBINAR
        ).encode("utf-8"),
        "linkedin_export.tsv": _csv_text(LINKEDIN_HEADERS, LINKEDIN_ROWS, "\t", "\n").encode(
            "utf-8-sig"
        ),
        "contacts_utf16.csv": _csv_text(OUTLOOK_HEADERS, OUTLOOK_ROWS, ",", "\r\n").encode(
            "utf-16"
        ),
    }
    # A workbook cut off mid-download: a valid zip header, no central directory.
    whole = _workbook_bytes({"Leads": (PARTNER_HEADERS, [r[1:] for r in PARTNER_ROWS[:5]])})
    blobs["corrupt_export.xlsx"] = whole[: len(whole) // 3]
    paths = []
    for name, data in blobs.items():
        path = out_dir / name
        path.write_bytes(data)
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR
    written = write_sample_drive(target)
    for p in written:
        print(f"{p} ({p.stat().st_size:,} bytes)")
    print(f"total {sum(p.stat().st_size for p in written):,} bytes in {len(written)} files")
