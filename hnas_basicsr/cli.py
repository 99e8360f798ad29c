"""Helpers shared by the command-line tools: errors reported in one line, safe YAML loading, the run root."""
import os
import sys
from os import path as osp

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


def root_outside_checkout():
    """Make the current directory the root of ``experiments/``, ``results/`` and ``tb_logger/`` ($HNAS_ROOT, unless
    set) when the package is not in a source checkout.

    :func:`hnas_basicsr.runtime.project_root` is $HNAS_ROOT, else the folder holding the package: the checkout for
    ``python hnas_basicsr/train.py`` and for an editable install (``pip install -e .``), but site-packages for a
    regular install, whose commands therefore work in the current directory.
    """
    if not osp.isfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'setup.py')):
        os.environ.setdefault('HNAS_ROOT', os.getcwd())


def run_tool(name, action, args):
    """``action(args)`` with freed memory reused (:mod:`hnas_basicsr.allocator`) and the root of
    :func:`root_outside_checkout`; a ToolError is printed as ``<name>: error: <message>`` on stderr. Returns the exit
    status (0, or 2 on an error)."""
    root_outside_checkout()
    reuse_freed_memory()
    try:
        action(args)
    except ToolError as exc:
        print(f'{name}: error: {exc}', file=sys.stderr)
        return 2
    return 0
