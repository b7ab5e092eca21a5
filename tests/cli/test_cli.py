"""The ``ocdr`` command line: help on every command, --print-spec, overrides, one-line errors."""
import subprocess
import sys

import pytest
import yaml

from ocdr.cli.main import build_parser, main
from ocdr.cli.registry import COMMANDS
from ocdr.config import spec_to_yaml

ALL = sorted(COMMANDS)


def _argv(key):
    group, name = key
    return [name] if group == "" else [group, name]


def test_expected_commands_are_registered():
    assert {("data", "iam"), ("data", "icdar"), ("data", "synth"), ("data", "charset"), ("data", "stats"),
            ("ocrnet", "dataset_convert"), ("", "demo")} <= set(COMMANDS)


@pytest.mark.parametrize("key", ALL, ids=lambda k: " ".join(p for p in k if p))
def test_every_command_explains_itself_with_an_example(key, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*_argv(key), "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and "ocdr " in out.split("example:")[1]
    assert "spec keys" in out


@pytest.mark.parametrize("key", ALL, ids=lambda k: " ".join(p for p in k if p))
def test_print_spec_is_the_default_spec(key, capsys):
    assert main([*_argv(key), "--print-spec"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed == yaml.safe_load(spec_to_yaml(COMMANDS[key].spec))


def test_print_spec_applies_file_and_overrides(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("num_pages: 7\nseed: 3\n")
    assert main(["data", "synth", "-e", str(spec), "seed=5", "--print-spec"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["num_pages"] == 7 and printed["seed"] == 5


def test_unknown_key_is_one_line_error(capsys):
    assert main(["data", "synth", "num_page=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: command line: unknown key 'num_page' (did you mean 'num_pages'?)"


def test_bad_data_is_one_line_error_naming_file_and_line(tmp_path, capsys):
    gt = tmp_path / "gt_list.txt"
    gt.write_text("a.png\tok\nb.png\n")
    assert main(["data", "charset", f"inputs=[{gt}]", f"output={tmp_path / 'c.txt'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and err.endswith("gt_list.txt:2: expected '<image path><TAB><label>', found no tab")
    assert "\n" not in err and "Traceback" not in err


def test_skip_bad_counts_and_continues(tmp_path, capsys):
    gt = tmp_path / "gt_list.txt"
    gt.write_text("a.png\tok\nb.png\n")
    out = tmp_path / "c.txt"
    assert main(["data", "charset", "--skip-bad", f"inputs=[{gt}]", f"output={out}"]) == 0
    assert out.read_text() == "k\no\n"
    assert '"no tab": 1' in capsys.readouterr().out


def test_group_without_command_prints_help(capsys):
    assert main(["data"]) == 2
    assert "synth" in capsys.readouterr().out


def test_installed_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "ocdr.cli.main", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "ocdr" in proc.stdout


def test_parser_builds_without_duplicate_names():
    assert build_parser().prog == "ocdr"


def test_resolved_spec_is_saved_beside_the_result(tmp_path, capsys):
    from ocdr.config import load_spec
    from ocdr.data.icdar import IcdarSpec

    src = tmp_path / "src"
    src.mkdir()
    from PIL import Image

    Image.new("RGB", (16, 16)).save(src / "a.png")
    (src / "gt_a.txt").write_text("1,1,9,1,9,9,1,9,hi\n")
    out = tmp_path / "out"
    assert main(["data", "icdar", f"input_dir={src}", f"output_dir={out}", "split=test"]) == 0
    saved = out / "data_icdar_spec.yaml"
    assert saved.is_file()
    spec = load_spec(IcdarSpec, saved)
    assert spec.split == "test" and spec.input_dir == str(src)
    assert (out / "test" / "gt" / "gt_a.txt").is_file()


def test_double_dash_options_are_spec_overrides():
    from ocdr.cli.main import options_as_overrides

    assert options_as_overrides(["serve", "--detector", "d.onnx", "--port=8080", "--upside_down", "--skip-bad",
                                 "-e", "--weird.yaml", "train.num_epochs=3", "--train.batch_size", "2"]) == [
        "serve", "detector=d.onnx", "port=8080", "upside_down=true", "--skip-bad", "-e", "--weird.yaml",
        "train.num_epochs=3", "train.batch_size=2"]


def test_serve_spec_from_double_dash_options(capsys):
    from ocdr.cli.main import main

    assert main(["serve", "--detector", "d.onnx", "--port", "8081", "--print-spec"]) == 0
    out = capsys.readouterr().out
    assert "detector: d.onnx" in out and "port: 8081" in out


def test_the_cli_starts_without_torch_lightning_or_onnx():
    """Commands import their module only when they run: help and the data commands stay light."""
    code = ("import sys\nfrom ocdr.cli.main import main\ntry:\n    main(['data', 'stats', '--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'lightning', 'onnx', 'onnxruntime', 'fastapi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "spec keys" in out and out.strip().splitlines()[-1] == "[]"


def _leaves(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize("key", ALL, ids=lambda k: " ".join(p for p in k if p))
def test_help_shows_the_defaults_print_spec_prints(key, capsys):
    """--help's "(default: ...)" for every key is the value --print-spec (and the saved spec) holds: a
    section's own defaults (OcdnetSpec's train: batch_size 4, ...) included."""
    with pytest.raises(SystemExit):
        main([*_argv(key), "--help"])
    helped = capsys.readouterr().out
    assert main([*_argv(key), "--print-spec"]) == 0
    printed = dict(_leaves(yaml.safe_load(capsys.readouterr().out) or {}))
    lines = {line.split()[0]: line for line in helped.splitlines() if line.startswith("  ") and line.split()}
    for dotted, value in printed.items():
        assert lines[dotted].endswith(f"(default: {value!r})"), (dotted, lines[dotted])
