"""The report.html of bagging and multi-task runs, read as a reader sees it: its tables equal the run's files
and what `nnlab evaluate` prints."""

import numpy as np
import pytest

from csv_helpers import write_kind_amount_csv
from nnlab.cli import main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ is written under the working directory


def _config(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


def _report(run):
    """(results {key: value}, {section id: its table's rows}, image alts) of a run's report.html, as a reader sees
    them."""
    import re
    from html import unescape

    text = (run / "report.html").read_text()
    sections = dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', text, flags=re.S))
    results = {unescape(k): unescape(v) for k, v in
               re.findall(r'<tr><th>([^<]*)</th><td class="num">([^<]*)</td></tr>', sections["results"])}
    tables = {id_: [[unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", row)]
                    for row in re.findall(r"<tr>(.*?)</tr>", body) if "<td" in row]
              for id_, body in sections.items() if "<table>" in body and id_ != "results"}
    alts = [unescape(a) for a in re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]*)"', text)]
    return results, tables, alts


def test_bagging_run_writes_a_report_of_its_members_and_the_ensembles_test_accuracy(tmp_path, capsys):
    import csv

    import nnlab

    config = _config(tmp_path, '[data]\nsource = "digits"\n[model]\nhidden = [16]\n[train]\nepochs = 3\n'
                               '[ensemble]\nmethod = "bagging"\nn_models = 3\nn_jobs = 1\nfeature_fraction = 0.5\n')
    assert main(["train", config, "--quiet"]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "c"
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json", "confusion_matrix.png", "curves.png", "member_accuracy.png", "member_curves.png",
        "members.csv", "model.safetensors", "report.html"]
    assert all((run / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in ("member_curves.png", "member_accuracy.png",
                                                                           "confusion_matrix.png"))
    results, tables, alts = _report(run)
    accuracy = out.split("test accuracy: ")[1].split()[0]
    assert results["test accuracy"] == accuracy and results["members"] == "3" and results["voting"] == "soft"
    assert main(["evaluate", str(run)]) == 0
    assert f"accuracy: {accuracy}\n" in capsys.readouterr().out  # the model file gives the reported accuracy
    model = nnlab.load(run / "model.safetensors")
    assert results["out-of-bag accuracy"] == f"{model.metadata['ensemble']['oob_score']:.4f}"
    members = list(csv.reader(open(run / "members.csv")))
    assert tables["members"] == members[1:]  # the members table is members.csv, row for row
    assert results["mean member test accuracy"] == f"{np.mean([float(r[5]) for r in members[1:]]):.4f}"
    assert [int(r[2]) for r in members[1:]] == [32, 32, 32]  # feature_fraction = 0.5 of 64
    assert alts == ["training curves of each member", "each member's test accuracy and the ensemble's",
                    "confusion matrix of the ensemble on the test split"]
    assert "Bagging: 3 networks, soft voting" in (run / "report.html").read_text()
    # --overwrite removes the report's files as nnlab's own
    assert main(["train", config, "--quiet", "--overwrite"]) == 0
    assert _report(run)[0]["test accuracy"] == accuracy


def test_multitask_run_writes_a_report_of_each_task(tmp_path, capsys):
    config = _config(tmp_path, '[data]\nsource = "digits"\n[model]\nhidden = [32]\n[train]\nepochs = 2\n'
                               '[tasks.digit]\ntarget = "label"\n[tasks.parity]\ntarget = "parity"\nweight = 0.5\n')
    assert main(["train", config, "--quiet"]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "c"
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoint.safetensors", "config.json", "confusion_matrix.png", "curves.png", "history.csv",
        "model.safetensors", "report.html", "weights.png"]
    assert "report.html" in out.splitlines()[-1]
    results, tables, alts = _report(run)
    tasks = tables["tasks"]
    for task in ("digit", "parity"):
        line = next(line for line in out.splitlines() if line.startswith(f"test task {task}: "))
        loss, accuracy = line.split("loss ")[1].split(",")[0], line.split("accuracy: ")[1]
        assert results[f"test {task} loss"] == loss and results[f"test {task} accuracy"] == accuracy
    assert results["test loss (weighted sum over the tasks)"] == out.split("test loss: ")[1].split()[0]
    assert results["epochs run"] == "2"
    assert [row[:5] for row in tasks] == [["digit", "label", "cross_entropy", "1", "10"],
                                         ["parity", "parity", "cross_entropy", "0.5", "2"]]
    assert alts == ["training curves of each task", "confusion matrix of each classification task on the test split",
                    "first-layer weights as images"]


def test_multitask_report_of_a_csv_run_matches_nnlab_evaluate(tmp_path, capsys):
    write_kind_amount_csv(tmp_path / "data.csv", rows=120)
    config = _config(tmp_path, f'[data]\nsource = "csv"\npath = "{tmp_path / "data.csv"}"\ntest_size = 0\n'
                               'val_size = 0\n[model]\nhidden = [8]\n[train]\nepochs = 3\n[tasks.kind]\n'
                               'target = "kind"\n[tasks.amount]\ntarget = "amount"\nloss = "mse"\nweight = 0.1\n')
    assert main(["train", config, "--quiet"]) == 0
    run = tmp_path / "runs" / "c"
    assert not (run / "weights.png").exists() and (run / "confusion_matrix.png").exists()
    results, tables, alts = _report(run)
    tasks = tables["tasks"]
    capsys.readouterr()
    # test_size = 0: the report's numbers are on every training row, which is the whole file evaluated here
    assert main(["evaluate", str(run), "--data", str(tmp_path / "data.csv")]) == 0
    out = capsys.readouterr().out
    kind = f"loss {results['training kind loss']}, accuracy: {results['training kind accuracy']}"
    assert f"evaluation task kind: {kind}\n" in out
    assert f"evaluation task amount: loss {results['training amount loss']}\n" in out
    assert "training amount accuracy" not in results
    assert [row[0] for row in tasks] == ["kind", "amount"] and tasks[1][4] == "regression" and tasks[1][6] == "–"
    assert alts[1] == "confusion matrix of each classification task on the training split"
