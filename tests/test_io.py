import pytest

from edge_inception._core.atomic import atomic_path, atomic_write_text


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    dest = tmp_path / "model.tflite"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole(tmp_path):
    dest = tmp_path / "r.json"
    atomic_write_text(dest, "one")
    atomic_write_text(dest, "two")
    assert dest.read_text() == "two" and [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert dest.stat().st_mode & 0o044  # readable by others, as a normal file would be
