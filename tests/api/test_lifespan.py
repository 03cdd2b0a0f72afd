"""What the app owns lives with its lifespan: started with it, nothing left after exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.harness import running_api


def test_overview_pools_start_and_stop_with_the_app(tmp_path: Path) -> None:
    with running_api(f"sqlite:///{tmp_path / 'meta.db'}", f"sqlite:///{tmp_path / 'ts.db'}") as api:
        pools = api.state.overview_pools
        r = api.client.get("/api/v1/metrics/overview", headers=api.auth("viewer"))
        assert r.status_code == 200, r.text
        # Private, but the only way to see a pool's threads: they ran the overview's reads.
        threads = [*pools.reads._threads, *pools.lookups._threads]
        assert threads
        assert all(t.is_alive() for t in threads)
    assert not any(t.is_alive() for t in threads)
    with pytest.raises(RuntimeError):
        pools.reads.submit(print)
