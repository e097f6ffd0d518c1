"""Report -> self-contained HTML (inline CSS and images, no scripts) and Markdown."""

from __future__ import annotations

from html import escape

CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; }
th { background: #eee; }
.banner { background: #fff3cd; border: 2px solid #d39e00; padding: 0.8em; font-weight: bold; }
pre { background: #f6f6f6; padding: 0.6em; font-size: 0.8em; white-space: pre-wrap; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
"""


def html(report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(report.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
    ]
    parts += [f'<div class="banner">{escape(line)}</div>' for line in report.banner]
    for name, blocks in report.sections.items():
        parts.append(f"<h2>{escape(name)}</h2>")
        parts += [_html_block(block) for block in blocks]
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_block(block) -> str:
    kind = block[0]
    if kind == "p":
        return f"<p>{escape(block[1])}</p>"
    if kind == "pre":
        return f"<pre>{escape(block[1])}</pre>"
    if kind == "img":
        return f'<img alt="{escape(block[1])}" src="{block[2]}">'
    _, head, rows = block
    cells = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def markdown(report) -> str:
    lines = [f"# {report.title}", ""]
    lines += [f"> **{line}**\n" for line in report.banner]
    for name, blocks in report.sections.items():
        lines += [f"## {name}", ""]
        for block in blocks:
            lines += _md_block(block) + [""]
    return "\n".join(lines)


def _md_block(block) -> list[str]:
    kind = block[0]
    if kind == "p":
        return [block[1]]
    if kind == "pre":
        return ["```", block[1], "```"]
    if kind == "img":
        return [f"![{block[1]}](plots/{block[1]}.png)"]
    _, head, rows = block
    escape_cell = lambda cell: str(cell).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    out = ["| " + " | ".join(map(escape_cell, head)) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(map(escape_cell, row)) + " |" for row in rows]
    return out
