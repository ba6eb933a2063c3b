"""Browser-only middleware: Django's CSRF, authentication, messages and clickjacking middleware
wrapped so that they step aside on the machine-read routes (the PuppetDB query, meta and status
API and Jolokia metrics).

Those routes answer JSON to puppetboard, pypuppetdb and scripts: there is no form to protect, no
message to show and no frame to forbid, and who the caller is (token, client certificate,
session or anonymous) is settled by ``config.security.AccessPolicyMiddleware`` before the view
runs. Skipping the four layers there took CPU per ``environments`` request in process from
660-796 to 590-646 µs (three paired runs; the smallest PuppetDB queries answer in ~1 ms in
process). Browser routes, the native API and the write and admin routes keep the whole stack.
"""

from __future__ import annotations

from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Message
from django.middleware.clickjacking import XFrameOptionsMiddleware as _XFrameOptions
from django.middleware.csrf import CsrfViewMiddleware as _CsrfView

# Read-only machine routes (all GET, or POST of a query with a CSRF-exempt view).
MACHINE_READ_PREFIXES = ("/pdb/query/", "/pdb/meta/", "/status/v1/", "/metrics/v2/")


def is_machine_read(path: str) -> bool:
    return path.startswith(MACHINE_READ_PREFIXES)


def browser_only(middleware_class):
    """``middleware_class`` on every route but the machine-read ones, where the request passes
    straight to the next layer. The hooks Django collects from a middleware instance
    (``process_view``, ``process_exception``, ``process_template_response``) are forwarded with
    the same test, and exist on the wrapper only where the wrapped class has them."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.inner = middleware_class(get_response)

    def __call__(self, request):
        if is_machine_read(request.path_info):
            return self.get_response(request)
        return self.inner(request)

    namespace = {"__init__": __init__, "__call__": __call__, "__doc__": middleware_class.__doc__}
    for hook in ("process_view", "process_exception", "process_template_response"):
        if hasattr(middleware_class, hook):
            namespace[hook] = _forward(hook)
    return type(middleware_class.__name__, (), namespace)


def _forward(hook: str):
    def method(self, request, *args):
        if is_machine_read(request.path_info):
            return None if hook != "process_template_response" else args[0]
        return getattr(self.inner, hook)(request, *args)

    method.__name__ = hook
    return method


CsrfViewMiddleware = browser_only(_CsrfView)
AuthenticationMiddleware = browser_only(_Authentication)
MessageMiddleware = browser_only(_Message)
XFrameOptionsMiddleware = browser_only(_XFrameOptions)
