"""Self-contained HTML pages (the lab report, a run's report.html) rendered with Jinja2.

Every image is embedded as a ``data:`` URI and the style sheet is inline, so a page
works offline and opens straight from the file system. jinja2 is imported only
when a page is rendered.
"""

from __future__ import annotations

import base64

from ..io import atomic_write


def data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:image/png;base64,…`` URI.

    >>> data_uri(b"\\x89PNG")
    'data:image/png;base64,iVBORw=='
    """
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render(template: str, **context) -> str:
    """Render ``templates/<template>`` with ``context`` (autoescaped)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("nnlab.reports", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    env.filters["data_uri"] = data_uri
    return env.get_template(template).render(**context)


def write(path, html: str) -> None:
    """Write the page atomically (a reader never sees half a file)."""
    atomic_write(path, html.encode("utf-8"))
