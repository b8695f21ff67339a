"""The example playbooks, shipped in the package as ``crisiscast.examples`` (YAML only).

This file is here only so that every kind of install finds them: ``pip install -e .`` (the
default, lenient editable mode) cannot import a sub-package without one. ``crisiscast init``
copies the examples out; ``crisiscast.playbook.examples`` reads them.
"""
