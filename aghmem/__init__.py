"""aghmem: a local memory daemon for coding agents.

The core is usable without the server; it takes typed values::

    from aghmem import GLOBAL, Candidate, MemoryService, MemoryType, load_config
    service = MemoryService(load_config(home="/tmp/mem"))
    service.start()
    service.submit(Candidate(GLOBAL, "http", type=MemoryType.USER, name="Prefers tabs", body="Uses tabs."))

`Client` talks to a running daemon over HTTP instead.

The names below are imported on first use: `aghmem hook`, which a runtime
runs on every prompt, imports this package but none of the core (tantivy,
SQLite, httpx).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["GLOBAL", "Candidate", "Client", "Config", "MemoryService", "MemoryType", "Selector", "load_config", "__version__"]

if TYPE_CHECKING:
    from .config import Config, load_config
    from .controller.rules import Candidate
    from .faces.client import Client
    from .model import GLOBAL, MemoryType, Selector
    from .service.service import MemoryService


def __getattr__(name: str) -> Any:
    if name in ("Config", "load_config"):
        from . import config as module
    elif name == "Candidate":
        from .controller import rules as module
    elif name == "Client":
        from .faces import client as module
    elif name in ("GLOBAL", "MemoryType", "Selector"):
        from . import model as module
    elif name == "MemoryService":
        from .service import service as module
    else:
        raise AttributeError(f"module 'aghmem' has no attribute {name!r}")
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
