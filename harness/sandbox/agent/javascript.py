"""JavaScript: the program in one node process (the sandbox uid), the
problem's tests in another (the judge uid), as Python runs them: the judge
binds every name the tests use that the program declares to a stand-in
that calls the program over a pipe, and values cross as tagged JSON decoded
into plain data (``js/codec.js``).  One node process cannot be shared
safely: the program could reach the code that decides (``arguments.callee``,
``Error.prepareStackTrace``, the inspector); across processes and uids it
can only answer calls.  ``console.assert`` is the judge's own, so a false
one is a failed test (node's only prints).

The judge is long-lived (one node per container, ~0.1 s of CPU to start;
the candidate is the one node that starts per run) and runs each problem's
tests in a fresh vm context.  It cannot be handed pipes, so the supervisor
makes two FIFOs per run in a directory only it can write, opens the
candidate's ends and holds them until the judge says it opened its own:
then a candidate that exits mid-test is an end of file to the judge
(``gone``).  The verdict comes on the judge's control pipe, which the
candidate never holds.
"""
import json
import os

from ...protocol import NODE, RAN, SKIPPED, json_frame, write_all
from .candidate import SYNTAX_EXIT
from .execute import JUDGE_MAX_USES, Run
from .jsfiles import JS
from .native import VM_COMPILE_LIMITS, NativeRun, first_error, new_exec_dir, remove_binary
from .proc import CANDIDATE_ENV, JUDGE_ROOT, JUDGE_UID, REAPED, child_common, drop_to, kill_helper

JS_FIFO_ROOT = JUDGE_ROOT + "/js"  # root's, mode 0711: the judge opens its FIFOs by name, lists nothing


def judge_source():
    return "const CODEC_SOURCE = %s;\n%s\n%s" % (json.dumps(JS["codec"]), JS["codec"], JS["judge"])


def candidate_source():
    return JS["codec"] + "\n" + JS["candidate"]


class JsJudge:
    """The container's node judge, and the FIFOs of the current run."""

    def __init__(self):
        self.pid = None
        self.control = None  # we write runs here (its fd 3)
        self.fd = None  # it writes "opened" and verdicts here (its fd 4)
        self.uses = 0
        self.runs = 0
        self.held = []  # our copies of the candidate's ends, until the judge opened its own
        self.folder = None

    def ensure(self):
        if self.pid is not None and self.uses < JUDGE_MAX_USES:
            return
        self.stop()
        os.makedirs(JS_FIFO_ROOT, 0o711, exist_ok=True)
        to_judge_r, to_judge_w = os.pipe()
        from_judge_r, from_judge_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                devnull = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.dup2(to_judge_r, 3)
                os.dup2(from_judge_w, 4)
                child_common([3, 4])
                drop_to(JUDGE_UID)
                os.chdir(JS_FIFO_ROOT)
                os.execve(NODE, [NODE, "-e", judge_source()], CANDIDATE_ENV)
            finally:
                os._exit(127)
        os.close(to_judge_r)
        os.close(from_judge_w)
        self.pid, self.control, self.fd, self.uses = pid, to_judge_w, from_judge_r, 0
        REAPED.exclude.add(pid)

    def candidate_fds(self, out_w, err_w):
        """The candidate's fds 0-4: /dev/null, stdout, stderr, the requests'
        read end, the replies' write end (new FIFOs of this run)."""
        self.ensure()
        self.runs += 1
        self.folder = "%s/r%d" % (JS_FIFO_ROOT, self.runs)
        os.mkdir(self.folder, 0o711)
        ends = []
        for name, flags in (("req", os.O_RDONLY), ("rep", os.O_WRONLY)):
            path = os.path.join(self.folder, name)
            os.mkfifo(path, 0o600)
            # Ours first, both ways: until the judge opens its ends, the
            # candidate's read sees a writer (no early end of file) and its
            # opens and writes see a reader.
            self.held.append(os.open(path, os.O_RDWR))
            ends.append(os.open(path, flags))
            os.chown(path, JUDGE_UID, JUDGE_UID)
        return [os.open("/dev/null", os.O_RDONLY), out_w, err_w] + ends

    def start(self, key, spec, limits):
        self.uses += 1
        message = {"op": "run", "id": self.runs, "dir": self.folder, "key": key, "test": spec["test"],
                   "entry": spec.get("entry_point") or "", "typescript": spec.get("language") == "typescript"}
        write_all(self.control, json_frame(message))

    def is_verdict(self, message):
        """True for this run's verdict; "opened" lets go of our ends."""
        if message.get("id") != self.runs:
            return False
        if message.get("op") == "opened":
            self.release()
            return False
        return message.get("op") == "verdict"

    def release(self):
        for fd in self.held:
            os.close(fd)
        self.held = []
        if self.folder:
            for name in ("req", "rep"):
                try:
                    os.unlink(os.path.join(self.folder, name))
                except OSError:
                    pass
            try:
                os.rmdir(self.folder)
            except OSError:
                pass
            self.folder = None

    def finish(self, keep):
        """After a run: the FIFOs go; a judge that gave no verdict (or
        whose candidate was killed) goes too, since it may be stuck."""
        self.release()
        if not keep:
            self.stop()

    def stop(self):
        if self.pid is None:
            return
        for fd in (self.control, self.fd):
            os.close(fd)
        kill_helper(self.pid)
        self.pid = self.control = self.fd = None


class JsRun(NativeRun):
    """One candidate of a JavaScript ``program`` problem, or a JavaScript
    stdin/stdout program (``node main.js``, once per case)."""

    def execute(self):
        return self.run_js(self.program)

    def run_js(self, code):
        """``code`` (JavaScript) against the tests, in the judge's node."""
        files = {"main.js": code.encode("utf-8", "surrogateescape")}
        return Run(self.sup, "", self.limits, self.key, self.spec, argv=[NODE, "-e", candidate_source()],
                   files=files, peer=self.sup.js_judge).execute()

    def execute_script(self):
        return self.run_script_js(self.program)

    def run_script_js(self, code):
        """``code`` as a file on the exec tmpfs, root's and read-only, run per case."""
        folder = new_exec_dir()
        path = folder + "/main.js"
        try:
            os.chown(folder, 0, 0)
            os.chmod(folder, 0o755)
            with open(path, "wb") as handle:
                handle.write(code.encode("utf-8", "surrogateescape"))
            os.chmod(path, 0o444)
            boot = "const SYNTAX_EXIT = %d;\n%s" % (SYNTAX_EXIT, JS["script"])
            return self.sup.run_script("", self.limits, self.key, self.spec, argv=[NODE, "-e", boot, path],
                                       syntax_exit=True)
        finally:
            remove_binary(path)


class TsRun(JsRun):
    """TypeScript: the program type-checked with the tests appended and
    transpiled (``js/typescript.js``, a compile step of the sandbox uid),
    then run as JavaScript; the judge transpiles the tests itself."""

    def execute(self):
        compiled = self.transpile(self.spec["test"])
        result = compiled if "outcome" in compiled else self.run_js(compiled["code"])
        result["anomaly"] = result["anomaly"] or self.anomaly
        return result

    def execute_script(self):
        compiled = self.transpile("")
        if "outcome" in compiled:
            compiled["tests"] = [compiled["outcome"]] + [SKIPPED] * (len(self.spec["cases"]) - 1)
            return compiled
        result = self.run_script_js(compiled["code"])
        result["anomaly"] = result["anomaly"] or self.anomaly
        return result

    def transpile(self, tests):
        """{"code": the program as JavaScript}, or a finished result."""
        files = {"main.ts": self.program.encode("utf-8", "surrogateescape")}
        if tests:
            files["tests.ts"] = tests.encode("utf-8", "surrogateescape")
        built = self.tool([NODE, "-e", JS["typescript"]], files, limits=VM_COMPILE_LIMITS)
        if built["outcome"] != RAN:
            return self.build_failure(built, "type-checking")
        return {"code": built.get("stdout", "")}

    def compiler_message(self, result):
        """tsc's first error (``main.ts(3,5): error TS2322: ...``)."""
        return first_error(result.get("stderr_head") or result["detail"], ("error TS",),
                           "the TypeScript compiler failed without a message")
