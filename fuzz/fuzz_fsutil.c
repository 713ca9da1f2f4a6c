/* Fuzzes the path-containment helpers of src/common/fsutil.c with untrusted
 * relative paths, against a fixed tree made once under /tmp:
 *   root/ {top, a/f, a/b/, esc -> ../outside, abs -> <base>/outside, a/up -> ../..}
 *   outside/secret
 * Properties (abort otherwise):
 *  - an fd fs_open_beneath or fs_open_beneath_walk returns names root or
 *    something under it (readlink /proc/self/fd/N);
 *  - fs_mkdir_beneath (run in a fresh root/mk holding the same kind of
 *    symlinks) never creates anything in outside/, and what it reports made
 *    opens beneath root as a directory. */
#include "fuzz.h"
#include "common/fsutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[64] = "/tmp/kcr-fuzz-fs.XXXXXX", root[128], outside[128];
static int rootfd = -1;

static void must(int ok, const char *what)
{
    if (!ok) {
        perror(what);
        abort();
    }
}

static void cleanup(void)
{
    (void)fs_rm_tree_at(AT_FDCWD, base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    must(mkdtemp(base) != NULL, "mkdtemp");
    atexit(cleanup);
    snprintf(root, sizeof(root), "%s/root", base);
    snprintf(outside, sizeof(outside), "%s/outside", base);
    must(!mkdir(root, 0700) && !mkdir(outside, 0700), "mkdir");
    rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    must(rootfd >= 0 && !mkdirat(rootfd, "a", 0700) && !mkdirat(rootfd, "a/b", 0700), "tree");
    must(!symlinkat("../outside", rootfd, "esc") && !symlinkat(outside, rootfd, "abs") &&
             !symlinkat("../..", rootfd, "a/up"),
         "symlinks");
    char p[160];
    const char *files[] = {"root/top", "root/a/f", "outside/secret"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", base, files[i]);
        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        must(fd >= 0, p);
        close(fd);
    }
    return 0;
}

static void check_beneath(int fd)
{
    if (fd < 0)
        return;
    char link[64], real[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, sizeof(real) - 1);
    must(n > 0, "readlink");
    real[n] = '\0';
    size_t rl = strlen(root);
    if (strncmp(real, root, rl) || (real[rl] != '\0' && real[rl] != '/')) {
        fprintf(stderr, "escaped: %s\n", real);
        abort();
    }
    close(fd);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    must(d != NULL, dir);
    size_t n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void check_mkdir(const char *path)
{
    must(!mkdirat(rootfd, "mk", 0700), "mkdir mk");
    int mk = openat(rootfd, "mk", O_PATH | O_DIRECTORY | O_CLOEXEC);
    must(mk >= 0 && !symlinkat("../../outside", mk, "esc") && !symlinkat(outside, mk, "abs"),
         "mk tree");
    if (fs_mkdir_beneath(mk, path, 0700) == 0 && *path) { /* "" makes nothing */
        int fd = fs_open_beneath(mk, path, O_RDONLY | O_DIRECTORY, 0);
        must(fd >= 0, "open what mkdir made");
        check_beneath(fd);
    }
    if (count_entries(outside) != 3) { /* ., .., secret */
        fprintf(stderr, "fs_mkdir_beneath created something outside for '%s'\n", path);
        abort();
    }
    close(mk);
    must(fs_rm_tree_at(rootfd, "mk") == 0, "rm mk");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = strndup((const char *)data, size);
    check_beneath(fs_open_beneath(rootfd, path, O_RDONLY, 0));
    check_beneath(fs_open_beneath_walk(rootfd, path, O_RDONLY, 0));
    size_t slashes = 0;
    for (const char *p = path; *p; p++)
        slashes += *p == '/';
    if (slashes < 48) /* fs_rm_tree_at cleans up at most 64 levels */
        check_mkdir(path);
    free(path);
    return 0;
}
