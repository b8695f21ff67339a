"""Everything that comes in: an inbound message is stored first (nothing accepted is lost),
then matched to its incident, triaged (``triage/``, pure), turned into an opt-out or a case,
and acknowledged at most once per case per window.

May import: ``cases``, ``broadcast``, ``audience``, ``store`` and the playbook.
"""
