from pathlib import Path

import pytest
from playbook_paths import ROOT

from crisiscast.errors import PlaybookError
from crisiscast.playbook import (
    Playbook,
    load_playbook,
    render_all,
    render_announcement,
    render_title,
    resolve_params,
    sample_params,
)

UCS2_TWO_SEGMENTS = 134  # a Thai or Lao SMS is UCS-2: 70 characters alone, 67 per part when split


def _incident(exercise: bool = False) -> dict[str, object]:
    return {"ref": "INC-42", "title": "Test", "exercise": exercise}


def test_examples_render_every_channel_and_language(example: Playbook) -> None:
    """Every announcement renders for every channel kind and every language, with no blanks."""
    messages = render_all(example, sample_params(example), _incident())
    expected = {
        (a.id, kind, language)
        for a in example.announcements
        for kind in a.channels.kinds()
        for language in example.languages
    }
    assert {(m.announcement_id, m.channel, m.language) for m in messages} == expected
    for message in messages:
        assert message.text
        assert "{{" not in message.text and "{%" not in message.text
        assert (message.subject is not None) == (message.channel in ("email", "banner"))
        assert (message.level is not None) == (message.channel == "banner")


def test_sms_fit_in_two_segments(example: Playbook) -> None:
    """Launch and update SMS stay short: within two segments even in Thai and Lao."""
    for message in render_all(example, sample_params(example), _incident()):
        if message.channel == "sms":
            limit = 160 if message.text.isascii() else UCS2_TWO_SEGMENTS
            assert len(message.text) <= limit, (message.language, message.text)


@pytest.fixture(scope="module")
def flood() -> Playbook:
    """The three-language flood playbook."""
    return load_playbook(ROOT / "playbooks" / "regional-flood.yaml")


def test_messages_use_the_language_and_the_parameters(flood: Playbook) -> None:
    """Thai messages carry Thai route labels and the parameter values chosen at launch."""
    params = resolve_params(flood, {"area": "Ubon", "evacuation": "true"})
    messages = render_announcement(flood, "warning", params, _incident())
    thai_email = next(m for m in messages if m.channel == "email" and m.language == "th")
    assert "Ubon" in thai_email.text
    assert "เหตุฉุกเฉิน: มีเจ้าหน้าที่รับสาย: +15005550006" in thai_email.text
    assert "ย้ายไปยังที่สูงทันที" in thai_email.text  # evacuation wording, not "be ready"
    lao_sms = next(m for m in messages if m.channel == "sms" and m.language == "lo")
    assert lao_sms.text.startswith("ເຕືອນໄພນ້ຳຖ້ວມ Ubon")


def test_exercise_flag_reaches_templates(flood: Playbook) -> None:
    """An exercise incident says so in its emails."""
    params = resolve_params(flood, {"area": "Ubon"})
    messages = render_announcement(flood, "warning", params, _incident(exercise=True))
    english = next(m for m in messages if m.channel == "email" and m.language == "en")
    assert english.text.startswith("THIS IS AN EXERCISE.")


def test_banner_puts_headline_in_subject(flood: Playbook) -> None:
    """A banner's headline is in ``subject``, its body in ``text``, its level in ``level``."""
    params = resolve_params(flood, {"area": "Ubon"})
    (banner,) = [
        m
        for m in render_announcement(flood, "warning", params, _incident())
        if m.channel == "banner" and m.language == "en"
    ]
    assert banner.subject == "Flood warning: Ubon"
    assert banner.text.startswith("Be ready to leave.")
    assert banner.level == "critical"


def test_render_all_filters_by_when(flood: Playbook) -> None:
    """Only the all-clear announcement is rendered when asked for all_clear."""
    params = resolve_params(flood, {"area": "Ubon"})
    messages = render_all(flood, params, _incident(), when="all_clear")
    assert {m.announcement_id for m in messages} == {"all-clear"}


def test_html_escapes_parameter_values() -> None:
    """A parameter value cannot inject markup into an HTML email; plain text stays as typed."""
    saas = load_playbook(ROOT / "playbooks" / "saas-outage.yaml")
    params = resolve_params(saas, {"service": "<script>x</script> & co"})
    email = next(
        m for m in render_announcement(saas, "initial", params, _incident()) if m.channel == "email"
    )
    assert email.html is not None
    assert "&lt;script&gt;" in email.html and "<script>" not in email.html
    assert email.text.startswith("<script>x</script> & co is unavailable")


def test_title_is_rendered_from_parameters() -> None:
    """The incident title template is filled with the launch parameters."""
    saas = load_playbook(ROOT / "playbooks" / "saas-outage.yaml")
    assert render_title(saas, {"service": "Payments API"}) == "Payments API outage"


def test_unknown_announcement_lists_the_known_ones(flood: Playbook) -> None:
    """Asking for an announcement that does not exist names the ones that do."""
    with pytest.raises(PlaybookError, match="no announcement 'final': use one of warning, rising"):
        render_announcement(flood, "final", {"area": "x"}, _incident())


def test_missing_parameter_at_render_time_is_located(flood: Playbook) -> None:
    """Rendering without a parameter the template needs is a located PlaybookError."""
    with pytest.raises(PlaybookError) as caught:
        render_announcement(flood, "rising", {}, _incident())
    (problem,) = caught.value.problems
    assert "undefined variable 'area'" in problem.message
    assert problem.line is not None and problem.file.endswith("regional-flood.yaml")


def test_sandbox_blocks_python_internals(tmp_path: Path) -> None:
    """A template cannot reach Python internals; validation reports it instead of running it."""
    text = (ROOT / "playbooks" / "saas-outage.yaml").read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    attack = "{{ service.__class__.__mro__[1].__subclasses__() }}"
    path.write_text(text.replace('"{{ service }} is currently unavailable"', f'"{attack}"'))
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    (problem,) = caught.value.problems
    assert problem.path == "announcements[0].channels.banner.headline.en"
    assert "unsafe" in problem.message or "undefined" in problem.message
