"""The reply form's contact check: every valid address is answered, no header is injected."""

from __future__ import annotations

import pytest

from crisiscast.web.reply_form import ReplyForm, read_reply_form

LANGUAGES = ("en",)


def _contact(raw: str) -> str:
    result = read_reply_form({"message": "Water in the house", "contact": raw}, LANGUAGES)
    assert isinstance(result, ReplyForm), result
    return result.contact


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("o'brien@example.org", "o'brien@example.org"),
        ("O'Brien@Example.org", "o'brien@example.org"),
        ("first.last+tag@example.co.th", "first.last+tag@example.co.th"),
        ("a!#$%&*/=?^_`{|}~-z@example.org", "a!#$%&*/=?^_`{|}~-z@example.org"),
        ("สมชาย@example.org", "สมชาย@example.org"),
    ],
)
def test_valid_addresses_are_accepted(raw: str, expected: str) -> None:
    assert _contact(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "ann@example.org\r\nBcc: all@example.org",
        "ann@example.org\nBcc: all@example.org",
        "Ann <ann@example.org>",
        "<ann@example.org>",
        "ann@exa>mple.org",
        '"ann"@example.org',
        "ann,bob@example.org",
        "ann;bob@example.org",
        "ann bob@example.org",
        ".ann@example.org",
        "ann.@example.org",
        "an..n@example.org",
        "ann@example",
        "ann@@example.org",
        "ann@-example.org",
        "ann\x00@example.org",
        "a" * 65 + "@example.org",
    ],
)
def test_header_injection_and_malformed_addresses_are_refused(raw: str) -> None:
    result = read_reply_form({"message": "help", "contact": raw}, LANGUAGES)
    assert isinstance(result, str) and result.startswith("contact:")


def test_punycode_domains_and_unicode_separators() -> None:
    assert _contact("ann@xn--72c1a1bt4awk9o.xn--o3cw4h") == "ann@xn--72c1a1bt4awk9o.xn--o3cw4h"
    for raw in ("ann\u2028@example.org", "ann@example.org\u0085Bcc:x@example.org"):
        result = read_reply_form({"message": "help", "contact": raw}, LANGUAGES)
        assert isinstance(result, str)
