"""SendGrid's SPF/DKIM fields read strictly for the From address's domain (issue 12, F1)."""

from __future__ import annotations

import json

import pytest

from crisiscast.web.sender_auth import aligned, dkim_results, verdict

AGENT = "noi@example.org"


def fields(spf: str, dkim: str, envelope_from: str | None = AGENT) -> dict[str, str]:
    out = {"SPF": spf, "dkim": dkim}
    if envelope_from is not None:
        out["envelope"] = json.dumps({"from": envelope_from, "to": ["a@crisis.example.org"]})
    return out


def test_dkim_field_in_sendgrids_not_quite_json() -> None:
    assert dkim_results("{@example.org : pass}") == [("example.org", "pass")]
    assert dkim_results("{@Example.org : pass, @sendgrid.net : fail}") == [
        ("example.org", "pass"), ("sendgrid.net", "fail"),
    ]  # fmt: skip
    assert dkim_results("none") == [] and dkim_results("") == []


@pytest.mark.parametrize(
    ("given", "ok", "why"),
    [
        (fields("pass", "{@example.org : pass}"), True, ""),
        (fields("pass", "{@sendgrid.net : pass, @example.org : pass}"), True, ""),
        (fields("fail", "none"), False, "SPF fail; no DKIM signature of example.org passed"),
        (fields("pass", "{@evil.example : pass}"), False, "only evil.example"),
        (fields("softfail", "{@example.org : pass}"), False, "SPF softfail"),
        (fields("pass", "{@example.org : fail}"), False, "no DKIM signature"),
        (fields("pass", "{@example.org : pass}", "bounce@evil.example"), False, "SPF did not"),
        (fields("pass", "{@example.org : pass}", None), False, "SPF did not"),
        (fields("pass", "{@org : pass}"), False, "no DKIM signature"),
        ({}, False, "SPF missing"),
    ],
)
def test_verdict_needs_both_for_the_senders_domain(
    given: dict[str, str], ok: bool, why: str
) -> None:
    result = verdict(given, AGENT)
    assert result.authenticated is ok and why in result.why_not


def test_alignment_is_relaxed_to_parent_domains_only() -> None:
    assert aligned("example.org", "mail.example.org")
    assert not aligned("mail.example.org", "example.org")
    assert not aligned("ample.org", "example.org") and not aligned("org", "example.org")
