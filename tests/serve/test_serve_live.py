"""A live `openreel serve` on 127.0.0.1 (fake backend), driven by the real `openai` SDK and by headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings

import pytest
from serve_testkit import MODEL_ID, REPO, LiveServer, wait_for

from openreel.video.io import read_video

ARTIFACTS = REPO / "out" / "test-artifacts"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data = tmp_path_factory.mktemp("live") / "data"
    keys = {}
    for name in ("alice", "bob"):  # through the CLI, as a user makes keys: the key alone on stdout
        made = subprocess.run([sys.executable, "-m", "openreel", "keys", "create", "--name", name, "--data-dir",
                               str(data)], capture_output=True, text=True, timeout=60)
        assert made.returncode == 0 and "shown only now" in made.stderr, made.stderr
        keys[name] = made.stdout.strip()
    # --lease-seconds 2 and --poll-after-ms 200 keep the test quick; fake steps take 0.05 s
    server = LiveServer(data, "--backend", "fake", "--poll-after-ms", "200", "--lease-seconds", "2")
    server.keys = keys
    yield server
    server.stop()


@pytest.fixture(scope="module")
def alice_key(live):
    return live.keys["alice"]


@pytest.fixture
def client(live, alice_key):
    from openai import OpenAI

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK marks the Videos API deprecated
    return OpenAI(base_url=f"{live.url}/v1", api_key=alice_key, max_retries=0)


def test_openai_sdk_end_to_end(live, client, tmp_path):
    import openai

    queued = client.videos.create(model=MODEL_ID, prompt="a red ball bounces", seconds="0.5", size="32x32")
    assert queued.status in ("queued", "in_progress") and queued.object == "video" and queued.size == "32x32"

    video = client.videos.create_and_poll(model=MODEL_ID, prompt="a red ball bounces", seconds="0.5", size="32x32",
                                          extra_body={"seed": 7, "num_inference_steps": 6})
    assert video.status == "completed" and video.progress == 100 and video.seconds == "0.5"
    assert video.completed_at >= video.created_at

    content = client.videos.download_content(video.id)
    out = tmp_path / "v.mp4"
    out.write_bytes(content.read())
    mp4 = read_video(out)
    assert mp4.frames.shape == (9, 32, 32, 3) and mp4.record["settings"]["seed"] == 7
    assert mp4.record["settings"]["steps"] == 6
    assert client.videos.download_content(video.id, variant="thumbnail").read().startswith(b"\x89PNG")
    assert client.videos.download_content(video.id, variant="spritesheet").read().startswith(b"\x89PNG")

    got = client.videos.retrieve(video.id)
    assert got.id == video.id and got.model_extra["record"]["settings"]["seed"] == 7

    page = client.videos.list(limit=1)
    assert len(page.data) == 1 and page.has_more
    all_ids = [v.id for v in client.videos.list(limit=1)]  # the SDK follows `after` = last_id
    assert {queued.id, video.id} <= set(all_ids) and len(all_ids) == len(set(all_ids))

    deleted = client.videos.delete(queued.id)
    assert deleted.deleted and deleted.id == queued.id
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(queued.id)

    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(model=MODEL_ID, prompt="a ball", seconds="0.5", size="33x33")
    assert bad.value.body["param"] == "size" and "multiples of 16" in bad.value.body["message"]

    from openai import OpenAI

    bob = OpenAI(base_url=f"{live.url}/v1", api_key=live.keys["bob"], max_retries=0)
    with pytest.raises(openai.NotFoundError):
        bob.videos.retrieve(video.id)
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=f"{live.url}/v1", api_key="ork_wrong", max_retries=0).videos.list()


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("Chromium and chromedriver are required in CI (.ci/run installs them)")
        pytest.skip("Chromium/chromedriver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1200,1000", "--lang=zh-CN"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def test_web_page_in_headless_chromium(live, alice_key):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser = _browser()
    try:
        browser.get(f"{live.url}/#key={alice_key}")
        wait_for(lambda: browser.find_element(By.ID, "model").text == MODEL_ID, timeout=20, what="the model badge")
        assert "#key" not in browser.current_url  # the key leaves the address bar at once
        prompt = "黑色背景上，一个红色的球弹跳 (a red ball bounces)"
        browser.find_element(By.ID, "prompt").send_keys(prompt)
        Select(browser.find_element(By.ID, "size")).select_by_value("32x32")
        seconds = browser.find_element(By.ID, "seconds")
        seconds.clear()
        seconds.send_keys("0.5")
        browser.find_element(By.ID, "seed").send_keys("11")
        browser.find_element(By.CSS_SELECTOR, "#advanced summary").click()
        browser.find_element(By.ID, "num_inference_steps").send_keys("40")  # 2 s of fake steps: progress to see
        browser.find_element(By.ID, "submit").click()

        def new_card():
            return [c for c in browser.find_elements(By.CSS_SELECTOR, ".card[data-id]")
                    if c.find_element(By.CSS_SELECTOR, ".prompt").text == prompt]

        card = wait_for(new_card, timeout=10, what="the new video's card")[0]
        video_id = card.get_attribute("data-id")
        progress = wait_for(lambda: card.get_attribute("data-status") == "in_progress" and int(
            card.find_element(By.CSS_SELECTOR, "progress").get_attribute("value")) > 0 and card.find_element(
            By.CSS_SELECTOR, "progress").get_attribute("value"), timeout=20, what="live progress")
        assert 0 < int(progress) < 100
        wait_for(lambda: card.get_attribute("data-status") == "completed", timeout=30, what="completion")
        player = wait_for(lambda: card.find_elements(By.CSS_SELECTOR, "video"), timeout=10, what="the player")[0]
        state = browser.execute_async_script("""
            const [video, done] = arguments;
            const canvas = document.createElement("canvas");
            canvas.width = video.videoWidth;
            canvas.height = video.videoHeight;
            const report = () => {
                canvas.getContext("2d").drawImage(video, 0, 0);  // the decoded frame on screen now
                const lit = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data
                    .reduce((sum, v, i) => sum + (i % 4 === 3 ? 0 : v), 0);
                done({ready: video.readyState, width: video.videoWidth, time: video.currentTime, lit,
                      error: video.error && video.error.message});
            };
            video.play().then(() => setTimeout(report, 400), e => done({error: String(e)}));
        """, player)
        assert state.get("error") is None, state
        assert state["ready"] >= 2 and state["width"] == 32 and state["time"] > 0  # decoded and playing
        assert state["lit"] > 0  # the frame shows the (fake) ball, not black
        assert card.find_element(By.CSS_SELECTOR, ".prompt").text == prompt
        assert card.find_element(By.CSS_SELECTOR, ".download").get_attribute("download") == f"{video_id}.mp4"
        assert '"seed": 11' in card.find_element(By.CSS_SELECTOR, ".record pre").get_attribute("textContent")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", card)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "serve-web.png"))

        card.find_element(By.CSS_SELECTOR, ".delete").click()
        wait_for(lambda: not browser.find_elements(By.CSS_SELECTOR, f'.card[data-id="{video_id}"]'), timeout=10,
                 what="the card to go")
        assert not (live.data_dir / "videos" / video_id).exists()
        logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert logs == [], logs
    finally:
        browser.quit()
