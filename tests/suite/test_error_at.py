"""error_at: the one place a YAML position becomes an error's file:line."""

from benchmark.errors import RegistryError, SuiteError
from benchmark.suite.yaml_loader import error_at


def test_a_known_position_gives_file_and_line():
    err = error_at(("suites/x.yaml", 7), "bad value", key="pretrain.lr", hint="use a number", path="ignored.yaml")
    assert isinstance(err, SuiteError)
    assert (err.path, err.line, err.key, err.hint) == ("suites/x.yaml", 7, "pretrain.lr", "use a number")
    assert err.format() == "suites/x.yaml:7: pretrain.lr: bad value\n  hint: use a number"


def test_an_unknown_position_falls_back_to_the_file_without_a_line():
    err = error_at(None, "no such experiment", path="suites/x.yaml")
    assert (err.path, err.line) == ("suites/x.yaml", None)
    assert error_at(None, "nowhere").location() == ""


def test_the_error_class_is_kept():
    err = error_at(("b.yaml", 3), "unknown method 'bylo'", error=RegistryError)
    assert type(err) is RegistryError and err.location() == "b.yaml:3"


def test_item_position_is_the_items_own_line_else_the_default(tmp_path):
    from benchmark.suite.yaml_loader import item_position, load_yaml

    path = tmp_path / "x.yaml"
    path.write_text("probes:\n  - name: linear\n  - name: knn\n")
    probes = load_yaml(path)["probes"]
    assert item_position(probes, 1) == (str(path), 3)
    assert item_position(probes, 2, ("d.yaml", 9)) == ("d.yaml", 9)  # no such item
    assert item_position([{"name": "linear"}], 0) is None  # a plain list knows no lines
