from alembic import context

from services.audit.models import Base
from services.kit.db import run_migrations

run_migrations(context.config, Base.metadata)
