"""``crisiscast demo``: one incident played end to end on the embedded default.

It uses the real parts (playbook validation, Prefect runs, the SQLite store, the outbox
channels, the banner publisher, triage and case intake) and runs as an exercise, so nothing
leaves the machine even where credentials are set.

It runs from any folder: the example playbooks ship in the package and are copied into
``$CRISISCAST_HOME/demo/playbooks`` (rewritten each run), so the commands it shows can be typed
again. It can be run again and again in the same home: each run opens a new incident. Agents
are global (the same people work every incident), so a later run reuses the demo agents the
first one added, on duty as the story starts (Noi on call, the volunteers on standby), instead
of adding them twice. Open cases of earlier demo incidents stay with whoever holds them (the
playbook keeps open cases at stand-down), so a later run has fewer free hands and says so.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError, PlaybookError

DEMO_PLAYBOOK = "regional-flood.yaml"
DEMO_CONTACTS = 300
LANGUAGES = ("en", "th", "lo")
# Scripted replies as they would arrive by SMS: (contact index, text).
REPLIES = (
    (0, "Water is rising fast, 200 people are trapped on the school roof!"),
    (1, "น้ำท่วมบ้าน มีคนติดอยู่ในบ้าน 5 คน ช่วยด้วย"),
    (3, "just checking in"),
    (4, "STOP"),
)
# Then the wave: many people at once, as in a real flood (enough to need more hands).
WAVE = (
    "Water is up to the first floor, {n} of us trapped upstairs, please send a boat",
    "น้ำท่วมสูงมาก ติดอยู่บนหลังคา {n} คน ช่วยด้วย",
)
WAVE_SIZE = 24
STANDBY = (("Lek (standby)", "+66810000101"), ("Dao (standby)", "+66810000102"),
           ("Ton (standby)", "+66810000103"))  # fmt: skip


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


def demo_playbooks(settings: Settings) -> Path:
    """The example playbooks, copied fresh into the demo's folder; returns the flood one."""
    from crisiscast.playbook.examples import copy_examples

    folder = settings.home / "demo" / "playbooks"
    copy_examples(folder, force=True)
    return folder / DEMO_PLAYBOOK


def run_demo(playbook: Path | None, settings: Settings, out: Console) -> str:
    """The whole story: validate, preview, launch and broadcast an exercise, take replies,
    page an agent who acts by SMS, escalate a breach, stand down, write the report.

    ``playbook`` None plays the packaged regional-flood example (see the module docstring).
    """
    from crisiscast.cli import app as cli
    from crisiscast.cli.common import open_store, playbook_path
    from crisiscast.playbook import load_playbook, render_all, render_title, sample_params

    playbook = demo_playbooks(settings) if playbook is None else playbook_path(playbook)
    if not playbook.is_file():
        raise CrisiscastError(
            f"{playbook} not found: pass --playbook path/to/playbook.yaml, or leave it out "
            "to play the regional-flood example"
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
    # Its own list (the file's name), so a later `--audience contacts.csv` never reaches them.
    contacts = settings.home / "demo" / "demo-flood-residents.csv"
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
    cases = _replies(settings, phones, out)

    _agents_story(settings, ref, cases, phones, out)

    out.rule(f"9. crisiscast status {ref}")
    store = open_store(settings)
    try:
        from crisiscast.incidents.reporting.figures import collect
        from crisiscast.incidents.reporting.render import write_report
        from crisiscast.incidents.reporting.summary import incident_summary
        from crisiscast.incidents.store import database as st

        with store.session() as session:
            incident_row = st.get_incident(session, ref)
            summary = incident_summary(session, incident_row)
            data = collect(session, incident_row, datetime.now(UTC))
    finally:
        store.dispose()
    cli._print_summary(summary)
    files = write_report(data, settings.home / "reports")
    _report_figures(data, out)
    out.print(f"\nReport: {files.markdown} and {files.html}", highlight=False)
    out.print(
        f"Done. `crisiscast status {ref}` shows the incident again and `prefect flow-run ls` "
        "lists the runs. With `crisiscast serve` running, the incident page is at "
        f"http://127.0.0.1:8765/incidents/{ref}/",
        highlight=False,
    )
    password = demo_commander(settings)
    out.print(
        f"Console: run `crisiscast serve`, open http://127.0.0.1:8765/console/incidents/{ref} "
        f"and sign in as {DEMO_COMMANDER} with the password {password} (the demo's own "
        "commander in this home: it gets a new password every run).",
        highlight=False,
        markup=False,
    )
    return ref


DEMO_COMMANDER = "demo-commander"


def demo_commander(settings: Settings) -> str:
    """Add the demo's commander (or give it a new password) and return the password.

    A fresh random password each run: printing a fixed one would be a known password for
    anyone who starts ``serve`` on a real network from a home the demo once ran in.
    """
    import secrets

    from crisiscast.cli.common import open_store
    from crisiscast.incidents.people.audit import Actor, record
    from crisiscast.incidents.people.users import by_username, create_user, set_password

    password = secrets.token_urlsafe(12)
    now = datetime.now(UTC)
    store = open_store(settings)
    try:
        with store.session() as session:
            user = by_username(session, DEMO_COMMANDER)
            if user is None:
                user = create_user(session, DEMO_COMMANDER, "commander", now=now,
                                   display_name="Demo commander", password=password)  # fmt: skip
                action = "user.add"
            else:
                set_password(session, user, password)
                action = "user.passwd"
            record(session, Actor.cli(), action, now=now, subject=f"user {user.id}",
                   detail={"username": DEMO_COMMANDER, "by": "crisiscast demo"})  # fmt: skip
    finally:
        store.dispose()
    return password


AGENT_PHONE = "+66810000001"


def _agents_story(
    settings: Settings, ref: str, cases: list[int], phones: list[str], out: Console
) -> None:
    """Assignment, an SMS page, the agent's ACK and DONE, scale-up, a breach, stand-down."""
    from crisiscast.cli.common import open_store
    from crisiscast.flows.sla_sweep import sla_sweep
    from crisiscast.flows.stand_down import stand_down
    from crisiscast.incidents.agents.desk import handle_agent_message

    store = open_store(settings)
    out.rule("5. on-call agents: the sweep assigns urgent cases and pages by SMS")
    try:
        with store.session() as session:
            reused = _demo_agent(session, "Noi (on call)", AGENT_PHONE, capacity=2, standby=False)
            for name, phone in STANDBY:  # volunteers on the standby list, not on duty
                reused += _demo_agent(session, name, phone, capacity=5, standby=True)
        if reused:
            out.print(
                f"{reused} demo agents are already on the roster (an earlier demo added them): "
                "the same people again. Cases the roster still holds from earlier demos stay "
                "open (the playbook keeps them at stand-down), so fewer hands are free.",
                highlight=False,
            )
        done = sla_sweep(settings.database_url)
        out.print(f"sweep: {_actions(done, ref)}", highlight=False)
        page = _first_page(settings, ref)
        if page:
            out.print("[dim]page sent by SMS:[/dim] ", end="", highlight=False)
            out.print(page, highlight=False, markup=False)
        invitation = _first_sms(settings, ref, "invite")
        if invitation:
            out.print("[dim]backlog too high, standby invited by SMS:[/dim] ", end="")
            out.print(invitation, highlight=False, markup=False)
        for _, phone in STANDBY[:2]:
            with store.session() as session:
                reply = handle_agent_message(session, phone, "YES", now=datetime.now(UTC))
            out.print(f"> YES (from a standby volunteer)\n< {reply}", highlight=False, markup=False)
        done = sla_sweep(settings.database_url)
        out.print(f"sweep: {_actions(done, ref)}", highlight=False)

        out.rule("6. the agent answers by SMS, from the phone, without logging in")
        first, second = [*cases, 0, 0][:2]
        commands = (
            (first, f"ack {first}"),
            (first, f"DONE {first} family of 4 taken out by boat"),
            (second, f"ถาม {second} มีเด็กหรือผู้สูงอายุอยู่ด้วยไหม"),  # ASK in Thai: SLA pauses
        )
        for case_id, command in commands:
            with store.session() as session:
                phone = _holder_phone(session, case_id)
                reply = handle_agent_message(
                    session, phone, command, now=datetime.now(UTC), settings=settings
                )
            out.print(f"> {command}\n< {reply}", highlight=False, markup=False)
        answer = _customer_answers(store, phones[1], "มีผู้สูงอายุ 2 คน", settings)
        out.print(f"customer answers in Thai -> case {answer}: SLA clock running again")
        relayed = _first_sms(settings, ref, "relay")  # the answer, on to the agent who asked
        if relayed:
            out.print("[dim]the answer, sent on to the agent by SMS:[/dim] ", end="")
            out.print(relayed, highlight=False, markup=False)

        out.rule("7. 45 minutes later: unanswered urgent cases breach their SLA and escalate")
        later = datetime.now(UTC) + timedelta(minutes=45)
        done = sla_sweep(settings.database_url, now=later, commander="commander@example.org")
        out.print(f"sweep: {_actions(done, ref)}", highlight=False)
    finally:
        store.dispose()

    out.rule(f"8. crisiscast stand-down {ref}")
    from crisiscast.flows.launch import public_url
    from crisiscast.incidents.agents.stand_down import describe

    # On the story's clock: after step 7's "45 minutes later", so the report's timeline shows
    # the escalations before the closure, as they happened in the story.
    result = stand_down(ref, settings.database_url, public_url(), now=later + timedelta(minutes=1))
    out.print("stood down:", highlight=False)
    for line in describe(result):
        out.print(f"  {line}", highlight=False, markup=False)
    _csat_answer(settings, phones[0], later + timedelta(minutes=2), out)


def _csat_answer(settings: Settings, phone: str, now: datetime, out: Console) -> None:
    """The rescued customer answers the satisfaction question after the incident closed."""
    from crisiscast.cli.common import open_store
    from crisiscast.incidents.intake.inbound import Inbound, Intake

    store = open_store(settings)
    try:
        sid = f"SMcsat{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        result = Intake(store).receive(Inbound("sms", sid, phone, "5"), now=now)
    finally:
        store.dispose()
    out.print(
        f"> 5 (the rescued customer rates us)\n< {result.reply}\n"
        f"  {result.outcome} on case {result.case_id} of {result.incident_ref}",
        highlight=False,
        markup=False,
    )


def _report_figures(data: Any, out: Console) -> None:
    """The report's breach and escalation counts (from the recorded events, step 7 included)."""
    from crisiscast.incidents.cases.sla import Clock
    from crisiscast.incidents.reporting.figures import figures

    figs = figures(data)
    first = sum(b[Clock.FIRST_RESPONSE] for b in figs.breaches.values())
    resolution = sum(b[Clock.RESOLUTION] for b in figs.breaches.values())
    out.print(
        f"report: {first} first-response and {resolution} resolution SLA breaches, "
        f"{sum(figs.escalations.values())} escalations",
        highlight=False,
    )


def _demo_agent(session: Any, name: str, phone: str, *, capacity: int, standby: bool) -> int:
    """Add one demo agent, or reuse the one an earlier demo run added; 1 when reused.

    Agents are global and their phones unique, so a second run meets the same people, put back
    on duty as the story starts (on call, or a volunteer on standby: an interrupted run may have
    left one on duty). Cases they still hold from an earlier demo stay theirs.
    """
    from crisiscast.incidents.agents.roster import add_agent, find_agent

    values: dict[str, Any] = {
        "name": name,
        "languages": ["th", "en"],
        "skills": ["rescue"],
        "capacity": capacity,
        "temporary": standby,
        "active": not standby,
    }
    agent = find_agent(session, phone)
    if agent is None:
        add_agent(session, phone=phone, **values)
        return 0
    for key, value in {**values, "pass_expires_at": None}.items():
        setattr(agent, key, value)
    session.flush()
    return 1


def _holder_phone(session: Any, case_id: int) -> str:
    """The phone of the agent holding ``case_id`` (the one whose SMS the desk accepts)."""
    from crisiscast.incidents.agents.roster import get_agent, holder_of

    held = holder_of(session, case_id)
    agent = get_agent(session, held.agent_id) if held else None
    return agent.phone if agent and agent.phone else AGENT_PHONE


def _customer_answers(store: Any, phone: str, text: str, settings: Settings) -> str:
    """The customer's SMS answer, through the same intake (and ASK relay) the webhook uses."""
    from crisiscast.incidents.agents.relay import relay_hook
    from crisiscast.incidents.intake.inbound import Inbound, Intake

    sid = f"SManswer{datetime.now(UTC):%Y%m%d%H%M%S%f}"
    intake = Intake(store, on_answer=relay_hook(store, settings))
    result = intake.receive(Inbound("sms", sid, phone, text), now=datetime.now(UTC))
    return f"#{result.case_id} ({result.outcome})"


def _actions(done: dict[str, dict[str, int]], ref: str) -> str:
    actions = done.get(ref, {})
    return ", ".join(f"{k} {v}" for k, v in sorted(actions.items()) if v) or "nothing due"


def _first_page(settings: Settings, ref: str) -> str | None:
    return _first_sms(settings, ref, "page")


def _first_sms(settings: Settings, ref: str, kind: str) -> str | None:
    """The first SMS of a kind (its key starts ``kind:``) that the outbox recorded."""
    path = settings.outbox_dir / ref / "sms.jsonl"
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if str(record.get("key", "")).startswith(f"{kind}:"):
                return str(record.get("text", ""))
    return None


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


def _replies(settings: Settings, phones: list[str], out: Console) -> list[int]:
    """Scripted SMS replies through the same intake the webhooks use."""
    from crisiscast.cli.common import open_store
    from crisiscast.incidents.intake.inbound import Inbound, Intake, Pending

    store = open_store(settings)
    intake = Intake(store)
    table = Table("reply", "outcome", "severity", "lang", "auto-reply (start)")
    stamp = datetime.now(UTC)
    cases: list[int] = []
    try:
        for n, (who, text) in enumerate(REPLIES):
            sid = f"SMdemo{stamp:%Y%m%d%H%M%S%f}{n}"
            result = intake.receive(Inbound("sms", sid, phones[who], text), now=datetime.now(UTC))
            case = f" #{result.case_id}" if result.case_id else ""
            if result.case_id and result.severity == "urgent":
                cases.append(result.case_id)
            reply = (result.reply or "").replace("\n", " ")
            table.add_row(
                text[:40], f"{result.outcome}{case}", result.severity or "", result.language or "",
                reply[:48],
            )  # fmt: skip
        wave = [
            Pending(Inbound("sms", f"SMwave{stamp:%Y%m%d%H%M%S%f}{i}", phones[10 + i],
                            WAVE[i % 2].format(n=2 + i % 5)), datetime.now(UTC), "short")
            for i in range(WAVE_SIZE)
        ]  # fmt: skip
        by_severity = Counter(r.severity for r in intake.receive_many(wave))
    finally:
        store.dispose()
    out.print(table)
    shown = ", ".join(f"{n} {sev}" for sev, n in sorted(by_severity.items(), key=str))
    out.print(f"…then a wave of {WAVE_SIZE} more replies, English and Thai: {shown}")
    return cases
