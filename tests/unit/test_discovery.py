"""Probes, backbones, methods, dataset sources, regularizers and figures are found without an import line.

A copy of the ``benchmark`` package gets one new module per registry (and no other edit); a fresh interpreter that
imports the copy sees every new name registered. The registries that ``bench validate`` / ``bench report`` read
(datasets, probes) stay torch-free to import.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import benchmark

NEW_MODULES = {
    "probes/zz_probe.py": '''
from benchmark.probes.base import PROBES, ProbeParams

@PROBES.register("zz_probe")
class ZZProbe:
    Params = ProbeParams
    reported_metrics = ("top3",)
''',
    "models/zz_backbone.py": '''
from benchmark.models.backbones import BACKBONES

@BACKBONES.register("zz_backbone")
def zz_backbone(**kwargs):
    raise NotImplementedError
''',
    "methods/zz_method.py": '''
from benchmark.methods.base import METHODS, SSLMethod

@METHODS.register("zz_method")
class ZZMethod(SSLMethod):
    pass
''',
    "data/zz_sources.py": '''
from benchmark.data.sources import DataSource, register_source

@register_source
class ZZSource(DataSource):
    name = "zz_source"
    num_classes = 3
''',
    "regularizers/zz_regularizer.py": '''
from benchmark.regularizers.base import NoParams, register_regularizer

@register_regularizer("zz_regularizer", NoParams)
def build(params):
    return "built"
''',
    "report/figures/zz_figure.py": '''
from benchmark.report.figures import register_figure

@register_figure("zz_figure")
def zz_figures(records):
    return []
''',
}

PROBE = """
import json, sys
out = {}
import benchmark.data, benchmark.probes
out["torch_after_data_and_probes"] = "torch" in sys.modules
out["dataset"] = "zz_source" in benchmark.data.DATASETS
out["probe_metrics"] = list(benchmark.probes.reported_metrics("zz_probe"))
import benchmark.models, benchmark.methods, benchmark.regularizers
from benchmark.report.figures import load_figures
out["backbone"] = "zz_backbone" in benchmark.models.BACKBONES
out["method"] = "zz_method" in benchmark.methods.METHODS
out["regularizer"] = benchmark.regularizers.build_regularizer("zz_regularizer", {})
out["figure"] = "zz_figure" in load_figures()
out["file"] = benchmark.__file__
print(json.dumps(out))
"""


def test_a_dropped_in_module_is_registered_without_editing_another_file(tmp_path: Path) -> None:
    copy = tmp_path / "benchmark"
    shutil.copytree(Path(benchmark.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in NEW_MODULES.items():
        (copy / rel).write_text(text)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out.pop("file") == str(copy / "__init__.py")
    assert out == {"torch_after_data_and_probes": False, "dataset": True, "probe_metrics": ["top3"],
                   "backbone": True, "method": True, "regularizer": "built", "figure": True}


def test_the_shipped_registries_hold_every_module_of_their_package() -> None:
    from benchmark.data import DATASETS
    from benchmark.methods import METHODS
    from benchmark.models import BACKBONES
    from benchmark.probes import PROBES
    from benchmark.regularizers import REGULARIZERS

    assert {"linear", "knn", "svm"} <= set(PROBES.names())
    assert {"resnet18", "vit_small", "wide_resnet28_2", "tiny"} <= set(BACKBONES.names())
    assert {"simclr", "byol", "vicreg", "sfrik", "msn", "pmsn", "wmse", "mae"} <= set(METHODS.names())
    assert {"cifar10", "digits", "npz", "hf", "imagenet", "digit_overlay", "places205"} <= set(DATASETS.names())
    assert REGULARIZERS.names() == ["none", "so", "srip"]
