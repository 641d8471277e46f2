"""The official Bot API description (methods, types, fields), loaded from package data."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

SPEC_FILE = "telegram-bot-api-10.1.min.json"

SCALAR_TYPES = frozenset({"Integer", "Float", "Boolean", "String", "InputFile"})
ARRAY_PREFIX = "Array of "

# "Type of the media, must be photo" / 'Type of the reaction, always "emoji"'
_DISCRIMINATOR_VALUE = re.compile(r'(?:must be|always)\s+"?\*?([a-z_]+)')
_DISCRIMINATOR_FIELDS = ("type", "status", "source")


@dataclass(frozen=True)
class FieldSpec:
    """One parameter of a method or one field of a type."""

    name: str
    types: tuple[str, ...]
    required: bool
    description: str = ""


@dataclass(frozen=True)
class MethodSpec:
    """A Bot API method: its canonical name, parameters and return type."""

    name: str
    fields: tuple[FieldSpec, ...]
    returns: tuple[str, ...]

    def field(self, name: str) -> FieldSpec | None:
        """The parameter called ``name``, if the method has one."""
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class TypeSpec:
    """A Bot API object type; abstract types list their concrete ``subtypes``."""

    name: str
    fields: tuple[FieldSpec, ...]
    subtypes: tuple[str, ...] = ()
    discriminator: tuple[str, str] | None = field(default=None)

    @property
    def required_fields(self) -> tuple[FieldSpec, ...]:
        """The fields every instance must carry."""
        return tuple(f for f in self.fields if f.required)


def _fields(raw: list[dict[str, Any]]) -> tuple[FieldSpec, ...]:
    return tuple(
        FieldSpec(
            name=f["name"],
            types=tuple(f.get("types", ())),
            required=bool(f.get("required")),
            description=f.get("description", ""),
        )
        for f in raw
    )


def _discriminator(fields: tuple[FieldSpec, ...]) -> tuple[str, str] | None:
    for f in fields:
        if f.name in _DISCRIMINATOR_FIELDS:
            match = _DISCRIMINATOR_VALUE.search(f.description)
            if match:
                return f.name, match.group(1)
    return None


class ApiSpec:
    """Look-ups into the Bot API description.

    Method names are matched case-insensitively, as Telegram does.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data.get("version", "")
        self._methods: dict[str, MethodSpec] = {}
        for name, raw in data["methods"].items():
            method = MethodSpec(
                name=name,
                fields=_fields(raw.get("fields", [])),
                returns=tuple(raw.get("returns", ())),
            )
            self._methods[name.lower()] = method
        self._types: dict[str, TypeSpec] = {}
        for name, raw in data["types"].items():
            fields = _fields(raw.get("fields", []))
            self._types[name] = TypeSpec(
                name=name,
                fields=fields,
                subtypes=tuple(raw.get("subtypes", ())),
                discriminator=_discriminator(fields),
            )

    @classmethod
    def load(cls) -> ApiSpec:
        """Load the description shipped with this package."""
        return _load_default()

    def method(self, name: str) -> MethodSpec | None:
        """The method called ``name`` (any letter case), or None."""
        return self._methods.get(name.lower())

    def type(self, name: str) -> TypeSpec | None:
        """The object type called ``name``, or None (also for scalars)."""
        return self._types.get(name)

    @property
    def method_names(self) -> list[str]:
        """Canonical names of all methods."""
        return [m.name for m in self._methods.values()]

    def minimal_object(self, type_expr: str, _depth: int = 0) -> Any:
        """A smallest valid JSON value of ``type_expr``: required fields only, zero values.

        Used to answer methods the emulator does not model with something a client library
        can still deserialize.
        """
        if type_expr.startswith(ARRAY_PREFIX):
            return []
        scalar = {"Integer": 0, "Float": 0.0, "Boolean": False, "String": "", "True": True}
        if type_expr in scalar:
            return scalar[type_expr]
        spec = self.type(type_expr)
        if spec is None or _depth > 6:
            return {}
        if spec.subtypes:
            first = next((s for s in spec.subtypes if self.type(s)), None)
            return self.minimal_object(first, _depth + 1) if first else {}
        result: dict[str, Any] = {}
        for f in spec.required_fields:
            if spec.discriminator and f.name == spec.discriminator[0]:
                result[f.name] = spec.discriminator[1]
            else:
                result[f.name] = self.minimal_object(f.types[0], _depth + 1)
        return result


@cache
def _load_default() -> ApiSpec:
    text = resources.files(__package__).joinpath(SPEC_FILE).read_text(encoding="utf-8")
    return ApiSpec(json.loads(text))
