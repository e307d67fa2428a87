"""The MCP face: the daemon's own MCP server, at /mcp on its port.

endpoint.py is what the app mounts (it builds the server on first use);
server.py builds it with the SDK; surface.py holds the tools, resources and
prompts a model sees; tools.py what each tool does; render.py the text it
answers; connection.py where a connection works; bridge.py the stdio
bridge of `aghmem mcp --stdio` (which needs none of the others). Nothing is imported here:
the SDK costs about a second of start-up, paid only by endpoint.py's
warm-up.
"""
