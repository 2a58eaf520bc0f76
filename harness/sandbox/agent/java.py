"""Java: the program and the suite's tests compiled by ``javac`` (a fresh
process of the sandbox uid, the compile limits) and run in one JVM, as the
suites run them: HumanEvalPack's ``public class Main`` beside the program's
``class Solution`` (the tests in a file of their own, with the prompt's
imports), MultiPL-E's ``main`` of ``assert`` statements inside the
program's class (run with ``-ea``); javatuples on the class path.

The tests share the program's JVM, so the JVM's ``main`` is the judge's,
in a class the program cannot name, and a security manager stands between:
the program's classes (their own directory, their own code source) get no
permission but reading system properties.  ``System.exit``,
``Runtime.halt``, reflection past ``private``, files (``/proc/self/mem``,
the judge's class file), shutdown hooks and replaced standard streams are
refused to any call with a program frame on the stack.  Only when the
tests' ``main`` returned does the judge print the completion mark (random,
per run, two XOR halves in its class) as stdout's last line and halt with 0;
the program can print, but cannot know the mark.

Before any program code runs (its classes loaded, not initialized), the
judge refuses what would change what the tests' names mean: a program class
named like a type the tests see (``class Arrays``, or a member ``ArrayList``
in MultiPL-E's one class: it would replace ``java.util.Arrays`` there), a
field named like one (a variable obscures a type of the same name), and a
program class that extends or implements a standard type and declares
methods (an ``ArrayList`` whose ``equals`` always says yes).  After the
tests, their class must not have had its assertions disabled.
"""
import os
import re
import shutil
import struct

from ...protocol import ERROR, FAILED, JAVA, JAVAC, JAVATUPLES, MEMORY_EXCEEDED, RAN
from .native import MARK_BYTES, VM_COMPILE_LIMITS, NativeRun, first_error, new_exec_dir, split_mark

JAVA_TYPE = re.compile(r"^\s*(?:(?:public|final|abstract|static|sealed|non-sealed|strictfp)\s+)*"
                       r"(?:class|interface|enum|record)\s+([A-Za-z_$][\w$]*)", re.M)
JAVA_PUBLIC_TYPE = re.compile(r"^\s*public\s+(?:(?:final|abstract|sealed|strictfp)\s+)*"
                              r"(?:class|interface|enum|record)\s+([A-Za-z_$][\w$]*)", re.M)
JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xshare:auto", "-XX:TieredStopAtLevel=1"]
REFUSED_EXIT = 86  # the judge refused the program (its reason on stderr)


def java_file_name(source, default):
    """The file a compilation unit must be in: its public type's name, else ``default``."""
    found = JAVA_PUBLIC_TYPE.search(source)
    return (found.group(1) if found else default) + ".java"


def imports_of(header):
    """(packages imported on demand, single types imported) of import lines."""
    packages, types = ["java.lang"], []
    for line in header:
        found = re.match(r"import\s+(static\s+)?([\w.]+?)(\.\*)?\s*;", line)
        if found and not found.group(1):
            (packages if found.group(3) else types).append(found.group(2))
    return packages, types


def java_string(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def java_judge(name, tests_class, program_dir, header, mark):
    """The source of the JVM's main class (public, named ``name``)."""
    half, mask = (",".join(str(int(b) - 256 if int(b) > 127 else int(b)) for b in part.split(","))
                  for part in split_mark(mark))  # Java's bytes are signed
    packages, types = imports_of(header)
    listed = lambda items: "{%s}" % ", ".join(java_string(item) for item in items)  # noqa: E731
    return JUDGE_SOURCE % {
        "name": name, "tests": tests_class, "dir": java_string(program_dir), "packages": listed(packages),
        "types": listed(types), "half": half, "mask": mask, "refused": REFUSED_EXIT}


JUDGE_SOURCE = r"""
import java.io.File;
import java.lang.reflect.Field;
import java.security.CodeSource;
import java.security.Permission;
import java.security.Policy;
import java.security.ProtectionDomain;
import java.util.ArrayList;
import java.util.List;
import java.util.PropertyPermission;

public final class %(name)s {
    private static boolean started;
    private static final String PROGRAM = %(dir)s;
    private static final String[] PACKAGES = %(packages)s;
    private static final String[] TYPES = %(types)s;
    private static final byte[] HALF = {%(half)s}, MASK = {%(mask)s};
    // Standard types a program class may extend or implement with methods of its own.
    private static final List<String> HARMLESS = List.of("java.lang.Object", "java.lang.Comparable",
        "java.util.Comparator", "java.lang.Runnable", "java.util.concurrent.Callable", "java.lang.Cloneable",
        "java.io.Serializable", "java.lang.Enum", "java.lang.Record", "java.lang.Iterable", "java.util.Iterator",
        "java.lang.AutoCloseable");

    public static void main(String[] args) throws Throwable {
        synchronized (%(name)s.class) {
            if (started) return;
            started = true;
        }
        String refused = refusal();
        if (refused != null) {
            System.err.println("harness: the program " + refused);
            System.err.flush();
            Runtime.getRuntime().halt(%(refused)d);
        }
        Policy.setPolicy(new Policy() {
            @Override
            public boolean implies(ProtectionDomain domain, Permission permission) {
                CodeSource source = domain.getCodeSource();
                if (source == null || source.getLocation() == null
                        || !source.getLocation().getPath().startsWith(PROGRAM)) return true;
                return permission instanceof PropertyPermission && "read".equals(permission.getActions());
            }
        });
        System.setSecurityManager(new SecurityManager());
        try {
            %(tests)s.main(args);
        } catch (Throwable error) {
            report(error);
            Runtime.getRuntime().halt(1);
        }
        if (assertionsDisabled()) {
            System.err.println("harness: the tests' assertions were disabled");
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
        byte[] text = new byte[HALF.length];
        for (int i = 0; i < text.length; i++) text[i] = (byte) (HALF[i] ^ MASK[i]);
        System.out.print("\n" + new String(text, java.nio.charset.StandardCharsets.US_ASCII) + "\n");
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(0);
    }

    private static void report(Throwable error) {
        String where = "";
        for (StackTraceElement frame : error.getStackTrace()) {
            if (frame.getClassName().equals("%(tests)s")) {
                where = " (" + frame.getFileName() + " line " + frame.getLineNumber() + ")";
                break;
            }
        }
        String kind = error instanceof AssertionError ? "Assertion failed: " : "Exception in the tests: ";
        String what = error.getClass().getName();
        String message = error.getMessage();
        System.err.println("harness: " + kind + what + (message == null ? "" : ": " + message) + where);
        System.err.flush();
    }

    private static boolean assertionsDisabled() {
        try {
            Field field = Class.forName("%(tests)s").getDeclaredField("$assertionsDisabled");
            field.setAccessible(true);
            return field.getBoolean(null);
        } catch (NoSuchFieldException absent) {
            return false;
        } catch (Throwable other) {
            return true;
        }
    }

    private static String refusal() throws Exception {
        List<String> names = new ArrayList<>();
        collect(new File(PROGRAM), "", names);
        ClassLoader loader = %(name)s.class.getClassLoader();
        for (String binary : names) {
            Class<?> type = Class.forName(binary, false, loader);
            String simple = simpleName(binary);
            String seen = visible(simple, loader);
            if (seen != null) return "declares a class named " + simple + ", which would replace " + seen
                + " in the tests: refused";
            for (Field field : type.getDeclaredFields()) {
                seen = visible(field.getName(), loader);
                if (seen != null) return "declares a field named " + field.getName() + ", which would hide "
                    + seen + " from the tests: refused";
            }
            String standard = standardAncestor(type);
            String shown = Character.isDigit(simple.charAt(0)) ? "an anonymous class" : simple;
            if (standard != null && type.getDeclaredMethods().length > 0) return "declares methods in "
                + shown + ", a " + standard + ": refused, since the tests would call them as " + standard + "'s";
        }
        return null;
    }

    private static void collect(File dir, String prefix, List<String> names) {
        File[] entries = dir.listFiles();
        if (entries == null) return;
        for (File entry : entries) {
            if (entry.isDirectory()) collect(entry, prefix + entry.getName() + ".", names);
            else if (entry.getName().endsWith(".class")) {
                String file = entry.getName();
                names.add(prefix + file.substring(0, file.length() - 6));
            }
        }
    }

    private static String simpleName(String binary) {
        String name = binary.substring(binary.lastIndexOf('.') + 1);
        return name.substring(name.lastIndexOf('$') + 1);
    }

    private static String visible(String simple, ClassLoader loader) {
        if (simple.isEmpty() || Character.isDigit(simple.charAt(0))) return null;  // anonymous, local
        for (String type : TYPES) {
            if (type.endsWith("." + simple)) return type;
        }
        for (String pkg : PACKAGES) {
            try {
                Class.forName(pkg + "." + simple, false, loader);
                return pkg + "." + simple;
            } catch (ClassNotFoundException | LinkageError absent) {
                // not a type of that package
            }
        }
        return null;
    }

    private static String standardAncestor(Class<?> type) {
        List<Class<?>> todo = new ArrayList<>();
        todo.add(type);
        while (!todo.isEmpty()) {
            Class<?> current = todo.remove(todo.size() - 1);
            for (Class<?> parent : current.getInterfaces()) todo.add(parent);
            Class<?> parent = current.getSuperclass();
            if (parent != null) todo.add(parent);
            if (current == type) continue;
            String name = current.getName();
            boolean standard = current.getClassLoader() == null || name.startsWith("java.")
                || name.startsWith("javax.") || name.startsWith("org.javatuples.");
            if (standard && !HARMLESS.contains(name) && !Throwable.class.isAssignableFrom(current)
                    && !name.startsWith("java.util.function.")) return name;
        }
        return null;
    }
}
"""


def class_source_file(data):
    """The SourceFile attribute of a class file (the source it came from), or ""."""
    if data[:4] != b"\xca\xfe\xba\xbe":
        return ""
    count, = struct.unpack_from(">H", data, 8)
    strings, at, index = {}, 10, 1
    while index < count:
        tag = data[at]
        if tag == 1:
            size, = struct.unpack_from(">H", data, at + 1)
            strings[index] = data[at + 3:at + 3 + size].decode("utf-8", "replace")
            at += 3 + size
        else:
            at += 1 + {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2, 17: 4, 18: 4,
                       19: 2, 20: 2}[tag]
        index += 2 if tag in (5, 6) else 1
    at += 6  # access flags, this, super
    interfaces, = struct.unpack_from(">H", data, at)
    at += 2 + 2 * interfaces
    for _ in range(2):  # fields, then methods: each with its attributes
        members, = struct.unpack_from(">H", data, at)
        at += 2
        for _ in range(members):
            attributes, = struct.unpack_from(">H", data, at + 6)
            at += 8
            for _ in range(attributes):
                length, = struct.unpack_from(">I", data, at + 2)
                at += 6 + length
    attributes, = struct.unpack_from(">H", data, at)
    at += 2
    for _ in range(attributes):
        name, length = struct.unpack_from(">HI", data, at)
        if strings.get(name) == "SourceFile":
            return strings.get(struct.unpack_from(">H", data, at + 6)[0], "")
        at += 6 + length
    return ""


def java_verdict(result, err):
    """The judge's account of a failure: a failed assertion is ``failed``,
    another exception ``error``; an OutOfMemoryError is the memory limit's."""
    if result["outcome"] not in (ERROR, FAILED) or result["detail"].startswith("the program exited with status 0"):
        return result
    lines = [line for line in err.splitlines() if line.startswith("harness: ")]
    if "java.lang.OutOfMemoryError" in err:
        result.update(outcome=MEMORY_EXCEEDED, detail="the JVM ran out of heap (java.lang.OutOfMemoryError)")
    elif lines:
        said = lines[-1][len("harness: "):]
        result.update(outcome=FAILED if said.startswith("Assertion failed") else ERROR, detail=said[:600])
    return result


def seal_classes(folder, program_sources):
    """Takes what javac wrote from the sandbox uid (root's, read-only) and
    sorts it by the source each class came from: ``folder/program`` (the
    program's code source, no permissions) and ``folder/judge``.  False if
    javac left anything but class files."""
    os.chown(folder, 0, 0)
    os.chmod(folder, 0o755)
    moves = []
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = os.path.join(root, name)
            os.lchown(path, 0, 0)
            if os.path.islink(path):
                return False
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in names:
            path = os.path.join(root, name)
            if not name.endswith(".class"):
                return False
            with open(path, "rb") as handle:
                source = class_source_file(handle.read())
            moves.append((path, "program" if source in program_sources else "judge"))
    for path, side in moves:
        target = os.path.join(folder, side, os.path.relpath(path, folder))
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        os.rename(path, target)
        os.chmod(target, 0o644)
    for side in ("program", "judge"):
        os.makedirs(os.path.join(folder, side), 0o755, exist_ok=True)
    return True


def remove_classes(folder):
    shutil.rmtree(folder, ignore_errors=True)


def jvm_argv(limits, classpath, main, guarded):
    """java for a run: -ea, the judge's security manager allowed (``guarded``),
    a heap under the memory limit (over it, an OutOfMemoryError, not the OOM killer)."""
    heap = max(32, int(limits.get("memory_bytes") or (512 << 20)) * 3 // 4 >> 20)
    flags = ["-ea", "-Djava.security.manager=allow"] if guarded else []
    return [JAVA] + flags + JVM_FLAGS + ["-Xmx%dm" % heap, "-cp", ":".join(classpath), main]


def script_main(program):
    """A stdin/stdout program's main class: its public type, else its first."""
    found = JAVA_PUBLIC_TYPE.search(program) or JAVA_TYPE.search(program)
    return found.group(1) if found else "Main"


class JavaRun(NativeRun):
    """One candidate of a Java ``program`` problem, or a Java stdin/stdout program.

    The JVM cannot open the mark's pipe (it is root's; /proc/self/fd/3
    reopens it), so the judge prints the mark last on stdout, which the
    program cannot write it to: it cannot know it (no file, no reflection
    past ``private``, no memory to read under the manager)."""

    MARK_ON_STDOUT = True

    def build(self, program):
        """{"binary": the classes' folder, "mark", "main"}, or a finished result."""
        tests = self.spec["test"]
        header = list(self.spec.get("header") or ())
        tag = os.urandom(8).hex()
        judge = "HarnessJudge_" + tag
        mark = os.urandom(MARK_BYTES).hex()
        if tests.lstrip().startswith("}"):  # MultiPL-E: the tests close the method, then a main in the class
            whole = program + "\n" + tests
            found = JAVA_TYPE.search(program)
            if not found:
                return self.finished(ERROR, "the program declares no class for MultiPL-E's main")
            files, tests_class = {java_file_name(whole, found.group(1)): whole}, found.group(1)
        else:
            tests_class = (JAVA_PUBLIC_TYPE.search(tests) or JAVA_TYPE.search(tests) or [None, "Main"])[1]
            files = {java_file_name(program, "Solution"): program,
                     java_file_name(tests, tests_class): "\n".join(header) + "\n" + tests}
            if len(files) < 2:
                return self.finished(ERROR, "the program declares a public %s, the tests' class: refused"
                                     % tests_class)
        program_sources = set(files) - {java_file_name(tests, tests_class)} if len(files) == 2 else set(files)
        folder = new_exec_dir()
        files[judge + ".java"] = java_judge(judge, tests_class, folder + "/program/", header, mark)
        built = self.javac(folder, files)
        if built["outcome"] != RAN or not seal_classes(folder, program_sources):
            remove_classes(folder)
            return self.build_failure(built, "compiling")
        return {"binary": folder, "mark": mark, "main": judge}

    def javac(self, folder, files):
        """javac on ``files`` (name -> source) into ``folder``; no annotation
        processing (nothing of the program runs while it compiles)."""
        argv = [JAVAC] + ["-J" + flag for flag in JVM_FLAGS] + [
            "-proc:none", "-encoding", "UTF-8", "-nowarn", "-g:source,lines", "-cp", JAVATUPLES, "-d", folder]
        given = {name: text.encode("utf-8", "surrogateescape") for name, text in files.items()}
        return self.tool(argv + sorted(files), given, limits=VM_COMPILE_LIMITS)

    def run_built(self, compiled):
        folder = compiled["binary"]
        argv = jvm_argv(self.limits, [folder + "/judge", folder + "/program", JAVATUPLES], compiled["main"],
                        guarded=True)
        return self.run_argv(argv, compiled["mark"])

    def discard(self, compiled):
        remove_classes(compiled["binary"])

    def compile(self, text, flags=()):
        """A stdin/stdout program, compiled alone (``flags`` are C's):
        (its classes' folder or None, javac's result)."""
        folder = new_exec_dir()
        built = self.javac(folder, {java_file_name(text, script_main(text)): text})
        if built["outcome"] == RAN and seal_classes(folder, set()):
            return folder, built
        remove_classes(folder)
        return None, built

    def script_argv(self, binary):
        """Its main class, with no tests in its JVM, so no security manager."""
        return jvm_argv(self.limits, [binary + "/judge", JAVATUPLES], script_main(self.program), guarded=False)

    def compiler_message(self, result):
        """javac's first error line (``Main.java:3: error: ...``)."""
        return first_error(result.get("stderr_head") or result["detail"], (": error: ",),
                           "javac failed without a message")

    def failure_wording(self, result, out, err):
        err += "\n" + result.get("stderr_tail", "")  # the judge's line comes last
        if result["outcome"] == ERROR and "harness: the program " in err:
            said = [line for line in err.splitlines() if line.startswith("harness: the program ")][-1]
            result.update(detail=said[len("harness: "):][:600])
            return result
        return java_verdict(result, err)
