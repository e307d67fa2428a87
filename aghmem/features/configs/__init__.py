"""Memory configurations (seed 002, COMPAT §2): compozy's memory resources
kept as YAML files under HOME/compat/configs/<project>/<id>.yaml, written
through the controller, bound to scopes by `[compat.cfg.bindings]`, and
enforced where the daemon can act on them (bindings.py)."""
