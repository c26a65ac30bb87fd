"""The page in a real browser (issue #26): headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium) opens it, loads an image, paints a stroke, runs inpaint,
and the result appears, changed only under the stroke. Skips when no browser or driver is
installed."""

from __future__ import annotations

import base64
import io
import shutil

import numpy as np
import pytest
from helpers import photo
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("python_multipart")
webdriver = pytest.importorskip("selenium.webdriver")

from server_helpers import serving  # noqa: E402

from restore import Restorer  # noqa: E402
from restore.ui.server import RestoreService  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


def chromium():
    """Headless Chromium through its driver (both from the system, nothing downloaded)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("no chromium and chromedriver installed (apt-get install chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def test_paint_a_stroke_and_inpaint_it(weights, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    image = photo(0, 96, 128)
    Image.fromarray(image).save(tmp_path / "photo.png")
    restorer = Restorer.from_checkpoint(weights, device="cpu", precision="fp32")
    with serving(RestoreService(restorer)) as url:
        browser = chromium()
        try:
            browser.get(url)
            browser.find_element(By.ID, "file").send_keys(str(tmp_path / "photo.png"))
            wait = WebDriverWait(browser, 30)
            wait.until(lambda b: "128 x 96" in b.find_element(By.ID, "status").text)
            Select(browser.find_element(By.ID, "zoom")).select_by_value("2")
            brush = browser.find_element(By.ID, "brush")
            browser.execute_script("arguments[0].value = 12; arguments[0].oninput()", brush)
            canvas = browser.find_element(By.ID, "mask")  # 256 x 192 on screen at 200 %
            (
                ActionChains(browser)
                .move_to_element_with_offset(canvas, -60, -10)  # from the centre
                .click_and_hold()
                .move_by_offset(40, 0)
                .move_by_offset(40, 20)
                .release()
                .perform()
            )
            Select(browser.find_element(By.ID, "task")).select_by_value("inpaint")
            browser.find_element(By.ID, "run").click()
            wait.until(lambda b: b.find_element(By.ID, "status").text.startswith("done"))
            assert not browser.find_element(By.ID, "progress").is_displayed()  # polling stopped
            after = browser.find_element(By.ID, "after")
            assert after.is_displayed()
            src = after.get_attribute("src")
            painted = browser.execute_script(
                "const m = document.getElementById('mask');"
                "return Array.from(m.getContext('2d').getImageData(0, 0, m.width, m.height).data"
                ".filter((v, i) => i % 4 === 3));"
            )
        finally:
            browser.quit()
    assert src.startswith("data:image/png;base64,")
    result = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
    stroke = np.array(painted, np.uint8).reshape(96, 128) > 127  # what the page sent as holes
    assert 100 < stroke.sum() < 0.2 * stroke.size  # a stroke, in the middle of the photo
    rows, cols = np.nonzero(stroke)
    assert 30 < rows.mean() < 70 and 20 < cols.mean() < 110
    changed = (result != image).any(axis=2)
    assert changed.any()  # the holes were filled
    assert not (changed & ~stroke).any()  # and nothing else changed
