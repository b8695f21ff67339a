"""Triage: severity, category, language and the why, from the text of a reply."""
