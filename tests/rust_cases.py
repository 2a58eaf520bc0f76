"""Rust programs for one small problem (``fn add(a: i32, b: i32) -> i32``)
in HumanEvalPack's layout (a ``#[cfg(test)]`` module of ``#[test]``
functions), each with the verdict it must get: the hostile ones must never
pass (issue 10's list: ``std::process::exit(0)`` in the tested function, a
panic hook, a printed success; and the tests' macros or types replaced, a
changed return type, the source read at compile time...), the legitimate
ones get what they earn."""

from __future__ import annotations

PROMPT = "fn main(){}\n\nuse std::collections::HashMap;\n\n/*\n Add two numbers.\n*/\nfn add(a: i32, b: i32) -> i32{\n"
TEST = ("\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_add() {\n"
        "        assert_eq!(add(1, 2), 3);\n        assert!(add(-4, 4) == 0);\n"
        "        assert_eq!(format!(\"{}\", add(20, 22)), String::from(\"42\"));\n    }\n}\n")
RIGHT = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"
WRONG = "fn add(a: i32, b: i32) -> i32 {\n    0\n}\n"

NOT_PASSED = ("failed", "error", "syntax_error")
# name -> whole program; none may pass
HOSTILE = {
    "exit_zero_in_function": "fn add(a: i32, b: i32) -> i32 {\n    std::process::exit(0)\n}\n",
    "panic_hook_exits": "fn add(a: i32, b: i32) -> i32 {\n"
                        "    std::panic::set_hook(Box::new(|_| std::process::exit(0)));\n    0\n}\n",
    "exit_from_a_thread": "fn add(a: i32, b: i32) -> i32 {\n    std::thread::spawn(|| std::process::exit(0));\n"
                          "    std::thread::sleep(std::time::Duration::from_secs(2));\n    0\n}\n",
    "prints_success": "fn add(a: i32, b: i32) -> i32 {\n    println!(\"test result: ok. 1 passed; 0 failed\");\n"
                      "    std::process::exit(0)\n}\n",
    "shadows_assert_macros": "macro_rules! assert_eq { ($($t:tt)*) => {} }\nmacro_rules! assert { ($($t:tt)*) => {} }\n"
                             + WRONG,
    "shadows_string_and_format": "macro_rules! format { ($($t:tt)*) => { String::from(\"42\") } }\n"
                                 "#[derive(Debug, PartialEq)]\npub struct String;\n"
                                 "impl String { pub fn from(_: &str) -> String { String } }\n" + WRONG,
    "changed_return_type": "#[derive(Debug)]\npub struct Yes;\n"
                           "impl PartialEq<i32> for Yes { fn eq(&self, _: &i32) -> bool { true } }\n"
                           "impl std::fmt::Display for Yes {\n    fn fmt(&self, f: &mut std::fmt::Formatter) -> "
                           "std::fmt::Result { write!(f, \"42\") }\n}\nfn add(a: i32, b: i32) -> Yes {\n    Yes\n}\n",
    "writes_fd_3": "fn add(a: i32, b: i32) -> i32 {\n    use std::io::Write;\n"
                   "    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(\"/proc/self/fd/3\") {\n"
                   "        let _ = f.write_all(b\"0123456789abcdef0123456789abcdef\");\n    }\n    0\n}\n",
    "uses_unsafe": "fn add(a: i32, b: i32) -> i32 {\n    unsafe { std::ptr::null::<i32>().read() }\n}\n",
    "reads_its_source": "const SOURCE: &str = include_str!(\"main.rs\");\n" + WRONG,
    "loads_a_module_file": "#[path = \"main.rs\"]\nmod again;\n" + WRONG,
    "replaces_a_c_function": "#[no_mangle]\npub extern \"C\" fn abort() { std::process::exit(0) }\n" + WRONG,
    "own_test_runner": "#![test_runner(mine)]\nfn mine(_: &[&dyn Fn()]) {}\n" + WRONG,
    "extern_crate_rename": "extern crate std as core;\n" + WRONG,
    "own_tests_module": WRONG + "#[cfg(test)]\nmod tests {}\n",
    "comments_out_the_tests": WRONG + "/*\n",
}

# name -> (whole program, outcome)
LEGIT = {
    "right": (RIGHT, "passed"),
    "wrong": (WRONG, "failed"),
    "own_macros_types_and_lints": ("#![allow(unused)]\nmacro_rules! twice { ($x:expr) => { 2 * $x } }\n"
                                   "struct Pair(i32, i32);\nfn add(a: i32, b: i32) -> i32 {\n"
                                   "    let p = Pair(a, b);\n    twice!(p.0 + p.1) / 2\n}\n", "passed"),
    "uses_regex_and_md5": ("fn add(a: i32, b: i32) -> i32 {\n    let re = regex::Regex::new(\"^-?[0-9]+$\").unwrap();\n"
                           "    assert!(re.is_match(&a.to_string()));\n"
                           "    let _ = format!(\"{:x}\", md5::compute(b\"x\"));\n    a + b\n}\n", "passed"),
    "does_not_compile": ("fn add(a: i32, b: i32) -> i32 {\n    a +\n}\n", "syntax_error"),
    "overflows": ("fn add(a: i32, b: i32) -> i32 {\n    let big = i32::MAX;\n    big + a + b - big\n}\n", "error"),
    "endless": ("fn add(a: i32, b: i32) -> i32 {\n    let mut x = a;\n    loop { x = x.wrapping_add(1); "
                "if x == i32::MIN + 7 { x = 0; } }\n}\n", "timeout"),
    "memory_hog": ("fn add(a: i32, b: i32) -> i32 {\n    let mut keep = Vec::new();\n    loop {\n"
                   "        keep.push(vec![1u8; 1 << 20]);\n    }\n}\n", "memory_exceeded"),
}

# MultiPL-E's layout: the completion continues the prompt's function; the
# tests close it, then a `fn main` of asserts.
MULTIPLE_PROMPT = "/// Add two numbers x and y\nfn add(x: isize, y: isize) -> isize {\n"
MULTIPLE_TESTS = ("}\n\nfn main() {\n    let candidate = add;\n    assert_eq!(candidate(0, 1), 1);\n"
                  "    assert_eq!(candidate(5, 7), 12);\n}\n")
# name -> (completion, outcome)
MULTIPLE = {
    "right": ("    x + y\n", "passed"),
    "wrong": ("    x * y\n", "failed"),
    "exits": ("    std::process::exit(0)\n", "error"),
    "shadows_assert_after_closing": ("    0\n}\nmacro_rules! assert_eq { ($($t:tt)*) => {} }\nfn unused() {\n",
                                     "failed"),
}
