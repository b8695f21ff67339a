import json

import jsonschema
import pytest
import yaml
from playbook_paths import BROKEN, EXAMPLES

from crisiscast.playbook import Playbook, playbook_json_schema


def test_schema_is_valid_json_schema() -> None:
    """The exported schema is valid draft 2020-12 and serialises to JSON."""
    schema = playbook_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert json.loads(json.dumps(schema)) == schema


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_satisfy_the_schema(path: object) -> None:
    """Editors checking against the schema accept every shipped playbook."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    jsonschema.validate(document, playbook_json_schema())


@pytest.mark.parametrize(
    "name", ["unknown_key.yaml", "wrong_type.yaml", "missing_title.yaml", "bad_duration.yaml"]
)
def test_schema_rejects_structural_mistakes(name: str) -> None:
    """The schema catches unknown keys, wrong types, missing fields and bad durations in editors."""
    document = yaml.safe_load((BROKEN / name).read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, playbook_json_schema())


def test_severity_helpers(example: Playbook) -> None:
    """Triage can look a level up by matrix cell and rank levels most severe first."""
    severity = example.severity
    worst = severity.level_for(severity.impact[0], severity.urgency[0])
    assert severity.rank(worst.name) == 0
    assert worst.first_response <= worst.resolution
    default = severity.level_for(severity.default.impact, severity.default.urgency)
    assert severity.rank(default.name) > 0
