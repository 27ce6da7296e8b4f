"""SCIM 2.0 `/scim/v2/Groups` (RFC 7644): the identity provider's groups and their members.

A group's `displayName` is a key of the role map (CLEARPOST_OIDC_ROLE_MAP). Whenever a group's
members change, each user concerned gets the roles of the groups they are now in (source `scim`,
kept beside the roles an admin gave), audited as `user.roles_changed`; a role taken away also
refuses the user's access tokens issued until then, through the same revocation list that ends a
deactivated user's access, so it takes effect without a sign-in within that list's refresh time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.config import GatewaySettings
from services.gateway.models import ScimGroup
from services.gateway.repository import IdentityRepository, UserRepository
from services.gateway.roles import SCIM, apply_groups
from services.gateway.schemas import (
    ScimGroupIn,
    ScimGroupList,
    ScimGroupMeta,
    ScimGroupOut,
    ScimGroupPatch,
    ScimMember,
)
from services.gateway.scim import (
    SCIM_ACTOR,
    SCIM_MEDIA_TYPE,
    ScimError,
    ScimJSONResponse,
    ScimRoute,
    scim_caller,
)
from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.deps import SessionDep
from services.kit.errors import Conflict, NotFound

MEMBER_PATH = re.compile(r'^\s*members\s*\[\s*value\s+eq\s+"([^"]{1,36})"\s*\]\s*$', re.IGNORECASE)
GROUP_FILTER_PATTERN = r'^\s*[dD][iI][sS][pP][lL][aA][yY][nN][aA][mM][eE]\s+[eE][qQ]\s+"[^"]{1,200}"\s*$'
GROUP_FILTER = re.compile(r'^\s*displayName\s+eq\s+"([^"]{1,200})"\s*$', re.IGNORECASE)


class ScimGroupService:
    def __init__(
        self, session: AsyncSession, *, role_map: Mapping[str, list[str]], audit: AuditRecorder
    ) -> None:
        self._groups = IdentityRepository(session)
        self._users = UserRepository(session)
        self._role_map = role_map
        self._audit = audit

    async def find(self, name: str | None = None) -> list[tuple[ScimGroup, set[str]]]:
        groups: Sequence[ScimGroup] = await self._groups.groups()
        if name is not None:
            groups = [g for g in groups if g.display_name == name]
        return [(g, await self._groups.member_ids(g.id)) for g in groups]

    async def get(self, group_id: str) -> tuple[ScimGroup, set[str]]:
        group = await self._groups.group(group_id)
        if group is None:
            raise NotFound("no such group")
        return group, await self._groups.member_ids(group.id)

    async def create(self, data: ScimGroupIn) -> tuple[ScimGroup, set[str]]:
        if await self._groups.group_by_name(data.displayName) is not None:
            raise Conflict(f"a group named {data.displayName!r} exists", code="uniqueness")
        now = utcnow()
        group = ScimGroup(
            id=str(uuid.uuid4()),
            display_name=data.displayName,
            external_id=data.externalId,
            created_at=now,
            updated_at=now,
        )
        self._groups.add(group)
        try:
            await self._groups.flush()
        except IntegrityError as exc:
            raise Conflict(f"a group named {data.displayName!r} exists", code="uniqueness") from exc
        await self._set_members(group, set(), await self._known([m.value for m in data.members]))
        await self._audit.append(
            actor=SCIM_ACTOR,
            action="group.created",
            subject=f"group:{group.id}",
            details={"display_name": group.display_name, "via": "scim"},
        )
        return group, await self._groups.member_ids(group.id)

    async def replace(self, group_id: str, data: ScimGroupIn) -> tuple[ScimGroup, set[str]]:
        group, members = await self.get(group_id)
        renamed = data.displayName != group.display_name
        if renamed:
            await self._rename(group, data.displayName, members)
        group.external_id = data.externalId
        await self._set_members(group, members, await self._known([m.value for m in data.members]))
        return group, await self._groups.member_ids(group.id)

    async def patch(self, group_id: str, patch: ScimGroupPatch) -> tuple[ScimGroup, set[str]]:
        group, members = await self.get(group_id)
        wanted = set(members)
        for operation in patch.Operations:
            op = operation.op.lower()
            path = (operation.path or "").strip()
            if path.lower() == "displayname" or (
                not path and isinstance(operation.value, dict) and "displayName" in operation.value
            ):
                name = operation.value if path else operation.value["displayName"]
                if op != "replace" or not isinstance(name, str) or not name.strip():
                    raise ScimError("displayName can only be replaced with a name", "invalidValue")
                await self._rename(group, name.strip(), wanted)
                if path:
                    continue
            match = MEMBER_PATH.match(path)
            if match is not None and op == "remove":
                wanted.discard(match.group(1))
                continue
            if path.lower() == "members" or (
                not path and isinstance(operation.value, dict) and "members" in operation.value
            ):
                raw = operation.value if path else operation.value["members"]
                if op == "remove" and raw is None:
                    wanted = set()
                    continue
                ids = self._member_ids(raw)
                if op == "add":
                    wanted |= await self._known(ids)
                elif op == "remove":
                    wanted -= set(ids)
                else:
                    wanted = await self._known(ids)
                continue
            if not path and isinstance(operation.value, dict) and "displayName" in operation.value:
                continue
            raise ScimError(f"unsupported operation {operation.op} {path or '(no path)'}", "invalidPath")
        await self._set_members(group, members, wanted)
        return group, await self._groups.member_ids(group.id)

    async def delete(self, group_id: str) -> None:
        group, members = await self.get(group_id)
        await self._groups.delete_group(group)
        await self._groups.flush()
        await self._recompute(members)
        await self._audit.append(
            actor=SCIM_ACTOR,
            action="group.deleted",
            subject=f"group:{group_id}",
            details={"display_name": group.display_name, "via": "scim"},
        )

    async def _rename(self, group: ScimGroup, name: str, members: set[str]) -> None:
        other = await self._groups.group_by_name(name)
        if other is not None and other.id != group.id:
            raise Conflict(f"a group named {name!r} exists", code="uniqueness")
        group.display_name = name
        group.updated_at = utcnow()
        await self._groups.flush()
        await self._recompute(members)

    @staticmethod
    def _member_ids(raw: Any) -> list[str]:
        items = raw if isinstance(raw, list) else [raw]
        ids = []
        for item in items:
            value = item.get("value") if isinstance(item, dict) else None
            if not isinstance(value, str) or not value:
                raise ScimError('members are objects with a "value" (the user\'s id)', "invalidValue")
            ids.append(value)
        return ids

    async def _known(self, ids: list[str]) -> set[str]:
        known = set()
        for user_id in ids:
            if await self._users.get(user_id) is None:
                raise NotFound(f"no user with id {user_id!r}: members are users by their SCIM id")
            known.add(user_id)
        return known

    async def _set_members(self, group: ScimGroup, before: set[str], after: set[str]) -> None:
        if before != after:
            await self._groups.set_members(group.id, after)
            group.updated_at = utcnow()
            await self._groups.flush()
            await self._audit.append(
                actor=SCIM_ACTOR,
                action="group.members_changed",
                subject=f"group:{group.id}",
                details={
                    "display_name": group.display_name,
                    "added": sorted(after - before),
                    "removed": sorted(before - after),
                    "via": "scim",
                },
            )
        await self._recompute(before ^ after)

    async def _recompute(self, user_ids: set[str]) -> None:
        for user_id in sorted(user_ids):
            user = await self._users.get(user_id)
            if user is None:
                continue
            change = apply_groups(user, await self._groups.group_names_of(user_id), self._role_map, SCIM)
            if not change.changed:
                continue
            user.updated_at = utcnow()
            if change.removed:
                # Access tokens issued until now carry the role: every service refuses them.
                user.tokens_revoked_at = user.updated_at
            await self._users.flush()
            await self._audit.append(
                actor=SCIM_ACTOR,
                action="user.roles_changed",
                subject=f"user:{user.id}",
                details={
                    "via": "scim",
                    "groups": user.idp_groups,
                    "added": list(change.added),
                    "removed": list(change.removed),
                    "roles": user.roles,
                },
            )


def get_group_service(request: Request, session: SessionDep) -> ScimGroupService:
    settings: GatewaySettings = request.app.state.settings
    return ScimGroupService(session, role_map=settings.oidc_role_map, audit=request.app.state.audit)


GroupServiceDep = Annotated[ScimGroupService, Depends(get_group_service)]

scim_groups_router = APIRouter(
    prefix="/scim/v2/Groups",
    tags=["scim"],
    route_class=ScimRoute,
    dependencies=[Depends(scim_caller)],
    default_response_class=ScimJSONResponse,
)


def scim_group(group: ScimGroup, members: set[str]) -> ScimGroupOut:
    return ScimGroupOut(
        id=group.id,
        displayName=group.display_name,
        externalId=group.external_id,
        members=[ScimMember(value=m) for m in sorted(members)],
        meta=ScimGroupMeta(
            created=group.created_at, lastModified=group.updated_at, location=f"/scim/v2/Groups/{group.id}"
        ),
    )


def _json(model: ScimGroupOut | ScimGroupList, status_code: int = 200) -> JSONResponse:
    return JSONResponse(
        model.model_dump(mode="json", exclude_none=True), status_code=status_code, media_type=SCIM_MEDIA_TYPE
    )


@scim_groups_router.get("", response_model=ScimGroupList)
async def list_groups(
    groups: GroupServiceDep,
    filter: Annotated[str | None, Query(max_length=300, pattern=GROUP_FILTER_PATTERN)] = None,
    startIndex: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    count: Annotated[int, Query(ge=0, le=200)] = 100,
) -> JSONResponse:
    """Groups, optionally `filter=displayName eq "name"`."""
    name = None
    if filter is not None:
        match = GROUP_FILTER.match(filter)
        if match is None:
            raise ScimError('only the filter displayName eq "<name>" is supported', "invalidFilter")
        name = match.group(1)
    everything = await groups.find(name)
    page = everything[startIndex - 1 : startIndex - 1 + count]
    return _json(
        ScimGroupList(
            totalResults=len(everything),
            startIndex=startIndex,
            itemsPerPage=len(page),
            Resources=[scim_group(g, m) for g, m in page],
        )
    )


@scim_groups_router.post("", response_model=ScimGroupOut, status_code=201)
async def create_group(body: ScimGroupIn, groups: GroupServiceDep) -> JSONResponse:
    return _json(scim_group(*await groups.create(body)), status_code=201)


@scim_groups_router.get("/{group_id}", response_model=ScimGroupOut)
async def get_group(group_id: str, groups: GroupServiceDep) -> JSONResponse:
    return _json(scim_group(*await groups.get(group_id)))


@scim_groups_router.put("/{group_id}", response_model=ScimGroupOut)
async def replace_group(group_id: str, body: ScimGroupIn, groups: GroupServiceDep) -> JSONResponse:
    return _json(scim_group(*await groups.replace(group_id, body)))


@scim_groups_router.patch("/{group_id}", response_model=ScimGroupOut)
async def patch_group(group_id: str, patch: ScimGroupPatch, groups: GroupServiceDep) -> JSONResponse:
    """Members added, removed or replaced; the display name replaced."""
    return _json(scim_group(*await groups.patch(group_id, patch)))


@scim_groups_router.delete("/{group_id}", status_code=204)
async def delete_group(group_id: str, groups: GroupServiceDep) -> Response:
    await groups.delete(group_id)
    return Response(status_code=204)
