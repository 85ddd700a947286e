"""The one atomic-write module (benchmark.atomic): file mode, no partial file, hooks, bytes."""

import os
import stat

import pytest

from benchmark.atomic import atomic_write, atomic_write_bytes, atomic_write_text


def test_atomic_write_gives_the_mode_open_would(tmp_path):
    """Records and reports are readable by the group/others the umask allows, not 0600 like a bare mkstemp file."""
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644


def test_atomic_write_leaves_no_partial_file_on_error(tmp_path):
    target = tmp_path / "x.json"
    atomic_write_text(target, "old")

    class Boom(str):
        def __len__(self):  # pragma: no cover - never reached
            raise RuntimeError

    with pytest.raises(TypeError):
        atomic_write_text(target, 123)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_atomic_write_bytes_creates_parents_and_replaces(tmp_path):
    target = tmp_path / "figures" / "a.png"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["a.png"]


def test_before_replace_runs_on_the_complete_temp_file_and_can_abort(tmp_path):
    """The hook sees the finished temp file next to the target; raising there keeps the old file and no temp."""
    target = tmp_path / "c.bin"
    atomic_write_bytes(target, b"old")
    seen: list[bytes] = []

    def abort() -> None:
        (tmp,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        seen.append(tmp.read_bytes())
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, lambda fh: fh.write(b"new"), before_replace=abort, sync_dir=True)
    assert seen == [b"new"]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["c.bin"]
