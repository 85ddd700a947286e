"""``bench compare`` end to end on three small real result sets (bundled digits, tiny runs): two identical (CPU runs
are deterministic) and one with a deliberate change (a smaller train subset), with and without ``--fail-on-diff``.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from benchmark.cli import main

from .tiny_digits import tiny_digits_defaults


def _records(results):
    return {p.parent.relative_to(results / "runs").as_posix(): json.loads(p.read_text())
            for p in sorted(results.glob("runs/**/result.json"))}


def cmp_suite(subset: str = "") -> str:
    return "suite: cmp\n" + tiny_digits_defaults(seeds="[0, 1, 2]", subset=subset) + textwrap.dedent("""\
        experiments:
          - id: vicreg
            method: {name: vicreg, proj_hidden_dim: 32, proj_output_dim: 32}
    """)


@pytest.fixture(scope="module")
def result_sets(tmp_path_factory):
    """A and B: the same suite run twice; C: the deliberate change, 13 instead of ~135 train images per class."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cmp")
    (root / "same.yaml").write_text(cmp_suite())
    (root / "changed.yaml").write_text(cmp_suite(", train_subset: {per_class: 13}"))
    dirs = {}
    for name, suite in (("a", "same"), ("b", "same"), ("c", "changed")):
        dirs[name] = root / name
        assert main(["run", str(root / f"{suite}.yaml"), "--results-dir", str(dirs[name]), "--no-progress"]) == 0
    return dirs


def test_compare_identical_result_sets(result_sets, capsys):
    capsys.readouterr()
    assert main(["compare", str(result_sets["a"]), str(result_sets["b"]), "--fail-on-diff"]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| cmp/paper")]
    assert {"knn.top1", "knn.top5", "pretrain.final_loss"} <= {ln.split(" | ")[3] for ln in rows}
    assert rows and all("= identical" in ln and "3 seeds equal" in ln for ln in rows), out


def test_compare_flags_the_deliberate_change(result_sets, capsys):
    capsys.readouterr()
    assert main(["compare", str(result_sets["a"]), str(result_sets["c"])]) == 0  # a report, not a check
    assert main(["compare", str(result_sets["a"]), str(result_sets["c"]), "--fail-on-diff"]) == 1
    out = capsys.readouterr().out
    knn = next(ln for ln in out.splitlines() if ln.startswith("| cmp/paper") and " knn.top1 " in ln)
    assert "− lower" in knn and "paired over seeds 0 1 2" in knn
    assert "data.train_subset None → {per_class: 13" in knn
    delta = float(knn.split(" | ")[6])
    a = [_records(result_sets["a"])[f"vicreg/seed{s}"]["metrics"]["knn"]["top1"] for s in range(3)]
    c = [_records(result_sets["c"])[f"vicreg/seed{s}"]["metrics"]["knn"]["top1"] for s in range(3)]
    assert delta == pytest.approx(sum(c) / 3 - sum(a) / 3, abs=1e-2)


def test_compare_needs_records(tmp_path, result_sets, capsys):
    assert main(["compare", str(tmp_path), str(result_sets["a"])]) == 2
    assert "no run records" in capsys.readouterr().err
