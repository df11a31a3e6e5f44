"""The pictures a single-network `nnlab train` run writes: each drawn once, the same bytes in its file and report."""

import base64

import nnlab.diagnostics as dg
from nnlab.cli import main


def test_a_single_run_draws_its_training_curves_once_and_reports_the_curves_png_it_wrote(tmp_path, capsys,
                                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    drawn = []
    real = dg.training_curves
    monkeypatch.setattr(dg, "training_curves", lambda *a, **k: drawn.append(1) or real(*a, **k))
    (tmp_path / "c.toml").write_text('[data]\nsource = "moons"\n[model]\nhidden = [8]\n[train]\nepochs = 2\n')
    assert main(["train", "c.toml", "--quiet"]) == 0
    assert len(drawn) == 1  # one figure for curves.png and report.html, not one for each
    run = tmp_path / "runs" / "c"
    page = (run / "report.html").read_text()
    for name in ("curves", "diagnostics", "gradient_norms", "confusion_matrix", "decision_surface"):
        assert base64.b64encode((run / f"{name}.png").read_bytes()).decode() in page, name
    written = capsys.readouterr().out.split("run written to ")[1]
    assert written.count("curves.png") == 1
