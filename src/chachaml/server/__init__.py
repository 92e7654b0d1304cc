"""The chachaml HTTP server: a JSON read/write API over the service functions.

Build it with :func:`chachaml.server.app.create_app`; ``chachaml server`` runs it with uvicorn.
Needs the ``server`` extra (``pip install 'chachaml[server]'``).
"""

from __future__ import annotations
