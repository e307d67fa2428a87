"""Cloudflare Agent Memory (COMPAT.md §1) over aghmem's own files:
namespaces are synthetic workspaces, profiles agent scopes in them, and
memories ordinary memory files the controller decides."""
