"""Email cleanup, validity, a canonical form for matching, and role / free-mail flags."""

from __future__ import annotations

import polars as pl

# Pragmatic syntax check (RFC 5322 is far looser than what mail servers accept in practice).
EMAIL_PATTERN = (
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$"
)

# Providers that ignore dots in the local part.
DOT_INSENSITIVE_DOMAINS = ("gmail.com", "googlemail.com")

ROLE_LOCAL_PARTS = (
    "info", "sales", "contact", "admin", "support", "hello", "office", "marketing", "team",
    "enquiries", "enquiry", "inquiries", "help", "noreply", "no-reply", "billing", "accounts",
    "hr", "jobs", "careers", "press", "media", "webmaster", "postmaster", "service", "mail",
    "kontakt", "vertrieb", "bonjour", "contato", "reception", "general", "orders",
)  # fmt: skip

FREE_MAIL_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
    "ymail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "outlook.com",
    "outlook.fr", "outlook.de", "live.com", "live.co.uk", "live.fr", "msn.com", "aol.com",
    "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "pm.me", "gmx.de",
    "gmx.net", "gmx.com", "gmx.at", "gmx.ch", "web.de", "t-online.de", "freenet.de",
    "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "libero.it", "virgilio.it",
    "yandex.ru", "yandex.com", "mail.ru", "qq.com", "163.com", "126.com", "zoho.com",
    "fastmail.com", "hey.com", "tutanota.com", "btinternet.com", "sky.com", "comcast.net",
    "verizon.net", "att.net", "sbcglobal.net", "bigpond.com", "rediffmail.com", "seznam.cz",
    "wp.pl", "o2.pl", "interia.pl", "bluewin.ch", "telenet.be", "skynet.be", "ziggo.nl",
    "kpnmail.nl", "hetnet.nl", "home.nl", "planet.nl",
)  # fmt: skip


def email_columns(raw: pl.Expr) -> list[pl.Expr]:
    """email, email_valid, email_canonical, email_domain, is_role_email, is_free_email."""
    cleaned = (
        raw.str.strip_chars()
        .str.strip_prefix("mailto:")
        .str.strip_chars(" <>\"'.,;")
        .str.to_lowercase()
    )
    email = pl.when(cleaned.str.len_chars() > 0).then(cleaned)
    valid = email.str.contains(EMAIL_PATTERN).fill_null(False)
    local = email.str.extract(r"^([^@]+)@", 1)
    domain = email.str.extract(r"@([^@]+)$", 1)
    dotless = domain.is_in(DOT_INSENSITIVE_DOMAINS)
    local_untagged = local.str.replace(r"\+.*$", "")
    canonical_local = pl.when(dotless).then(local_untagged.str.replace_all(".", "", literal=True))
    canonical_domain = pl.when(dotless).then(pl.lit("gmail.com")).otherwise(domain)
    canonical = pl.when(valid).then(
        pl.concat_str(canonical_local.otherwise(local_untagged), pl.lit("@"), canonical_domain)
    )
    return [
        email.alias("email"),
        valid.alias("email_valid"),
        canonical.alias("email_canonical"),
        pl.when(valid).then(domain).alias("email_domain"),
        (valid & local.is_in(ROLE_LOCAL_PARTS)).alias("is_role_email"),
        (valid & domain.is_in(FREE_MAIL_DOMAINS)).alias("is_free_email"),
    ]
