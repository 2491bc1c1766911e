"""One module per source document (../shared/seeds/ beside the repository), plus digits; importing this
package registers every experiment they define. The folder is the import name, installed or not:
`import models`.

A new experiment is one new module here: every module of the folder is imported, documents first
(doc000, doc001, ...), then the rest by name, which is the order `autograd-mini list` shows.
"""
import importlib
import pkgutil

MODULES = sorted((m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")),
                 key=lambda name: (not name.startswith("doc"), name))
for _name in MODULES:
    importlib.import_module(f"{__name__}.{_name}")
