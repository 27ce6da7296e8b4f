"""What pre-approved crisis templates exchange through Temporal (docs/crisis-lane.md).

- PostApprovalWorkflow, once a `crisis_template` draft's full review approved it, asks the review
  service to record the template approval (RECORD_TEMPLATE_APPROVAL) instead of publishing.
- CrisisTemplatePostWorkflow (`crisis-template-<use id>`), started by the review service when one
  crisis holder publishes from a template, has the publisher post the filled draft at once
  (PUBLISH_TEMPLATE_POST, which checks both signed records itself) and records the outcome
  (RECORD_TEMPLATE_POST_STEP).
Inputs carry ids, hashes and signed records, never post text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CRISIS_TEMPLATE_POST_WORKFLOW = "CrisisTemplatePostWorkflow"

# The review service's activities (REVIEW_TASK_QUEUE).
RECORD_TEMPLATE_APPROVAL = "record_template_approval"
RECORD_TEMPLATE_POST_STEP = "record_template_post_step"
# The publisher's activity (PUBLISHER_TASK_QUEUE).
PUBLISH_TEMPLATE_POST = "publish_template_post"

TEMPLATE_STATE_QUERY = "template_post_state"


def template_post_workflow_id(use_id: str) -> str:
    return f"crisis-template-{use_id}"


@dataclass
class TemplateApprovalInput:
    """The approved template version and what approved it: the signed stage requirement and one
    signed approval per stage. The review service checks all of it again before it signs."""

    draft_id: str
    version: int
    content_hash: str
    requirement: str
    approvals: list[str] = field(default_factory=list)


@dataclass
class TemplateApproved:
    template_id: str
    version: int


@dataclass
class TemplatePostInput:
    use_id: str
    draft_id: str
    version: int
    content_hash: str
    channels: list[str]
    # The review service's signed template approval and signed use (workflows/crisis_templates.py).
    approval: str
    use: str


@dataclass
class TemplatePostStep:
    use_id: str
    step: str  # published | publish_failed
    reason: str = ""


@dataclass
class TemplatePostState:
    use_id: str
    status: str


@dataclass
class TemplatePostResult:
    use_id: str
    status: str
