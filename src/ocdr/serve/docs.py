"""``GET /docs`` with no internet: the Swagger UI page and its script, style and icon are served by the service
itself, from the pinned ``swagger-ui-bundle`` package (FastAPI's own ``/docs`` loads them from a CDN, so on an
air-gapped host it is a blank page). ReDoc is not offered: no pinned package ships it.
"""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse
from swagger_ui_bundle import swagger_ui_path

__all__ = ["add_offline_docs", "ASSETS"]

ASSETS = {"swagger-ui-bundle.js": "application/javascript", "swagger-ui.css": "text/css",
          "favicon-32x32.png": "image/png"}
PREFIX = "/docs/assets/"


def _asset_route(app: FastAPI, name: str, media_type: str) -> None:
    path = swagger_ui_path / name  # one fixed file per route: no part of a client's URL becomes a path

    @app.get(PREFIX + name, include_in_schema=False)
    async def asset():
        return FileResponse(path, media_type=media_type)


def add_offline_docs(app: FastAPI, title: str) -> None:
    """``/docs`` and its three assets. Build the app with ``docs_url=None, redoc_url=None`` first."""
    for name, media_type in ASSETS.items():
        _asset_route(app, name, media_type)

    @app.get("/docs", include_in_schema=False)
    async def docs():
        # validatorUrl None: Swagger UI would otherwise send the schema to validator.swagger.io for a badge
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{title} - API",
                                   swagger_js_url=PREFIX + "swagger-ui-bundle.js",
                                   swagger_css_url=PREFIX + "swagger-ui.css",
                                   swagger_favicon_url=PREFIX + "favicon-32x32.png",
                                   swagger_ui_parameters={"validatorUrl": None})
