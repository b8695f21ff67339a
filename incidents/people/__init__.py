"""People and permissions: users and their roles, passwords, API tokens, console sessions,
two-person approvals and the audit log of who did what.

It sits just above ``store`` so every other room can record to the audit log. ``roles`` is
pure (the permission matrix); the rest reads and writes the store.
"""
