"""Content fingerprints: stable across renames, sensitive to content, cheap on big files."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from clustercode.library.fingerprint import BLOCK, SAMPLES, fingerprint, sample_offsets
from clustercode.library.mediainfo import MediaError


def make(path: Path, size: int, seed: int = 1) -> Path:
    # Distinct bytes per position, so a change anywhere in a sampled block is a real change.
    pattern = bytes((i * 7 + seed) % 251 for i in range(251))
    path.write_bytes((pattern * (size // len(pattern) + 1))[:size])
    return path


def test_renaming_and_moving_keep_the_fingerprint(tmp_path: Path) -> None:
    original = make(tmp_path / "movie.mkv", 3_000_000)
    before = fingerprint(original, 3_000_000)
    (tmp_path / "elsewhere").mkdir()
    moved = original.rename(tmp_path / "elsewhere" / "Renamed (2001).mkv")
    os.utime(moved, (1, 1))
    assert fingerprint(moved) == before
    assert before.startswith("3000000:")
    assert len(before.split(":")[1]) == 40


@pytest.mark.parametrize("size", [0, 10, BLOCK * SAMPLES, BLOCK * SAMPLES + 1, 5_000_000])
def test_a_changed_byte_in_a_sampled_block_changes_it(tmp_path: Path, size: int) -> None:
    path = make(tmp_path / "f.mkv", size)
    before = fingerprint(path)
    if size == 0:
        assert before == fingerprint(make(tmp_path / "g.mkv", 0))
        return
    offsets = sample_offsets(size)
    for position in {0, size - 1, offsets[len(offsets) // 2] + 5}:
        data = bytearray(path.read_bytes())
        data[position] ^= 0xFF
        path.write_bytes(bytes(data))
        assert fingerprint(path) != before, position
        data[position] ^= 0xFF
        path.write_bytes(bytes(data))
        assert fingerprint(path) == before


def test_same_bytes_different_size_differ(tmp_path: Path) -> None:
    a = make(tmp_path / "a", 2_000_000)
    b = make(tmp_path / "b", 2_000_001)
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(a) != fingerprint(make(tmp_path / "c", 2_000_000, seed=2))


def test_sampling_reads_a_bounded_amount() -> None:
    big = 50 * 10**9
    offsets = sample_offsets(big)
    assert len(offsets) == SAMPLES
    assert offsets[0] == 0
    assert offsets[-1] == big - BLOCK
    gaps = {b - a for a, b in itertools.pairwise(offsets)}
    assert max(gaps) - min(gaps) <= 1  # evenly spaced
    assert sample_offsets(BLOCK * SAMPLES) == [0]


def test_file_that_changed_size_since_the_scan(tmp_path: Path) -> None:
    path = make(tmp_path / "growing.mkv", 1000)
    with pytest.raises(MediaError) as caught:
        fingerprint(path, 900)
    assert str(caught.value) == f"{path}: changed while being scanned (900 -> 1000 bytes)"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        fingerprint(tmp_path / "gone.mkv")
    assert str(caught.value) == f"{tmp_path / 'gone.mkv'}: cannot read (No such file or directory)"
