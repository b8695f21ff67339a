"""The playbook format as pydantic models: unknown keys are errors, every field is typed.

A playbook is data an incident commander launches; these models are what the rest of crisiscast
reads (triage reads ``severity``, staffing reads ``staffing``, flows read ``announcements``).
Cross-field rules that need the whole document live in ``checks.py``, where each finding keeps
its location in the YAML.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from crisiscast.errors import Problem
from crisiscast.playbook.durations import Duration
from crisiscast.playbook.locate import Finding, Spot, problem_for
from crisiscast.playbook.text import LANGUAGE_REGEX, Translated, languages_in_scope
from crisiscast.playbook.values import ParamType, convert

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_REGEX)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]

ChannelKind = Literal["sms", "email", "social", "banner", "chat"]
RouteChannel = Literal["live_chat", "agent_message", "self_service", "phone", "email", "sms", "web"]
When = Literal["launch", "update", "all_clear"]
RoutingRule = Literal["language", "skill", "load"]
DEFAULT_ROUTING: tuple[RoutingRule, ...] = ("language", "skill", "load")
DEFAULT_STATUSES = ["new", "acknowledged", "waiting_on_customer", "resolved", "closed"]


def _time_zone(name: str) -> str:
    """An IANA zone name the system knows (``Asia/Bangkok``), or a clear error."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Asia/Bangkok, Europe/Paris "
            "or UTC"
        ) from None
    return name


TimeZone = Annotated[str, AfterValidator(_time_zone)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Parameter(_Model):
    """A value the commander fills in at launch; templates use it by name."""

    type: ParamType
    description: str = ""
    required: bool = False
    default: Any = None
    example: Any = None
    choices: list[NonEmpty] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice parameter needs `choices`, e.g. choices: [north, south]")
        if self.type != "choice" and self.choices is not None:
            raise ValueError(f"`choices` only applies to type: choice, not type: {self.type}")
        if self.required and self.default is not None:
            raise ValueError("a parameter is either required or has a default: remove one of them")
        for key in ("default", "example"):
            value = getattr(self, key)
            if value is not None:
                try:
                    convert(self.type, value, self.choices)
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None
        return self


ListName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]


class Audience(_Model):
    """A group of people and the channels that reach them."""

    description: str = ""
    channels: list[ChannelKind] = Field(min_length=1)
    lists: list[ListName] = Field(default_factory=list)
    """Contact lists a launch reaches when it names no target (its default selector)."""


_URL_ROUTES = {"live_chat", "self_service", "web"}


class Route(_Model):
    """Which channel serves which need: the heart of every announcement."""

    need: Name
    label: Translated
    channel: RouteChannel
    target: NonEmpty
    hours: str = "24/7"

    @model_validator(mode="after")
    def _target_fits_channel(self) -> Route:
        target = self.target
        if self.channel in _URL_ROUTES and not target.startswith(("https://", "http://")):
            raise ValueError(
                f"a {self.channel} route needs a URL target, e.g. https://example.com/"
            )
        if self.channel in {"phone", "sms"} and not _is_phone(target):
            raise ValueError(
                f'a {self.channel} route needs a phone number in E.164 form, e.g. "+15005550006"'
            )
        if self.channel == "email" and "@" not in target:
            raise ValueError("an email route needs an address, e.g. help@example.com")
        return self


def _is_phone(text: str) -> bool:
    digits = text[1:]
    return text.startswith("+") and digits.isdigit() and 7 <= len(digits) <= 15


class SmsMessage(_Model):
    text: Translated


class EmailMessage(_Model):
    subject: Translated
    text: Translated
    html: Translated | None = None


class SocialMessage(_Model):
    text: Translated


class BannerMessage(_Model):
    headline: Translated
    body: Translated
    level: Literal["info", "warning", "critical"] = "warning"


class ChatMessage(_Model):
    text: Translated


class ChannelMessages(_Model):
    """The message per channel kind; only the kinds the playbook uses are present."""

    sms: SmsMessage | None = None
    email: EmailMessage | None = None
    social: SocialMessage | None = None
    banner: BannerMessage | None = None
    chat: ChatMessage | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ChannelMessages:
        if not self.kinds():
            raise ValueError("no channel: add at least one of sms, email, social, banner, chat")
        return self

    def kinds(self) -> list[ChannelKind]:
        """Channel kinds this announcement has a message for, in a stable order."""
        order: tuple[ChannelKind, ...] = ("sms", "email", "social", "banner", "chat")
        return [kind for kind in order if getattr(self, kind) is not None]


class Announcement(_Model):
    """One broadcast: sent at launch, as an update, or as the all-clear."""

    id: Slug
    when: When
    channels: ChannelMessages


class SeverityLevel(_Model):
    """A priority with its SLA targets; SLA timers are measured against these."""

    name: Name
    first_response: Duration
    resolution: Duration

    @model_validator(mode="before")
    @classmethod
    def _has_sla(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("first_response" not in data or "resolution" not in data):
            missing = [key for key in ("first_response", "resolution") if key not in data]
            name = data.get("name", "?")
            raise ValueError(
                f"severity level {name!r} has no SLA: add "
                f"{' and '.join(missing)}, e.g. first_response: 1h, resolution: 4h"
            )
        return data

    @model_validator(mode="after")
    def _ordered(self) -> SeverityLevel:
        if self.first_response > self.resolution:
            raise ValueError(
                f"severity level {self.name!r}: first_response is later than resolution; "
                "the first answer has to come before the fix"
            )
        return self


class SeverityDefault(_Model):
    impact: Name
    urgency: Name


class Signal(_Model):
    """Phrases in a reply that raise its impact and/or urgency (rules that override the model)."""

    name: Name
    impact: Name | None = None
    urgency: Name | None = None
    patterns: dict[Language, list[NonEmpty]] = Field(min_length=1)


class Severity(_Model):
    """Impact x urgency -> level, the levels' SLAs, and the signals triage looks for."""

    levels: list[SeverityLevel] = Field(min_length=1)
    impact: list[Name] = Field(min_length=1)
    urgency: list[Name] = Field(min_length=1)
    matrix: dict[Name, dict[Name, Name]]
    default: SeverityDefault
    signals: list[Signal] = Field(default_factory=list)
    operating_point: Literal["urgent_recall", "urgent_f2", "balanced"] | None = None
    """Where the triage model calls a reply urgent: ``urgent_recall`` (the default: misses
    the fewest people in danger, at the cost of false alarms), ``urgent_f2`` (fewer false
    alarms), ``balanced`` (best overall F1; misses more)."""

    def level(self, name: str) -> SeverityLevel:
        """The level called ``name`` (KeyError if there is none)."""
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(name)

    def level_for(self, impact: str, urgency: str) -> SeverityLevel:
        """The level the matrix gives for an impact and urgency label."""
        return self.level(self.matrix[impact][urgency])

    def rank(self, name: str) -> int:
        """0 for the most severe level, larger for less severe ones."""
        return [level.name for level in self.levels].index(name)


class Category(_Model):
    name: Name
    subcategories: list[Name] = Field(default_factory=list)


class TriageQuestion(_Model):
    """A question that finds the bleeding; answered once a reply shows one of its signals."""

    id: Name
    text: Translated
    answered_by: list[Name] = Field(default_factory=list)


class Resource(_Model):
    kind: Literal["government_aid", "community", "self_care", "knowledge_base", "other"]
    title: Translated
    url: Url


class Pool(_Model):
    """Standby people who can be activated with a day pass."""

    name: Slug
    skills: list[Name] = Field(default_factory=list)
    languages: list[Language] = Field(default_factory=list)
    size: int = Field(ge=1)


class RosterAgent(_Model):
    name: NonEmpty
    phone: Phone
    email: Email | None = None
    skills: list[Name] = Field(default_factory=list)
    languages: list[Language] = Field(default_factory=list)
    capacity: int = Field(default=5, ge=1)


class TemporaryAgents(_Model):
    pass_hours: int = Field(default=12, ge=1)
    activate_when_backlog: int = Field(ge=1)
    release_when_backlog: int = Field(ge=0)

    @model_validator(mode="after")
    def _hysteresis(self) -> TemporaryAgents:
        if self.release_when_backlog >= self.activate_when_backlog:
            raise ValueError(
                "release_when_backlog must be below activate_when_backlog, or agents would be "
                "activated and released in a loop"
            )
        return self


class Staffing(_Model):
    pools: list[Pool] = Field(default_factory=list)
    roster: list[RosterAgent] = Field(default_factory=list)
    temporary_agents: TemporaryAgents | None = None
    routing: list[RoutingRule] = Field(default_factory=lambda: list(DEFAULT_ROUTING))


class EscalationRule(_Model):
    when: Literal["first_response_breach", "resolution_breach"]
    action: Literal["repage", "page_backup", "notify_commander"]


class StandDown(_Model):
    announcement: Slug
    keep_open_cases: bool = True
    csat_question: Translated | None = None


class Playbook(_Model):
    """A whole crisis playbook. Load one with ``crisiscast.playbook.load_playbook``."""

    id: Slug
    """Short name, lowercase with dashes, e.g. saas-outage."""
    title: NonEmpty
    """Incident title; may use parameters, e.g. "{{ service }} outage"."""
    description: str = ""
    languages: list[Language] = Field(min_length=1)
    """Language codes, the default first; every text gives one version per language."""
    parameters: dict[Name, Parameter] = Field(default_factory=dict)
    """Values filled in at launch (--param name=value), used by name in templates."""
    audiences: dict[Name, Audience] = Field(default_factory=dict)
    """Who hears about the incident, and on which channel kinds."""
    routes: list[Route] = Field(min_length=1)
    """Which contact channel serves which need; templates list them as `routes`."""
    announcements: list[Announcement] = Field(min_length=1)
    """Messages per channel, sent at launch, as updates, or as the all-clear."""
    severity: Severity
    """Impact x urgency matrix, severity levels with SLAs, and triage signals."""
    categories: list[Category] = Field(default_factory=list)
    statuses: list[Name] = Field(default_factory=lambda: list(DEFAULT_STATUSES))
    """Case statuses; the first is where a new case starts."""
    triage_questions: list[TriageQuestion] = Field(default_factory=list)
    """Questions that find the bleeding, asked until a signal answers them."""
    reassurance: Translated | None = None
    """We have handled this before; honest about the complications to expect."""
    two_options: list[Translated] = Field(default_factory=list, max_length=2)
    """Two ways for the customer to stop the bleeding (templates: `two_options`)."""
    resources: list[Resource] = Field(default_factory=list)
    """Useful links: government aid, community groups, self-care, knowledge base."""
    staffing: Staffing = Field(default_factory=Staffing)
    escalation: list[EscalationRule] = Field(default_factory=list)
    """What happens when an SLA target is missed."""
    stand_down: StandDown | None = None
    """How the incident ends: the all-clear announcement and what stays open."""
    timezone: TimeZone = "UTC"
    """IANA time zone the incident's report shows times in, e.g. Asia/Bangkok."""
    approval: Literal["required", "none"] = "none"
    """`required`: a launch, update or recall through the API waits until a second commander
    or comms user, shown the same reach and SMS cost, approves it (exercises are waived)."""

    _source: str = PrivateAttr(default="<playbook>")
    _spots: dict[tuple[str | int, ...], Spot] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _with_languages(cls, data: Any, handler: ModelWrapValidatorHandler[Playbook]) -> Playbook:
        """Translated fields need the playbook's languages while they are validated."""
        languages = data.get("languages") if isinstance(data, dict) else None
        with languages_in_scope(languages):
            return handler(data)

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def signals(self) -> list[Signal]:
        return self.severity.signals

    @property
    def source(self) -> str:
        """The file this playbook was loaded from (``<playbook>`` when built in code)."""
        return self._source

    def announcement(self, announcement_id: str) -> Announcement:
        """The announcement with this id (KeyError if there is none)."""
        for announcement in self.announcements:
            if announcement.id == announcement_id:
                return announcement
        raise KeyError(announcement_id)

    def location(self, *path: str | int) -> tuple[int, int] | None:
        """1-based (line, column) of a key path in the source YAML, when it was loaded from one."""
        spot = self._spots.get(tuple(path))
        return (spot.line, spot.column) if spot else None

    def problem(self, finding: Finding) -> Problem:
        """A problem located in this playbook's source file (for errors found after loading)."""
        return problem_for(self._source, self._spots, finding)
