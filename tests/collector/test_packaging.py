"""The systemd unit and the install script."""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path

PACKAGING = Path(__file__).resolve().parents[2] / "collector" / "packaging"


def test_unit_runs_unprivileged_restarts_and_is_hardened() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(PACKAGING / "fleetmon-agent.service")
    svc = unit["Service"]
    assert svc["User"] == "fleetmon-agent"
    assert svc["Restart"] == "on-failure"
    # `systemctl reload` re-reads the configuration (SIGHUP); SIGTERM would stop the agent.
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert svc["ExecStart"].endswith("fleetmon-agent -c /etc/fleetmon/agent.yaml run")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "read-only",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/var/lib/fleetmon-agent",
    }.items():
        assert svc[key] == value, key
    assert svc["CapabilityBoundingSet"] == ""


def test_install_script_parses_and_documents_itself() -> None:
    script = PACKAGING / "install.sh"
    subprocess.run(["sh", "-n", str(script)], check=True)
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "install.sh --url URL [--token-stdin]" in out.stdout
    argv_token = subprocess.run(
        [str(script), "--url", "http://x", "--token", "t"], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert argv_token.returncode == 1
    assert "FLEETMON_ENROLL_TOKEN or --token-stdin" in argv_token.stderr
    bad = subprocess.run([str(script), "--bogus"], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "unknown argument: --bogus" in bad.stderr
