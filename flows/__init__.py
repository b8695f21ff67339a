"""Prefect flows: thin compositions of playbooks, channels and the incident store."""
