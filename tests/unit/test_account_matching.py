"""Lead-to-account matching: email domain (and subdomains) first, then the company name."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.account_matching import (
    FREE_MAIL_DOMAINS,
    LEGAL_SUFFIXES,
    Account,
    account_book,
    is_free_mail,
    normalise_company,
)

GLOBEX = Account("Globex Corporation", "tom@accord.example", ("globex.example",))
GLOBEX_EU = Account("Globex Europe", "eva@accord.example", ("eu.globex.example",))
INITECH = Account("Initech GmbH", "priya@accord.example", ("initech.example",))
BOOK = account_book((GLOBEX, GLOBEX_EU, INITECH))


def test_given_an_email_on_an_account_domain_when_matched_then_by_email_domain():
    match = BOOK.match("hank@globex.example", "")
    assert match is not None
    assert (match.account, match.matched_by, match.matched_on) == (
        GLOBEX, "email_domain", "globex.example")


def test_given_an_email_on_a_subdomain_when_matched_then_the_nearest_listed_domain_wins():
    us = BOOK.match("hank@us.Globex.Example", "")
    eu = BOOK.match("hank@paris.eu.globex.example", "")
    assert us is not None and (us.account, us.matched_on) == (GLOBEX, "globex.example")
    assert eu is not None and (eu.account, eu.matched_on) == (GLOBEX_EU, "eu.globex.example")


def test_given_a_domain_that_only_ends_like_an_account_domain_when_matched_then_no_match():
    assert BOOK.match("x@notglobex.example", "") is None


def test_given_an_unknown_domain_when_the_company_name_matches_then_by_company_name():
    match = BOOK.match("peter@consultants.example", "The INITECH, Inc.")
    assert match is not None
    assert (match.account, match.matched_by, match.matched_on) == (
        INITECH, "company_name", "initech")


def test_given_a_free_mail_domain_when_listed_in_the_book_then_it_still_never_matches():
    book = account_book((Account("Google", "g@accord.example", ("gmail.com",)),))
    assert book.match("someone@gmail.com", "") is None
    assert book.match("someone@gmail.com", "Google LLC") is not None  # by company name


def test_given_no_company_and_an_unknown_domain_when_matched_then_no_match():
    assert BOOK.match("x@elsewhere.example", "") is None
    assert BOOK.match("", "") is None


def test_given_company_names_when_normalised_then_case_punctuation_and_legal_forms_go():
    assert normalise_company("Initech GmbH & Co. KG") == "initech"
    assert normalise_company("ACME, Inc.") == "acme"
    assert normalise_company("Société Générale S.A.") == "société générale"
    assert normalise_company("O'Brien Holdings Ltd") == "obrien holdings"
    assert normalise_company("The Company") == "company"  # never normalised to nothing
    assert normalise_company("AG") == "ag"


def test_given_a_subdomain_of_a_free_mail_domain_when_checked_then_it_is_free_mail():
    assert is_free_mail("mail.gmail.com")
    assert not is_free_mail("globex.example")


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8).filter(
    lambda w: w not in LEGAL_SUFFIXES and w != "the")


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=3), st.sampled_from(sorted(LEGAL_SUFFIXES)),
       st.sampled_from([" ", ", ", " & ", ". "]), st.booleans())
def test_property_case_punctuation_and_a_legal_suffix_never_change_the_match(
        name_words, suffix, separator, upper):
    plain = " ".join(name_words)
    decorated = f"{plain}{separator}{suffix.upper() if upper else suffix.title()}."
    book = account_book((Account(plain, "rep@accord.example"),))
    match = book.match("someone@gmail.com", decorated.upper() if upper else decorated)
    assert match is not None and match.matched_by == "company_name"
    assert normalise_company(normalise_company(decorated)) == normalise_company(decorated)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(FREE_MAIL_DOMAINS)), st.emails())
def test_property_a_free_mail_address_never_matches_by_domain(domain, email):
    book = account_book((Account("Free", "rep@accord.example", (domain,)),))
    address = email.rpartition("@")[0] + "@" + domain
    assert book.match(address, "") is None
