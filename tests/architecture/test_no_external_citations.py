"""No docstring or comment in ``benchmark/`` or ``tests/`` cites the project's reference notes.

The notes (``or_neurips24``, ``sfrik_iclr23``, ``uniform_prior_iclr23``, ``frameworks``, ``paper_audit_*``, ``style``,
all Markdown) live outside the repository, so a citation of them points nowhere for a reader of the shipped code: cite
the paper, the official code, the library's documentation or "computed here" instead (issue 12). Data locations such
as ``../shared/datasets`` or ``../shared/golden`` are not citations and are not matched.

The patterns are assembled from pieces so that this file does not match itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("benchmark", "tests")

#: The reference notes' file names without the extension; ``paper_audit_*`` carries a date.
NOTE_STEMS = ("or_neurips24", "sfrik_iclr23", "uniform_prior_iclr23", "frameworks", r"paper_audit_[\w-]*", "style")
_EXT = "m" + "d"
_NOTES_DIR = "/".join(("shared", "reference"))
CITATION = re.compile(r"\b(?:" + "|".join(NOTE_STEMS) + r")\." + _EXT + r"\b|" + re.escape(_NOTES_DIR))


def external_citations(path: Path) -> list[tuple[int, str]]:
    """``(line number, line)`` of every line of ``path`` that cites a reference note or the notes' folder."""
    return [(i, line.strip()) for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if CITATION.search(line)]


def scan(root: Path, folders: tuple[str, ...] = SCANNED) -> list[str]:
    """``file:line: text`` for every citation in the ``.py`` files under ``root / folder`` for each folder."""
    hits = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            hits += [f"{path.relative_to(root)}:{i}: {line}" for i, line in external_citations(path)]
    return hits


def test_no_python_file_cites_the_reference_notes() -> None:
    hits = scan(REPO)
    assert not hits, "citations of notes outside the repository (cite the primary source instead):\n" + "\n".join(hits)


@pytest.mark.parametrize(
    "planted",
    [
        "    x = 1  # see " + "sfrik_iclr23" + "." + _EXT + " §2.3",
        '"""PMSN (' + "uniform_prior_iclr23" + "." + _EXT + ' §4)."""',
        "# " + "or_neurips24" + "." + _EXT + " §7",
        "#: Lightly (" + "frameworks" + "." + _EXT + " §2.2)",
        "# " + "paper_audit_2026-12-02" + "." + _EXT + " row 9",
        "# " + "style" + "." + _EXT,
        "# see ../" + _NOTES_DIR + "/notes",
    ],
)
def test_a_planted_citation_is_reported(tmp_path: Path, planted: str) -> None:
    (tmp_path / "benchmark" / "sub").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "benchmark" / "sub" / "mod.py").write_text('"""Clean."""\n\nVALUE = 1\n' + planted + "\n")
    (tmp_path / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    assert scan(tmp_path) == [f"benchmark/sub/mod.py:4: {planted.strip()}"]


@pytest.mark.parametrize(
    "clean",
    [
        'pytest.skip("no CIFAR-10 under ../shared/datasets")',
        "# bench golden --out ../shared/golden/sfrik.npz",
        "# bench coverage suites/or_neurips24.yaml --format md > coverage.md",
        "# writes report.md and README.md",
        "digest = hashlib.md5(data).hexdigest()",
        "# Zheng et al., ICLR 2023; valeoai/sfrik src/sfrik/ssl.py",
    ],
)
def test_data_locations_and_other_markdown_are_not_citations(tmp_path: Path, clean: str) -> None:
    (tmp_path / "benchmark").mkdir()
    (tmp_path / "benchmark" / "mod.py").write_text(clean + "\n")
    assert scan(tmp_path, ("benchmark",)) == []
