"""The one atomic writer (nnlab.io.atomic_path / atomic_write): all or nothing, the user's umask, modes kept."""

import os
import stat

import pytest

from nnlab import io as model_io


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_gets_the_umask_and_an_existing_file_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "a.txt"
        model_io.atomic_write(target, "one")
        assert _mode(target) == 0o644  # 0o666 minus the umask, not mkstemp's 0600
        os.chmod(target, 0o640)
        model_io.atomic_write(target, b"two")
        assert _mode(target) == 0o640 and target.read_bytes() == b"two"
        os.umask(0o077)
        model_io.atomic_write(tmp_path / "b.txt", "x")
        assert _mode(tmp_path / "b.txt") == 0o600
    finally:
        os.umask(old)


def test_an_error_or_ctrl_c_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "sub" / "plot.png"
    model_io.atomic_write(target, "old")
    for exc in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with model_io.atomic_path(target) as tmp:
                assert tmp.endswith(".png") and os.path.dirname(tmp) == str(target.parent)
                open(tmp, "w").write("half")
                raise exc
        assert target.read_text() == "old" and os.listdir(target.parent) == ["plot.png"]


def test_bytes_are_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", stat.S_ISDIR(os.fstat(fd).st_mode))),
                                                 real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace",)), real_replace(a, b)))
    model_io.atomic_write(tmp_path / "m.bin", b"data")
    assert events == [("fsync", False), ("replace",), ("fsync", True)]


def test_remove_temporaries_cleans_only_the_writers_leftovers(tmp_path):
    keep = tmp_path / "model.safetensors"
    keep.write_text("m")
    (tmp_path / ".hidden").write_text("user's")
    stale = tmp_path / f".model{model_io.TEMP_MARK}abc123.safetensors"
    stale.write_text("half-written")
    assert model_io.remove_temporaries(tmp_path) == [stale.name]
    assert sorted(os.listdir(tmp_path)) == [".hidden", "model.safetensors"]


def test_a_symlink_is_followed_and_a_fifo_is_refused_untouched(tmp_path):
    from nnlab.errors import NnlabError

    target = tmp_path / "target.csv"
    target.write_text("old")
    (tmp_path / "link.csv").symlink_to(target)
    model_io.atomic_write(tmp_path / "link.csv", "new")
    assert (tmp_path / "link.csv").is_symlink() and target.read_text() == "new"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(NnlabError, match="pipe: not a regular file .*name a file"):
        model_io.atomic_write(fifo, "x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO, not replaced by a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "pipe", "target.csv"]


def test_errors_name_the_asked_path_not_the_temporary_file(tmp_path, monkeypatch):
    real_open = os.open

    def refusing(path, flags, *args):  # a folder the user may not write to (root ignores chmod, so pretend)
        if model_io.TEMP_MARK in os.fspath(path):
            raise PermissionError(1, "Operation not permitted", os.fspath(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing)
    with pytest.raises(PermissionError) as caught:
        model_io.atomic_write(tmp_path / "out.csv", "x")
    assert caught.value.filename == os.fspath(tmp_path / "out.csv")


@pytest.mark.parametrize("stem", ["a" * 251, "é" * 125 + "a"], ids=["ascii", "two-byte"])  # 255 bytes with ".csv"
def test_a_name_at_the_file_system_limit_is_written(tmp_path, stem):
    """The temporary name's 24 extra characters cut from its stem (was "File name too long" for a legal name)."""
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    target = tmp_path / (stem + ".csv")
    assert len(os.fsencode(target.name)) == 255 <= limit
    with model_io.atomic_path(target) as tmp:
        name = os.path.basename(tmp)
        assert len(os.fsencode(name)) <= limit and name.endswith(".csv") and model_io.TEMP_MARK in name
        name.encode("utf-8")  # whole characters: the cut never splits a two-byte one
        open(tmp, "w").write("x")
    assert target.read_text() == "x" and os.listdir(tmp_path) == [target.name]
    with model_io.atomic_path(target) as one, model_io.atomic_path(target) as two:
        assert one != two  # still unique
        open(one, "w").write("1")
        open(two, "w").write("2")
    assert model_io.remove_temporaries(tmp_path) == [] and os.listdir(tmp_path) == [target.name]
