"""
Write the tables of settings in the docs and the README from the settings
table, L{gracehttp._config.SETTINGS}, so that none can drift from it:

  - C{docs/reference/options.rst}: every command-line option, its default
    and what it does;
  - C{docs/reference/api.rst}: every L{gracehttp.makeService} keyword, its
    Python type, unit, default and option;
  - C{README.md}: every command-line option, its default and its help.

Each table sits between a C{BEGIN} and an C{END} marker line (comments in
reStructuredText and Markdown); the rest of each file is written by hand.
The rows of C{--app}, C{--mount}, C{--log-level} and C{--config}, options
outside the settings table, are written here.

Run from the repository::

    python docs/optionstables.py          # rewrite the tables
    python docs/optionstables.py --check  # exit status 1 if one is stale

C{tests/test_config.py} fails when a committed table is stale.
"""

import os
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from gracehttp._config import SETTINGS  # noqa: E402

BEGIN = "BEGIN generated table: python docs/optionstables.py"
END = "END generated table"

_APP_ROW = (
    "``MODULE:ATTRIBUTE`` (the argument), ``--app MODULE:ATTRIBUTE``, ``-a``",
    "(required without ``--mount``)",
    "The application, as the one argument (before or after the options) or "
    "``--app``, not both.  ``MODULE:ATTRIBUTE.SUB`` follows attributes; "
    "``MODULE:FACTORY()`` calls a zero-argument factory.  The current directory is "
    "importable.",
)
_MOUNT_ROW = (
    "``--mount PREFIX=MODULE:ATTRIBUTE[@INTERFACE]``",
    "none",
    "Serve another application under a path prefix; repeatable.  The longest "
    "prefix that matches on a segment boundary answers, with the prefix as its "
    "``root_path`` or ``SCRIPT_NAME``; ``--app`` is the root mount.  "
    "``@INTERFACE`` (``asgi3``, ``asgi2``, ``asgi``, ``wsgi``) forces the "
    "interface.  Each ASGI mount runs its own lifespan (``--app`` first, "
    "shutdown in reverse), each WSGI mount its own pool of ``--threads`` "
    "threads; without ``--app`` a request no mount matches gets 404.  See "
    ":doc:`../howto/mounts`.",
)
_CONFIG_ROW = (
    "``--config PATH``",
    "``$GRACEHTTP_CONFIG``, else none",
    "Read options from this TOML file; ``GRACEHTTP_*`` environment variables "
    "override it and the command line overrides both.  See "
    ":doc:`configuration`.",
)
_README_CONFIG_ROW = (
    "`--config PATH`",
    "`$GRACEHTTP_CONFIG`, else none",
    "Read options from this TOML file (keys: the long options, e.g. `access-log`); "
    "`GRACEHTTP_*` variables (`GRACEHTTP_ACCESS_LOG`) override it, the command line "
    "both. See `docs/reference/configuration.rst`.",
)
_LOG_LEVEL_ROW = (
    "``--log-level debug|info|warn|error``",
    "``twist``'s (``info``)",
    "Log only events at this level or above, for the whole process (under "
    "``twist`` it sets ``twist``'s own ``--log-level``).",
)
_README_APP_ROW = (
    "`MODULE:ATTRIBUTE` or `--app MODULE:ATTRIBUTE`",
    "(required without `--mount`)",
    "The application: the argument, before or after the options, or `--app`.",
)
_README_MOUNT_ROW = (
    "`--mount PREFIX=MODULE:ATTRIBUTE[@INTERFACE]`",
    "none",
    "Another application under a path prefix (repeatable); see `docs/howto/mounts.rst`.",
)
_README_LOG_LEVEL_ROW = (
    "`--log-level debug\\|info\\|warn\\|error`",
    "`twist`'s (`info`)",
    "Drop log events below this level.",
)


def _optionText(option, metavar):
    return f"--{option}" if metavar is None else f"--{option} {metavar}"


def _restDefault(setting):
    text, isValue = setting.shownDefault()
    if not isValue:
        return text
    shown = f"``{text}``"
    if setting.kind.unit == "bytes" and setting.default % 1024 == 0:
        shown += f" ({setting.default // 1024} KiB)"
    return shown


def _restTable(rows, widths, indent=""):
    """
    A reStructuredText C{list-table}: a header row then C{rows}, each a
    tuple of cells; a cell's text is wrapped.
    """
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        f"   :widths: {' '.join(str(width) for width in widths)}",
        "",
    ]
    for row in rows:
        for index, cell in enumerate(row):
            bullet = "   * - " if index == 0 else "     - "
            if not cell:
                lines.append(bullet.rstrip())
                continue
            lines.extend(
                textwrap.wrap(
                    cell,
                    width=79 - len(indent),
                    initial_indent=bullet,
                    subsequent_indent=" " * len(bullet),
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
    return [indent + line if line else line for line in lines]


def optionsTable():
    """
    @return: the lines of the options table of C{docs/reference/options.rst}.
    """
    rows = [("Option", "Default", "Meaning"), _APP_ROW, _MOUNT_ROW]
    for setting in SETTINGS:
        rows.append(
            (
                f"``{_optionText(setting.option, setting.metavar)}``",
                _restDefault(setting),
                setting.doc,
            )
        )
        for alias, why in setting.aliases:
            rows.append(
                (
                    f"``{_optionText(alias, setting.metavar)}``",
                    "",
                    f"Alias of ``--{setting.option}`` ({why}).",
                )
            )
    rows.extend([_LOG_LEVEL_ROW, _CONFIG_ROW])
    return _restTable(rows, (30, 20, 50))


def apiTable(indent="   "):
    """
    @return: the lines of the keyword table of C{docs/reference/api.rst},
        indented to sit in the body of the C{makeService} directive.
    """
    rows = [("Keyword", "Type", "Unit", "Default", "Option")]
    for setting in SETTINGS:
        rows.append(
            (
                f"``{setting.name}``",
                setting.kind.pythonType,
                setting.kind.unit or "",
                f"``{setting.default!r}``",
                f"``--{setting.option}``",
            )
        )
    return _restTable(rows, (22, 22, 10, 28, 18), indent)


def _markdownEscape(text):
    """
    Escape the pipes of a Markdown table cell, in and out of code.
    """
    return text.replace("|", "\\|")


def readmeTable():
    """
    @return: the lines of the options table of C{README.md}.
    """
    lines = ["| Option | Default | Meaning |", "| --- | --- | --- |"]
    rows = [_README_APP_ROW, _README_MOUNT_ROW]
    for setting in SETTINGS:
        text, isValue = setting.shownDefault()
        rows.append(
            (
                _markdownEscape(f"`{_optionText(setting.option, setting.metavar)}`"),
                _markdownEscape(f"`{text}`" if isValue else text),
                _markdownEscape(setting.help)
                + "".join(f" Alias: `--{alias}` ({why})." for alias, why in setting.aliases),
            )
        )
    rows.extend([_README_LOG_LEVEL_ROW, _README_CONFIG_ROW])
    lines.extend(f"| {' | '.join(row)} |" for row in rows)
    return lines


def replaceTable(text, table, comment):
    """
    Put a table between the marker lines of a file's text.

    @param text: the file's text, with one C{BEGIN} and one C{END} marker
        line (each inside a comment).
    @param table: the table's lines (not indented: a table whose markers
        are indented, within a directive, is made indented by its maker).
    @param comment: how a marker line is written, e.g. C{".. {}"}.
    @return: the text with the table between the markers.
    @raise ValueError: the markers are missing.
    """
    lines = text.split("\n")
    begins = [i for i, line in enumerate(lines) if line.strip() == comment.format(BEGIN)]
    ends = [i for i, line in enumerate(lines) if line.strip() == comment.format(END)]
    if len(begins) != 1 or len(ends) != 1 or begins[0] > ends[0]:
        raise ValueError(f"expected one {BEGIN!r} and then one {END!r} marker")
    return "\n".join([*lines[: begins[0] + 1], "", *table, "", *lines[ends[0] :]])


TABLES = [
    ("docs/reference/options.rst", optionsTable, ".. {}"),
    ("docs/reference/api.rst", apiTable, ".. {}"),
    ("README.md", readmeTable, "<!-- {} -->"),
]
"""
Each file with a generated table: its path from the repository's root,
the function that makes the table, and how its marker lines are written.
"""


def updated(path, makeTable, comment):
    """
    @return: the text a file should have: what it has, with its table made
        afresh.
    """
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return replaceTable(f.read(), makeTable(), comment)


def main(argv):
    """
    Rewrite the tables, or with C{--check} only say which are stale.

    @return: the exit status: 1 if C{--check} found a stale table.
    """
    check = argv == ["--check"]
    stale = []
    for path, makeTable, comment in TABLES:
        text = updated(path, makeTable, comment)
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            if f.read() == text:
                continue
        stale.append(path)
        if not check:
            with open(os.path.join(ROOT, path), "w", encoding="utf-8") as f:
                f.write(text)
    for path in stale:
        print(f"{path}: {'stale' if check else 'rewritten'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
