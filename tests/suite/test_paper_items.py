"""``paper.items``: what ``bench validate`` accepts beyond the malformed-suite corpus (tests/suite/invalid/items_*)."""

from __future__ import annotations

import textwrap

import pytest

from benchmark.cli import main
from benchmark.errors import SuiteError
from benchmark.suite.loader import load_suite
from benchmark.suite.plan import make_plan
from benchmark.validation import check_paper_items

ITEMS = """\
paper:
  title: A paper
  authors: [A. Author]
  venue: X 2024
  items:
    - {id: "Table 1", caption: "Main results"}
    - {id: "§5.2", kind: section, caption: "Toy experiment"}
    - {id: "Table 9", not_covered: "the recipe is an image"}
"""
BODY = textwrap.dedent("""\
    defaults:
      data: {dataset: digits, input_size: 32, normalize: none}
      backbone: {name: tiny, width: 8}
      pretrain: {epochs: 1, batch_size_per_device: 64}
    experiments:
      - id: a
        reproduces: &t1 {table: "Table 1", row: A}
        method: {name: simclr, temperature: 0.5}
      - id: b
        reproduces: [{section: "§5.2", note: "the toy"}, *t1]
        method: {name: simclr, temperature: 0.5}
      - id: c
        reproduces: {kind: extension, note: "a method the paper does not run"}
        method: {name: simclr, temperature: 0.5}
    """)


def _suite(write_suite, text: str):
    return load_suite(write_suite(text))


def test_items_sections_aliases_and_extensions_validate(write_suite, capsys):
    path = write_suite("suite: t\n" + ITEMS + BODY)
    check_paper_items(load_suite(path))
    assert main(["validate", str(path)]) == 0
    assert "3 paper items" in capsys.readouterr().out


def test_suites_without_items_are_not_checked(write_suite):
    text = "suite: t\n" + BODY.replace('table: "Table 1"', 'table: "Table 99"').replace(
        '{kind: extension, note: "a method the paper does not run"}', '{section: "anything"}')
    check_paper_items(_suite(write_suite, text))  # no paper.items: free-form references are fine


def test_an_aliased_reference_is_reported_at_the_citing_experiment(write_suite):
    # the anchor is written in `defaults` (every experiment overrides it); b reuses it through the alias, so the
    # error must point at b's own `reproduces` line, not at the anchor's (c's list replaces the default mapping)
    body = BODY.replace("defaults:\n", 'defaults:\n  reproduces: &t11 {table: "Table 11", row: B}\n').replace(
        '[{section: "§5.2", note: "the toy"}, *t1]', "*t11").replace(
        '{kind: extension, note: "a method the paper does not run"}', '[{kind: extension, note: "not in the paper"}]')
    text = "suite: t\n" + ITEMS.replace('    - {id: "§5.2", kind: section, caption: "Toy experiment"}\n', "") + body
    with pytest.raises(SuiteError) as err:
        check_paper_items(_suite(write_suite, text))
    assert err.value.key == "experiments[b].reproduces.table"
    assert "experiment 'b' cites table 'Table 11'" in err.value.message
    assert err.value.line == text.splitlines().index("    reproduces: *t11") + 1


def test_a_profile_that_cites_a_missing_item_fails(write_suite):
    text = "suite: t\n" + ITEMS + BODY + textwrap.dedent("""\
        profiles:
          paper: {}
          cpu:
            experiments:
              a: {reproduces: {table: "Table 11", row: A}}
        """)
    with pytest.raises(SuiteError) as err:
        check_paper_items(_suite(write_suite, text))
    assert "cites table 'Table 11'" in err.value.message and "did you mean 'Table 1'" in err.value.message
    assert err.value.line == len(text.splitlines())


def test_the_default_reference_kind_leaves_config_hashes_unchanged(write_suite):
    plain = _suite(write_suite, "suite: t\n" + BODY)
    explicit = _suite(write_suite, "suite: t\n" + BODY.replace('{table: "Table 1", row: A}',
                                                              '{kind: paper, table: "Table 1", row: A}'))
    hashes = [[r.config_hash for r in make_plan(s, "paper", None).runs] for s in (plain, explicit)]
    assert hashes[0] == hashes[1]
    dumped = make_plan(plain, "paper", None).runs[0].hashed_config()["experiment"]["reproduces"]
    assert dumped == {"table": "Table 1", "figure": None, "section": None, "row": "A", "column": None, "note": None}
    ext = next(r for r in make_plan(plain, "paper", None).runs if r.experiment_id == "c")
    assert ext.hashed_config()["experiment"]["reproduces"]["kind"] == "extension"
