"""Roles from the identity provider: its groups through the role map, and where each role came from.

A user's roles are the ones an admin gave (`local`) plus the ones their provider groups map to
(`idp` when the groups came in the ID token at sign-in, `scim` when the provider pushed them over
SCIM Groups). A group the map does not name gives no role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.gateway.models import User

LOCAL = "local"
IDP = "idp"
SCIM = "scim"


@dataclass(frozen=True)
class RoleChange:
    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def mapped_roles(groups: Iterable[str], role_map: Mapping[str, list[str]]) -> set[str]:
    return {role for group in groups for role in role_map.get(group, [])}


def local_roles(user: User) -> set[str]:
    """The roles an admin gave; every role of a user from before role sources were kept is one."""
    sources = user.role_sources or {}
    return {role for role in user.roles if sources.get(role, LOCAL) == LOCAL}


def apply_groups(
    user: User, groups: Iterable[str], role_map: Mapping[str, list[str]], source: str
) -> RoleChange:
    """Set the user's provider groups (as `source` told them) and recompute roles and their sources."""
    before = set(user.roles)
    local = local_roles(user)
    user.idp_groups = sorted(set(groups))
    from_groups = mapped_roles(user.idp_groups, role_map) - local
    user.roles = sorted(local | from_groups)
    user.role_sources = {**{r: LOCAL for r in local}, **{r: source for r in from_groups}}
    after = set(user.roles)
    return RoleChange(added=tuple(sorted(after - before)), removed=tuple(sorted(before - after)))


def set_local_roles(user: User, roles: Iterable[str]) -> None:
    """An admin's roles; roles the provider's groups give stay, with their source."""
    local = set(roles)
    provider = {r: s for r, s in (user.role_sources or {}).items() if s != LOCAL and r not in local}
    user.roles = sorted(local | set(provider))
    user.role_sources = {**{r: LOCAL for r in local}, **provider}
