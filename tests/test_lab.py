"""nnlab.lab: every experiment's quick mode measured (the assertions are on the numbers, not the verdict text),
the `nnlab lab` command, and the lab report and a run's report.html opened in headless Chromium."""

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from nnlab import lab
from nnlab.cli import main

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots; ignored by git


@pytest.fixture(scope="module")
def results():
    """Every experiment in quick mode, seed 0, through the joblib runner (two processes)."""
    return {r.experiment.name: r for r in lab.run(lab.names(), seeds=1, quick=True, n_jobs=2, progress=None)}


def _n(results, name):
    (seed_result,) = results[name].results
    return seed_result.numbers


def test_every_experiment_quotes_the_notes_and_has_a_computed_verdict(results):
    seeds_dir = Path(__file__).parent.parent.parent / "shared" / "seeds"
    assert list(results) == lab.names()
    for r in results.values():
        assert r.experiment.claims and r.checks and r.figures
        assert r.verdict == lab.verdict(r.checks)
        for claim in r.experiment.claims:
            assert claim.notes.endswith(".txt") and len(claim.quote) > 10
            if seeds_dir.is_dir():  # the notes are beside the repository in the workplace
                assert (seeds_dir / claim.notes).is_file()


def test_verdict_follows_the_checks():
    yes, no = lab.Check("a", True), lab.Check("b", False)
    assert [lab.verdict([yes]), lab.verdict([yes, no]), lab.verdict([no])] == ["holds", "partly", "does not hold here"]


def test_xor(results):
    n = _n(results, "xor")
    assert n["xor_best_line_accuracy"] == 0.75 and n["xor_linear_accuracy"] <= 0.75
    assert n["table_best_line_accuracy"] < 1.0
    assert n["xor_one_hidden_layer_accuracy"] == 1.0 and n["table_one_hidden_layer_accuracy"] == 1.0
    assert n["hand_built_accuracy"] == 1.0 and n["hand_built_max_error"] < 1e-3


def test_power(results):
    n = _n(results, "power")
    assert n["spirals_1_layer_train_accuracy"] < 0.7 < 0.9 < n["spirals_3_layer_train_accuracy"]
    assert n["moons_2_layer_train_accuracy"] > n["moons_1_layer_train_accuracy"]
    assert n["spirals_1_layer_parameters"] == 6 and n["spirals_2_layer_parameters"] == 2 * 32 + 32 + 32 * 2 + 2


def test_activations(results):
    n = _n(results, "activations")
    assert n["sigmoid_first_over_last_grad_norm"] < 0.01 < n["relu_first_over_last_grad_norm"]
    assert n["sigmoid_same_sign_unit_fraction"] == 1.0 and n["tanh_same_sign_unit_fraction"] < 0.5
    assert 0 < n["relu_steps_to_target_loss"] < n["tanh_steps_to_target_loss"]
    assert n["tanh_over_relu_steps"] == n["tanh_steps_to_target_loss"] / n["relu_steps_to_target_loss"]


def test_dead_relu(results):
    n = _n(results, "dead_relu")
    assert n["relu_bias0_lr0.01_dead_fraction"] == 0.0
    assert n["relu_bias0_lr1_dead_fraction"] > 0.1
    assert n["leaky_relu_lr1_dead_fraction"] == 0.0
    for kind in ("elu", "maxout"):  # either measured alive, or diverged (NaN), never reported dead
        value = n[f"{kind}_lr1_dead_fraction"]
        assert math.isnan(value) or value == 0.0


def test_init(results):
    n = _n(results, "init")
    assert n["equal_init_layer1_max_unit_difference"] < 1e-6 < n["equal_init_weight_change"]
    assert n["small_std_ratio_last_over_first"] < 1e-6 and n["small_first_layer_grad_norm"] < 1e-6
    assert n["large_saturated_fraction"] > 0.5
    for key in ("1sqrtn", "xavier", "he"):
        assert 0.2 < n[f"{key}_std_ratio_last_over_first"] < 5


def test_batchnorm(results):
    n = _n(results, "batchnorm")
    assert n["bn_steps_to_0.9"] <= n["plain_steps_to_0.9"]
    assert n["bn_highest_stable_lr"] > n["plain_highest_stable_lr"] > 0


def test_optimizers(results):
    n = _n(results, "optimizers")
    assert n["plateau_momentum_steps"] < n["plateau_GD_steps"]
    assert n["bowl_Nesterov_y_sign_changes"] < n["bowl_momentum_y_sign_changes"]
    assert n["plateau_Adagrad_step_length_ratio"] < n["plateau_RMSProp_step_length_ratio"]
    assert n["plateau_RMSProp_steps"] < n["plateau_Adagrad_steps"]
    assert math.isfinite(n["saddle_GD_steps"])


def test_learning_rate(results):
    n = _n(results, "learning_rate")
    assert n["good_final_loss"] < 0.5 * n["initial_loss"] and n["too_small_final_loss"] > 0.7 * n["initial_loss"]
    assert n["too_large_final_loss"] >= n["initial_loss"]
    assert n["search_best_val_loss"] <= n["search_coarse_best_val_loss"]
    assert 1e-4 / 2 <= n["search_best_lr"] <= 3.0


def test_batch_size(results):
    n = _n(results, "batch_size")
    assert (n["stochastic_updates_per_epoch"], n["minibatch_updates_per_epoch"], n["batch_updates_per_epoch"]) == (
        256, 16, 1)
    assert n["stochastic_fraction_of_updates_raising_loss"] > n["minibatch_fraction_of_updates_raising_loss"]
    assert n["large_scaled_warmup_test_accuracy"] > n["large_unscaled_test_accuracy"]


def test_regularization(results):
    n = _n(results, "regularization")
    errors = {k: v for k, v in n.items() if k.endswith("_test_error")}
    assert len(errors) == 9 and all(0 < e < 0.5 for e in errors.values())
    assert n["l1_near_zero_weight_fraction"] > n["l2_near_zero_weight_fraction"]
    assert n["early_stopping_restored_val_loss"] == pytest.approx(n["early_stopping_best_val_loss"], rel=1e-4)
    if n["early_stopping_epochs_run"] < n["epochs"]:
        assert n["early_stopping_best_epoch"] == n["early_stopping_epochs_run"] - 10


def test_noise_l2(results):
    n = _n(results, "noise_l2")
    assert abs(n["monte_carlo_noisy_mse"] - n["clean_mse_plus_sigma2_w2"]) < 4 * n["monte_carlo_standard_error"]
    assert n["noise_trained_vs_ridge_relative_distance"] < 0.05 < n["ols_vs_ridge_relative_distance"]


def test_dropout_ensemble(results):
    n = _n(results, "dropout_ensemble")
    assert n["average_of_100_thinned_test_accuracy"] > n["average_of_1_thinned_test_accuracy"]
    assert abs(n["weight_scaling_test_accuracy"] - n["average_of_100_thinned_test_accuracy"]) < 0.03
    assert n["agreement_scaling_vs_100"] > 0.95


def test_pretraining(results):
    n = _n(results, "pretraining")
    assert n["none_final_train_loss"] > 2.0 and n["none_test_accuracy"] < 0.2
    assert n["autoencoder_final_train_loss"] < 1.5 and n["rbm_final_train_loss"] < 1.5
    assert n["autoencoder_test_accuracy"] > 0.5


def test_debugging(results):
    n = _n(results, "debugging")
    assert n["correct_backward_gradcheck_passes"] == 1 and n["correct_backward_gradcheck_worst_abs_error"] < 1e-6
    assert n["buggy_backward_gradcheck_passes"] == 0 and n["buggy_backward_gradcheck_worst_abs_error"] > 1e-3
    assert n["bad_hidden_mean_abs_correlation"] > n["good_hidden_mean_abs_correlation"]
    assert n["structured_filters_neighbour_correlation"] > n["noisy_filters_neighbour_correlation"]


def test_conv(results):
    n = _n(results, "conv")
    assert n["cnn_parameters"] * 5 < n["mlp_parameters"]  # weight sharing: the same filter at every position
    assert n["cnn_full_test_accuracy"] > 0.85 and n["mlp_full_test_accuracy"] > 0.85


# --------------------------------------------------------------------------------- the command


def test_lab_list_names_each_experiment_with_its_claim(capsys):
    assert main(["lab", "list"]) == 0
    out = capsys.readouterr().out
    for e in lab.experiments():
        assert e.name in out and e.claims[0].quote in out and e.claims[0].notes in out
    assert all(text in out for text in lab.WAITING.values())


def test_lab_run_unknown_experiment_is_a_clear_error(capsys):
    assert main(["lab", "run", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'nope'" in err and "xor" in err and "Traceback" not in err


# -------------------------------------------------------------------------- pages in a browser


def _open_in_chromium(path: Path, screenshot: Path) -> tuple[list, list, list]:
    """(images as [complete, naturalWidth, alt], console errors, section ids) of the page; saves a screenshot."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    errors = []
    with sync_api.sync_playwright() as p:
        profile = screenshot.parent / f"profile-{screenshot.stem}"
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: errors.append(f"network request {r.url}")
                    if not r.url.startswith(("file:", "data:")) else None)
            page.goto(path.resolve().as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
            sections = page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(screenshot, ARTIFACTS / screenshot.name)
    return images, errors, sections


def test_lab_report_opens_offline_with_every_section_and_image(results, tmp_path):
    page = tmp_path / "lab.html"
    lab.write_report(list(results.values()), page, wall_seconds=1.0)
    images, errors, sections = _open_in_chromium(page, tmp_path / "lab-report.png")
    assert errors == []
    assert sections == lab.names()
    assert len(images) == sum(len(r.figures) for r in results.values())
    assert all(complete and width > 100 for complete, width, _ in images)
    assert (tmp_path / "lab-report.png").stat().st_size > 10_000


def test_run_report_opens_with_its_pictures(tmp_path):
    assert main(["train", "--quiet", "--epochs", "2", "--runs-dir", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "digits-mlp"
    images, errors, sections = _open_in_chromium(run / "report.html", tmp_path / "run-report.png")
    assert errors == []
    assert sections == ["results", "curves", "diagnostics", "confusion", "pictures", "model", "config"]
    alts = [alt for _, _, alt in images]
    assert alts == ["training curves", "per-layer diagnostics over epochs", "gradient norm of each weight matrix",
                    "confusion matrix on the test split", "first-layer weights as images"]
    assert all(complete and width > 100 for complete, width, _ in images)
    history = (run / "history.csv").read_text().splitlines()
    header = history[0].split(",")
    assert "diag/1_relu/dead_fraction" in header and "diag/0.weight/update_ratio" in header
    dead = np.array([float(row.split(",")[header.index("diag/1_relu/dead_fraction")]) for row in history[1:]])
    assert len(dead) == 2 and ((0 <= dead) & (dead <= 1)).all()


@pytest.mark.parametrize("kind, config, sections, figures", [
    ("bagging", '[ensemble]\nmethod = "bagging"\nn_models = 2\nn_jobs = 1\n',
     ["results", "curves", "members", "confusion", "model", "config"], 3),
    ("multitask", '[tasks.digit]\ntarget = "label"\n[tasks.parity]\ntarget = "parity"\n',
     ["results", "curves", "tasks", "pictures", "model", "config"], 3),
])
def test_bagging_and_multitask_run_reports_open_with_their_pictures(tmp_path, kind, config, sections, figures):
    path = tmp_path / f"{kind}.toml"
    path.write_text('[data]\nsource = "digits"\n[model]\nhidden = [16]\n[train]\nepochs = 2\n' + config)
    assert main(["train", str(path), "--quiet", "--runs-dir", str(tmp_path / "runs")]) == 0
    images, errors, found = _open_in_chromium(tmp_path / "runs" / kind / "report.html", tmp_path / f"{kind}-report.png")
    assert errors == [] and found == sections
    assert len(images) == figures and all(complete and width > 100 for complete, width, _ in images)


def test_run_of_2d_data_draws_its_decision_surface(tmp_path):
    config = Path(__file__).parent.parent / "examples" / "moons_relu.toml"
    assert main(["train", str(config), "--quiet", "--epochs", "2", "--runs-dir", str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    assert (run / "decision_surface.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run / "weights.png").exists()  # 2 features are not an image
    assert 'alt="decision surface on the training data"' in (run / "report.html").read_text()


def test_dead_relu_judge_leaves_diverged_seeds_out_and_needs_a_rate_that_kills_relus():
    from nnlab.lab import exp_dead_relu as e
    from nnlab.lab.base import SeedResult, Summary

    nan = math.nan

    def seed(bias01_lr1, maxout_lr07):
        numbers = {f"relu_bias{b:g}_lr{lr:g}_dead_fraction": 0.0 for b in (0.0, 0.01) for lr in e.LRS}
        numbers.update({"relu_bias0_lr0.7_dead_fraction": 0.1, "relu_bias0_lr1_dead_fraction": 0.3,
                        "relu_bias0.01_lr1_dead_fraction": bias01_lr1})
        numbers.update({f"{k}_lr{lr:g}_dead_fraction": 0.0 for k in ("leaky_relu", "elu") for lr in e.LRS[1:]})
        numbers.update({f"maxout_lr{lr:g}_dead_fraction": nan for lr in e.LRS[1:]})
        numbers["maxout_lr0.7_dead_fraction"] = maxout_lr07
        numbers["maxout_lr0.3_dead_fraction"] = 0.0  # alive where ReLUs do not die either: no evidence
        return SeedResult(numbers)

    checks = {c.statement.split(":")[0].split(" (")[0]: c for c in e.judge(Summary([seed(0.2, nan), seed(nan, nan)]))}
    bias = checks["bias 0.01 leaves fewer dead ReLUs than bias 0 at lr 1"]
    assert bias.passed and "0.2 vs 0.3 (1 of 2 seeds diverged, left out)" in bias.statement
    maxout = checks["maxout does not die where ReLUs do"]
    assert not maxout.passed and "not measurable here" in maxout.statement and "lr 0.3" not in maxout.statement
    measured = {c.statement.split(" (")[0]: c for c in e.judge(Summary([seed(0.2, 0.0), seed(0.2, nan)]))}
    assert measured["maxout does not die where ReLUs do"].passed


@pytest.mark.parametrize("where", ["missing", "file"])
def test_lab_report_refuses_an_output_it_could_not_write_before_any_experiment_runs(tmp_path, capsys, monkeypatch,
                                                                                     where):
    """-o in a folder that does not exist, or under a file: exit 2 at once, not after every experiment has run."""
    ran = []
    monkeypatch.setattr(lab, "run", lambda *args, **kwargs: ran.append(args) or [])
    (tmp_path / "file").write_text("not a folder")
    output = tmp_path / where / "lab.html"
    assert main(["lab", "report", "--quick", "--seeds", "1", "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert str(output) in err and "Traceback" not in err
    assert ("does not exist" if where == "missing" else "is a file") in err
    assert ran == [] and not output.exists()


def test_regularization_judge_does_not_pass_the_k_minus_p_rule_when_no_seed_stopped_early():
    from nnlab.lab import exp_regularization as e
    from nnlab.lab.base import SeedResult, Summary

    def seed(epochs_run, best_epoch):
        numbers = {f"{v}_test_error": 0.1 for v in e.VARIANTS}
        numbers.update({"l1_near_zero_weight_fraction": 0.2, "l2_near_zero_weight_fraction": 0.01, "epochs": 40,
                        "early_stopping_epochs_run": epochs_run, "early_stopping_best_epoch": best_epoch,
                        "early_stopping_restored_val_loss": 0.5, "early_stopping_best_val_loss": 0.5})
        return SeedResult(numbers)

    def rule(summary):
        (check,) = [c for c in e.judge(summary) if c.statement.startswith("early stopping returns")]
        return check

    never = rule(Summary([seed(40, 35), seed(40, 38)]))  # every seed used all 40 epochs: k - p never measured
    assert not never.passed and "no run stopped early" in never.statement
    assert rule(Summary([seed(22, 12), seed(40, 38)])).passed
    assert not rule(Summary([seed(22, 13)])).passed


@pytest.mark.parametrize("n_jobs, scheduler, one_thread", [(1, None, False), (2, None, True),
                                                           (1, "tcp://127.0.0.1:1", True)])
def test_only_pool_jobs_limit_the_update_threads_and_the_callers_environment_is_left_alone(monkeypatch, n_jobs,
                                                                                           scheduler, one_thread):
    import nnlab.jobs
    from nnlab.lab import runner

    seen = []

    def fake_run_jobs(fn, jobs, **_):
        seen.extend(job[-1] for job in jobs)
        raise RuntimeError("stop before any experiment runs")

    monkeypatch.setattr(nnlab.jobs, "run_jobs", fake_run_jobs)
    with pytest.raises(RuntimeError, match="stop before"):
        runner.run(["xor"], seeds=2, quick=True, n_jobs=n_jobs, progress=None, scheduler=scheduler)
    assert seen == [one_thread, one_thread]


def test_a_job_run_in_the_callers_process_does_not_set_nnlab_optim_threads(monkeypatch):
    from nnlab.lab import runner

    class Result:
        seconds = 0.0

    class Experiment:
        @staticmethod
        def measure(seed, quick, draw):
            return Result()

    monkeypatch.setenv("NNLAB_OPTIM_THREADS", "2")  # recorded, so the value set below is undone after the test
    monkeypatch.delenv("NNLAB_OPTIM_THREADS")
    monkeypatch.setattr(runner, "get", lambda name: Experiment)
    runner.run_seed("xor", 0, True, False, one_thread=False)
    assert "NNLAB_OPTIM_THREADS" not in os.environ
    runner.run_seed("xor", 0, True, False)  # a pool's process: one update thread
    assert os.environ["NNLAB_OPTIM_THREADS"] == "1"
