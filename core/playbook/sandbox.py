"""Jinja's sandbox with limits: a template renders within a time, size and loop budget.

The sandbox keeps templates from Python internals but not from asking for too much:
``{{ 'a' * 3000000000 }}`` allocates gigabytes in one C call, and nested loops over
``range(100000)`` run for hours. ``crisiscast validate`` renders every template of a file it was
just handed, so each render gets a budget (``Budget``) and these checks:

* ``*``, ``**``, ``%``, ``+`` and ``~`` are checked *before* they run: a result longer than
  ``MAX_OUTPUT`` characters (items, or bits for numbers) is refused.
* Calls and filters refuse numbers above ``MAX_OUTPUT`` (widths, counts) and check ``join``,
  ``replace`` and format strings for what they would produce.
* Every ``for`` loop counts its iterations against one ``MAX_STEPS`` for the whole render,
  and the clock is checked as it goes (``MAX_SECONDS``).
* The rendered text is streamed and stops at ``MAX_OUTPUT`` characters.

Breaking a limit raises ``LimitExceeded`` (a ``SecurityError``) naming the limit and the fix.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from jinja2 import Template, nodes, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import SandboxedEnvironment

MAX_OUTPUT = 200_000  # characters of one template's text; items of a list; bits of a number
MAX_STEPS = 100_000  # loop iterations of one render, all loops together
MAX_SECONDS = 2.0  # one render's wall-clock time
_CHECK_EVERY = 1_024  # loop iterations between clock checks
_GUARD = "crisiscast_loop_guard"
_CONCAT = "crisiscast_concat"
_FORMAT_NUMBER = re.compile(r"\d+")


class LimitExceeded(SecurityError):
    """A template asked for more time, output or loop iterations than a render may use."""


@dataclass
class Budget:
    """What one render may still spend."""

    steps: int = MAX_STEPS
    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_SECONDS)

    def step(self, count: int = 1) -> None:
        self.steps -= count
        if self.steps < 0:
            raise LimitExceeded(
                f"template loops run more than {MAX_STEPS:,} times in all: loop over the "
                "parameters, routes or resources, not over large ranges"
            )

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(
                f"template takes longer than {MAX_SECONDS:g} s to render: simplify its loops"
            )


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("_BUDGET", default=None)


@contextmanager
def budget() -> Iterator[Budget]:
    """A fresh budget for the renders inside the ``with`` block."""
    spent = Budget()
    token = _BUDGET.set(spent)
    try:
        yield spent
    finally:
        _BUDGET.reset(token)


def _current() -> Budget:
    spent = _BUDGET.get()
    if spent is None:  # rendering outside ``budget()``: each call gets its own
        spent = Budget()
        _BUDGET.set(spent)
    return spent


def _too_long(what: str, size: int) -> LimitExceeded:
    return LimitExceeded(
        f"{what} would be {size:,} long, more than the {MAX_OUTPUT:,} a template may produce: "
        "use smaller numbers"
    )


def _size(value: Any) -> int | None:
    """Length of a string or sequence, bits of an int; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value.bit_length()
    if isinstance(value, str | bytes | list | tuple):
        return len(value)
    return None


def _check_number(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT:
        raise LimitExceeded(
            f"{what} is given {value:,}, more than the {MAX_OUTPUT:,} a template may use: "
            "use a smaller number"
        )


def _check_format(spec: Any) -> None:
    """Widths and precisions in a format string (``%0999999999d``, ``{:>999999999}``)."""
    if isinstance(spec, str):
        for number in _FORMAT_NUMBER.findall(spec):
            if len(number) > 6 or int(number) > MAX_OUTPUT:
                raise LimitExceeded(
                    f"format string {spec[:40]!r} asks for a width of {int(number):,}: at most "
                    f"{MAX_OUTPUT:,}"
                )


def _check_args(args: Iterable[Any], kwargs: dict[str, Any], what: str) -> None:
    for value in (*args, *kwargs.values()):
        _check_number(value, what)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    a, b = _size(left), _size(right)
    numbers = isinstance(left, int) and isinstance(right, int)
    if operator == "*" and a is not None and b is not None:
        if numbers:
            size = a + b
        elif isinstance(right, int):
            size = a * max(right, 0)
        else:
            size = b * max(left, 0) if isinstance(left, int) else 0
        if size > MAX_OUTPUT:
            raise _too_long("`*` result", size)
    elif operator == "**" and numbers and abs(left) > 1 and right > 0:
        size = (a or 0) * right
        if size > MAX_OUTPUT:
            raise _too_long("`**` result (bits)", size)
    elif operator == "+" and a is not None and b is not None and not numbers:
        if a + b > MAX_OUTPUT:
            raise _too_long("`+` result", a + b)
    elif operator == "%" and isinstance(left, str):
        _check_format(left)
        values = right if isinstance(right, tuple) else (right,)
        _check_args(values, {}, "`%` formatting")


def _guard_loop(iterable: Any) -> Iterator[Any]:
    """Count a for loop's iterations against the render's budget."""
    spent = _current()
    for index, item in enumerate(iterable):
        spent.step()
        if index % _CHECK_EVERY == 0:
            spent.check_time()
        yield item


@pass_eval_context
def _concat(eval_ctx: EvalContext, items: list[Any]) -> str:
    """``a ~ b``: checked for size, then joined as Jinja does."""
    size = sum(len(str(item)) for item in items)
    if size > MAX_OUTPUT:
        raise _too_long("`~` result", size)
    join = markup_join if eval_ctx.autoescape else str_join
    return join(items)


def _checked_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses big numbers and checks what ``join``/``replace``/``format`` make."""

    @wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_args(args, kwargs, f"filter {name}")
        values = [a for a in args if not isinstance(a, Context | EvalContext)]
        if name == "format" and values:
            _check_format(values[0])
        elif name == "join" and values:
            items = list(values[0]) if not isinstance(values[0], str) else [values[0]]
            separator = values[1] if len(values) > 1 else kwargs.get("d", "")
            size = sum(len(str(i)) for i in items) + len(str(separator)) * len(items)
            if size > MAX_OUTPUT:
                raise _too_long("`join` result", size)
            args = tuple(items if a is values[0] else a for a in args)
        elif name == "indent" and values:
            width = values[1] if len(values) > 1 else kwargs.get("width", 4)
            text = str(values[0])
            size = len(text) + (text.count("\n") + 1) * (len(width) if isinstance(width, str)
                                                          else int(width))  # fmt: skip
            if size > MAX_OUTPUT:
                raise _too_long("`indent` result", size)
        elif name == "replace" and len(values) >= 3:
            text, old, new = (str(v) for v in values[:3])
            size = len(text) + text.count(old) * len(new) if old else len(text) * len(new)
            if size > MAX_OUTPUT:
                raise _too_long("`replace` result", size)
        result = function(*args, **kwargs)
        if (_size(result) or 0) > MAX_OUTPUT and not isinstance(result, int):
            raise _too_long(f"filter {name}'s result", _size(result) or 0)
        return result

    return checked


class LimitedSandbox(SandboxedEnvironment):
    """The sandbox with the limits in this module's docstring."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = {n: _checked_filter(n, f) for n, f in self.filters.items()}
        self.filters[_GUARD] = _guard_loop
        self.filters[_CONCAT] = _concat

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _current().check_time()
        name = getattr(__obj, "__name__", "call")
        _check_args(args, kwargs, f"{name}()")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            if name in ("format", "format_map"):
                _check_format(owner)
            elif name == "join" and args:
                items = list(args[0])
                size = sum(len(str(i)) for i in items) + len(owner) * len(items)
                if size > MAX_OUTPUT:
                    raise _too_long("`join` result", size)
                args = (items, *args[1:])
            elif name == "replace" and len(args) >= 2:
                old, new = str(args[0]), str(args[1])
                size = len(owner) + (owner.count(old) if old else len(owner)) * len(new)
                if size > MAX_OUTPUT:
                    raise _too_long("`replace` result", size)
        return super().call(__context, __obj, *args, **kwargs)

    def guard(self, template: nodes.Template) -> nodes.Template:
        """Route every for loop through the step counter and every ``~`` through the size check."""
        for loop in template.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _GUARD, [], [], None, None, lineno=loop.lineno)
        for parent in [template, *template.find_all(nodes.Node)]:
            for name in parent.fields:
                value = getattr(parent, name, None)
                if isinstance(value, nodes.Concat):
                    setattr(parent, name, _concat_node(value))
                elif isinstance(value, list):
                    value[:] = [_concat_node(v) if isinstance(v, nodes.Concat) else v
                                for v in value]  # fmt: skip
        return template

    def limited_string(self, source: str) -> Template:
        """``from_string`` with the loop and concatenation guards compiled in."""
        return self.from_string(self.guard(self.parse(source)))


def _concat_node(node: nodes.Concat) -> nodes.Filter:
    items = nodes.List(node.nodes, lineno=node.lineno)
    return nodes.Filter(items, _CONCAT, [], [], None, None, lineno=node.lineno)


def render_limited(template: Template, context: dict[str, Any]) -> str:
    """Render ``template`` streamed, within a fresh budget and ``MAX_OUTPUT`` characters."""
    with budget():
        pieces: list[str] = []
        size = 0
        for piece in template.generate(context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise LimitExceeded(
                    f"template renders to more than {MAX_OUTPUT:,} characters: shorten it or "
                    "its loops"
                )
            pieces.append(piece)
        return "".join(pieces)
