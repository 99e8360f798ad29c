"""Paired HR/LR super-resolution data for BasicSR: modcropped HR, MATLAB-bicubic LR, sub-images and LMDBs.

Usage (``hnas-prepare-data`` is the same command)::

    python tools/prepare_data.py                                     # scikit-image's sample photos
    python tools/prepare_data.py /work/shared/datasets/train/T91     # a folder of HR images
    python tools/prepare_data.py ../Set5/HR --no-sub-images          # a test set: whole images only
    python tools/prepare_data.py ../train/T91 ../train/General100 --scales 2   # several folders as one set
    python tools/prepare_data.py DIV2K_train_HR --scales 2 4 --crop-size 192 --step 96 --workers 2

Input: flat folders of HR images (png, jpg, bmp, tif, webp, ppm/pgm; a folder holding none but an ``HR``
sub-folder uses that), taken together as one set, or by default the RGB photos of at least 256 px per side that ship inside scikit-image
(``DEFAULT_IMAGES``). Output, under ``--out`` (default ``datasets/<input names joined by _>`` or ``datasets/skimage``)::

    GTmod12/<name>.png                  HR cropped to a multiple of 12 (fits x2, x3 and x4)
    HR/<name>.png                       whole-image sets (--no-sub-images, val/): the HR as read, uncropped, for
                                        tools/benchmark.py (which crops it to a multiple of the scale)
    LRbicx{s}/<name>.png                imresize(HR / 255, 1 / s) * 255, rounded and clipped to uint8
    GTmod12_sub/<name>_s001.png ...     HR crops of --crop-size every --step px, the border crop included
    LRbicx{s}_sub/<name>_s001.png ...   the aligned LR crops (--crop-size / s), cut from LRbicx{s}
    GTmod12_sub.lmdb, LRbicx{s}_sub.lmdb  the sub-images as BasicSR LMDBs (keys = file names, meta_info.txt)
    val/GTmod12, val/LRbicx{s}          the --holdout last images by name, whole; never in the training outputs
    prepare_data.json                   the settings of these outputs (checked when re-running)

Images are read as 3-channel 8-bit (grayscale is replicated, alpha dropped; HR/ keeps a grayscale image
single-channel, so that the benchmark scores it on its own channel) and named after their file, with
characters other than letters, digits, '_' and '-' replaced by '_' (LMDB keys cannot hold '.'). Images
smaller than the crop on a side get no sub-images (listed in the summary); unreadable files are skipped and
listed. Re-running keeps complete outputs (an image is redone only when one of its files is missing, an LMDB
only when its images changed); ``--overwrite`` rebuilds everything. Usage and input errors print one line on
stderr and exit with 2.
"""
import argparse
import contextlib
import io
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import cv2
from tqdm import tqdm

from hnas_basicsr.cli import ToolError
from hnas_basicsr.images import imresize_uint8, modcrop, read_image

MOD = 12
SCALES = (2, 3, 4)
EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm', '.pnm')
# RGB photos of at least 256 px a side; one of the motorcycle stereo pair only (the two views nearly match, so
# one could not be held out from the other); no retina (1411 px a side: slow to validate on a CPU).
DEFAULT_IMAGES = ('astronaut.png', 'chelsea.png', 'coffee.png', 'color.png', 'hubble_deep_field.jpg', 'ihc.png',
                  'motorcycle_right.png', 'rocket.jpg')
DEFAULT_HOLDOUT = 2
RECORD = 'prepare_data.json'


class _Parser(argparse.ArgumentParser):

    def error(self, message):
        raise ToolError(message)


def build_parser():
    """The command-line parser."""
    parser = _Parser(description=__doc__.split('\n\n')[0])
    parser.add_argument('input', nargs='*', help='folders of HR images (default: scikit-image sample photos)')
    parser.add_argument('--out', help='output folder (default: datasets/<input names joined by _>, or '
                        'datasets/skimage)')
    parser.add_argument('--scales', type=int, nargs='+', choices=SCALES, default=list(SCALES), help='LR scales')
    parser.add_argument('--crop-size', type=int, default=96, help='HR sub-image size (default 96)')
    parser.add_argument('--step', type=int, default=48, help='HR sub-image stride (default 48)')
    parser.add_argument('--holdout', type=int, help=f'last N images by name go to val/ (default {DEFAULT_HOLDOUT} '
                        'for the default data, else 0)')
    parser.add_argument('--no-sub-images', action='store_true', help='whole images only (test sets)')
    parser.add_argument('--no-lmdb', action='store_true', help='do not build LMDBs of the sub-images')
    parser.add_argument('--overwrite', action='store_true', help='rebuild all outputs')
    parser.add_argument('--workers', type=int, default=1, help='processes for the training images (default 1)')
    return parser


def check_args(args):
    """Fills the defaults that depend on the input and rejects inconsistent options.

    Args:
        args (argparse.Namespace): Parsed arguments; ``out``, ``holdout`` and ``scales`` are completed in place.

    Raises:
        ToolError: On a bad option.
    """
    args.scales = sorted(set(args.scales))
    if args.holdout is None:
        args.holdout = 0 if args.input else DEFAULT_HOLDOUT
    if args.out is None:
        args.out = os.path.join('datasets', '_'.join(map(dataset_name, args.input)) if args.input else 'skimage')
    if args.holdout < 0:
        raise ToolError(f'--holdout must be >= 0, got {args.holdout}')
    if args.workers < 1:
        raise ToolError(f'--workers must be >= 1, got {args.workers}')
    out = os.path.abspath(args.out)
    if any(os.path.abspath(folder) in (out, os.path.join(out, 'HR')) for folder in args.input):
        raise ToolError(f'--out {args.out}: an input folder; its outputs (HR/ among them) would overwrite the inputs')
    if not args.no_sub_images:
        for opt, value in (('--crop-size', args.crop_size), ('--step', args.step)):
            bad = [s for s in args.scales if value % s]
            if value < 1 or bad:
                raise ToolError(f'{opt} must be a positive multiple of every scale '
                                f'({" ".join(map(str, args.scales))}), got {value}')


def dataset_name(folder):
    """The name of a data set folder: its base name, or its parent's when it is called ``HR``."""
    folder = os.path.normpath(os.path.abspath(folder))
    name = os.path.basename(folder)
    return os.path.basename(os.path.dirname(folder)) if name == 'HR' else name


def default_sources():
    """The paths of the default images (``DEFAULT_IMAGES`` found in scikit-image's data folder)."""
    import skimage.data
    folder = os.path.dirname(skimage.data.__file__)
    return [os.path.join(folder, f) for f in DEFAULT_IMAGES if os.path.isfile(os.path.join(folder, f))]


def list_images(folder):
    """The image files of a flat folder, sorted; falls back to its ``HR`` sub-folder when it holds none.

    Raises:
        ToolError: If the folder is missing or holds no image.
    """
    if not os.path.isdir(folder):
        raise ToolError(f'not a folder: {folder}' if os.path.exists(folder) else f'input folder not found: {folder}')
    for path in (folder, os.path.join(folder, 'HR')):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if not f.startswith('.')
                       and f.lower().endswith(EXTENSIONS)) if os.path.isdir(path) else []
        if files:
            return files
    raise ToolError(f'no images ({", ".join(e[1:] for e in EXTENSIONS)}) in {folder}')


def safe_name(path):
    """The output name of an image file: its stem with characters other than [A-Za-z0-9_-] replaced by '_'."""
    return re.sub(r'[^A-Za-z0-9_-]', '_', os.path.splitext(os.path.basename(path))[0])


def name_sources(paths):
    """Pairs image files with output names, sorted by name; a later file whose name is taken is skipped.

    Returns:
        tuple[list[tuple[str, str]], list[tuple[str, str]]]: (name, path) pairs and (file, reason) skips.
    """
    named, skipped = {}, []
    for path in paths:
        name = safe_name(path)
        if name in named:
            skipped.append((os.path.basename(path), f'same name as {os.path.basename(named[name])}'))
        else:
            named[name] = path
    return sorted(named.items()), skipped


def crop_positions(length, crop, step):
    """Start offsets of crops along one side, every ``step`` px plus the last one flush with the border."""
    if length < crop:
        return []
    starts = list(range(0, length - crop + 1, step))
    return starts if starts[-1] == length - crop else starts + [length - crop]


def sub_boxes(shape, crop, step):
    """Top-left corners of the sub-images of an image, row by row (as basicsr's extract_subimages)."""
    return [(y, x) for y in crop_positions(shape[0], crop, step) for x in crop_positions(shape[1], crop, step)]


def sub_name(name, index):
    """The name of the ``index``-th (from 1) sub-image of an image."""
    return f'{name}_s{index:03d}'


def write_png(path, img):
    """Writes a PNG atomically (a temporary file, then a rename)."""
    ok, buf = cv2.imencode('.png', img)
    if not ok:
        raise OSError(f'cannot encode {path}')
    buf.tofile(path + '.tmp')
    os.replace(path + '.tmp', path)


def folders(scales, subs, val=False):
    """The output folders (relative to the output root) of a kind of image, with their scale (None for GTmod12,
    'HR' for the uncropped HR of whole-image sets)."""
    root = 'val/' if val else ''
    out = [(f'{root}GTmod12', None)] + [(f'{root}LRbicx{s}', s) for s in scales]
    return out + [(f'{f}_sub', s) for f, s in out] if subs else out + [(f'{root}HR', 'HR')]


def existing_outputs(out, name, dirs, crop, step):
    """Checks whether all the files of an image exist in ``dirs`` (pairs from :func:`folders`).

    Returns:
        tuple[bool, list[str]]: Whether they all exist, and the names of its sub-images.
    """
    if not all(os.path.isfile(os.path.join(out, d, f'{name}.png')) for d, _ in dirs if not d.endswith('_sub')):
        return False, []
    if not crop:
        return True, []
    gt = cv2.imread(os.path.join(out, dirs[0][0], f'{name}.png'), cv2.IMREAD_COLOR)
    if gt is None:
        return False, []
    subs = [sub_name(name, i + 1) for i in range(len(sub_boxes(gt.shape, crop, step)))]
    return all(os.path.isfile(os.path.join(out, d, f'{n}.png')) for d, _ in dirs if d.endswith('_sub')
               for n in subs), subs


def process_image(src, name, out, scales, crop=None, step=None, val=False):
    """Writes the GT, LR and (with ``crop``) sub-images of one image, unless they all exist already.

    Args:
        src (str): Source image file.
        name (str): Output name.
        out (str): Output root.
        scales (list[int]): LR scales.
        crop (int | None): HR sub-image size; None for no sub-images.
        step (int | None): HR sub-image stride.
        val (bool): Whether the image is held out (written under ``out/val``).

    Returns:
        dict: ``name``, ``file`` (source file name), ``val``, ``status`` ('written', 'kept' or 'skipped'),
        ``reason`` (why it was skipped), ``files`` (folder -> number of files of this image) and ``subs`` (its
        sub-image names).
    """
    result = {'name': name, 'file': os.path.basename(src), 'val': val, 'status': 'kept', 'reason': '',
              'files': Counter(), 'subs': []}
    dirs = folders(scales, crop is not None, val)
    complete, subs = existing_outputs(out, name, dirs, crop, step)
    if not complete:
        read = read_image(src)
        if read is None or min(read[0].shape[:2]) < MOD:
            return {**result, 'status': 'skipped', 'reason': 'unreadable' if read is None else f'smaller than {MOD} px'}
        img, gray = read
        gt = modcrop(img, MOD)
        images = {None: gt, 'HR': img[..., 0] if gray else img, **{s: imresize_uint8(gt, 1 / s) for s in scales}}
        boxes = sub_boxes(gt.shape, crop, step) if crop else []
        subs = [sub_name(name, i + 1) for i in range(len(boxes))]
        for d, s in dirs:
            whole, k = images[s], s or 1
            if d.endswith('_sub'):
                for n, (y, x) in zip(subs, boxes):
                    write_png(os.path.join(out, d, f'{n}.png'), whole[y // k:(y + crop) // k, x // k:(x + crop) // k])
            else:
                write_png(os.path.join(out, d, f'{name}.png'), whole)
        result['status'] = 'written'
    result['files'].update({d: len(subs) if d.endswith('_sub') else 1 for d, _ in dirs})
    return {**result, 'subs': subs}


def clear_outputs(out):
    """Removes everything this tool may have written under ``out`` (all scales), nothing else; an ``HR/`` folder
    only where this tool's record shows that it wrote one."""
    suffixes = ('', '_sub', '_sub.lmdb')
    names = [f'{d}{suffix}' for d, s in folders(SCALES, False) for suffix in suffixes if s != 'HR']
    for name in [RECORD, 'val'] + names + (['HR'] if os.path.isfile(os.path.join(out, RECORD)) else []):
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def check_record(out, settings):
    """Records the settings of the outputs in ``out``, refusing outputs made with other settings.

    Raises:
        ToolError: If ``out`` holds outputs made from other images or with another holdout, crop size or step.
    """
    path = os.path.join(out, RECORD)
    if os.path.isfile(path):
        try:
            with open(path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = {}
        diff = [k for k in settings if old.get(k) != settings[k]]
        if diff:
            raise ToolError(f'{out} holds outputs made with other {", ".join(diff)}; use --overwrite or another --out')
        return
    os.makedirs(out, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(settings, f, indent=1)


def lmdb_keys(lmdb_path):
    """The keys listed in an LMDB's meta_info.txt, or None if it is incomplete."""
    meta = os.path.join(lmdb_path, 'meta_info.txt')
    if not (os.path.isfile(meta) and os.path.isfile(os.path.join(lmdb_path, 'data.mdb'))):
        return None
    with open(meta) as f:
        return [line.split(' ')[0].rsplit('.', 1)[0] for line in f if line.strip()]


def write_lmdb(folder, keys, rebuild):
    """Builds ``<folder>.lmdb`` from ``<folder>/<key>.png`` with basicsr's make_lmdb_from_imgs.

    Args:
        folder (str): Folder of the images.
        keys (list[str]): Image names, without '.'.
        rebuild (bool): Whether to rebuild an existing LMDB that lists the same keys.

    Returns:
        bool: Whether the LMDB was (re)built.
    """
    lmdb_path = f'{folder}.lmdb'
    if not rebuild and lmdb_keys(lmdb_path) == keys:
        return False
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    tmp = os.path.join(os.path.dirname(folder), f'.{os.path.basename(folder)}.tmp.lmdb')
    shutil.rmtree(tmp, ignore_errors=True)
    paths = [f'{k}.png' for k in keys]
    map_size = 10 * sum(os.path.getsize(os.path.join(folder, p)) for p in paths) + 2**24
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # a line per image
        make_lmdb_from_imgs(folder, tmp, paths, keys, map_size=map_size)
    shutil.rmtree(lmdb_path, ignore_errors=True)
    os.replace(tmp, lmdb_path)
    return True


def _init_worker():
    """One torch thread per worker process."""
    import torch
    torch.set_num_threads(1)


def process_all(jobs, workers, desc):
    """Runs process_image on every job (keyword dicts), in ``workers`` processes, with a progress bar."""
    bar = tqdm(total=len(jobs), desc=desc, unit='img', file=sys.stderr)
    results = []
    if workers == 1 or len(jobs) < 2:
        for job in jobs:
            results.append(process_image(**job))
            bar.update()
    else:
        with ProcessPoolExecutor(min(workers, len(jobs)), initializer=_init_worker) as pool:
            for future in as_completed([pool.submit(process_image, **job) for job in jobs]):
                results.append(future.result())
                bar.update()
    bar.close()
    return sorted(results, key=lambda r: r['name'])


def hold_out(named, n, out, scales):
    """Writes the last ``n`` readable images by name to ``out/val``.

    Returns:
        tuple[list[dict], list[tuple[str, str]]]: Results of the held-out images and the (name, path) pairs left
        for training (the images tried for holdout, readable or not, are not among them).
    """
    results, left = [], list(named)
    while left and sum(r['status'] != 'skipped' for r in results) < n:
        name, path = left.pop()
        results.append(process_image(path, name, out, scales, val=True))
        print(f'prepare_data: held out {name} ({results[-1]["status"]})')
    return sorted(results, key=lambda r: r['name']), left


def options_snippet(out, scale, subs, lmdb, crop, has_val):
    """Lines of a BasicSR ``datasets:`` section using the outputs at one scale."""
    name = os.path.basename(os.path.normpath(out))
    io_type = 'lmdb' if lmdb else 'disk'
    lines = ['datasets:']
    if subs:
        lines += ['  train:', f'    name: {name}', '    type: HNASPairedImageDataset',
                  f'    dataroot_gt: {out}/GTmod12_sub' + ('.lmdb' if lmdb else ''),
                  f'    dataroot_lq: {out}/LRbicx{scale}_sub' + ('.lmdb' if lmdb else ''),
                  f'    io_backend: {{type: {io_type}}}', f'    gt_size: {crop}  # at most --crop-size',
                  '    use_hflip: true', '    use_rot: true']
    root, vname = (f'{out}/val', f'{name}_val') if has_val else (out, name)
    if has_val or not subs:
        lines += ['  val:', f'    name: {vname}', '    type: HNASPairedImageDataset',
                  f'    dataroot_gt: {root}/GTmod12', f'    dataroot_lq: {root}/LRbicx{scale}', '    io_backend: {type: disk}']
    return lines


def summary(args, source, named_skips, results, lmdbs, seconds):
    """Lines of the final report."""
    used = [r for r in results if r['status'] != 'skipped']
    val = [r['name'] for r in used if r['val']]
    skipped = named_skips + [(r['file'], r['reason']) for r in results if r['status'] == 'skipped']
    subs = not args.no_sub_images
    held_out = f' ({len(val)} held out: {", ".join(val)})' if val else ''
    lines = [f'prepare_data: {len(used)} images used{held_out}, {len(skipped)} skipped, from {source}, '
             f'in {seconds:.1f} s']
    lines += [f'  skipped {f}: {why}' for f, why in skipped]
    small = [r['name'] for r in used if not r['val'] and not r['subs']]
    if subs and small:
        lines.append(f'  no sub-images (smaller than {args.crop_size}x{args.crop_size}): {", ".join(small)}')
    written, total = Counter(), Counter()
    for r in used:
        total.update(r['files'])
        if r['status'] == 'written':
            written.update(r['files'])
    lines.append(f'  files in {args.out} (written now / total, the rest kept):')
    lines += [f'    {d + "/":<20} {written[d]:>6} / {total[d]}' for d in sorted(total)]
    if lmdbs:
        lines.append('  LMDBs:')
        lines += [f'    {p} ({"built" if built else "kept"})' for p, built in lmdbs]
    lines.append(f'  BasicSR options (x{args.scales[-1]}; the same with LRbicx{{2,3}} for other scales):')
    snippet = options_snippet(args.out, args.scales[-1], subs and any(r['subs'] for r in used), bool(lmdbs),
                              args.crop_size, bool(val))
    return lines + ['    ' + line for line in snippet]


def prepare(args):
    """Runs every step for parsed, checked arguments.

    Returns:
        int: Exit code.
    """
    start = time.time()
    if args.input:
        source = ' + '.join(os.path.abspath(folder) for folder in args.input)
        paths = [p for folder in args.input for p in list_images(folder)]
    else:
        paths = default_sources()
        if not paths:
            raise ToolError('none of the default images is in this scikit-image install')
        source = os.path.dirname(paths[0])
    named, named_skips = name_sources(paths)
    if args.holdout >= len(named):
        raise ToolError(f'--holdout {args.holdout} leaves no training image ({len(named)} images in {source})')
    if args.overwrite:
        clear_outputs(args.out)
    check_record(args.out, {'source': source, 'inputs': [os.path.basename(p) for p in paths],
                            'holdout': args.holdout, 'crop_size': args.crop_size, 'step': args.step})
    subs = not args.no_sub_images
    for d, _ in folders(args.scales, subs) + (folders(args.scales, False, val=True) if args.holdout else []):
        os.makedirs(os.path.join(args.out, d), exist_ok=True)
    print(f'prepare_data: {len(named)} images from {source} -> {args.out} (scales {" ".join(map(str, args.scales))})')
    val_results, train = hold_out(named, args.holdout, args.out, args.scales)
    crop, step = (args.crop_size, args.step) if subs else (None, None)
    jobs = [dict(src=p, name=n, out=args.out, scales=args.scales, crop=crop, step=step) for n, p in train]
    results = process_all(jobs, args.workers, 'training images')
    lmdbs = []
    keys = [k for r in results for k in r['subs']]
    if subs and not args.no_lmdb and keys:
        changed = any(r['status'] == 'written' for r in results)
        for d in (d for d, _ in folders(args.scales, True) if d.endswith('_sub')):
            built = write_lmdb(os.path.join(args.out, d), keys, changed)
            lmdbs.append((os.path.join(args.out, f'{d}.lmdb'), built))
            print(f'prepare_data: {d}.lmdb: {len(keys)} images, {"built" if built else "kept (unchanged)"}')
    results = val_results + results
    print('\n'.join(summary(args, source, named_skips, results, lmdbs, time.time() - start)))
    if all(r['status'] == 'skipped' for r in results):
        raise ToolError(f'none of the {len(paths)} images in {source} could be used')
    return 0


def main(argv=None):
    """Command-line entry point.

    Args:
        argv (list[str] | None): Arguments (default: sys.argv[1:]).

    Returns:
        int: Exit code: 0 on success, 2 on a usage or input error, 1 on a file-system error.
    """
    try:
        args = build_parser().parse_args(argv)
        check_args(args)
        return prepare(args)
    except ToolError as exc:
        print(f'prepare_data: error: {exc}', file=sys.stderr)
        return 2
    except OSError as exc:
        print(f'prepare_data: error: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
