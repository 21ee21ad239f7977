"""One process per SQLite file checkpoints the log; another takes over when it is gone."""

from __future__ import annotations

from pathlib import Path

from duanxin.bus.local import local_paths
from duanxin.runtime import _CheckpointTurn


def test_one_process_per_file_checkpoints_and_another_takes_over(tmp_path: Path) -> None:
    paths = local_paths(str(tmp_path / "duanxin.db"))
    api, delivery = _CheckpointTurn(paths), _CheckpointTurn(paths)
    assert api.mine()
    assert not delivery.mine()  # the API process holds the turn
    assert api.mine()  # and keeps it
    api.release()  # the API process stopped (or died: the kernel drops its lock)
    assert delivery.mine()
    assert not api.mine()
    delivery.release()


def test_without_a_shared_file_every_process_checkpoints() -> None:
    assert _CheckpointTurn(None).mine()  # PostgreSQL or a cluster: nothing to share
