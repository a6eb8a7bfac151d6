"""Reading editorial sources into the model."""

from briefing.sources.issues import load_issues, load_publication

__all__ = ["load_issues", "load_publication"]
