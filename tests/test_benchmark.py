import json

import numpy as np
import pytest
from PIL import Image

from benchmarks import device_speed
from benchmarks.benchmark import main, model_runs, targets, targets_table
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
    [target] = report["targets"]
    assert target["folder"] == "set" and target["time_ratio_to_nlm"] > 0 and "margin_over_bm3d" not in target
    [paired] = report["paired_timing"]  # the default and NLM in turns, after the rows
    assert (paired["folder"], paired["sigma"], paired["rounds"]) == ("set", 25.0, 2)
    assert target["timing"] == "paired" and target["time_ratio_to_nlm"] == paired["time_ratio_to_nlm"]
    card = json.loads((use_tiny_models / "unet-gray.json").read_text())
    assert card["measured"]["results"]["set"]["sigma_25"]["psnr"] > 0


def test_targets_compare_default_with_bm3d_and_nlm():
    def row(method, psnr, seconds, sigma=25.0):
        return {"method": method, "folder": "bsd68", "sigma": sigma, "psnr": psnr, "seconds_per_megapixel": seconds}

    rows = [
        row("unet", 28.9, 0.5),
        row("BM3D", 28.57, 20.0),
        row("Non-local means (fast)", 27.5, 1.0),
        row("unet", 25.7, 0.5, sigma=50.0),
        row("BM3D", 25.62, 20.0, sigma=50.0),
        row("conv-1", 24.0, 0.1),
    ]
    by_sigma = {entry["sigma"]: entry for entry in targets(rows)}
    assert set(by_sigma) == {25.0, 50.0}
    assert by_sigma[25.0]["quality_goal_met"] and abs(by_sigma[25.0]["margin_over_bm3d"] - 0.33) < 1e-9
    assert by_sigma[25.0]["speed_goal_met"] and by_sigma[25.0]["time_ratio_to_nlm"] == 0.5
    assert not by_sigma[50.0]["quality_goal_met"] and "time_ratio_to_nlm" not in by_sigma[50.0]
    table = targets_table(targets(rows))
    assert "+0.33 ✓" in table and "+0.08 ✗" in table and "paired" not in table
    paired = [{"folder": "bsd68", "sigma": 25.0, "time_ratio_to_nlm": 1.2}]
    by_sigma = {entry["sigma"]: entry for entry in targets(rows, paired)}
    assert by_sigma[25.0]["time_ratio_to_nlm"] == 1.2 and not by_sigma[25.0]["speed_goal_met"]
    assert by_sigma[25.0]["timing"] == "paired" and "time_ratio_to_nlm" not in by_sigma[50.0]
    paired_table = targets_table(targets(rows, paired))
    assert "| 1.20 ✗ |" in paired_table and "paired pass" in paired_table


def test_report_writes_the_readme_section_from_the_json(tmp_path):
    from benchmarks.report import END, START
    from benchmarks.report import main as report_main

    rows = [
        {
            "method": "unet",
            "folder": "bsd68",
            "sigma": sigma,
            "psnr": 28.0 + sigma / 100,
            "ssim": 0.8,
            "seconds_per_megapixel": 0.5,
        }
        for sigma in (15.0, 25.0)
    ] + [
        {"method": "BM3D", "folder": "bsd68", "sigma": 25.0, "psnr": 28.57, "ssim": 0.8, "seconds_per_megapixel": 9.0},
        {
            "method": "unet x8",
            "orientations": 8,
            "folder": "bsd68",
            "sigma": 25.0,
            "psnr": 28.4,
            "ssim": 0.8,
            "seconds_per_megapixel": 4,
        },
        {
            "method": "unet bfloat16",
            "precision": "bfloat16",
            "folder": "bsd68",
            "sigma": 25.0,
            "psnr": 28.2,
            "ssim": 0.8,
            "seconds_per_megapixel": 0.3,
        },
    ]
    machine = {"processor": "Test CPU", "cpus": 2, "keras": "3", "backend": "tensorflow", "device": "CPU"}
    report = tmp_path / "bench.json"
    report.write_text(
        json.dumps(
            {"command": "python -m benchmarks.benchmark x", "machine": machine, "rows": rows, "targets": targets(rows)}
        )
    )
    readme, details = tmp_path / "README.md", tmp_path / "benchmarks.md"
    readme.write_text(f"# Title\n\n{START}\nold numbers\n{END}\n\nrest\n")
    details.write_text(f"# Details\n\n{START}\n{END}\n\n<!-- real-noise:start -->\n<!-- real-noise:end -->\n")
    readme.write_text(readme.read_text() + "<!-- real-noise:start -->\n<!-- real-noise:end -->\n")
    estimate = {"mean": 2.0, "ratio_mean": 0.5, "ratio_std": 0.1, "correlation": 0.7}
    real_noise = tmp_path / "real-noise.json"
    real_noise.write_text(
        json.dumps(
            {
                "command": "python -m benchmarks.real_noise y",
                "images": 3,
                "scenes": ["a", "b"],
                "part": "test",
                "rows": [
                    {"method": "noisy input", "psnr": 30.0, "ssim": 0.8, "seconds_per_megapixel": 0.0},
                    {"method": "photo", "psnr": 32.5, "ssim": 0.9, "seconds_per_megapixel": 0.3},
                ],
                "noise_estimate_summary": {
                    "mean_true": 4.0,
                    "white_noise_estimate": estimate,
                    "photo_estimate": estimate,
                },
            }
        )
    )
    arguments = ["--readme", str(readme), "--details", str(details), "--real-noise", str(real_noise)]
    assert report_main([str(report), *arguments]) == 0
    for page in (readme, details):
        assert "| photo | 32.50 | +2.50 | 0.9000 | 0.30 |" in page.read_text()
    assert "Noise estimates" in details.read_text() and "Noise estimates" not in readme.read_text()
    assert "python -m benchmarks.real_noise y" in details.read_text()
    text = details.read_text()
    assert "| unet (default) | 28.15 / 28.25 | 0.50 |" in text
    assert "| BM3D (CBM3D on colour) | – / 28.57 | 9.00 |" in text
    assert "| bsd68 | 25 | 28.25 | 28.57 | -0.32 ✗ |" in text  # the targets are the single pass's
    assert "| unet, 8 orientations averaged | – / 28.40 | 4.00 |" in text
    assert "| unet in bfloat16 | – / 28.20 | 0.30 |" in text
    assert "28.20 | 28.57" not in text  # nor the bfloat16 run's
    assert "python -m benchmarks.benchmark x" in text and "Test CPU" in text
    compact = readme.read_text()
    assert "old numbers" not in compact and f"{END}\n\nrest\n" in compact
    assert "| method | BSD68 | CPU s/MP (BSD68) |" in compact  # sigma 25 only
    assert "| unet (default) | 28.25 | 0.50 |" in compact and "| BM3D (CBM3D on colour) | 28.57 | 9.00 |" in compact
    assert "| unet, 8 orientations averaged | 28.40 | 4.00 |" in compact and "runs on" not in compact  # one run
    assert "bfloat16" not in compact and "28.15" not in compact and "margin" not in compact


def test_latent_curve_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from benchmarks.benchmark import latent_sizes, plot_latent_curve

    rows = [
        {"method": f"conv-{size}", "folder": "bsd68", "sigma": 25.0, "psnr": 24 + size / 10} for size in (1, 4, 16)
    ] + [{"method": "unet", "folder": "bsd68", "sigma": 25.0, "psnr": 29.0}]
    assert latent_sizes(rows) == {"conv-1": 1, "conv-4": 4, "conv-16": 16}
    path = tmp_path / "latent.png"
    assert plot_latent_curve(rows, path)
    assert Image.open(path).size[0] > 100
    assert not plot_latent_curve(rows[-1:], tmp_path / "none.png")


def test_folder_groups_balance_the_work(tmp_path):
    from benchmarks.benchmark import folder_groups

    sizes = {"big": 9000, "middle": 5000, "small": 3000}
    for name, size in sizes.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.png").write_bytes(b"x" * size)
    folders = [str(tmp_path / name) for name in ("small", "big", "middle")]
    assert folder_groups(folders, 2) == [[folders[1]], [folders[0], folders[2]]]
    assert folder_groups(folders, 8) == [[folders[1]], [folders[2]], [folders[0]]]


def test_parallel_jobs_give_the_same_psnr_as_one_process(use_tiny_models, tmp_path):
    folders = []
    for name, channels in (("grey", 1), ("colour", 3)):
        folder = tmp_path / name
        folder.mkdir()
        Image.fromarray(gradient(40, 56, channels).squeeze()).save(folder / "a.png")
        folders.append(str(folder))
    common = [*folders, "--sigma", "25", "--models", "default", "--classical", "tv"]
    assert main([*common, "--output", str(tmp_path / "serial")]) == 0
    assert main([*common, "--jobs", "2", "--output", str(tmp_path / "parallel")]) == 0
    serial, parallel = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("serial", "parallel"))
    assert parallel["machine"]["threads_per_method"] == 1
    assert [(row["folder"], row["method"]) for row in parallel["rows"]] == [
        (row["folder"], row["method"]) for row in serial["rows"]
    ]
    for one, other in zip(serial["rows"], parallel["rows"], strict=True):
        assert abs(one["psnr"] - other["psnr"]) < 0.01


def test_device_speed_times_inference_and_training(use_tiny_models, tmp_path, capsys, cpu_flags):
    from denoise.precision import resolve_precision

    cpu_flags("avx512_bf16")  # "auto" may mean mixed here; the identity row still says float32
    arguments = ["--size", "40", "56", "--repeats", "2", "--epochs", "3", "--batches", "2", "--batch-size", "4"]
    arguments += ["--variants", "direct:16", "compiled:64:bfloat16", "--workers", "2"]
    assert device_speed.main([*arguments, "--patch-size", "32", "--output", str(tmp_path / "speed")]) == 0
    report = json.loads((tmp_path / "speed.json").read_text())
    assert report["machine"]["device"] in capsys.readouterr().out
    assert [(timing["call"], timing["tile_size"], timing["precision"]) for timing in report["inference"]] == [
        ("direct", 16, "auto"),
        ("compiled", 64, "bfloat16"),
        ("direct", 16, "float32"),  # the identity model, with the first variant's call, in float32
    ]
    arithmetic = [timing["arithmetic"] for timing in report["inference"]]
    assert arithmetic == [resolve_precision("auto"), "bfloat16", "float32"]
    assert report["inference"][-1]["model"] == "identity (no model)"
    for timing in report["inference"]:
        assert timing["image"] == "56x40 RGB float32" and timing["median_ms"] > 0
    assert report["training"]["measured_patches"] == 2 * 2 * 4 and report["training"]["patches_per_second"] > 0
    assert report["training"]["workers"] == 2
    assert report["transfer"]["image"] == "56x40 RGB float32" and report["transfer"]["median_ms"] >= 0


@pytest.mark.parametrize("variant", ["fast:1024", "direct:big", "compiled:1024:float16", "direct:64:bfloat16:x"])
def test_device_speed_refuses_an_unknown_variant(variant):
    with pytest.raises(SystemExit):
        device_speed.main(["--variants", variant])


def test_orientation_and_precision_rows_only_for_the_default_model(use_tiny_models, tmp_path):
    assert model_runs(["unet", "conv-2"], [8], ("float32", "bfloat16", "auto")) == [
        ("unet", "unet", 1, "auto"),
        ("unet x8", "unet", 8, "auto"),
        ("unet float32", "unet", 1, "float32"),
        ("unet bfloat16", "unet", 1, "bfloat16"),
        ("conv-2", "conv-2", 1, "auto"),
    ]
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(gradient(48, 64, 1)).save(folder / "a.png")
    output = tmp_path / "bench"
    arguments = [str(folder), "--sigma", "25", "--models", "unet", "--classical", "--orientations", "1", "2"]
    assert main([*arguments, "--precision", "bfloat16", "--output", str(output), "--update-cards"]) == 0
    report = json.loads(output.with_suffix(".json").read_text())
    rows = {row["method"]: row for row in report["rows"]}
    assert set(rows) == {"unet", "unet x2", "unet bfloat16"} and rows["unet x2"]["orientations"] == 2
    assert rows["unet bfloat16"]["precision"] == "bfloat16" and rows["unet"]["precision"] == "auto"
    assert rows["unet bfloat16"]["arithmetic"] == "bfloat16" and rows["unet"]["arithmetic"] == "float32"
    assert rows["unet x2"]["psnr"] != rows["unet"]["psnr"] and rows["unet bfloat16"]["psnr"] != rows["unet"]["psnr"]
    card = json.loads((use_tiny_models / "unet-gray.json").read_text())
    assert card["measured"]["results"]["set"]["sigma_25"]["psnr"] == round(rows["unet"]["psnr"], 2)
    assert card["measured"]["arithmetic"] == "float32"


def test_noise_estimates_bracket_each_sigma(tmp_path, capsys):
    from benchmarks import noise_estimates

    folder = tmp_path / "set"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(gradient(64, 64 + 8 * index, 1)).save(folder / f"{index}.png")
    output = tmp_path / "estimates"
    assert noise_estimates.main([str(folder), "--sigma", "10", "40", "--output", str(output)]) == 0
    rows = json.loads(output.with_suffix(".json").read_text())["rows"]
    assert [row["sigma"] for row in rows] == [10, 40] and all(row["images"] == 3 for row in rows)
    for row in rows:
        assert row["lowest"] <= row["mean"] <= row["highest"]
        assert abs(row["mean"] - row["sigma"]) < 8
    assert rows[0]["highest"] < rows[1]["lowest"]
    assert "| 40 | 3 |" in capsys.readouterr().out


def test_luminance_weights_table_starts_with_the_colour_model_alone(luminance_models, tmp_path, capsys):
    from benchmarks import luminance_weights

    folder = tmp_path / "set"
    folder.mkdir()
    for index in range(2):
        Image.fromarray(gradient(48, 64 + 8 * index, 3)).save(folder / f"{index}.png")
    output = tmp_path / "weights"
    assert luminance_weights.main([str(folder), "--weights", "0.5", "1", "--sigma", "25", "--output", str(output)]) == 0
    rows = json.loads(output.with_suffix(".json").read_text())["rows"]
    assert [row["weight"] for row in rows] == [None, 0.5, 1.0] and all(row["images"] == 2 for row in rows)
    assert len({row["psnr"] for row in rows}) == 3
    assert "| colour model alone |" in capsys.readouterr().out


def test_colour_error_splits_each_method_into_luminance_and_chroma(luminance_models, tmp_path, capsys):
    from benchmarks import colour_error

    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(gradient(48, 64, 3)).save(folder / "0.png")
    output = tmp_path / "error"
    assert colour_error.main([str(folder), "--sigma", "25", "--output", str(output)]) == 0
    rows = json.loads(output.with_suffix(".json").read_text())["rows"]
    methods = [row["method"] for row in rows]
    assert methods[:2] == ["default (unet)", "colour model alone"] and methods[2:] in ([], ["CBM3D"])
    for row in rows:  # one image: the two parts' mean squares add up to the whole error's
        parts = 10 ** (-row["luminance_psnr"] / 10) + 10 ** (-row["chroma_psnr"] / 10)
        assert parts == pytest.approx(10 ** (-row["psnr"] / 10))
    assert rows[0]["luminance_psnr"] != rows[1]["luminance_psnr"]
    assert "| colour model alone | 25 |" in capsys.readouterr().out
    assert colour_error.main([str(folder), "--sigma", "25", "--no-cbm3d", "--output", str(output)]) == 0
    assert len(json.loads(output.with_suffix(".json").read_text())["rows"]) == 2


def test_speed_ratio_times_the_model_and_non_local_means_in_turns(use_tiny_models, tmp_path, monkeypatch, capsys):
    from benchmarks import speed_ratio
    from benchmarks.benchmark import ONE_THREAD

    for name, value in ONE_THREAD.items():  # as in the process main() would start
        monkeypatch.setenv(name, value)
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(gradient(48, 64, 3)).save(folder / "a.png")
    Image.fromarray(gradient(32, 40, 3)).save(folder / "b.png")
    output = tmp_path / "ratio"
    arguments = [str(folder), "--sigma", "15", "50", "--rounds", "2", "--precision", "float32", "--output", str(output)]
    assert speed_ratio.main(arguments) == 0
    report = json.loads(output.with_suffix(".json").read_text())
    assert report["command"].startswith("python -m benchmarks.speed_ratio ")
    assert report["machine"]["threads_per_method"] == 1
    assert [(row["folder"], row["sigma"], row["images"], row["rounds"]) for row in report["rows"]] == [
        ("set", 15.0, 2, 2),
        ("set", 50.0, 2, 2),
    ]
    for row in report["rows"]:
        assert row["megapixels"] == round((48 * 64 + 32 * 40) / 1e6, 3) and row["model"] == "unet float32"
        assert row["model_seconds_per_megapixel"] > 0 and row["nlm_seconds_per_megapixel"] > 0
        ratio = row["model_seconds_per_megapixel"] / row["nlm_seconds_per_megapixel"]
        assert row["time_ratio_to_nlm"] == pytest.approx(ratio) and row["speed_goal_met"] == (ratio <= 1)
    assert "| set | 50 | unet float32 | float32 |" in capsys.readouterr().out


def test_report_merges_a_later_run_in_place_of_the_same_rows_and_names_its_command():
    from benchmarks.report import compact_table, merge, render

    def row(method: str, folder: str, psnr: float) -> dict:
        return {
            "method": method,
            "folder": folder,
            "sigma": 25.0,
            "psnr": psnr,
            "ssim": 0.8,
            "seconds_per_megapixel": 1,
        }

    machine = {"processor": "Test CPU", "cpus": 2, "keras": "3", "backend": "tensorflow", "device": "CPU"}
    first = {
        "command": "bench A",
        "machine": machine,
        "rows": [row("unet", "bsd68", 29.0), row("conv-8", "bsd68", 25.0)],
    }
    later = {
        "command": "bench B",
        "machine": machine,
        "rows": [row("conv-8", "bsd68", 26.0), row("conv-8", "urban100", 24.0)],
    }
    merged = merge(first, later)
    assert sorted((r["method"], r["folder"], r["psnr"]) for r in merged["rows"]) == [
        ("conv-8", "bsd68", 26.0),
        ("conv-8", "urban100", 24.0),
        ("unet", "bsd68", 29.0),
    ]
    text = render(merged)
    assert "bench A" in text and "rows of conv-8 on bsd68, urban100 on Test CPU, 2 cores, with" in text
    assert "bench B" in text
    assert "| conv-8 | 26.00 | 24.00 |" in text
    assert "The rows come from 2 runs on 1 machine: compare times within one run." in compact_table(merged)


def test_a_grey_folder_spec_evaluates_the_luminance(tmp_path):
    from benchmarks.benchmark import parse_folder
    from denoise.evaluation import noisy_test_set

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "a.png")
    assert parse_folder(f"{tmp_path}:gray") == (str(tmp_path), 1, f"{tmp_path.name}-gray")
    assert parse_folder(str(tmp_path)) == (str(tmp_path), None, tmp_path.name)
    [(_, clean, _)] = noisy_test_set(tmp_path, 25, channels=1)
    assert clean.shape == (16, 16, 1)


def test_fine_tune_benchmark_reports_where_each_run_started_and_ended(tmp_path, monkeypatch):
    import json

    from benchmarks import fine_tune

    monkeypatch.setattr(fine_tune, "CASES", [("astronomy", "gaussian:0-25")])
    assert fine_tune.main(["--minutes", "0.02", "--output", str(tmp_path / "fine-tune")]) == 0
    report = json.loads((tmp_path / "fine-tune.json").read_text())
    [row] = report["rows"]
    assert row["model"] == "unet-color" and row["input_psnr"] < row["start_psnr"] <= row["kept_psnr"]
    assert report["command"] == "python -m benchmarks.fine_tune --minutes 0.02 --output " + str(tmp_path / "fine-tune")
    table = (tmp_path / "fine-tune.md").read_text()
    assert "| astronomy (the Hubble deep field, in four parts) | gaussian:0-25 |" in table


def test_noisy_only_benchmark_scores_both_trainings_on_the_held_out_image(tmp_path):
    import json

    from benchmarks.noisy_only import main as noisy_only

    assert noisy_only(["--sample", "astronomy", "--minutes", "0.02", "--output", str(tmp_path / "n")]) == 0
    report = json.loads((tmp_path / "n.json").read_text())
    methods = [row["method"] for row in report["rows"]]
    assert methods[:2] == ["noisy input", "shipped model (unet-color)"] and len(methods) == 4
    assert report["rows"][1]["psnr"] > report["rows"][0]["psnr"]  # the shipped model beats the noise
    assert all(np.isfinite(row["psnr"]) for row in report["rows"])


def test_quick_look_benchmark_scores_each_way_of_making_the_screen_image(tmp_path):
    import json

    from skimage import data as sample_images

    from benchmarks.quick_look import main as quick_look

    photo = sample_images.astronaut()[:96, :128].astype(np.float32)
    rng = np.random.default_rng(0)
    for kind in ("noisy", "clean"):
        (tmp_path / "pairs" / kind).mkdir(parents=True)
    for scene in ("Camera_1_a", "Camera_1_b"):  # two scenes, so the test half holds one
        noisy = np.clip(photo + rng.normal(0, 8, photo.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(tmp_path / "pairs" / "noisy" / f"{scene}_1.png")
        Image.fromarray(photo.astype(np.uint8)).save(tmp_path / "pairs" / "clean" / f"{scene}_1.png")
    assert quick_look([str(tmp_path / "pairs"), "--factor", "2", "--output", str(tmp_path / "q")]) == 0
    report = json.loads((tmp_path / "q.json").read_text())
    ways = {row["way"]: row["psnr"] for row in report["rows"]}
    assert report["images"] == 1 and len(ways) == 7
    assert ways["photo at full size, shrunk"] > ways["noisy input, shrunk"]  # the model beats the noise on screen
    table = (tmp_path / "q.md").read_text()
    assert "| shrunk, then photo-fast |" in table and "| binned 2 x 2, then photo-fast, shrunk |" in table


def test_noisy_only_bsd68_report_reads_the_finished_runs_of_the_script(tmp_path):
    import json

    from benchmarks.noisy_only_bsd68 import main as report_main

    for name, psnr in (("neighbor2neighbor-gray", 28.0), ("supervised-gray", 28.4)):
        card = {"patches_seen": 112000, "training_seconds": 1800.0, "command": f"denoise train {name}"}
        (tmp_path / f"{name}.json").write_text(json.dumps(card))
        evaluation = [{"psnr": psnr, "ssim": 0.78, "noisy_psnr": 20.48}]
        (tmp_path / f"{name}-bsd68.json").write_text(json.dumps(evaluation))
    assert report_main([str(tmp_path), "--output", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report.md").read_text()
    assert "| noisy copies only, clipped (neighbor2neighbor) | 28.00 | 0.7800 | 112,000 | 30 |" in table
    assert "| clean images, fresh noise (supervised) | 28.40 |" in table
    assert "regularizer" not in table  # that run has not finished
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["command"].startswith("python -m benchmarks.noisy_only_bsd68 ")
    card = {"patches_seen": 112000, "training_seconds": 600.0, "command": "denoise train recorrupted"}
    (tmp_path / "recorrupted-unclipped-gray.json").write_text(json.dumps(card))
    for suffix, psnr, count in (("", 28.3, 0), ("-averaged", 28.5, 50)):  # a second evaluation of one model
        evaluation = [{"psnr": psnr, "ssim": 0.79, "noisy_psnr": 20.48, "recorruptions": count}]
        (tmp_path / f"recorrupted-unclipped-gray{suffix}-bsd68.json").write_text(json.dumps(evaluation))
    assert report_main([str(tmp_path), "--output", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report.md").read_text()
    assert "| noisy copies only, unclipped (recorrupted, sigma known) | 28.30 | 0.7900 | 112,000 | 10 |" in table
    assert "| the same, averaged over 50 recorrupted copies (Pang et al.'s test) | 28.50 |" in table
    rows = {row["model"]: row for row in json.loads((tmp_path / "report.json").read_text())["rows"]}
    assert rows["recorrupted-unclipped-gray-averaged"]["recorruptions"] == 50


def test_noisy_only_bsd68_report_keeps_earlier_rows_for_runs_the_folder_no_longer_has(tmp_path):
    import json

    from benchmarks.noisy_only_bsd68 import main as report_main

    runs = tmp_path / "runs"
    runs.mkdir()
    card = {"patches_seen": 112000, "training_seconds": 1800.0, "command": "denoise train recorrupted"}
    (runs / "recorrupted-gray.json").write_text(json.dumps(card))
    (runs / "recorrupted-gray-bsd68.json").write_text(json.dumps([{"psnr": 28.5, "ssim": 0.8, "noisy_psnr": 20.48}]))
    earlier_rows = [
        {
            "model": name,
            "learnt_from": name,
            "psnr": psnr,
            "ssim": 0.8,
            "noisy_psnr": 20.48,
            "patches_seen": 112000,
            "training_seconds": 60.0,
            "training_command": f"denoise train {name}",
        }
        for name, psnr in (("supervised-gray", 28.74), ("recorrupted-gray", 1.0))
    ]
    (tmp_path / "earlier.json").write_text(json.dumps({"rows": earlier_rows}))
    arguments = [str(runs), "--keep", str(tmp_path / "earlier.json"), "--output", str(tmp_path / "report")]
    assert report_main(arguments) == 0
    rows = {row["model"]: row for row in json.loads((tmp_path / "report.json").read_text())["rows"]}
    assert rows["supervised-gray"]["psnr"] == 28.74  # kept from the earlier report, under today's label
    assert rows["supervised-gray"]["learnt_from"] == "clean images, fresh noise (supervised)"
    assert rows["recorrupted-gray"]["psnr"] == 28.5  # the folder's own run wins over the earlier row
    assert list(rows) == ["recorrupted-gray", "supervised-gray"]  # in the script's order


def test_png_speed_benchmark_reports_each_setting_against_zlibs_default(tmp_path, astronaut):
    from benchmarks.png_speed import SETTINGS
    from benchmarks.png_speed import main as png_speed

    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(2):
        Image.fromarray(np.round(astronaut[index * 64 : index * 64 + 96, :128] * 255).astype(np.uint8)).save(
            folder / f"photo-{index}.png"
        )
    assert png_speed([str(folder), "--output", str(tmp_path / "png")]) == 0
    report = json.loads((tmp_path / "png.json").read_text())
    assert report["images"] == ["photo-0.png", "photo-1.png"] and len(report["rows"]) == len(SETTINGS)
    assert all(row["seconds"] > 0 and row["bytes"] > 1000 for row in report["rows"])
    assert "| 1.0 x |" in (tmp_path / "png.md").read_text()  # the reference against itself


def test_the_app_benchmark_reads_the_quick_looks_caption():
    from benchmarks.app_load import QUICK_LINE

    caption = "Quick look (photo-fast-color, 1.8 s); the full model follows"  # as app.show_image writes it
    assert float(QUICK_LINE.search(caption).group(1)) == 1.8
    assert QUICK_LINE.search("Quick look… 40%") is None  # its progress bar is no caption
