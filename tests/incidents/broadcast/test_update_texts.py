"""An update's texts: ``--text 'words'`` is the fallback language's, which every update must
have; the same rule and words warm and cold (``decisions.update_texts``)."""

from __future__ import annotations

import pytest

from crisiscast.errors import ConfigError
from crisiscast.incidents.broadcast.decisions import update_texts


@pytest.mark.parametrize(
    ("texts", "resolved"),
    [
        ({"": "Water is falling"}, {"th": "Water is falling"}),
        ({"": "Water is falling", "lo": "ນ້ຳລົງ"}, {"th": "Water is falling", "lo": "ນ້ຳລົງ"}),
        ({"th": "น้ำลดแล้ว", "en": "Water is falling"}, {"th": "น้ำลดแล้ว", "en": "Water is falling"}),
    ],
)
def test_the_fallback_text_is_read_as_the_fallback_language(
    texts: dict[str, str], resolved: dict[str, str]
) -> None:
    assert update_texts(texts, "th", "INC-4") == resolved


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({"": "a", "th": "b"}, "--text for th (the fallback) is given twice"),
        (
            {"en": "Water is falling"},
            "the update has no text in th, INC-4's fallback language: "
            "add --text '...' (or --text th=...)",
        ),
    ],
)
def test_a_missing_or_doubled_fallback_text_is_refused(texts: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        update_texts(texts, "th", "INC-4")
    assert str(refused.value) == message
