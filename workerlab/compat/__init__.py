"""Cloudflare's Python Workers SDK surface (the ``workers`` module), for plain CPython.

User code sees :mod:`workerlab.compat.workers` as ``import workers``. Importing it stays
cheap: httpx is imported only when ``fetch()`` is first called.
"""
