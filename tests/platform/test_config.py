"""Configuration: defaults < TOML file < environment; unknown keys and bad values are errors."""

from __future__ import annotations

import pytest
from xiaodian.platform.config import ConfigError, load_config

pytestmark = pytest.mark.backend_independent  # configuration loading


def test_defaults() -> None:
    config = load_config(None, environ={})
    assert (config.server.host, config.server.port, config.server.data_dir) == ("127.0.0.1", 50051, "./xiaodian-data")


def test_file_then_environment(tmp_path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('[server]\nport = 6000\nlog_format = "json"\n[search.default_profile]\nbrand_multiplier = 3\n')
    config = load_config(path, environ={"XIAODIAN_SERVER_PORT": "7000"})
    assert config.server.port == 7000
    assert config.server.log_format == "json"
    assert config.search.default_profile == {"brand_multiplier": 3}


def test_config_file_from_environment(tmp_path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[server]\nmax_workers = 4\n")
    assert load_config(None, environ={"XIAODIAN_CONFIG": str(path)}).server.max_workers == 4


@pytest.mark.parametrize(
    "text",
    [
        "[server]\nprot = 1\n",
        "[nope]\nx = 1\n",
        '[server]\nport = "many"\n',
        "[server]\nport = 70000\n",
        "[search.default_profile]\nbrand_multiplier = -1\n",
        '[search.default_profile]\nname = "other"\n',
        "[server\n",
    ],
)
def test_bad_files_are_refused(tmp_path, text: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_config(path, environ={})


def test_bad_environment_value_is_refused() -> None:
    with pytest.raises(ConfigError):
        load_config(None, environ={"XIAODIAN_SERVER_PORT": "fifty"})
