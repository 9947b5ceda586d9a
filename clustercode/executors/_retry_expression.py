"""``retryStrategy.expression``: the part of Argo's expression language the local executor runs.

Argo evaluates the expression with expr-lang after a failed attempt, when the policy and the
limit still allow a retry; false means no retry. Its variables are strings: ``lastRetry.exitCode``
(``"-1"`` when the attempt ended without one) and ``lastRetry.status`` (the attempt's phase,
``"Failed"`` or ``"Error"``). The local executor supports this grammar and refuses the rest when
the manifest is read::

    expression := term ("||" term)*
    term       := factor ("&&" factor)*
    factor     := "(" expression ")" | comparison
    comparison := VARIABLE ("==" | "!=") STRING
                | "asInt(lastRetry.exitCode)" ("==" | "!=" | "<" | "<=" | ">" | ">=") INTEGER

where VARIABLE is ``lastRetry.exitCode`` or ``lastRetry.status``, STRING is quoted with ``"`` or
``'`` (no escapes), INTEGER may be negative, and either side of a comparison may come first.
``&&`` binds tighter than ``||``, as in expr-lang. A string variable compared with a number is
refused: expr-lang would compare ``"3"`` with ``3`` as unequal, whatever the exit code.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "GRAMMAR",
    "ExpressionError",
    "RetryExpression",
    "argo_exit_code",
    "parse_retry_expression",
]

_EXIT_CODE: Final = "lastRetry.exitCode"
_STATUS: Final = "lastRetry.status"
GRAMMAR: Final = (
    "the local executor supports comparisons of lastRetry.exitCode or lastRetry.status with a "
    "quoted string (==, !=) and of asInt(lastRetry.exitCode) with an integer (==, !=, <, <=, >, "
    '>=), joined by && and ||, with parentheses; e.g. lastRetry.exitCode != "3"'
)
# Argo's emissary exits 137 when the command it runs was killed by a signal (its exit code is -1).
_SIGNALLED = 137
_NO_EXIT_CODE = "-1"

_OPERATORS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||==|!=|<=|>=|<|>|\(|\))
      | (?P<string>"[^"\\]*"|'[^'\\]*')
      | (?P<integer>-?\d+)
      | (?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
    )""",
    re.VERBOSE | re.ASCII,
)


class ExpressionError(ValueError):
    """The expression is outside the supported grammar; the message says where and why."""


@dataclass(frozen=True, slots=True)
class _Compare:
    variable: str
    op: str
    literal: str | int

    def evaluate(self, scope: Mapping[str, str]) -> bool:
        value: str | int = scope[self.variable]
        if isinstance(self.literal, int):
            value = int(value)  # asInt(...)
        return _OPERATORS[self.op](value, self.literal)


@dataclass(frozen=True, slots=True)
class _Join:
    conjunction: bool  # && when true, || when false
    parts: tuple[_Node, ...]

    def evaluate(self, scope: Mapping[str, str]) -> bool:
        test = all if self.conjunction else any
        return test(part.evaluate(scope) for part in self.parts)


_Node = _Compare | _Join


@dataclass(frozen=True, slots=True)
class RetryExpression:
    """A parsed ``retryStrategy.expression``."""

    text: str
    _root: _Node

    def allows_retry(self, *, status: str, exit_code: str) -> bool:
        """Whether the expression is true after an attempt that ended in phase ``status`` with
        Argo's ``exit_code`` (see :func:`argo_exit_code`)."""
        return self._root.evaluate({_EXIT_CODE: exit_code, _STATUS: status})


def argo_exit_code(returncode: int | None) -> str:
    """``lastRetry.exitCode`` as Argo gives it for a process that ended with ``returncode``.

    ``"-1"`` when there is none (the process never started); ``"137"`` for any signal, as Argo's
    emissary reports a command it ran that a signal killed; the exit status otherwise.
    """
    if returncode is None:
        return _NO_EXIT_CODE
    return str(_SIGNALLED if returncode < 0 else returncode)


def parse_retry_expression(text: str) -> RetryExpression:
    """Parse ``text`` (see the module's grammar).

    Raises:
        ExpressionError: ``text`` is outside the grammar.
    """
    parser = _Parser(text)
    root = parser.expression()
    if parser.peek() is not None:
        raise parser.error("expected && or || or the end")
    return RetryExpression(text, root)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str, int]] = []  # (kind, text, column)
        position = 0
        while text[position:].strip():
            match = _TOKEN.match(text, position)
            kind = None if match is None else match.lastgroup
            if match is None or kind is None:
                column = len(text) - len(text[position:].lstrip()) + 1
                raise ExpressionError(f"unexpected {text[column - 1]!r} at column {column}")
            self.tokens.append((kind, match[kind], match.start(kind) + 1))
            position = match.end()
        self.at = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] == text:
            self.at += 1
            return True
        return False

    def error(self, expected: str) -> ExpressionError:
        token = self.peek()
        found = "the end" if token is None else f"{token[1]!r} at column {token[2]}"
        return ExpressionError(f"{expected}, found {found}")

    def expression(self) -> _Node:
        parts = [self.term()]
        while self.take("||"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else _Join(False, tuple(parts))

    def term(self) -> _Node:
        parts = [self.factor()]
        while self.take("&&"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else _Join(True, tuple(parts))

    def factor(self) -> _Node:
        if self.take("("):
            inner = self.expression()
            if not self.take(")"):
                raise self.error("expected )")
            return inner
        left = self.operand()
        token = self.peek()
        if token is None or token[0] != "op" or token[1] not in _OPERATORS:
            raise self.error("expected a comparison (==, !=, <, <=, >, >=)")
        self.at += 1
        right = self.operand()
        return _comparison(left, token[1], right, token[2])

    def operand(self) -> tuple[str, str]:
        """``("variable", name)``, ``("asInt", name)``, ``("string", s)`` or ``("integer", n)``."""
        token = self.peek()
        if token is None or token[0] == "op":
            raise self.error("expected a variable or a value")
        kind, text, _ = token
        self.at += 1
        if kind == "string":
            return "string", text[1:-1]
        if kind == "integer":
            return "integer", text
        if text in (_EXIT_CODE, _STATUS):
            return "variable", text
        if text == "asInt" and self.take("("):
            inner = self.peek()
            if inner is None or inner[1] != _EXIT_CODE:
                raise self.error(f"expected {_EXIT_CODE} inside asInt()")
            self.at += 1
            if not self.take(")"):
                raise self.error("expected )")
            return "asInt", _EXIT_CODE
        raise ExpressionError(f"unsupported name {text!r} at column {token[2]}")


def _comparison(left: tuple[str, str], op: str, right: tuple[str, str], column: int) -> _Compare:
    swapped = left[0] not in ("variable", "asInt")
    variable, literal = (right, left) if swapped else (left, right)
    if literal[0] in ("variable", "asInt") or variable[0] not in ("variable", "asInt"):
        raise ExpressionError(f"{op} at column {column} must compare a variable with a value")
    if variable[0] == "variable" and literal[0] == "integer":
        raise ExpressionError(
            f"{variable[1]} is a string in Argo and never equals the number {literal[1]}: "
            f'compare it with "{literal[1]}" or use asInt({variable[1]})'
        )
    if variable[0] == "asInt" and literal[0] == "string":
        raise ExpressionError(f"asInt({variable[1]}) is an integer: compare it with a number")
    if variable[0] == "variable" and op not in ("==", "!="):
        raise ExpressionError(f"{variable[1]} is a string: compare it with == or !=")
    if swapped and op not in ("==", "!="):
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]  # 3 < x is x > 3
    value: str | int = int(literal[1]) if literal[0] == "integer" else literal[1]
    return _Compare(variable[1], op, value)
