"""The dataset registry: names, strict parameter models, and the missing-data message of every source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from benchmark.data import DATASETS, check_dataset, dataset_params_model, load_dataset
from benchmark.errors import DataError, RegistryError, SuiteError

REQUIRED = {
    "cifar10",
    "cifar100",
    "stl10",
    "imagenet100",
    "imagenet",
    "hf",
    "npz",
    "digits",
    "food101",
    "flowers102",
    "dtd",
    "gtsrb",
    "clevr_count",
    "places365",
    "places205",
    "inaturalist",
    "mnist",
    "digit_overlay",
}

#: Minimal parameters for sources with required ones; the data they point to does not exist.
PARAMS = {"npz": {"path": "nothing/here.npz"}, "hf": {"name": "no_such_saved_dataset_dir"}}

#: What the remedy must mention for each source when its data is missing.
REMEDY = {
    **{
        n: "--download"
        for n in (
            "cifar10",
            "cifar100",
            "stl10",
            "food101",
            "flowers102",
            "dtd",
            "gtsrb",
            "clevr_count",
            "places365",
            "inaturalist",
            "hf",
            "mnist",
            "digit_overlay",
        )
    },
    "imagenet": "<wnid>",
    "imagenet100": "<wnid>",
    "places205": "places.csail.mit.edu",
    "npz": "np.savez",
}


def test_all_required_sources_registered() -> None:
    assert REQUIRED <= set(DATASETS.names())


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_params_models_are_strict(name: str) -> None:
    model = dataset_params_model(name)
    assert issubclass(model, BaseModel) and model.model_config.get("extra") == "forbid"
    source = DATASETS.get(name)
    assert source.Params is model and callable(source.check) and callable(source.load) and source.description


def test_unknown_parameter_suggests_the_right_one() -> None:
    with pytest.raises(SuiteError) as err:
        load_dataset("npz", {"pth": "x.npz"}, data_root="/nonexistent")
    assert "unknown parameter 'pth'" in str(err.value) and "did you mean 'path'" in str(err.value)
    assert err.value.key == "pth"


def test_bad_parameter_value_is_suite_error() -> None:
    with pytest.raises(SuiteError) as err:
        check_dataset("dtd", {"partition": 11}, data_root="/nonexistent")
    assert err.value.key == "partition"


def test_unknown_dataset_did_you_mean() -> None:
    with pytest.raises(RegistryError, match="did you mean 'cifar10'"):
        load_dataset("cifar1O", {}, data_root="/nonexistent")


@pytest.mark.parametrize("name", sorted(REQUIRED - {"digits"}))
def test_missing_data_names_dataset_path_and_remedy(tmp_path: Path, name: str) -> None:
    root = tmp_path / "empty_root"
    root.mkdir()
    for action in ("check", "load"):
        with pytest.raises(DataError) as err:
            if action == "check":
                check_dataset(name, PARAMS.get(name, {}), data_root=root)
            else:
                load_dataset(name, PARAMS.get(name, {}), data_root=root, download=False)
        text = str(err.value)
        assert f"'{name}'" in text, text
        assert "looked for" in text and str(root) in text, text
        assert err.value.hint and REMEDY[name] in err.value.hint, text


def test_digits_needs_no_data(tmp_path: Path) -> None:
    check_dataset("digits", {}, data_root=tmp_path / "does_not_exist")


def test_registry_import_does_not_import_torch() -> None:
    """``bench list`` / ``validate`` go through the registry; it must stay importable without torch."""
    code = (
        "import sys; import benchmark.data as d; d.DATASETS.names(); "
        "print(sorted(m for m in ('torch', 'torchvision', 'datasets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
