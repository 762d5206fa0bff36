"""Screenshots of each dashboard section for the README (docs/screenshots/*.png).

Serves `app/main.py` on a free local port and drives headless Debian Chromium through
selenium. Point --runs at a folder of finished runs (ideally an ML-1M k x t grid, e.g.
`for k in 16 256; do for t in 0 1; do python -m gsasrec train --dataset ml-1m --negatives $k
--t $t --out runs/grid/k$k-t$t; done; done`) and GSASREC_DATA_DIR at the data sets.

    python scripts/screenshots.py --runs runs/grid --out docs/screenshots
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--window-size=1400,1300", "--hide-scrollbars")
WAIT = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def idle(driver: webdriver.Chrome) -> None:
    time.sleep(1.0)
    WebDriverWait(driver, WAIT).until(lambda d: not d.find_elements(
        By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))
    time.sleep(1.5)  # let plotly finish drawing


def press(driver: webdriver.Chrome, label_start: str, key: str, times: int) -> None:
    """Move the slider whose label starts with `label_start` with the keyboard."""
    slider = driver.find_element(By.CSS_SELECTOR,
                                 f'input[type="range"][aria-label^="{label_start}"]')
    driver.execute_script("arguments[0].focus();", slider)
    for _ in range(times):
        ActionChains(driver).send_keys(key).perform()
        idle(driver)


def show(driver: webdriver.Chrome, anchor: str, out: Path) -> None:
    header = driver.find_element(By.ID, anchor)
    driver.execute_script("arguments[0].scrollIntoView();", header)
    idle(driver)
    driver.save_screenshot(str(out))
    print(f"wrote {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="folder of finished runs (GSASREC_RUNS_DIR)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "SE_OFFLINE": "true"}
    if args.runs:
        env["GSASREC_RUNS_DIR"] = str(args.runs.resolve())
    os.environ["SE_OFFLINE"] = "true"
    with tempfile.TemporaryDirectory() as workdir:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"),
             "--server.headless", "true", "--server.port", str(port), "--server.address",
             "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={Path(workdir) / 'profile'}")
        driver = None
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(240):
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.5)
            driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
            driver.get(url)
            WebDriverWait(driver, WAIT).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot"))
            idle(driver)
            show(driver, "theory", args.out / "theory.png")
            press(driver, "calibration parameter t", Keys.ARROW_RIGHT, 5)  # t = 1 for the grid
            button = next(b for b in driver.find_elements(By.TAG_NAME, "button")
                          if b.text.strip() == "Train free logits")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});"
                                  "arguments[0].click();", button)
            WebDriverWait(driver, WAIT).until(lambda d: len(d.find_elements(
                By.CSS_SELECTOR, ".js-plotly-plot")) >= 2)
            show(driver, "live", args.out / "live.png")
            toggle = driver.find_element(By.XPATH, '//label[.//p[text()="log axes"]]//input')
            driver.execute_script("arguments[0].click();", toggle)  # small frequencies show
            idle(driver)
            show(driver, "trained", args.out / "trained.png")
            show(driver, "recommendations", args.out / "recommendations.png")
            errors = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
            if errors:
                print(f"the page shows {len(errors)} error(s)", file=sys.stderr)
                return 1
        finally:
            if driver is not None:
                driver.quit()
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
