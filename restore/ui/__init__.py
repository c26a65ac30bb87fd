"""``restore-ui``: a page in the browser and an HTTP API on one local server (``pip install -e
'.[ui]'``).

* :mod:`restore.ui.server`: the Starlette app (``GET /``: the page; ``POST /api/restore``: one
  image in, its restoration out, through :mod:`restore.jobs`) and the ``restore-ui`` command;
* ``page.html``: the page, self-contained (inline script and style, nothing fetched from the
  internet): open an image, paint the holes, choose the task and the strength, run, compare,
  download.
"""
