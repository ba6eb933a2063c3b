"""The access policy of the ``enc`` process, with a fast path for classification requests.

``config.security.AccessPolicyMiddleware`` decides who may call which route (API tokens, client
certificates through a trusted proxy, open networks, anonymous scopes). For a classification
request (``/enc/v1/nodes/<certname>``) that carries an API token, this subclass leaves the token
to the view, which checks it in the same statement that reads the classification version and the
node's facts (one database round trip per request instead of two). Every other request —
including classification requests authenticated by a client certificate, an open network or
``ENC_ALLOW_ANONYMOUS`` — goes through the policy unchanged.
"""

from __future__ import annotations

from api.authentication import token_from_headers
from config.security import AccessPolicyMiddleware

CLASSIFY_PREFIX = "/enc/v1/nodes/"


class EncAccessPolicyMiddleware(AccessPolicyMiddleware):
    def __call__(self, request):
        path = request.path_info
        if path.startswith(CLASSIFY_PREFIX) and not path.endswith("/explain"):
            raw = token_from_headers(request.headers)
            if raw is not None:
                request.stagehand_enc_token = raw  # checked by enc.views.classify
                return self._harden(request, self.get_response(request))
        return super().__call__(request)
