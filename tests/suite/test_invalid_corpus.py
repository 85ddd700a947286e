"""Every malformed suite in ``tests/suite/invalid/`` fails ``bench validate`` with its promised message.

Each case file starts with a comment header::

    # expect: unknown key 'metod' (did you mean 'method'?)   (one or more; each must be in the error line)
    # hint: allowed keys                                      (optional: the hint line must exist and contain it)
    # key: experiments[a]                                     (optional: the dotted key shown after file:line)
    # file: _helper.yaml                                      (optional: the error is in this file of the corpus)
    # line: 12                                                (the line the error points at; 'none': no line)
    # case: what is wrong, in words

and the test runs ``bench validate tests/suite/invalid/<case>.yaml`` through :func:`benchmark.cli.main` from the
repository root, asserting exit code 2, no traceback, one ``error: file:line: key: message`` line (plus the hint),
the message substrings and the location. Files starting with ``_`` are helpers that cases include.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.cli import main

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "invalid"
CASES = sorted(p for p in CORPUS.glob("*.yaml") if not p.name.startswith("_"))
HEADER_KEYS = {"expect", "hint", "key", "file", "line", "case"}


def read_header(path: Path) -> dict[str, list[str]]:
    """The ``# name: value`` lines at the top of a case (until the first line that is not one)."""
    header: dict[str, list[str]] = {}
    for raw in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not raw.startswith("# ") or ":" not in raw:
            break
        name, _, value = raw[2:].partition(":")
        if name not in HEADER_KEYS:
            break
        header.setdefault(name, []).append(value.strip())
    return header


def test_corpus_is_large_and_well_formed():
    assert len(CASES) >= 50, f"only {len(CASES)} cases in {CORPUS}"
    for case in CASES:
        header = read_header(case)
        assert header.get("expect"), f"{case.name}: no '# expect:' line"
        assert len(header.get("line", [])) == 1, f"{case.name}: needs exactly one '# line:'"
        line = header["line"][0]
        if line != "none":
            target = CORPUS / header["file"][0] if "file" in header else case
            assert target.is_file(), f"{case.name}: '# file:' {target} does not exist"
            n_lines = len(target.read_bytes().splitlines()) + 1  # an error may point at the end of the stream
            assert line.isdigit() and 1 <= int(line) <= n_lines, f"{case.name}: line {line} is not in {target.name}"
    bodies = [c.read_bytes().split(b"\n# case:", 1)[-1].split(b"\n", 1)[-1] for c in CASES]
    assert len(set(bodies)) == len(bodies), "two cases have the same suite body"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_invalid_suite_fails_clearly(case: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    header = read_header(case)
    monkeypatch.chdir(REPO)
    rel = case.relative_to(REPO)

    code = main(["validate", str(rel)])

    captured = capsys.readouterr()
    err = captured.err
    assert code == 2, f"exit code {code}, expected 2; stdout={captured.out!r} stderr={err!r}"
    assert "Traceback" not in err and "Traceback" not in captured.out
    lines = err.rstrip("\n").split("\n")
    assert 1 <= len(lines) <= 2, f"expected one error line plus an optional hint, got:\n{err}"
    first = lines[0]
    target = (rel.parent / header["file"][0]) if "file" in header else rel
    line = header["line"][0]
    location = f"error: {target}: " if line == "none" else f"error: {target}:{line}: "
    assert first.startswith(location), f"expected {location!r} at the start of:\n{first}"
    for key in header.get("key", []):
        assert first[len(location) :].startswith(f"{key}: "), f"expected key {key!r} after the location in:\n{first}"
    for needle in header["expect"]:
        assert needle in first, f"{needle!r} not in:\n{first}"
    for hint in header.get("hint", []):
        assert len(lines) == 2 and lines[1].startswith("  hint: "), f"promised a hint, got:\n{err}"
        assert hint in lines[1], f"{hint!r} not in the hint:\n{lines[1]}"


@pytest.mark.parametrize("name", ["smoke.yaml", "or_neurips24.yaml"])
def test_shipped_suites_still_validate(name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The checks above must not reject the suites the project ships."""
    path = REPO / "suites" / name
    if not path.exists():
        pytest.skip(f"{path} not in this checkout")
    monkeypatch.chdir(REPO)
    code = main(["validate", f"suites/{name}"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert ": ok (" in captured.out
