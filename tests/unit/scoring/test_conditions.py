"""Each operator of a contract condition, as a lead would meet it."""

from __future__ import annotations

import pytest

from services.scoring.contract import canonical_field
from tests.unit.scoring.builders import facts, holds, touch


def test_equals_compares_text_case_insensitively():
    assert holds("{field: country, equals: us}")
    assert not holds("{field: country, equals: CA}")


def test_equals_compares_numeric_text_as_a_number():
    assert holds("{field: employees, equals: 500}", facts(attributes={"employees": "500"}))


def test_equals_true_does_not_match_the_number_one():
    assert not holds("{field: flag, equals: true}", facts(attributes={"flag": 1}))
    assert holds("{field: flag, equals: true}", facts(attributes={"flag": True}))


def test_in_and_not_in_test_membership():
    assert holds("{field: country, in: [CA, US]}")
    assert not holds("{field: country, not_in: [CA, US]}")
    assert holds("{field: country, not_in: [CA, GB]}")


def test_not_in_is_false_when_the_field_is_absent():
    assert not holds("{field: country, not_in: [CA]}", facts(country=None))


def test_unquoted_no_in_a_list_stays_norway():
    assert holds("{field: country, in: [SE, NO]}", facts(country="NO"))


@pytest.mark.parametrize(
    ("operator", "bound", "expected"),
    [("gt", 499, True), ("gt", 500, False), ("gte", 500, True), ("lt", 501, True),
     ("lt", 500, False), ("lte", 500, True)],
)  # fmt: skip
def test_numeric_comparisons(operator, bound, expected):
    assert holds(f"{{field: employees, {operator}: {bound}}}") is expected


def test_numeric_comparison_is_false_for_text_that_is_not_a_number():
    assert not holds("{field: employees, gt: 1}", facts(attributes={"employees": "lots"}))


def test_between_includes_both_ends():
    assert holds("{field: employees, between: [500, 1000]}")
    assert holds("{field: employees, between: [100, 500]}")
    assert not holds("{field: employees, between: [501, 1000]}")


def test_matches_searches_with_a_python_regex():
    assert holds("{field: job_title, matches: '(?i)marketing'}")
    assert not holds("{field: job_title, matches: '^Marketing'}")


def test_exists_and_missing_look_at_presence():
    assert holds("{field: phone, missing: true}")
    assert holds("{field: phone, exists: true}", facts(phone="+14155550100"))
    assert holds("{field: company, exists: true}")
    assert not holds("{field: company, exists: true}", facts(company="   "))


def test_email_domain_in_matches_the_domain_and_its_subdomains():
    assert holds("{email_domain_in: [acme.io]}")
    assert holds("{email_domain_in: [acme.io]}", facts(email="jo@eu.acme.io"))
    assert not holds("{email_domain_in: [acme.io]}", facts(email="jo@notacme.io"))


def test_free_mail_recognises_common_consumer_domains():
    assert holds("{free_mail: true}", facts(email="jane@gmail.com"))
    assert holds("{free_mail: true}", facts(email="jane@yahoo.co.uk"))
    assert holds("{free_mail: false}")
    assert not holds("{free_mail: true}")


def test_job_level_in_reads_the_title():
    assert holds("{job_level_in: [c_level, vp]}")
    assert holds("{job_level_in: c_level}", facts(job_title="Co-Founder & CEO"))
    assert not holds("{job_level_in: [c_level, vp]}", facts(job_title="Analyst"))
    assert not holds("{job_level_in: [individual]}", facts(job_title=None))


def test_touches_counts_touches_of_a_type_within_a_period():
    two_webinars = facts(touches=(touch("webinar", days_ago=3), touch("webinar", days_ago=20)))
    assert holds("{touches: {type: webinar, min_count: 2, within: 30d}}", two_webinars)
    assert not holds("{touches: {type: webinar, min_count: 2, within: 7d}}", two_webinars)
    assert not holds("{touches: {type: email_click}}", two_webinars)
    assert holds("{touches: {min_count: 2}}", two_webinars)


def test_all_any_and_not_combine_conditions():
    assert holds("{all: [{field: country, equals: US}, {field: employees, gte: 100}]}")
    assert not holds("{all: [{field: country, equals: US}, {field: employees, gte: 1000}]}")
    assert holds("{any: [{field: country, equals: CA}, {field: employees, gte: 100}]}")
    assert holds("{not: {field: country, equals: CA}}")


def test_utm_and_attributes_are_addressable():
    lead = facts(utm={"medium": "cpc"}, attributes={"industry": "saas"})
    assert holds("{field: utm.medium, equals: cpc}", lead)
    assert holds("{field: attributes.industry, equals: SaaS}", lead)
    assert holds("{field: industry, equals: saas}", lead)


def test_a_bare_name_that_is_not_a_lead_field_means_an_attribute():
    assert canonical_field("employees") == "attributes.employees"
    assert canonical_field("country") == "country"
    assert canonical_field("utm.source") == "utm.source"
