"""Cloudflare Agent Memory (COMPAT.md §1) over aghmem's own files:
namespaces are synthetic workspaces, profiles agent scopes in them, and
memories ordinary memory files the controller decides. classify.py (the
offline classifier, summary line, type maps) and answer.py (the extractive
answer) are pure functions; the service calls them."""
