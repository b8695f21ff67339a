"""Translated text: a ``{language: text}`` map that must cover every language of the playbook.

The playbook's ``languages`` are only known while the whole playbook is being validated, so the
``Playbook`` model publishes them in a context variable for the duration of its validation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints, WithJsonSchema

LANGUAGE_REGEX = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
_LANGUAGES: ContextVar[tuple[str, ...] | None] = ContextVar("playbook_languages", default=None)


@contextmanager
def languages_in_scope(languages: Any) -> Iterator[None]:
    """Make ``languages`` (when it is a usable list) known to translated fields validated inside."""
    usable = (
        isinstance(languages, list)
        and bool(languages)
        and all(isinstance(code, str) for code in languages)
    )
    token = _LANGUAGES.set(tuple(languages) if usable else None)
    try:
        yield
    finally:
        _LANGUAGES.reset(token)


def _example(languages: tuple[str, ...]) -> str:
    return "{" + ", ".join(f'{code}: "..."' for code in languages) + "}"


def _as_text_map(value: Any) -> Any:
    """Accept a plain string for one language; else require exactly the playbook's languages."""
    languages = _LANGUAGES.get()
    if isinstance(value, str):
        if languages is None:
            return {"und": value}
        if len(languages) == 1:
            return {languages[0]: value}
        raise ValueError(
            "a plain string works only in a single-language playbook: give one text per "
            f"language, e.g. {_example(languages)}"
        )
    if isinstance(value, dict) and languages is not None:
        missing = [code for code in languages if code not in value]
        if missing:
            raise ValueError(
                f"missing the {', '.join(missing)} text: every language in `languages` needs one; "
                f'add {missing[0]}: "..."'
            )
        extra = [str(code) for code in value if code not in languages]
        if extra:
            raise ValueError(
                f"text in {', '.join(extra)}, which is not in languages "
                f"[{', '.join(languages)}]: add it to `languages` or remove it"
            )
    return value


_TEXT_SCHEMA = {
    "description": "Text per language ({en: ..., th: ...}); a plain string for one language.",
    "anyOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "propertyNames": {"pattern": LANGUAGE_REGEX},
            "additionalProperties": {"type": "string", "minLength": 1},
            "minProperties": 1,
        },
    ],
}

Translated = Annotated[
    dict[str, Annotated[str, StringConstraints(min_length=1)]],
    BeforeValidator(_as_text_map),
    WithJsonSchema(_TEXT_SCHEMA),
]
"""A field type for user-facing text, one entry per playbook language."""
