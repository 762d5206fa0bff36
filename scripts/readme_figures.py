"""One figure per executed report for the README: the chosen plotly chart of each
reports/*.html, screenshotted by headless Debian Chromium (no static-export engine needed).

    python scripts/readme_figures.py --reports reports --out docs/figures
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import plotly
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--window-size=1100,900", "--hide-scrollbars")
# notebook -> the plotly charts that represent it best, by the start of their title (a
# chart added to a notebook moves the others, not their titles), and the figure each
# becomes (docs/figures/<name>.png)
CHOICE = {"01_overconfidence_theory": {"Trained free-logit": "01_overconfidence_theory"},
          "02_calibration_synthetic": {"Top-10 predicted versus true": "02_calibration_synthetic"},
          "03_calibration_ml1m": {"Reliability of the top-10": "03_calibration_ml1m"},
          "04_main_table": {"Test NDCG@10 of each new best": "04_main_table",
                            "ndcg@10 over k x t": "04_grid_ndcg",
                            "ece over k x t": "04_grid_ece"},
          "05_performance": {"Test NDCG@10 of the selected checkpoint": "05_performance"}}
TITLE_JS = "var title = arguments[0].layout.title; return (title && title.text) || '';"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory() as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            local_js = Path(plotly.__file__).parent / "package_data" / "plotly.min"
            for html in sorted(args.reports.glob("*.html")):
                # offline: swap the CDN's require.js + plotly.js for the copy plotly ships
                # and a two-line require() that hands it to the report's chart scripts
                shim = (f'<script src="{local_js.as_uri()}.js"></script><script>'
                        "window.require=function(d,f){if(f)f(window.Plotly)};"
                        "window.require.undef=function(){};"
                        "window.requirejs={config:function(){}};</script>")
                page = re.sub(r'<script[^>]*require(?:\.min)?\.js"></script>', lambda _, s=shim: s,
                              html.read_text(), count=1)
                copy = Path(profile) / html.name
                copy.write_text(page)
                driver.get(copy.as_uri())
                time.sleep(3)  # plotly renders after load
                charts = driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")
                if not charts:
                    print(f"{html.name}: no plotly chart, skipped")
                    continue
                titles = [driver.execute_script(TITLE_JS, chart) for chart in charts]
                for prefix, name in CHOICE.get(html.stem, {"": html.stem}).items():
                    index = next((i for i, t in enumerate(titles) if t.startswith(prefix)), None)
                    if index is None:
                        print(f"{html.name}: no chart titled '{prefix}...', {name}.png not "
                              f"written (titles: {titles})")
                        continue
                    chart = charts[index]
                    driver.execute_script("arguments[0].scrollIntoView();", chart)
                    time.sleep(1)
                    target = args.out / f"{name}.png"
                    chart.screenshot(str(target))
                    print(f"wrote {target} (chart {index} of {len(charts)} in the report)")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
