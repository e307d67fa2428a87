"""What each JSON payload is made of, declared once.

A `Body` is a set of named `Field`s. It checks a request body (unknown
fields, types, limits: a ValidationError naming the field) and describes
itself as JSON Schema for /openapi.json, so the document and the parser
cannot disagree. The payload functions beside this module check a body
against its declaration first, then do what a schema cannot say (a
selector's rules, a name the controller must infer).

Text is checked the way JSON Schema reads it: "blank" is ECMAScript's
whitespace (what a `\\S` in a schema pattern means), a single line has no
CR or LF, and no text holds a NUL byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from ....errors import ValidationError

# ECMAScript's \s, spelled out so Python and a schema validator agree.
WHITESPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_BLANK = re.compile(f"[{WHITESPACE}]*")
NOT_BLANK = f"[^{WHITESPACE}]"  # a schema pattern: some character is not whitespace
ONE_LINE = "^[^\\u0000\\n\\r]*$"

# Integers SQLite (and so every stored count and sequence) can hold.
MAX_INT = 2**63 - 1

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "array": (list,),
    "object": (dict,),
}


def is_blank(text: str) -> bool:
    return _BLANK.fullmatch(text) is not None


@dataclass(frozen=True)
class Field:
    """One value of a payload. `None` (JSON null) always means "not given"."""

    type: str | tuple[str, ...]  # JSON type(s): string, boolean, integer, number, array, object; "any"
    description: str = ""
    required: bool = False
    missing: str | None = None  # the refusal's message when a required value is absent
    max_length: int | None = None
    min_length: int | None = None
    one_line: bool = False
    not_blank: bool = False
    pattern: str | None = None  # fully matched (a schema gets it anchored)
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    items: Field | None = None
    max_items: int | None = None
    min_items: int | None = None
    body: Body | None = None  # the fields of a nested object
    hint: str | None = None  # the refusal's message for a value of the right type, when a generic one says less
    empty_absent: bool = False  # "" means "not given" too (selector fields, as in a query string)
    # Checks the value instead of `pattern` (which still documents it), for a
    # rule with its own message elsewhere (a filename, a session id).
    checker: Callable[[Any, str], Any] | None = None
    format: str | None = None  # a JSON Schema format (date-time); `checker` holds it to it
    example: Any = None  # a value as /openapi.json shows it

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.type if isinstance(self.type, tuple) else (self.type,)

    def check(self, value: Any, name: str) -> Any:
        if self.type != "any" and not any(_is_json_type(value, kind) for kind in self.kinds):
            raise ValidationError(f"{name} must be {' or '.join(_a(kind) for kind in self.kinds)}", field=name)
        if isinstance(value, str):
            self._check_text(value, name)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
                self._refuse(name, f"{name} must be a number from {_num(self.minimum)} to {_num(self.maximum)}")
        if self.enum is not None and value not in self.enum:
            self._refuse(name, f"{name} must be one of: {', '.join(map(str, self.enum))}")
        if isinstance(value, list):
            self._check_items(value, name)
        if isinstance(value, dict) and self.body is not None:
            self.body.check(value, prefix=f"{name}.")
        return value

    def _check_text(self, value: str, name: str) -> None:
        if self.max_length is not None and len(value) > self.max_length:
            self._refuse(name, f"{name} is longer than {self.max_length} characters")
        if self.min_length is not None and len(value) < self.min_length:
            self._refuse(name, f"{name} must hold at least {self.min_length} character(s)")
        if "\x00" in value:
            raise ValidationError(f"{name} contains a NUL byte", field=name)
        if self.one_line and ("\n" in value or "\r" in value):
            self._refuse(name, f"{name} must be a single line")
        if self.not_blank and is_blank(value):
            self._refuse(name, f"{name} must not be blank")
        if self.checker is not None:
            self.checker(value, name)
        elif self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            self._refuse(name, f"{name} is not in the expected form")

    def _check_items(self, value: list[Any], name: str) -> None:
        if self.max_items is not None and len(value) > self.max_items:
            self._refuse(name, f"{name} holds more than {self.max_items} items")
        if self.min_items is not None and len(value) < self.min_items:
            self._refuse(name, f"{name} needs at least {self.min_items} item(s)")
        if self.items is not None:
            for index, item in enumerate(value):
                if item is None:
                    self._refuse(name, f"{name}[{index}] must not be null")
                self.items.check(item, f"{name}[{index}]")

    def _refuse(self, name: str, message: str) -> None:
        raise ValidationError(self.hint or message, field=name)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.type == "any" else {"type": self.type if isinstance(self.type, str) else list(self.type)}
        if self.description:
            out["description"] = self.description
        if "string" in self.kinds:
            out.update(_text_schema(self))
        if self.enum is not None:
            out["enum"] = list(self.enum)
        out.update({k: v for k, v in (("minimum", self.minimum), ("maximum", self.maximum)) if v is not None})
        if self.items is not None:
            out["items"] = self.items.schema()
        out.update({k: v for k, v in (("maxItems", self.max_items), ("minItems", self.min_items)) if v is not None})
        if self.body is not None:
            out.update(self.body.schema())
        return out

    def but(self, **changes: Any) -> Field:
        """This field with some settings changed (required, a hint…)."""
        return replace(self, **changes)


def _text_schema(spec: Field) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.format is not None:
        out["format"] = spec.format
    if spec.max_length is not None:
        out["maxLength"] = spec.max_length
    if spec.min_length is not None:
        out["minLength"] = spec.min_length
    # One pattern at most (each more is a filter on what a generator draws):
    # the field's own, else single-line, else not blank. A NUL byte, refused
    # in any text, is left to the description.
    if spec.enum is not None:  # an enum says it all
        return out
    if spec.pattern is not None:
        out["pattern"] = f"^(?:{spec.pattern})$"
    elif spec.one_line:
        out["pattern"] = ONE_LINE
    elif spec.not_blank:
        out["pattern"] = NOT_BLANK
    return out


@dataclass(frozen=True)
class Body:
    """A JSON object's fields; any other key is refused (unless `open`)."""

    fields: Mapping[str, Field] = field(default_factory=dict)
    open: bool = False
    description: str = ""
    any_of_required: tuple[str, ...] = ()  # at least one of these must hold a value
    example: Mapping[str, Any] | None = None  # a body as /openapi.json shows it

    def check(self, raw: Mapping[str, Any], *, prefix: str = "") -> Mapping[str, Any]:
        """`raw` itself, once every field holds what its declaration says."""
        if not self.open:
            unknown = sorted(set(raw) - set(self.fields))
            if unknown:
                raise ValidationError(
                    f"unknown field(s): {', '.join(prefix + u for u in unknown)}", unknown=unknown, allowed=sorted(self.fields)
                )
        for name, spec in self.fields.items():
            value = raw.get(name)
            if value is None or (value == "" and spec.empty_absent):
                if spec.required:
                    raise ValidationError(spec.missing or f"{prefix}{name} is required", field=prefix + name)
                continue
            spec.check(value, prefix + name)
        if self.any_of_required and all(raw.get(name) is None for name in self.any_of_required):
            first = self.fields[self.any_of_required[0]]
            raise ValidationError(first.missing or first.hint or f"{prefix}{self.any_of_required[0]} is required", field=prefix + self.any_of_required[0])
        return raw

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {name: _nullable(spec) for name, spec in self.fields.items()},
            "additionalProperties": self.open,
        }
        required = [name for name, spec in self.fields.items() if spec.required]
        if required:
            out["required"] = required
        if self.any_of_required:
            # present and not null: a null stands for "not given"
            out["anyOf"] = [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in self.any_of_required
            ]
        if self.description:
            out["description"] = self.description
        return out

    def with_fields(self, **more: Field) -> Body:
        return replace(self, fields={**self.fields, **more})

    def without(self, *names: str) -> Body:
        return replace(self, fields={k: v for k, v in self.fields.items() if k not in names})


@dataclass(frozen=True)
class OneOfBody:
    """A body that is exactly one of several shapes, on a path two surfaces
    share (POST /api/memory: a native write, or a key-value one). Only
    described here: the route that reads it tells the shapes apart and each
    branch checks its own (a native Body, or the key-value rules)."""

    options: tuple[Mapping[str, Any], ...]
    example: Mapping[str, Any] | None = None

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "oneOf": [dict(option) for option in self.options]}


def _nullable(spec: Field) -> dict[str, Any]:
    """A field's schema where null stands for "not given" (it is accepted
    for an optional field; a required one must hold a value)."""
    schema = spec.schema()
    if spec.required or spec.type == "any":
        return schema
    absent: list[dict[str, Any]] = [{"type": "null"}] + ([{"const": ""}] if spec.empty_absent else [])
    return {"anyOf": [schema, *absent]}


def _is_json_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    return isinstance(value, _JSON_TYPES[kind])  # 2.0 is a number, not a count


def _a(kind: str) -> str:
    return {"integer": "a whole number", "array": "a list", "object": "an object", "boolean": "true or false"}.get(
        kind, f"a {kind}"
    )


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)
