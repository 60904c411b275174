"""Build frozen dataclasses from TOML tables, naming the dotted key of every problem.

Kept apart from cti.config so the sections there read as plain declarations.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from cti.errors import ConfigError

T = TypeVar("T")


class Secret:
    """A value that must never reach a log: its repr and str are masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__


def build(cls: type[T], data: Any, key: str) -> T:
    """Validate a TOML table against dataclass `cls`; unknown and missing keys are errors."""
    if not isinstance(data, Mapping):
        raise ConfigError(key or "(root)", f"expected a table, got {_kind(data)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for name in data:
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigError(_join(key, name), f"unknown key (known keys here: {known})")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        dotted = _join(key, name)
        if name in data:
            values[name] = convert(hints[name], data[name], dotted)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(dotted, "required value is missing")
    instance = cls(**values)
    check = getattr(instance, "validate", None)
    if check is not None:
        check(key)
    return instance


def convert(tp: Any, value: Any, key: str) -> Any:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return convert(options[0], value, key)
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(key, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value
    if origin is list or origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {_kind(value)}")
        (item_tp, *_) = get_args(tp)
        items = [convert(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or origin is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(key, f"expected a table, got {_kind(value)}")
        _, value_tp = get_args(tp)
        return {str(k): convert(value_tp, v, _join(key, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)  # type: ignore[arg-type]
    return _scalar(tp, value, key)


def _scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is Secret:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {_kind(value)}")
        return Secret(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {_kind(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"expected a number, got {_kind(value)}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected a whole number, got {_kind(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {_kind(value)}")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {key}")


def parse_env_value(tp: Any, raw: str, key: str) -> Any:
    """Turn an environment string into the TOML-shaped value `convert` expects."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        tp = next(a for a in get_args(tp) if a is not type(None))
        origin = get_origin(tp)
    if tp is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(key, f"expected true or false, got {raw!r}")
    if tp is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(key, f"expected a whole number, got {raw!r}") from None
    if tp is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(key, f"expected a number, got {raw!r}") from None
    if origin is list:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__
