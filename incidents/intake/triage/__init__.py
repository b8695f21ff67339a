"""Triage: severity, category, language and the why, from the text of a reply.

triage(text, config)              -> TriageResult (pure; no clock, no I/O after the model loads)
default_config()                  built-in crisis rules in English, Thai and Lao
config_from_playbook(playbook)    a playbook's matrix, signals, categories and questions
triage_jsonl(lines, config)       one JSON line per reply
run_triage(stdin, stdout, path)   the body of ``crisiscast triage --playbook PATH``
"""

from __future__ import annotations

from crisiscast.incidents.intake.triage.builtin import default_config
from crisiscast.incidents.intake.triage.config import (
    CategoryRule,
    Question,
    SignalRule,
    Subcategory,
    TriageConfig,
)
from crisiscast.incidents.intake.triage.engine import TriageResult, triage
from crisiscast.incidents.intake.triage.from_playbook import config_from_playbook
from crisiscast.incidents.intake.triage.jsonl import load_config, run_triage, triage_jsonl
from crisiscast.incidents.intake.triage.language import detect_language
from crisiscast.incidents.intake.triage.model import TriageModel, default_model, load_model

__all__ = [
    "CategoryRule",
    "Question",
    "SignalRule",
    "Subcategory",
    "TriageConfig",
    "TriageModel",
    "TriageResult",
    "config_from_playbook",
    "default_config",
    "default_model",
    "detect_language",
    "load_config",
    "load_model",
    "run_triage",
    "triage",
    "triage_jsonl",
]
