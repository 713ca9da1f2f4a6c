# shellcheck shell=bash disable=SC2034
# Sourced by the image scripts (bash): the languages, their images and a
# hello-world program for each. Keep in step with src/common/lang.c (codes,
# `image` field, code file names, steps).

KCR_LANGS="py js ts go java c cpp php rs r f90 d bash"
KCR_EXPECT="Hello from kcr"

# Language code -> "image|code file|command": the image's base name
# (kcr-<image>), the code file written into /mnt/data, and the command the
# guide's docker-only test runs there (compiled languages chain compile && run
# through sh, which their -dev images have).
lang_row() {
    case "$1" in
    py) echo "python|code.py|python code.py" ;;
    js) echo "nodejs|code.js|node code.js" ;;
    ts) echo "nodejs|code.ts|node /opt/kcr/ts-runner.js code.ts" ;;
    go) echo "go|main.go|go run main.go" ;;
    java) echo "java|Code.java|sh -c 'javac -d /tmp/classes Code.java && java -cp /tmp/classes Code'" ;;
    c) echo "c-cpp|code.c|sh -c 'gcc -O2 -o /tmp/code code.c -lm && /tmp/code'" ;;
    cpp) echo "c-cpp|code.cpp|sh -c 'g++ -O2 -o /tmp/code code.cpp -lm && /tmp/code'" ;;
    php) echo "php|code.php|php code.php" ;;
    rs) echo "rust|main.rs|sh -c 'rustc -O -o /tmp/main main.rs && /tmp/main'" ;;
    r) echo "r|code.r|Rscript code.r" ;;
    f90) echo "fortran|code.f90|sh -c 'gfortran -O2 -J /tmp -o /tmp/code code.f90 && /tmp/code'" ;;
    d) echo "d|code.d|sh -c 'ldc2 -od=/tmp -of=/tmp/code code.d && /tmp/code'" ;;
    bash) echo "bash|code.sh|bash code.sh" ;;
    *) return 1 ;;
    esac
}

# Field n of a language's row (1 image, 2 code file, 3 command); fails for an
# unknown language.
lang_field() { # lang n
    local row
    row=$(lang_row "$1") || return 1
    cut -d'|' -f"$2" <<<"$row"
}

lang_image() { lang_field "$1" 1; }
lang_file() { lang_field "$1" 2; }
lang_command() { lang_field "$1" 3; }

# A program printing "Hello from kcr" (with a typed variable for ts, so the
# TypeScript path is really exercised).
lang_code() {
    case "$1" in
    py) printf '%s\n' 'import sys' 'print("Hello from kcr", file=sys.stdout)' ;;
    js) printf '%s\n' 'console.log("Hello from kcr");' ;;
    ts) printf '%s\n' 'const greeting: string = "Hello from kcr";' 'console.log(greeting);' ;;
    go) printf '%s\n' 'package main' '' 'import "fmt"' '' 'func main() { fmt.Println("Hello from kcr") }' ;;
    java) printf '%s\n' 'public class Code {' '    public static void main(String[] a) { System.out.println("Hello from kcr"); }' '}' ;;
    c) printf '%s\n' '#include <stdio.h>' 'int main(void) { puts("Hello from kcr"); return 0; }' ;;
    cpp) printf '%s\n' '#include <iostream>' 'int main() { std::cout << "Hello from kcr" << std::endl; }' ;;
    php) printf '%s\n' '<?php' 'echo "Hello from kcr\n";' ;;
    rs) printf '%s\n' 'fn main() { println!("Hello from kcr"); }' ;;
    r) printf '%s\n' 'cat("Hello from kcr\n")' ;;
    f90) printf '%s\n' 'program hello' "  print '(a)', 'Hello from kcr'" 'end program hello' ;;
    d) printf '%s\n' 'import std.stdio;' 'void main() { writeln("Hello from kcr"); }' ;;
    bash) printf '%s\n' 'echo "Hello from kcr"' ;;
    *) return 1 ;;
    esac
}

# Image name as build-images.sh gives it: kcr-<image>:<tag>, or
# <registry>-<image>:<tag> with a registry (guide lesson 14).
image_ref() { # image registry tag
    if [ -n "$2" ]; then
        echo "${2%/}-$1:$3"
    else
        echo "kcr-$1:$3"
    fi
}

# JSON string literal of stdin (quotes, backslashes, newlines, tabs, CRs).
json_string() {
    awk 'BEGIN { ORS = ""; print "\"" }
         { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, "\\r");
           if (NR > 1) print "\\n"; print }
         END { if (NR > 0) print "\\n"; print "\"" }'
}

# The /execute request body for a language.
execute_body() { # code timeout
    printf '{"lang":"%s","timeout":%s,"code":%s}' "$1" "$2" "$(lang_code "$1" | json_string)"
}

# Whether an /execute response is a success printing the expected line.
execute_ok() { # response
    case "$1" in
    *'"exit_code":0,'* | *'"exit_code": 0,'*) ;;
    *) return 1 ;;
    esac
    case "$1" in
    *"\"stdout\":\"$KCR_EXPECT\\n\""* | *"\"stdout\": \"$KCR_EXPECT\\n\""*) return 0 ;;
    *) return 1 ;;
    esac
}
