"""Batch uploads: NDJSON and CSV lines become rows with line numbers, streamed."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator

import pytest

from services.intake.batch import (
    BatchParser,
    LineSplitter,
    LineTooLong,
    Row,
    attribute_value,
    batch_format,
    column_for,
    iter_csv,
    iter_ndjson,
    split_lines,
)
from services.intake.schemas import FieldError, LeadIn


def csv_rows(text: str) -> list[Row]:
    return list(iter_csv(text.encode().splitlines(keepends=True)))


def ndjson_rows(text: str | bytes) -> list[Row]:
    body = text.encode() if isinstance(text, str) else text
    return list(iter_ndjson(body.splitlines(keepends=True)))


def row_error(number: int, fragment: str, rows: list[Row]) -> None:
    """Assert that the row on line `number` failed to parse with a message holding fragment."""
    (row,) = [r for r in rows if r.number == number]
    assert row.data is None
    (error,) = row.errors
    assert error.pointer == ""
    assert fragment in error.message


# --- lines -------------------------------------------------------------------------------


def test_lines_are_reassembled_from_arbitrary_chunks() -> None:
    body = b"one\r\ntwo\nthr"
    splitter = LineSplitter()
    lines = [line for i in range(len(body)) for line in splitter.feed(body[i : i + 1])]
    assert lines + splitter.close() == [b"one", b"two", b"thr"]


def test_a_body_ending_with_a_newline_has_no_empty_last_line() -> None:
    assert list(split_lines([b"a\nb\n"])) == [b"a", b"b"]


def test_an_endless_line_stops_the_upload_with_its_line_number() -> None:
    splitter = LineSplitter(max_line_bytes=10)
    splitter.feed(b"short\n")
    with pytest.raises(LineTooLong, match="line 2"):
        splitter.feed(b"x" * 11)


def test_a_long_line_that_arrives_whole_is_caught_too() -> None:
    with pytest.raises(LineTooLong, match="line 1"):
        list(split_lines([b"x" * 11 + b"\nok\n"], max_line_bytes=10))


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/x-ndjson", "ndjson"),
        ("application/jsonl; charset=utf-8", "ndjson"),
        ("text/csv; charset=utf-8", "csv"),
        ("application/json", None),
        (None, None),
    ],
)
def test_the_content_type_picks_the_parser(content_type: str | None, expected: str | None) -> None:
    assert batch_format(content_type) == expected


# --- NDJSON ------------------------------------------------------------------------------


def test_each_ndjson_line_is_a_row_numbered_by_its_line() -> None:
    rows = ndjson_rows('{"email": "a@example.com"}\n\n  \n{"email": "b@example.com"}')
    assert [(r.number, r.data) for r in rows] == [
        (1, {"email": "a@example.com"}),
        (4, {"email": "b@example.com"}),
    ]


def test_a_byte_order_mark_on_the_first_line_is_ignored() -> None:
    (row,) = ndjson_rows(b'\xef\xbb\xbf{"email": "a@example.com"}\n')
    assert row.data == {"email": "a@example.com"}


def test_bad_ndjson_lines_are_reported_and_the_rest_still_parse() -> None:
    rows = ndjson_rows(
        "{nope\n"
        "[1, 2]\n"
        '"just a string"\n'
        '{"n": NaN}\n'
        '{"n": ' + "1" * 5000 + "}\n"
        '{"email": "ok@example.com"}\n'
    )
    row_error(1, "not valid JSON", rows)
    row_error(2, "must be a JSON object", rows)
    row_error(3, "must be a JSON object", rows)
    row_error(4, "NaN", rows)
    row_error(5, "not valid JSON", rows)
    assert rows[-1] == Row(6, {"email": "ok@example.com"}, [])


def test_invalid_utf8_in_ndjson_is_a_row_error() -> None:
    rows = ndjson_rows(b'{"email": "\xff@example.com"}\n{"email": "a@example.com"}\n')
    row_error(1, "UTF-8", rows)
    assert rows[1].data == {"email": "a@example.com"}


def test_absurdly_nested_json_is_a_row_error_not_a_crash() -> None:
    rows = ndjson_rows("[" * 200_000 + "]" * 200_000 + "\n")
    row_error(1, "not valid JSON", rows)


def test_a_nul_byte_line_is_rejected_as_a_row() -> None:
    rows = ndjson_rows(b"\x00\x00\x00\n")
    row_error(1, "not valid JSON", rows)


# --- CSV ---------------------------------------------------------------------------------


def test_csv_headers_are_matched_whatever_their_case_spacing_or_punctuation() -> None:
    (row,) = csv_rows(
        "E-mail,First Name,SURNAME,Company Name,Job Title,Mobile,Country Code,Lead Source,"
        "Campaign ID,UTM Source,utm_medium\n"
        "ada@example.com,Ada,Lovelace,Engines,CTO,030 1234567,DE,campaign,c1,news,email\n"
    )
    assert row.number == 2
    assert row.data == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Engines",
        "job_title": "CTO",
        "phone": "030 1234567",
        "country": "DE",
        "source": "campaign",
        "campaign_id": "c1",
        "utm": {"utm_source": "news", "utm_medium": "email"},
    }
    lead = LeadIn.model_validate(row.data)
    assert lead.phone == "+49301234567"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Email Address", "email"),
        ("email", "email"),
        ("firstname", "first_name"),
        ("Given Name", "first_name"),
        ("Last Name", "last_name"),
        ("Organization", "company"),
        ("Title", "job_title"),
        ("Position", "job_title"),
        ("Phone Number", "phone"),
        ("Country", "country"),
        ("Campaign", "campaign_id"),
    ],
)
def test_common_header_aliases_map_to_lead_fields(header: str, field: str) -> None:
    assert column_for(header, 0) == ("field", field)


def test_unknown_columns_become_slugified_attributes_with_typed_values() -> None:
    (row,) = csv_rows(
        "Email,Annual Budget,Zip Code,Score (%),Is Partner,2024 Spend,Société\n"
        "a@example.com,250000,01234,12.5,TRUE,7,Acme\n"
    )
    assert row.data is not None
    assert row.data["attributes"] == {
        "annual_budget": 250000,
        "zip_code": "01234",
        "score": 12.5,
        "is_partner": True,
        "column_2024_spend": 7,
        "societe": "Acme",
    }
    LeadIn.model_validate(row.data)


@pytest.mark.parametrize(
    ("cell", "value"),
    [("42", 42), ("-3", -3), ("0", 0), ("3.25", 3.25), ("false", False), ("007", "007"),
     ("1e5", "1e5"), ("1,000", "1,000"), ("99999999999999999999", "99999999999999999999")],
)  # fmt: skip
def test_attribute_cells_that_look_numeric_become_numbers(cell: str, value: object) -> None:
    assert attribute_value(cell) == value
    assert type(attribute_value(cell)) is type(value)


def test_touch_and_consent_columns_fill_one_touch_and_the_consent_map() -> None:
    (row,) = csv_rows(
        "email,touch_type,Touch At,touch_detail,Consent: Marketing Email\n"
        "a@example.com,webinar,2026-01-20T10:00:00+01:00,Scoring 101,yes\n"
    )
    assert row.data == {
        "email": "a@example.com",
        "touches": [
            {"type": "webinar", "at": "2026-01-20T10:00:00+01:00", "detail": "Scoring 101"}
        ],
        "consent": {"marketing_email": "yes"},
    }
    lead = LeadIn.model_validate(row.data)
    assert lead.consent == {"marketing_email": True}


def test_empty_cells_are_left_out() -> None:
    (row,) = csv_rows("email,first_name,phone,notes\na@example.com,, ,\n")
    assert row.data == {"email": "a@example.com"}


def test_a_quoted_field_may_span_lines_and_the_row_is_numbered_where_it_starts() -> None:
    rows = csv_rows(
        'email,notes\r\na@example.com,"first\r\nsecond ""quoted"", line"\r\n\r\nb@example.com,x\r\n'
    )
    assert [(r.number, r.data) for r in rows] == [
        (2, {"email": "a@example.com", "attributes": {"notes": 'first\nsecond "quoted", line'}}),
        (5, {"email": "b@example.com", "attributes": {"notes": "x"}}),
    ]


def test_blank_lines_and_rows_of_empty_cells_are_skipped_but_counted() -> None:
    rows = csv_rows("\nemail\n\na@example.com\n,\n\nb@example.com")
    assert [r.number for r in rows] == [4, 7]


def test_semicolon_separated_files_are_read_too() -> None:
    (row,) = csv_rows("Email;Country;Budget\na@example.com;Germany;1,5\n")
    assert row.data == {
        "email": "a@example.com",
        "country": "Germany",
        "attributes": {"budget": "1,5"},
    }


def test_a_row_with_the_wrong_number_of_columns_is_rejected_alone() -> None:
    rows = csv_rows("email,first_name\na@example.com\nb@example.com,B,extra\nc@example.com,C,,\n")
    row_error(2, "has 1 columns; the header has 2", rows)
    row_error(3, "has 3 columns", rows)
    assert rows[2].data == {"email": "c@example.com", "first_name": "C"}


def test_a_header_without_an_email_column_stops_the_upload() -> None:
    rows = csv_rows("name,phone\nAda,123\n")
    assert len(rows) == 1
    row_error(1, "no email column", rows)


def test_two_columns_for_one_field_stop_the_upload() -> None:
    rows = csv_rows("Email,E-mail\na@example.com,b@example.com\n")
    assert len(rows) == 1
    row_error(1, "both fill email", rows)


def test_invalid_utf8_in_a_csv_record_rejects_that_record_only() -> None:
    body = b"email,company\na@example.com,M\xfcller GmbH\nb@example.com,Acme\n"
    rows = list(iter_csv(body.splitlines()))
    row_error(2, "UTF-8", rows)
    assert rows[1].data == {"email": "b@example.com", "company": "Acme"}


def test_a_quote_that_never_closes_is_reported_at_the_end_of_the_file() -> None:
    rows = csv_rows('email,notes\na@example.com,"open\nb@example.com,x\n')
    row_error(2, "never closed", rows)


def test_malformed_quoting_is_a_row_error_and_parsing_resumes() -> None:
    rows = csv_rows('email,notes\na@example.com,"x"y\nb@example.com,fine\n')
    row_error(2, "not valid CSV", rows)
    assert rows[1].data == {"email": "b@example.com", "attributes": {"notes": "fine"}}


def test_a_quote_inside_an_unquoted_field_is_literal() -> None:
    (row,) = csv_rows('email,screen\na@example.com,27" monitor\n')
    assert row.data == {"email": "a@example.com", "attributes": {"screen": '27" monitor'}}


def test_nul_bytes_in_csv_reach_validation_as_control_characters() -> None:
    (row,) = csv_rows("email,first_name\na@example.com,A\x00da\n")
    assert row.data is not None
    with pytest.raises(ValueError, match="control characters"):
        LeadIn.model_validate(row.data)


def test_the_batch_parser_turns_body_chunks_into_rows() -> None:
    parser = BatchParser("csv")
    body = b'email,notes\na@example.com,"multi\nline"\nb@example.com,x'
    rows = [row for i in range(0, len(body), 7) for row in parser.feed(body[i : i + 7])]
    rows += parser.close()
    assert [r.number for r in rows] == [2, 4]
    ndjson = BatchParser("ndjson")
    assert ndjson.feed(b'{"email": "a@example.com"}\n{"ema') == [
        Row(1, {"email": "a@example.com"}, [])
    ]
    assert ndjson.feed(b'il": 1}') == []
    assert ndjson.close() == [Row(2, {"email": 1}, [])]


def test_a_row_error_is_a_field_error_for_the_whole_row() -> None:
    (row,) = ndjson_rows("nope\n")
    assert row.errors == [FieldError(pointer="", message=row.errors[0].message)]


# --- streaming -----------------------------------------------------------------------------


def generated_csv(rows: int) -> Iterator[bytes]:
    """A large upload, produced lazily in 64 KiB chunks like a request body."""
    yield b"Email,First Name,Last Name,Company,Country,Notes,Annual Budget\r\n"
    chunk = bytearray()
    for i in range(rows):
        notes = '"a note\nover lines"' if i % 100 == 0 else "short note"
        chunk += f'lead{i}@example.com,Ada,Lovelace,"Engines, Inc.",DE,{notes},{i}\r\n'.encode()
        if len(chunk) >= 65536:
            yield bytes(chunk)
            chunk.clear()
    yield bytes(chunk)


def peak_bytes_streaming(rows: int) -> int:
    """Peak traced memory while `rows` generated CSV rows stream through the parser."""
    tracemalloc.start()
    try:
        count = 0
        for row in iter_csv(split_lines(generated_csv(rows))):
            assert row.data is not None
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows
    return peak


def test_csv_memory_does_not_grow_with_the_number_of_rows() -> None:
    small, large = peak_bytes_streaming(1_000), peak_bytes_streaming(10_000)
    assert large < small * 1.5 + 64 * 1024


@pytest.mark.benchmark
def test_a_hundred_thousand_csv_rows_stream_in_bounded_memory() -> None:
    # ~10 s under tracemalloc, so it runs with `make bench`; the test above is the fast proof.
    assert peak_bytes_streaming(100_000) < 5 * 1024 * 1024


def test_csv_rows_are_numbered_by_physical_line_across_a_large_file() -> None:
    numbers = [row.number for row in iter_csv(split_lines(generated_csv(1_000)))]
    assert numbers[:3] == [2, 4, 5]  # row 0 carries a two-line note
    assert numbers[-1] == 1_000 + 10 + 1


def test_ndjson_rows_stream_in_bounded_memory() -> None:
    line = json.dumps({"email": "a@example.com", "attributes": {"note": "x" * 200}}).encode()
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_ndjson(line for _ in range(10_000)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 10_000
    assert peak < 256 * 1024
