"""Configuration: YAML, ${VAR}, FLEETMON_* overrides and exact validation messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetmon_agent.collectors import REGISTRY
from fleetmon_agent.collectors.net import NetOptions
from fleetmon_agent.collectors.procstat import ProcstatOptions
from fleetmon_agent.config import SECTIONS, ConfigError, build, env_settings, load
from fleetmon_agent.example import example_yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "collector" / "agent.example.yaml"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")}
    return {**env, **extra}


def errors_of(raw: dict[str, object], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        build(raw, env or {}, "<test>")
    return info.value.errors


def test_defaults_match_the_issue() -> None:
    c = build({}, {}, "<test>")
    intervals = {n: cc.interval for n, cc in c.collectors.items()}
    for name in ("cpu", "mem", "swap", "net", "diskio", "system"):
        assert intervals[name] == 5.0
    assert intervals["disk"] == 30.0
    assert intervals["processes"] == intervals["procstat"] == 15.0
    assert c.spool.max_bytes == 100_000_000
    assert c.spool.max_age == 86400.0
    assert c.limits.as_dict() == {
        "cpu_percent": 2.0,
        "rss_mb": 50.0,
        "check_interval": 60.0,
        "action": "log",
    }
    # Not node_exporter's 9100: both may run on one host.
    assert c.exporter.as_dict() == {"enabled": False, "address": "127.0.0.1", "port": 19100}
    assert c.server.insecure is False
    assert c.state_file == "/var/lib/fleetmon-agent/state.json"


def test_the_example_file_is_generated_from_the_declarations() -> None:
    assert EXAMPLE.read_text() == example_yaml(), (
        "collector/agent.example.yaml is stale: "
        "uv run fleetmon-agent example-config > collector/agent.example.yaml"
    )
    c, defaults = load(str(EXAMPLE), {}), build({}, {}, "<test>")
    assert c.server.url == "https://fleetmon.example.com"  # the one key without a default
    c.server.url = ""
    for section in SECTIONS:
        assert getattr(c, section) == getattr(defaults, section), section
    assert c.collectors == defaults.collectors
    for section, options in SECTIONS.items():
        for key, opt in options.declared().items():
            assert f"  {key}: {opt.shown()}" in EXAMPLE.read_text(), f"{section}.{key}"


def test_example_config_command_prints_it_without_a_config(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("server: [")
    out = subprocess.run(
        [sys.executable, "-m", "fleetmon_agent", "-c", str(broken), "example-config"],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_env(),
    ).stdout
    assert out == example_yaml()


def test_yaml_substitution_and_env_overrides(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "server:\n  url: ${URL}\n  api_key: ${KEY:-fallback}\n"
        "collectors:\n  cpu:\n    interval: 10s\n  procstat:\n    top_n: 3\n"
    )
    env = {
        "URL": "http://metrics.local:8000/",
        "FLEETMON_SPOOL_DIR": "/srv/spool",
        "FLEETMON_COLLECTORS_CPU_INTERVAL": "2",
        "FLEETMON_COLLECTORS_NET_IGNORE_INTERFACES": "lo,docker*",
        "FLEETMON_SPOOL_MAX_BYTES": "1GiB",
        "FLEETMON_AGENT_CONFIG": str(path),  # the file's path: known, sets nothing here
    }
    c = load(str(path), env)
    assert c.server.url == "http://metrics.local:8000"
    assert c.server.api_key == "fallback"
    assert c.spool.dir == "/srv/spool"
    assert c.spool.max_bytes == 1024**3
    assert c.collectors["cpu"].interval == 2.0
    top, nets = c.collectors["procstat"], c.collectors["net"]
    assert isinstance(top, ProcstatOptions)
    assert isinstance(nets, NetOptions)
    assert top.top_n == 3
    assert nets.ignore_interfaces == ["lo", "docker*"]
    assert c.state_file == "/srv/state.json"


def test_exact_error_messages() -> None:
    errs = errors_of(
        {
            "server": {"url": "ftp://x", "timeout": "soon", "api_key": ["secret"]},
            "spool": {"max_bytes": "lots", "colour": "red"},
            "limits": {"action": "explode"},
            "collectors": {"cpu": {"interval": 0.5}, "gpu": {}},
            "extra": {},
        }
    )
    assert errs == [
        "extra: unknown section (allowed: server, spool, batch, limits, exporter, log, collectors)",
        "server.url = 'ftp://x': must be an http:// or https:// URL",
        "server.timeout = 'soon': must be a duration between 0.1s and 300s (e.g. 5, 30s, 15m, 24h)",
        "server.api_key = ***: must be a string",
        "spool.max_bytes = 'lots': must be a size between 10000 and 1000000000000 bytes "
        "(e.g. 1048576, 100MB, 1GiB)",
        "spool.colour = 'red': unknown key (allowed: dir, max_bytes, max_age)",
        "limits.action = 'explode': must be one of: log, disable_collectors, stop",
        "collectors.gpu: unknown collector (known: cpu, system, mem, swap, kernel, disk, diskio, "
        "net, netstat, processes, procstat, sensors, agent)",
        "collectors.cpu.interval = 0.5: must be a duration between 1s and 86400s "
        "(e.g. 5, 30s, 15m, 24h)",
    ]


def test_env_override_errors_name_the_variable_key() -> None:
    errs = errors_of(
        {}, {"FLEETMON_COLLECTORS_CPU_INTERVAL": "fast", "FLEETMON_COLLECTORS_GPU_INTERVAL": "5"}
    )
    assert errs == [
        "FLEETMON_COLLECTORS_GPU_INTERVAL: not a setting of the agent "
        "(did you mean FLEETMON_COLLECTORS_CPU_INTERVAL?)",
        "collectors.cpu.interval = 'fast': must be a duration between 1s and 86400s "
        "(e.g. 5, 30s, 15m, 24h)",
    ]


def test_unknown_fleetmon_variables_are_refused_naming_the_closest_setting() -> None:
    errs = errors_of(
        {},
        {
            "FLEETMON_SERVER_ULR": "http://x",  # a typo would silently keep the default
            "FLEETMON_SPOOL_MAXBYTES": "1GB",
            "FLEETMON_DATABASE_URL": "sqlite://",  # the server's, in the agent's environment
            "FLEETMON_COLLECTORS_CPU_PER_CPU": "false",
            "FLEETMON_SERVER_API_KEY": "s3cret",  # known: fine
            "HOME": "/root",  # not ours at all
        },
    )
    assert errs == [
        "FLEETMON_COLLECTORS_CPU_PER_CPU: not a setting of the agent "
        "(did you mean FLEETMON_COLLECTORS_CPU_PERCPU?)",
        "FLEETMON_DATABASE_URL: not a setting of the agent (did you mean FLEETMON_SERVER_URL?)",
        "FLEETMON_SERVER_ULR: not a setting of the agent (did you mean FLEETMON_SERVER_URL?)",
        "FLEETMON_SPOOL_MAXBYTES: not a setting of the agent "
        "(did you mean FLEETMON_SPOOL_MAX_BYTES?)",
    ]
    assert "s3cret" not in "\n".join(errs)


def test_variables_the_file_substitutes_are_not_unknown(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("server:\n  api_key: ${FLEETMON_TOKEN}\n")
    c = load(str(path), {"FLEETMON_TOKEN": "from-env", "FLEETMON_AGENT_CONFIG": str(path)})
    assert c.server.api_key == "from-env"
    with pytest.raises(ConfigError) as info:
        load(None, {"FLEETMON_TOKEN": "from-env", "FLEETMON_SPOOL_DIR": str(tmp_path)})
    assert info.value.errors == [
        "FLEETMON_TOKEN: not a setting of the agent (did you mean FLEETMON_LOG_LEVEL?)"
    ]


def test_every_setting_has_its_variable() -> None:
    names = env_settings()
    assert names["FLEETMON_SERVER_URL"] == ("server", "url")
    assert names["FLEETMON_SERVER_API_KEY"] == ("server", "api_key")
    assert names["FLEETMON_COLLECTORS_NET_IGNORE_INTERFACES"] == (
        "collectors",
        "net",
        "ignore_interfaces",
    )
    assert len(names) == sum(len(o.declared()) for o in SECTIONS.values()) + sum(
        len(s.options.declared()) for s in REGISTRY
    )


def test_unset_variable_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("server:\n  api_key: ${NOPE}\n")
    with pytest.raises(ConfigError) as info:
        load(str(path), {})
    assert info.value.errors == ["${NOPE}: environment variable is not set (use ${NOPE:-default})"]


def test_check_config_command_reports_errors_and_never_the_key(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("server:\n  url: http://x\n  api_key: s3cret-key\nbatch:\n  max_points: 0\n")
    run = [sys.executable, "-m", "fleetmon_agent", "-c", str(path), "check-config"]
    bad = subprocess.run(run, capture_output=True, text=True, check=False, env=_clean_env())
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "config error: batch.max_points = 0: must be an integer between 1 and 1000000"
    )
    path.write_text(f"server:\n  url: http://x\n  api_key: s3cret-key\nspool:\n  dir: {tmp_path}\n")
    good = subprocess.run(run, capture_output=True, text=True, check=False, env=_clean_env())
    assert good.returncode == 0, good.stderr
    assert "config OK" in good.stdout
    assert "api key: set" in good.stdout
    assert "s3cret" not in good.stdout + good.stderr


def test_check_config_refuses_an_unknown_variable_in_one_line(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "fleetmon_agent", "check-config"]
    env = _clean_env(FLEETMON_SPOOL_DIR=str(tmp_path), FLEETMON_SERVER_URI="http://x")
    bad = subprocess.run(run, capture_output=True, text=True, check=False, env=env)
    assert bad.returncode == 2
    assert bad.stderr == (
        "config error: FLEETMON_SERVER_URI: not a setting of the agent "
        "(did you mean FLEETMON_SERVER_URL?)\n"
    )


def test_server_url_is_checked_whole() -> None:
    """A prefix check let "https://x" followed by a newline or a space through."""
    for bad in ("https://fleetmon.test\n", "https://fleetmon.test/a b"):
        assert errors_of({"server": {"url": bad}}) == [
            f"server.url = {bad!r}: must be an http:// or https:// URL"
        ]
    good = build({"server": {"url": "https://fleetmon.test:8443/base/"}}, {}, "<test>")
    assert good.server.url == "https://fleetmon.test:8443/base"
