"""/openapi.json describes the API: every route declares its contract, request
bodies are typed with their limits, answers have their shapes, every status
is listed; and the document agrees with seed 004 (its routes, its example
requests, and every key of its example answers)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

import seed004
from aghmem.faces.api.answers import COMPONENTS
from aghmem.faces.api.openapi import openapi_document
from aghmem.faces.app import routes

DOCUMENT = openapi_document(routes())
OPERATIONS = [(path, method, op) for path, item in DOCUMENT["paths"].items() for method, op in item.items()]
SEED = seed004.routes()


def template(path: str) -> str:
    return re.sub(r"{\w+}", "{}", path)


def operation_for(route: seed004.SeedRoute) -> dict[str, Any]:
    [op] = [op for path, method, op in OPERATIONS if template(path) == template(route.template) and method == route.method.lower()]
    return op


def validator(schema: dict[str, Any], transform: Any = lambda s: s) -> jsonschema.Draft202012Validator:
    """A validator for one schema of the document (and the components its
    $refs name, both passed through `transform`)."""
    root = {**transform(schema), "components": {"schemas": transform(COMPONENTS)}}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def typed(schema: dict[str, Any]) -> bool:
    """Whether a property's schema says what type its value has."""
    return "type" in schema or "enum" in schema or any(typed(s) for s in schema.get("anyOf", []) if s != {"type": "null"})


def test_every_route_declares_its_contract() -> None:
    undeclared = [f"{m.upper()} {p}" for p, m, op in OPERATIONS if op.get("x-undeclared")]
    assert undeclared == [], "declare each with @contract (faces/api/contract.py)"
    assert len(OPERATIONS) >= 43


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_the_operation_is_described(path: str, method: str, op: dict[str, Any]) -> None:
    statuses = set(op["responses"])
    assert "default" not in statuses and {"401", "403"} <= statuses
    success = [code for code in statuses if code.startswith("2")]
    assert success
    for code in success:
        [(media, content)] = op["responses"][code]["content"].items()
        assert content["schema"] not in ({}, {"type": "object"})
    error = {"$ref": "#/components/schemas/Error"}
    for code in statuses - set(success):
        schema = op["responses"][code]["content"]["application/json"]["schema"]
        # The path shared with key-value memory (seed 003) answers its `{"error": …}` too.
        assert schema == error or (path == "/api/memory" and schema["anyOf"][0] == error)
    body = op.get("requestBody")
    if body is not None:
        schema = body["content"]["application/json"]["schema"]
        # POST /api/memory: a native write, or a key-value one (COMPAT §3.1), whose unknown fields are ignored.
        for branch in schema.get("oneOf", [schema]):
            open_body = path == "/api/hooks/{runtime}" or (path == "/api/memory" and "agentId" in branch["properties"])
            # Unknown fields are refused, but in what a runtime's hook sends (it adds fields each release).
            assert branch["type"] == "object" and branch["additionalProperties"] is open_body
            untyped = [name for name, prop in branch["properties"].items() if not typed(prop)]
            assert untyped == []
        assert {"400", "413", "415"} <= statuses
    for parameter in op.get("parameters", []):
        assert typed(parameter["schema"]), parameter


def test_limits_are_in_the_document() -> None:
    write = DOCUMENT["paths"]["/api/memory"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert write["required"] == ["type", "content"]
    name = write["properties"]["name"]["anyOf"][0]
    assert name["maxLength"] == 200 and name["type"] == "string"
    assert write["properties"]["type"]["enum"] == ["user", "feedback", "project", "reference"]
    prune = DOCUMENT["paths"]["/api/memory/sessions/prune"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert prune["properties"]["older_than_hours"]["minimum"] == 0 and prune["required"] == ["older_than_hours"]
    workspaces = DOCUMENT["paths"]["/api/workspaces"]["post"]["responses"]
    assert {"200", "201"} <= set(workspaces)
    assert DOCUMENT["paths"]["/healthz"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string", "enum": ["ok"]}}
    }


def test_every_seed_route_is_in_the_document() -> None:
    assert len(SEED) == 38
    for route in SEED:
        assert operation_for(route)


@pytest.mark.parametrize("route", [r for r in SEED if r.request is not None], ids=lambda r: r.key)
def test_the_seed_request_example_is_a_valid_body(route: seed004.SeedRoute) -> None:
    """Its fields and their types (its placeholder texts, "string", are not
    real filenames or provider names: patterns and enums are left out)."""
    body = operation_for(route)["requestBody"]["content"]["application/json"]["schema"]
    validator(body, without_value_rules).validate(route.request)


def without_value_rules(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: without_value_rules(v) for k, v in schema.items() if k not in ("pattern", "enum")}
    if isinstance(schema, list):
        return [without_value_rules(v) for v in schema]
    return schema


@pytest.mark.parametrize("route", SEED, ids=lambda r: r.key)
def test_the_declared_answer_requires_every_key_of_the_seed(route: seed004.SeedRoute) -> None:
    """Each key the seed's example shows is required where it is, and its
    example value has the declared type (the seed's placeholders, such as
    "string" for an enum, aside: patterns and enums are left out)."""
    op = operation_for(route)
    code = min(c for c in op["responses"] if c.startswith("2"))
    schema = op["responses"][code]["content"]["application/json"]["schema"]
    validator(schema, loose).validate(route.success)
    assert not_required(route.success, schema) == []


def loose(schema: Any) -> Any:
    """`schema` without the keywords a placeholder cannot meet, nor `required`
    (the daemon sends more than the seed shows)."""
    if isinstance(schema, dict):
        return {k: loose(v) for k, v in schema.items() if k not in ("pattern", "enum", "required")}
    if isinstance(schema, list):
        return [loose(v) for v in schema]
    return schema


def not_required(example: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Key paths of `example` the schema does not require."""
    schema = resolved(schema)
    if isinstance(example, dict) and set(example) != {"property1", "property2"}:
        required, properties = set(schema.get("required", [])), schema.get("properties", {})
        found = [f"{path}.{key}" for key in example if key not in required]
        for key, value in example.items():
            if key in properties:
                found += not_required(value, properties[key], f"{path}.{key}")
        return found
    if isinstance(example, list) and example and "items" in schema:
        return not_required(example[0], schema["items"], f"{path}[]")
    return []


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """One schema's object view: $ref followed, allOf merged, the non-null
    branch of a nullable anyOf."""
    if "$ref" in schema:
        return resolved(COMPONENTS[schema["$ref"].rsplit("/", 1)[1]])
    if "allOf" in schema:
        parts = [resolved(part) for part in schema["allOf"]]
        return {
            "required": [r for part in parts for r in part.get("required", [])],
            "properties": {k: v for part in parts for k, v in part.get("properties", {}).items()},
        }
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if len(options) > 1 and schema.get("x-shared-path"):
        return resolved(options[0])  # /api/memory: the native answer first, then key-value memory's (COMPAT §3.1)
    return resolved(options[0]) if len(options) == 1 else schema


def test_a_new_route_opts_in_with_a_contract() -> None:
    """How a route added later (hooks, resolve…) is described: it declares
    its body (a payloads.Body, which its handler checks with) and answer."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from aghmem.faces.api.answers import STR, obj
    from aghmem.faces.api.contract import contract
    from aghmem.faces.api.payloads import Body, Field

    HOOK = Body({"hook_event_name": Field("string", "The runtime's event", required=True, max_length=64)})

    @contract(answer=obj({"handled": STR}), body=HOOK, path={"runtime": Field("string", enum=("claude", "codex"))}, errors=(404,))
    async def hook(request: Any) -> JSONResponse:
        """Answer a runtime's lifecycle hook."""
        raise NotImplementedError

    async def page(request: Any) -> JSONResponse:
        raise NotImplementedError

    doc = openapi_document([Route("/api/hooks/{runtime}", hook, methods=["POST"]), Route("/", page), Route("/api/x", page)])
    op = doc["paths"]["/api/hooks/{runtime}"]["post"]
    assert op["summary"] == "Answer a runtime's lifecycle hook."
    assert op["requestBody"]["content"]["application/json"]["schema"]["required"] == ["hook_event_name"]
    assert op["parameters"][0]["schema"]["enum"] == ["claude", "codex"]
    assert set(op["responses"]) == {"200", "400", "401", "403", "404", "413", "415"}
    assert "/" not in doc["paths"] and doc["paths"]["/api/x"]["get"]["x-undeclared"] is True
