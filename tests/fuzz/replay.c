/* replay.c - the fuzz harnesses without libFuzzer: a main() that feeds each file named on the
 * command line (or every regular file of a named directory, in name order) to
 * LLVMFuzzerTestOneInput once. This is how `meson test --suite fuzz` runs the seed corpus with
 * gcc or without -Dfuzz=true; a violated property aborts, as under libFuzzer. Also accepts (and
 * ignores) libFuzzer's -flag=value arguments so the same test command works for both builds. */
#include "fuzz.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    buf data = {0};
    uint8_t chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_put(&data, chunk, n) != ST_OK) {
            rc = 1;
            break;
        }
    fclose(f);
    if (rc == 0)
        LLVMFuzzerTestOneInput(data.ptr ? data.ptr : (const uint8_t *)"", data.len);
    buf_fini(&data);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir in name order; *count gets the number run. */
static int run_dir(const char *dir, unsigned *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (nnames == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = base_realloc(names, cap * sizeof *names);
            if (!grown) {
                rc = 1;
                break;
            }
            names = grown;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[nnames] = base_alloc(len);
        if (!names[nnames]) {
            rc = 1;
            break;
        }
        snprintf(names[nnames++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (nnames)
        qsort(names, nnames, sizeof *names, cmp_names);
    for (size_t i = 0; i < nnames; i++) {
        struct stat st;
        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            rc = run_file(names[i]);
            (*count)++;
        }
        base_free(names[i]);
    }
    base_free(names);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue; /* a libFuzzer flag such as -runs=0 */
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            return 1;
        }
        int rc = S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) : run_file(argv[i]);
        if (!S_ISDIR(st.st_mode))
            count++;
        if (rc != 0)
            return rc;
    }
    if (count == 0) {
        fprintf(stderr, "replay: no inputs (an empty corpus proves nothing)\n");
        return 1;
    }
    printf("replayed %u inputs: all properties held\n", count);
    return 0;
}
