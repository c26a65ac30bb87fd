"""The README's screenshot of ``restore-ui``: starts it (the shipped ``photo`` model) on a free
local port, opens the page in headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
through Selenium), loads a photo with noise added, paints a hole over part of it, runs
``restore`` and saves the window: before (left of the line) and after (right).

    python scripts/ui_screenshot.py                  # -> docs/ui.png
    python scripts/ui_screenshot.py --out /tmp/ui.png --image photo.png
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, server: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"restore-ui exited with status {server.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"restore-ui did not answer at {url}")


def noisy_photo(path: Path, out: Path) -> None:
    clean = np.asarray(Image.open(path).convert("RGB")).astype(np.float64)
    noise = np.random.default_rng(0).normal(0, 20, clean.shape)
    Image.fromarray(np.clip(np.round(clean + noise), 0, 255).astype(np.uint8)).save(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "ui.png")
    p.add_argument("--image", type=Path, default=ROOT / "tests" / "data" / "astronaut_crop.png")
    args = p.parse_args()
    browser_path, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser_path or not driver_path:
        sys.exit("needs chromium and chromedriver: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "restore.ui.server", "--port", str(port), "--device", "cpu"]
    server = subprocess.Popen(command)
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / args.image.with_suffix(".png").name
        noisy_photo(args.image, photo)
        options = webdriver.ChromeOptions()
        options.binary_location = browser_path
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
            options.add_argument(flag)
        browser = None
        try:
            wait_for(url, server)
            browser = webdriver.Chrome(
                service=Service(executable_path=driver_path), options=options
            )
            browser.get(url)
            browser.find_element(By.ID, "file").send_keys(str(photo))
            wait = WebDriverWait(browser, 120)
            wait.until(lambda b: " x " in b.find_element(By.ID, "status").text)
            Select(browser.find_element(By.ID, "zoom")).select_by_value("2")
            canvas = browser.find_element(By.ID, "mask")
            (
                ActionChains(browser)
                .move_to_element_with_offset(canvas, -80, -60)
                .click_and_hold()
                .move_by_offset(60, 30)
                .move_by_offset(60, -10)
                .release()
                .perform()
            )
            Select(browser.find_element(By.ID, "task")).select_by_value("restore")
            browser.find_element(By.ID, "run").click()
            wait.until(lambda b: b.find_element(By.ID, "status").text.startswith("done"))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(args.out))
        finally:
            if browser is not None:
                browser.quit()
            server.terminate()
            server.wait(30)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
