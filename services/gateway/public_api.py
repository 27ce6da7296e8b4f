"""The public API as one OpenAPI document: the gateway's own routes and every route it proxies.

Each service publishes its own document at `/openapi.json`; the gateway reads them over HTTP (at
start, again every `gateway_openapi_refresh_seconds`, and every few seconds while one is missing),
keeps the operations whose paths the proxy forwards to that service (`proxy.owner_of`, the one
source of truth for what is public), and drops `/internal/...`. Read from the running services, not
built from their code: the gateway imports no other service, the services may run on other hosts,
and the document shows what the deployment actually answers (its configured channels, say).

Component names that two services use for different schemas are kept apart by the service's name
(`Review` + `ChannelOut`); the same schema under the same name (ErrorBody) is kept once. The same
operations tell the proxy which methods each proxied path declares (405 with Allow for the others).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.gateway.proxy import UPSTREAMS, PathMethods, owner_of
from services.kit.background import in_background
from services.kit.settings import KitSettings

log = logging.getLogger("clearpost.gateway.public_api")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SERVICE_EXTENSION = "x-clearpost-service"
MISSING_RETRY_SECONDS = 2.0
FETCH_TIMEOUT_SECONDS = 5.0
COMPONENTS_REF = "#/components/"


def is_public(service: str, path: str) -> bool:
    return not path.startswith("/internal") and owner_of(path) == service


def public_part(service: str, document: dict[str, Any]) -> dict[str, Any]:
    """The operations of `service`'s document the gateway forwards to it, each marked with its service."""
    paths: dict[str, Any] = {}
    for path, operations in document.get("paths", {}).items():
        if is_public(service, path):
            paths[path] = copy.deepcopy(operations)
            for method in HTTP_METHODS:
                if method in paths[path]:
                    paths[path][method][SERVICE_EXTENSION] = service
    return {"paths": paths, "components": copy.deepcopy(document.get("components", {}))}


def _rename_refs(node: Any, renamed: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: renamed.get(value, value)
            if key == "$ref" and isinstance(value, str)
            else _rename_refs(value, renamed)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rename_refs(value, renamed) for value in node]
    return node


def merge(own: dict[str, Any], parts: dict[str, dict[str, Any]], missing: list[str]) -> dict[str, Any]:
    """`own` (the gateway's document) with each service's public part added; components merged."""
    merged = copy.deepcopy(own)
    merged["paths"] = {p: ops for p, ops in merged.get("paths", {}).items() if not p.startswith("/internal")}
    components: dict[str, dict[str, Any]] = merged.setdefault("components", {})
    for service, part in sorted(parts.items()):
        renamed: dict[str, str] = {}
        for section, entries in part["components"].items():
            existing = components.setdefault(section, {})
            for name, entry in entries.items():
                if name in existing and existing[name] != entry:
                    renamed[f"{COMPONENTS_REF}{section}/{name}"] = (
                        f"{COMPONENTS_REF}{section}/{service.capitalize()}{name}"
                    )
        part = _rename_refs(part, renamed)
        for section, entries in part["components"].items():
            for name, entry in entries.items():
                key = f"{COMPONENTS_REF}{section}/{name}"
                final = renamed.get(key, key).rsplit("/", 1)[1]
                components[section][final] = entry
        merged["paths"].update(part["paths"])
    info = merged.setdefault("info", {})
    info["title"] = "Clearpost public API"
    if missing:
        info["description"] = (
            f"{info.get('description', '')}\n\nNot listed yet (their documents could not be read): "
            f"{', '.join(sorted(missing))}."
        ).strip()
    return merged


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def method_table(parts: dict[str, dict[str, Any]]) -> list[PathMethods]:
    """Every proxied path template with its methods, the most literal templates first."""
    table = [
        PathMethods(
            template,
            frozenset(m.upper() for m in operations if m in HTTP_METHODS),
            _path_pattern(template),
        )
        for part in parts.values()
        for template, operations in part["paths"].items()
    ]
    return sorted(table, key=lambda entry: (entry.template.count("{"), -len(entry.template)))


class PublicApi:
    """The services' public documents as last read, merged with the gateway's own."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: KitSettings,
        own: Callable[[], dict[str, Any]],
        refresh_seconds: float,
    ) -> None:
        self._http = http
        self._urls = {service: settings.service_url(service) for service in UPSTREAMS}
        self._own = own
        self._refresh_seconds = refresh_seconds
        self._parts: dict[str, dict[str, Any]] = {}
        self._merged: dict[str, Any] | None = None
        self._table: list[PathMethods] = []

    @property
    def missing(self) -> list[str]:
        return [service for service in self._urls if service not in self._parts]

    async def _fetch(self, service: str) -> dict[str, Any] | None:
        try:
            response = await self._http.get(
                f"{self._urls[service]}/openapi.json", timeout=FETCH_TIMEOUT_SECONDS
            )
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("the %s service's OpenAPI document could not be read: %s", service, exc)
            return None
        return document if isinstance(document, dict) else None

    async def refresh(self) -> None:
        """Read every service's document again; one that does not answer keeps its last copy."""
        documents = await asyncio.gather(*(self._fetch(service) for service in self._urls))
        for service, document in zip(self._urls, documents, strict=True):
            if document is not None:
                self._parts[service] = public_part(service, document)
        self._merged = None
        self._table = method_table(self._parts)

    def document(self) -> dict[str, Any]:
        if self._merged is None:
            self._merged = merge(self._own(), self._parts, self.missing)
        return self._merged

    def methods_for(self, path: str) -> PathMethods | None:
        """The proxied operation template `path` matches, with its declared methods (None: unknown)."""
        for entry in self._table:
            if entry.pattern.match(path):
                return entry
        return None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Refresh in the background while the gateway runs."""

        async def loop() -> None:
            while True:
                await self.refresh()
                await asyncio.sleep(MISSING_RETRY_SECONDS if self.missing else self._refresh_seconds)

        async with in_background(loop, name="public-api"):
            yield
