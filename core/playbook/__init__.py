"""Playbooks: the YAML format, its validation with precise locations, and template rendering."""
