"""aghmem: a local memory daemon for coding agents.

The core is usable without the server::

    from aghmem import MemoryService, load_config
    service = MemoryService(load_config(home="/tmp/mem"))
    service.start()
    service.write_memory({"type": "user", "name": "Prefers tabs", "content": "Uses tabs."})
"""

__version__ = "0.1.0"

from .config import Config, load_config  # noqa: E402
from .service.service import MemoryService  # noqa: E402

__all__ = ["Config", "MemoryService", "load_config", "__version__"]
