"""The experiment's ``report`` (max or last epoch) reaches the probes that have that parameter, unless set."""

from benchmark.run.evaluate import build_run_probe
from benchmark.suite.schema import ProbeConfig


def test_the_experiments_report_reaches_the_linear_probe_unless_the_probe_sets_it():
    assert build_run_probe(ProbeConfig(name="linear"), "last").params.report == "last"
    assert build_run_probe(ProbeConfig(name="linear", report="max"), "last").params.report == "max"


def test_a_probe_without_that_parameter_is_built_as_given():
    probe = build_run_probe(ProbeConfig(name="knn"), "last")
    assert "report" not in type(probe.params).model_fields
