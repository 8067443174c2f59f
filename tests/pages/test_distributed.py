"""Both pages served by their own service in the distributed mode (PostgreSQL and Kafka): the
zone by catalog, the console by reporting, with a department's session."""

from __future__ import annotations

import pytest

from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    return ("catalog", "reporting")


async def test_zone_and_console_served_by_their_services(distributed: RunningPlatform) -> None:
    api = distributed.client
    zone = await api.get("/catalog/zone/items/500000:30")
    assert zone.status_code == 200 and "图书馆入馆、借阅" in zone.text
    body = {"role": "department", "name": "d", "department": "市文化旅游委"}
    token = (await api.post("/catalog/v1/clients", json=body, headers=distributed.admin)).json()["token"]
    signed = await api.post("/reporting/console/session", data={"token": token})
    assert signed.status_code == 303
    assert "HttpOnly" in signed.headers["set-cookie"] and "SameSite=strict" in signed.headers["set-cookie"]

    async def library_shown() -> bool:
        console = await api.get("/reporting/console/")
        return console.status_code == 200 and 'data-item="500000:30"' in console.text

    await eventually(library_shown, what="the department's item on its console")
    assert (await api.get("/reporting/console/progress.xlsx")).headers["content-type"] == XLSX
    api.cookies.clear()
    signed_out = await api.get("/reporting/console/progress.xlsx")
    assert 'id="token"' in signed_out.text  # the sign-in page, no report
