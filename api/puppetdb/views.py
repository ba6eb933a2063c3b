"""PuppetDB-compatible read API: ``/pdb/query/v4``, ``/pdb/meta/v1``, ``/status/v1``, ``/metrics/v2``.

Plain Django views (PuppetDB's own error and paging shapes): parameters are read and checked
here, the query language lives in ``inventory.query``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from api.authentication import token_from_headers
from api.models import ApiToken
from config.security import request_allows  # ops: access policy
from inventory import query as Q
from inventory.query import distinct, eventcounts

PUPPETDB_VERSION = "7.12.0"
COMMON_PARAMS = {
    "query",
    "limit",
    "offset",
    "order_by",
    "include_total",
    "pretty",
    "timeout",
    "origin",
    "explain",
    "optimize_drop_unused_joins",
    "include_facts_expiration",
    "include_package_inventory",
}
EVENT_PARAMS = set(distinct.PARAMS)
COUNT_PARAMS = {"summarize_by", "count_by", "counts_filter"}


class BadRequest(Exception):
    pass


def text_error(message: str, status: int = 400) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def json_body(body: str, status: int = 200, total: int | None = None, *, pretty: bool = False) -> HttpResponse:
    if pretty:
        body = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
    response = HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    if total is not None:
        response["X-Records"] = str(total)
    return response


def not_found(kind: str, ident: str) -> HttpResponse:
    return JsonResponse({"error": f"No information is known about {kind} {ident}"}, status=404)


def authorize(request) -> HttpResponse | None:
    """Token (scope ``read``) or session; anonymous only when PUPPETDB_API_ALLOW_ANONYMOUS."""
    # ops: the access policy (config/security.py) identified the caller — token, client
    # certificate from a trusted proxy, or a network the operator opened: accept what it allows.
    if request_allows(request, "read"):
        return None
    raw = token_from_headers(request.headers)
    if raw is not None:
        token = ApiToken.authenticate(raw)
        if token is None:
            return text_error("invalid, expired or revoked token", 401)
        if not token.allows("read"):
            return text_error("this token lacks the 'read' scope", 403)
        return None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return None
    if getattr(settings, "PUPPETDB_API_ALLOW_ANONYMOUS", False):
        return None
    response = text_error("authentication required: send a token (Authorization: Bearer …)", 401)
    response["WWW-Authenticate"] = 'Bearer realm="stagehand"'
    return response


def read_params(request, allowed: set[str]) -> dict:
    if request.method == "GET":
        params = {k: request.GET.get(k) for k in request.GET}
    elif request.method == "POST":
        if not request.body:
            params = {}
        else:
            try:
                params = orjson.loads(request.body)
            except orjson.JSONDecodeError:
                raise BadRequest("Malformed JSON in the request body") from None
            if not isinstance(params, dict):
                raise BadRequest("The request body must be a JSON object of query parameters")
        for k in request.GET:
            params.setdefault(k, request.GET.get(k))
    else:
        raise BadRequest(f"Unsupported method {request.method}; use GET or POST")
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadRequest(f"Unsupported query parameter '{unknown[0]}'")
    return params


def _json_param(value, name):
    if value is None or isinstance(value, list | dict):
        return value
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be JSON")
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise BadRequest(f"Malformed JSON in '{name}': {value[:200]}") from None


def _bool_param(value, name) -> bool:
    if value is None or value is False or value == "false":
        return False
    if value is True or value in ("true", ""):
        return True
    raise BadRequest(f"'{name}' must be true or false")


def paging_from(params) -> Q.Paging:
    paging = Q.Paging()
    if params.get("limit") is not None:
        paging.limit = Q.check_count("limit", params["limit"])
    if params.get("offset") is not None:
        paging.offset = Q.check_count("offset", params["offset"])
    order_by = _json_param(params.get("order_by"), "order_by")
    if order_by is not None:
        if not isinstance(order_by, list):
            raise BadRequest('order_by must be a JSON array of {"field": …, "order": …} objects')
        for item in order_by:
            if not isinstance(item, dict) or not isinstance(item.get("field"), str):
                raise BadRequest(
                    f"Illegal value '{orjson.dumps(item).decode()[:200]}' in :order_by; expected an object with 'field'"
                )
            extra = set(item) - {"field", "order"}
            if extra:
                raise BadRequest(f"Unknown key '{sorted(extra)[0]}' in :order_by")
            order = str(item.get("order", "asc")).lower()
            if order not in ("asc", "desc"):
                raise BadRequest(f"Illegal order '{item.get('order')}' in :order_by; use asc or desc")
            paging.order_by.append((item["field"], order == "desc"))
    return paging


def _timeout_ms(params) -> int | None:
    value = params.get("timeout")
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise BadRequest("'timeout' must be a number of seconds") from None
    if seconds <= 0:
        raise BadRequest("'timeout' must be positive")
    return int(min(seconds, 600) * 1000)


MAX_ORIGIN = 200


@dataclass
class Options:
    """The parameters that shape how a query runs and answers (not what it selects)."""

    include_total: bool = False
    timeout_ms: int | None = None
    pretty: bool = False
    explain: bool = False
    facts_expiration: bool = False
    window: Q.Window | None = None


def read_options(request, params: dict) -> Options:
    """PuppetDB's output and global parameters: ``include_total``, ``timeout``, ``pretty``,
    ``explain`` (only ``analyze``), ``origin`` (logged with the request), ``include_facts_expiration``
    and the ``distinct_*`` trio (only where the endpoint accepts it)."""
    origin = params.get("origin")
    if origin is not None:
        if not isinstance(origin, str):
            raise BadRequest("'origin' must be a string")
        extra = getattr(request, "log_extra", None)
        if extra is None:
            extra = request.log_extra = {}
        extra["origin"] = origin[:MAX_ORIGIN]
    explain = params.get("explain")
    if explain is not None and explain != "analyze":
        shown = explain if isinstance(explain, str) else orjson.dumps(explain).decode()
        raise BadRequest(f"Illegal value '{shown[:100]}' for :explain; expected `analyze`.")
    window = None
    if any(name in params for name in distinct.PARAMS):
        flag = _bool_param(params.get("distinct_resources"), "distinct_resources")
        window = Q.Window.parse(params, flag)
    return Options(
        include_total=_bool_param(params.get("include_total"), "include_total"),
        timeout_ms=_timeout_ms(params),
        pretty=_bool_param(params.get("pretty"), "pretty"),
        explain=explain is not None,
        facts_expiration=_bool_param(params.get("include_facts_expiration"), "include_facts_expiration"),
        window=window,
    )


def respond(compiled: Q.Compiled, opts: Options, *, single: tuple[str, str] | None = None) -> HttpResponse:
    """Run ``compiled`` (or, with ``explain=analyze``, its plan) and answer in PuppetDB's shape:
    a JSON array (``X-Records`` with ``include_total``), or for single-entity routes one object or 404."""
    include_total = opts.include_total and single is None
    if opts.explain:
        plans, total = Q.explain_analyze(compiled, include_total=include_total, timeout_ms=opts.timeout_ms)
        body = orjson.dumps(plans).decode()
    else:
        body, total = Q.run(compiled, include_total=include_total, timeout_ms=opts.timeout_ms)
    if single is not None:
        rows = orjson.loads(body)
        if not rows:
            return not_found(*single)
        return json_body(orjson.dumps(rows[0]).decode(), pretty=opts.pretty)
    return json_body(body, total=total, pretty=opts.pretty)


def guarded(view):
    """Authentication plus the 400 mapping for every query error."""

    @csrf_exempt
    def wrapper(request, *args, **kwargs):
        denied = authorize(request)
        if denied is not None:
            return denied
        try:
            return view(request, *args, **kwargs)
        except (BadRequest, Q.QueryError) as exc:
            return text_error(str(exc))

    wrapper.__name__ = view.__name__
    return wrapper


def _query_param(params, *, allow_pql=False):
    raw = params.get("query")
    if raw is None:
        return None
    return Q.parse_query_text(raw, allow_pql=allow_pql)


def run_entity(request, entity: str, extra: list | None = None, *, single: tuple[str, str] | None = None, allowed=()):
    params = read_params(request, COMMON_PARAMS | set(allowed))
    opts = read_options(request, params)
    query = _query_param(params)
    paging = paging_from(params)
    compiled = Q.build(entity, query, paging, extra, window=opts.window, facts_expiration=opts.facts_expiration)
    return respond(compiled, opts, single=single)


# --- the query endpoints ----------------------------------------------------------------------


@guarded
def root(request):
    params = read_params(request, COMMON_PARAMS | {"ast_only"})
    opts = read_options(request, params)
    query = _query_param(params, allow_pql=True)
    if query is None:
        raise BadRequest("the 'query' parameter is required")
    compiled = Q.build(None, query, paging_from(params), facts_expiration=opts.facts_expiration)
    if _bool_param(params.get("ast_only"), "ast_only"):
        return json_body(orjson.dumps(query).decode(), pretty=opts.pretty)
    return respond(compiled, opts)


def entity_view(entity: str, allowed=()):
    @guarded
    def view(request):
        return run_entity(request, entity, allowed=allowed)

    view.__name__ = f"{entity}_list"
    return view


ANY_STATE = ["=", "node_state", "any"]


@guarded
def node_detail(request, certname):
    return run_entity(request, "nodes", [["=", "certname", certname], ANY_STATE], single=("node", certname))


@guarded
def node_facts(request, certname, name=None, value=None):
    extra = [["=", "certname", certname]]
    if name is not None:
        extra.append(["=", "name", name])
    if value is not None:
        extra.append(["=", "value", value])
    return run_entity(request, "facts", extra)


@guarded
def node_resources(request, certname, type_=None, title=None):
    extra = [["=", "certname", certname]]
    if type_ is not None:
        extra.append(["=", "type", type_])
    if title is not None:
        extra.append(["=", "title", title])
    return run_entity(request, "resources", extra)


@guarded
def facts_by_name(request, name, value=None):
    extra = [["=", "name", name]]
    if value is not None:
        extra.append(["=", "value", value])
    return run_entity(request, "facts", extra)


@guarded
def resources_by_type(request, type_, title=None):
    extra = [["=", "type", type_]]
    if title is not None:
        extra.append(["=", "title", title])
    return run_entity(request, "resources", extra)


@guarded
def environment_detail(request, name):
    return run_entity(request, "environments", [["=", "name", name]], single=("environment", name))


@guarded
def environment_sub(request, name, entity):
    allowed = EVENT_PARAMS if entity == "events" else ()
    return run_entity(request, entity, [["=", "environment", name]], allowed=allowed)


@guarded
def producer_detail(request, name):
    return run_entity(request, "producers", [["=", "name", name]], single=("producer", name))


@guarded
def producer_sub(request, name, entity):
    return run_entity(request, entity, [["=", "producer", name]])


@guarded
def factset_detail(request, certname):
    return run_entity(request, "factsets", [["=", "certname", certname], ANY_STATE], single=("factset", certname))


@guarded
def factset_facts(request, certname):
    # PuppetDB answers /factsets/<node>/facts with the node's factset rows (facts expanded).
    return run_entity(request, "factsets", [["=", "certname", certname]])


@guarded
def catalog_detail(request, certname):
    return run_entity(request, "catalogs", [["=", "certname", certname], ANY_STATE], single=("catalog", certname))


@guarded
def catalog_sub(request, certname, entity):
    return run_entity(request, entity, [["=", "certname", certname]])


@guarded
def report_events(request, hash_):
    return run_entity(request, "events", [["=", "report", hash_]], allowed=EVENT_PARAMS)


@guarded
def report_document(request, hash_, part):
    read_params(request, set())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {part}::text FROM reports_report WHERE hash = %s LIMIT 1", [hash_])  # noqa: S608 - part is metrics|logs (URL regex)
        row = cursor.fetchone()
    if row is None:
        return not_found("report", hash_)
    return json_body(row[0])


@guarded
def package_inventory_for(request, certname):
    return run_entity(request, "package_inventory", [["=", "certname", certname]])


def _counts_params(request, *, paged: bool):
    allowed = COMMON_PARAMS | COUNT_PARAMS | EVENT_PARAMS
    if not paged:
        allowed -= {"limit", "offset", "order_by", "include_total", "pretty"}  # as PuppetDB
    params = read_params(request, allowed)
    summarize_by = params.get("summarize_by")
    if not summarize_by or not isinstance(summarize_by, str):
        raise BadRequest("Missing required query parameter 'summarize_by'")
    return params, summarize_by


@guarded
def event_counts(request):
    params, summarize_by = _counts_params(request, paged=True)
    opts = read_options(request, params)
    compiled = eventcounts.event_counts(
        _query_param(params),
        summarize_by=summarize_by,
        count_by=params.get("count_by"),
        counts_filter=_json_param(params.get("counts_filter"), "counts_filter"),
        paging=paging_from(params),
        window=opts.window,
    )
    return respond(compiled, opts)


@guarded
def aggregate_event_counts(request):
    params, summarize_by = _counts_params(request, paged=False)
    opts = read_options(request, params)
    compiled = eventcounts.aggregate_event_counts(
        _query_param(params),
        summarize_by=summarize_by,
        count_by=params.get("count_by"),
        counts_filter=_json_param(params.get("counts_filter"), "counts_filter"),
        window=opts.window,
    )
    return respond(compiled, opts)


# --- meta, status, metrics ----------------------------------------------------------------------


def _now_iso() -> str:
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


@guarded
def meta_version(request):
    return JsonResponse({"version": PUPPETDB_VERSION})


@guarded
def meta_version_latest(request):
    return JsonResponse(
        {"newer": False, "product": "puppetdb", "link": None, "message": "", "version": PUPPETDB_VERSION}
    )


@guarded
def meta_server_time(request):
    return JsonResponse({"server_time": _now_iso()})


def queue_depth() -> int:
    from ingest.models import Command, CommandState

    return Command.objects.filter(state=CommandState.PENDING).count()


def _status() -> dict:
    try:
        depth = queue_depth()
        db_up = True
    except Exception:  # noqa: BLE001 - reported as a status, not an error page
        depth, db_up = None, False
    return {
        "service_version": PUPPETDB_VERSION,
        "service_status_version": 1,
        "detail_level": "info",
        "state": "running" if db_up else "error",
        "status": {
            "maintenance_mode?": False,
            "read_db_up?": db_up,
            "write_db_up?": db_up,
            "write_dbs_up?": db_up,
            "queue_depth": depth,
        },
        "active_alerts": [],
    }


def status_service(request, service):
    if service != "puppetdb-status":
        return JsonResponse({"error": f"No status information for service {service}"}, status=404)
    status = _status()
    return JsonResponse(status, status=200 if status["state"] == "running" else 503)


def status_services(request):
    return JsonResponse({"puppetdb-status": _status()})


def population() -> dict[str, float]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE deactivated IS NULL AND expired IS NULL), "
            "count(*) FILTER (WHERE deactivated IS NOT NULL OR expired IS NOT NULL) FROM inventory_node"
        )
        active, inactive = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(rs.size), 0) FROM inventory_catalog c "
            "JOIN inventory_node n ON n.id = c.node_id JOIN inventory_resourceset rs ON rs.id = c.resource_set_id "
            "WHERE c.valid_to IS NULL AND n.deactivated IS NULL AND n.expired IS NULL"
        )
        resources = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM inventory_resource")
        distinct = cursor.fetchone()[0]
    resources = int(resources)
    return {
        "num-nodes": active,
        "num-active-nodes": active,
        "num-inactive-nodes": inactive,
        "num-resources": resources,
        "avg-resources-per-node": (resources / active) if active else 0,
        "pct-resource-dupes": (1 - min(distinct, resources) / resources) if resources else 0,
    }


def _mbeans() -> dict[str, dict[str, dict]]:
    pop = population()
    depth = queue_depth()
    beans = {"puppetlabs.puppetdb.population": {f"name={k}": {"Value": v} for k, v in pop.items()}}
    beans["puppetlabs.puppetdb.mq"] = {"name=global.depth": {"Count": depth}}
    beans["puppetlabs.puppetdb.storage"] = {"name=duplicate-pct": {"Value": pop["pct-resource-dupes"]}}
    return beans


def _unescape_mbean(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "!" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@guarded
def metrics_list(request):
    beans = _mbeans()
    value = {
        domain: {
            key: {"attr": {a: {"type": "java.lang.Object", "rw": False} for a in attrs}} for key, attrs in keys.items()
        }
        for domain, keys in beans.items()
    }
    return JsonResponse({"request": {"type": "list"}, "value": value, "timestamp": int(time.time()), "status": 200})


@guarded
def metrics_read(request, mbean):
    name = _unescape_mbean(mbean)
    attribute = None
    if "/" in name:
        name, attribute = name.split("/", 1)
    domain, _, key = name.partition(":")
    beans = _mbeans()
    value = beans.get(domain, {}).get(key)
    request_info = {"mbean": name, "type": "read"}
    if value is None:
        return JsonResponse(
            {
                "request": request_info,
                "error_type": "javax.management.InstanceNotFoundException",
                "error": f"javax.management.InstanceNotFoundException : {name}",
                "status": 404,
            },
            status=404,
        )
    if attribute:
        if attribute not in value:
            return JsonResponse(
                {"request": request_info, "error": f"No attribute {attribute}", "status": 404}, status=404
            )
        value = value[attribute]
        request_info["attribute"] = attribute
    return JsonResponse({"request": request_info, "value": value, "timestamp": int(time.time()), "status": 200})
