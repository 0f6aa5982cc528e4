"""The rule file's `accounts`, `classification` and `recycle` sections, read and checked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from yaml.nodes import Node, ScalarNode, SequenceNode

from services.router.account_matching import (
    Account,
    is_free_mail,
    normalise_company,
    normalise_domain,
)
from services.router.rules.model import LeadClass, RecycleRule

if TYPE_CHECKING:
    from services.router.rules.reader import NodeReader, Scope

_CLASS_NAME = re.compile(r"[a-z][a-z0-9_]*")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]")
_ACCOUNT_EXAMPLE = "- {name: Initech GmbH, domains: [initech.example], owner: rep@example.com}"


def parse_classification(reader: NodeReader, node: Node, scope: Scope) -> list[LeadClass]:
    """Read `classification`: named classes checked in order, ending with a default."""
    classes: list[LeadClass] = []
    before = len(reader.problems)
    entries = reader.sequence(node, "classification")
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        fields = reader.mapping(entry, "a class")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "when", "default"}, "a class")
        name = reader.text(fields.get("name"), entry, "name")
        if name is not None and not _CLASS_NAME.fullmatch(name):
            reader.problem(fields["name"], f"class name `{name}` is not a lower-case word",
                           "write a name like warm, cold or existing_customer")
            name = None
        if name is not None and name in seen:
            reader.problem(fields["name"], f"a second class named `{name}`",
                           "give every class its own name")
        seen.add(name or "")
        is_default = "default" in fields and reader.flag(fields["default"], entry, "default")
        when = None
        if is_default:
            if index != len(entries) - 1:
                reader.problem(entry, "the default class must be the last entry",
                               "move it to the end: classes after it could never match")
            if "when" in fields:
                reader.problem(fields["when"], "the default class has no condition",
                               "remove `when:` from the default class")
        else:
            when = reader.condition(fields.get("when"), entry, "when", scope)
        if name and (is_default or when):
            classes.append(LeadClass(name, when))
    if entries and not any(c.when is None for c in classes) and len(reader.problems) == before:
        reader.problem(entries[-1], "classification has no default class",
                       "end the list with `- {name: cold, default: true}`")
    if not entries and isinstance(node, SequenceNode):
        reader.problem(node, "classification lists no classes",
                       "add `- {name: warm, when: score >= 60}` and `- {name: cold, "
                       "default: true}`")
    return classes


def parse_recycle(reader: NodeReader, node: Node, scope: Scope) -> list[RecycleRule]:
    """Read `recycle`: rules that send a lead back to `recycled` when they start to hold."""
    rules: list[RecycleRule] = []
    seen: set[str] = set()
    for entry in reader.sequence(node, "recycle"):
        fields = reader.mapping(entry, "a recycle rule")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "when"}, "a recycle rule")
        name = reader.text(fields.get("name"), entry, "name")
        if name is not None and name in seen:
            reader.problem(fields["name"], f"a second recycle rule named `{name}`",
                           "give every recycle rule its own name")
        seen.add(name or "")
        when = reader.condition(fields.get("when"), entry, "when", scope)
        if name and when:
            rules.append(RecycleRule(name, when))
    return rules


def parse_accounts(reader: NodeReader, node: Node) -> list[Account]:
    """Read `accounts`: known companies with their domains and owner, listed in the file."""
    if isinstance(node, ScalarNode):
        reader.problem(node, "`accounts` must list the accounts in this file",
                       "rules are published to the routers as this one file, so another "
                       f"file would not reach them; write `accounts:` then `{_ACCOUNT_EXAMPLE}`")
        return []
    accounts: list[Account] = []
    names: dict[str, str] = {}
    domains: dict[str, str] = {}
    for entry in reader.sequence(node, "accounts"):
        fields = reader.mapping(entry, "an account")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "domains", "owner"}, "an account")
        name = reader.text(fields.get("name"), entry, "name")
        if name is not None:
            name = _account_name(reader, fields["name"], name, names)
        owner = reader.text(fields.get("owner"), entry, "owner")
        if owner is not None and "@" not in owner:
            reader.problem(fields["owner"], f"`{owner}` is not an email",
                           "owners are named by the email of their CRM user")
            owner = None
        listed = _domains(reader, fields["domains"], name or "", domains) if (
            "domains" in fields) else ()
        if name and owner and listed is not None:
            accounts.append(Account(name, owner.lower(), listed))
    return accounts


def _account_name(reader: NodeReader, node: Node, name: str,
                  names: dict[str, str]) -> str | None:
    normalised = normalise_company(name)
    if not normalised:
        reader.problem(node, f"account name `{name}` has no letters or digits",
                       "write the company's name, e.g. name: Initech GmbH")
        return None
    if normalised in names:
        reader.problem(node, f"account `{name}` has the same company name as "
                       f"`{names[normalised]}` (both are `{normalised}` once case, punctuation "
                       "and legal forms are dropped)",
                       "list each account once; put its other domains under `domains`")
        return None
    names[normalised] = name
    return name


def _domains(reader: NodeReader, node: Node, account: str,
             seen: dict[str, str]) -> tuple[str, ...] | None:
    listed: list[str] = []
    valid = True
    for item in reader.sequence(node, "domains"):
        text = reader.text(item, node, "domains")
        if text is None:
            valid = False
            continue
        domain = normalise_domain(text)
        if not _DOMAIN.fullmatch(domain):
            reader.problem(item, f"`{text}` is not a domain",
                           "write the domain alone, e.g. initech.example (no @, scheme or path);"
                           " its subdomains match too")
        elif is_free_mail(domain):
            reader.problem(item, f"`{domain}` is a free-mail domain: it never matches an "
                           "account", "remove it; a lead on free mail is matched by its "
                           "company name instead")
        elif domain in seen:
            reader.problem(item, f"domain `{domain}` is already listed for account "
                           f"`{seen[domain]}`", "list each domain under one account only")
        else:
            seen[domain] = account
            listed.append(domain)
            continue
        valid = False
    return tuple(listed) if valid else None
