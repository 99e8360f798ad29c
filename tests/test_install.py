"""setup.py declares every third-party package that the package and its tools import, at the pinned versions, and
every console script runs from a fresh install.

The install is the README's (pip, no dependencies fetched: ``--no-deps``) into a fresh virtual environment that
holds nothing else but links to the distributions of this environment that setup.py declares and that they
require in turn (torch alone is 6 GB: nothing is downloaded). A package the code imports but setup.py omits is
therefore missing there, as it would be from a user's environment.
"""
import ast
import glob
import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
import sys
from os import path as osp

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SCRIPTS = ('hnas-train', 'hnas-test', 'hnas-derive', 'hnas-benchmark', 'hnas-count-flops', 'hnas-export-onnx',
           'hnas-build-latency-table', 'hnas-prepare-data')


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f'{" ".join(map(str, args))}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}'
    return result.stdout


def link_distributions(requirements, site):
    """Link into ``site`` the distributions of this environment that ``requirements`` name, and those they require in
    turn (a transitive one missing here is skipped: basicsr's tb-nightly, replaced by tensorboard as in the Makefile).

    Returns:
        dict: canonical name -> installed version, of the distributions that ``requirements`` name.
    """
    direct = {canonicalize_name(Requirement(r).name) for r in requirements}
    found, seen, todo = {}, set(), list(requirements)
    while todo:
        requirement = Requirement(todo.pop())
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({'extra': ''})):
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            assert name not in direct, f'{name} is declared but not installed in the test environment'
            continue
        if name in direct:
            found[name] = dist.version
        for top in {f.parts[0] for f in dist.files or () if f.parts[0] != '..'}:
            if not os.path.lexists(osp.join(site, top)):
                os.symlink(dist.locate_file(top), osp.join(site, top))
        todo.extend(dist.requires or ())
    return found


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """A fresh virtual environment with the project installed by pip and its declared requirements linked in."""
    tmp = tmp_path_factory.mktemp('install')
    src, venv, site = tmp / 'src', tmp / 'venv', tmp / 'site'
    shutil.copytree(osp.join(REPO, 'hnas_basicsr'), src / 'hnas_basicsr', ignore=shutil.ignore_patterns('__pycache__'))
    for name in ('setup.py', 'README.md'):
        shutil.copy(osp.join(REPO, name), src)
    run([sys.executable, '-m', 'venv', '--without-pip', str(venv)])
    python = str(venv / 'bin' / 'python')
    run([sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps', '--no-build-isolation', '--no-index', '-w',
         str(tmp / 'wheel'), str(src)])
    run([sys.executable, '-m', 'pip', '--python', python, 'install', '--quiet', '--no-deps', '--no-index',
         *glob.glob(str(tmp / 'wheel' / '*.whl'))])
    requires = run([python, '-c', 'import importlib.metadata as m; print("\\n".join(m.requires("hnas_basicsr")))'],
                   cwd=tmp).split('\n')
    requires = [r for r in requires if r.strip()]
    site.mkdir()
    versions = link_distributions(requires, str(site))
    purelib = run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])']).strip()
    with open(osp.join(purelib, 'declared_requirements.pth'), 'w') as f:
        f.write(f'{site}\n')
    return {'tmp': tmp, 'venv': venv, 'requires': requires, 'versions': versions}


def imported_distributions():
    """Distribution name -> modules, for every third-party module that hnas_basicsr/ and tools/ import (lazy imports
    included)."""
    providers = metadata.packages_distributions()
    found = {}
    for path in glob.glob(osp.join(REPO, 'hnas_basicsr', '**', '*.py'), recursive=True) + \
            glob.glob(osp.join(REPO, 'tools', '*.py')):
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for top in {m.split('.')[0] for m in modules} - set(sys.stdlib_module_names) - {'hnas_basicsr'}:
                for name in providers.get(top, [top]):
                    found.setdefault(canonicalize_name(name), set()).add(top)
    return found


def test_setup_declares_every_third_party_package_that_the_package_and_tools_import(installed):
    declared = {canonicalize_name(Requirement(r).name) for r in installed['requires']}
    imported = imported_distributions()
    assert {'torch', 'basicsr', 'matplotlib', 'tqdm', 'scikit-image'} <= set(imported)  # the scan sees them
    missing = {name: sorted(modules) for name, modules in imported.items() if name not in declared}
    assert not missing, f'imported but not in setup.py install_requires: {missing}'


def test_declared_versions_are_the_pinned_ones(installed):
    with open(osp.join(REPO, 'requirements.txt')) as f:
        pins = [line.split('#')[0].strip() for line in f]
    with open(osp.join(REPO, 'Makefile')) as f:
        pins += re.findall(r'basicsr==[\d.]+', f.read())
    pinned = {canonicalize_name(r.name): r.specifier for r in map(Requirement, filter(None, pins))}
    for requirement in map(Requirement, installed['requires']):
        name = canonicalize_name(requirement.name)
        assert requirement.specifier == pinned[name], f'{name}: setup.py {requirement.specifier}, pinned {pinned[name]}'
        assert requirement.specifier.contains(installed['versions'][name], prereleases=True)


def test_every_console_script_runs_from_a_fresh_install(installed):
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'HNAS_ROOT')}
    procs = {script: subprocess.Popen([str(installed['venv'] / 'bin' / script), '--help'], cwd=installed['tmp'],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for script in SCRIPTS}
    for script, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and 'usage:' in out, f'{script} --help:\n{out[-2000:]}\n{err[-3000:]}'
