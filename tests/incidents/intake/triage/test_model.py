"""The shipped model: loads offline from the package, reproduces training, fails clearly."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from crisiscast.errors import ConfigError
from crisiscast.incidents.intake.triage import default_model, load_model
from crisiscast.incidents.intake.triage.model import MODEL_PATH


def test_model_file_is_small_and_inside_the_package() -> None:
    """The model ships next to the code, gzipped, well under 5 MB."""
    assert MODEL_PATH.parent.name == "triage"
    assert MODEL_PATH.stat().st_size < 5_000_000


def test_model_reproduces_the_training_predictions() -> None:
    """Scores for the fixed examples equal those computed with numpy at training time."""
    model = default_model()
    assert len(model.checks) >= 3
    for text, expected in model.checks:
        assert model.scores(text) == pytest.approx(expected, abs=1e-6)


def test_model_ranks_fixed_examples_as_at_training() -> None:
    """The fixed examples keep the class they had at training (trapped people: urgent)."""
    model = default_model()
    for text, expected in model.checks:
        probabilities = model.probabilities(text)
        best = max(probabilities, key=probabilities.__getitem__)
        assert best == model.classes[expected.index(max(expected))]
    assert max(model.probabilities(model.checks[0][0]).items(), key=lambda kv: kv[1])[0] == (
        "urgent"
    )


def test_model_records_how_it_was_trained() -> None:
    """The file names its data, split and settings so a retrain can be checked."""
    trained = default_model().trained
    assert trained["split"] == "train"
    assert trained["data"] == "disaster_response_messages.csv"


def test_importing_triage_needs_no_numpy() -> None:
    """Inference is pure Python: importing and running triage loads neither numpy nor sklearn."""
    code = (
        "import sys; from crisiscast.incidents.intake.triage import triage, default_config;"
        "triage('help', default_config());"
        "print('numpy' in sys.modules or 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_model_file_names_the_fix(tmp_path: Path) -> None:
    """A missing model file raises ConfigError naming the file and the retrain command."""
    path = tmp_path / "model.json.gz"
    with pytest.raises(ConfigError, match=r"model\.json\.gz.*train_triage\.py"):
        load_model(path)


def test_corrupt_model_file_names_the_field(tmp_path: Path) -> None:
    """A model file without weights raises ConfigError naming the missing field."""
    path = tmp_path / "model.json.gz"
    raw = json.loads(gzip.decompress(MODEL_PATH.read_bytes()))
    del raw["weights"]
    path.write_bytes(gzip.compress(json.dumps(raw).encode()))
    with pytest.raises(ConfigError, match="weights"):
        load_model(path)
