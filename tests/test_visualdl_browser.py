"""The VisualDL page of a finished run, in a real browser: `visualdl --logdir RUN/vdl` on a
loopback port, its scalars page and its samples page opened in headless Chromium.

The page must name the run's tags and draw their curves, and show the run's sample grid. The
browser reaches only the loopback server: every other host name fails to resolve (VisualDL's
page loads an analytics script from the internet, which would otherwise stall it offline).
Skipped when Chromium is absent (`apt-get install -y chromium`; .ci/run installs it when it can).
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

CHROMIUM = next((path for path in (shutil.which("chromium"), shutil.which("chromium-browser"),
                                   shutil.which("google-chrome")) if path), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install -y chromium; "
                             ".ci/run installs it when apt-get can)")
HOST = "127.0.0.1"
#: only the loopback server resolves: nothing leaves the machine
LOOPBACK_ONLY = f"MAP * ~NOTFOUND, EXCLUDE {HOST}"
#: virtual milliseconds the page may run before its DOM / picture is taken (time runs fast)
PAGE_BUDGET_MS = 20_000


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def visualdl_command():
    beside = os.path.join(os.path.dirname(sys.executable), "visualdl")
    return beside if os.path.isfile(beside) else shutil.which("visualdl")


def wait_until_serving(url, proc, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"visualdl exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"visualdl did not answer {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A finished 6-step run, served by `visualdl` on a free loopback port; the server is
    stopped by its pid at the end."""
    from conftest import tiny_config
    from paddle_gan.train.run import run_training

    base = tmp_path_factory.mktemp("vdl_browser")
    cfg = tiny_config(base, max_steps=6, log_every=100)
    run_training(cfg, say=lambda line: None)
    command = visualdl_command()
    if command is None:
        pytest.skip("the visualdl command is not installed (requirements.txt)")
    port = free_port()
    log = open(base / "visualdl.log", "w", encoding="utf-8")
    proc = subprocess.Popen([command, "--logdir", os.path.join(cfg.output, "vdl"),
                             "--host", HOST, "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        root = f"http://{HOST}:{port}/app"
        wait_until_serving(f"{root}/api/scalar/tags", proc)
        yield root, base
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
        log.close()


def chromium(url, profile, *mode):
    """Run headless Chromium on `url` (loopback only) with `mode` (--dump-dom or
    --screenshot=FILE); returns its stdout."""
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-proxy-server", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
         f"--host-resolver-rules={LOOPBACK_ONLY}", f"--virtual-time-budget={PAGE_BUDGET_MS}",
         "--window-size=1400,900", "--hide-scrollbars", *mode, url],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def left_panel(png):
    """The screenshot's main panel (below the header, left of the settings), as RGB ints."""
    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert pixels.shape == (900, 1400, 3)
    return pixels[70:, :1100]


def test_the_scalars_page_names_the_tags_and_draws_the_curves(served):
    root, base = served
    dom = chromium(f"{root}/scalar", base / "profile_scalar", "--dump-dom")
    for tag in ("d_loss", "g_loss", "real_score", "fake_score"):
        assert f"<h3>{tag}</h3>" in dom, tag  # a group per tag
    assert "<canvas" in dom  # the first group, open, holds its chart
    shot = base / "scalars.png"
    chromium(f"{root}/scalar", base / "profile_scalar", f"--screenshot={shot}")
    panel = left_panel(shot)
    red, green, blue = panel[..., 0], panel[..., 1], panel[..., 2]
    curve = (blue > 150) & (blue - red > 80) & (blue - green > 60)  # the run's blue lines
    ys, xs = np.nonzero(curve)
    # measured: ~630 curve pixels spanning ~250 px of the chart; an empty chart has none
    assert curve.sum() > 200, f"no curve drawn in {shot}"
    assert xs.max() - xs.min() > 150, f"the curve in {shot} does not run across the steps"


def test_the_samples_page_shows_the_runs_sample_grid(served):
    root, base = served
    dom = chromium(f"{root}/image", base / "profile_image", "--dump-dom")
    assert "<h3>samples</h3>" in dom
    assert 'src="blob:http://127.0.0.1' in dom  # the grid, fetched from the server as an image
    shot = base / "samples.png"
    chromium(f"{root}/image", base / "profile_image", f"--screenshot={shot}")
    dark = left_panel(shot).max(axis=-1) < 90
    # measured: ~25,000 dark pixels of the 8x8 grid; headings and icons alone ~700
    assert dark.sum() > 10_000, f"no sample grid in {shot}"
