"""The documented mapping from job titles to job levels."""

from __future__ import annotations

import pytest

from services.scoring.contract import job_level


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("CEO", "c_level"), ("Chief Revenue Officer", "c_level"), ("Co-Founder", "c_level"),
        ("Founder & CTO", "c_level"), ("President", "c_level"), ("Owner", "c_level"),
        ("Managing Director", "c_level"),
        ("VP Marketing", "vp"), ("SVP, Sales", "vp"), ("Vice President of Sales", "vp"),
        ("Vice-President Finance", "vp"), ("Head of Growth", "vp"),
        ("Director of Engineering", "director"), ("Sr. Dir. Sales", "director"),
        ("Chief of Staff", "director"),
        ("Marketing Manager", "manager"), ("Team Lead, Support", "manager"),
        ("Supervisor", "manager"),
        ("Software Engineer", "individual"), ("Product Owner", "individual"),
        ("Assistant to the CEO", "individual"), ("Executive Assistant", "individual"),
        ("Student", "individual"),
    ],
)  # fmt: skip
def test_titles_map_to_job_levels(title, level):
    assert job_level(title) == level


def test_no_title_has_no_level():
    assert job_level(None) is None
    assert job_level("  ") is None
