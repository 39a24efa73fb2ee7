"""The OpenAPI 3.1 document of the sensor API, built from the validator's own schema.

``energy_dash.domain.validation.reading_schema()`` is the single definition of a
reading:
the validator enforces it and this document publishes it, so they cannot drift.
"""

from __future__ import annotations

import copy
from typing import Any

from energy_dash.domain.validation import reading_schema

API_KEY_HEADER = "X-API-Key"
MAX_BODY_BYTES = 1024 * 1024
MAX_BULK_BYTES = 16 * 1024 * 1024
MAX_BULK_ROWS = 10_000

REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _json(schema_name: str, description: str, **extra: Any) -> dict[str, Any]:
    response = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema_name)}},
    }
    response.update(extra)
    return response


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        "400": "The body is not JSON, or not the expected JSON type.",
        "401": "Key missing, unknown or revoked: "
        '`{"error": "invalid or missing API key"}`.',
        "403": "`facility_id` is not the facility of this API key.",
        "413": "Body too large (1 MiB for one reading, 16 MiB for bulk) or more than "
        f"{MAX_BULK_ROWS} readings in one bulk request.",
        "415": "Wrong `Content-Type`.",
        "429": "Too many requests for this key; see `Retry-After`.",
        "503": "The database is unavailable; retry later (nothing was stored).",
    }
    out: dict[str, Any] = {}
    for code in codes:
        key = str(code)
        if code == 422:
            out[key] = _json("ValidationError", "A field is invalid; every detail "
                             "names its field.")
        elif code in (429, 503):
            out[key] = _json("Error", text[key], headers=RETRY_AFTER)
        else:
            out[key] = _json("Error", text[key])
    return out


def _schemas() -> dict[str, Any]:
    reading = reading_schema()
    bulk_reading = copy.deepcopy(reading)
    bulk_reading["required"] = [*bulk_reading["required"], "timestamp"]
    detail = {
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "description": "The field ('' for the whole "
                      "reading)."},
            "message": {"type": "string"},
        },
    }
    alert = {
        "type": "object",
        "description": "A voltage alert this request opened or escalated.",
        "required": ["id", "kind", "level", "event", "value", "started_at"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string",
                     "enum": ["voltage_high", "voltage_low", "outage"]},
            "level": {"type": "string", "enum": ["warning", "critical"]},
            "event": {"type": "string", "enum": ["opened", "escalated"]},
            "value": {"type": "number", "description": "Voltage [V] of the reading."},
            "started_at": {"type": "string", "format": "date-time"},
        },
    }
    percent = {"type": "number", "minimum": 0}
    volts = {"type": "number"}
    return {
        "Reading": reading,
        "BulkReading": bulk_reading,
        "Detail": detail,
        "Alert": alert,
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "ValidationError": {
            "type": "object",
            "required": ["error", "details"],
            "properties": {
                "error": {"const": "validation_error"},
                "details": {"type": "array", "minItems": 1, "items": _ref("Detail")},
            },
        },
        "Stored": {
            "type": "object",
            "required": ["status", "id", "timestamp", "alerts"],
            "properties": {
                "status": {"const": "ok"},
                "id": {"type": "integer", "description": "Id of the stored reading."},
                "timestamp": {"type": "string", "format": "date-time",
                              "description": "The reading's instant, UTC ('Z')."},
                "alerts": {"type": "array", "items": _ref("Alert")},
            },
        },
        "Duplicate": {
            "type": "object",
            "required": ["status", "id"],
            "properties": {
                "status": {"const": "duplicate"},
                "id": {"type": "integer", "description": "Id of the reading already "
                       "stored for this facility, device and timestamp."},
            },
        },
        "BulkResult": {
            "type": "object",
            "required": ["accepted", "duplicates", "rejected", "alerts"],
            "properties": {
                "accepted": {"type": "integer", "minimum": 0},
                "duplicates": {"type": "integer", "minimum": 0},
                "rejected": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "details"],
                        "properties": {
                            "index": {"type": "integer", "minimum": 0, "description":
                                      "Position in the JSON array, or 0-based line "
                                      "number in NDJSON."},
                            "details": {"type": "array", "items": _ref("Detail")},
                        },
                    },
                },
                "alerts": {"type": "array", "items": _ref("Alert")},
            },
        },
        "Status": {
            "type": "object",
            "required": ["facility_id", "connected", "last_seen",
                         "expected_interval_s", "readings_24h"],
            "properties": {
                "facility_id": {"type": "integer"},
                "connected": {"type": "boolean", "description": "The newest reading is "
                              "younger than twice the expected interval."},
                "last_seen": {"type": ["string", "null"], "format": "date-time"},
                "expected_interval_s": {"type": "integer"},
                "readings_24h": {"type": "integer", "minimum": 0},
            },
        },
        "Config": {
            "type": "object",
            "required": ["facility_id", "reporting_interval_s", "timezone",
                         "nominal_voltage", "thresholds", "server_time"],
            "properties": {
                "facility_id": {"type": "integer"},
                "reporting_interval_s": {"type": "integer", "description": "Send one "
                                         "reading every this many seconds."},
                "timezone": {"type": "string", "description": "IANA zone."},
                "nominal_voltage": {"type": "number", "description": "[V]"},
                "thresholds": {
                    "type": "object",
                    "required": ["warning_pct", "critical_pct", "hysteresis_pct",
                                 "volts"],
                    "properties": {
                        "warning_pct": percent,
                        "critical_pct": percent,
                        "hysteresis_pct": percent,
                        "volts": {
                            "type": "object",
                            "description": "Absolute band edges [V].",
                            "required": ["nominal", "warning_low", "warning_high",
                                         "critical_low", "critical_high",
                                         "outage_below", "hysteresis"],
                            "properties": {
                                name: volts
                                for name in ("nominal", "warning_low", "warning_high",
                                             "critical_low", "critical_high",
                                             "outage_below", "hysteresis")
                            },
                        },
                    },
                },
                "server_time": {"type": "string", "format": "date-time",
                                "description": "Server clock (UTC), for devices "
                                "without NTP."},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "database"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "error"]},
                "database": {"type": "string", "enum": ["ok", "unreachable"]},
            },
        },
    }


DESCRIPTION = f"""\
Sensor ingestion API of Energy Dash. Devices authenticate with the `{API_KEY_HEADER}`
header (a key from `energy-dash create-api-key`).

* Unknown fields are ignored; numbers may be sent as numeric strings.
* A reading without `timestamp` is stamped with the time of receipt; timestamps more
  than 5 minutes in the future are rejected.
* Every error is JSON: `{{"error": "…"}}` (422 adds field-named `details`).
* Limits: one reading ≤ 1 MiB; bulk ≤ 16 MiB and ≤ {MAX_BULK_ROWS} readings
  (more → 413).
* Rate limit: per key and per server process (each worker counts on its own);
  over the limit → 429 with `Retry-After` seconds.
"""


def build_spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh dict)."""
    security = [{"ApiKeyAuth": []}]
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Energy Dash sensor API",
            "version": "1.0.0",
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "security": security,
        "paths": {
            "/api/hardware/data": {
                "post": {
                    "operationId": "postReading",
                    "summary": "Store one reading",
                    "tags": ["sensor"],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("Reading")}},
                    },
                    "responses": {
                        "201": _json("Stored", "Stored; `alerts` lists voltage alerts "
                                     "this reading opened or escalated."),
                        "200": _json("Duplicate", "Same facility, device and "
                                     "timestamp already stored (stored once)."),
                        **_errors(400, 401, 403, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/api/hardware/data/bulk": {
                "post": {
                    "operationId": "postReadingsBulk",
                    "summary": "Store many readings (backfill)",
                    "description": (
                        f"A JSON array, or NDJSON (one reading per line), of at most "
                        f"{MAX_BULK_ROWS} readings, each with a `timestamp`. Valid "
                        "readings are stored even when others are rejected; a "
                        "`facility_id` of another facility rejects that reading. An "
                        "NDJSON line that is not JSON is a rejected reading; blank "
                        "lines are skipped. `index` is the array position, or the "
                        "0-based line number in NDJSON. Alerts are evaluated in "
                        "timestamp order whatever the order of the body."
                    ),
                    "tags": ["sensor"],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "maxItems": MAX_BULK_ROWS,
                                    "items": _ref("BulkReading"),
                                }
                            },
                            "application/x-ndjson": {
                                "schema": {
                                    "type": "string",
                                    "description": "One JSON reading per line.",
                                }
                            },
                        },
                    },
                    "responses": {
                        "200": _json("BulkResult", "Processed; counts and the "
                                     "rejected readings with their reasons."),
                        **_errors(400, 401, 413, 415, 429, 503),
                    },
                }
            },
            "/api/hardware/status": {
                "get": {
                    "operationId": "getStatus",
                    "summary": "Connection status of the key's facility",
                    "tags": ["sensor"],
                    "responses": {
                        "200": _json("Status", "Status."),
                        **_errors(401, 429, 503),
                    },
                }
            },
            "/api/hardware/config": {
                "get": {
                    "operationId": "getConfig",
                    "summary": "Reporting interval, time zone and alert thresholds",
                    "tags": ["sensor"],
                    "responses": {
                        "200": _json("Config", "Configuration for the device."),
                        **_errors(401, 429, 503),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "tags": ["meta"],
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1 document.",
                            "content": {"application/json": {"schema": {
                                "type": "object"}}},
                        }
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "getHealth",
                    "summary": "Liveness and database reachability",
                    "tags": ["meta"],
                    "security": [],
                    "responses": {
                        "200": _json("Health", "Healthy."),
                        "503": _json("Health", "The database is unreachable."),
                    },
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
            },
        },
    }
