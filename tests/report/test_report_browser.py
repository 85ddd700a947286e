"""The HTML report renders in a real headless browser (Chromium): a non-blank page, the table rows in the DOM,
and embedded figures that decode.

Needs Debian's ``chromium`` (``apt-get update && apt-get install -y chromium``); skipped with that hint otherwise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmark.report import make_report
from tests.report import synthetic

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WINDOW = (1400, 2000)


def _chromium(tmp_path: Path, *args: str, url: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed; install it with `apt-get update && apt-get install -y chromium` "
                    "(Debian) to run the browser test")
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def _pixels(png: Path):
    import numpy as np
    from PIL import Image

    with Image.open(png) as img:
        size = img.size
        rgb = np.asarray(img.convert("RGB"), dtype=float)
    return size, rgb


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    results, baselines = synthetic.write_results(root)
    return make_report(results, [baselines])["html"]


def test_report_renders_non_blank(report_html, tmp_path):
    shot = tmp_path / "report.png"
    proc = _chromium(tmp_path, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                     url=report_html.as_uri())
    assert shot.exists(), f"no screenshot; chromium exited {proc.returncode}: {proc.stderr[-2000:]}"
    size, rgb = _pixels(shot)
    assert size == WINDOW
    assert rgb.std() > 20, "the screenshot is (nearly) uniform: nothing rendered"
    non_white = (rgb.min(axis=2) < 200).mean()
    assert non_white > 0.02, f"only {non_white:.1%} of the page is not white"
    coloured = ((rgb.max(axis=2) - rgb.min(axis=2)) > 25).mean()  # verdict row backgrounds, plot lines
    assert coloured > 0.005, f"only {coloured:.2%} coloured pixels"


def test_dom_holds_the_tables(report_html, tmp_path):
    proc = _chromium(tmp_path, "--dump-dom", url=report_html.as_uri())
    dom = proc.stdout
    assert proc.returncode == 0 and dom, proc.stderr[-2000:]
    for variant in ("none", "so-gamma1e-06", "so-gamma1e-05", "srip-gamma0.001"):
        assert f"<td>byol_c10</td><td>{variant}</td><td>linear.top1</td>" in dom
    assert "<td>simclr_in1k</td><td>kindk_classes-k2</td>" in dom
    assert re.search(r"<tr class=\"c-reproduced\"><td>so_helps_byol</td>", dom), "claim row missing"
    assert dom.count("<figure>") == 5 and dom.count('src="data:image/png;base64,') == 5


def test_embedded_figures_decode(report_html, tmp_path):
    # A page holding only the report's <figure> elements: the browser must paint the plots' coloured lines.
    page = report_html.read_text()
    figures = re.findall(r"<figure>.*?</figure>", page, flags=re.S)
    assert figures
    only = tmp_path / "figures.html"
    only.write_text("<!doctype html><html><body style='margin:0;background:#fff'>" + "".join(figures) + "</body></html>")
    shot = tmp_path / "figures.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1200", url=only.as_uri())
    assert shot.exists()
    _, rgb = _pixels(shot)
    blue = ((rgb[..., 2] - rgb[..., 0]) > 60).mean()  # matplotlib's default first colour is blue (#1f77b4)
    assert blue > 0.0005, "no plot lines painted: the data: URIs did not decode"


def test_screenshot_helper_reads_png(tmp_path):
    """The pixel check itself distinguishes a blank image from a drawn one (guards the assertions above)."""
    import numpy as np
    from PIL import Image

    blank, drawn = tmp_path / "blank.png", tmp_path / "drawn.png"
    Image.new("RGB", (40, 30), "white").save(blank)
    arr = np.full((30, 40, 3), 255, dtype=np.uint8)
    arr[10:20, 5:35] = (31, 119, 180)
    Image.fromarray(arr).save(drawn)
    assert _pixels(blank)[1].std() == 0
    assert _pixels(drawn)[1].std() > 20
