"""The OpenAPI schema: valid, complete (every route, every scope, every error), served locally."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from openapi_spec_validator import validate

from core.scopes import SCOPES

NOT_API = {"schema/", "docs/", "redoc/"}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        r = APIClient().get("/v1/schema/?format=json")
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("application/vnd.oai.openapi+json") or r["Content-Type"].startswith(
        "application/json"
    )
    return r.json()


def _v1_routes():
    """(schema path, view class) of every /v1 route in config.urls."""
    found = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("v1/") and route[3:] not in NOT_API:
                    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
                    found.append((path, p.callback.view_class))

    walk(get_resolver().url_patterns, "")
    return found


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete", "head", "options"}:
                yield path, method, operation


def _view_for(path):
    return resolve(re.sub(r"\{\w+\}", "x_1", path)).func.view_class


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_every_v1_route_is_in_the_schema(schema):
    routes = _v1_routes()
    assert len(routes) >= 7
    for path, view in routes:
        assert path in schema["paths"], f"{path} missing from the schema"
        documented = {m.upper() for m in schema["paths"][path]}
        implemented = {m.upper() for m in view.http_method_names if hasattr(view, m) and m not in ("options", "head")}
        assert implemented == documented, path
        assert set(view.required_scopes) == implemented, f"{view.__name__}: required_scopes vs methods"
    assert {p for p, _ in routes} == set(schema["paths"])


def test_every_operation_requires_exactly_the_views_scopes(schema):
    for path, method, operation in _operations(schema):
        view = _view_for(path)
        expected = view.required_scopes[method.upper()]
        assert operation.get("security") == [{"oauth2": expected}], f"{method} {path}"


def test_specific_scopes(schema):
    paths = schema["paths"]
    assert paths["/v1/payments"]["post"]["security"] == [{"oauth2": ["payments:write"]}]
    assert paths["/v1/refunds"]["post"]["security"] == [{"oauth2": ["refunds:write"]}]
    assert paths["/v1/merchant"]["get"]["security"] == [{"oauth2": []}]


def test_oauth2_scheme_lists_every_scope_and_both_flows(schema):
    schemes = schema["components"]["securitySchemes"]
    assert set(schemes) == {"oauth2"}
    oauth2 = schemes["oauth2"]
    assert oauth2["type"] == "oauth2"
    assert set(oauth2["flows"]) == {"clientCredentials", "authorizationCode"}
    cc, ac = oauth2["flows"]["clientCredentials"], oauth2["flows"]["authorizationCode"]
    assert cc["tokenUrl"].endswith("/oauth/token/")
    assert ac["tokenUrl"].endswith("/oauth/token/")
    assert ac["authorizationUrl"].endswith("/oauth/authorize/")
    assert cc["scopes"] == SCOPES
    assert ac["scopes"] == SCOPES


def _resolve_ref(schema, node):
    ref = node["$ref"]
    assert ref.startswith("#/components/schemas/")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_operation_documents_auth_scope_and_rate_limit_errors(schema):
    for path, method, operation in _operations(schema):
        for status in ("401", "403", "429", "500"):
            response = operation["responses"].get(status)
            assert response, f"{method} {path} does not document {status}"
            error = _resolve_ref(schema, response["content"]["application/json"]["schema"])
            assert error["required"] == ["error"]
            detail = _resolve_ref(schema, error["properties"]["error"])
            assert {"type", "code", "message", "param", "request_id"} <= set(detail["properties"])


def test_object_endpoints_document_404_and_posts_document_idempotency(schema):
    for path, method, operation in _operations(schema):
        if "{" in path:
            assert "404" in operation["responses"], f"{method} {path}"
        if method == "post":
            for status in ("400", "409", "422"):
                assert status in operation["responses"], f"{method} {path} lacks {status}"
            headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
            assert "Idempotency-Key" in headers, f"{method} {path}"


def test_operation_ids_are_unique(schema):
    ids = [op["operationId"] for _, _, op in _operations(schema)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", ["/v1/docs/", "/v1/redoc/"])
def test_docs_are_served_from_local_assets(client, db, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/html")
    html = r.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "fonts.googleapis.com"):
        assert cdn not in html
    assert "/v1/schema/" in html
