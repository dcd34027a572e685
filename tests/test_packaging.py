"""The package as a user installs it: a wheel that carries its models and runs from any folder."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_ships_its_models_and_runs_from_anywhere(tmp_path):
    """Build the wheel, install it apart from the checkout, and denoise a sample with it."""
    # Built from a copy: setuptools writes its build/ folder into the tree it builds.
    source = tmp_path / "source"
    skipped = (".git", ".venv", "build", "runs", ".gpu-data", ".whl", "results", "docs", "tests", "*.egg-info")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*skipped, "__pycache__"))
    wheel_command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*wheel_command, "-w", tmp_path / "dist", source],
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("denoise-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, wheel],
        check=True,
        capture_output=True,
    )
    shipped = {path.name for path in (ROOT / "pretrained").iterdir() if path.suffix in (".keras", ".json")}
    assert shipped <= {path.name for path in (site / "denoise" / "pretrained").iterdir()}

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(elsewhere / "sample.png")
    environment = {"PYTHONPATH": str(site), "PATH": str(Path(sys.executable).parent)}
    where = subprocess.run(
        [sys.executable, "-c", "import denoise, denoise.registry as r; print(denoise.__file__, r.pretrained_dir())"],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    module_file, models = where.stdout.split()
    assert module_file.startswith(str(site)) and models.startswith(str(site))
    run = subprocess.run(
        [sys.executable, "-m", "denoise", "run", "sample.png", "--out", "out"],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "(photo-color)" in run.stdout and run.stderr == ""
    with Image.open(elsewhere / "out" / "sample.png") as written:
        assert written.size == (64, 48)
