"""Profiles, grids and seeds expand into runs with stable ids and config hashes."""

from __future__ import annotations

import textwrap

from benchmark.suite.loader import load_suite
from benchmark.suite.plan import make_plan

SUITE = textwrap.dedent(
    """\
    suite: t
    defaults:
      data: {dataset: digits}
      backbone: {name: tiny}
      pretrain: {epochs: 100, batch_size_per_device: 64}
      seeds: [0, 1]
    experiments:
      - id: a
        method: {name: byol}
        grid:
          regularizer: [{name: none}, {name: so, gamma: 1.0e-6}]
      - id: b
        method: {name: simclr}
    profiles:
      paper: {}
      smoke:
        overrides: {pretrain: {epochs: 1}, seeds: [0]}
        experiments: {b: {method: {temperature: 0.1}}}
    """
)


def test_grid_seeds_and_stable_paths(write_suite):
    plan = make_plan(load_suite(write_suite(SUITE)), "paper")
    assert [r.path for r in plan.runs] == [
        "a/none/seed0", "a/none/seed1", "a/so-gamma1e-06/seed0", "a/so-gamma1e-06/seed1", "b/seed0", "b/seed1",
    ]
    assert plan.runs[0].run_id == "t/paper/a/none/seed0"
    assert plan.runs[2].config.regularizer.extras() == {"gamma": 1e-6}


def test_profile_overrides_and_per_experiment_overrides(write_suite):
    plan = make_plan(load_suite(write_suite(SUITE)), "smoke")
    assert len(plan.runs) == 3
    assert all(r.config.pretrain.epochs == 1 for r in plan.runs)
    b = [r for r in plan.runs if r.experiment_id == "b"][0]
    assert b.config.method.extras() == {"temperature": 0.1}


def test_config_hash_stable_and_sensitive(write_suite, tmp_path):
    p = write_suite(SUITE)
    h1 = [r.config_hash for r in make_plan(load_suite(p), "paper").runs]
    h2 = [r.config_hash for r in make_plan(load_suite(p), "paper").runs]
    assert h1 == h2 and len(set(h1)) == len(h1)
    p2 = write_suite(SUITE.replace("epochs: 100", "epochs: 101"), name="s2.yaml")
    h3 = [r.config_hash for r in make_plan(load_suite(p2), "paper").runs]
    assert not set(h1) & set(h3)


def test_only_filter(write_suite):
    plan = make_plan(load_suite(write_suite(SUITE)), "paper", only="a/so*")
    assert [r.path for r in plan.runs] == ["a/so-gamma1e-06/seed0", "a/so-gamma1e-06/seed1"]
    plan = make_plan(load_suite(write_suite(SUITE)), "paper", only="b")
    assert {r.experiment_id for r in plan.runs} == {"b"}
