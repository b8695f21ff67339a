"""Cases: a triaged reply that needs a person. Opening and joining cases, SLA due times and
states (pure arithmetic in ``sla``), waiting on the customer, and the escalation rules (pure, in
``escalation``) that the sweep acts on.

May import: ``broadcast``, ``audience``, ``store`` and the playbook; never agents or intake.
"""
