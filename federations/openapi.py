"""The OpenAPI 3.0 description of the scrape API (``federations.api``), served at /api/openapi.json.

The enumerations come from the models and the catalog's form, so that the description cannot
drift from what the views accept.
"""

from . import api
from .forms import SORT_CHOICES
from .models import Category, FlowerApi, Phase, Status

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": "string", "nullable": True}
_ERROR = {"description": "The request cannot be answered: ``error`` says why, ``errors`` per parameter.",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_STATE = {
    "type": "object",
    "required": ["id", "status", "phase", "current_round", "total_rounds", "connected_clients", "min_clients",
                 "completed_rounds", "run_rounds", "live_version", "download_count", "progress", "participants_wanted",
                 "stopped", "clients_label"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": Status.values},
        "status_label": _STRING,
        "phase": {"type": "string", "enum": Phase.values},
        "phase_label": _STRING,
        "current_round": {"type": "integer", "minimum": 0},
        "total_rounds": {"type": "integer", "minimum": 0},
        "connected_clients": {"type": "integer", "minimum": 0},
        "min_clients": {"type": "integer", "minimum": 0},
        "fraction_fit": {"type": "number"},
        "completed_rounds": {"type": "integer", "minimum": 0},
        "avg_round_duration": {"type": "number", "nullable": True},
        "run_rounds": {"type": "integer", "minimum": 0, "description": "Rounds completed in the current run."},
        "run_avg_duration": {"type": "number", "nullable": True, "description": "Seconds, in the current run."},
        "last_update": {"type": "string", "format": "date-time", "nullable": True},
        "current_run": _STRING,
        "live_version": {"type": "integer", "minimum": 0},
        "download_count": {"type": "integer", "minimum": 0},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "participants_wanted": {"type": "boolean"},
        "stopped": {"type": "boolean", "description": "The training stopped before its end (its server went silent)."},
        "clients_label": _STRING,
    },
}

_SUMMARY = {
    "type": "object",
    "required": ["id", "name", "slug", "category", "application", "tags", "created_at", "under_review", "page",
                 "client", "state"],
    "properties": {
        "id": {"type": "integer"},
        "name": _STRING, "slug": _STRING,
        "category": {"type": "string", "enum": Category.values},
        "application": _STRING, "model_name": _STRING, "flower_version": _STRING,
        "flower_api": {"type": "string", "enum": FlowerApi.values},
        "server_address": _STRING,
        "tags": {"type": "array", "items": _STRING},
        "created_at": {"type": "string", "format": "date-time"},
        "under_review": {"type": "boolean"},
        "page": {"type": "string", "format": "uri"},
        "client": {"type": "object", "nullable": True, "description": "Absent (null) while the federation is suspended.",
                   "required": ["sha256", "size", "url"],
                   "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                  "size": {"type": "integer"}, "url": {"type": "string", "format": "uri"}}},
        "state": {"$ref": "#/components/schemas/State"},
    },
}

SCHEMA = {
    "openapi": "3.0.3",
    "info": {"title": "F2F scrape API", "version": "1",
             "description": "The catalog of Flower federations, read only: search, a federation, many states at once."},
    "paths": {
        "/api/federations/": {"get": {
            "operationId": "listFederations",
            "summary": "Search and page through the catalog, as its page does.",
            "parameters": [
                _query("q", "Words to search for.", {"type": "string", "maxLength": 200}),
                _query("category", "One category.", {"type": "string", "enum": ["", *Category.values]}),
                _query("application", "One application (as listed).", {"type": "string"}),
                _query("online", "Only online federations.", {"type": "string", "enum": ["on"]}),
                _query("wanted", "Only federations that want participants.", {"type": "string", "enum": ["on"]}),
                _query("sort", "The order.", {"type": "string", "enum": [value for value, _ in SORT_CHOICES]}),
                _query("after", "From a page's ``next``.", {"type": "string", "maxLength": 40}),
                _query("before", "From a page's ``previous``.", {"type": "string", "maxLength": 40}),
            ],
            "responses": {
                "200": {"description": "One page of federations.", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["count", "count_is_lower_bound", "next", "previous", "results"],
                    "properties": {
                        "count": {"type": "integer"}, "count_is_lower_bound": {"type": "boolean"},
                        "next": {"type": "string", "nullable": True}, "previous": {"type": "string", "nullable": True},
                        "results": {"type": "array", "items": {"$ref": "#/components/schemas/Summary"}},
                    }}}}},
                "400": _ERROR,
            },
        }},
        "/api/federations/{key}/": {"get": {
            "operationId": "getFederation",
            "summary": "A federation's card, client, live state and trust signals.",
            "parameters": [{"name": "key", "in": "path", "required": True, "description": "Its slug or id.",
                            "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}}],
            "responses": {
                "200": {"description": "The federation.", "content": {"application/json": {"schema": {
                    "allOf": [{"$ref": "#/components/schemas/Summary"}, {
                        "type": "object", "required": ["suspended", "join", "trust"],
                        "properties": {
                            "suspended": {"type": "boolean"},
                            "join": {"type": "object", "required": ["filename", "install", "verify", "run"],
                                     "properties": {name: _STRING for name in ("filename", "install", "verify", "run")}},
                            "trust": {"type": "object"},
                        },
                    }]}}}},
                "404": _ERROR,
            },
        }},
        "/api/scrape/": {"get": {
            "operationId": "scrape",
            "summary": f"The live states of up to {api.MAX_SCRAPE_IDS} federations in one request.",
            "parameters": [{"name": "ids", "in": "query", "required": True,
                            "description": "Federation ids, comma-separated.", "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "Their states, by id (unknown ids absent).", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["federations"], "properties": {"federations": {
                        "type": "object", "additionalProperties": {"$ref": "#/components/schemas/State"}}}}}}},
                "400": _ERROR,
            },
        }},
    },
    "components": {"schemas": {
        "State": _STATE,
        "Summary": _SUMMARY,
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": _STRING, "errors": {"type": "object"}}},
    }},
}
