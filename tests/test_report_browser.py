"""`agentopt report` in a real browser: headless Chromium (Debian's package) driven by Playwright's Python client
opens report.html with the network cut off, and the plots must be drawn and the page must not be blank."""
import io
import shutil
import subprocess
import sys

import pytest

from run_fixtures import make_run

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install playwright)")
    if not shutil.which("chromium") and not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (scripts/install_browser.sh installs Debian's package)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def report_path(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("runs"), "llama3-8b-ffn")
    out = subprocess.run([sys.executable, "-m", "agentopt.cli", "report", str(run)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    path = run / "report.html"
    assert str(path) in out.stdout.replace("\n", "")
    return path


def test_report_plots_are_drawn_and_the_page_is_not_blank(browser, report_path, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    np = pytest.importorskip("numpy")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests = []
    page.route("**/*", lambda route: (requests.append(route.request.url), route.continue_() if
                                      route.request.url.startswith("file:") else route.abort()))
    page.goto(report_path.as_uri())
    page.wait_for_load_state("load")
    assert not [u for u in requests if not u.startswith("file:")], "the report must need no network"

    sizes = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('svg.plot')].map(svg => [
        svg.dataset.plot,
        [...svg.querySelectorAll('path, rect, circle')].map(e => {
            const b = e.getBBox(); return [e.tagName + '.' + (e.getAttribute('class') || ''), b.width, b.height]; })
    ]))""")
    assert set(sizes) == {"over-time", "over-candidates", "shapes", "lineage"}
    # the best-so-far line spans the chart; the per-shape bars have height; the tree has a node per candidate
    for plot in ("over-time", "over-candidates"):
        assert any(tag == "path.best-line" and w > 100 for tag, w, h in sizes[plot]), plot
    bars = [(w, h) for tag, w, h in sizes["shapes"] if tag == "rect.bar" and h > 1]
    assert len(bars) == 3 * 4  # three shapes x (best, eager, torch.compile from c0005's template, floor)
    assert sum(tag == "circle.node" and w > 0 for tag, w, h in sizes["lineage"]) == 5

    page.click("svg[data-plot=lineage] a[href='#cand-c0004']")
    assert page.evaluate("location.hash") == "#cand-c0004"
    assert page.locator("#cand-c0004").is_visible()
    assert "SyntaxError" in page.locator("#cand-c0004").inner_text()
    assert page.locator("#cand-c0003 pre.diff span.add").count() > 0

    page.goto(report_path.as_uri())
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    pixels = np.asarray(Image.open(io.BytesIO(shot.read_bytes())).convert("L"), dtype=float)
    assert pixels.std() > 20, "the screenshot looks blank"
    shutil.copy(shot, report_path.parent / "report.png")  # kept beside the report for a person to look at
    page.close()
