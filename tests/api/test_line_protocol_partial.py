"""Line protocol as InfluxDB takes it: valid lines stored, rejected lines named (partial write).

InfluxDB 1.x answers a request with some bad lines 400 `{"error": "partial write: ...
dropped=N"}` after storing the rest (services/httpd/handler.go, tsdb.PartialWriteError);
2.x answers 422 "unprocessable entity". Telegraf's outputs.influxdb discards a batch whose
error says "partial write" or "unable to parse" instead of retrying it, so the valid points
are kept and nothing is sent twice.
"""

from __future__ import annotations

from typing import Any

from tests.api.harness import ApiServer, now_s


def _current(api: ApiServer, host: str) -> dict[tuple[str, str], Any]:
    r = api.client.get("/api/v1/metrics/current", params={"host": host}, headers=api.auth())
    assert r.status_code == 200, r.text
    return {(s["measurement"], s["field"]): s for s in r.json()["series"]}


def test_v1_stores_valid_lines_and_names_the_rejected_ones(api: ApiServer) -> None:
    key = api.enroll("partial-v1")
    t = int(now_s())
    body = (
        f"cpu,cpu=cpu-total usage_user=1.5 {t}\n"
        f"cpu,cpu=cpu-total usage_idle= {t}\n"  # no value: does not parse
        f"mem used_percent=40 {t}\n"
        f"disk free=1 {t - 30 * 86400}\n"  # older than the accepted window
        f"system load1=0.25 {t}\n"
    )
    r = api.client.post(
        "/write", params={"db": "telegraf", "precision": "s"}, content=body, auth=("t", key)
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error.startswith("partial write: line 2: unable to parse 'cpu,cpu=cpu-total usage_idle=")
    assert "field 'usage_idle' has no value" in error
    assert "line 4: timestamp outside the accepted window" in error
    assert error.endswith(" dropped=2")
    assert r.json()["detail"] == error
    got = _current(api, "partial-v1")
    assert set(got) == {("cpu", "usage_user"), ("mem", "used_percent"), ("system", "load1")}
    assert got[("system", "load1")]["value"] == 0.25


def test_v2_partial_write_is_422_unprocessable_entity(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll("partial-v2")
    r = sqlite_api.client.post(
        "/api/v2/write",
        params={"org": "o", "bucket": "b"},
        content="m f=1\nm\nm g=2\n",
        headers={"Authorization": f"Token {key}"},
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "unprocessable entity"
    assert body["message"] == "partial write: line 2: unable to parse 'm': missing fields dropped=1"
    assert set(_current(sqlite_api, "partial-v2")) == {("m", "f"), ("m", "g")}


def test_nothing_parses_is_400_unable_to_parse(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    r = sqlite_api.client.post("/write", content="m\nx y\n", auth=("t", key))
    assert r.status_code == 400
    assert r.json()["error"] == (
        "line 1: unable to parse 'm': missing fields; "
        "line 2: unable to parse 'x y': field 'y' is not key=value"
    )


def test_many_rejected_lines_are_summarised(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    body = "m f=1\n" + "bad\n" * 30
    r = sqlite_api.client.post("/write", content=body, auth=("t", key))
    assert r.status_code == 400
    error = r.json()["error"]
    assert error.count("unable to parse") == 10
    assert error.endswith("; and 20 more lines dropped=30")


def test_names_influxdb_accepts_are_stored_and_read_back(api: ApiServer) -> None:
    key = api.enroll("odd-names")
    t = int(now_s())
    body = (
        f'my\\ meas\\,ure,tag\\ key=v\\,1 field\\ one=1,f\\,2\\=x=2i,"q"=3 {t}\n'
        f"caf\u00e9 \u00fcber=4,back\\\\slash=6 {t}\n"
    )
    r = api.client.post("/write", params={"precision": "s"}, content=body.encode(), auth=("t", key))
    assert r.status_code == 204, r.text
    got = _current(api, "odd-names")
    assert got[("my meas,ure", "field one")]["tags"] == {"tag key": "v,1"}
    assert got[("my meas,ure", "f,2=x")]["value"] == 2
    assert got[("my meas,ure", '"q"')]["value"] == 3
    assert got[("caf\u00e9", "\u00fcber")]["value"] == 4
    assert got[("caf\u00e9", "back\\\\slash")]["value"] == 6


def test_reserved_and_control_character_names_are_refused(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    body = "m time=1\nm,time=x f=1\nm,_field=x f=1\nm\tx f=1\n"
    r = sqlite_api.client.post("/write", content=body, auth=("t", key))
    assert r.status_code == 400
    error = r.json()["error"]
    assert "line 1: field key 'time' is reserved by InfluxDB" in error
    assert "line 2: tag key 'time' is reserved by InfluxDB" in error
    assert "line 3: tag key '_field' is reserved by InfluxDB" in error
    assert "line 4: measurement 'm\\tx' contains a control character" in error


def test_unsigned_and_big_integers(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll("big-ints")
    body = (
        "u max=18446744073709551615u,small=7u,i=-9223372036854775808i\n"
        "over u=18446744073709551616u\n"
        "over i=9223372036854775808i\n"
    )
    r = sqlite_api.client.post("/write", content=body, auth=("t", key))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert "line 2: unable to parse 'over u=18446744073709551616u': field 'u'" in error
    assert "line 3: unable to parse 'over i=9223372036854775808i': field 'i'" in error
    assert error.endswith("dropped=2")
    got = _current(sqlite_api, "big-ints")
    assert got[("u", "max")]["value"] == 18446744073709551615.0
    assert got[("u", "small")]["value"] == 7
    assert got[("u", "i")]["value"] == -9223372036854775808
