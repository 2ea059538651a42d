"""Pure normalisation of what leads type: email, E.164 phone, ISO country, single-line text.

Every function returns the canonical form or raises ValueError with a message a person can
act on; nothing here does I/O or reads the clock, so the rules are testable in isolation.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import email_validator
import phonenumbers

from services.intake.countries import COUNTRIES, COUNTRY_ALIASES

MAX_EMAIL_LENGTH = 320
"""RFC 5321 allows 64 + 1 + 255; longer input is refused before any parsing work."""

MAX_PHONE_LENGTH = 64
MAX_COUNTRY_LENGTH = 100

# C0/C1 controls (Unicode category Cc) and lone surrogates (Cs, which cannot be encoded as
# UTF-8) corrupt storage; bidirectional embeddings, overrides and isolates make text display
# in a different order than it is stored ("Trojan Source"). No lead field needs any of them.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_FORBIDDEN_MULTILINE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
)
_NAME_KEY_DROP = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


# The plain ASCII addresses almost every lead has (dot-atom local part, LDH host name with
# a dot), which email-validator accepts and normalises to themselves with the host name
# lower-cased. Labels are 1-63 characters and cannot start or end with a hyphen.
_ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?"
_PLAIN_EMAIL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*@{_LABEL}(?:\.{_LABEL})+")
_PLAIN_MAX_LENGTH = 254  # email-validator's limit for the whole address
_PLAIN_MAX_LOCAL = 64  # its limit before the @-sign in strict mode
# Special-use names (.local, .test, ...) and their subdomains: by their last label, which
# finds a few more than the list names (left to email-validator too), never fewer.
_SPECIAL_USE_TLDS = frozenset(
    n.rpartition(".")[2] for n in email_validator.SPECIAL_USE_DOMAIN_NAMES
)


def _plain_email(text: str) -> str | None:
    """The normalised form of a plain ASCII address that email-validator accepts, or None
    when the address needs its full rules (anything else, accepted or not): the same result
    for a fraction of the work. tests/unit/intake/test_email_fast_path.py checks that both
    agree."""
    if len(text) > _PLAIN_MAX_LENGTH or _PLAIN_EMAIL.fullmatch(text) is None:
        return None
    local, _, domain = text.partition("@")
    # A top-level domain ends with a letter; "ab--" labels are Punycode (xn--) or reserved;
    # special-use names are email-validator's to judge.
    if len(local) > _PLAIN_MAX_LOCAL or not domain[-1].isalpha():
        return None
    domain = domain.lower()
    if "--" in domain and any(label[2:4] == "--" for label in domain.split(".")):
        return None
    if domain.rpartition(".")[2] in _SPECIAL_USE_TLDS:
        return None
    return text.lower()


def normalize_email(raw: str) -> str:
    """Canonical, lower-cased address, so one person is one key however they typed it."""
    text = raw.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > MAX_EMAIL_LENGTH:
        raise ValueError(f"must be at most {MAX_EMAIL_LENGTH} characters")
    plain = _plain_email(text)
    if plain is not None:
        return plain
    try:
        checked = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address: {exc}") from None
    # Local parts are case-sensitive by RFC but case-insensitive at every real provider;
    # lower-casing the whole address is what makes "Ann@X.com" and "ann@x.com" one lead.
    return checked.normalized.lower()


def identity_key(email: str) -> str:
    """The dedupe key for "the same person": the normalised address, nothing cleverer.

    Gmail-style `+tag` and dot folding are deliberately not applied: other providers treat
    them as different mailboxes, and a missed duplicate costs less than a merged stranger.
    """
    return identity_of(normalize_email(email))


def identity_of(normalized_email: str) -> str:
    """The dedupe key of an address `normalize_email` already returned, without parsing it
    again (the parse is most of a lead's validation cost)."""
    return normalized_email


def normalize_phone(raw: str, country: str | None) -> str:
    """E.164 number ("+49301234567"), using the lead's country for national formats."""
    # libphonenumber skips trailing junk; refusing controls first keeps garbage out.
    text = clean_text(raw, max_len=MAX_PHONE_LENGTH)
    if not text:
        raise ValueError("must not be empty")
    # A territory without its own numbering plan (e.g. AQ) is no hint at all.
    region = country if country in phonenumbers.SUPPORTED_REGIONS else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_phone_parse_message(exc, region)) from None
    # is_valid_number (not just is_possible_number) checks the number ranges actually
    # assigned in that country, which catches typos a length check lets through.
    if not phonenumbers.is_valid_number(number):
        where = f" for {region}" if region and not text.startswith("+") else ""
        raise ValueError(f"is not a valid phone number{where}")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _phone_parse_message(exc: phonenumbers.NumberParseException, region: str | None) -> str:
    """Turn libphonenumber's error codes into advice a person can follow."""
    kind = exc.error_type
    if kind == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        if region is None:
            return "needs an international prefix (e.g. +49 ...) or a country on the lead"
        return "has an unknown international prefix"
    if kind == phonenumbers.NumberParseException.TOO_SHORT_NSN:
        return "is too short to be a phone number"
    if kind == phonenumbers.NumberParseException.TOO_LONG:
        return "is too long to be a phone number"
    return "is not a phone number"


@cache
def _country_index() -> dict[str, str]:
    """Every accepted spelling, reduced by `_name_key`, mapped to its alpha-2 code."""
    index: dict[str, str] = {}
    for alpha2, alpha3, name, official in COUNTRIES:
        for spelling in (alpha2, alpha3, name, official):
            if spelling:
                index[_name_key(spelling)] = alpha2
    for spelling, alpha2 in COUNTRY_ALIASES.items():
        index[_name_key(spelling)] = alpha2
    return index


def _name_key(text: str) -> str:
    """Fold case, accents, punctuation and a leading "the" so spellings compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    # "U.S.A." and "Côte d'Ivoire" lose their dots and apostrophes rather than gaining spaces.
    bare = bare.replace(".", "").replace("'", "").replace("\u2019", "")
    words = _SPACES.sub(" ", _NAME_KEY_DROP.sub(" ", bare)).strip()
    return words.removeprefix("the ")


@lru_cache(maxsize=1024)
def normalize_country(raw: str) -> str:
    """ISO 3166-1 alpha-2 from a code or an English name, so routing rules match one spelling.

    Cached: a batch spells a few countries thousands of times (refusals are not cached)."""
    text = clean_text(raw, max_len=MAX_COUNTRY_LENGTH)
    if not text:
        raise ValueError("must not be empty")
    code = _country_index().get(_name_key(text))
    if code is None:
        raise ValueError(
            f"is not a known country: {text[:40]!r}; use an ISO 3166-1 code (DE, DEU) "
            "or an English name (Germany)"
        )
    return code


def clean_text(raw: str, *, max_len: int, multiline: bool = False) -> str:
    """Trimmed NFC text without control characters, so stored values display as typed.

    Single-line fields (names, company, title) refuse tabs and newlines too; `multiline`
    fields (touch details, attribute values) allow `\\n` and `\\t`. Lone surrogates and
    bidirectional override characters are refused everywhere.
    """
    text = raw.strip()
    # NFC can at most triple a string's length; refuse the absurd before normalising it.
    if len(text) > max_len * 3:
        raise ValueError(f"must be at most {max_len} characters")
    text = unicodedata.normalize("NFC", text)
    if len(text) > max_len:
        raise ValueError(f"must be at most {max_len} characters")
    found = (_FORBIDDEN_MULTILINE if multiline else _FORBIDDEN).search(text)
    if found is not None:
        char = found.group()
        what = "line breaks or tabs" if char in "\r\n\t" else "control characters"
        raise ValueError(
            f"must not contain {what} (found U+{ord(char):04X} at position {found.start()})"
        )
    return text
