from alembic import context

from services.kit.db import run_migrations
from services.review import ae_case_models  # noqa: F401 (its tables on the same metadata)
from services.review.models import Base

run_migrations(context.config, Base.metadata)
