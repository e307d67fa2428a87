"""Configuration: defaults, overlay, environment, and loud errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aghmem.config import load_config, parse_duration
from aghmem.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_follow_the_design(tmp_path: Path) -> None:
    config = load_config(home=tmp_path, env={})
    assert (config.server.host, config.server.port) == ("127.0.0.1", 7377)
    assert config.recall.weights.bm25_unicode == 0.55
    assert config.dream.check_interval == "30m"
    assert (config.file.max_lines, config.file.max_bytes) == (200, 25_600)
    assert config.controller.default_op_on_fail == "noop"


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = 9000\ntoken = "from-file"\n[recall.weights]\nrecency = 0.3\n')
    config = load_config(path, home=tmp_path, env={"AGHMEM_PORT": "9100", "AGHMEM_TOKEN": "from-env"})
    assert config.server.port == 9100
    assert config.server.token == "from-env"
    assert config.recall.weights.recency == 0.3
    assert config.to_dict()["server"]["token"] == "********"


def test_home_config_is_found_by_default(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[file]\nmax_lines = 50\n")
    assert load_config(env={"AGHMEM_HOME": str(tmp_path)}).file.max_lines == 50


@pytest.mark.parametrize(
    "text, message",
    [
        ("[server]\nprot = 1\n", "unknown config key: server.prot"),
        ("[memory]\nx = 1\n", "unknown config key: memory"),
        ('[server]\nport = "x"\n', "server.port must be int"),
        ('[dream]\ncheck_interval = "soon"\n', "dream.check_interval"),
        ('[controller]\nmode = "magic"\n', "controller.mode"),
        ("not toml = = 1", "not valid TOML"),
        ('[privacy_policy]\nredact_patterns = ["("]\n', "bad pattern"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, home=tmp_path, env={})


def test_example_config_lists_every_key_with_its_default(tmp_path: Path) -> None:
    # The example must load, and loading it must change nothing.
    example = load_config(ROOT / "config.toml.example", home=tmp_path, env={})
    default = load_config(home=tmp_path, env={})
    assert example.to_dict() == default.to_dict()
    text = (ROOT / "config.toml.example").read_text()

    def keys(data: dict, prefix: str = "") -> list[str]:
        out = []
        for key, value in data.items():
            if isinstance(value, dict):
                out += keys(value, f"{prefix}{key}.")
            else:
                out.append(f"{prefix}{key}")
        return out

    import tomllib

    listed = set(keys(tomllib.loads(text)))
    expected = set(keys({k: v for k, v in default.to_dict(mask_secrets=False).items() if k != "global_dir"}))
    assert expected - listed == set(), "config.toml.example misses keys"


def test_durations() -> None:
    assert parse_duration("30m") == 1800
    assert parse_duration("500ms") == 0.5
    with pytest.raises(ConfigError):
        parse_duration("5 minutes")
