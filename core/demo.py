"""``crisiscast demo``: one incident played end to end on the embedded default.

It uses the real parts (playbook validation, Prefect runs, the SQLite store, the outbox
channels, the banner publisher, triage and case intake) and runs as an exercise, so nothing
leaves the machine even where credentials are set.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError, PlaybookError

DEMO_CONTACTS = 300
LANGUAGES = ("en", "th", "lo")
# Scripted replies as they would arrive by SMS: (contact index, text).
REPLIES = (
    (0, "Water is rising fast, 200 people are trapped on the school roof!"),
    (1, "น้ำท่วมบ้าน มีคนติดอยู่ในบ้าน 5 คน ช่วยด้วย"),
    (3, "just checking in"),
    (4, "STOP"),
)


def _as_param(value: Any) -> str:
    """A typed sample value written the way a commander would type it after --param."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def write_contacts(path: Path, count: int = DEMO_CONTACTS) -> list[str]:
    """A made-up audience (Thai mobile numbers, example.org emails); returns the phones."""
    path.parent.mkdir(parents=True, exist_ok=True)
    phones = [f"+66 81 {i // 10000:03d} {i % 10000:04d}" for i in range(count)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "phone", "email", "language"])
        for i, phone in enumerate(phones):
            writer.writerow([f"Resident {i}", phone, f"resident{i}@example.org", LANGUAGES[i % 3]])
    return ["+6681" + p[7:].replace(" ", "") for p in phones]


def run_demo(playbook: Path, settings: Settings, out: Console) -> str:
    """Validate, preview, launch and broadcast an exercise, take replies, show the status."""
    from crisiscast import cli
    from crisiscast.playbook import load_playbook, render_all, render_title, sample_params

    if not playbook.exists():
        raise CrisiscastError(
            f"{playbook} not found: run the demo from the repository root, or pass "
            "--playbook path/to/playbook.yaml"
        )
    out.rule("1. validate the playbooks")
    for path in sorted(playbook.parent.glob("*.yaml")):
        try:
            book = load_playbook(path)
        except PlaybookError as exc:
            out.print(f"[red]✗[/red] {path}: {len(exc.problems)} problems", highlight=False)
            continue
        out.print(f"[green]✓[/green] {path} ({', '.join(book.languages)})", highlight=False)

    book = load_playbook(playbook)
    samples = sample_params(book)
    params = {k: _as_param(v) for k, v in samples.items() if v is not None}
    title = render_title(book, samples)
    out.rule("2. preview what will be said")
    incident = {"ref": "INC-PREVIEW", "title": title, "exercise": True}
    messages = render_all(book, samples, incident, when="launch")
    per_channel = Counter(m.channel for m in messages)
    out.print(
        f"{title}: {len(messages)} launch messages ("
        + ", ".join(f"{c} ×{n}" for c, n in sorted(per_channel.items()))
        + ")",
        highlight=False,
    )
    for m in messages:
        if m.channel == "sms":
            out.print(f"[dim]sms ({m.language}):[/dim] ", end="", highlight=False)
            out.print(m.text, highlight=False, markup=False)

    out.rule("3. launch and broadcast (exercise: nothing leaves this machine)")
    contacts = settings.home / "demo" / "contacts.csv"
    phones = write_contacts(contacts)
    shown = " ".join(f'-p {k}="{v}"' for k, v in params.items())
    out.print(
        f"$ crisiscast launch {playbook} {shown} --audience {contacts} --exercise",
        highlight=False,
        markup=False,
    )
    options = {"audience": str(contacts), "default_region": "TH", "send": True}
    ref, mode = cli._launch(playbook, params, True, settings, options)
    out.print(f"[bold green]{ref}[/bold green] launched ({mode})", highlight=False)
    _show_outbox(settings, ref, out)

    out.rule("4. replies arrive and are triaged")
    _replies(settings, phones, out)

    out.rule(f"5. crisiscast status {ref}")
    store = cli._open_store(settings)
    try:
        from crisiscast.incidents import store as st

        with store.session() as session:
            summary = st.incident_summary(session, st.get_incident(session, ref))
    finally:
        store.dispose()
    cli._print_summary(summary)
    out.print(
        f"\nDone. The incident is in {store.safe_url}; `crisiscast status {ref}` shows it again "
        "and `prefect flow-run ls` lists the runs. With `crisiscast serve` running, the "
        f"incident page and banner are at http://127.0.0.1:8765/incidents/{ref}/",
        highlight=False,
    )
    return ref


def _show_outbox(settings: Settings, ref: str, out: Console) -> None:
    """What each channel recorded, and where the banner and incident page were published."""
    outbox = settings.outbox_dir / ref
    table = Table("channel", "records in the outbox", "file")
    for path in sorted(outbox.glob("*.jsonl")):
        with path.open("rb") as fh:
            table.add_row(path.stem, str(sum(1 for _ in fh)), str(path))
    site = settings.home / "site" / ref
    if (site / "banner.json").exists():
        table.add_row("banner", "published", str(site / "index.html"))
    out.print(table)


def _replies(settings: Settings, phones: list[str], out: Console) -> None:
    """Scripted SMS replies through the same intake the webhooks use."""
    from crisiscast.incidents.intake import Inbound, Intake
    from crisiscast.incidents.store import Store

    store = Store.from_settings(settings)
    store.upgrade()
    intake = Intake(store)
    table = Table("reply", "outcome", "severity", "lang", "auto-reply (start)")
    stamp = datetime.now(UTC)
    try:
        for n, (who, text) in enumerate(REPLIES):
            sid = f"SMdemo{stamp:%Y%m%d%H%M%S%f}{n}"
            result = intake.receive(Inbound("sms", sid, phones[who], text), now=datetime.now(UTC))
            case = f" #{result.case_id}" if result.case_id else ""
            reply = (result.reply or "").replace("\n", " ")
            table.add_row(
                text[:40], f"{result.outcome}{case}", result.severity or "", result.language or "",
                reply[:48],
            )  # fmt: skip
    finally:
        store.dispose()
    out.print(table)
