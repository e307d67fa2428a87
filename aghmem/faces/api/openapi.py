"""`/openapi.json`, built from the route table and each route's contract
(contract.py): request bodies from the payload declarations the parsers
check with, answers from answers.py, every status the route can answer.
Every route with a contract is described, and every route under /api/
(one without a contract as `x-undeclared`: it promises only JSON)."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from starlette.routing import BaseRoute, Route

from ... import __version__
from .answers import COMPONENTS, ref
from .contract import STATUS_TEXT, Contract, contract_of
from .payloads import Field

_PARAM_RE = re.compile(r"{(\w+)(?::\w+)?}")


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        # The API's routes; a page (include_in_schema=False: the web inspector's) or a
        # mounted app (MCP) is not part of it.
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        if contract_of(route.endpoint) is None and not route.path.startswith("/api/"):
            continue
        path = _PARAM_RE.sub(r"{\1}", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.1.0",
        "info": {"title": "aghmem", "version": __version__, "description": "Local memory daemon for coding agents."},
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(route: Route, method: str) -> dict[str, Any]:
    lines = (route.endpoint.__doc__ or route.name).strip().splitlines()
    operation: dict[str, Any] = {"operationId": route.name, "summary": lines[0]}
    description = " ".join(line.strip() for line in lines[1:] if line.strip())
    if description:
        operation["description"] = description
    declared = contract_of(route.endpoint)
    if declared is None:
        return _undeclared(route, operation)
    parameters = _parameters(route, declared)
    if parameters:
        operation["parameters"] = parameters
    if declared.body is not None:
        schema = declared.body.schema()
        content: dict[str, Any] = {"schema": schema}
        if declared.body.example is not None:
            content["example"] = declared.body.example
        operation["requestBody"] = {
            "required": bool(schema.get("required") or schema.get("anyOf") or schema.get("oneOf")),
            "content": {"application/json": content},
        }
    operation["responses"] = {str(code): _response(code, declared) for code in declared.statuses()}
    return operation


def _parameters(route: Route, declared: Contract) -> list[dict[str, Any]]:
    found = [
        _parameter(name, "path", declared.path.get(name) or Field("string"), required=True)
        for name in _PARAM_RE.findall(route.path)
    ]
    found += [_parameter(name, "query", spec) for name, spec in declared.query.items()]
    found += [_parameter(name, "header", spec) for name, spec in declared.headers.items()]
    return found


def _parameter(name: str, where: str, spec: Field, *, required: bool = False) -> dict[str, Any]:
    schema = spec.schema()
    if where == "query":
        schema = {"anyOf": [schema, {"const": ""}]}  # an empty query value is no value (`?limit=`)
    parameter: dict[str, Any] = {"name": name, "in": where, "required": required or spec.required, "schema": schema}
    if spec.description:
        parameter["description"] = spec.description
    if spec.example is not None:
        parameter["example"] = spec.example
    return parameter


def _response(code: int, declared: Contract) -> dict[str, Any]:
    text = STATUS_TEXT.get(code, "")
    if 200 <= code < 300:
        return {"description": text, "content": {declared.media_type: {"schema": dict(declared.answer)}}}
    schema = dict(declared.error_schema) if declared.error_schema is not None else ref("Error")
    response: dict[str, Any] = {"description": text, "content": {"application/json": {"schema": schema}}}
    if code in (429, 503):
        response["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}
    return response


def _undeclared(route: Route, operation: Mapping[str, Any]) -> dict[str, Any]:
    """A route without a contract: listed, promising only JSON."""
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in _PARAM_RE.findall(route.path)]
    return {
        **operation,
        **({"parameters": params} if params else {}),
        "x-undeclared": True,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
            "default": {"description": "Error envelope", "content": {"application/json": {"schema": ref("Error")}}},
        },
    }
