"""Cloudflare's Python Workers surface for plain CPython: ``workers`` (with ``workers.asgi``,
``workers.wsgi``, ``workers.workflows``), ``js`` and ``pyodide``.

:func:`workerlab.compat.install.install_sdk_modules` makes those names import the modules built
here (``workers`` from :mod:`workerlab.compat.workers`, ``js`` from :mod:`workerlab.compat.js`,
``pyodide.ffi`` from :mod:`workerlab.compat.ffi`...). Importing them stays cheap: httpx is
imported only when ``fetch()`` is first called.
"""
