"""What every ``/api/v1`` route shares: the context, bodies read after the caller is known,
one pagination scheme, and domain errors turned into the right 4xx.

Pagination, everywhere: ``?limit=`` (1-200, default 50) and ``?after=`` (an id, default 0)
return the items with an id above ``after``, oldest first, and ``next``: the ``after`` of the
next page, or null on the last one. Keyset, so a page never repeats or skips an item when
new ones arrive between two requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import HTTPException, Query, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from crisiscast.config import Settings
from crisiscast.errors import (
    AccessError,
    ConfigError,
    CrisiscastError,
    NotFoundError,
    PlaybookError,
    StoreError,
)
from crisiscast.incidents.people.approvals import AlreadyDecided
from crisiscast.incidents.store.database import Store
from crisiscast.web.auth import CSRF_HEADER, SAFE_METHODS, Principal, check_csrf
from crisiscast.web.request_checks import BadRequest, read_limited

BODY_LIMIT = 64 * 1024  # an API body names files, texts and a few parameters
MAX_LIMIT = 200
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the store: a bigger one names nothing

Model = TypeVar("Model", bound=BaseModel)
Item = TypeVar("Item")


@dataclass(frozen=True)
class Context:
    """What the routes need from the app: settings, the store and the role check."""

    settings: Settings
    store: Store
    require: Callable[[str], Callable[[Request], Principal]]

    def need(self, action: str) -> Callable[[Request], Principal]:
        """``require(action)``, and for a console session's change its CSRF token in
        ``X-CSRF-Token`` whatever the body's type (a form post, or none, included)."""
        check_role = self.require(action)

        def dependency(request: Request) -> Principal:
            principal = check_role(request)
            if request.method not in SAFE_METHODS:
                try:
                    check_csrf(principal, request.headers.get(CSRF_HEADER))
                except AccessError as exc:
                    raise HTTPException(403, str(exc)) from None
            return principal

        return dependency

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction; domain errors become 4xx (see ``problem``)."""
        with answered(), self.store.session() as session:
            yield session


class Problem(BaseModel):
    """Why a request was refused: what is wrong and what to do."""

    detail: str | list[dict[str, Any]]


# Documented on every route, so each response can be checked against the OpenAPI document.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": why}
    for code, why in {
        400: "the request cannot be done as asked: the detail says why",
        401: "nobody signed in, or a wrong or revoked token",
        403: "your role may not do this, or the two-person rule refuses it",
        404: "no such incident, case, agent, user or approval",
        409: "the thing is not in a state that allows this",
        413: "the body is over 64 KiB",
        422: "a field is missing or wrong: the detail names it",
        503: "the incident store is not answering",
    }.items()
}


@contextmanager
def answered() -> Iterator[None]:
    """Turn the domain's errors into the status a client can act on, never a 500."""
    try:
        yield
    except HTTPException:
        raise
    except AccessError as exc:
        raise HTTPException(403 if exc.signed_in else 401, str(exc)) from None
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except AlreadyDecided as exc:
        raise HTTPException(409, str(exc)) from None
    except (PlaybookError, ConfigError) as exc:
        raise HTTPException(422, str(exc)) from None
    except StoreError as exc:
        if isinstance(exc.__cause__, OperationalError | InterfaceError):  # the database is away
            raise HTTPException(503, "the incident store is not answering; try again") from None
        raise HTTPException(409, str(exc)) from None
    except CrisiscastError as exc:
        raise HTTPException(400, str(exc)) from None


class Page(BaseModel, Generic[Item]):
    """One page of a list: ``next`` is the ``after`` of the next page (null: the last)."""

    items: list[Item]
    next: int | None


@dataclass(frozen=True)
class Paging:
    limit: int
    after: int


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 50,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="The `next` of the previous page")
    ] = 0,
) -> Paging:
    """The pagination query parameters, the same on every list."""
    return Paging(limit, after)


def page_of(
    rows: Sequence[Any], paging: Paging, key: Callable[[Any], int]
) -> tuple[list[Any], int | None]:
    """The first ``limit`` rows and the next cursor; ``rows`` holds up to ``limit + 1``."""
    shown = list(rows[: paging.limit])
    more = len(rows) > paging.limit
    return shown, key(shown[-1]) if more and shown else None


def json_body(model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A dependency that reads the JSON body after the caller was checked (a dependency
    listed before it), within ``BODY_LIMIT``; 422 names each bad field."""

    async def read(request: Request) -> Model:
        try:
            raw = await read_limited(request, BODY_LIMIT)
        except BadRequest as exc:
            raise HTTPException(exc.status, str(exc)) from None
        try:
            return model.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
                for error in exc.errors(
                    include_url=False, include_context=False, include_input=False
                )
            ]
            raise HTTPException(422, "; ".join(problems)) from None

    return read


def no_body(request: Request) -> None:
    """For routes that take no body: one declared over ``BODY_LIMIT`` is refused (413) unread,
    as on every other route, instead of being ignored."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > BODY_LIMIT:
        raise HTTPException(413, f"body of {declared} bytes is over the {BODY_LIMIT}-byte limit")


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of ``model`` (read by ``json_body``, not by FastAPI)."""
    schema = model.model_json_schema()  # bodies are flat: no $defs to place in components
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def permission(action: str) -> dict[str, Any]:
    """The role-matrix action a route checks, in the OpenAPI document (``x-permission``)."""
    return {"x-permission": action}
