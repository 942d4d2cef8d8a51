"""Tables that keep every name and number whole, at any terminal width and when piped.

:class:`Table` is a ``rich`` table whose cells are never cut: identifiers and numbers stay on one line
(``no_wrap``), and only columns of prose (``add_column(..., wrap=True)``) wrap, at word boundaries. When
the table is wider than the console (a narrow terminal, or output piped to a file, where rich assumes 80
columns), it is printed vertically instead: one ``header: value`` line per cell, rows separated by a
blank line. Every table the command line prints is one of these.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table as _RichTable
from rich.text import Text


class Table(_RichTable):
    """A rich table whose cells are never truncated (see the module docstring)."""

    def add_column(self, header: Any = "", *args: Any, wrap: bool = False, **kwargs: Any) -> None:
        """As rich's, but cells stay on one line unless ``wrap`` (prose), and nothing is ever cut."""
        kwargs.setdefault("no_wrap", not wrap)
        kwargs.setdefault("overflow", "fold")
        super().add_column(header, *args, **kwargs)

    def fits(self, console, options) -> bool:
        """Whether the table, with its one-line cells whole, fits the width the console gives it."""
        wide = options.update_width(10**6)
        need = self._extra_width
        for col in self.columns:
            m = self._measure_column(console, wide, col)  # (padding included)
            need += m.maximum if col.no_wrap else m.minimum
        return need <= options.max_width

    def __rich_console__(self, console, options):
        if self.fits(console, options):
            yield from super().__rich_console__(console, options)
            return
        yield from self.vertical(console)

    def vertical(self, console):
        """The table as ``header: value`` lines, one block per row (a line longer than the console wraps
        between words)."""
        def text(obj: Any) -> Text:
            if isinstance(obj, Text):
                return obj
            return Text.from_markup(obj) if isinstance(obj, str) else Text(str(obj))

        if self.title:
            yield text(self.title)
        columns = self.columns
        for r in range(self.row_count):
            if r:
                yield Text("")
            for col in columns:
                header = text(col.header).plain
                cell = text(col._cells[r]) if r < len(col._cells) else Text("")
                line = Text.assemble((f"{header}: ", "bold"), cell) if header else cell
                yield line

