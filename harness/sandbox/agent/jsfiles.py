"""The agent's JavaScript sources (``js/``), as text.  On the host they are
read from the package; in the joined agent this module is replaced by the
same mapping as literals (see ``joined_source``): nothing is copied into a
sandbox."""

from importlib import resources

JS_NAMES = ("codec", "candidate", "judge", "script", "typescript")
JS = {name: resources.files(__package__).joinpath("js", name + ".js").read_text() for name in JS_NAMES}
