"""Safe YAML loading with positions, includes and merge semantics."""

from __future__ import annotations

import pytest

from benchmark.errors import SuiteError
from benchmark.suite.yaml_loader import PosDict, deep_merge, load_with_includes, load_yaml


def test_positions_recorded_per_key(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("a: 1\nb:\n  c: 2\n  d: [1, 2]\n")
    data = load_yaml(p)
    assert isinstance(data, PosDict)
    assert data.key_pos["a"][1] == 1
    assert data.key_pos["b"][1] == 2
    assert data["b"].key_pos["d"][1] == 4


def test_duplicate_key_is_an_error_with_both_lines(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("a: 1\nb: 2\na: 3\n")
    with pytest.raises(SuiteError) as err:
        load_yaml(p)
    assert err.value.line == 3
    assert "first set on line 1" in err.value.message


def test_written_key_overrides_a_merged_one_as_in_yaml(tmp_path):
    """``{<<: *base, name: pmsn}`` keeps the anchor's other keys and takes the written ``name``."""
    p = tmp_path / "a.yaml"
    p.write_text("base: &b {name: msn, t: 0.1, k: 3}\nother: {<<: *b, name: pmsn, k: 4}\n")
    data = load_yaml(p)
    assert dict(data["other"]) == {"name": "pmsn", "t": 0.1, "k": 4}
    assert data["other"].key_pos["name"][1] == 2
    assert dict(data["base"]) == {"name": "msn", "t": 0.1, "k": 3}


def test_two_merged_anchors_keep_the_first_and_a_written_twice_key_still_fails(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc: {<<: [*a, *b]}\n")
    assert dict(load_yaml(p)["c"]) == {"x": 1, "y": 2}
    q = tmp_path / "b.yaml"
    q.write_text("a: &a {x: 1}\nc: {<<: *a, y: 1, y: 2}\n")
    with pytest.raises(SuiteError, match="duplicate key 'y'"):
        load_yaml(q)


def test_bad_yaml_reports_line(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(SuiteError) as err:
        load_yaml(p)
    assert "invalid YAML" in err.value.message
    assert err.value.line is not None and err.value.line >= 2


def test_python_object_tags_are_refused(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("a: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(SuiteError):
        load_yaml(p)


def test_missing_file(tmp_path):
    with pytest.raises(SuiteError) as err:
        load_yaml(tmp_path / "nope.yaml")
    assert "file not found" in err.value.message


def test_include_local_keys_win_and_positions_follow(tmp_path):
    (tmp_path / "base.yaml").write_text("defaults:\n  x: 1\n  y: 2\n")
    (tmp_path / "s.yaml").write_text("include: base.yaml\ndefaults:\n  y: 3\n")
    data = load_with_includes(tmp_path / "s.yaml")
    assert data["defaults"] == {"x": 1, "y": 3}
    assert data["defaults"].key_pos["y"][0].endswith("s.yaml")
    assert data["defaults"].key_pos["x"][0].endswith("base.yaml")


def test_include_cycle_detected(tmp_path):
    (tmp_path / "a.yaml").write_text("include: b.yaml\nx: 1\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\ny: 1\n")
    with pytest.raises(SuiteError) as err:
        load_with_includes(tmp_path / "a.yaml")
    assert "include cycle" in err.value.message


def test_deep_merge_replaces_lists_and_merges_dicts():
    a = PosDict({"m": {"x": 1, "y": [1, 2]}, "k": 1})
    b = PosDict({"m": {"y": [3]}, "k": 2})
    assert deep_merge(a, b) == {"m": {"x": 1, "y": [3]}, "k": 2}
    assert deep_merge(a, PosDict({"m": {"_replace": True, "z": 0}})) == {"m": {"z": 0}, "k": 1}


def test_replace_mark_with_nothing_to_replace_is_dropped():
    """``_replace: true`` on a key the base lacks (e.g. after a dataset switch dropped ``params``) is not a param."""
    base = {"data": {"dataset": "npz", "params": {"path": "a.npz"}}}
    override = {"data": {"dataset": "digit_overlay", "params": {"_replace": True, "base": "npz"}},
                "grid": {"_replace": True, "x": [1]}}
    merged = deep_merge(base, override)
    assert merged["data"]["params"] == {"base": "npz"}
    assert merged["grid"] == {"x": [1]}
    assert deep_merge(base, {"data": {"params": {"_replace": True, "path": "b.npz"}}})["data"]["params"] == {"path": "b.npz"}
