# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading metrics over HTTP: scraping a /metrics endpoint and the Prometheus HTTP API.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import Request, SSLValidationError, make_context
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (
    OUTCOME_NO_DATA,
    Snapshot,
    SourceError,
    check_finite,
    parse_exposition,
)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
_SCRAPE_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.1"
)

# Shared by every module of the collection that talks HTTP; documented in the
# hyperbun.canary.metrics_connection doc fragment.
CONNECTION_ARGUMENT_SPEC = dict(
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="float", default=10.0),
    retries=dict(type="int", default=2),
    retry_delay=dict(type="float", default=1.0),
    max_bytes=dict(type="int", default=DEFAULT_MAX_BYTES),
)

PROMETHEUS_AUTH_ARGUMENT_SPEC = dict(
    bearer_token=dict(type="str", no_log=True),
    url_username=dict(type="str"),
    url_password=dict(type="str", no_log=True),
)

PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE = [("bearer_token", "url_username")]
PROMETHEUS_AUTH_REQUIRED_TOGETHER = [("url_username", "url_password")]


class HttpSettings:
    def __init__(self, validate_certs=True, ca_path=None, timeout=10.0, retries=2, retry_delay=1.0,
                 max_bytes=DEFAULT_MAX_BYTES, bearer_token=None, url_username=None, url_password=None):
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self.max_bytes = max_bytes
        self.bearer_token = bearer_token
        self.url_username = url_username
        self.url_password = url_password
        # Shared with the copies without_auth() makes, which every scrape uses.
        self._ssl_contexts = {}

    def ssl_context(self):
        """One TLS context for every request made with these settings and their copies. Building one
        loads the system's CA certificates, which took each scrape and query 20-100 ms of CPU before."""
        if "context" not in self._ssl_contexts:
            self._ssl_contexts["context"] = make_context(cafile=self.ca_path, validate_certs=self.validate_certs)
        return self._ssl_contexts["context"]

    @classmethod
    def from_params(cls, params, with_auth=False):
        names = list(CONNECTION_ARGUMENT_SPEC) + (list(PROMETHEUS_AUTH_ARGUMENT_SPEC) if with_auth else [])
        return cls(**{name: params.get(name) for name in names if params.get(name) is not None})

    def without_auth(self):
        settings = HttpSettings(self.validate_certs, self.ca_path, self.timeout, self.retries, self.retry_delay,
                                self.max_bytes)
        settings._ssl_contexts = self._ssl_contexts
        return settings


def check_connection_params(params):
    """Argument errors that the argument spec cannot express; returns a message or None."""
    if params.get("timeout") is not None and params["timeout"] <= 0:
        return "timeout must be a positive number of seconds, got {}".format(params["timeout"])
    if params.get("retries") is not None and params["retries"] < 0:
        return "retries must be 0 or more, got {}".format(params["retries"])
    if params.get("retry_delay") is not None and params["retry_delay"] < 0:
        return "retry_delay must be 0 or more seconds, got {}".format(params["retry_delay"])
    if params.get("max_bytes") is not None and params["max_bytes"] < 1024:
        return "max_bytes must be at least 1024, got {}".format(params["max_bytes"])
    return None


class HttpResponse:
    def __init__(self, status, content_type, body):
        self.status = status
        self.content_type = content_type
        self.body = body

    def text(self):
        return self.body.decode("utf-8", errors="replace")


class _AttemptFailed(Exception):
    """One attempt of http_request failed; `retry` says whether another attempt may do better."""

    def __init__(self, message, retry):
        super().__init__(message)
        self.message = message
        self.retry = retry


def _timeout_text(settings):
    return f"did not finish within timeout {settings.timeout:g} s"


def _socket_of(response):
    """The socket a response body is read from, or None.

    CPython's http.client.HTTPResponse reads through `fp` (a buffered reader over a SocketIO whose
    `_sock` is the socket); open_url wraps `fp` in a gzip reader (`fileobj`) for a gzip answer. These
    are implementation details, hence the getattr: without the socket, the deadline is only checked
    between reads.
    """
    fp = getattr(response, "fp", None)
    for reader in (fp, getattr(fp, "fileobj", None)):
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
        if sock is not None and callable(getattr(sock, "settimeout", None)):
            return sock
    return None


def _read_body(response, headers, url, settings, deadline):
    """The body of `response`, read in pieces that each wait at most the time left before `deadline`.

    Raises SourceError when the body is longer than max_bytes, _AttemptFailed when the deadline
    passes or the connection breaks off.
    """
    length = headers.get("Content-Length") if headers else None
    if length and length.isdigit() and int(length) > settings.max_bytes:
        raise SourceError(
            f"{url} announced {length} bytes, more than max_bytes ({settings.max_bytes}): not read; "
            "raise max_bytes if this is expected"
        )
    sock = _socket_of(response)
    read = getattr(response, "read1", None) or response.read
    chunks = []
    size = 0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _AttemptFailed(f"{url} {_timeout_text(settings)}", retry=True)
            if sock is not None:
                try:
                    sock.settimeout(left)
                except OSError:
                    sock = None
            chunk = read(_READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > settings.max_bytes:
                raise SourceError(
                    f"{url} sent more than max_bytes ({settings.max_bytes} bytes): reading stopped; "
                    "raise max_bytes if this is expected"
                )
            chunks.append(chunk)
    except TimeoutError:
        raise _AttemptFailed(f"{url} {_timeout_text(settings)}", retry=True) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        raise _AttemptFailed(f"{url} broke off its answer: {reason}", retry=True) from None
    if time.monotonic() > deadline:
        raise _AttemptFailed(f"{url} {_timeout_text(settings)}", retry=True)
    return b"".join(chunks)


def _tls_verification_failure(exc):
    """The ssl error inside `exc` when it is a certificate verification failure, else None.

    ansible-core 2.19's open_url no longer raises SSLValidationError for it: urllib's URLError comes
    through with the ssl.SSLCertVerificationError as its reason.
    """
    for candidate in (exc, getattr(exc, "reason", None), exc.__cause__, exc.__context__):
        if isinstance(candidate, ssl.SSLCertVerificationError):
            return candidate
        if isinstance(candidate, ssl.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(candidate):
            return candidate
    return None


def _tls_failure_text(url, detail):
    return f"TLS verification of {url} failed: {detail} (set ca_path, or validate_certs: false)"


def _attempt(url, settings, request_headers, data, method, accept_statuses):
    """One request with its own deadline: an HttpResponse, or _AttemptFailed / SourceError."""
    deadline = time.monotonic() + settings.timeout
    error = None  # an HTTPError closes its response when collected: kept until the body is read
    try:
        response = Request().open(
            method, url, data=data, headers=request_headers, timeout=settings.timeout,
            validate_certs=settings.validate_certs, ca_path=settings.ca_path,
            url_username=settings.url_username, url_password=settings.url_password,
            force_basic_auth=bool(settings.url_username), follow_redirects="safe", use_netrc=False,
            context=settings.ssl_context(),
        )
        status, headers = response.status, response.headers
    except HTTPError as exc:
        status = exc.code
        if status not in accept_statuses:
            exc.close()
            raise _AttemptFailed(f"{url} answered HTTP {status} {exc.reason}",
                                 retry=status >= 500 or status == 429) from None
        error, response, headers = exc, exc.fp, exc.headers
    except SSLValidationError as exc:
        raise _AttemptFailed(_tls_failure_text(url, exc), retry=False) from None
    except (UrlsConnectionError, URLError, OSError, http.client.HTTPException) as exc:
        tls = _tls_verification_failure(exc)
        if tls is not None:
            detail = f"certificate verify failed: {tls.verify_message}" if getattr(tls, "verify_message", None) \
                else str(tls)
            raise _AttemptFailed(_tls_failure_text(url, detail), retry=False) from None
        reason = getattr(exc, "reason", None) or exc
        raise _AttemptFailed(f"{url} is unreachable: {reason}", retry=True) from None
    except ValueError as exc:
        raise _AttemptFailed(f"invalid URL {url!r}: {exc}", retry=False) from None
    try:
        body = _read_body(response, headers, url, settings, deadline)
        content_type = headers.get("Content-Type", "") if headers else ""
        return HttpResponse(status, content_type, body)
    finally:
        response.close()
        if error is not None:
            error.close()


def http_request(url, settings, headers=None, data=None, method="GET", accept_statuses=()):
    """One HTTP request with retries on network errors, timeouts and 5xx answers; body capped at max_bytes.

    Returns an HttpResponse for 2xx and for the statuses in accept_statuses (the Prometheus API
    answers 400/422 with a JSON error worth reading, and 5xx ones are worth retrying). Raises
    SourceError otherwise, and only SourceError.

    settings.timeout is a deadline for each attempt, body included: connecting and each socket
    read of the status line and headers wait at most `timeout` seconds (the time left when the
    attempt starts), and before every read of the body the socket's timeout is set to the time
    left, so a server that answers at once and then trickles its body is cut off when the deadline
    passes ("... did not finish within timeout N s"). Not bounded by it: resolving the host name,
    and a server trickling its headers (or a chunked body's size lines) a byte at a time, which
    http.client reads in one call; the deadline is checked again once they have arrived. Each of
    the `retries` further attempts, `retry_delay` seconds apart, has a deadline of its own. A TLS
    certificate that fails verification, a 4xx answer (but 429) and an invalid URL are not retried.
    """
    request_headers = dict(headers or {})
    if settings.bearer_token:
        request_headers["Authorization"] = "Bearer " + settings.bearer_token
    attempts = max(0, settings.retries) + 1
    last_problem = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(settings.retry_delay)
        try:
            return _attempt(url, settings, request_headers, data, method, accept_statuses)
        except _AttemptFailed as exc:
            last_problem = exc.message
            if not exc.retry:
                attempts = attempt + 1
                break
    tries = "" if attempts == 1 else f" (after {attempts} attempts)"
    raise SourceError(last_problem + tries)


def scrape(url, settings, wanted=None):
    """GET a /metrics endpoint and parse it into a Snapshot (see _exposition.parse_exposition)."""
    response = http_request(url, settings.without_auth(), headers={"Accept": _SCRAPE_ACCEPT})
    return parse_exposition(response.text(), response.content_type, wanted=wanted, source=url)


def scrape_or_error(url, settings, wanted=None):
    """A Snapshot, or the SourceError that says why there is none: what Evaluator.observe() takes."""
    try:
        return scrape(url, settings, wanted)
    except SourceError as exc:
        return exc


def scrape_all(urls, settings, wanted=None, *, role="production"):
    """One Snapshot merged from several targets, or the first SourceError.

    role names what the targets are ("canary", "production") and starts the message of a failure:
    "canary http://127.0.0.1:3001/metrics is unreachable: ...".
    """
    snapshots = []
    for url in urls:
        result = scrape_or_error(url, settings, wanted)
        if isinstance(result, SourceError):
            return SourceError(f"{role} {result.message}", result.outcome)
        snapshots.append(result)
    try:
        return Snapshot.merge(snapshots)
    except SourceError as exc:  # one family declared with two types by the targets
        return SourceError(f"{role} {exc.message}", exc.outcome)


# The shapes of the Prometheus HTTP API's answers, as its documentation gives them
# (https://prometheus.io/docs/prometheus/latest/querying/api/). Everything a server answers is checked
# against them before anything reads it, so an odd answer is a SourceError naming the URL and the
# place, never an exception from deep inside the judge.

RESULT_TYPES = ("vector", "scalar", "matrix", "string")
ALERT_STATES = ("firing", "pending", "inactive")


def json_kind(value):
    """What a decoded JSON value is, in words for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shown(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Shape:
    """Checks one answer; every problem is a SourceError "<where>: <path> <what is wrong>"."""

    def __init__(self, where):
        self.where = where

    def problem(self, path, what):
        return SourceError(f"{self.where}: {path} {what}")

    def object(self, value, path):
        if not isinstance(value, dict):
            raise self.problem(path, f"is {json_kind(value)}, not an object")
        return value

    def list(self, value, path):
        if not isinstance(value, list):
            raise self.problem(path, f"is {json_kind(value)}, not a list")
        return value

    def string(self, value, path):
        if not isinstance(value, str):
            raise self.problem(path, f"is {json_kind(value)}, not a string")
        return value

    def strings(self, value, path):
        for index, item in enumerate(self.list(value, path)):
            self.string(item, f"{path}[{index}]")

    def labels(self, value, path):
        for name, label in self.object(value, path).items():
            if not isinstance(label, str):
                raise self.problem(f"{path}[{name!r}]", f"is {json_kind(label)}, not a string")

    def pair(self, value, path, what):
        """[<unix time>, <what>]: the first item checked here, the second returned to check."""
        if not isinstance(value, list) or len(value) != 2:
            shape = f"a list of {len(value)}" if isinstance(value, list) else json_kind(value)
            raise self.problem(path, f"is {shape}, not a [time, {what}] pair")
        stamp = value[0]
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
            raise self.problem(f"{path}[0]", f"is {json_kind(stamp)}, not a time (a number)")
        return value[1]

    def sample(self, value, path):
        """[<unix time>, "<number>"]; NaN, +Inf and -Inf are numbers here."""
        number = self.pair(value, path, '"value"')
        if not isinstance(number, str):
            raise self.problem(f"{path}[1]",
                               f"is {json_kind(number)}, not a string (the API sends sample values as strings)")
        try:
            float(number)
        except ValueError:
            raise self.problem(f"{path}[1]", f"is {_shown(number)}, not a number") from None

    def series(self, item, path, matrix):
        self.object(item, path)
        if "metric" not in item:
            raise self.problem(path, "has no metric")
        self.labels(item["metric"], f"{path}.metric")
        if matrix:
            if "values" not in item and "histograms" not in item:
                raise self.problem(path, "has no values")
            for index, sample in enumerate(self.list(item.get("values", []), f"{path}.values")):
                self.sample(sample, f"{path}.values[{index}]")
            for index, pair in enumerate(self.list(item.get("histograms", []), f"{path}.histograms")):
                self.object(self.pair(pair, f"{path}.histograms[{index}]", "histogram"),
                            f"{path}.histograms[{index}][1]")
        elif "value" in item:
            if "histogram" in item:
                raise self.problem(path, "has both a value and a histogram")
            self.sample(item["value"], f"{path}.value")
        elif "histogram" in item:
            self.object(self.pair(item["histogram"], f"{path}.histogram", "histogram"), f"{path}.histogram[1]")
        else:
            raise self.problem(path, "has no value")

    def result(self, result_type, result, path="data.result"):
        if result_type in ("vector", "matrix"):
            for index, item in enumerate(self.list(result, path)):
                self.series(item, f"{path}[{index}]", matrix=result_type == "matrix")
        elif result_type == "scalar":
            self.sample(result, path)
        elif result_type == "string":
            self.string(self.pair(result, path, '"string"'), f"{path}[1]")
        else:
            raise self.problem("data.resultType", f"is {_shown(result_type)}, not one of {', '.join(RESULT_TYPES)}")

    def alert(self, alert, path):
        self.object(alert, path)
        for key in ("labels", "state"):
            if key not in alert:
                raise self.problem(path, f"has no {key}")
        self.labels(alert["labels"], f"{path}.labels")
        state = alert["state"]
        if not isinstance(state, str) or state not in ALERT_STATES:
            raise self.problem(f"{path}.state", f"is {_shown(state)}, not one of {', '.join(ALERT_STATES)}")
        # Prometheus always sends these, but the judge does not read them: checked when present.
        if "annotations" in alert:
            self.labels(alert["annotations"], f"{path}.annotations")
        for key in ("activeAt", "keepFiringSince", "value"):
            if key in alert:
                self.string(alert[key], f"{path}.{key}")


def validate_prometheus_answer(document, where, endpoint, http_status=200):
    """Check a decoded Prometheus API answer against the documented shape; return what it holds.

    endpoint is "query" (returns (resultType, result): a vector, scalar, matrix or string),
    "query_range" (returns ("matrix", result)) or "alerts" (returns the list of alerts). where
    names the answer in messages (the URL without its query). Raises SourceError, and nothing
    else, for an error answer or anything not in the documented shape; the structures returned
    are the document's own, unchanged.
    """
    shape = _Shape(where)
    if not isinstance(document, dict) or "status" not in document:
        raise SourceError(f"{where} answered JSON without a status: not the Prometheus API")
    status = document["status"]
    for key in ("warnings", "infos"):
        if key in document and document[key] is not None:
            shape.strings(document[key], key)
    if status == "error":
        error_type = document.get("errorType")
        error = document.get("error")
        raise SourceError(
            "Prometheus rejected the request to {} (HTTP {}, {}): {}".format(
                where, http_status, error_type if isinstance(error_type, str) else "error",
                error if isinstance(error, str) else "no message"))
    if status != "success":
        raise shape.problem("status", f"is {_shown(status)}, not success or error")
    if not 200 <= http_status < 300:
        raise SourceError(f"{where} answered HTTP {http_status} with status success: not the Prometheus API")
    if "data" not in document:
        raise shape.problem("data", "is missing")
    data = shape.object(document["data"], "data")
    if endpoint == "alerts":
        if "alerts" not in data:
            raise shape.problem("data.alerts", "is missing")
        alerts = shape.list(data["alerts"], "data.alerts")
        for index, alert in enumerate(alerts):
            shape.alert(alert, f"data.alerts[{index}]")
        return alerts
    for key in ("resultType", "result"):
        if key not in data:
            raise shape.problem(f"data.{key}", "is missing")
    result_type = data["resultType"]
    if endpoint == "query_range" and result_type != "matrix":
        raise shape.problem("data.resultType", f"is {_shown(result_type)}; a range query answers a matrix")
    shape.result(result_type, data["result"])
    return result_type, data["result"]


class PrometheusClient:
    """The Prometheus HTTP API (/api/v1/query, /api/v1/query_range, /api/v1/alerts).

    Every answer is checked against the shape the API documents (validate_prometheus_answer):
    the methods return only checked structures and raise only SourceError.
    """

    def __init__(self, base_url, settings):
        self.base_url = base_url.rstrip("/")
        self.settings = settings

    def _call(self, path, endpoint, params=None):
        where = self.base_url + path
        url = where + ("?" + urlencode(params) if params else "")
        response = http_request(url, self.settings, headers={"Accept": "application/json"},
                                accept_statuses=(400, 422))
        try:
            document = json.loads(response.text())
        except (ValueError, RecursionError):
            raise SourceError(
                f"{where} answered HTTP {response.status} with something other than JSON "
                f"({response.text()[:80]!r}...): is prometheus_url the Prometheus server's base URL?"
            ) from None
        return validate_prometheus_answer(document, where, endpoint, response.status)

    def instant(self, query, at=None):
        """(resultType, result) of an instant query: a vector, scalar, matrix or string as the API gives it."""
        params = {"query": query}
        if at is not None:
            params["time"] = str(at)
        return self._call("/api/v1/query", "query", params)

    def range(self, query, start, end, step):
        """("matrix", result) of a range query."""
        return self._call("/api/v1/query_range", "query_range",
                          {"query": query, "start": str(start), "end": str(end), "step": str(step)})

    def alerts(self):
        """The active alerts: objects with labels and state (firing, pending or inactive), at least."""
        return self._call("/api/v1/alerts", "alerts")


def _labels_text(metric):
    return "{" + ", ".join('{}="{}"'.format(*item) for item in sorted((metric or {}).items())) + "}"


def single_value(result_type, result, query):
    """The one number a criterion's query must return; SourceError (`no_data`/`error`) otherwise, and nothing else."""
    _Shape(f"query {query!r}").result(result_type, result, path="result")
    if result_type == "scalar":
        raw = result[1]
    elif result_type == "vector":
        if not result:
            raise SourceError(
                f"query {query!r} returned an empty vector (a misnamed metric, a label that matches nothing, or no "
                "samples yet)", OUTCOME_NO_DATA)
        if len(result) > 1:
            shown = ", ".join(_labels_text(item["metric"]) for item in result[:5])
            raise SourceError(
                f"query {query!r} returned {len(result)} series where one was expected "
                f"({shown}{', ...' if len(result) > 5 else ''}): aggregate it, e.g. with sum()")
        if "value" not in result[0]:
            raise SourceError(
                f"query {query!r} returned a native histogram {_labels_text(result[0]['metric'])}, not a number: "
                "take one from it, e.g. with histogram_quantile(), histogram_count() or histogram_sum()")
        raw = result[0]["value"][1]
    else:
        raise SourceError(f"query {query!r} returned a {result_type}; a criterion needs an instant vector or a scalar")
    return check_finite(float(raw), f"the result of query {query!r}")
