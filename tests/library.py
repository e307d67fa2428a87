"""MemoryService as a library, fed the native JSON shapes.

The service takes typed values; these helpers parse a JSON body the way the
HTTP face does (faces/api/payloads), so library tests read like requests.
"""

from __future__ import annotations

from typing import Any, Mapping

from aghmem.controller.controller import Outcome
from aghmem.faces.api.payloads import dream_trigger, search_request, write_candidate
from aghmem.service.service import MemoryService


def write(service: MemoryService, body: Mapping[str, Any]) -> Outcome:
    return service.submit(write_candidate(body))


def search(service: MemoryService, body: Mapping[str, Any]) -> dict[str, Any]:
    return service.search(search_request(body, service.config.recall))


def trigger(service: MemoryService, body: Mapping[str, Any]) -> dict[str, Any]:
    selector, force, dry_run = dream_trigger(body)
    return service.trigger_dream(selector, force=force, dry_run=dry_run)
