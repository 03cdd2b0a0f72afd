"""`fleetmon`: the server-side admin CLI (serve, up, migrate, users, tokens, hosts, keys)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_api import services
from fleetmon_api.errors import ApiError
from fleetmon_api.settings import PORT_VARIABLE, MissingSecretKey, Settings, load
from fleetmon_db import embedded, envcheck
from fleetmon_db import migrate as db_migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import Host, Role
from fleetmon_db.text import printable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What `fleetmon serve` workers are started from (uvicorn imports it in each process).
WORKER_APP = "fleetmon_api.app:app_from_environment"
WORKER_START_S = 60
DEFAULT_PORT = 8080


class CliError(Exception):
    """A mistake the operator can fix; printed as one line, exit status 1."""


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; every unknown or invalid one named, then exit 2."""
    try:
        return load(**overrides)
    except envcheck.UnknownVariable as exc:
        for problem in exc.problems:
            print(f"fleetmon: {problem}", file=sys.stderr)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            msg = str(err["msg"]).removeprefix("Value error, ")
            print(f"fleetmon: invalid setting {loc}: {msg}", file=sys.stderr)
    raise SystemExit(2)


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def _sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the metadata database, which must exist (only `migrate` creates it)."""
    path = _sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        where = (
            f"FLEETMON_DATA_DIR={settings.data_dir}"
            if "FLEETMON_DATA_DIR" in os.environ
            else f"FLEETMON_DATA_DIR is not set, so ./{embedded.DEFAULT_DATA_DIR} of the "
            f"current directory ({Path.cwd()}) was used"
        )
        raise CliError(
            f"no fleetmon database at {path} ({where}): set FLEETMON_DATA_DIR to the "
            "instance's data directory (`make run` prints the command line to use), or "
            "FLEETMON_DATABASE_URL to its database; `fleetmon migrate` creates a new one"
        )
    return make_sessionmaker(make_engine(settings.database_url))


def _database_error(exc: SQLAlchemyError, settings: Settings | None) -> str:
    """One line for a database failure: what, where (password hidden), and what to do."""
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    where = ""
    if settings is not None:
        where = " at " + make_url(settings.database_url).render_as_string(hide_password=True)
    hint = ""
    if "no such table" in cause or ("relation" in cause and "does not exist" in cause):
        hint = "; run `fleetmon migrate` first"
    return f"metadata database error{where}: {cause}{hint}"


def _warn_per_worker_state(settings: Settings, workers: int) -> None:
    """Warn about state that stays per worker when several serve without Redis."""
    if workers > 1 and not settings.redis_url:
        logging.getLogger("fleetmon_api").warning(
            "%d workers without FLEETMON_REDIS_URL: batch ids (idempotency) are remembered "
            "per worker%s",
            workers,
            " and rate limits count per worker"
            if settings.rate_limit_storage_url.startswith("memory://")
            else "",
        )


def listen_port(args: argparse.Namespace) -> int:
    """--port, else $FLEETMON_PORT, else 8080."""
    if args.port is not None:
        return int(args.port)
    raw = os.environ.get(PORT_VARIABLE, "")
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise CliError(f"{PORT_VARIABLE}={raw!r} is not a TCP port (1-65535)")
    return int(raw)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the API under uvicorn, in one process or `--workers` processes."""
    import uvicorn

    settings = load_settings()
    try:
        settings.signing_key()
    except MissingSecretKey as exc:
        raise CliError(str(exc)) from None
    if args.workers < 1:
        raise CliError(f"--workers {args.workers}: must be at least 1")
    _warn_per_worker_state(settings, args.workers)
    options = {
        "host": args.host,
        "port": listen_port(args),
        "log_level": args.log_level,
        "proxy_headers": args.proxy_headers,
        "timeout_keep_alive": settings.keep_alive_s,
        "ws": "none",
    }
    if args.workers == 1:
        from fleetmon_api.app import create_app

        uvicorn.run(create_app(settings, freeze_gc=True), **options)
    else:
        # Each worker imports the app and reads the same environment; uvicorn restarts a
        # worker that dies. Shared state goes through Redis (see docs/operations.md).
        uvicorn.run(
            WORKER_APP,
            factory=True,
            workers=args.workers,
            # A worker answers the supervisor's pings once it has imported everything, which
            # takes seconds on a busy machine: uvicorn's 5 s would kill it in a loop.
            timeout_worker_healthcheck=WORKER_START_S,
            **options,
        )
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    """Upgrade the metadata database to the newest schema (creating an embedded one)."""
    settings = load_settings()
    path = _sqlite_path(settings.database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    db_migrate.upgrade(settings.database_url)
    print("database is up to date", file=sys.stderr)
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    """Add a person; the password comes from stdin so it never shows in `ps` or history."""
    if not args.password_stdin:
        print("fleetmon: pass --password-stdin and the password on stdin", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\r\n")
    with _sessions(load_settings())() as db:
        services.create_user(db, args.name, password, Role(args.role))
    return 0


def cmd_create_enroll_token(args: argparse.Namespace) -> int:
    """Print a new enrollment token (and nothing else) on stdout."""
    labels: dict[str, str] = {}
    for item in args.label or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            print(f"fleetmon: --label {item!r} must be key=value", file=sys.stderr)
            return 2
        labels[k] = v
    with _sessions(load_settings())() as db:
        issued = services.create_enroll_token(
            db,
            datetime.now(UTC),
            description=args.description,
            max_uses=args.uses,
            expires_in_s=args.expires,
            labels=labels,
            created_by="cli",
        )
    print(issued.token)
    return 0


def _line(*columns: object) -> str:
    """Tab-separated columns; agents choose some of the text (version, labels), so control
    characters (terminal escapes, tabs, newlines) are shown as spaces."""
    return "\t".join(printable(c) for c in columns)


def cmd_list_hosts(_args: argparse.Namespace) -> int:
    """One line per host: name, status, last seen, agent version, labels."""
    settings = load_settings()
    now = datetime.now(UTC)
    with _sessions(settings)() as db:
        for h in db.scalars(select(Host).order_by(Host.name)):
            status = services.host_status(
                h.last_seen, now, settings.stale_after_s, settings.down_after_s
            )
            seen = h.last_seen.isoformat() if h.last_seen else "never"
            labels = ",".join(f"{k}={v}" for k, v in sorted((h.labels or {}).items()))
            print(_line(h.name, status, seen, h.agent_version or "-", labels or "-"))
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Print a new API key for a host; old keys keep working for --overlap seconds."""
    with _sessions(load_settings())() as db:
        host = services.get_host(db, args.name)
        print(services.rotate_key(db, host, datetime.now(UTC), args.overlap))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Everything embedded: migrate, admin user, API, alert worker, a local agent."""
    from fleetmon_api.up import run_up

    return run_up(port=listen_port(args), host=args.host)


def cmd_agent_dist(args: argparse.Namespace) -> int:
    """Show where the agent distribution served at /install.sh is, and whether it is there."""
    from fleetmon_api.agentdist import describe

    settings = load_settings()
    assert settings.agent_dist_dir is not None  # filled in by the settings
    text, ok = describe(settings.agent_dist_dir)
    print(text)
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(prog="fleetmon", description="fleetmon server administration")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the API server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=None, help="default $FLEETMON_PORT or 8080")
    s.add_argument("--log-level", default="info")
    s.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-For")
    s.add_argument(
        "--workers", type=int, default=1, help="worker processes (share state via Redis)"
    )
    s.set_defaults(func=cmd_serve)

    u = sub.add_parser("up", help="run the whole system embedded (SQLite) for a laptop")
    u.add_argument("--host", default="127.0.0.1")
    u.add_argument("--port", type=int, default=None, help="default $FLEETMON_PORT or 8080")
    u.set_defaults(func=cmd_up)

    a = sub.add_parser("agent-dist", help="check the agent distribution served to installers")
    a.set_defaults(func=cmd_agent_dist)

    m = sub.add_parser("migrate", help="upgrade the metadata database")
    m.set_defaults(func=cmd_migrate)

    c = sub.add_parser("create-user", help="add a person (password on stdin)")
    c.add_argument("name")
    c.add_argument("--role", choices=[r.value for r in Role], default=Role.VIEWER.value)
    c.add_argument("--password-stdin", action="store_true")
    c.set_defaults(func=cmd_create_user)

    t = sub.add_parser("create-enroll-token", help="print a new enrollment token")
    t.add_argument("--uses", type=int, default=None, help="how many hosts may use it")
    t.add_argument("--expires", type=int, default=86400, help="lifetime in seconds")
    t.add_argument("--label", action="append", help="label k=v given to enrolled hosts")
    t.add_argument("--description", default="")
    t.set_defaults(func=cmd_create_enroll_token)

    h = sub.add_parser("list-hosts", help="list hosts with status")
    h.set_defaults(func=cmd_list_hosts)

    r = sub.add_parser("rotate-key", help="print a new API key for a host")
    r.add_argument("name")
    r.add_argument("--overlap", type=int, default=86400, help="seconds the old key stays valid")
    r.set_defaults(func=cmd_rotate_key)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fleetmon` console script."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except ApiError as exc:
        print(f"fleetmon: {printable(exc.detail)}", file=sys.stderr)
        return 1
    except CliError as exc:
        print(f"fleetmon: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        settings = None
        with contextlib.suppress(envcheck.UnknownVariable, ValidationError):
            settings = load()
        print(f"fleetmon: {_database_error(exc, settings)}", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
