"""The synthesis benchmark: a fixed seeded corpus, both synthesizers in one run, the JSON schema."""

from __future__ import annotations

import json

from alphanas.bench import synthesis as bench


def test_corpus_is_fixed_and_covers_the_four_models():
    a = bench.corpus(8, models=bench.LIGHT)
    b = bench.corpus(8, models=bench.LIGHT)
    assert [m for m, _ in a] == list(bench.MODELS) * 2
    assert [sorted(n.name for n in p.subgraph.nodes) for _, p in a] == \
        [sorted(n.name for n in p.subgraph.nodes) for _, p in b]
    assert [{k: v.to_json() for k, v in p.target.items()} for _, p in a] == \
        [{k: v.to_json() for k, v in p.target.items()} for _, p in b]


def test_json_schema(capsys):
    assert bench.main(["--problems", "4", "--light", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["problems"] == 4
    assert set(rep["synthesizers"]) == {"egraph", "progressive"}
    for row in rep["synthesizers"].values():
        assert {"success_rate", "median_ms", "p95_ms", "distinct"} <= set(row)
        assert 0 <= row["success_rate"] <= 1 and row["distinct"] <= 4
        assert row["p95_ms"] >= row["median_ms"] >= 0
