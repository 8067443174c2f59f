"""Administrative division codes (GB/T 2260) and the cross-region rules every service shares.

A code has six digits: the first two name the province ("50" Chongqing, "51" Sichuan), and a
province-level code ends in "0000". Use is cross-region when the card's issuing province differs
from the province of the place it is used in.
"""

from __future__ import annotations


def province_of(region: str) -> str:
    """The two-digit province prefix of a division code."""
    return region[:2]


def province_code(region: str) -> str:
    """The province-level division code ("510000") that a partner region is known by."""
    return province_of(region) + "0000"


def is_cross_region(issuer_region: str | None, place_jurisdiction: str) -> bool:
    """True when a card of `issuer_region` is used in another province than `place_jurisdiction`."""
    return issuer_region is not None and province_of(issuer_region) != province_of(place_jurisdiction)


def covers(item_jurisdiction: str, place: str) -> bool:
    """A province-level (municipal) item covers every district of its province; a district item
    covers only its own district."""
    if item_jurisdiction == place:
        return True
    return item_jurisdiction.endswith("0000") and province_of(place) == province_of(item_jurisdiction)
