"""Hostile ``facility_id`` values: every browser endpoint answers the same 400 JSON.

``str.isdigit`` and the regex ``\\d`` accept digits other than 0-9 ("²", "١"),
and ``int()`` refuses strings of more than 4300 digits.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

# (path with its other parameters, the status of a good request)
ENDPOINTS = [
    ("/api/latest-hardware-data", {}, 200),
    ("/api/hardware-status-check", {}, 200),
    ("/api/export.csv", {}, 200),
    ("/api/predictions", {"target": "consumption"}, 200),
    ("/api/debug/test-hardware", {}, 201),
    ("/api/debug/voltage-demo", {"condition": "normal"}, 201),
]
BAD_IDS = {
    "superscript-two": "²",  # isdigit() is true, int() fails
    "5000-nines": "9" * 5000,  # beyond int()'s 4300-digit limit
    "arabic-indic-one": "١",  # matches \d, int() reads it as 1
    "zero": "0",
    "negative": "-1",
    "decimal": "1.0",
    "letters": "abc",
    "2**31": "2147483648",  # one past the largest id an integer column holds
}
PATHS = [path for path, _, _ in ENDPOINTS]


def _url(path: str, params: dict[str, str], facility_id: str) -> str:
    return f"{path}?{urlencode({**params, 'facility_id': facility_id})}"


@pytest.mark.parametrize(("path", "params", "_ok"), ENDPOINTS, ids=PATHS)
@pytest.mark.parametrize("value", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_malformed_facility_id_is_400_naming_the_field(
    app, auth_client, path, params, _ok, value
):
    client = auth_client("alice")
    response = client.get(_url(path, params, value))
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "facility_id must be a positive integer",
        "field": "facility_id",
    }


@pytest.mark.parametrize(("path", "params", "ok"), ENDPOINTS, ids=PATHS)
def test_a_well_formed_id_still_reaches_the_facility(
    app, auth_client, facility, path, params, ok
):
    client = auth_client("alice")
    assert client.get(_url(path, params, f"000{facility}")).status_code == ok
