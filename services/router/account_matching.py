"""Which known account a lead belongs to: by email domain, failing that by company name.

Pure. The rule file lists the accounts; ``AccountBook`` indexes them once when the file is
loaded, so matching a lead costs a few dictionary look-ups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

# Addresses anyone can get: a domain here says nothing about the person's employer.
FREE_MAIL_DOMAINS = frozenset({
    "aol.com", "fastmail.com", "gmail.com", "gmx.com", "gmx.de", "gmx.net", "googlemail.com",
    "hey.com", "hotmail.co.uk", "hotmail.com", "hotmail.de", "hotmail.fr", "icloud.com",
    "live.com", "mail.com", "mail.ru", "me.com", "msn.com", "outlook.com", "pm.me",
    "proton.me", "protonmail.com", "qq.com", "t-online.de", "web.de", "yahoo.co.uk",
    "yahoo.com", "yahoo.de", "yahoo.fr", "yandex.com", "yandex.ru", "zoho.com",
})

# Legal forms dropped from the end of a company name ("Initech GmbH" is "initech").
LEGAL_SUFFIXES = frozenset({
    "ab", "ag", "as", "bv", "co", "company", "corp", "corporation", "gmbh", "inc",
    "incorporated", "kg", "kk", "limited", "llc", "llp", "lp", "ltd", "nv", "oy", "plc", "pty",
    "sa", "sarl", "sas", "se", "spa", "srl",
})

_JOINED = re.compile("[.'\u2019]")  # "S.A." is "sa", "O'Brien" is "obrien"
_SEPARATORS = re.compile(r"[\W_]+")

MatchedBy = Literal["email_domain", "company_name"]


@dataclass(frozen=True)
class Account:
    """A company Accord already knows, who owns it, and the email domains its people use."""

    name: str
    owner: str
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountMatch:
    """The account a lead matched, how, and on which domain or normalised name."""

    account: Account
    matched_by: MatchedBy
    matched_on: str


def normalise_company(name: str) -> str:
    """Case-folded words of a company name, without punctuation, a leading "the" or legal
    suffixes: "The Initech GmbH & Co. KG" and "initech" are both "initech"."""
    words = _SEPARATORS.sub(" ", _JOINED.sub("", name.casefold())).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def normalise_domain(domain: str) -> str:
    """A domain as compared: lower case, without a trailing dot."""
    return domain.strip().lower().rstrip(".")


def is_free_mail(domain: str) -> bool:
    """True for a free-mail domain or any subdomain of one."""
    return any(suffix in FREE_MAIL_DOMAINS for suffix in _suffixes(normalise_domain(domain)))


def _suffixes(domain: str) -> list[str]:
    """``a.b.example``, ``b.example`` (longest first; never the top-level domain alone)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


@dataclass(frozen=True)
class AccountBook:
    """The known accounts, indexed by domain and by normalised company name."""

    accounts: tuple[Account, ...] = ()
    by_domain: dict[str, Account] = field(default_factory=dict)
    by_company: dict[str, Account] = field(default_factory=dict)

    def match(self, email: str, company: str) -> AccountMatch | None:
        """The account of the lead's email domain (or the nearest parent domain listed),
        failing that of its company name; free-mail domains never match by domain."""
        domain = normalise_domain(email.rpartition("@")[2])
        if domain and not is_free_mail(domain):
            for suffix in _suffixes(domain):
                account = self.by_domain.get(suffix)
                if account is not None:
                    return AccountMatch(account, "email_domain", suffix)
        name = normalise_company(company)
        account = self.by_company.get(name) if name else None
        return AccountMatch(account, "company_name", name) if account else None


def account_book(accounts: tuple[Account, ...]) -> AccountBook:
    """Index accounts; the loader has checked that no domain or normalised name repeats
    (if one did, the first account listed would win)."""
    by_domain: dict[str, Account] = {}
    by_company: dict[str, Account] = {}
    for account in accounts:
        for domain in account.domains:
            by_domain.setdefault(normalise_domain(domain), account)
        by_company.setdefault(normalise_company(account.name), account)
    return AccountBook(accounts, by_domain, by_company)
