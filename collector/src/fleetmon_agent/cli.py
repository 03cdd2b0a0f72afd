"""`fleetmon-agent run|once|enroll|check-config|spool|example-config`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING

from fleetmon_agent import __version__
from fleetmon_agent.config import DEFAULT_PATH, Config, ConfigError, load

if TYPE_CHECKING:
    from fleetmon_agent.agent import Agent

log = logging.getLogger("fleetmon_agent")


def _setup_logging(level: str) -> None:
    value = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(
        level=value, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger().setLevel(value)  # a reload may change it


def _api_key(config: Config) -> str:
    if config.server.api_key:
        return config.server.api_key
    from fleetmon_agent.state import read_state

    try:
        return str(read_state(config.state_file).get("api_key") or "")
    except (OSError, ValueError):
        return ""


def cmd_check_config(config: Config, args: argparse.Namespace) -> int:
    """Validate and summarise the configuration (never printing the key)."""
    enabled = [f"{n}/{c.interval:g}s" for n, c in config.collectors.items() if c.enabled]
    print(f"config OK ({config.source})")
    print(f"server.url: {config.server.url or '(not set)'}")
    print(f"api key: {'set' if _api_key(config) else 'NOT SET (run fleetmon-agent enroll)'}")
    print(f"spool.dir: {config.spool.dir}")
    print(f"collectors: {', '.join(enabled)}")
    if getattr(args, "online", False):
        from fleetmon_agent.online import check_online

        if not config.server.url:
            print("server: FAILED: server.url is not set (FLEETMON_SERVER_URL)")
            return 1
        return check_online(config, _api_key(config))
    return 0


def cmd_once(config: Config, args: argparse.Namespace) -> int:
    """Collect every enabled collector once and print the batch; send nothing."""
    from fleetmon_agent.agent import build_collectors
    from fleetmon_agent.collectors import Context
    from fleetmon_agent.drops import DropLedger
    from fleetmon_agent.sender import agent_state
    from fleetmon_agent.spool import new_batch_id
    from fleetmon_agent.stats import AgentStats

    ctx = Context(agent_stats=AgentStats())
    points: list[dict[str, object]] = []
    for running in build_collectors(config, ctx):
        try:
            points.extend(p.to_wire() for p in running.collector.collect(ctx.clock()))
        except Exception as exc:  # noqa: BLE001 - report and go on, as `run` does
            log.error("collector %s failed: %r", running.name, exc)
    body = {
        "batch_id": new_batch_id(),
        "agent": agent_state(DropLedger()),
        "points": points,
    }
    print(json.dumps(body, indent=2))
    return 0


def cmd_spool(config: Config, args: argparse.Namespace) -> int:
    """Print the spool's status as JSON (read-only)."""
    from fleetmon_agent.spool.files import spool_status

    print(json.dumps(spool_status(config.spool.dir), indent=2))
    return 0


def cmd_enroll(config: Config, args: argparse.Namespace) -> int:
    """Obtain a host key and store it in the state file."""
    from fleetmon_agent.enroll import EnrollError, enroll

    labels: dict[str, str] = {}
    for item in args.label or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"--label {item!r}: expected key=value", file=sys.stderr)
            return 2
        labels[key] = value
    server = args.server or config.server.url
    if not server:
        print("enroll: --server (or server.url) is required", file=sys.stderr)
        return 2
    token = args.token
    if args.token_stdin:
        # stdin, so the token shows neither in `ps` nor in the shell's history.
        token = sys.stdin.readline().strip()
    if not token:
        print("enroll: pass the token on stdin with --token-stdin (or --token)", file=sys.stderr)
        return 2
    verify: object = config.server.ca_bundle or True
    if config.server.insecure:
        verify = False
    try:
        host = enroll(server, token, config.state_file, args.name, labels, verify=verify)
    except (EnrollError, OSError) as exc:
        print(f"enroll failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"enrolled as {host['host']} (host id {host['host_id']}); key stored in {config.state_file}"
    )
    return 0


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    """Run the agent until SIGTERM/SIGINT; SIGHUP re-reads the configuration."""
    from fleetmon_agent.lean import import_requests

    # Before anything else imports it (see lean.py): plain HTTP needs no TLS at all.
    import_requests(tls=not config.server.url.lower().startswith("http://"))
    from fleetmon_agent.agent import Agent
    from fleetmon_agent.spool import SpoolError

    if not config.server.url:
        print(
            "config error: server.url = '': must be set (or FLEETMON_SERVER_URL)", file=sys.stderr
        )
        return 2
    key = _api_key(config)
    if not key:
        print(
            "no API key: set server.api_key (FLEETMON_SERVER_API_KEY) or run "
            f"`fleetmon-agent enroll` (state file {config.state_file})",
            file=sys.stderr,
        )
        return 2
    try:
        agent = Agent(config, key)
    except SpoolError as exc:
        print(f"startup error: {exc}", file=sys.stderr)
        return 2
    log.info(
        "fleetmon-agent %s sending to %s, spool %s",
        __version__,
        config.server.url,
        config.spool.dir,
    )
    while True:
        rc = agent.run()
        if not agent.reload_requested:
            return rc
        try:
            fresh = _reloaded(agent, args)
        except SpoolError as exc:
            log.error("reload failed: %s", exc)
            return 2
        if not _reload_pending(agent):  # SIGTERM while rebuilding: stop after all
            fresh.spool.close()
            return rc
        agent = fresh


def _reload_pending(agent: Agent) -> bool:
    """Whether the agent still wants a reload (a signal handler may have changed it)."""
    return agent.reload_requested


def _reloaded(agent: Agent, args: argparse.Namespace) -> Agent:
    """SIGHUP: the agent rebuilt from the re-read configuration, with its counters; the spool
    reopens with its backlog. A configuration that does not load keeps the running one."""
    from fleetmon_agent.agent import Agent
    from fleetmon_agent.spool import SpoolError

    config, key = agent.config, agent.api_key
    try:
        fresh = load(args.config)
        fresh_key = _api_key(fresh)
        if not fresh.server.url or not fresh_key:
            raise ConfigError(["server.url and an API key must stay set"])
    except ConfigError as exc:
        for line in exc.errors:
            log.error("reload: config error: %s; keeping the running configuration", line)
    else:
        config, key = fresh, fresh_key
        _setup_logging(config.log.level)
        log.info("reload: configuration re-read from %s", config.source)
    # The spool (closed by run()) reopens from disk with its backlog, as at a restart.
    try:
        return Agent(config, key, stats=agent.stats)
    except SpoolError as exc:
        if config is agent.config:
            raise
        log.error("reload: %s; keeping the running configuration", exc)
        return Agent(agent.config, agent.api_key, stats=agent.stats)


COMMANDS = {
    "run": cmd_run,
    "once": cmd_once,
    "enroll": cmd_enroll,
    "check-config": cmd_check_config,
    "spool": cmd_spool,
}


def parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(prog="fleetmon-agent", description="fleetmon agent")
    p.add_argument("--version", action="version", version=f"fleetmon-agent {__version__}")
    p.add_argument(
        "-c",
        "--config",
        help=f"YAML config (default {DEFAULT_PATH} if it exists; or $FLEETMON_AGENT_CONFIG)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="collect and send until stopped")
    sub.add_parser("once", help="print one batch as JSON; send nothing")
    check = sub.add_parser("check-config", help="validate the configuration")
    check.add_argument(
        "--online",
        action="store_true",
        help="also check the server: reachability, TLS, the API key and the clock",
    )
    sub.add_parser("spool", help="show the spool's status")
    sub.add_parser("example-config", help="print the documented default configuration")
    e = sub.add_parser("enroll", help="obtain this host's API key with an enrollment token")
    e.add_argument("--server", help="server URL (default: server.url)")
    token = e.add_mutually_exclusive_group(required=True)
    token.add_argument("--token-stdin", action="store_true", help="read the token from stdin")
    token.add_argument("--token", help="enrollment token (visible in `ps`: prefer --token-stdin)")
    e.add_argument("--name", help="host name (default: this machine's hostname)")
    e.add_argument("--label", action="append", metavar="K=V", help="host label (repeatable)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = parser().parse_args(argv)
    if args.command == "example-config":  # needs no (valid) configuration
        from fleetmon_agent.example import example_yaml

        sys.stdout.write(example_yaml())
        return 0
    try:
        config = load(args.config)
    except ConfigError as exc:
        for line in exc.errors:
            print(f"config error: {line}", file=sys.stderr)
        return 2
    _setup_logging(config.log.level)
    return COMMANDS[args.command](config, args)


if __name__ == "__main__":
    sys.exit(main())
