"""The scripts a page document loads: ``<script src>``, inline ``<script>`` bodies and ``<link rel=modulepreload>``."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass(kw_only=True)
class PageScripts:
    """What the document makes the browser run."""

    sources: list[str] = field(default_factory=list)
    """Every ``src`` of a ``<script>`` and ``href`` of a ``<link rel="modulepreload">``, as written."""
    inline: list[str] = field(default_factory=list)
    """The text of every ``<script>`` without ``src`` that has any (the build has none: the CSP allows none)."""


class _ScriptParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = PageScripts()
        self._inline: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "script":
            if "src" in values:
                self.found.sources.append(values["src"])
            else:
                self._inline = []
        elif tag == "link" and "modulepreload" in values.get("rel", "").lower().split():
            self.found.sources.append(values.get("href", ""))

    def handle_data(self, data: str) -> None:
        if self._inline is not None:
            self._inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._inline is not None:
            text = "".join(self._inline).strip()
            if text:
                self.found.inline.append(text)
            self._inline = None


def page_scripts(html: str) -> PageScripts:
    """The scripts ``html`` loads or carries."""
    parser = _ScriptParser()
    parser.feed(html)
    parser.close()
    return parser.found
