"""One entry point for every rendering of report.json: text, Markdown, HTML."""

from __future__ import annotations

from typing import Any

from blindself.errors import BlindselfError


def render(report: dict[str, Any], fmt: str) -> str:
    """Render the report document in ``fmt`` (text, md or html)."""
    if fmt == "text":
        from blindself.report.text import render_text

        return render_text(report)
    if fmt == "md":
        from blindself.report.text import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from blindself.report.page import render_html

        return render_html(report)
    raise BlindselfError(f"unknown report format {fmt!r}; use html, md, json or text")
