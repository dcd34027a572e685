import json

from PIL import Image

from benchmarks.benchmark import main
from tests.images import gradient


def test_benchmark_writes_table_and_json(use_tiny_models, tmp_path, capsys):
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(gradient(48, 64, 1)).save(folder / "a.png")
    output = tmp_path / "results" / "bench"
    arguments = [str(folder), "--sigma", "25", "--models", "default", "--classical", "nlm", "--output", str(output)]
    assert main([*arguments, "--update-cards"]) == 0
    report = json.loads(output.with_suffix(".json").read_text())
    assert report["machine"]["cpus"] >= 1 and report["command"].startswith("python -m benchmarks.benchmark")
    methods = {row["method"] for row in report["rows"]}
    assert methods == {"default", "Non-local means (fast)"}
    assert all(row["seconds_per_megapixel"] > 0 and row["psnr"] > 0 for row in report["rows"])
    assert "| default |" in capsys.readouterr().out
    card = json.loads((use_tiny_models / "unet-gray.json").read_text())
    assert card["measured"]["results"]["set"]["sigma_25"]["psnr"] > 0
