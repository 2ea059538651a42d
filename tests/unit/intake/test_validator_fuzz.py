"""Property tests over intake's lead validator, on every channel's way in: the JSON lead
(`LeadIn`), batch rows (NDJSON and CSV, `services/intake/batch.py`) and form posts
(`services/intake/forms.py`).

Whatever arrives is either a lead or a validation error whose every entry names the field
at fault (a JSON pointer into what was sent) in words; nothing else is ever raised. A lead
that validates is normalised (email lower-cased, phone E.164, country ISO alpha-2, touch
types as keys), and normalising it again changes nothing.

tests/unit/intake/test_hostile_input.py throws a fixed list of nasty values with a seeded
`random`; these let Hypothesis search (and shrink) instead, over JSON of any shape.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from services.intake.batch import BatchParser, LineTooLong, Row, column_for
from services.intake.countries import COUNTRIES, COUNTRY_ALIASES
from services.intake.forms import FormConfig, map_post
from services.intake.normalize import normalize_email
from services.intake.schemas import MAX_FIELD_ERRORS, FieldError, LeadIn, field_errors

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)
FIELDS = tuple(LeadIn.model_fields)
ALPHA2 = frozenset(code for code, *_ in COUNTRIES)
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")

# --- what arrives ----------------------------------------------------------------------

NASTY_TEXT = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\t",
            "\n",
            "\r\n",
            "\ud800",
            "\udfff",
            "\u202e",
            "\u2066",
            "\ufeff",
            "\u0301",
            "ﬁ",
            "ǅ",
            "İ",
            "ß",
            "💥",
            "NaN",
            "Infinity",
            "-0",
            "1e999",
            "null",
            "true",
            "[]",
            "{}",
            "@",
            "a@b",
            "@@",
            "a@b.c",
            "+",
            "+0",
            "00",
        ]
    ),
    # Long text, built (not listed) so strategies' reprs stay short.
    st.tuples(st.sampled_from(["a", "0", "é", " "]), st.sampled_from([101, 401, 5000])).map(
        lambda pair: pair[0] * pair[1]
    ),
)
HUGE_NUMBERS = st.one_of(
    st.sampled_from(
        [
            2**63 - 1,
            2**63,
            -(2**63),
            -(2**63) - 1,
            2**64,
            10**18,
            1e308,
            -1e308,
            5e-324,
            1.7976931348623157e308,
            float("nan"),
            float("inf"),
            float("-inf"),
            -0.0,
        ]
    ),
    # Past Python's 4300-digit limit for int <-> str (kept out of reprs, which would fail).
    st.sampled_from([400, 4300, 5000]).map(lambda digits: -(10**digits)),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_NUMBERS,
    st.floats(),
    st.text(max_size=30),
    NASTY_TEXT,
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.one_of(st.text(max_size=10), st.sampled_from(FIELDS)), inner, max_size=4
        )
    ),
    max_leaves=12,
)

EMAILS = st.one_of(
    st.emails(),
    st.emails().map(lambda e: f"  {e.upper()} "),
    st.sampled_from(
        [
            "Ada.Lovelace@Example.COM",
            "jöhn@Bücher.ch",
            "user@xn--bcher-kva.ch",
            "a@b.test",
            '"quoted local"@example.com',
            "ada@[127.0.0.1]",
            "ada@localhost",
            "ada@example.com.",
        ]
    ),
    NASTY_TEXT,
    st.text(max_size=40),
)
PHONES = st.one_of(
    st.sampled_from(
        [
            "+49 30 1234567",
            "030 1234567",
            "(212) 555-0123",
            "+1 212 555 0123",
            "+44 20 7946 0958",
            "0049301234567",
            "+999 1",
            "12",
            "+" + "9" * 40,
            "tel:+4930123456",
            "+49 30 1234567 x12",
        ]
    ),
    st.text(alphabet="+0123456789 ()-.x", max_size=25),
    NASTY_TEXT,
)
COUNTRY_SPELLINGS = st.one_of(
    st.sampled_from([c[i] for c in COUNTRIES for i in range(3)]),
    st.sampled_from(sorted(COUNTRY_ALIASES)),
    st.sampled_from(["  de ", "U.S.A.", "the Netherlands", "CÔTE D'IVOIRE", "deu", "XX", "ZZZ"]),
    NASTY_TEXT,
    st.text(max_size=20),
)
AWARE_AT = st.datetimes(  # naive bounds, as Hypothesis wants them; `timezones` adds the offset
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone.min]),
).map(lambda d: d.isoformat())
AT = st.one_of(
    AWARE_AT,
    st.sampled_from(["2026-01-20T16:00:00", "2026-01-20", "yesterday", "2026-13-01T00:00:00Z"]),
    SCALARS,
)
TOUCHES = st.lists(
    st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(["webinar", "Form Submit", "email-click"]), SCALARS)},
        optional={"at": AT, "detail": st.one_of(st.text(max_size=50), SCALARS), "x": SCALARS},
    )
    | JSONISH,
    max_size=3,
)
FLAT = st.dictionaries(
    st.one_of(st.from_regex(KEY, fullmatch=True), st.text(max_size=70)), SCALARS, max_size=6
)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "email": EMAILS,
    "first_name": st.one_of(st.text(max_size=120), SCALARS),
    "last_name": st.one_of(st.text(max_size=120), SCALARS),
    "company": st.one_of(st.text(max_size=220), SCALARS),
    "job_title": st.one_of(st.text(max_size=220), SCALARS),
    "country": COUNTRY_SPELLINGS,
    "phone": PHONES,
    "source": st.one_of(st.sampled_from(["web", " Campaign ", "PARTNER", "spam"]), SCALARS),
    "campaign_id": st.one_of(st.text(max_size=140), SCALARS),
    "utm": st.one_of(
        st.dictionaries(
            st.sampled_from(["utm_source", "utm_medium", "utm_campaign", "utm_x", ""]), SCALARS
        ),
        JSONISH,
    ),
    "consent": st.one_of(st.dictionaries(st.text(max_size=70), SCALARS, max_size=4), JSONISH),
    "attributes": st.one_of(FLAT, JSONISH),
    "touches": st.one_of(TOUCHES, JSONISH),
}
LEADS = st.fixed_dictionaries(
    {},
    optional={
        **{name: st.one_of(values, JSONISH) for name, values in FIELD_VALUES.items()},
        "unknown_field": JSONISH,
    },
)

# --- what a validated lead must look like ---------------------------------------------


def validate(data: Any) -> LeadIn | list[FieldError]:
    """A lead, or its field errors; any other exception fails the test."""
    try:
        return LeadIn.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        assert_names_fields(errors, data)
        return errors


def assert_names_fields(errors: list[FieldError], data: Any) -> None:
    """Every error has words and a pointer to a field of what was sent (or to a field the
    lead needs, for a missing one); "" only for a body that is not an object, or for the
    "and N more" line past the first MAX_FIELD_ERRORS."""
    assert errors
    for index, error in enumerate(errors):
        assert error.message.strip(), error
        assert "https://" not in error.message, error  # no library URLs
        if error.pointer == "":
            more = index == MAX_FIELD_ERRORS and error.message.startswith("and ")
            assert more or not isinstance(data, dict), (error, data)
            continue
        top = error.pointer.split("/")[1].replace("~1", "/").replace("~0", "~")
        assert isinstance(data, dict), (error, data)
        assert top in FIELDS or top[:100] in {k[:100] for k in data}, (error, list(data))


def assert_normalised(lead: LeadIn) -> None:
    assert lead.email == lead.email.lower() == lead.email.strip()
    assert normalize_email(lead.email) == lead.email
    assert lead.phone is None or E164.fullmatch(lead.phone), lead.phone
    assert lead.country is None or lead.country in ALPHA2, lead.country
    assert lead.source == lead.source.lower()
    assert all(KEY.fullmatch(key) for key in (*lead.attributes, *lead.consent))
    assert all(KEY.fullmatch(touch.type) for touch in lead.touches)
    for value in lead.attributes.values():
        assert value is None or isinstance(value, str | int | float | bool)
        assert not isinstance(value, int) or -(2**63) <= value < 2**63


def assert_idempotent(lead: LeadIn) -> None:
    """What intake stores, sent again (as JSON, as a client would), is the same lead."""
    again = LeadIn.model_validate_json(lead.model_dump_json())
    assert again == lead
    data = lead.to_lead_data(lead_id="l-1", received_at=NOW, channel="api")
    assert data.email == lead.email
    assert all(t.at.tzinfo is not None and t.at.utcoffset() == timedelta(0) for t in data.touches)


def dumps(value: Any) -> str:
    """JSON text of a value; an integer past Python's 4300-digit limit cannot be written."""
    try:
        return json.dumps(value, allow_nan=True)
    except ValueError:
        return '{"email": 1' + "0" * 5000 + "}"


def check(data: Any) -> LeadIn | None:
    result = validate(data)
    if isinstance(result, LeadIn):
        assert_normalised(result)
        assert_idempotent(result)
        return result
    return None


# --- the JSON lead ----------------------------------------------------------------------


@FUZZ
@given(LEADS)
def test_any_json_object_is_a_lead_or_errors_naming_its_fields(data: dict[str, Any]) -> None:
    check(data)


@FUZZ
@given(JSONISH)
def test_any_json_value_is_a_lead_or_errors(data: Any) -> None:
    check(data)


@FUZZ
@given(st.one_of(st.text(), LEADS.map(lambda d: dumps(d)), st.binary()))
def test_any_body_text_is_a_lead_or_errors(body: str | bytes) -> None:
    """The same, from the raw body: malformed JSON is a validation error too."""
    try:
        lead = LeadIn.model_validate_json(body)
    except ValidationError as exc:
        errors = field_errors(exc)
    else:
        assert_normalised(lead)
        return
    assert errors
    assert all(e.message.strip() for e in errors)


VALID_LEADS = st.fixed_dictionaries(
    {"email": st.emails().map(lambda e: e.swapcase())},
    optional={
        "first_name": st.text(st.characters(categories=["L", "Zs"]), max_size=30),
        "company": st.text(st.characters(categories=["L", "N", "P"]), max_size=30),
        "country": st.sampled_from([c[i] for c in COUNTRIES for i in range(3)]),
        "source": st.sampled_from(["web", "Campaign", " partner "]),
        "utm": st.fixed_dictionaries({}, optional={"utm_source": st.text(max_size=10)}),
        "consent": st.dictionaries(st.from_regex(KEY, fullmatch=True), st.booleans(), max_size=3),
        "attributes": st.dictionaries(
            st.from_regex(KEY, fullmatch=True),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(-(2**63), 2**63 - 1),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=20),
            ),
            max_size=5,
        ),
        "touches": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["webinar", "Form Submit", "email-click"]),
                    "at": AWARE_AT,
                }
            ),
            max_size=3,
        ),
    },
)


@FUZZ
@given(VALID_LEADS, st.sampled_from(["+49 30 1234567", "030 1234567", None]))
def test_valid_leads_are_normalised_and_stay_so(data: dict[str, Any], phone: str | None) -> None:
    if phone is not None:
        data = {**data, "phone": phone}
    if data.get("phone") == "030 1234567":
        data["country"] = "Germany"
    result = validate(data)
    if isinstance(result, list):  # some generated text is refused by design (controls)
        assert all(e.pointer != "/email" for e in result), result
        return
    assert_normalised(result)
    assert_idempotent(result)
    assert result.email == normalize_email(data["email"])
    if "phone" in data:
        assert result.phone == "+49301234567"


# --- batch rows -------------------------------------------------------------------------


def rows_of(kind: str, body: bytes) -> list[Row]:
    parser = BatchParser(kind, max_line_bytes=4096)  # type: ignore[arg-type]
    try:
        return parser.feed(body) + parser.close()
    except LineTooLong:
        return []


def check_rows(rows: list[Row]) -> None:
    numbers = [row.number for row in rows]
    assert numbers == sorted(numbers)
    for row in rows:
        assert (row.data is None) == bool(row.errors), row
        if row.data is None:
            assert all(e.message.strip() for e in row.errors)
        else:
            check(row.data)


@FUZZ
@given(st.lists(st.one_of(LEADS, JSONISH), max_size=5), st.sampled_from(["\n", "\r\n"]))
def test_ndjson_rows_are_leads_or_errors(values: list[Any], newline: str) -> None:
    lines = [dumps(value) for value in values]
    check_rows(rows_of("ndjson", newline.join(lines).encode("utf-8", "surrogatepass")))


HEADERS = st.one_of(
    st.sampled_from(
        [
            "email",
            "E-Mail Address",
            "First Name",
            "SURNAME",
            "Phone Number",
            "Country",
            "Lead Source",
            "Campaign",
            "utm_source",
            "UTM Medium",
            "Touch Type",
            "touch at",
            "touch_detail",
            "consent_marketing_email",
            "Employees",
            "Société",
            "123",
            "",
            "💥",
            "consent_",
        ]
    ),
    st.text(max_size=12),
)
CELLS = st.one_of(
    st.sampled_from(
        [
            "ada@example.com",
            "Ada",
            "+49 30 1234567",
            "DE",
            "web",
            "2026-01-20T10:00:00Z",
            "500",
            "01234",
            "3.14",
            "TRUE",
            "",
            " ",
            '"',
            '""',
            "a,b",
            "a;b",
        ]
    ),
    NASTY_TEXT,
    st.text(max_size=15),
)


def csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',;\t"\n\r') else text


@FUZZ
@given(
    st.lists(HEADERS, min_size=1, max_size=6, unique=True),
    st.lists(st.lists(CELLS, max_size=7), max_size=4),
    st.sampled_from([",", ";", "\t"]),
    st.booleans(),
)
def test_csv_rows_are_leads_or_errors(
    headers: list[str], records: list[list[str]], delimiter: str, quoted: bool
) -> None:
    cell = csv_cell if quoted else (lambda text: text)
    lines = [delimiter.join(cell(h) for h in headers)]
    lines += [delimiter.join(cell(c) for c in record) for record in records]
    body = "\n".join(lines).encode("utf-8", "surrogatepass")
    rows = rows_of("csv", body)
    check_rows(rows)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["csv", "ndjson"]))
def test_any_bytes_are_rows_or_row_errors(body: bytes, kind: str) -> None:
    check_rows(rows_of(kind, b"email,first_name,notes\n" + body if kind == "csv" else body))


@FUZZ
@given(HEADERS, st.integers(0, 200))
def test_every_csv_header_has_a_place_in_the_lead(header: str, index: int) -> None:
    kind, key = column_for(header, index)
    if kind == "field":
        assert key in FIELDS
    elif kind in ("attribute", "consent"):
        assert KEY.fullmatch(key), key


# --- form posts -------------------------------------------------------------------------

TARGETS = st.sampled_from(
    [
        "email",
        "first_name",
        "phone",
        "country",
        "source",
        "campaign_id",
        "utm.utm_source",
        "consent.marketing_email",
        "attributes.employees",
        "attributes.notes",
    ]
)
FORMS = st.builds(
    lambda fields, unknown, source: FormConfig(
        fields=fields, unknown_fields=unknown, source=source, name="Contact us"
    ),
    st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda n: n != "_key"), TARGETS, max_size=4
    ),
    st.sampled_from(["ignore", "attributes"]),
    st.sampled_from(["web", "event"]),
)
POSTS = st.builds(
    lambda fields, email: fields if email is None else {"Email": [email], **fields},
    st.dictionaries(
        st.one_of(HEADERS, st.sampled_from(["work_email", "newsletter", "_key", "website"])),
        st.lists(CELLS, min_size=1, max_size=3),
        max_size=6,
    ),
    st.one_of(st.none(), st.emails(), st.emails()),  # most posts carry an address
)


@FUZZ
@given(FORMS, POSTS)
def test_form_posts_are_leads_or_errors_naming_the_posted_fields(
    form: FormConfig, posted: dict[str, list[str]]
) -> None:
    post = map_post("contact", form, posted, now=NOW)
    result = validate(post.data)
    if isinstance(result, list):
        assert set(post.form_fields_at_fault(result)) <= set(posted)
        return
    assert result.touches
    assert result.touches[0].type == "form_submit"
    assert_normalised(result)
    assert_idempotent(result)


@pytest.mark.parametrize(
    ("data", "pointer"),
    [
        ({"email": 10**5000}, "/email"),
        ({"email": "ada@example.com", "attributes": {"n": 10**400}}, "/attributes/n"),
        ({"email": "ada@example.com", "phone": 10**30}, "/phone"),
        ({"email": "ada@example.com", "first_name": 1e308}, None),
        ({"email": "ada@example.com", "touches": [{"type": "x", "at": 10**20}]}, "/touches/0/at"),
        ({"email": "\ud800@example.com"}, "/email"),
        ({"email": "ada@example.com", "country": "\u202eDE"}, "/country"),
    ],
)
def test_huge_numbers_and_broken_unicode_are_named(
    data: dict[str, Any], pointer: str | None
) -> None:
    result = validate(data)
    if pointer is None:
        assert isinstance(result, LeadIn)
    else:
        assert isinstance(result, list)
        assert pointer in {e.pointer for e in result}, result
