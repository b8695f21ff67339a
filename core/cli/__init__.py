"""The ``crisiscast`` command, one module per command group: ``app`` (the Typer app: playbooks,
launch, status, serve, triage), ``broadcast`` (broadcast, update, recall, all-clear),
``response`` (agents, sweep, stand-down, report), ``contacts`` and ``targeting`` (the
directory and who a launch reaches), ``users`` (users, tokens, passwords), ``demo``,
``interrupt`` (what Ctrl-C does while sending), ``common`` (shared options and the store as
the CLI opens it), ``answers`` (how the flow commands print their answers), ``texts`` (an
update's ``--text``) and ``warm_path`` (the flow commands sent straight to a running serve
by ``entry``, without building the app).

Prefect is imported only inside the commands that run a flow, so ``--help`` and warm launches
stay fast. May import anything below it: web, flows, the domain, channels, the playbook.
"""
