"""Compiled languages, side by side in one run: HumanEvalPack's canonical and
buggy solutions (328 candidates a language) through ``harness evaluate``
(sandboxed, warm containers, the tests' completion mark) against the plain
toolchain on the host, unsandboxed, one process per candidate, as
HumanEvalPack's evaluator runs it, as many at a time as harness has workers:

* C++: ``g++`` then ``./a.out``;
* Go: ``go test`` on the one file bigcode-evaluation-harness writes (its
  test_setup, the helper imports it adds, the program, the tests), with a
  warm build cache, GOPATH mode (testify from Debian);
* Rust: ``rustc --test`` (what ``cargo test`` runs, without cargo) on the
  program and its tests module, with rand, regex and md5 built once with
  cargo from Debian's crate sources, then the test binary;
* JavaScript: ``node`` on the program with its tests appended (passed: exit
  status 0 and an empty stderr, since a false ``console.assert`` only prints);
* Java: ``javac`` on the program with its tests appended, in one Main.java,
  then ``java -ea Main``;
* TypeScript: HumanEvalPack has none, so its JavaScript rows are run as
  TypeScript (``TypeScript/N``): ``tsc --target esnext`` then ``node``, as
  MultiPL-E's ``eval_ts.py`` runs it (a type error fails the candidate on both
  sides; many of these untyped programs have one), passed as for JavaScript.

Also prints each side's agreement with the published labels (canonical
passes, buggy fails) and the candidates on which the two sides differ.

Usage: python benchmarks/bench_native.py [--language cpp|go|rust|javascript|typescript|java] [--workers 2] [--limit 164]
Needs: the language's image (`harness sandbox build --languages cpp,go,rust,javascript,java`),
and on the host g++ with the OpenSSL and Boost headers (apt-get install g++
libssl-dev libboost-dev), Go with testify (apt-get install golang-go
golang-github-stretchr-testify-dev) or Rust (apt-get install rustc cargo
librust-rand-dev librust-regex-dev librust-md5-dev librust-aho-corasick-dev
librust-memchr-dev) or Node.js (apt-get install nodejs; JavaScript/162
needs the js-md5 package: npm install -g js-md5, or leave it failing), for
TypeScript also the image's compiler version (npm install -g typescript@4.8.4),
or a JDK (apt-get install openjdk-17-jdk-headless libjavatuples-java).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.problems import CodeField, load_problems  # noqa: E402

COMPILE = ["g++", "-std=c++17", "-o", "a.out", "main.cpp", "-Wl,--as-needed", "-lcrypto", "-lssl", "-lm"]
# bigcode-evaluation-harness's IMPORT_HELPER["go"]
GO_HELPERS = ("math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5")
GO_ENV = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOFLAGS="",
              GOCACHE=str(Path(tempfile.gettempdir()) / "bench-native-gocache"))


def pack(language: str) -> Path:
    """The bundled HumanEvalPack file; for TypeScript, its JavaScript rows
    renamed ``TypeScript/N`` (written once, in the temp dir)."""
    if language != "typescript":
        return ROOT / "problems" / f"humanevalpack_{ {'javascript': 'js'}.get(language, language)}.jsonl.gz"
    target = Path(tempfile.gettempdir()) / "bench-native-humanevalpack_ts.jsonl.gz"
    with gzip.open(pack("javascript"), "rt") as source, gzip.open(target, "wt") as out:
        for line in source:
            row = json.loads(line)
            out.write(json.dumps(dict(row, task_id=row["task_id"].replace("JavaScript/", "TypeScript/"))) + "\n")
    return target


def candidates(source: Path, limit: int) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in gzip.open(source, "rt")][:limit]
    return [{"task_id": row["task_id"], "completion": row[field], "label": field.split("_")[0],
             "row": row} for row in rows for field in ("canonical_solution", "buggy_solution")]


def compile_and_run(source: str, text: str, compile_argv: list[str], binary: str) -> bool:
    """In a fresh dir: ``text`` as ``source``, compiled, then ``binary`` run; passed = exit status 0."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / source).write_text(text)
        if subprocess.run(compile_argv, cwd=tmp, capture_output=True).returncode != 0:
            return False
        try:
            return subprocess.run([binary], cwd=tmp, capture_output=True, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False


def host_cpp(row: dict, program: str) -> bool:
    """g++ then the binary."""
    return compile_and_run("main.cpp", program + "\n" + row["test"], COMPILE, "./a.out")


def bigcode_go_file(row: dict, program: str) -> str:
    """The file bigcode-evaluation-harness (humanevalpack.py) tests a Go program in."""
    setup = row["test_setup"] + "\n"
    for line in setup.split("\n"):
        line = line.replace("import", "").replace("(", "").replace(")", "").strip()
        if line.startswith('"') and line in program:
            setup = setup.replace(line, "")
    whole = setup + program + "\n" + row["test"]
    others = set()
    for package in GO_HELPERS:
        short = package.split("/")[-1]
        if f'"{package}"' not in whole and any(short + "." in line and not line.strip().startswith("//")
                                               for line in whole.split("\n")):
            others.add(f'"{short}"')  # sic: the last path element, as bigcode adds it
    imports = "import (\n" + "\n".join("    " + p for p in others) + "\n)\n" if others else ""
    if "package main" in program and "package main" in setup:
        program = program.replace("package main", "")
    return setup + imports + program + "\n" + row["test"]


def host_go(row: dict, program: str) -> bool:
    """``go test`` in a fresh dir; passed = exit status 0."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "main_test.go").write_text(bigcode_go_file(row, program))
        try:
            return subprocess.run(["go", "test", "-count=1", "."], cwd=tmp, capture_output=True, env=GO_ENV,
                                  timeout=60).returncode == 0
        except subprocess.TimeoutExpired:
            return False


RUST_DEPS = Path(tempfile.gettempdir()) / "bench-native-rust-deps"
CARGO_CONFIG = ('[source.crates-io]\nreplace-with = "debian"\n[source.debian]\n'
                'directory = "/usr/share/cargo/registry"\n[net]\noffline = true\n')


def rust_crates() -> list[str]:
    """rustc flags for rand, regex and md5, built once (debug, as cargo test builds them)."""
    deps = RUST_DEPS / "target" / "debug" / "deps"
    if not deps.is_dir():
        (RUST_DEPS / "src").mkdir(parents=True, exist_ok=True)
        (RUST_DEPS / ".cargo").mkdir(exist_ok=True)
        (RUST_DEPS / "Cargo.toml").write_text('[package]\nname = "deps"\nversion = "0.0.0"\nedition = "2021"\n\n'
                                              '[dependencies]\nrand = "0.8"\nregex = "1"\nmd5 = "0.7"\n')
        (RUST_DEPS / ".cargo" / "config.toml").write_text(CARGO_CONFIG)
        (RUST_DEPS / "src" / "lib.rs").write_text("")
        subprocess.run(["/usr/bin/cargo", "build", "--offline", "--quiet"], cwd=RUST_DEPS, check=True,
                       env=dict(os.environ, RUSTC="/usr/bin/rustc", CARGO_HOME=str(RUST_DEPS / "home")))
    flags = ["-L", f"dependency={deps}"]
    for crate in ("rand", "regex", "md5"):
        flags += ["--extern", f"{crate}={next(deps.glob(f'lib{crate}-*.rlib'))}"]
    return flags


def host_rust(row: dict, program: str) -> bool:
    """``rustc --test`` then the test binary."""
    argv = ["/usr/bin/rustc", "--edition", "2021", "--test", "-C", "debuginfo=0", *rust_crates(), "-o", "tests",
            "main.rs"]
    return compile_and_run("main.rs", program + "\n" + row["test"], argv, "./tests")


@functools.cache
def node_env() -> dict[str, str]:
    """The environment with npm's global modules (js-md5) on NODE_PATH."""
    try:
        root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True).stdout.strip()
    except OSError:
        root = ""
    return dict(os.environ, NODE_PATH=root) if root else dict(os.environ)




def host_js(row: dict, program: str, typescript: bool = False) -> bool:
    """``node`` on the program and its tests in one file; passed = exit
    status 0 and nothing on stderr (a false console.assert only prints).
    TypeScript: ``tsc --target esnext`` first; a type error fails."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / ("main.ts" if typescript else "main.js")).write_text(program + "\n" + row["test"])
        try:
            if typescript and subprocess.run(["tsc", "--target", "esnext", "main.ts"], cwd=tmp, capture_output=True,
                                             timeout=30, env=node_env()).returncode != 0:
                return False
            done = subprocess.run(["node", "main.js"], cwd=tmp, capture_output=True, timeout=10, env=node_env())
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0 and not done.stderr


def host_ts(row: dict, program: str) -> bool:
    return host_js(row, program, typescript=True)


def host_java(row: dict, program: str) -> bool:
    """``javac`` on the program and its tests in one Main.java (as
    HumanEvalPack's evaluator writes it), then ``java -ea Main``."""
    classpath = ".:/usr/share/java/javatuples.jar"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Main.java").write_text(program + "\n" + row["test"])
        if subprocess.run(["javac", "-cp", classpath, "Main.java"], cwd=tmp, capture_output=True).returncode != 0:
            return False
        try:
            return subprocess.run(["java", "-ea", "-cp", classpath, "Main"], cwd=tmp, capture_output=True,
                                  timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False


HOSTS = {"cpp": ("g++ + ./a.out on the host", host_cpp), "go": ("go test on the host", host_go),
         "rust": ("rustc --test + binary on the host", host_rust), "javascript": ("node on the host", host_js),
         "typescript": ("tsc + node on the host", host_ts),
         "java": ("javac + java -ea on the host", host_java)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", choices=sorted(HOSTS), default="cpp")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=164, help="problems (each: canonical + buggy)")
    args = parser.parse_args()
    source = pack(args.language)
    problems = load_problems(str(source))
    rows = candidates(source, args.limit)
    programs = [problems.problems[r["task_id"]].program(r["completion"], CodeField.COMPLETION) for r in rows]
    title, host_run = HOSTS[args.language]
    if args.language in ("go", "rust"):  # warm: Go's build cache, Rust's crates, as after an evaluator's first run
        host_run(rows[0]["row"], programs[0])

    started = time.monotonic()
    with ThreadPoolExecutor(args.workers) as pool:
        host = list(pool.map(host_run, [r["row"] for r in rows], programs))
    host_s = time.monotonic() - started

    with tempfile.TemporaryDirectory() as tmp:
        samples, out = Path(tmp) / "samples.jsonl", Path(tmp) / "out.jsonl"
        samples.write_text("".join(json.dumps({k: r[k] for k in ("task_id", "completion")}) + "\n" for r in rows))
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "harness", "evaluate", str(samples), "--problems", str(source),
                        "--out", str(out), "--no-cache", "--no-calibrate", "--quiet", "--k", "1",
                        "--workers", str(args.workers)], check=True, stdout=subprocess.DEVNULL)
        ours_s = time.monotonic() - started
        ours = [json.loads(line)["outcome"] == "passed" for line in out.read_text().splitlines()]

    def agree(verdicts: list[bool]) -> str:
        right = sum(v == (r["label"] == "canonical") for v, r in zip(verdicts, rows, strict=True))
        return f"{right}/{len(rows)}"

    n = len(rows)
    print(f"HumanEvalPack {args.language}, {n} candidates (canonical + buggy), {args.workers} workers")
    print(f"{'':34}{'seconds':>9}{'cand/s':>9}  agrees with labels")
    print(f"{title:34}{host_s:9.1f}{n / host_s:9.2f}  {agree(host)}")
    print(f"{'harness evaluate (sandboxed)':34}{ours_s:9.1f}{n / ours_s:9.2f}  {agree(ours)}")
    differ = [f"{r['task_id']} {r['label']} (host {'pass' if h else 'fail'})"
              for r, h, o in zip(rows, host, ours, strict=True) if h != o]
    print(f"verdicts that differ from the host's: {len(differ)}" + (": " + ", ".join(differ) if differ else ""))
    print(f"sandboxed / unsandboxed time: {ours_s / host_s:.2f}x (target: within 1.5x)")


if __name__ == "__main__":
    main()
