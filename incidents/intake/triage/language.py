"""Language of a reply: by Unicode script where a script names one language, else by stopwords.

Why no detection library: replies are short, triage must stay under a couple of milliseconds,
and the playbook already names the few languages in play. ``langdetect`` costs milliseconds per
call and is random unless seeded; ``lingua`` is accurate but its wheel and models weigh tens of
megabytes; ``py3langid`` needs numpy. Thai and Lao (and the other single-language scripts
below) are certain from the script alone; among Latin-script languages a short stopword count
picks one of the playbook's languages, and a tie or no clue falls back to its first language.
"""

from __future__ import annotations

import re

# (first code point, last code point, language) for scripts used by essentially one language.
_SCRIPTS = (
    (0x0E00, 0x0E7F, "th"),
    (0x0E80, 0x0EFF, "lo"),
    (0x1000, 0x109F, "my"),
    (0x1780, 0x17FF, "km"),
    (0xAC00, 0xD7AF, "ko"),
    (0x3040, 0x30FF, "ja"),
    (0x0590, 0x05FF, "he"),
    (0x0370, 0x03FF, "el"),
    (0x10A0, 0x10FF, "ka"),
)
_SHARED_SCRIPTS = (
    (0x4E00, 0x9FFF, ("zh", "ja")),
    (0x0600, 0x06FF, ("ar", "fa", "ur")),
    (0x0400, 0x04FF, ("ru", "uk", "bg", "sr")),
    (0x0900, 0x097F, ("hi", "mr", "ne")),
)
_STOPWORDS = {
    "en": "the and is are to of in we our my you it not no please help have has was with for",
    "fr": "le la les et est sont nous notre mon vous pas il elle avec pour des une un aide",
    "es": "el la los las y es son nosotros nuestro mi usted no por favor con para una ayuda",
    "pt": "o a os as e é são nós nosso meu você não por favor com para uma ajuda",
    "de": "der die das und ist sind wir unser mein sie nicht bitte mit für ein eine hilfe",
    "it": "il lo la gli e è sono noi nostro mio lei non per favore con una aiuto",
    "nl": "de het een en is zijn wij onze mijn u niet alstublieft met voor hulp",
    "id": "dan yang di ke kami kita saya tidak tolong dengan untuk ini itu ada bantuan",
    "ms": "dan yang di ke kami kita saya tidak tolong dengan untuk ini itu ada bantuan",
    "vi": "và là của chúng tôi tôi không xin giúp với cho có này được",
    "ht": "mwen nou li yo ak pou nan se pa gen bezwen manje dlo tanpri",
    "tl": "ang ng mga sa at ako kami namin hindi po tulong para may",
}
_WORDS = re.compile(r"[^\W\d_]+")
_BEYOND_LATIN = re.compile("[\u0370-\U0010ffff]")
_ASCII_LETTERS = re.compile("[A-Za-z]")
_SCRIPT_RUNS = re.compile(
    "|".join(f"[{chr(first)}-{chr(last)}]+" for first, last, _ in (*_SCRIPTS, *_SHARED_SCRIPTS))
)


def detect_language(text: str, languages: tuple[str, ...], default: str) -> str:
    """The reply's language code; ``languages`` are the playbook's, ``default`` its first."""
    if not _BEYOND_LATIN.search(text):  # the common case, decided without a loop per character
        return _latin_language(text, languages, default)
    counts: dict[str, int] = {}
    for run in _SCRIPT_RUNS.findall(text):  # a run of one script: a loop per word, not per letter
        lang = _script_language(ord(run[0]), languages)
        if lang:
            counts[lang] = counts.get(lang, 0) + len(run)
    latin = len(_ASCII_LETTERS.findall(text))
    if counts:
        best = max(counts, key=counts.__getitem__)
        if counts[best] >= latin:
            return best
    return _latin_language(text, languages, default)


def _script_language(code: int, languages: tuple[str, ...]) -> str | None:
    for first, last, lang in _SCRIPTS:
        if first <= code <= last:
            return lang
    for first, last, langs in _SHARED_SCRIPTS:
        if first <= code <= last:
            return next((lang for lang in languages if lang in langs), langs[0])
    return None


def _latin_language(text: str, languages: tuple[str, ...], default: str) -> str:
    candidates = [lang for lang in languages if lang in _STOPWORDS]
    if len(candidates) < 2:
        return default
    words = _WORDS.findall(text.lower())
    scores = {lang: sum(1 for w in words if w in _STOPWORD_SETS[lang]) for lang in candidates}
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] == 0 or ranked[0] == ranked[1]:
        return default
    return max(scores, key=scores.__getitem__)


_STOPWORD_SETS = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}
