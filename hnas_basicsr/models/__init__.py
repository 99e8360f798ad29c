"""The plugin's models; importing this package registers every `*_model.py` file's classes in BasicSR."""
from hnas_basicsr.registry import import_modules

import_modules(__name__, '_model.py')
