"""The phrase index: whole words in Latin script, every substring in Thai and Lao, in one pass."""

from __future__ import annotations

from crisiscast.incidents.intake.triage.rules import PhraseIndex, normalise_phrase, tokens


def _found(index: PhraseIndex[str], text: str) -> list[tuple[str, str]]:
    lowered = normalise_phrase(text)
    return [(hit.phrase, hit.owner) for hit in index.find(lowered, tokens(lowered))]


def test_unspaced_phrases_overlap_and_come_in_reading_order() -> None:
    """ "ตายาย" (grandparents) and the "ยาย" inside it both count, in the order they start,
    and a phrase found twice counts once."""
    index = PhraseIndex([("ยาย", "vulnerable"), ("ตายาย", "vulnerable"), ("น้ำเข้า", "hazard")])
    assert _found(index, "น้ำเข้าบ้าน ตายายอยู่ชั้นล่าง น้ำเข้าอีก") == [
        ("น้ำเข้า", "hazard"),
        ("ตายาย", "vulnerable"),
        ("ยาย", "vulnerable"),
    ]


def test_unspaced_phrases_match_across_the_spaces_people_type() -> None:
    """Thai written with spaces between words still matches the phrase written without."""
    index = PhraseIndex([("เดินไม่ได้", "cannot_walk")])
    assert _found(index, "ยาย เดิน ไม่ ได้") == [("เดินไม่ได้", "cannot_walk")]


def test_a_word_hiding_a_phrase_does_not_match() -> None:
    """ขยาย (to extend) hides ยาย (grandmother): masked, so no vulnerable person."""
    index = PhraseIndex([("ยาย", "vulnerable")])
    assert _found(index, "ขอขยายเวลา") == []


def test_one_phrase_with_several_owners_reports_each() -> None:
    """A phrase two signals share fires both, Lao and English alike."""
    index = PhraseIndex([("ໄຟໄໝ້", "harm"), ("ໄຟໄໝ້", "hazard"), ("on fire", "harm")])
    assert _found(index, "ເຮືອນໄຟໄໝ້") == [("ໄຟໄໝ້", "harm"), ("ໄຟໄໝ້", "hazard")]
    assert _found(index, "the shop is on fire") == [("on fire", "harm")]


def test_latin_phrases_need_whole_words_and_skip_thai_search() -> None:
    """ "dam" does not fire inside "damaged"; a reply in English never runs the Thai search."""
    index = PhraseIndex([("dam", "facility"), ("น้ำ", "water")])
    assert _found(index, "the house is damaged") == []
    assert _found(index, "the dam broke") == [("dam", "facility")]
