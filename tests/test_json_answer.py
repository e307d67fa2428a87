"""The faces' JSON answer: orjson's bytes, the standard encoder's where orjson refuses."""

from __future__ import annotations

import json

from aghmem.faces.json_answer import JSONResponse


def test_same_bytes_as_the_standard_encoder() -> None:
    content = {"results": [{"name": "ünïcødé ✓ 日本語 🙂", "score": 0.123456, "none": None, "ok": True, "n": -(2**63)}], "": []}
    expected = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    assert JSONResponse(content).body == expected


def test_what_orjson_refuses_is_encoded_by_the_standard_encoder() -> None:
    assert JSONResponse({"big": 2**70, 3: "int key"}).body == b'{"big":1180591620717411303424,"3":"int key"}'
