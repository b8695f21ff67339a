"""crisiscast: crisis communication broadcast and workflow engine.

Import map: ``crisiscast.<x>`` lives in the folder ``<x>/`` for flows, channels and incidents;
everything else (CLI, config, errors, playbook schema) lives in ``core/``.
"""

__version__ = "0.1.0"
