"""The incident domain, one room (sub-package) per part of it.

| room         | what lives there                                                        |
| ------------ | ----------------------------------------------------------------------- |
| ``store``    | models, the database and its migrations, column types                   |
| ``audience`` | the contact directory, lists, filters, areas, CSV import, opt-outs      |
| ``broadcast``| staging, the delivery ledger, counts, receipts, reach, the hot path      |
| ``cases``    | cases, SLA arithmetic, waiting on the customer, escalation rules         |
| ``intake``   | inbound messages, acknowledgements, ``triage/``                          |
| ``agents``   | roster, commands by SMS/email, assignment, paging, staffing, the sweep   |
| ``reporting``| figures, the incident summary, the Markdown/HTML report and its charts   |
| ``lifecycle``| where an incident can go from where it is                                |
| ``people``   | users and roles, passwords, tokens, sessions, approvals, the audit log   |

Imports point down this list's layers: agents | intake | reporting -> cases | lifecycle ->
broadcast -> audience -> people -> store (import-linter contracts in pyproject.toml, run in
CI): every room may write the audit log. Pure decision modules (``broadcast.decisions``,
``cases.sla``, ``cases.escalation``, ``agents.assignment``, ``agents.staffing``,
``agents.commands``, ``intake.triage``, ``reporting.charts``, ``audience.areas``,
``people.roles``) import no storage, no I/O and no Prefect. Only
``crisiscast.flows`` and the interfaces (``crisiscast.cli``, ``crisiscast.web``) import Prefect.
"""
