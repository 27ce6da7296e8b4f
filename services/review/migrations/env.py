from alembic import context

from services.kit.db import run_migrations
from services.review import ae_case_models  # noqa: F401 (its tables on the same metadata)
from services.review.models import Base
from services.review.notifications import models as notification_models

assert notification_models.InboxItem.metadata is Base.metadata  # the notification tables migrate too
run_migrations(context.config, Base.metadata)
