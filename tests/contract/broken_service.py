"""A tiny API with one deliberate bug, for proving that the fuzz gate finds a 500.

`GET /api/average?total=..&count=..` divides without checking `count`, as real code does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query
from pydantic import BaseModel


class Average(BaseModel):
    average: float


def create_app() -> FastAPI:
    app = FastAPI(title="broken on purpose")

    @app.get("/api/health", operation_id="health", summary="always fine")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/average", operation_id="average", summary="total / count", response_model=Average)
    def average(total: Annotated[int, Query()], count: Annotated[int, Query(ge=0, le=100)]) -> Average:
        return Average(average=total / count)  # the bug: count=0 raises ZeroDivisionError -> 500

    return app
