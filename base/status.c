/* status.c - the status tables expanded from status.def: names, messages, classes. */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct status_row {
    int num;
    status_class cls;
    const char *name;
    const char *msg;
} status_row;

static const status_row rows[] = {
#define STATUS(name_, num_, cls_, msg_) {num_, SC_##cls_, #name_, msg_},
#include "status.def"
#undef STATUS
};

/* Linear search: the table is small and this is never on a hot path. */
static const status_row *find(int s)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(rows); i++)
        if (rows[i].num == s)
            return &rows[i];
    return NULL;
}

bool status_is_known(int s)
{
    return find(s) != NULL;
}

const char *status_name(status s)
{
    const status_row *r = find((int)s);
    return r ? r->name : "UNKNOWN_STATUS";
}

const char *status_message(status s)
{
    const status_row *r = find((int)s);
    return r ? r->msg : "unknown status";
}

status_class status_class_of(status s)
{
    const status_row *r = find((int)s);
    return r ? r->cls : SC_BUG;
}

static _Thread_local const char *bug_file;
static _Thread_local int bug_line;

status base_bug(const char *file, int line)
{
    bug_file = file;
    bug_line = line;
#ifdef TALLY_BUG_ABORT
    fprintf(stderr, "tally: BUG_INVARIANT at %s:%d\n", file, line);
    abort();
#endif
    return ST_BUG_INVARIANT;
}

const char *base_bug_where(int *line)
{
    *line = bug_line;
    return bug_file;
}

const char *status_class_name(status_class c)
{
    switch (c) {
    case SC_OK: return "OK";
    case SC_INVALID: return "INVALID";
    case SC_TRAP: return "TRAP";
    case SC_FAULT: return "FAULT";
    case SC_BUG: return "BUG";
    }
    return "BUG";
}
