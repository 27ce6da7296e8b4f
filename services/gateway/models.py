from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import UTCDateTime, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the account is closed (kept, never deleted: the audit trail names it); every service
    # refuses the user's tokens from then on (the revocation list).
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The identity provider's `sub` for a user who signs in through it (null: a local account).
    idp_subject: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    # The provider's groups as last heard: from the ID token at sign-in, or over SCIM Groups.
    idp_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Where each role came from (role -> `local`, `idp` or `scim`), for the access review.
    role_sources: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Set when the provider took a role away: access tokens issued until then are refused by every
    # service (the revocation list), as a deactivated user's are.
    tokens_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RefreshToken(Base):
    """A long-lived credential to get new access tokens without the password (rotated on each use).

    Only the SHA-256 of the opaque token is stored. Tokens descending from one sign-in share a
    `family_id`: presenting an already-rotated token revokes the whole family (it was copied).
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginThrottle(Base):
    """Failed password entries of one account or one client address within the current window.

    `key` is `account:<username>` or `address:<ip>`. In the database, not in memory, so neither a
    restart nor a second gateway process resets the count.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OidcLogin(Base):
    """One authorization request sent to the identity provider, waiting for its callback.

    Keyed by SHA-256 of `state`; taken once (`used_at`). The nonce and the PKCE verifier never
    leave the gateway. `purpose` is `login` or `signing`; a signing request names its user and
    the decision it is for (`binding`, the SHA-256 of draft, version, content hash and stage).
    """

    __tablename__ = "oidc_logins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    binding: Mapped[str | None] = mapped_column(String(64), nullable=True)
    context: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SigningReauthentication(Base):
    """Proof that a user just authenticated at the identity provider for one decision.

    The review service redeems it once (by the SHA-256 of its handle) when it signs that decision.
    """

    __tablename__ = "signing_reauthentications"

    handle_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    binding: Mapped[str] = mapped_column(String(64))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    acr: Mapped[str | None] = mapped_column(String(200), nullable=True)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ScimGroup(Base):
    """A group the identity provider pushes over SCIM 2.0; its display name is a role-map key."""

    __tablename__ = "scim_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScimGroupMember(Base):
    __tablename__ = "scim_group_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("scim_groups.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class IdpSession(Base):
    """A provider session (`sid` of the ID token, kept as a digest) a user signed in with: a
    back-channel logout that names only the session ends that user's sign-ins."""

    __tablename__ = "idp_sessions"

    sid_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
