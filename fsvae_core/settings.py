"""Settings files: JSON documents parsed into the frozen config dataclasses, and back.

``config_from_dict(ExperimentConfig, {"train": {"cycles": 3}})`` fills what the
document names and keeps every default it does not; an unknown key or a value
of the wrong type is an error naming its dotted path.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class SettingsError(ValueError):
    """A settings document that does not fit the config; names the key."""


def config_to_dict(config) -> dict:
    """A JSON-able dict of a (nested) config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls: type[T], data: dict, where: str = "", base: T | None = None) -> T:
    """Build ``cls`` from ``data``, recursing into nested config dataclasses.

    Keys the document leaves out keep the value in ``base`` (default: the
    class's defaults), so a nested section starts from its field's default:
    a backbone's ``frequency`` section without ``placement`` keeps the
    backbone's own default placement.
    """
    if not isinstance(data, dict):
        raise SettingsError(f"{where or 'settings'}: expected an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SettingsError(f"{where or 'settings'}: unknown key(s) {unknown}; known: {sorted(fields)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        path = f"{where}.{name}" if where else name
        default = getattr(base, name) if base is not None else _field_default(fields[name])
        values[name] = _convert(hints[name], value, path, default)
    try:
        return dataclasses.replace(base, **values) if base is not None else cls(**values)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{where or 'settings'}: {error}") from error


def _field_default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _convert(hint, value, path: str, default=None):
    if dataclasses.is_dataclass(hint):
        return config_from_dict(hint, value, path, default if dataclasses.is_dataclass(default) else None)
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise SettingsError(f"{path}: must be one of {list(typing.get_args(hint))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return _convert(next(o for o in options if o is not type(None)), value, path)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise SettingsError(f"{path}: expected a list, got {value!r}")
        items = typing.get_args(hint)
        if not items:  # a bare tuple says nothing of its items
            return tuple(value)
        if len(items) == 2 and items[1] is Ellipsis:  # tuple[float, ...]: any length
            items = (items[0],) * len(value)
        elif len(items) != len(value):  # tuple[float, float]: exactly that many
            raise SettingsError(f"{path}: expected a list of {len(items)} items, got {value!r}")
        return tuple(_convert(item, v, f"{path}[{i}]") for i, (item, v) in enumerate(zip(items, value)))
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise SettingsError(f"{path}: expected a number, got {value!r}")
    if hint in (int, str, bool) and not (type(value) is hint):
        raise SettingsError(f"{path}: expected {hint.__name__}, got {value!r}")
    return value


def load_settings(cls: type[T], path: Path) -> T:
    """Read a JSON settings file into ``cls``; errors name the file and the key."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SettingsError(f"{path}: cannot read settings: {error}") from error
    try:
        return config_from_dict(cls, data)
    except SettingsError as error:
        raise SettingsError(f"{path}: {error}") from error
