"""Control totals, duplicates, per-payee validation, bank results, returns, scope, idempotency."""

from __future__ import annotations

import httpx
from onecard_service.auth import Principal

from tests.support.people import person
from tests.support.platform import RunningPlatform, token_for

from .support import (
    DEPARTMENT,
    add,
    at_bank,
    batch,
    completed,
    item,
    manual_bank,
    program,
    publish,
    retired,
    status,
    submit,
    uid,
)


async def test_program_needs_an_active_disbursement_item(embedded: RunningPlatform) -> None:
    plain, gone = uid("500155:A"), uid("500155:A")
    await publish(embedded, item(plain, categories=["identity"]), item(gone), retired(gone))
    for item_id in ("500155:nope", plain, gone):
        body = {"program_id": uid("P"), "item_id": item_id, "name": "x", "jurisdiction": "500155"}
        r = await embedded.client.post("/disbursement/v1/programs", json=body, headers=embedded.admin)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "item_id", r.text


async def test_control_figures_refuse_submission(embedded: RunningPlatform) -> None:
    p = await program(embedded)
    rows = [person(i, amount=100) for i in range(3)]
    short = await batch(embedded, p, rows, count=4, total=400)
    assert (await add(embedded, short, rows))["accepted"] == 3
    refused = await submit(embedded, short)
    assert refused.status_code == 409 and "control" in refused.json()["detail"]
    rows = [{**r, "reference_id": uid("R")} for r in rows]
    wrong_total = await batch(embedded, p, rows, period="2025-07", total=301)
    assert (await add(embedded, wrong_total, rows))["accepted"] == 3
    assert (await submit(embedded, wrong_total)).status_code == 409
    # Payees that would overrun the control figures are refused row by row.
    rows = [{**r, "reference_id": uid("R")} for r in rows]
    tight = await batch(embedded, p, rows, period="2025-08", count=2, total=200)
    answer = await add(embedded, tight, rows)
    assert answer["accepted"] == 2 and answer["rejected"][0]["reason"] == "exceeds_control"
    assert (await submit(embedded, tight)).status_code == 202


async def test_duplicates(any_mode: RunningPlatform) -> None:
    # PostgreSQL too: the set-based statements differ by dialect.
    running = any_mode
    p, other = await program(running), await program(running)
    first = await batch(running, p, [], count=2, total=200)
    a = person(1, amount=100)
    repeat_ref = {**person(2, amount=100), "reference_id": a["reference_id"]}
    same_person = {**person(1, amount=100), "reference_id": uid("R")}
    answer = await add(running, first, [a, repeat_ref, same_person])
    assert answer["accepted"] == 1
    assert [r["reason"] for r in answer["rejected"]] == ["duplicate", "duplicate"]
    # Across batches: the reference anywhere, the person within the program and period.
    second = await batch(running, p, [], count=5, total=500)
    again = [
        {**person(3, amount=100), "reference_id": a["reference_id"]},
        {**person(1, amount=100), "reference_id": uid("R")},
    ]
    answer = await add(running, second, again)
    assert answer["accepted"] == 0 and {r["reason"] for r in answer["rejected"]} == {"duplicate"}
    later = await batch(running, p, [], period="2025-07", count=1, total=100)
    assert (await add(running, later, [{**person(1, amount=100), "reference_id": uid("R")}]))["accepted"] == 1
    elsewhere = await batch(running, other, [], count=1, total=100)
    assert (await add(running, elsewhere, [{**person(1, amount=100), "reference_id": uid("R")}]))[
        "accepted"
    ] == 1


async def test_per_payee_validation(embedded: RunningPlatform) -> None:
    p = await program(embedded)
    b = await batch(embedded, p, [], count=20, total=10**6)
    good = person(10, amount=100)
    cases = {
        "invalid_ssn": {
            **person(11),
            "ssn": person(11)["ssn"][:-1] + ("0" if person(11)["ssn"][-1] != "0" else "1"),
        },
        "invalid_amount": {**person(12), "amount_fen": 0},
        "invalid_channel": {**person(13), "channel": "wechat"},
        "invalid_card_no": {**person(14), "card_no": "12"},
        "invalid_name": {**person(15), "name": ""},
        "invalid_reference_id": {**person(16), "reference_id": ""},
    }
    more_amounts = [-1, 10**10 + 1, "100", 1.5, True]
    rows = [good, *cases.values(), *({**person(20 + i), "amount_fen": v} for i, v in enumerate(more_amounts))]
    answer = await add(embedded, b, rows)
    assert answer["accepted"] == 1
    reasons = [r["reason"] for r in answer["rejected"]]
    assert reasons == [*cases, *["invalid_amount"] * len(more_amounts)]
    cash = {**person(30, amount=100, channel="cash"), "card_no": ""}
    assert (await add(embedded, b, [cash]))["accepted"] == 1


async def test_only_an_open_batch_takes_payees(embedded: RunningPlatform) -> None:
    p = await program(embedded)
    rows = [person(1, amount=100)]
    b = await batch(embedded, p, rows)
    await add(embedded, b, rows)
    assert (await submit(embedded, b)).status_code == 202
    late = await embedded.client.post(
        f"/disbursement/v1/batches/{b}/payees",
        json={"payees": [person(2, amount=100)]},
        headers=embedded.admin,
    )
    assert late.status_code == 409
    assert (await submit(embedded, b)).status_code == 409


async def test_bank_results_are_idempotent_and_unknowns_reported(any_mode: RunningPlatform) -> None:
    # PostgreSQL too: the set-based statements differ by dialect.
    running = any_mode
    manual_bank(running)
    p = await program(running)
    rows = [person(i, amount=100) for i in range(3)]
    b = await batch(running, p, rows)
    await add(running, b, rows)
    assert (await submit(running, b)).status_code == 202
    await at_bank(running, b, len(rows))
    results = [{"reference_id": r["reference_id"], "status": "paid", "reason": ""} for r in rows[:2]]

    async def post(body: list[dict[str, str]]) -> httpx.Response:
        return await running.client.post(
            "/disbursement/v1/bank-results", json={"results": body}, headers=running.admin
        )

    first = (await post(results)).json()
    assert first["applied"] == 2 and first["unknown"] == []
    again = (await post([*results, {"reference_id": "NOPE-1", "status": "paid"}])).json()
    assert again["applied"] == 0 and again["unchanged"] == 2 and again["unknown"] == ["NOPE-1"]
    contradiction = (await post([{"reference_id": rows[0]["reference_id"], "status": "failed"}])).json()
    assert contradiction["conflicts"][0]["reason"] == "already_paid"
    figures = await status(running, b)
    assert (figures["paid"], figures["pending"], figures["status"]) == (2, 1, "submitted")
    metrics = (await running.client.get("/disbursement/metrics")).text
    assert "onecard_disbursement_unknown_results_total 1.0" in metrics
    await post([{"reference_id": rows[2]["reference_id"], "status": "failed", "reason": "account_closed"}])
    done = await completed(running, b)
    assert (done["paid"], done["failed"]) == (2, 1)
    # The bank's own statement says paid where its callback said failed: reconciliation shows it.
    recon = (
        await running.client.get(f"/disbursement/v1/batches/{b}/reconciliation", headers=running.admin)
    ).json()
    checks = {m["check"] for m in recon["mismatches"]}
    assert recon["balanced"] is False and {"payee_vs_bank_results", "payee_vs_bank_statement"} <= checks


async def test_returned_payment_can_be_reissued(any_mode: RunningPlatform) -> None:
    # PostgreSQL too: the set-based statements differ by dialect.
    running = any_mode
    p = await program(running)
    returned = person(7, ref=uid("R") + "-RETURN", amount=500)
    b1 = await batch(running, p, [returned])
    await add(running, b1, [returned])
    await submit(running, b1)
    assert (await completed(running, b1))["returned"] == 1
    reissue = person(7, amount=500)
    b2 = await batch(running, p, [reissue])
    assert (await add(running, b2, [reissue]))["accepted"] == 1
    await submit(running, b2)
    assert (await completed(running, b2))["paid"] == 1
    b3 = await batch(running, p, [], count=1, total=500)
    assert (await add(running, b3, [person(7, amount=500)]))["rejected"][0]["reason"] == "duplicate"


async def test_scope(embedded: RunningPlatform) -> None:
    p = await program(embedded)
    rows = [person(1, amount=100)]
    b = await batch(embedded, p, rows)
    path = f"/disbursement/v1/batches/{b}"
    assert (await embedded.client.get(path)).status_code == 401
    venue = token_for(embedded, Principal("v1", "venue", venues=frozenset({"x"})))
    assert (await embedded.client.get(path, headers=venue)).status_code == 403
    other = token_for(embedded, Principal("d1", "department", department="市文化旅游委"))
    assert (await embedded.client.get(path, headers=other)).status_code == 403
    elsewhere = token_for(
        embedded, Principal("d2", "department", department=DEPARTMENT, jurisdiction="500106")
    )
    assert (await embedded.client.get(path, headers=elsewhere)).status_code == 403
    own = token_for(embedded, Principal("d3", "department", department=DEPARTMENT, jurisdiction="500155"))
    assert (await embedded.client.get(path, headers=own)).status_code == 200
    results = {"results": [{"reference_id": rows[0]["reference_id"], "status": "paid"}]}
    assert (
        await embedded.client.post("/disbursement/v1/bank-results", json=results, headers=own)
    ).status_code == 403
    body = {"program_id": uid("P"), "item_id": "500155:nope", "name": "x", "jurisdiction": "500155"}
    assert (
        await embedded.client.post("/disbursement/v1/programs", json=body, headers=venue)
    ).status_code == 403


async def test_idempotency_key(embedded: RunningPlatform) -> None:
    p = await program(embedded)
    body = {
        "batch_id": uid("B"),
        "program_id": p,
        "period": "2025-06",
        "control_count": 1,
        "control_total_fen": 100,
    }
    headers = {**embedded.admin, "Idempotency-Key": uid("k")}
    first = await embedded.client.post("/disbursement/v1/batches", json=body, headers=headers)
    again = await embedded.client.post("/disbursement/v1/batches", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    changed = await embedded.client.post(
        "/disbursement/v1/batches", json={**body, "control_total_fen": 101}, headers=headers
    )
    assert changed.status_code == 409
    payees = {"payees": [person(1, amount=100)]}
    key = {**embedded.admin, "Idempotency-Key": uid("k")}
    path = f"/disbursement/v1/batches/{body['batch_id']}/payees"
    one = await embedded.client.post(path, json=payees, headers=key)
    two = await embedded.client.post(path, json=payees, headers=key)
    assert one.json() == two.json() == {"accepted": 1, "rejected": []}
