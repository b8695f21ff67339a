"""crisiscast: crisis communication broadcast and workflow engine.

Import map: ``crisiscast.<x>`` lives in the folder ``<x>/`` for flows, channels and incidents;
everything else lives in ``core/``: ``cli/`` (the command), ``web/`` (the server), ``playbook/``
(the playbook schema), ``config``, ``errors`` and ``runtime``.
"""

__version__ = "0.1.0"
