"""aghmem: a local memory daemon for coding agents.

The core is usable without the server; it takes typed values::

    from aghmem import GLOBAL, Candidate, MemoryService, MemoryType, load_config
    service = MemoryService(load_config(home="/tmp/mem"))
    service.start()
    service.submit(Candidate(GLOBAL, "http", type=MemoryType.USER, name="Prefers tabs", body="Uses tabs."))

`Client` talks to a running daemon over HTTP instead.
"""

__version__ = "0.1.0"

from .config import Config, load_config  # noqa: E402
from .controller.rules import Candidate  # noqa: E402
from .faces.client import Client  # noqa: E402
from .model import GLOBAL, MemoryType, Selector  # noqa: E402
from .service.service import MemoryService  # noqa: E402

__all__ = ["GLOBAL", "Candidate", "Client", "Config", "MemoryService", "MemoryType", "Selector", "load_config", "__version__"]
