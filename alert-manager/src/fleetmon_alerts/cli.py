"""`fleetmon-alerts run|once|test-channel NAME`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import UTC, datetime
from types import FrameType

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts import defaults
from fleetmon_alerts.channels import ChannelContext, ConfigError, DeliveryError, build
from fleetmon_alerts.clock import SystemClock
from fleetmon_alerts.delivery import Dispatcher, RetryPolicy
from fleetmon_alerts.evaluate import Evaluator
from fleetmon_alerts.leader import lock_for
from fleetmon_alerts.settings import Settings, SettingsError
from fleetmon_alerts.worker import Worker
from fleetmon_db import embedded, migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import AlertChannel
from fleetmon_db.sample_alert import sample_payload
from fleetmon_db.text import printable
from fleetmon_db.timeseries import TimeSeriesStore

log = logging.getLogger("fleetmon_alerts")


def open_store(url: str) -> TimeSeriesStore:
    """The time-series store at `url` (InfluxDB or SQL), its schema ensured (idempotent)."""
    from fleetmon_db.timeseries.factory import open_store as factory

    store = factory(url)
    # The worker may start before the API ever wrote a point.
    store.ensure_schema()
    return store


def prepare(settings: Settings) -> sessionmaker[Session]:
    """Migrate the metadata DB if needed, install defaults, return a session factory."""
    if embedded.is_embedded(settings.database_url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not migrate.is_up_to_date(settings.database_url):
        migrate.upgrade(settings.database_url)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as session:
        added = defaults.install(session, embedded.is_embedded(settings.database_url))
    if added:
        log.info("installed defaults: %s", ", ".join(added))
    return sessions


def _dispatcher(settings: Settings, sessions: sessionmaker[Session]) -> Dispatcher:
    return Dispatcher(
        sessions,
        SystemClock(),
        ChannelContext(timeout_s=settings.channel_timeout_s),
        RetryPolicy(settings.retry_base_s, settings.retry_max_s, settings.max_attempts),
    )


def cmd_run(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM."""
    sessions = prepare(settings)
    store = open_store(settings.store_url)
    worker = Worker(
        sessions,
        store,
        SystemClock(),
        lock_for(settings.database_url),
        _dispatcher(settings, sessions),
        settings.interval_s,
        settings.public_url,
    )

    def _stop(signum: int, _frame: FrameType | None) -> None:
        worker.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("alert worker started (interval %.1fs)", settings.interval_s)
    try:
        worker.run()
    finally:
        store.close()
    return 0


def cmd_once(settings: Settings) -> int:
    """One evaluation (if no other worker leads), print the decisions, deliver, exit."""
    sessions = prepare(settings)
    lock = lock_for(settings.database_url)
    if not lock.try_acquire():
        print("another worker is the leader; not evaluating", file=sys.stderr)
        return 3
    store = open_store(settings.store_url)
    dispatcher = _dispatcher(settings, sessions)
    try:
        evaluator = Evaluator(sessions, store, SystemClock(), settings.public_url)
        decisions = evaluator.run_once()
        for d in decisions:
            print(printable(d.line()))  # host and rule names reach a terminal
        for rule, error in evaluator.last_errors.items():
            print(printable(f"{rule}: not evaluated: {error}"))
        print(f"{len(decisions)} transition(s)")
        dispatcher.drain(timeout_s=settings.channel_timeout_s * 2)
    finally:
        dispatcher.stop()
        store.close()
        lock.release()
    return 0


def cmd_test_channel(settings: Settings, name: str) -> int:
    """Send a sample notification through channel NAME, right now, once."""
    sessions = prepare(settings)
    with sessions() as session:
        ch = session.scalar(select(AlertChannel).where(AlertChannel.name == name))
    if ch is None:
        print(f"no channel named {name!r}", file=sys.stderr)
        return 2
    payload = sample_payload(name, settings.public_url, datetime.now(UTC), "fleetmon-alerts")
    try:
        channel = build(ch.kind, ch.config or {}, ChannelContext(settings.channel_timeout_s))
        try:
            channel.send(payload)
        finally:
            channel.close()
    except (ConfigError, DeliveryError) as exc:
        print(f"channel {name!r} failed: {exc}", file=sys.stderr)
        return 1
    print(f"sent a test notification through {name!r} ({ch.kind})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fleetmon-alerts` console script."""
    parser = argparse.ArgumentParser(prog="fleetmon-alerts", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the worker (leader election, evaluation, delivery)")
    sub.add_parser("once", help="evaluate once, print the decisions, deliver, exit")
    test = sub.add_parser("test-channel", help="send a test notification through a channel")
    test.add_argument("name")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request URL at INFO; webhook URLs are secrets.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "run":
        return cmd_run(settings)
    if args.command == "once":
        return cmd_once(settings)
    return cmd_test_channel(settings, args.name)


if __name__ == "__main__":
    sys.exit(main())
