"""Partner streams (distributed mode): outbound card use without personal data, inbound reports
and hotlist changes validated, invalid events to the DLQ."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from onecard_contracts.schemas import problems
from onecard_events.kafka import partner_inbound_topic, partner_outbound_topic
from onecard_reporting.adapters.partners.messages import RawKafkaSource
from onecard_service.privacy import SSN_PATTERN

from tests.reporting.world import LIBRARY, at, payment, record, verification, world_in_place_events
from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually

SSN = "500106199001011237"
CARD_NO = "A12345678"
NAME = "张三"


async def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[Any]:
    source = RawKafkaSource(bootstrap, [topic], client_id="test-reader")
    await source.start({})
    try:
        found: list[Any] = []

        async def enough() -> bool:
            for messages in (await source.fetch_raw(1000, 0.3)).values():
                found.extend(messages)
            return len(found) >= expected

        await eventually(enough, timeout)
        return found
    finally:
        await source.stop()


def headers_of(message: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in message.headers}


async def test_outbound_stream_carries_pseudonyms_only(distributed: RunningPlatform) -> None:
    settings = distributed.platform.settings
    sichuan = verification("VA2", "500106", True, "510100", 1)
    local = verification("VA1", "500106", True, "500106", 1)
    paid = payment(
        "MB1",
        "ecard",
        True,
        payment_id="pay-1",
        bill_id="bill-1",
        item_id=LIBRARY,
        amount_fen=300,
        payer_key="pk-sichuan",
        issuer_region="510100",
        cross_region=True,
        settled_at=at(),
    )
    await record(distributed, "identity", [sichuan, local])
    await record(distributed, "payments", [paid])
    assert settings.kafka_bootstrap
    messages = await read_topic(
        settings.kafka_bootstrap, partner_outbound_topic("510000", settings.topic_prefix), 2
    )
    assert len(messages) == 2
    keys = distributed.platform.personal_data
    by_type = {headers_of(m)["ce_type"]: orjson.loads(m.value) for m in messages}
    verified = by_type["onecard.partner.verification_recorded"]
    assert verified["holder_ref"] == keys.pseudonym(sichuan.holder_key or "", "partner:510000")
    assert by_type["onecard.partner.payment_settled"]["holder_ref"] == keys.pseudonym(
        "pk-sichuan", "partner:510000"
    )
    for m in messages:
        ce_type = headers_of(m)["ce_type"]
        assert problems(ce_type, orjson.loads(m.value)) == []
        raw = m.value.decode() + repr(m.headers)
        assert not SSN_PATTERN.search(raw)
        for secret in (sichuan.holder_key or "", "pk-sichuan", CARD_NO, NAME, "ssn", "card_no", "name"):
            assert secret not in raw


def cloud_event(ce_type: str, data: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", uuid.uuid4().hex.encode()),
        ("ce_source", b"urn:sc:510000"),
        ("ce_type", ce_type.encode()),
        ("ce_time", at().encode()),
    ]
    return orjson.dumps(data), headers


async def test_inbound_validated_and_dead_lettered(distributed: RunningPlatform) -> None:
    settings = distributed.platform.settings
    assert settings.kafka_bootstrap
    await world_in_place_events(distributed)
    topic = partner_inbound_topic("510000", settings.topic_prefix)
    used = {
        "region": "510000",
        "kind": "verification",
        "item_id": LIBRARY,
        "issuer_region": "500106",
        "method": "electronic",
        "holder_ref": "sc_ref_1",
        "occurred_at": at(),
    }
    hotlist = {"region": "510000", "card_key": "sc-card-0001", "status": "lost", "changed_at": at()}
    good = [cloud_event("partner.card_used", used), cloud_event("partner.hotlist_changed", hotlist)]
    bad = [
        cloud_event("partner.card_used", {**used, "item_id": None}),  # schema
        cloud_event("partner.card_used", {**used, "ssn": SSN}),  # no extra fields (and no personal data)
        cloud_event("partner.card_used", {**used, "region": "540000"}),  # another region's report
        cloud_event("partner.card_teleported", used),  # unknown type
        (b"not json at all", [("ce_type", b"partner.card_used")]),  # not a CloudEvent
    ]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for value, headers in [bad[0], good[0], *bad[1:], good[1], good[0]]:  # good[0] twice
            await producer.send_and_wait(topic, value, key=b"k", headers=headers)
    finally:
        await producer.stop()

    workers = distributed.runtime("reporting").app.state.partner_workers

    async def consumed() -> tuple[int, int] | None:
        seen = (workers[1].accepted, workers[1].rejected)
        return seen if sum(seen) >= len(bad) + 3 else None

    assert await eventually(consumed, timeout=30) == (3, len(bad))
    dlq = await read_topic(settings.kafka_bootstrap, topic + ".dlq", len(bad))
    assert len(dlq) == len(bad), (workers[1].accepted, workers[1].rejected)
    reasons = [headers_of(m)["reason"] for m in dlq]
    assert any("item_id" in r for r in reasons) and any("unknown event type" in r for r in reasons)
    assert any("not a CloudEvent" in r for r in reasons) and any("540000" in r for r in reasons)

    reporting = distributed.runtime("reporting")

    async def recorded_types() -> list[str] | None:
        found = await reporting.store.read_all(type(await reporting.store.head())(), 100)
        types = sorted(r.event_type for r in found if r.event_type.startswith("onecard.reporting.partner"))
        return types if len(types) >= 4 else None

    types = await eventually(recorded_types, timeout=30)
    # the known world's two reports, the accepted one (its repeat is the same event) and the hotlist change
    assert types == ["onecard.reporting.partner_card_used"] * 3 + [
        "onecard.reporting.partner_hotlist_changed"
    ]

    async def outbound() -> list[dict[str, Any]] | None:
        response = await distributed.client.get(
            "/reporting/v1/cross-region", params={"partner": "510000"}, headers=distributed.admin
        )
        rows = [r for r in response.json()["rows"] if r["item_id"] == LIBRARY]
        # Both directions: the partner worker and the depth projection apply at their own pace.
        return rows if rows and rows[0]["outbound"] == 3 and rows[0]["inbound"] >= 2 else None

    # two from the known world plus one accepted report (its repeat was dropped)
    assert (await eventually(outbound, timeout=30))[0]["inbound"] == 2


@pytest.mark.parametrize("region", ["540000", "520000"])
def test_partners_are_configuration(region: str) -> None:
    from onecard_events.kafka import platform_topics

    names = {t.name for t in platform_topics(("510000", region), prefix="x.")}
    assert {
        f"x.onecard.partner.{region}.v1",
        f"x.partner.{region}.onecard.v1",
        f"x.partner.{region}.onecard.v1.dlq",
    } <= names
