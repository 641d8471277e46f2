"""Check and decode the parameters of a Bot API call against the official description.

Top-level parameters arrive as strings in query strings and form bodies (objects and arrays
JSON-serialized), or as typed values in a JSON body. Both are converted to typed Python
values here. Nested objects are checked strictly, the way Telegram's JSON parser is:
``{"callback_data": 5}`` fails with ``Field "callback_data" must be of type String``.
Unknown parameters and unknown object fields are ignored, as Telegram does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import ApiError, bad_request
from .models import UploadedFile
from .spec import ARRAY_PREFIX, ApiSpec, FieldSpec, MethodSpec, TypeSpec

_INTEGER = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_JSON_NAMES = {
    "Integer": "Number",
    "Float": "Number",
    "Boolean": "Boolean",
    "String": "String",
    "InputFile": "InputFile",
}
ATTACH_PREFIX = "attach://"
# Telegram's own wording for some missing parameters.
_MISSING = {"text": "message text is empty"}
# Types for which the API also accepts a bare string (a reply keyboard button's text).
_STRING_SHORTHANDS = frozenset({"KeyboardButton"})


class _Invalid(Exception):
    """A nested value does not fit; ``context`` is the object type being parsed."""

    def __init__(self, context: str, message: str) -> None:
        super().__init__(message)
        self.context = context
        self.message = message


def _human(type_name: str) -> str:
    """'InlineKeyboardButton' -> 'inline keyboard button' (Telegram's error wording)."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type_name).lower()


def _type_label(types: tuple[str, ...]) -> str:
    return " or ".join(types)


class ParamValidator:
    """Validates calls of one spec; stateless apart from the spec."""

    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec
        self._files: Mapping[str, UploadedFile] = {}

    def validate(
        self,
        method: MethodSpec,
        raw: Mapping[str, Any],
        files: Mapping[str, UploadedFile],
    ) -> dict[str, Any]:
        """Typed parameters of a call, or ApiError(400) describing the first problem.

        Uploaded files appear as :class:`UploadedFile` values (also when referenced with
        ``attach://name``); unknown parameters are dropped.
        """
        self._files = files
        result: dict[str, Any] = {}
        for spec_field in method.fields:
            value = self._lookup(spec_field, raw, files)
            if value is None:
                if spec_field.required:
                    detail = _MISSING.get(spec_field.name, f"{spec_field.name} is required")
                    raise bad_request(detail)
                continue
            result[spec_field.name] = self._coerce_top(spec_field, value, files)
        return result

    @staticmethod
    def _lookup(
        spec_field: FieldSpec, raw: Mapping[str, Any], files: Mapping[str, UploadedFile]
    ) -> Any:
        value = raw.get(spec_field.name)
        if value is None and spec_field.name in files and "InputFile" in spec_field.types:
            return files[spec_field.name]
        if value == "" and "String" not in spec_field.types:
            return None
        return value

    # -- top level -------------------------------------------------------------------------

    def _coerce_top(
        self, spec_field: FieldSpec, value: Any, files: Mapping[str, UploadedFile]
    ) -> Any:
        if isinstance(value, UploadedFile):
            return value
        if isinstance(value, str) and value.startswith(ATTACH_PREFIX):
            if "InputFile" in spec_field.types:
                name = value[len(ATTACH_PREFIX) :]
                if name not in files:
                    raise bad_request(f'file "{name}" referenced by {spec_field.name} not found')
                return files[name]
        failures: list[_Invalid] = []
        for type_expr in spec_field.types:
            try:
                return self._coerce_one_top(spec_field.name, value, type_expr)
            except _Invalid as exc:
                failures.append(exc)
        raise self._top_error(spec_field, value, failures)

    def _coerce_one_top(self, name: str, value: Any, type_expr: str) -> Any:
        scalar = _coerce_scalar(value, type_expr, lenient=True)
        if scalar is not _NO_MATCH:
            return scalar
        if type_expr in _JSON_NAMES:
            raise _Invalid("", f"must be of type {type_expr}")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise _Invalid("", f"can't parse {name} JSON object") from None
        return self._check_value(value, (type_expr,), owner="", field_name=name)

    def _top_error(self, spec_field: FieldSpec, value: Any, failures: list[_Invalid]) -> ApiError:
        nested = [f for f in failures if f.context]
        if nested:
            best = nested[0]
            return bad_request(f"can't parse {_human(best.context)}: {best.message}")
        json_failure = next((f for f in failures if "JSON" in f.message), None)
        if json_failure is not None and not any(t in _JSON_NAMES for t in spec_field.types):
            return bad_request(json_failure.message)
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(shown) > 40:
            shown = shown[:40] + "..."
        return bad_request(
            f'parameter "{spec_field.name}" must be of type '
            f'{_type_label(spec_field.types)}, got "{shown}"'
        )

    # -- nested values ---------------------------------------------------------------------

    def _check_value(self, value: Any, types: tuple[str, ...], owner: str, field_name: str) -> Any:
        failures: list[tuple[int, _Invalid]] = []
        for type_expr in types:
            try:
                return self._check_one(value, type_expr, owner, field_name)
            except _Invalid as exc:
                failures.append((self._match_score(value, type_expr), exc))
        failures.sort(key=lambda item: -item[0])
        raise failures[0][1]

    def _check_one(self, value: Any, type_expr: str, owner: str, field_name: str) -> Any:
        if type_expr.startswith(ARRAY_PREFIX):
            if not isinstance(value, list):
                raise _Invalid(owner, f'Field "{field_name}" must be of type Array')
            inner = type_expr[len(ARRAY_PREFIX) :]
            return [self._check_value(item, (inner,), owner, field_name) for item in value]
        if type_expr in _JSON_NAMES:
            if type_expr == "InputFile" and isinstance(value, str):
                return self._attached(value, owner, field_name)
            if type_expr == "String" and isinstance(value, str) and value.startswith(ATTACH_PREFIX):
                # InputMedia*.media is typed String in the spec but may name an upload.
                return self._attached(value, owner, field_name)
            scalar = _coerce_scalar(value, type_expr, lenient=False)
            if scalar is _NO_MATCH:
                raise _Invalid(
                    owner, f'Field "{field_name}" must be of type {_JSON_NAMES[type_expr]}'
                )
            return scalar
        if type_expr in _STRING_SHORTHANDS and isinstance(value, str):
            return value
        type_spec = self.spec.type(type_expr)
        if type_spec is None:
            return value
        if not isinstance(value, dict):
            if owner:
                raise _Invalid(owner, f'Field "{field_name}" must be of type Object')
            raise _Invalid(type_expr, f"{type_expr} should be an Object")
        return self._check_object(value, type_spec)

    def _attached(self, value: str, owner: str, field_name: str) -> Any:
        """An ``attach://name`` reference inside an object becomes the uploaded file."""
        if not value.startswith(ATTACH_PREFIX):
            raise _Invalid(owner, f'Field "{field_name}" must be of type InputFile')
        name = value[len(ATTACH_PREFIX) :]
        if name not in self._files:
            raise _Invalid(owner, f'file "{name}" referenced by field "{field_name}" not found')
        return self._files[name]

    def _check_object(self, value: dict[str, Any], type_spec: TypeSpec) -> dict[str, Any]:
        if type_spec.subtypes:
            return self._check_abstract(value, type_spec)
        checked = dict(value)
        for spec_field in type_spec.fields:
            if spec_field.name not in value:
                if spec_field.required:
                    raise _Invalid(type_spec.name, f'Can\'t find field "{spec_field.name}"')
                continue
            checked[spec_field.name] = self._check_value(
                value[spec_field.name], spec_field.types, type_spec.name, spec_field.name
            )
        return checked

    def _check_abstract(self, value: dict[str, Any], type_spec: TypeSpec) -> dict[str, Any]:
        concrete = [t for t in (self.spec.type(s) for s in type_spec.subtypes) if t is not None]
        for candidate in concrete:
            if candidate.discriminator is None:
                continue
            key, expected = candidate.discriminator
            if value.get(key) == expected:
                return self._check_object(value, candidate)
        keys = {c.discriminator[0] for c in concrete if c.discriminator}
        if keys:
            key = sorted(keys)[0]
            allowed = ", ".join(c.discriminator[1] for c in concrete if c.discriminator)
            if key not in value:
                raise _Invalid(type_spec.name, f'Can\'t find field "{key}"')
            raise _Invalid(
                type_spec.name, f'Field "{key}" has unsupported value, expected one of: {allowed}'
            )
        failures: list[_Invalid] = []
        for candidate in concrete:
            try:
                return self._check_object(value, candidate)
            except _Invalid as exc:
                failures.append(exc)
        if failures:
            raise failures[0]
        return value

    def _match_score(self, value: Any, type_expr: str) -> int:
        """How well ``value`` resembles ``type_expr``; picks the error to report for unions."""
        type_spec = self.spec.type(type_expr)
        if type_spec is None or not isinstance(value, dict):
            return 0
        return sum(1 for f in type_spec.required_fields if f.name in value)


class _NoMatch:
    pass


_NO_MATCH: Any = _NoMatch()


def _coerce_scalar(value: Any, type_expr: str, *, lenient: bool) -> Any:
    """``value`` as ``type_expr`` if it is a scalar type and fits, else ``_NO_MATCH``.

    ``lenient`` (top-level parameters) also accepts the string forms used by form bodies.
    """
    if type_expr == "Integer":
        if isinstance(value, bool):
            return _NO_MATCH
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if lenient and isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value)
        return _NO_MATCH
    if type_expr == "Float":
        if isinstance(value, bool):
            return _NO_MATCH
        if isinstance(value, int | float):
            return float(value)
        if lenient and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return _NO_MATCH
            return number if math.isfinite(number) else _NO_MATCH
        return _NO_MATCH
    if type_expr == "Boolean":
        if isinstance(value, bool):
            return value
        if lenient and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
        if lenient and isinstance(value, int) and value in (0, 1):
            return bool(value)
        return _NO_MATCH
    if type_expr == "String":
        if isinstance(value, str):
            return value
        if lenient and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return _NO_MATCH
    if type_expr == "InputFile":
        return value if isinstance(value, UploadedFile) else _NO_MATCH
    return _NO_MATCH
