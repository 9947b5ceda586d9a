"""YAML parsing that keeps line numbers, for error messages that point at the user's line.

``yaml.safe_load`` forgets where a value was written. Composing the document instead gives a node
tree whose marks carry the line of every key and value; values are then built node by node with
PyYAML's safe constructor, so the result is exactly what ``safe_load`` would give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor


class YamlProblem(Exception):
    """A problem at one line of a YAML document; callers prefix the file name.

    Attributes:
        line: 1-based line number.
        message: what is wrong, naming the key where there is one.
    """

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One ``key: value`` pair of a mapping, with where it was written.

    Attributes:
        key: the key text.
        line: 1-based line of the key.
        node: the value's node (its ``start_mark.line`` is the value's 0-based line).
    """

    key: str
    line: int
    node: yaml.Node


def line_of(node: yaml.Node) -> int:
    """Return the 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def compose(text: str) -> yaml.Node | None:
    """Parse a single YAML document into its node tree (``None`` for an empty document).

    Raises:
        YamlProblem: a syntax error, at the line the parser stopped.
    """
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        if "<block" in problem:  # PyYAML's words for an indentation mistake
            problem = "indentation does not match the lines above"
        raise YamlProblem(line, f"YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"YAML syntax error: {exc}") from exc


def construct(node: yaml.Node) -> Any:
    """Build the Python value of a node, exactly as ``yaml.safe_load`` would.

    Raises:
        YamlProblem: the node cannot be constructed (e.g. an unknown tag).
    """
    try:
        return SafeConstructor().construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise YamlProblem(line_of(node), f"invalid value: {exc}") from exc


def describe(node: yaml.Node) -> str:
    """Name a node's kind the way a user reads the file ("a list", "a mapping", "a string")."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = construct(node)
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"the string {value!r}"
    return type(value).__name__


def entries(node: yaml.Node, where: str = "") -> list[Entry]:
    """Return the ``key: value`` pairs of a mapping node in file order.

    Args:
        node: the node that must be a mapping.
        where: the dotted name of the mapping for messages ("" for the top level).

    Raises:
        YamlProblem: the node is not a mapping, a key is not a string, or a key repeats.
    """
    if not isinstance(node, yaml.MappingNode):
        what = f"{where}: expected a mapping" if where else "expected a mapping of settings"
        raise YamlProblem(line_of(node), f"{what}, got {describe(node)}")
    found: dict[str, int] = {}
    result: list[Entry] = []
    for key_node, value_node in node.value:
        key = construct(key_node)
        dotted = f"{where}.{key}" if where else str(key)
        if not isinstance(key, str):
            raise YamlProblem(line_of(key_node), f"key {key!r} is not a name")
        if key in found:
            raise YamlProblem(
                line_of(key_node), f"duplicate key '{dotted}' (first set on line {found[key]})"
            )
        found[key] = line_of(key_node)
        result.append(Entry(key=key, line=line_of(key_node), node=value_node))
    return result
