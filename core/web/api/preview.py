"""What a launch, update or recall would do, worked out in a transaction that is rolled back:
the rendered messages, reach per channel and language, SMS segments and their cost.

The same function checks a request (a bad parameter, list, filter or file fails here, before
any flow runs) and makes the preview an approver sees, so both people look at one thing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisiscast.channels.sms_segments import count_segments
from crisiscast.errors import ConfigError
from crisiscast.incidents.audience.csv_import import (
    audience_list,
    check_contacts_file,
    check_region,
    import_contacts,
    rejects_path,
)
from crisiscast.incidents.audience.directory import (
    NO_TARGET,
    TargetSpec,
    create_target,
    require_target,
    target_members,
)
from crisiscast.incidents.broadcast.decisions import exercise_marked
from crisiscast.incidents.broadcast.reach_report import ReachRow, reach_report
from crisiscast.incidents.broadcast.staging import launch_spec, stage_update
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Announcement, Delivery, DeliveryStatus, Incident
from crisiscast.playbook import Playbook, load_playbook, render_all, render_title, resolve_params
from crisiscast.playbook.examples import find_example
from crisiscast.web.api.models import (
    LaunchBody,
    MessageOut,
    PreviewOut,
    ReachOut,
    UpdateBody,
)


@contextmanager
def rolled_back(store: Store) -> Iterator[Session]:
    """A session whose changes are always undone (previews import and stage, then forget)."""
    session = Session(store.engine)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def playbook_file(name: str) -> str:
    """A playbook path as given, or the packaged example a bare name means."""
    path = Path(name)
    if path.exists() or path.parent != Path():
        return name
    found = find_example(path.name)
    return str(found) if found else name


def _audiences(book: Playbook) -> dict[str, list[str]]:
    return {n: list(a.channels) for n, a in book.audiences.items()}


def _preview(
    kind: str,
    target: str | None,
    messages: Sequence[MessageOut],
    rows: Sequence[ReachRow],
    price: float,
) -> PreviewOut:
    """Put the cost on each SMS message (its segments x whom its language reaches)."""
    reached = {(r.channel, r.language): r.reached for r in rows}
    priced = []
    for m in messages:
        if m.channel == "sms":
            count = count_segments(m.text)
            people = reached.get(("sms", m.language), 0)
            m = m.model_copy(
                update={
                    "encoding": count.encoding,
                    "segments": count.segments,
                    "recipients": people,
                    "cost": round(count.segments * people * price, 4),
                }
            )
        priced.append(m)
    segments = sum((m.segments or 0) * (m.recipients or 0) for m in priced)
    return PreviewOut(
        kind=kind,  # type: ignore[arg-type]
        target=target,
        messages=priced,
        reach=[
            ReachOut(
                channel=r.channel,
                language=r.language,
                reached=r.reached,
                opted_out=r.opted_out,
                no_address=r.no_address,
                fallback=r.fallback,
            )
            for r in rows
        ],
        sms_segments=segments,
        sms_cost=round(segments * price, 4),
        sms_price=price,
    )


def launch_preview(session: Session, body: LaunchBody, now: datetime) -> PreviewOut:
    """Everything a launch checks, and what it would send to whom (``session`` is undone)."""
    book = load_playbook(playbook_file(body.playbook))
    values = resolve_params(book, body.params)
    context = {"ref": "INC-PREVIEW", "title": render_title(book, values), "exercise": body.exercise}
    rendered = render_all(book, values, context, when="launch")
    check_region(body.default_region)
    spec = TargetSpec.from_json(body.target)
    if spec.empty and not body.audience:
        lists = sorted({n for a in book.audiences.values() for n in a.lists})
        if not lists:
            raise ConfigError(f"target: no target named and the playbook has none: {NO_TARGET}")
        spec = TargetSpec(tuple(lists))
    if body.audience:
        check_contacts_file(body.audience, body.default_region)
        name = audience_list(body.audience)
        import_contacts(
            session,
            body.audience,
            default_region=body.default_region,
            languages=book.languages,
            list_name=name,
            rejects=rejects_path(body.audience),
            now=now,
            replace=True,
        )
        spec = spec.merged(TargetSpec(lists=(name,)))
    chosen = create_target(session, require_target(spec), incident_id=None, now=now)
    channels = sorted({m.channel for m in rendered})
    rows = reach_report(
        session,
        target_members(session, chosen),
        channels=channels,
        languages=book.languages,
        audiences=_audiences(book),
    )
    messages = [
        MessageOut(
            announcement=m.announcement_id,
            channel=m.channel,
            language=m.language,
            subject=m.subject,
            text=exercise_marked(m.text, m.language)
            if body.exercise and m.channel == "sms"
            else m.text,
        )
        for m in rendered
    ]
    return _preview("launch", spec.describe(), messages, rows, body.sms_price)


def update_preview(
    session: Session, incident: Incident, body: UpdateBody, now: datetime
) -> PreviewOut:
    """The update staged for real in ``session`` (undone after): its messages and reach."""
    if not body.texts and not body.announcement:
        raise ConfigError(
            "texts or announcement: an update needs new text per language "
            '({"texts": {"en": "Water is rising"}}) or a playbook announcement id'
        )
    if body.texts and body.announcement:
        raise ConfigError("texts and announcement: give one of them, not both")
    book = load_playbook(incident.playbook_path)
    spec = TargetSpec.from_json(body.target) if body.target else launch_spec(session, incident.id)
    chosen = create_target(session, require_target(spec), incident_id=incident.id, now=now)
    staged = stage_update(
        session,
        incident,
        book,
        announcement=body.announcement,
        texts=body.texts,
        params=body.params or None,
        target_id=chosen.id,
        now=now,
    )
    rows = session.scalars(
        select(Announcement).where(
            Announcement.incident_id == incident.id, Announcement.announcement_id.in_(list(staged))
        )
    ).all()
    languages = list(book.languages)
    reach = reach_report(
        session,
        target_members(session, chosen),
        channels=sorted({r.channel for r in rows}),
        languages=languages,
        audiences=_audiences(book),
    )
    messages = [
        MessageOut(
            announcement=r.announcement_id,
            channel=r.channel,
            language=r.language,
            subject=r.subject,
            text=r.body,
        )
        for r in rows
    ]
    return _preview("update", spec.describe(), messages, reach, body.sms_price)


def recall_preview(session: Session, incident: Incident) -> PreviewOut:
    """What a recall stops: the deliveries still queued, per channel."""
    queued = session.execute(
        select(Delivery.channel, func.count())
        .where(Delivery.incident_id == incident.id, Delivery.status == DeliveryStatus.QUEUED)
        .group_by(Delivery.channel)
    ).all()
    preview = _preview("recall", None, [], [], 0.0)
    preview.queued = {str(channel): int(count) for channel, count in queued}
    return preview


def as_json(preview: PreviewOut) -> dict[str, Any]:
    """The preview as an approval row stores it."""
    return preview.model_dump(mode="json")
