"""The normalisation rules intake applies to every lead, whatever channel it came from."""

from __future__ import annotations

import pytest

from services.intake.countries import COUNTRIES, COUNTRY_ALIASES
from services.intake.normalize import (
    clean_text,
    identity_key,
    normalize_country,
    normalize_email,
    normalize_phone,
)

# --- email -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
        ("ada+news@example.co.uk", "ada+news@example.co.uk"),
        ("user@xn--bcher-kva.ch", "user@bücher.ch"),
        ("Jöhn@Bücher.ch", "jöhn@bücher.ch"),
    ],
)
def test_an_email_is_normalised_and_lower_cased(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada example@example.com",
        "ada@exa mple.com",
        "ada@example.com\x00",
        "a" * 10_000 + "@example.com",
    ],
)
def test_a_malformed_email_is_refused_with_a_value_error(raw: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        normalize_email(raw)


def test_an_invalid_email_message_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="@-sign"):
        normalize_email("ada.example.com")


def test_the_identity_key_is_the_same_for_differently_typed_addresses_of_one_person() -> None:
    assert identity_key("Ada@Example.com") == identity_key(" ada@EXAMPLE.COM")


def test_the_identity_key_keeps_plus_tags_apart() -> None:
    assert identity_key("ada+a@example.com") != identity_key("ada+b@example.com")


# --- phone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("030 1234567", "DE", "+49301234567"),
        ("+49 30 1234567", None, "+49301234567"),
        ("+49 (0)30 1234567", "US", "+49301234567"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("0049 30 1234567", "DE", "+49301234567"),
    ],
)
def test_a_phone_number_becomes_e164_using_the_country_as_a_hint(
    raw: str, country: str | None, expected: str
) -> None:
    assert normalize_phone(raw, country) == expected


def test_a_national_number_without_a_country_asks_for_a_prefix_or_country() -> None:
    with pytest.raises(ValueError, match="international prefix"):
        normalize_phone("030 1234567", None)


@pytest.mark.parametrize(
    ("raw", "country"),
    [("12", "DE"), ("+49 1", None), ("not a phone", "DE"), ("+1 555 0100 000", None), ("", "DE")],
)
def test_a_number_that_is_not_valid_is_refused(raw: str, country: str | None) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        normalize_phone(raw, country)


def test_a_territory_without_a_numbering_plan_is_no_hint() -> None:
    assert normalize_phone("+49 30 1234567", "AQ") == "+49301234567"


def test_a_huge_phone_string_is_refused_before_parsing() -> None:
    with pytest.raises(ValueError, match="at most 64"):
        normalize_phone("1" * 1_000_000, "DE")


# --- country -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("  germany ", "DE"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("The Netherlands", "NL"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d\u2019Ivoire", "CI"),
        ("Korea, Republic of", "KR"),
        ("South Korea", "KR"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Czech Republic", "CZ"),
        ("Russia", "RU"),
    ],
)
def test_a_country_code_or_english_name_becomes_alpha_2(raw: str, expected: str) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize("raw", ["Narnia", "XX", "", "  ", "D", "Germany" * 100])
def test_an_unknown_country_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        normalize_country(raw)


def test_the_country_table_has_every_iso_country_once() -> None:
    alpha2 = [row[0] for row in COUNTRIES]
    alpha3 = [row[1] for row in COUNTRIES]
    assert len(COUNTRIES) == 249
    assert len(set(alpha2)) == len(alpha2)
    assert len(set(alpha3)) == len(alpha3)
    assert all(normalize_country(code) == code for code in alpha2)


def test_every_country_alias_points_at_a_real_country() -> None:
    known = {row[0] for row in COUNTRIES}
    assert set(COUNTRY_ALIASES.values()) <= known


# --- text --------------------------------------------------------------------------------


def test_text_is_trimmed_and_nfc_normalised() -> None:
    decomposed = "  Jose\u0301 "
    assert clean_text(decomposed, max_len=10) == "José"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202e", "\ud800"])
def test_control_characters_are_refused(char: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        clean_text(f"Ada{char}Lovelace", max_len=100)


@pytest.mark.parametrize("char", ["\n", "\r", "\t"])
def test_line_breaks_and_tabs_are_refused_in_single_line_text(char: str) -> None:
    with pytest.raises(ValueError, match="line breaks or tabs"):
        clean_text(f"Ada{char}Lovelace", max_len=100)


def test_multiline_text_keeps_newlines_and_tabs_but_not_other_controls() -> None:
    assert clean_text("line one\n\tline two", max_len=100, multiline=True) == "line one\n\tline two"
    with pytest.raises(ValueError, match="U\\+0000"):
        clean_text("line one\n\x00", max_len=100, multiline=True)


def test_text_over_the_limit_is_refused_and_the_limit_is_named() -> None:
    assert clean_text("a" * 10, max_len=10) == "a" * 10
    with pytest.raises(ValueError, match="at most 10 characters"):
        clean_text("a" * 11, max_len=10)


def test_a_huge_string_is_refused_quickly() -> None:
    with pytest.raises(ValueError, match="at most 100"):
        clean_text("a" * 50_000_000, max_len=100)


def test_surrounding_whitespace_does_not_count_towards_the_limit() -> None:
    assert clean_text("   abc   \n", max_len=3) == "abc"
