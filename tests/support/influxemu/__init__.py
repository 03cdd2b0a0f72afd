"""InfluxDB 2.7 and 3.7+ emulated in front of the real influxd 1.6.7 (only 1.x runs here).

Each emulation reproduces what the store meets differently on that version, and each
behaviour names the InfluxDB source file it copies (v2.py, v3.py). Anything not listed
there is the 1.6.7 server's own answer.
"""

from __future__ import annotations

from tests.support.influxemu.proxy import TOKEN, Backend, Emulator, Version
from tests.support.influxemu.v2 import V27
from tests.support.influxemu.v3 import V36, V37

VERSIONS: dict[str, type[Version]] = {"2.7": V27, "3.6": V36, "3.7": V37}


def start_emulator(version: str, backend_url: str) -> Emulator:
    """Serve InfluxDB `version` ("2.7", "3.6" or "3.7") in front of the influxd at `backend_url`."""
    cls = VERSIONS[version]

    def make(backend: Backend) -> Version:
        return cls(backend)

    return Emulator(make, backend_url).start()


__all__ = ["TOKEN", "VERSIONS", "Emulator", "start_emulator"]
