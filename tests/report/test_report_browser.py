"""The interactive report in a real headless Chromium: offline, every front point shown, hover and click
details (and the lineage) equal to the store, the table sorts and filters, ``--serve`` refreshes live."""

from __future__ import annotations

import threading

from alphanas.search.report import write_report
from alphanas.search.report_serve import ReportServer
from alphanas.search.candidate import Candidate
from alphanas.search.store import Store
from tests.report.conftest import OBJECTIVES

KEYS = {"accuracy": ("val_acc", 1), "params": ("params", -1), "flops": ("flops", -1)}


def expected_front(cands) -> set[int]:
    """Brute-force Pareto front of the done candidates (independent of alphanas.search.pareto)."""
    done = [c for c in cands if c.status == "done"]

    def vec(c):
        return [KEYS[o][1] * c.metrics[KEYS[o][0]] for o in OBJECTIVES]

    def dominates(a, b):
        return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))

    return {c.id for c in done if not any(dominates(vec(d), vec(c)) for d in done)}


def fmt(key, v):  # the page's number formats, written out by hand
    if key in ("val_acc", "test_acc"):
        return f"{100 * v:.2f}%"
    if key in ("params", "flops"):
        return f"{int(round(v)):,}"
    return f"{v:.3f}"


def offline_page(browser):
    """A page whose every non-file request is blocked and recorded."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page, blocked, errors


def test_page_offline_shows_the_front_and_details_match_the_store(browser, search_dir):
    rep = write_report(search_dir)
    with Store(search_dir, read_only=True) as st:
        cands = {c.id: c for c in st.candidates()}
    front = expected_front(cands.values())
    outlier = next(c.id for c in cands.values() if c.metrics.get("val_acc") == 0.05)
    assert {c.id for c in rep.front} == front and outlier in front  # the outlier is tiny: on the front
    ctx, page, blocked, errors = offline_page(browser)
    page.goto(rep.html.as_uri())
    plots = page.locator("svg.plot")
    assert plots.count() == 3  # every objective pair of three objectives
    done = [c for c in cands.values() if c.status == "done"]
    for i in range(3):
        svg = plots.nth(i)
        assert svg.locator(".pt").count() == len(done)
        shown = {int(x) for x in svg.locator(".pt.front").evaluate_all("es => es.map(e => e.dataset.id)")}
        assert shown == front
        labels = {int(t) for t in svg.locator("text.ptlabel").all_text_contents()}
        assert labels == front  # front points labelled with the ids of front/ID.onnx
        assert svg.locator(".pt.seed").count() == 1
    assert plots.nth(0).locator(f".pt.outlier[data-id='{outlier}']").count() == 1  # 5 % accuracy: drawn at the edge
    seed = next(c for c in cands.values() if c.mutation == "seed")
    assert plots.nth(0).locator(".pt.seed").get_attribute("data-id") == str(seed.id)

    # hover: id, parent, mutation, metrics
    target = max((c for c in done if c.id in front and c.parent_id not in (None, seed.id)), key=lambda c: c.id)
    plots.nth(0).locator(f".pt[data-id='{target.id}']").hover()
    tip = page.locator("#tooltip")
    assert tip.is_visible()
    text = tip.inner_text()
    assert f"#{target.id}" in text and f"parent: #{target.parent_id}" in text and f"mutation: {target.mutation}" in text
    for key in ("val_acc", "test_acc", "params", "flops", "latency_ms"):
        assert fmt(key, target.metrics[key]) in text, key

    # click: details and the lineage back to the seed
    plots.nth(0).locator(f".pt[data-id='{target.id}']").click()
    field = {k: page.locator(f"#details dd[data-field='{k}']").inner_text() for k in target.metrics}
    assert field == {k: fmt(k, v) for k, v in target.metrics.items()}
    assert page.locator("#details dd[data-field='mutation']").inner_text() == target.mutation
    assert page.locator("#details dd[data-field='description']").inner_text() == target.description
    chain, c = [], target
    while c is not None:
        chain.insert(0, c.id)
        c = cands.get(c.parent_id) if c.parent_id is not None else None
    assert chain[0] == seed.id and len(chain) >= 3
    shown = page.locator("#details .lineage a").evaluate_all("es => es.map(e => Number(e.dataset.id))")
    assert shown == chain
    assert page.locator("#details dd[data-field='model']").inner_text() == f"front/{target.id}.onnx"
    page.locator(f"#details .lineage a[data-id='{seed.id}']").click()  # walk up to the seed
    assert page.locator("#details h2").inner_text() == f"Candidate #{seed.id}"

    # the table: sorts and filters
    rows = page.locator("#candidates tbody tr")
    assert rows.count() == len(cands)
    page.locator("#candidates th[data-key='params']").click()
    ids = rows.evaluate_all("es => es.map(e => Number(e.dataset.id))")
    with_params = sorted((c for c in done), key=lambda c: c.metrics["params"])
    assert ids[:len(done)] == [c.id for c in with_params]
    page.locator("#candidates th[data-key='params']").click()
    ids = rows.evaluate_all("es => es.map(e => Number(e.dataset.id))")
    assert ids[:len(done)] == [c.id for c in reversed(with_params)]
    page.fill("#filter", "delete_block")
    assert rows.count() == sum(c.mutation == "delete_block" for c in cands.values())
    page.fill("#filter", "")
    page.select_option("#status-filter", "failed")
    assert rows.count() == 1 and "diverged" in rows.first.inner_text()
    page.select_option("#status-filter", "all")
    page.check("#front-only")
    assert rows.count() == len(front)
    assert blocked == [] and errors == []
    ctx.close()


def test_serve_refreshes_while_the_search_writes(browser, search_dir):
    server = ReportServer(search_dir, port=0, refresh=0.3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(server.url)
        rows = page.locator("#candidates tbody tr")
        n = rows.count()
        with Store(search_dir, config={"objectives": OBJECTIVES, "dataset": "synthetic", "seed": 0,
                                       "strategy": "property"}) as st:  # the search writes a new best candidate
            c = Candidate(graph=None, hash="new", parent_id=1, mutation="property", description="late", trial=99)
            st.add(c)
            c.status, c.metrics = "done", {"val_acc": 0.99, "params": 5e6, "flops": 1e9}
            st.update(c)
        page.wait_for_function(f"document.querySelectorAll('#candidates tbody tr').length === {n + 1}", timeout=10_000)
        page.locator(f"svg.plot .pt.front[data-id='{c.id}']").first.wait_for(timeout=5_000)
        ctx.close()
    finally:
        server.shutdown()
        server.server_close()
