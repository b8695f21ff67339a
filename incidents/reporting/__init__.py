"""How it went: the figures of an incident (counted by the database, never by loading rows), the
one-screen summary, the Markdown + HTML report and its SVG charts (``charts``, pure).

May import: ``cases``, ``broadcast``, ``store``.
"""
