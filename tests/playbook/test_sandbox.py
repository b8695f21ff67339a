"""The limited sandbox: what a template may not ask for, and what it still may do."""

from __future__ import annotations

import time

import pytest

from crisiscast.playbook.render import TemplateFailure, render_text

HOSTILE = {
    "doubling": "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    "nested_strings": "{% set s = 'a' * 100000 %}{% for c in s %}{% for d in s %}"
    "{% endfor %}{% endfor %}",
    "replace": "{{ ('a' * 1000) | replace('a', 'b' * 100000) }}",
    "replace_method": "{{ ('a' * 1000).replace('a', 'b' * 100000) }}",
    "ljust": "{{ 'a'.ljust(999999999) }}",
    "center": "{{ 'a' | center(999999999) }}",
    "str_format": "{{ '{:>999999999}'.format(1) }}",
    "percent": "{{ '%0999999999d' % 1 }}",
    "plus": "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "many_pieces": "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_template_fails_fast(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateFailure) as failure:
        render_text(HOSTILE[name], {}, ("announcements", 0, "channels", "sms", "text", "en"))
    assert time.monotonic() - started < 5
    assert failure.value.finding.path[-2] == "text"


def test_ordinary_templates_still_render() -> None:
    """Loops, joins, concatenation and formatting of ordinary size work as before."""
    context = {"routes": [{"label": "Chat"}, {"label": "Phone"}], "service": "API", "n": 3}
    source = (
        "{{ service ~ ' down' }}: {% for r in routes %}{{ loop.index }}. {{ r.label }} {% endfor %}"
        "{{ routes | map(attribute='label') | join(', ') }} {{ '%02d' | format(n) }} "
        "{{ '-' * 3 }} {{ 2 ** 10 }} {{ '{:>4}'.format(n) }} {{ [1, 2] + [3] }}"
    )
    assert render_text(source, context, ("t",)) == (
        "API down: 1. Chat 2. Phone Chat, Phone 03 --- 1024    3 [1, 2, 3]"
    )
    html = render_text("<b>{{ a ~ b }}</b>", {"a": "<i>", "b": "x"}, ("t",), html=True)
    assert html == "<b>&lt;i&gt;x</b>"
