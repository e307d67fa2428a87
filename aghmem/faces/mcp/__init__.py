"""The MCP face: the daemon's own MCP server, at /mcp on its port.

`create_mcp(service, allowlist)` builds it for one app (server.py); the
tools, resources and prompts a model sees are in surface.py, what each tool
does in tools.py, the text it answers in render.py, and where a connection
works in connection.py.
"""

from .server import INSTRUCTIONS, McpFace, create_mcp

__all__ = ["INSTRUCTIONS", "McpFace", "create_mcp"]
