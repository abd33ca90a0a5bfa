/* util.c - small helpers shared by the cli/ subcommands: --help detection, file reading. */
#include "cli.h"

#include <errno.h>
#include <string.h>

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

status cli_read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ST_IO_ERROR;
    buf b = {0};
    status st = ST_OK;
    for (;;) {
        st = buf_reserve(&b, 65536);
        if (st != ST_OK)
            break;
        size_t n = fread(b.ptr + b.len, 1, b.cap - b.len, f);
        b.len += n;
        if (n == 0) {
            if (ferror(f))
                st = ST_IO_ERROR;
            break;
        }
    }
    fclose(f);
    if (st != ST_OK) {
        buf_fini(&b);
        return st;
    }
    *out = b.ptr;
    *len = b.len;
    return ST_OK;
}
