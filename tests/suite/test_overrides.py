"""Command-line overrides (issue 13): parsed as YAML, applied after the grid point, part of config and hash."""

from __future__ import annotations

import textwrap

import pytest

from benchmark.errors import SuiteError
from benchmark.suite.loader import load_suite
from benchmark.suite.overrides import collect, parse_override
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
        method: {name: simclr, temperature: 0.5}
        grid:
          pretrain.epochs: [10, 20]
    """
)


def test_values_are_yaml_with_float_notation() -> None:
    assert parse_override("pretrain.epochs=3").value == 3
    assert parse_override("pretrain.optimizer.lr=1e-3").value == pytest.approx(1e-3)
    assert parse_override("regularizer={name: so, gamma: 1.0e-6}").value == {"name": "so", "gamma": 1e-6}
    assert parse_override("eval.random_init_control=true").value is True
    assert parse_override("backbone.name=resnet18").value == "resnet18"


@pytest.mark.parametrize(("text", "message"), [
    ("pretrain.epochs", "is not key=value"),
    ("=3", "is not key=value"),
    ("pretrian.epochs=1", "did you mean 'pretrain'"),
    ("grid.x=1", "'grid' cannot be overridden"),
    ("pretrain..epochs=1", "not a dotted name"),
])
def test_malformed_overrides_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message) as info:
        parse_override(text)
    assert info.value.path == "command line"


def test_seeds_flag_errors() -> None:
    with pytest.raises(SuiteError, match="comma-separated list of integers"):
        collect([], seeds="a,b")


def test_overrides_win_over_the_grid_and_enter_the_hash(write_suite) -> None:
    suite = load_suite(write_suite(SUITE))
    plain = make_plan(suite)
    over = make_plan(suite, overrides=collect(["method.temperature=0.2"], seeds="3", epochs=1, steps=5))
    assert [r.path for r in over.runs] == ["a/10/seed3", "a/20/seed3"]  # grid labels stay; values are overridden
    for run in over.runs:
        assert (run.config.pretrain.epochs, run.config.pretrain.max_steps, run.seed) == (1, 5, 3)
        assert run.config.method.extras() == {"temperature": 0.2}
        assert run.overrides == ("method.temperature=0.2", "--seeds 3", "--epochs 1", "--steps 5")
        assert run.hashed_config()["experiment"]["method"]["temperature"] == 0.2
    same_seed = make_plan(suite, overrides=collect([], seeds="0"))
    # the seed list is descriptive (each run hashes its own seed): seed 0 alone computes what seed 0 of [0, 1] did
    assert same_seed.runs[0].computation_hash == plain.runs[0].computation_hash
    with_temp = make_plan(suite, overrides=collect(["method.temperature=0.2"], seeds="0"))
    assert with_temp.runs[0].config_hash != plain.runs[0].config_hash
    assert with_temp.runs[0].computation_hash != plain.runs[0].computation_hash


def test_unknown_deep_keys_name_the_override(write_suite) -> None:
    suite = load_suite(write_suite(SUITE))
    with pytest.raises(SuiteError) as info:
        make_plan(suite, overrides=collect(["pretrain.epoch=1"]))
    assert "command line 'pretrain.epoch=1'" in info.value.format() and "did you mean 'epochs'" in info.value.format()


def test_overrides_may_follow_options_on_the_command_line() -> None:
    from benchmark.cli import build_parser, parse_with_trailing_overrides

    parser = build_parser()
    args = parse_with_trailing_overrides(parser, ["run", "s.yaml", "a.b=1", "--device", "cpu", "c.d={x: 1}"])
    assert args.overrides == ["a.b=1", "c.d={x: 1}"] and args.device == "cpu"
    with pytest.raises(SystemExit):
        parse_with_trailing_overrides(parser, ["run", "s.yaml", "--bogus"])
    with pytest.raises(SystemExit):
        parse_with_trailing_overrides(parser, ["report", "dir", "a.b=1"]), "only run and plan take overrides"
