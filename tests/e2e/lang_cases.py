"""Per-language snippets for the language suite (tests/e2e/test_languages.py)
and the language benchmark (bench/bench_langs.py).

Every language has:
  hello          prints exactly HELLO_OUT
  error          fails at run time: prints a message on stderr, exits non-zero
  error_msg      a substring of that message
  error_exit     the program's own exit status (what the sidecar reports)
  compile_error  (compiled languages) source the compiler rejects
  compile_msg    a substring of the compiler's diagnostic
  echo           prints "args=<args joined by ','>|stdin=<stdin, stripped>"
  write          writes FILE_CONTENT (UTF-8) to FILE_NAME in the working directory
  unicode        prints UNICODE_OUT from a literal in its source
  exit3          exits with status 3 and prints nothing
"""

HELLO_OUT = "Hello, World!\n"
ECHO_ARGS = ["alpha", "two words", "ünï"]
ECHO_STDIN = "line from stdin ✓\nsecond line\n"
ECHO_OUT = "args=alpha,two words,ünï|stdin=line from stdin ✓\n"
FILE_NAME = "out.txt"
FILE_CONTENT = "kcr file ✓ ünïcödé 日本\nline 2\n"
UNICODE_OUT = "héllo wörld ✓ 日本語 🚀\n"

# Languages whose steps include a compiler whose errors users see.
COMPILED = ("ts", "go", "java", "c", "cpp", "rs", "f90", "d")

CASES = {
    "py": {
        "exit3": 'import sys\nsys.exit(3)\n',
        "hello": 'print("Hello, World!")\n',
        "error": 'def f():\n    raise ValueError("kcr boom")\nf()\n',
        "error_msg": "ValueError: kcr boom",
        "error_exit": 1,
        "echo": (
            "import sys\n"
            'print("args=" + ",".join(sys.argv[1:]) + "|stdin=" + sys.stdin.readline().strip())\n'
        ),
        "write": (
            'with open("out.txt", "w", encoding="utf-8") as f:\n'
            '    f.write("kcr file ✓ ünïcödé 日本\\nline 2\\n")\n'
        ),
        "unicode": 'print("héllo wörld ✓ 日本語 🚀")\n',
    },
    "js": {
        "exit3": 'process.exit(3);\n',
        "hello": 'console.log("Hello, World!");\n',
        "error": 'function f() { throw new Error("kcr boom"); }\nf();\n',
        "error_msg": "Error: kcr boom",
        "error_exit": 1,
        "echo": (
            'const input = require("fs").readFileSync(0, "utf8").split("\\n")[0];\n'
            'console.log("args=" + process.argv.slice(2).join(",") + "|stdin=" + input.trim());\n'
        ),
        "write": 'require("fs").writeFileSync("out.txt", "kcr file ✓ ünïcödé 日本\\nline 2\\n");\n',
        "unicode": 'console.log("héllo wörld ✓ 日本語 🚀");\n',
    },
    "ts": {
        "exit3": 'const code: number = 3;\nprocess.exit(code);\n',
        "hello": 'const msg: string = "Hello, World!";\nconsole.log(msg);\n',
        "error": 'function f(): never { throw new Error("kcr boom"); }\nf();\n',
        "error_msg": "Error: kcr boom",
        "error_exit": 1,
        "compile_error": 'const n: number = "not a number";\nconsole.log(n);\n',
        "compile_msg": "error TS2322",
        "echo": (
            'import * as fs from "fs";\n'
            'const input: string = fs.readFileSync(0, "utf8").split("\\n")[0];\n'
            'const args: string[] = process.argv.slice(2);\n'
            'console.log("args=" + args.join(",") + "|stdin=" + input.trim());\n'
        ),
        "write": (
            'import * as fs from "fs";\n'
            'fs.writeFileSync("out.txt", "kcr file ✓ ünïcödé 日本\\nline 2\\n");\n'
        ),
        "unicode": 'const s: string = "héllo wörld ✓ 日本語 🚀";\nconsole.log(s);\n',
    },
    "go": {
        "exit3": 'package main\n\nimport "os"\n\nfunc main() {\n\tos.Exit(3)\n}\n',
        "hello": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, World!")\n}\n',
        "error": 'package main\n\nfunc main() {\n\tpanic("kcr boom")\n}\n',
        "error_msg": "panic: kcr boom",
        "error_exit": 2,
        "compile_error": 'package main\n\nfunc main() {\n\tx := undefinedThing\n\t_ = x\n}\n',
        "compile_msg": "undefined: undefinedThing",
        "echo": (
            "package main\n\n"
            'import (\n\t"bufio"\n\t"fmt"\n\t"os"\n\t"strings"\n)\n\n'
            "func main() {\n"
            "\tline, _ := bufio.NewReader(os.Stdin).ReadString('\\n')\n"
            '\tfmt.Println("args=" + strings.Join(os.Args[1:], ",") + "|stdin=" + strings.TrimSpace(line))\n'
            "}\n"
        ),
        "write": (
            'package main\n\nimport "os"\n\nfunc main() {\n'
            '\tif err := os.WriteFile("out.txt", []byte("kcr file ✓ ünïcödé 日本\\nline 2\\n"), 0o644); err != nil {\n'
            "\t\tpanic(err)\n\t}\n}\n"
        ),
        "unicode": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("héllo wörld ✓ 日本語 🚀")\n}\n',
    },
    "java": {
        "exit3": 'public class Code {\n    public static void main(String[] args) {\n        System.exit(3);\n    }\n}\n',
        "hello": (
            "public class Code {\n"
            "    public static void main(String[] args) {\n"
            '        System.out.println("Hello, World!");\n'
            "    }\n}\n"
        ),
        "error": (
            "public class Code {\n"
            "    public static void main(String[] args) {\n"
            '        throw new IllegalStateException("kcr boom");\n'
            "    }\n}\n"
        ),
        "error_msg": "java.lang.IllegalStateException: kcr boom",
        "error_exit": 1,
        "compile_error": (
            "public class Code {\n"
            "    public static void main(String[] args) {\n"
            '        int n = "not a number";\n'
            "    }\n}\n"
        ),
        "compile_msg": "error: incompatible types",
        "echo": (
            "import java.io.*;\n"
            "import java.nio.charset.StandardCharsets;\n\n"
            "public class Code {\n"
            "    public static void main(String[] args) throws IOException {\n"
            "        BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));\n"
            "        String line = r.readLine();\n"
            '        System.out.println("args=" + String.join(",", args) + "|stdin=" + line.trim());\n'
            "    }\n}\n"
        ),
        "write": (
            "import java.nio.file.*;\n"
            "import java.nio.charset.StandardCharsets;\n\n"
            "public class Code {\n"
            "    public static void main(String[] args) throws Exception {\n"
            '        Files.write(Paths.get("out.txt"), "kcr file ✓ ünïcödé 日本\\nline 2\\n".getBytes(StandardCharsets.UTF_8));\n'
            "    }\n}\n"
        ),
        "unicode": (
            "public class Code {\n"
            "    public static void main(String[] args) {\n"
            '        System.out.println("héllo wörld ✓ 日本語 🚀");\n'
            "    }\n}\n"
        ),
    },
    "c": {
        "exit3": 'int main(void)\n{\n    return 3;\n}\n',
        "hello": '#include <stdio.h>\n\nint main(void)\n{\n    printf("Hello, World!\\n");\n    return 0;\n}\n',
        "error": (
            "#include <stdio.h>\n\nint main(void)\n{\n"
            '    fprintf(stderr, "kcr boom\\n");\n    return 3;\n}\n'
        ),
        "error_msg": "kcr boom",
        "error_exit": 3,
        "compile_error": "int main(void)\n{\n    undeclared_thing = 1;\n    return 0;\n}\n",
        "compile_msg": "undeclared_thing",
        "echo": (
            "#include <stdio.h>\n#include <string.h>\n\n"
            "int main(int argc, char **argv)\n{\n"
            "    char line[256] = \"\";\n"
            "    if (!fgets(line, sizeof(line), stdin))\n        line[0] = 0;\n"
            "    line[strcspn(line, \"\\n\")] = 0;\n"
            '    printf("args=");\n'
            '    for (int i = 1; i < argc; i++)\n        printf("%s%s", i > 1 ? "," : "", argv[i]);\n'
            '    printf("|stdin=%s\\n", line);\n'
            "    return 0;\n}\n"
        ),
        "write": (
            "#include <stdio.h>\n\nint main(void)\n{\n"
            '    FILE *f = fopen("out.txt", "w");\n'
            "    if (!f)\n        return 1;\n"
            '    fputs("kcr file ✓ ünïcödé 日本\\nline 2\\n", f);\n'
            "    return fclose(f) != 0;\n}\n"
        ),
        "unicode": '#include <stdio.h>\n\nint main(void)\n{\n    puts("héllo wörld ✓ 日本語 🚀");\n    return 0;\n}\n',
    },
    "cpp": {
        "exit3": '#include <cstdlib>\n\nint main()\n{\n    std::exit(3);\n}\n',
        "hello": '#include <iostream>\n\nint main()\n{\n    std::cout << "Hello, World!" << std::endl;\n}\n',
        "error": (
            "#include <stdexcept>\n\nint main()\n{\n"
            '    throw std::runtime_error("kcr boom");\n}\n'
        ),
        "error_msg": "kcr boom",
        "error_exit": 134,  # std::terminate -> abort -> SIGABRT
        "compile_error": "int main()\n{\n    std::string s = 1;\n}\n",
        "compile_msg": "error",
        "echo": (
            "#include <iostream>\n#include <string>\n\n"
            "int main(int argc, char **argv)\n{\n"
            "    std::string line;\n    std::getline(std::cin, line);\n"
            '    std::cout << "args=";\n'
            '    for (int i = 1; i < argc; i++)\n        std::cout << (i > 1 ? "," : "") << argv[i];\n'
            '    std::cout << "|stdin=" << line << std::endl;\n}\n'
        ),
        "write": (
            "#include <fstream>\n\nint main()\n{\n"
            '    std::ofstream f("out.txt");\n'
            '    f << "kcr file ✓ ünïcödé 日本\\nline 2\\n";\n'
            "    return f.good() ? 0 : 1;\n}\n"
        ),
        "unicode": '#include <iostream>\n\nint main()\n{\n    std::cout << "héllo wörld ✓ 日本語 🚀" << std::endl;\n}\n',
    },
    "php": {
        "exit3": '<?php\nexit(3);\n',
        "hello": '<?php\necho "Hello, World!\\n";\n',
        "error": '<?php\nfunction f() { throw new RuntimeException("kcr boom"); }\nf();\n',
        "error_msg": "Uncaught RuntimeException: kcr boom",
        "error_exit": 255,
        "echo": (
            "<?php\n"
            "$line = trim((string)fgets(STDIN));\n"
            'echo "args=" . implode(",", array_slice($argv, 1)) . "|stdin=" . $line . "\\n";\n'
        ),
        "write": '<?php\nfile_put_contents("out.txt", "kcr file ✓ ünïcödé 日本\\nline 2\\n");\n',
        "unicode": '<?php\necho "héllo wörld ✓ 日本語 🚀\\n";\n',
    },
    "rs": {
        "exit3": 'fn main() {\n    std::process::exit(3);\n}\n',
        "hello": 'fn main() {\n    println!("Hello, World!");\n}\n',
        "error": 'fn main() {\n    let v: Vec<i32> = Vec::new();\n    if v.is_empty() {\n        panic!("kcr boom");\n    }\n}\n',
        "error_msg": "kcr boom",
        "error_exit": 101,
        "compile_error": 'fn main() {\n    let n: i32 = "not a number";\n    println!("{}", n);\n}\n',
        "compile_msg": "error[E0308]: mismatched types",
        "echo": (
            "use std::io::BufRead;\n\n"
            "fn main() {\n"
            "    let args: Vec<String> = std::env::args().skip(1).collect();\n"
            "    let mut line = String::new();\n"
            "    std::io::stdin().lock().read_line(&mut line).unwrap();\n"
            '    println!("args={}|stdin={}", args.join(","), line.trim());\n'
            "}\n"
        ),
        "write": (
            "fn main() {\n"
            '    std::fs::write("out.txt", "kcr file ✓ ünïcödé 日本\\nline 2\\n").unwrap();\n'
            "}\n"
        ),
        "unicode": 'fn main() {\n    println!("héllo wörld ✓ 日本語 🚀");\n}\n',
    },
    "r": {
        "exit3": 'quit(status = 3)\n',
        "hello": 'cat("Hello, World!\\n")\n',
        "error": 'f <- function() stop("kcr boom")\nf()\n',
        "error_msg": "kcr boom",
        "error_exit": 1,
        "echo": (
            "args <- commandArgs(trailingOnly = TRUE)\n"
            'con <- file("stdin")\nline <- readLines(con, n = 1, encoding = "UTF-8")\nclose(con)\n'
            'cat("args=", paste(args, collapse = ","), "|stdin=", trimws(line), "\\n", sep = "")\n'
        ),
        "write": (
            'con <- file("out.txt", open = "w", encoding = "UTF-8")\n'
            'cat("kcr file ✓ ünïcödé 日本\\nline 2\\n", file = con)\nclose(con)\n'
        ),
        "unicode": 'cat("héllo wörld ✓ 日本語 🚀\\n")\n',
    },
    "f90": {
        "exit3": 'program e\n    call exit(3)\nend program e\n',
        "hello": 'program hello\n    print "(a)", "Hello, World!"\nend program hello\n',
        "error": 'program boom\n    error stop "kcr boom"\nend program boom\n',
        "error_msg": "kcr boom",
        "error_exit": 1,
        "compile_error": "program bad\n    integer :: n\n    n = \n end program bad\n",
        "compile_msg": "Error",
        "echo": (
            "program echo\n"
            "    implicit none\n"
            "    character(len=256) :: arg, line\n"
            "    character(len=1024) :: acc\n"
            "    integer :: i, ios\n"
            '    acc = ""\n'
            "    do i = 1, command_argument_count()\n"
            "        call get_command_argument(i, arg)\n"
            "        if (i > 1) then\n"
            '            acc = trim(acc) // ","\n'
            "        end if\n"
            "        if (i == 1) then\n"
            "            acc = trim(arg)\n"
            "        else\n"
            "            acc = trim(acc) // trim(arg)\n"
            "        end if\n"
            "    end do\n"
            '    read (*, "(a)", iostat=ios) line\n'
            '    if (ios /= 0) line = ""\n'
            '    print "(a)", "args=" // trim(acc) // "|stdin=" // trim(adjustl(line))\n'
            "end program echo\n"
        ),
        "write": (
            "program w\n"
            "    implicit none\n"
            "    integer :: u\n"
            '    open (newunit=u, file="out.txt", status="replace", action="write")\n'
            '    write (u, "(a)") "kcr file ✓ ünïcödé 日本"\n'
            '    write (u, "(a)") "line 2"\n'
            "    close (u)\n"
            "end program w\n"
        ),
        "unicode": 'program u\n    print "(a)", "héllo wörld ✓ 日本語 🚀"\nend program u\n',
    },
    "d": {
        "exit3": 'int main()\n{\n    return 3;\n}\n',
        "hello": 'import std.stdio;\n\nvoid main()\n{\n    writeln("Hello, World!");\n}\n',
        "error": 'import std.stdio;\n\nvoid main()\n{\n    throw new Exception("kcr boom");\n}\n',
        "error_msg": "kcr boom",
        "error_exit": 1,
        "compile_error": 'void main()\n{\n    int n = "not a number";\n}\n',
        "compile_msg": "Error",
        "echo": (
            "import std.stdio, std.string, std.array;\n\n"
            "void main(string[] args)\n{\n"
            "    auto line = readln();\n"
            '    writeln("args=", args[1 .. $].join(","), "|stdin=", line.strip());\n'
            "}\n"
        ),
        "write": (
            "import std.file;\n\nvoid main()\n{\n"
            '    write("out.txt", "kcr file ✓ ünïcödé 日本\\nline 2\\n");\n}\n'
        ),
        "unicode": 'import std.stdio;\n\nvoid main()\n{\n    writeln("héllo wörld ✓ 日本語 🚀");\n}\n',
    },
    "bash": {
        "exit3": 'exit 3\n',
        "hello": 'echo "Hello, World!"\n',
        "error": 'f() { echo "kcr boom" >&2; exit 3; }\nf\n',
        "error_msg": "kcr boom",
        "error_exit": 3,
        "echo": 'IFS=,\nread -r line\necho "args=$*|stdin=$line"\n',
        "write": "printf 'kcr file ✓ ünïcödé 日本\\nline 2\\n' > out.txt\n",
        "unicode": 'echo "héllo wörld ✓ 日本語 🚀"\n',
    },
}

# Extra checks: the libraries users expect are importable and work.
PY_LIBS = (
    "import numpy, pandas, matplotlib, scipy, sklearn, sympy, PIL, openpyxl, docx, reportlab, "
    "pypdf, cv2, lxml, bs4, requests, tabulate\n"
    "import matplotlib.pyplot as plt\n"
    'print("backend", matplotlib.get_backend())\n'
    'print("numpy", numpy.array([1, 2, 3]).sum())\n'
    'print("sympy", sympy.integrate(sympy.Symbol("x") ** 2))\n'
    'print("sklearn", type(__import__("sklearn.linear_model").linear_model.LinearRegression()).__name__)\n'
    'print("cv2", cv2.__version__.split(".")[0])\n'
)
PY_LIBS_OUT = ["backend agg", "numpy 6", "sympy x**3/3", "sklearn LinearRegression", "cv2 4"]

PY_PANDAS_CSV = (
    "import pandas as pd\n"
    'df = pd.DataFrame({"name": ["a", "b", "ç"], "value": [1, 2, 3]})\n'
    'df.to_csv("data.csv", index=False)\n'
    "print(df.value.sum())\n"
)
PY_PANDAS_CSV_CONTENT = "name,value\na,1\nb,2\nç,3\n"

PY_MATPLOTLIB_PNG = (
    "import matplotlib\n"
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots()\n"
    "ax.plot([1, 2, 3], [1, 4, 9])\n"
    'ax.set_title("kcr ✓")\n'
    'fig.savefig("plot.png")\n'
    'print("saved")\n'
)

R_PLOT_PNG = (
    'png("plot.png", width = 400, height = 300)\n'
    "plot(1:10, (1:10)^2, main = \"kcr\")\n"
    "invisible(dev.off())\n"
    'cat("saved\\n")\n'
)

R_GGPLOT_PNG = (
    "suppressPackageStartupMessages(library(ggplot2))\n"
    "p <- ggplot(data.frame(x = 1:10, y = (1:10)^2), aes(x, y)) + geom_line()\n"
    'ggsave("gg.png", p, width = 4, height = 3, dpi = 72)\n'
    'cat("saved\\n")\n'
)

JS_LIBS = (
    'const _ = require("lodash");\n'
    'const { format } = require("date-fns");\n'
    'const math = require("mathjs");\n'
    'const Papa = require("papaparse");\n'
    'const ExcelJS = require("exceljs");\n'
    'console.log("lodash", _.sum([1, 2, 3]));\n'
    'console.log("date-fns", format(new Date(2024, 0, 2), "yyyy-MM-dd"));\n'
    'console.log("mathjs", math.evaluate("sqrt(16) + 2"));\n'
    'console.log("papaparse", Papa.parse("a,b\\n1,2").data.length);\n'
    "const wb = new ExcelJS.Workbook();\n"
    'wb.addWorksheet("s").addRow([1, 2]);\n'
    'wb.xlsx.writeFile("book.xlsx").then(() => console.log("exceljs ok"));\n'
)
JS_LIBS_OUT = "lodash 6\ndate-fns 2024-01-02\nmathjs 6\npapaparse 2\nexceljs ok\n"

TS_LIBS = (
    'import _ from "lodash";\n'
    'import { addDays, format } from "date-fns";\n'
    'const xs: number[] = _.sortBy([3, 1, 2]);\n'
    'console.log(xs.join(","), format(addDays(new Date(2024, 0, 1), 1), "yyyy-MM-dd"));\n'
)
TS_LIBS_OUT = "1,2,3 2024-01-02\n"

# A public class not named Code: the file must be named after it.
JAVA_OTHER_CLASS = (
    "public class Greeter {\n"
    "    public static void main(String[] args) {\n"
    '        System.out.println("Hello from Greeter");\n'
    "    }\n}\n"
)
