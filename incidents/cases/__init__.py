"""Cases: a triaged reply that needs a person. Opening and joining cases, SLA due times and
states (pure arithmetic in ``sla``), waiting on the customer, the escalation rules (pure, in
``escalation``) that the sweep acts on, and replies after an incident closed (``after_close``:
the CSAT answer on the case that was asked, and the "this incident has ended" answer).

May import: ``broadcast``, ``audience``, ``store`` and the playbook; never agents or intake.
"""
