"""The triage development set (../shared/data/disaster_response) and its severity mapping.

Shared by ``train_triage.py`` and ``triage_eval.py`` so both label rows the same way. The
mapping is the one proposed in the data's README ("Proposed severity mapping"), first match wins.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "disaster_response"
    / "disaster_response_messages.csv"
)
SEVERITIES = ("urgent", "high", "medium", "low")
REPLY_GENRES = ("direct", "social")

_URGENT = ("search_and_rescue", "missing_people", "death", "child_alone", "security")
_HIGH = (
    "request",
    "medical_help",
    "medical_products",
    "water",
    "food",
    "shelter",
    "clothing",
    "refugees",
    "hospitals",
    "buildings",
)
_MEDIUM = (
    "aid_related",
    "other_aid",
    "money",
    "tools",
    "shops",
    "aid_centers",
    "infrastructure_related",
    "transport",
    "electricity",
    "other_infrastructure",
    "weather_related",
    "floods",
    "storm",
    "fire",
    "earthquake",
    "cold",
    "other_weather",
    "military",
    "direct_report",
)


@dataclass(frozen=True)
class Row:
    """One labelled message: its English text, genre, split and mapped severity."""

    text: str
    genre: str
    split: str
    severity: str


def severity_of(row: dict[str, str]) -> str:
    """The README's severity mapping applied to one CSV row."""
    if row["related"] != "1":
        return "low"
    if any(row[k] == "1" for k in _URGENT) or (
        row["medical_help"] == "1" and row["request"] == "1"
    ):
        return "urgent"
    if any(row[k] == "1" for k in _HIGH):
        return "high"
    if any(row[k] == "1" for k in _MEDIUM):
        return "medium"
    return "low"


def load(path: Path = DATA) -> list[Row]:
    """Every row of the development set (the file has a BOM, hence utf-8-sig)."""
    if not path.exists():
        raise SystemExit(f"{path}: development set not found; it lives in ../shared/data/")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [
            Row(r["message"], r["genre"], r["split"], severity_of(r))
            for r in csv.DictReader(handle)
        ]


def subset(rows: list[Row], split: str, genres: tuple[str, ...] | None = None) -> list[Row]:
    """Rows of one split, optionally only some genres."""
    return [r for r in rows if r.split == split and (genres is None or r.genre in genres)]


REPLIES = Path(__file__).resolve().parents[1] / "datasets" / "replies"
REPLY_LANGUAGES = ("en", "th", "lo")
PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"


@dataclass(frozen=True)
class Reply:
    """One reply of the labelled en/th/lo set: its playbook, severity, category and route need."""

    playbook: str
    severity: str
    category: str
    need: str | None  # None: no route ("none" in the file)
    text: str


def load_replies(language: str, part: str, folder: Path = REPLIES) -> list[Reply]:
    """One language's dev or test part of datasets/replies (tab-separated, with a header)."""
    path = folder / f"{language}.{part}.tsv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [
        Reply(
            r["playbook"],
            r["severity"],
            r["category"],
            None if r["need"] == "none" else r["need"],
            r["text"],
        )
        for r in rows
    ]
