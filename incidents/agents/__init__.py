"""The people who answer: the roster and day passes, agents' SMS and email commands (parsing is
pure, in ``commands``), assignment and staffing decisions (pure), paging, the SLA sweep's
steps, and what standing down does to agents and open cases.

May import: ``cases``, ``broadcast``, ``audience``, ``store``, the channels and the playbook.
"""
