"""The HTTP face of aghmem: Starlette routes over MemoryService."""

from .app import create_app

__all__ = ["create_app"]
