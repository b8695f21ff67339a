"""A playbook's parameters as the launch form shows them, and the posted form read back:
typed fields with defaults, choices and hints; errors that name the field and keep what
was typed; values accepted exactly as ``crisiscast launch --param`` accepts them."""

from __future__ import annotations

import pytest

from crisiscast.playbook.schema import Parameter
from crisiscast.web.console.parameter_form import (
    MAX_VALUE,
    field_html,
    form_fields,
    read_params,
)


@pytest.fixture
def parameters() -> dict[str, Parameter]:
    """The saas-outage example's kinds of parameter, one of each."""
    return {
        "service": Parameter(
            type="string", required=True, description="Affected service", example="Payments API"
        ),
        "eta_minutes": Parameter(type="integer", default=60, description="Minutes to next word"),
        "region": Parameter(type="choice", choices=["all", "eu", "us"], default="all"),
        "evacuation": Parameter(type="boolean", default=False),
        "started_at": Parameter(type="datetime", description="When it began"),
        "depth_m": Parameter(type="number"),
    }


def test_fields_show_defaults_choices_and_hints(parameters: dict[str, Parameter]) -> None:
    fields = {f.name: f for f in form_fields(parameters)}
    assert [f.name for f in form_fields(parameters)] == list(parameters)
    assert fields["service"].required and fields["service"].value == ""
    assert "Example: Payments API." in fields["service"].hint
    assert fields["eta_minutes"].value == "60" and fields["eta_minutes"].kind == "integer"
    assert fields["region"].choices == ("all", "eu", "us") and fields["region"].value == "all"
    assert fields["evacuation"].kind == "boolean" and fields["evacuation"].value == "false"
    assert "ISO 8601" in fields["started_at"].hint


def test_fields_show_what_was_typed_not_the_default(parameters: dict[str, Parameter]) -> None:
    typed = {"param.eta_minutes": "soon", "param.evacuation": "true", "param.service": "Web"}
    fields = {f.name: f for f in form_fields(parameters, typed)}
    assert fields["eta_minutes"].value == "soon"
    assert fields["evacuation"].value == "true"
    assert fields["service"].value == "Web"


def test_good_values_become_params_and_empty_optional_ones_keep_their_default(
    parameters: dict[str, Parameter],
) -> None:
    form = {
        "param.service": "  Payments API ",
        "param.eta_minutes": "1_000",
        "param.region": "eu",
        "param.started_at": "",
        "param.depth_m": "2.5",
    }
    params, errors = read_params(parameters, form)
    assert errors == {}
    assert params == {
        "service": "Payments API",
        "eta_minutes": "1_000",
        "region": "eu",
        "evacuation": "false",
        "depth_m": "2.5",
    }


def test_an_unticked_checkbox_is_false_and_a_ticked_one_true(
    parameters: dict[str, Parameter],
) -> None:
    form = {"param.service": "x"}
    assert read_params(parameters, form)[0]["evacuation"] == "false"
    assert read_params(parameters, {**form, "param.evacuation": "true"})[0]["evacuation"] == "true"


def test_each_bad_value_is_named_with_its_fix(parameters: dict[str, Parameter]) -> None:
    form = {
        "param.eta_minutes": "soon",
        "param.region": "mars",
        "param.started_at": "yesterday",
        "param.depth_m": "deep",
    }
    params, errors = read_params(parameters, form)
    assert set(errors) == {"service", "eta_minutes", "region", "started_at", "depth_m"}
    assert errors["service"] == "Service is required: fill it in."
    assert errors["eta_minutes"].startswith("Eta minutes: 'soon' is not an integer")
    assert "expected one of all, eu, us" in errors["region"]
    assert "2026-03-01T14:30:00+07:00" in errors["started_at"]
    assert "service" not in params and "eta_minutes" not in params


def test_an_oversize_value_is_refused_on_its_field(parameters: dict[str, Parameter]) -> None:
    _, errors = read_params(parameters, {"param.service": "x" * (MAX_VALUE + 1)})
    assert errors == {"service": f"Service: 2,001 characters; keep it under {MAX_VALUE:,}."}


def test_a_field_with_an_error_is_described_by_it_and_escaped(
    parameters: dict[str, Parameter],
) -> None:
    field = form_fields(parameters, {"param.service": '<b>"x"'})[0]
    html = field_html(field, "Service is required: fill it in.")
    assert '<label for="param-service">Service (required)</label>' in html
    assert 'aria-describedby="param-service-hint param-service-error"' in html
    assert 'aria-invalid="true"' in html and 'aria-required="true"' in html
    assert 'value="&lt;b&gt;&quot;x&quot;"' in html
    assert '<span class="field-error" id="param-service-error">' in html


def test_choices_are_a_select_and_booleans_a_checkbox(parameters: dict[str, Parameter]) -> None:
    fields = {f.name: f for f in form_fields(parameters)}
    select = field_html(fields["region"])
    assert '<select id="param-region" name="param.region">' in select
    assert '<option value="all" selected>all</option>' in select
    box = field_html(fields["evacuation"])
    assert (
        '<input type="checkbox" id="param-evacuation" name="param.evacuation" value="true"' in box
    )
    assert "checked" not in box
