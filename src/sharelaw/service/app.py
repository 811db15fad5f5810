"""The routes of the decision service (docs/service.md).

Every decision goes through the same code as the CLI: the body is read with the CLI's JSON
checks (``cli._common.parse_json_bytes``: size, encoding, duplicate keys), validated with
``validate_request`` and decided by one ``Engine`` per worker, and the decision document is
``cli._common.to_json(decision.model_dump(mode="json"))``, byte for byte what
``sharelaw decide --format json`` prints. The decision id is in the ``Decision-Id`` header
(with ``Location`` when recorded); the bundle hash is in ``Sharelaw-Bundle-Hash`` on every
response. Fail closed: a fault is a 500 problem with no decision, and nothing recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import time
import uuid
from datetime import date
from typing import Any, AsyncIterator, Awaitable, Callable, Literal, MutableMapping, NamedTuple

import anyio
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._json import decision_json
from .._version import __version__
from ..audit import Action, AuditError, AuditLog, DuplicateRecord, LogNotFound
from ..audit.record import Actor
from ..cli._common import duplicate_key_errors, load_bundle, parse_json_bytes, to_json
from ..decision import Decision
from ..engine.pipeline import Engine, validate_request
from ..errors import FieldError, RequestError, SharelawError
from ..law.eras import SCOPE_START
from ..request import SharingRequest
from ..rules.bundle import Bundle
from ..vocab import Stage
from .config import ServiceConfig
from .docs_page import DOCS_HTML, DOCS_JS
from .jobs import Jobs, JobsFull
from .metrics import Metrics
from .problems import MEDIA_TYPE as PROBLEM
from .problems import SCHEMA as PROBLEM_SCHEMA
from .problems import Problem, problem_bytes
from .tokens import Token, TokenFile

JSON = "application/json"
JSONLD = "application/ld+json"
BUNDLE_HEADER = "Sharelaw-Bundle-Hash"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


_LOG = logging.getLogger("sharelaw.service")


def _logged(doing: str, exc: BaseException) -> str:
    """Log a fault with its traceback under a new id, and return the id for the client."""
    ref = uuid.uuid4().hex[:12]
    _LOG.error("error %s while %s: %s: %s", ref, doing, type(exc).__name__, exc, exc_info=exc)
    return ref


class Service:
    """What one worker holds: the tokens, the engine (rules loaded once), the log, the jobs."""

    def __init__(self, config: ServiceConfig, bundle: Bundle | None = None) -> None:
        self.config = config
        self.tokens = TokenFile.load(config.tokens)
        if bundle is None:
            # Parsed from the files themselves, never the parse cache (rules/cache.py): a service
            # must decide on exactly the files its bundle hash names, and the cache is the one
            # place a process that can write the user's home could change them.
            bundle = load_bundle(config.rules, cache=False) if config.rules else Bundle.load(cache=False)
        self.engine = Engine(bundle, evaluator=config.evaluator, cross_check=config.cross_check)  # type: ignore[arg-type]
        self.bundle = self.engine.bundle
        self.log: AuditLog | None = AuditLog.open(config.log, create=True) if config.log else None
        self.metrics = Metrics()
        self.jobs = Jobs(config.jobs_dir, max_jobs=config.max_jobs, retention_seconds=config.job_retention_seconds)

    def close(self) -> None:
        self.jobs.close()
        if self.log is not None:
            self.log.close()
        self.engine.close()

    # ----------------------------------------------------------- deciding

    def decide(self, data: Any, token: Token, record: bool, idempotency_key: str | None = None) -> "Decided":
        """The decision (and its record). Raises Problem for everything refused.

        With ``idempotency_key`` and ``record``, the record's id is derived from the token's
        identity and the key (``idempotent_record_id``): if that record is already in the log
        (an earlier attempt whose answer the client did not get: a timeout, a lost connection),
        its decision is returned as it was recorded, and nothing is decided or appended again;
        the same key with a different request is refused (422 ``idempotency_key_reused``)."""
        started = time.perf_counter()
        record_id = idempotent_record_id(token.id, idempotency_key) if record and idempotency_key is not None else None
        try:
            request = validate_request(data)
            earlier = self._recorded(record_id, request, token) if record_id is not None else None
            if earlier is not None:
                return earlier
            decision = self.engine.decide(request)
        except Problem:
            raise  # from _recorded: a reused key, or the log unreadable
        except RequestError as exc:
            raise Problem.from_request_error(exc) from None
        except Exception as exc:  # EngineError, or anything else: fail closed, no decision
            # The fault's own text (rule ids, engine state, paths) stays in the server's log;
            # the client gets an id to quote.
            ref = _logged("deciding", exc)
            raise Problem(500, "engine_error", f"internal error while deciding (error {ref}, in the "
                          "service's log); nothing was decided or recorded") from exc
        self.metrics.decided(decision.outcome.value, time.perf_counter() - started)
        if not record:
            return Decided(uuid.uuid4().hex, decision, None)
        log = self.need_log()
        try:
            rec = log.record(decision, request, actor=Actor.model_validate(token.actor()), bundle=self.bundle,
                             record_id=record_id)
        except DuplicateRecord:
            # another attempt with the same key was appended meanwhile (a retry racing the first)
            earlier = self._recorded(record_id or "", request, token)
            if earlier is None:  # pragma: no cover - the store said it is there
                raise Problem(500, "log_error", "the decision could not be recorded; it is not returned") from None
            return earlier
        except Exception as exc:  # the decision is not returned: it is not durable
            ref = _logged("recording a decision", exc)
            raise Problem(500, "log_error", f"the decision could not be recorded (error {ref}, in the service's "
                          "log); it is not returned") from exc
        self.metrics.appended("decision")
        return Decided(rec.decision_id, decision, rec.hash)

    def _recorded(self, record_id: str, request: SharingRequest, token: Token) -> "Decided | None":
        """The decision recorded under ``record_id`` for this same request by this same actor, if any.

        The record id names the token by its id only, and token ids are unique within one token
        file, not across the instances that share a log: a record whose actor is not this
        token's is another identity's, and is never given to this one (refused like a reused key)."""
        log = self.need_log()
        try:
            found = log.get(record_id)
        except KeyError:
            return None
        except Exception as exc:
            ref = _logged("reading the log", exc)
            raise Problem(500, "log_error", f"the audit log could not be read (error {ref}, in the service's "
                          "log); nothing was decided or recorded") from exc
        try:
            same_actor = found.actor == Actor.model_validate(token.actor())
        except Exception:  # noqa: BLE001 - an unreadable actor is not this token's
            same_actor = False
        if not same_actor or found.request != request.model_dump(mode="json", warnings=False):
            message = ("this Idempotency-Key was used for a different request; use a new key for a new "
                       "request")
            raise Problem.one_field("idempotency_key_reused", "header.idempotency-key", message,
                                    detail=message + "; nothing was decided or recorded")
        self.metrics.replayed()
        return Decided(found.decision_id, found.decision, found.hash, replayed=True)

    async def answer(self, raw: bytes, token: Token, wanted: bool,
                     render: Callable[[Decision, SharingRequest], dict[str, Any]] | None = None,
                     idempotency_key: str | None = None) -> tuple[str, bytes, str | None]:
        """One request's body parsed, decided and serialised: (decision id, document, and for an
        earlier recorded answer given again (``Service.decide``) the bundle hash it was decided
        under, else None). Raises Problem.

        With ``render`` (JSON-LD) the document is rendered with the request, so that purpose,
        data, consent and parties are described too. Parsing, deciding and serialising are one
        thread hop when a thread is needed (recorded, JSON-LD, or a body over ON_LOOP_MAX_BYTES);
        otherwise they run on the event loop (the engine holds its own lock: a batch or recorded
        decision in a thread waits at most one fire).
        """
        def work() -> tuple[str, bytes, str | None]:
            data = parse_body(raw)
            done = self.decide(data, token, wanted, idempotency_key)
            replayed = done.decision.bundle_hash if done.replayed else None
            if render is not None:
                document = render(done.decision, validate_request(data))
                return done.decision_id, json.dumps(document, ensure_ascii=False).encode(), replayed
            return done.decision_id, decision_bytes(done.decision), replayed

        if wanted or render is not None or len(raw) > ON_LOOP_MAX_BYTES:
            done: tuple[str, bytes, str | None] = await in_thread(self, work)
            return done
        return on_loop(self, work)  # type: ignore[no-any-return]

    def need_log(self) -> AuditLog:
        if self.log is None:
            raise Problem(409, "log_not_configured", "this service has no audit log: start it with --log")
        return self.log

    def record_wanted(self, record: bool | None) -> bool:
        if self.config.record_required:
            if record is False:
                message = "this service records every decision (--record required): record=false is refused"
                raise Problem.one_field("record_required", "query.record", message,
                                        detail=message + "; nothing was decided")
            self.need_log()
            return True
        wanted = self.config.record_default if record is None else record
        if wanted:
            self.need_log()
        return wanted


def decision_headers(decision_id: str, recorded: bool, replayed: str | None = None) -> dict[str, str]:
    """The headers of a decision's response (besides the content's, and the bundle hash but for
    ``replayed``: an earlier recorded answer given again, decided under the bundle hash given,
    which need not be this service's if its rules changed since; ``BundleHeader`` leaves it)."""
    headers = {"Decision-Id": decision_id}
    if recorded:
        headers["Location"] = f"/v1/decisions/{decision_id}"
    if replayed is not None:
        headers["Idempotent-Replayed"] = "true"
        headers[BUNDLE_HEADER] = replayed
    return headers


class Decided(NamedTuple):
    """What ``Service.decide`` gives: the decision's id, the decision, its record's hash (None
    when not recorded), and whether it is an earlier recorded answer given again."""

    decision_id: str
    decision: Decision
    hash: str | None
    replayed: bool = False


#: ``Idempotency-Key`` (draft-ietf-httpapi-idempotency-key-header): visible ASCII, 1-255 characters.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "With recording: a key of the caller's choosing for this request. A retry with the same key "
    "(after a timeout or a lost connection) gets the decision recorded by the first attempt, if it was recorded, "
    "instead of a second record; the same key with a different request is a 422 problem. Without recording it "
    "changes nothing.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


def idempotent_record_id(token_id: str, key: str) -> str:
    """The record id of the decision a token asked for under ``key``: the same token and key
    always name the same record, and another token's same key another one."""
    return hashlib.sha256(f"sharelaw-idempotency\x1f{token_id}\x1f{key}".encode("utf-8")).hexdigest()[:32]


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key``, or None; 422 if it is malformed or given twice."""
    values = request.headers.getlist("idempotency-key")
    if not values:
        return None
    if len(values) > 1 or not IDEMPOTENCY_KEY.fullmatch(values[0]):
        message = "Idempotency-Key must be given once, as 1 to 255 visible ASCII characters"
        raise Problem.one_field("idempotency_key_invalid", "header.idempotency-key", message,
                                detail=message + "; nothing was decided or recorded")
    return values[0]


def decision_bytes(decision: Decision) -> bytes:
    """Exactly what ``sharelaw decide --format json`` prints."""
    return decision_json(decision.model_dump(mode="json")).encode("utf-8")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to exceed ``limit`` (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "request_too_large", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "request_too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(raw: bytes, *, duplicates: bool = True) -> Any:
    try:
        return parse_json_bytes(raw, "the request body", duplicates=duplicates)
    except RequestError as exc:
        raise Problem.from_request_error(exc) from None


#: The largest body of an unrecorded decision decided on the event loop itself (64 KiB: 56 times the
#: largest example). A larger one, a recorded one, JSON-LD and all other long work go to a thread.
ON_LOOP_MAX_BYTES = 64 << 10


def timed_out(service: Service) -> Problem:
    return Problem(503, "timeout", f"not answered within {service.config.timeout_seconds:g} s; "
                   "nothing is returned (a recorded decision may still be appended)")


async def in_thread(service: Service, work: Callable[[], Any]) -> Any:
    """``work`` on a worker thread, bounded by the request timeout (503 after it)."""
    with anyio.move_on_after(service.config.timeout_seconds) as scope:
        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    if scope.cancelled_caught:
        raise timed_out(service)


def on_loop(service: Service, work: Callable[[], Any]) -> Any:
    """``work`` on the event loop's own thread: no thread handoff (measured in docs/performance.md).

    For short work only (an unrecorded decision of a small body: about a millisecond). It
    cannot be interrupted, so the request timeout is checked when it ends: work that took
    longer is answered with the same 503 problem as ``in_thread`` gives, and its result is
    dropped, so that nothing is returned after the timeout (docs/service.md, "Limits").
    """
    started = time.monotonic()
    result = work()
    if time.monotonic() - started > service.config.timeout_seconds:
        raise timed_out(service)
    return result


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def responses(ok: int, schema: dict[str, Any] | None, *errors: int, media: str = JSON,
              headers: dict[str, Any] | None = None, links: dict[str, Any] | None = None,
              ) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of one operation: its success and every problem it can give."""
    out: dict[int | str, dict[str, Any]] = {ok: {"description": "OK", "content": {media: {"schema": schema or {}}}}}
    if headers:
        out[ok]["headers"] = headers
    if links:
        out[ok]["links"] = links
    for status in errors:
        out[status] = {"description": "A problem (RFC 9457)", "content": {PROBLEM: {"schema": _ref("Problem")}}}
    return out


AUTH = (401, 403, 500)
DECISION_HEADERS = {
    "Decision-Id": {"description": "The decision's id (the audit record's id when recorded).", "schema": {"type": "string"}},
    BUNDLE_HEADER: {"description": "The content hash of the rules that decided.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "true: this is the decision recorded earlier under the same "
                            "Idempotency-Key, given again (nothing was decided or recorded now).",
                            "schema": {"type": "string", "enum": ["true"]}},
}

DECISION_LINKS = {
    name: {"operationId": op, "parameters": {"decision_id": "$response.header.Decision-Id"},
           "description": "A recorded decision's id (with ?record=true)"}
    for name, op in (("GetDecision", "getDecision"), ("RecordAction", "recordAction"))
}


def create_app(config: ServiceConfig, bundle: Bundle | None = None) -> FastAPI:
    service = Service(config, bundle)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(title="sharelaw decision service", version=__version__, openapi_url=None, docs_url=None,
                  redoc_url=None, lifespan=lifespan, description="May, must or must not a public agency in England share a person's "
                  "information? Decided stage by stage, citing the law. Supports a decision; not legal advice.")
    app.state.service = service
    bearer = HTTPBearer(auto_error=False, description="A token from `sharelaw token new`.")

    def need(*roles: str) -> Any:
        # async: a plain ``def`` dependency is run on a worker thread, a second thread hop per request
        async def check(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Token:
            challenge = {"WWW-Authenticate": 'Bearer realm="sharelaw"'}
            if creds is None:
                raise Problem(401, "unauthenticated", "a bearer token is required (Authorization: Bearer ...)",
                              headers=challenge)
            token = service.tokens.find(creds.credentials)
            if token is None:
                raise Problem(401, "token_invalid", "the bearer token is not known", headers=challenge)
            if not token.has(*roles):
                raise Problem(403, "forbidden", f"this needs the role {' or '.join(roles)}; the token "
                              f"{token.id!r} has {', '.join(token.roles)}")
            return token
        return Depends(check)

    # ------------------------------------------------------------------ errors

    def problem_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None,
                         **extra: Any) -> Response:
        return Response(problem_bytes(status, code, detail, **extra), status_code=status, media_type=PROBLEM,
                        headers=headers)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        service.metrics.error(exc.code)
        return problem_response(exc.status, exc.code, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "code": e["type"]} for e in exc.errors()]
        service.metrics.error("parameters_invalid")
        return problem_response(422, "parameters_invalid", f"{len(errors)} error(s) in the parameters",
                                count=len(errors), errors=errors[:100])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> Response:
        service.metrics.error("internal_error")
        return problem_response(500, "internal_error", f"internal error: {type(exc).__name__}")

    # ------------------------------------------------------------------ decisions

    record_param = Query(None, description="Append the decision to the audit log and answer once it is durable "
                         "(default: the service's --record setting; with --record required, false is a 422).")

    @app.post("/v1/decisions", tags=["decisions"], summary="Decide one sharing request",
              responses=responses(200, _ref("Decision"), 406, 409, 413, 422, 503, *AUTH, headers=DECISION_HEADERS,
                                  links=DECISION_LINKS),
              openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": _ref("SharingRequest")}}},
                             "parameters": [IDEMPOTENCY_PARAMETER]})
    async def decide(request: Request, record: bool | None = record_param, token: Token = need("decider")) -> Response:
        # The same route is served by fast_route.FastDecisions for all but the rarer cases, which it
        # leaves to this one; both call Service.answer and decision_headers.
        wanted = service.record_wanted(record)
        key = idempotency_key(request)
        render = _jsonld() if JSONLD in request.headers.get("accept", "") else None
        raw = await read_body(request, config.max_body_bytes)
        decision_id, body, replayed = await service.answer(raw, token, wanted, render, key)
        return Response(body, media_type=JSONLD if render else JSON,
                        headers=decision_headers(decision_id, wanted, replayed))

    batch_schema = {
        "type": "object", "required": ["requests"], "additionalProperties": False,
        "properties": {"requests": {"type": "array", "maxItems": config.max_batch, "items": {
            "description": "A request (the SharingRequest schema). Each is validated and answered on its own: "
            "an invalid one is a 422 problem among the results, never a failure of the batch."}}},
    }

    @app.post("/v1/decisions/batch", tags=["decisions"], summary="Decide several requests, each on its own",
              responses=responses(200, _ref("BatchResult"), 409, 413, 422, 503, *AUTH),
              openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": batch_schema}}}})
    async def batch(request: Request, record: bool | None = record_param, token: Token = need("decider")) -> Response:
        wanted = service.record_wanted(record)
        if "idempotency-key" in request.headers:
            # never ignored silently: a caller sending one expects a retry not to record twice
            message = "a batch takes no Idempotency-Key: retry its items as single decisions, each with its key"
            raise Problem.one_field("idempotency_key_unsupported", "header.idempotency-key", message,
                                    detail=message + "; nothing was decided or recorded")
        raw = await read_body(request, config.max_batch_body_bytes)
        data = await in_thread(service, lambda: parse_body(raw, duplicates=False))  # up to 16 MiB: off the loop
        top = duplicate_key_errors(data, shallow=True)
        if top:
            raise Problem.from_request_error(RequestError(top, code="request_duplicate_key"))
        if not isinstance(data, dict) or set(data) != {"requests"} or not isinstance(data["requests"], list):
            error = FieldError("<body>", "a batch is an object {\"requests\": [REQUEST, ...]}", "batch_invalid")
            raise Problem.from_request_error(RequestError([error], code="batch_invalid"))
        items: list[Any] = data["requests"]
        if len(items) > config.max_batch:
            message = f"{len(items)} requests; a batch holds at most {config.max_batch}"
            raise Problem.one_field("batch_too_large", "requests", message, error_code="too_many")

        def run() -> list[dict[str, Any]]:
            results = []
            for index, item in enumerate(items):
                try:
                    dups = duplicate_key_errors(item)
                    if dups:
                        raise Problem.from_request_error(RequestError(dups, code="request_duplicate_key"))
                    decision_id, decision, _, _ = service.decide(item, token, wanted)
                except Problem as exc:
                    service.metrics.error(exc.code)
                    results.append({"index": index, "status": exc.status, "problem": exc.document()})
                    continue
                results.append({"index": index, "status": 200, "decision_id": decision_id, "recorded": wanted,
                                "decision": decision.model_dump(mode="json")})
            return results

        results = await in_thread(service, run)
        body = {"bundle_hash": service.bundle.content_hash, "count": len(results),
                "decided": sum(r["status"] == 200 for r in results), "results": results}
        return Response(json.dumps(body, ensure_ascii=False).encode(), media_type=JSON)

    @app.get("/v1/decisions/{decision_id}", tags=["decisions"], operation_id="getDecision", summary="A recorded decision and its actions",
             responses=responses(200, _ref("RecordShown"), 404, 409, *AUTH))
    async def show(decision_id: str, token: Token = need("decider", "auditor")) -> Response:
        log = service.need_log()

        def read() -> dict[str, Any]:
            try:
                rec = log.get(decision_id)
            except KeyError:
                raise Problem(404, "decision_not_found", f"no decision {decision_id} in the log") from None
            if not token.has("auditor") and rec.body["actor"] != token.actor():
                raise Problem(403, "forbidden", "a decider reads back only the decisions it recorded")
            return {"record": rec.exported(), "actions": [a.exported() for a in log.actions(decision_id)]}

        return Response(to_json(await in_thread(service, read)).encode(), media_type=JSON)

    @app.post("/v1/decisions/{decision_id}/actions", tags=["decisions"], status_code=201, operation_id="recordAction",
              summary="Record what the practitioner did about a decision (domain.md section 7)",
              responses=responses(201, _ref("ActionRecorded"), 404, 409, 413, 422, *AUTH),
              openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": _ref("Action")}}}})
    async def act(decision_id: str, request: Request, token: Token = need("decider")) -> Response:
        log = service.need_log()
        data = parse_body(await read_body(request, config.max_body_bytes))
        try:
            action = Action.model_validate(data)
        except ValidationError as exc:
            errors = [{"loc": ".".join(str(p) for p in e["loc"]) or "<action>", "message": e["msg"], "code": e["type"]}
                      for e in exc.errors()]
            raise Problem(422, "action_invalid", f"{len(errors)} error(s) in the action; nothing was recorded",
                          count=len(errors), errors=errors[:100]) from None
        except (ValueError, OverflowError) as exc:
            raise Problem(422, "action_invalid", f"the action is invalid: {exc}") from None

        def append() -> dict[str, Any]:
            try:
                rec = log.get(decision_id)
            except KeyError:
                raise Problem(404, "decision_not_found", f"no decision {decision_id} in the log") from None
            if not token.has("admin") and rec.body["actor"] != token.actor():
                raise Problem(403, "forbidden", "a decider records actions on the decisions it recorded")
            try:
                done = log.record_action(decision_id, action, actor=Actor.model_validate(token.actor()))
            except AuditError as exc:
                ref = _logged("recording an action", exc)
                raise Problem(500, "log_error", f"the action could not be recorded (error {ref}, in the "
                              "service's log)") from exc
            service.metrics.appended("action")
            return {"record_id": done.record_id, "decision_id": decision_id, "seq": done.seq, "hash": done.hash}

        return Response(to_json(await in_thread(service, append)).encode(), status_code=201, media_type=JSON)

    # ------------------------------------------------------------------ rules and schemas

    @app.get("/v1/rules", tags=["rules"], summary="The rules (those in force on as_at, if given)",
             responses=responses(200, {"type": "object"}, 422, *AUTH))
    async def rules(as_at: date | None = Query(None, description="YYYY-MM-DD"),
                    stage: Stage | None = Query(None), token: Token = need("decider", "auditor")) -> Response:
        from ..cli.rules import list_document

        if as_at is not None and as_at < SCOPE_START:
            raise _before_scope("as_at", as_at)
        doc = await in_thread(service, lambda: list_document(service.bundle, as_at, stage.value if stage else None))
        return Response(to_json(doc).encode(), media_type=JSON)

    @app.get("/v1/rules/diff", tags=["rules"], summary="What came into force, ended or changed between two dates",
             responses=responses(200, {"type": "object"}, 422, *AUTH))
    async def rules_diff(start: date = Query(alias="from", description="YYYY-MM-DD"),
                         end: date = Query(alias="to", description="YYYY-MM-DD"),
                         token: Token = need("decider", "auditor")) -> Response:
        from ..cli.rules import diff_document

        for name, day in (("from", start), ("to", end)):
            if day < SCOPE_START:
                raise _before_scope(name, day)
        if end < start:
            raise Problem.one_field("parameters_invalid", "query.to", "to is before from", error_code="date_order")
        doc = await in_thread(service, lambda: diff_document(service.bundle, start, end))
        return Response(to_json(doc).encode(), media_type=JSON)

    schemas: dict[str, bytes] = {}

    @app.get("/v1/schema/{which}", tags=["rules"], summary="The JSON Schema of a request or a decision",
             responses=responses(200, {"type": "object"}, 422, *AUTH))
    async def schema(which: Literal["request", "decision"], token: Token = need("decider", "auditor")) -> Response:
        if which not in schemas:
            from ..cli.decide import SCHEMAS

            schemas[which] = to_json(SCHEMAS[which]()).encode()
        return Response(schemas[which], media_type=JSON)

    # ------------------------------------------------------------------ auditors

    @app.get("/v1/audit/head", tags=["audit"], summary="The log's last sequence number and hash, to publish",
             responses=responses(200, _ref("Head"), 409, *AUTH))
    async def head(token: Token = need("auditor")) -> Response:
        log = service.need_log()
        seq, digest = await in_thread(service, log.head)
        return Response(to_json({"seq": seq, "hash": digest}).encode(), media_type=JSON)

    def submit(kind: str, work: Callable[[AuditLog], tuple[bool, dict[str, Any]]], token: Token) -> Response:
        url = service.need_log().url

        def job() -> tuple[bool, dict[str, Any]]:
            with AuditLog.open(url, read_only=True) as log:  # its own connection: the decision path's is untouched
                return work(log)

        try:
            state = service.jobs.submit(kind, job, token.id)
        except JobsFull as exc:
            raise Problem(429, "too_many_jobs", f"{exc}: poll the jobs you started, then try again",
                          headers={"Retry-After": "5"}) from None
        return Response(to_json(state).encode(), status_code=202, media_type=JSON,
                        headers={"Location": f"/v1/jobs/{state['id']}"})

    @app.post("/v1/audit/verify", tags=["audit"], status_code=202,
              summary="Check the whole chain (a job: poll /v1/jobs/{id})",
              responses=responses(202, _ref("Job"), 409, 429, *AUTH))
    async def verify(token: Token = need("auditor")) -> Response:
        def work(log: AuditLog) -> tuple[bool, dict[str, Any]]:
            report = log.verify()
            return report.ok, report.to_dict()

        return submit("verify", work, token)

    @app.post("/v1/replay", tags=["audit"], status_code=202,
              summary="Re-run the log's decisions (a job: poll /v1/jobs/{id})",
              responses=responses(202, _ref("Job"), 409, 422, 429, *AUTH))
    async def replay(against: str | None = Query(None, pattern=r"^(current|sha256:[0-9a-f]{64})$",
                                                 description="current, or sha256:HASH of an archived bundle; "
                                                 "absent: reproduce each decision under its own rules"),
                     token: Token = need("auditor")) -> Response:
        from ..audit.replay import compare, reproduce

        def work(log: AuditLog) -> tuple[bool, dict[str, Any]]:
            check = log.verify()
            if not check.ok:
                return False, {"verify": check.to_dict()}
            if against is None:
                report = reproduce(log)
            else:
                report = compare(log, service.bundle if against == "current" else log.bundle(against))
            return report.ok, report.to_dict()

        return submit("replay", work, token)

    @app.get("/v1/jobs/{job_id}", tags=["audit"], summary="An auditor job's state and, when done, its result",
             responses=responses(200, _ref("Job"), 404, *AUTH))
    async def job(job_id: str, token: Token = need("auditor")) -> Response:
        state = service.jobs.get(job_id)
        if state is None or (state["owner"] != token.id and not token.has("admin")):
            raise Problem(404, "job_not_found", f"no job {job_id} on this host")
        return Response(to_json(state).encode(), media_type=JSON)

    # ------------------------------------------------------------------ operations

    @app.get("/healthz", tags=["operations"], summary="Alive (no token)",
             responses=responses(200, {"type": "object"}))
    async def healthz() -> Response:
        return Response(b'{"status": "ok"}', media_type=JSON)

    @app.get("/readyz", tags=["operations"], summary="Rules loaded and the log reachable (no token)",
             responses=responses(200, {"type": "object"}, 503))
    async def readyz() -> Response:
        log = service.log
        if log is not None:
            try:
                await in_thread(service, log.head)
            except Exception as exc:  # noqa: BLE001 - not ready, and why
                # no token here: nothing of the fault (hosts, users, paths) goes to the caller
                ref = _logged("checking the log for /readyz", exc)
                raise Problem(503, "log_unreachable", f"the audit log cannot be read (error {ref}, in the "
                              "service's log)") from None
        body = {"status": "ready", "bundle_hash": service.bundle.content_hash, "evaluator": service.engine.evaluator,
                "log": "reachable" if log is not None else "none", "version": __version__}
        return Response(to_json(body).encode(), media_type=JSON)

    @app.get("/metrics", tags=["operations"], summary="Prometheus text: decisions, latency, errors, log appends",
             responses=responses(200, {"type": "string"}, *AUTH, media="text/plain; version=0.0.4"))
    async def metrics(token: Token = need("auditor")) -> Response:
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/openapi.json", tags=["operations"], summary="This API's OpenAPI document",
             responses=responses(200, {"type": "object"}, *AUTH))
    async def openapi(token: Token = need("decider", "auditor")) -> Response:
        return Response(json.dumps(app.openapi(), ensure_ascii=False).encode(), media_type=JSON)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:  # the page only: what it shows is fetched from /openapi.json with a token
        return HTMLResponse(DOCS_HTML)

    @app.get("/docs/app.js", include_in_schema=False)
    async def docs_js() -> Response:
        return Response(DOCS_JS, media_type="text/javascript")

    def build_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            doc.setdefault("components", {}).setdefault("schemas", {}).update(component_schemas())
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = build_openapi  # type: ignore[method-assign]

    from .fast_route import FastDecisions  # here: fast_route names Service, from this module, for typing only

    fallback = BundleHeader(app, service.bundle.content_hash, service.metrics)
    return FastDecisions(fallback, service, fallback.header, decision_headers)  # type: ignore[return-value]


def _before_scope(name: str, day: date) -> Problem:
    message = f"{day.isoformat()} is before {SCOPE_START.isoformat()}: out of scope"
    return Problem.one_field("parameters_invalid", f"query.{name}", message, error_code="out_of_scope")


def _jsonld() -> Callable[[Decision, SharingRequest], dict[str, Any]]:
    """``sharelaw.dpv.decision_jsonld`` (issue 15), or 406 when it is not installed."""
    try:
        from .. import dpv

        render: Callable[[Decision, SharingRequest], dict[str, Any]] = dpv.decision_jsonld
    except (ImportError, AttributeError):
        raise Problem(406, "not_acceptable", "JSON-LD needs sharelaw.dpv, which this installation lacks; "
                      "ask for application/json") from None
    return render


def component_schemas() -> dict[str, Any]:
    """The request, decision and action schemas from the models themselves, plus the service's own."""
    out: dict[str, Any] = {}
    for name, model, mode in (("SharingRequest", SharingRequest, "validation"), ("Decision", Decision, "serialization"),
                              ("Action", Action, "validation")):
        schema = model.model_json_schema(mode=mode, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
        for def_name, definition in schema.pop("$defs", {}).items():
            if def_name in out and out[def_name] != definition:
                raise RuntimeError(f"two different schemas named {def_name}")
            out[def_name] = definition
        out[name] = schema
    obj: dict[str, Any] = {"type": "object"}
    out.update({
        "Problem": PROBLEM_SCHEMA,
        "Head": {"type": "object", "required": ["seq", "hash"],
                 "properties": {"seq": {"type": "integer"}, "hash": {"type": "string"}}},
        "Job": {"type": "object", "required": ["id", "kind", "status"],
                "properties": {"id": {"type": "string"}, "kind": {"enum": ["verify", "replay"]},
                               "status": {"enum": ["running", "done", "failed"]}, "ok": {"type": ["boolean", "null"]},
                               "result": {"type": ["object", "null"]}}},
        "RecordShown": {"type": "object", "required": ["record", "actions"],
                        "properties": {"record": obj, "actions": {"type": "array", "items": obj}}},
        "ActionRecorded": {"type": "object", "required": ["record_id", "decision_id", "seq", "hash"],
                           "properties": {"record_id": {"type": "string"}, "decision_id": {"type": "string"},
                                          "seq": {"type": "integer"}, "hash": {"type": "string"}}},
        "BatchResult": {"type": "object", "required": ["bundle_hash", "count", "decided", "results"], "properties": {
            "bundle_hash": {"type": "string"}, "count": {"type": "integer"}, "decided": {"type": "integer"},
            "results": {"type": "array", "items": {"type": "object", "required": ["index", "status"], "properties": {
                "index": {"type": "integer"}, "status": {"type": "integer"}, "decision_id": {"type": "string"},
                "recorded": {"type": "boolean"}, "decision": _ref("Decision"), "problem": _ref("Problem")}}}}},
    })
    return out


class BundleHeader:
    """ASGI middleware: the bundle hash on every response, and requests counted by route and status."""

    def __init__(self, app: FastAPI, bundle_hash: str, metrics: Metrics) -> None:
        self.app = app
        self.header = (BUNDLE_HEADER.lower().encode(), bundle_hash.encode())
        self.metrics = metrics
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == self.header[0] for name, _ in headers):  # a replay's own
                    headers.append(self.header)
                message["headers"] = headers
                route = scope.get("route")
                self.metrics.request(getattr(route, "path", "<unmatched>"), message["status"])
            await send(message)

        await self.app(scope, receive, add_header)


def app_from_env() -> ASGIApp:
    """The factory each uvicorn worker calls (``sharelaw serve --workers N``)."""
    try:
        return create_app(ServiceConfig.from_env())
    except (LogNotFound, SharelawError) as exc:
        raise SystemExit(f"sharelaw serve: {exc}") from None
