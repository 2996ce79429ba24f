"""One entry point for every view of a review."""

from __future__ import annotations

from schedsync.engine.review.model import Review

FORMATS = ("text", "json", "markdown", "github")


def render(review: Review, fmt: str, *, full_command: str | None = None) -> tuple[str, str]:
    """(what goes to stdout, the step summary markdown or "" for other formats)."""
    if fmt == "json":
        from schedsync.engine.review.render_json import render_json

        return render_json(review), ""
    if fmt == "markdown":
        from schedsync.engine.review.render_markdown import render_markdown

        return render_markdown(review, full_command=full_command), ""
    if fmt == "github":
        from schedsync.engine.review.render_github import render_github

        return render_github(review, full_command=full_command)
    from schedsync.engine.review.render_text import render_text

    return render_text(review), ""
