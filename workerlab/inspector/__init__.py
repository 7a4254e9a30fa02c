"""The web inspector `workerlab dev` serves under ``/cdn-cgi/workerlab/``: a JSON API and one page.

:class:`InspectorApp` is the mounted ASGI app. It reads the session's stores through the same
functions the command line uses, records what the session does from its event bus in a bounded
timeline, and streams that timeline to the page as server-sent events. The page (``static/``)
is plain HTML, CSS and JavaScript shipped in the package; nothing is fetched from elsewhere.
"""

from __future__ import annotations

from .app import INSPECTOR_PATH, InspectorApp, inspector_url

__all__ = ["INSPECTOR_PATH", "InspectorApp", "inspector_url"]
