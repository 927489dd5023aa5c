# ruff: noqa: E501  (keyword tables read best one rule per line)
"""Job titles -> seniority and department, by ordered keyword rules (first match wins).

Titles are matched with their accents folded ("Directeur Général" -> "directeur general"), so
the rules are written without accents, in English, German, French, Spanish, Italian, Dutch
and Portuguese. Phrases that name a senior role without being one ("Product Owner",
"Assistant to the CEO", "Vice President") are rewritten before the seniority rules run.
"""

from __future__ import annotations

import polars as pl

from pipeline.normalize import empty_to_null, squash_spaces

# An executive named as the one someone works for, not the role they hold.
_EXECUTIVES = r"(?:ceo|cfo|cto|coo|cmo|cio|chief \w+ officer|founders?|owners?|president|presidente|presidentin|managing directors?|md|board|vorstand(?:es)?|vorstands|geschaftsfuhrung|geschaftsleitung|geschaftsfuhrers?|direction|direction generale|directeur general|pdg|directie|direccion|direccion general|gerencia|direzione|direzione generale|diretoria|direcao|presidencia|presidenza|presidence)"
# "<phrase>" -> "<replacement>" before the seniority rules (both folded and lower-case).
SENIORITY_REWRITES: tuple[tuple[str, str], ...] = (
    # Owners of a product, process or budget are not the owners of the company.
    (
        r"\b(?:product|process|data|account|budget|service|system|content|platform|business process|technical product|project|risk|control|application|solution|produkt|prozess|produit|producto|prodotto|produto)\s*-?\s*(?:owner|eigner|eigentumer)\b",
        " role_owner ",
    ),
    # Assistants, secretaries and offices of an executive.
    (
        rf"\b(?:(?:executive |personal |management )?assistant|pa|ea|secretary|assistent(?:in)?|sekretar(?:in)?|assistenz|assistante?|secretaire|asistente|secretari[ao]|assistente|segretari[ao]|assistent|secretaresse|secretaris|assistente|secretari[ao])\b.*?\b(?:to|of|for|at|in|du|de|des|de la|der|des|dem|del|dela|della|di|da|do|van|van de|van het|voor|an|bei|beim|zur|zum)(?: the| la| le| l| el| il| lo| o| a| de| het)?\s+{_EXECUTIVES}\b",
        " assistant ",
    ),
    (
        rf"\b(?:office|buro|bureau|oficina|ufficio|kantoor|escritorio) (?:of|of the|des|der|du|de la|de|del|della|van de|do|da) {_EXECUTIVES}\b",
        " office ",
    ),
    # German compound "-leiter" titles head a department (director), except these.
    (
        r"\b(?:team|gruppen|projekt|filial|schicht|bau|kundenberater|standort)leiter(?:in)?\b",
        " teamlead ",
    ),
    # A deputy or vice of the top role is a vice president.
    (
        r"\b(?:vice[ -]?presidente?|vizeprasident(?:in)?|vice[ -]?president(?:e)?|vicepresident|vice[ -]?presidentin)\b",
        " vp ",
    ),
    (
        r"\b(?:directeur general adjoint|directrice generale adjointe|stellvertretender? geschaftsfuhrer(?:in)?|subdirector(?:a)? general|vicedirettore generale|adjunct[- ]directeur)\b",
        " vp ",
    ),
)

SENIORITY_RULES: tuple[tuple[str, str], ...] = (
    (
        "c_level",
        r"\b(?:ceo|cfo|cto|coo|cmo|cio|ciso|cro|cpo|cdo|chro|cco|cso|chief|founder|co-?founder|owner|co-?owner|president|presidente|presidentin|prasident(?:in)?|managing director|md|managing partner|geschaftsfuhrer(?:in)?|geschaeftsfuehrer(?:in)?|geschaftsleiter(?:in)?|inhaber(?:in)?|grunder(?:in)?|gruender(?:in)?|mitgrunder(?:in)?|vorstand|vorstandsvorsitzender?|pdg|president directeur general|directeur general|directrice generale|fondateur|fondatrice|cofondateur|cofondatrice|co-fondateur|gerant|gerante|proprietaire|director general|directora general|director ejecutivo|directora ejecutiva|consejero delegado|fundador(?:a)?|cofundador(?:a)?|propietari[oa]|duen[oa]|gerente general|amministratore delegato|direttore generale|direttrice generale|fondatore|fondatrice|cofondatore|titolare|algemeen directeur|directeur-eigenaar|eigenaar|oprichter|medeoprichter|mede-oprichter|bestuursvoorzitter|diretor geral|diretora geral|diretor executivo|diretora executiva|diretor-presidente|socio-fundador(?:a)?|proprietari[oa]|dono|dona)\b",
    ),
    ("vp", r"\b(?:vp|svp|evp|avp|vice president)\b"),
    (
        "director",
        r"\b(?:director(?:a)?|dir|directeur|directrice|direktor(?:in)?|direttore|direttrice|diretor(?:a)?|head of|head|\w*leiter(?:in)?|hoofd|afdelingshoofd|responsable de departement|jefe de departamento|capo dipartimento)\b",
    ),
    (
        "manager",
        r"\b(?:manager(?:in)?|mgr|mngr|gm|bdm|csm|lead|supervisor(?:a)?|team ?lead|responsable|chef de|chef d|chefe|jefe|jefa|encargad[oa]|gerente|responsabile|capo|coordinador(?:a)?|coordinatore|coordinatrice|coordenador(?:a)?|teamleider|leidinggevende|responsavel)\b",
    ),
    (
        "senior",
        r"\b(?:senior|sr\.?|principal|staff|expert|experte|experto|esperto|especialista senior)\b",
    ),
    (
        "entry",
        r"\b(?:junior|jr\.?|intern|internship|trainee|assistant|associate|graduate|apprentice|stagiaire|alternant(?:e)?|apprenti(?:e)?|werkstudent(?:in)?|assistenz|praktikant(?:in)?|auszubildender?|azubi|assistent(?:in)?|assistante?|becari[oa]|practicante|asistente|stagista|tirocinante|apprendista|assistente|stagiair|trainee|estagiari[oa]|aprendiz)\b",
    ),
)

DEPARTMENT_RULES: tuple[tuple[str, str], ...] = (
    (
        "sales",
        r"\b(?:sales|account exec(?:utive)?|account manager|key account|business development|biz ?dev|bdm|bdr|sdr|revenue|vertrieb|verkauf|aussendienst|commercial|commerciale|ventes|ventas|comercial|vendite|verkoop|vendas)\b|\bae\b",
    ),
    (
        "marketing",
        r"\b(?:marketing|mktg|cmo|brand|growth|demand gen|content|seo|communications?|pr|kommunikation|comunicacion|comunicazione|comunicacao|communicatie|mercadotecnia)\b",
    ),
    (
        "engineering",
        r"\b(?:engineer|engineering|eng|swe|developer|software|cto|chief technology|devops|architect|programmer|entwickler(?:in)?|softwareentwickler(?:in)?|ingenieur(?:in)?|developpeur|developpeuse|ingeniero|ingeniera|desarrollador(?:a)?|programador(?:a)?|ingegnere|sviluppatore|sviluppatrice|programmatore|ontwikkelaar|engenheir[oa]|desenvolvedor(?:a)?|programmeur)\b",
    ),
    (
        "it",
        r"\b(?:it|ict|cio|ciso|chief information|information technology|systems|sysadmin|infrastructure|security|edv|informatik|informatique|informatica|sistemas|sistemi|ti|infraestructura|seguridad|sicurezza|seguranca|securite|sicherheit)\b",
    ),
    (
        "finance",
        r"\b(?:finance|finances|financial|cfo|accounting|accountant|controller|controlling|treasury|finanzen|buchhaltung|finanzbuchhaltung|comptable|comptabilite|financier|financiere|daf|finanzas|contable|contabilidad|tesoreria|finanza|amministrazione|contabile|contabilita|financien|financieel|boekhouding|boekhouder|financas|financeiro|financeira|contador(?:a)?|contabilidade)\b",
    ),
    (
        "hr",
        r"\b(?:hr|rh|human resources|people|talent|recruiter|recruiting|recruitment|personalabteilung|personalleiter(?:in)?|personalreferent(?:in)?|personalwesen|personalentwicklung|ressources humaines|recrutement|recursos humanos|reclutamiento|risorse umane|selezione del personale|personeelszaken|hrm|p&o|recrutamento)\b",
    ),
    (
        "operations",
        r"\b(?:operations|coo|chief operating|ops|logistics|supply chain|procurement|purchasing|einkauf|logistik|produktion|operations|achats|logistique|production|operaciones|compras|logistica|produccion|operazioni|acquisti|produzione|inkoop|logistiek|productie|operacoes|producao)\b",
    ),
    (
        "product",
        r"\b(?:product|cpo|ux|design|produkt|produktmanagement|produit|producto|prodotto|produto)\b",
    ),
    (
        "customer_success",
        r"\b(?:customer success|csm|support|customer service|client services|kundenservice|kundendienst|kundenbetreuung|service client|relation client|atencion al cliente|servizio clienti|assistenza clienti|klantenservice|atendimento|sucesso do cliente)\b",
    ),
    (
        "legal",
        r"\b(?:legal|counsel|lawyer|attorney|compliance|jurist(?:in)?|justiziar(?:in)?|rechtsabteilung|juridique|juriste|avocat|juridico|abogad[oa]|legale|avvocato|juridisch|advocaat|advogad[oa])\b",
    ),
    (
        "executive",
        r"\b(?:ceo|chief executive|founder|co-?founder|owner|president|managing director|md|general manager|gm|geschaftsfuhrer(?:in)?|geschaeftsfuehrer(?:in)?|inhaber(?:in)?|vorstand|pdg|directeur general|directrice generale|fondateur|fondatrice|gerant|gerante|director general|directora general|consejero delegado|fundador(?:a)?|amministratore delegato|direttore generale|fondatore|titolare|algemeen directeur|eigenaar|oprichter|diretor geral|diretora geral|diretor-presidente|presidente|socio-fundador(?:a)?)\b",
    ),
)


def fold(text: pl.Expr) -> pl.Expr:
    """Lower case without accents: 'Directeur Général' -> 'directeur general'."""
    return text.str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_lowercase()


def _classify(title: pl.Expr, rules: tuple[tuple[str, str], ...]) -> pl.Expr:
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for label, pattern in reversed(rules):
        expr = pl.when(title.str.contains(pattern)).then(pl.lit(label)).otherwise(expr)
    return expr


def _rewritten(folded: pl.Expr) -> pl.Expr:
    for pattern, replacement in SENIORITY_REWRITES:
        folded = folded.str.replace_all(pattern, replacement)
    return folded


def title_columns(raw: pl.Expr) -> list[list[pl.Expr]]:
    """job_title (cleaned), seniority, department; staged for `distinct.with_distinct`."""
    title = empty_to_null(squash_spaces(raw).str.strip_chars(" ,;"))
    folded = pl.col("_t_folded")
    seniority = pl.when(folded.is_not_null()).then(
        _classify(_rewritten(folded), SENIORITY_RULES).fill_null("individual_contributor")
    )
    return [
        [title.alias("job_title")],
        [pl.col("job_title"), fold(pl.col("job_title")).alias("_t_folded")],
        [
            pl.col("job_title"),
            seniority.alias("seniority"),
            _classify(folded, DEPARTMENT_RULES).alias("department"),
        ],
    ]
