"""RFC 9110 §5.6.2's token, one definition for what is one: a header name (``forward_headers``), an
authentication scheme or parameter name (§11, a ``WWW-Authenticate`` challenge), an ``x-mcp-header``
value (SEP-2243) and each half of a media type (§8.3.1)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["TOKEN", "TOKEN_RE"]

TOKEN: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # 1*tchar, to write into a larger pattern
TOKEN_RE: Final = re.compile(TOKEN)  # its ``fullmatch`` says whether a text is one token
