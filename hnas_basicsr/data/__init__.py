"""The plugin's datasets; importing this package registers every `*_dataset.py` file's classes in BasicSR."""
from hnas_basicsr.registry import import_modules

import_modules(__name__, '_dataset.py')
