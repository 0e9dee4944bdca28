"""The hold every billed request takes on its worst case before it is forwarded, with the errors
that refuse it. The settlement (or release) that ends it is the book's (billing/book.py)."""

from __future__ import annotations

import math

from omnigate.billing.book import CreditBook, InsufficientCredits, Reservation
from omnigate.billing.limits import LimitExceeded
from omnigate.billing.redis_book import CreditStoreUnavailable, RedisCreditBook
from omnigate.errors import OUT_OF_CREDITS, ApiError
from omnigate.store.rows import KeyRow


async def hold(book: CreditBook | RedisCreditBook, key: KeyRow, credits: int) -> Reservation:
    """Hold `credits` for a request of `key`, or the error that refuses it: 429 past a rate limit
    or budget, 403 out of credits, 503 when the credit store does not answer."""
    try:
        return await book.reserve(key, credits)
    except InsufficientCredits as exc:
        detail = f"This request may cost up to {exc.needed} credits; {exc.available} are available."
        raise ApiError(403, f"{OUT_OF_CREDITS} ({detail})", code="insufficient_credits") from exc
    except LimitExceeded as exc:
        headers = {}
        if exc.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        code = "rate_limit_exceeded" if exc.status == 429 else "budget_exhausted"
        raise ApiError(exc.status, exc.message, code=code, headers=headers) from exc
    except CreditStoreUnavailable as exc:
        raise ApiError(
            503,
            "Service unavailable: the credit store did not answer; try again.",
            code="credit_store_unavailable",
        ) from exc
