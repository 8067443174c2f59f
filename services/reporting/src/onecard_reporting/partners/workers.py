"""Registers the partner stream workers (distributed mode; the partners come from settings)."""

from __future__ import annotations

from onecard_service.platform import ServiceRuntime

from .inbound import PartnerInbound
from .outbound import PartnerOutbound


def add_partner_workers(runtime: ServiceRuntime) -> tuple[PartnerOutbound, PartnerInbound]:
    outbound, inbound = PartnerOutbound(runtime), PartnerInbound(runtime)
    runtime.add_worker("partner_outbound", outbound.run)
    runtime.add_worker("partner_inbound", inbound.run)
    runtime.app.state.partner_workers = (outbound, inbound)
    return outbound, inbound
