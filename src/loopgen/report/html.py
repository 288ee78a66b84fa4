"""HTML pieces of the report page. Every figure, player and table gets a stable id and `data-`
attributes (what it shows), so a test, or a reader's script, can find and count them.

Paths in the page are relative to index.html; nothing is fetched from elsewhere (no CDN, inline
CSS), so the folder opens from file:// as well as from any plain HTTP server.
"""

from __future__ import annotations

import csv
import re
from html import escape
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ccc; margin-top: 2em; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.grid td { text-align: center; }
figure { margin: 0.5em 0; } figure.plot img { max-width: 100%; border: 1px solid #eee; }
div.grid { overflow-x: auto; }
table.grid { --cell: clamp(110px, calc((min(100vw, 1400px) - 12em) / var(--columns, 5)), 200px); }
figure.cell { margin: 0; } figure.cell img { display: block; margin: 0 auto 2px; width: var(--cell); image-rendering: pixelated; }
figure.cell audio { width: var(--cell); height: 32px; } figcaption { font-size: 0.8em; color: #555; }
figure.cell figcaption { max-width: var(--cell); margin: auto; overflow-wrap: anywhere; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; } .plots figure { flex: 0 1 440px; } .plots img { width: 100%; }
div.md p { margin: 0.3em 0; max-width: 60em; font-size: 0.9em; } div.md h4 { margin: 1em 0 0.3em; }
nav a { margin-right: 1em; } p.note { color: #555; font-size: 0.9em; max-width: 60em; }
"""


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-").lower()


def attrs(**values) -> str:
    """' key="value"' for each value not None; data_x becomes data-x."""
    return "".join(
        f' {key.replace("_", "-")}="{escape(str(value))}"' for key, value in values.items() if value is not None
    )


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """The whole document: (id, heading, body html) per section, with a table of contents."""
    nav = " ".join(f'<a href="#{sid}">{escape(heading)}</a>' for sid, heading, _ in sections)
    body = "\n".join(
        f'<section id="{sid}" data-section="{sid}">\n<h2>{escape(heading)}</h2>\n{html}\n</section>'
        for sid, heading, html in sections
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
        f'<link rel="icon" href="data:,">\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n'
        f'<p class="note">{subtitle}</p>\n<nav>{nav}</nav>\n{body}\n</body>\n</html>\n'
    )


def table(rows: list[dict], table_id: str, caption: str = "", source: str | None = None) -> str:
    """A list of dicts (one per row, same keys) as a <table>; floats with 4 significant digits."""
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_td(row.get(c)) for c in columns) + "</tr>\n" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<table id="table-{slug(table_id)}"{attrs(data_table=table_id, data_source=source, data_rows=len(rows))}>'
        f"{cap}<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody></table>"
    )


def _td(value) -> str:
    """A table cell; numbers (and 'mean ± std') right-aligned."""
    text = cell_text(value)
    numeric = bool(re.fullmatch(r"[-+]?[\d,.]+(e[-+]?\d+)?( ± [\d.]+)?%?", text))
    return f'<td class="n">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def cell_text(value) -> str:
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and abs(number) < 1e15 and "." not in str(value) and "e" not in str(value).lower():
        return f"{int(number):,}"
    return f"{number:.4g}"


def csv_rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def csv_table(path, table_id: str, caption: str = "", root: Path | None = None) -> str:
    source = str(Path(path).relative_to(root)) if root else str(path)
    return table(csv_rows(path), table_id, caption, source)


def markdown(path, table_id: str, root: Path | None = None) -> str:
    """A Markdown file of the workflow (headings, paragraphs, one pipe table: e.g. ours beside the
    paper's numbers) as HTML; the table gets the id and data- attributes of table()."""
    source = str(Path(path).relative_to(root)) if root else str(path)
    parts, table_lines = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("|"):
            table_lines.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        if table_lines:
            header, rows = table_lines[0], [r for r in table_lines[1:] if not set("".join(r)) <= set("-: ")]
            parts.append(table([dict(zip(header, r)) for r in rows], table_id, "", source))
            table_lines = []
        if line.startswith("#"):
            parts.append(f"<h4>{_inline(line.lstrip('#').strip())}</h4>")
        elif line.strip():
            parts.append(f"<p>{_inline(line)}</p>")
    return f'<div class="md">{"".join(parts)}</div>'


def _inline(text: str) -> str:
    """Escaped text with Markdown's **bold** and `code`."""
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(text))
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def tables_of(folder: Path, stems_glob: str, root: Path, captions: dict[str, str], prefix: str = "") -> list[str]:
    """Every table in `folder` matching stems_glob: its Markdown when the workflow wrote one (it
    carries the paper's numbers and notes), else its CSV under a caption. Table ids are
    prefix + file stem."""
    stems = sorted({p.stem for ext in ("csv", "md") for p in folder.glob(f"{stems_glob}.{ext}")})
    return [
        markdown(folder / f"{stem}.md", prefix + stem, root)
        if (folder / f"{stem}.md").is_file()
        else csv_table(folder / f"{stem}.csv", prefix + stem, captions.get(stem, stem), root)
        for stem in stems
    ]


def plot(src: str, figure_id: str, caption: str) -> str:
    """A figure (a PNG of the workflow, copied next to the page)."""
    return (
        f'<figure class="plot" id="fig-{slug(figure_id)}"{attrs(data_figure=figure_id)}>'
        f'<img src="{escape(src)}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def player(src: str, kind: str, **data) -> str:
    """An <audio> player. preload=metadata: the duration is known (and testable) before playing."""
    return f'<audio controls preload="metadata" src="{escape(src)}"{attrs(data_kind=kind, **data)}></audio>'


def cell(
    cell_id: str, image: str | None, audio: str | None, kind: str, caption: str = "", midi: str | None = None, **data
) -> str:
    """One grid cell: picture, player, optional MIDI link and caption."""
    parts = []
    if image:
        parts.append(f'<img src="{escape(image)}" alt="{escape(cell_id)}">')
    if audio:
        parts.append(player(audio, kind, **data))
    text = escape(caption)
    if midi:
        text += f' <a href="{escape(midi)}" download data-midi="1">MIDI</a>'
    if text:
        parts.append(f"<figcaption>{text}</figcaption>")
    return f'<figure class="cell" id="{slug(cell_id)}"{attrs(data_cell=kind, **data)}>{"".join(parts)}</figure>'


def grid(grid_id: str, columns: list[str], rows: list[tuple[str, list[str]]]) -> str:
    """A table of cells: header `columns`, then (row label, cells html) per row. Cells shrink to
    fit the page up to ~9 columns (200 px down to 110 px); a wider grid scrolls inside its box."""
    head = "<th></th>" + "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr><th>{escape(label)}</th>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n" for label, cells in rows
    )
    return (
        f'<div class="grid"><table class="grid" id="grid-{slug(grid_id)}" style="--columns: {len(columns)}"'
        f"{attrs(data_grid=grid_id, data_rows=len(rows), data_columns=len(columns))}>"
        f"<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody></table></div>"
    )


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'
