"""One module per source document (../shared/seeds/); importing this package registers their
experiments. The folder is the import name, installed or not: `import models`."""
from . import doc000, doc001, doc002, doc003, digits  # noqa: F401,I001 (documents first, in the order `list` shows)
