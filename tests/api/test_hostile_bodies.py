"""Limits are enforced while reading: a small compressed body cannot stall or bloat the server.

The attack: 16 MiB of `m f=1` lines gzip to ~24 KB. Decompressed and parsed whole on the
event loop, it kept `/health` waiting for seconds and took more than 1 GB of memory before
the point limit answered 413. Now the body is decompressed in bounded chunks, lines are
counted as they are parsed (413 at the first line past the limit), and large bodies are
parsed in a worker thread.
"""

from __future__ import annotations

import gzip
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from tests.api.harness import ApiServer, now_s, running_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An API with the default limits (the attack depends on them)."""
    tmp = tmp_path_factory.mktemp("hostile")
    with running_api(
        f"sqlite:///{tmp / 'meta.db'}",
        f"sqlite:///{tmp / 'metrics.db'}",
        ingest_rate_limit="100000/minute",
    ) as server:
        yield server


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class Watch:
    """While a request runs: /health's slowest answer and this process's peak RSS growth."""

    def __init__(self, api: ApiServer) -> None:
        self.url = api.url
        self.worst_health_s = 0.0
        self.health_answers = 0
        self.base_rss = _rss_bytes()
        self.peak_rss = self.base_rss
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._health, daemon=True),
            threading.Thread(target=self._rss, daemon=True),
        ]

    def _health(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as c:
            while not self._stop.is_set():
                started = time.perf_counter()
                assert c.get("/health").status_code == 200
                self.worst_health_s = max(self.worst_health_s, time.perf_counter() - started)
                self.health_answers += 1
                time.sleep(0.02)

    def _rss(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, _rss_bytes())
            time.sleep(0.005)

    def _wait_for_health(self, answers: int) -> None:
        deadline = time.monotonic() + 30
        while self.health_answers < answers and time.monotonic() < deadline:
            time.sleep(0.005)

    def during(self, request: Callable[[], httpx.Response], copies: int = 1) -> httpx.Response:
        """Send `copies` of the request at once while watching; the first one's answer."""
        for t in self._threads:
            t.start()
        self._wait_for_health(1)
        try:
            with ThreadPoolExecutor(copies) as pool:
                answers = list(pool.map(lambda _: request(), range(copies)))
            self._wait_for_health(self.health_answers + 2)
            return answers[0]
        finally:
            self._stop.set()
            for t in self._threads:
                t.join(timeout=30)

    @property
    def rss_growth_mb(self) -> float:
        return (self.peak_rss - self.base_rss) / 2**20


def test_gzip_line_flood_is_refused_without_stalling_the_server(api: ApiServer) -> None:
    key = api.enroll()
    body = gzip.compress(b"m f=1\n" * (16 * 2**20 // 6), compresslevel=9)
    assert len(body) < 64 * 1024
    watch = Watch(api)
    started = time.perf_counter()
    r = watch.during(
        lambda: api.client.post(
            "/write",
            content=body,
            headers={"Authorization": f"Token {key}", "Content-Encoding": "gzip"},
        ),
        copies=4,
    )
    elapsed = time.perf_counter() - started
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "more than 50000 points in one request (the limit); split it"
    assert watch.health_answers > 1
    assert watch.worst_health_s < 1.0, watch.worst_health_s
    assert elapsed < 3.0, elapsed
    assert watch.rss_growth_mb < 100, watch.rss_growth_mb


def _json_flood(points: int) -> bytes:
    point = b'{"measurement":"m","time":%d,"fields":{"f":1}},' % int(now_s())
    raw = b'{"batch_id":"%s","points":[' % uuid.uuid4().hex.encode() + point * points
    return gzip.compress(raw[:-1] + b"]}", compresslevel=9)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (60_000, "60000 points exceed the limit of 50000 per batch"),
        (
            250_000,
            "the body has 500001 JSON objects, more than a batch of at most 50000 points holds; "
            "split the batch",
        ),
    ],
    ids=["counted", "objects"],
)
def test_gzip_json_flood_is_refused_before_decoding(
    api: ApiServer, points: int, message: str
) -> None:
    key = api.enroll()
    body = _json_flood(points)
    watch = Watch(api)
    r = watch.during(
        lambda: api.client.post(
            "/api/v1/metrics/collect",
            content=body,
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
        )
    )
    assert r.status_code == 413, r.text
    assert r.json()["detail"] == message
    assert watch.worst_health_s < 1.0, watch.worst_health_s
    assert watch.rss_growth_mb < 100, watch.rss_growth_mb


def test_json_flood_of_non_objects_is_refused_without_an_error_per_item(api: ApiServer) -> None:
    key = api.enroll()
    raw = b'{"batch_id":"x","points":[' + b"1," * (8 * 2**20) + b"1]}"
    body = gzip.compress(raw, compresslevel=9)
    watch = Watch(api)
    r = watch.during(
        lambda: api.client.post(
            "/api/v1/metrics/collect",
            content=body,
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
        )
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("points[0]:")
    assert watch.worst_health_s < 1.0, watch.worst_health_s
    assert watch.rss_growth_mb < 150, watch.rss_growth_mb


def test_a_large_valid_write_is_parsed_off_the_event_loop(api: ApiServer) -> None:
    key = api.enroll("big-writer")
    t = int(now_s())
    lines = "".join(f"cpu,cpu=cpu{i % 64} usage_user={i % 100}.5,usage_idle=1 {t}\n"
                    for i in range(10_000))  # fmt: skip
    body = gzip.compress(lines.encode())
    watch = Watch(api)
    r = watch.during(
        lambda: api.client.post(
            "/write",
            params={"precision": "s"},
            content=body,
            headers={"Authorization": f"Token {key}", "Content-Encoding": "gzip"},
        )
    )
    assert r.status_code == 204, r.text
    assert watch.worst_health_s < 1.0, watch.worst_health_s
    cur = api.client.get("/api/v1/metrics/current", params={"host": "big-writer"},
                         headers=api.auth())  # fmt: skip
    assert len(cur.json()["series"]) == 128
    assert orjson.loads(cur.content)["series"][0]["measurement"] == "cpu"
