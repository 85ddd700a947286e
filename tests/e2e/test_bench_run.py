"""`bench run` end to end on real (bundled) digits images: records, skip-on-rerun, report, clear data errors."""

from __future__ import annotations

import json
import textwrap

import pytest

from benchmark.cli import main

SUITE = textwrap.dedent(
    """\
    suite: e2e
    baselines: b.yaml
    defaults:
      data: {dataset: digits, params: {size: 16}, input_size: 16, normalize: none}
      backbone: {name: tiny, width: 8}
      augment: {params: {gaussian_blur: 0.0}}
      pretrain:
        epochs: 1
        max_steps: 3
        batch_size_per_device: 64
        optimizer: {name: sgd, lr: 0.05, base_batch_size: 64}
        schedule: {name: cosine}
        checkpoint_every_n_steps: 2
      eval:
        probes:
          - {name: linear, epochs: 5, milestones: [3, 4]}
          - {name: knn, k: 10}
          - {name: svm, c_grid: [1.0]}
        random_init_control: true
        spectra: true
    experiments:
      - id: simclr
        reproduces: {table: "Table 9", row: SimCLR}
        method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
        grid:
          regularizer: [{name: none}, {name: so, gamma: 1.0e-3}]
    """
)

BASELINES = textwrap.dedent(
    """\
    paper: e2e
    citation: "test"
    entries:
      - {experiment: simclr, variant: none, metric: linear.top1, value: 99.0, status: transcribed,
         source: {paper: "test", table: "Table 9", row: SimCLR, column: Top-1}}
    """
)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    (root / "s.yaml").write_text(SUITE)
    (root / "b.yaml").write_text(BASELINES)
    results = root / "results"
    code = main(["run", str(root / "s.yaml"), "--results-dir", str(results), "--no-progress"])
    return root, results, code


def test_run_writes_complete_records(finished_run):
    _, results, code = finished_run
    assert code == 0
    records = sorted(results.glob("runs/**/result.json"))
    assert [p.parent.relative_to(results / "runs").as_posix() for p in records] == [
        "simclr/none/seed0", "simclr/so-gamma0.001/seed0"]
    rec = json.loads(records[1].read_text())
    assert rec["status"] == "ok" and rec["seed"] == 0 and len(rec["config_hash"]) == 16
    assert rec["pretrain"]["steps"] == 3
    assert set(rec["metrics"]) == {"linear", "knn", "svm"}
    assert 0 <= rec["metrics"]["linear"]["top1"] <= 100
    assert rec["metrics"]["linear"]["top1_max"] >= rec["metrics"]["linear"]["top1_last"]
    assert rec["controls"]["random_init"]["metrics"]["linear"]["top1"] >= 0
    assert rec["pretrain"]["or_penalty_layers"], "per-layer OR penalty is logged"
    assert rec["diagnostics"]["effective_rank"] > 1
    prov = rec["provenance"]
    assert prov["packages"]["torch"] and prov["packages"]["lightly"].startswith("1.6")
    assert prov["hardware"]["device"] == "cpu" and "commit" in prov["git"]
    assert (records[1].parent / "checkpoints" / "last.ckpt").exists()


def test_report_files_and_verdicts(finished_run):
    _, results, _ = finished_run
    md = (results / "report.md").read_text()
    assert "| simclr | none (regularizer none) | linear.top1 |" in md and "99.00" in md and "x not comparable" not in md
    # profile 'paper' with a reported number: a verdict is computed (the tiny run is far below 99)
    assert "− below" in md
    csv = (results / "report.csv").read_text().splitlines()
    assert csv[0].startswith("suite,profile,experiment")
    assert "<table>" in (results / "report.html").read_text()


def test_rerun_skips_finished_runs(finished_run, capsys):
    root, results, _ = finished_run
    before = {p: p.stat().st_mtime_ns for p in results.glob("runs/**/result.json")}
    assert main(["run", str(root / "s.yaml"), "--results-dir", str(results), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("done already") == 2
    assert before == {p: p.stat().st_mtime_ns for p in results.glob("runs/**/result.json")}


def test_report_command(finished_run, capsys):
    _, results, _ = finished_run
    (results / "report.md").unlink()
    assert main(["report", str(results)]) == 0
    assert (results / "report.md").exists()


def test_missing_dataset_is_a_clear_error(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.replace("dataset: digits, params: {size: 16}", "dataset: npz, params: {path: nope.npz}")
                     .replace("baselines: b.yaml\n", ""))
    code = main(["run", str(suite), "--results-dir", str(tmp_path / "r"), "--data-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "nope.npz" in err and str(tmp_path) in err


def test_list_and_plan(repo_root, capsys, monkeypatch):
    monkeypatch.chdir(repo_root)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "or_neurips24" in out and "byol_c10" in out
    assert main(["plan", "suites/or_neurips24.yaml", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "or_neurips24/smoke/byol_c10/so-gamma1e-06/seed0" in out and "Table 1" in out


def test_shipped_suites_validate(repo_root, monkeypatch, capsys):
    monkeypatch.chdir(repo_root)
    suites = sorted(str(p.relative_to(repo_root)) for p in (repo_root / "suites").glob("*.yaml"))
    assert main(["validate", *suites]) == 0


def test_plan_piped_into_head_stops_without_a_traceback(repo_root):
    """`bench plan ... | head -1` (a closed stdout) ends quietly with 141, like other command-line tools."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from benchmark.cli import main; sys.exit(main())",
         "plan", str(repo_root / "suites" / "or_neurips24.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=repo_root,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert first.startswith(b"or_neurips24")
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_encoder_and_random_init_control_are_probed_under_one_protocol(finished_run):
    """The suite omits 'normalize': both sides run the linear probe's default (standardize), and the record says so."""
    _, results, _ = finished_run
    rec = json.loads(next(results.glob("runs/simclr/none/seed0/result.json")).read_text())
    protocol = rec["probe_protocol"]
    assert protocol["linear"]["normalize"] == "standardize" and protocol["svm"]["normalize"] == "l2"
    assert rec["controls"]["random_init"]["probe_protocol"] == protocol
    assert rec["config"]["experiment"]["eval"]["probes"][0]["normalize"] == "standardize"
