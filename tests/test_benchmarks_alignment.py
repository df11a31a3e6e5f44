"""``python -m benchmarks.buffer_alignment``: one pair of processes on the small case."""

import re

import pytest

pytest.importorskip("threadpoolctl")


def test_buffer_alignment_compares_a_pair_of_processes(capsys):
    from benchmarks import buffer_alignment

    assert buffer_alignment.main(["small", "--pairs", "1", "--epochs", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    aligned = re.search(r"aligned  offsets in page \[\[([\d, ]+)\]\]", out)
    assert aligned and "malloc   offsets in page" in out, out
    offsets = [int(v) for v in aligned.group(1).split(",")]
    assert all(o % 64 == 0 for o in offsets) and len(set(offsets)) == len(offsets)  # data, grad, Adam's m and v
    assert re.search(r"small: aligned/malloc, median of 1 pairs \d\.\d{3}", out)


def test_buffer_alignment_names_the_cases_for_an_unknown_one(capsys):
    from benchmarks import buffer_alignment

    with pytest.raises(SystemExit) as exc:
        buffer_alignment.main(["nope"])
    assert exc.value.code == 2 and "unknown case 'nope'" in capsys.readouterr().err
