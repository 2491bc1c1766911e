"""One module per source document (../shared/seeds/); importing this package registers their
experiments. Installed as `autograd_mini.models`."""
from . import digits, doc000, doc001, doc002, doc003  # noqa: F401
