"""The dashboard in a real browser: `streamlit run app/main.py` on a free port, driven by
headless Debian Chromium through selenium (no browser downloads)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, require, stop_process
from dashboard_runs import stored_runs

from gsasrec import theory

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "main.py"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1400,1000")
WAIT = 120  # seconds: the machine may be shared and slow
K_LABEL = "negatives k (log scale"



@pytest.fixture
def server(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served from an empty working folder, with the stored runs in GSASREC_RUNS_DIR."""
    pytest.importorskip("streamlit")
    runs = stored_runs(tmp_path_factory)
    port = free_port()
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    env = {**os.environ, "GSASREC_RUNS_DIR": str(runs)}
    log = open(tmp_path / "streamlit.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{(tmp_path / 'streamlit.log').read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        stop_process(process)
        log.close()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    require(Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(),
            "Debian chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium manager must never download a browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def metric_value(driver, label: str) -> str:
    from selenium.webdriver.common.by import By

    for element in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]'):
        found = element.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]')
        if found and found[0].text.strip() == label:
            value = element.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]')
            return value.get_attribute("textContent").strip()
    return ""


def wait_until_idle(driver) -> None:
    """Until the script run has finished (no 'Running...' status) and nothing is stale."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    time.sleep(0.5)
    WebDriverWait(driver, WAIT).until(lambda d: not d.find_elements(
        By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))


def test_k_slider_changes_alpha_in_a_real_browser(server: str, browser, tmp_path: Path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    WebDriverWait(browser, WAIT).until(lambda d: metric_value(d, "alpha"))
    wait_until_idle(browser)
    slider = browser.find_element(By.CSS_SELECTOR, f'input[type="range"][aria-label^="{K_LABEL}"]')
    num_items = 3416  # the app's default catalogue size
    k_before = int(slider.get_attribute("aria-valuetext"))
    assert metric_value(browser, "alpha") == f"{theory.sampling_rate(k_before, num_items):.4g}"
    browser.save_screenshot(str(tmp_path / "theory-before.png"))

    browser.execute_script("arguments[0].focus();", slider)
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()  # one option up: k doubles
    expected = f"{theory.sampling_rate(2 * k_before, num_items):.4g}"
    WebDriverWait(browser, WAIT).until(lambda d: metric_value(d, "alpha") == expected)
    wait_until_idle(browser)
    slider = browser.find_element(By.CSS_SELECTOR, f'input[type="range"][aria-label^="{K_LABEL}"]')
    k_after = int(slider.get_attribute("aria-valuetext"))
    assert k_after == 2 * k_before
    assert metric_value(browser, "alpha") == f"{theory.sampling_rate(k_after, num_items):.4g}"
    assert metric_value(browser, "beta") == f"{theory.beta(k_after / 3415, 0.75):.4g}"

    assert browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    browser.save_screenshot(str(tmp_path / "theory.png"))
    assert (tmp_path / "theory.png").stat().st_size > 10_000

    # the stored runs' section rendered too (reliability diagram and heatmaps)
    header = browser.find_element(By.ID, "trained")
    browser.execute_script("arguments[0].scrollIntoView();", header)
    time.sleep(1)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) >= 4
    browser.save_screenshot(str(tmp_path / "trained.png"))
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
