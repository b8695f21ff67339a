"""Language detection: by script for Thai and Lao, by stopwords among the playbook's languages."""

from __future__ import annotations

import pytest

from crisiscast.incidents.intake.triage import detect_language

LANGS = ("en", "th", "lo")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("น้ำท่วมบ้านแล้ว", "th"),
        ("ນ້ຳຖ້ວມເຮືອນແລ້ວ", "lo"),
        ("The water is rising", "en"),
        ("ok 123", "en"),
        ("help!! น้ำท่วมบ้านแล้วค่ะ", "th"),
    ],
)
def test_script_decides_thai_and_lao(text: str, expected: str) -> None:
    """Thai and Lao are told apart by their Unicode blocks; Latin falls back to the default."""
    assert detect_language(text, LANGS, "en") == expected


def test_latin_languages_by_stopwords() -> None:
    """Among a playbook's Latin-script languages, stopwords pick French over English."""
    text = "nous avons besoin d'aide pour la maison"
    assert detect_language(text, ("en", "fr"), "en") == "fr"
    assert detect_language("we need help with the house", ("en", "fr"), "en") == "en"


def test_no_clue_falls_back_to_the_default() -> None:
    """A reply with no stopword of any candidate gets the playbook's first language."""
    assert detect_language("Leogane Carrefour", ("fr", "en"), "fr") == "fr"
