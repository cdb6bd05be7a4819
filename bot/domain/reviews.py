"""A post-mortem's review: draft -> in review -> published, with an owner and a due date.
Pure rules; bot/services/reviews.py applies them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.domain.incident import DomainError


class ReviewState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"

    @property
    def words(self) -> str:
        return self.value.replace("_", " ")


def check_review(state: ReviewState | None, wanted: ReviewState, command: str) -> None:
    """Refuse a move the lifecycle does not allow, saying what to do instead."""
    if state is None:
        raise DomainError(f"There is no post-mortem draft yet: `{command} postmortem` writes one.")
    if state is ReviewState.PUBLISHED:
        raise DomainError("The post-mortem is published already; it is final.")
    if wanted is ReviewState.IN_REVIEW and state is ReviewState.IN_REVIEW:
        raise DomainError("The post-mortem is in review already; `publish` it when the review is done.")
    if wanted is ReviewState.PUBLISHED and state is ReviewState.DRAFT:
        raise DomainError(f"Put it in review first: `{command} postmortem review`.")


def on_time(published_at: datetime | None, due_at: datetime | None, now: datetime) -> str:
    """How a post-mortem stands against its due date: on_time, late, missing or pending."""
    if published_at is not None:
        return "on_time" if due_at is None or published_at <= due_at else "late"
    if due_at is not None and due_at < now:
        return "missing"
    return "pending"
