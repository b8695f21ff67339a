"""The people who answer: the roster and day passes, agents' SMS and email commands (parsing is
pure, in ``commands``; INFO, STATUS and the audit entry in ``case_commands``), assignment and
staffing decisions (pure), paging and the signed case links in pages (``case_link``), ASK
answers relayed to the agent (``relay``), the SLA sweep's steps, and what standing down does
to agents and open cases.

May import: ``cases``, ``broadcast``, ``audience``, ``people``, ``store``, the channels and
the playbook.
"""
