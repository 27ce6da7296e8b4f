"""Request dependencies every service shares (typed aliases, as in services' own deps.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import session_scope


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request, on the app's sessionmaker (built once in its lifespan)."""
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


# scope="function": commit (or roll back) before the response is sent. With the default request
# scope FastAPI sends the response first, so a client's next request could miss what it was just
# told exists, and a failed commit would follow a 2xx.
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
