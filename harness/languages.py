"""The languages a sandbox can run, and the image each one runs in.

Python problems run in the Python image with the judge/candidate split (see
``harness.sandbox.agent``).  Compiled languages run the suites' own way, the
program with its tests, in an image that adds the toolchain to the same
hardened recipe (``sandboxes/<folder>/Dockerfile``); the agent's ``native``
(C, C++) and ``golang`` modules compile, check and run them.  C and C++ share
one image.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ConfigError
from .protocol import COMPILERS, GO_TOOLS, JAVA_TOOLS, NODE, RUSTC, TYPESCRIPT


@dataclass(frozen=True)
class Language:
    name: str  # what problems and samples say: "cpp"
    title: str  # "C++"
    folder: str  # sandboxes/<folder>/ holds the image recipe
    packages: tuple[str, ...] = ()  # Debian packages the offline base adds for the toolchain
    aliases: tuple[str, ...] = ()  # also the Markdown fence tags replies use
    tools: tuple[str, ...] = ()  # executables the image must have (``sandbox check`` probes them)

    @property
    def image(self) -> str:
        """The default image tag, overridable with ``HARNESS_IMAGE_<NAME>``."""
        return os.environ.get(f"HARNESS_IMAGE_{self.name.upper()}", f"harness-sandbox-{self.folder}:1")

    @property
    def own_image(self) -> bool:
        """Not Python: the language's own image, and only whole programs
        (``program``: with the suite's tests; ``stdin_stdout``)."""
        return self.name != "python"


# g++ brings gcc; OpenSSL and Boost headers: HumanEvalPack's string_to_md5 and boost::any.
GCC_PACKAGES = ("g++", "libssl-dev", "libboost-dev")
NODE_PACKAGES = ("nodejs", "node-typescript")
LANGUAGES = {
    "python": Language("python", "Python", "python", aliases=("py", "python3")),
    "cpp": Language("cpp", "C++", "cpp", packages=GCC_PACKAGES, aliases=("c++", "cxx", "cc"), tools=COMPILERS),
    "c": Language("c", "C", "cpp", packages=GCC_PACKAGES, tools=COMPILERS),
    # testify: HumanEvalPack's Go tests assert with it.
    "go": Language("go", "Go", "go", packages=("golang-go", "golang-github-stretchr-testify-dev"),
                   aliases=("golang",), tools=GO_TOOLS),
    # rand, regex and md5: HumanEvalPack's Rust declarations use them (aho-corasick, memchr: regex's defaults).
    "rust": Language("rust", "Rust", "rust", packages=("rustc", "cargo", "librust-rand-dev", "librust-regex-dev",
                                                       "librust-md5-dev", "librust-aho-corasick-dev",
                                                       "librust-memchr-dev"), aliases=("rs",), tools=(RUSTC,)),
    # TypeScript runs as JavaScript does, in the same image, once Debian's compiler checked and transpiled it.
    "javascript": Language("javascript", "JavaScript", "javascript", packages=NODE_PACKAGES,
                           aliases=("js", "node", "nodejs"), tools=(NODE,)),
    "typescript": Language("typescript", "TypeScript", "javascript", packages=NODE_PACKAGES, aliases=("ts",),
                           tools=(NODE, TYPESCRIPT)),
    # javatuples: MultiPL-E's Java tests use it.
    "java": Language("java", "Java", "java", packages=("openjdk-17-jdk-headless", "libjavatuples-java"),
                     tools=JAVA_TOOLS),
}
_BY_ALIAS = {alias: lang for lang in LANGUAGES.values() for alias in (lang.name, *lang.aliases)}


def language(name: str) -> Language:
    """The language called ``name`` (or an alias: ``c++``).

    Raises:
        ConfigError: a language no sandbox runs yet.
    """
    found = _BY_ALIAS.get(name.strip().lower())
    if found is None:
        raise ConfigError(f"no sandbox for language {name!r} yet; known: {', '.join(LANGUAGES)}")
    return found


def image_folders(names: Iterable[str]) -> list[str]:
    """``--languages python,cpp`` (or ``all``) as the image folders to build, each once."""
    wanted = list(LANGUAGES) if "all" in names else [language(name).name for name in names]
    folders: list[str] = []
    for name in wanted:
        if LANGUAGES[name].folder not in folders:
            folders.append(LANGUAGES[name].folder)
    return folders


def folder_packages(folder: str) -> tuple[str, ...]:
    return next(lang.packages for lang in LANGUAGES.values() if lang.folder == folder)


def folder_image(folder: str) -> str:
    return next(lang.image for lang in LANGUAGES.values() if lang.folder == folder)


def folder_tools(folder: str, names: Iterable[str] = ("all",)) -> tuple[str, ...]:
    """What the languages ``names`` (or ``all``) that run in ``folder``'s
    image need: one image holds JavaScript and TypeScript, so ``js`` asks for
    node, and ``ts`` for TypeScript's compiler as well."""
    wanted = set(LANGUAGES) if "all" in names else {language(name).name for name in names}
    return tuple(dict.fromkeys(tool for lang in LANGUAGES.values()
                               if lang.folder == folder and lang.name in wanted for tool in lang.tools))


__all__ = ["LANGUAGES", "Language", "folder_image", "folder_packages", "folder_tools", "image_folders", "language"]
