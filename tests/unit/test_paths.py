"""Every path a request carries is confined to the library roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from clustercode.errors import InvalidArgumentError, NotFoundError, PathOutsideLibraryError
from clustercode.library.paths import confine


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    movies, shows = tmp_path / "movies", tmp_path / "shows"
    (movies / "a").mkdir(parents=True)
    shows.mkdir()
    (movies / "a" / "film.mkv").write_bytes(b"x")
    (shows / "ep.mkv").write_bytes(b"y")
    (tmp_path / "secret.mkv").write_bytes(b"z")
    (movies / "escape.mkv").symlink_to(tmp_path / "secret.mkv")
    (movies / "inside.mkv").symlink_to(movies / "a" / "film.mkv")
    return [movies, shows]


def test_relative_paths_resolve_against_each_root(roots: list[Path]) -> None:
    assert confine("a/film.mkv", roots) == (roots[0] / "a" / "film.mkv", roots[0])
    assert confine("ep.mkv", roots) == (roots[1] / "ep.mkv", roots[1])


def test_absolute_path_inside_a_root(roots: list[Path]) -> None:
    path, root = confine(str(roots[1] / "ep.mkv"), roots)
    assert (path, root) == (roots[1] / "ep.mkv", roots[1])


def test_symlink_within_the_library_keeps_its_name(roots: list[Path]) -> None:
    assert confine("inside.mkv", roots)[0] == roots[0] / "inside.mkv"


def test_a_linked_root_accepts_both_spellings(roots: list[Path], tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    linked.symlink_to(roots[0])
    for raw in (str(linked / "a" / "film.mkv"), str(roots[0] / "a" / "film.mkv"), "a/film.mkv"):
        assert confine(raw, [linked]) == (linked / "a" / "film.mkv", linked)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("../secret.mkv", "must not contain '..'"),
        ("a/../../secret.mkv", "must not contain '..'"),
        ("escape.mkv", "leads outside the library roots"),
    ],
)
def test_escapes_are_refused(roots: list[Path], raw: str, message: str) -> None:
    with pytest.raises(PathOutsideLibraryError) as caught:
        confine(raw, roots, field="path")
    assert caught.value.field == "path"
    assert message in str(caught.value)
    assert str(caught.value).startswith("path: ")


def test_absolute_path_outside_is_refused(roots: list[Path], tmp_path: Path) -> None:
    with pytest.raises(PathOutsideLibraryError, match="is not inside a library root"):
        confine(str(tmp_path / "secret.mkv"), roots)


@pytest.mark.parametrize("raw", ["", "   ", "a\x00b"])
def test_empty_or_nul_is_invalid(roots: list[Path], raw: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        confine(raw, roots, field="file")
    assert caught.value.field == "file"


def test_missing_file_inside_is_not_found(roots: list[Path]) -> None:
    with pytest.raises(NotFoundError, match=r"no file 'a/nothing\.mkv' in the library"):
        confine("a/nothing.mkv", roots)


def test_directory_is_not_a_file(roots: list[Path]) -> None:
    with pytest.raises(NotFoundError):
        confine("a", roots)
