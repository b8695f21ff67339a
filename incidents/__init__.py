"""The incident domain: models, pure decisions (triage, SLA, assignment) and the store."""
