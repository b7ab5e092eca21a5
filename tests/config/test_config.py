"""Specs: defaults, YAML, dotted overrides; unknown keys and wrong types fail at load time."""
from dataclasses import dataclass, field

import pytest

from ocdr.config import describe_spec, load_spec, save_spec, spec_to_yaml
from ocdr.errors import ConfigError


@dataclass
class DatasetSpec:
    max_label_length: int = field(default=25, metadata={"help": "longest label kept"})
    character_list_file: str = ""


@dataclass
class TrainSpec:
    num_epochs: int = 10
    lr: float = 1e-3


@dataclass
class ExperimentSpec:
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    tags: list[str] = field(default_factory=list)
    results_dir: str | None = None


def test_defaults_yaml_and_overrides_in_order(tmp_path):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("train:\n  num_epochs: 3\n  lr: 0.5\ndataset:\n  max_label_length: 10\n")
    spec = load_spec(ExperimentSpec, spec_file, ["dataset.max_label_length=30", "tags=[a,b]"])
    assert isinstance(spec, ExperimentSpec) and isinstance(spec.train, TrainSpec)
    assert spec.train.num_epochs == 3 and spec.train.lr == 0.5
    assert spec.dataset.max_label_length == 30  # the override beats the file
    assert spec.tags == ["a", "b"] and spec.results_dir is None


def test_unknown_key_in_file_is_named(tmp_path):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("train:\n  num_epoch: 3\n")
    with pytest.raises(ConfigError, match=r"spec.yaml:2: unknown key 'train.num_epoch' \(did you mean 'train.num_epochs'\?\)"):
        load_spec(ExperimentSpec, spec_file)


def test_unknown_key_on_command_line_is_named():
    with pytest.raises(ConfigError, match=r"command line: unknown key 'dataset.max_len'"):
        load_spec(ExperimentSpec, None, ["dataset.max_len=3"])


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"bad value for 'train.num_epochs'"):
        load_spec(ExperimentSpec, None, ["train.num_epochs=three"])


def test_bad_override_syntax_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="expected key=value"):
        load_spec(ExperimentSpec, None, ["train.num_epochs"])
    with pytest.raises(ConfigError, match=r"override 'train.results_dir='': the value is not valid YAML .*"
                                          r"e.g. train.results_dir=\"'\""):
        load_spec(ExperimentSpec, None, ["train.results_dir='"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: not valid YAML"):
        load_spec(ExperimentSpec, bad)
    with pytest.raises(ConfigError, match="spec file not found"):
        load_spec(ExperimentSpec, tmp_path / "none.yaml")


def test_saved_spec_loads_back_identically(tmp_path):
    spec = load_spec(ExperimentSpec, None, ["train.lr=0.25", "tags=[x]"])
    path = save_spec(spec, tmp_path / "out")
    assert load_spec(ExperimentSpec, path) == spec
    assert "max_label_length: 25" in spec_to_yaml(ExperimentSpec)


def test_describe_lists_dotted_keys_with_help():
    rows = {k: (d, h) for k, d, h in describe_spec(ExperimentSpec)}
    assert rows["dataset.max_label_length"] == ("25", "longest label kept")
    assert "train.num_epochs" in rows


def test_precision_is_checked_where_each_command_reads_it():
    from ocdr.config.ocdnet import OcdnetSpec
    from ocdr.config.ocrnet import OcrnetSpec
    from ocdr.config.pipeline import PipelineSpec

    assert load_spec(PipelineSpec, None, ["precision=bf16"]).precision == "bf16"
    assert load_spec(OcdnetSpec, None, []).inference.precision == "fp32"
    assert load_spec(PipelineSpec, None, []).precision == "auto"
    for spec_type, key in ((PipelineSpec, "precision"), (OcdnetSpec, "inference.precision"),
                           (OcrnetSpec, "inference.precision")):
        with pytest.raises(ConfigError, match=f"^{key}: 'fp16' is not one of auto, fp32, bf16, bf16-checked$"):
            load_spec(spec_type, None, [f"{key}=fp16"])


def test_the_pipelines_recognizer_width_ladder_is_an_override_or_nothing():
    from ocdr.config.pipeline import PipelineSpec

    assert load_spec(PipelineSpec, None, []).rec_overrides() == {}
    assert load_spec(PipelineSpec, None, ["rec_width_ladder=0"]).rec_overrides() == {"width_ladder": 0.0}
    with pytest.raises(ConfigError, match="rec_width_ladder must be >= 0, got -1"):
        load_spec(PipelineSpec, None, ["rec_width_ladder=-1"])


def test_lexicon_keys_are_checked_and_named():
    from ocdr.config.ocrnet import OcrnetSpec
    from ocdr.config.pipeline import PipelineSpec

    spec = load_spec(PipelineSpec, None, ["lexicon.file=words.txt"])
    assert spec.lexicon.options() == {"lexicon": "words.txt", "lexicon_max_edits": 2, "lexicon_bonus": 2.0}
    with pytest.raises(ConfigError, match="evaluate.lexicon.max_edits must be at least 1, got 0"):
        load_spec(OcrnetSpec, None, ["evaluate.lexicon.max_edits=0"])
    with pytest.raises(ConfigError, match="inference.lexicon.bonus must be >= 0, got -1.0"):
        load_spec(OcrnetSpec, None, ["inference.lexicon.bonus=-1"])
