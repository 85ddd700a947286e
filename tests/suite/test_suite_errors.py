"""Malformed suites give one clear error with file:line and the key, and `bench validate` exits 2 without a traceback."""

from __future__ import annotations

import textwrap

import pytest

from benchmark.cli import main
from benchmark.errors import SuiteError
from benchmark.suite.loader import load_suite
from benchmark.validation import validate_suite

GOOD = textwrap.dedent(
    """\
    suite: t
    defaults:
      data: {dataset: digits, input_size: 32, normalize: none}
      backbone: {name: tiny, width: 8}
      pretrain: {epochs: 1, batch_size_per_device: 64}
    experiments:
      - id: a
        method: {name: simclr, temperature: 0.5}
    """
)


def _error(write_suite, text: str) -> SuiteError:
    path = write_suite(text)
    with pytest.raises(SuiteError) as err:
        suite = load_suite(path)
        validate_suite(suite)
    return err.value


def test_good_suite_validates(write_suite):
    suite = load_suite(write_suite(GOOD))
    assert validate_suite(suite) == 1


def test_unknown_top_level_key_with_suggestion(write_suite):
    err = _error(write_suite, GOOD + "profils: {}\n")
    assert "unknown key 'profils'" in err.message and "did you mean 'profiles'" in err.message
    assert err.line == 9 and err.path.endswith("s.yaml")


def test_unknown_nested_key_points_at_its_line(write_suite):
    text = GOOD.replace("pretrain: {epochs: 1, batch_size_per_device: 64}",
                        "pretrain:\n    epochs: 1\n    batch_size_per_devce: 64")
    err = _error(write_suite, text)
    assert "unknown key 'batch_size_per_devce'" in err.message
    assert "did you mean 'batch_size_per_device'" in err.message
    assert err.line == 7


def test_wrong_type(write_suite):
    err = _error(write_suite, GOOD.replace("epochs: 1", "epochs: lots"))
    assert err.line == 5 and "epochs" in (err.key or "")
    assert "lots" in err.message


def test_out_of_range(write_suite):
    err = _error(write_suite, GOOD.replace("epochs: 1", "epochs: -3"))
    assert "greater than or equal to 0" in err.message and err.line == 5


def test_unknown_method_name_with_suggestion(write_suite):
    err = _error(write_suite, GOOD.replace("name: simclr", "name: simclrr"))
    assert "unknown method 'simclrr'" in err.message and "simclr" in err.message
    assert err.line == 8


def test_unknown_method_parameter(write_suite):
    err = _error(write_suite, GOOD.replace("temperature: 0.5", "temprature: 0.5"))
    assert "unknown key 'temprature'" in err.message and "temperature" in err.message
    assert err.line == 8


def test_unknown_experiment_key(write_suite):
    err = _error(write_suite, GOOD + "    metod: {name: byol}\n")
    assert "unknown key 'metod'" in err.message and "'method'" in err.message
    assert err.line == 9


def test_global_batch_mismatch(write_suite):
    err = _error(write_suite, GOOD.replace("batch_size_per_device: 64", "batch_size_per_device: 64, batch_size_global: 100"))
    assert "batch_size_global=100" in err.message


def test_grid_over_unknown_field(write_suite):
    err = _error(write_suite, GOOD + "    grid: {regulariser: [{name: none}]}\n")
    assert "regulariser" in err.message and "regularizer" in err.message


def test_profile_naming_unknown_experiment(write_suite):
    err = _error(write_suite, GOOD + "profiles:\n  paper: {}\n  smoke: {only: [b]}\n")
    assert "unknown experiment 'b'" in err.message


@pytest.mark.parametrize(
    "text, needle",
    [
        ("suite: t\nexperiments: [\n", "invalid YAML"),
        ("", "file is empty"),
        ("- a\n- b\n", "top level must be a mapping"),
    ],
)
def test_cli_exit_code_and_no_traceback(write_suite, capsys, text, needle):
    path = write_suite(text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert str(path.name) in err


def test_cli_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_weight_correlation_must_name_a_backbone_module(write_suite):
    resnet = GOOD.replace("backbone: {name: tiny, width: 8}", "backbone: {name: resnet18, width: 8}")
    assert validate_suite(load_suite(write_suite(resnet + "    eval: {weight_correlation: layer4}\n"))) == 1
    err = _error(write_suite, resnet + "    eval:\n      spectra: true\n      weight_correlation: layer5\n")
    assert err.path.endswith("s.yaml") and err.line == 11 and err.key == "experiments[a].eval.weight_correlation"
    assert "no module 'layer5'" in err.message and "did you mean 'layer4'" in err.message
    err = _error(write_suite, GOOD + "    eval: {weight_correlation: layer4}\n")  # the tiny ConvNet has no stages
    assert err.line == 9 and "features" in err.message and "tiny" in (err.hint or "")


def test_umap_needs_umap_learn_installed(write_suite, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "umap" else real(name, *a))
    err = _error(write_suite, GOOD + "    eval: {umap: {samples: 100}}\n")
    assert "umap-learn" in err.message and "pip install umap-learn" in (err.hint or "") and err.line == 9
