"""docs/developing.md's benchmark table is rendered from the committed measurements file that `make bench` writes."""

from __future__ import annotations

import json

from tests.conftest import ROOT
from tools.bench.synth import GUIDE, MEASUREMENTS, render_table


def test_the_guide_shows_the_committed_measurements() -> None:
    document = json.loads(MEASUREMENTS.read_text(encoding="utf-8"))
    readme = (ROOT / GUIDE).read_text(encoding="utf-8")
    block = readme.split("<!-- bench:begin -->\n", 1)[1].split("\n<!-- bench:end -->", 1)[0]
    assert block == render_table(document), f"{GUIDE}'s benchmark table is stale: run `make bench`"


def test_the_measurements_say_when_and_where() -> None:
    document = json.loads(MEASUREMENTS.read_text(encoding="utf-8"))
    assert document["started_utc"] and document["machine"]["cpus"] and document["versions"]
    assert len(document["synth"]["fast"]["runs_s"]) >= 5
