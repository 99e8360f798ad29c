"""Helpers shared by the command-line tools: errors reported in one line, safe YAML loading."""
import sys

import yaml

from hnas_basicsr.allocator import reuse_freed_memory


class ToolError(Exception):
    """An error to report in one line, without a traceback."""


def one_line(exc):
    """``Type: first line of the message`` of an exception."""
    lines = str(exc).strip().splitlines()
    return f'{type(exc).__name__}: {lines[0] if lines else ""}'


def load_yaml(path):
    """``yaml.safe_load`` of a UTF-8 file, with read, decoding and parse errors as ToolError."""
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8')
        return yaml.safe_load(text)
    except OSError as exc:
        raise ToolError(f'{path}: cannot read ({exc.strerror})') from None
    except UnicodeDecodeError as exc:
        raise ToolError(f'{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); '
                        'save it as UTF-8') from None
    except yaml.YAMLError as exc:
        refused = ' (refused: Python tags could run code)' if 'python/' in str(exc) else ''
        raise ToolError(f'{path}: not valid YAML{refused} ({" ".join(str(exc).split())})') from None


def run_tool(name, action, args):
    """``action(args)`` with freed memory reused (:mod:`hnas_basicsr.allocator`); a ToolError is printed as
    ``<name>: error: <message>`` on stderr. Returns the exit status (0, or 2 on an error)."""
    reuse_freed_memory()
    try:
        action(args)
    except ToolError as exc:
        print(f'{name}: error: {exc}', file=sys.stderr)
        return 2
    return 0
