"""What the leased tables share (tasks, batch requests, assistant runs): a row a runner may take is
one whose lease is unset or has run out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, or_
from sqlalchemy.sql.elements import ColumnElement


def lease_free(table: Table, stamp: datetime) -> ColumnElement[bool]:
    return or_(table.c.lease_until.is_(None), table.c.lease_until < stamp)
