from alembic import context

from services.kit.db import run_migrations
from services.publisher.models import Base

run_migrations(context.config, Base.metadata)
