# The bash side of programmatic tool calling (docs/ptc-sandbox.md), compiled
# into kcr-sidecar: the start of the prelude that `bash -c` runs before it
# sources the program. The sidecar appends one function per tool,
#   <identifier>() { __kcr_ptc_call '<tool name as a JSON string>' "$@"; }
# and `builtin source "$0"`. __kcr_ptc_lock (a path in /tmp for this run) is
# set before this text.
#
# A call sends one message with one call, {"calls":[{"id","name","input_json"}]},
# on fd 4 and reads one line back: "ok <compact JSON>" (printed on stdout,
# status 0) or "err <message>" (printed on stderr, status 1). Background jobs
# share fd 4, so request and answer happen under a lock: a file created with
# noclobber (O_EXCL), polled every 10 ms (100 ms after the first half
# second); one that cannot be created at all fails the call. Everything here
# is a builtin but sleep and rm, called through `builtin` and `command` so
# that a tool or a function of the program named printf, read or set changes
# nothing; options are restored on return (`local -`), xtrace is off inside.
# Bytes are bytes (LC_ALL=C): the length prefix counts bytes.
__kcr_ptc_call() {
    local -
    builtin set +e +u +x +v +o pipefail
    local LC_ALL=C
    local __kcr_n=$1 __kcr_a='{}' __kcr_m __kcr_r __kcr_i __kcr_o __kcr_c __kcr_u __kcr_t=0 __kcr_f=0
    builtin shift
    if (($#)); then
        local IFS=' '
        __kcr_a="$*"
    fi
    # The argument as a JSON string: the sidecar parses it as JSON.
    local __kcr_bs='\' __kcr_q='"'
    __kcr_a=${__kcr_a//"$__kcr_bs"/"$__kcr_bs$__kcr_bs"}
    __kcr_a=${__kcr_a//"$__kcr_q"/"$__kcr_bs$__kcr_q"}
    if [[ $__kcr_a == *[$'\001'-$'\037']* ]]; then
        for ((__kcr_i = 1; __kcr_i < 32; __kcr_i++)); do
            builtin printf -v __kcr_o '%03o' "$__kcr_i"
            builtin printf -v __kcr_c "\\$__kcr_o"
            builtin printf -v __kcr_u '\\u%04x' "$__kcr_i"
            __kcr_a=${__kcr_a//"$__kcr_c"/"$__kcr_u"}
        done
    fi
    __kcr_m="{\"calls\":[{\"id\":$BASHPID,\"name\":$__kcr_n,\"input_json\":\"$__kcr_a\"}]}"
    until { builtin set -C && builtin : >"$__kcr_ptc_lock"; } 2>/dev/null; do
        # Not there, yet not creatable (/tmp full or read-only): no waiting helps.
        if [[ ! -e $__kcr_ptc_lock ]] && ((++__kcr_f >= 3)); then
            builtin printf '%s\n' "kcr: cannot create the tool call lock $__kcr_ptc_lock" >&2
            builtin return 1
        fi
        if ((++__kcr_t > 50)); then command sleep 0.1; else command sleep 0.01; fi
    done
    builtin set +C
    if builtin printf '%d\n%s' "${#__kcr_m}" "$__kcr_m" 2>/dev/null >&4; then
        IFS= builtin read -r __kcr_r <&4
    fi
    command rm -f -- "$__kcr_ptc_lock"
    case $__kcr_r in
    'ok '*)
        builtin printf '%s\n' "${__kcr_r#ok }"
        builtin return 0
        ;;
    'err '*) builtin printf '%s\n' "${__kcr_r#err }" >&2 ;;
    *) builtin printf '%s\n' "kcr: the tool channel is closed" >&2 ;;
    esac
    builtin return 1
}
builtin readonly -f __kcr_ptc_call
