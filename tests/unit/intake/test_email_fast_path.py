"""The ASCII fast path of normalize_email agrees with email-validator on every ASCII input:
the same addresses accepted, the same normalised output, the same refusals."""

from __future__ import annotations

import string

import email_validator
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.intake.normalize import _plain_email, normalize_email

ATEXT = string.ascii_letters + string.digits + "_!#$%&'*+-/=?^`{|}~"
HOST = string.ascii_letters + string.digits + "-"


def reference(raw: str) -> str | None:
    """What normalize_email answered before the fast path: email-validator alone."""
    text = raw.strip()
    if not text or len(text) > 320:
        return None
    try:
        checked = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return checked.normalized.lower()


def ours(raw: str) -> str | None:
    try:
        return normalize_email(raw)
    except ValueError:
        return None


def _label(alphabet: str, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=0, max_size=max_size)


# Address-shaped strings: mostly valid, often one character away from invalid.
local_parts = st.lists(_label(ATEXT + '."@ \\<>()[],;:', 12), min_size=1, max_size=4).map(".".join)
host_names = st.lists(
    st.one_of(
        _label(HOST, 10),
        st.sampled_from(["xn--bcher-kva", "ab--cd", "xn--", "-a", "a-", "1", "com", "x" * 64]),
    ),
    min_size=1,
    max_size=5,
).map(".".join)
tlds = st.one_of(
    st.sampled_from(["com", "io", "COM", "local", "test", "localhost", "onion", "arpa", "invalid"]),
    _label(HOST, 6),
)
addresses = st.builds(
    lambda local, at, host, tld, pad: f"{pad}{local}{at}{host}.{tld}{pad}",
    local_parts,
    st.sampled_from(["@", "@", "@", "@@", "", "@[", "<"]),
    host_names,
    tlds,
    st.sampled_from(["", " ", "\t", "\n"]),
)
# Mostly plain addresses, so the fast path is exercised as often as it is bypassed.
plain_addresses = st.builds(
    lambda local, host, tld: f"{local}@{host}.{tld}",
    st.lists(st.text(ATEXT, min_size=1, max_size=10), min_size=1, max_size=3).map(".".join),
    st.lists(st.text(HOST, min_size=1, max_size=10), min_size=1, max_size=3).map(".".join),
    tlds,
)
any_ascii = st.text(alphabet=st.characters(max_codepoint=127), max_size=40)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(plain_addresses, addresses, any_ascii))
@example("ada@example.com")
@example("Ada.Lovelace@Example.COM")
@example("ada@example.local")
@example("ada@sub.example.test")
@example("ada@xn--bcher-kva.ch")
@example("ada@ab--cd.com")
@example("ada@example.c0m")
@example("ada@example.123")
@example("ada@-example.com")
@example("ada@example-.com")
@example("a" * 64 + "@example.com")
@example("a" * 65 + "@example.com")
@example("a@" + "b" * 63 + ".com")
@example("a@" + "b" * 64 + ".com")
@example("a@" + ".".join(["b" * 60] * 4) + ".com")
@example("info@example.com")
@example("POSTMASTER@Example.com")
@example("ada.@example.com")
@example(".ada@example.com")
@example("a..b@example.com")
@example("ada@example..com")
@example("ada@example.com.")
@example("ada@example.com\n")
def test_normalize_email_agrees_with_email_validator_on_ascii(raw: str) -> None:
    assert ours(raw) == reference(raw)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(plain_addresses, addresses, any_ascii))
def test_the_fast_path_only_answers_for_addresses_email_validator_accepts(raw: str) -> None:
    text = raw.strip()
    fast = _plain_email(text)
    if fast is not None:
        assert fast == reference(text)


@pytest.mark.parametrize(
    "raw", ["ada@example.com", "Jane.Doe+tag@Sub.Acme-Corp.co.uk", "o'brien@example.ie"]
)
def test_common_addresses_take_the_fast_path(raw: str) -> None:
    assert _plain_email(raw) == raw.lower()
