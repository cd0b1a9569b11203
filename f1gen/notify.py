"""--notify URL: post a run's summary as JSON when it ends. A failure is logged, never fatal."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

from .errors import BadInputError


def check_url(url: str) -> None:
    """BadInputError unless url is an http(s) address a notification can be posted to."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url
    except ValueError:
        valid = False
    if not valid:
        raise BadInputError(
            f"--notify {url!r}: not an http(s) URL: give one like https://hooks.example.com/f1gen"
        )


def post_json(url: str, payload: Mapping[str, object], *, timeout: float = 10.0) -> str | None:
    """POST payload to url; None on success, else why it failed (one line)."""
    if not url.startswith(("http://", "https://")):
        return f"--notify {url!r} is not an http(s) URL"
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "f1gen"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"the notification got HTTP {exc.code} from {url}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"the notification could not reach {url} ({reason})"
    return None if 200 <= status < 300 else f"the notification got HTTP {status} from {url}"
