"""Lesson Markdown to email HTML and to plain text, with every link target made a fill-in slot."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

TRACKABLE_SCHEMES = ("https://", "http://")


def _parser() -> MarkdownIt:
    # Raw HTML stays off: lessons are prose, and mail clients punish stray markup.
    return MarkdownIt("commonmark", {"html": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


_MD = _parser()


def parse(source: str) -> list[Token]:
    """Parse Markdown into markdown-it tokens."""
    return _MD.parse(source)


def replace_links(tokens: Sequence[Token], slot_for: Callable[[str], str]) -> None:
    """Point every http(s) link at the placeholder slot_for(url) returns, in place."""
    for block in tokens:
        for token in block.children or ():
            if token.type == "link_open":
                href = str(token.attrGet("href") or "")
                if href.startswith(TRACKABLE_SCHEMES):
                    token.attrSet("href", slot_for(href))


def to_html(tokens: Sequence[Token]) -> str:
    """Render tokens to HTML."""
    return _MD.renderer.render(list(tokens), _MD.options, {})


def to_text(tokens: Sequence[Token]) -> str:
    """Render tokens as plain text: headings underlined, lists dashed, links spelled out."""
    lines: list[str] = []
    list_stack: list[list[int]] = []  # one [next number or 0 for bullets] per open list
    pending_prefix = ""
    for token in tokens:
        kind = token.type
        if kind in {"bullet_list_open", "ordered_list_open"}:
            start = int(token.attrGet("start") or 1) if kind == "ordered_list_open" else 0
            list_stack.append([start])
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            list_stack.pop()
            if not list_stack:
                lines.append("")
        elif kind == "list_item_open":
            counter = list_stack[-1]
            indent = "   " * (len(list_stack) - 1)
            if counter[0]:
                pending_prefix = f"{indent}{counter[0]}. "
                counter[0] += 1
            else:
                pending_prefix = f"{indent}- "
        elif kind == "inline":
            text = _inline_text(token.children or [])
            if list_stack:
                prefix = pending_prefix or "   " * len(list_stack)
                lines.append(prefix + text.replace("\n", "\n" + " " * len(prefix)))
                pending_prefix = ""
            else:
                lines.append(text)
        elif kind == "heading_close":
            underline = "=" if token.tag in {"h1", "h2"} else "-"
            lines.append(underline * min(len(lines[-1]), 60) if lines else "")
            lines.append("")
        elif kind == "paragraph_close" and not list_stack:
            lines.append("")
        elif kind == "hr":
            lines.extend(["-" * 20, ""])
        elif kind in {"fence", "code_block"}:
            lines.extend([*token.content.rstrip("\n").splitlines(), ""])
    return "\n".join(lines).strip() + "\n"


def _inline_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    link_stack: list[tuple[str, int]] = []
    for child in children:
        kind = child.type
        if kind in {"text", "code_inline"}:
            parts.append(child.content)
        elif kind in {"softbreak", "hardbreak"}:
            parts.append("\n")
        elif kind == "image":
            parts.append(child.content)
        elif kind == "link_open":
            link_stack.append((str(child.attrGet("href") or ""), len(parts)))
        elif kind == "link_close" and link_stack:
            href, start = link_stack.pop()
            label = "".join(parts[start:])
            if href and href != label:
                parts.append(f" ({href})")
    return "".join(parts)
