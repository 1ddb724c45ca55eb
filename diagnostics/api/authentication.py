"""Token authentication with the token's user (and role) kept a few seconds per process."""

import copy

from rest_framework.authentication import TokenAuthentication

from diagnostics.access import user_role
from diagnostics.process_cache import tokens


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's TokenAuthentication (``Authorization: Token <key>``), looking a valid key up once per
    THYROWEB_PROCESS_CACHE_SECONDS instead of on every request. Unknown keys and inactive users are
    refused by DRF as before and never cached."""

    def authenticate_credentials(self, key):
        def look_up():
            user, token = super(CachedTokenAuthentication, self).authenticate_credentials(key)
            user_role(user)  # computed once and carried by the cached user
            return user, token

        user, token = tokens.get(key, look_up)
        # Each request gets its own copy: nothing one request sets on its user leaks into another.
        return copy.copy(user), token
