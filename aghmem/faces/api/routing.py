"""Routes with path parameters that leave alone the paths other routes own.

`GET /api/memory/dreams/trigger` is the trigger route's 405 (it takes POST),
not a 404 for a dream named "trigger"; `DELETE /api/memory/health` is the
health route's 405, not a bad filename. So a route with parameters does
not match a path that a route listed before it (with another template)
matches; `own_paths` tells each one which those are when the app is
assembled. The 405's Allow header then names what the path really takes.
"""

from __future__ import annotations

from typing import Sequence

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope


class ParamRoute(Route):
    others: Sequence[Route] = ()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and scope.get("type") == "http":
            path = scope["path"]
            if any(other.path_regex.match(path) for other in self.others):
                return Match.NONE, {}
        return match, child


def own_paths(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """`routes`, each ParamRoute told the routes before it (with another
    template) that own the paths they match. The memory item routes, last,
    so yield to every other route."""
    for index, route in enumerate(routes):
        if isinstance(route, ParamRoute):
            route.others = tuple(r for r in routes[:index] if isinstance(r, Route) and r.path != route.path)
    return list(routes)
