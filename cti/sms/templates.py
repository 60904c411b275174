"""SMS message templates: Jinja text with a fixed set of placeholders, rendered in a sandbox.

A template body is data edited at run time, not code, so it is untrusted input: it is rendered by
Jinja's sandbox, may name only the placeholders in `VARIABLES`, and every Jinja failure becomes a
`TemplateError` whose message the author can act on. SMS is plain text, so nothing is escaped.
Pure: no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import jinja2
import jinja2.meta
import jinja2.nodes
from jinja2.sandbox import SandboxedEnvironment

from cti.errors import DomainError

VARIABLES: Final[frozenset[str]] = frozenset(
    {
        "salutation",
        "name",
        "first_name",
        "customer_id",
        "phone",
        "agent",
        "center",
        "appointment_time",
        "appointment_date",
        "link",
        "code",
    }
)
# Twilio refuses longer bodies; a template's literal text alone already counts against it.
MAX_LENGTH: Final = 1600

_ENV: Final = SandboxedEnvironment(
    autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=False
)
# A template sees only the values it is given; range() and lipsum() would also let it loop or
# generate text for as long as it likes.
_ENV.globals.clear()


class TemplateError(DomainError):
    error_id = "invalid-template"


@dataclass(frozen=True, slots=True)
class _Compiled:
    template: jinja2.Template
    placeholders: frozenset[str]


def check(body: str) -> None:
    """Refuse a body that is blank, too long, not valid Jinja or names an unknown placeholder."""
    _compile(body)


def render(body: str, values: Mapping[str, str]) -> str:
    """The text to send: `body` filled with `values` only, stripped of surrounding whitespace."""
    compiled = _compile(body)
    try:
        text = compiled.template.render(values)
    except jinja2.UndefinedError as exc:
        missing = sorted(compiled.placeholders - values.keys())
        if missing:
            raise TemplateError(
                f"no value for {_placeholders(missing)}", {"placeholders": ", ".join(missing)}
            ) from None
        raise TemplateError(f"cannot render the template: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"the template does something not allowed: {exc.message}") from None
    # Arithmetic and filters on the author's expressions fail with plain Python errors too.
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        raise TemplateError(f"cannot render the template: {exc}") from None
    return text.strip()


def sample_values() -> dict[str, str]:
    """A value for every placeholder, for previewing a template before it is saved."""
    return {
        "salutation": "Ms",
        "name": "Li Wei",
        "first_name": "Wei",
        "customer_id": "C-10482",
        "phone": "+8613800138000",
        "agent": "Sophie",
        "center": "Acme Support",
        "appointment_time": "14:30",
        "appointment_date": "Tuesday 3 March",
        "link": "https://example.com/r/8Kq2",
        "code": "482913",
    }


# The same few bodies are rendered for every message sent, so parsing once per body pays off.
@functools.lru_cache(maxsize=256)
def _compile(body: str) -> _Compiled:
    if not body.strip():
        raise TemplateError("the message is empty")
    if len(body) > MAX_LENGTH:
        raise TemplateError(
            f"the message is {len(body)} characters long; the limit is {MAX_LENGTH}"
        )
    try:
        tree = _ENV.parse(body)
        placeholders = frozenset(jinja2.meta.find_undeclared_variables(tree))
        if unknown := sorted(placeholders - VARIABLES):
            noun = "placeholder" if len(unknown) == 1 else "placeholders"
            raise TemplateError(
                f"unknown {noun} {_placeholders(unknown)};"
                f" use one of: {_placeholders(sorted(VARIABLES))}",
                {"placeholders": ", ".join(unknown)},
            )
        _allow_only_simple_expressions(tree)
        # Compiling is what finds an unknown filter or test.
        return _Compiled(_ENV.from_string(tree), placeholders)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"line {exc.lineno}: {exc.message}", {"line": str(exc.lineno)}
        ) from None


# What an SMS template needs: text, placeholders, conditions and a few text filters. The sandbox
# keeps Python's internals out of reach but not `{{ name * 999999999 }}`, a loop or
# `center(10**9)`, any of which would stall the one process that also pops calls.
_ALLOWED_NODES: Final = (
    jinja2.nodes.Template,
    jinja2.nodes.Output,
    jinja2.nodes.TemplateData,
    jinja2.nodes.Name,
    jinja2.nodes.Const,
    jinja2.nodes.If,
    jinja2.nodes.CondExpr,
    jinja2.nodes.Compare,
    jinja2.nodes.Operand,
    jinja2.nodes.And,
    jinja2.nodes.Or,
    jinja2.nodes.Not,
    jinja2.nodes.Concat,
    jinja2.nodes.Filter,
    jinja2.nodes.Test,
)
_ALLOWED_FILTERS: Final = frozenset(
    {"upper", "lower", "title", "capitalize", "trim", "default", "d", "replace", "truncate"}
)


def _allow_only_simple_expressions(tree: jinja2.nodes.Template) -> None:
    for node in tree.find_all(jinja2.nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            raise TemplateError(
                f"line {node.lineno}: SMS templates allow placeholders, if/else and the filters "
                f"{', '.join(sorted(_ALLOWED_FILTERS))}; not {type(node).__name__.lower()}"
            )
        if isinstance(node, jinja2.nodes.Filter) and node.name not in _ALLOWED_FILTERS:
            raise TemplateError(f"line {node.lineno}: the filter {node.name!r} is not allowed")
        if (
            isinstance(node, jinja2.nodes.Filter)
            and node.name == "truncate"
            and any(
                isinstance(arg, jinja2.nodes.Const)
                and isinstance(arg.value, int)
                and arg.value > 1600
                for arg in node.args
            )
        ):
            raise TemplateError(f"line {node.lineno}: truncate to at most 1600 characters")


def _placeholders(names: Iterable[str]) -> str:
    return ", ".join(f"{{{{ {name} }}}}" for name in names)
