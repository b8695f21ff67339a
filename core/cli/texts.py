"""``--text`` and ``--text-file`` as an update takes them: the fallback language's text, or
one text per language. Apart from the broadcast commands so that the thin warm path
(``warm_path``) reads them the same way without loading Typer.
"""

from __future__ import annotations

from pathlib import Path

from crisiscast.errors import ConfigError


def parse_texts(items: list[str] | None, text_file: Path | None) -> dict[str, str]:
    """``--text 'words'`` (the fallback language), ``--text th='คำ'``, or a file of
    ``language: text`` (YAML or JSON); every language once."""
    import re

    texts: dict[str, str] = {}
    if text_file is not None:
        import yaml

        try:
            data = yaml.safe_load(text_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"--text-file {text_file}: cannot read it ({exc.__class__.__name__}); give a "
                "UTF-8 YAML file of language: text, e.g. en: Water is rising"
            ) from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
        ):
            raise ConfigError(
                f"--text-file {text_file}: write one 'language: text' line per language, "
                "e.g. en: Water is rising"
            )
        texts.update({k.strip().lower(): v.strip() for k, v in data.items()})
    for item in items or []:
        match = re.match(r"^([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)=(.*)$", item, re.DOTALL)
        language, body = (match.group(1).lower(), match.group(2)) if match else ("", item)
        if language in texts:
            raise ConfigError(f"--text for {language or 'the fallback'} is given twice")
        if not body.strip():
            raise ConfigError("--text is empty: write the update, e.g. --text 'Water is rising'")
        texts[language] = body.strip()
    return texts
